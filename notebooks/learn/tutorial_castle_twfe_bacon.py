# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Tutorial 2: what a two-way fixed-effects coefficient averages (castle doctrine)
#
# **What you will do.** Run the usual two-way fixed-effects (TWFE) regression on the castle-doctrine
# panel, decompose its coefficient into every 2x2 comparison it averages (Goodman-Bacon 2021),
# find the *forbidden* comparisons, and reproduce the R package `bacondecomp`. About 20 minutes.
#
# **The data.** Cheng & Hoekstra's panel of the 50 US states, 2000-2010 (as in Cunningham, *Causal
# Inference: The Mixtape*). Between 2005 and 2009, 21 states passed a "castle doctrine" law that
# widened the right to use lethal force in self-defence; `post` is 1 once a state's law is in force,
# `l_homicide` the log homicide rate.
#
# **The idea.** With staggered adoption, the TWFE coefficient of `post` is a weighted average of
# simple 2x2 difference-in-differences: each adopting cohort against never-adopting states, against
# cohorts that adopt *later* (before they do), and against cohorts that adopted *earlier*. The last
# kind uses already-treated states as controls: if their effect is still changing, the comparison
# subtracts that change. These are the forbidden comparisons.

# %% tags=["parameters"]
# Parameters. `data_dir`: the validation data folder (None: the VALIDATION_DATA_DIR environment
# variable; relative paths are relative to the project root). `output_dir`: where the reproduced
# numbers are written (`make learn` writes to output/learn).
data_dir = None
output_dir = "output/interactive/learn"

# %%
from analysis.studies.tutorials import (
    Reproduction,
    quiet_library_warnings,
    show_figure,
    stop_if_missing,
    validation_csv,
)

quiet_library_warnings()
stop_if_missing(data_dir, "castle.csv")
columns = ["state", "year", "l_homicide", "post", "effyear"]
castle = validation_csv("castle.csv", data_dir)[columns].copy()
castle["cohort"] = castle["effyear"].fillna(0).astype(int)  # adoption year, 0 = never
castle.groupby("cohort")["state"].nunique().rename("states")

# %% [markdown]
# Five adoption cohorts (one state in 2005 and in 2009, thirteen in 2006) and 29 states that never
# adopted a law in the period.

# %% [markdown]
# ## 1. The regression
#
# `log homicide rate ~ post | state + year`, standard errors clustered by state: what most papers
# on this question report.

# %%
from analysis.did.estimate import estimate

SPEC = {"y": "l_homicide", "unit": "state", "time": "year", "cohort": "cohort"}
twfe = estimate("twfe", castle, **SPEC, treatment="post")
print(
    f"TWFE: {twfe.att:.7f} (SE {twfe.se:.4f}, 95% CI {twfe.conf_low:.3f} to {twfe.conf_high:.3f})"
)

# %% [markdown]
# Homicides about 8% higher after a castle-doctrine law. Where does that number come from?

# %% [markdown]
# ## 2. The Goodman-Bacon decomposition

# %%
from analysis.did.bacon import bacon_decomposition

bacon = bacon_decomposition(castle, "l_homicide", "post", "state", "year")
print(bacon.summary())

# %%
from analysis.figures.robustness import plot_bacon
from analysis.figures.style import use_house_style

use_house_style()
show_figure(plot_bacon(bacon.two_by_twos, bacon.twfe))

# %% [markdown]
# **Reading it.** 25 comparisons; each dot is one 2x2 estimate (vertical) and its weight in the
# TWFE coefficient (horizontal). The weights add up to one and reproduce the coefficient exactly
# (`sum(weight * estimate)` above). Comparisons with never-adopting states carry 91% of the
# weight; the 2006 cohort of thirteen states alone 59%, because a cohort treated near the middle
# of the panel has the largest variance of `post`. The forbidden comparisons, later cohorts
# against states that adopted earlier, carry 3%.

