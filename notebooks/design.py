# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # What this design can detect: power and minimum detectable effects
#
# **Question.** Before reading an estimate, how large an effect could this panel have detected?
# A null result says little if the design could only have detected implausibly large effects, and
# "no significant pre-trend" says little if the test had no power. We answer for the panel in use
# (the synthetic default or your own file): its cities and years, its gaps and blank cells, its
# controls, the actual treatment dates and cohort sizes.
#
# **Idea.** Fit a model of the *untreated* outcome to the panel (city effects, year effects, the
# controls, persistent city shocks, shocks common to a province's cities), draw many panels from
# it, add a known effect on the treated city-years, and run each estimator as the pilot-zone and
# rail studies run it. The share of panels in which its 5% test rejects "no effect" is its power;
# the smallest effect it detects with 80% probability is the minimum detectable effect (MDE).

# %% tags=["parameters"]
# Parameters. The pipeline (`analysis notebook design`) has papermill inject params.yaml's values
# after this cell and writes to output/. Run by hand (JupyterLab), this cell reads params.yaml now
# and writes to output/interactive/, never over the pipeline's files.
# To try another value, set it below, e.g. `n_reps = 100`, and run the notebook again.
from analysis.config import interactive_parameters

defaults = interactive_parameters("design")
panel_path = defaults["panel_path"]
truth_path = defaults["truth_path"]
cities_path = defaults["cities_path"]  # (common to every notebook; not used here)
treatments_path = defaults["treatments_path"]
output_dir = defaults["output_dir"]
lang = defaults["lang"]
n_reps = defaults["n_reps"]
reps_by_estimator = defaults["reps_by_estimator"]
seed = defaults["seed"]
n_jobs = defaults["n_jobs"]
estimators = defaults["estimators"]
min_control_share = defaults["min_control_share"]
control_rule = defaults["control_rule"]
clusters = defaults["clusters"]
backend = defaults["backend"]

# %%
from analysis.studies.context import setup

ctx = setup(panel_path, truth_path, output_dir, lang)
panel, truth = ctx.panel, ctx.truth
ctx.banner()

# %% [markdown]
# ## 1. The model of the untreated outcome, calibrated to this panel
#
# For city *i* in province *p* and year *t*:
#
# $y^0_{it} = a_i + \lambda_t + x_{it}'\beta + e_{it} + v_{pt}$, with
# $e_{it} = \rho\, e_{i,t-1} + \text{innovation}$ and $v_{pt}$ a province-year shock.
#
# Each binary study is calibrated on its own estimation sample, on the city-years that no binary
# treatment has reached (their outcomes are untreated outcomes): $\beta$, $\lambda_t$ and the
# city effects from the two-way fixed-effects regression, the province-year variance from the
# residuals' province-year cells, the residual variance and its AR(1) coefficient by moments that
# correct for the within transformation (the demeaned residuals of a 14-year panel are shrunk and
# look less persistent than the shocks are). Controls the treatments move enter on their
# untreated paths (imputed, as in the studies), so the simulated outcome is
# the counterfactual of the studies' estimand.

# %%
from IPython.display import display

from analysis.studies.binary import study_design
from analysis.studies.power import calibration_table, cohort_table, power_study

design = study_design(panel, share=min_control_share)
result = power_study(
    panel,
    design,
    estimators=tuple(estimators),
    n_reps=n_reps,
    reps_by_estimator=reps_by_estimator,
    seed=seed,
    n_jobs=n_jobs,
    cluster=clusters,
    control_rule=control_rule,
    truth=truth if ctx.synthetic else None,
    backend=backend,
)
display(ctx.table(calibration_table(result), digits=4, index=True))
display(ctx.table(cohort_table(result), index=True))

# %% [markdown]
# **Reading the tables.** The variances are in squared log points of exports. The city effects are
# differenced away by every estimator; what limits precision is the residual variance, its
# persistence (a persistent shock does not average out over a city's post-treatment years) and the
# province-year shocks, which hit a province's treated and untreated cities alike and therefore
# cannot be averaged away within a province: they are why the studies cluster by province. The
# excess kurtosis says how much fatter than normal the residual tails are; the model draws normal
# shocks, which matters little for averages over hundreds of city-years. The cohort table gives the
# treated cities by first treatment year: the design's own timing, kept in every simulated panel.

