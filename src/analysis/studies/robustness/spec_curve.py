"""Specification curve of the pilot-zone ATT on log exports, with a joint test under the null
(Simonsohn, Simmons & Nelson 2020, "Specification curve analysis", Nature Human Behaviour 4,
1208-1214; Steegen et al. 2016, "multiverse analysis").

One estimand per curve, and only specifications that estimate it (issue 18): the TOTAL effect of
designation on the level of log exports (``yname``), over the cities and years of the study
(:func:`analysis.studies.rules.study_data`), with the treatment years as coded. A curve that mixes
numbers which estimate different things sorts them as if they were comparable. So these are not
points of the curve:

* timing codings the project knows to misclassify (the approval year and the following year code
  the batches approved in December 2019 and November 2022 as treated a year early or late): reported
  apart, each with the truth of its cities (:mod:`analysis.studies.robustness.timing`);
* subsamples (without the pilot-free-trade-zone cities, one region): another average over other
  cities, reported apart with their own truth (the concurrent-policy check,
  :mod:`analysis.studies.robustness.concurrent`, and the heterogeneity check);
* controls at their observed post-designation paths (the direct effect: the decomposition beside the
  headline), no controls (confounded when designation is targeted on size), or the concurrent
  treatments left out (the co-treatment bias of issue 18): specifications the project itself calls
  biased for the total effect;
* growth rates or per-capita outcomes (other estimands); a curve on another outcome is another call
  with another ``yname`` (one value of ``outcome`` in ``options``).

Dimensions (``DIMENSIONS``; default options in ``DEFAULT_OPTIONS``), each a choice a careful analyst
could defend for the same estimand:

``estimator``  the heterogeneity-robust ATTs ``bjs`` (Borusyak, Jaravel & Spiess 2024 imputation,
               the headline's variance cells), ``sa`` (Sun & Abraham 2021, never-treated cities as
               the control cohort, the covariates linear), ``cs`` (Callaway & Sant'Anna 2021,
               never-treated controls, on the outcome net of the covariates fitted on the untreated
               city-years: :func:`analysis.did.callaway_santanna.att_gt_adjusted`, Caetano et al.'s
               time-varying covariates). ``twfe`` (the static TWFE dummy, biased under staggered,
               growing effects) may be added as a FOIL: drawn apart and left out of the curve's
               statistics and of its joint test; it is not in the defaults.
``controls``   how the covariates carry pre-designation information, all with the concurrent
               treatments by their own cells (rule 2 of :mod:`analysis.studies.rules`):
               ``study`` (the headline's: params.yaml ``panel.control_rule`` and
               ``panel.baseline_trends``), ``all_untreated`` (every control on its imputed untreated
               path, the population too), ``baseline_all`` (the baseline value of every control
               times year, on top of the study's). :func:`study_control_sets` builds them.

Not dimensions: the cluster level of the standard errors changes no estimate. Every specification's
confidence interval uses the headline's clustering (``cluster="headline"``: the study's one level,
:func:`analysis.studies.rules.inference_rule`) with ``t(G-1)`` critical values; the headline's SE
under each clustering is reported apart (``SpecCurveResult.se_by_cluster``). ``options`` may carry
``cluster`` or ``outcome`` with ONE value (a fixed choice of the curve), never several.

The HEADLINE specification (bjs, study covariates) is always in the grid, as ``spec_id`` 0, and is
the headline's number (:func:`analysis.studies.binary.headline_att`: the same rows, covariates,
variance cells and clustering). Specifications that are the same estimate are estimated once: two
with the same estimator, covariates and estimation rows are duplicates, and so are two with
numerically the same point estimate; the later one is listed in ``duplicates`` with the ``spec_id``
it repeats and the reason. Impossible combinations are listed in ``infeasible`` with the reason:
fewer than ``min_clusters`` clusters, ``cs``/``sa`` without never-treated cities, no treated
city-year, or an estimator that fails numerically on this panel (the message is kept).
``len(table) + len(infeasible) + len(duplicates)`` is the size of the grid.

Outlying specifications (:func:`flag_outliers`, columns ``outlier`` and ``outlier_reason``). On a
small user panel a specification can rest on a handful of cities and come out with a standard error
many times the others'; its interval then sets the scale of the whole figure. Rule, with ``k =
OUTLIER_K`` (5), over the specifications of the curve (foils left out of the reference values, but
flagged by the same thresholds): ``se``, the standard error exceeds k times the median standard
error; ``estimate``, the estimate lies more than k times max(1.4826 MAD of the estimates, median
standard error) from the median estimate. A flagged specification stays in the curve's statistics
and its joint test (dropping it after seeing it would be a choice made on the data); the figure
draws it clipped to the axis of the others with its value printed.

Joint test (SSN 2020, "inference with specification curves"). The curve's statistics are (a) the
median estimate, (b) the share of specifications significant at 5% in the predicted direction
(``direction``, +1: fixed before seeing the data) and (c) Stouffer's Z of the specifications'
one-sided t(G-1) p-values in that direction. Their distribution under the null of no effect comes
from the restricted wild cluster bootstrap (WCR; Cameron, Gelbach & Miller 2008; Roodman, MacKinnon,
Nielsen & Webb 2019): the outcome regressed on city and year effects and the study's covariates on
all city-years, without a treatment term (the null imposed), gives fitted values ``f`` and residuals
``e``; the ``draws`` outcomes are ``y*_k = f + v_{c,k} e`` with Webb's six-point weights ``v`` (Webb
2023), one per cluster ``c`` of the curve's clustering (the province: province-year shocks stay in
the null distribution) and draw ``k``. SSN's own construction, the data with the estimated effect
removed, was tried first and rejected: with a fixed design it leaves each treated city-year only its
deviation from its cohort x year cell, near zero in cells of one to a few cities, and its null
distribution of the median came out half as wide as the specifications' standard errors (8-province
test panel: SD 0.023 against SEs near 0.04; a panel without any effect then "rejected" in the
other direction). Under an effect the restricted residuals carry it, which widens the draws (a
conservative test), never narrows them.

Every estimator of the curve is linear in the outcome for a fixed design (imputation, Sun-Abraham
and Callaway-Sant'Anna with covariates fitted by OLS are all ``w'y``), so the estimate on ``y*_k``
is ``est(f) + sum_c v_{c,k} est(e_c)``, ``e_c`` the residuals of cluster ``c`` (zero elsewhere): each
specification is estimated G + 1 times (G clusters), whatever the number of draws, instead of once
per draw. The identity is checked on every run (``f + sum_c e_c`` is the observed outcome, so
``est(f) + sum_c est(e_c)`` must equal the specification's estimate; ValueError otherwise). With more clusters than draws the draws are
estimated one by one instead (same numbers). The standard errors of the draws are the observed
specifications' (the design is fixed: only the outcome is redrawn), so (b) and (c) are functions of
the estimates scaled by their observed SEs, on the data and in the draws alike; (a) does not use
them. p-value of each statistic: ``(1 + #{draws at least as extreme}) / (1 + draws)``, one-sided.
The specifications are strongly dependent, which is why the test compares the statistics to their
own null distribution rather than treating n specifications as n tests. Until issue 18 the draws
resampled provinces whole and re-estimated the curve per draw (3 s a draw: 29 draws); this way 999
draws cost about what 29 did.

Specifications and basis estimates run in parallel on the study's one backend setting (params.yaml
``parallel``: ``n_jobs`` local processes or a Dask cluster; :func:`analysis.parallel.run_tasks`).
Every estimator is deterministic and the
weights come from one generator seeded by ``seed``, so results do not depend on the backend,
``n_jobs`` or the chunking.
"""

