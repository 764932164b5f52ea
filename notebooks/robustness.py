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
# The pilot-zone notebook's headline number is the average effect of a cross-border e-commerce
# pilot zone on the log exports of the designated cities (the ATT), estimated with the imputation
# estimator of Borusyak, Jaravel & Spiess (2024, *REStud*; "BJS"): untreated outcomes are modelled
# with city and year effects, the other treatments (rail, broadband) and the economic controls,
# fitted on the untreated city-years only, and the effect is the mean gap between the observed and
# the imputed outcome of the treated city-years. It is the estimator the simulation notebook
# validates (no bias, nominal coverage) under staggered designation with effects that grow over
# time, where the two-way fixed-effects (TWFE) coefficient is biased. It is the *total* effect of
# designation: the controls the pilot zones move enter by their imputed untreated paths. Its standard
# error is clustered by province (the study's one rule), with t(G-1) critical values.
#
# Every check below attacks **that** number: could it be chance, an artefact of clustered errors,
# of who became a pilot, of other policies arriving at the same time, of a few groups of cities, of
# pre-trends, or of the analyst's choices? The TWFE coefficient appears once, as the foil: section 6
# says how much of its gap to the truth the comparisons it should not make explain.

# %% tags=["parameters"]
# Parameters. The pipeline (`analysis notebook robustness`) has papermill inject params.yaml's values
# after this cell and writes to output/. Run by hand (JupyterLab), this cell reads params.yaml now
# and writes to output/interactive/, never over the pipeline's files.
# To try another value, set it below, e.g. `placebo_draws = 99`, and run the notebook again.
from analysis.config import interactive_parameters

defaults = interactive_parameters("robustness")
panel_path = defaults["panel_path"]
truth_path = defaults["truth_path"]
cities_path = defaults["cities_path"]
treatments_path = defaults["treatments_path"]
output_dir = defaults["output_dir"]
lang = defaults["lang"]
seed = defaults["seed"]
n_jobs = defaults["n_jobs"]
placebo_draws = defaults["placebo_draws"]
placebo_within = defaults["placebo_within"]
wild_draws = defaults["wild_draws"]
wild_cluster = defaults["wild_cluster"]
wild_weights = defaults["wild_weights"]
concurrent_policies = defaults["concurrent_policies"]
dr = defaults["dr"]
heterogeneity = defaults["heterogeneity"]
honestdid = defaults["honestdid"]
spec_curve = defaults["spec_curve"]
conley = defaults["conley"]
spillover = defaults["spillover"]
multiple_testing = defaults["multiple_testing"]
year_rule = defaults["year_rule"]
min_control_share = defaults["min_control_share"]
control_rule = defaults["control_rule"]
synthetic = defaults["synthetic"]
backend = defaults["backend"]
first_year = defaults["first_year"]
last_year = defaults["last_year"]

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
        "dr": dr,
        "heterogeneity": heterogeneity,
        "honestdid": honestdid,
        "spec_curve": spec_curve,
        "conley": conley,
        "spillover": spillover,
        "multiple_testing": multiple_testing,
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
    control_rule=control_rule,
    backend=backend,
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
# Each row below is the headline ATT (change in log exports) under one check, with its 95%
# interval; on the synthetic data the vertical line is the true average effect. The first row is
# the headline itself. The others re-examine it: its p-value by randomization inference, its
# interval by the wild cluster bootstrap, a doubly-robust estimate of the same ATT on baseline
# covariates, and the headline re-estimated with the concurrent policies controlled for or their
# cities dropped.

# %%
ctx.write_table(frames["summary"], "robustness_summary")
ctx.study_figure(study, "robustness_summary")
ctx.table(frames["summary"], digits=4)

# %% [markdown]
# **Reading the overview.** If the rows cluster around the headline, no single check overturns
# it; rows that move away point to the assumption that matters (the sections below explain each).
# Intervals of different checks are not independent evidence: they reuse the same data. The
# randomization-inference row has a p-value but no interval (a permutation test of "no effect"
# gives none).

