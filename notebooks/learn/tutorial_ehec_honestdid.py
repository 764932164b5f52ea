# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Tutorial 3: how wrong could parallel trends be? (Medicaid expansion, HonestDiD)
#
# **What you will do.** Estimate an event study of the 2014 Medicaid expansions, then ask the
# question a pre-trend test cannot answer: *how large a violation of parallel trends would it take
# to overturn the conclusion?* You will compute Rambachan & Roth's (2023) robust confidence
# intervals and reproduce the example of the R package `HonestDiD`. About 25 minutes.
#
# **The data.** The Mixtape's Advanced-DID exercise: 46 US states, 2008-2019; `dins` is the share
# of low-income adults with health insurance, `yexp2` the year a state expanded Medicaid under the
# Affordable Care Act (empty if it did not).
#
# **The idea.** An event study's pre-period coefficients show how the treated and control states
# trended apart *before* treatment. Parallel trends assume the gap would have stayed zero
# afterwards. HonestDiD replaces that assumption with a bound: the post-treatment violation is at
# most *M̄* times the largest pre-treatment one (relative magnitudes), or the trend's slope changes
# by at most *M* per period (smoothness). The answer is a confidence interval for each bound.

# %% tags=["parameters"]
# Parameters. `data_dir`: the validation data folder (None: the VALIDATION_DATA_DIR environment
# variable; relative paths are relative to the project root). `output_dir`: where the reproduced
# numbers are written (`make learn` writes to output/learn).
data_dir = None
output_dir = "output/interactive/learn"

# %%
import numpy as np

from analysis.studies.tutorials import Reproduction, show_figure, stop_if_missing, validation_csv

stop_if_missing(data_dir, "ehec.csv")
ehec = validation_csv("ehec.csv", data_dir)
ehec.groupby(ehec["yexp2"].fillna(0).astype(int))["stfips"].nunique().rename("states")

# %% [markdown]
# ## 1. The sample of the HonestDiD example
#
# As in the R README: keep the years before 2016, drop the states that expanded in 2015, and
# compare the 2014 expanders with the rest (states expanding from 2016 on are not yet treated in
# this window, so they are controls, with the never-expanding states).

# %%
sample = ehec[(ehec["year"] < 2016) & (ehec["yexp2"] != 2015)].copy()
sample["cohort"] = np.where(sample["yexp2"] == 2014, 2014, 0)
print(
    f"{sample['stfips'].nunique()} states, {sample['year'].min()}-{sample['year'].max()}; "
    f"{sample.loc[sample['cohort'] > 0, 'stfips'].nunique()} expanded in 2014"
)

# %% [markdown]
# ## 2. The event study
#
# `dins ~ i(year, D, ref = 2013) | stfips + year`, clustered by state: with a single cohort, the
# project's fully dynamic TWFE event study is exactly this regression (relative year -1 = 2013 is
# the reference; 2008-2012 are the five leads, 2014-2015 the two lags).

# %%
from analysis.did.estimate import estimate

es = estimate(
    "event_study", sample, y="dins", unit="stfips", time="year", cohort="cohort", window=(-6, 1)
)
es.event_study.round(4)

# %%
from analysis.figures.style import event_study_axes, use_house_style

use_house_style()
ax = event_study_axes(es.event_study)
ax.set_title("Medicaid expansion in 2014: share of low-income adults insured")
show_figure(ax.figure)

# %% [markdown]
# Insurance rises by 4.6 points in 2014 and 6.9 in 2015; the leads are small but not zero (the
# largest, 2009, is -1.1 points). How much trust do the lags deserve?

# %% [markdown]
# ## 3. Sensitivity to violations of parallel trends
#
# HonestDiD needs the coefficients (leads first, then lags, without the reference year) and their
# covariance. The target here is the first lag, the 2014 effect (`l_vec = [1, 0]`, the default).

# %%
from analysis.did.honestdid import honest_did

periods = sorted(es.fit.periods)  # -6..-2, 0, 1
names = [f"evt_{'m' if k < 0 else 'p'}{abs(k)}" for k in periods]
beta = es.fit.fit.params[names].to_numpy()
sigma = es.fit.fit.cov.loc[names, names].to_numpy()
n_pre, n_post = sum(k < 0 for k in periods), sum(k >= 0 for k in periods)
honest = honest_did(
    beta, sigma, n_pre, n_post,
    Mbarvec=[0.5, 1.0, 1.5, 2.0], Mvec=[0.0, 0.01, 0.02, 0.03, 0.04, 0.05],
)  # fmt: skip
honest.table.round(5)

# %%
from analysis.figures.sensitivity import plot_honestdid

show_figure(plot_honestdid(honest.table, benchmark={"Mbar": 1.0}))

# %% [markdown]
# **Reading it.** Right panel (relative magnitudes): the 2014 effect stays positive as long as
# the post-2013 violation is less than about twice the largest pre-2014 one; at *M̄* = 2 the
# interval reaches zero. Left panel (smoothness): allowing the linear trend's slope to change by
# 0.03 (3 points) per year is enough to include zero. Whether such violations are plausible is a
# judgement about the application, not a statistical fact; HonestDiD makes it explicit.

