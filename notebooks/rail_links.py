# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Infrastructure: did a first international rail freight service raise exports?
#
# **Question.** Guo (2025) argues that transport infrastructure — the China-Europe Railway Express
# (中欧班列) and the China-Laos railway — lowers trade costs. We estimate the change in a city's exports
# after its first scheduled international rail freight service.
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
min_control_share = defaults["min_control_share"]
control_rule = defaults["control_rule"]

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
from analysis.studies.binary import (
    binary_study,
    headline_metrics,
    overall_comparison,
    skips,
    study_design,
)

# the controls and estimators this panel allows (design check, data/processed/design.md)
design = study_design(panel, share=min_control_share)
study = binary_study(panel, truth, "rail", "rail_year", window, cluster, estimators, design,
                     ri_draws, ri_seed, control_rule)  # fmt: skip
ctx.controls(study)
for what, why in skips(study).items():
    ctx.skipped(what, why)
ctx.headline(study)
ctx.decomposition(study)
ctx.table(ctx.cluster_table(study), digits=3)
ctx.randomization(study)

# %% [markdown]
# **Reading the headline.** As for pilot zones, the headline is the imputation (BJS) estimate of
# the *total* effect of a first service: the controls exports move enter only by their
# pre-treatment trends, and the direct effect is a decomposition beside it. The pilot zones, which
# 14 of the 17 rail cities also received, enter the untreated-outcome model by one dummy per
# designation cohort and year since designation, so their batch-specific, growing effects are not
# credited to rail (with one on/off pilot dummy the rail estimate was biased upwards by about
# 0.03 on a true 0.08 in the Monte Carlo). The SE is clustered by province (the study's one rule)
# and its interval from t(G-1). Only 17 cities are
# treated, in cohorts of one to four cities, so analytic clustered SEs lean on few treated
# clusters (MacKinnon & Webb 2017): the randomization test above permutes the service dates
# across cities within provinces (keeping how many cities start in each year in each province)
# and compares the actual t statistic with the placebo ones. It needs no large-sample variance
# and is the check to trust when the two disagree.

# %%
overall = overall_comparison(study)
ctx.write_table(overall, "rail_overall")
ctx.table(overall, digits=4)

# %% [markdown]
# **Reading the table.** The headline, then TWFE (the foil: one dummy, already-treated cities as
# controls) and the robust estimators (see the pilot-zones notebook for how each works) side by
# side, with the truth on synthetic data. Rail cities are also early pilot-zone cities, and the
# pilot dummy moves over time: it is a time-varying confounder of rail. Callaway & Sant'Anna
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
# **Reading the tests and the figure.** As for pilot zones, a large p-value means no detectable
# pre-trend, not proof of parallel trends; with so few treated cities the tests have little
# power, and with many leads one of four tests can reject by chance. After the first service the
# points should sit near the (static) true effect on synthetic data; their spread shows how
# little a short list of treated cities can pin down.

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
    study,
    metrics=headline_metrics(study),
    plot=study["event_study"].reindex(columns=["event_time", "estimate", "conf_low", "conf_high"]),
)

# %% [markdown]
# The estimates are saved in `output/results/rail_links.json` for the report. Before using real
# data, extend the rail table (`treatment.rail_links_file` in params.yaml).
