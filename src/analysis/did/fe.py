"""The fixed-effects kernel: unit and time effects partialled out by Frisch-Waugh-Lovell, OLS on the
residuals, and cluster-robust (CRV1) standard errors.

Every estimator in ``analysis.did`` that absorbs unit + time effects by hand goes through this
module (the user-facing ``twfe`` is linearmodels ``PanelOLS``; it agrees with this kernel to 1e-10,
tests/did/test_fe.py):

* ``FEProjector`` -- the residual maker ``M_W`` for ``W = [unit FE, time FE, controls]``, optionally
  weighted. Balanced panels (and balanced panels with unit-constant weights) use the exact closed
  form ``x - xbar_i - xbar_t + xbar`` (Wooldridge 2010, Sec. 10.5; Baltagi 2021, Ch. 3). Unbalanced
  panels are exact too: within-unit demeaning, then projecting out the within-demeaned time dummies
  (T is small in annual panels). Only panels with more than ``max_exact_times`` periods use
  alternating projections (pyfixest's ``demean``, tolerance 1e-13). ``factored`` keeps the
  demeaning of a sparse matrix factorised (``FactoredWithin``: the matrix minus low-rank mean
  terms), for Gram matrices and cluster scores of many indicator columns (Sun-Abraham).
* ``fit_within`` -- OLS of y on X after ``M_W`` with the ONE rank rule and the ONE CRV1 rule below;
  used by ``twfe_fwl`` / ``twfe(method="demean")``, Bacon, randomization and the wild bootstrap.
  ``keep_scores=True`` also returns the observation scores and the bread (``WithinScores``), from
  which other sandwich covariances are built (the Conley covariance of ``analysis.did.conley``).
* ``RANK_TOL`` -- the rank rule for absorbed / collinear regressors (and controls, and the time
  dummies of the unbalanced path): columns are taken in order, and a column is dropped when less
  than ``RANK_TOL`` of its norm *before* the fixed effects were removed is left after removing the
  effects and the columns kept before it. This is linearmodels' ``drop_absorbed`` rule with its
  tolerance (linearmodels 7.1 ``_ABSORBED_TOL``), so that every path drops exactly the columns that
  the user-facing PanelOLS ``twfe`` drops; the tolerance does not depend on units of measurement.
* ``SmallSample`` -- the CRV1 small-sample factor, fixest's ``ssc()``:
  ``(n-1)/(n-K) * G/(G-1)`` with ``K`` = regressors + fixed effects not nested in the clusters
  (``fixef.K = "nested"``: an effect whose every level lies in one cluster is not counted, one
  parameter is added back per such effect; so clustering by unit or a coarser group gives
  ``K = k + T``, clustering by period ``K = k + N``, otherwise ``K = k + N + T - 1``).

Hand-written rather than a library call because the placebo and bootstrap tools apply ``M_W`` to
thousands of columns, the robustness checks run ~150 fits, and at 10^7 rows the one-step balanced
transformation is far cheaper than PanelOLS's dummy machinery or alternating projections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

RANK_TOL = 1e-5  # see the module docstring: relative norm left; = linearmodels' _ABSORBED_TOL
# the convergence tolerance every pyfixest.feols call of the project passes (``fixef_tol``):
# pyfixest demeans by alternating projections to 1e-8 by default, and CS with time-varying
# covariates then gave standard errors 1e-7 (relative) apart in a worker process and in the main
# one (thread count), visible at the 7 significant digits of the results files; at 1e-12 they
# agree to ~1e-13
PYFIXEST_FIXEF_TOL = 1e-12


# --------------------------------------------------------------------------------- small helpers
def treatment_from_cohort(cohort: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Absorbing staggered treatment ``D_it = 1{g_i > 0 and t >= g_i}`` (``g = 0``: never treated)."""
    cohort = np.asarray(cohort)
    return ((cohort > 0) & (np.asarray(time) >= cohort)).astype(float)


