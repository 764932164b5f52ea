# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Infrastructure: does network coverage raise exports?
#
# **Question.** Guo (2025) points to communications infrastructure (4G/5G, broadband) as what opens
# cross-border e-commerce to inland cities. Two kinds of evidence can speak to it, and they identify
# different things:
#
# 1. **A dated network policy.** The "Broadband China" (宽带中国) demonstration cities, named by
#    MIIT and NDRC in three annual batches (2014, 2015, 2016; data/reference/broadband_china.csv,
#    with the source of every row). Designation is a binary, staggered treatment like the pilot
#    zones, so the same toolkit applies: a heterogeneity-robust headline, an event study with
#    pre-trend tests, and the designation's effect on the doses themselves (first stage).
# 2. **The doses.** Fixed broadband and mobile-phone subscribers per 100 people. They measure
#    *adoption* (subscriptions), not *coverage* (where a 4G/5G signal reaches): a coverage measure
#    would need base-station or signal maps by city and year, which no yearbook series provides. A
#    dose is continuous and changes every year in every city, so a regression of exports on it
#    (TWFE) identifies an elasticity only under *strong* parallel trends (Callaway, Goodman-Bacon &
#    Sant'Anna 2024): every city's untreated path must be what every other city would have had at
#    its dose. Two designs ask for less: the effect of designation by the dose a city had when it
#    was designated (CGS's ATT(d|d)), and de Chaisemartin & D'Haultfoeuille's comparison of cities
#    whose dose changed with cities whose dose had not yet changed.
#
# On synthetic data the truth is known: the data-generating process has a concave dose response
# that differs across cities, and a designation effect that grows with the dose at designation,
# with *selection on gains*: the cities that had adopted more broadband when designated (the
# faster adopters) gain more than the average designated city would at their dose.

# %% tags=["parameters"]
# Parameters. The pipeline (`analysis notebook network_coverage`) has papermill inject params.yaml's values
# after this cell and writes to output/. Run by hand (JupyterLab), this cell reads params.yaml now
# and writes to output/interactive/, never over the pipeline's files.
# To try another value, set it below, e.g. `n_bins = 4`, and run the notebook again.
from analysis.config import interactive_parameters

defaults = interactive_parameters("network_coverage")
panel_path = defaults["panel_path"]
truth_path = defaults["truth_path"]
cities_path = defaults["cities_path"]
treatments_path = defaults["treatments_path"]
output_dir = defaults["output_dir"]
lang = defaults["lang"]
n_bins = defaults["n_bins"]
cluster = defaults["cluster"]
window = defaults["window"]
cgs_boot = defaults["cgs_boot"]
cgs_seed = defaults["cgs_seed"]
min_control_share = defaults["min_control_share"]
control_rule = defaults["control_rule"]
year_rule = defaults["year_rule"]

# %%
from analysis.studies.context import setup

ctx = setup(panel_path, truth_path, output_dir, lang)
cities_path, treatments_path = ctx.resolve(cities_path), ctx.resolve(treatments_path)
panel, truth, out = ctx.panel, ctx.truth, ctx.dirs
ctx.banner()

# %% [markdown]
# ## 1. Broadband China: where and when
#
# Each prefecture's first designation, coded by the same year rule as the pilot zones
# (`treatment.year_rule`; the three lists were published on 9 Oct 2014, 19 Oct 2015 and 25 Jul
# 2016, so the mid-year rule codes them 2015, 2016 and 2017). A city cluster treats each of its
# prefectures (长株潭: 长沙, 株洲, 湘潭), a county-level city or district the prefecture that
# contains it (昆山 -> 苏州). One unit, 阿拉尔 (a county-level city directly under Xinjiang, in no
# prefecture), treats no city: it is listed as unresolved, not guessed.

# %%
from analysis.data import reference
from analysis.figures.coverage import plot_designation_map
from analysis.studies.binary import study_design
from analysis.studies.coverage import network_design_study, single_source_cities