# %% [markdown]
# ## 2. Power curves
#
# The effect is injected on the treated city-years of one treatment in two shapes, both scaled so
# that the horizontal axis is the true overall ATT (the average effect over treated city-years,
# what every overall estimate here targets): **constant**, and **growing** with years since
# treatment (proportional to 1 + years since treatment). Each estimator runs as in the studies:
# the same covariates (the other treatment and the controls), TWFE with one dummy, Callaway-
# Sant'Anna (on the control-adjusted outcome where it can), Sun-Abraham, BJS imputation, with the
# studies' city-clustered SEs and a normal test; and the **headline**: BJS with the studies'
# inference rule (SE clustered by province, critical value from t(G-1)). Power at every effect size
# follows exactly from three estimator runs per simulated panel (every estimator here is linear in
# the outcome, its variance quadratic), so the curves are smooth in the effect and their Monte
# Carlo error comes from the number of simulated panels only.

# %%
from analysis.figures.power import plot_power_curves, power_curve_frame

curves = power_curve_frame(result)
true_att = {k: v["truth"]["att"] for k, v in result["treatments"].items() if "truth" in v}
if len(curves):
    ctx.figure("design_power", plot_power_curves, curves, true_att or None)
else:  # the design check rules out every estimator of both treatments on this panel
    why = "; ".join(f"{k}: {r.get('skipped', 'no estimator ran')}"
                    for k, r in result["treatments"].items())  # fmt: skip
    ctx.skipped_figure("design_power", "the power curves", why)

# %% [markdown]
# **Reading the figure.** Each line is one estimator's rejection rate (shaded: ±2 Monte Carlo
# SEs). At zero effect it should sit on the lower dotted line (the 5% size); the effect where it
# crosses the upper dotted line (80%) is the MDE. A test that rejects more than 5% without any
# effect (city-clustered SEs ignore the province-year shocks) looks more powerful than it is. TWFE
# under a growing effect needs a larger true effect for the same power: it estimates less than the
# average effect (its slope below one). The dashed line is the true effect of the synthetic panel.

# %% [markdown]
# ## 3. Minimum detectable effects

# %%
from analysis.studies.power import mde_table

mdes = mde_table(result)
ctx.write_table(mdes, "design_mde")
display(ctx.table(mdes, digits=4))

# %% [markdown]
# **Reading the table.** One row per treatment and estimator: the MDE in log points of exports
# (0.05 = about 5% more exports) at 80% power and 5% size, for each effect shape, with its Monte
# Carlo SE (bootstrap over the simulated panels); the rejection rate without an effect (size) and
# its Monte Carlo SE; the mean reported SE. The analytic benchmark (c + z_0.8) x SD of the
# estimates (c the test's critical value) is in the results file beside each MDE.

# %% [markdown]
# ## 4. The verdict
#
# Stated as it would be in a pre-analysis plan: the headline test, at 5%, detects the effect below
# with 80% probability. On synthetic data we also know the true effect, so we can say whether the
# design could see it.

# %%
from IPython.display import Markdown

from analysis.studies.power import verdict_sentences

for sentence in verdict_sentences(result):
    display(Markdown(sentence))

# %% [markdown]
# **What the verdict means.** Where the MDE is below the effect a study hopes to find, a
# non-significant estimate is informative: an effect that large would most likely have shown. Where
# the MDE is above it (on the default panel, the rail links with a dozen treated cities), a
# non-significant estimate says little: the design would miss an effect of that size more often than
# not, and the report reads such an estimate as "not detectable here", never as "no effect". On
# synthetic data the power at the true effect says the same thing with the answer known.

# %%
# the headline's MDEs and power against the truth as DVC metrics; the run time is left out of the
# results (they must be the same bytes every run)
metrics = {}
for t, r in result["treatments"].items():
    shapes = r.get("estimators", {}).get("headline", {}).get("shapes", {})
    metrics |= {f"{t}_mde_{s}": v["mde"] for s, v in shapes.items()}
    if "truth" in r:
        metrics[f"{t}_power_at_truth"] = r["truth"]["power"]
payload = {k: v for k, v in result.items() if k != "seconds"}
_ = ctx.write_results("design", {**payload, "mde_table": mdes}, metrics=metrics)

# %% [markdown]
# Everything above is saved in `output/results/design.json` (the report's "What this design can
# detect" paragraph reads it) and the MDE table in `output/tables/design_mde.csv`.
