"""Partialling out unit and time fixed effects (Frisch-Waugh-Lovell) for the fast inference tools.

The randomization test and the wild cluster bootstrap re-use one residual-maker ``M_W`` (unit + time
effects, plus optional controls) many times, so they need it as a cheap linear operator on many
columns at once rather than a regression call per draw. Balanced panels use the exact closed-form
two-way demeaning; unbalanced panels use pyfixest's alternating-projection ``demean`` (to a tight
tolerance so that results agree with an LSDV/PanelOLS fit to ~1e-10).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def treatment_from_cohort(cohort: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Absorbing staggered treatment ``D_it = 1{g_i > 0 and t >= g_i}`` (``g = 0``: never treated)."""
    cohort = np.asarray(cohort)
    return ((cohort > 0) & (np.asarray(time) >= cohort)).astype(float)


@dataclass
class FEProjector:
    """Residual maker ``M_W`` for ``W = [unit FE, time FE, controls]`` on a long panel.

    Parameters
    ----------
    unit, time : integer codes (0..n_units-1, 0..n_times-1) per observation.
    controls : optional (N, k) array of additional nuisance regressors.
    tol : convergence tolerance of the alternating projections (unbalanced panels only).
    """

    unit: np.ndarray
    time: np.ndarray
    controls: np.ndarray | None = None
    tol: float = 1e-13

    def __post_init__(self) -> None:
        self.unit = np.asarray(self.unit, dtype=np.int64)
        self.time = np.asarray(self.time, dtype=np.int64)
        self.n = len(self.unit)
        self.n_units = int(self.unit.max()) + 1
        self.n_times = int(self.time.max()) + 1
        cells = self.unit * self.n_times + self.time
        self.balanced = self.n == self.n_units * self.n_times and len(np.unique(cells)) == self.n
        self._unit_count = np.bincount(self.unit, minlength=self.n_units).astype(float)
        self._time_count = np.bincount(self.time, minlength=self.n_times).astype(float)
        self._time_basis = None
        if not self.balanced and self.n_times <= self.max_exact_times:
            # exact FWL for unbalanced panels: within-unit demeaning, then project out the
            # within-demeaned time dummies (an orthonormal basis; T is small in annual panels)
            td = np.zeros((self.n, self.n_times - 1))
            rows = self.time > 0
            td[np.flatnonzero(rows), self.time[rows] - 1] = 1.0
            self._time_basis = _orthonormal_basis(self.unit_within(td))
        self._ctrl = None
        if self.controls is not None and np.size(self.controls):
            c = np.asarray(self.controls, dtype=float).reshape(self.n, -1)
            # drop controls absorbed by the fixed effects (e.g. time-invariant covariates)
            self._ctrl = _orthonormal_basis(self.demean_fe(c))

    max_exact_times = 400

    @property
    def n_params(self) -> int:
        """Number of nuisance parameters (unit + time effects - 1 + non-absorbed controls)."""
        k = 0 if self._ctrl is None else self._ctrl.shape[1]
        return self.n_units + self.n_times - 1 + k

    def unit_within(self, x: np.ndarray) -> np.ndarray:
        """Within-unit demeaning of an (N, K) matrix."""
        x2 = np.asarray(x, dtype=float).reshape(self.n, -1)
        um = _group_sum(self.unit, x2, self.n_units) / self._unit_count[:, None]
        return x2 - um[self.unit]

    def demean_fe(self, x: np.ndarray) -> np.ndarray:
        """Two-way demeaning (unit and time effects only) of a vector or an (N, K) matrix."""
        x = np.asarray(x, dtype=float)
        vec = x.ndim == 1
        x2 = x.reshape(self.n, -1)
        if self.balanced:
            # exact: x - unit mean - time mean + grand mean
            um = _group_sum(self.unit, x2, self.n_units) / self._unit_count[:, None]
            tm = _group_sum(self.time, x2, self.n_times) / self._time_count[:, None]
            out = x2 - um[self.unit] - tm[self.time] + x2.mean(axis=0)
        elif self._time_basis is not None:
            w = self.unit_within(x2)
            q = self._time_basis
            out = w - q @ (q.T @ w)
        else:
            from pyfixest.estimation import demean

            flist = np.column_stack([self.unit, self.time]).astype(np.uint64)
            out, ok = demean(
                np.ascontiguousarray(x2), flist, np.ones(self.n), tol=self.tol, maxiter=100_000
            )
            if not ok:  # pragma: no cover - pyfixest did not converge
                raise RuntimeError("alternating projections did not converge")
        return out[:, 0] if vec else out

    def partial_out_controls(self, xt: np.ndarray) -> np.ndarray:
        """Remove the (FE-demeaned) controls from an already FE-demeaned array."""
        if self._ctrl is None:
            return xt
        q = self._ctrl
        return xt - q @ (q.T @ xt)

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
        parts = [b for b in (self._time_basis, self._ctrl) if b is not None]
        if self._time_basis is None:
            return None
        return np.hstack(parts)


def _orthonormal_basis(x: np.ndarray) -> np.ndarray | None:
    """Orthonormal basis of the column space of ``x`` (rank-revealing via SVD)."""
    if x.size == 0:
        return None
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    keep = s > 1e-10 * max(1.0, s.max()) * np.sqrt(x.shape[0])
    return u[:, keep] if keep.any() else None


def _group_sum(codes: np.ndarray, x: np.ndarray, n_groups: int) -> np.ndarray:
    """Column sums of ``x`` by group code (vectorised via a sparse one-hot product)."""
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
