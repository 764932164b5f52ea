"""The China-Laos corridor (issue 19): synthetic difference-in-differences for the prefectures on
the China-Laos railway, against never-treated donors, with inference built for a few treated
cities in one province.

The design. The railway (Kunming-Vientiane, opened 3 December 2021) serves four Yunnan
prefectures (昆明, 玉溪, 普洱, 西双版纳), coded treated from 2022 by the mid-year rule: one cohort,
two post years in a panel ending in 2023. That is a block design, the case synthetic DiD
(Arkhangelsky et al. 2021; :func:`analysis.did.synthdid.synthdid`) is built for: unit weights make
the donors' pre-period path parallel to the corridor's, time weights pick the pre years that
resemble the post years, and the effect is the corridor's post-period gap net of its weighted
pre-period gap. The imputation estimator of the other studies would instead compare the four
cities with every untreated city after city and year effects.

* **Donors** (``donors``, stated in the results): ``never_treated`` -- cities with no pilot zone
  and no rail link within the panel years, so that no other treatment moves a donor's outcome
  between the pre and the post years; ``no_rail`` -- every city without a rail link, pilot zones
  included (a sensitivity check: their growing pilot effects leak into the synthetic control).
* **Outcome** (``adjust``): ``controls_and_pilot`` -- log exports net of the usable controls, of
  the pilot zones' event-time effects and of the CRE dummy, all estimated by TWFE on every
  city-year outside the corridor's post period (the residualisation R's synthdid applies to
  covariates, Kranz 2022's ``xsynthdid``). It matters because 昆明 is itself a pilot zone since
  2019 (batch 3) with an effect that grows: raw outcomes would credit its growth to the railway.
  The controls follow the binary studies' rule (params.yaml ``panel.control_rule``,
  :mod:`analysis.studies.rules`): those the policies move (log GDP per capita: it responds to
  exports in the synthetic design) enter only by their imputed untreated paths, so the estimate
  targets the total effect (with ``as_is`` for GDP, the direct one: truth
  ``laos.att_overall_direct``); ``none`` -- raw log exports, total effect.
* **Event-time effects**: the gap in each post year (2022: e = 0, 2023: e = 1), and the pre-year
  gaps (how closely the synthetic control tracks the corridor before it opened).

Inference with four treated cities in one province. Clustered SEs have one treated cluster and
are meaningless; the wild bootstrap needs more treated clusters. What is left compares the
corridor with placebo corridors (in-space placebos, Abadie, Diamond & Hainmueller 2010):

* **random placebo sets** (Algorithm 4 of Arkhangelsky et al.): sets of four donors drawn from
  anywhere, the estimator re-run with them "treated". Their spread is the SDID placebo SE. It
  assumes the corridor's errors look like those of four cities scattered over China, and so
  ignores that the four corridor cities share every Yunnan-wide shock of 2022-2023;
* **same-province placebo sets**: four donors of ONE province at a time (each province with at
  least four donors; ``placebo_sets_per_province`` sets each). They share their province's
  shocks as the corridor does, so their spread includes a province-year shock. The interval
  ``[att - q97.5, att - q2.5]`` of these placebo ATTs and the province-level randomization p-value
  ``(1 + sum_p share_p) / (1 + P)`` (``share_p``: province p's sets at least as extreme as the
  corridor) are the study's inference; with P provinces the smallest attainable p is
  ``1 / (P + 1)``.

What can and cannot be claimed is part of the results (``claims``): a comparison of the corridor
with how far four same-province cities usually drift from their synthetic control, never a
separation of the railway from a Yunnan-wide 2022-2023 shock of a kind no other province had
(COVID border closures at the Laos and Myanmar crossings, for instance).

On a user's panel the same code runs when the corridor cities are there with enough pre and post
years and donors; otherwise the study is a recorded skip with its reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.config import CorridorConfig
from analysis.data.design import MIN_CONTROL_SHARE, analysis_sample
from analysis.did.fe import fit_within
from analysis.did.synthdid import gap_series, placebo_effects, synthdid
from analysis.studies.binary import attempt, is_skipped, skipped, study_design
from analysis.studies.rails import NO_CORRIDOR, corridor_bjs, link_truth
from analysis.studies.rules import study_data, truth_for

OUTCOME = "log_exports"
ADJUSTED = "y_adjusted"


def corridor_cities(panel: pd.DataFrame) -> pd.DataFrame:
    """The corridor prefectures of the panel: one row per city with its first year."""
    first = panel.groupby("city_code").agg(
        city=("city", "first"), province=("province", "first"),
        laos_rail_year=("laos_rail_year", "first"),
    )  # fmt: skip
    return first[first["laos_rail_year"] > 0].reset_index()


def donor_mask(cities: pd.DataFrame, rule: str) -> pd.Series:
    """Donor cities (one row per city: ``pilot_year``, ``rail_year``) under the donor rule."""
    if rule == "never_treated":
        return (cities["pilot_year"] == 0) & (cities["rail_year"] == 0)
    if rule == "no_rail":
        return cities["rail_year"] == 0
    raise ValueError(f"unknown donor rule {rule!r}: use never_treated or no_rail")


DONOR_TEXT = {
    "never_treated": "cities with no pilot zone and no rail link within the panel years",
    "no_rail": "every city without a rail link (pilot zones included)",
}


def adjusted_outcome(data: pd.DataFrame, controls: list[str], start: int) -> tuple[pd.Series, dict]:
    """Log exports net of the controls, the pilot zones' event-time effects (one dummy per year
    since designation) and the CRE dummy, fitted by TWFE on the city-years outside the corridor's
    post period (``laos_rail_year > 0`` and ``year >= start``). Returns the adjusted outcome and
    the fitted coefficients."""
    frame = data.copy()
    e = np.where(frame["pilot_year"] > 0, frame["year"] - frame["pilot_year"], -1)
    pilot_terms = []
    for k in sorted(int(v) for v in np.unique(e[e >= 0])):
        name = f"pilot_e{k}"
        frame[name] = (e == k).astype(float)
        pilot_terms.append(name)
    frame["cre"] = ((frame["cre_year"] > 0) & (frame["year"] >= frame["cre_year"])).astype(float)
    terms = [*controls, *pilot_terms] + (["cre"] if frame["cre"].any() else [])
    fit_rows = ~((frame["laos_rail_year"] > 0) & (frame["year"] >= start))
    fit = fit_within(frame.loc[fit_rows], OUTCOME, terms, "city_code", "year")
    beta = dict(zip(fit.names, fit.params))
    adj = frame[OUTCOME] - sum(frame[name] * b for name, b in beta.items())
    return adj, beta


def _province_sets(
    donors: pd.DataFrame, size: int, per_province: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(sets (B, size) of donor positions, province of each set): for each province with at
    least ``size`` donors, up to ``per_province`` distinct random sets of ``size`` of them."""
    sets, provinces = [], []
    for province, rows in donors.groupby("province", sort=True):
        pos = rows["position"].to_numpy()
        if len(pos) < size:
            continue
        seen = set()
        tries = 0
        while len(seen) < per_province and tries < 50 * per_province:
            tries += 1
            pick = tuple(sorted(rng.choice(pos, size=size, replace=False).tolist()))
            if pick not in seen:
                seen.add(pick)
                sets.append(pick)
                provinces.append(province)
    return np.array(sets, dtype=np.int64).reshape(-1, size), np.array(provinces)


