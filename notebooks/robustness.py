# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Robustness: how solid is the pilot-zone effect?
#
# The pilot-zone notebook estimated the effect of a cross-border e-commerce pilot zone on a city's
# exports. Here we
# attack that estimate from eight directions: could it be chance, an artefact of clustered errors,
# of who became a
# pilot, of other policies arriving at the same time, of a few groups of cities, of the TWFE
# weighting, of pre-trends,
# or of the analyst's choices?

# %% tags=["parameters"]
# Parameters: `analysis notebook robustness` (papermill) injects params.yaml's values after this
# cell; the values here are the defaults of analysis.config, for interactive runs.
panel_path = "data/processed/panel.csv"
truth_path = "data/processed/truth.json"
cities_path = "data/interim/cities.csv"
treatments_path = "data/interim/treatments.csv"
output_dir = "output"
lang = "en"
seed = 20240601
n_jobs = 2
placebo_draws = 1000
placebo_within = None
wild_draws = 9999
wild_cluster = "province"
wild_weights = "rademacher"
concurrent_policies = {}
psm = {
    "covariates": ["log_gdp_pc", "log_population", "log_fdi", "industry_share_pct"],
    "method": "nearest",
    "n_neighbors": 1,
    "caliper": 0.25,
    "replace": True,
}
heterogeneity = {
    "dimensions": ["region", "coastal", "batch", "size"],
    "size_bins": 3,
    "methods": ["interaction", "split"],
}
honestdid = {
    "window": [-5, 5],
    "target": "average",
    "Mbarvec": [0.0, 0.5, 1.0, 1.5, 2.0],
    "Mvec": None,
    "grid_points": 1000,
    "type": "both",
}
spec_curve = {"backend": "loky", "options": {"sample": ["all", "drop_ftz"]}}
year_rule = "approval"
min_control_share = 0.8

# %%
import pandas as pd
from IPython.display import display

from analysis import results_io
from analysis.config import RobustnessConfig, parse_section
from analysis.studies.context import setup
from analysis.studies.robustness.checklist import robustness_study

ctx = setup(panel_path, truth_path, output_dir, lang)
cities_path = ctx.resolve(cities_path)
panel, truth = ctx.panel, ctx.truth
ctx.banner()
options = parse_section(
    RobustnessConfig,
    {
        "seed": seed,
        "n_jobs": n_jobs,
        "placebo_draws": placebo_draws,
        "placebo_within": placebo_within,
        "wild_draws": wild_draws,
        "wild_cluster": wild_cluster,
        "wild_weights": wild_weights,
        "concurrent_policies": concurrent_policies,
        "psm": psm,
        "heterogeneity": heterogeneity,
        "honestdid": honestdid,
        "spec_curve": spec_curve,
    },
    prefix="notebooks.robustness",
)
study = robustness_study(
    panel,
    truth,
    options,
    year_rule=year_rule,
    cities_path=cities_path,
    min_control_share=min_control_share,
)
res, frames = study["results"], study["frames"]


def ran(check: str, what: str) -> bool:
    """True when ``check`` ran on this panel; else one explained sentence (never a crash)."""
    entry = res.get(check, res if "skipped" in res else {})
    if isinstance(entry, dict) and "skipped" in entry:
        ctx.skipped(what, entry["skipped"])
        return False
    return True


def frame(name: str) -> pd.DataFrame:
    """A checklist table; empty when its check did not run (the file is still written)."""
    return frames.get(name, pd.DataFrame())


ctx.controls(res)
if "skipped" in res:
    ctx.skipped("the robustness checklist", res["skipped"])
# seconds per check depend on the machine: kept apart from the results
_ = results_io.write_json(
    ctx.resolve(output_dir) / "runtime" / "robustness_sections.json", study["timings"]
)

# %% [markdown]
# ## Overview
# Each row below is the pilot-zone effect (change in log exports) from one check, with its 95%
# interval; on the synthetic data the vertical line is the true average effect. The baseline is
# the TWFE regression of the pilot-zone notebook (pilot, rail and broadband, economic controls,
# city and year effects, errors clustered by city).

# %%
ctx.write_table(frames["summary"], "robustness_summary")
ctx.study_figure(study, "robustness_summary")
ctx.table(frames["summary"], digits=4)

# %% [markdown]
# **Reading the overview.** If the rows cluster around the baseline, no single check overturns
# it; rows that move away point to the assumption that matters (the sections below explain each).
# Intervals of different checks are not independent evidence: they reuse the same data. The
# specification-curve row shows a range (minimum to maximum), not a confidence interval.

# %% [markdown]
# ## 1. Could it be chance? Placebo designation timing
# We keep the number of cities designated each year but hand the designations to randomly chosen
# cities, re-estimate, and repeat many times (`placebo_draws`). If the real estimate sits far out
# in the tail of these placebo estimates, chance is an unlikely explanation. The p-value is the
# share of placebo estimates at least as large (in absolute value) as the real one, counting the
# real one (Fisher 1935; Young 2019, *QJE* 134(2); MacKinnon & Webb 2020, *J. Econometrics*
# 218(2)).

