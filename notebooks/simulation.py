# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Why TWFE misleads under staggered adoption: our own data, known truth
#
# **Question.** The pilot zones were designated in seven batches. Is the usual two-way fixed-effects
# (TWFE) regression with one treatment dummy a safe summary of their effect? We answer on our own
# panel: the real cities and designation dates, with simulated exports whose true effect we know.
#
# **Idea.** TWFE compares every pair of cohorts, including *already designated* cities used as
# controls for later-designated ones (Goodman-Bacon 2021). When effects grow over time, those
# controls are themselves rising, so the comparison understates the effect; with heterogeneous
# effects some weights can even be negative (de Chaisemartin & D'Haultfœuille 2020).

# %% tags=["parameters"]
# Parameters. The pipeline (`analysis notebook simulation`) has papermill inject params.yaml's values
# after this cell and writes to output/. Run by hand (JupyterLab), this cell reads params.yaml now
# and writes to output/interactive/, never over the pipeline's files.
# To try another value, set it below, e.g. `n_reps = 20`, and run the notebook again.
from analysis.config import interactive_parameters

defaults = interactive_parameters("simulation")
panel_path = defaults["panel_path"]
truth_path = defaults["truth_path"]
cities_path = defaults["cities_path"]
treatments_path = defaults["treatments_path"]
output_dir = defaults["output_dir"]
lang = defaults["lang"]
n_reps = defaults["n_reps"]
sim_seed = defaults["sim_seed"]
n_jobs = defaults["n_jobs"]
backend = defaults["backend"]
synthetic = defaults["synthetic"]
first_year = defaults["first_year"]
last_year = defaults["last_year"]
min_control_share = defaults["min_control_share"]
control_rule = defaults["control_rule"]

# %%
from analysis.studies.context import setup

ctx = setup(panel_path, truth_path, output_dir, lang)
cities_path, treatments_path = ctx.resolve(cities_path), ctx.resolve(treatments_path)
panel, truth, out = ctx.panel, ctx.truth, ctx.dirs
ctx.banner()

# %% [markdown]
# ## 1. Where the TWFE coefficient comes from: the Goodman-Bacon decomposition
#
# The TWFE coefficient of `log_exports ~ pilot | city + year` (no controls: the decomposition is
# exact for this regression) is a weighted average of simple 2x2 difference-in-differences.

# %%
from IPython.display import display

from analysis.data.design import analysis_sample
from analysis.did.bacon import bacon_decomposition
from analysis.figures.robustness import plot_bacon
from analysis.studies.binary import study_design

# The city-years every study estimates on (blank cells: the design check's one rule). The
# decomposition is defined for a balanced panel (every city in every year); a user's panel with
# entry, exit, gaps or blank cells gets an explained skip instead.
sample = analysis_sample(panel, study_design(panel, share=min_control_share))
years_per_city = sample.groupby("city_code")["year"].nunique()
if (years_per_city == sample["year"].nunique()).all():
    bacon = bacon_decomposition(sample, "log_exports", "pilot", "city_code", "year")
    ctx.figure("simulation_bacon", plot_bacon, bacon.two_by_twos, bacon.twfe)
    bacon_results = {"bacon_weights": bacon.weights_by_type, "bacon_twfe": bacon.twfe}
    display(ctx.table(bacon.by_type.reset_index(), digits=4))
else:
    why = (
        "the Goodman-Bacon decomposition needs a balanced panel; "
        f"{int((years_per_city < sample['year'].nunique()).sum())} cities of this panel miss some years"
    )
    bacon_results = {"bacon": {"skipped": why}}
    ctx.skipped_figure("simulation_bacon", "the Goodman-Bacon decomposition", why)

# %% [markdown]
# **Reading the figure and the table.** Each point is one 2x2 comparison: its weight in the TWFE
# coefficient (horizontal) and its estimate (vertical); the dashed line is the TWFE coefficient,
# which equals the weighted average of the points. The table sums the weights and averages the
# estimates by comparison type. Watch the "Later vs Earlier Treated" comparisons: they use
# already-designated cities as controls, so when effects grow they sit below the others (and can be
# negative). A large weight on them is how TWFE ends up below the true effect. The decomposition
# describes the TWFE number; it does not by itself tell the true effect.