units = reference.load_broadband_china()
print(
    "Unresolved roster units (treat no city):",
    ", ".join(reference.broadband_unresolved(units)["unit"]),
)
single = single_source_cities(units, year_rule)
print(f"Cities designated through a single-source row of the 2015 batch: {len(single)}")
design = study_design(panel, share=min_control_share)
network = network_design_study(
    panel, truth, window, cluster, design, control_rule, single, cgs_boot, cgs_seed
)
cities = ctx.cities(cities_path)
ctx.figure(
    "coverage_designation_map",
    plot_designation_map,
    cities,
    network["designation_years"],
)

# %% [markdown]
# **Reading the map.** The designated cities are mostly in the east and along the Yangtze; many are
# also pilot-zone cities. That overlap is why the pilot zones (by their own cohort x event-time
# cells) are covariates of every estimate below, as Broadband China is a covariate of the pilot-zone
# study; and broadband spread region by region, so the first stage compares cities within a region
# (region x year effects).
#
# **The 2015 list.** 29 of its 39 rows rest on one reprint of the announcement (the others on two
# sources). They are treated as designated (the rows are the published list as reprinted); the
# sensitivity below drops the cities they designate from the sample altogether (neither treated nor
# control), which is what treating an unknown membership as unknown does to the estimate.

# %% [markdown]
# ## 2. The designation's effect on exports
#
# The pilot zones' toolkit unchanged (`studies/binary.py`): the headline is the imputation estimator
# (Borusyak, Jaravel & Spiess 2024) with the study's covariates, province-clustered, t(G-1); the
# event study of every estimator on the same event times; each estimator's own pre-trend test. The
# doses the designation moves (broadband) are not covariates of its own study: the headline is the
# total effect of designation. Some designated city-years meet a pilot-zone or rail cell (cohort x
# years since its start) that undesignated cities share in fewer than five provinces: those effects
# cannot be told apart from the designation's, so these city-years leave the study (`covariate_rule`:
# `censored_city_years`, `censored_by`) and the truth is taken over the city-years kept
# (`studies/rules.py`, `CENSOR_UNSUPPORTED`; holding the pilot zones fixed by one dummy instead
# biased the estimate by +0.019 in the Monte Carlo of data/README.md).

# %%
from IPython.display import display

study = bc = network["broadband_china"]
if "skipped" in bc:
    ctx.skipped("the Broadband China study", bc["skipped"])
else:
    display(ctx.facts(bc["headline"], digits=4))
    rule = bc["covariate_rule"]
    display(
        ctx.facts({k: rule[k] for k in ("censored_city_years", "censored_cities", "censored_by")})
    )
    ctx.event_study_figure(study, "coverage_designation_event_study", "broadband_china_es_title")

# %% [markdown]
# **Reading the result.** `estimate` is the average effect of designation on log exports over the
# designated city-years; on synthetic data `truth` is the true average effect over the cities the
# study keeps. Flat pre-designation points and a large pre-trend p-value mean no detectable
# pre-trend (not proof of parallel trends). After designation the points trace the effect by years
# since designation.

# %%
import pandas as pd
from IPython.display import display

if "skipped" not in bc:
    rows = [
        {
            "outcome": k,
            **{c: v.get(c) for c in ("estimate", "std_error", "conf_low", "conf_high", "truth")},
        }
        for k, v in bc["first_stage"].items()
        if "skipped" not in v
    ]
    display(ctx.table(pd.DataFrame(rows), digits=3))
    sens = bc.get("without_single_source")
    if sens and sens.get("headline") and "skipped" not in sens["headline"]:
        h = sens["headline"]
        print(
            f"Without the {sens['dropped_cities']} cities of single-source rows: {h['estimate']:.4f}"
            f" (SE {h['std_error']:.4f}) against {bc['headline']['estimate']:.4f} with them."
        )

# %% [markdown]
# **Reading the first stage.** Designation raised broadband and mobile subscribers per 100 people
# by these amounts on average over the designated city-years (imputation estimator, pilot zones,
# rail and region x year effects as covariates, province clusters). A first stage is what makes the
# designation a *network* policy in the data: without it, an effect on exports could not be read as
# an effect of the network.