# %%
ctx.study_figure(study, "robustness_placebo")
if ran("placebo", "placebo randomization inference"):
    display(ctx.facts(res["placebo"], digits=4, draws=res["placebo"]["draws"]))

# %% [markdown]
# **Reading the result.** The smallest p-value this test can give is 1/(draws + 1); at that floor
# it is printed as a bound ("p ≤ ..."), meaning *no* placebo estimate was as extreme as the real
# one, not that the probability is zero. More draws only sharpen the bound. The test asks whether
# the *timing and identity* of designations matter; it does not rule out that designated cities
# differ systematically (section 3).

# %% [markdown]
# ## 2. Are the standard errors too small? Wild cluster bootstrap by province
# Cities in one province share shocks (provincial policy, ports), so errors may be correlated within
# provinces. With 31 provinces, conventional clustered standard errors can be too small; the
# restricted wild cluster bootstrap gives reliable p-values and confidence intervals with few
# clusters (Cameron, Gelbach & Miller 2008, *REStat* 90(3); Roodman et al. 2019, *Stata Journal*
# 19(1)).

# %%
if ran("wild_bootstrap", "wild cluster bootstrap"):
    display(ctx.facts(res["wild_bootstrap"], digits=4, draws=res["wild_bootstrap"]["B"]))

# %% [markdown]
# **Reading the result.** Compare the bootstrap interval with the baseline's city-clustered one
# in the overview: if it is not much wider, within-province correlation does not threaten the
# precision claimed. A p-value at the bootstrap's resolution is printed as a bound. Clustering
# fixes the standard error; it does nothing about bias.

# %% [markdown]
# ## 3. Were pilot cities different to begin with? Propensity-score matching DiD
# Pilot cities are richer and more open than the average city. We match each pilot city to the
# non-pilot city with the most similar pre-2015 economy (propensity score on GDP per capita,
# population, FDI, industry share; nearest neighbour within a caliper, by default 0.25 s.d. of the
# logit score: params.yaml `psm`) and rerun the DiD on the matched sample (Heckman, Ichimura & Todd
# 1997, *REStud* 64(4); Rosenbaum & Rubin 1985). The balance plot shows how much matching reduced
# the differences (standardized differences below 0.1 are conventionally taken as balanced; Austin
# 2009).

# %%
ctx.study_figure(study, "robustness_psm_balance")
if ran("psm_did", "PSM-DID"):
    display(ctx.facts(res["psm_did"], digits=4))

# %% [markdown]
# **Reading the plot and the result.** Open circles are the covariate differences before matching,
# filled ones after; points left of the dashed line are balanced. If matching balances the
# covariates and the matched estimate stays close to the baseline, selection on these observed
# characteristics does not drive the result. Matching cannot balance what is not measured, and
# dropping unmatched pilot cities changes the population the effect describes.

# %% [markdown]
# ## 4. Other policies at the same time: pilot free trade zones
# Many pilot cities also host a pilot free trade zone, approved in overlapping years. If those zones
# raised exports, part of the "pilot-zone effect" may be theirs. We (a) add a free-trade-zone dummy
# as a control and (b) drop every free-trade-zone city, re-estimating with TWFE and the Callaway &
# Sant'Anna simple ATT (Neumark & Simpson 2015, *Handbook of Regional and Urban Economics* 5).
# Further rosters (e.g. Broadband China 宽带中国 cities) can be added in params.yaml in the same
# file format (see README).

# %%
ctx.write_table(frame("concurrent"), "robustness_concurrent")
if ran("concurrent", "concurrent policies"):
    display(ctx.table(frames["concurrent_overlap"]))
    display(ctx.table(frames["concurrent"], digits=4))

# %% [markdown]
# **Reading the tables.** The first counts, for each concurrent policy, its cities and how many of
# them are also pilot cities (the overlap that could confound). The second gives the pilot estimate
# with the policy controlled for or its cities dropped. Estimates that barely move mean the other
# policy does not explain the effect; dropping cities also changes the sample, so some movement is
# expected even without confounding. Policies not in a roster cannot be checked this way.

# %% [markdown]
# ## 5. Is the effect the same everywhere? Heterogeneity
# We estimate the effect separately by region, coastal vs inland, designation batch and city size
# (terciles of 2010 exports), once with interactions in one regression (shared year effects; Wald
# test of equal effects) and once on split samples (each group with its own year effects; for
# batches the batch plus never-designated cities). Later batches have had less time for the effect
# to grow, so a falling batch profile is expected.

# %%
ctx.write_table(frame("heterogeneity"), "robustness_heterogeneity")
ctx.study_figure(study, "robustness_heterogeneity")
if ran("heterogeneity", "effect heterogeneity"):
    display(ctx.table(frames["heterogeneity_tests"], digits=3))

