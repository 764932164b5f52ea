# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Infrastructure: did the China-Europe Railway Express raise exports?
#
# **Question.** Guo (2025) argues that transport infrastructure — the China-Europe Railway Express
# (中欧班列) and the China-Laos railway — lowers trade costs. The two links are different
# treatments: a freight service to Europe from a logistics hub (13 origin cities in our table,
# 2011-2017), and a line to Laos through four neighbouring Yunnan prefectures (opened December
# 2021). A study of "any rail link" would average them with weights set by how many city-years
# each has, which answers no question. This notebook studies the **China-Europe Railway Express
# (CRE)**: the change in a city's exports after its first CRE service. The China-Laos corridor is
# reported apart at the end and studied in its own notebook (`notebooks/corridor.py`, synthetic
# difference-in-differences), because four treated cities in one province need another design.
#
# **Caveat.** Our rail table lists only the cities whose first-service date could be pinned down
# from public records (see `data/reference/SOURCES.md`); many later origin cities are missing and
# count as untreated here, which biases real-data estimates toward zero. Extend the table before
# using real data.

# %% tags=["parameters"]
# Parameters. The pipeline (`analysis notebook rail_links`) has papermill inject params.yaml's values
# after this cell and writes to output/. Run by hand (JupyterLab), this cell reads params.yaml now
# and writes to output/interactive/, never over the pipeline's files.
# To try another value, set it below, e.g. `window = [-3, 3]`, and run the notebook again.
from analysis.config import interactive_parameters

defaults = interactive_parameters("rail_links")
panel_path = defaults["panel_path"]
truth_path = defaults["truth_path"]
cities_path = defaults["cities_path"]
treatments_path = defaults["treatments_path"]
output_dir = defaults["output_dir"]
lang = defaults["lang"]
window = defaults["window"]
cluster = defaults["cluster"]
estimators = defaults["estimators"]
ri_draws = defaults["ri_draws"]
ri_seed = defaults["ri_seed"]
wild_draws = defaults["wild_draws"]
wild_cluster = defaults["wild_cluster"]
wild_weights = defaults["wild_weights"]
ct_draws = defaults["ct_draws"]
mde_power = defaults["mde_power"]
seed = defaults["seed"]
min_control_share = defaults["min_control_share"]
control_rule = defaults["control_rule"]
backend = defaults["backend"]

# %%
from analysis.studies.context import setup

ctx = setup(panel_path, truth_path, output_dir, lang)
cities_path, treatments_path = ctx.resolve(cities_path), ctx.resolve(treatments_path)
panel, truth, out = ctx.panel, ctx.truth, ctx.dirs
ctx.banner()

# %% [markdown]
# ## Where the corridors run
#
# The origin cities of the China-Europe Railway Express in our rail table, with schematic lines
# towards Europe, and the China-Laos Railway from Kunming to Vientiane.

# %%
from analysis.data.reference import load_rail_links
from analysis.figures.maps import plot_rail_corridors

ctx.figure("rail_corridors", plot_rail_corridors, load_rail_links(), ctx.cities(cities_path))

# %% [markdown]
# **Reading the map.** Blue prefectures are origin cities of the China-Europe Railway Express,
# green ones lie on the China-Laos Railway. The lines to Europe show *which* cities run services,
# not their routes. The map shows how few, and how large, the treated cities are: they are mostly
# provincial capitals and logistics hubs, which is why the comparison with other cities needs the
# city effects and controls, and why estimates for rail are less precise than for pilot zones.

# %%
from IPython.display import display

from analysis.studies.binary import headline_metrics, overall_comparison, skips
from analysis.studies.rails import (
    corridor_bjs,
    few_clusters_inference,
    few_clusters_metrics,
    inference_table,
    link_study,
    pretrend_wild_table,
)

# the CRE study: rail = the first CRE service; the corridor cities (served only by the
# China-Laos railway) are left out of it; the controls and estimators this panel allows
study, data = link_study(panel, truth, "cre", window, cluster, estimators, min_control_share,
                        ri_draws, ri_seed, control_rule, backend=backend)  # fmt: skip
ctx.controls(study)
for what, why in skips(study).items():
    ctx.skipped(what, why)
ctx.headline(study)
ctx.decomposition(study)
ctx.table(ctx.cluster_table(study), digits=3)

