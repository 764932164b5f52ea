"""The two rail links apart (issue 19): the China-Europe Railway Express (CRE) as the rail
notebook's study, with inference built for few treated clusters, and the China-Laos corridor's
plain comparison (its own study, synthetic DiD, is :mod:`analysis.studies.corridor`).

Why apart: the two links are different treatments (a freight service to Europe from a logistics
hub; a line to Laos through four neighbouring Yunnan prefectures, opened in December 2021), with
different effects in the synthetic design (``rail_att``, ``laos_att``) and a truth block each
(``cre``, ``laos``). A study of "any rail link" averages them with weights set by how many
city-years each link has, which answers no question.

How: a link's study is the binary-treatment study of :func:`analysis.studies.binary.binary_study`
on the panel where the rail treatment is that link's first service (:func:`link_panel`): the
cities served only by the other link are left out (they are neither treated by this link nor
untreated by rail), and the truth's ``rail`` block is the link's own. Every rule of the binary
studies (design check, covariates, headline, event studies, pre-trend tests) therefore applies
unchanged.

Few treated clusters (:func:`few_clusters_inference`): the CRE has 13 origin cities in 12
provinces. The province-clustered t-test and the chi-squared pre-trend Wald tests rely on few
treated clusters' scores and over-reject (MacKinnon & Webb 2017); the study reports

* the restricted wild cluster bootstrap (WCR) of the headline BJS ATT by province with Webb's
  six-point weights (:func:`analysis.did.wild_bootstrap.imputation_wild_bootstrap`), its p-value
  and its test-inversion interval;
* the WCR p-values of the pre-trend Wald tests (BJS Test 1 on the untreated city-years, and the
  TWFE event study's leads) by province (:func:`analysis.did.wild_wald.wild_bootstrap_wald`),
  beside the chi-squared p-value of the same statistics (the mis-sized test, shown as such);
* a Conley-Taber interval (:func:`analysis.did.conley_taber.conley_taber`): the error
  distribution of the 13 treated cities learnt from the never-treated ones;
* the minimum detectable effect, ``(t_{1-alpha/2} + t_{power}) x SE`` with t(G-1) quantiles for
  the headline SE, and the same factor applied to the Conley-Taber interval's half-width;
* randomization inference (already in the binary study) as a sensitivity check.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from analysis.data.design import MIN_CONTROL_SHARE, DesignCheck, analysis_sample
from analysis.did.conley_taber import conley_taber
from analysis.did.estimate import estimate
from analysis.did.event_study import _name, event_time_dummies
from analysis.did.wild_bootstrap import imputation_wild_bootstrap
from analysis.did.wild_wald import wild_bootstrap_wald
from analysis.studies.binary import (
    attempt,
    binary_study,
    is_skipped,
    skipped,
    study_design,
)
from analysis.studies.rules import StudyData, study_data, truth_for

LINKS = {
    "cre": {"cohort": "cre_year", "link": "china-europe-railway-express", "other": "laos"},
    "laos": {"cohort": "laos_rail_year", "link": "china-laos-railway", "other": "cre"},
}
LINK_LABELS = {"cre": "China-Europe Railway Express", "laos": "China-Laos railway"}

NO_CORRIDOR = "no corridor city (China-Laos railway) in this panel"  # report reason `no_corridor`


def link_panel(panel: pd.DataFrame, link: str) -> pd.DataFrame:
    """The panel of one link's study: ``rail_year`` and ``rail`` are that link's first service
    and dummy; cities served only by the other link are left out (not treated by this link, not
    untreated by rail). ``attrs["left_out"]``: their city codes."""
    own, other = LINKS[link]["cohort"], LINKS[LINKS[link]["other"]]["cohort"]
    only_other = (panel[other] > 0) & (panel[own] == 0)
    out = panel.loc[~only_other].reset_index(drop=True)
    out = out.assign(
        rail_year=out[own].astype(int),
        rail=((out[own] > 0) & (out["year"] >= out[own])).astype(int),
    )
    out.attrs["left_out"] = sorted(panel.loc[only_other, "city_code"].unique().tolist())
    return out


def link_truth(truth: dict, link: str) -> dict:
    """The truth with ``rail`` replaced by the link's own block (none on a user's file)."""
    out = {k: v for k, v in (truth or {}).items() if k != "rail"}
    if link in out:
        out["rail"] = out[link]
    return out


@dataclass(frozen=True)
class LinkStudyData:
    """One link's study inputs (:func:`link_study_data`)."""

    panel: pd.DataFrame  # :func:`link_panel` (``attrs["left_out"]``: the other link's cities)
    design: DesignCheck  # its own design check
    sample: pd.DataFrame  # its analysis sample
    control_rule: dict[str, str] | None = None

    @cached_property
    def study(self) -> StudyData:
        """The covariate rules' columns of its ``rail`` study (built when first asked for: a
        caller first checks that the design allows the study)."""
        return study_data(self.sample, self.design, "rail", self.control_rule)


