"""Specification curve of the pilot-zone ATT on log exports, with a joint test under the null
(Simonsohn, Simmons & Nelson 2020, "Specification curve analysis", Nature Human Behaviour 4,
1208-1214; Steegen et al. 2016, "multiverse analysis").

One estimand per curve: the ATT on the level of log exports (``yname``). Growth rates (the effect
on the slope) and per-capita outcomes (a different estimand once the programme may move
population; identical to the level estimate when ``log_population`` is a control) are not points
of this curve: a curve mixing them sorts numbers that estimate different things. A curve on
another outcome is another call with another ``yname`` (one value of ``outcome`` in ``options``).

Dimensions: only choices that change the estimate (``DIMENSIONS``; default options in
``DEFAULT_OPTIONS``):

``estimator``  the heterogeneity-robust ATTs ``bjs`` (Borusyak, Jaravel & Spiess 2024 imputation,
               leave-out variance), ``sa`` (Sun & Abraham 2021), ``cs`` (Callaway & Sant'Anna 2021,
               never-treated controls; with covariates the outcome-regression 2x2 estimator, because
               the doubly-robust logit is singular for the one-city 2015 cohort); and ``twfe``, the
               static TWFE dummy, kept as the FOIL the simulation explains (biased under the
               staggered, growing effects): drawn apart in the figure (``foil`` column) and left out
               of the curve's summary statistics and of the joint test.
``controls``   a name of ``control_sets``: ``controls+treatments`` (the usable economic controls and
               the other treatments that vary, ``rail`` and ``log_broadband``: the headline's
               untreated-outcome model), ``controls``, ``none``.
``sample``     ``all``; ``drop_ftz`` (without the pilot-free-trade-zone cities; any ``drop:<policy>``
               of :mod:`analysis.studies.robustness.concurrent`); a region (``east``, ...);
               ``coastal`` / ``inland``; ``province:<name>``.
``timing``     the pilot year recoded from each city's ``pilot_batch`` and the batch's approval date
               in the committed roster by the rules of :func:`analysis.data.reference.treatment_year`
               (``approval``, ``following``, ``midyear``). The rule that reproduces the panel's
               ``pilot_year`` is the headline's; if none does (a user's own coding, no batch column),
               the timing is ``as_coded`` only and the rules are infeasible. The other treatments
               (``rail``) keep the panel's coding.

Not dimensions: the cluster level of the standard errors changes no estimate. Every specification's
confidence interval uses the headline's clustering (``cluster="headline"``: the study's one level,
:func:`analysis.studies.rules.inference_rule`, as in :func:`analysis.studies.binary.headline_att`)
with ``t(G-1)`` critical values, G the clusters in the
specification's sample; the headline's SE under each clustering is reported apart
(``SpecCurveResult.se_by_cluster``). ``options`` may carry ``cluster`` or ``outcome`` with ONE value
(a fixed choice of the curve), never several.

The HEADLINE specification (bjs, controls+treatments, all cities, timing as coded) is always in the
grid, as ``spec_id`` 0 (added when the options leave it out). Specifications that are the same
estimate are estimated once: two specifications with the same estimator, covariates and estimation
rows (city, year, cohort) are duplicates (e.g. a ``drop_ftz`` that drops no city, a timing rule
that equals the coding, ``controls+treatments`` when no other treatment varies), and so are two
specifications with numerically the same point estimate (SA and CS without covariates: the same
2x2 DiDs against g-1 with the same weights, only the variance estimators differ); the later one
is listed in ``duplicates`` with the ``spec_id`` it repeats and the reason. Impossible combinations are listed in
``infeasible`` with the reason:

1. fewer than ``min_clusters`` (default 2) clusters in the sample;
2. ``cs`` or ``sa`` in a sample without never-treated cities;
3. ``cs`` with a covariate that is constant among the never-treated cities in some year (singular
   2x2 regression), e.g. ``cs`` x ``controls+treatments``: no never-treated city has rail in 2010;
4. a timing rule when the timing cannot be recoded.

``len(table) + len(infeasible) + len(duplicates)`` is the size of the grid.

Outlying specifications (:func:`flag_outliers`, columns ``outlier`` and ``outlier_reason`` of the
table). On a small user panel a specification can rest on a handful of cities (a thin sample, an
estimator that drops most cohorts) and come out with a standard error many times the others'; its
interval then sets the scale of the whole figure and hides the curve. Rule, with ``k =
OUTLIER_K`` (5), over the specifications of the curve (foils left out of the reference values, but
flagged by the same thresholds):

* ``se``: the standard error exceeds k times the median standard error (the interval is more than
  k times as wide as the typical one: the specification says little about the effect); or
* ``estimate``: the estimate lies more than k times max(scaled MAD of the estimates, median
  standard error) from the median estimate. The MAD (x 1.4826, the standard deviation under
  normality) measures the curve's own spread; the median SE floors it, so that a curve of nearly
  equal estimates does not flag a difference smaller than the sampling error.

Both are robust to the outliers themselves (medians), and k = 5 flags nothing on the default
synthetic design. A flagged specification stays in the curve's statistics and its joint test (the
median is robust to it; dropping it after seeing it would be a choice made on the data): the flag
is for reading the curve, and the figure draws it clipped to the axis of the others with its value
printed (:func:`analysis.figures.spec_curve.plot_spec_curve`).

Joint test (SSN 2020, "inference with specification curves"). The curve's statistics are (a) the
median estimate, (b) the share of specifications significant at 5% in the predicted direction
(``direction``, +1: the pilot zones raise exports; fixed before seeing the data, since a sign read
off the estimates would double the size of a one-sided test) and (c) Stouffer's Z, the sum of the
specifications' one-sided z-scores (from their t(G-1) p-values in the predicted direction) over
sqrt(n). Their distribution under the null of no effect: the headline's imputed effects, averaged
within cohort x year cells, are subtracted from the treated city-years (the data with the
estimated effect removed, SSN's construction: the within-cell dispersion and the covariates'
trends stay), then ``draws`` cluster bootstrap samples are drawn at the level of the curve's
clustering and the whole curve (foils left out) is re-estimated on each. City clusters are drawn
within cohorts (every cohort keeps its size, the one-city 2015 cohort included); province clusters
are drawn whole, so that province-year shocks stay in the null distribution (resampling cities
when the SEs are clustered by province makes the null too narrow: the test then rejects on panels
without any effect). p-value of each statistic: ``(1 + #{draws at least as extreme}) / (1 +
draws)``, one-sided; with K draws it cannot fall below 1/(K+1). The specifications are strongly
dependent, which is why the test compares the statistics to their own null distribution rather
than treating n specifications as n tests.

Specifications and draws run in parallel through joblib (``n_jobs``) with the ``loky`` or ``dask``
backend (``joblib.parallel_config(backend="dask")`` on a ``dask.distributed.Client``; the current
client is used, or a temporary ``LocalCluster`` with ``n_jobs`` single-threaded workers is started).
Every estimator is deterministic and each draw seeds its own generator from (``seed``, draw), so
results do not depend on the backend, ``n_jobs`` or the chunking.
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
from analysis.did.estimate import estimate
from analysis.did.inference import critical_value, t_p_value
from analysis.did.twfe import twfe_fwl
from analysis.parallel import Backend, run_tasks

__all__ = [
    "DEFAULT_OPTIONS",
    "DIMENSIONS",
    "SpecCurveResult",
    "default_control_sets",
    "null_panel",
    "spec_curve",
    "spec_grid",
    "usable_control_sets",
]

DIMENSIONS = ["estimator", "controls", "sample", "timing"]
FIXED_CHOICES = ("outcome", "cluster")  # one value each: the curve's outcome and SE clustering
TIMING_RULES = ("approval", "following", "midyear")
AS_CODED = "as_coded"
DEFAULT_OPTIONS = {
    "estimator": ["bjs", "sa", "cs", "twfe"],
    "controls": ["controls+treatments", "controls", "none"],
    "sample": ["all", "drop_ftz"],
    "timing": list(TIMING_RULES),
}
# the headline (analysis.studies.binary.headline_att); its timing is the panel's coding
HEADLINE = {"estimator": "bjs", "controls": "controls+treatments", "sample": "all"}
ESTIMATORS = ("bjs", "sa", "cs", "twfe")
FOILS = ("twfe",)
HEADLINE_CLUSTERS = ("city_code", "province")
REGIONS = ("east", "central", "west", "northeast")
DRAWS = SpecCurveConfig.draws  # joint-test draws (params.yaml notebooks.robustness.spec_curve)
SEED = 20240601
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
    c for c in TABLE_COLUMNS[7:] if c not in ("cluster", "outlier", "outlier_reason")
]
OUTLIER_K = 5.0
MAD_SCALE = 1.4826  # MAD x 1.4826: the standard deviation of a normal distribution
OUTLIER_RULE = (
    "standard error above {k:g} x the median standard error, or estimate more than {k:g} x "
    "max(1.4826 MAD, median standard error) from the median estimate"
)


def default_control_sets() -> dict[str, list[str]]:
    from analysis.data.schema import CONTROLS  # imported here: keeps pandera out of the workers

    return {
        "none": [],
        "controls": list(CONTROLS),
        "controls+treatments": [*CONTROLS, "rail", "log_broadband"],
    }


def usable_control_sets(design) -> dict[str, list[str]]:
    """The control sets restricted to what the panel has (an
    :class:`analysis.data.design.DesignCheck`): its usable controls, and the other treatments only
    when they vary. On the full synthetic panel these equal :func:`default_control_sets`."""
    extra = [t for t in ("rail", "log_broadband") if t in _varying_treatments(design)]
    return {
        "none": [],
        "controls": list(design.controls_used),
        "controls+treatments": [*design.controls_used, *extra],
    }


def _varying_treatments(design) -> list[str]:
    out = [t for t in ("pilot", "rail") if design.runs(t, "twfe")]
    return out + (["log_broadband"] if design.coverage is None else [])


# ------------------------------------------------------------------------------ samples, timing
def _sample_masks(panel, samples, years, idname) -> dict[str, np.ndarray]:
    """Row mask of every sample (resolved once: workers and bootstrap draws carry the masks)."""
    from analysis.studies.robustness.concurrent import DEFAULT_POLICY, policy_columns

    out = {}
    for name in samples:
        if name == "all":
            mask = np.ones(len(panel), bool)
        elif name == "drop_ftz" or name.startswith("drop:"):
            policy = DEFAULT_POLICY if name == "drop_ftz" else name.split(":", 1)[1]
            col = policy_columns(policy)[0]
            if years is None or col not in years.columns:
                raise KeyError(f"sample {name!r} needs the policy years column {col!r}")
            # compared as text: the roster's codes may be read as strings, the panel's as ints
            drop = years.index[years[col] > 0].astype(str)
            mask = ~panel[idname].astype(str).isin(drop).to_numpy()
        elif name in REGIONS:
            mask = (panel["region"] == name).to_numpy()
        elif name in ("coastal", "inland"):
            mask = (panel["coastal"].astype(bool) == (name == "coastal")).to_numpy()
        elif name.startswith("province:"):
            mask = (panel["province"] == name.split(":", 1)[1]).to_numpy()
        else:
            raise ValueError(f"unknown sample {name!r}")
        out[name] = mask
    return out


def recode_timing(panel: pd.DataFrame, rule: str, gname: str, batchname: str) -> np.ndarray:
    """``gname`` recoded by ``rule`` from each row's batch and the batch's approval date in the
    committed pilot-zone roster (0 = never treated). KeyError when a batch is not in the roster."""
    from analysis.data.reference import load_pilot_zones, treatment_year

    zones = load_pilot_zones()
    dates = zones.groupby("batch")["approved"].min()
    years = treatment_year(dates, rule)
    batch = panel[batchname].to_numpy()
    treated = batch > 0
    unknown = set(batch[treated]) - set(years.index)
    if unknown:
        raise KeyError(f"batches {sorted(unknown)} are not in the pilot-zone roster")
    return np.where(treated, pd.Series(batch).map(years).fillna(0).to_numpy(), 0).astype(int)


def _timings(panel, rules, gname, batchname) -> tuple[dict, str, dict]:
    """({timing: cohort array}, the headline's timing, {timing: why it cannot be coded}). Every
    rule is tried to find the one that reproduces the panel's coding (the headline's timing)."""
    unknown = [r for r in rules if r not in (*TIMING_RULES, AS_CODED)]
    if unknown:
        raise ValueError(f"unknown timing {unknown}; use {[*TIMING_RULES, AS_CODED]}")
    coded = panel[gname].to_numpy().astype(int)
    wanted = [r for r in rules if r != AS_CODED]
    if batchname not in panel:
        why = f"no {batchname} column to recode the treatment year from"
        return {AS_CODED: coded}, AS_CODED, dict.fromkeys(wanted, why)
    try:
        recoded = {r: recode_timing(panel, r, gname, batchname) for r in TIMING_RULES}
    except KeyError as err:
        return {AS_CODED: coded}, AS_CODED, dict.fromkeys(wanted, str(err.args[0]))
    same = [r for r, g in recoded.items() if np.array_equal(g, coded)]
    if same:
        return {r: recoded[r] for r in dict.fromkeys([same[0], *wanted])}, same[0], {}
    # without a rule that reproduces the coding the recoding is not trusted
    why = f"the panel's {gname} matches no rule of the roster dates; timing left as coded"
    return {AS_CODED: coded}, AS_CODED, dict.fromkeys(wanted, why)


# ----------------------------------------------------------------------------------- estimation
def _spec_data(panel, spec, control_sets, yname, idname, tname, cluster):
    """The estimation frame of one specification: columns _y, _g, _D, controls, cluster."""
    df = panel[panel[f"_s:{spec['sample']}"].to_numpy()]
    g = df[f"_g:{spec['timing']}"].to_numpy()
    controls = list(control_sets[spec["controls"]])
    keep = list(dict.fromkeys([idname, tname, *controls, cluster]))
    out = df[keep].assign(
        _y=df[yname].to_numpy(), _g=g, _D=((g > 0) & (df[tname].to_numpy() >= g)).astype(float)
    )
    return out.dropna(subset=["_y", *controls]), controls


def _infeasible(data, spec, controls, tname, cluster, min_clusters) -> str | None:
    """Reason why a specification cannot be estimated, or None."""
    if data.empty:
        return "no observations (the outcome or a control is not in this panel)"
    if data[cluster].nunique() < min_clusters:
        return f"fewer than {min_clusters} clusters of {cluster}"
    never = data["_g"] == 0
    if spec["estimator"] in ("cs", "sa") and not never.any():
        return "no never-treated units"
    if not (data["_D"] > 0).any():
        return "no treated observations"
    if spec["estimator"] == "cs" and controls:
        spread = data.loc[never].groupby(tname)[controls].nunique()
        if (spread < 2).to_numpy().any():
            return "covariate constant among never-treated units in some year (CS 2x2 regression singular)"
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


def _estimate(data, estimator, controls, idname, tname, cluster) -> tuple[float, float]:
    """Overall ATT and SE of one specification, through :func:`analysis.did.estimate.estimate`."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose from {ESTIMATORS}")
    options = {
        # leave-out variance: the headline's (analysis.studies.binary.headline_att)
        "bjs": {"horizons": None, "leaveout": True},
        "sa": {},
        # outcome regression with covariates: the DR logit is singular for the one-city 2015 cohort
        "cs": {"est_method": "reg" if controls else "dr"},
        # the FWL kernel: twfe's numbers at a fraction of PanelOLS's cost
        "twfe": {"treatment": "_D", "engine": twfe_fwl},
    }[estimator]
    with warnings.catch_warnings():  # estimator notes (dropped rows, clustering) are expected here
        warnings.simplefilter("ignore")
        est = estimate(
            estimator,
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


def _inference(att: float, se: float, n_clusters: int, alpha: float) -> dict:
    crit = critical_value(alpha, n_clusters)
    stat = att / se if se > 0 else float("nan")
    return {
        "estimate": att,
        "std_error": se,
        "statistic": stat,
        "p_value": t_p_value(stat, n_clusters) if se > 0 else float("nan"),
        "conf_low": att - crit * se,
        "conf_high": att + crit * se,
        "critical_value": crit,
        "n_clusters": n_clusters,
    }


def _run_specs(panel, specs, control_sets, yname, idname, tname, cluster, alpha) -> list[dict]:
    """Estimate specifications on one panel (a worker's job); the estimation frame is built once
    per (sample, timing, controls)."""
    frames, rows = {}, []
    for spec in specs:
        key = (spec["sample"], spec["timing"], spec["controls"])
        if key not in frames:
            frames[key] = _spec_data(panel, spec, control_sets, yname, idname, tname, cluster)
        data, controls = frames[key]
        try:
            att, se = _estimate(data, spec["estimator"], controls, idname, tname, cluster)
        except Exception:
            if "_draw" not in spec:
                raise
            att, se = float("nan"), float("nan")
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


def spec_grid(options: dict | None = None, headline_timing: str = "approval") -> pd.DataFrame:
    """All combinations of the options plus the headline specification, which is ``spec_id`` 0
    (each dimension lists the headline's choice first)."""
    opts, _ = _options(options)
    head = {**HEADLINE, "timing": headline_timing}
    ordered = {d: sorted(opts[d], key=lambda o, d=d: o != head[d]) for d in DIMENSIONS}
    combos = list(itertools.product(*(ordered[d] for d in DIMENSIONS)))
    first = tuple(head[d] for d in DIMENSIONS)
    combos = [first] + [c for c in combos if c != first]
    grid = pd.DataFrame(combos, columns=DIMENSIONS)
    return grid.rename_axis("spec_id").reset_index()


# --------------------------------------------------------------------------------- joint test
def null_panel(
    panel: pd.DataFrame,
    covariates: list[str],
    yname: str = "log_exports",
    gname: str = "pilot_year",
    idname: str = "city_code",
    tname: str = "year",
) -> pd.DataFrame:
    """``panel`` with the headline's estimated effect removed: the BJS imputed effects (untreated
    outcome model with ``covariates``), averaged within cohort x year cells, subtracted from the
    treated city-years (SSN 2020's null-imposed data; within-cell dispersion stays)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = estimate(
            "bjs", panel, y=yname, unit=idname, time=tname, cohort=gname,
            covariates=covariates, horizons=None,
        ).fit  # fmt: skip
    tau = fit.tau
    cell = tau.groupby(["cohort", tname])["tau"].transform("mean")
    effect = pd.Series(cell.to_numpy(), index=pd.MultiIndex.from_frame(tau[[idname, tname]]))
    rows = pd.MultiIndex.from_frame(panel[[idname, tname]])
    shift = effect.reindex(rows).fillna(0.0).to_numpy()
    return panel.assign(**{yname: panel[yname].to_numpy() - shift})


def _bootstrap(panel: pd.DataFrame, idname: str, unit: str, strata: str, rng) -> pd.DataFrame:
    """A cluster bootstrap sample: clusters (``unit``) drawn with replacement, each copy a new
    cluster with new city ids. City clusters are drawn within strata (cohorts: every cohort keeps
    its size); coarser clusters (provinces) hold several cohorts and are drawn unstratified."""
    codes, rows = np.unique(panel[unit].to_numpy(), return_inverse=True)
    order = np.argsort(rows, kind="stable")
    starts = np.searchsorted(rows[order], np.arange(len(codes) + 1))
    if unit == idname:
        stratum = pd.Series(panel[strata].to_numpy(), index=rows).groupby(level=0).first()
        groups = [np.asarray(u) for u in stratum.groupby(stratum).groups.values()]
    else:
        groups = [np.arange(len(codes))]
    picked = np.concatenate([rng.choice(u, size=len(u), replace=True) for u in groups])
    idx = np.concatenate([order[starts[u] : starts[u + 1]] for u in picked])
    copy = np.repeat(np.arange(len(picked)), np.diff(starts)[picked])
    out = panel.iloc[idx].reset_index(drop=True)
    city = pd.factorize(pd.MultiIndex.from_arrays([copy, out[idname].to_numpy()]))[0]
    return out.assign(**{idname: city, unit: copy})


def _draw(k, panel, specs, control_sets, yname, idname, tname, cluster, alpha, seed, strata):
    rng = np.random.default_rng([seed, k])
    sample = _bootstrap(panel, idname, cluster, strata, rng)
    rows = _run_specs(
        sample, [{**s, "_draw": k} for s in specs], control_sets, yname, idname, tname, cluster,
        alpha,
    )  # fmt: skip
    return pd.DataFrame(rows)[["estimate", "std_error", "n_clusters"]].to_numpy()


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
def _run_parallel(tasks: list, n_jobs: int, backend: str, client, progress: bool, desc: str):
    """The one parallel runner (analysis.parallel): ``loky`` here is its ``local`` backend."""
    kind = {"loky": "local"}.get(backend, backend)
    if kind not in ("local", "dask"):
        raise ValueError("backend must be 'loky' or 'dask'")
    return run_tasks(
        tasks, Backend(kind, n_jobs=n_jobs), progress=progress, desc=desc, client=client
    )


SAME_ROWS = "same estimator, covariates and estimation rows"
SAME_VALUE = "numerically the same point estimate (e.g. SA and CS without covariates)"


def _same_estimates(table: pd.DataFrame, rtol: float = 1e-9) -> tuple[pd.DataFrame, list[dict]]:
    """Drop specifications whose point estimate equals an earlier one's (up to rounding): SA's
    interaction-weighted ATT with never-treated controls and no covariates is CS's simple ATT
    (each cohort's only unsaturated period is g-1, so both are the 2x2 DiDs against g-1 weighted
    by cohort size); they differ only in the variance estimator."""
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


def _headline_cluster(panel, spec, control_sets, yname, idname, tname, alpha) -> tuple:
    """(the study's clustering level, :func:`analysis.studies.rules.inference_rule`, as the
    headline uses it; the headline under each clustering)."""
    from analysis.studies.rules import inference_rule

    rows = []
    for cl in HEADLINE_CLUSTERS:
        if cl not in panel.columns:
            continue
        data, controls = _spec_data(panel, spec, control_sets, yname, idname, tname, cl)
        g = int(data[cl].nunique())
        if g < 2:
            continue
        att, se = _estimate(data, spec["estimator"], controls, idname, tname, cl)
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
    options: dict | None = None,
    control_sets: dict | None = None,
    policy_years: pd.DataFrame | None = None,
    yname: str = "log_exports",
    gname: str = "pilot_year",
    idname: str = "city_code",
    tname: str = "year",
    batchname: str = "pilot_batch",
    cluster: str = "headline",
    draws: int = DRAWS,
    seed: int = SEED,
    direction: int = 1,
    alpha: float = 0.05,
    min_clusters: int = 2,
    n_jobs: int = 1,
    backend: str = "loky",
    client=None,
    progress: bool = True,
    chunks_per_job: int = 4,
) -> SpecCurveResult:
    """Estimate every feasible, distinct specification of ``options`` (missing dimensions take
    ``DEFAULT_OPTIONS``) and the headline, then the joint test on ``draws`` null draws (0: none).
    See the module docstring for the choices, the duplicates, the impossible combinations and the
    test.

    ``policy_years``: per-city first policy years (:func:`analysis.studies.robustness.concurrent.policy_years`)
    for ``drop_*`` samples; loaded from the committed free-trade-zone roster when needed and not given.
    ``direction``: the predicted sign of the effect (+1: the pilot zones raise exports), fixed
    before the data are seen; the joint test is one-sided in it (a sign read off the estimates would
    double the test's size).
    ``cluster``: ``"headline"`` (the study's clustering level, as the headline's) or a column.
    ``n_jobs``/``backend``/``client``: joblib parallelism (``"loky"`` or ``"dask"``); the
    specifications are sent in ``n_jobs * chunks_per_job`` chunks, the null draws one per task.
    """
    opts, fixed = _options(options)
    yname = fixed.get("outcome", yname)
    cluster = fixed.get("cluster", cluster)
    control_sets = {**default_control_sets(), **(control_sets or {})}
    missing = [c for c in {*opts["controls"], HEADLINE["controls"]} if c not in control_sets]
    if missing:
        raise KeyError(f"control sets not defined: {missing}")
    samples = list(dict.fromkeys([HEADLINE["sample"], *opts["sample"]]))
    if policy_years is None and any(s == "drop_ftz" or s.startswith("drop:") for s in samples):
        from analysis.studies.robustness.concurrent import load_concurrent_policies
        from analysis.studies.robustness.concurrent import policy_years as wide_years

        policy_years = wide_years(load_concurrent_policies())

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
    timings, head_timing, bad_timing = _timings(panel, opts["timing"], gname, batchname)
    extra = {f"_s:{s}": m for s, m in _sample_masks(panel, samples, policy_years, idname).items()}
    extra |= {f"_g:{t}": g for t, g in timings.items()}
    work = work.assign(**extra)
    # the headline's timing is "as coded": a rule that reproduces the coding, else as_coded only
    rules = [t for t in opts["timing"] if t != AS_CODED]
    opts["timing"] = [AS_CODED, *rules] if head_timing == AS_CODED else rules

    grid = spec_grid(opts, head_timing)
    head_spec = grid.iloc[0].to_dict()
    if cluster == "headline":
        cluster, se_by_cluster = _headline_cluster(
            work, head_spec, sets, yname, idname, tname, alpha
        )
    else:
        se_by_cluster = _headline_cluster(work, head_spec, sets, yname, idname, tname, alpha)[1]
        se_by_cluster["used"] = se_by_cluster["cluster"] == cluster

    feasible, impossible, duplicates, frames, seen = [], [], [], {}, {}
    for spec in grid.to_dict("records"):
        if spec["timing"] in bad_timing:
            impossible.append({**spec, "reason": bad_timing[spec["timing"]]})
            continue
        key = (spec["sample"], spec["timing"], spec["controls"])
        if key not in frames:  # the estimation frame does not depend on the estimator
            frames[key] = _spec_data(work, spec, sets, yname, idname, tname, cluster)
        data, controls = frames[key]
        reason = _infeasible(data, spec, controls, tname, cluster, min_clusters)
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
    # a similar mix of cheap (TWFE, CS, BJS) and expensive (SA) specifications
    n_chunks = min(len(feasible), max(1, n_jobs) * chunks_per_job)
    tasks = [
        delayed(_run_specs)(work, feasible[i::n_chunks], sets, yname, idname, tname, cluster, alpha)
        for i in range(n_chunks)
    ]
    rows = list(
        itertools.chain.from_iterable(
            _run_parallel(tasks, n_jobs, backend, client, progress, "specifications")
        )
    )
    table = pd.DataFrame(feasible, columns=["spec_id", *DIMENSIONS]).merge(
        pd.DataFrame(rows, columns=["spec_id", *ESTIMATE_COLUMNS]),
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
        infeasible=pd.DataFrame(impossible, columns=["spec_id", *DIMENSIONS, "reason"]),
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
        _joint_test(result, work, feasible, sets, yname, gname, idname, tname, draws, seed,
                    alpha, n_jobs, backend, client, progress, head_timing, direction)  # fmt: skip
    return result


def _joint_test(res, work, feasible, sets, yname, gname, idname, tname, draws, seed, alpha,
                n_jobs, backend, client, progress, head_timing, direction) -> None:  # fmt: skip
    """Fill ``res.null_draws`` and ``res.joint_test`` (see the module docstring)."""
    curve = res.curve
    specs = [s for s in feasible if s["estimator"] not in FOILS]
    direction = float(np.sign(direction))
    if direction == 0:
        raise ValueError("direction must be +1 (a positive effect is predicted) or -1")
    observed = curve_statistics(
        curve["estimate"], curve["std_error"], curve["n_clusters"], direction, alpha
    )
    null = null_panel(
        work.assign(**{gname: work[f"_g:{head_timing}"]}),
        sets[HEADLINE["controls"]], yname, gname, idname, tname,
    )  # fmt: skip
    tasks = [
        delayed(_draw)(k, null, specs, sets, yname, idname, tname, res.cluster, alpha, seed, gname)
        for k in range(draws)
    ]
    out = _run_parallel(tasks, n_jobs, backend, client, progress, "joint-test null draws")
    stats_k = [curve_statistics(a[:, 0], a[:, 1], a[:, 2], direction, alpha) for a in out]
    nd = pd.DataFrame(stats_k, columns=["median", "share_significant", "stouffer_z"])
    nd = nd.rename_axis("draw").reset_index()
    nd["median"] *= direction  # back to the estimate's scale
    res.null_draws = nd
    test = {"draws": draws, "seed": seed, "direction": "positive" if direction > 0 else "negative"}
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
        "headline imputed effects (cohort x year means) removed; "
        + ("cities resampled within cohorts" if res.cluster == idname else
           f"{res.cluster} clusters resampled")
    )  # fmt: skip
    res.joint_test = test
