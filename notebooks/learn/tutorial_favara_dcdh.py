# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Tutorial 5: a treatment that is not 0/1 and not absorbing (banking deregulation)
#
# **What you will do.** Estimate the dynamic effects of interstate branching deregulation on bank
# lending with de Chaisemartin & D'Haultfœuille's event-study estimator (`did_multiplegt_dyn`),
# see what changes when the treatment takes several values and can go back down, read the
# placebos and the tests that come with it, and reproduce every number the reference commands
# print. About 20 minutes.
#
# **The data.** Favara & Imbs (2015, AER): 1,048 US counties, 1994-2005. `Dl_vloans_b` is the
# growth of the volume of mortgage loans; `inter_bra` is an index (0-4) of how far the county's
# state had lifted its restrictions on interstate branching, one point per restriction removed;
# `state_n` the state. States deregulated at different dates, by different amounts, in several
# steps, and a few re-regulated: the index rises, sometimes twice, and falls in 46 counties.
#
# **The idea.** Tutorials 1-3 had a 0/1 treatment that switches on once and stays on. Here each
# county's *baseline* is its index in the first year it is observed (1994 for nearly all), and
# it becomes a *switcher* in the first year its index differs from the baseline. Effect *l* compares the outcome change of the switchers from the year
# before their first switch to *l - 1* years after it with that of counties with the *same
# baseline* that have not switched yet (the "not-yet-switchers"): a clean comparison, never using an
# already-switched county as a control. Since switchers move by different amounts, the effect is
# *normalized*: divided by the switchers' average cumulated change of the index, so it reads "per
# point of deregulation".
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

stop_if_missing(data_dir, "favara_imbs.csv")
favara = validation_csv("favara_imbs.csv", data_dir)
favara.head()

# %%
# the deregulation index: how many county-years at each level, and the path of a few counties
import pandas as pd

print(favara["inter_bra"].value_counts().sort_index().rename("county-years").to_string())
paths = favara.pivot(index="county", columns="year", values="inter_bra")
paths.loc[paths.diff(axis=1).lt(0).any(axis=1)].head(3)  # counties whose index fell at some point

# %% [markdown]
# ## 1. The estimator
#
# The call below is the reference example of R `DIDmultiplegtDYN` (and its Stata and Python
# versions): eight effects (the year of the first switch and seven after), three placebos (the
# three years before), standard errors clustered by state (the level at which deregulation was
# decided), normalized effects, and:
#
# * `same_switchers=True`: only switchers observed for all eight effects, so every effect averages
#   over the same 773 counties and the path across horizons is not a change of composition;
# * `effects_equal=True`: a test that the eight effects are equal.

# %%
from analysis.did.multiplegt_dyn import did_multiplegt_dyn

SPEC = {
    "outcome": "Dl_vloans_b", "group": "county", "time": "year", "treatment": "inter_bra",
    "effects": 8, "placebo": 3, "cluster": "state_n", "normalized": True,
    "same_switchers": True, "effects_equal": True,
}  # fmt: skip
fit = did_multiplegt_dyn(favara, **SPEC)
print(fit)

# %% [markdown]
# **Reading the table.** `Effect_l` is the effect on loan growth, *l - 1* years after a county's
# first change of the index, per point of cumulated deregulation: effect *l* is a weighted average
# of the effect of the current index and of its first *l - 1* lags, so it is an effect of the whole
# path of deregulation so far, not of the current level alone. The effects are positive, about 1
# to 2.4 points of loan growth per point of the index; only the later ones, estimated more
# precisely, exclude zero. `n` counts the county-years used, `n_switchers` the switchers.
#
# `Average_Total_Effect` sums up: the total effect on loan growth over the eight years, per unit of
# treatment the switchers received, 0.055 (5.5 points; 95% interval just above zero). The
# `Placebo_l` rows compare switchers and not-yet-switchers *before* the first switch: they estimate
# nothing but differences in trends, and with a p-value of 0.53 they are jointly
# indistinguishable from zero. The effects are jointly significant only at the 10% level (p =
# 0.097), and their equality is rejected only at the 10% level (p = 0.074).

# %%
from analysis.figures.style import use_house_style

use_house_style()
show_figure(fit.plot(title="Effect of branching deregulation on loan growth, per index point"))

# %% [markdown]
# **Reading the figure.** Event time -1 is the year before the first switch, the reference (0 by
# construction). To its left the placebos, to its right the effects, with 95% intervals.

# %% [markdown]
# ## 2. What a non-binary, non-absorbing treatment changes
#
# * **Who is a control.** With a 0/1 absorbing treatment, the not-yet-treated are the controls.
#   Here a county is a valid control for a switcher only if it started at the *same* baseline
#   level and has not moved yet: counties at different levels may be on different paths.
# * **What is estimated.** A switch from 0 to 1 and one from 0 to 4 are different doses; the
#   normalized effect divides by the dose actually received (cumulated over the *l* years), so it
#   is an effect per point, averaged over the switchers' paths. It does not assume the effect is
#   linear in the dose; it averages whatever the effects of the paths are.
# * **What is kept.** Counties whose index goes, by some date, both above and below its baseline
#   lose their observations from that date (their effect would mix increases and decreases).
#   All counties but one start at 0 (one at 1), so all switchers switch *in*: later decreases
#   follow a first rise and never take the index below the baseline.
#   With baselines above 0, switchers *out* would be estimated separately and combined.
# * **Why not TWFE on the index?** A regression of loan growth on `inter_bra` with county and year
#   effects has all the problems of Tutorial 2 (already-switched counties as controls, negative
#   weights), and in addition assumes the effect is linear in the index and immediate.

