"""Robustness figures: coefficient plots, the specification curve and the diagnostics of the
robustness checklist. Each function takes tidy frames (as returned by
``analysis.studies.robustness.checklist.robustness_study``) and returns a matplotlib Figure; nothing global
is changed (call ``style.use_house_style()`` once in the notebook)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figures.labels import covariate, label, p_text, tr
from analysis.figures.style import PALETTE


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


def plot_estimates(
    summary: pd.DataFrame,
    truth: float | None = None,
    truth_direct: float | None = None,
    title: str = "Pilot-zone effect across robustness checks",
    lang: str = "en",
):
    """Forest plot of the headline estimate of each check (columns label, estimate, conf_low,
    conf_high). ``truth``: the true ATT (simulation); ``truth_direct``: the true effect with GDP
    held on its untreated path, which estimators with GDP in their model target (dashed line)."""
    frame = summary.dropna(subset=["estimate"]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(10, 0.4 * len(frame) + 2.2))
    lo = frame["conf_low"].fillna(frame["estimate"])
    hi = frame["conf_high"].fillna(frame["estimate"])
    coefficient_axes(frame.assign(conf_low=lo, conf_high=hi), ax=ax, lang=lang)
    if truth is not None:
        ax.axvline(truth, color="black", lw=1.0, label=label("true_att", lang, value=truth))
    if truth_direct is not None:
        ax.axvline(
            truth_direct,
            color="0.4",
            lw=1.0,
            ls="--",
            label=label("true_att_direct", lang, value=truth_direct),
        )
    if truth is not None or truth_direct is not None:
        # below the axes: inside, it would cover the rows' labels or intervals
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    ax.set_title(tr(title, lang))
    fig.tight_layout()
    return fig


def plot_placebo(
    draws: pd.DataFrame, statistic: float, p_value: float, bins: int = 40, lang: str = "en"
):
    """Randomization inference of the headline: the placebo distribution of the studentized BJS
    ATT (column ``t_stat``) with the actual t statistic."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    values = draws["t_stat"].dropna()
    ax.hist(
        values,
        bins=bins,
        density=True,
        color="0.65",
        edgecolor="white",
        linewidth=0.3,
        label=tr("placebo t statistics", lang),
    )
    ax.axvline(statistic, color=PALETTE[3], lw=2, label=label("actual_t", lang, value=statistic))
    ax.set_xlabel(tr("t statistic of the BJS ATT under placebo timing", lang))
    ax.set_ylabel(tr("Density", lang))
    ax.set_title(label("ri_title", lang, draws=len(values), p=p_text(p_value, draws=len(values))))
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


def plot_balance(balance: pd.DataFrame, threshold: float = 0.1, lang: str = "en"):
    """Love plot of the doubly-robust ATT's covariate balance: |standardized mean difference|
    between treated and control cities before and after inverse-propensity weighting (columns
    covariate, smd_before, smd_after; :func:`analysis.did.drdid.ipw_balance`)."""
    b = balance.iloc[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(b) + 1.5))
    pos = np.arange(len(b))
    ax.scatter(
        b["smd_before"].abs(),
        pos,
        facecolors="none",
        edgecolors=PALETTE[3],
        label=tr("before weighting", lang),
        zorder=3,
    )
    ax.scatter(
        b["smd_after"].abs(), pos, color=PALETTE[0], label=tr("after weighting", lang), zorder=3
    )
    ax.axvline(threshold, color="0.5", ls="--", lw=1)
    names = b.index if "covariate" not in b.columns else b["covariate"]
    ax.set_yticks(pos, [covariate(str(n), lang) for n in names])
    ax.set_xlabel(tr("|standardized mean difference|", lang))
    ax.set_title(tr("Covariate balance (inverse-propensity weights)", lang))
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
