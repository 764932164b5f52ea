# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Tutorial 1: Callaway & Sant'Anna on the minimum wage (mpdta)
#
# **What you will do.** Estimate group-time average treatment effects, ATT(g,t), on the data set
# that ships with the R package `did` (Callaway & Sant'Anna 2021), aggregate them four ways, test
# parallel trends before treatment, and check that every number equals the one R prints.
# About 20 minutes.
#
# **The data.** 500 US counties observed 2003-2007. `lemp` is the log of teen employment;
# `first.treat` is the year the state's minimum wage first rose above the federal one (2004, 2006
# or 2007), 0 for counties whose state never raised it in the period. The treatment is staggered:
# three cohorts switch on at different dates and stay on.
#
# **Why not one regression?** Under staggered adoption a two-way fixed-effects regression mixes
# good comparisons with "forbidden" ones (Tutorial 2). Callaway & Sant'Anna avoid them: each
# ATT(g,t) is a clean 2x2 difference-in-differences of cohort *g* against never-treated counties,
# between year *t* and the year before *g*; only then are the pieces averaged.
#
# The data come from the validation folder (`VALIDATION_DATA_DIR`, as for the test suite). Without
# it, the next cell says so and the notebook stops there.

# %% tags=["parameters"]
# Parameters. `data_dir`: the validation data folder (None: the VALIDATION_DATA_DIR environment
# variable; relative paths are relative to the project root). `output_dir`: where the reproduced
# numbers are written (`make learn` writes to output/learn).
data_dir = None
output_dir = "output/interactive/learn"

# %%
from analysis.studies.tutorials import Reproduction, show_figure, stop_if_missing, validation_csv

stop_if_missing(data_dir, "mpdta.csv", "ref_aggte.csv")
mpdta = validation_csv("mpdta.csv", data_dir)
mpdta.head()

# %%
# counties per cohort (0 = never treated in 2003-2007)
mpdta.groupby("first.treat")["countyreal"].nunique().rename("counties")

# %% [markdown]
# ## 1. Group-time effects
#
# `estimate("cs", ...)` is the project's one entry point for every staggered estimator; it returns
# the overall ATT and keeps Callaway & Sant'Anna's own result in `.fit`. The defaults are R's:
# never-treated controls, the doubly robust 2x2 estimator, a *varying* base period (year t-1
# before treatment, g-1 after), analytic standard errors.

# %%
from analysis.did.estimate import estimate

SPEC = {"y": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}
cs = estimate("cs", mpdta, **SPEC)
gt = cs.fit  # ATT(g,t), their influence functions and standard errors
gt.tidy()[["term", "estimate", "std_error", "conf_low", "conf_high", "post"]].round(4)

# %% [markdown]
# **Reading the table.** Twelve cells: three cohorts times four years after 2003. Rows with
# `post = False` are placebo cells before the cohort's minimum wage rose: with parallel trends
# they should be near zero, and all but one (2007 cohort, 2004) are within their intervals.
# After treatment the effects are negative and grow for the 2004 cohort: teen employment is about
# 1% lower in the year of the rise, 7% a year later, 14% after two years and 10% after three.

# %% [markdown]
# ## 2. Four ways to average
#
# One ATT(g,t) per cell is too much to report. `aggregate` averages them with weights proportional
# to cohort sizes (R's `aggte`):
#
# * `simple`: every post-treatment cell, weighted by its cohort's size (the overall ATT of `cs`);
# * `group`: first an average per cohort, then across cohorts;
# * `dynamic`: an average per year since treatment *e*, then across *e* (an event study);
# * `calendar`: an average per calendar year, then across years.

# %%
import pandas as pd

aggregates = {kind: gt.aggregate(kind) for kind in ("group", "dynamic", "calendar")}
pd.DataFrame(
    [{"type": "simple", "ATT": cs.att, "SE": cs.se}]
    + [{"type": k, "ATT": a.overall_att, "SE": a.overall_se} for k, a in aggregates.items()]
).round(4)

# %%
from analysis.figures.style import use_house_style

use_house_style()
dynamic = gt.aggregate("dynamic")
ax = dynamic.plot()
ax.set_title("Effect of a minimum-wage rise on log teen employment, by years since the rise")
show_figure(ax.figure)

# %% [markdown]
# **Reading the figure.** Before the rise (red) the effects hover at zero; after it (blue) they
# fall with exposure. The last point (three years after) rests on the 2004 cohort alone.

# %% [markdown]
# ## 3. A pre-test of parallel trends
#
# A joint Wald test that all five pre-treatment ATT(g,t) are zero, as R prints below its table.
# Not rejecting is weak evidence: a pre-test has limited power, and passing it does not make
# parallel trends true after treatment (Tutorial 3 asks how wrong they could be).

