"""HonestDiD sensitivity figure (Rambachan & Roth 2023): robust CIs of the target against M.

Input: the ``honestdid`` frame of :func:`analysis.studies.robustness.sensitivity.honest_sensitivity`
(columns M, lb, ub, method, delta; the conventional CI is the row with method "Original").
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figures.labels import label
from analysis.figures.style import PALETTE

__all__ = ["plot_honestdid"]

# restriction -> (title key, x-axis key)
_PANELS = {"DeltaSD": ("hd_sd_title", "hd_M"), "DeltaRM": ("hd_rm_title", "hd_Mbar")}


def plot_honestdid(
    table: pd.DataFrame,
    truth: float | None = None,
    benchmark: dict | None = None,
    lang: str = "en",
):
    """One panel per restriction (smoothness Delta^SD against M, relative magnitudes Delta^RM
    against Mbar): robust CIs by M, the conventional CI at the left of each panel, the zero line,
    the benchmark (``benchmark["M"]``: the largest pre-period slope change; Mbar = 1) as a dotted
    vertical line and, on simulated data, the true value of the same target (``truth``)."""
    deltas = [d for d in _PANELS if (table["delta"] == d).any()]
    if not deltas:
        raise ValueError("the HonestDiD table has no Delta^SD or Delta^RM rows")
    orig = table[table["method"] == "Original"].iloc[0]
    fig, axes = plt.subplots(1, len(deltas), figsize=(5.6 * len(deltas), 4.2), squeeze=False)
    for ax, delta in zip(axes[0], deltas):
        res = table[table["delta"] == delta].sort_values("M")
        Ms = res["M"].to_numpy(float)
        gap = float(np.min(np.diff(Ms))) if len(Ms) > 1 else 1.0
        x0 = Ms.min() - 1.5 * gap
        ax.errorbar(
            [x0],
            [(orig["lb"] + orig["ub"]) / 2],
            yerr=[[(orig["ub"] - orig["lb"]) / 2]],
            fmt="none",
            color=PALETTE[3],
            capsize=4,
            lw=2,
            label=label("hd_original", lang),
        )
        ax.errorbar(
            Ms,
            (res["lb"] + res["ub"]) / 2,
            yerr=(res["ub"] - res["lb"]) / 2,
            fmt="none",
            color=PALETTE[0],
            capsize=4,
            lw=2,
            label=label("hd_robust", lang),
        )
        ax.axhline(0, color="0.3", lw=0.8, ls="--")
        bench = None
        # the benchmark's source: the 80%-power slope of the pre-test ("power", the headline's
        # HonestDiD) or the largest pre-period bend / Mbar = 1 (the default)
        power = (benchmark or {}).get("source") == "power"
        if delta == "DeltaSD" and benchmark and benchmark.get("M"):
            key = "hd_benchmark_M_power" if power else "hd_benchmark_M"
            bench = (benchmark["M"], label(key, lang, value=benchmark["M"]))
        elif delta == "DeltaRM" and benchmark is not None:
            mbar = float(benchmark.get("Mbar", 1.0))
            key = "hd_benchmark_Mbar_power" if power else "hd_benchmark_Mbar"
            bench = (mbar, label(key, lang, value=mbar))
        if bench is not None:
            ax.axvline(bench[0], color=PALETTE[2], lw=1.2, ls=":", label=bench[1])
        if truth is not None and np.isfinite(truth):
            ax.axhline(
                truth, color=PALETTE[1], lw=1.2, ls="-.", label=label("hd_truth", lang, value=truth)
            )
        title, xlab = _PANELS[delta]
        ax.set_title(label(title, lang), fontsize=10)
        ax.set_xlabel(label(xlab, lang))
        ax.legend(fontsize=7, loc="upper left")
    axes[0][0].set_ylabel(label("hd_ylabel", lang))
    fig.tight_layout()
    return fig
