"""One entry point for every staggered-adoption estimator: ``estimate(name, data, ...) -> Estimate``.

The estimator modules keep their own result classes (each mirrors the R package it is validated
against); this module only calls them with one set of argument names and reads their answers into
:class:`analysis.did.results.Estimate`, so a caller never needs to know that Callaway-Sant'Anna
says ``overall_att`` and Sun-Abraham ``att``. Like pyfixest's ``event_study(estimator=...)``
dispatcher (pyfixest/did/estimation.py), but returning one result type.

Estimators (``name``):

``twfe``         one post-treatment dummy with unit and time effects (:func:`analysis.did.twfe.twfe`);
                 biased under heterogeneous, dynamic effects (Goodman-Bacon 2021).
``event_study``  fully dynamic TWFE leads and lags (no binned end points), reference period -1,
                 reported inside ``window`` (:func:`analysis.did.event_study.event_study`).
``cs``           Callaway & Sant'Anna (2021), never-treated controls
                 (:func:`analysis.did.callaway_santanna.att_gt`); ``covariates`` enter as R did's
                 ``xformla`` (base-period values).
``cs_adjusted``  Callaway & Sant'Anna on the outcome net of time-varying covariates
                 (:func:`analysis.did.callaway_santanna.att_gt_adjusted`); ``base_period``
                 ``"universal"`` or ``"varying"`` (default) as for ``cs``; its pre-trend test is
                 the joint Wald test of the event-study leads (first-stage error included).
``sa``           Sun & Abraham (2021) interaction-weighted estimator
                 (:func:`analysis.did.sun_abraham.sun_abraham`).
``bjs``          Borusyak, Jaravel & Spiess (2024) imputation (:func:`analysis.did.imputation.imputation`).
``dcdh``         de Chaisemartin & D'Haultfoeuille (2024) ``did_multiplegt_dyn``
                 (:func:`analysis.did.multiplegt_dyn.did_multiplegt_dyn`): switchers against
                 not-yet-switchers with the same baseline treatment; ``treatment`` may be a
                 non-binary, non-absorbing column (default: the binary dummy built from ``cohort``).
``sdid``         synthetic difference-in-differences (Arkhangelsky et al. 2021;
                 :func:`analysis.did.synthdid.synthdid`), with ``estimator="sc"`` / ``"did"`` as
                 special cases; block adoption only (one cohort and never-treated units).

The overall ATT is each estimator's own: the TWFE coefficient, R did's ``aggte(type="simple")``,
fixest's ``aggregate(..., "att")``, didimputation's static ATT. The TWFE event study has none; its
``att`` is the mean of the post-period coefficients (event times ``0..window[1]``), the analogue of
R did's ``aggte(type="dynamic")`` overall effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.did.inference import wald_statistic
from analysis.did.results import (
    EVENT_STUDY_COLUMNS,
    Estimate,
    PretrendTest,
    event_study_frame,
    tidy_frame,
)

ESTIMATORS = ("twfe", "event_study", "cs", "cs_adjusted", "sa", "bjs", "dcdh", "sdid")


def estimate(
    name: str,
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    window: tuple[int, int] | None = None,
    **options,
) -> Estimate:
    """Estimate the overall ATT and the event-time effects of a staggered binary treatment.

    Parameters
    ----------
    name : one of ``ESTIMATORS``.
    y, unit, time : outcome, unit and (integer) period columns.
    cohort : first treatment period of each unit (0 = never treated in the sample).
    covariates : control columns (time-varying for ``twfe``, ``event_study``, ``cs_adjusted``, ``sa``
        and ``bjs``; base-period covariates for ``cs``).
    cluster : column of the clustered standard errors (default: ``unit``); constant within a unit
        for ``cs`` and ``cs_adjusted`` (their influence functions are summed by cluster).
    window : ``(lo, hi)`` event times to report (``event_study``: the reported window of the
        fully dynamic regression, default ``(-5, 5)``; ``sa``: its ``min_e``/``max_e``; ``bjs``:
        horizons ``0..hi``, and with ``pretrends=True`` its Test 1 leads ``lo..-1``).
    options : passed to the estimator function; besides its own keywords:
        ``treatment`` (``twfe``: the 0/1 treatment column; default built from ``cohort``),
        ``engine`` (``twfe``: a function with :func:`analysis.did.twfe.twfe`'s signature, e.g.
        ``twfe_fwl``), ``fixed_weights`` (``sa``, ``cs_adjusted``: SEs with the cohort-share
        weights held fixed, i.e. conditional on the treatment timing).
    """
    if name not in _DISPATCH:
        raise ValueError(f"unknown estimator {name!r}; choose from {ESTIMATORS}")
    if window is not None:
        window = (int(window[0]), int(window[1]))
    spec = _Spec(y, unit, time, cohort, list(covariates), cluster or unit, window)
    est = _DISPATCH[name](data, spec, dict(options))
    if window is not None:
        lo, hi = window
        es = est.event_study
        est.event_study = es[(es["event_time"] >= lo) & (es["event_time"] <= hi)].reset_index(
            drop=True
        )
    return est


@dataclass(frozen=True)
class _Spec:
    y: str
    unit: str
    time: str
    cohort: str
    covariates: list[str]
    cluster: str
    window: tuple[int, int] | None


def _normal(term: str, att: float, se: float, alpha: float = 0.05) -> pd.Series:
    """One tidy row with a normal CI (the same arithmetic as every estimator's own ``tidy``)."""
    return tidy_frame([term], [att], [se], alpha).iloc[0]


def _result(name, row: pd.Series, event_study, pretrend, fit, term: str | None = None) -> Estimate:
    return Estimate(
        estimator=name,
        att=float(row["estimate"]),
        se=float(row["std_error"]),
        conf_low=float(row["conf_low"]),
        conf_high=float(row["conf_high"]),
        event_study=event_study,
        pretrend=pretrend,
        fit=fit,
        term=str(row["term"]) if term is None else term,
    )


def _no_event_study() -> pd.DataFrame:
    return event_study_frame([], [], [], [], [])[EVENT_STUDY_COLUMNS]


def _from_tidy(event_times, tidy: pd.DataFrame) -> pd.DataFrame:
    return event_study_frame(
        event_times, tidy["estimate"], tidy["std_error"], tidy["conf_low"], tidy["conf_high"]
    )


# ------------------------------------------------------------------------------------ estimators
def _twfe(data, s: _Spec, opts) -> Estimate:
    from analysis.did.twfe import twfe

    engine = opts.pop("engine", twfe)
    treatment = opts.pop("treatment", None)
    if treatment is None:
        treatment = "treated"
        g, t = data[s.cohort].to_numpy(), data[s.time].to_numpy()
        data = data.assign(treated=((g > 0) & (t >= g)).astype(float))
    fit = engine(data, s.y, [treatment, *s.covariates], s.unit, s.time, s.cluster, **opts)
    row = fit.tidy().set_index("term").loc[treatment]
    return _result("twfe", row, _no_event_study(), None, fit, term=treatment)


def _event_study(data, s: _Spec, opts) -> Estimate:
    from analysis.did.event_study import event_study

    window = s.window or (-5, 5)
    fit = event_study(
        data,
        s.y,
        s.cohort,
        s.unit,
        s.time,
        window=window,
        controls=s.covariates,
        cluster=s.cluster,
        **opts,
    )
    k = len(fit.periods)
    hi = window[1]
    post = np.array([0 <= p <= hi for p in fit.periods], dtype=float)
    weights = post / post.sum()
    att = float(weights @ fit.fit.params.to_numpy()[:k])
    se = float(np.sqrt(weights @ fit.fit.cov.to_numpy()[:k, :k] @ weights))
    tidy = fit.tidy(include_ref=False)
    return _result(
        "event_study",
        _normal("post_average", att, se),
        _from_tidy(tidy["event_time"], tidy),
        fit.pretrend,
        fit,
    )


def _cs(data, s: _Spec, opts) -> Estimate:
    from analysis.did.callaway_santanna import att_gt

    opts.setdefault("progress", False)
    fit = att_gt(
        data,
        s.y,
        s.time,
        s.unit,
        s.cohort,
        xformla=s.covariates or None,
        clustervars=None if s.cluster == s.unit else [s.cluster],
        **opts,
    )
    return _cs_result("cs", fit, fit.aggregate("simple"), fit.aggregate("dynamic"), fit.pretest())


def _cs_adjusted(data, s: _Spec, opts) -> Estimate:
    from analysis.did.callaway_santanna import att_gt_adjusted

    if not s.covariates:
        raise ValueError("cs_adjusted needs covariates (without them it is cs)")
    fixed_weights = opts.pop("fixed_weights", False)
    labels = _unit_clusters(data, s)  # checked before minutes of fitting
    fit = att_gt_adjusted(data, s.y, s.time, s.unit, s.cohort, s.covariates, **opts)
    clusters = None if labels is None else labels.reindex(fit.gt.ids).to_numpy()
    simple = fit.aggregate("simple", fixed_weights=fixed_weights, clusters=clusters)
    dynamic = fit.aggregate("dynamic", clusters=clusters)
    lo = None if s.window is None else s.window[0]
    return _cs_result("cs_adjusted", fit, simple, dynamic, _lead_wald(dynamic, lo, clusters))


def _unit_clusters(data, s: _Spec) -> pd.Series | None:
    """The cluster label of each unit (None when clustering by unit): the influence functions
    are summed within clusters, as R did's ``clustervars``. A unit in two clusters (a city whose
    province changes) has no single label: ValueError."""
    if s.cluster == s.unit:
        return None
    if (data.groupby(s.unit)[s.cluster].nunique() > 1).any():
        raise ValueError(f"{s.cluster} is not constant within {s.unit}: cannot sum the units'"
                         " influence functions by cluster")  # fmt: skip
    return data.groupby(s.unit)[s.cluster].first()


def _lead_wald(
    dynamic, lo: int | None = None, clusters: np.ndarray | None = None, ref: int = -1
) -> PretrendTest | None:
    """Joint Wald test that the dynamic leads (``lo <= e < ref``; the reference cell of a
    universal base period is zero by construction and left out) are zero, with the covariance of
    their influence functions (unit-clustered, or summed within ``clusters``: one label per
    unit)."""
    e = np.asarray(dynamic.egt)
    inside = e >= (-np.inf if lo is None else lo)
    se = np.asarray(dynamic.se_egt, dtype=float)
    lead = np.flatnonzero(inside & (e < ref) & np.isfinite(se) & (se > 0))
    if lead.size == 0:
        return None
    inf = dynamic.inf_func_egt[:, lead]
    if clusters is not None:
        codes, uniq = pd.factorize(np.asarray(clusters))
        summed = np.zeros((len(uniq), inf.shape[1]))
        np.add.at(summed, codes, inf)
        inf = summed
    V = inf.T @ inf / dynamic.n**2
    b = np.asarray(dynamic.att_egt)[lead]
    w, df = wald_statistic(b, V)
    return PretrendTest(w, df, float(stats.chi2.sf(w, df)))


def _cs_result(name, fit, simple, dynamic, pretrend) -> Estimate:
    tidy = dynamic.tidy().iloc[1:]  # row 0: the dynamic overall effect
    return _result(name, simple.tidy().iloc[0], _from_tidy(dynamic.egt, tidy), pretrend, fit)


def _sa(data, s: _Spec, opts) -> Estimate:
    from analysis.did.sun_abraham import sun_abraham

    fixed_weights = opts.pop("fixed_weights", False)
    lo, hi = s.window or (None, None)
    fit = sun_abraham(
        data,
        s.y,
        s.time,
        s.unit,
        s.cohort,
        covariates=s.covariates or None,
        min_e=lo,
        max_e=hi,
        cluster=s.cluster,
        **opts,
    )
    if fixed_weights:
        row = _normal("ATT", fit.att, fit.att_se_fixed_weights, fit.alpha)
        tidy = tidy_frame(fit.event_times, fit.estimates, fit.std_errors_fixed_weights, fit.alpha)
    else:
        row, tidy = fit.aggregate_att().iloc[0], fit.tidy()
    return _result("sa", row, _from_tidy(fit.event_times, tidy), fit.pretrend_test(), fit)


def _bjs(data, s: _Spec, opts) -> Estimate:
    from analysis.did.imputation import imputation

    if "horizons" not in opts:
        opts["horizons"] = True if s.window is None else list(range(s.window[1] + 1))
    if opts.get("pretrends") is True:  # Test 1 with the leads of the window (e = lo..-1)
        if s.window is None or s.window[0] >= 0:
            raise ValueError("pretrends=True needs a window with leads (window[0] < 0)")
        opts["pretrends"] = -s.window[0]
    fit = imputation(
        data,
        s.y,
        s.time,
        s.unit,
        s.cohort,
        covariates=s.covariates or None,
        cluster=s.cluster,
        **opts,
    )
    tidy = fit.tidy()
    es = _from_tidy(fit.horizons, tidy.iloc[1:])
    if fit.pretrend is not None and fit.pretrend.leads is not None:
        # the Test 1 lead coefficients as the pre-period points (as did_imputation's event plot):
        # their reference is the untreated observations outside the K leads, not e = -1
        leads = fit.pretrend.leads
        lead_e = [-int(t.split("::")[1]) for t in leads["term"]]
        es = pd.concat([_from_tidy(lead_e, leads), es], ignore_index=True)
        es = es.sort_values("event_time", ignore_index=True)
    return _result("bjs", tidy.iloc[0], es, fit.pretrend, fit)


def _dcdh(data, s: _Spec, opts) -> Estimate:
    """de Chaisemartin & D'Haultfoeuille (2024) ``did_multiplegt_dyn``: overall = the average total
    effect; event time ``l - 1`` = effect ``l``, ``-1 - l`` = placebo ``l``; pre-trend test = the
    joint placebo test. A non-binary or non-absorbing treatment is passed as ``treatment``."""
    from analysis.did.multiplegt_dyn import did_multiplegt_dyn

    if s.covariates:
        raise ValueError("dcdh: covariates are not supported (not ported from the R package)")
    treatment = opts.pop("treatment", None)
    if treatment is None:
        treatment = "_treated"
        g, t = data[s.cohort].to_numpy(), data[s.time].to_numpy()
        data = data.assign(_treated=((g > 0) & (t >= g)).astype(float))
    lo, hi = s.window or (-5, 5)
    opts.setdefault("effects", hi + 1)
    opts.setdefault("placebo", max(0, -lo - 1))
    fit = did_multiplegt_dyn(
        data,
        s.y,
        s.unit,
        s.time,
        treatment,
        cluster=None if s.cluster == s.unit else s.cluster,
        **opts,
    )
    row = fit.tidy().set_index("term").loc["Average_Total_Effect"].copy()
    row["term"] = "Average_Total_Effect"
    return _result("dcdh", row, fit.event_study(), fit.placebo_test(), fit)


def _sdid(data, s: _Spec, opts) -> Estimate:
    """Synthetic DiD (block adoption: one treated cohort plus never-treated units); options
    ``estimator`` ("sdid" | "sc" | "did"), ``se_method``, ``replications``, ``seed``."""
    from analysis.did.synthdid import synthdid

    if s.covariates:
        raise ValueError("sdid takes no covariates")
    if s.cluster != s.unit:
        raise ValueError("sdid's placebo/bootstrap/jackknife SEs resample units; no clustering")
    g, t = data[s.cohort].to_numpy(), data[s.time].to_numpy()
    data = data.assign(_sdid_d=((g > 0) & (t >= g)).astype(float))
    fit = synthdid(data, s.y, s.unit, s.time, "_sdid_d", **opts)
    name = opts.get("estimator", "sdid")
    return _result(name, fit.tidy().iloc[0], fit.event_study, None, fit)


_DISPATCH = {
    "sdid": _sdid,
    "dcdh": _dcdh,
    "twfe": _twfe,
    "event_study": _event_study,
    "cs": _cs,
    "cs_adjusted": _cs_adjusted,
    "sa": _sa,
    "bjs": _bjs,
}
