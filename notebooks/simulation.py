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
# Parameters: `analysis notebook simulation` (papermill) injects params.yaml's values after this
# cell; the values here are the defaults of analysis.config, for interactive runs.
panel_path = "data/processed/panel.csv"
truth_path = "data/processed/truth.json"
cities_path = "data/interim/cities.csv"
treatments_path = "data/interim/treatments.csv"
output_dir = "output"
lang = "en"
n_reps = 8
sim_seed = 1
n_jobs = 2
synthetic = {
    "seed": 20150307,
    "n_cities": None,
    "pilot_att_by_batch": {1: 0.15, 2: 0.12, 3: 0.1, 4: 0.08, 5: 0.06, 6: 0.05, 7: 0.04},
    "pilot_att_growth": 0.03,
    "rail_att": 0.08,
    "rail_att_growth": 0.0,
    "growth_cap": 5,
    "broadband_elasticity": 0.15,
    "noise_sd": 0.06,
    "noise_rho": 0.3,
    "shock_df": None,
    "province_year_sd": 0.0,
    "gdp_export_feedback": 0.0,
    "year_effects": "calibrated_after_effects",
    "effective_timing": "approval",
}
first_year = 2010
last_year = 2023

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

from analysis.did.bacon import bacon_decomposition
from analysis.figures.robustness import plot_bacon

# The decomposition is defined for a balanced panel (every city in every year); a user's panel
# with entry, exit or gaps gets an explained skip instead.
years_per_city = panel.groupby("city_code")["year"].nunique()
if (years_per_city == panel["year"].nunique()).all():
    bacon = bacon_decomposition(panel, "log_exports", "pilot", "city_code", "year")
    ctx.figure("simulation_bacon", plot_bacon, bacon.two_by_twos, bacon.twfe)
    bacon_results = {"bacon_weights": bacon.weights_by_type, "bacon_twfe": bacon.twfe}
    display(ctx.table(bacon.by_type.reset_index(), digits=4))
else:
    bacon_results = {"bacon": {"skipped": "the Goodman-Bacon decomposition needs a balanced panel"}}
    ctx.skipped_figure(
        "simulation_bacon",
        "the Goodman-Bacon decomposition",
        f"it needs a balanced panel; {int((years_per_city < panel['year'].nunique()).sum())} "
        "cities of this panel miss some years",
    )

# %% [markdown]
# **Reading the figure and the table.** Each point is one 2x2 comparison: its weight in the TWFE
# coefficient (horizontal) and its estimate (vertical); the dashed line is the TWFE coefficient,
# which equals the weighted average of the points. The table sums the weights and averages the
# estimates by comparison type. Watch the "Later vs Earlier Treated" comparisons: they use
# already-designated cities as controls, so when effects grow they sit below the others (and can be
# negative). A large weight on them is how TWFE ends up below the true effect. The decomposition
# describes the TWFE number; it does not by itself tell the true effect.

# %% [markdown]
# ## 2. Repeated simulations: TWFE against the imputation estimator
#
# We simulate the panel many times under two designs: every pilot zone with the same constant
# effect, and our default with batch-specific effects that grow for five years. The imputation
# estimator of Borusyak, Jaravel & Spiess (2024) fits city and year effects on not-yet-designated
# city-years only, so designated cities never serve as controls.

# %%
from analysis.config import PanelConfig, SyntheticConfig, parse_section
from analysis.data.build import read_treatments
from analysis.data.reference import load_national_exports
from analysis.data.synthetic import SyntheticDesign
from analysis.studies.simulation import PUBLISHED, summarise, twfe_vs_imputation

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
)
summary = summarise(draws, statistics=PUBLISHED)
ctx.write_table(summary, "simulation_summary")
ctx.table(summary, digits=4)

# %% [markdown]
# **Reading the table.** One row per design and estimator, over the simulated panels: the mean
# estimate, its bias against the true average effect, the root mean squared error and how often
# the 95% interval covered the truth. With few replications (`n_reps` in params.yaml) the coverage
# column is coarse: it can only take a handful of values; the Monte Carlo check of `make test-slow`
# runs hundreds.

# %%
from analysis.figures.effects import plot_simulation_draws

ctx.figure("simulation_draws", plot_simulation_draws, draws)

# %% [markdown]
# **Reading the figure.** Each point is one simulated panel's estimate minus the truth; the black
# line is zero error. With a constant effect both estimators are centred on the truth. With
# growing, batch-specific effects TWFE falls short of the true average effect, while the imputation
# estimator stays centred. The same holds for the Callaway-Sant'Anna and Sun-Abraham estimators
# (see the pilot-zones notebook and `make test-slow` for the Monte Carlo coverage check). This is a
# statement about *this* design: it shows the bias is large enough to matter here, not that TWFE is
# biased in every application.

# %%
from analysis.studies.simulation import DEFAULT

twfe_bias = summary.set_index(["design", "estimator"])["bias"]
_ = ctx.write_results(
    "simulation",
    {"summary": summary, **bacon_results},
    metrics={
        "twfe_bias_default": float(twfe_bias[(DEFAULT, "TWFE (one dummy)")]),
        "bjs_bias_default": float(twfe_bias[(DEFAULT, "Imputation (BJS)")]),
    },
)

# %% [markdown]
# The summary and the Bacon weights are saved in `output/results/simulation.json` for the report.