# %% [markdown]
# ## 1. Could it be chance? Placebo designation timing
# We keep the number of cities designated each year *within each stratum* of cities
# (`placebo_within`; default `baseline_gdp`: quintiles of the city's mean log GDP per capita before
# the first designation year; or provinces, or region x coast cells) but hand the designations to
# randomly chosen cities of that stratum, re-estimate the headline, and repeat many times
# (`placebo_draws`). Stratifying matters: early designations went to large, rich, fast-growing
# cities, so a placebo that sends them anywhere compares the real assignment with assignments the
# programme would never have made. Designation was targeted, never drawn by lot, so no permutation
# scheme reproduces it: the p-value is **a sensitivity check under exchangeability within strata**
# (designated and other cities of the same baseline-GDP quintile are assumed interchangeable), not
# design-based inference. Its size under the synthetic DGP without a pilot effect (designation
# targeted as in the data) is measured by the slow test tests/studies/robustness/test_ri_strata.py.
# The statistic is the *studentized* headline, t = ATT / SE: the test is then exact for the sharp
# null of no effect in any city and still valid for the weaker null that the average effect is
# zero (Wu & Ding 2021, *JASA* 116(536); Fisher 1935; Young 2019, *QJE* 134(2); MacKinnon & Webb
# 2020, *J. Econometrics* 218(2)). The p-value is the share of placebo t statistics at least as
# large (in absolute value) as the real one, counting the real one.

# %%
ctx.study_figure(study, "robustness_placebo")
if ran("placebo", "placebo randomization inference"):
    display(ctx.facts(res["placebo"], digits=4, draws=res["placebo"]["draws"]))

# %% [markdown]
# **Reading the result.** The smallest p-value this test can give is 1/(draws + 1); at that floor
# it is printed as a bound ("p ≤ ..."), meaning *no* placebo t statistic was as extreme as the
# real one, not that the probability is zero. More draws only sharpen the bound. The placebo t
# statistics need not centre on zero: the real effect stays in the data, and within a stratum a
# placebo pilot is often a real one (the test is of the sharp null, under which there would be no
# effect to carry over). The test asks whether the *timing and identity* of designations within a
# stratum matter; it does not rule out that designated cities differ from the other cities of
# their stratum in ways the strata do not capture (section 3).

# %% [markdown]
# ## 2. Are the standard errors too small? Wild cluster bootstrap by province
# Cities in one province share shocks (provincial policy, ports), so errors may be correlated within
# provinces. With 31 provinces, conventional clustered standard errors can be too small. The
# restricted wild cluster bootstrap of the headline imposes "ATT = b0" on the data, resamples
# province-level sign flips of the residuals (Webb's six-point weights below 12 clusters),
# recomputes the BJS estimate and its standard error on each bootstrap sample, and keeps the b0
# that are not rejected as the confidence interval (Cameron, Gelbach & Miller 2008, *REStat* 90(3);
# Roodman et al. 2019, *Stata Journal* 19(1)).

# %%
if ran("wild_bootstrap", "wild cluster bootstrap"):
    display(ctx.facts(res["wild_bootstrap"], digits=4, draws=res["wild_bootstrap"]["B"]))

# %% [markdown]
# **Reading the result.** Compare the bootstrap interval with the headline's in the overview: if
# it is not much wider, within-province correlation does not threaten the precision claimed. A
# p-value at the bootstrap's resolution is printed as a bound. The bootstrap fixes the standard
# error; it does nothing about bias.