# %% [markdown]
# ## 3. The published numbers, reproduced
#
# The reference commands (R `DIDmultiplegtDYN` 2.1.x, Stata `did_multiplegt_dyn`, Python
# `py_did_multiplegt_dyn`) print these for the call above (validation README). A row agrees when
# our number, rounded to the printed digits, is the printed number.

# %%
PUBLISHED = {
    "Effect": [
        ("0.0240393", "0.0184241"), ("0.0116702", "0.0106714"), ("0.0143443", "0.00828821"),
        ("0.0115211", "0.00819515"), ("0.0161627", "0.00684205"), ("0.0133861", "0.00625129"),
        ("0.00981002", "0.00495722"), ("0.0100838", "0.00430933"),
    ],
    "Placebo": [("0.0303785", "0.0264052"), ("-0.0217763", "0.0253522"),
                ("-0.0137113", "0.0263437")],
}  # fmt: skip
check = Reproduction(
    "tutorial_favara_dcdh", "R DIDmultiplegtDYN / py_did_multiplegt_dyn README (favara_imbs)"
)
table = fit.table.set_index("term")
for kind, rows in PUBLISHED.items():
    for i, (est, se) in enumerate(rows, start=1):
        check.add(f"{kind}_{i}", table.loc[f"{kind}_{i}", "estimate"], est)
        check.add(f"{kind}_{i} SE", table.loc[f"{kind}_{i}", "std_error"], se)
check.add("Average_Total_Effect", fit.att, "0.055063")
check.add("Average_Total_Effect SE", fit.average_total_effect["std_error"], "0.0268082")
check.save(output_dir)
print("every published digit reproduced" if check.all_agree else "MISMATCH: see the table")
check.table()

# %% [markdown]
# ## Exercises
#
# 1. **Per point or in total?** Re-estimate with `normalized=False`. By how much does each effect
#    grow, and what is the ratio? (Compare with `fit.delta_d`.)
# 2. **Composition.** Re-estimate with `same_switchers=False`. How many switchers does each effect
#    use now, and how do the later effects change? Why might the path across horizons now mislead?
# 3. **Switchers out.** Why does the table have no switchers *out*? Count the counties by their
#    baseline (first observed) index, and the switchers by the sign of their first change.
#
# The answers are in the next cell, collapsed: click its left edge to open it.

# %% tags=["solution"] jupyter={"outputs_hidden": true, "source_hidden": true}
# 1. Without normalization effect l is the effect of the whole path of deregulation so far; the
#    ratio to the normalized effect is the switchers' mean cumulated index change over l years,
#    delta^D_l, which grows with l (each year adds the current distance from the baseline).
raw = did_multiplegt_dyn(favara, **{**SPEC, "normalized": False})
ratio = raw.effects["estimate"].to_numpy() / fit.effects["estimate"].to_numpy()
print("1. ratio raw / normalized:", ratio.round(3))
print("   delta^D_l:              ", fit.delta_d.round(3))

# 2. Without same_switchers the early effects use every switcher observed that long after its
#    switch, the late ones only the early switchers: a change across horizons may then reflect who
#    is averaged, not how the effect evolves.
free = did_multiplegt_dyn(favara, **{**SPEC, "same_switchers": False})
print("2.", pd.DataFrame({
    "switchers (same)": fit.effects["n_switchers"].to_numpy(),
    "switchers (free)": free.effects["n_switchers"].to_numpy(),
    "effect (same)": fit.effects["estimate"].round(4).to_numpy(),
    "effect (free)": free.effects["estimate"].round(4).to_numpy(),
}, index=fit.effects["term"]).to_string())  # fmt: skip

# 3. Every county but one starts at 0 and the index cannot fall below 0, so the first
#    change is always up: all switchers are switchers in.
baseline = paths.apply(lambda row: row.dropna().iloc[0], axis=1)  # first observed index
first_change = paths.sub(baseline, axis=0).apply(
    lambda row: row[row != 0].iloc[0] if (row != 0).any() else 0, axis=1
)
print("3. counties by baseline index:", baseline.value_counts().sort_index().to_dict())
print(
    "   first change up / down:", int((first_change > 0).sum()), "/", int((first_change < 0).sum())
)

# %% [markdown]
# **What next.** `estimate("dcdh", ...)` runs this estimator through the same entry point as the
# others (a 0/1 treatment built from the cohort column), so it can stand beside CS, SA and BJS on
# the study's designs. The interactive notebook (`learn_staggered_did.py`) lets you break the
# assumptions and watch which estimators fail.