from __future__ import annotations

import hashlib
import itertools
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import delayed
from scipy import stats

from analysis.config import SpecCurveConfig
from analysis.did.callaway_santanna import att_gt_adjusted
from analysis.did.estimate import estimate
from analysis.did.fe import FEProjector
from analysis.did.imputation import imputation_many
from analysis.did.twfe import twfe_fwl
from analysis.did.wild_bootstrap import draw_weights
from analysis.parallel import as_backend, run_tasks
from analysis.studies.rules import (
    BASELINE_KEY,
    TIME,
    UNIT,
    InferenceRule,
    imputation_options,
    study_data,
    variance_cells,
)

__all__ = [
    "DEFAULT_OPTIONS",
    "DIMENSIONS",
    "SpecCurveResult",
    "spec_curve",
    "spec_grid",
    "study_control_sets",
]

DIMENSIONS = ["estimator", "controls"]
FIXED_CHOICES = ("outcome", "cluster")  # one value each: the curve's outcome and SE clustering
STUDY, ALL_UNTREATED, BASELINE_ALL = "study", "all_untreated", "baseline_all"
DEFAULT_OPTIONS = {
    "estimator": ["bjs", "sa", "cs"],
    "controls": [STUDY, ALL_UNTREATED, BASELINE_ALL],
}
HEADLINE = {"estimator": "bjs", "controls": STUDY}  # analysis.studies.binary.headline_att
ESTIMATORS = ("bjs", "sa", "cs", "twfe")
FOILS = ("twfe",)
HEADLINE_CLUSTERS = ("city_code", "province")
DRAWS = SpecCurveConfig.draws  # joint-test draws (params.yaml notebooks.robustness.spec_curve)
SEED = 20240601
WEIGHTS = "webb"  # six-point weights: exact enumeration is no concern with 31 provinces
HEADLINE_KEYS = [*DIMENSIONS, "estimate", "std_error", "conf_low", "conf_high", "p_value",
                 "n_clusters", "cluster"]  # fmt: skip
TABLE_COLUMNS = [
    "spec_id",
    *DIMENSIONS,
    "headline",
    "foil",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
    "critical_value",
    "cluster",
    "n_clusters",
    "n_obs",
    "n_cities",
    "n_treated_cities",
    "outlier",
    "outlier_reason",
]
# the columns a worker's estimation fills (the rest: the grid, the headline and the flags)
ESTIMATE_COLUMNS = [
    c for c in TABLE_COLUMNS[5:] if c not in ("cluster", "outlier", "outlier_reason")
]
OUTLIER_K = 5.0
MAD_SCALE = 1.4826  # MAD x 1.4826: the standard deviation of a normal distribution
OUTLIER_RULE = (
    "standard error above {k:g} x the median standard error, or estimate more than {k:g} x "
    "max(1.4826 MAD, median standard error) from the median estimate"
)
# numerical failures of an estimator on a panel (singular designs, no usable cells): the
# specification is impossible there; any other exception is a bug and propagates
ESTIMATION_ERRORS = (ValueError, np.linalg.LinAlgError, ZeroDivisionError)
LINEARITY_RTOL = 1e-7  # est(f) + sum_c est(e_c) against est(f + e): rounding only