# %% [markdown]
# ## 3. Were pilot cities different to begin with? A doubly-robust ATT on baseline covariates
# Pilot cities are richer and more open than the average city. If cities with such an economy
# would have grown faster anyway, parallel trends hold only *conditional* on it. The doubly-robust
# estimator of Callaway & Sant'Anna (2021, *J. Econometrics* 225(2)) with Sant'Anna & Zhao's (2020,
# *J. Econometrics* 219(1)) 2x2 estimator compares each designation cohort with the never-designated
# cities, reweighted by a propensity score on the city's economy before the first designation
# (means of GDP per capita, population, FDI, industry share: params.yaml `dr`) *and* adjusted by a
# regression of the outcome change on the same covariates; it is consistent if either model is
# right. Unlike "match, then TWFE" it never uses an already-designated city as a control, it
# estimates the ATT, and its standard error includes the estimation of both models. A cohort for
# which no propensity score can be estimated (the single city of 2015) is left out and named; the
# truth is then given for the same cohorts. The balance plot shows the standardized differences
# between designated and control cities before and after the propensity weighting (below 0.1 is
# conventionally taken as balanced; Austin 2009).

# %%
ctx.write_table(frame("dr_balance"), "robustness_dr_balance")
ctx.study_figure(study, "robustness_dr_balance")
if ran("dr", "doubly-robust ATT"):
    display(ctx.facts(res["dr"], digits=4))

# %% [markdown]
# **Reading the plot and the result.** Open circles are the covariate differences before
# weighting, filled ones after; points left of the dashed line are balanced. Weighting alone need
# not balance every covariate (the outcome regression adjusts for what is left). If the
# doubly-robust ATT is close to the headline, which adjusts for the same economy year by year
# instead, selection on these observed characteristics does not drive the result. Neither can
# adjust for what is not measured.

# %% [markdown]
# ## 4. Other policies at the same time: pilot free trade zones
# Many pilot cities also host a pilot free trade zone, approved in overlapping years. If those zones
# raised exports, part of the "pilot-zone effect" may be theirs. We re-estimate the headline
# (a) with a free-trade-zone dummy in its model of untreated exports, so that the zones' effect is
# learnt from cities that have a zone but are not (yet) pilots and removed from the counterfactual,
# and (b) without every free-trade-zone city (Neumark & Simpson 2015, *Handbook of Regional and
# Urban Economics* 5). Each row keeps the headline's inference (standard error and interval).
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
# expected even without confounding: without the (early, large) free-trade-zone cities the ATT is
# an average over later designations, whose effects have had less time to grow. On the synthetic
# data, `truth_same_cohorts` gives the true ATT of each row's own sample. Policies not in a roster cannot be checked this way.

# %% [markdown]
# ## 5. Is the effect the same everywhere? Heterogeneity
# We average the headline's imputed effects (one per designated city-year, from one model of
# untreated exports) within groups: region, coastal vs inland, designation batch and city size
# (terciles of 2010 exports). A raw difference between groups mixes two things: the effect may
# truly differ (effect modification), or one group may simply have been designated earlier and
# had longer for the effect to grow (timing composition). So each group's effect is also computed
# at *common weights* over designation cohort x years since designation, using only the cells all
# groups share; a difference that survives there is effect modification. Standard errors are the
# imputation estimator's (Borusyak, Jaravel & Spiess 2024), tests use F(df, G - 1). Batches are
# cohorts, so for batch only equal years since designation can be compared.
#
# Two guards against over-reading. Each contrast (a group against the rest) has a 95% interval and
# a *minimum detectable difference* (MDD = (t_0.975 + t_0.8) x SE with t(G - 1) quantiles: the
# difference the test would find with 80% probability at 5% size). A test that does not reject says
# "not distinguishable from zero; differences smaller than the MDD cannot be detected", never "no
# difference". And four dimensions are four chances of a false alarm: `*_p_adjusted` are stepdown
# (Westfall-Young / Romano-Wolf) p-values across the dimensions, from a bootstrap that reuses one
# set of province weights for all tests, so it knows how much the tests overlap (they reuse the
# same imputed effects).

