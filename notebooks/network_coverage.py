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
# **Question.** Guo (2025) points to communications infrastructure (4G/5G, broadband) as a driver of
# cross-border e-commerce. Broadband subscribers per 100 people is a *continuous* treatment that
# every city receives in some dose, so instead of a before/after comparison we estimate how exports
# respond to the dose.
#
# **Design.** (1) The elasticity: TWFE of log exports on log broadband with controls. (2) The
# dose-response shape: a curve piecewise linear in log broadband (a separate elasticity for the
# lower, middle and upper third of coverage), with city and year effects; quantile bins pooled
# across years are shown for comparison. TWFE with a continuous treatment also weights units unevenly
# under heterogeneous effects (Callaway, Goodman-Bacon & Sant'Anna 2024).

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
min_control_share = defaults["min_control_share"]

# %%
from analysis.studies.context import setup

ctx = setup(panel_path, truth_path, output_dir, lang)
cities_path, treatments_path = ctx.resolve(cities_path), ctx.resolve(treatments_path)
panel, truth, out = ctx.panel, ctx.truth, ctx.dirs
ctx.banner()

# %% [markdown]
# ## 1. The elasticity
#
# TWFE of log exports on log broadband users per 100 people, with the other treatments and the
# economic controls, city and year effects, errors clustered as configured (`cluster`).

# %%
from analysis.studies.binary import study_design
from analysis.studies.coverage import coverage_study

study = coverage_study(
    panel, truth, n_bins, cluster, design=study_design(panel, share=min_control_share)
)
ctx.controls(study)
if "skipped" in study:  # e.g. a panel without broadband: the study has nothing to estimate
    ctx.skipped("the network-coverage study", study["skipped"])
ctx.table(ctx.compare_with_truth(study), digits=4)

# %% [markdown]
# **Reading the table.** `estimate` is an elasticity: the percentage change in exports for a 1%
# higher broadband coverage, within a city over time and net of the year effects and controls. On
# synthetic data `truth` is the elasticity of the data-generating process. An elasticity is a
# *local, average* slope: it does not say whether the first or the last users matter more (the
# dose-response below looks at that).

# %% [markdown]
# ## Without the controls
#
# The same regression without the economic controls.

# %%
if "skipped" not in study:
    ctx.facts(study["twfe_no_controls"], digits=4)
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
import pandas as pd

metrics = {}
if "skipped" not in study:
    metrics = {"elasticity": study["twfe"]["estimate"], "elasticity_se": study["twfe"]["std_error"]}
if study["true_elasticity"] is not None:
    metrics["true_elasticity"] = study["true_elasticity"]
_ = ctx.write_results(
    "network_coverage",
    study,
    metrics=metrics,
    plot=study.get("dose_log_spline", pd.DataFrame()).reindex(
        columns=["dose", "estimate", "conf_low", "conf_high"]
    ),
)

# %% [markdown]
# The elasticity, the dose-response curves and the truth are saved in
# `output/results/network_coverage.json` for the report.