def group_sum(codes: np.ndarray, x: np.ndarray, n_groups: int) -> np.ndarray:
    """Column sums of a vector or an (N, K) matrix by group code (one sparse one-hot product)."""
    from scipy import sparse

    onehot = sparse.csr_matrix(
        (np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(n_groups, len(codes))
    )
    return np.asarray(onehot @ x)


def encode_panel(
    data: pd.DataFrame, idname: str, tname: str, columns: list[str]
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Drop rows with missing values in the used columns, sort by (id, time), code id and time."""
    used = list(dict.fromkeys([idname, tname, *columns]))
    df = data[used].dropna().sort_values([idname, tname], kind="mergesort").reset_index(drop=True)
    if df.duplicated([idname, tname]).any():
        raise ValueError(f"duplicate ({idname}, {tname}) rows")
    unit = pd.factorize(df[idname], sort=True)[0]
    time = pd.factorize(df[tname], sort=True)[0]
    return df, unit, time


def nested_in(fe_codes: np.ndarray, cluster_codes: np.ndarray) -> bool:
    """True when every level of a fixed effect lies in a single cluster (fixest's "nested")."""
    first = np.empty(int(fe_codes.max()) + 1, dtype=np.int64)
    first[fe_codes] = cluster_codes
    return bool((first[fe_codes] == cluster_codes).all())


def independent_columns(gram: np.ndarray, norms: np.ndarray, tol: float = RANK_TOL) -> np.ndarray:
    """Indices of the columns kept by the rank rule (``RANK_TOL``), from the Gram matrix.

    ``gram`` is the (weighted) Gram matrix of the columns after the effects were removed, ``norms``
    their norms before. Column j is kept if its residual on the kept columns before it has a norm of
    at least ``tol * norms[j]``; the residual's squared norm is the Schur complement
    ``G_jj - G_jK G_KK^-1 G_Kj`` (its rounding error, ~1e-16 G_jj, is far below ``tol**2``).
    """
    return independent_columns_factor(gram, norms, tol)[0]


def independent_columns_factor(
    gram: np.ndarray, norms: np.ndarray, tol: float = RANK_TOL
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`independent_columns` and the lower Cholesky factor ``L`` of the kept columns' Gram
    matrix (``gram[kept][:, kept] = L L'``).

    The Schur complements are the squared diagonal of ``L`` grown one kept column at a time
    (``G_jK G_KK^-1 G_Kj = |L^-1 G_Kj|^2``): one triangular solve (BLAS ``trsv``) per column,
    O(k^3) in all. A fresh solve with ``G_KK`` per column cost O(k^4) and one multithreaded LAPACK
    call per column, which was most of Sun-Abraham's time (342 cohort x period cells on
    3,000 x 20), and far more on a loaded machine.
    """
    from scipy.linalg.blas import dtrsv

    gram = np.asarray(gram, dtype=float)
    k = gram.shape[0]
    chol = np.zeros((k, k), order="F")  # leading m x m block: the factor of the kept columns
    kept: list[int] = []
    for j in range(k):
        scale = norms[j] if norms[j] > 0 else 1.0
        m = len(kept)
        resid2 = gram[j, j]
        if m:
            v = dtrsv(chol[:m, :m], gram[kept, j], lower=1)
            resid2 -= v @ v
        if resid2 >= (tol * scale) ** 2:
            if m:
                chol[m, :m] = v
            chol[m, m] = np.sqrt(resid2)
            kept.append(j)
    m = len(kept)
    return np.asarray(kept, dtype=np.int64), np.ascontiguousarray(chol[:m, :m])


# --------------------------------------------------------------------------------- small sample
@dataclass(frozen=True)
class SmallSample:
    """CRV1 small-sample factor ``[(n - c)/(n - K)] * [G/(G - 1)]``, fixest's ``ssc()`` rule.

    The default is fixest's default (``ssc(adj=TRUE, fixef.K="nested", cluster.adj=TRUE)``), the
    one rule of this project. The switches are fixest's: ``fixef_k`` "nested" / "full" / "none",
    ``adj`` and ``cluster_adj``. One setting exists only to keep the numbers of a method
    validated against other software:

    * ``wild_cluster_bootstrap`` reports its CRV1 s.e. as ``wildboottest`` does (fixed effects as
      dummies): ``fixef_k="full"``;
    """

    adj: bool = True
    fixef_k: str = "nested"
    cluster_adj: bool = True
    n_minus_one: bool = True  # numerator n - 1 (fixest) or n (linearmodels)

    def fe_df(self, fe_sizes: list[int], fe_nested: list[bool]) -> int:
        """Degrees of freedom used by the fixed effects (pyfixest ``get_ssc``, fixest issue 554)."""
        if self.fixef_k == "none" or not fe_sizes:
            return 0
        k_fe = sum(fe_sizes) - (len(fe_sizes) - 1)  # one level per extra effect is redundant
        if self.fixef_k == "full":
            return k_fe
        if self.fixef_k != "nested":
            raise ValueError("fixef_k must be 'nested', 'full' or 'none'")
        nested = [s for s, f in zip(fe_sizes, fe_nested) if f]
        return k_fe - sum(nested) + len(nested) if nested else k_fe

    def factor(
        self, n: int, k: int, n_clusters: int, fe_sizes: list[int], fe_nested: list[bool]
    ) -> float:
        out = 1.0
        if self.adj:
            df_k = k + self.fe_df(fe_sizes, fe_nested)
            out *= ((n - 1) if self.n_minus_one else n) / (n - df_k)
        if self.cluster_adj:
            out *= n_clusters / (n_clusters - 1)
        return out


FIXEST = SmallSample()


# --------------------------------------------------------------------------------- projector
@dataclass
class FEProjector:
    """Residual maker ``M_W`` for ``W = [unit FE, time FE, controls]`` on a long panel.

    Parameters
    ----------
    unit, time : integer codes (0..n_units-1, 0..n_times-1) per observation.
    controls : optional (N, k) array of additional nuisance regressors (the rank rule drops those
        absorbed by the effects or collinear with earlier ones).
    weights : optional positive observation weights: ``M_W`` is then the residual maker of weighted
        least squares, ``x - W (W' Omega W)^-1 W' Omega x``; bases below are Omega-orthonormal.
    tol : convergence tolerance of the alternating projections (panels with many periods only).
    """

    unit: np.ndarray
    time: np.ndarray
    controls: np.ndarray | None = None
    weights: np.ndarray | None = None
    tol: float = 1e-13

    max_exact_times = 400

    def __post_init__(self) -> None:
        self.unit = np.asarray(self.unit, dtype=np.int64)
        self.time = np.asarray(self.time, dtype=np.int64)
        self.n = len(self.unit)
        self.n_units = int(self.unit.max()) + 1
        self.n_times = int(self.time.max()) + 1
        cells = self.unit * self.n_times + self.time
        self.balanced = (
            self.n == self.n_units * self.n_times
            and np.bincount(cells, minlength=self.n_units * self.n_times).max() == 1
        )
        w = None if self.weights is None else np.asarray(self.weights, dtype=float)
        if w is not None and not (np.isfinite(w).all() and (w > 0).all()):
            raise ValueError("weights must be positive and finite")
        self.w = w
        ones = np.ones(self.n) if w is None else w
        self._unit_count = np.bincount(self.unit, weights=ones, minlength=self.n_units)
        self._time_count = np.bincount(self.time, weights=ones, minlength=self.n_times)
        # the closed form holds when the weights are constant within units (matching weights)
        self.closed_form = self.balanced and (
            w is None or np.ptp(w) == 0 or _constant_within(self.unit, w, self.n_units)
        )
        self._time_basis = None
        if not self.closed_form and self.n_times <= self.max_exact_times:
            # exact FWL: within-unit demeaning, then project out the within-demeaned time dummies
            td = np.zeros((self.n, self.n_times - 1))
            rows = self.time > 0
            td[np.flatnonzero(rows), self.time[rows] - 1] = 1.0
            self._time_basis = self._basis(self.unit_within(td), td)
        self._ctrl = None
        if self.controls is not None and np.size(self.controls):
            c = np.asarray(self.controls, dtype=float).reshape(self.n, -1)
            self._ctrl = self._basis(self.demean_fe(c), c)

    # -- inner products in the (weighted) metric
    def _w(self, x: np.ndarray) -> np.ndarray:
        return x if self.w is None else x * self.w.reshape(-1, *([1] * (x.ndim - 1)))

    def gram(self, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """``a' Omega b`` (Omega = diag(weights), identity without weights)."""
        return a.T @ self._w(a if b is None else b)

    def _basis(self, xd: np.ndarray, x_orig: np.ndarray) -> np.ndarray | None:
        """Omega-orthonormal basis of the columns of ``xd`` kept by the rank rule."""
        norms = np.sqrt(np.einsum("ij,ij->j", x_orig, self._w(x_orig)))
        keep = independent_columns(self.gram(xd), norms)
        if not len(keep):
            return None
        sw = np.ones(self.n) if self.w is None else np.sqrt(self.w)
        q = np.linalg.qr(xd[:, keep] * sw[:, None])[0]
        return q / sw[:, None]

    @property
    def n_params(self) -> int:
        """Number of nuisance parameters (unit + time effects - 1 + non-absorbed controls)."""
        k = 0 if self._ctrl is None else self._ctrl.shape[1]
        return self.n_units + self.n_times - 1 + k

    def unit_within(self, x: np.ndarray) -> np.ndarray:
        """Within-unit (weighted) demeaning of an (N, K) matrix."""
        x2 = np.asarray(x, dtype=float).reshape(self.n, -1)
        um = group_sum(self.unit, self._w(x2), self.n_units) / self._unit_count[:, None]
        return x2 - um[self.unit]

    def demean_fe(self, x: np.ndarray) -> np.ndarray:
        """Two-way demeaning (unit and time effects only) of a vector or an (N, K) matrix."""
        x = np.asarray(x, dtype=float)
        vec = x.ndim == 1
        x2 = x.reshape(self.n, -1)
        if self.closed_form:
            # exact: x - unit mean - (weighted) time mean + (weighted) grand mean
            um = group_sum(self.unit, x2, self.n_units) / float(self.n_times)
            tm = group_sum(self.time, self._w(x2), self.n_times) / self._time_count[:, None]
            grand = self._w(x2).sum(axis=0) / self._time_count.sum()
            out = x2 - um[self.unit] - tm[self.time] + grand
        elif self._time_basis is not None:
            out = self._remove(self.unit_within(x2), self._time_basis)
        else:
            from pyfixest.estimation import demean

            flist = np.column_stack([self.unit, self.time]).astype(np.uint64)
            wts = np.ones(self.n) if self.w is None else self.w
            out, ok = demean(np.ascontiguousarray(x2), flist, wts, tol=self.tol, maxiter=100_000)
            if not ok:  # pragma: no cover - pyfixest did not converge
                raise RuntimeError("alternating projections did not converge")
        return out[:, 0] if vec else out

    def demean_fe_inplace(self, z: np.ndarray) -> np.ndarray:
        """Two-way demean the columns of ``z`` in place; return the Gram matrix of the
        unit-demeaned columns (linearmodels' within R2 is defined on those).

        The closed-form path works column by column with ``bincount`` (one O(N) pass each) so that a
        10^7-row panel needs no copy beyond ``z`` itself; give ``z`` in Fortran order.
        """
        if not self.closed_form:
            uw = self.unit_within(z)
            gram_within = self.gram(uw)
            if self._time_basis is not None:
                z[:] = self._remove(uw, self._time_basis)
            else:
                z[:] = self.demean_fe(z)
            return gram_within
        for j in range(z.shape[1]):
            z[:, j] -= (
                np.bincount(self.unit, weights=z[:, j], minlength=self.n_units) / self.n_times
            )[self.unit]
        gram_within = self.gram(z)
        for j in range(z.shape[1]):
            wz = z[:, j] if self.w is None else z[:, j] * self.w
            z[:, j] -= (
                np.bincount(self.time, weights=wz, minlength=self.n_times) / self._time_count
            )[self.time]
        return gram_within

    def _remove(self, x: np.ndarray, q: np.ndarray) -> np.ndarray:
        """``x - q (q' Omega x)`` for an Omega-orthonormal basis ``q``."""
        return x - q @ self.gram(q, x)

    def partial_out_controls(self, xt: np.ndarray) -> np.ndarray:
        """Remove the (FE-demeaned) controls from an already FE-demeaned array."""
        return xt if self._ctrl is None else self._remove(xt, self._ctrl)

    def residualize(self, x: np.ndarray) -> np.ndarray:
        """``M_W x``: FE demeaning followed by the controls' projection (FWL)."""
        return self.partial_out_controls(self.demean_fe(x))

    @property
    def control_basis(self) -> np.ndarray | None:
        """Orthonormal basis of the FE-demeaned controls (None without controls)."""
        return self._ctrl

    @property
    def within_basis(self) -> np.ndarray | None:
        """Unbalanced exact path: orthonormal basis ``B`` with ``M_W = M_unit - B B'`` on M_unit x."""
        if self._time_basis is None:
            return None
        return np.hstack([b for b in (self._time_basis, self._ctrl) if b is not None])

    def factored(self, x) -> FactoredWithin | None:
        """Two-way demeaning of a sparse (N, K) matrix kept factorised: ``M_FE x = x - sum S_j H_j``.

        The terms are those of :meth:`demean_fe`: the unit dummies times the (sparse) unit means of
        ``x``; on the closed-form path the time dummies times the (weighted) time means and a
        constant times the grand mean; on the unbalanced exact path the time basis ``q`` times
        ``q' Omega (x - unit means)``. Products with ``M_FE x`` (Gram matrices, cluster scores) then
        cost the nonzeros of ``x`` and the low-rank terms instead of a dense N x K array: for
        indicator columns with one nonzero per row (Sun-Abraham's cohort x period cells, 342
        columns on 3,000 units x 20 periods) forming and demeaning the dense array was most of the
        estimator's time. None on the alternating-projections path (more than
        ``max_exact_times`` periods), where no such factorisation exists.
        """
        from scipy import sparse

        if not self.closed_form and self._time_basis is None:
            return None
        x = sparse.csr_matrix(x, dtype=float)
        n, ones, rows = self.n, np.ones(self.n), np.arange(self.n)
        wx = x if self.w is None else sparse.diags(self.w) @ x
        d_unit = sparse.csr_matrix((ones, (rows, self.unit)), shape=(n, self.n_units))
        if self.closed_form:
            # x - unit mean - (weighted) time mean + (weighted) grand mean
            d_time = sparse.csr_matrix((ones, (rows, self.time)), shape=(n, self.n_times))
            um = (d_unit.T @ x) / float(self.n_times)
            tm = sparse.diags(1.0 / self._time_count) @ (d_time.T @ wx)
            grand = np.asarray(wx.sum(axis=0)) / self._time_count.sum()
            terms = [
                (d_unit, um.tocsr()),
                (d_time, tm.tocsr()),
                (sparse.csr_matrix(ones[:, None]), -grand),
            ]
            return FactoredWithin(x, terms)
        # within-unit (weighted) demeaning, then the time basis: uw - q (q' Omega uw)
        um = sparse.diags(1.0 / self._unit_count) @ (d_unit.T @ wx)
        q = self._time_basis
        wq = self._w(q)
        hq = np.asarray((x.T @ wq).T) - np.asarray((d_unit.T @ wq).T @ um)
        return FactoredWithin(x, [(d_unit, um.tocsr()), (q, hq)])


@dataclass
class FactoredWithin:
    """``M_FE x = x - sum_j S_j @ H_j`` (:meth:`FEProjector.factored`): ``x`` and the ``S_j`` are
    (N, .) matrices, sparse (dummies) or dense (the time basis); ``H_j`` sparse (unit and time
    means: as sparse as ``x``) or dense (the grand mean, one row; the time-basis coefficients)."""

    x: object  # scipy.sparse (N, K)
    terms: list

    def left(self, a) -> np.ndarray:
        """``a @ M_FE x`` (dense) for a sparse or dense (m, N) ``a``, without forming M_FE x."""
        from scipy import sparse

        def dense(m):
            return m.toarray() if sparse.issparse(m) else np.asarray(m)

        out = dense(a @ self.x)
        for s, h in self.terms:
            as_ = a @ s
            if sparse.issparse(h):
                out -= dense(as_ @ h)
            elif h.shape[0] == 1:  # an outer product: broadcast, no BLAS call
                out -= dense(as_) * h
            else:
                out -= dense(as_) @ h
        return out

    def matvec(self, b: np.ndarray) -> np.ndarray:
        """``(M_FE x) @ b``."""
        out = self.x @ b
        for s, h in self.terms:
            out -= s @ (h @ b)
        return out

    def toarray(self) -> np.ndarray:
        """``M_FE x`` as a dense array (tests)."""
        return self.left(np.eye(self.x.shape[0]))


def _constant_within(codes: np.ndarray, w: np.ndarray, n_groups: int) -> bool:
    lo = np.full(n_groups, np.inf)
    hi = np.full(n_groups, -np.inf)
    np.minimum.at(lo, codes, w)
    np.maximum.at(hi, codes, w)
    return bool((lo == hi).all())


# --------------------------------------------------------------------------------- regression
class UnbalancedPanelError(ValueError):
    """``fit_within(require_balanced=True)`` on a panel where the closed form does not apply."""


@dataclass
class WithinScores:
    """What a sandwich covariance of a ``fit_within`` regression needs, per used observation.

    ``scores``: (n, k) ``x~_it * w_it * u_it`` (demeaned kept regressors times the weighted
    residual; their cluster sums are the CRV1 meat); ``bread``: ``(X~' Omega X~)^-1``; ``rows``:
    positions of the used rows in the caller's data (rows with missing values are dropped);
    ``unit``/``time``: codes of the units and of the periods (in period order) on those rows."""

    scores: np.ndarray
    bread: np.ndarray
    rows: np.ndarray
    unit: np.ndarray
    time: np.ndarray


@dataclass
class WithinFit:
    """OLS on the two-way demeaned data with CRV1 covariance (arrays; names of the kept columns)."""

    names: list[str]
    params: np.ndarray
    cov: np.ndarray
    nobs: int
    n_units: int
    n_times: int
    n_clusters: int
    cluster: str
    r2_within: float
    balanced: bool
    within_scores: WithinScores | None = None

    @property
    def std_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))


def fit_within(
    data: pd.DataFrame,
    yname: str,
    xnames: list[str],
    idname: str,
    tname: str,
    cluster: str | None = None,
    weights: str | None = None,
    ssc: SmallSample = FIXEST,
    require_balanced: bool = False,
    keep_scores: bool = False,
) -> WithinFit:
    """Regress ``yname`` on ``xnames`` with unit and time effects, CRV1 SEs clustered by ``cluster``
    (default: ``idname``), optionally weighted by the column ``weights``.

    Rows with a missing value in any used column are dropped (as PanelOLS does). Regressors removed
    by the rank rule (``RANK_TOL``) are left out of the result. ``require_balanced`` raises a
    ``ValueError`` unless the closed-form (balanced) path applies. ``r2_within`` is linearmodels'
    within R2: ``1 - |y~ - X~ b|^2 / |y~|^2`` on the unit-demeaned data. ``keep_scores`` adds the
    observation scores and the bread (:class:`WithinScores`) to the result.
    """
    cluster = cluster or idname
    xnames = list(xnames)
    cols = [yname, *xnames]
    ok = np.ones(len(data), dtype=bool)
    for c in cols + ([weights] if weights else []):
        ok &= np.isfinite(data[c].to_numpy(dtype=float))
    for c in dict.fromkeys([idname, tname, cluster]):
        ok &= pd.notna(data[c]).to_numpy()
    full = bool(ok.all())

    def col(name: str) -> np.ndarray:
        v = (
            data[name].to_numpy()
            if name in (idname, tname, cluster)
            else data[name].to_numpy(dtype=float)
        )
        return v if full else v[ok]

    # one Fortran-ordered working copy: the column passes then read contiguous memory
    z = np.empty((int(ok.sum()), len(cols)), order="F")
    for j, c in enumerate(cols):
        z[:, j] = col(c)
    unit = pd.factorize(col(idname))[0]
    time = pd.factorize(col(tname))[0]
    w = col(weights) if weights else None
    proj = FEProjector(unit, time, weights=w)
    if require_balanced and not proj.closed_form:
        raise UnbalancedPanelError(
            "method='demean' needs a balanced panel (each unit observed once in every period)"
        )
    n = proj.n
    norms = np.sqrt(np.einsum("ij,ij->j", z, proj._w(z)))
    gram_within = proj.demean_fe_inplace(z)
    gram = proj.gram(z)
    keep = independent_columns(gram[1:, 1:], norms[1:])
    if not len(keep):
        raise ValueError("all regressors are absorbed by the fixed effects")
    xk = 1 + keep
    bread = np.linalg.inv(gram[np.ix_(xk, xk)])
    beta = bread @ gram[xk, 0]
    u = z[:, 0] - z[:, xk] @ beta
    if w is not None:
        u = u * w
    cl = unit if cluster == idname else time if cluster == tname else pd.factorize(col(cluster))[0]
    n_clusters = int(cl.max()) + 1
    # cluster scores sum_{i in g} x_i w_i u_i, one bincount per regressor
    scores = np.column_stack(
        [np.bincount(cl, weights=z[:, j] * u, minlength=n_clusters) for j in xk]
    )
    fe_sizes = [proj.n_units, proj.n_times]
    fe_nested = [nested_in(unit, cl), nested_in(time, cl)]
    cov = bread @ (scores.T @ scores) @ bread
    cov *= ssc.factor(n, len(keep), n_clusters, fe_sizes, fe_nested)
    gy, gxy, gxx = gram_within[0, 0], gram_within[xk, 0], gram_within[np.ix_(xk, xk)]
    r2_within = 1.0 - (gy - 2 * beta @ gxy + beta @ gxx @ beta) / gy
    kept_scores = None
    if keep_scores:
        kept_scores = WithinScores(
            scores=z[:, xk] * u[:, None],
            bread=bread,
            rows=np.flatnonzero(ok),
            unit=unit,
            time=pd.factorize(col(tname), sort=True)[0],
        )
    return WithinFit(
        names=[xnames[j] for j in keep],
        params=beta,
        cov=(cov + cov.T) / 2,
        nobs=n,
        n_units=proj.n_units,
        n_times=proj.n_times,
        n_clusters=n_clusters,
        cluster=cluster,
        r2_within=float(r2_within),
        balanced=bool(proj.balanced),
        within_scores=kept_scores,
    )