# %% [markdown]
# ## 2. Repeated simulations: TWFE against the heterogeneity-robust estimators
#
# We simulate the panel many times under two designs: every pilot zone with the same constant
# effect, and our default with batch-specific effects that grow for five years. Both use the
# default data-generating process of `params.yaml` (volatile, persistent, fat-tailed city shocks,
# shocks common to a province's cities, GDP that responds to exports, mid-year treatment coding).
# Besides TWFE we run Callaway-Sant'Anna (without covariates, as in the pilot-zones notebook, and
# on the control-adjusted outcome), Sun-Abraham, the imputation estimator of Borusyak, Jaravel &
# Spiess (2024; city-clustered SE, normal interval) and the study's headline: the same imputation
# estimate with its SE clustered by province and a t interval with G-1 degrees of freedom.
#
# **Which truth.** Every estimator gets the study's own covariates, built on each simulated panel
# as the pilot-zones notebook builds them (the controls the pilot zones move, GDP per capita among
# them, only by their imputed untreated paths): all target the *total* effect, GDP's response to
# exports included. Each row is measured against its own target (`target`) over the cities it
# keeps; `bias_total` is the bias against the total effect.

# %%
from analysis.config import PanelConfig, SyntheticConfig, parse_section
from analysis.data.build import read_treatments
from analysis.data.reference import load_national_exports
from analysis.data.synthetic import SyntheticDesign
from analysis.studies.simulation import summarise, twfe_vs_imputation

design = SyntheticDesign.from_config(
    parse_section(SyntheticConfig, synthetic, prefix="synthetic"),
    PanelConfig(first_year=first_year, last_year=last_year),
)
draws = twfe_vs_imputation(
    ctx.cities(cities_path),
    read_treatments(ctx.resolve(treatments_path)),
    load_national_exports(),
    design,
    n_reps=n_reps,
    seed=sim_seed,
    n_jobs=n_jobs,
    progress=False,
    control_rule=control_rule,
    backend=backend,
)
summary = summarise(draws)
ctx.write_table(summary, "simulation_summary")
ctx.table(summary.drop(columns=["design_id", "estimator_id"]), digits=4)

# %% [markdown]
# **Reading the table.** One row per design and estimator, over the simulated panels: the bias
# against the estimator's target, the root mean squared error, how often the reported 95% interval
# covered the target, the mean reported SE against the actual spread of the estimates, and a
# Monte Carlo standard error beside each rate or mean (`*_mc_se`: of a coverage rate
# `sqrt(c(1-c)/R)`, of a bias `sd/sqrt(R)`, with R = `n_reps` replications). A coverage of 93%
# with an MC SE of 1.8 points is not evidence of under-coverage; a bias of five MC SEs is. The
# `make test-slow` Monte Carlo runs 500 replications and the robustness checks' own properties.

# %%
import numpy as np

from analysis.figures.effects import plot_simulation_draws

# each estimator's error against its own target (the `target` column: the one rule of the studies)
direct = draws["target"].eq("direct").to_numpy()
own_truth = draws.assign(truth=np.where(direct, draws["truth_direct"], draws["truth"]))
ctx.figure("simulation_draws", plot_simulation_draws, own_truth)

# %% [markdown]
# **Reading the figure.** Each point is one simulated panel's estimate minus the estimator's
# target; the black line is zero error. With a constant effect the estimators are centred on the
# truth. With growing, batch-specific effects TWFE falls short of the true average effect, while
# the heterogeneity-robust estimators stay centred (Callaway-Sant'Anna without covariates misses
# the faster GDP growth of early pilot cities). This is a statement about *this* design: it shows
# the bias is large enough to matter here, not that TWFE is biased in every application.

# %%
from analysis.studies.simulation import DEFAULT

by_row = summary.set_index(["design", "estimator_id"])
_ = ctx.write_results(
    "simulation",
    {"summary": summary, **bacon_results},
    metrics={
        "twfe_bias_default": float(by_row.loc[(DEFAULT, "twfe"), "bias"]),
        "bjs_bias_default": float(by_row.loc[(DEFAULT, "bjs"), "bias"]),
        "headline_bias_default": float(by_row.loc[(DEFAULT, "headline"), "bias"]),
        "headline_coverage_default": float(by_row.loc[(DEFAULT, "headline"), "coverage"]),
    },
)

# %% [markdown]
# The summary and the Bacon weights are saved in `output/results/simulation.json` for the report.
