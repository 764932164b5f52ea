"""Inference with few clusters: t(G-1) critical values and a few-treated-clusters diagnostic.

* ``critical_value(alpha, n_clusters)`` -- the two-sided ``t(G-1)`` quantile. With G clusters the
  cluster-robust variance has at most G-1 degrees of freedom; Stata's ``regress, vce(cluster)``,
  fixest and Cameron & Miller (2015, JHR 50(2), Sec. VI.B) use ``t(G-1)`` rather than the normal
  quantile. With 31 province clusters this is 2.042 instead of 1.960.
* ``cluster_diagnostic(...)`` -- how many clusters, how many of them contain treated observations
  (overall and per adoption cohort), and whether the analytic clustered SE is known to be
  unreliable. MacKinnon & Webb (2017, "Wild bootstrap inference for wildly different cluster
  sizes", J. Applied Econometrics 32(2)) show that cluster-robust t-tests over-reject badly when
  few clusters are treated, *even when G is large*, because the treated clusters' scores dominate
  the variance estimate; the restricted wild cluster bootstrap (WCR) then under-rejects and the
  unrestricted one (WCU) over-rejects (MacKinnon & Webb 2018, "The wild bootstrap for few (treated)
  clusters", Econometrics Journal 21(2)). With one treated cluster no cluster-robust method works
  (Conley & Taber 2011, REStat 93(1)); randomization inference on the estimate or the t statistic
  is the usual recommendation (MacKinnon & Webb 2020, "Randomization inference for
  difference-in-differences with few treated clusters", J. Econometrics 218(2)), valid when
  assignment is as good as random across the permuted units (stratify it), with the caveat that
  RI on the coefficient fails when the treated units differ in size/variance from the controls.

The thresholds are rules of thumb, not sharp results, and are arguments: ``min_treated_clusters``
(default 10) -- in MacKinnon & Webb's (2017) simulations with 50 state clusters the CRVE t-test's
rejection rate at 5% is still well above 5% with a handful of treated clusters and the WCR is
visibly conservative below about ten; ``min_clusters`` (default 42, the "rule of 42" of Angrist &
Pischke 2009, which MacKinnon & Webb 2017 show is *not* sufficient with unbalanced clusters, so it
is only a lower bar below which t(G-1) critical values are the least one should do).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "RANK_RTOL",
    "ClusterDiagnostic",
    "ClusterLevelTest",
    "cluster_diagnostic",
    "cluster_level_test",
    "critical_value",
    "t_conf_int",
    "t_p_value",
    "wald_statistic",
]


def critical_value(alpha: float, n_clusters: int | None) -> float:
    """Two-sided critical value ``t_{1 - alpha/2}(G - 1)``; the normal quantile if ``n_clusters``
    is None (no clustering / asymptotic)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if n_clusters is None:
        return float(stats.norm.ppf(1 - alpha / 2))
    if int(n_clusters) != n_clusters or n_clusters < 2:
        raise ValueError(f"need an integer number of clusters >= 2, got {n_clusters}")
    return float(stats.t.ppf(1 - alpha / 2, int(n_clusters) - 1))


def t_conf_int(
    estimate: float, std_error: float, n_clusters: int | None, alpha: float = 0.05
) -> tuple[float, float]:
    """``estimate -/+ t_{1-alpha/2}(G-1) * std_error``."""
    c = critical_value(alpha, n_clusters)
    return estimate - c * std_error, estimate + c * std_error


def t_p_value(t_stat: float, n_clusters: int | None) -> float:
    """Two-sided p-value of a t statistic against ``t(G-1)`` (normal if ``n_clusters`` is None)."""
    if n_clusters is None:
        return float(2 * stats.norm.sf(abs(t_stat)))
    return float(2 * stats.t.sf(abs(t_stat), int(n_clusters) - 1))


