"""Figures of the interactive notebook (notebooks/learn/learn_staggered_did.py): estimates against
the known truth, the TWFE event study against the robust ones, and the Goodman-Bacon weights with
the forbidden comparisons marked. Each panel is an ``*_axes`` function (drawn into a given Axes)
and a ``plot_*`` function (its own figure); :func:`plot_dashboard` draws the three side by side,
one image per redraw. Every string goes through ``analysis.figures.labels`` (English and Chinese).

Drawn for speed as well as reading: a redraw of the notebook must stay under a second, so the
panels are plain scatter / errorbar artists (no seaborn), and ``tight_layout`` runs once."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figures.labels import label, tr
from analysis.figures.style import PALETTE, add_synthetic_badge

FORBIDDEN = ("Later vs Earlier Treated", "Later vs Always Treated")  # analysis.did.bacon types
DPI = 80  # the dashboard is drawn at the resolution it is shown at: one text layout per redraw
COLOURS = {"TWFE": PALETTE[3], "CS": PALETTE[0], "SA": PALETTE[2], "BJS": PALETTE[4]}


def estimates_axes(ax, table: pd.DataFrame, truth: float, truth_direct: float | None, lang="en"):
    """One row per estimator: estimate with 95% CI (filled) and the expected value without noise
    (hollow diamond), against the true total effect (solid) and the direct one (dashed)."""
    y = np.arange(len(table))[::-1]
    for yi, row in zip(y, table.itertuples()):
        colour = COLOURS.get(row.estimator, PALETTE[0])
        ax.errorbar(
            row.estimate,
            yi,
            xerr=[[row.estimate - row.conf_low], [row.conf_high - row.estimate]],
            fmt="o",
            color=colour,
            capsize=3,
            lw=1.4,
            ms=6,
        )
        ax.plot(row.expected, yi, marker="D", mfc="white", mec=colour, ms=7, ls="none", mew=1.5)
    ax.set_yticks(y, list(table["estimator"]))
    ax.set_ylim(-0.7, len(table) - 0.3)
    if np.isfinite(truth):
        ax.axvline(truth, color="black", lw=1.3, label=label("learn_truth", lang, value=truth))
    if truth_direct is not None and np.isfinite(truth_direct) and abs(truth_direct - truth) > 1e-9:
        ax.axvline(
            truth_direct,
            color="0.45",
            lw=1.1,
            ls="--",
            label=label("learn_truth_direct", lang, value=truth_direct),
        )
    ax.plot([], [], marker="o", color="0.3", ls="none", label=label("learn_estimate", lang))
    ax.plot(
        [], [], marker="D", mfc="white", mec="0.3", ls="none", label=label("learn_expected", lang)
    )
    ax.axvline(0, color="0.75", lw=0.8, ls=":")
    ax.set_xlabel(label("learn_att", lang))
    ax.set_title(label("learn_estimates_title", lang), fontsize=10, y=1.0)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(-0.05, -0.17), ncol=2, frameon=False)
    return ax


def event_studies_axes(ax, studies: dict[str, pd.DataFrame], truth: pd.Series | None, lang="en"):
    """Event-time estimates with 95% CIs (TWFE first, then the robust ones), the true effect by
    event time as a black line."""
    n = len(studies)
    for i, (name, es) in enumerate(studies.items()):
        x = es["event_time"].to_numpy() + (i - (n - 1) / 2) * 0.16
        ax.errorbar(
            x,
            es["estimate"],
            yerr=[es["estimate"] - es["conf_low"], es["conf_high"] - es["estimate"]],
            fmt="o" if name == "TWFE" else "s",
            color=COLOURS.get(name, PALETTE[i]),
            capsize=2,
            lw=1.0,
            ms=4,
            label=label("learn_twfe_es", lang) if name == "TWFE" else name,
        )
    if truth is not None and len(truth):
        ax.plot(truth.index, truth.to_numpy(), color="black", lw=1.4, label=label("truth", lang))
    ax.axhline(0, color="0.3", lw=0.8, ls="--")
    ax.axvline(-0.5, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel(label("event_time", lang))
    ax.set_ylabel(label("effect", lang))
    ax.set_title(label("learn_es_title", lang), fontsize=10, y=1.0)
    _legend(ax, fontsize=7, loc="upper left", ncol=2, frameon=False)
    return ax


def bacon_axes(ax, two_by_twos: pd.DataFrame, twfe: float, truth: float | None, lang="en"):
    """2x2 estimates against their weights in the uncontrolled TWFE coefficient; the forbidden
    comparisons (already-treated cities as controls) as red crosses, with their total weight."""
    two = two_by_twos
    forbidden = two["type"].isin(FORBIDDEN).to_numpy()
    for i, (typ, sub) in enumerate(two[~forbidden].groupby("type", sort=False)):
        ax.scatter(
            sub["weight"], sub["estimate"], s=26, color=PALETTE[i], alpha=0.85, label=tr(typ, lang)
        )
    if forbidden.any():
        bad = two[forbidden]
        ax.scatter(
            bad["weight"],
            bad["estimate"],
            s=42,
            marker="x",
            color="#c0392b",
            lw=1.6,
            label=label("learn_forbidden", lang, value=float(bad["weight"].sum())),
        )
    if np.isfinite(twfe):
        ax.axhline(twfe, color="0.2", lw=1, ls="--", label=label("twfe_line", lang, value=twfe))
    if truth is not None and np.isfinite(truth):
        ax.axhline(truth, color="black", lw=1.3, label=label("learn_truth", lang, value=truth))
    ax.axhline(0, color="0.75", lw=0.8, ls=":")
    ax.set_xlabel(tr("Weight", lang))
    ax.set_ylabel(tr("2x2 DiD estimate", lang))
    ax.set_title(label("learn_bacon_title", lang), fontsize=10, y=1.0)
    _legend(ax, fontsize=7, loc="upper right", frameon=False)
    return ax


def _legend(ax, **kw) -> None:
    """A legend when the panel has labelled artists (an empty design has none: no warning)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kw)


def plot_estimates_vs_truth(table, truth, truth_direct=None, lang: str = "en"):
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    estimates_axes(ax, table, truth, truth_direct, lang)
    fig.tight_layout()
    return fig


def plot_event_studies(studies, truth=None, lang: str = "en"):
    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    event_studies_axes(ax, studies, truth, lang)
    fig.tight_layout()
    return fig


def plot_bacon_weights(two_by_twos, twfe, truth=None, lang: str = "en"):
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    bacon_axes(ax, two_by_twos, twfe, truth, lang)
    fig.tight_layout()
    return fig


def plot_dashboard(
    table, truth, truth_direct, studies, truth_by_event, two_by_twos, twfe, lang: str = "en"
):
    """The three panels in one figure: estimates vs truth, event studies, Bacon weights. Laid out
    by hand (``tight_layout`` measures every text: a third of a redraw)."""
    fig, axes = plt.subplots(
        1, 3, figsize=(15, 4.6), dpi=DPI, gridspec_kw={"width_ratios": [0.8, 1.15, 1.0]}
    )
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.27, top=0.93, wspace=0.2)
    estimates_axes(axes[0], table, truth, truth_direct, lang)
    event_studies_axes(axes[1], studies, truth_by_event, lang)
    bacon_axes(axes[2], two_by_twos, twfe, truth, lang)
    add_synthetic_badge(fig, "synthetic", lang)  # simulated exports, whatever the knobs
    return fig


def png(fig, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes at its own size (no tight bounding box: one draw, not two), and
    closed: what the notebook shows on each redraw."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches=None)
    plt.close(fig)
    return buf.getvalue()
