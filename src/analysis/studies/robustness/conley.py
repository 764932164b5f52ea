"""Conley spatial standard errors for the TWFE foil and the TWFE event study (issue 19).

Pilot zones cluster in space (coastal provinces, provincial capitals) and so do export shocks
(ports, supply chains, provincial policy): cities near each other have correlated errors, which
city clustering ignores and province clustering captures only inside province borders. The
Conley (1999) covariance (:mod:`analysis.did.conley`; fixest's pooled form: scores of cities
within ``cutoff`` km are correlated in every pair of years) is computed for the TWFE coefficient
of the pilot dummy with the headline's covariates (the foil) and for the fully dynamic TWFE
event study, at each cutoff of params.yaml ``notebooks.robustness.conley_cutoffs_km``, beside the
city-clustered SEs of the same regressions. Intervals and p-values use the normal distribution
(the Conley covariance has no cluster count for t(G-1)). For the event study: the mean of the
post-period coefficients in the window (R did's dynamic aggregation, as
:func:`analysis.did.estimate.estimate` reports for the TWFE event study) with its SE from the
covariance, and the joint Wald test of the leads with the same covariance.

The cutoffs should stay well inside the map (the pooled form collapses as the cutoff approaches
it; see the module docstring of :mod:`analysis.did.conley`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.did.conley import event_study_conley, twfe_conley
from analysis.did.event_study import event_study
from analysis.did.twfe import twfe

Z = float(stats.norm.ppf(0.975))


def _row(spec: str, se_type: str, est: float, se: float) -> dict:
    return {
        "specification": spec,
        "se": se_type,
        "estimate": est,
        "std_error": se,
        "conf_low": est - Z * se,
        "conf_high": est + Z * se,
        "p_value": float(2 * stats.norm.sf(abs(est / se))) if se > 0 else np.nan,
    }


def _post_mean(es) -> tuple[float, float]:
    """Mean of the post-period coefficients in the window and its SE from the fit's covariance."""
    post = [p for p in es.shown if p >= 0]
    idx = [es.periods.index(p) for p in post]
    w = np.full(len(idx), 1.0 / len(idx))
    b = es.fit.params.to_numpy()[idx]
    V = es.fit.cov.to_numpy()[np.ix_(idx, idx)]
    return float(w @ b), float(np.sqrt(w @ V @ w))


def conley_check(
    data: pd.DataFrame,
    yname: str,
    dname: str,
    gname: str,
    controls: list[str],
    cutoffs_km,
    window: tuple[int, int] = (-5, 5),
) -> dict:
    """TWFE foil and TWFE event study with city-clustered and Conley SEs at each cutoff (module
    docstring); ``data`` carries ``latitude`` and ``longitude``. Returns ``{"table": one row per
    specification x SE, "event_study": per event time and SE type, "pretrend": Wald tests,
    "summary_row": rows for the robustness summary}``."""
    coords = {"lat": "latitude", "lon": "longitude"}
    rows, es_frames, pretrend = [], [], []
    foil = twfe(data, yname, [dname, *controls], "city_code", "year", "city_code")
    rows.append(_row("TWFE", "city", float(foil.params[dname]), float(foil.std_errors[dname])))
    es = event_study(data, yname, gname, "city_code", "year", window, -1, controls, "city_code")
    rows.append(_row("TWFE event study, mean post effect", "city", *_post_mean(es)))
    es_frames.append(es.tidy().assign(se="city"))
    pretrend.append({"se": "city", **es.pretrend_test()})
    for cutoff in cutoffs_km:
        label = f"Conley {cutoff:g} km"
        fit = twfe_conley(data, yname, [dname, *controls], "city_code", "year", cutoff_km=cutoff,
                          **coords)  # fmt: skip
        rows.append(_row("TWFE", label, float(fit.params[dname]), float(fit.std_errors[dname])))
        esc = event_study_conley(data, yname, gname, "city_code", "year", window, -1, controls,
                                 cutoff_km=cutoff, **coords)  # fmt: skip
        rows.append(_row("TWFE event study, mean post effect", label, *_post_mean(esc)))
        es_frames.append(esc.tidy().assign(se=label))
        pretrend.append({"se": label, **esc.pretrend_test()})
    table = pd.DataFrame(rows)
    summary = [
        {
            "check": f"conley:{r['specification']}:{r['se']}",
            "label": f"{r['specification']} (foil), SE {r['se']}"
            if r["specification"] == "TWFE"
            else f"{r['specification']}, SE {r['se']}",
            **{k: r[k] for k in ("estimate", "std_error", "conf_low", "conf_high", "p_value")},
        }
        for r in rows
        if r["se"] != "city"
    ]
    return {
        "cutoffs_km": [float(c) for c in cutoffs_km],
        "table": table,
        "event_study": pd.concat(es_frames, ignore_index=True),
        "pretrend": pd.DataFrame(pretrend),
        "summary_row": summary,
        "note": (
            "normal intervals; Conley (1999) pooled form (fixest): scores of cities within the "
            "cutoff correlated across all years; city-clustered SEs of the same regressions beside"
        ),
    }