# %% [markdown]
# **Reading the headline.** As for pilot zones, the headline is the imputation (BJS) estimate of
# the *total* effect of a first service: the controls exports move enter only by their
# imputed untreated paths, and the direct effect is a decomposition beside it. The pilot zones, which
# most CRE cities also received, enter the untreated-outcome model by one dummy per designation
# cohort and year since designation, so their batch-specific, growing effects are not credited to
# rail (with one on/off pilot dummy the rail estimate was biased upwards by about 0.03 on a true
# 0.08 in the Monte Carlo). The SE is clustered by province (the study's one rule) and its
# interval from t(G-1); its effect averages pool the cohorts by event time (the cohorts have one to
# four cities, and leave-out averages over one or two other provinces over-state the variance:
# `variance_cells` in the results says which cells and why). The cluster table shows why that is not enough here: the CRE treats about
# a dozen cities (a city with fewer than three years before its first service leaves the study:
# the controls' pre-service trends need them; on the real dates that is 重庆), in about as many
# provinces, in cohorts of one
# to four cities. A clustered variance is then estimated from a handful of treated clusters'
# scores; the t-test over-rejects even with many control clusters (MacKinnon & Webb 2017), and
# t(G-1) critical values do not repair that.
#
# ## Inference with few treated clusters
#
# Three answers that do not rest on many treated clusters, and randomization inference as a
# sensitivity check:
#
# * the **restricted wild cluster bootstrap** (WCR) of the same BJS ATT by province, with Webb's
#   six-point weights: the null is imposed, province-level weights redraw the residuals, and the
#   interval inverts the bootstrap test (Cameron, Gelbach & Miller 2008; Webb 2023). With few
#   treated clusters it errs on the conservative side (MacKinnon & Webb 2018);
# * a **Conley-Taber** interval (Conley & Taber 2011): the estimation error is a weighted sum of
#   the treated cities' own errors, whose distribution is learnt from the never-treated cities'
#   residuals (same functional: post-period mean minus pre-period mean over each treated city's
#   years). It assumes the treated cities' errors look like the controls' (Ferman & Pinto 2019
#   relax this) and are independent (two CRE cities share Jiangsu);
# * **randomization inference**: service dates permuted across cities within provinces, the
#   studentized statistic compared with its placebo distribution (a p-value, no interval).
#
# The **minimum detectable effect** says what these data could have found: the true effect a
# two-sided 5% test detects with the stated power, (t(0.975) + t(power)) × SE.

# %%
fc = few_clusters_inference(
    data, study, window, wild_draws=wild_draws, wild_cluster=wild_cluster,
    wild_weights=wild_weights, ct_draws=ct_draws, mde_power=mde_power, seed=seed,
)  # fmt: skip
if "skipped" in fc:
    ctx.skipped("the few-treated-clusters inference", fc["skipped"])
else:
    for part in ("wild_bootstrap", "conley_taber"):
        if "skipped" in fc[part]:
            ctx.skipped(part.replace("_", " "), fc[part]["skipped"])
    display(ctx.table(inference_table(study, fc), digits=4))
    mde = fc["mde"]
    display(
        ctx.facts(
            {
                f"MDE at {mde['power']:.0%} power (headline SE, t({mde['headline_df']}))": mde[
                    "headline"
                ],
                f"MDE at {mde['power']:.0%} power (Conley-Taber half-width)": mde["conley_taber"],
                "true ATT (synthetic)": (study.get("headline") or {}).get("truth"),
            },
            digits=4,
        )
    )

# %% [markdown]
# **Reading the intervals.** On the synthetic data the truth is known, so each interval can be
# checked against it; on real data only their width and agreement can. The analytic interval
# uses the province SE and t(G-1); the wild bootstrap interval is usually wider (it is the one
# that keeps its size when treated clusters are few); Conley-Taber uses the 300-odd
# never-treated cities and is usually the narrowest: it trades the cluster-robust variance for
# the assumption that treated and control cities share an error distribution. In 100 redraws of
# the synthetic design it covered the truth 84% of the time (the slow test of `tests/studies/
# test_rails.py`): its null distribution leaves out the estimation error of the untreated model,
# so read the wild bootstrap first. An effect smaller
# than the minimum detectable effect is one these few cities could not have revealed: a
# non-significant estimate is then no evidence of no effect. Randomization inference permutes
# among cities that mostly never run a service, so it answers a sharper question (no effect in
# any city) and is kept as a sensitivity check.

# %%
overall = overall_comparison(study)
ctx.write_table(overall, "rail_overall")
ctx.table(overall, digits=4)

# %% [markdown]
# **Reading the table.** The headline, then TWFE (the foil: one dummy, already-treated cities as
# controls) and the robust estimators (see the pilot-zones notebook for how each works) side by
# side, with the truth on synthetic data (the CRE's own effect, `truth.json` `cre`). CRE cities
# are also early pilot-zone cities, and the pilot dummy moves over time: it is a time-varying
# confounder of the CRE. Callaway & Sant'Anna
# without covariates cannot separate the two treatments and attributes part of the pilot-zone
# effect to rail; the CS row therefore runs on exports net of the covariates, and the plain CS is
# kept in the results (`cs_unadjusted`, with a note) to show the bias. Estimators that cannot run
# on this panel are named above the table with the reason.

# %% [markdown]
# ## Event study
#
# Same design and conventions as for pilot zones: every estimator on the same event times, no
# binned end points, e = -1 as the reference set to zero for TWFE, Sun-Abraham and
# Callaway-Sant'Anna (universal base period), the imputation estimator's leads from its own
# pre-trend test, and the true effect at each event time. Few cities are treated, so intervals
# are wide.

# %%
ctx.event_study_figure(study, "rail_event_study", "rail_es_title")