def link_study_data(
    panel: pd.DataFrame,
    link: str,
    share: float = MIN_CONTROL_SHARE,
    control_rule: dict[str, str] | None = None,
) -> LinkStudyData:
    """The one way every stage sets up a link's study (the rail notebook, the Monte Carlo
    replications, the power study, the multiple-testing family): the link's own panel, its own
    design check and analysis sample, and :func:`analysis.studies.rules.study_data` of its ``rail``
    column."""
    lp = link_panel(panel, link)
    design = study_design(lp, share=share)
    return LinkStudyData(lp, design, analysis_sample(lp, design), control_rule)


def link_study(
    panel: pd.DataFrame,
    truth: dict,
    link: str,
    window: tuple[int, int],
    cluster: str,
    estimators,
    share: float = MIN_CONTROL_SHARE,
    ri_draws: int = 0,
    ri_seed: int = 20240601,
    control_rule: dict[str, str] | None = None,
    backend=None,
) -> tuple[dict, pd.DataFrame]:
    """``(study, study data)``: the binary study of one link (module docstring) and the panel its
    estimators used (analysis sample with the columns of the covariate rules, as
    :func:`analysis.studies.rules.study_data` builds them inside the study). The study is
    labelled ``treatment = link``; ``left_out`` names the cities of the other link; ``backend``:
    where its randomization draws run (params.yaml ``parallel``)."""
    ld = link_study_data(panel, link, share, control_rule)
    study = binary_study(
        ld.panel, link_truth(truth, link), "rail", "rail_year", window, cluster, estimators,
        ld.design, ri_draws, ri_seed, control_rule, backend=backend,
    )  # fmt: skip
    study["treatment"] = link
    study["link"] = LINKS[link]["link"]
    study["left_out"] = ld.panel.attrs["left_out"]
    return study, ld.study.panel


def minimum_detectable_effect(
    se: float, n_clusters: int | None, alpha: float = 0.05, power: float = 0.8
) -> float:
    """``(t_{1-alpha/2} + t_{power}) * se`` (Bloom 1995): the smallest true effect a two-sided
    ``alpha`` test rejects with probability ``power``; t(G-1) quantiles with G clusters, normal
    without."""
    dist = stats.norm if n_clusters is None else stats.t(int(n_clusters) - 1)
    return float((dist.ppf(1 - alpha / 2) + dist.ppf(power)) * se)


def _bjs_leads(panel: pd.DataFrame, covariates: list[str], n_leads: int) -> tuple:
    """BJS Test 1's regression data: the untreated city-years with one indicator per lead
    ``1..n_leads`` years before the first service (as :func:`analysis.did.imputation.imputation`)."""
    g, t = panel["rail_year"], panel["year"]
    untreated = panel.loc[~((g > 0) & (t >= g))].copy()
    rel = untreated["year"] - untreated["rail_year"]
    names = []
    for k in range(1, n_leads + 1):
        name = f"lead_{k}"
        untreated[name] = ((untreated["rail_year"] > 0) & (rel == -k)).astype(float)
        if untreated[name].sum() > 0:
            names.append(name)
    return untreated, names


def _wald_record(res, label: str) -> dict:
    return {
        "test": label,
        "wald": res.wald,
        "df": res.df,
        "p_value_chi2": res.p_value_chi2,
        "p_value": res.p_value,
        "B": res.B,
        "weights": res.weights,
        "n_clusters": res.n_clusters,
        "n_treated_clusters": res.n_treated_clusters,
    }


