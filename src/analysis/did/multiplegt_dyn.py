"""Event-study effects of a non-binary, non-absorbing treatment: de Chaisemartin & D'Haultfoeuille
(2024), "Difference-in-Differences Estimators of Intertemporal Treatment Effects" (Review of
Economics and Statistics), as computed by R ``DIDmultiplegtDYN::did_multiplegt_dyn`` (2.1.x) and
its Stata / Python versions.

Design.  Group ``g``'s *baseline treatment* ``D_g1`` is its treatment in the first period it is
observed; ``F_g`` is the first period its treatment differs from ``D_g1`` (``T + 1`` for groups whose
treatment never changes).  By default groups whose treatment is, by some date, both above and below
the baseline lose their observations from that date on.  A switcher is *in* (``S_g = 1``) when its
mean treatment from ``F_g`` to ``T_g`` is above the baseline and *out* otherwise, where ``T_g`` is the
last period at which some group with the same baseline has not switched yet.

Estimators.  For ``l = 1..L`` the non-normalised effect

    DID_l = sum over switchers with F_g - 1 + l <= T_g of  N_g / N_l * S'_g *
            [ (Y_{g,F_g-1+l} - Y_{g,F_g-1}) - mean of the same long difference over the groups
              with the same baseline that have not switched by F_g - 1 + l ]

(``S'_g = +1`` for switchers in, ``-1`` for switchers out; ``N_g`` the cell weight, one without
``weight``), computed separately for switchers in and out and averaged with weights ``N^1_l`` and
``N^0_l``.  ``normalized=True`` divides ``DID_l`` by the switchers' mean cumulated treatment change
``delta^D_l = mean of sum_{k=0}^{l-1} |D_{g,F_g+k} - D_g1|``, so ``DID^n_l`` is a weighted average
of the effects of the current treatment and of its ``l - 1`` first lags.  Placebo ``l`` is the same
comparison of the long difference ``Y_{g,F_g-1-l} - Y_{g,F_g-1}`` for the switchers (and controls) of
effect ``l``.  The *average total effect* per unit of treatment is
``sum_l w_l DID_l / sum_l w_l delta^D_l`` (``w_l`` proportional to the number of switchers of effect
``l``, in and out combined with the weights of the paper's Section 3.3).
``same_switchers=True`` keeps only the switchers for which all ``L`` effects can be estimated (a
fixed composition across horizons); ``same_switchers_pl=True`` extends that to the placebos.

Inference.  Each estimator is a mean of group-level terms ``U_g`` (over the ``G`` groups), so its
variance is ``sum_c (sum_{g in c} U^var_g)^2 / G^2`` over clusters ``c`` (groups by default; a
coarser ``cluster`` column otherwise), where ``U^var_g`` demeans each long difference within
cohorts - controls by baseline x period, switchers by baseline x ``F_g`` x ``D_{g,F_g}``, the union
of both where a cohort has one member - with the degrees-of-freedom factors ``sqrt(n / (n - 1))``
(cohort sizes counted in clusters when clustering), exactly as the reference code.  The covariance
of two estimators is the same sum of cross-products, which gives the joint tests that all effects
(resp. placebos) are zero and, with ``effects_equal=True``, that all effects are equal.

Implementation: a port of the R code (``did_multiplegt_main.R``, ``did_multiplegt_dyn_core.R``)
on a balanced group x period grid of numpy arrays; every by-group or by-(baseline, period) step is
a ``bincount`` or a matrix reduction, and the only loop is over the ``L`` horizons.  Missing
treatments and outcomes are handled by the reference's conventions (imputations before the first
switch, truncation of groups whose treatment is unobserved just before it).  Validated on the
reference's example, Favara & Imbs (2015) county lending, to the printed digits (see the tests).

Not ported (reference options): ``controls``, ``trends_lin``, ``continuous``,
``less_conservative_se``, ``predict_het``, ``by``/``by_path``, ``design``, ``date_first_switch``,
``normalized_weights`` and ``bootstrap``.  Periods are ranked, so an unevenly spaced time
variable is treated as consecutive periods (as the reference).

Two options that are not the reference's, off by default (issue 20: a continuous dose read in
bands, where the last not-yet-switchers are a few groups that carry the weight of every remaining
switcher): ``min_control_clusters`` (a comparison needs controls in that many clusters) and
``jackknife`` (the delete-one-cluster variance with t(C - 1) intervals); see
:func:`did_multiplegt_dyn`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .results import EVENT_STUDY_COLUMNS, PretrendTest, event_study_frame, tidy_frame

__all__ = ["MultiplegtDynResult", "did_multiplegt_dyn"]

RESULT_COLUMNS = [
    "term",
    "horizon",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "n",
    "n_switchers",
    "n_weighted",
    "n_switchers_weighted",
]


@dataclass
class MultiplegtDynResult:
    """Result of :func:`did_multiplegt_dyn`.

    ``table``: one row per estimator (``Effect_l``, ``Average_Total_Effect``, ``Placebo_l``) with
    the reference's columns: estimate, SE, normal CI, ``n`` (group x period cells used; R's ``N``),
    ``n_switchers`` and their weighted versions (R's ``N.w``, ``Switchers.w``; equal without a
    weight).  ``vcov``: covariance of ``Effect_1..L, Placebo_1..K`` (in that order).
    """

    table: pd.DataFrame
    vcov: np.ndarray
    n_effects: int
    n_placebos: int
    normalized: bool
    n_groups: int
    n_clusters: int
    p_joint_effects: float | None = None
    p_joint_placebos: float | None = None
    p_equal_effects: float | None = None
    delta_d: np.ndarray | None = None  # normalising denominators delta^D_l (normalized=True)
    delta_d_placebo: np.ndarray | None = None  # those of the placebos (their own switchers)
    delta_d_avg_total: float = float("nan")  # switchers' mean number of effects cumulated
    alpha: float = 0.05
    df: int | None = None  # t(df) critical values of the intervals (jackknife); None = normal
    options: dict = field(default_factory=dict, repr=False)

    @property
    def effects(self) -> pd.DataFrame:
        return self.table[self.table["term"].str.startswith("Effect_")].reset_index(drop=True)

    @property
    def placebos(self) -> pd.DataFrame:
        return self.table[self.table["term"].str.startswith("Placebo_")].reset_index(drop=True)

    @property
    def average_total_effect(self) -> pd.Series:
        return self.table.set_index("term").loc["Average_Total_Effect"]

    @property
    def att(self) -> float:
        """The average total effect per unit of treatment (the overall summary)."""
        return float(self.average_total_effect["estimate"])

    def tidy(self, alpha: float | None = None) -> pd.DataFrame:
        """``Effect_l``, ``Average_Total_Effect`` then ``Placebo_l`` rows (``TIDY_COLUMNS``)."""
        a = self.alpha if alpha is None else alpha
        t = self.table
        crit = None if self.df is None else stats.t.ppf(1 - a / 2, self.df)
        return tidy_frame(t["term"], t["estimate"], t["std_error"], a, crit)

    def event_study(self, alpha: float | None = None) -> pd.DataFrame:
        """Effects and placebos on the house event-time axis (``EVENT_STUDY_COLUMNS``): effect ``l``
        at ``l - 1`` (``l - 1`` periods after the first switch), placebo ``l`` at ``-1 - l``; the
        reference period ``F_g - 1`` is event time ``-1`` and has no row."""
        td = self.tidy(alpha)
        h = self.table["horizon"].to_numpy()
        keep = h != 0
        et = (h - 1)[keep]
        td = td[keep]
        return event_study_frame(
            et, td["estimate"], td["std_error"], td["conf_low"], td["conf_high"]
        )[EVENT_STUDY_COLUMNS]

    def placebo_test(self) -> PretrendTest | None:
        """Wald test that all placebos are zero (chi-squared, ``df`` = number of placebos; the
        reference reports its p-value from two placebos on); None without placebos. A placebo
        without switchers (NaN, e.g. under ``min_control_clusters``) is left out of the test."""
        if self.n_placebos == 0:
            return None
        b = self.placebos["estimate"].to_numpy()
        keep = np.isfinite(b)
        k = int(keep.sum())
        v = self.vcov[self.n_effects :, self.n_effects :][np.ix_(keep, keep)]
        b = b[keep]
        if k == 0 or not np.isfinite(v).all():
            return None
        w = float(b @ np.linalg.pinv(v) @ b)
        return PretrendTest(w, k, float(stats.chi2.sf(w, k)))

    def summary(self) -> str:
        kind = "normalized" if self.normalized else "non-normalized"
        head = (
            "de Chaisemartin & D'Haultfoeuille (2024) event-study estimators "
            f"(did_multiplegt_dyn, {kind})\n"
            f"groups = {self.n_groups}, clusters = {self.n_clusters}\n"
        )
        cols = ["term", "estimate", "std_error", "conf_low", "conf_high", "n", "n_switchers"]
        txt = head + self.table[cols].to_string(index=False, float_format=lambda v: f"{v: .6g}")
        tests = [
            ("joint nullity of the effects", self.p_joint_effects),
            ("joint nullity of the placebos", self.p_joint_placebos),
            ("equality of the effects", self.p_equal_effects),
        ]
        for name, p in tests:
            if p is not None:
                txt += f"\nTest of {name}: p-value = {p:.6f}"
        return txt

    def __str__(self) -> str:
        return self.summary()

    def plot(self, lang: str = "en", title: str | None = None, label: str | None = None):
        """Event-study figure of the effects and placebos (delegates to figures/)."""
        from analysis.figures.multiplegt_dyn import plot_multiplegt_dyn

        return plot_multiplegt_dyn(self.event_study(), lang=lang, title=title, label=label)


# --------------------------------------------------------------------------------- helpers
def _nan0(a: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(a), 0.0, a)


def _shift(m: np.ndarray, k: int) -> np.ndarray:
    """Columns shifted by ``k`` positions within each row: ``out[:, j] = m[:, j - k]`` (a lag for
    ``k > 0``, a lead for ``k < 0``), NaN where that column does not exist."""
    out = np.full_like(m, np.nan)
    n = m.shape[1]
    if k >= 0 and k < n:
        out[:, k:] = m[:, : n - k]
    elif k < 0 and -k < n:
        out[:, :k] = m[:, -k:]
    return out


class _Grid:
    """Group x period arrays and the by-key reductions used everywhere."""

    def __init__(self, cell: np.ndarray, n_cells: int, n_t: int, clus: np.ndarray | None):
        self.cell, self.k, self.n_t, self.clus = cell, n_cells, n_t, clus
        self._idx = (cell[:, None] * n_t + np.arange(n_t)[None, :]).ravel()

    def cell_sum(self, m: np.ndarray) -> np.ndarray:
        """Sum of ``m`` (NaN = 0) over the groups of each baseline cell, by period; returned on
        the group x period grid (data.table ``sum(na.rm=TRUE), by = c(time, d_sq)``)."""
        s = np.bincount(self._idx, weights=_nan0(m).ravel(), minlength=self.k * self.n_t)
        return s.reshape(self.k, self.n_t)[self.cell]

    def cell_count(self, mask: np.ndarray) -> np.ndarray:
        """Rows of ``mask`` in each (cell, period), or their distinct clusters when clustering."""
        if self.clus is None:
            return self.cell_sum(mask.astype(float))
        g, t = np.nonzero(mask)
        n_c = int(self.clus.max()) + 1
        code = np.unique((self.cell[g] * self.n_t + t) * n_c + self.clus[g]) // n_c
        s = np.bincount(code, minlength=self.k * self.n_t).astype(float)
        return s.reshape(self.k, self.n_t)[self.cell]


def _by_cohort(mask, num, den, key, n_key, clus):
    """Over the ``mask`` cells of each switcher cohort ``key`` (all periods): the sums of ``num``
    and ``den`` and the number of cells (or of their distinct clusters), on the grid."""
    g, t = np.nonzero(mask)
    kg = key[g]
    tot = np.bincount(kg, weights=num[g, t], minlength=n_key)
    wt = np.bincount(kg, weights=den[g, t], minlength=n_key)
    if clus is None:
        cnt = np.bincount(kg, minlength=n_key).astype(float)
    else:
        n_c = int(clus.max()) + 1
        cnt = np.bincount(np.unique(kg * n_c + clus[g]) // n_c, minlength=n_key).astype(float)
    return tuple(np.broadcast_to(v[key][:, None], mask.shape) for v in (tot, wt, cnt))


@dataclass
class _Panel:
    y: np.ndarray  # outcome, groups x periods (NaN = missing or filled in)
    d: np.ndarray  # treatment
    n: np.ndarray  # N_gt: cell weight, 0 where the outcome or the treatment is missing
    tt: np.ndarray  # period index (1..T) of each column, broadcast to the grid
    tv: np.ndarray  # period index of each column
    f: np.ndarray  # F_g (T_max + 1 = never switches)
    tg: np.ndarray  # T_g: last period with a not-yet-switched group of the same baseline
    s: np.ndarray  # S_g: 1 switcher in, 0 switcher out, NaN otherwise
    lg: np.ndarray  # L_g = T_g - F_g + 1
    lg_pl: np.ndarray  # number of placebos of g
    d_sq: np.ndarray  # baseline treatment
    cohort: np.ndarray  # switchers' cohort: baseline x F_g x D_{g,F_g} (x trends_nonparam)
    n_cohorts: int
    grid: _Grid
    clus: np.ndarray  # cluster code of each group (groups themselves without cluster)
    n_groups: int  # G: the reference's group count (before late sample restrictions)
    t_max: int


def _prepare(
    data: pd.DataFrame,
    outcome: str,
    group: str,
    time: str,
    treatment: str,
    weight: str | None,
    cluster: str | None,
    trends_nonparam: list[str],
    dont_drop_larger_lower: bool,
    drop_if_d_miss_before_first_switch: bool,
) -> _Panel:
    """Sample selection, baseline treatment, first switch, missing-treatment conventions and the
    balanced grid: ``did_multiplegt_main.R`` up to the call of the core program."""
    needed = [outcome, group, time, treatment, *trends_nonparam]
    needed += [c for c in (weight, cluster) if c is not None]
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise KeyError(f"columns not in data: {missing}")
    df = pd.DataFrame(
        {
            "g": data[group].to_numpy(),
            "t": data[time].to_numpy(),
            "y": pd.to_numeric(data[outcome], errors="coerce").to_numpy(dtype=float),
            "d": pd.to_numeric(data[treatment], errors="coerce").to_numpy(dtype=float),
            "w": 1.0 if weight is None else data[weight].to_numpy(dtype=float),
        }
    )
    npar = [f"_np{k}" for k in range(len(trends_nonparam))]
    for nm, c in zip(npar, trends_nonparam):
        df[nm] = data[c].to_numpy()
    if cluster is not None:
        df["cl"] = data[cluster].to_numpy()
    df = df[df["g"].notna() & df["t"].notna()]
    if cluster is not None:
        df = df[df["cl"].notna()]
    by_g = df.groupby("g", sort=False)
    df = df[(by_g["d"].transform("count") > 0) & (by_g["y"].transform("count") > 0)]
    df["w"] = df["w"].fillna(0.0)
    if df.duplicated(["g", "t"]).any():  # finer than group x period: weighted cell means
        df.loc[df["d"].isna(), "w"] = 0.0
        parts = {}
        for c in ("y", "d"):
            ok = df[c].notna()
            parts[f"{c}_num"] = (df[c] * df["w"]).where(ok, 0.0)
            parts[f"{c}_den"] = df["w"].where(ok, 0.0)
        agg = pd.DataFrame(parts).groupby([df["g"], df["t"]]).sum()
        keep_cols = [*npar, *(["cl"] if cluster is not None else [])]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = pd.DataFrame(
                {
                    "y": agg["y_num"] / agg["y_den"],
                    "d": agg["d_num"] / agg["d_den"],
                    "w": df.groupby(["g", "t"])["w"].sum(),
                }
            )
        if keep_cols:
            out = pd.concat([out, df.groupby(["g", "t"])[keep_cols].first()], axis=1)
        df = out.reset_index()

    df["tt"] = pd.factorize(df["t"], sort=True)[0] + 1
    df = df.sort_values(["g", "tt"], kind="mergesort").reset_index(drop=True)
    gkey = df["g"]
    d_ok = df["d"].notna()
    df["min_d"] = df["tt"].where(d_ok).groupby(gkey).transform("min")
    df["max_d"] = df["tt"].where(d_ok).groupby(gkey).transform("max")
    min_y = df["tt"].where(df["y"].notna()).groupby(gkey).transform("min")
    df["min_dmiss"] = (
        df["tt"].where(df["d"].isna() & (df["tt"] >= min_y)).groupby(gkey).transform("min")
    )
    df["d_sq"] = df["d"].where(df["tt"] == df["min_d"]).groupby(gkey).transform("mean")
    diff = df["d"] - df["d_sq"]

    if not dont_drop_larger_lower:
        up = ((diff > 0) & d_ok).groupby(gkey).cummax()
        down = ((diff < 0) & d_ok).groupby(gkey).cummax()
        keep = ~(up & down)
        df, diff = df[keep].reset_index(drop=True), diff[keep].reset_index(drop=True)

    gkey = df["g"]
    ever = ((diff.abs() > 0) & df["d"].notna()).groupby(gkey).cummax()
    df["f"] = df["tt"].where(ever).groupby(gkey).transform("min").fillna(0.0)

    cell_cols = ["d_sq", *npar]
    # baselines where every group switches at the same date (or none does) identify nothing
    df = df[df.groupby(cell_cols, dropna=False)["f"].transform("nunique") > 1]
    ever = ever[df.index]
    n_groups = int(df["g"].nunique())
    if n_groups == 0:
        raise ValueError(
            "No treatment effect can be estimated: within every baseline treatment all groups "
            "switch at the same date (Design Restriction 1 of de Chaisemartin & D'Haultfoeuille "
            "2024); a continuous baseline treatment needs the reference's `continuous` option, "
            "which is not ported."
        )
    # periods without a not-yet-switched group of the same baseline are dropped
    not_yet = (~ever).astype(float)
    has_ctrl = not_yet.groupby([df["tt"], *[df[c] for c in cell_cols]], dropna=False).transform(
        "max"
    )
    df = df[has_ctrl > 0].reset_index(drop=True)
    t_max = int(df["tt"].max())
    never = t_max + 1
    f = df["f"].to_numpy().copy()
    f[f == 0] = never
    tt = df["tt"].to_numpy(dtype=float)
    y = df["y"].to_numpy().copy()
    d = df["d"].to_numpy().copy()
    d_sq = df["d_sq"].to_numpy()
    min_d, max_d = df["min_d"].to_numpy(), df["max_d"].to_numpy()
    gkey = df["g"]

    # missing treatments (Appendix A of the reference's companion note)
    if drop_if_d_miss_before_first_switch:
        md = df["min_dmiss"].to_numpy()
        y[~np.isnan(md) & (md < f) & (tt >= md)] = np.nan
    last = (
        pd.Series(np.where((tt < f) & ~np.isnan(d), tt, np.nan))
        .groupby(gkey)
        .transform("max")
        .fillna(-np.inf)
        .to_numpy()
    )
    y[tt < min_d] = np.nan
    sw = f < never
    d = np.where(sw & np.isnan(d) & (tt < last) & (tt > min_d), d_sq, d)
    gap = sw & (last < f - 1)  # treatment unobserved just before the switch: a control until then
    y[gap & (tt > last)] = np.nan
    trunc = np.where(gap, last + 1, np.nan)
    f[gap] = never
    d_f = pd.Series(np.where(tt == f, d, np.nan)).groupby(gkey).transform("mean").to_numpy()
    d = np.where((f < never) & np.isnan(d) & (tt > f) & (last == f - 1), d_f, d)
    nev = f == never
    d = np.where(nev & np.isnan(d) & (tt > min_d) & (tt < max_d), d_sq, d)
    y[nev & (tt > max_d)] = np.nan
    trunc = np.where(nev, max_d + 1, trunc)

    # balanced grid (plm::make.pbalanced(fill)): every group at every remaining period
    gcode, guniq = pd.factorize(gkey, sort=True)
    tv = np.unique(df["tt"].to_numpy())
    tcode = np.searchsorted(tv, df["tt"].to_numpy())
    n_g, n_t = len(guniq), len(tv)

    def grid_of(v):
        m = np.full((n_g, n_t), np.nan)
        m[gcode, tcode] = v
        return m

    Y, D, W, TR = grid_of(y), grid_of(d), grid_of(df["w"].to_numpy()), grid_of(trunc)
    first = np.unique(gcode, return_index=True)[1]
    fg = f[first].astype(float)
    dsq = d_sq[first]
    cell = df.groupby(cell_cols, dropna=False, sort=True).ngroup().to_numpy()[first]
    TT = np.broadcast_to(tv[None, :].astype(float), (n_g, n_t))
    N = np.where(np.isnan(Y) | np.isnan(D), 0.0, W)

    # T_g: last period before the last first-switch (or truncation) of the baseline cell, minus one
    ftr = np.where(np.isnan(TR), fg[:, None], np.fmin(fg[:, None], TR))
    n_cell = int(cell.max()) + 1
    cell_max = np.full(n_cell, -np.inf)
    np.maximum.at(cell_max, cell, ftr.max(axis=1))
    tg = cell_max[cell] - 1

    # S_g: mean treatment from F_g to T_g above (in) or below (out) the baseline
    post = (TT >= fg[:, None]) & (TT <= tg[:, None]) & ~np.isnan(D)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(post, D, 0.0).sum(axis=1) / post.sum(axis=1)
    flat = ~np.isnan(avg) & (avg == dsq) & (fg != tg + 1)  # no first stage (dont_drop_larger_lower)
    keep_g = ~flat
    with np.errstate(invalid="ignore"):
        s = np.where(np.isnan(avg), np.nan, (avg > dsq).astype(float))
    s[fg == never] = np.nan

    # D_{g,F_g}: the switchers' treatment at the first switch (their cohort key)
    col_f = np.searchsorted(tv, fg)
    has_f = (col_f < n_t) & (tv[np.minimum(col_f, n_t - 1)] == fg)
    d_fg = np.where(has_f, D[np.arange(n_g), np.minimum(col_f, n_t - 1)], np.nan)
    d_fg = np.where(np.isnan(d_fg) & (fg == never), dsq, d_fg)

    if cluster is not None:
        if (df.groupby(gkey)["cl"].nunique() > 1).any():
            raise ValueError("The group variable should be nested within the clustering variable.")
        clus_g = pd.factorize(df["cl"].to_numpy()[first])[0]
    else:
        clus_g = None

    # drop the no-first-stage switchers (G keeps counting them, as the reference)
    sel = np.flatnonzero(keep_g)
    Y, D, N, TT = Y[sel], D[sel], N[sel], TT[sel]
    fg, tg, s, dsq, cell, d_fg = fg[sel], tg[sel], s[sel], dsq[sel], cell[sel], d_fg[sel]
    if clus_g is not None:
        clus_g = pd.factorize(clus_g[sel])[0]
    lg = tg - fg + 1
    with np.errstate(invalid="ignore"):
        lg_pl = np.where(fg >= 3, np.where(lg > fg - 2, fg - 2, lg), np.nan)
    coh_frame = pd.DataFrame({"c": cell, "f": fg, "dfg": d_fg})
    cohort = coh_frame.groupby(["c", "f", "dfg"], dropna=False).ngroup().to_numpy()
    return _Panel(
        y=Y,
        d=D,
        n=N,
        tt=TT,
        tv=tv.astype(float),
        f=fg,
        tg=tg,
        s=s,
        lg=lg,
        lg_pl=lg_pl,
        d_sq=dsq,
        cohort=cohort,
        n_cohorts=int(cohort.max()) + 1 if len(cohort) else 0,
        grid=_Grid(cell, n_cell, n_t, clus_g),
        clus=np.arange(len(sel)) if clus_g is None else clus_g,
        n_groups=n_groups,
        t_max=t_max,
    )


def _value_at(p: _Panel, m: np.ndarray, when: np.ndarray) -> np.ndarray:
    """``m[g, t]`` at the period ``when[g]`` of each group (NaN where that period is absent)."""
    n_t = len(p.tv)
    col = np.searchsorted(p.tv, when)
    ok = (col < n_t) & (p.tv[np.minimum(col, n_t - 1)] == when)
    return np.where(ok, m[np.arange(len(when)), np.minimum(col, n_t - 1)], np.nan)


def _control_check(p: _Panel, horizons: int, lead: bool, only_never_switchers: bool) -> np.ndarray:
    """How many of the long differences ``1..horizons`` of each switcher have an outcome and a
    control (``same_switchers``): after the switch for effects, before it for placebos."""
    check = np.zeros(len(p.f))
    f = p.f[:, None]
    for q in range(1, horizons + 1):
        dy = p.y - _shift(p.y, -q if lead else q)
        ok = ~np.isnan(dy)
        nc = np.where(ok & (f > p.tt), 1.0, np.nan)
        if only_never_switchers:
            nc[(f > p.tt) & (f < p.t_max + 1) & ok] = 0.0
        n_ctrl = p.grid.cell_sum(nc * p.n)
        when = p.f - 1 - q if lead else p.f - 1 + q
        check += (_value_at(p, n_ctrl, when) > 0) & ~np.isnan(_value_at(p, dy, when))
    return check


@dataclass
class _Horizon:
    n: float = 0.0  # N^1_l or N^0_l (weighted switchers)
    n_dw: float = 0.0  # unweighted
    u: np.ndarray | None = None  # U_g (point estimate, times G)
    u_var: np.ndarray | None = None  # U^var_g (influence, times G)
    count: np.ndarray | None = None  # cells used (R's count*_core)
    dist: np.ndarray | None = None  # switcher indicator on the grid
    delta_norm: float = 0.0  # delta^D_l of this side


def _horizon(p: _Panel, i: int, dy, dist, nc, n_ctrl) -> _Horizon:
    """U_g and U^var_g of one effect or placebo for one side (``did_multiplegt_dyn_core.R``)."""
    N, TT, gr = p.n, p.tt, p.grid
    f, tg = p.f[:, None], p.tg[:, None]
    distw = dist * N
    n_t = np.nansum(distw, axis=0)
    out = _Horizon(n=float(n_t.sum()), n_dw=float(np.nansum(dist)), dist=dist)
    n_sw_cell = gr.cell_sum(distw)

    # cohorts for the demeaning of the variance terms
    dof_ns = (N != 0) & ~np.isnan(dy) & (nc == 1) & (n_t[None, :] > 0)
    dof_s = (N != 0) & (dist == 1)
    dof_nss = dof_s | dof_ns
    dyn = np.where(np.isnan(dy), 0.0, N * dy)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_ns = np.where(dof_ns, gr.cell_sum(dyn * dof_ns) / gr.cell_sum(N * dof_ns), np.nan)
        cnt_ns = np.where(dof_ns, gr.cell_count(dof_ns), np.nan)
        tot_s, n_s, cnt_s = _by_cohort(dof_s, dyn, N, p.cohort, p.n_cohorts, gr.clus)
        mean_s = np.where(dof_s, tot_s / n_s, np.nan)
        cnt_s = np.where(dof_s, cnt_s, np.nan)
        mean_nss = np.where(dof_nss, gr.cell_sum(dyn * dof_nss) / gr.cell_sum(N * dof_nss), np.nan)
        cnt_nss = np.where(dof_nss, gr.cell_count(dof_nss), np.nan)

    ctrl = TT < f
    swr = f - 1 + i == TT
    lone = (cnt_nss >= 2) & ((swr & (cnt_s == 1)) | (ctrl & (cnt_ns == 1)))
    e_hat = np.where(ctrl | swr, 0.0, np.nan)
    e_hat = np.where(ctrl & (np.isnan(cnt_ns) | (cnt_ns >= 2)), mean_ns, e_hat)
    e_hat[np.isnan(mean_ns)] = np.nan
    e_hat = np.where(swr & (np.isnan(cnt_s) | (cnt_s >= 2)), mean_s, e_hat)
    e_hat = np.where(lone, mean_nss, e_hat)
    e_hat[np.isnan(mean_nss)] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        dof = np.where(ctrl | swr, 1.0, np.nan)
        dof = np.where(swr & (cnt_s > 1), np.sqrt(cnt_s / (cnt_s - 1)), dof)
        dof = np.where(ctrl & (cnt_ns > 1), np.sqrt(cnt_ns / (cnt_ns - 1)), dof)
        dof = np.where(lone, np.sqrt(cnt_nss / (cnt_nss - 1)), dof)
    dof[np.isnan(cnt_s) & np.isnan(cnt_ns) & np.isnan(cnt_nss)] = np.nan

    if out.n != 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = (i <= tg - 1) * (p.n_groups / out.n) * ((TT >= i + 1) & (TT <= tg))
            weight = dist - (n_sw_cell / n_ctrl) * nc
            u_t = scale * N * weight * dy
            u_var_t = scale * weight * N * dof * (dy - e_hat)
        out.u = np.nansum(u_t, axis=1)
        out.u_var = np.nansum(u_var_t, axis=1)
        used = (~np.isnan(u_t) & (u_t != 0)) | (
            (u_t == 0) & (dy == 0) & ((dist != 0) | ((n_sw_cell != 0) & (nc != 0)))
        )
        out.count = np.where(used, N, 0.0)
    return out


def _control_clusters(p: _Panel, ctrl_n: np.ndarray) -> np.ndarray:
    """Distinct clusters (groups without ``cluster``) among the controls with a positive weight
    ``ctrl_n`` in each (baseline cell, period), on the group x period grid."""
    mask = _nan0(ctrl_n) > 0
    g, t = np.nonzero(mask)
    gr = p.grid
    n_c = int(p.clus.max()) + 1
    code = np.unique((gr.cell[g] * gr.n_t + t) * n_c + p.clus[g]) // n_c
    s = np.bincount(code, minlength=gr.k * gr.n_t).astype(float)
    return s.reshape(gr.k, gr.n_t)[gr.cell]


def _treatment_change(p: _Panel, i: int, inc: int) -> np.ndarray:
    """``sum_{t=F_g}^{F_g-1+i} (D_gt - D_g1)`` of the switchers of side ``inc``."""
    f = p.f[:, None]
    win = (p.tt >= f) & (p.tt <= f - 1 + i) & (p.s == inc)[:, None]
    return np.nansum(np.where(win, p.d - p.d_sq[:, None], np.nan), axis=1)


def _side(
    p: _Panel,
    inc: int,
    n_eff: int,
    n_pl: int,
    l_side: int,
    l_pl_side: int,
    same_switchers: bool,
    same_switchers_pl: bool,
    only_never_switchers: bool,
    min_control_clusters: int = 1,
):
    """Effects 1..n_eff and placebos 1..n_pl of switchers in (``inc = 1``) or out (``inc = 0``);
    a switcher's long difference is used only where its controls (same baseline, not switched
    yet) span at least ``min_control_clusters`` clusters (groups without ``cluster``)."""
    f, TT, N = p.f[:, None], p.tt, p.n
    sgn = np.where(p.s == 1, 1.0, np.where(p.s == 0, -1.0, np.nan))
    if same_switchers:
        still = (p.f - 1 + n_eff <= p.tg) & (
            _control_check(p, n_eff, False, only_never_switchers) == n_eff
        )
        if same_switchers_pl and n_pl > 0:
            fill_pl = _control_check(p, n_pl, True, only_never_switchers) == n_pl
    effects, placebos = {}, {}
    for i in range(1, min(l_side, n_eff) + 1):
        dy = p.y - _shift(p.y, i)
        nc = np.where(np.isnan(dy), np.nan, (f > TT).astype(float))
        if only_never_switchers:
            nc[(f > TT) & (f < p.t_max + 1)] = 0.0
        n_ctrl = p.grid.cell_sum(nc * N)
        sw = (TT == f - 1 + i) & (i <= p.lg[:, None]) & (p.s == inc)[:, None] & (n_ctrl > 0)
        if min_control_clusters > 1:
            sw &= _control_clusters(p, nc * N) >= min_control_clusters
        if same_switchers:
            sw &= still[:, None]
        dist = np.where(np.isnan(dy), np.nan, sw.astype(float))
        h = _horizon(p, i, dy, dist, nc, n_ctrl)
        change = _treatment_change(p, i, inc)
        with np.errstate(invalid="ignore", divide="ignore"):
            h.delta_norm = float(
                np.nansum(np.where(dist == 1, N / h.n * sgn[:, None] * change[:, None], np.nan))
            )
        effects[i] = (h, dy, nc, dist, change)

    for i in range(1, min(l_pl_side, n_pl) + 1):
        if i not in effects:
            break
        _, _, nc, dist, change = effects[i]
        dyp = _shift(p.y, 2 * i) - _shift(p.y, i)
        ncp = nc * ~np.isnan(dyp)
        n_ctrl = p.grid.cell_sum(ncp * N)
        distp = np.where(np.isnan(dist), np.nan, dist * ~np.isnan(dyp) * (n_ctrl > 0))
        if min_control_clusters > 1:
            distp = distp * (_control_clusters(p, ncp * N) >= min_control_clusters)
        if same_switchers and same_switchers_pl:
            distp = distp * fill_pl[:, None]
        h = _horizon(p, i, dyp, distp, ncp, n_ctrl)
        with np.errstate(invalid="ignore", divide="ignore"):
            h.delta_norm = float(
                np.nansum(np.where(distp == 1, N / h.n * sgn[:, None] * change[:, None], np.nan))
            )
        placebos[i] = h

    # average total effect of this side: sum_l w_l U_l / sum_l w_l delta_l
    sum_n = sum(e[0].n for e in effects.values())
    num = np.zeros(len(p.f))
    num_var = np.zeros(len(p.f))
    den = 0.0
    for h, _, _, dist, _ in effects.values():
        if h.n == 0:
            continue
        w = h.n / sum_n
        step = np.where(dist == 1, (p.d - p.d_sq[:, None]) * sgn[:, None], 0.0)
        with np.errstate(invalid="ignore"):
            delta = float(np.nansum(np.where(dist == 1, N / h.n * step, 0.0)))
        num += w * h.u
        num_var += w * h.u_var
        den += w * delta
    with np.errstate(invalid="ignore", divide="ignore"):
        ate = (num / den, num_var / den, den, sum_n)
    return {i: e[0] for i, e in effects.items()}, placebos, ate


def _cluster_sums(p: _Panel, cols: np.ndarray) -> np.ndarray:
    """Column sums of the group-level influence terms within clusters (rows = clusters)."""
    n_c = int(p.clus.max()) + 1
    return np.stack([np.bincount(p.clus, weights=_nan0(c), minlength=n_c) for c in cols.T], axis=1)


def _wald_p(b: np.ndarray, v: np.ndarray, df: int) -> float:
    chi2 = float(b @ np.linalg.pinv(v) @ b)
    return float(stats.chi2.sf(chi2, df))


class NoComparisonError(ValueError):
    """No switcher has a control at any horizon (e.g. a panel of one province under
    ``min_control_clusters``): the design, not the data's values, rules the estimator out."""