# %%
ctx.write_table(frame("heterogeneity"), "robustness_heterogeneity")
ctx.study_figure(study, "robustness_heterogeneity")
if ran("heterogeneity", "effect heterogeneity"):
    display(ctx.table(frames["heterogeneity_tests"], digits=3))
    display(ctx.table(frames["heterogeneity_contrasts"], digits=4))
    for sentence in res["heterogeneity"].get("sentences") or []:
        print(sentence)

# %% [markdown]
# **Reading the figure and the tests.** Per group, the raw ATT and the ATT at common weights sit
# side by side. `raw_p` tests that the groups' raw ATTs are equal, `modification_p` that their
# common-weight ATTs are: a small `raw_p` with a large `modification_p` says the raw gap is timing
# composition, not a different effect. The contrasts split each group's raw difference from the
# rest into the modification part and the composition part (they add up); their `*_mdd` columns say
# how large a difference each could have detected. Verdicts follow the adjusted p-values.

# %% [markdown]
# ## 6. Why not TWFE? The foil, decomposed (Goodman-Bacon)
# With designations spread over 2015-2022, the TWFE coefficient (without controls) is a weighted
# average of all two-group, two-period comparisons, including "later vs earlier designated" ones
# that use already-treated cities as controls and are biased when effects grow over time
# (Goodman-Bacon 2021, *J. Econometrics* 225(2)). The plot shows each comparison's estimate and
# weight. The table attributes the coefficient: each comparison type's weight times its average
# estimate. Writing the coefficient as the clean comparisons' average plus
# w_forbidden x (b_forbidden - b_clean), the second term is the part of its gap to the truth that
# the forbidden comparisons cause; the rest comes from the variance weights of the clean ones. The
# decomposition holds for the TWFE regression *without* controls; the one with the headline's
# covariates is reported beside it.

# %%
ctx.study_figure(study, "robustness_bacon")
if ran("bacon", "Goodman-Bacon decomposition"):
    display(ctx.table(pd.DataFrame(res["bacon"]["by_type"]), digits=4))
    display(
        ctx.facts(
            {
                k: res["bacon"][k]
                for k in (
                    "twfe_no_controls",
                    "twfe_with_controls",
                    "headline_att",
                    "truth",
                    "forbidden_weight",
                    "forbidden_contribution",
                    "clean_gap_to_truth",
                    "gap_to_truth",
                )
            },
            digits=4,
        )
    )

# %% [markdown]
# **Reading the result.** The weights sum to one and the contributions add up to the TWFE
# coefficient. `forbidden_contribution` plus `clean_gap_to_truth` is its whole gap to the true
# ATT: when the forbidden part is only a share of the gap, the rest of TWFE's bias comes from how
# it weights the clean comparisons, which no reweighting of "bad" 2x2s fixes. The headline
# estimator avoids both.

# %% [markdown]
# ## 7. How much could a violation of parallel trends change the answer? HonestDiD
# Pre-trends near zero do not prove parallel trends after designation. HonestDiD asks how large
# post-designation deviations from parallel trends would have to be to overturn the result
# (Rambachan & Roth 2023, *REStud* 90(5)). Its input must itself be robust to heterogeneous
# effects and have adjacent single-year coefficients: we use Callaway & Sant'Anna on the outcome
# net of the headline's controls, with a universal base period (e = -1), no binned end points and
# only event times reached by enough cohorts. The target is stated in the results (`target_label`):
# by default the average effect over the post-designation years of the window. Two restrictions:
# smoothness (the trend may bend by at most M per year, benchmarked on the largest bend between
# consecutive pre-designation years) and relative magnitudes (post-designation violations up to
# Mbar times the largest pre-designation one). The breakdown value is the smallest M or Mbar at
# which the robust interval includes zero.

# %%
ctx.study_figure(study, "robustness_honestdid")
if ran("honestdid", "HonestDiD"):
    hd = res["honestdid"]
    display(ctx.table(frames["event_study_honestdid"], digits=4))
    display(
        ctx.facts(
            {
                "target": hd["target_label"],
                "estimate": hd["estimate"],
                "original_ci": hd["original_ci"],
                "truth": hd.get("truth"),
                "benchmark_M": hd["benchmark"]["M"],
                "breakdown_M": hd["breakdown_M"],
                "breakdown_Mbar": hd["breakdown_Mbar"],
            },
            digits=4,
        )
    )
    print(hd["sentences"][lang])

