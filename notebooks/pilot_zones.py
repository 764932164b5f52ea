# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Policy: did cross-border e-commerce pilot zones raise exports?
#
# **Question.** The first claim of Guo (2025) is that policy support, led by the cross-border
# e-commerce comprehensive pilot zones, opens new opportunities for exports. We test it: how much
# did a city's exports change after it (or a county-level unit inside it) was designated?
#
# **Design.** Staggered difference-in-differences: cities designated in different years are compared
# with cities not (yet) designated, after removing city effects (permanent differences) and year
# effects (shocks common to all cities).

# %% tags=["parameters"]
# Parameters. The pipeline (`analysis notebook pilot_zones`) has papermill inject params.yaml's values
# after this cell and writes to output/. Run by hand (JupyterLab), this cell reads params.yaml now
# and writes to output/interactive/, never over the pipeline's files.
# To try another value, set it below, e.g. `window = [-3, 3]`, and run the notebook again.
from analysis.config import interactive_parameters

defaults = interactive_parameters("pilot_zones")
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
# ## The headline estimate
#
# **What it estimates: the total effect of designation** -- by how much designation raised a
# city's exports, including what runs through the city's GDP (exports are part of GDP). Controls
# therefore enter only as pre-treatment information: a control the policy plausibly moves (GDP per
# capita, FDI, the industry share; `panel.control_rule` in params.yaml) is replaced, from a city's
# first treatment on, by its imputed untreated path (city effects, city trends and year effects
# fitted on the untreated city-years); population enters as observed; baseline GDP per capita x
# year (`panel.baseline_trends`) lets untreated exports trend with baseline income. Holding GDP at its observed path would estimate a different quantity, the *direct*
# effect; it is reported beside the headline as a decomposition (total = direct + indirect through
# the ruled controls), with the assumptions it needs, not as the headline.
#
# The headline number is the imputation estimator of Borusyak, Jaravel & Spiess (2024, "BJS"):
# fit city and year effects and the covariates (the rail link by its own dummy, broadband and the
# controls as above) on the city-years not yet designated, impute each designated city-year's
# untreated exports, and average the differences. Why this estimator: it never uses
# already-designated cities as controls, its covariates absorb the trends that make parallel trends
# hold only *conditionally* here, and it is the estimator the Monte Carlo of the simulation
# notebook validates. The standard error is clustered by province (the study's one rule: shocks are
# plausibly shared within provinces; the MacKinnon-Nielsen-Webb test of city against province
# clustering and the city-clustered interval are reported beside it), and the interval uses the t
# distribution with G - 1 degrees of freedom: with 31 provinces 2.04, not 1.96.

# %%
from analysis.studies.binary import (
    binary_study,
    controls_record,
    headline_metrics,
    skips,
    study_design,
    twfe_table,
)

# What this panel allows (the design check of the panel stage, data/processed/design.md): the
# controls observed for enough city-years, the treatments that vary, the estimators that can run.
design = study_design(panel, share=min_control_share)
ctx.controls(controls_record(design))
study = binary_study(panel, truth, "pilot", "pilot_year", window, cluster, estimators, design,
                     ri_draws, ri_seed, control_rule, backend=backend)  # fmt: skip
for what, why in skips(study).items():  # estimators this panel does not allow, with the reason
    ctx.skipped(what, why)
ctx.headline(study)
ctx.decomposition(study)
ctx.table(ctx.cluster_table(study), digits=3)

# %% [markdown]
# **Reading the headline.** The sentence gives the average total effect of designation on the log
# exports of designated city-years (about a percentage change when small), the standard error
# used, the 95% interval and, on synthetic data, the true total effect; the next gives the direct
# effect and the part that runs through the ruled controls. The cluster table below it
# counts the clusters: the 2015 cohort is a single city, so any statement about that cohort
# alone rests on one city (the leave-out variance keeps it from understating the overall SE).