# %% [markdown]
# ## 4. The published numbers, reproduced
#
# The R HonestDiD README prints these intervals to three significant digits (validation README).
# The relative-magnitude bounds depend on R's grid of 1,000 candidate values; our port uses R's
# grid and R's random numbers, so it reproduces R's printout, not the Python port moderndid's
# (which differs from R by up to one grid step).

# %%
check = Reproduction("tutorial_ehec_honestdid", "R HonestDiD README, validation README (ehec)")
rm = honest.results.query("delta == 'DeltaRM'").set_index("M")
sd = honest.results.query("delta == 'DeltaSD'").set_index("M")
published_rm = {
    0.5: ("0.0240", "0.0672"),
    1.0: ("0.0170", "0.0720"),
    1.5: ("0.00824", "0.0797"),
    2.0: ("-0.000916", "0.0881"),
}
published_sd = {
    0.00: ("0.0259", "0.0607"),
    0.01: ("0.0132", "0.0787"),
    0.02: ("0.00286", "0.0907"),
    0.03: ("-0.00714", "0.101"),
    0.04: ("-0.0171", "0.111"),
    0.05: ("-0.0271", "0.121"),
}
for m, (lb, ub) in published_rm.items():
    check.add(f"relative magnitudes Mbar = {m:g}: lower", rm.loc[m, "lb"], lb)
    check.add(f"relative magnitudes Mbar = {m:g}: upper", rm.loc[m, "ub"], ub)
for m, (lb, ub) in published_sd.items():
    check.add(f"smoothness M = {m:g}: lower", sd.loc[m, "lb"], lb)
    check.add(f"smoothness M = {m:g}: upper", sd.loc[m, "ub"], ub)
check.save(output_dir)
print("every published digit reproduced" if check.all_agree else "MISMATCH: see the table")
check.table()

# %% [markdown]
# ## Exercises
#
# 1. **The breakdown value.** Find the smallest *M̄* at which the robust interval for the 2014
#    effect includes zero (`analysis.did.honestdid.breakdown_values`).
# 2. **Another target.** Repeat the relative-magnitudes analysis for the average of the 2014 and
#    2015 effects (`l_vec=[0.5, 0.5]`). Is it more or less robust than the 2014 effect alone?
# 3. **What does M = 0 assume?** The smoothness interval at *M* = 0 is not the conventional one
#    (`honest.original`). What does it allow that exact parallel trends do not, and why is it
#    centred lower?
#
# The answers are in the next cell, collapsed: click its left edge to open it.

# %% tags=["solution"] jupyter={"outputs_hidden": true, "source_hidden": true}
from analysis.did.honestdid import breakdown_values

# 1. Between Mbar = 1.5 and 2 on the grid; bisection narrows it down.
rm_only = honest.results.query("delta == 'DeltaRM'")
breakdown = breakdown_values(beta, sigma, n_pre, n_post, rm_only)["DeltaRM"]
print(f"1. breakdown Mbar = {breakdown['value']:.3f} (between {breakdown['bracket'][0]:.3f} and "
      f"{breakdown['bracket'][1]:.3f})")  # fmt: skip

# 2. The average of both lags is larger (5.8 points) but less robust: at Mbar = 2 its lower bound
#    is -0.008, against -0.001 for 2014 alone. Relative magnitudes bound each post-period *change*
#    of the violation, so by 2015 it may have grown twice: the later effect is the less certain.
average = honest_did(
    beta, sigma, n_pre, n_post, l_vec=[0.5, 0.5], Mbarvec=[1.0, 2.0], type="relative_magnitude"
)
print("2. average of 2014 and 2015:", f"estimate {average.estimate:.4f}")
print(average.results[["M", "lb", "ub"]].round(4).to_string(index=False))

# 3. M = 0 allows a *linear* violation: the pre-period trend, extrapolated into the post period.
#    The leads drift slightly upward towards 2013, so the extrapolated trend explains part of the
#    2014 jump, and the interval is centred lower; it also accounts for the estimation error of
#    that trend.
orig = honest.original.iloc[0]
sd0 = sd.loc[0.0]
print(f"3. conventional [{orig['lb']:.4f}, {orig['ub']:.4f}]; "
      f"smoothness M = 0 [{sd0['lb']:.4f}, {sd0['ub']:.4f}]")  # fmt: skip

# %% [markdown]
# **What next.** The study applies the same sensitivity analysis to the pilot-zone event study
# (`notebooks/robustness.py`, section HonestDiD). The interactive notebook
# (`learn_staggered_did.py`) lets you create violations of parallel trends (anticipation, a bad
# control, co-treatment) and watch which estimators they bias.
# Tutorial 4 (`tutorial_prop99_sdid.py`) turns to a single treated unit: synthetic
# difference-in-differences on California's Proposition 99.