# %%
forbidden = bacon.two_by_twos.query("type == 'Later vs Earlier Treated'")
share = float((forbidden["weight"] * forbidden["estimate"]).sum())
print(f"forbidden comparisons: weight {forbidden['weight'].sum():.3f}, "
      f"contribution to the coefficient {share:.4f} of {bacon.twfe:.4f}")  # fmt: skip

# %% [markdown]
# ## 3. The published numbers, reproduced
#
# R `bacondecomp::bacon(l_homicide ~ post, data = castle, id_var = "state", time_var = "year")`
# (validation README).

# %%
check = Reproduction("tutorial_castle_twfe_bacon", "R bacondecomp, validation README (castle)")
weights = bacon.weights_by_type
check.add("TWFE coefficient", twfe.att, "0.0818116")
check.add("decomposition total", bacon.weighted_sum, "0.0818116")
check.add("weight: treated vs never treated", weights["Treated vs Untreated"], "0.90834")
check.add("weight: earlier vs later treated", weights["Earlier vs Later Treated"], "0.05976")
check.add("weight: later vs earlier treated", weights["Later vs Earlier Treated"], "0.03190")
check.save(output_dir)
print("every published digit reproduced" if check.all_agree else "MISMATCH: see the table")
check.table()

# %% [markdown]
# ## Exercises
#
# 1. **How much do the forbidden comparisons matter here?** Remove them and re-weight the others
#    to sum to one: how far does the coefficient move?
# 2. **No never-treated states.** Decompose the TWFE coefficient on the 21 adopting states only.
#    Which comparisons are left, and what happens to the coefficient?
# 3. **Heterogeneity-robust estimates.** Estimate the same effect with `estimate("cs", ...)`,
#    `estimate("sa", ...)` and `estimate("bjs", ...)`. Why do CS and SA agree exactly, and why
#    can all three differ from TWFE even though the forbidden comparisons barely matter?
#
# The answers are in the next cell, collapsed: click its left edge to open it.

# %% tags=["solution"] jupyter={"outputs_hidden": true, "source_hidden": true}
import warnings

# 1. Without the forbidden comparisons the coefficient hardly moves (0.0818 -> 0.0822): in this
#    panel most weight sits on comparisons with never-adopting states.
two = bacon.two_by_twos
kept = two[two["type"] != "Later vs Earlier Treated"]
without = float((kept["weight"] * kept["estimate"]).sum() / kept["weight"].sum())
print(f"1. TWFE {bacon.twfe:.4f}; without the forbidden comparisons {without:.4f}")

# 2. Only timing comparisons are left: earlier vs later (65%) and the forbidden later vs earlier
#    (35%). The coefficient collapses to 0.02: it now rests on comparisons among adopters.
adopters = castle[castle["cohort"] > 0]
only = bacon_decomposition(adopters, "l_homicide", "post", "state", "year")
print(f"2. adopters only: TWFE {only.twfe:.4f}; weights", only.weights_by_type.round(3).to_dict())

# 3. CS (never-treated controls, no covariates) and SA (never-treated control cohort) compute the
#    same 2x2 comparisons against never-adopting states, and their overall ATTs weight the cells
#    by cohort size: equal to 1e-12. BJS imputes from every untreated state-year and weights every
#    treated state-year equally. All three weight cohorts by their size, TWFE by the variance of
#    their treatment (the 2006 cohort 59%), so with effects that differ by cohort they differ.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # CS: one-state cohorts leave no pre-test (singular)
    robust = {name: estimate(name, castle, **SPEC) for name in ("cs", "sa", "bjs")}
print("3.", {name: round(e.att, 4) for name, e in robust.items()}, f"TWFE {twfe.att:.4f}")
print(f"   |CS - SA| = {abs(robust['cs'].att - robust['sa'].att):.1e}")

# %% [markdown]
# **Next:** Tutorial 3 (`tutorial_ehec_honestdid.py`) asks how much the parallel-trends assumption
# itself could be violated before an event-study conclusion falls apart.