# %% [markdown]
# ## The foil: two-way fixed effects (TWFE)
#
# `log_exports ~ pilot + rail + log_broadband + controls | city + year`, standard errors clustered
# by province with t(G-1) intervals (the study's one rule). This is the regression most applied papers run,
# and it is kept as the foil: with effects that differ across batches and grow over time, its
# single coefficient is a weighted average with some negative weights, because already-designated
# cities serve as controls (Goodman-Bacon 2021; de Chaisemartin & D'Haultfoeuille 2020), so it
# need not equal the average effect. The simulation notebook shows the bias this produces.

# %%
table = twfe_table(panel, cluster, design=design)  # the study's one rule (cluster: headline)
for spec, why in table.attrs.get("skipped", {}).items():
    ctx.skipped(f"TWFE, {spec}", why)
ctx.write_table(table, "twfe_joint")
ctx.table(table, digits=4)

# %% [markdown]
# **Reading the table.** One row per regressor and specification ("no controls" / "controls").
# `estimate` is the change in log exports associated with the pilot dummy, the rail dummy, or a
# one-unit change of log broadband, holding the city and year effects fixed; `conf_low`/
# `conf_high` is the 95% interval. With your own file, only the controls and treatments your
# panel has enter; the line above lists the controls used and those dropped, with the reason.

# %%
ctx.table(ctx.compare_with_truth(study), digits=4)

# %% [markdown]
# **Reading the comparison.** On the synthetic data we know the true average effect on the treated
# (`truth`), so `bias` is the estimate minus the truth and `truth_in_ci` says whether the 95%
# interval covers it. A TWFE interval that misses the truth is the failure the next section
# explains; on real data there is no `truth` column and this check is impossible.

# %% [markdown]
# ## Heterogeneity-robust estimators
#
# Three estimators avoid the forbidden comparisons of TWFE (already-treated cities used as
# controls):
#
# * **Callaway & Sant'Anna (2021)**: estimate a separate effect for each designation cohort and
#   year, ATT(g,t), comparing the cohort with never-designated cities, then average them (by event
#   time, or overall weighting cohorts by size). Plain CS conditions only on pre-treatment
#   characteristics; here parallel trends hold only given the time-varying covariates, so the CS
#   entry runs on exports net of the covariates (first stage on untreated city-years, labelled
#   "covariate-adjusted"); the plain CS is kept in the results (`cs_unadjusted`) to show its bias.
# * **Sun & Abraham (2021)**: a regression with one dummy per cohort and event time, averaged with
#   cohort-share weights; the time-varying controls enter linearly.
# * **Borusyak, Jaravel & Spiess (2024)**: fit city and year effects (and controls) on untreated
#   city-years only, impute each treated city-year's untreated outcome, and average the differences.
#
# On the synthetic data the truth is known, so the table shows each estimator's bias.

# %%
from analysis.studies.binary import overall_comparison

overall = overall_comparison(study)
ctx.write_table(overall, "pilot_overall")
ctx.table(overall, digits=4)

# %% [markdown]
# **Reading the table.** Same quantity: the headline first (its SE clustered by province, t(G-1)
# interval), the direct effect of the decomposition (against the direct truth), then TWFE and the
# robust estimators, all clustered by province with t(G-1) intervals (the
# control-adjusted CS by city, the only level it supports; its entry says so). If the robust estimators agree with each other and differ from TWFE, the
# difference is the TWFE weighting problem, not noise: compare the gap with the standard errors. The estimators weight cohorts differently (CS by cohort
# size, BJS by treated city-years), so small differences among them are expected even when all are
# unbiased.

# %% [markdown]
# ## Event study
#
# One coefficient per year relative to designation, for every estimator on the same event times
# (the window of params.yaml) and with one convention: the year before designation (e = -1) is
# the reference, set to zero, for TWFE, Sun-Abraham and Callaway-Sant'Anna (universal base
# period, so every pre-period point is a long difference to e = -1, as for the others). Nothing
# is binned: TWFE has one dummy for every year relative to designation and only the window is
# shown. The imputation estimator has no single base year (its counterfactual uses all untreated
# years); its pre-period points are the leads of its own pre-trend test (BJS 2024, Test 1), so
# its e = -1 is estimated rather than zero. The black marks are the true average effect at each
# event time over the designated city-years observed there, the quantity each estimator
# estimates. Leads (negative years) test for pre-trends; the table gives each estimator's own
# joint test.