def _jackknife(data: pd.DataFrame, fit: MultiplegtDynResult, args: dict) -> MultiplegtDynResult:
    """``fit`` with the delete-one-cluster jackknife variance (see :func:`did_multiplegt_dyn`)."""
    from dataclasses import replace

    key = args["cluster"] if args["cluster"] not in (None, args["group"]) else args["group"]
    terms = list(fit.table["term"])
    labels = data[key].dropna().unique()
    reps = np.full((len(labels), len(terms)), np.nan)
    # a comparison with controls in k clusters has k - 1 once one of them is deleted: the
    # replicates ask one cluster fewer, so they keep the full sample's comparisons (with 6
    # provinces and k = 5 no replicate could otherwise meet the rule, and the variance was n/a)
    k = args.get("min_control_clusters")
    if k is not None and k > 1:
        args = {**args, "min_control_clusters": k - 1}
    for j, c in enumerate(labels):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                r = did_multiplegt_dyn(data[data[key] != c], **args)
            except ValueError:  # no effect estimable without this cluster
                continue
        reps[j] = r.table.set_index("term")["estimate"].reindex(terms).to_numpy()
    n_c = len(labels)
    ok = np.isfinite(reps)
    m = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a term no replicate estimates
        dev = reps - np.nanmean(reps, axis=0)
        se = np.sqrt((m - 1) / m * np.nansum(dev**2, axis=0))
    se[m < 2] = np.nan
    # covariance of Effect_1..L, Placebo_1..K (the order of ``vcov``) over the replicates that
    # estimate every term the full sample estimates (a term without an estimate, e.g. a placebo
    # no comparison reaches under ``min_control_clusters``, keeps NaN rows and columns and does
    # not void the others: the joint tests leave it out)
    order = [t for t in terms if t != "Average_Total_Effect"]
    cols = np.array([terms.index(t) for t in order], dtype=int)
    live = np.isfinite(fit.table["estimate"].to_numpy()[cols])
    full = ok[:, cols[live]].all(axis=1)
    V = np.full((len(cols), len(cols)), np.nan)
    if full.sum() >= 2:
        d = reps[np.ix_(full, cols[live])]
        d = d - d.mean(axis=0)
        V[np.ix_(live, live)] = (len(d) - 1) / len(d) * d.T @ d
    table = fit.table.copy()
    table["std_error"] = se
    df = n_c - 1
    crit = stats.t.ppf(1 - fit.alpha / 2, df)
    table["conf_low"] = table["estimate"] - crit * se
    table["conf_high"] = table["estimate"] + crit * se
    L, K = fit.n_effects, fit.n_placebos
    b = fit.table.set_index("term")["estimate"].reindex(order).to_numpy()
    b_eff, b_pl = b[:L], b[L:]
    V_eff, V_pl = V[:L, :L], V[L:, L:]
    fin = np.isfinite

    def p(bv, vv, k):
        keep = fin(bv)  # terms without an estimate leave the test
        bv, vv, k = bv[keep], vv[np.ix_(keep, keep)], int(keep.sum()) - (len(bv) - k)
        return _wald_p(bv, vv, k) if k > 0 and fin(vv).all() else None

    p_equal = None
    if fit.p_equal_effects is not None:
        Dm = np.eye(L)[:-1] - 1.0 / L
        vt = Dm @ V_eff @ Dm.T
        p_equal = p(Dm @ b_eff, (vt + vt.T) / 2, L - 1)
    return replace(
        fit,
        table=table,
        vcov=V,
        p_joint_effects=None if fit.p_joint_effects is None else p(b_eff, V_eff, L),
        p_joint_placebos=None if fit.p_joint_placebos is None else p(b_pl, V_pl, K),
        p_equal_effects=p_equal,
        df=df,
        options={**fit.options, "jackknife": True},
    )


