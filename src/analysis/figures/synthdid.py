"""The synthetic difference-in-differences figure (R synthdid's ``synthdid_plot`` and
``synthdid_controls`` in one): trajectories with the time weights and the 2x2 diagram, and the unit
weights. Every string goes through ``analysis.figures.labels`` (drawn in English and Chinese)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np

from analysis.figures.labels import label
from analysis.figures.style import PALETTE

if TYPE_CHECKING:  # pragma: no cover
    from analysis.did.synthdid import SynthDIDResult


def plot_synthdid(
    fit: SynthDIDResult, lang: str = "en", ylabel: str | None = None, max_units: int = 15
):
    """Left: the treated average and the synthetic control (``omega``-weighted controls) by period,
    the time weights ``lambda`` as a ribbon along the bottom, and, as R ``synthdid_plot``, the 2x2
    diagram: ``lambda``-weighted pre-period and average post-period values of both curves, the
    synthetic control's change added to the treated pre-period value (dashed), and the effect as an
    arrow (SC: the arrow only, there are no time weights). Right: the largest unit weights (those
    reaching 90% of the mass, at most ``max_units``). ``ylabel`` is shown as given (default: a
    generic label)."""
    traj = fit.trajectories()
    times = traj["time"].to_numpy()
    x = times.astype(float) if np.issubdtype(times.dtype, np.number) else np.arange(len(times))
    T0 = fit.T0
    lam = np.concatenate([fit.time_weights.to_numpy(), np.zeros(len(x) - T0)])
    post = np.concatenate([np.zeros(T0), np.full(len(x) - T0, 1.0 / (len(x) - T0))])
    treated, synthetic = traj["treated"].to_numpy(), traj["synthetic"].to_numpy()

    fig, (ax, axw) = plt.subplots(1, 2, figsize=(11, 4.3), gridspec_kw={"width_ratios": [2.2, 1]})
    c_tr, c_sc = PALETTE[0], PALETTE[1]
    ax.plot(x, treated, color=c_tr, lw=1.8, label=label("sdid_treated", lang))
    ax.plot(x, synthetic, color=c_sc, lw=1.8, label=label("sdid_synthetic", lang))
    onset = (x[T0 - 1] + x[T0]) / 2
    ax.axvline(onset, color="0.5", lw=0.8, ls=":", label=label("sdid_onset", lang))

    post_x, post_tr, post_sc = post @ x, post @ treated, post @ synthetic
    if lam.sum() > 0:
        pre_x, pre_tr, pre_sc = lam @ x, lam @ treated, lam @ synthetic
        counterfactual = post_sc + pre_tr - pre_sc
        ax.plot([pre_x, post_x], [pre_sc, post_sc], color=c_sc, lw=1, marker="o", ms=4)
        ax.plot([pre_x, post_x], [pre_tr, post_tr], color=c_tr, lw=1, marker="o", ms=4)
        ax.plot([pre_x, post_x], [pre_tr, counterfactual], color=c_sc, lw=1, ls="--")
        for xx, lo, hi in ((pre_x, pre_sc, pre_tr), (post_x, post_sc, counterfactual)):
            ax.plot([xx, xx], [lo, hi], color="0.4", lw=0.8, ls="--")
    else:  # SC: no time weights, the effect is the post-period gap
        counterfactual = post_sc
    ax.annotate(
        "",
        xy=(post_x, post_tr),
        xytext=(post_x, counterfactual),
        arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.5},
    )
    ax.text(
        post_x,
        (post_tr + counterfactual) / 2,
        " " + label("sdid_effect", lang, value=fit.att),
        fontsize=9,
        bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1},
    )

    lo, hi = ax.get_ylim()
    if lam.sum() > 0:
        height = 0.25 * (hi - lo) * lam / lam.max()
        ax.fill_between(
            x,
            lo,
            lo + height,
            step="mid",
            color=c_sc,
            alpha=0.3,
            lw=0,
            label=label("sdid_time_weights", lang),
        )
        ax.set_ylim(lo, hi)
    if not np.issubdtype(times.dtype, np.number):
        ax.set_xticks(x, [str(t) for t in times], rotation=90, fontsize=7)
    ax.set_xlabel(label("sdid_period", lang))
    ax.set_ylabel(ylabel or label("sdid_outcome", lang))
    ax.set_title(label(f"sdid_{fit.estimator}", lang))
    ax.legend(fontsize=8, loc="best")

    top = fit.controls(mass=0.9, weight_type="omega").iloc[:max_units]
    axw.barh(np.arange(len(top))[::-1], top.to_numpy(), color=c_sc)
    axw.set_yticks(np.arange(len(top))[::-1], [str(u) for u in top.index], fontsize=8)
    axw.set_xlabel(label("sdid_unit_weights", lang))
    axw.set_title(label("sdid_weights_title", lang), fontsize=10)
    fig.tight_layout()
    return fig
