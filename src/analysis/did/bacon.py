"""Goodman-Bacon decomposition of the two-way fixed-effects DiD coefficient.

Goodman-Bacon, A. (2021). "Difference-in-differences with variation in treatment timing."
*Journal of Econometrics* 225(2), 254-277. Mirrors the uncontrolled case of the R package
``bacondecomp::bacon`` (Flack & Jee): same 2x2 comparisons, same type labels, same weights.

No maintained Python package implements the decomposition, so it is written here. On a balanced
panel every 2x2 TWFE coefficient equals the difference-in-differences of timing-group means, so
the whole decomposition works on the (group x period) table of means and needs no regressions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.did.fe import FEProjector
from analysis.did.results import tidy_frame

TYPE_TREATED_UNTREATED = "Treated vs Untreated"
TYPE_EARLY_LATE = "Earlier vs Later Treated"
TYPE_LATE_EARLY = "Later vs Earlier Treated"
TYPE_LATE_ALWAYS = "Later vs Always Treated"  # bacondecomp's label for the already-treated control
TYPES = [TYPE_TREATED_UNTREATED, TYPE_EARLY_LATE, TYPE_LATE_EARLY, TYPE_LATE_ALWAYS]
_COLOURS = dict(zip(TYPES, ["tab:blue", "tab:green", "tab:red", "tab:purple"]))


@dataclass
class BaconResult:
    """Goodman-Bacon decomposition: every 2x2 comparison, its estimate and weight."""

    two_by_twos: pd.DataFrame
    twfe: float
    n_obs: int
    n_units: int
    n_periods: int
    yname: str = "y"
    dname: str = "d"
    by_type: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        df = self.two_by_twos
        grouped = df.assign(we=df["estimate"] * df["weight"]).groupby("type", sort=False)
        by_type = pd.DataFrame({"weight": grouped["weight"].sum(), "we": grouped["we"].sum()})
        by_type["avg_estimate"] = by_type["we"] / by_type["weight"]
        order = [t for t in TYPES if t in by_type.index]
        self.by_type = by_type.loc[order, ["weight", "avg_estimate"]]

    # ------------------------------------------------------------------ derived quantities
    @property
    def weighted_sum(self) -> float:
        """sum(weight * estimate); equals the TWFE coefficient (Goodman-Bacon 2021, Theorem 1)."""
        return float(np.sum(self.two_by_twos["weight"] * self.two_by_twos["estimate"]))

    @property
    def weights_by_type(self) -> pd.Series:
        return self.by_type["weight"]

    def check(self, atol: float = 1e-8) -> bool:
        """True when the weighted 2x2 estimates reproduce the TWFE coefficient."""
        return bool(abs(self.weighted_sum - self.twfe) <= atol * max(1.0, abs(self.twfe)))

    # ------------------------------------------------------------------ presentation
    def tidy(self) -> pd.DataFrame:
        """One row per 2x2 comparison plus the TWFE total (no sampling uncertainty: SE = NaN)."""
        df = self.two_by_twos
        terms = [f"{t}: {g} vs {c}" for t, g, c in zip(df["type"], df["treated"], df["untreated"])]
        out = tidy_frame(
            terms + ["TWFE"], list(df["estimate"]) + [self.twfe], [np.nan] * (len(df) + 1)
        )
        out["weight"] = list(df["weight"]) + [1.0]
        return out

    def summary(self) -> str:
        tab = self.by_type.rename(columns={"weight": "weight", "avg_estimate": "avg_est"})
        lines = [
            f"Goodman-Bacon decomposition of TWFE: {self.yname} ~ {self.dname}",
            (
                f"N = {self.n_obs} ({self.n_units} units x {self.n_periods} periods), "
                f"{len(self.two_by_twos)} 2x2 comparisons"
            ),
            tab.round(5).to_string(),
            f"TWFE coefficient: {self.twfe:.7f}   sum(weight * estimate): {self.weighted_sum:.7f}",
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def plot(self, ax=None):
        """Scatter of 2x2 estimates against their weights, coloured by comparison type."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        for typ, sub in self.two_by_twos.groupby("type", sort=False):
            ax.scatter(
                sub["weight"], sub["estimate"], label=typ, color=_COLOURS.get(typ), alpha=0.8
            )
        ax.axhline(
            self.twfe, color="black", linestyle="--", linewidth=1, label=f"TWFE = {self.twfe:.4f}"
        )
        ax.set_xlabel("Weight")
        ax.set_ylabel("2x2 DD estimate")
        ax.legend(fontsize="small", frameon=False)
        return ax