def corridor_study(
    panel: pd.DataFrame,
    truth: dict,
    options: CorridorConfig | None = None,
    share: float = MIN_CONTROL_SHARE,
    alpha: float = 0.05,
    control_rule: dict[str, str] | None = None,
) -> dict:
    """The corridor study (module docstring): ``{"skipped": reason, ...}`` when it cannot run on
    this panel, else the estimates, the placebo inference, the truth and the claims; the frames
    for the figure and tables under ``"frames"`` (not JSON: the notebook writes them)."""
    from scipy import stats

    opt = options or CorridorConfig()
    record: dict = {"donor_rule": opt.donors, "donors_text": DONOR_TEXT.get(opt.donors),
                    "adjust": opt.adjust}  # fmt: skip
    corridor = corridor_cities(panel)
    if corridor.empty:
        return {**record, "skipped": NO_CORRIDOR}
    start = int(corridor["laos_rail_year"].min())
    later = corridor[corridor["laos_rail_year"] != start]
    corridor = corridor[corridor["laos_rail_year"] == start]
    design = study_design(panel, share=share)
    data = analysis_sample(panel, design)
    years = np.sort(data["year"].unique())
    n_post, n_pre = int((years >= start).sum()), int((years < start).sum())
    record |= {
        "first_year": start,
        "years": [int(years[0]), int(years[-1])],
        "post_years": [int(y) for y in years[years >= start]],
        "n_pre_years": n_pre,
        "controls_used": list(design.controls_used),
        "cities_other_start": later["city_code"].tolist(),
    }
    if n_post < opt.min_post_years:
        return {**record, "skipped": f"the panel ends in {years[-1]}, the corridor opened for "
                f"{start}: {n_post} post years (fewer than {opt.min_post_years})"}  # fmt: skip
    if n_pre < opt.min_pre_years:
        return {**record, "skipped": f"{n_pre} years before {start} (fewer than "
                f"{opt.min_pre_years}): no pre-period to fit a synthetic control"}  # fmt: skip

    # the outcome the synthetic control is fitted to: the controls by the binary studies' rule
    # (params.yaml panel.control_rule): those the policies move enter by their imputed untreated paths,
    # so the target is the total effect (analysis.studies.rules)
    sd = study_data(data, design, "rail", control_rule)
    data = sd.panel
    controls = [sd.controls[c] for c in design.controls_used]
    record["covariate_rule"] = sd.record()
    if opt.adjust == "controls_and_pilot":
        adj, beta = attempt(adjusted_outcome, data, controls, start)
        if adj is None:
            return {**record, "skipped": beta}
        data = data.assign(**{ADJUSTED: adj[0]})
        beta = adj[1]
    else:
        data = data.assign(**{ADJUSTED: data[OUTCOME]})
        beta = {}
    record["adjustment"] = {k: float(v) for k, v in beta.items()}

    cities = data.groupby("city_code")[["pilot_year", "rail_year", "province", "city"]].first()
    donors_all = cities[donor_mask(cities, opt.donors) & ~cities.index.isin(corridor["city_code"])]
    # balanced: every kept city observed in every year of the sample
    counts = data.groupby("city_code")["year"].nunique()
    full = counts[counts == len(years)].index
    treated = [c for c in corridor["city_code"] if c in full]
    donors = donors_all[donors_all.index.isin(full)]
    record |= {
        "cities": treated,
        "city_names": cities.loc[treated, "city"].tolist(),
        "province": sorted(cities.loc[treated, "province"].unique().tolist()),
        "corridor_cities_with_gaps": [c for c in corridor["city_code"] if c not in full],
        "n_donors": len(donors),
        "donors_with_gaps": int(len(donors_all) - len(donors)),
    }
    if not treated:
        return {**record, "skipped": "every corridor city misses some years of the panel "
                "(synthetic DiD needs a balanced panel)"}  # fmt: skip
    if len(donors) <= len(treated):
        return {**record, "skipped": f"{len(donors)} donors ({DONOR_TEXT[opt.donors]}) "
                f"for {len(treated)} corridor cities: too few for a synthetic control"}  # fmt: skip

    block = data[data["city_code"].isin([*treated, *donors.index])].copy()
    block["treat"] = (block["city_code"].isin(treated) & (block["year"] >= start)).astype(int)
    fits = {}
    for name in ("sdid", "sc", "did"):
        # SC's placebo SE would re-solve its weights as often again: point estimate only
        fit, why = attempt(
            synthdid, block, ADJUSTED, "city_code", "year", "treat", estimator=name,
            se_method=None if name == "sc" else "placebo", replications=opt.placebo_draws,
            seed=opt.seed,
        )  # fmt: skip
        if fit is None:
            if name == "sdid":
                return {**record, "skipped": why}
            fits[name] = skipped(why)
            continue
        fits[name] = fit
    fit = fits["sdid"]
    n1 = fit.N1

    # placebo distributions: random donor sets (the placebo SE's draws) and same-province sets
    rng = np.random.default_rng(opt.seed)
    donor_codes = list(fit.unit_weights.index)
    donor_table = donors.loc[donor_codes].assign(position=np.arange(len(donor_codes)))
    random_att = np.asarray(fit.draws)
    prov_sets, prov_of = _province_sets(donor_table, n1, opt.placebo_sets_per_province, rng)
    att = float(fit.att)
    placebo = {
        "random": _placebo_summary(att, random_att, alpha),
    }
    placebo["random"]["what"] = f"random sets of {n1} donors from anywhere"
    if len(prov_sets):
        prov_att, prov_gaps = placebo_effects(fit, prov_sets)
        summary = _placebo_summary(att, prov_att, alpha)
        shares = pd.Series(np.abs(prov_att) >= abs(att) * (1 - 1e-10)).groupby(prov_of).mean()
        n_prov = len(shares)
        summary |= {
            "what": f"sets of {n1} donors of one province",
            "n_provinces": n_prov,
            "p_value": float((1 + shares.sum()) / (1 + n_prov)),
            "p_value_floor": 1 / (1 + n_prov),
            "sets_per_province": int(opt.placebo_sets_per_province),
        }
        placebo["province"] = summary
    else:
        prov_att, prov_gaps = np.array([]), np.empty((0, len(years)))
        placebo["province"] = skipped(f"no province has {n1} or more donors")
    main = placebo["province"] if not is_skipped(placebo["province"]) else placebo["random"]
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(opt.mde_power)

    # the truth: the corridor's own block over the corridor cities kept, by the one rule
    # (direct when a control the railway moves enters the adjustment as observed)
    linked = link_truth(truth, "laos")
    laos = linked.get("rail") or {}
    adjusted_by = controls if opt.adjust == "controls_and_pilot" else []
    own = truth_for(linked, "rail", adjusted_by, treated)
    direct = own is not None and own["target"] == "direct"
    target = None if own is None else own["att_overall"]
    by_e = {int(k): v for k, v in ((own or {}).get("att_by_event_time") or {}).items()}

    gaps = gap_series(fit)
    lo_q, hi_q = (
        np.quantile(prov_gaps, [alpha / 2, 1 - alpha / 2], axis=0)
        if len(prov_att)
        else (np.full(len(years), np.nan),) * 2
    )
    event = pd.DataFrame({
        "year": fit.times.astype(int), "event_time": fit.times.astype(int) - start,
        "estimate": gaps, "placebo_low": gaps - hi_q, "placebo_high": gaps - lo_q,
    })  # fmt: skip
    event["truth"] = [0.0 if e < 0 else by_e.get(int(e), np.nan) for e in event["event_time"]]
    post = event[event["event_time"] >= 0].reset_index(drop=True)
    se_effects = fit.effects.set_index("event_time")["std_error"]
    post["se_random_placebo"] = post["event_time"].map(se_effects)

    traj = fit.trajectories().rename(columns={"time": "year"})
    weights = (
        fit.controls(mass=0.9).rename("weight").to_frame()
        .join(cities["city"]).reset_index(names="city_code")
    )  # fmt: skip
    estimators = {}
    for name, f in fits.items():
        estimators[name] = (
            f
            if is_skipped(f)
            else {"att": float(f.att),
                  "se_random_placebo": None if np.isnan(f.se) else float(f.se),
                  "bias": None if target is None else float(f.att) - target}
        )  # fmt: skip
    result = {
        **record,
        "n_treated": n1,
        "n_pre_years": int(fit.T0),
        "att": att,
        "se_random_placebo": float(fit.se),
        "ci_random_placebo": [
            att - stats.norm.ppf(1 - alpha / 2) * fit.se,
            att + stats.norm.ppf(1 - alpha / 2) * fit.se,
        ],
        "conf_low": main["conf_low"],
        "conf_high": main["conf_high"],
        "p_value": main["p_value"],
        "inference": "province" if main is placebo.get("province") else "random",
        "placebo": placebo,
        "mde": float(z * main["sd"]),
        "mde_power": opt.mde_power,
        "estimators": estimators,
        "effective_donors": float(fit.effective_controls),
        "pre_fit_rmse": float(np.sqrt(np.mean(gaps[: fit.T0] ** 2))),
        "event_time": post.to_dict("records"),
        "truth": target,
        "truth_total": laos.get("att_overall"),
        "truth_target": "direct" if direct else "total",
        "bias": None if target is None else att - target,
        "truth_in_ci": None
        if target is None
        else bool(main["conf_low"] <= target <= main["conf_high"]),
        "bjs": corridor_bjs(panel, truth, share, control_rule),
    }
    result["claims"] = claims(result)
    result["frames"] = {
        "trajectories": traj,
        "event": event,
        "weights": weights,
        "placebo_random": pd.DataFrame({"att": random_att}),
        "placebo_province": pd.DataFrame({"att": prov_att, "province": prov_of}),
    }
    return result