# %% [markdown]
# ## 3. The effect by dose at designation (Callaway, Goodman-Bacon & Sant'Anna 2024)
#
# The dose of a designated city is its broadband subscribers per 100 people in the year before
# designation (the network it brought to the programme, not yet moved by it); never-designated
# cities are the comparison. For each cohort and post year the long difference of exports since the
# year before designation, net of the never-designated cities' mean, is fitted on a cubic B-spline
# of the dose: the curve is ATT(d|d), the effect of designation on the cities that had dose d. Its
# slope is the *causal* response to the dose (ACRT) only under strong parallel trends; under plain
# parallel trends it adds a selection term (cities with more broadband may gain more for other
# reasons). The outcome is log exports net of the pilot zones', rail's and the controls' parts
# (fitted on the not-yet-designated city-years, as the imputation estimator's first step): CGS has
# no covariates. Bands are uniform (the whole curve, 95%, multiplier bootstrap by province) and
# carry the first step's sampling error (each province's influence on its coefficients).

# %%
from analysis.figures.coverage import plot_cgs_dose_response

cgs = network["designation_dose_response"]
if "skipped" in cgs:
    ctx.skipped_figure("coverage_cgs_dose_response", "the CGS dose response", cgs["skipped"])
else:
    display(ctx.table(cgs["overall"], digits=4))
    ctx.figure("coverage_cgs_dose_response", plot_cgs_dose_response, cgs["curve"])

# %% [markdown]
# **Reading the figure.** Left: the estimated ATT(d|d) with its uniform band; on synthetic data the
# solid black line is the true ATT(d|d) and the dashed one the true ATT(d), the effect the *average*
# designated city would have at dose d: the gap between them is selection on gains. Right: the slope
# of the estimate against the true slope of ATT(d|d) (what the design identifies) and the causal
# ACRT(d|d) (dashed). A band that contains the truth everywhere is what "covers" means for a curve.
# The band widens at the ends of the dose range: a few provinces hold the lowest- and highest-dose
# cities, so the SE there rests on few clusters and is itself noisy. Each dose's critical value
# therefore uses that dose's Bell-McCaffrey degrees of freedom (column `att_df` of the curve; with
# one t(G-1) for every dose the band covered the true curve in 83% of 200 synthetic panels, with
# these in 93.5%).

# %% [markdown]
# ## 4. The doses as non-absorbing treatments (de Chaisemartin & D'Haultfoeuille)
#
# `did_multiplegt_dyn` compares cities whose dose changed with cities of the same baseline dose
# whose dose had not changed yet, horizon by horizon, with placebos before the change; effects are
# normalized per subscriber per 100 of cumulated dose change. It needs cities that *share* a
# baseline dose, which a continuous dose never gives (the reference's `continuous` option is not
# ported), so each dose is read in bands (broadband in bands of 10, mobile of 20 subscribers per
# 100): a city switches when it enters another band. On synthetic data the target of each point is
# the same estimator applied to the DGP's own network effects (no noise, no other treatment).

# %%
from analysis.figures.coverage import plot_dose_event_studies

dcdh = network["dose_event_studies"]
ctx.figure("coverage_dcdh_event_study", plot_dose_event_studies, dcdh)
rows = [
    {"dose": k, "band": v["band_width"], "average_total_effect": v["average_total_effect"],
     "std_error": v["std_error"], "target": v["target"],
     "placebo_p": (v["placebo_test"] or {}).get("p_value")}
    for k, v in dcdh.items()
    if "skipped" not in v
]  # fmt: skip
display(ctx.table(pd.DataFrame(rows), digits=4))

# %% [markdown]
# **Reading the result.** Each point is an effect per subscriber per 100 people. The banded dose is
# a coarse version of the real one: a control city's dose still moves inside its band, so the
# comparison understates the effect of a dose change, and few horizons have not-yet-switched
# controls once diffusion has moved every city. The placebo test asks whether switchers and
# controls moved together before the switch.

# %% [markdown]
# ## 5. The foil: a TWFE elasticity
#
# TWFE of log exports on log broadband users per 100 people, with the other treatments and the
# economic controls, city and year effects, errors clustered as configured (`cluster`). It is
# kept as the foil: it identifies an elasticity only under strong parallel trends, and with effects
# that differ across cities it weights them by how much each city's dose moved (CGS 2024), so with
# selection on gains it is not the mean elasticity.
# %%
from analysis.studies.coverage import coverage_study

