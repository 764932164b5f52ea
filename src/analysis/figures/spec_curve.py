"""The specification-curve figure (Simonsohn, Simmons & Nelson 2020, Nature Human Behaviour 4):
the estimates of :func:`analysis.studies.robustness.spec_curve.spec_curve` sorted, each with its 95%
confidence interval (from its own SE, t(G-1)), the headline specification marked, and below it the
choice matrix (which option of each dimension every specification takes).

Outlying specifications (the ``outlier`` column, set by the rule of
``analysis.studies.robustness.spec_curve.flag_outliers``) do not set the scale: the vertical
axis spans the other specifications' intervals (and zero), an outlying estimate outside it is drawn
as a triangle at the edge pointing to where it lies, its interval is clipped, and its estimate and
standard error are printed beside it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figures.labels import label, p_text, spec_choice
from analysis.figures.style import PALETTE

DIMENSIONS = ["estimator", "controls", "sample", "timing"]
GREY = (0.62, 0.62, 0.62)


def _order(table: pd.DataFrame) -> pd.DataFrame:
    # rounded estimates: equal estimates may differ in the last bit between runs; spec_id breaks ties
    return (
        table.assign(_order=table["estimate"].round(10))
        .sort_values(["_order", "spec_id"], kind="mergesort")
        .reset_index(drop=True)
    )


def _limits(c: pd.DataFrame, keep: np.ndarray) -> tuple[float, float]:
    """Axis limits over the intervals of the rows ``keep`` and zero, padded by 8%."""
    rows = c[keep] if keep.any() else c
    lo = float(np.nanmin([*rows["conf_low"], *rows["estimate"], 0.0]))
    hi = float(np.nanmax([*rows["conf_high"], *rows["estimate"], 0.0]))
    pad = 0.08 * (hi - lo or 1.0)
    return lo - pad, hi + pad


def _draw_outliers(ax, x: np.ndarray, c: pd.DataFrame, out: np.ndarray, lang: str) -> str:
    """Outlying specifications inside the axis of the others: the point where it fits, else a
    hollow triangle at the edge pointing to where it lies; each with its estimate (s.e.) printed,
    neighbours' labels stacked inwards so that they do not overprint. Returns a marker used
    (for the legend)."""
    lo, hi = ax.get_ylim()
    inset = 0.03 * (hi - lo)
    stacked = {"^": 0, "v": 0, "o": 0}
    for i in np.flatnonzero(out):
        est, se = float(c["estimate"].iloc[i]), float(c["std_error"].iloc[i])
        if est > hi - inset:
            y, marker, step = hi - inset, "^", -9
        elif est < lo + inset:
            y, marker, step = lo + inset, "v", 9
        else:
            y, marker, step = est, "o", 9
        ax.scatter([x[i]], [y], marker=marker, s=34, facecolors="white", edgecolors="black",
                   linewidths=0.9, zorder=6, clip_on=False)  # fmt: skip
        left = i < len(x) / 2  # the text runs into the plot, away from the nearer side
        dy = step * stacked[marker]
        stacked[marker] += 1
        ax.annotate(label("sc_outlier_value", lang, value=est, se=se), (x[i], y),
                    xytext=(6 if left else -6, dy), textcoords="offset points", fontsize=6.5,
                    va="center", ha="left" if left else "right", zorder=6,
                    bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none",
                          "alpha": 0.8})  # fmt: skip
    return next(m for m, n in stacked.items() if n)


def plot_spec_curve(
    table: pd.DataFrame,
    baseline: int | None = None,
    lang: str = "en",
    joint_test: dict | None = None,
    title: str | None = None,
):
    """Sorted estimates with 95% CI bars above the choice matrix.

    ``table``: ``SpecCurveResult.table`` (columns spec_id, the dimensions, estimate, conf_low,
    conf_high; optional ``foil`` and ``headline``). ``baseline``: the headline's ``spec_id`` (default:
    the row with ``headline`` true). Filled points: heterogeneity-robust estimators (blue when the CI
    excludes zero, grey otherwise); hollow orange points: the TWFE foil. ``joint_test``: the
    ``joint_test`` dict of the result, whose p-values go into the legend."""
    c = _order(table)
    foil = c["foil"].to_numpy(bool) if "foil" in c else np.zeros(len(c), bool)
    # flagged by the study (a table without the column: none flagged)
    out = c["outlier"].to_numpy(bool) if "outlier" in c else np.zeros(len(c), bool)
    if baseline is None and "headline" in c and c["headline"].any():
        baseline = int(c.loc[c["headline"].astype(bool), "spec_id"].iloc[0])
    dims = [d for d in DIMENSIONS if d in c.columns]
    options = [(d, o) for d in dims for o in dict.fromkeys(table[d].astype(str))]
    x = np.arange(len(c))
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        sharex=True,
        figsize=(9, 3.4 + 0.2 * len(options)),
        gridspec_kw={"height_ratios": [3.4, 0.2 * len(options) + 0.3]},
    )
    sig = ((c["conf_low"] > 0) | (c["conf_high"] < 0)).to_numpy()
    robust_sig, robust_ns = ~foil & sig, ~foil & ~sig
    for mask, color, key in ((robust_sig, PALETTE[0], "sc_sig"), (robust_ns, GREY, "sc_ns")):
        if mask.any():
            top.vlines(x[mask], c["conf_low"][mask], c["conf_high"][mask], colors=[color],
                       lw=0.9, alpha=0.55)  # fmt: skip
            top.scatter(x[mask], c["estimate"][mask], color=color, s=10, zorder=3,
                        label=label(key, lang))  # fmt: skip
    if foil.any():
        top.vlines(x[foil], c["conf_low"][foil], c["conf_high"][foil], colors=[PALETTE[3]],
                   lw=0.8, alpha=0.45, linestyles="dotted")  # fmt: skip
        top.scatter(x[foil], c["estimate"][foil], facecolors="none", edgecolors=PALETTE[3], s=14,
                    zorder=3, label=label("sc_foil", lang))  # fmt: skip
    top.axhline(0, color="0.3", lw=0.8, ls="--")
    if (~foil).any():
        med = float(c.loc[~foil, "estimate"].median())
        top.axhline(med, color="0.35", lw=0.9, ls=":", label=label("sc_median", lang, value=med))
    if baseline is not None and (c["spec_id"] == baseline).any():
        i = int(np.flatnonzero(c["spec_id"] == baseline)[0])
        for ax in (top, bottom):
            ax.axvspan(i - 0.5, i + 0.5, color=PALETTE[1], alpha=0.12, lw=0)
        top.vlines(x[i], c["conf_low"].iloc[i], c["conf_high"].iloc[i], colors=[PALETTE[1]],
                   lw=1.6, zorder=4)  # fmt: skip
        top.scatter([x[i]], [c["estimate"].iloc[i]], marker="D", s=46, color=PALETTE[1],
                    zorder=5, label=label("sc_headline", lang, value=c["estimate"].iloc[i]))  # fmt: skip
    if joint_test and joint_test.get("draws"):
        k = joint_test["draws"]
        parts = [
            label(key, lang, p=p_text(joint_test[name], k))
            for key, name in (
                ("sc_p_median", "p_median"),
                ("sc_p_share", "p_share_significant"),
                ("sc_p_z", "p_stouffer"),
            )
        ]
        colon, comma = ("：", "，") if lang == "zh" else (": ", ", ")
        text = label("sc_joint", lang, draws=k) + colon + comma.join(parts)
        top.plot([], [], " ", label=text)
    if out.any():  # the others set the scale (otherwise matplotlib's own limits)
        top.set_ylim(*_limits(c, ~out))
        marker = _draw_outliers(top, x, c, out, lang)
        top.scatter([], [], marker=marker, s=34, facecolors="white", edgecolors="black",
                    label=label("sc_outlier", lang, n=int(out.sum())))  # fmt: skip
    top.set_ylabel(label("sc_ylabel", lang))
    # above the axes, under the title: with a few specifications of similar width the intervals
    # fill every corner of the plot (the nine of the default curve span 0.03-0.17 throughout)
    legend = top.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.02), ncol=2,
                        borderaxespad=0.0, frameon=False)  # fmt: skip
    fig.canvas.draw()  # the legend's height, in points, sets the title's distance
    height = legend.get_window_extent().height * 72 / fig.dpi
    top.set_title(title or label("sc_title", lang), pad=height + 10)
    for k, (d, o) in enumerate(options):
        hit = (c[d].astype(str) == o).to_numpy()
        bottom.scatter(x[hit & ~foil], np.full((hit & ~foil).sum(), k), marker="|", s=30,
                       color=PALETTE[dims.index(d) % len(PALETTE)])  # fmt: skip
        bottom.scatter(x[hit & foil], np.full((hit & foil).sum(), k), marker="|", s=30,
                       color=GREY)  # fmt: skip
    bottom.set_yticks(
        range(len(options)), [spec_choice(d, o, lang) for d, o in options], fontsize=7
    )
    bottom.set_ylim(len(options) - 0.5, -0.5)
    bottom.set_xlabel(label("sc_xlabel", lang))
    bottom.grid(False)
    fig.tight_layout()
    return fig