def did_multiplegt_dyn(
    data: pd.DataFrame,
    outcome: str,
    group: str,
    time: str,
    treatment: str,
    effects: int = 1,
    placebo: int = 0,
    *,
    normalized: bool = False,
    effects_equal: bool = False,
    cluster: str | None = None,
    weight: str | None = None,
    switchers: str = "",
    same_switchers: bool = False,
    same_switchers_pl: bool = False,
    only_never_switchers: bool = False,
    trends_nonparam: Sequence[str] | str | None = None,
    dont_drop_larger_lower: bool = False,
    drop_if_d_miss_before_first_switch: bool = False,
    min_control_clusters: int | None = None,
    jackknife: bool = False,
    alpha: float = 0.05,
) -> MultiplegtDynResult:
    """de Chaisemartin & D'Haultfoeuille (2024) event-study effects (see the module docstring).

    Arguments follow R ``did_multiplegt_dyn`` (``ci_level`` is ``1 - alpha``): ``effects`` event-study
    effects and ``placebo`` placebos (at most ``effects``); ``cluster`` a column coarser than
    ``group`` (default: groups); ``weight`` cell weights; ``switchers`` ``"in"``/``"out"`` to keep
    one side; ``trends_nonparam`` time-invariant columns within which switchers and controls are
    compared (like the baseline treatment).  Returns :class:`MultiplegtDynResult`.

    ``min_control_clusters`` (not a reference option; None = the reference): a switcher's effect
    or placebo ``l`` is estimated only when its controls at that date (same baseline, not switched
    yet) lie in at least that many clusters (``cluster``; groups without it).  Where the last
    not-yet-switchers are a handful of groups they carry the weight of every remaining switcher,
    and the variance estimate rests on them alone (its effective number of clusters collapses).

    ``jackknife`` (not a reference option; the reference's analytic variance by default): the
    delete-one-cluster jackknife variance ``(C - 1) / C sum_c (b_(c) - mean b_(.))^2`` over the
    ``C`` clusters (groups without ``cluster``; a replicate in which an estimator cannot be
    computed is left out of that estimator's sum; with ``min_control_clusters`` = k the
    replicates ask k - 1, as deleting a cluster takes at most one from a comparison's controls),
    and intervals from t(C - 1) (MacKinnon,
    Nielsen & Webb 2023, CV3): the analytic variance sums squared cluster terms around estimated
    cohort means and is biased down when a few clusters carry most of the weight.
    """
    if jackknife:  # every argument but the data and this switch, passed on to the replicates
        args = {k: v for k, v in locals().items() if k not in ("data", "jackknife")}
        return _jackknife(data, did_multiplegt_dyn(data, **args), args)
    if int(effects) != effects or effects < 1:
        raise ValueError("effects must be a positive integer")
    if int(placebo) != placebo or placebo < 0:
        raise ValueError("placebo must be a non-negative integer")
    if min_control_clusters is not None and (
        int(min_control_clusters) != min_control_clusters or min_control_clusters < 1
    ):
        raise ValueError("min_control_clusters must be a positive integer or None")
    if switchers not in ("", "in", "out"):
        raise ValueError("switchers must be '', 'in' or 'out'")
    if same_switchers_pl and not same_switchers:
        raise ValueError("same_switchers_pl requires same_switchers")
    effects, placebo = int(effects), int(placebo)
    if cluster == group:
        cluster = None
    tnp = [trends_nonparam] if isinstance(trends_nonparam, str) else list(trends_nonparam or [])
    p = _prepare(
        data,
        outcome,
        group,
        time,
        treatment,
        weight,
        cluster,
        tnp,
        dont_drop_larger_lower,
        drop_if_d_miss_before_first_switch,
    )
    G = p.n_groups

    # how many effects and placebos each side allows
    sides = {"in": 1, "out": 0} if switchers == "" else {switchers: int(switchers == "in")}
    L, L_pl = {}, {}
    for name, inc in sides.items():
        on = p.s == inc
        L[name] = int(p.lg[on].max()) if on.any() else 0
        lp = p.lg_pl[on]
        L_pl[name] = int(max(np.nanmax(lp), 0)) if on.any() and np.isfinite(lp).any() else 0
    n_eff = min(max(L.values()), effects)
    n_pl = min(max(L_pl.values()), placebo, effects)
    if n_eff <= 0:
        raise ValueError(
            "No treatment effect can be estimated (Design Restriction 1 of de Chaisemartin & "
            "D'Haultfoeuille 2024 fails given the options)."
        )
    if n_eff < effects:
        warnings.warn(
            f"{effects} effects requested, at most {n_eff} can be estimated", stacklevel=2
        )
    if placebo > n_pl:
        warnings.warn(
            f"{placebo} placebos requested, at most {n_pl} can be estimated", stacklevel=2
        )

    n_g = len(p.f)
    res = {}
    for name, inc in sides.items():
        if L[name] > 0:
            res[inc] = _side(
                p,
                inc,
                n_eff,
                n_pl,
                L[name],
                L_pl[name],
                same_switchers,
                same_switchers_pl,
                only_never_switchers,
                int(min_control_clusters or 1),
            )

    def combine(kind: int, i: int):
        """Side-weighted U, U^var, counts and delta of effect/placebo ``i`` (in + out)."""
        hs = {inc: r[kind].get(i) for inc, r in res.items()}
        n = {inc: (h.n if h is not None and h.n != 0 else 0.0) for inc, h in hs.items()}
        n_dw = sum(h.n_dw for h in hs.values() if h is not None)
        tot = sum(n.values())
        u = np.zeros(n_g)
        u_var = np.zeros(n_g)
        cnt = np.zeros_like(p.n)
        delta = 0.0
        for inc, h in hs.items():
            if n[inc] == 0:
                continue
            sign = 1.0 if inc == 1 else -1.0
            u += n[inc] / tot * sign * h.u
            u_var += n[inc] / tot * sign * h.u_var
            cnt = np.fmax(cnt, h.count)
            delta += n[inc] / tot * h.delta_norm
        return u, u_var, cnt, delta, tot, n_dw

    rows, infl, counts, deltas = [], [], [], []
    for kind, n_k, label in ((0, n_eff, "Effect"), (1, n_pl, "Placebo")):
        for i in range(1, n_k + 1):
            u, u_var, cnt, delta, n_sw, n_sw_dw = combine(kind, i)
            est = u.sum() / G if n_sw > 0 else np.nan
            scale = delta if normalized else 1.0
            rows.append(
                {
                    "term": f"{label}_{i}",
                    "horizon": i if kind == 0 else -i,
                    # a horizon without switchers has no estimate (NA in the reference); with
                    # normalized=True its delta is 0 and nan / 0.0 would raise in Python
                    "estimate": est / scale if scale else np.nan,
                    "n": float((cnt > 0).sum()),
                    "n_switchers": n_sw_dw,
                    "n_weighted": float(cnt.sum()),
                    "n_switchers_weighted": n_sw,
                }
            )
            infl.append(u_var / scale if n_sw > 0 and scale else np.full(n_g, np.nan))
            deltas.append(delta)
            if kind == 0:
                counts.append(cnt)

    # variances and covariances: cluster sums of the influence terms, over G^2
    U = _cluster_sums(p, np.column_stack(infl))
    V = U.T @ U / G**2
    k_all = len(infl)
    for j in range(k_all):
        if np.isnan(infl[j]).all():
            V[j, :] = V[:, j] = np.nan
    se = np.sqrt(np.diag(V))

    # average total effect: switchers in and out weighted by their cumulated treatment changes
    ate_in, ate_out = res.get(1, (None, None, None))[2], res.get(0, (None, None, None))[2]
    parts = {1: ate_in, 0: ate_out}
    den = {inc: (a[2] if a is not None and a[3] != 0 else 0.0) for inc, a in parts.items()}
    sn = {inc: (a[3] if a is not None else 0.0) for inc, a in parts.items()}
    if switchers == "in":
        w_plus = 1.0
    elif switchers == "out":
        w_plus = 0.0
    else:
        both = den[1] * sn[1] + den[0] * sn[0]
        if both == 0:
            raise NoComparisonError(
                "did_multiplegt_dyn: no switcher has a not-yet-switched control of the same"
                " baseline at any horizon: no effect can be estimated"
            )
        w_plus = den[1] * sn[1] / both
    u_ate = np.zeros(n_g)
    u_ate_var = np.zeros(n_g)
    for inc, w in ((1, w_plus), (0, 1.0 - w_plus)):
        a = parts[inc]
        if a is None or a[3] == 0:
            continue
        sign = 1.0 if inc == 1 else -1.0
        u_ate += w * sign * a[0]
        u_ate_var += w * sign * a[1]
    ate = u_ate.sum() / G
    ate_se = float(np.sqrt((_cluster_sums(p, u_ate_var[:, None]) ** 2).sum() / G**2))
    cnt_all = np.max(np.stack(counts), axis=0)
    eff_rows = rows[:n_eff]
    ate_row = {
        "term": "Average_Total_Effect",
        "horizon": 0,
        "estimate": ate,
        "n": float((cnt_all > 0).sum()),
        "n_switchers": float(sum(r["n_switchers"] for r in eff_rows)),
        "n_weighted": float(cnt_all.sum()),
        "n_switchers_weighted": float(sum(r["n_switchers_weighted"] for r in eff_rows)),
    }
    table = pd.DataFrame([*eff_rows, ate_row, *rows[n_eff:]])
    se_all = np.r_[se[:n_eff], ate_se, se[n_eff:]]
    z = stats.norm.ppf(1 - alpha / 2)
    table.insert(3, "std_error", se_all)
    table.insert(4, "conf_low", table["estimate"] - z * se_all)
    table.insert(5, "conf_high", table["estimate"] + z * se_all)
    table = table[RESULT_COLUMNS]

    # tests (Ginv as the reference; the chi-squared statistics use the full covariance)
    b = table["estimate"].to_numpy()
    b_eff, b_pl = b[:n_eff], b[n_eff + 1 :]
    V_eff, V_pl = V[:n_eff, :n_eff], V[n_eff:, n_eff:]
    ok_eff = np.isfinite(b_eff).all() and (not normalized or all(d != 0 for d in deltas[:n_eff]))
    p_joint = _wald_p(b_eff, V_eff, n_eff) if n_eff > 1 and ok_eff else None
    p_pl = _wald_p(b_pl, V_pl, n_pl) if n_pl > 1 and np.isfinite(b_pl).all() else None
    p_equal = None
    if effects_equal and n_eff > 1 and ok_eff:
        Dm = np.eye(n_eff)[:-1] - 1.0 / n_eff
        vt = Dm @ V_eff @ Dm.T
        p_equal = _wald_p(Dm @ b_eff, (vt + vt.T) / 2, n_eff - 1)

    # switchers' mean number of cumulated effects (the reference's delta_D_avg_total)
    num = den_tot = 0.0
    m_g = np.minimum(n_eff, p.tg - p.f + 1)
    for r in res.values():
        for i, h in r[0].items():
            if h.n == 0:
                continue
            x = np.where((h.dist == 1) & (p.n > 0), np.abs(p.d - p.d_sq[:, None]), np.nan)
            x[x == 0] = np.nan
            num += np.nansum(x * (m_g[:, None] - (i - 1)))
            den_tot += np.nansum(x)

    return MultiplegtDynResult(
        table=table,
        vcov=V,
        n_effects=n_eff,
        n_placebos=n_pl,
        normalized=normalized,
        n_groups=G,
        n_clusters=int(p.clus.max()) + 1,
        p_joint_effects=p_joint,
        p_joint_placebos=p_pl,
        p_equal_effects=p_equal,
        delta_d=np.asarray(deltas[:n_eff]) if normalized else None,
        delta_d_placebo=np.asarray(deltas[n_eff:]) if normalized else None,
        delta_d_avg_total=num / den_tot if den_tot else float("nan"),
        alpha=alpha,
        options={
            "effects": effects,
            "placebo": placebo,
            "cluster": cluster,
            "weight": weight,
            "switchers": switchers,
            "same_switchers": same_switchers,
            "same_switchers_pl": same_switchers_pl,
            "only_never_switchers": only_never_switchers,
            "trends_nonparam": tnp,
            "min_control_clusters": min_control_clusters,
        },
    )