# %% [markdown]
# **Reading the result.** Each panel widens the interval as more violation is allowed (M or Mbar
# to the right); the dashed line marks the benchmark. A breakdown M well above the largest bend
# seen before designation, or a breakdown Mbar above 1, means the conclusion survives violations
# as large as the ones the data show before designation; whether larger ones are plausible is a
# judgement about the economics, not a statistical output.

# %% [markdown]
# ## 8. Does it depend on the analyst's choices? Specification curve
# One estimand, the total effect of designation on log exports over the study's cities with the
# coded treatment years, under every distinct combination of choices a careful analyst could
# defend for it: the heterogeneity-robust estimator (BJS, Sun & Abraham, Callaway & Sant'Anna on
# the covariate-adjusted outcome) and how the controls carry pre-designation information (the
# study's rule; every control on its untreated path; every control's baseline value x year). The
# headline is one of them (spec 0). What the project itself calls biased for this estimand is not
# a point of the curve: controls at their observed post-designation paths (the direct effect),
# no controls, the concurrent treatments left out, TWFE; nor are other targets: subsamples (check
# 4 and the heterogeneity check, each with its own truth) and timing codings that misclassify
# (section 8b). Clustering is not a specification (it changes no estimate): every interval uses
# the headline's rule, and the headline's SE under each clustering is listed apart.
# Specifications that give the same estimate are counted once. The joint test (Simonsohn,
# Simmons & Nelson 2020, *Nature Human Behaviour* 4) redraws the outcome under the null by a
# restricted wild cluster bootstrap by province (city and year effects and the study's covariates,
# no treatment term) and asks how often a curve as strong as the observed one arises; every
# estimator of the curve is linear in the outcome, so each specification is estimated once per
# province, not once per draw.

# %%
ctx.write_table(frame("spec_curve"), "robustness_spec_curve")
ctx.study_figure(study, "robustness_spec_curve")
if ran("spec_curve", "specification curve"):
    sc = res["spec_curve"]
    display(ctx.table(frames["spec_curve_se_by_cluster"], digits=4))
    display(
        ctx.facts(
            {
                k: sc[k]
                for k in (
                    "n_curve",
                    "n_foil",
                    "n_duplicates",
                    "n_infeasible",
                    "median",
                    "share_positive_significant",
                    "joint_draws",
                    "joint_p_median",
                    "joint_p_share_significant",
                    "joint_p_stouffer",
                )
            },
            digits=4,
        )
    )

# %% [markdown]
# **Reading the curve.** Points are estimates with 95% intervals, sorted; the matrix below shows
# each specification's choices. A curve that stays on one side of zero means no defensible choice
# reverses the sign; rows whose marks bunch at one end show which choice moves the estimate most.
# The joint-test p-values can be no smaller than 1 / (draws + 1).

# %% [markdown]
# ### 8b. Other treatment-year codings, apart from the curve
# The approval-year and following-year codings of the roster dates misclassify the batches
# approved late in a year (4 and 7: 15 December 2019, 14 November 2022) or early, so their
# estimates are not estimates of the ATT. The table gives the headline under each coding beside
# the truth of its cities (on the synthetic data): the gap is the misclassification bias.

# %%
if ran("timing", "other timing codings"):
    display(ctx.table(frame("timing"), digits=4))