# ----------------------------------------------------------------------------- covariate sets
def study_control_sets(
    sample: pd.DataFrame, design, treatment: str = "pilot", rule: dict | None = None
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """(the study's panel with the columns of every covariate set, {set name: covariates}) for the
    ``controls`` dimension: ``study`` (:func:`analysis.studies.rules.study_data` with ``rule``,
    the headline's), ``all_untreated`` (every usable control on its untreated path) and
    ``baseline_all`` (every usable control's baseline x year). ``sample``: the design check's
    analysis sample. The rows are the study's; a set that leaves a city out (too few untreated
    years for a ruled control) has blanks there, and its specifications drop those rows."""
    sd = study_data(sample, design, treatment, rule)
    controls = list(design.controls_used)
    variants = {
        ALL_UNTREATED: {**sd.control_rule, **dict.fromkeys(controls, "untreated_path")},
        BASELINE_ALL: {**sd.control_rule, BASELINE_KEY: controls},
    }
    panel, sets = sd.panel, {STUDY: list(sd.covariates)}
    for name, variant in variants.items():
        other = study_data(sample, design, treatment, variant)
        new = [c for c in other.covariates if c not in panel.columns]
        if new:
            keys = [UNIT, TIME]
            panel = panel.merge(other.panel[keys + new], on=keys, how="left", validate="1:1")
        sets[name] = list(other.covariates)
    return panel, sets


# ----------------------------------------------------------------------------------- estimation
def _spec_data(panel, spec, control_sets, yname, gname, idname, tname, cluster):
    """The estimation frame of one specification (columns _y, _g, controls, cluster; the index is
    the row position in ``panel``) and its covariates."""
    controls = list(control_sets[spec["controls"]])
    keep = list(dict.fromkeys([idname, tname, *controls, cluster]))
    out = panel[keep].assign(_y=panel[yname].to_numpy(), _g=panel[gname].to_numpy())
    return out.dropna(subset=["_y", *controls]), controls


def _infeasible(data, spec, idname, tname, cluster, min_clusters) -> str | None:
    """Reason why a specification cannot be estimated, or None."""
    if data.empty:
        return "no observations (the outcome or a control is not in this panel)"
    if data[cluster].nunique() < min_clusters:
        return f"fewer than {min_clusters} clusters of {cluster}"
    never = data["_g"] == 0
    if spec["estimator"] in ("cs", "sa") and not never.any():
        return "no never-treated units"
    if not ((data["_g"] > 0) & (data[tname] >= data["_g"])).any():
        return "no treated observations"
    return None


def flag_outliers(table: pd.DataFrame, k: float = OUTLIER_K) -> pd.DataFrame:
    """``table`` with ``outlier`` (bool) and ``outlier_reason`` (``"se"``, ``"estimate"``,
    ``"se+estimate"`` or ``""``) by the rule of the module docstring; the reference values (median
    SE, median estimate, MAD) are taken over the curve (``foil`` rows left out)."""
    est = table["estimate"].to_numpy(float)
    se = table["std_error"].to_numpy(float)
    ref = ~table["foil"].to_numpy(bool) if "foil" in table else np.ones(len(table), bool)
    ref &= np.isfinite(est) & np.isfinite(se)
    if not ref.any():
        return table.assign(outlier=False, outlier_reason="")
    med_se = float(np.median(se[ref]))
    med = float(np.median(est[ref]))
    spread = max(MAD_SCALE * float(np.median(np.abs(est[ref] - med))), med_se)
    wide = np.isfinite(se) & (se > k * med_se)
    far = np.isfinite(est) & (np.abs(est - med) > k * spread)
    reason = np.where(
        wide & far, "se+estimate", np.where(wide, "se", np.where(far, "estimate", ""))
    )
    return table.assign(outlier=wide | far, outlier_reason=reason)


def _fingerprint(data, spec, controls, idname, tname) -> str:
    """Same estimator, covariates and estimation rows (unit, year, cohort) -> same estimate."""
    rows = pd.util.hash_pandas_object(data[[idname, tname, "_g"]], index=False).to_numpy()
    digest = hashlib.sha1(rows.tobytes()).hexdigest()
    return f"{spec['estimator']}|{','.join(sorted(controls))}|{digest}"


def _estimate(data, estimator, controls, idname, tname, cluster, cells) -> tuple[float, float]:
    """Overall ATT and SE of one specification, through :func:`analysis.did.estimate.estimate`;
    ``cells``: the imputation variance cells of the headline
    (:func:`analysis.studies.rules.variance_cells`)."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose from {ESTIMATORS}")
    name = {"cs": "cs_adjusted" if controls else "cs"}.get(estimator, estimator)
    options = {
        "bjs": {"horizons": None, **imputation_options(cells)},
        "sa": {},
        "cs": {},
        # the FWL kernel: twfe's numbers at a fraction of PanelOLS's cost
        "twfe": {"engine": twfe_fwl},
    }[estimator]
    with warnings.catch_warnings():  # estimator notes (dropped rows, clustering) are expected here
        warnings.simplefilter("ignore")
        est = estimate(
            name,
            data,
            y="_y",
            unit=idname,
            time=tname,
            cohort="_g",
            covariates=controls,
            cluster=cluster,
            **options,
        )
    return float(est.att), float(est.se)


def _point_estimate(data, estimator, controls, idname, tname, cluster, cells) -> float:
    """The overall ATT of :func:`_estimate` without its standard error where that is the bulk of
    the cost (CS with covariates: the CS runs on each covariate serve only the influence function)."""
    if estimator == "cs" and controls:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = att_gt_adjusted(data, "_y", tname, idname, "_g", controls, influence=False)
        return float(fit.gt.aggregate("simple").overall_att)
    return _estimate(data, estimator, controls, idname, tname, cluster, cells)[0]


def _inference(att: float, se: float, n_clusters: int, alpha: float) -> dict:
    """The study's t(G-1) interval (:meth:`InferenceRule.interval`, one rule for every estimate)
    with the estimate and its t statistic, in the table's column order."""
    out = InferenceRule("", n_clusters, None, "").interval(att, se, alpha)
    return {
        "estimate": att,
        "std_error": out["std_error"],
        "statistic": att / se if se > 0 else float("nan"),
        **{k: out[k] for k in ("p_value", "conf_low", "conf_high", "critical_value", "n_clusters")},
    }


def _run_specs(panel, specs, control_sets, yname, gname, idname, tname, cluster, cells, alpha):
    """Estimate specifications on one panel (a worker's job): a row of the table each, or
    ``{"spec_id", "failed": message}`` when the estimator fails numerically on this panel."""
    frames, rows = {}, []
    for spec in specs:
        if spec["controls"] not in frames:
            frames[spec["controls"]] = _spec_data(
                panel, spec, control_sets, yname, gname, idname, tname, cluster
            )
        data, controls = frames[spec["controls"]]
        try:
            att, se = _estimate(data, spec["estimator"], controls, idname, tname, cluster, cells)
        except ESTIMATION_ERRORS as err:
            rows.append({"spec_id": spec["spec_id"], "failed": f"{type(err).__name__}: {err}"})
            continue
        rows.append(
            {
                "spec_id": spec["spec_id"],
                **_inference(att, se, int(data[cluster].nunique()), alpha),
                "n_obs": len(data),
                "n_cities": data[idname].nunique(),
                "n_treated_cities": data.loc[data["_g"] > 0, idname].nunique(),
            }
        )
    return rows


# ------------------------------------------------------------------------------------ the grid
def _options(options: dict | None) -> tuple[dict, dict]:
    """(the dimensions' options, the fixed choices) of ``options``."""
    opts = {**DEFAULT_OPTIONS, **(options or {})}
    moved = {"sample", "timing"} & set(opts)
    if moved:
        raise ValueError(
            f"{sorted(moved)} are not dimensions of the curve: a subsample or another timing coding"
            " estimates another average (or misclassifies), so it is reported apart with its own"
            " truth (robustness checks 'concurrent' and 'timing')"
        )
    unknown = set(opts) - set(DIMENSIONS) - set(FIXED_CHOICES)
    if unknown:
        raise ValueError(f"unknown specification dimensions {sorted(unknown)}; use {DIMENSIONS}")
    fixed = {}
    for name in FIXED_CHOICES:
        if name in opts:
            values = list(opts.pop(name))
            if len(values) != 1:
                raise ValueError(
                    f"{name} is not a specification dimension (one estimand and one clustering per"
                    f" curve; the headline's SE by clustering is reported apart): give one value,"
                    f" got {values}"
                )
            fixed[name] = values[0]
    return {d: list(dict.fromkeys(opts[d])) for d in DIMENSIONS}, fixed


def spec_grid(options: dict | None = None) -> pd.DataFrame:
    """All combinations of the options plus the headline specification, which is ``spec_id`` 0
    (each dimension lists the headline's choice first)."""
    opts, _ = _options(options)
    ordered = {d: sorted(opts[d], key=lambda o, d=d: o != HEADLINE[d]) for d in DIMENSIONS}
    combos = list(itertools.product(*(ordered[d] for d in DIMENSIONS)))
    first = tuple(HEADLINE[d] for d in DIMENSIONS)
    combos = [first] + [c for c in combos if c != first]
    grid = pd.DataFrame(combos, columns=DIMENSIONS)
    return grid.rename_axis("spec_id").reset_index()


# --------------------------------------------------------------------------------- joint test
def restricted_fit(
    panel: pd.DataFrame, yname: str, covariates: list[str], idname: str, tname: str
) -> tuple[np.ndarray, np.ndarray]:
    """(fitted values, residuals) of ``yname`` on unit and time effects and ``covariates`` over
    all rows (the restricted model of the wild bootstrap: no treatment term)."""
    unit = pd.factorize(panel[idname])[0]
    time = pd.factorize(panel[tname])[0]
    x = panel[list(covariates)].to_numpy(float) if covariates else None
    y = panel[yname].to_numpy(float)
    resid = FEProjector(unit, time, controls=x).residualize(y)
    return y - resid, resid


def _basis_estimates(
    panel, spec, basis, control_sets, yname, gname, idname, tname, cluster, cells
) -> np.ndarray:
    """The estimate of ``spec`` with each column of ``basis`` (a frame on the rows of ``panel``)
    as the outcome, on the rows the observed outcome ``yname`` and the covariates leave."""
    data, controls = _spec_data(panel, spec, control_sets, yname, gname, idname, tname, cluster)
    rows = data.index.to_numpy()
    if spec["estimator"] == "bjs":
        # every basis column on one first stage (the design is the specification's; only the
        # outcome changes): the numbers of one estimate() call per column
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est, _ = imputation_many(
                data, basis.to_numpy(dtype=float)[rows], tname, idname, "_g", controls or None,
                horizons=None, cluster=cluster, **imputation_options(cells),
            )  # fmt: skip
        return est[:, 0]
    out = np.empty(basis.shape[1])
    for j, col in enumerate(basis.columns):
        data = data.assign(_y=basis[col].to_numpy()[rows])
        out[j] = _point_estimate(data, spec["estimator"], controls, idname, tname, cluster, cells)
    return out


def curve_statistics(est, se, n_clusters, direction: float, alpha: float = 0.05) -> dict:
    """The joint test's statistics of one curve: median, share significant in ``direction`` at
    ``alpha`` (two-sided t(G-1) test), Stouffer's Z of the one-sided p-values in ``direction``."""
    est, se, g = (np.asarray(a, float) for a in (est, se, n_clusters))
    ok = np.isfinite(est) & np.isfinite(se) & (se > 0)
    est, se, g = est[ok], se[ok], g[ok]
    if not len(est):
        return {"median": np.nan, "share_significant": np.nan, "stouffer_z": np.nan}
    t = direction * est / se
    crit = stats.t.ppf(1 - alpha / 2, g - 1)
    p_one = np.clip(stats.t.sf(t, g - 1), 1e-300, 1.0)
    z = stats.norm.isf(p_one)
    return {
        "median": float(direction * np.median(est)),
        "share_significant": float(np.mean(t > crit)),
        "stouffer_z": float(z.sum() / np.sqrt(len(z))),
    }


# ------------------------------------------------------------------------------------ the result
@dataclass
class SpecCurveResult:
    """One row per estimated specification (``table``; ``headline`` marks spec 0, ``foil`` the
    TWFE rows), the impossible (``infeasible``) and duplicate (``duplicates``) ones, the headline's
    SE by clustering (``se_by_cluster``) and the joint test's null draws (``null_draws``)."""

    table: pd.DataFrame
    infeasible: pd.DataFrame
    duplicates: pd.DataFrame
    options: dict
    baseline: int | None = 0
    control_sets: dict = field(default_factory=dict)
    cluster: str = "city_code"
    outcome: str = "log_exports"
    se_by_cluster: pd.DataFrame = field(default_factory=pd.DataFrame)
    null_draws: pd.DataFrame = field(default_factory=pd.DataFrame)
    joint_test: dict = field(default_factory=dict)

    @property
    def curve(self) -> pd.DataFrame:
        """The specifications the summary and the joint test use (the foils left out)."""
        return self.table[~self.table["foil"]]

    @property
    def n_specs(self) -> int:
        return len(self.table)

    def tidy(self) -> pd.DataFrame:
        return self.table.copy()

    def overview(self) -> dict:
        """Headline numbers of the curve (foils left out): median, range, shares positive and
        significant at 5% (t(G-1) CI excluding zero), the headline spec, the joint test."""
        t = self.curve
        sig = (t["conf_low"] > 0) | (t["conf_high"] < 0)
        head = self.table[self.table["headline"]]
        jt = self.joint_test
        return {
            "outcome": self.outcome,
            "n_specs": len(self.table),
            "n_curve": len(t),
            "n_foil": int(self.table["foil"].sum()),
            "n_infeasible": len(self.infeasible),
            "n_duplicates": len(self.duplicates),
            "cluster": self.cluster,
            "median": float(t["estimate"].median()),
            "min": float(t["estimate"].min()),
            "max": float(t["estimate"].max()),
            "share_positive": float((t["estimate"] > 0).mean()),
            "share_significant": float(sig.mean()),
            "share_positive_significant": float((t["conf_low"] > 0).mean()),
            "n_outliers": int(self.table["outlier"].sum()) if "outlier" in self.table else 0,
            "outlier_k": OUTLIER_K,
            "outlier_rule": OUTLIER_RULE.format(k=OUTLIER_K),
            "outliers": self.table.loc[
                self.table["outlier"],
                ["spec_id", *DIMENSIONS, "estimate", "std_error", "outlier_reason"],
            ].to_dict("records")
            if "outlier" in self.table
            else [],
            "foil_median": float(self.table.loc[self.table["foil"], "estimate"].median())
            if self.table["foil"].any()
            else None,
            "headline": head.iloc[0][HEADLINE_KEYS].to_dict() if len(head) else None,
            "se_by_cluster": self.se_by_cluster.to_dict("records"),
            "joint_draws": jt.get("draws", 0),
            "joint_p_median": jt.get("p_median"),
            "joint_p_share_significant": jt.get("p_share_significant"),
            "joint_p_stouffer": jt.get("p_stouffer"),
            "joint_test": jt,
        }

    def summary(self) -> str:
        o = self.overview()
        by = {
            d: self.curve.groupby(d, sort=False)["estimate"].median().round(4).to_dict()
            for d in DIMENSIONS
        }
        lines = [
            (
                f"Specification curve of the ATT on {o['outcome']}: {o['n_curve']} specifications"
                f" (+{o['n_foil']} TWFE foil; {o['n_infeasible']} impossible and"
                f" {o['n_duplicates']} duplicates dropped), CIs clustered by {o['cluster']}"
            ),
            (
                f"median {o['median']:.4f}, range [{o['min']:.4f}, {o['max']:.4f}],"
                f" {100 * o['share_positive']:.0f}% positive,"
                f" {100 * o['share_significant']:.0f}% significant at 5%"
            ),
        ]
        if o["joint_draws"]:
            lines.append(
                f"joint test ({o['joint_draws']} null draws): p(median) = {o['joint_p_median']:.3g},"
                f" p(share significant) = {o['joint_p_share_significant']:.3g},"
                f" p(Stouffer Z) = {o['joint_p_stouffer']:.3g}"
            )
        lines += ["median by choice:"] + [f"  {d}: {v}" for d, v in by.items()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, lang: str = "en"):
        """The Figure of :func:`analysis.figures.spec_curve.plot_spec_curve`."""
        from analysis.figures.spec_curve import plot_spec_curve

        return plot_spec_curve(self.table, self.baseline, lang=lang)


# ------------------------------------------------------------------------------------ running
def _run_parallel(tasks: list, n_jobs: int, backend, client, progress: bool, desc: str):
    """The one parallel runner (analysis.parallel) on ``backend`` (params.yaml ``parallel``, a
    :class:`~analysis.parallel.Backend` or a name; ``n_jobs`` local workers)."""
    return run_tasks(
        tasks, as_backend(backend, n_jobs=n_jobs), progress=progress, desc=desc, client=client
    )


SAME_ROWS = "same estimator, covariates and estimation rows"
SAME_VALUE = "numerically the same point estimate"


def _same_estimates(table: pd.DataFrame, rtol: float = 1e-9) -> tuple[pd.DataFrame, list[dict]]:
    """Drop specifications whose point estimate equals an earlier one's (up to rounding), e.g.
    Sun-Abraham and Callaway-Sant'Anna without covariates (both the 2x2 DiDs against g-1 weighted
    by cohort size; they differ only in the variance estimator)."""
    kept, same = [], []
    for row in table.to_dict("records"):
        hit = next(
            (k for k in kept if abs(k["estimate"] - row["estimate"])
             <= rtol * max(1.0, abs(row["estimate"]))),
            None,
        )  # fmt: skip
        if hit is None:
            kept.append(row)
        else:
            dims = {d: row[d] for d in DIMENSIONS}
            same.append({"spec_id": row["spec_id"], **dims, "same_as": hit["spec_id"],
                         "reason": SAME_VALUE})  # fmt: skip
    keep = {r["spec_id"] for r in kept}
    return table[table["spec_id"].isin(keep)].reset_index(drop=True), same


def _headline_cluster(panel, spec, control_sets, yname, gname, idname, tname, alpha) -> tuple:
    """(the study's clustering level, :func:`analysis.studies.rules.inference_rule`, as the
    headline uses it; the headline under each clustering, each with its own variance cells)."""
    from analysis.studies.rules import inference_rule

    rows = []
    for cl in HEADLINE_CLUSTERS:
        if cl not in panel.columns:
            continue
        data, controls = _spec_data(panel, spec, control_sets, yname, gname, idname, tname, cl)
        g = int(data[cl].nunique())
        if g < 2:
            continue
        cells = variance_cells(panel, gname, cl)
        att, se = _estimate(data, spec["estimator"], controls, idname, tname, cl, cells)
        rows.append({"cluster": cl, **_inference(att, se, g, alpha)})
    table = pd.DataFrame(rows)
    if table.empty:
        raise ValueError(f"the headline specification needs one of {HEADLINE_CLUSTERS}")
    used = inference_rule(panel).cluster
    if used not in set(table["cluster"]):
        used = table["cluster"].iloc[0]
    return used, table.assign(used=table["cluster"] == used)


def spec_curve(
    panel: pd.DataFrame,
    control_sets: dict[str, list[str]],
    options: dict | None = None,
    yname: str = "log_exports",
    gname: str = "pilot_year",
    idname: str = "city_code",
    tname: str = "year",
    cluster: str = "headline",
    draws: int = DRAWS,
    seed: int = SEED,
    direction: int = 1,
    alpha: float = 0.05,
    min_clusters: int = 2,
    n_jobs: int = 1,
    backend=None,
    client=None,
    progress: bool = True,
    chunks_per_job: int = 4,
) -> SpecCurveResult:
    """Estimate every feasible, distinct specification of ``options`` (missing dimensions take
    ``DEFAULT_OPTIONS``) and the headline, then the joint test on ``draws`` null draws (0: none).
    See the module docstring for the choices, the duplicates, the impossible combinations and the
    test.

    ``panel`` and ``control_sets``: the study's panel and its covariate sets
    (:func:`study_control_sets`; a set named in ``options`` must be in ``control_sets``).
    ``direction``: the predicted sign of the effect (+1: the pilot zones raise exports), fixed
    before the data are seen; the joint test is one-sided in it (a sign read off the estimates would
    double the test's size).
    ``cluster``: ``"headline"`` (the study's clustering level, as the headline's) or a column.
    ``n_jobs``/``backend``/``client``: where the estimates run (:func:`analysis.parallel.run_tasks`:
    params.yaml ``parallel``, local processes by default, or ``"dask"``); the
    specifications are sent in ``n_jobs * chunks_per_job`` chunks, the joint test's basis
    estimates in one task per specification and chunk of basis columns.
    """
    opts, fixed = _options(options)
    yname = fixed.get("outcome", yname)
    cluster = fixed.get("cluster", cluster)
    missing = [c for c in {*opts["controls"], HEADLINE["controls"]} if c not in control_sets]
    if missing:
        raise KeyError(f"control sets not defined: {missing}")
    sets = {
        k: list(control_sets[k]) for k in dict.fromkeys([HEADLINE["controls"], *opts["controls"]])
    }
    needed = list(
        dict.fromkeys(
            [idname, tname, yname, gname, *itertools.chain.from_iterable(sets.values())]
            + [c for c in HEADLINE_CLUSTERS if c in panel.columns]
            + ([cluster] if cluster != "headline" else [])
        )
    )
    work = panel[needed].reset_index(drop=True)
    grid = spec_grid(opts)
    head_spec = grid.iloc[0].to_dict()
    chosen, se_by_cluster = _headline_cluster(
        work, head_spec, sets, yname, gname, idname, tname, alpha
    )
    if cluster == "headline":
        cluster = chosen
    else:
        se_by_cluster["used"] = se_by_cluster["cluster"] == cluster
    cells = variance_cells(work, gname, cluster)

    feasible, impossible, duplicates, frames, seen = [], [], [], {}, {}
    for spec in grid.to_dict("records"):
        if spec["controls"] not in frames:  # the estimation frame does not depend on the estimator
            frames[spec["controls"]] = _spec_data(
                work, spec, sets, yname, gname, idname, tname, cluster
            )
        data, controls = frames[spec["controls"]]
        reason = _infeasible(data, spec, idname, tname, cluster, min_clusters)
        if reason:
            impossible.append({**spec, "reason": reason})
            continue
        fp = _fingerprint(data, spec, controls, idname, tname)
        if fp in seen:
            duplicates.append({**spec, "same_as": seen[fp], "reason": SAME_ROWS})
            continue
        seen[fp] = spec["spec_id"]
        feasible.append(spec)

    # a few round-robin chunks per worker: the panel is shipped once per chunk, and every chunk gets
    # a similar mix of cheap (TWFE, BJS, SA) and expensive (CS with covariates) specifications
    n_chunks = min(len(feasible), max(1, n_jobs) * chunks_per_job)
    tasks = [
        delayed(_run_specs)(
            work, feasible[i::n_chunks], sets, yname, gname, idname, tname, cluster, cells, alpha
        )
        for i in range(n_chunks)
    ]
    rows = list(
        itertools.chain.from_iterable(
            _run_parallel(tasks, n_jobs, backend, client, progress, "specifications")
        )
    )
    failed = {r["spec_id"]: r["failed"] for r in rows if "failed" in r}
    impossible += [{**s, "reason": f"the estimator fails on this panel ({failed[s['spec_id']]})"}
                   for s in feasible if s["spec_id"] in failed]  # fmt: skip
    feasible = [s for s in feasible if s["spec_id"] not in failed]
    table = pd.DataFrame(feasible, columns=["spec_id", *DIMENSIONS]).merge(
        pd.DataFrame(
            [r for r in rows if "failed" not in r], columns=["spec_id", *ESTIMATE_COLUMNS]
        ),
        on="spec_id",
    )
    table = table.assign(
        headline=table["spec_id"] == 0, foil=table["estimator"].isin(FOILS), cluster=cluster
    )
    table = table.sort_values("spec_id", ignore_index=True)
    table, same = _same_estimates(table)
    table = flag_outliers(table)[TABLE_COLUMNS]  # over the distinct specifications
    feasible = [s for s in feasible if s["spec_id"] in set(table["spec_id"])]

    result = SpecCurveResult(
        table=table,
        infeasible=pd.DataFrame(impossible, columns=["spec_id", *DIMENSIONS, "reason"]).sort_values(
            "spec_id", ignore_index=True
        ),
        duplicates=pd.DataFrame(
            duplicates + same, columns=["spec_id", *DIMENSIONS, "same_as", "reason"]
        ).sort_values("spec_id", ignore_index=True),
        options={**opts, "outcome": [yname]},
        baseline=0 if (table["spec_id"] == 0).any() else None,
        control_sets=sets,
        cluster=cluster,
        outcome=yname,
        se_by_cluster=se_by_cluster,
    )
    if draws > 0 and result.baseline is not None:
        _joint_test(result, work, feasible, sets, yname, gname, idname, tname, cells, draws,
                    seed, alpha, n_jobs, backend, client, progress, direction)  # fmt: skip
    return result


def _null_basis(work, covariates, yname, idname, tname, cluster, draws, seed):
    """(basis outcomes, combination matrix C, whether the basis is per cluster): the draws'
    estimates are ``basis_est @ C``.

    With G clusters and G + 1 <= draws the basis is the restricted fit ``f`` and the residuals of
    each cluster (``C = [1; V]``, V the G x draws Webb weights; the columns sum to the observed
    outcome); otherwise the draws ``f + v_k e`` themselves (``C`` the identity). The weights are
    the same (G x draws) either way."""
    fitted, resid = restricted_fit(work, yname, covariates, idname, tname)
    codes, labels = pd.factorize(work[cluster])
    weights = draw_weights(WEIGHTS, len(labels), draws, np.random.default_rng(seed))
    if len(labels) + 1 <= draws:
        cols = {"_f": fitted} | {f"_e{j}": np.where(codes == j, resid, 0.0)
                                 for j in range(len(labels))}  # fmt: skip
        return pd.DataFrame(cols), np.vstack([np.ones(draws), weights]), True
    ystar = fitted[:, None] + weights[codes] * resid[:, None]
    basis = pd.DataFrame(ystar, columns=[f"_d{k}" for k in range(draws)])
    return basis, np.eye(draws), False


def _check_linear(summed: np.ndarray, observed: np.ndarray, specs: list[dict]) -> None:
    """ValueError unless each specification's basis estimates sum to its observed estimate (the
    identity the per-cluster basis rests on: the estimator is ``w'y``)."""
    bad = np.abs(summed - observed) > LINEARITY_RTOL * np.maximum(1.0, np.abs(observed))
    if bad.any():
        names = [f"{specs[i]['estimator']} x {specs[i]['controls']}" for i in np.flatnonzero(bad)]
        raise ValueError(
            f"specifications {names} are not linear in the outcome (the sum of their estimates on"
            " the basis outcomes differs from their estimate): the joint test's per-cluster basis"
            " needs estimators of the form w'y"
        )


def _joint_test(res, work, feasible, sets, yname, gname, idname, tname, cells, draws, seed,
                alpha, n_jobs, backend, client, progress, direction) -> None:  # fmt: skip
    """Fill ``res.null_draws`` and ``res.joint_test`` (see the module docstring)."""
    curve = res.curve
    specs = [s for s in feasible if s["estimator"] not in FOILS]
    direction = float(np.sign(direction))
    if direction == 0:
        raise ValueError("direction must be +1 (a positive effect is predicted) or -1")
    observed = curve_statistics(
        curve["estimate"], curve["std_error"], curve["n_clusters"], direction, alpha
    )
    basis, combine, per_cluster = _null_basis(
        work, sets[HEADLINE["controls"]], yname, idname, tname, res.cluster, draws, seed
    )
    # one task per specification and chunk of basis columns: CS with covariates costs ~10x BJS
    size = max(1, int(np.ceil(basis.shape[1] / max(1, n_jobs * 2))))
    chunks = [list(basis.columns[i : i + size]) for i in range(0, basis.shape[1], size)]
    tasks = [
        delayed(_basis_estimates)(
            work, s, basis[cols], sets, yname, gname, idname, tname, res.cluster, cells
        )
        for s in specs
        for cols in chunks
    ]
    out = _run_parallel(tasks, n_jobs, backend, client, progress, "joint-test basis estimates")
    est = np.vstack(
        [np.concatenate(out[i * len(chunks) : (i + 1) * len(chunks)]) for i in range(len(specs))]
    )  # specs x basis columns
    by_spec = curve.set_index("spec_id").loc[[s["spec_id"] for s in specs]]
    if per_cluster:  # the basis columns sum to the observed outcome
        _check_linear(est.sum(axis=1), by_spec["estimate"].to_numpy(), specs)
    draws_est = est @ combine  # specs x draws
    se, g = by_spec["std_error"].to_numpy(), by_spec["n_clusters"].to_numpy()
    stats_k = [curve_statistics(draws_est[:, k], se, g, direction, alpha) for k in range(draws)]
    nd = pd.DataFrame(stats_k, columns=["median", "share_significant", "stouffer_z"])
    nd = nd.rename_axis("draw").reset_index()
    nd["median"] *= direction  # back to the estimate's scale
    res.null_draws = nd
    test = {"draws": draws, "seed": seed, "weights": WEIGHTS,
            "direction": "positive" if direction > 0 else "negative"}  # fmt: skip
    for name in ("median", "share_significant", "stouffer_z"):
        null_k = nd[name].to_numpy() * (direction if name == "median" else 1.0)
        null_k = null_k[np.isfinite(null_k)]
        obs = observed[name]
        test[name] = obs * (direction if name == "median" else 1.0)
        key = {"median": "p_median", "share_significant": "p_share_significant",
               "stouffer_z": "p_stouffer"}[name]  # fmt: skip
        test[key] = float((1 + np.sum(null_k >= obs - 1e-12)) / (1 + len(null_k)))
    test["null_median_mean"] = float(nd["median"].mean())
    test["method"] = (
        f"restricted wild cluster bootstrap by {res.cluster} ({WEIGHTS} weights): city and year"
        " effects and the study's covariates without a treatment term; the draws' SEs are the"
        " observed ones"
    )
    res.joint_test = test