def few_clusters_inference(
    data: pd.DataFrame,
    study: dict,
    window: tuple[int, int],
    *,
    wild_draws: int = 9999,
    wild_cluster: str = "province",
    wild_weights: str = "webb",
    ct_draws: int = 9999,
    mde_power: float = 0.8,
    seed: int = 20240601,
    alpha: float = 0.05,
) -> dict:
    """The inference of a link study with few treated clusters (module docstring). ``data``: the
    link panel's analysis sample (:func:`link_study`); ``study``: its binary study. Each part is
    a recorded skip when it cannot run on this panel."""
    head = study.get("headline") or {}
    if is_skipped(head) or not head:
        why = head.get("skipped", "the headline did not run")
        return {"skipped": why}
    cov = list(study["covariates"])
    spec = {"yname": "log_exports", "tname": "year", "idname": "city_code", "gname": "rail_year"}
    out: dict = {"cluster": wild_cluster, "weights": wild_weights, "alpha": alpha}
    clusters = data[wild_cluster].nunique() if wild_cluster in data else 0
    no_wild = (
        None
        if clusters >= 5
        else f"{clusters} {wild_cluster} clusters: too few for a wild cluster bootstrap"
    )

    wb, why = (None, no_wild) if no_wild else attempt(
        imputation_wild_bootstrap, data, covariates=cov, cluster=wild_cluster, B=wild_draws,
        weights=wild_weights, seed=seed, alpha=alpha, **spec,
    )  # fmt: skip
    if wb is None:
        out["wild_bootstrap"] = skipped(why)
    else:
        out["wild_bootstrap"] = {
            "estimate": wb.estimate,
            "std_error": wb.std_error,
            "t_stat": wb.t_stat,
            "p_value": wb.p_value,
            "conf_low": wb.conf_int[0],
            "conf_high": wb.conf_int[1],
            "B": wb.B,
            "weights": wb.weights,
            "n_clusters": wb.n_clusters,
            "n_treated_clusters": wb.n_treated_clusters,
            "cluster": wild_cluster,
        }

    # the pre-trend tests: the same Wald statistics, chi-squared vs WCR p-values
    lo = int(window[0])
    tests = {}
    if no_wild is None and lo < -1:
        untreated, leads = _bjs_leads(data, cov, -lo)
        if leads:
            res, why = attempt(
                wild_bootstrap_wald, untreated, "log_exports", "city_code", "year", leads,
                wild_cluster, nuisance=cov, B=wild_draws, weights=wild_weights, seed=seed,
                treated="rail_year",
            )  # fmt: skip
            tests["bjs"] = (
                skipped(why)
                if res is None
                else _wald_record(res, "BJS Test 1: leads 1..K on untreated city-years = 0")
            )
        frame, periods = event_time_dummies(data, "rail_year", "year", tuple(window), -1)
        test = [_name(k) for k in periods if lo <= k < -1]
        rest = [_name(k) for k in periods if not lo <= k < -1]
        if test:
            res, why = attempt(
                wild_bootstrap_wald, frame, "log_exports", "city_code", "year", test,
                wild_cluster, nuisance=[*rest, *cov], B=wild_draws, weights=wild_weights,
                seed=seed, treated="rail_year",
            )  # fmt: skip
            tests["twfe"] = (
                skipped(why)
                if res is None
                else _wald_record(res, "TWFE event study: leads in the window = 0 (ref. -1)")
            )
    out["pretrend_wild"] = tests if tests else skipped(no_wild or "no leads in the window")

    ct, why = attempt(conley_taber, data, covariates=cov, draws=ct_draws, seed=seed, alpha=alpha,
                      **spec)  # fmt: skip
    if ct is None:
        out["conley_taber"] = skipped(why)
    else:
        out["conley_taber"] = {
            "estimate": ct.estimate,
            "conf_low": ct.conf_int[0],
            "conf_high": ct.conf_int[1],
            "p_value": ct.p_value,
            "draws": ct.draws,
            "null_sd": ct.null_sd,
            "n_treated_units": ct.n_treated_units,
            "n_control_units": ct.n_control_units,
        }

    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(mde_power)
    out["mde"] = {
        "power": mde_power,
        "alpha": alpha,
        "headline": minimum_detectable_effect(
            head["std_error"], head["n_clusters"], alpha, mde_power
        ),
        "headline_se": head["std_error"],
        "headline_df": head["n_clusters"] - 1,
        "conley_taber": None
        if ct is None
        else float((ct.conf_int[1] - ct.conf_int[0]) / 2 / stats.norm.ppf(1 - alpha / 2) * z),
    }
    return out


def corridor_bjs(
    panel: pd.DataFrame,
    truth: dict,
    share: float = MIN_CONTROL_SHARE,
    control_rule: dict[str, str] | None = None,
) -> dict:
    """The corridor's plain imputation (BJS) estimate with the binary studies' covariates (the
    rules of :mod:`analysis.studies.rules`: total effect, the pilot zones by their cohort x
    event-time cells), beside its truth: the point of comparison for the corridor notebook's
    synthetic DiD. No interval: four treated cities in one province leave clustered SEs without
    meaning (the corridor notebook's placebo inference replaces them)."""
    ld = link_study_data(panel, "laos", share, control_rule)
    if not (ld.panel["rail_year"] > 0).any():
        return skipped(NO_CORRIDOR)
    if ld.design.treatments["rail"].estimators.get("bjs"):
        return skipped(ld.design.treatments["rail"].estimators["bjs"])
    sd = ld.study
    data, cov = sd.panel, sd.covariates
    est, why = attempt(
        estimate, "bjs", data, y="log_exports", unit="city_code", time="year",
        cohort="rail_year", covariates=cov, cluster="city_code", horizons=None,
    )  # fmt: skip
    if est is None:
        return skipped(why)
    linked = link_truth(truth, "laos")
    block = linked.get("rail") or {}
    own = truth_for(linked, "rail", cov, sd.treated_cities)
    target = None if own is None else own["att_overall"]
    return {
        "estimate": float(est.att),
        "covariates": cov,
        "n_treated_cities": int(data.loc[data["rail_year"] > 0, "city_code"].nunique()),
        "truth": target,
        "truth_total": block.get("att_overall"),
        "bias": None if target is None else float(est.att) - target,
    }


