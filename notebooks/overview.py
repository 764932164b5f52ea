# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Data overview: who was treated, when, where, and how exports are distributed
#
# **Question.** Before estimating anything: how did the three treatments roll out across China's
# prefecture-level cities, and what does the outcome (exports) look like?
#
# The treatments: cross-border e-commerce comprehensive pilot zones (跨境电子商务综合试验区, 165 units in 7
# batches, 2015-2022), the first international rail freight service from a city (China-Europe
# Railway Express 中欧班列; the China-Laos railway, opened December 2021), and broadband coverage.
# Treatment dates come from `data/reference` (State Council replies and news records; see
# SOURCES.md).

# %% tags=["parameters"]
# Parameters. The pipeline (`analysis notebook overview`) has papermill inject params.yaml's values
# after this cell and writes to output/. Run by hand (JupyterLab), this cell reads params.yaml now
# and writes to output/interactive/, never over the pipeline's files.
# To try another value, set it below, e.g. `overview_year = 2020`, and run the notebook again.
from analysis.config import interactive_parameters

defaults = interactive_parameters("overview")
panel_path = defaults["panel_path"]
truth_path = defaults["truth_path"]
cities_path = defaults["cities_path"]
treatments_path = defaults["treatments_path"]
output_dir = defaults["output_dir"]
lang = defaults["lang"]
overview_year = defaults["overview_year"]

# %%
from analysis.studies.context import setup

ctx = setup(panel_path, truth_path, output_dir, lang)
cities_path, treatments_path = ctx.resolve(cities_path), ctx.resolve(treatments_path)
panel, truth, out = ctx.panel, ctx.truth, ctx.dirs
ctx.banner()

# %% [markdown]
# ## Roll-out in time and space
#
# Pilot zones were designated in batches: one city in 2015 (杭州), then 12, 22, 24, 46, 27 and 33
# units. County-level designations (e.g. 义乌) treat the prefecture that contains them (金华 from 2018).
# Staggered adoption like this is exactly where a two-way fixed-effects regression with one
# treatment dummy can mislead (Goodman-Bacon 2021), which the later notebooks show.
#
# The table counts, for each year, the cities newly treated and treated so far, and the median
# broadband coverage (users per 100 people), the continuous treatment.

# %%
from analysis.data.build import read_treatments
from analysis.figures.maps import plot_rollout_map
from analysis.figures.overview import plot_export_distribution, plot_rollout
from analysis.studies.overview import overview_results, rollout_table

cities = ctx.cities(cities_path)
treatments = read_treatments(treatments_path)
ctx.table(rollout_table(panel), digits=1)

# %% [markdown]
# **Reading the table.** Each row is a calendar year; `*_new` columns count designations in that
# year and `*_cumulative` columns add them up. Years with no new designation are the "not yet
# treated" periods the robust estimators use as comparisons. The table says *when* cities were
# treated, not *why*: designation was not random, which the robustness notebook takes up.

# %%
ctx.figure("overview_rollout", plot_rollout, panel)

# %% [markdown]
# **Reading the figure.** The steps are the designation batches: the pilot-zone line rises in a
# few large jumps, the rail line slowly and much lower (our rail table only lists the cities whose
# first service date is documented). Many treated cities and few, late jumps mean that late
# comparisons rest on few untreated cities.

# %%
ctx.figure("overview_map", plot_rollout_map, cities, treatments)

# %% [markdown]
# **Reading the map.** Each prefecture is coloured by the batch in which it (or a county-level unit
# inside it) was designated; grey prefectures were never designated, hatched white units are not
# in the city panel. Early batches are the large coastal and provincial-capital cities, later ones
# spread inland. So the cohorts differ in more than timing (size, openness, location): comparisons
# across cohorts need the city and year effects and the robustness checks, and the map alone says
# nothing about effects.

# %% [markdown]
# ## The outcome: exports are highly concentrated
#
# A handful of coastal cities carry most of China's exports. We therefore model *log* exports, so
# that effects read as percentage changes and the largest cities do not dominate the estimates.

# %%
ctx.figure("overview_exports", plot_export_distribution, panel, overview_year)

# %% [markdown]
# **Reading the figure.** Left: log exports are roughly bell-shaped, so a regression on logs is
# not driven by a few giants. Right: the Lorenz curve plots the share of exports (vertical) held by
# the poorest share of cities (horizontal); the further it sags below the diagonal, the more
# concentrated exports are. The list names the largest exporters. On synthetic data the levels are
# calibrated to national totals but the city values are simulated.

# %%
results = overview_results(panel, overview_year)
ctx.write_results(
    "overview",
    results,
    metrics={"n_cities": results["n_cities"], "top10_share": results["top10_share"]},
)
ctx.facts({k: v for k, v in results.items() if k != "rollout"})

# %% [markdown]
# **Reading the summary.** `top10 share` is the share of the overview year's exports carried by the
# top tenth of cities; `pilot cohort sizes` counts cities by designation year (several designations
# in one prefecture count once). These are the numbers the report quotes; the full roll-out table
# is saved with them in `output/results/overview.json`.
