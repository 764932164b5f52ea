"""Figures of estimated effects against the known truth. Every string goes through
``analysis.figures.labels`` (each figure is drawn in English and in Chinese)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figures.labels import LABELS, label, tr
from analysis.figures.style import PALETTE, event_study_axes

LABEL_KEYS = frozenset(LABELS["en"])


def plot_event_study(
    estimates: dict[str, pd.DataFrame], truth: pd.Series | None, title: str, lang: str = "en"
):
    """Event-study estimates (one tidy frame per estimator, columns event_time/estimate/conf_low/
    conf_high; keys are the estimators' English names) with the true effect by event time where the
    data are synthetic. ``title``: a key of ``labels.LABELS`` or a string shown as given."""
    fig, ax = plt.subplots(figsize=(7.5, 4.3))
    n = len(estimates)
    for i, (name, tidy) in enumerate(estimates.items()):
        event_study_axes(
            tidy,
            ax=ax,
            label=tr(name, lang),
            color=PALETTE[i],
            offset=(i - (n - 1) / 2) * 0.15,
            lang=lang,
        )
    if truth is not None:
        ax.plot(
            truth.index,
            truth.to_numpy(),
            color="black",
            marker="_",
            ms=14,
            lw=1.2,
            ls="-",
            label=label("truth", lang),
        )
    ax.set_xlabel(label("event_time", lang))
    ax.set_ylabel(label("effect", lang))
    ax.set_title(label(title, lang) if title in LABEL_KEYS else title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_dose_response(
    spline: pd.DataFrame, bins: pd.DataFrame, lang: str = "en", title: str = "dose_title"
):
    """Dose-response in broadband users per 100 people: the headline curve (line, 95% band; the
    study passes the piecewise-linear-in-log-dose fit), quantile bins (points, 95% CI), and the true curve (elasticity x log dose ratio) where the data are
    synthetic. Frames carry columns dose / estimate / conf_low / conf_high and optionally truth.
    ``title``: a key of ``labels.LABELS`` or a string shown as given."""
    fig, ax = plt.subplots(figsize=(7.5, 4.3))
    ax.plot(spline["dose"], spline["estimate"], color=PALETTE[0], lw=2, label=label("spline", lang))
    ax.fill_between(
        spline["dose"], spline["conf_low"], spline["conf_high"], color=PALETTE[0], alpha=0.2
    )
    ax.errorbar(
        bins["dose"],
        bins["estimate"],
        yerr=[bins["estimate"] - bins["conf_low"], bins["conf_high"] - bins["estimate"]],
        fmt="s",
        capsize=3,
        color=PALETTE[1],
        label=label("bins", lang),
    )
    if "truth" in spline:
        ax.plot(
            spline["dose"],
            spline["truth"],
            color="black",
            lw=1.2,
            ls="--",
            label=label("truth", lang),
        )
    ax.axhline(0, color="0.3", lw=0.8, ls=":")
    ax.set_xlabel(label("dose", lang))
    ax.set_ylabel(label("dose_effect", lang))
    ax.set_title(label(title, lang) if title in LABEL_KEYS else title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_simulation_draws(draws: pd.DataFrame, lang: str = "en"):
    """Estimates minus the truth, one point per simulated panel, by design (panels) and estimator
    (rows)."""
    designs = list(dict.fromkeys(draws["design"]))
    fig, axes = plt.subplots(
        1, len(designs), figsize=(5.4 * len(designs), 3.4), sharex=True, sharey=True
    )
    axes = [axes] if len(designs) == 1 else axes
    frame = draws.assign(error=draws["estimate"] - draws["truth"])
    for ax, design in zip(axes, designs):
        sub = frame[frame["design"] == design]
        rng = np.random.default_rng(0)  # seeded jitter: figure files must be identical across runs
        estimators = list(dict.fromkeys(sub["estimator"]))
        for i, est in enumerate(estimators):
            x = sub.loc[sub["estimator"] == est, "error"].to_numpy()
            ax.scatter(x, i + rng.uniform(-0.15, 0.15, len(x)), s=22, color=PALETTE[i], alpha=0.8)
        ax.set_yticks(range(len(estimators)), [tr(e, lang) for e in estimators])
        ax.set_ylim(-0.6, len(estimators) - 0.4)
        ax.axvline(0, color="black", lw=1.2)
        ax.set_title(tr(design, lang), fontsize=10)
        ax.set_xlabel(label("sim_error", lang))
        ax.set_ylabel("")
    fig.tight_layout()
    return fig
