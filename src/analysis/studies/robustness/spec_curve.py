"""Specification curve for the pilot-zone effect (Simonsohn, Simmons & Nelson 2020, "Specification
curve analysis", Nature Human Behaviour 4, 1208-1214; Steegen et al. 2016 "multiverse analysis").

Every combination of the analyst's defensible choices is estimated and the estimates are shown
sorted, with an indicator panel of the choices (:func:`analysis.figures.robustness.plot_spec_curve`).
Dimensions and their default options (``DEFAULT_OPTIONS``):

``estimator``  ``twfe`` (static TWFE, :func:`analysis.did.twfe.twfe`), ``cs`` (Callaway &
               Sant'Anna 2021 simple ATT, never-treated controls; with covariates the outcome-regression
               2x2 estimator ``est_method="reg"``, because the doubly-robust logit is singular for the
               one-city 2015 cohort), ``sa`` (Sun & Abraham 2021 overall ATT), ``bjs`` (Borusyak,
               Jaravel & Spiess 2024 imputation ATT).
``controls``   a name of ``control_sets``: ``none`` (no covariates), ``controls`` (the four economic
               controls ``panel_schema.CONTROLS``); also defined, not in the default grid:
               ``controls+treatments`` (those plus the other treatments ``rail`` and ``log_broadband``,
               the covariates of the pilot-zone notebook's TWFE).
``sample``     ``all``; ``drop_ftz`` (without the cities of a pilot free trade zone; any
               ``drop:<policy>`` of :mod:`analysis.studies.robustness.concurrent` works); a region name
               (``east``, ``central``, ``west``, ``northeast``); ``coastal`` / ``inland``; ``province:<name>``.
``cluster``    column of the clustered standard errors (``city_code`` or ``province``).
``timing``     ``approval`` (``pilot_year`` as coded) or ``following`` (``pilot_year + 1`` for treated
               cities: designation late in a year first bites the next year); the dummy is rebuilt.
``outcome``    ``log_exports``; ``export_growth`` (first difference of log exports within a city, so
               the first year drops out); ``log_exports_pc`` (log exports minus log population). With the
               per-capita outcome ``log_population`` is removed from the controls: it is part of the
               outcome, and keeping it would make the TWFE/SA/BJS estimate identical to the
               ``log_exports`` one (Frisch-Waugh-Lovell), i.e. a duplicate, not a new specification.

Impossible combinations are dropped before estimation and listed in ``SpecCurveResult.infeasible``
with the reason, so that ``len(table) + len(infeasible)`` equals the product of the option counts:

1. fewer than ``min_clusters`` (default 2) clusters of the ``cluster`` column in the sample
   (a clustered variance needs G >= 2), e.g. ``province`` clustering in a one-province sample;
2. ``cs`` or ``sa`` in a sample without never-treated cities (both use them as the control group);
3. ``cs`` with a covariate that is constant among the never-treated cities in some year (CS
   regresses outcome changes on base-period covariates within the control group, which is singular
   then), e.g. ``cs`` x ``controls+treatments``: no never-treated city has a rail link in 2010.

The default grid (4 x 2 x 3 x 2 x 2 x 3 = 288 specifications) contains none of these on the
committed panel; adding ``controls+treatments`` adds 144 specifications of which 36 (the CS ones)
are impossible by rule 3.

Specifications run in parallel through joblib (``n_jobs``) with the ``loky`` (local processes) or
``dask`` backend (``joblib.parallel_config(backend="dask")`` on a ``dask.distributed.Client``; the
current client is used, or a temporary ``LocalCluster`` with ``n_jobs`` single-threaded workers is
started). Every estimator is deterministic, so results do not depend on the backend or ``n_jobs``.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config
from tqdm.auto import tqdm

from analysis.did.estimate import estimate
from analysis.did.results import TIDY_COLUMNS, tidy_frame
from analysis.did.twfe import twfe_fwl

__all__ = ["DEFAULT_OPTIONS", "SpecCurveResult", "default_control_sets", "spec_curve", "spec_grid"]

DIMENSIONS = ["estimator", "controls", "sample", "cluster", "timing", "outcome"]
DEFAULT_OPTIONS = {
    "estimator": ["twfe", "cs", "sa", "bjs"],
    "controls": ["none", "controls"],
    "sample": ["all", "drop_ftz", "east"],
    "cluster": ["city_code", "province"],
    "timing": ["approval", "following"],
    "outcome": ["log_exports", "export_growth", "log_exports_pc"],
}
BASELINE = {
    "estimator": "twfe",
    "controls": "controls",
    "sample": "all",
    "cluster": "city_code",
    "timing": "approval",
    "outcome": "log_exports",
}
ESTIMATORS = ("twfe", "cs", "sa", "bjs")
OUTCOMES = ("log_exports", "export_growth", "log_exports_pc")
REGIONS = ("east", "central", "west", "northeast")


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


# ------------------------------------------------------------------------------------------ data
def _dropped_cities(samples, years: pd.DataFrame | None) -> dict[str, list]:
    """City codes removed by each ``drop_*`` sample (resolved once, so workers need no roster code)."""
    from analysis.studies.robustness.concurrent import DEFAULT_POLICY, policy_columns

    out = {}
    for name in samples:
        if name == "drop_ftz" or name.startswith("drop:"):
            policy = DEFAULT_POLICY if name == "drop_ftz" else name.split(":", 1)[1]
            col = policy_columns(policy)[0]
            if years is None or col not in years.columns:
                raise KeyError(f"sample {name!r} needs the policy years column {col!r}")
            out[name] = sorted(years.index[years[col] > 0])
    return out


def _sample(panel: pd.DataFrame, name: str, dropped: dict, idname: str) -> pd.DataFrame:
    if name == "all":
        return panel
    if name in dropped:
        return panel[~panel[idname].isin(dropped[name])]
    if name in REGIONS:
        return panel[panel["region"] == name]
    if name in ("coastal", "inland"):
        return panel[panel["coastal"].astype(bool) == (name == "coastal")]
    if name.startswith("province:"):
        return panel[panel["province"] == name.split(":", 1)[1]]
    raise ValueError(f"unknown sample {name!r}")


def _spec_data(panel, spec, control_sets, dropped, yname, gname, idname, tname):
    """The estimation frame of one specification: columns _y, _g, _D, controls, cluster."""
    df = _sample(panel, spec["sample"], dropped, idname)
    g = df[gname].to_numpy()
    if spec["timing"] == "following":
        g = np.where(g > 0, g + 1, 0)
    elif spec["timing"] != "approval":
        raise ValueError(f"unknown timing {spec['timing']!r}")
    outcome = spec["outcome"]
    if outcome == "log_exports":
        y = df[yname]
    elif outcome == "export_growth":
        y = df.sort_values(tname).groupby(idname)[yname].diff().reindex(df.index)
    elif outcome == "log_exports_pc":
        y = df[yname] - df.get("log_population", np.nan)
    else:
        raise ValueError(f"unknown outcome {outcome!r}")
    controls = list(control_sets[spec["controls"]])
    if outcome == "log_exports_pc":
        controls = [c for c in controls if c != "log_population"]
    cluster = spec["cluster"]
    keep = list(dict.fromkeys([idname, tname, *controls, cluster]))
    out = df[keep].assign(
        _y=y.to_numpy(), _g=g, _D=((g > 0) & (df[tname].to_numpy() >= g)).astype(float)
    )
    return out.dropna(subset=["_y", *controls]), controls


def _infeasible(
    data: pd.DataFrame, spec: dict, controls: list[str], idname: str, tname: str, min_clusters: int
) -> str | None:
    """Reason why a specification cannot be estimated, or None."""
    if data.empty:
        return "no observations (the outcome or a control is not in this panel)"
    if data[spec["cluster"]].nunique() < min_clusters:
        return f"fewer than {min_clusters} clusters of {spec['cluster']}"
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


# ----------------------------------------------------------------------------------- estimation
def _estimate(
    data: pd.DataFrame, spec: dict, controls: list[str], idname: str, tname: str
) -> tuple[float, float]:
    """Overall ATT and SE of one specification, through :func:`analysis.did.estimate.estimate`."""
    name = spec["estimator"]
    if name not in ESTIMATORS:
        raise ValueError(f"unknown estimator {name!r}; choose from {ESTIMATORS}")
    options = {
        # the FWL kernel: twfe's numbers at a fraction of PanelOLS's cost (hundreds of fits)
        "twfe": {"treatment": "_D", "engine": twfe_fwl},
        # outcome regression with covariates: the DR logit is singular for the one-city 2015 cohort
        "cs": {"est_method": "reg" if controls else "dr"},
        "sa": {},
        "bjs": {"horizons": None},
    }[name]
    est = estimate(
        name,
        data,
        y="_y",
        unit=idname,
        time=tname,
        cohort="_g",
        covariates=controls,
        cluster=spec["cluster"],
        **options,
    )
    return est.att, est.se


def _run_spec(panel, spec, control_sets, dropped, yname, gname, idname, tname) -> dict:
    """Estimate one specification (runs in a worker): the spec plus estimate, SE, CI, sample sizes."""
    data, controls = _spec_data(panel, spec, control_sets, dropped, yname, gname, idname, tname)
    with warnings.catch_warnings():  # estimator notes (dropped rows, clustering) are expected here
        warnings.simplefilter("ignore")
        est, se = _estimate(data, spec, controls, idname, tname)
    row = tidy_frame(["pilot"], [est], [se]).iloc[0].drop("term").to_dict()
    return {
        **spec,
        **row,
        "n_obs": len(data),
        "n_cities": data[idname].nunique(),
        "n_treated_cities": data.loc[data["_g"] > 0, idname].nunique(),
    }


# ------------------------------------------------------------------------------------ the curve
def spec_grid(options: dict | None = None) -> pd.DataFrame:
    """All combinations of the options (one row per specification, ``spec_id`` 0..n-1)."""
    opts = {**DEFAULT_OPTIONS, **(options or {})}
    unknown = set(opts) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"unknown specification dimensions {sorted(unknown)}; use {DIMENSIONS}")
    grid = pd.DataFrame(list(itertools.product(*(opts[d] for d in DIMENSIONS))), columns=DIMENSIONS)
    return grid.rename_axis("spec_id").reset_index()


@dataclass
class SpecCurveResult:
    """One row per estimated specification (``table``) and the dropped impossible ones (``infeasible``)."""

    table: pd.DataFrame
    infeasible: pd.DataFrame
    options: dict
    baseline: int | None = None
    control_sets: dict = field(default_factory=dict)

    @property
    def n_specs(self) -> int:
        return len(self.table)

    def tidy(self) -> pd.DataFrame:
        return self.table.copy()

    def overview(self) -> dict:
        """Headline numbers: median, range, share of CIs excluding zero / positive and significant."""
        t = self.table
        sig = (t["conf_low"] > 0) | (t["conf_high"] < 0)
        return {
            "n_specs": len(t),
            "n_infeasible": len(self.infeasible),
            "median": float(t["estimate"].median()),
            "min": float(t["estimate"].min()),
            "max": float(t["estimate"].max()),
            "share_positive": float((t["estimate"] > 0).mean()),
            "share_significant": float(sig.mean()),
            "share_positive_significant": float((t["conf_low"] > 0).mean()),
        }

    def summary(self) -> str:
        o = self.overview()
        by = {
            d: self.table.groupby(d, sort=False)["estimate"].median().round(4).to_dict()
            for d in DIMENSIONS
        }
        lines = [
            f"Specification curve: {o['n_specs']} specifications ({o['n_infeasible']} impossible dropped)",
            (
                f"median {o['median']:.4f}, range [{o['min']:.4f}, {o['max']:.4f}], "
                f"{100 * o['share_positive_significant']:.0f}% positive with 95% CI excluding zero"
            ),
            "median by choice:",
        ] + [f"  {d}: {v}" for d, v in by.items()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, title: str = "Specification curve"):
        """The Figure of :func:`analysis.figures.robustness.plot_spec_curve` (curve + indicator panel)."""
        from analysis.figures.robustness import plot_spec_curve

        return plot_spec_curve(self.table, DIMENSIONS, self.baseline, title)


def _run_chunk(panel, specs, control_sets, dropped, yname, gname, idname, tname) -> list[dict]:
    return [_run_spec(panel, s, control_sets, dropped, yname, gname, idname, tname) for s in specs]


def _run_parallel(tasks: list, n_jobs: int, backend: str, client, progress: bool) -> list:
    def run() -> list:
        out = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
        return list(tqdm(out, total=len(tasks), disable=not progress, desc="specification chunks"))

    if backend == "loky":
        with parallel_config(backend="loky"):
            return run()
    if backend != "dask":
        raise ValueError("backend must be 'loky' or 'dask'")
    from dask.distributed import Client, LocalCluster, get_client

    own = None
    if client is None:
        try:
            client = get_client()
        except ValueError:  # no client running: a temporary local cluster
            cluster = LocalCluster(
                n_workers=max(1, n_jobs),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            client = own = Client(cluster)
    try:
        with parallel_config(backend="dask", wait_for_workers_timeout=60):
            return run()
    finally:
        if own is not None:
            cluster = own.cluster
            own.close()
            cluster.close()


def spec_curve(
    panel: pd.DataFrame,
    options: dict | None = None,
    control_sets: dict | None = None,
    policy_years: pd.DataFrame | None = None,
    yname: str = "log_exports",
    gname: str = "pilot_year",
    idname: str = "city_code",
    tname: str = "year",
    min_clusters: int = 2,
    n_jobs: int = 1,
    backend: str = "loky",
    client=None,
    progress: bool = True,
    chunks_per_job: int = 4,
) -> SpecCurveResult:
    """Estimate every feasible specification of ``options`` (missing dimensions take
    ``DEFAULT_OPTIONS``); see the module docstring for the choices and the impossible combinations.

    ``policy_years``: per-city first policy years (:func:`analysis.studies.robustness.concurrent.policy_years`)
    for ``drop_*`` samples; loaded from the committed free-trade-zone roster when needed and not given.
    ``n_jobs``/``backend``/``client``: joblib parallelism (``"loky"`` or ``"dask"``); the specifications
    are sent in ``n_jobs * chunks_per_job`` chunks (the result does not depend on the chunking).
    """
    opts = {**DEFAULT_OPTIONS, **(options or {})}
    control_sets = {**default_control_sets(), **(control_sets or {})}
    missing = [c for c in opts["controls"] if c not in control_sets]
    if missing:
        raise KeyError(f"control sets not defined: {missing}")
    if policy_years is None and any(
        s == "drop_ftz" or s.startswith("drop:") for s in opts["sample"]
    ):
        from analysis.studies.robustness.concurrent import load_concurrent_policies
        from analysis.studies.robustness.concurrent import policy_years as wide_years

        policy_years = wide_years(load_concurrent_policies())
    dropped = _dropped_cities(opts["sample"], policy_years)
    grid = spec_grid(opts)
    needed = list(
        dict.fromkeys(
            [
                idname,
                tname,
                yname,
                gname,
                *(["log_population"] if "log_population" in panel else []),
                "region",
                "coastal",
                "province",
                *itertools.chain.from_iterable(control_sets[c] for c in opts["controls"]),
                *opts["cluster"],
            ]
        )
    )
    panel = panel[needed].reset_index(drop=True)
    feasible, impossible, frames = [], [], {}
    for spec in grid.to_dict("records"):
        key = (spec["sample"], spec["timing"], spec["outcome"], spec["controls"], spec["cluster"])
        if key not in frames:  # the estimation frame does not depend on the estimator
            frames[key] = _spec_data(
                panel, spec, control_sets, dropped, yname, gname, idname, tname
            )
        data, controls = frames[key]
        reason = _infeasible(data, spec, controls, idname, tname, min_clusters)
        (impossible if reason else feasible).append({**spec, "reason": reason} if reason else spec)
    sets = {k: control_sets[k] for k in opts["controls"]}
    # a few round-robin chunks per worker: the panel is shipped once per chunk, and every chunk gets
    # a similar mix of cheap (TWFE, CS, BJS) and expensive (SA) specifications
    n_chunks = min(len(feasible), max(1, n_jobs) * chunks_per_job)
    tasks = [
        delayed(_run_chunk)(
            panel, feasible[i::n_chunks], sets, dropped, yname, gname, idname, tname
        )
        for i in range(n_chunks)
    ]
    rows = list(
        itertools.chain.from_iterable(_run_parallel(tasks, n_jobs, backend, client, progress))
    )
    cols = ["spec_id", *DIMENSIONS, *TIDY_COLUMNS[1:], "n_obs", "n_cities", "n_treated_cities"]
    table = pd.DataFrame(rows, columns=cols).sort_values("spec_id", ignore_index=True)
    infeasible = pd.DataFrame(impossible, columns=["spec_id", *DIMENSIONS, "reason"])
    base = grid
    for d, v in BASELINE.items():
        base = base[base[d] == v]
    baseline = (
        int(base["spec_id"].iloc[0])
        if len(base) and base["spec_id"].iloc[0] in set(table["spec_id"])
        else None
    )
    return SpecCurveResult(
        table=table, infeasible=infeasible, options=opts, baseline=baseline, control_sets=sets
    )