# %%
pretest = gt.pretest()
print(pretest)

# %% [markdown]
# ## 4. The published numbers, reproduced
#
# The R package `did` (2.x) prints these for `att_gt(yname = "lemp", tname = "year", idname =
# "countyreal", gname = "first.treat")` and `aggte(...)` (validation README). A row agrees when our
# number, rounded to the digits R printed, is R's number.

# %%
check = Reproduction("tutorial_mpdta_callaway_santanna", "R did 2.x, validation README (mpdta)")
check.add("ATT(2004,2004)", gt.att[0], "-0.0105032")
check.add("ATT(2004,2004) SE", gt.se[0], "0.0232510")
check.add("simple ATT", cs.att, "-0.0399513")
check.add("simple SE", cs.se, "0.0120340")
check.add("group ATT", aggregates["group"].overall_att, "-0.0310183")
check.add("group SE", aggregates["group"].overall_se, "0.0124461")
check.add("dynamic ATT", aggregates["dynamic"].overall_att, "-0.0772398")
check.add("dynamic SE", aggregates["dynamic"].overall_se, "0.0199650")
check.add("calendar ATT", aggregates["calendar"].overall_att, "-0.0417")
check.add("calendar SE", aggregates["calendar"].overall_se, "0.0160")
check.add("pre-test W", pretest.W, "7.7912")
check.add("pre-test p-value", pretest.p_value, "0.168")
check.save(output_dir)
print("every published digit reproduced" if check.all_agree else "MISMATCH: see the table")
check.table()

# %% [markdown]
# ## Exercises
#
# 1. **Not-yet-treated controls.** Counties treated in 2007 are valid controls for the 2004 cohort
#    until 2006. Re-estimate with `control_group="notyettreated"` (an option `estimate` passes
#    on). Does the simple ATT move? Compare it with R's (`ref_aggte.csv`, scenario
#    `mpdta_nyt_dr`).
# 2. **Why is the dynamic ATT twice the simple one?** Both average the same post-treatment
#    cells. Look at the weights each gives to long exposures.
# 3. **A covariate.** Assume parallel trends only among counties of similar size: pass
#    `covariates=["lpop"]` (log population, time-invariant here) and `est_method="reg"` (outcome
#    regression). Compare with R (`mpdta_nev_reg_cov`).
#
# The answers are in the next cell, collapsed: click its left edge to open it.

# %% tags=["solution"] jupyter={"outputs_hidden": true, "source_hidden": true}
ref = validation_csv("ref_aggte.csv", data_dir)


def r_simple(scenario):
    row = ref.query("scenario == @scenario and type == 'simple'").iloc[0]
    return row["overall_att"], row["overall_se"]


# 1. Not-yet-treated controls: more controls for the early cells, nearly the same answer.
nyt = estimate("cs", mpdta, **SPEC, control_group="notyettreated")
r_att, r_se = r_simple("mpdta_nyt_dr")
print(f"1. not-yet-treated: ATT {nyt.att:.7f} (SE {nyt.se:.7f}); R: {r_att:.7f} ({r_se:.7f})")

# 2. The dynamic ATT weights every year of exposure equally, e = 0, 1, 2, 3; e = 2 and e = 3 come
#    from the 2004 cohort alone, whose effects have grown to -0.14 and -0.10. The simple ATT
#    weights cells by cohort size: two thirds of its weight is on the year of treatment (e = 0),
#    the 131 counties of the 2007 cohort above all, where effects are still small.
effects = {int(e): round(float(a), 4) for e, a in zip(dynamic.egt, dynamic.att_egt) if e >= 0}
print("2. dynamic effects by years of exposure:", effects)
post = gt.post
sizes = mpdta.groupby("countyreal")["first.treat"].first().value_counts()
exposure = (gt.time - gt.group)[post].astype(int)
weights = pd.Series(sizes.loc[gt.group[post]].to_numpy(), index=exposure).groupby(level=0).sum()
shares = {int(e): round(float(w), 2) for e, w in (weights / weights.sum()).items()}
print("   share of the simple ATT's weight by years of exposure:", shares)

# 3. Outcome regression on log population: R's mpdta_nev_reg_cov.
reg = estimate("cs", mpdta, **SPEC, covariates=["lpop"], est_method="reg")
r_att, r_se = r_simple("mpdta_nev_reg_cov")
print(f"3. with lpop: ATT {reg.att:.7f} (SE {reg.se:.7f}); R: {r_att:.7f} ({r_se:.7f})")

# %% [markdown]
# **Next:** Tutorial 2 (`tutorial_castle_twfe_bacon.py`) opens the two-way fixed-effects
# regression up and shows which comparisons it averages.
