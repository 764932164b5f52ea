"""Power of pre-trend tests (Roth 2022): the event plot with the hypothesised trend and the
coefficients expected after passing the pre-test (R ``pretrends``' ``event_plot_pretest``).

Input: the tidy frame of :meth:`analysis.did.pretrends.PretrendsResult.tidy` (columns
event_time, estimate, conf_low, conf_high, delta_true, mean_after_pretesting, period). Every
string goes through ``analysis.figures.labels`` (drawn in English and in Chinese).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from analysis.figures.labels import LABELS, label
from analysis.figures.style import PALETTE

__all__ = ["plot_pretrends"]

LABEL_KEYS = frozenset(LABELS["en"])


def plot_pretrends(
    frame: pd.DataFrame,
    ax=None,
    lang: str = "en",
    title: str | None = None,
    power: float | None = None,
    level: float = 95.0,
    onset: float | None = None,
):
    """Estimates with their CIs (``level`` percent, the level of the pre-test's t-tests), the
    hypothesised trend (solid, with the pre-test's ``power`` against it in the legend when given)
    and the expected estimates conditional on passing the pre-test (dashed). The reference period
    is the row with period "reference"; the dotted vertical line marks the treatment onset after
    it; ``onset``: where that line goes when the frame has no reference row (an estimator
    without one base period, e.g. -0.5 between its leads and horizons). ``title``: a key of
    ``labels.LABELS`` or a string shown as given (default ``pt_title``)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.3))
    fig = ax.figure
    frame = frame.sort_values("event_time")
    t = frame["event_time"].to_numpy(dtype=float)
    est = frame["estimate"].to_numpy(dtype=float)
    ax.errorbar(
        t,
        est,
        yerr=[est - frame["conf_low"].to_numpy(float), frame["conf_high"].to_numpy(float) - est],
        fmt="o",
        capsize=3,
        color=PALETTE[0],
        lw=1.2,
        ms=5,
        label=label("pt_estimates", lang, value=level),
    )
    trend = label("pt_trend", lang) if power is None else label("pt_trend_power", lang, value=power)
    ax.plot(t, frame["delta_true"], color=PALETTE[3], marker="^", ms=6, lw=1.2, label=trend)
    after = frame.dropna(subset=["mean_after_pretesting"])
    ax.plot(
        after["event_time"],
        after["mean_after_pretesting"],
        color=PALETTE[1],
        marker="s",
        ms=5,
        lw=1.2,
        ls="--",
        label=label("pt_after", lang),
    )
    ax.axhline(0, color="0.3", lw=0.8, ls=":")
    ref = frame.loc[frame["period"] == "reference", "event_time"]
    if len(ref):
        ax.axvline(float(ref.iloc[0]) + 0.5, color="0.6", lw=0.8, ls=":")
    elif onset is not None:
        ax.axvline(float(onset), color="0.6", lw=0.8, ls=":")
    ax.set_xlabel(label("event_time", lang))
    ax.set_ylabel(label("pt_ylabel", lang))
    title = title or "pt_title"
    ax.set_title(label(title, lang) if title in LABEL_KEYS else title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
