"""Robustness figures: coefficient plots, the specification curve and the diagnostics of the
robustness checklist. Each function takes tidy frames (as returned by
``analysis.studies.robustness.checklist.robustness_study``) and returns a matplotlib Figure; nothing global
is changed (call ``style.use_house_style()`` once in the notebook)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figures.labels import covariate, label, p_text, spec_choice, tr
from analysis.figures.style import PALETTE

SPEC_DIMENSIONS = ["estimator", "controls", "sample", "cluster", "timing", "outcome"]
DELTA_EN = {
    "DeltaSD": r"Smoothness restriction $\Delta^{SD}(M)$",
    "DeltaRM": r"Relative magnitudes $\Delta^{RM}(\bar{M})$",
}
_METHOD_STYLE = {
    "interaction": (PALETTE[0], "o"),
    "split": (PALETTE[1], "s"),
    "pooled": ("0.2", "D"),
}


def coefficient_axes(
    frame: pd.DataFrame,
    ax=None,
    label_col: str = "label",
    color=None,
    marker: str = "o",
    ref: float | None = 0.0,
    lang: str = "en",
):
    """Horizontal coefficient plot: one row per line of ``frame`` (estimate, conf_low, conf_high)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.35 * len(frame) + 1.2))
    y = np.arange(len(frame))[::-1]
    est = frame["estimate"].to_numpy(float)
    ax.errorbar(
        est,
        y,
        xerr=[est - frame["conf_low"].to_numpy(float), frame["conf_high"].to_numpy(float) - est],
        fmt=marker,
        color=color or PALETTE[0],
        capsize=3,
        lw=1.2,
        ms=5,
    )
    ax.set_yticks(y, [tr(text, lang) for text in frame[label_col].astype(str)])
    if ref is not None:
        ax.axvline(ref, color="0.3", lw=0.8, ls="--")
    ax.set_xlabel(tr("Effect on log exports (95% CI)", lang))
    return ax


def heterogeneity_axes(table: pd.DataFrame, pooled: float | None = None, ax=None, lang: str = "en"):
    """Group effects by dimension (header rows dark, groups indented and grey), interaction and
    split-sample side by side. (No bold: the CJK font has no bold face.)"""
    dims = list(dict.fromkeys(table["dimension"]))
    rows, labels, bold = {}, [], []
    pos = 0
    for dim in dims:  # top to bottom: a header, then the groups of the dimension
        labels.append(tr(dim, lang))
        bold.append(True)
        pos += 1
        for group in dict.fromkeys(table.loc[table["dimension"] == dim, "group"]):
            rows[(dim, group)] = pos
            labels.append("   " + tr(str(group), lang))
            bold.append(False)
            pos += 1
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.32 * pos + 1.2))
    methods = list(dict.fromkeys(table["method"]))
    for j, method in enumerate(methods):
        sub = table[table["method"] == method]
        y = np.array([rows[(d, g)] for d, g in zip(sub["dimension"], sub["group"])], float)
        y = y + (j - (len(methods) - 1) / 2) * 0.25
        est = sub["estimate"].to_numpy(float)
        color, marker = _METHOD_STYLE.get(method, (PALETTE[2 + j], "^"))
        ax.errorbar(
            est,
            y,
            xerr=[est - sub["conf_low"].to_numpy(float), sub["conf_high"].to_numpy(float) - est],
            fmt=marker,
            color=color,
            capsize=2.5,
            lw=1.1,
            ms=4.5,
            label=tr(method, lang),
        )
    ax.set_yticks(range(pos), labels)
    for tick, header in zip(ax.get_yticklabels(), bold):
        tick.set_color("0.05" if header else "0.35")
    ax.set_ylim(pos - 0.5, -0.5)  # first dimension on top
    ax.axvline(0, color="0.3", lw=0.8, ls="--")
    if pooled is not None:
        ax.axvline(pooled, color="0.2", lw=1.0, ls=":", label=label("pooled", lang, value=pooled))
    ax.set_xlabel(tr("Effect on log exports (95% CI)", lang))
    ax.legend(fontsize=8, loc="lower right")
    return ax


