"""HonestDiD sensitivity of the effect to violations of parallel trends.

**On the headline** (:func:`headline_sensitivity`; the robustness checks run it, issue 18): the
same estimand, aggregation and clustering as the headline -- the BJS imputation event study with
the study's covariates (:func:`analysis.studies.binary.headline_event_study`), the joint covariance
of its leads and horizons at the study's clustering level (province), event times with at least
``min_cohorts`` cohorts, re-based to e = -1, and the headline's own weights (each horizon's share
of the treated city-years) over the supported horizons. Where this cannot equal the headline (the
e = -1 lead subtracted by the re-basing, horizons without support left out) the difference is
stated in numbers (``target_vs_headline``). The benchmark of M is not the noisy largest
pre-period bend but the slope of the trend the pre-test detects with 80% power (Roth 2022), or
that bend when it is significant and larger.

**On a clean CS event study** (:func:`honest_sensitivity`, a library function kept for a user's
panel and the tutorials; the robustness checks no longer run it: it asked the same question of
another estimator, with city clusters and an equal-weight target). What makes its input "clean":

* **A heterogeneity-robust event study**: Callaway-Sant'Anna ATT(g,t) with never-treated controls,
  aggregated by event time (cohort-share weights), not the TWFE event study, whose leads and lags
  mix cohorts with negative weights under staggered, heterogeneous effects.
* **Covariate-adjusted**: CS on the outcome net of the time-varying covariates ``X'b``, ``b`` from
  ``y ~ X | unit + year`` on untreated rows (:func:`analysis.did.callaway_santanna.att_gt_adjusted`),
  because the synthetic panel has parallel trends only conditional on GDP growth (early pilots grow
  faster). Adjusted CS and Sun-Abraham with covariates agree; CS is chosen over SA because
  its influence functions give the full covariance of the event-time coefficients directly
  (including the first-stage and cohort-share-weight terms), which HonestDiD needs.
* **Universal base period** (e = -1 for every cohort), so each pre-period coefficient is a level
  relative to the same year, as HonestDiD assumes (the varying base makes them one-year changes).
* **No binned end points, only event times with support**: event times inside ``window`` that at
  least ``min_cohorts`` cohorts reach, kept as a contiguous run around e = -1 (the smoothness
  restriction takes second differences of adjacent years).

The target (``options.target``) is the equal-weight average of the post-period effects in that run
or the effect at e = 0. The smoothness restriction Delta^SD(M) is benchmarked against the largest
absolute second difference of the pre-period coefficients (the largest bend of the pre-trend),
the relative-magnitudes restriction Delta^RM(Mbar) against the largest pre-period first
difference (Mbar = 1: post-period violations as large as the largest pre-period one).
"""

from __future__ import annotations

import warnings
from time import perf_counter

import numpy as np
import pandas as pd
from scipy import stats

from analysis.config import HonestDiDConfig
from analysis.did.callaway_santanna import AdjustedATTgt, att_gt, att_gt_adjusted
from analysis.did.honestdid import breakdown_values, honest_did

__all__ = [
    "benchmark_bends",
    "clean_event_study",
    "honest_sensitivity",
    "sensitivity",
    "support_run",
    "target_weights",
]

BASE = -1  # the universal base period: the year before treatment

# How the event is named in the sentences, by cohort column (a generic fallback otherwise).
EVENT_WORDS = {
    "pilot_year": {"en": "designation", "zh": "设立"},
    "rail_year": {"en": "the first rail service", "zh": "铁路开通"},
}
_GENERIC_EVENT = {"en": "treatment", "zh": "处理"}


# --------------------------------------------------------------------------- the event study