# %% [markdown]
# ## 9. Are nearby cities' errors correlated? Conley spatial standard errors
# Pilot zones cluster in space and so do export shocks (ports, supply chains, provincial policy).
# City clustering assumes the errors of two cities are independent however close they are;
# province clustering allows correlation only inside a province's borders. The Conley (1999)
# covariance lets the errors of every pair of cities within a cutoff distance be correlated, in
# every pair of years (fixest's pooled form), at the cutoffs of `conley.cutoffs_km`. It is computed
# for the TWFE coefficient of the pilot dummy with the headline's covariates (the foil; TWFE is
# the regression Conley's covariance is defined for) and for the fully dynamic TWFE event study
# (the mean of its post-period coefficients, and the joint test of its leads), beside the
# city-clustered SEs of the same regressions. The cutoffs stay well inside the map: with every
# pair of cities inside the kernel the pooled form collapses towards zero.

# %%
ctx.write_table(frame("conley"), "robustness_conley")
if ran("conley", "Conley standard errors"):
    display(ctx.table(frames["conley"], digits=4))
    display(ctx.table(pd.DataFrame(res["conley"]["pretrend"]), digits=3))

# %% [markdown]
# **Reading the Conley table.** If the Conley SEs at 100-300 km are close to the city-clustered
# ones, the spatial correlation of the errors beyond a city's own years is weak; larger ones mean
# nearby cities share shocks and city-clustered intervals are too narrow (province clustering, the
# headline's SE, covers part of it). The rows enter the summary table above as "SE Conley".
#
# ## 10. Do pilot zones take trade from their neighbours? Spatial spillovers
# A pilot zone may draw cross-border trade (parcels, platforms, customs clearance) from nearby
# cities that are not (yet) designated. Those neighbours are then not clean controls: the
# headline's untreated-outcome model uses them, so a negative spillover on them *inflates* the
# estimated direct effect, and the spillover itself goes unmeasured. The ring design (Butts 2023,
# with the imputation estimator) fits the untreated-outcome model only on city-years beyond the
# outer ring (`spillover.rings`, km) of every city whose designation has started, and estimates
# jointly the direct effect on the designated city-years and one spillover effect per distance
# ring on the exposed ones (standard errors clustered by `spillover.cluster`, t(G-1)); the
# spillover event study is by years since a city was first exposed.

# %%
ctx.write_table(frame("spillover"), "robustness_spillover")
ctx.study_figure(study, "robustness_spillover")
ctx.study_figure(study, "robustness_spillover_map")
if ran("spillover", "the ring design"):
    display(ctx.table(frames["spillover"], digits=4))
    display(ctx.table(frames["spillover_event_study"], digits=4))

# %% [markdown]
# **Reading the ring design.** The naive row is the imputation estimate with the exposed cities
# among the controls (the headline's comparison, with the ring design's covariates and clusters);
# the direct row keeps them out. The two share the ring design's concurrent-treatment cells, chosen
# on its own controls: cells learnt from fewer than five provinces there coarsen (Broadband China
# to one dummy with its dose), since the clustered s.e. cannot see their noise. Their gap is the bias from ignoring spillovers *in this panel* — one draw, noisy.
# Whether ignoring the spillover biases the estimate on average, and whether the ring design
# recovers both effects, is a question for repeated samples: the Monte Carlo below redraws the
# synthetic panel (`spillover.mc_reps` times, the default design with its spillover of
# `synthetic.pilot_spillover` within `synthetic.pilot_spillover_km`) and records both estimators.

# %%
from analysis.config import PanelConfig, SyntheticConfig
from analysis.data.build import read_treatments
from analysis.data.reference import load_national_exports
from analysis.data.synthetic import SyntheticDesign
from analysis.studies.spillover import mc_summary, spillover_monte_carlo