def plot_heterogeneity(
    table: pd.DataFrame,
    pooled: float | None = None,
    title: str = "Heterogeneity of the pilot-zone effect",
    lang: str = "en",
):
    """Coefficient plot of :func:`analysis.studies.robustness.heterogeneity.heterogeneity` results."""
    n = table[["dimension", "group"]].drop_duplicates().shape[0] + table["dimension"].nunique()
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * n + 1.5))
    heterogeneity_axes(table, pooled, ax, lang)
    ax.set_title(tr(title, lang))
    fig.tight_layout()
    return fig


def plot_spec_curve(
    curve: pd.DataFrame,
    dims: list[str] | None = None,
    baseline: int | None = None,
    title: str = "Specification curve",
    lang: str = "en",
):
    """The ordered specification curve (estimates and 95% CIs, sorted) above the indicator panel
    (which choice each specification makes), as in Simonsohn, Simmons & Nelson (2020, Nature Human
    Behaviour 4). Blue: CI excludes zero; grey: it does not. ``baseline``: a ``spec_id`` to mark."""
    dims = [d for d in (dims or SPEC_DIMENSIONS) if d in curve.columns]
    # Sort on rounded estimates: specifications that differ only in the cluster level share the
    # estimate up to the last bit, which may differ between runs; spec_id then breaks the tie.
    c = (
        curve.assign(_order=curve["estimate"].round(10))
        .sort_values(["_order", "spec_id"], kind="mergesort")
        .reset_index(drop=True)
    )
    x = np.arange(len(c))
    options = [(d, o) for d in dims for o in dict.fromkeys(curve[d].astype(str))]
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        sharex=True,
        figsize=(9, 3.2 + 0.2 * len(options)),
        gridspec_kw={"height_ratios": [3.2, 0.2 * len(options) + 0.3]},
    )
    sig = (c["conf_low"] > 0) | (c["conf_high"] < 0)
    colors = [PALETTE[0] if s else (0.6, 0.6, 0.6) for s in sig]
    top.vlines(x, c["conf_low"], c["conf_high"], colors=colors, lw=0.8, alpha=0.6)
    top.scatter(x, c["estimate"], c=colors, s=8, zorder=3)
    top.axhline(0, color="0.3", lw=0.8, ls="--")
    top.axhline(
        c["estimate"].median(),
        color=PALETTE[3],
        lw=0.9,
        ls=":",
        label=label("median", lang, value=c["estimate"].median()),
    )
    if baseline is not None and (c["spec_id"] == baseline).any():
        i = int(np.flatnonzero(c["spec_id"] == baseline)[0])
        top.scatter(
            [x[i]],
            [c["estimate"].iloc[i]],
            marker="D",
            s=40,
            color=PALETTE[1],
            zorder=4,
            label=tr("baseline", lang),
        )
    top.set_ylabel(tr("Estimate (95% CI)", lang))
    top.set_title(tr(title, lang))
    top.legend(fontsize=8, loc="upper left")
    for k, (d, o) in enumerate(options):
        hit = (c[d].astype(str) == o).to_numpy()
        bottom.scatter(
            x[hit],
            np.full(hit.sum(), k),
            marker="|",
            s=30,
            color=PALETTE[dims.index(d) % len(PALETTE)],
        )
    bottom.set_yticks(
        range(len(options)), [spec_choice(d, o, lang) for d, o in options], fontsize=7
    )
    bottom.set_ylim(len(options) - 0.5, -0.5)
    bottom.set_xlabel(tr("Specifications, ordered by estimate", lang))
    bottom.grid(False)
    fig.tight_layout()
    return fig


def plot_estimates(
    summary: pd.DataFrame,
    truth: float | None = None,
    title: str = "Pilot-zone effect across robustness checks",
    lang: str = "en",
):
    """Forest plot of the headline estimate of each check (columns label, estimate, conf_low, conf_high)."""
    frame = summary.dropna(subset=["estimate"]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(frame) + 1.5))
    lo = frame["conf_low"].fillna(frame["estimate"])
    hi = frame["conf_high"].fillna(frame["estimate"])
    coefficient_axes(frame.assign(conf_low=lo, conf_high=hi), ax=ax, lang=lang)
    if truth is not None:
        ax.axvline(truth, color="black", lw=1.0, label=label("true_att", lang, value=truth))
        ax.legend(fontsize=8, loc="best")
    ax.set_title(tr(title, lang))
    fig.tight_layout()
    return fig


