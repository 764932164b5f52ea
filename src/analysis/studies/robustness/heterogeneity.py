"""Effect heterogeneity of a staggered binary treatment across city groups, on the headline
estimator, with a test that separates effect modification from timing composition.

Dimensions (any subset): ``region`` (east / central / west / northeast), ``coastal`` (coastal vs
inland), ``batch`` (designation batch of the treated cities) and ``size`` (terciles of baseline
exports, i.e. exports in the first panel year, so the grouping is not affected by the treatment).
The size grouping selects on the first-year outcome, which also enters the untreated-outcome
model: a city ranked large partly by a positive first-year shock gets an overestimated city
effect and underestimated imputed effects. Under the default synthetic DGP this biases the size
contrasts by about 0.01 (-0.010 for large, +0.0085 for medium at common weights, 200 panels;
tests/studies/robustness/test_heterogeneity.py), a tenth of their MDD; a size measure that is
not the outcome (baseline population) would avoid it.

Estimator: the study's headline, the Borusyak-Jaravel-Spiess (2024) imputation estimator with the
other treatments and the controls in the untreated-outcome model and the leave-out conservative
variance (:func:`analysis.studies.binary.headline_att`). One untreated-outcome model imputes
``tau_it`` for every treated city-year; a group's ATT is the mean of ``tau_it`` over the group's
treated city-years, i.e. its cohort x event-time cells ATT_k(g, e) averaged with the group's own
weights (:mod:`analysis.did.subgroup`).

Why a second number per group. Group ATTs differ for two reasons: the group modifies the effect
(same cohort and event time, different effect), or the group was treated at other times and the
effect varies with the cohort and the years since designation (timing composition; e.g. coastal
cities were designated earlier and have more late event times). The interacted TWFE this module
used to report mixed both, plus TWFE's own timing bias. Here each group's cell effects are also
averaged with COMMON weights over the cells every group of the dimension has
(``estimate_common_weights``); the test of equal common-weight effects (``modification_*``) is a
test of effect modification, the raw test (``raw_*``) of any difference. The gap between the two
differences is composition (``contrasts``: each group against the rest).

Cells are cohort x event time (which also fixes calendar time), except for ``batch``: batches are
designation cohorts, so the cells are event times. Two batches can share a coded cohort year
(under the default mid-year rule batches 4 and 5, approved in December 2019 and April 2020, are
both coded 2020; under the approval-year rule batches 6 and 7 share 2022), and then also share
cohort x event-time cells, but most batch pairs share none. The common-weight test asks whether
batches differ at EQUAL time since designation, which is the testable part of "effects differ by
batch" (a batch's characteristics and its calendar time of designation cannot be told apart). Few
event times are reached by every batch (on the real dates only e = 0 by all seven, and the
earliest batch keeps a small share of its city-years there: ``common_share``), so this test has
little power; its MDD says how little.

Precision and multiplicity. Every contrast (a group against the rest, or against the other group
of a two-group dimension) has an interval by the study's rule (t(G-1)) and a minimum detectable
difference ``MDD = (t_{1-alpha/2} + t_{0.8}) x SE`` (t(G-1) quantiles; 80% power, 5% size,
analytic from the contrast's SE: :func:`analysis.did.subgroup.minimum_detectable_difference`). A
test that does not reject is reported as "not distinguishable from zero; differences smaller than
the MDD cannot be detected", never as "no difference". The dimensions' tests are one family
each for the raw and the modification tests: stepdown adjusted p-values (Westfall-Young minP /
Romano-Wolf, :mod:`analysis.did.stepdown`) from a multiplier bootstrap of the BJS per-cluster
contributions with weights shared across the dimensions (one fit, one set of clusters), so the
adjustment uses how the tests co-move (they reuse the same imputed effects).

Inference: BJS conservative variance of each linear estimand, clustered by ``cluster``, joint over
all estimands of a dimension; critical values and p-values from t(G-1) and F(q, G-1) (few
clusters; :mod:`analysis.did.inference`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.did.inference import critical_value, t_p_value
from analysis.did.stepdown import Hypothesis, stepdown_adjust
from analysis.did.subgroup import (
    common_weights,
    group_weights,
    imputation_fit,
    minimum_detectable_difference,
    wald_equal,
)
from analysis.errors import InputError
from analysis.pvalues import format_p

__all__ = ["DIMENSIONS", "HeterogeneityResult", "city_groups", "heterogeneity", "true_effects"]

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


def true_effects(truth: dict | None, key: str = "pilot") -> pd.Series | None:
    """The true (total) effect of every treated city-year from the truth file's ``city_effects``
    (synthetic data), indexed by (city code as str, year), for :func:`heterogeneity`'s
    ``true_effects``; None without them (a user's panel)."""
    by_city = ((truth or {}).get(key) or {}).get("city_effects")
    if not by_city:
        return None
    pairs = [
        ((str(c), int(v["cohort"]) + e), float(x))
        for c, v in by_city.items()
        for e, x in enumerate(v["effects"])
    ]
    index = pd.MultiIndex.from_tuples([k for k, _ in pairs])
    return pd.Series([x for _, x in pairs], index=index)


# dimensions whose groups are designation cohorts: compared at common event times
EVENT_TIME_DIMENSIONS = ("batch",)
CELL_NAMES = {("cohort", "horizon"): "cohort x event time", ("horizon",): "event time"}
TABLE_COLUMNS = [
    "dimension",
    "group",
    "method",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
    "n_cities",
    "n_obs",
    "estimate_common_weights",
    "std_error_common_weights",
    "conf_low_common_weights",
    "conf_high_common_weights",
    "common_share",
]
# raw_*: equal group ATTs (own weights); modification_*: equal common-weight ATTs; *_stat is
# F = Wald / df with p from F(df, df_resid = G - 1). composition_share = 1 - modification_range /
# raw_range (ranges of the group estimates): about 1 when the raw spread is all composition; it is
# unstable (even negative) when the raw spread is itself small, so read it only beside raw_p.
TEST_COLUMNS = [
    "dimension",
    "cells",
    "n_groups",
    "n_common_cells",
    "common_share",
    "raw_stat",
    "raw_df",
    "raw_p",
    "modification_stat",
    "modification_df",
    "modification_p",
    "df_resid",
    "raw_range",
    "modification_range",
    "composition_share",
    "raw_p_adjusted",
    "modification_p_adjusted",
    "modification_mdd_min",
    "modification_mdd_max",
]
CONTRAST_COLUMNS = [
    "dimension",
    "group",
    "reference",
    "raw_diff",
    "raw_se",
    "raw_p",
    "raw_conf_low",
    "raw_conf_high",
    "raw_mdd",
    "modification_diff",
    "modification_se",
    "modification_p",
    "modification_conf_low",
    "modification_conf_high",
    "modification_mdd",
    "composition_diff",
    "common_share",
    "raw_truth",
    "modification_truth",
]
# *_mdd: minimum detectable difference of the contrast at 80% power and 5% size,
# (t_{0.975} + t_{0.8}) x SE with t(G-1) quantiles; *_p_adjusted (tests): stepdown over the
# dimensions (one family for the raw tests, one for the modification tests)
POWER = 0.8


@dataclass
class HeterogeneityResult:
    """Group ATTs (``table``), per-dimension tests (``tests``), group-vs-rest decompositions
    (``contrasts``), the pooled ATT (``pooled``) and one plain sentence per dimension."""

    table: pd.DataFrame  # TABLE_COLUMNS
    tests: pd.DataFrame  # TEST_COLUMNS
    contrasts: pd.DataFrame  # CONTRAST_COLUMNS
    pooled: pd.Series  # the overall imputation ATT (estimate, std_error, ..., n_obs, n_clusters)
    sentences: list[str] = field(default_factory=list)
    alpha: float = 0.05
    adjustment: dict | None = None  # how the stepdown adjusted p-values were drawn

    def tidy(self) -> pd.DataFrame:
        return self.table.copy()

    def results(self) -> dict:
        """JSON-ready record (frames are cleaned by :func:`analysis.results_io._clean`)."""
        return {
            "estimator": "bjs",
            "pooled_estimate": float(self.pooled["estimate"]),
            "pooled": {k: _plain(v) for k, v in self.pooled.items()},
            "table": self.table,
            "tests": self.tests,
            "contrasts": self.contrasts,
            "sentences": list(self.sentences),
            "mdd_rule": f"(t_{{1-alpha/2}} + t_{{{POWER}}}) x SE with t(G-1) quantiles: "
            f"{POWER:.0%} power, {self.alpha:.0%} size, two-sided",
            "adjustment": self.adjustment,
        }

    def summary(self) -> str:
        cols = [
            "dimension",
            "group",
            "estimate",
            "std_error",
            "estimate_common_weights",
            "std_error_common_weights",
            "n_cities",
        ]
        fmt = lambda v: f"{v:.4f}"
        return (
            f"Heterogeneity of the imputation ATT (pooled {self.pooled['estimate']:.4f}, "
            f"SE {self.pooled['std_error']:.4f})\n"
            + self.table[cols].to_string(index=False, float_format=fmt)
            + "\nEqual effects: raw (any difference) and common weights (effect modification)\n"
            + self.tests.to_string(index=False, float_format=fmt)
            + "\n"
            + "\n".join(self.sentences)
        )

    def __str__(self) -> str:
        return self.summary()

    def plot(self, lang: str = "en"):
        from analysis.figures.heterogeneity import plot_heterogeneity

        return plot_heterogeneity(self.table, pooled=float(self.pooled["estimate"]), lang=lang)


def _plain(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    return v


def _ordered(values) -> list:
    """Size groups in size order (small < medium < large, Q1 < Q2 ...), other labels sorted."""
    rank = {v: i for labels in SIZE_LABELS.values() for i, v in enumerate(labels)}
    return sorted(values, key=lambda v: (rank.get(v, len(rank)), str(v)))


def _row(est, se, crit, n_clusters):
    """estimate, std_error, statistic, p_value (t(G-1)), conf_low, conf_high."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se if se > 0 else np.nan
    p = t_p_value(t, n_clusters) if np.isfinite(t) else np.nan
    return float(est), float(se), float(t), p, float(est - crit * se), float(est + crit * se)


def _contrast(kind: str, diff: float, se: float, crit: float, n_cl: int, alpha: float) -> dict:
    """``{kind}_diff, _se, _p, _conf_low, _conf_high, _mdd`` of one contrast (t(G-1))."""
    ok = np.isfinite(se) and se > 0
    return {
        f"{kind}_diff": diff,
        f"{kind}_se": se,
        f"{kind}_p": t_p_value(diff / se, n_cl) if ok else np.nan,
        f"{kind}_conf_low": diff - crit * se if ok else np.nan,
        f"{kind}_conf_high": diff + crit * se if ok else np.nan,
        f"{kind}_mdd": minimum_detectable_difference(se, n_cl, alpha, POWER) if ok else np.nan,
    }


def _mdd_text(test: dict) -> str:
    lo, hi = test.get("modification_mdd_min"), test.get("modification_mdd_max")
    if lo is None or not np.isfinite(lo):
        return ""
    span = f"{lo:.3f}" if np.isclose(lo, hi, rtol=0, atol=5e-4) else f"{lo:.3f} to {hi:.3f}"
    return (
        f"; differences smaller than MDD = {span} (80% power, 5% size; each group's contrast) "
        "cannot be detected"
    )


def _sentence(test: dict, alpha: float, draws: int | None = None) -> str:
    """One verdict per dimension. The verdict follows the stepdown adjusted p-value (the family
    is the dimensions' tests) when there is one; a non-rejection is "not distinguishable", with
    the MDD, never "no difference"."""
    dim, cells = test["dimension"], test["cells"]
    if not np.isfinite(test["raw_p"]):
        return f"{dim}: fewer than two groups with treated cities; no comparison."

    def p_text(kind):
        p, adj = test[f"{kind}_p"], test.get(f"{kind}_p_adjusted", np.nan)
        out = format_p(p, space=" ")
        if adj is not None and np.isfinite(adj):
            out += f", adjusted {format_p(adj, draws or None, space=' ')}"
        return out, adj if adj is not None and np.isfinite(adj) else p

    raw, raw_dec = p_text("raw")
    common = f"at common {cells} weights"
    if not np.isfinite(test["modification_p"]):
        return (
            f"{dim}: group ATTs {raw}; the groups share no {cells} cell, so composition and "
            "modification cannot be separated."
        )
    mod, mod_dec = p_text("modification")
    thin = ""
    share = test.get("common_share")
    if share is not None and np.isfinite(share) and share < 0.5:
        thin = f", which cover {share:.0%} of the groups' treated city-years"
    if mod_dec < alpha:
        what = "the effect differs between groups at equal " + (
            "time since designation (batches are cohorts: batch and designation date cannot be "
            "told apart)"
            if cells == "event time"
            else "cohort and event time"
        )
        return f"{dim}: group ATTs ({raw}) and ATTs {common}{thin} ({mod}): {what}."
    if raw_dec < alpha:
        return (
            f"{dim}: group ATTs differ ({raw}); {common}{thin}, the groups are not "
            f"distinguishable ({mod}): the raw gap is consistent with timing composition"
            f"{_mdd_text(test)}."
        )
    return (
        f"{dim}: the group ATTs are not distinguishable from each other ({raw}), nor {common}"
        f"{thin} ({mod}){_mdd_text(test)}."
    )


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
    size_bins: int = 3,
    min_treated: int = 1,
    groups: pd.DataFrame | None = None,
    alpha: float = 0.05,
    event_time_dimensions=EVENT_TIME_DIMENSIONS,
    adjust_draws: int = 9999,
    seed: int | None = 20240601,
    adjust_weights: str = "normal",
    true_effects: pd.Series | None = None,
) -> HeterogeneityResult:
    """Group ATTs of the imputation estimator on each dimension, raw and at common cell weights,
    with the equal-effects tests (raw: any difference; common weights: effect modification).

    ``controls``: covariates of the untreated-outcome model (the headline's: the other treatments
    and the usable controls; ``dname`` itself is dropped from them, its timing is ``gname``).
    ``groups``: a per-city table of group labels (default :func:`city_groups`); any extra column
    in it can be used as a dimension. Groups with fewer than ``min_treated`` treated cities are
    left out. ``event_time_dimensions``: dimensions compared over common event times only.
    ``adjust_draws``, ``seed``, ``adjust_weights``: draws of the multiplier bootstrap behind the stepdown adjusted
    p-values across the dimensions (0: no adjustment). ``true_effects``: the true effect of
    every treated city-year (a Series indexed by (unit as str, time); synthetic data): each
    contrast gets its true value with the same weights (``raw_truth``, ``modification_truth``).
    """
    controls = [c for c in (controls or []) if c != dname]
    dimensions = list(dimensions)
    missing = [c for c in (yname, gname, idname, tname, *controls) if c not in panel.columns]
    if missing:
        raise InputError("panel", f"heterogeneity: columns missing from the panel: {missing}")
    if groups is None:
        groups = city_groups(panel, dimensions, idname, tname, gname, size_bins=size_bins)
    unknown = [d for d in dimensions if d not in groups.columns]
    if unknown:
        raise InputError("groups", f"heterogeneity: no group labels for dimensions {unknown}")
    carried = {dim: f"_group_{i}" for i, dim in enumerate(dimensions)}
    data = panel.assign(**{col: panel[idname].map(groups[dim]) for dim, col in carried.items()})
    fit = imputation_fit(
        data, yname, tname, idname, gname, controls, cluster, carry=list(carried.values())
    )
    treated, n_cl = fit.treated, fit.n_clusters
    crit = critical_value(alpha, n_cl)
    true_tau = None
    if true_effects is not None:
        key = pd.MultiIndex.from_arrays([treated["unit"].astype(str), treated["time"]])
        true_tau = true_effects.reindex(key).to_numpy(float)

    n1 = len(treated)
    pooled_fit = fit.linear(np.full((n1, 1), 1.0 / n1))  # = the imputation module's ATT
    est, se, t, p, lo, hi = _row(pooled_fit.estimates[0], pooled_fit.std_errors[0], crit, n_cl)
    pooled = pd.Series(
        {
            "term": "ATT",
            "estimate": est,
            "std_error": se,
            "statistic": t,
            "p_value": p,
            "conf_low": lo,
            "conf_high": hi,
            "n_obs": n1,
            "n_cities": int(treated["unit"].nunique()),
            "n_clusters": n_cl,
        }
    )

    rows, tests, contrasts = [], [], []
    family = {"raw": [], "modification": []}  # the dimensions' tests, for the stepdown

    def hypothesis(name, keys, blk, lin_scores, cols):
        """H: the groups' estimates in ``keys`` are equal (differences from the first)."""
        k = len(keys)
        R = np.eye(k)[1:] - np.eye(k)[0]
        idx = [cols.get_loc(f"{blk}::{key}") for key in keys]
        S = lin_scores[:, idx] @ R.T
        b = R @ lin_b[idx]
        return Hypothesis(name, b, pd.DataFrame(S), S.T @ S, df_resid=n_cl - 1)

    for dim in dimensions:
        col = carried[dim]
        labels = treated[col]
        n_cities = treated.groupby(col)["unit"].nunique()
        levels = [g for g in _ordered(n_cities.index) if n_cities[g] >= min_treated]
        cells = ("horizon",) if dim in event_time_dimensions else ("cohort", "horizon")
        # auxiliary model of the variance: the group's own cohort x event-time cell, then the
        # same cell in the other groups (see analysis.did.subgroup)
        tau_bar = fit.tau_bar([["cohort", "horizon", col], ["cohort", "horizon"], ["horizon"], []])
        blocks = {"raw": group_weights(labels, levels)}
        common_mask = np.zeros(n1, bool)
        if len(levels) >= 2:
            blocks["common"], common_mask = common_weights(treated, labels, levels, cells)
            for k in levels if len(levels) > 2 else levels[:1]:
                ab = pd.Series(
                    np.where(labels == k, "A", np.where(labels.isin(levels), "B", None)),
                    index=labels.index,
                )
                blocks[f"raw|{k}"] = group_weights(ab, ["A", "B"])
                blocks[f"common|{k}"], _ = common_weights(treated, ab, ["A", "B"], cells)
        W = pd.concat([b.add_prefix(f"{name}::") for name, b in blocks.items()], axis=1)
        lin = fit.linear(W, tau_bar)
        lin_b = lin.estimates
        b = pd.Series(lin.estimates, index=W.columns)
        V = pd.DataFrame(lin.vcov, index=W.columns, columns=W.columns)

        def block(name, keys, b=b, V=V):
            names = [f"{name}::{k}" for k in keys]
            return b[names].to_numpy(), V.loc[names, names].to_numpy()

        has_common = "common" in blocks and common_mask.any()
        for k in levels:
            m = (labels == k).to_numpy()
            r = _row(b[f"raw::{k}"], np.sqrt(V.loc[f"raw::{k}", f"raw::{k}"]), crit, n_cl)
            if has_common:
                c_est = b[f"common::{k}"]
                c_se = np.sqrt(V.loc[f"common::{k}", f"common::{k}"])
                c_lo, c_hi = c_est - crit * c_se, c_est + crit * c_se
            else:
                c_est = c_se = c_lo = c_hi = np.nan
            rows.append(
                dict(
                    zip(TABLE_COLUMNS, (dim, k, "bjs", *r)),
                    n_cities=int(n_cities[k]),
                    n_obs=int(m.sum()),
                    estimate_common_weights=float(c_est),
                    std_error_common_weights=float(c_se),
                    conf_low_common_weights=float(c_lo),
                    conf_high_common_weights=float(c_hi),
                    common_share=float(common_mask[m].mean()) if has_common else np.nan,
                )
            )
        raw_b, raw_v = block("raw", levels)
        raw_f, raw_q, raw_p = wald_equal(raw_b, raw_v, n_cl)
        if len(levels) >= 2:
            family["raw"].append(hypothesis(dim, levels, "raw", lin.scores, W.columns))
        if has_common:
            mod_b, mod_v = block("common", levels)
            mod_f, mod_q, mod_p = wald_equal(mod_b, mod_v, n_cl)
            mod_range = float(np.ptp(mod_b))
            family["modification"].append(hypothesis(dim, levels, "common", lin.scores, W.columns))
        else:
            mod_f, mod_q, mod_p, mod_range = np.nan, 0, np.nan, np.nan
        raw_range = float(np.ptp(raw_b)) if len(raw_b) else np.nan
        key = pd.MultiIndex.from_frame(treated.loc[common_mask, list(cells)])
        tests.append(
            {
                "dimension": dim,
                "cells": CELL_NAMES[cells],
                "n_groups": len(levels),
                "n_common_cells": int(key.nunique()),
                "common_share": float(common_mask[labels.isin(levels).to_numpy()].mean())
                if len(levels)
                else np.nan,
                "raw_stat": raw_f,
                "raw_df": raw_q,
                "raw_p": raw_p,
                "modification_stat": mod_f,
                "modification_df": mod_q,
                "modification_p": mod_p,
                "df_resid": n_cl - 1,
                "raw_range": raw_range,
                "modification_range": mod_range,
                "composition_share": 1.0 - mod_range / raw_range
                if raw_range and np.isfinite(mod_range)
                else np.nan,
            }
        )
        for k in levels if len(levels) > 2 else levels[:1] if len(levels) == 2 else []:
            ref = "rest" if len(levels) > 2 else levels[1]
            rd, rv = block(f"raw|{k}", ["A", "B"])
            md, mv = block(f"common|{k}", ["A", "B"])
            diff = np.array([1.0, -1.0])
            raw_d, raw_se = float(diff @ rd), float(np.sqrt(diff @ rv @ diff))
            in_ab = blocks[f"common|{k}"].to_numpy().sum(axis=1) > 0
            if in_ab.any():
                mod_d, mod_se = float(diff @ md), float(np.sqrt(diff @ mv @ diff))
            else:
                mod_d = mod_se = np.nan
            truth = {"raw_truth": np.nan, "modification_truth": np.nan}
            if true_tau is not None:
                for kind, name in (("raw", f"raw|{k}"), ("modification", f"common|{k}")):
                    w = blocks[name].to_numpy() @ diff
                    if kind == "raw" or in_ab.any():
                        truth[f"{kind}_truth"] = float(w @ np.nan_to_num(true_tau))
            contrasts.append(
                {
                    **truth,
                    "dimension": dim,
                    "group": k,
                    "reference": ref,
                    **_contrast("raw", raw_d, raw_se, crit, n_cl, alpha),
                    **_contrast("modification", mod_d, mod_se, crit, n_cl, alpha),
                    "composition_diff": raw_d - mod_d,
                    "common_share": float(in_ab.sum() / labels.isin(levels).sum()),
                }
            )
    contrasts = pd.DataFrame(contrasts, columns=CONTRAST_COLUMNS)
    adjustment = None
    for kind, hyps in family.items():
        col = f"{kind}_p_adjusted"
        for t in tests:
            t[col] = np.nan
        if adjust_draws > 0 and hyps:
            res = stepdown_adjust(hyps, draws=adjust_draws, seed=seed, weights=adjust_weights)
            adj = dict(zip(res.table["hypothesis"], res.table["p_adjusted"]))
            for t in tests:
                t[col] = float(adj.get(t["dimension"], np.nan))
            adjustment = {k: v for k, v in res.record().items() if k not in ("table",)}
    for t in tests:
        mdd = contrasts.loc[contrasts["dimension"] == t["dimension"], "modification_mdd"]
        mdd = mdd[np.isfinite(mdd)]
        t["modification_mdd_min"] = float(mdd.min()) if len(mdd) else np.nan
        t["modification_mdd_max"] = float(mdd.max()) if len(mdd) else np.nan
    tests = pd.DataFrame(tests, columns=TEST_COLUMNS)
    return HeterogeneityResult(
        table=pd.DataFrame(rows, columns=TABLE_COLUMNS),
        tests=tests,
        contrasts=contrasts,
        pooled=pooled,
        sentences=[_sentence(t, alpha, adjust_draws) for t in tests.to_dict("records")],
        alpha=alpha,
        adjustment=adjustment,
    )
