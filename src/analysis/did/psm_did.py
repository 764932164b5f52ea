"""PSM-DID: propensity-score matching on pre-period covariates, then TWFE DiD on the matched sample.

Steps (Heckman, Ichimura & Todd 1997 "Matching as an econometric evaluation estimator", REStud 64;
Rosenbaum & Rubin 1983/1985 for the propensity score and the 0.25-sd caliper; Austin 2009/2011 for
standardized differences and variance ratios as balance diagnostics):

1. unit-level covariates: means over the common pre-period (years before the first adoption) or
   the values in a baseline year;
2. logit propensity score of being ever treated (statsmodels ``Logit``);
3. matching on the logit score (or the score): nearest neighbour(s) within a caliper, with or
   without replacement, or Epanechnikov kernel matching; the result is a weight per unit
   (treated 1, controls the number/kernel share of treated they stand in for);
4. TWFE DiD with unit and year effects on the matched units, weighted by the matching weights (the
   fixed-effects kernel ``analysis.did.fe.fit_within``), standard errors clustered (by unit unless
   ``cluster`` is given) with linearmodels ``PanelOLS``'s default small-sample convention.

Hand-written matching: none of the project's dependencies (statsmodels, linearmodels, pyfixest)
offers caliper / kernel matching on a given score with ATT weights, and it is a few vectorised lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm

from analysis.did.fe import (
    PANELOLS_DEFAULT,
    WithinFit,
    encode_panel,
    fit_within,
    treatment_from_cohort,
)
from analysis.did.results import tidy_frame

__all__ = ["PSMDiDResult", "balance_table", "match_units", "psm_did", "unit_covariates"]


# --------------------------------------------------------------------------- covariates / score
def unit_covariates(
    df: pd.DataFrame,
    idname: str,
    tname: str,
    covariates: list[str],
    pre_period: str | int = "pre",
    first_adoption: float | None = None,
) -> pd.DataFrame:
    """Unit-level covariates: means over ``t < first_adoption`` ("pre") or values in a baseline year."""
    if pre_period == "pre":
        if first_adoption is None:
            raise ValueError("first_adoption is needed for the pre-period means")
        pre = df[df[tname] < first_adoption]
        if pre.empty:
            raise ValueError("no observations before the first adoption; pass a baseline year")
    else:
        pre = df[df[tname] == pre_period]
        if pre.empty:
            raise ValueError(f"no observations in baseline year {pre_period}")
    return pre.groupby(idname)[covariates].mean()


def _epanechnikov(u: np.ndarray) -> np.ndarray:
    return np.where(np.abs(u) < 1, 0.75 * (1 - u**2), 0.0)


def match_units(
    score: np.ndarray,
    treated: np.ndarray,
    method: str = "nearest",
    n_neighbors: int = 1,
    caliper: float | None = 0.25,
    replace: bool = True,
    bandwidth: float = 0.25,
    scale: str = "sd",
    seed: int | None = 0,
) -> np.ndarray:
    """ATT matching weights per unit on a 1-d distance ``score``.

    ``caliper`` and ``bandwidth`` are multiples of the s.d. of ``score`` when ``scale="sd"``
    (Rosenbaum & Rubin 1985: 0.25 sd of the logit score), absolute when ``scale="absolute"``.
    Treated units without a control inside the caliper / bandwidth get weight 0 (off support).
    Without replacement, treated units are matched greedily in a random order (``seed``).
    """
    score = np.asarray(score, dtype=float)
    treated = np.asarray(treated, dtype=bool)
    sd = score.std(ddof=1) if scale == "sd" else 1.0
    it, ic = np.flatnonzero(treated), np.flatnonzero(~treated)
    dist = np.abs(score[it][:, None] - score[ic][None, :])  # (n_treated, n_control)
    w = np.zeros(len(score))
    if method == "kernel":
        k = _epanechnikov(dist / (bandwidth * sd))
        tot = k.sum(axis=1)
        ok = tot > 0
        w[ic] = (k[ok] / tot[ok, None]).sum(axis=0)
        w[it[ok]] = 1.0
        return w
    if method != "nearest":
        raise ValueError("method must be 'nearest' or 'kernel'")
    cal = np.inf if caliper is None else caliper * sd
    if replace:
        nn = np.argsort(dist, axis=1, kind="stable")[:, :n_neighbors]
        dnn = np.take_along_axis(dist, nn, axis=1)
        inside = dnn <= cal
        m = inside.sum(axis=1)
        ok = m > 0
        share = np.where(inside, 1.0 / np.maximum(m, 1)[:, None], 0.0)
        np.add.at(w, ic[nn[ok].ravel()], share[ok].ravel())
        w[it[ok]] = 1.0
        return w
    rng = np.random.default_rng(seed)
    used = np.zeros(len(ic), dtype=bool)
    for i in rng.permutation(len(it)):
        d = np.where(used, np.inf, dist[i])
        cand = np.argsort(d, kind="stable")[:n_neighbors]
        cand = cand[d[cand] <= cal]
        if len(cand):
            used[cand] = True
            w[ic[cand]] += 1.0 / len(cand)
            w[it[i]] = 1.0
    return w


# --------------------------------------------------------------------------------- balance
def _wmean_var(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    m = np.average(x, weights=w)
    v1, v2 = w.sum(), (w**2).sum()
    var = (w * (x - m) ** 2).sum() / (v1 - v2 / v1) if v1**2 > v2 else np.nan  # reliability wts
    return m, var


def balance_table(x: pd.DataFrame, treated: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    """Standardized mean differences and variance ratios before/after matching.

    SMD = (mean_T - mean_C) / sqrt((s2_T + s2_C) / 2), with the *unmatched* variances in the
    denominator both before and after (Austin 2009), so the change reflects the means only.
    After matching, means and variances are weighted by the matching weights.
    """
    treated = np.asarray(treated, dtype=bool)
    w = np.asarray(weights, dtype=float)
    rows = []
    for col in x.columns:
        v = x[col].to_numpy(float)
        mt, vt = _wmean_var(v[treated], np.ones(treated.sum()))
        mc, vc = _wmean_var(v[~treated], np.ones((~treated).sum()))
        pooled = np.sqrt((vt + vc) / 2)
        at, ac = treated & (w > 0), ~treated & (w > 0)
        mta, vta = _wmean_var(v[at], w[at])
        mca, vca = _wmean_var(v[ac], w[ac])
        rows.append(
            {
                "covariate": col,
                "mean_treated": mt,
                "mean_control": mc,
                "smd_before": (mt - mc) / pooled,
                "var_ratio_before": vt / vc,
                "mean_treated_matched": mta,
                "mean_control_matched": mca,
                "smd_after": (mta - mca) / pooled,
                "var_ratio_after": vta / vca,
            }
        )
    return pd.DataFrame(rows).set_index("covariate")


# ---------------------------------------------------------------------------------- result
@dataclass
class PSMDiDResult:
    """Matched-sample TWFE DiD estimate, the unmatched TWFE benchmark and matching diagnostics."""

    term: str
    estimate: float
    std_error: float
    estimate_unmatched: float
    std_error_unmatched: float
    method: str
    n_treated: int
    n_treated_matched: int
    n_controls_matched: int
    n_obs: int
    units: pd.DataFrame = field(repr=False)  # per unit: treated, pscore, distance, weight
    balance: pd.DataFrame = field(repr=False)
    pscore_model: object = field(repr=False)
    fit: object = field(repr=False)
    fit_unmatched: object = field(repr=False)
    alpha: float = 0.05

    def tidy(self, unmatched: bool = False) -> pd.DataFrame:
        """The matched estimate (and with ``unmatched=True`` the plain TWFE row)."""
        terms, est, se = (
            [f"{self.term} (PSM-DID, {self.method})"],
            [self.estimate],
            [self.std_error],
        )
        if unmatched:
            terms.append(f"{self.term} (TWFE, unmatched)")
            est.append(self.estimate_unmatched)
            se.append(self.std_error_unmatched)
        return tidy_frame(terms, est, se, alpha=self.alpha)

    def balance_table(self) -> pd.DataFrame:
        return self.balance.copy()

    def summary(self) -> str:
        b = self.balance
        return (
            f"PSM-DID ({self.method} matching): matched treated {self.n_treated_matched}/"
            f"{self.n_treated}, controls used {self.n_controls_matched}, obs {self.n_obs}\n"
            f"  ATT {self.estimate:.5g} (s.e. {self.std_error:.4g}); unmatched TWFE "
            f"{self.estimate_unmatched:.5g} (s.e. {self.std_error_unmatched:.4g})\n"
            f"  max |SMD| before {b['smd_before'].abs().max():.3f}, after "
            f"{b['smd_after'].abs().max():.3f}\n" + b.round(3).to_string()
        )

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax=None, threshold: float = 0.1):
        """Love plot: |standardized mean differences| before and after matching."""
        import matplotlib.pyplot as plt

        b = self.balance.iloc[::-1]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.5 * len(b) + 1.5))
        pos = np.arange(len(b))
        ax.scatter(
            b["smd_before"].abs(),
            pos,
            facecolors="none",
            edgecolors="C3",
            label="before matching",
            zorder=3,
        )
        ax.scatter(b["smd_after"].abs(), pos, color="C0", label="after matching", zorder=3)
        ax.axvline(threshold, color="0.5", ls="--", lw=1)
        ax.set_yticks(pos, b.index)
        ax.set_xlabel("|standardized mean difference|")
        ax.set_title("Covariate balance")
        ax.legend(frameon=False, loc="best")
        return ax


# -------------------------------------------------------------------------------- estimator
def _twfe(df, yname, idname, tname, controls, cluster, weights=None) -> WithinFit:
    # linearmodels PanelOLS's default clustered covariance (n / (n - k - #effects), no G/(G-1)),
    # the convention of the published PSM-DID numbers; see analysis.did.fe.PANELOLS_DEFAULT
    return fit_within(
        df, yname, ["_D", *controls], idname, tname, cluster, weights, ssc=PANELOLS_DEFAULT
    )


def psm_did(
    data: pd.DataFrame,
    yname: str,
    idname: str,
    tname: str,
    gname: str,
    covariates: list[str],
    cluster: str | None = None,
    controls: list[str] | None = None,
    method: str = "nearest",
    n_neighbors: int = 1,
    caliper: float | None = 0.25,
    replace: bool = True,
    bandwidth: float = 0.25,
    scale: str = "sd",
    distance: str = "logit",
    pre_period: str | int = "pre",
    alpha: float = 0.05,
    seed: int | None = 0,
) -> PSMDiDResult:
    """Propensity-score-matched TWFE DiD for a staggered (or single-date) adoption panel.

    Parameters
    ----------
    gname : first treatment period per unit (0 = never); ever treated = ``0 < g <= max(t)``.
    covariates : matching covariates, collapsed to one row per unit by ``pre_period``: "pre" =
        means over the periods before the first adoption in the data, or an int baseline year.
    method : "nearest" (``n_neighbors``, ``caliper``, ``replace``) or "kernel" (Epanechnikov,
        ``bandwidth``). ``caliper``/``bandwidth`` are in s.d. of the distance if ``scale="sd"``.
    distance : match on the "logit" of the propensity score (default) or the "pscore" itself.
    cluster : cluster variable for the DiD standard errors (default: ``idname``).
    controls : time-varying controls in the DiD regression.
    """
    controls = list(controls or [])
    cluster = cluster or idname
    df, _, _ = encode_panel(data, idname, tname, [yname, gname, *covariates, *controls, cluster])
    g = df.groupby(idname)[gname].first()
    tmax = df[tname].max()
    ever = (g > 0) & (g <= tmax)
    if not ever.any() or ever.all():
        raise ValueError("need both ever-treated and never-treated units")
    first_adoption = g[ever].min()
    xu = unit_covariates(df, idname, tname, covariates, pre_period, first_adoption).dropna()
    d_u = ever.reindex(xu.index).astype(float)

    logit = sm.Logit(d_u.to_numpy(), sm.add_constant(xu.to_numpy(float), has_constant="add"))
    ps_fit = logit.fit(disp=0)
    lin = np.asarray(ps_fit.model.exog @ ps_fit.params)  # logit of the propensity score
    pscore = 1 / (1 + np.exp(-lin))
    dist = lin if distance == "logit" else pscore
    w = match_units(
        dist,
        d_u.to_numpy(bool),
        method=method,
        n_neighbors=n_neighbors,
        caliper=caliper,
        replace=replace,
        bandwidth=bandwidth,
        scale=scale,
        seed=seed,
    )
    units = pd.DataFrame(
        {"treated": d_u.astype(bool), "pscore": pscore, "distance": dist, "weight": w},
        index=xu.index,
    )
    bal = balance_table(xu.assign(**{f"{distance}_pscore": dist}), units["treated"].to_numpy(), w)

    df["_D"] = treatment_from_cohort(df[gname].to_numpy(float), df[tname].to_numpy(float))
    full = df[df[idname].isin(xu.index)]
    fit_u = _twfe(full, yname, idname, tname, controls, cluster)
    wmap = units["weight"]
    matched = full[full[idname].map(wmap) > 0].copy()
    matched["_w"] = matched[idname].map(wmap).to_numpy(float)
    fit_m = _twfe(matched, yname, idname, tname, controls, cluster, weights="_w")
    if "_D" not in fit_m.names or "_D" not in fit_u.names:
        raise ValueError("the treatment is absorbed by the fixed effects")
    return PSMDiDResult(
        term=f"D({gname})",
        estimate=float(fit_m.params[0]),
        std_error=float(fit_m.std_errors[0]),
        estimate_unmatched=float(fit_u.params[0]),
        std_error_unmatched=float(fit_u.std_errors[0]),
        method=method,
        n_treated=int(units["treated"].sum()),
        n_treated_matched=int((units["treated"] & (units["weight"] > 0)).sum()),
        n_controls_matched=int((~units["treated"] & (units["weight"] > 0)).sum()),
        n_obs=int(fit_m.nobs),
        units=units,
        balance=bal,
        pscore_model=ps_fit,
        fit=fit_m,
        fit_unmatched=fit_u,
        alpha=alpha,
    )