def _placebo_summary(att: float, draws: np.ndarray, alpha: float) -> dict:
    """Interval ``[att - q_hi, att - q_lo]`` of the placebo ATTs (their distribution stands in for
    the corridor's estimation error under no effect), their SD and the plain rank p-value."""
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    extreme = np.abs(draws) >= abs(att) * (1 - 1e-10)
    return {
        "n_sets": len(draws),
        "sd": float(np.std(draws, ddof=1)),
        "conf_low": att - float(hi),
        "conf_high": att - float(lo),
        "p_value": float((1 + extreme.sum()) / (1 + len(draws))),
        "mean": float(np.mean(draws)),
    }


def claims(result: dict) -> dict:
    """What this design can and cannot support, with the study's own numbers (English, for the
    notebook; the report words it in each language from the same numbers)."""
    prov = result["placebo"].get("province") or {}
    p_floor = prov.get("p_value_floor")
    floor = f" (the smallest attainable is {p_floor:.3f})" if p_floor else ""
    can = [
        (
            f"the corridor's post-period gap to its synthetic control ({result['att']:.3f}) and"
            f" how closely that control tracked it before {result['first_year']} (pre-period"
            f" RMSE {result['pre_fit_rmse']:.3f})"
        ),
        (
            "whether that gap is unusual among same-province placebo corridors: a randomization"
            f" p-value of {result['p_value']:.3f}{floor}"
        ),
        (
            f"that effects below about {result['mde']:.2f} (the minimum detectable effect at"
            f" {result['mde_power']:.0%} power) could not have been detected"
        ),
    ]
    cannot = [
        (
            "separate the railway from any shock common to Yunnan in 2022-2023 that other"
            " provinces did not have (e.g. border closures at the Laos and Myanmar crossings):"
            " the four cities are one province"
        ),
        (
            "give a clustered standard error or a t-test: one treated province is one treated"
            " cluster"
        ),
        "say which corridor city gained, or anything about years after the panel ends",
    ]
    return {"can": can, "cannot": cannot}


def corridor_metrics(result: dict) -> dict:
    """Flat metrics for ``dvc metrics show``."""
    if is_skipped(result):
        return {}
    out = {"att": result["att"], "conf_low": result["conf_low"],
           "conf_high": result["conf_high"], "p_value": result["p_value"], "mde": result["mde"]}  # fmt: skip
    if result.get("truth") is not None:
        out["truth"] = result["truth"]
    return out