def plot_placebo(
    draws: pd.DataFrame, estimate: float, p_value: float, bins: int = 40, lang: str = "en"
):
    """Placebo (randomization-inference) distribution with the actual estimate."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.hist(
        draws["estimate"],
        bins=bins,
        density=True,
        color="0.75",
        edgecolor="white",
        label=tr("placebo estimates", lang),
    )
    ax.axvline(estimate, color=PALETTE[3], lw=2, label=label("actual", lang, value=estimate))
    ax.set_xlabel(tr("TWFE coefficient under placebo timing", lang))
    ax.set_ylabel(tr("Density", lang))
    ax.set_title(label("ri_title", lang, draws=len(draws), p=p_text(p_value, draws=len(draws))))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_bacon(two_by_twos: pd.DataFrame, twfe: float, lang: str = "en"):
    """Goodman-Bacon (2021) 2x2 estimates against their weights, by comparison type."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, (typ, sub) in enumerate(two_by_twos.groupby("type", sort=False)):
        ax.scatter(
            sub["weight"], sub["estimate"], color=PALETTE[i], label=tr(typ, lang), alpha=0.85
        )
    ax.axhline(twfe, color="black", lw=1, ls="--", label=label("twfe_line", lang, value=twfe))
    ax.set_xlabel(tr("Weight", lang))
    ax.set_ylabel(tr("2x2 DiD estimate", lang))
    ax.set_title(tr("Goodman-Bacon decomposition", lang))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_honestdid(sensitivity: pd.DataFrame, lang: str = "en"):
    """HonestDiD robust confidence sets by M (one panel per restriction; original CI at the left)."""
    deltas = [
        d for d in dict.fromkeys(sensitivity["delta"]) if isinstance(d, str) and d != "Original"
    ]
    orig = sensitivity[sensitivity["method"] == "Original"].iloc[0]
    fig, axes = plt.subplots(
        1, max(len(deltas), 1), figsize=(5.5 * max(len(deltas), 1), 4), squeeze=False
    )
    for ax, delta in zip(axes[0], deltas):
        res = sensitivity[sensitivity["delta"] == delta].sort_values("M")
        Ms = res["M"].to_numpy(float)
        gap = np.min(np.diff(Ms)) if len(Ms) > 1 else 1.0
        ax.errorbar(
            [Ms.min() - gap],
            [(orig["lb"] + orig["ub"]) / 2],
            yerr=[[(orig["ub"] - orig["lb"]) / 2]],
            fmt="none",
            color=PALETTE[3],
            capsize=4,
            label=tr("original", lang),
        )
        ax.errorbar(
            Ms,
            (res["lb"] + res["ub"]) / 2,
            yerr=(res["ub"] - res["lb"]) / 2,
            fmt="none",
            color=PALETTE[0],
            capsize=4,
            label=tr(str(res["method"].iloc[0]), lang),
        )
        ax.axhline(0, color="0.3", lw=0.8, ls="--")
        ax.set_xlabel(r"$\bar{M}$" if delta.startswith("DeltaRM") else "M")
        ax.set_title(tr(delta, lang) if lang == "zh" else DELTA_EN.get(delta, delta))
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel(tr("Robust 95% CI of the average post effect", lang))
    fig.tight_layout()
    return fig


def plot_balance(balance: pd.DataFrame, threshold: float = 0.1, lang: str = "en"):
    """Love plot of PSM covariate balance: |standardized mean difference| before and after matching."""
    b = balance.iloc[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(b) + 1.5))
    pos = np.arange(len(b))
    ax.scatter(
        b["smd_before"].abs(),
        pos,
        facecolors="none",
        edgecolors=PALETTE[3],
        label=tr("before matching", lang),
        zorder=3,
    )
    ax.scatter(
        b["smd_after"].abs(), pos, color=PALETTE[0], label=tr("after matching", lang), zorder=3
    )
    ax.axvline(threshold, color="0.5", ls="--", lw=1)
    names = b.index if "covariate" not in b.columns else b["covariate"]
    ax.set_yticks(pos, [covariate(str(n), lang) for n in names])
    ax.set_xlabel(tr("|standardized mean difference|", lang))
    ax.set_title(tr("Covariate balance (PSM)", lang))
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