@dataclass
class ClusterDiagnostic:
    """Cluster counts and the verdict on analytic clustered inference (see module docstring)."""

    cluster: str
    n_clusters: int
    n_treated_clusters: int
    n_control_clusters: int
    treated_by_cohort: pd.Series  # cohort -> number of clusters with treated units of that cohort
    few_clusters: bool
    few_treated_clusters: bool
    thin_cohorts: list = field(default_factory=list)  # cohorts with < min_treated_clusters
    min_clusters: int = 42
    min_treated_clusters: int = 10

    @property
    def analytic_unreliable(self) -> bool:
        """True when the analytic clustered SE (and the WCR) is known to be unreliable here."""
        return self.few_treated_clusters

    @property
    def recommendation(self) -> str:
        if self.n_treated_clusters <= 1 or self.n_control_clusters <= 1:
            return (
                "one treated (or control) cluster: cluster-robust SEs and the wild cluster "
                "bootstrap are invalid; use randomization inference (stratified)"
            )
        if self.few_treated_clusters:
            return (
                f"only {self.n_treated_clusters} treated / {self.n_control_clusters} control "
                "clusters: analytic clustered SEs over-reject and the restricted wild cluster "
                "bootstrap under-rejects (MacKinnon & Webb 2017, 2018); report randomization "
                "inference (studentized, stratified)"
            )
        if self.few_clusters:
            return f"G = {self.n_clusters}: use t(G-1) critical values and the wild bootstrap"
        return "analytic clustered inference with t(G-1) critical values is adequate"

    def tidy(self) -> pd.DataFrame:
        """One row per quantity (for a report table)."""
        rows = [
            ("cluster variable", self.cluster),
            ("clusters (G)", self.n_clusters),
            ("treated clusters", self.n_treated_clusters),
            ("control clusters", self.n_control_clusters),
            ("t(G-1) critical value (5%)", round(critical_value(0.05, self.n_clusters), 4)),
            ("cohorts with few treated clusters", ", ".join(map(str, self.thin_cohorts)) or "-"),
            ("analytic clustered SE unreliable", self.analytic_unreliable),
            ("recommendation", self.recommendation),
        ]
        return pd.DataFrame(rows, columns=["item", "value"])

    def summary(self) -> str:
        by = ", ".join(f"{g}: {n}" for g, n in self.treated_by_cohort.items())
        return (
            f"Clusters by {self.cluster}: G = {self.n_clusters}, treated {self.n_treated_clusters},"
            f" control {self.n_control_clusters}\n"
            f"  treated clusters by cohort: {by}\n"
            f"  t(G-1) 5% critical value {critical_value(0.05, self.n_clusters):.3f}\n"
            f"  {self.recommendation}"
        )

    def __str__(self) -> str:
        return self.summary()


def cluster_diagnostic(
    data: pd.DataFrame,
    cluster: str,
    gname: str,
    idname: str | None = None,
    min_clusters: int = 42,
    min_treated_clusters: int = 10,
) -> ClusterDiagnostic:
    """Count clusters, treated clusters (containing an ever-treated unit, ``gname > 0``) and control
    clusters (containing a never-treated unit), overall and per cohort.

    Parameters
    ----------
    data : long panel or one row per unit; ``gname`` is the first treatment period (0/NaN never).
    cluster : the cluster column (e.g. the city id or the province).
    idname : optional unit column, only used to check that ``gname`` is constant within units.
    min_clusters, min_treated_clusters : rule-of-thumb thresholds (module docstring). A cluster
        configuration is flagged when fewer than ``min_treated_clusters`` clusters are treated
        or fewer than that are controls; cohorts with fewer treated clusters are listed.
    """
    for c in [cluster, gname] + ([idname] if idname else []):
        if c not in data.columns:
            raise KeyError(f"column {c!r} not in data")
    df = data[list(dict.fromkeys([cluster, gname] + ([idname] if idname else [])))].copy()
    df[gname] = df[gname].fillna(0)
    if df[cluster].isna().any():
        raise ValueError(f"missing values in the cluster column {cluster!r}")
    if idname and (df.groupby(idname)[gname].nunique() > 1).any():
        raise ValueError(f"{gname} must be constant within {idname}")
    treated = df[gname] > 0
    n_clusters = int(df[cluster].nunique())
    n_treated = int(df.loc[treated, cluster].nunique())
    n_control = int(df.loc[~treated, cluster].nunique())
    by_cohort = (
        df.loc[treated].groupby(gname)[cluster].nunique().rename("treated_clusters").astype(int)
    )
    thin = [
        g.item() if hasattr(g, "item") else g
        for g in by_cohort.index[by_cohort < min_treated_clusters]
    ]
    return ClusterDiagnostic(
        cluster=cluster,
        n_clusters=n_clusters,
        n_treated_clusters=n_treated,
        n_control_clusters=n_control,
        treated_by_cohort=by_cohort,
        few_clusters=n_clusters < min_clusters,
        few_treated_clusters=min(n_treated, n_control) < min_treated_clusters,
        thin_cohorts=thin,
        min_clusters=min_clusters,
        min_treated_clusters=min_treated_clusters,
    )


