"""Heterogeneity figure: group ATTs of the headline imputation estimator, each group's own cell
weights (raw) beside common cell weights (effect modification), per dimension.

Input: the ``table`` of :func:`analysis.studies.robustness.heterogeneity.heterogeneity`
(``dimension, group, estimate, conf_low, conf_high, estimate_common_weights,
conf_low_common_weights, conf_high_common_weights``) and optionally its ``tests`` frame, whose
p-values (with the stepdown adjusted p-values across the dimensions) and the largest minimum
detectable difference of the modification contrasts are added to each dimension's header. Returns a matplotlib Figure; nothing global is
changed (call ``style.use_house_style()`` once in the notebook).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figures.labels import label, p_text, tr
from analysis.figures.style import PALETTE

__all__ = ["heterogeneity_axes", "plot_heterogeneity"]

# (column prefix suffix, legend text, colour, marker)
SERIES = (
    ("", "group's own cell weights (raw)", PALETTE[0], "o"),
    ("_common_weights", "common cell weights (effect modification)", PALETTE[1], "s"),
)


# words of the header this module adds (the shared vocabulary is analysis.figures.labels)
_WORDS = {
    "en": {"adjusted": "adj.", "mdd": "MDD"},
    "zh": {"adjusted": "校正后", "mdd": "最小可检测差异"},
}


def _header(dim: str, tests: pd.DataFrame | None, lang: str) -> str:
    """The tests of a dimension, printed on its header row: raw and common-weight p-values, each
    with its stepdown adjusted p-value across the dimensions, and the largest MDD of the
    modification contrasts (empty without tests)."""
    if tests is None or dim not in set(tests["dimension"]):
        return ""
    row = tests.set_index("dimension").loc[dim]
    words = _WORDS.get(lang, _WORDS["en"])

    def with_adjusted(kind: str) -> str:
        p = float(row[f"{kind}_p"])
        adj = row.get(f"{kind}_p_adjusted")
        out = p_text(p)
        if adj is not None and np.isfinite(adj):
            out += f" [{words['adjusted']} {p_text(float(adj))}]"
        return out

    raw, mod = row["raw_p"], row["modification_p"]
    if not np.isfinite(raw):
        return ""
    parts = [f"{tr('raw', lang)} {with_adjusted('raw')}"]
    if np.isfinite(mod):
        parts.append(f"{tr('common', lang)} {with_adjusted('modification')}")
    hi = row.get("modification_mdd_max")
    if hi is not None and np.isfinite(hi):
        parts.append(f"{words['mdd']} ≤ {float(hi):.3f}")
    return ("；" if lang == "zh" else "; ").join(parts)


def heterogeneity_axes(
    table: pd.DataFrame,
    pooled: float | None = None,
    ax=None,
    lang: str = "en",
    tests: pd.DataFrame | None = None,
):
    """Group effects by dimension (header rows dark, groups indented and grey), raw and
    common-weight estimates side by side. (No bold: the CJK font has no bold face.)"""
    dims = list(dict.fromkeys(table["dimension"]))
    rows, labels, header = {}, [], []
    pos = 0
    notes = {}
    for dim in dims:  # top to bottom: a header, then the groups of the dimension
        labels.append(tr(dim, lang))
        notes[pos] = _header(dim, tests, lang)
        header.append(True)
        pos += 1
        for group in dict.fromkeys(table.loc[table["dimension"] == dim, "group"]):
            rows[(dim, group)] = pos
            labels.append("   " + tr(str(group), lang))
            header.append(False)
            pos += 1
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.32 * pos + 1.2))
    for j, (suffix, legend, color, marker) in enumerate(SERIES):
        cols = [f"estimate{suffix}", f"conf_low{suffix}", f"conf_high{suffix}"]
        if cols[0] not in table:
            continue
        sub = table.dropna(subset=cols)
        y = np.array([rows[(d, g)] for d, g in zip(sub["dimension"], sub["group"])], float)
        y = y + (j - 0.5) * 0.25
        est, lo, hi = (sub[c].to_numpy(float) for c in cols)
        ax.errorbar(
            est,
            y,
            xerr=[est - lo, hi - est],
            fmt=marker,
            color=color,
            capsize=2.5,
            lw=1.1,
            ms=4.5,
            label=tr(legend, lang),
        )
    ax.set_yticks(range(pos), labels)
    for tick, is_header in zip(ax.get_yticklabels(), header):
        tick.set_color("0.05" if is_header else "0.35")
    ax.set_ylim(pos - 0.5, -0.5)  # first dimension on top
    # the tests on the header rows (no estimates there), inside the axes: as tick labels they
    # would squeeze the plot
    for y, note in notes.items():
        if note:
            ax.text(
                0.01, y, note, transform=ax.get_yaxis_transform(), fontsize=7, va="center",
                color="0.15", bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
            )  # fmt: skip
    ax.axvline(0, color="0.3", lw=0.8, ls="--")
    if pooled is not None:
        ax.axvline(pooled, color="0.2", lw=1.0, ls=":", label=label("pooled", lang, value=pooled))
    ax.set_xlabel(tr("Effect on log exports (95% CI)", lang))
    # below the axes: inside, it would cover the lowest groups' intervals
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, frameon=False)
    return ax


def plot_heterogeneity(
    table: pd.DataFrame,
    pooled: float | None = None,
    lang: str = "en",
    tests: pd.DataFrame | None = None,
    title: str = "Heterogeneity of the pilot-zone effect",
):
    """Coefficient plot of the heterogeneity results (see the module docstring). ``tests``: the
    tests frame (or its records, as the results file holds them)."""
    if tests is not None and not isinstance(tests, pd.DataFrame):
        tests = pd.DataFrame(list(tests))
    n = table[["dimension", "group"]].drop_duplicates().shape[0] + table["dimension"].nunique()
    fig, ax = plt.subplots(figsize=(8.5, 0.32 * n + 2.0))
    heterogeneity_axes(table, pooled, ax, lang, tests)
    ax.set_title(tr(title, lang))
    fig.tight_layout()
    return fig
