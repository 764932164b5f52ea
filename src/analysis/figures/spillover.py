"""The spillover figure (issue 19): the pilot zones' direct effect with and without the ring
design, the spillover by distance ring, and the spillover event study. Every string goes through
``analysis.figures.labels`` (drawn in English and Chinese)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figures.labels import label
from analysis.figures.style import PALETTE, event_study_axes


def _term_label(term: str, lang: str) -> str:
    if term == "naive":
        return label("spill_naive", lang)
    if term == "direct":
        return label("spill_direct", lang)
    lo, hi = term.removeprefix("ring::[").removesuffix(")").split(",")
    return label("spill_ring", lang, value=f"{lo}-{hi}")


def plot_spillover(effects: pd.DataFrame, event_study=None, rings=None, lang: str = "en"):
    """Left: estimates with 95% intervals (``effects``: term, estimate, conf_low, conf_high,
    truth): the naive direct effect, the ring design's direct effect, the spillover by ring and
    pooled, with the truth where known. Right: the pooled spillover by years since first exposure
    (``event_study``: records or frame with event_time, estimate, conf_low, conf_high, truth)."""
    fig, (ax, axe) = plt.subplots(1, 2, figsize=(12, 4.3), gridspec_kw={"width_ratios": [1.1, 1]})
    frame = pd.DataFrame(effects).reset_index(drop=True)
    outer = f"{float(rings[-1]):g}" if rings is not None else "?"
    names = []
    for term in frame["term"]:
        if term == "spillover_pooled":
            names.append(label("spill_ring", lang, value=f"0-{outer}"))
        else:
            names.append(_term_label(term, lang))
    y = np.arange(len(frame))[::-1]
    colours = [PALETTE[1] if t == "naive" else PALETTE[0] if t == "direct" else PALETTE[2]
               for t in frame["term"]]  # fmt: skip
    for yy, (_, row), colour in zip(y, frame.iterrows(), colours):
        ax.errorbar(row["estimate"], yy, xerr=[[row["estimate"] - row["conf_low"]],
                    [row["conf_high"] - row["estimate"]]], fmt="o", color=colour, capsize=3)  # fmt: skip
    if "truth" in frame and frame["truth"].notna().any():
        ax.scatter(frame["truth"], y, marker="|", s=220, color="black", zorder=4,
                   label=label("truth", lang))  # fmt: skip
        ax.legend(fontsize=8, loc="best")
    ax.axvline(0, color="0.3", lw=0.8, ls="--")
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlabel(label("spill_effect", lang))
    ax.set_title(label("spill_title", lang), fontsize=10)
    if event_study is not None and len(event_study):
        es = pd.DataFrame(event_study)
        event_study_axes(es, ax=axe, color=PALETTE[2], lang=lang)
        if "truth" in es and es["truth"].notna().any():
            axe.plot(es["event_time"], es["truth"], color="black", marker="_", ms=14, lw=0,
                     mew=2, label=label("truth", lang))  # fmt: skip
            axe.legend(fontsize=8)
        axe.axvline(-0.5, color="0.6", lw=0.8, ls=":")
        axe.set_xlabel(label("spill_since", lang))
    axe.set_title(label("spill_es_title", lang), fontsize=10)
    fig.tight_layout()
    return fig