sp = options.spillover
if sp.mc_reps > 0:
    mc_design = SyntheticDesign.from_config(
        parse_section(SyntheticConfig, synthetic, prefix="synthetic"),
        PanelConfig(first_year=first_year, last_year=last_year),
    )
    mc_draws = spillover_monte_carlo(
        (ctx.cities(cities_path), read_treatments(ctx.resolve(treatments_path)),
         load_national_exports()),
        mc_design, n_reps=sp.mc_reps, seed=sp.mc_seed, control_rule=control_rule,
        rings=sp.rings, cluster=sp.cluster, n_jobs=n_jobs, backend=backend,
    )  # fmt: skip
    mc_table = mc_summary(mc_draws)
    res["spillover_mc"] = {
        "summary": mc_table,
        "design": {"pilot_spillover": mc_design.pilot_spillover,
                   "pilot_spillover_km": mc_design.pilot_spillover_km,
                   "n_cities": mc_design.n_cities},
        "rings": list(sp.rings), "cluster": sp.cluster, "seed": sp.mc_seed,
    }  # fmt: skip
    display(ctx.table(mc_table.drop(columns="label"), digits=4))
else:
    mc_table = pd.DataFrame()
    res["spillover_mc"] = {"skipped": "spillover.mc_reps = 0"}
    ctx.skipped("the spillover Monte Carlo", "spillover.mc_reps = 0")
_ = ctx.write_table(mc_table, "robustness_spillover_mc")

# %% [markdown]
# **Reading the Monte Carlo.** Each row is measured against its own truth: the direct effect a
# model with GDP per capita targets, and the spillover on the exposed city-years. With the
# synthetic spillover switched on, the naive estimator's bias is the diversion it misreads as
# effect; the ring design should be centred on both truths with about 95% coverage (its intervals
# use province clusters and t(G-1); Monte Carlo standard errors in the table, coverage MC s.e.
# 1.5 points with 200 panels; `make test-slow` runs 500).
# ## 11. Three treatments, three tests: multiple testing
# The study tests three null hypotheses of no effect: the pilot zones' headline, the rail links'
# headline and the network-coverage elasticity. With three tests at 5% the chance that at least one
# rejects by luck is up to 14%. Each headline is re-estimated here with its per-province
# contributions (the pilot and rail headlines are the BJS imputation ATTs of their notebooks; the
# coverage elasticity is that notebook's TWFE coefficient, tested here with province clusters,
# the study's one rule). One bootstrap draws a weight per province and applies it to all three
# statistics at once, so their co-movement is kept; the stepdown adjusted p-values (Westfall &
# Young 1993; Romano & Wolf 2005) control the chance of any false rejection among the three at 5%,
# and, up to resampling noise, are no larger than Holm's (valid under any dependence), shown
# beside them.

# %%
from analysis.studies.robustness.multiplicity import treatment_family

mt = options.multiple_testing
res["multiple_testing"] = treatment_family(
    panel,
    draws=mt.draws,
    seed=seed,
    weights=mt.weights,
    control_rule=control_rule,
    min_control_share=min_control_share,
)
if ran("multiple_testing", "multiple testing across the three treatments"):
    display(ctx.table(res["multiple_testing"]["table"], digits=4))

# %% [markdown]
# **Reading the table.** `p_value` is each headline's own test; `p_adjusted` the stepdown
# p-value over the family (never below it); a headline whose adjusted p-value stays below 5% is
# not a product of testing three treatments. `p_holm` and `p_bonferroni` ignore the dependence and
# are larger.

# %%
# headline numbers of the checks that ran (a skipped check has no number, never a zero)
metrics = {
    name: res[check][key]
    for name, check, key in (
        ("baseline", "baseline", "estimate"),
        ("placebo_p", "placebo", "p_value"),
        ("wild_p", "wild_bootstrap", "p_value"),
        ("dr_att", "dr", "estimate"),
        ("bacon_forbidden", "bacon", "forbidden_contribution"),
        ("spec_curve_median", "spec_curve", "median"),
        ("spillover_naive_minus_direct", "spillover", "naive_minus_direct"),
    )
    if check in res and "skipped" not in res[check]
}
_ = ctx.write_results("robustness", res, metrics=metrics, plot=frames["summary"])

# %% [markdown]
# All checks are saved in `output/results/robustness.json` (and the tables in `output/tables/`)
# for the report.