# %% [markdown]
# **Reading the figure and the tests.** Each row is one group's effect (circles: interaction
# model, squares: split samples); the dotted line is the pooled estimate. The table tests, per
# dimension, that all its groups share one effect: a small p-value says the effect differs across
# groups. It does not say why: region, size and batch are correlated (early batches are large
# eastern cities), so a difference along one dimension may reflect another.

# %% [markdown]
# ## 6. What does the TWFE coefficient average? Goodman-Bacon decomposition
# With designations spread over 2015-2022, the TWFE coefficient is a weighted average of all
# two-group, two-period comparisons, including "later vs earlier designated" ones that use
# already-treated cities as controls and are biased when effects grow over time (Goodman-Bacon
# 2021, *J. Econometrics* 225(2)). The plot shows each comparison's estimate and weight.

# %%
ctx.study_figure(study, "robustness_bacon")
if ran("bacon", "Goodman-Bacon decomposition"):
    display(ctx.table(pd.DataFrame(res["bacon"]["by_type"]), digits=4))

# %% [markdown]
# **Reading the result.** The weights sum to one; the TWFE coefficient is the weighted average of
# the comparison types. The larger the weight on comparisons with already-treated controls, and
# the further their estimates from the others, the less TWFE can be read as an average effect; the
# robust estimators of the pilot-zone notebook avoid those comparisons.

# %% [markdown]
# ## 7. How much could a violation of parallel trends change the answer? HonestDiD
# Pre-trends near zero do not prove parallel trends after designation. HonestDiD asks how large
# post-designation deviations from parallel trends would have to be to overturn the result: either
# relative to the largest pre-period deviation (Mbar, relative magnitudes) or as a bound M on how
# fast the trend can bend (smoothness) (Rambachan & Roth 2023, *REStud* 90(5)). The "breakdown"
# value is the smallest M or Mbar at which the robust interval includes zero.

# %%
ctx.study_figure(study, "robustness_honestdid")
if ran("honestdid", "HonestDiD"):
    ctx.wald_sentence(res["honestdid"]["pretrend_test"], "Pre-trend test of the event study")
    display(
        ctx.facts(
            {k: res["honestdid"][k] for k in ("estimate", "original_ci", "breakdown_M")}, digits=4
        )
    )

# %% [markdown]
# **Reading the result.** Each panel widens the interval as more violation is allowed (M or Mbar
# to the right). A large breakdown value means the conclusion survives violations of parallel
# trends as large as that (for relative magnitudes: that many times the largest pre-period
# deviation); a breakdown near zero means the sign rests on parallel trends holding almost
# exactly. Which amount of violation is plausible is a judgement about the economics, not a
# statistical output.

# %% [markdown]
# ## 8. Does it depend on the analyst's choices? Specification curve
# We estimate every combination of reasonable choices: the estimator (TWFE; Callaway & Sant'Anna
# 2021; Sun & Abraham 2021; Borusyak, Jaravel & Spiess 2024), with or without controls, all cities
# or without free-trade-zone cities, errors clustered by city or province, treatment from the
# approval year or the year after, and the outcomes configured (log exports, export growth, log
# exports per capita). The curve shows all estimates sorted, the panel below which choices each one
# makes (Simonsohn, Simmons & Nelson 2020, *Nature Human Behaviour* 4). Export growth measures a
# different quantity (the effect on the growth rate), so its estimates sit lower by construction.

# %%
ctx.write_table(frame("spec_curve"), "robustness_spec_curve")
ctx.study_figure(study, "robustness_spec_curve")
if ran("spec_curve", "specification curve"):
    display(
        ctx.facts(
            {
                k: res["spec_curve"][k]
                for k in (
                    "n_specs",
                    "n_infeasible",
                    "median",
                    "min",
                    "max",
                    "share_positive_significant",
                )
            },
            digits=4,
        )
    )

# %% [markdown]
# **Reading the curve.** Blue points have intervals that exclude zero, grey ones do not. A curve
# that stays on one side of zero across choices means no defensible choice reverses the sign;
# the indicator panel shows which choices move the estimate most (look for rows whose marks bunch
# at one end). The curve weights every specification equally, so it describes the choices, not
# the probability that the effect is large.

# %%
# headline numbers of the checks that ran (a skipped check has no number, never a zero)
metrics = {
    name: res[check][key]
    for name, check, key in (
        ("baseline", "baseline", "estimate"),
        ("placebo_p", "placebo", "p_value"),
        ("wild_p", "wild_bootstrap", "p_value"),
        ("psm_did", "psm_did", "estimate"),
        ("spec_curve_median", "spec_curve", "median"),
    )
    if check in res and "skipped" not in res[check]
}
_ = ctx.write_results("robustness", res, metrics=metrics, plot=frames["summary"])

# %% [markdown]
# All checks are saved in `output/results/robustness.json` (and the tables in `output/tables/`)
# for the report.