def _cs_universal(panel, y, cohort, unit, time_col, covariates):
    """ATT(g,t) with a universal base period; covariate-adjusted (CS on ``y - X'b``, the first
    stage's error in the influence function) when covariates are given."""
    kw = {"tname": time_col, "idname": unit, "gname": cohort, "base_period": "universal"}
    if not covariates:
        return att_gt(panel, y, progress=False, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyfixest notes on the first stage
        return att_gt_adjusted(panel, y, covariates=list(covariates), **kw)


def _cohort_counts(gt) -> dict[int, int]:
    """Number of cohorts with an estimated ATT(g, g+e), by event time e."""
    ok = np.isfinite(gt.att)
    e = (gt.time[ok] - gt.group[ok]).astype(int)
    return {int(k): int(v) for k, v in zip(*np.unique(e, return_counts=True))}


def support_run(n_cohorts: dict[int, int], window, min_cohorts: int) -> tuple[list, list, dict]:
    """Pre- and post-period event times used: inside ``window``, reached by at least
    ``min_cohorts`` cohorts, contiguous around the base period (walking outwards from e = -2 and
    e = 0 and stopping at the first event time without support). Returns (pre, post, dropped),
    ``dropped``: event time -> reason for the event times of the window that are left out."""
    lo, hi = int(window[0]), int(window[1])
    pre, post, dropped = [], [], {}
    for step, start, stop, out in ((-1, BASE - 1, lo - 1, pre), (1, 0, hi + 1, post)):
        broken = None
        for e in range(start, stop, step):
            n = n_cohorts.get(e, 0)
            if broken is not None:
                dropped[e] = f"beyond e = {broken}, which lacks support"
            elif n < min_cohorts:
                broken = e
                dropped[e] = f"{n} cohort(s) observed, fewer than {min_cohorts}"
            else:
                out.append(e)
    return sorted(pre), post, dict(sorted(dropped.items()))


def clean_event_study(
    panel: pd.DataFrame,
    *,
    y: str,
    cohort: str,
    unit: str,
    time: str,
    covariates=(),
    window=(-5, 5),
    min_cohorts: int = 2,
) -> dict:
    """The event study HonestDiD is fed (see the module docstring).

    Returns ``{"event_times", "n_pre", "beta", "vcov", "n_cohorts", "dropped", "frame", "coef"}``:
    the coefficients of the pre- then post-period event times (e = -1 excluded: it is the
    normalisation), their covariance from the influence functions (unit-clustered; its diagonal
    is the estimator's own squared SEs), cohorts per event time, the left-out event times with a
    reason, a tidy frame of every event time in the window, and the first-stage coefficients."""
    covariates = list(covariates or [])
    gt = _cs_universal(panel, y, cohort, unit, time, covariates)
    raw = gt.gt if isinstance(gt, AdjustedATTgt) else gt
    n_cohorts = _cohort_counts(raw)
    pre, post, dropped = support_run(n_cohorts, window, min_cohorts)
    agg = gt.aggregate("dynamic")
    egt = np.asarray(agg.egt, dtype=int)
    used = pre + post
    pos = [int(np.flatnonzero(egt == e)[0]) for e in used]
    inf = np.asarray(agg.inf_func_egt, dtype=float)[:, pos]
    vcov = inf.T @ inf / agg.n**2  # the SEs of aggregate(): sqrt(sum IF^2) / n
    beta = np.asarray(agg.att_egt, dtype=float)[pos]
    lo, hi = int(window[0]), int(window[1])
    rows = []
    z = stats.norm.ppf(1 - agg.alpha / 2)
    for j, e in enumerate(egt):
        if not lo <= e <= hi:
            continue
        est, se = float(agg.att_egt[j]), float(agg.se_egt[j])
        if e == BASE:
            se = 0.0
        rows.append(
            {
                "event_time": int(e),
                "estimate": est,
                "std_error": se,
                "conf_low": est - z * se,
                "conf_high": est + z * se,
                "n_cohorts": n_cohorts.get(int(e), 0),
                "used": bool(e in used),
            }
        )
    frame = pd.DataFrame(rows)
    coef = gt.coef if isinstance(gt, AdjustedATTgt) else pd.Series(dtype=float)
    return {
        "event_times": used,
        "n_pre": len(pre),
        "beta": beta,
        "vcov": vcov,
        "n_cohorts": n_cohorts,
        "dropped": dropped,
        "frame": frame,
        "coef": {str(k): float(v) for k, v in coef.items()},
    }


# --------------------------------------------------------------------------- target, benchmarks


def target_weights(post: list[int], target: str) -> np.ndarray:
    """``l_vec`` over the post-period event times: equal weights (``"average"``) or e = 0."""
    if not post:
        raise ValueError("no post-period event time")
    if target == "average":
        return np.full(len(post), 1.0 / len(post))
    if target == "first":
        return (np.asarray(post) == 0).astype(float)
    raise ValueError("target must be 'average' or 'first'")


def _target_label(post: list[int], target: str, words: dict) -> dict:
    """The target in plain words: ``en``/``zh`` (full) and ``short_en``/``short_zh`` (subject of
    the sentences)."""
    ev_en, ev_zh = words["en"], words["zh"]
    if target == "first":
        return {
            "en": f"the effect in the year of {ev_en} (e = 0)",
            "zh": f"{ev_zh}当年（e = 0）的效应",
            "short_en": f"the effect in the year of {ev_en}",
            "short_zh": f"{ev_zh}当年的效应",
        }
    a, b = post[0], post[-1]
    return {
        "en": (
            f"the average effect over years {a} to {b} after {ev_en} (e = {a}..{b}, equal weights)"
        ),
        "zh": f"{ev_zh}后第 {a}–{b} 年效应的等权平均（e = {a}..{b}）",
        "short_en": f"the average effect over years {a}-{b}",
        "short_zh": f"第 {a}–{b} 年的平均效应",
    }


def benchmark_bends(beta_pre: np.ndarray, vcov_pre: np.ndarray, pre: list[int]) -> dict:
    """Benchmarks from the pre-period coefficients, with the base period (0) appended.

    ``M``: the largest absolute second difference ``d_{e+1} - 2 d_e + d_{e-1}`` (the largest change
    of the pre-trend's slope from one year to the next), its SE and the middle year ``M_at``;
    ``jump``: the largest absolute first difference ``d_{e+1} - d_e`` (what Delta^RM's Mbar scales),
    its SE and the later year ``jump_at``. None when there are too few pre periods."""
    k = len(pre)
    path = np.r_[np.asarray(beta_pre, float), 0.0]  # d_pre..., d_{-1} = 0
    years = [*pre, BASE]
    # linear maps from the path to its differences; the base period's column is dropped for the
    # variances (it is a constant, not an estimate)
    D1 = np.diff(np.eye(k + 1), 1, axis=0)
    D2 = np.diff(np.eye(k + 1), 2, axis=0)
    out: dict = {"M": None, "M_se": None, "M_at": None}
    if k >= 2:
        d2 = D2 @ path
        i = int(np.argmax(np.abs(d2)))
        a = D2[i, :k]
        out = {
            "M": float(abs(d2[i])),
            "M_se": float(np.sqrt(a @ vcov_pre @ a)),
            "M_at": years[i + 1],
        }
    d1 = D1 @ path
    j = int(np.argmax(np.abs(d1)))
    a = D1[j, :k]
    out.update(
        jump=float(abs(d1[j])), jump_se=float(np.sqrt(a @ vcov_pre @ a)), jump_at=years[j + 1]
    )
    return out


# --------------------------------------------------------------------------- sentences


def _f(x: float) -> str:
    return f"{x:.3g}"


def _sentences(
    estimate, original_ci, target_label, words, bench, bd_sd, bd_rm, max_k
) -> dict[str, dict[str, str]]:
    """Plain-words reading of the breakdown values, in English and Chinese."""
    sign_en = "positive" if estimate > 0 else "negative"
    sign_zh = "为正" if estimate > 0 else "为负"
    subj_en = target_label["short_en"][0].upper() + target_label["short_en"][1:]
    subj_zh = target_label["short_zh"]
    ev_en, ev_zh = words["en"], words["zh"]
    out: dict[str, dict[str, str]] = {}
    if original_ci[0] <= 0 <= original_ci[1]:
        same = {
            "en": f"{subj_en} is not distinguishable from zero even under exact parallel trends.",
            "zh": f"即使平行趋势完全成立，{subj_zh}也与零无显著差异。",
        }
        return {"DeltaSD": same, "DeltaRM": same}
    if bd_sd is not None:
        M, grid_max = bd_sd["value"], bd_sd["grid_max"]
        ratio = (lambda m: f"{m / bench['M']:.1f}") if bench.get("M") else None
        tail_en = tail_zh = ""
        if M is not None:
            drift = M * max_k * (max_k + 1) / 2
            if ratio and bench.get("source") == "power":
                tail_en = (
                    f", {ratio(M)} times the benchmark ({_f(bench['M'])}: the slope of the "
                    f"trend the pre-test detects with 80% power, as a bend at {ev_en})"
                )
                tail_zh = (
                    f"，即基准（{_f(bench['M'])}：预检验以 80% 的功效可发现的趋势斜率，"
                    f"视作{ev_zh}时的一次弯曲）的 {ratio(M)} 倍"
                )
            elif ratio:
                seen = _f(bench["M"]), _f(bench["M_se"])
                tail_en = (
                    f", {ratio(M)} times the largest bend seen before {ev_en} "
                    f"({seen[0]}, SE {seen[1]})"
                )
                tail_zh = (
                    f"，即{ev_zh}前观察到的最大弯曲（{seen[0]}，标准误 {seen[1]}）的 {ratio(M)} 倍"
                )
            out["DeltaSD"] = {
                "en": (
                    f"{subj_en} stays {sign_en} unless the trend may bend by more than {_f(M)} "
                    f"per year between consecutive years{tail_en}; a bend that large allows a "
                    f"deviation from parallel trends of up to {_f(drift)} by year {max_k - 1}."
                ),
                "zh": (
                    f"除非趋势在相邻年份之间每年的弯曲幅度可超过 {_f(M)}{tail_zh}，"
                    f"{subj_zh}始终{sign_zh}；如此幅度的弯曲到第 {max_k - 1} 年可累积出最多 "
                    f"{_f(drift)} 的平行趋势偏离。"
                ),
            }
        else:
            if ratio:
                tail_en = f" ({ratio(grid_max)} times the largest bend seen before {ev_en})"
                tail_zh = f"（{ev_zh}前最大弯曲的 {ratio(grid_max)} 倍）"
            out["DeltaSD"] = {
                "en": (
                    f"{subj_en} stays {sign_en} for every trend bend considered: the robust "
                    f"interval never includes zero, not reached up to M = {_f(grid_max)}{tail_en}."
                ),
                "zh": (
                    f"在所考虑的所有趋势弯曲幅度下{subj_zh}都{sign_zh}：直到 M = {_f(grid_max)}"
                    f"{tail_zh}稳健置信区间仍不包含零。"
                ),
            }
    if bd_rm is not None:
        Mbar, grid_max = bd_rm["value"], bd_rm["grid_max"]
        jump = _f(bench["jump"])
        if Mbar is not None:
            out["DeltaRM"] = {
                "en": (
                    f"{subj_en} stays {sign_en} unless the post-{ev_en} deviations from parallel "
                    f"trends may be more than {Mbar:.2g} times the largest year-to-year deviation "
                    f"seen before {ev_en} ({jump})."
                ),
                "zh": (
                    f"除非{ev_zh}后偏离平行趋势的年际幅度可超过{ev_zh}前最大年际偏离（{jump}）的 "
                    f"{Mbar:.2g} 倍，{subj_zh}始终{sign_zh}。"
                ),
            }
        else:
            out["DeltaRM"] = {
                "en": (
                    f"{subj_en} stays {sign_en} even if the post-{ev_en} deviations from parallel "
                    f"trends are up to {grid_max:.2g} times the largest year-to-year deviation "
                    f"seen before {ev_en} ({jump}): breakdown not reached up to "
                    f"Mbar = {grid_max:.2g}."
                ),
                "zh": (
                    f"即使{ev_zh}后偏离平行趋势的年际幅度达到{ev_zh}前最大年际偏离（{jump}）的 "
                    f"{grid_max:.2g} 倍，{subj_zh}仍{sign_zh}：直到 Mbar = {grid_max:.2g} "
                    f"仍未达到临界值。"
                ),
            }
    return out


# --------------------------------------------------------------------------- the study function


def _skip_reason(panel, cohort, design) -> str | None:
    treatment = cohort.removesuffix("_year")
    if design is not None and treatment in getattr(design, "treatments", {}):
        why = design.treatments[treatment].estimators.get("cs")
        if why:
            return why
        if design.treatments[treatment].never_treated == 0:
            return "no never-treated city: the covariate-adjusted CS event study needs them"
    g = pd.to_numeric(panel[cohort], errors="coerce").fillna(0)
    if not (g == 0).any():
        return "no never-treated unit: the covariate-adjusted CS event study needs them"
    return None


def honest_sensitivity(
    panel: pd.DataFrame,
    *,
    y: str,
    cohort: str,
    unit: str,
    time: str,
    covariates=(),
    options: HonestDiDConfig | None = None,
    seed: int = 0,
    design=None,
    truth: dict | None = None,
) -> dict:
    """HonestDiD on the clean event study (module docstring); ``{"results", "frames"}``.

    ``truth``: the treatment's block of the truth JSON (e.g. ``truth["pilot"]``; its
    ``att_by_event_time`` gives the true value of the same target), or None.
    ``design``: the design check (:func:`analysis.studies.binary.study_design`); a design that
    rules CS out gives ``{"results": {"skipped": reason}, "frames": {}}``.

    ``results`` (JSON-ready): estimator, base period, event times used/dropped, cohorts per event
    time, target and its plain-words label, estimate / SE / conventional CI, truth of the target,
    benchmarks, grids, breakdown values, a pre-trend Wald test and sentences in en and zh.
    ``frames``: ``honestdid`` (original and robust CIs; columns M, lb, ub, method, delta,
    M_relative) and ``event_study`` (the event study, with the truth when known)."""
    opt = options or HonestDiDConfig()
    clock = perf_counter()
    why = _skip_reason(panel, cohort, design)
    if why:
        return {"results": {"skipped": why}, "frames": {}}
    es = clean_event_study(
        panel,
        y=y,
        cohort=cohort,
        unit=unit,
        time=time,
        covariates=covariates,
        window=opt.window,
        min_cohorts=opt.min_cohorts,
    )
    n_pre = es["n_pre"]
    pre, post = es["event_times"][:n_pre], es["event_times"][n_pre:]
    event_study_time = perf_counter() - clock
    if not pre or not post:
        return {
            "results": {
                "skipped": "the event study has no supported pre-period or post-period event time",
                "dropped_event_times": es["dropped"],
            },
            "frames": {"event_study": es["frame"]},
        }
    truth_by_e = {
        int(k): float(v) for k, v in ((truth or {}).get("att_by_event_time") or {}).items()
    }
    out = sensitivity(
        es["beta"],
        es["vcov"],
        pre,
        post,
        opt,
        seed=seed,
        words=EVENT_WORDS.get(cohort, _GENERIC_EVENT),
        truth_by_event_time=truth_by_e or None,
    )
    frame = es["frame"]
    if truth_by_e:
        frame = frame.assign(
            truth=[truth_by_e.get(e, 0.0 if e < 0 else np.nan) for e in frame["event_time"]]
        )
    results = {
        "estimator": "cs_adjusted" if covariates else "cs",
        "estimator_label": (
            "Callaway-Sant'Anna, never-treated controls, outcome net of time-varying covariates"
            if covariates
            else "Callaway-Sant'Anna, never-treated controls"
        ),
        "covariates": list(covariates or []),
        "first_stage": es["coef"],
        "base_period": "universal",
        "reference_event_time": BASE,
        "window": [int(opt.window[0]), int(opt.window[1])],
        "min_cohorts": int(opt.min_cohorts),
        "dropped_event_times": {str(k): v for k, v in es["dropped"].items()},
        "n_cohorts_by_event_time": {str(e): es["n_cohorts"].get(e, 0) for e in pre + post},
        **out["results"],
    }
    return {
        "results": results,
        "frames": {"honestdid": out["table"], "event_study": frame},
        "timings": {"event_study": event_study_time, "total": perf_counter() - clock},
    }


def sensitivity(
    beta,
    vcov,
    pre: list[int],
    post: list[int],
    options: HonestDiDConfig | None = None,
    *,
    seed: int = 0,
    words: dict | None = None,
    truth_by_event_time: dict[int, float] | None = None,
    l_vec=None,
    label: dict | None = None,
    benchmark: dict | None = None,
) -> dict:
    """HonestDiD on given event-study coefficients (pre- then post-period event times ``pre``,
    ``post``, base period -1 excluded) and their covariance: ``{"results", "table"}`` with the
    results keys of :func:`honest_sensitivity` that do not depend on the panel. ``l_vec`` and
    ``label``: a target of the caller's (default: ``options.target``); ``benchmark``: keys that
    replace those of :func:`benchmark_bends` (``M``, ``Mbar``, ``source``)."""
    opt = options or HonestDiDConfig()
    words = words or _GENERIC_EVENT
    beta, vcov = np.asarray(beta, float), np.asarray(vcov, float)
    n_pre = len(pre)
    l_vec = target_weights(post, opt.target) if l_vec is None else np.asarray(l_vec, float)
    label = label or _target_label(post, opt.target, words)
    bench = benchmark_bends(beta[:n_pre], vcov[:n_pre, :n_pre], pre)
    bench = {**bench, "Mbar": 1.0, **(benchmark or {})}
    if opt.Mvec is not None:
        Mvec = [float(m) for m in opt.Mvec]
    elif bench["M"]:
        Mvec = [float(k) * bench["M"] for k in opt.M_multiples]
    else:
        Mvec = None  # one pre period (or a flat pre-trend): HonestDiD's default grid
    common = {"l_vec": l_vec, "gridPoints": opt.grid_points, "seed": seed}
    # grid="centered": R's +/- 20 SE grid around zero cuts the Delta^RM set off for a large effect
    hres = honest_did(
        beta,
        vcov,
        n_pre,
        len(post),
        Mvec=Mvec,
        Mbarvec=[float(m) for m in opt.Mbarvec],
        type=opt.type,
        grid="centered",
        **common,
    )
    table = hres.table.copy()
    sd, rm = table["delta"] == "DeltaSD", table["delta"] == "DeltaRM"
    table["M_relative"] = np.nan
    if bench["M"]:
        table.loc[sd, "M_relative"] = table.loc[sd, "M"] / bench["M"]
    table.loc[rm, "M_relative"] = table.loc[rm, "M"]
    bd = breakdown_values(
        beta, vcov, n_pre, len(post), hres.results, grid="centered", **common
    )  # fmt: skip
    for d, v in bd.items():
        scale = bench["M"] if d == "DeltaSD" else 1.0
        v["relative_to_benchmark"] = (
            float(v["value"] / scale) if v["value"] is not None and scale else None
        )
    original_ci = [float(hres.original["lb"].iloc[0]), float(hres.original["ub"].iloc[0])]
    true_target = None
    if truth_by_event_time and all(e in truth_by_event_time for e in post):
        true_target = float(l_vec @ np.array([truth_by_event_time[e] for e in post]))
    pre_beta, pre_v = beta[:n_pre], vcov[:n_pre, :n_pre]
    wald = float(pre_beta @ np.linalg.solve(pre_v, pre_beta))
    by = _sentences(
        hres.estimate,
        original_ci,
        label,
        words,
        bench,
        bd.get("DeltaSD"),
        bd.get("DeltaRM"),
        max_k=post[-1] + 1,
    )
    results = {
        "pre_event_times": list(pre),
        "post_event_times": list(post),
        "target": opt.target if label.get("key") is None else label["key"],
        "target_label": label["en"],
        "target_label_zh": label["zh"],
        "target_weights": {str(e): float(w) for e, w in zip(post, l_vec)},
        "estimate": hres.estimate,
        "std_error": hres.std_error,
        "original_ci": original_ci,
        "truth": true_target,
        "truth_in_original_ci": (
            None if true_target is None else bool(original_ci[0] <= true_target <= original_ci[1])
        ),
        "pretrend_test": {
            "statistic": wald,
            "df": n_pre,
            "p_value": float(stats.chi2.sf(wald, n_pre)),
        },
        "benchmark": bench,
        "M_grid": [float(m) for m in table.loc[sd, "M"]],
        "Mbar_grid": [float(m) for m in table.loc[rm, "M"]],
        "breakdown": bd,
        "breakdown_M": (bd.get("DeltaSD") or {}).get("value"),
        "breakdown_Mbar": (bd.get("DeltaRM") or {}).get("value"),
        # one sentence per restriction, each said once (both read the same when the conventional
        # interval already includes zero); Chinese sentences follow each other without a space
        "sentences": {
            lang: sep.join(dict.fromkeys(by[d][lang] for d in ("DeltaSD", "DeltaRM") if d in by))
            for lang, sep in (("en", " "), ("zh", ""))
        },
        "sentences_by_restriction": by,
    }
    return {"results": results, "table": table}


# --------------------------------------------------------------------------- on the headline


HEADLINE_NOTE = (
    "HonestDiD on the headline: the imputation (BJS) event study with the study's covariates, "
    "clustered as the headline, re-expressed relative to e = -1 (each coefficient minus the e = -1 "
    "lead, the convention of HonestDiD's restrictions); target = the headline's weights (each "
    "horizon's share of the treated city-years) over the supported post-period event times. It "
    "differs from the headline by the e = -1 lead (subtracted) and by the horizons without "
    "support (left out): both are stated in numbers (target_vs_headline). HonestDiD's normal "
    "critical values are turned into the study's t(G-1) by scaling the covariance by "
    "(t/z)^2 (vcov_scale)."
)


def headline_target(es: dict, options: HonestDiDConfig | None = None) -> dict:
    """The event times, re-based coefficients, covariance and weights HonestDiD gets on the
    headline (:func:`headline_sensitivity`), and its target's estimate and SE (the interval at
    M = 0 is ``estimate +- z SE``), or ``{"skipped": reason}``; ``truth``: the target's truth when
    ``es`` has one (zero at e = -1: the re-basing moves no truth)."""
    opt = options or HonestDiDConfig()
    if not es or "skipped" in es:
        return {"skipped": (es or {}).get("skipped", "no event study")}
    pre, post, dropped = support_run(es["n_cohorts"], opt.window, opt.min_cohorts)
    pre = [e for e in pre if e in es["event_times"]]
    post = [e for e in post if e in es["event_times"]]
    if not pre or not post or BASE not in es["event_times"]:
        return {
            "skipped": "the event study has no supported pre-period or post-period event time",
            "dropped_event_times": {str(k): v for k, v in dropped.items()},
        }
    times = list(es["event_times"])
    used = pre + post
    A = np.zeros((len(used), len(times)))
    for i, e in enumerate(used):
        A[i, times.index(e)] = 1.0
        A[i, times.index(BASE)] = -1.0
    b_all = es["beta"].reindex(times).to_numpy(float)
    V_all = es["vcov"].loc[times, times].to_numpy(float)
    beta, vcov = A @ b_all, A @ V_all @ A.T
    w = np.array([float(es["weights"].get(e, 0.0)) for e in post])
    covered = float(w.sum())
    w = w / covered
    k = len(pre)
    truth = es.get("truth")
    true_target = None
    if truth is not None and all(np.isfinite(truth.get(e, np.nan)) for e in post):
        true_target = float(w @ np.array([truth.loc[e] for e in post]))
    return {
        "pre": pre,
        "post": post,
        "dropped": dropped,
        "times": times,
        "b_all": b_all,
        "beta": beta,
        "vcov": vcov,
        "weights": w,
        "covered": covered,
        "estimate": float(w @ beta[k:]),
        "std_error": float(np.sqrt(w @ vcov[k:, k:] @ w)),
        "truth": true_target,
    }


def headline_sensitivity(
    es: dict,
    power: dict | None,
    options: HonestDiDConfig | None = None,
    *,
    seed: int = 0,
    cohort: str = "pilot_year",
) -> dict:
    """HonestDiD (Rambachan & Roth 2023) on the headline's own event study: ``es`` from
    :func:`analysis.studies.binary.headline_event_study` (estimates, the joint covariance of leads
    and horizons at the study's clustering level, the headline's horizon weights, cohorts per
    event time, the truth), ``power`` from :func:`analysis.studies.binary.pretrend_power_record`.

    * Event times: the leads and horizons in ``options.window`` reached by at least
      ``options.min_cohorts`` cohorts, contiguous around e = -1 (:func:`support_run`).
    * Re-based to e = -1 (``HEADLINE_NOTE``): ``b_e - b_{-1}``, covariance ``A V A'``.
    * Target: ``sum_e w_e (b_e - b_{-1})`` with ``w`` the headline's weights on the supported
      horizons, renormalised; ``target_vs_headline`` states the difference in numbers.
    * Benchmark of M (Delta^SD): the slope of the trend the pre-test detects with 80% power
      (``power``; a kink of that size at treatment is a violation the pre-test would catch 4 times
      in 5 -- not noise), or the largest pre-period bend when that bend is significant at the
      rule's critical value and larger. Benchmark of Mbar (Delta^RM): the 80%-power slope over the
      largest observed pre-period jump (post-period jumps as steep as that trend).

    ``{"results", "frames"}`` as :func:`honest_sensitivity` (``results["skipped"]`` when the
    event study did not run)."""
    opt = options or HonestDiDConfig()
    if not es or "skipped" in es:
        return {"results": {"skipped": (es or {}).get("skipped", "no event study")}, "frames": {}}
    hb = headline_target(es, opt)
    if "skipped" in hb:
        return {"results": hb, "frames": {}}
    pre, post, used, dropped = hb["pre"], hb["post"], hb["pre"] + hb["post"], hb["dropped"]
    beta, vcov, w, times, b_all = hb["beta"], hb["vcov"], hb["weights"], hb["times"], hb["b_all"]
    w_all, covered = es["weights"], hb["covered"]
    words = EVENT_WORDS.get(cohort, _GENERIC_EVENT)
    a, b = post[0], post[-1]
    label = {
        "key": "headline_weights",
        "en": f"the headline's average effect over years {a} to {b} after {words['en']} (each year "
        "weighted by its treated city-years, relative to e = -1)",
        "zh": f"{words['zh']}后第 {a}–{b} 年的标题效应（按各年处理城市-年份数加权，相对 e = -1）",
        "short_en": f"the headline effect over years {a}-{b}",
        "short_zh": f"第 {a}–{b} 年的标题效应",
    }
    bench = benchmark_bends(beta[: len(pre)], vcov[: len(pre), : len(pre)], pre)
    override: dict = {}
    slope80 = None
    if power and "skipped" not in power:
        rows = {round(r["target_power"], 6): r for r in power["by_power"]}
        slope80 = (rows.get(0.8) or list(rows.values())[-1])["slope"]
    crit = float(es.get("critical_value", stats.norm.ppf(0.975)))
    bend_sig = bench["M"] is not None and bench["M_se"] and bench["M"] / bench["M_se"] > crit
    if slope80:
        M = max(slope80, bench["M"]) if bend_sig else slope80
        override = {
            "M": M,
            "source": "power" if M == slope80 else "significant_bend",
            "slope_80": slope80,
            "M_observed": bench["M"],
            "M_observed_significant": bool(bend_sig),
            "Mbar": slope80 / bench["jump"] if bench["jump"] else 1.0,
            "rule": "M: the larger of the 80%-power slope of the pre-test and the largest "
            "pre-period bend if significant at the rule's critical value; Mbar: the 80%-power "
            "slope over the largest pre-period jump",
        }
    truth = es.get("truth")
    truth_by_e = None
    if truth is not None:
        truth_by_e = {int(k): float(v) for k, v in truth.items() if np.isfinite(v)}
    # the study's t(G-1): HonestDiD's intervals use normal critical values, so the covariance is
    # scaled by (t_{G-1} / z)^2; at M = 0 the interval is then exactly estimate +- t_{G-1} SE (the
    # Monte Carlo's 94.8% row), and the robust sets widen by the same factor
    scale = (crit / stats.norm.ppf(0.975)) ** 2
    out = sensitivity(
        beta, vcov * scale, pre, post, opt, seed=seed, words=words,
        truth_by_event_time=truth_by_e, l_vec=w, label=label, benchmark=override,
    )  # fmt: skip
    res = {**out["results"], "std_error": hb["std_error"]}
    target = hb["estimate"]
    shift = float(-b_all[times.index(BASE)])
    frame = pd.DataFrame(
        {
            "event_time": [*used, BASE],
            "estimate": [*beta, 0.0],
            "std_error": [*np.sqrt(np.diag(vcov)), 0.0],
        }
    ).sort_values("event_time", ignore_index=True)
    z = stats.norm.ppf(0.975)
    frame["conf_low"] = frame["estimate"] - z * frame["std_error"]
    frame["conf_high"] = frame["estimate"] + z * frame["std_error"]
    frame["n_cohorts"] = [es["n_cohorts"].get(int(e), 0) for e in frame["event_time"]]
    frame["used"] = True
    if truth_by_e:
        frame["truth"] = [
            truth_by_e.get(int(e), 0.0 if e < 0 else np.nan) for e in frame["event_time"]
        ]
    results = {
        "estimator": "bjs",
        "estimator_label": "Imputation (BJS), the headline's covariates, re-based to e = -1",
        "note": HEADLINE_NOTE,
        "cluster": es.get("cluster"),
        "n_clusters": es.get("n_clusters"),
        "critical_value": crit,
        "vcov_scale": scale,
        "base_period": "e = -1 (re-based)",
        "reference_event_time": BASE,
        "window": [int(opt.window[0]), int(opt.window[1])],
        "min_cohorts": int(opt.min_cohorts),
        "dropped_event_times": {str(k): v for k, v in dropped.items()},
        "n_cohorts_by_event_time": {str(e): es["n_cohorts"].get(e, 0) for e in used},
        "target_vs_headline": {
            "headline": es["headline"],
            "target": target,
            "difference": target - es["headline"],
            "rebase_shift": shift,
            "lead_minus_1": -shift,
            "horizons_left_out": [int(h) for h in w_all.index if h not in post],
            "treated_share_covered": covered,
        },
        **res,
    }
    return {"results": results, "frames": {"honestdid": out["table"], "event_study": frame}}