def _cohorts(data: pd.DataFrame, dname: str, idname: str, tname: str) -> pd.Series:
    """First treated period per unit (inf = never treated); checks the design is absorbing."""
    d = data[dname].to_numpy()
    if not np.isin(d, (0, 1)).all():
        raise ValueError(f"{dname!r} must be a 0/1 treatment indicator")
    first = data.loc[data[dname] == 1].groupby(idname)[tname].min()
    g = data[idname].map(first).astype(float).fillna(np.inf)
    if not ((data[tname] >= g) == (data[dname] == 1)).all():
        raise ValueError(f"{dname!r} is not an absorbing (weakly increasing) treatment")
    return g


def bacon_decomposition(
    data: pd.DataFrame, yname: str, dname: str, idname: str, tname: str
) -> BaconResult:
    """Decompose the TWFE DiD coefficient of ``yname ~ dname | idname + tname`` (Goodman-Bacon 2021).

    Requires a balanced panel with a binary absorbing treatment; never-treated units (control
    ``inf``) and always-treated units (treated from the first period) are allowed. Each row of the
    result's ``two_by_twos`` is one comparison, exactly as ``bacondecomp::bacon`` lists them: every
    ordered pair (treated timing group, control timing group); the weights are rescaled to sum to 1.
    """
    df = data[[yname, dname, idname, tname]]
    if df.isna().any().any():
        raise ValueError("missing values in the decomposition variables")
    periods = np.sort(df[tname].unique())
    n_units = df[idname].nunique()
    if len(df) != n_units * len(periods) or df.duplicated([idname, tname]).any():
        raise ValueError("bacon_decomposition needs a balanced panel (one row per unit and period)")

    g = _cohorts(df, dname, idname, tname)
    # Table of timing-group x period outcome means and group sizes (units).
    ybar = df[yname].groupby([g.to_numpy(), df[tname].to_numpy()]).mean().unstack()
    ybar = ybar.reindex(columns=periods)
    sizes = df.groupby(g.to_numpy())[idname].nunique()
    groups = ybar.index.to_numpy()
    t0 = periods[0]

    rows = []
    for k in groups:  # treated group
        if not np.isfinite(k) or k == t0:  # never/always treated have no own variation
            continue
        for c in groups:  # control group
            if c == k:
                continue
            if c > k:  # control not yet treated: window before c
                window = periods < c
            else:  # control already treated: window from c onwards
                window = periods >= c
            post = periods[window] >= k
            yk, yc = ybar.loc[k].to_numpy()[window], ybar.loc[c].to_numpy()[window]
            # 2x2 DD of group means == TWFE on the balanced two-group subsample.
            est = (yk[post].mean() - yk[~post].mean()) - (yc[post].mean() - yc[~post].mean())
            # Weight: (subsample size)^2 x variance of two-way demeaned D in the subsample,
            # i.e. bacondecomp's calculate_weights with within-window treatment shares.
            n_k, n_c = sizes[k] * window.sum(), sizes[c] * window.sum()
            share = n_k / (n_k + n_c)
            d_var = post.mean()  # share of the window in which the switching group is treated
            w = (n_k + n_c) ** 2 * share * (1 - share) * d_var * (1 - d_var)
            if not np.isfinite(c):
                typ = TYPE_TREATED_UNTREATED
            elif c == t0:
                typ = TYPE_LATE_ALWAYS
            elif k > c:
                typ = TYPE_LATE_EARLY
            else:
                typ = TYPE_EARLY_LATE
            rows.append((k, c, typ, est, w))

    two = pd.DataFrame(rows, columns=["treated", "untreated", "type", "estimate", "weight"])
    two["weight"] /= two["weight"].sum()
    return BaconResult(
        two_by_twos=two,
        twfe=_twfe(df, yname, dname, idname, tname),
        n_obs=len(df),
        n_units=n_units,
        n_periods=len(periods),
        yname=yname,
        dname=dname,
    )


def _twfe(df: pd.DataFrame, yname: str, dname: str, idname: str, tname: str) -> float:
    """TWFE coefficient by the fixed-effects kernel (exact closed form on the balanced panel)."""
    unit = pd.factorize(df[idname])[0]
    time = pd.factorize(df[tname])[0]
    z = FEProjector(unit, time).demean_fe(df[[dname, yname]].to_numpy(float))
    return float(z[:, 0] @ z[:, 1] / (z[:, 0] @ z[:, 0]))
