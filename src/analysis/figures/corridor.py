"""The China-Laos corridor figure (issue 19): the corridor cities against their synthetic control,
the gap by year with the range of same-province placebo corridors, and the placebo distribution.
Every string goes through ``analysis.figures.labels`` (drawn in English and Chinese)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figures.labels import label
from analysis.figures.style import PALETTE


def plot_corridor(
    trajectories: pd.DataFrame,
    event: pd.DataFrame,
    placebos: pd.DataFrame,
    att: float,
    first_year: int,
    adjusted: bool = True,
    lang: str = "en",
):
    """Left: the corridor cities' mean (``trajectories``: year, treated, synthetic) and their
    synthetic control. Middle: the gap in every year (``event``: year, estimate, placebo_low,
    placebo_high, truth) with the pointwise 95% interval from the same-province placebo corridors'
    gaps (an interval for each year's effect: the gap minus the placebo gaps' 97.5th and 2.5th
    percentiles) and the true effect of the post years where known. Right: the placebo ATTs (``placebos``: att) with the
    corridor's ``att``."""
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.2), gridspec_kw={"width_ratios": [1.3, 1.3, 1]})
    ax, axg, axp = axes
    onset = first_year - 0.5
    x = trajectories["year"].to_numpy(float)
    ax.plot(x, trajectories["treated"], color=PALETTE[0], lw=1.8, marker="o", ms=3,
            label=label("cor_treated", lang))  # fmt: skip
    ax.plot(x, trajectories["synthetic"], color=PALETTE[1], lw=1.8, ls="--",
            label=label("cor_synthetic", lang))  # fmt: skip
    ax.axvline(onset, color="0.5", lw=0.8, ls=":", label=label("cor_onset", lang))
    ax.set_xlabel(label("year", lang))
    ax.set_ylabel(label("cor_outcome" if adjusted else "cor_outcome_raw", lang))
    ax.set_title(label("cor_traj_title", lang), fontsize=10)
    ax.legend(fontsize=7.5, loc="best")

    ye = event["year"].to_numpy(float)
    if event[["placebo_low", "placebo_high"]].notna().all().all():
        axg.fill_between(ye, event["placebo_low"], event["placebo_high"], color=PALETTE[1],
                         alpha=0.2, lw=0, label=label("cor_band", lang))  # fmt: skip
    axg.plot(ye, event["estimate"], color=PALETTE[0], lw=1.5, marker="o", ms=4,
             label=label("cor_gap", lang))  # fmt: skip
    post = event["year"].to_numpy() >= first_year
    if "truth" in event and event.loc[post, "truth"].notna().any():
        axg.plot(ye[post], event.loc[post, "truth"], color="black", marker="_", ms=14, lw=0,
                 mew=2, label=label("truth", lang))  # fmt: skip
    axg.axhline(0, color="0.3", lw=0.8, ls="--")
    axg.axvline(onset, color="0.5", lw=0.8, ls=":")
    axg.set_xlabel(label("year", lang))
    axg.set_ylabel(label("effect", lang))
    axg.set_title(label("cor_gap_title", lang), fontsize=10)
    axg.legend(fontsize=7.5, loc="best")

    draws = placebos["att"].to_numpy(float)
    if len(draws):
        axp.hist(draws, bins=min(40, max(10, len(draws) // 10)), color="0.75",
                 edgecolor="white")  # fmt: skip
    axp.axvline(att, color=PALETTE[3], lw=1.8, label=label("cor_actual", lang, value=att))
    axp.axvline(-att, color=PALETTE[3], lw=0.8, ls=":")
    axp.set_xlabel(label("cor_placebo_att", lang))
    axp.set_yticks([])
    axp.set_title(label("cor_placebo_title", lang), fontsize=10)
    axp.legend(fontsize=7.5, loc="upper left")
    for a in (ax, axg):
        a.set_xticks(np.arange(int(x.min()), int(x.max()) + 1, 2))
    fig.tight_layout()
    return fig
