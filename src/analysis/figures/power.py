"""Figure of the design notebook: power curves of each estimator against the true effect size."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from analysis.figures.labels import label
from analysis.figures.style import PALETTE

ORDER = ("headline", "bjs", "cs", "sa", "twfe")


def power_curve_frame(result: dict) -> pd.DataFrame:
    """The power curves of :func:`analysis.studies.power.power_study` as one long frame:
    ``treatment``, ``estimator`` (id), ``shape``, ``effect``, ``power``, ``mc_se``."""
    rows = []
    for treatment, rec in result["treatments"].items():
        for key, est in rec.get("estimators", {}).items():
            for shape, summary in est.get("shapes", {}).items():
                rows += [
                    {"treatment": treatment, "estimator": key, "shape": shape, **point}
                    for point in summary["power_curve"]
                ]
    return pd.DataFrame(
        rows, columns=["treatment", "estimator", "shape", "effect", "power", "mc_se"]
    )


def plot_power_curves(
    curves: pd.DataFrame,
    truth: dict[str, float] | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
    lang: str = "en",
):
    """One panel per treatment (rows) and effect shape (columns): the rejection rate of each
    estimator's 5% test against the true overall ATT, with a band of +-2 Monte Carlo SEs; dotted
    lines at the target power and at the test's size, and the true ATT of a synthetic panel."""
    treatments = list(dict.fromkeys(curves["treatment"]))
    shapes = list(dict.fromkeys(curves["shape"]))
    fig, axes = plt.subplots(
        len(treatments), len(shapes), figsize=(5.2 * len(shapes), 3.6 * len(treatments)),
        squeeze=False,
    )  # fmt: skip
    for i, treatment in enumerate(treatments):
        for j, shape in enumerate(shapes):
            ax = axes[i, j]
            panel = curves[(curves["treatment"] == treatment) & (curves["shape"] == shape)]
            for k, key in enumerate(e for e in ORDER if e in set(panel["estimator"])):
                c = panel[panel["estimator"] == key].sort_values("effect")
                color = PALETTE[k % len(PALETTE)]
                ax.plot(c["effect"], c["power"], color=color, lw=2.2 if key == "headline" else 1.3,
                        label=label(f"pw_{key}", lang))  # fmt: skip
                ax.fill_between(c["effect"], (c["power"] - 2 * c["mc_se"]).clip(0, 1),
                                (c["power"] + 2 * c["mc_se"]).clip(0, 1), color=color,
                                alpha=0.15, lw=0)  # fmt: skip
            ax.axhline(power, color="0.4", ls=":", lw=1)
            ax.axhline(alpha, color="0.6", ls=":", lw=0.8)
            if truth and truth.get(treatment) is not None:
                ax.axvline(truth[treatment], color="black", ls="--", lw=1,
                           label=label("pw_truth", lang, value=truth[treatment]))  # fmt: skip
            ax.set_ylim(0, 1.02)
            ax.set_xlim(left=0)
            ax.set_title(f"{label(treatment, lang)}: {label(f'pw_{shape}', lang)}", fontsize=10)
            if i == len(treatments) - 1:
                ax.set_xlabel(label("pw_effect", lang))
            if j == 0:
                ax.set_ylabel(label("pw_power", lang))
            if j == len(shapes) - 1:
                ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