# %%
ctx.event_study_figure(study, "pilot_event_study", "pilot_es_title")

# %% [markdown]
# **Reading the tests and the figure.** A large p-value means the leads are jointly
# indistinguishable from zero: no *detectable* pre-trend. It does not prove parallel trends (the
# test can lack power, and trends could diverge only after designation; the HonestDiD section of
# the robustness notebook asks how much that could matter). The plain CS row (`cs_unadjusted`)
# ignores the covariates that drive the trends; with province clusters its leads' test need not
# reject (the next section asks how large a trend these tests can see). After
# designation, the points trace how the effect builds up with time since designation; points far
# out in event time rest on the early, small cohorts and have wide intervals.

# %% [markdown]
# ## How large a pre-trend could the test miss? (Roth 2022)
#
# A pre-test that passes is weak evidence when it has little power. On the headline's own event
# study (the imputation estimator with the study's covariates, province clusters) we ask which
# differential linear trend between the designated cities and the others the pre-test (no lead
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
    ctx.skipped_figure("pilot_pretrend_power", "pre-trend power", power["skipped"])
else:
    ctx.table(pd.DataFrame(power["by_power"]), digits=4)
    ctx.figure(
        "pilot_pretrend_power",
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

# %% [markdown]
# ## Where are the effects? City-level imputed effects
#
# The imputation estimator gives an effect for every treated city-year: the city's exports minus
# its imputed untreated exports. Averaging them by city gives one number per pilot city, mapped
# below.

# %%
# the data and covariates of the BJS estimate above (analysis.studies.rules.study_data)
from analysis.data.design import analysis_sample
from analysis.did.imputation import imputation
from analysis.figures.maps import plot_effect_map
from analysis.studies.binary import attempt
from analysis.studies.rules import study_data

bjs, why = (None, skips(study).get("bjs", "BJS is not among the estimators run"))
if "bjs" in study["robust"] and "bjs" not in skips(study):
    bjs, why = attempt(
        imputation,
        study_data(analysis_sample(panel, design), design, "pilot", control_rule).panel,
        "log_exports",
        "year",
        "city_code",
        "pilot_year",
        covariates=study["covariates"],
        horizons=None,
        leaveout=True,
    )
if bjs is not None:
    city_effects = bjs.tau.groupby("city_code")["tau"].mean()
    ctx.figure(
        "pilot_effect_map",
        plot_effect_map,
        city_effects,
        ctx.cities(cities_path),
        label="bjs_city_effect",
    )
    ctx.table(city_effects.describe().to_frame("mean imputed effect by city").T, digits=3)
else:
    ctx.skipped_figure("pilot_effect_map", "city-level imputed effects", why)

# %% [markdown]
# **Reading the map.** Red cities gained more than the average, blue ones less (the colour scale
# is centred at zero); grey prefectures were never designated. Each city's number averages only its
# few treated years, so it is *noisy*: it includes that city's own shocks (on the synthetic data,
# the simulated noise of the data-generating process), and a single city's value should not be
# read as its effect. Patterns across many cities (e.g. by region or batch) are informative; the
# robustness notebook tests them formally in the heterogeneity section. Later batches have had
# fewer years for the effect to grow, so they look paler even if their long-run effect is the same.

# %%
_ = ctx.write_results(
    "pilot_zones",
    study,
    metrics=headline_metrics(study),
    plot=study["event_study"].reindex(columns=["event_time", "estimate", "conf_low", "conf_high"]),
)

# %% [markdown]
# The headline, the estimates, the event studies, the pre-trend tests and the truth are saved in
# `output/results/pilot_zones.json` (read by the report); the robustness notebook attacks the
# headline estimate from several directions.