# %% [markdown]
# **The pre-trend tests are mis-sized here.** The table above gives each estimator's own joint
# Wald test with its chi-squared p-value. With a dozen treated clusters the covariance of the
# leads is estimated from those clusters' scores alone, nearly singular, and the chi-squared
# reference over-rejects: in a simulation with about a dozen of 31 clusters treated and no
# pre-trend, the chi-squared test of four leads rejected 48% of the time at 5%
# (`tests/did/test_wild_wald.py`); on 100 redraws of this synthetic design (no pre-trend for the
# CRE) the province-clustered chi-squared tests rejected 60% (BJS) and 37% (TWFE) of the time. A small chi-squared p-value is therefore **not evidence** of a
# pre-trend. The table below recomputes the two pre-trend statistics that are regressions (BJS
# Test 1 on the untreated city-years, and the TWFE leads) clustered by province and gives, beside
# their chi-squared p-value, the p-value of the restricted wild cluster bootstrap of the same
# statistic (null imposed, Webb weights): the one to read (it rejected 6% of the time in that
# simulation, and 3% and 6% on the redraws of this design).

# %%
if "skipped" not in fc and "skipped" not in fc["pretrend_wild"]:
    display(ctx.table(pretrend_wild_table(study, fc, cluster), digits=3, draws=wild_draws))
else:
    ctx.skipped("the bootstrap pre-trend tests", (fc.get("pretrend_wild") or fc)["skipped"])

# %% [markdown]
# **Reading the tests and the figure.** Read the WCR p-values: a large one means no detectable
# pre-trend, not proof of parallel trends, and with so few treated cities the tests have little
# power (Roth 2022: conditioning on passing a weak pre-test can even add bias). After the first
# service the points should sit near the (static) true effect on synthetic data; their spread
# shows how little a dozen treated cities can pin down.
#
# ## The China-Laos corridor, apart
#
# The corridor (昆明, 玉溪, 普洱, 西双版纳 on the China-Laos railway) has its own effect in the
# synthetic design and its own truth. Its plain imputation estimate, with the same covariates, is
# below for the record, without an interval: four treated cities in one province give no
# clustered SE a meaning (one treated province), and the estimate carries every Yunnan-wide shock
# of 2022-2023. The corridor notebook (`notebooks/corridor.py`) studies it by synthetic
# difference-in-differences with placebo inference built for that design.

# %%
corridor = corridor_bjs(panel, truth, min_control_share, control_rule)
if "skipped" in corridor:
    ctx.skipped("the corridor's imputation estimate", corridor["skipped"])
else:
    display(ctx.facts({k: v for k, v in corridor.items() if k != "covariates"}, digits=4))

# %% [markdown]
# **Reading the corridor's estimate.** On synthetic data the truth is the corridor's own effect
# (`truth.json` `laos`), not the CRE's; the gap between the two is the part of any Yunnan-wide
# shock of 2022-2023 (and of the pilot zones' effects in 昆明) that this comparison cannot remove.

# %% [markdown]
# ## How large a pre-trend could the test miss? (Roth 2022)
#
# A pre-test that passes is weak evidence when it has little power. On the headline's own event
# study (the imputation estimator with the study's covariates, province clusters) we ask which
# differential linear trend between the rail cities and the others the pre-test (no lead
# individually significant at the t(G-1) critical value) would detect with 50% and 80% power,
# how much such a trend would bias the headline, and what the headline's bias would be in the
# samples that pass the pre-test. The trend's effect on each coefficient is the estimator's own
# (the estimator run on the trend itself): the imputation leads are not levels relative to one
# base year.

# %%
import pandas as pd

from analysis.figures.pretrends import plot_pretrends

power = study["pretrend_power"]
if "skipped" in power:
    ctx.skipped_figure("rail_pretrend_power", "pre-trend power", power["skipped"])
else:
    ctx.table(pd.DataFrame(power["by_power"]), digits=4)
    ctx.figure(
        "rail_pretrend_power",
        plot_pretrends,
        pd.DataFrame(power["figure"]["rows"]),
        power=power["figure"]["target_power"],
        onset=-0.5,
    )

# %% [markdown]
# **Reading the table and the figure.** `slope` is the trend per year in log exports,
# `headline_bias` what it adds to the headline, `headline_bias_after_pretest` the same among the
# samples that pass the pre-test (pre-testing selects the samples whose leads look flat, so the
# bias survives). The figure draws the estimates, the 80%-power trend (triangles) and the
# coefficients expected under it after passing (squares); the dotted line separates leads from
# effects. A bias that is large next to the headline's s.e. means a passing pre-test cannot rule
# out a trend that matters.

# %%
_ = ctx.write_results(
    "rail_links",
    {**study, "few_clusters": fc, "corridor_bjs": corridor},
    metrics={**headline_metrics(study), **few_clusters_metrics(fc)},
    plot=study["event_study"].reindex(columns=["event_time", "estimate", "conf_low", "conf_high"]),
)

# %% [markdown]
# The estimates are saved in `output/results/rail_links.json` for the report (the CRE study; its
# few-treated-clusters inference under `few_clusters`, the corridor's plain estimate under
# `corridor_bjs`). Before using real data, extend the rail table (`treatment.rail_links_file` in
# params.yaml).