RANK_RTOL = 1e-10
"""Eigenvalues of a covariance below ``RANK_RTOL`` times its largest are treated as zero."""


def wald_statistic(b: np.ndarray, V: np.ndarray) -> tuple[float, int]:
    """``(W, df)``: the Wald statistic ``b' V^- b`` of ``H0: b = 0`` and its degrees of freedom.

    With G clusters a clustered covariance has rank at most G - 1; more restrictions than that
    (ten leads of the rail event study with few treated provinces, say) make ``V`` singular.
    ``np.linalg.solve`` then returns a number made of rounding noise, which differed between CPUs
    (issue 16) and made the test reject for any data. Here ``V`` is decomposed once
    (``eigh``); directions with eigenvalues below ``RANK_RTOL`` of the largest are dropped and the
    test uses the Moore-Penrose inverse on the rest with ``df`` = the rank (the generalised-inverse
    Wald test; Andrews 1987, Econometrica 55(6)). A full-rank ``V`` gives exactly the usual
    statistic."""
    b = np.asarray(b, dtype=float)
    V = np.asarray(V, dtype=float)
    V = (V + V.T) / 2
    vals, vecs = np.linalg.eigh(V)
    top = vals.max() if vals.size else 0.0
    if not top > 0:
        return float("nan"), 0
    keep = vals > RANK_RTOL * top
    z = vecs[:, keep].T @ b
    return float(np.sum(z**2 / vals[keep])), int(keep.sum())


@dataclass(frozen=True)
class ClusterLevelTest:
    """The score-variance test of fine against coarse clustering (see :func:`cluster_level_test`)."""

    statistic: float
    p_value: float
    n_fine: int
    n_coarse: int
    variance_fine: float
    variance_coarse: float

    def record(self) -> dict:
        return {
            "test": "MacKinnon, Nielsen & Webb (2023) score-variance test, H0: fine clustering",
            "statistic": self.statistic,
            "p_value": self.p_value,
            "n_fine": self.n_fine,
            "n_coarse": self.n_coarse,
            "variance_fine": self.variance_fine,
            "variance_coarse": self.variance_coarse,
        }


def cluster_level_test(scores: pd.Series, coarse: pd.Series) -> ClusterLevelTest:
    """MacKinnon, Nielsen & Webb (2023, "Testing for the appropriate level of clustering in linear
    regression models", J. Econometrics 235(2)): the score-variance test of H0 "clustering at the
    fine level suffices" against clustering at a coarser level that nests it, for one scalar.

    ``scores``: the scalar's score summed within each fine cluster, s_gh (index: fine cluster;
    the variance clustered at the fine level is sum s_gh^2); ``coarse``: the coarse cluster of
    each fine cluster (same index). The difference of the two variance estimates is
    theta = sum_g sum_{h != h'} s_gh s_gh' (the within-coarse cross products); under H0 the fine
    clusters are independent, and theta has mean zero and variance
    2 sum_g sum_{h != h'} s_gh^2 s_gh'^2, estimated by plugging in the scores. The statistic
    tau = theta / sqrt(var) is asymptotically N(0, 1) under H0; large values reject fine clustering
    (one-sided p-value)."""
    s = pd.Series(np.asarray(scores, dtype=float), index=scores.index)
    g = coarse.reindex(s.index)
    if g.isna().any():
        raise ValueError("every fine cluster needs its coarse cluster")
    by = s.groupby(g.to_numpy())
    total, squares = by.sum(), (s**2).groupby(g.to_numpy()).sum()
    fourth = (s**4).groupby(g.to_numpy()).sum()
    theta = float((total**2 - squares).sum())
    var = float(2 * (squares**2 - fourth).sum())
    stat = theta / np.sqrt(var) if var > 0 else float("nan")
    return ClusterLevelTest(
        statistic=float(stat),
        p_value=float(stats.norm.sf(stat)) if np.isfinite(stat) else float("nan"),
        n_fine=len(s),
        n_coarse=int(g.nunique()),
        variance_fine=float((s**2).sum()),
        variance_coarse=float((total**2).sum()),
    )
