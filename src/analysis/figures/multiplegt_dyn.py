"""Event-study figure of de Chaisemartin & D'Haultfoeuille's ``did_multiplegt_dyn`` estimators
(:class:`analysis.did.multiplegt_dyn.MultiplegtDynResult.plot`). Every string goes through
``analysis.figures.labels`` (each figure is drawn in English and in Chinese)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from analysis.figures.labels import LABELS, label, tr
from analysis.figures.style import PALETTE, event_study_axes

LABEL_KEYS = frozenset(LABELS["en"])


def plot_multiplegt_dyn(
    event_study: pd.DataFrame,
    lang: str = "en",
    title: str | None = None,
    label: str | None = None,
    ax=None,
    color=None,
):
    """Effects (event time ``l - 1`` for effect ``l``) and placebos (``-1 - l`` for placebo ``l``)
    with their CIs, from :meth:`MultiplegtDynResult.event_study`; the reference period ``F_g - 1``
    (event time -1) is drawn as a hollow point at zero, as the reference's graph. ``title`` and
    ``label``: keys of ``labels.LABELS`` or strings shown as given (``label`` names the series in
    a legend, e.g. when several results share ``ax``). Returns the figure."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 4.3))
    else:
        fig = ax.figure
    color = PALETTE[0] if color is None else color
    name = None if label is None else _text(label, lang)
    event_study_axes(event_study, ax=ax, label=name, color=color, lang=lang)
    ax.plot([-1], [0.0], "o", mfc="white", mec=color, ms=5)
    if title is not None:
        ax.set_title(_text(title, lang))
    if name is not None:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _text(key_or_text: str, lang: str) -> str:
    return label(key_or_text, lang) if key_or_text in LABEL_KEYS else tr(key_or_text, lang)