study = coverage_study(panel, truth, n_bins, cluster, design=design)
ctx.controls(study)
if "skipped" in study:  # e.g. a panel without broadband: the study has nothing to estimate
    ctx.skipped("the network-coverage study", study["skipped"])
ctx.table(ctx.compare_with_truth(study), digits=4)

# %% [markdown]
# **Reading the table.** `estimate` is an elasticity: the percentage change in exports for a 1%
# higher broadband coverage, within a city over time and net of the year effects and controls. On
# synthetic data `truth` is the *mean* of the cities' elasticities in the data-generating process.
# The cities differ: TWFE weights each city by how much its dose moved inside the panel, so it
# estimates a weighted elasticity with weights nobody chose, which equals the mean only when the
# elasticities are unrelated to the dose paths (with `synthetic.network.selection_on_gains` > 0
# they are not, and TWFE drifts away from the truth). An elasticity is also a *local, average*
# slope: it does not say whether the first or the last users matter more.

# %% [markdown]
# ## Without the controls
#
# The same regression without the economic controls.

# %%
if "skipped" not in study:
    display(ctx.facts(study["twfe_no_controls"], digits=4))
    naive = study["twfe_no_controls"]["estimate"]
    adjusted = study["twfe"]["estimate"]
    direction = "above" if naive > adjusted else "below"
    print(
        f"Without controls the elasticity is {naive:.4f}, {direction} the {adjusted:.4f} with "
        f"controls (difference {naive - adjusted:+.4f})."
    )

# %% [markdown]
# **Reading the result.** Omitting the controls moves the elasticity by the omitted drivers'
# co-movement with broadband. Its direction is an empirical question, not a rule: in the simulated
# data GDP per capita grows faster where broadband spreads early (which pushes the naive estimate
# up), while population, FDI and industry share co-move with broadband in other directions. The
# cell above states the direction measured on this panel.

# %%
from analysis.figures.effects import plot_dose_response

if "skipped" in study:
    ctx.skipped_figure("coverage_dose_response", "the dose-response", study["skipped"])
else:
    ctx.figure(
        "coverage_dose_response",
        plot_dose_response,
        study["dose_log_spline"],
        study["dose_bins"],
        title="dose_title",
    )

# %% [markdown]
# **Reading the figure.** Both curves are relative to the lowest coverage (they start at zero
# there). The line is piecewise linear in log broadband (its slope in each third of coverage is an
# elasticity, with its 95% band); the dashed line is the truth on synthetic data. The squares are
# quantile bins pooled across years: because broadband spread over time, each bin is nearly a set
# of calendar years, so the year effects absorb much of the step between bins and the bins flatten
# out - an artefact of the specification, not saturation (a test on noiseless data shows it). The
# curve is a within-city comparison over time: it mixes the effect of the dose with how effects
# differ across cities that reach each dose (Callaway, Goodman-Bacon & Sant'Anna 2024).

# %%
from IPython.display import display

if "skipped" not in study:
    display(ctx.table(study["dose_elasticities"], digits=3))

# %% [markdown]
# **Reading the table.** Each row is one segment of the curve: the range of broadband users per
# 100 people it covers and the elasticity of exports within it (with its 95% interval). Similar
# elasticities across rows mean a constant elasticity (no saturation); a falling one would mean
# saturation. Segments at the extremes rest on fewer city-years and have wider intervals.

# %%
metrics = {}
if "skipped" not in study:
    metrics = {"elasticity": study["twfe"]["estimate"], "elasticity_se": study["twfe"]["std_error"]}
if study["true_elasticity"] is not None:
    metrics["true_elasticity"] = study["true_elasticity"]
bc_head = network["broadband_china"].get("headline") or {}
if bc_head and "skipped" not in bc_head:
    metrics["broadband_china"] = bc_head["estimate"]
    metrics["broadband_china_se"] = bc_head["std_error"]
_ = ctx.write_results(
    "network_coverage",
    {**study, "design": network},
    metrics=metrics,
    plot=study.get("dose_log_spline", pd.DataFrame()).reindex(
        columns=["dose", "estimate", "conf_low", "conf_high"]
    ),
)

# %% [markdown]
# The Broadband China estimates, the CGS and dCDH results, the elasticity, the dose-response curves
# and the truth are saved in `output/results/network_coverage.json` for the report.