def few_clusters_metrics(inference: dict) -> dict:
    """Flat metrics of :func:`few_clusters_inference` for ``dvc metrics show``."""
    out = {}
    wb, ct, mde = (inference.get(k) or {} for k in ("wild_bootstrap", "conley_taber", "mde"))
    if wb and not is_skipped(wb):
        out |= {"wcr_p": wb["p_value"], "wcr_low": wb["conf_low"], "wcr_high": wb["conf_high"]}
    if ct and not is_skipped(ct):
        out |= {"ct_low": ct["conf_low"], "ct_high": ct["conf_high"], "ct_p": ct["p_value"]}
    if mde:
        out["mde"] = mde["headline"]
    for name, test in (inference.get("pretrend_wild") or {}).items():
        if isinstance(test, dict) and not is_skipped(test):
            out[f"pretrend_{name}_wcr_p"] = test["p_value"]
    return {k: (None if v is None or not np.isfinite(v) else v) for k, v in out.items()}


def inference_table(study: dict, inference: dict) -> pd.DataFrame:
    """One row per way of drawing inference on the headline ATT: the analytic t(G-1) interval
    (SE by the study's clustering rule), the restricted wild cluster bootstrap, Conley-Taber
    and randomization inference (a p-value, no interval), with the truth on synthetic data."""
    head = study.get("headline") or {}
    wb = inference.get("wild_bootstrap") or {}
    ct = inference.get("conley_taber") or {}
    ri = study.get("randomization") or {}
    # (record, how its method is labelled); a record that is absent or skipped gives no row
    methods = [
        (head, lambda r: f"analytic, SE by {r['cluster']}, t({r['n_clusters'] - 1})"),
        (wb, lambda r: f"restricted wild cluster bootstrap ({r['cluster']}, {r['weights']}, "
                       f"B = {r['B']})"),
        (ct, lambda r: f"Conley-Taber ({r['n_control_units']} never-treated cities, "
                       f"{r['draws']} draws)"),
        (ri, lambda r: f"randomization inference (within {r.get('within') or 'all'}, "
                       f"{r['draws']} draws; sensitivity)"),
    ]  # fmt: skip
    rows = [
        {
            "method": label(rec),
            "estimate": rec["estimate"],
            "conf_low": rec.get("conf_low", np.nan),
            "conf_high": rec.get("conf_high", np.nan),
            "p_value": rec["p_value"],
        }
        for rec, label in methods
        if rec and not is_skipped(rec)
    ]
    frame = pd.DataFrame(rows, columns=["method", "estimate", "conf_low", "conf_high", "p_value"])
    truth = head.get("truth") if head else None
    if truth is not None:
        frame["truth"] = truth
        covers = (frame["conf_low"] <= truth) & (truth <= frame["conf_high"])
        frame["truth_in_ci"] = covers.astype(object).where(frame["conf_low"].notna(), None)
    return frame


def pretrend_wild_table(study: dict, inference: dict, cluster: str = "city_code") -> pd.DataFrame:
    """The pre-trend tests side by side: each estimator's own test (city-clustered, as in the
    study, clustered by ``cluster``), then the province-clustered Wald statistics of BJS Test 1 and of the TWFE leads with
    their chi-squared and WCR p-values (only the WCR p-value is read as evidence)."""
    rows = []
    for name, t in (study.get("pretrend_tests") or {}).items():
        if is_skipped(t):
            continue
        rows.append({"test": f"{name}: {t['test']}", "cluster": cluster,
                     "wald": t["stat"], "df": t["df"], "p_value_chi2": t["p_value"],
                     "p_value_wcr": np.nan})  # fmt: skip
    wild = inference.get("pretrend_wild") or {}
    for name, t in wild.items() if not is_skipped(wild) else []:
        if is_skipped(t):
            continue
        rows.append({"test": f"{name} (WCR): {t['test']}", "cluster": inference["cluster"],
                     "wald": t["wald"], "df": t["df"], "p_value_chi2": t["p_value_chi2"],
                     "p_value_wcr": t["p_value"]})  # fmt: skip
    return pd.DataFrame(
        rows, columns=["test", "cluster", "wald", "df", "p_value_chi2", "p_value_wcr"]
    )
