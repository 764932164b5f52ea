"""Effect heterogeneity of a staggered binary treatment across city groups.

Dimensions (any subset): ``region`` (east / central / west / northeast), ``coastal`` (coastal vs
inland), ``batch`` (designation batch of the treated cities) and ``size`` (terciles of baseline
exports, i.e. exports in the first panel year, so the grouping is not affected by the treatment).

Two estimates per group, both TWFE with city and year effects (the numbers of
:func:`analysis.did.twfe.twfe`, computed by its FWL twin ``_twfe_fast``):

* **interaction**: one regression on the full panel with ``D x 1{group = k}`` for every group ``k``
  (no omitted group, so each coefficient is that group's effect) sharing the year effects and the
  control coefficients; a Wald test of equal effects across groups is reported per dimension;
* **split sample**: a separate regression per group (its own year effects). For ``batch`` the
  sample is the batch's cities plus the never-treated cities (a clean comparison, as in stacked
  designs, Cengiz et al. 2019 QJE 134(3)); for the other dimensions it is all cities of the group.

Under heterogeneous effects over time the static TWFE coefficient is a weighted average with
possibly negative weights (Goodman-Bacon 2021; de Chaisemartin & D'Haultfoeuille 2020 AER 110(9)),
so group differences partly reflect different timing mixes; read them alongside the event studies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.did.results import TIDY_COLUMNS, tidy_frame
from analysis.did.twfe import twfe_fwl as twfe  # = analysis.did.twfe.twfe, by the FWL kernel

__all__ = ["DIMENSIONS", "HeterogeneityResult", "city_groups", "heterogeneity"]

DIMENSIONS = ("region", "coastal", "batch", "size")
SIZE_LABELS = {2: ["small", "large"], 3: ["small", "medium", "large"], 4: ["Q1", "Q2", "Q3", "Q4"]}


def city_groups(
    panel: pd.DataFrame,
    dimensions=DIMENSIONS,
    idname: str = "city_code",
    tname: str = "year",
    gname: str = "pilot_year",
    region: str = "region",
    coastal: str = "coastal",
    batch: str = "pilot_batch",
    size: str = "exports_usd_mn",
    size_bins: int = 3,
    base_year: int | None = None,
) -> pd.DataFrame:
    """One row per city with its group label on each dimension (batch is NaN for never-treated cities)."""
    first = panel.sort_values(tname).groupby(idname, sort=True).first()
    out = pd.DataFrame(index=first.index)
    for dim in dimensions:
        if dim == "region":
            out[dim] = first[region].astype(str)
        elif dim == "coastal":
            out[dim] = np.where(first[coastal].astype(bool), "coastal", "inland")
        elif dim == "batch":
            b = first[batch].where(first[gname] > 0)
            out[dim] = b.map(lambda v: f"batch {int(v)}" if pd.notna(v) else np.nan)
        elif dim == "size":
            year = panel[tname].min() if base_year is None else base_year
            base = panel.loc[panel[tname] == year].set_index(idname)[size].reindex(first.index)
            labels = SIZE_LABELS.get(size_bins, [f"Q{i + 1}" for i in range(size_bins)])
            out[dim] = pd.qcut(base, size_bins, labels=labels).astype(str)
        else:
            raise ValueError(f"unknown dimension {dim!r}; choose from {DIMENSIONS}")
    return out


@dataclass
class HeterogeneityResult:
    """Group effects (tidy ``table``) and per-dimension equality tests (``tests``)."""

    table: pd.DataFrame  # dimension, group, method, TIDY_COLUMNS, n_obs, n_cities, n_treated_cities
    tests: pd.DataFrame  # dimension, wald, df, p_value (interaction model: equal effects)
    pooled: pd.Series  # the pooled TWFE row

    def tidy(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> str:
        cols = [
            "dimension",
            "group",
            "method",
            "estimate",
            "std_error",
            "conf_low",
            "conf_high",
            "n_treated_cities",
        ]
        return (
            f"Heterogeneity of the effect (pooled TWFE {self.pooled['estimate']:.4f}, "
            f"SE {self.pooled['std_error']:.4f})\n"
            + self.table[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}")
            + "\nEqual-effects Wald tests (interaction model)\n"
            + self.tests.to_string(index=False, float_format=lambda v: f"{v:.4f}")
        )

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax=None):
        from analysis.figures.robustness import heterogeneity_axes

        return heterogeneity_axes(self.table, pooled=float(self.pooled["estimate"]), ax=ax)


def _ordered(values) -> list:
    """Size groups in size order (small < medium < large, Q1 < Q2 ...), other labels sorted."""
    rank = {v: i for labels in SIZE_LABELS.values() for i, v in enumerate(labels)}
    return sorted(values, key=lambda v: (rank.get(v, len(rank)), str(v)))


def _wald_equal(fit, names: list[str]) -> tuple[float, int, float]:
    """Wald test of H0: all coefficients in ``names`` are equal (chi-squared, df = k - 1)."""
    k = len(names)
    if k < 2:
        return np.nan, 0, np.nan
    b = fit.params[names].to_numpy()
    v = fit.cov.loc[names, names].to_numpy()
    R = np.eye(k)[1:] - np.eye(k)[0]
    rb = R @ b
    w = float(rb @ np.linalg.solve(R @ v @ R.T, rb))
    return w, k - 1, float(stats.chi2.sf(w, k - 1))


def heterogeneity(
    panel: pd.DataFrame,
    yname: str = "log_exports",
    dname: str = "pilot",
    gname: str = "pilot_year",
    controls: list[str] | None = None,
    dimensions=DIMENSIONS,
    idname: str = "city_code",
    tname: str = "year",
    cluster: str | None = None,
    methods=("interaction", "split"),
    size_bins: int = 3,
    min_treated: int = 1,
    groups: pd.DataFrame | None = None,
) -> HeterogeneityResult:
    """Interaction and split-sample TWFE effects of ``dname`` by group on each dimension.

    ``groups``: a per-city table of group labels (default :func:`city_groups`); any extra column
    in it can be used as a dimension. Groups with fewer than ``min_treated`` treated cities are
    skipped (no identifying variation).
    """
    controls = list(controls or [])
    dimensions = list(dimensions)
    if groups is None:
        groups = city_groups(panel, dimensions, idname, tname, gname, size_bins=size_bins)
    pooled_fit = twfe(panel, yname, [dname, *controls], idname, tname, cluster)
    pooled = pooled_fit.tidy().set_index("term").loc[dname]
    treated_city = panel.groupby(idname)[gname].first() > 0
    rows, tests = [], []

    def add(dim, group, method, est, se, n_obs, data):
        row = tidy_frame([f"{dname} x {dim}={group}"], [est], [se]).iloc[0].to_dict()
        rows.append(
            {
                "dimension": dim,
                "group": group,
                "method": method,
                **row,
                "n_obs": n_obs,
                "n_cities": data[idname].nunique(),
                "n_treated_cities": data.loc[data[gname] > 0, idname].nunique(),
            }
        )

    for dim in dimensions:
        label = panel[idname].map(groups[dim])
        n_treated = groups.loc[
            treated_city.reindex(groups.index).fillna(False).to_numpy(bool), dim
        ].value_counts()
        levels = [
            g for g in _ordered(label.dropna().unique()) if n_treated.get(g, 0) >= min_treated
        ]
        if "interaction" in methods and levels:
            d = panel[dname].to_numpy(float)
            names = [f"_het_{i}" for i in range(len(levels))]
            data = panel.assign(**{n: d * (label == g).to_numpy() for n, g in zip(names, levels)})
            fit = twfe(data, yname, [*names, *controls], idname, tname, cluster)
            # a group whose interaction is absorbed by the fixed effects (e.g. all its treated
            # cities switch in the same year as the year effects allow) has no estimate
            kept = [(n, g) for n, g in zip(names, levels) if n in fit.params.index]
            names = [n for n, _ in kept]
            for n, g in kept:
                add(
                    dim,
                    g,
                    "interaction",
                    fit.params[n],
                    fit.std_errors[n],
                    fit.nobs,
                    panel[(label == g).to_numpy()],
                )
            if len(names) >= 2:
                w, df, p = _wald_equal(fit, names)
                tests.append({"dimension": dim, "wald": w, "df": df, "p_value": p})
        if "split" in methods:
            for g in levels:
                keep = (
                    (label == g) | (label.isna() & (panel[gname] == 0))
                    if dim == "batch"
                    else label == g
                )
                sub = panel[keep.to_numpy()]
                fit = twfe(sub, yname, [dname, *controls], idname, tname, cluster)
                if dname in fit.params.index:  # absorbed in this subsample: no estimate
                    add(dim, g, "split", fit.params[dname], fit.std_errors[dname], fit.nobs, sub)
    table = pd.DataFrame(rows)
    table = table[
        ["dimension", "group", "method", *TIDY_COLUMNS, "n_obs", "n_cities", "n_treated_cities"]
    ]
    return HeterogeneityResult(
        table=table,
        tests=pd.DataFrame(tests, columns=["dimension", "wald", "df", "p_value"]),
        pooled=pooled,
    )
