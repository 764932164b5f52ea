"""Repeated simulations of the synthetic DGP (``analysis.data.synthetic``), whose truth is known.

Each replication simulates the city panel with a new seed (the real city list and treatment dates,
coded by the default ``treatment.year_rule``) and estimates the overall ATT of the pilot zones (and
of the rail links) on the treated city-years. One loop (:func:`simulate`) serves the pipeline's
simulation notebook (:func:`twfe_vs_imputation`: two designs, ``COMPARISON``) and the Monte Carlo
of ``make test-slow`` (:func:`run_monte_carlo`, ``MONTE_CARLO``; the robustness checks' nominal
properties: :func:`randomization_rejection`, :func:`check_coverage`).

**What the estimators see.** Not the DGP's regressors (the review's finding 10): each replication
runs the design check on the simulated panel and builds the study's covariates with the study's
own function (:func:`analysis.studies.rules.study_data`: the controls the treatment moves only
through their imputed untreated paths, the concurrent treatment by its own cells, broadband and the
other controls as observed), exactly as the pilot-zone and rail notebooks do; every estimator of a
replication gets those covariates (``cs_nocov`` none).

**Which truth.** One rule (:func:`analysis.studies.rules.truth_for`): the total effect for every
estimator whose covariates hold no mediator in its observed form (all of them with the study's
covariates), the direct effect (GDP per capita on its untreated path, ``att_overall_direct``) for
the decomposition's direct row and the old rail specification; each over the treated cities the
estimator keeps. Every row carries its ``target`` and its truth; ``bias_total`` is the bias against
the total effect.

**The DGP** (``analysis.data.synthetic``, the referee's list): designation targeted on size and
growth (earlier batches are bigger exporters and their GDP per capita grows faster), GDP per capita
a mediator (``gdp_export_feedback``), rail and pilot co-treatment (14 of the 17 rail cities are
pilots), effects that differ by batch and grow, and idiosyncratic city-level effect heterogeneity
(``effect_city_sd``): effects are not deterministic in batch and event time.

**Estimators** (``ESTIMATORS``):

* ``twfe``: one post-treatment dummy with the covariates (biased: effects are heterogeneous across
  cohorts and grow with time since designation; Goodman-Bacon 2021);
* ``cs_nocov``: Callaway & Sant'Anna (2021) simple ATT, never-treated controls, no covariates (the
  CS of the pilot-zones notebook) -- biased *by design*: early-pilot cities' GDP per capita grows
  faster and broadband spreads earlier in the east, so unconditional parallel trends fail;
* ``cs_tv``: CS on the outcome net of the covariates (``cs_adjusted``: coefficients from an FE
  regression on untreated observations, with the first-stage error in the influence function);
* ``sa``: Sun & Abraham (2021) interaction-weighted ATT with the covariates entering linearly;
* ``bjs``: Borusyak, Jaravel & Spiess (2024) imputation with the covariates in the Y(0) model and
  the leave-out variance (App. A.6), city-clustered SE and normal CI (the comparison row);
* ``headline``: the pilot study's headline (:func:`analysis.studies.binary.headline_att`): the
  same BJS point estimate, SE at the study's clustering level
  (:func:`analysis.studies.rules.inference_rule`: province) and a t(G-1) CI; against the total;
* ``headline_city``: the same estimate with the appendix's city-clustered t(G-1) interval;
* ``direct``: the decomposition's direct effect (BJS with the ruled controls as observed, the
  headline's inference); against the direct effect;
* ``rail_headline``: the rail study's headline, the China-Europe Railway Express on its own link
  (:func:`analysis.studies.rails.link_panel`: the China-Laos corridor cities out; pilot zones by
  cohort x event-time cells, the controls by the rule; event-time variance cells,
  :func:`analysis.studies.rules.variance_cells`); against the link's total effect;
* ``rail_pilot_dummy``: the same link's headline as specified before issue 18 (one on/off pilot
  dummy, the controls as observed, every CRE city), the headline's inference; against its target
  (the direct effect): the concurrent pilot zones' bias.

``cs_tv_fixedw`` and ``sa_fixedw`` (Monte Carlo only) are the same point estimates with the variance
of the cohort-share weights left out: the treatment dates (hence the cohort shares) are fixed across
replications, so the weight-estimation term of the default SEs (R did's ``wif``; Sun & Abraham 2021,
Prop. 6) adds variance that does not exist here. BJS conditions on the timing.

**Monte Carlo standard errors** (every summary): of a coverage rate ``c`` over ``R`` replications
``sqrt(c (1 - c) / R)``, of a bias ``sd(estimate - truth) / sqrt(R)``, of an RMSE the delta-method
``sd((estimate - truth)^2) / (2 RMSE sqrt(R))``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from joblib import delayed
from scipy import stats

from analysis.data.synthetic import SyntheticDesign, simulate_panel
from analysis.did.estimate import estimate
from analysis.parallel import as_backend, run_tasks
from analysis.studies.rails import LINKS, link_study_data, link_truth
from analysis.studies.rules import (
    StudyData,
    inference_rule,
    study_data,
    truth_for,
    variance_cells,
)

DEFAULT = "heterogeneous, growing effect (default)"
HOMOGENEOUS = "homogeneous, constant effect"
DESIGN_IDS = {HOMOGENEOUS: "homogeneous", DEFAULT: "heterogeneous"}
HEADLINE = "headline"  # estimate() has no such name: the loop calls binary.headline_att
DIRECT = "direct"  # the decomposition's direct effect (BJS, the ruled controls as observed)
OLD_RAIL = "rail_pilot_dummy"  # the rail headline before issue 18 (one on/off pilot dummy)
HONEST = "honestdid_target"  # the HonestDiD target on the headline's event study (M = 0)
HEADLINE_ES = "headline_es"  # one event time of the headline's event study (t(G-1) band)
ES_TIMES = (-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5)

# id -> (estimate() name, options); TWFE uses the closed-form balanced-panel path (same numbers)
_TWFE = ("twfe", {"treatment": "pilot", "method": "demean"})
_BJS = ("bjs", {"leaveout": True, "horizons": None})  # leave-out variance: cohorts of 1 and 12
_HEADLINE = (HEADLINE, {})
PIPELINE = {
    "twfe": _TWFE,
    "cs_nocov": ("cs", {"covariates": ()}),
    "cs_tv": ("cs_adjusted", {}),
    "sa": ("sa", {}),
    "bjs": _BJS,
    "headline": _HEADLINE,
    # every number the report prints as an estimate has its row: the decomposition's direct
    # effect and the rail headline (issue 18)
    "direct": (DIRECT, {}),
    "rail_headline": (HEADLINE, {"treatment": "cre"}),
}
COMPARISON = PIPELINE  # the notebook's estimators (both designs)
MONTE_CARLO = {
    "twfe": _TWFE,
    "cs_nocov": ("cs", {"covariates": ()}),
    "cs_tv": ("cs_adjusted", {}),
    "cs_tv_fixedw": ("cs_adjusted", {"fixed_weights": True}),
    "sa": ("sa", {}),
    "sa_fixedw": ("sa", {"fixed_weights": True}),
    "bjs": _BJS,
    "headline": _HEADLINE,
    "headline_city": (HEADLINE, {"interval": "appendix"}),
    "direct": (DIRECT, {}),
    "rail_headline": (HEADLINE, {"treatment": "cre"}),
    "rail_pilot_dummy": (OLD_RAIL, {"treatment": "cre"}),
}
# the headline's event study (issue 18): the HonestDiD target at M = 0 and each event time's
# province-clustered band, both t(G-1); ~2.6 s a replication
HEADLINE_ES_ROWS = {
    HONEST: (HONEST, {}),
    **{f"es_{e}": (HEADLINE_ES, {"event_time": e}) for e in ES_TIMES},
}
# Sun-Abraham is half the cost of a replication (0.8 of 1.5 s): the 500-replication run of
# `make test-slow` leaves it to the pipeline's simulation (PIPELINE) and the smoke test
MONTE_CARLO_FAST = {k: v for k, v in MONTE_CARLO.items() if v[0] != "sa"}
ESTIMATORS = list(MONTE_CARLO)
LABELS = {
    "twfe": "TWFE (one dummy)",
    "cs_nocov": "Callaway-Sant'Anna (no covariates)",
    "cs_tv": "Callaway-Sant'Anna (control-adjusted)",
    "cs_tv_fixedw": "Callaway-Sant'Anna (control-adjusted, fixed weights)",
    "sa": "Sun-Abraham",
    "sa_fixedw": "Sun-Abraham (fixed weights)",
    "bjs": "Imputation (BJS)",
    "headline": "Headline: BJS, SE by the study's clustering rule, t(G-1)",
    "headline_city": "Headline estimate, city-clustered t(G-1) interval (appendix)",
    "direct": "Direct effect (decomposition): BJS, controls as observed",
    "rail_headline": "Rail headline (China-Europe Railway Express): BJS, pilot zones by cohort x "
    "event time",
    HONEST: "HonestDiD target on the headline event study (M = 0)",
    **{f"es_{e}": f"Headline event study, e = {e} (t(G-1) band)" for e in ES_TIMES},
    "rail_pilot_dummy": "Rail (China-Europe Railway Express), one on/off pilot dummy (old)",
}
ROBUST = ["cs_tv", "sa", "bjs", "headline"]  # correctly specified for the DGP's untreated outcome

# --- issue 20: the network study's estimates (their own dict: the rows above stay as they were) --
CGS = "cgs"  # studies.coverage.designation_dose_response (CGS 2024 on the adjusted outcome)
DCDH_DOSE = "dcdh_dose"  # studies.coverage.dose_event_studies (dCDH on the banded dose)
NETWORK_MONTE_CARLO = {
    "bc_headline": (HEADLINE, {"treatment": "broadband_china"}),
    "cgs_att": (CGS, {"term": "att_overall"}),
    "cgs_acrt": (CGS, {"term": "acrt_overall"}),
    "cgs_band": (CGS, {"term": "band"}),
    "dcdh_broadband": (DCDH_DOSE, {"dose": "broadband_per100"}),
    "dcdh_mobile": (DCDH_DOSE, {"dose": "mobile_per100"}),
}
LABELS.update(
    {
        "bc_headline": "Broadband China headline: BJS, province SE, t(G-1)",
        "cgs_att": "CGS ATT^o (mean ATT(d|d) over the designated cities' doses)",
        "cgs_acrt": "CGS ACRT^o (mean slope of ATT(d|d): ACRT + selection bias)",
        "cgs_band": "CGS uniform band of ATT(d|d) (coverage only: estimate = sup |error| / band)",
        "dcdh_broadband": "dCDH average total effect, broadband in bands of 10 (vs its target)",
        "dcdh_mobile": "dCDH average total effect, mobile in bands of 20 (vs its target)",
    }
)


def _network_fit(name: str, options: dict, rep: Replication, cache: dict) -> dict:
    """A network-study row (:data:`NETWORK_MONTE_CARLO`): estimate, SE, interval and truth.

    CGS: the truth of ATT^o is the mean realised designation effect of the designated cities (the
    cohort weights of the estimator average the cities equally); of ACRT^o the mean over their
    doses of the slope of ATT(d|d) (what parallel trends identify; the causal ACRT is smaller by
    the selection term: ``truth_direct``); the band row is covered when the whole true ATT(d|d)
    curve lies in the uniform band. dCDH: the target is the same estimator on the DGP's network
    component (:func:`analysis.studies.coverage.dose_event_studies`)."""
    from analysis.data.synthetic import SyntheticDesign as _Design
    from analysis.data.synthetic import designation_curves
    from analysis.studies import coverage

    block = rep.truth["broadband_china"]
    if name == CGS:
        if CGS not in cache:
            cache[CGS] = coverage.designation_dose_response(
                rep.panel, rep.truth, design=rep.design, control_rule=rep.control_rule
            )
        res = cache[CGS]
        term = options["term"]
        if term == "band":
            c = res["curve"]
            ratio = float((np.abs(c["att"] - c["truth_att"]) / (c["att_high"] - c["att"])).max())
            return {"estimate": ratio, "std_error": np.nan, "conf_low": 0.0, "conf_high": 1.0,
                    "truth": ratio, "truth_direct": ratio, "target": "total"}  # fmt: skip
        row = res["overall"].set_index("term").loc[term]
        out = set(res.get("cities_left_out", ()))  # designated cities the curve leaves out
        doses = np.array([v for c, v in block["city_doses"].items() if c not in out])
        if term == "att_overall":
            truth = res["truth_att_overall"]
            causal = truth
        else:
            net = _Design().network if rep.network is None else rep.network
            curves = designation_curves(
                doses, net, block["dose_mean"], block["dose_sd"], block["total_over_direct"]
            )
            truth = float(curves["slope_att_d_given_d"].mean())
            causal = float(curves["acrt_d_given_d"].mean())
        return {"estimate": float(row["estimate"]), "std_error": float(row["std_error"]),
                "conf_low": float(row["conf_low"]), "conf_high": float(row["conf_high"]),
                "truth": truth, "truth_direct": causal, "target": "total"}  # fmt: skip
    if DCDH_DOSE not in cache:
        cache[DCDH_DOSE] = coverage.dose_event_studies(rep.panel, rep.truth)
    res = cache[DCDH_DOSE][options["dose"]]
    return {"estimate": res["average_total_effect"], "std_error": res["std_error"],
            "conf_low": res["conf_low"], "conf_high": res["conf_high"], "truth": res["target"],
            "truth_direct": res["target"], "target": "total"}  # fmt: skip


def designs(base: SyntheticDesign) -> dict[str, SyntheticDesign]:
    """The default heterogeneous, dynamic design and a homogeneous, static one with the same mean
    size (no batch differences, no growth, no city-level heterogeneity)."""
    flat = {b: 0.10 for b in base.pilot_att_by_batch}
    return {
        HOMOGENEOUS: replace(
            base, pilot_att_by_batch=flat, pilot_att_growth=0.0, effect_city_sd=0.0
        ),
        DEFAULT: base,
    }


def null_design(base: SyntheticDesign) -> SyntheticDesign:
    """``base`` with no pilot-zone effect at all (the sharp null of randomization inference)."""
    return replace(
        base,
        pilot_att_by_batch={b: 0.0 for b in base.pilot_att_by_batch},
        pilot_att_growth=0.0,
        effect_city_sd=0.0,
    )


@contextmanager
def _quiet():
    """pyfixest 0.60 calls pandas methods with inplace=, deprecated in pandas 3 (the same notice
    thousands of times); placebo/bootstrap panels drop unsupported cells with a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@dataclass
class Replication:
    """One simulated panel as the studies see it: the design check, the analysis sample, the
    studies' data (built on demand) and the control rule."""

    panel: pd.DataFrame
    truth: dict
    control_rule: dict | None = None
    dgp: SyntheticDesign | None = None  # the simulated design (the network rows rebuild targets)

    @property
    def network(self):
        return None if self.dgp is None else self.dgp.network

    def __post_init__(self) -> None:
        from analysis.data.design import analysis_sample
        from analysis.studies.binary import study_design

        self.design = study_design(self.panel)
        self.sample = analysis_sample(self.panel, self.design)
        self._studies: dict[str, StudyData] = {}
        self._designs: dict = {}
        self._samples: dict[str, pd.DataFrame] = {}
        self._truths: dict[tuple, dict] = {}

    def study(self, treatment: str) -> StudyData:
        """The study data of ``treatment``: ``pilot``, ``rail`` (any rail link), or one rail link
        (``cre``, ``laos``: :func:`analysis.studies.rails.link_panel`, its own design check, the
        study of its ``rail`` column, as the rail notebook builds it)."""
        if treatment not in self._studies:
            if treatment in LINKS:
                ld = link_study_data(self.panel, treatment, control_rule=self.control_rule)
                sd = ld.study
                self._designs[treatment] = ld.design
                self._samples[treatment] = ld.sample
            else:
                sd = study_data(self.sample, self.design, treatment, self.control_rule)
            self._studies[treatment] = sd
        return self._studies[treatment]

    def design_of(self, treatment: str):
        self.study(treatment)
        return self._designs.get(treatment, self.design)

    def sample_of(self, treatment: str) -> pd.DataFrame:
        """The analysis sample of ``treatment``'s study (a link's own panel for ``cre``/``laos``)."""
        self.study(treatment)
        return self._samples.get(treatment, self.sample)

    def truths(self, treatment: str, covariates, cities) -> dict:
        """``truth`` (total), ``truth_direct`` and ``target`` of an estimator (the one rule), over
        the study's treated city-years (``StudyData.censored`` left out)."""
        own = self._truth_for(treatment, covariates, cities)
        total = self._truth_for(treatment, (), cities)
        direct = self._truth_for(treatment, (), cities, "direct")
        return {
            "truth": total["att_overall"],
            "truth_direct": direct["att_overall"],
            "target": own["target"],
        }

    def _truth_for(self, treatment: str, covariates, cities, target: str | None = None) -> dict:
        """:func:`analysis.studies.rules.truth_for` on the replication's truth, once per
        arguments: the estimators of a replication share most of them (the same cities, the
        total and direct effects), and each call is a pass over the truth's city effects."""
        memo = (treatment, tuple(covariates), tuple(map(str, cities)), target)
        if memo not in self._truths:
            truth, key = self.truth, treatment
            if treatment in LINKS:  # the link's own block under "rail"
                truth, key = link_truth(self.truth, treatment), "rail"
            out = self.study(treatment).censored
            self._truths[memo] = truth_for(
                truth, key, covariates, cities, target=target, exclude=out
            )
        return self._truths[memo]


def _fit(key: str, name: str, options: dict, rep: Replication, z: float, cache: dict) -> dict:
    """One estimator on one replication: estimate, SE and the CI the study reports with it, and
    the estimator's truths. A fixed-weights variant reuses the fit of its default (same point
    estimate; ``cache``), as the appendix interval reuses the headline's."""
    from analysis.studies.binary import FINE_CLUSTER, _bjs, headline_att

    if name in (CGS, DCDH_DOSE):
        return _network_fit(name, options, rep, cache)
    options = dict(options)
    treatment = options.pop("treatment", "pilot")
    sd = rep.study(treatment)
    cohort = sd.cohort
    cols = ("estimate", "std_error", "conf_low", "conf_high")
    if name in (HONEST, HEADLINE_ES):
        return rep.truths(treatment, sd.covariates, sd.treated_cities) | _headline_es_row(
            name, options, rep, sd, cache
        )
    if name == HEADLINE:
        if ("headline", treatment) not in cache:
            rule = inference_rule(sd.panel)
            key = (
                "rail" if treatment in LINKS else treatment
            )  # a link's study is of its rail column
            cache[("headline", treatment)] = headline_att(
                sd.panel, key, cohort, sd.covariates, rep.design_of(treatment), rule=rule
            )
        h = cache[("headline", treatment)]
        if "skipped" in h:
            raise RuntimeError(f"headline skipped on a simulated panel: {h['skipped']}")
        interval = h["appendix_other_cluster"] if options.get("interval") == "appendix" else h
        out = {"estimate": h["estimate"], **{k: interval[k] for k in cols[1:]}}
        return out | rep.truths(treatment, sd.covariates, sd.treated_cities)
    if name in (DIRECT, OLD_RAIL):
        if name == DIRECT:
            panel, covariates, cities = sd.panel, sd.direct_covariates, sd.treated_cities
        else:  # before issue 18: the analysis sample, one pilot dummy, the controls as observed
            panel = rep.sample_of(treatment)
            covariates = ["pilot", "log_broadband", *rep.design_of(treatment).controls_used]
            cities = sorted(panel.loc[panel[cohort] > 0, FINE_CLUSTER].astype(str).unique())
        rule = inference_rule(panel)
        cells = variance_cells(panel, cohort, rule.cluster)  # as the headline's
        est, why = _bjs(panel, cohort, covariates, rule.cluster, cells)
        if est is None:
            raise RuntimeError(f"{key} failed on a simulated panel: {why}")
        out = {"estimate": float(est.att), **rule.interval(float(est.att), float(est.se))}
        return {k: out[k] for k in cols} | rep.truths(treatment, covariates, cities)
    spec = {"y": "log_exports", "unit": "city_code", "time": "year", "cohort": cohort}
    fixed = options.pop("fixed_weights", False)
    covariates = list(options.pop("covariates", sd.covariates))
    key_ = (name, treatment, tuple(covariates), tuple(sorted(options.items())))
    if key_ not in cache:
        cache[key_] = estimate(name, sd.panel, **spec, covariates=covariates, **options)
    est = cache[key_]
    att, se = float(est.att), float(est.se)
    if fixed and name == "sa":
        se = float(est.fit.att_se_fixed_weights)
    elif fixed and name == "cs_adjusted":
        se = float(est.fit.aggregate("simple", fixed_weights=True).overall_se)
    elif fixed:
        raise ValueError(f"no fixed-weights SE for {name}")
    out = {"estimate": att, "std_error": se, "conf_low": att - z * se, "conf_high": att + z * se}
    return out | rep.truths(treatment, covariates, sd.treated_cities)


def _headline_es_row(name, options, rep, sd, cache) -> dict:
    """A row of the headline's event study (:func:`analysis.studies.binary.headline_event_study`,
    once per replication): the HonestDiD target (its M = 0 interval, t(G-1)) or
    one event time with the study's t(G-1) band. ``truth_own``: the row's own truth (the
    weighted true effects over the target's horizons; the true effect at that event time, zero
    before treatment), which the summary measures it against."""
    from analysis.studies.binary import headline_event_study
    from analysis.studies.robustness.sensitivity import headline_target

    if "headline_es" not in cache:
        rule = inference_rule(sd.panel)
        block = truth_for(
            rep.truth, sd.treatment, sd.covariates, sd.treated_cities, exclude=sd.censored
        )
        es = headline_event_study(sd, rule, (ES_TIMES[0], ES_TIMES[-1]), block)
        if "skipped" in es:
            raise RuntimeError(f"headline event study skipped: {es['skipped']}")
        cache["headline_es"] = (es, rule, headline_target(es))
    es, rule, target = cache["headline_es"]
    crit = rule.critical_value()
    if name == HONEST:  # at M = 0 the study's t(G-1) interval (headline_sensitivity's scaling)
        b, se, truth = target["estimate"], target["std_error"], target["truth"]
        return {"estimate": b, "std_error": se, "conf_low": b - crit * se,
                "conf_high": b + crit * se, "truth_own": truth, "target": "own"}  # fmt: skip
    e = options["event_time"]
    b = float(es["beta"].loc[e])
    se = float(np.sqrt(es["vcov"].loc[e, e]))
    truth = 0.0 if e < 0 else float(es["truth"].loc[e])
    return {"estimate": b, "std_error": se, "conf_low": b - crit * se, "conf_high": b + crit * se,
            "truth_own": truth, "target": "own"}  # fmt: skip


def _replicate(
    design_name: str,
    rep: int,
    seed: int,
    design: SyntheticDesign,
    inputs,
    estimators: dict,
    control_rule: dict | None = None,
) -> list[dict]:
    """Simulate one panel and estimate the overall ATT with each of ``estimators``."""
    panel, truth = simulate_panel(*inputs, replace(design, seed=seed))
    z = float(stats.norm.ppf(0.975))
    rows, cache = [], {}
    with _quiet():
        replication = Replication(panel, truth, control_rule, replace(design, seed=seed))
        for key, (name, options) in estimators.items():
            rows.append(
                {
                    "design": design_name,
                    "design_id": DESIGN_IDS.get(design_name, design_name),
                    "rep": rep,
                    "seed": seed,
                    "estimator": LABELS.get(key, key),
                    "estimator_id": key,
                    **_fit(key, name, options, replication, z, cache),
                }
            )
    return rows


def _seeds(seed: int, n_reps: int) -> list[int]:
    return [int(s) for s in np.random.default_rng(seed).integers(0, 2**31 - 1, size=n_reps)]


def simulate(
    by_design: dict[str, SyntheticDesign],
    inputs,
    estimators: dict,
    n_reps: int,
    seed: int,
    n_jobs: int = 1,
    progress: bool = True,
    control_rule: dict | None = None,
    backend=None,
) -> pd.DataFrame:
    """One row per design x replication x estimator: estimate, SE, CI (``conf_low``,
    ``conf_high``: normal, or the headline's t(G-1)), the replication's true ATTs over the cities
    the estimator keeps (``truth``: total effect, ``truth_direct``: direct effect) and the
    estimator's ``target`` (:func:`analysis.studies.rules.truth_for`).

    ``inputs``: (cities, treatments, national exports) for :func:`simulate_panel`; ``estimators``:
    id -> (``estimate`` name, ``"headline"``, ``"direct"`` or ``"rail_pilot_dummy"``, options);
    ``control_rule``: params.yaml ``panel.control_rule``. Every design uses the same seeds.
    ``backend``: params.yaml ``parallel`` (:func:`analysis.parallel.run_tasks`; ``n_jobs`` local
    workers): the rows do not depend on it.
    """
    seeds = _seeds(seed, n_reps)
    tasks = [(name, rep, s, d) for name, d in by_design.items() for rep, s in enumerate(seeds)]
    jobs = [
        delayed(_replicate)(name, rep, s, d, inputs, estimators, control_rule)
        for name, rep, s, d in tasks
    ]
    results = run_tasks(
        jobs, as_backend(backend, n_jobs=n_jobs), progress=progress, desc="simulations"
    )
    return pd.DataFrame([row for rows in results for row in rows])


SUMMARY = (
    "estimator",
    "bias",
    "bias_mc_se",
    "rmse",
    "rmse_mc_se",
    "coverage",
    "coverage_mc_se",
    "mean_se",
    "sd_estimate",
    "n_reps",
    "target",
    "mean_truth",
    "bias_total",
)


def mc_se_coverage(c: float, n: int) -> float:
    """Monte Carlo standard error of a rate ``c`` estimated from ``n`` replications."""
    return float(np.sqrt(c * (1 - c) / n)) if n > 0 else float("nan")


def _stats(group: pd.DataFrame, target: str) -> dict:
    if "target" in group and group["target"].nunique() == 1:
        target = str(group["target"].iloc[0])
    truth = {"direct": group.get("truth_direct"), "own": group.get("truth_own")}.get(
        target, group["truth"]
    )
    error = group["estimate"] - truth
    n = len(group)
    sq = error**2
    rmse = float(np.sqrt(sq.mean()))
    covered = (group["conf_low"] <= truth) & (truth <= group["conf_high"])
    cov = float(covered.mean())
    return {
        "bias": float(error.mean()),
        "bias_mc_se": float(error.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan"),
        "rmse": rmse,
        "rmse_mc_se": float(sq.std(ddof=1) / (2 * rmse * np.sqrt(n))) if n > 1 else float("nan"),
        "coverage": cov,
        "coverage_mc_se": mc_se_coverage(cov, n),
        "mean_se": float(group["std_error"].mean()),
        "sd_estimate": float(group["estimate"].std(ddof=1)) if n > 1 else float("nan"),
        "n_reps": int(n),
        "target": target,
        "mean_truth": float(truth.mean()),
        "bias_total": float((group["estimate"] - group["truth"]).mean()),
    }


def summarise(draws: pd.DataFrame, by=("design", "estimator")) -> pd.DataFrame:
    """Per group of ``by`` (against the estimator's own truth: its ``target`` column, recorded
    by the one rule; ``total`` without one): bias, RMSE, coverage of the reported CI with their
    Monte Carlo SEs, mean SE, SD of the estimates, replications, the target (``direct`` /
    ``total``), its mean and the bias against the total effect. Carries ``design_id`` /
    ``estimator_id`` (the report's keys) when the draws have them."""
    keys = list(by)
    extra = [c for c in ("design", "design_id", "estimator", "estimator_id") if c in draws.columns]
    rows = []
    for _, group in draws.groupby(keys, sort=False):
        first = group.iloc[0]
        rows.append({c: first[c] for c in extra} | _stats(group, "total"))
    out = pd.DataFrame(rows)
    lead = [c for c in extra if c not in SUMMARY]
    return out[lead + list(SUMMARY)]


def twfe_vs_imputation(
    cities: pd.DataFrame,
    treatments: pd.DataFrame,
    national: pd.DataFrame,
    base: SyntheticDesign,
    n_reps: int = 20,
    seed: int = 1,
    n_jobs: int = 1,
    progress: bool = True,
    control_rule: dict | None = None,
    backend=None,
) -> pd.DataFrame:
    """The notebook's simulation: ``PIPELINE``'s estimators under both ``designs(base)``, one row
    per design x replication x estimator (``backend``: :func:`simulate`)."""
    return simulate(
        designs(base), (cities, treatments, national), COMPARISON, n_reps, seed, n_jobs, progress,
        control_rule, backend,
    )  # fmt: skip


def run_monte_carlo(
    n_reps: int = 200,
    seed: int = 20240601,
    n_jobs: int = 2,
    progress: bool = True,
    design: SyntheticDesign | None = None,
    estimators: dict | None = None,
    control_rule: dict | None = None,
) -> pd.DataFrame:
    """Simulate ``n_reps`` panels of ``design`` (default: the full 337-city default design) and
    summarise each of ``estimators`` (default ``MONTE_CARLO``; index), columns ``SUMMARY``; the
    raw replications are in ``.attrs["reps"]``."""
    from analysis.data.build import default_inputs

    reps = simulate(
        {DEFAULT: design or SyntheticDesign()},
        default_inputs(),
        MONTE_CARLO if estimators is None else estimators,
        n_reps,
        seed,
        n_jobs,
        progress,
        control_rule,
    )
    table = summarise(reps, by=("estimator_id",)).drop(columns=["design", "design_id"])
    table = table.rename(columns={"estimator": "label"}).set_index("estimator_id")
    table.index.name = "estimator"
    table.attrs["reps"] = reps
    return table


# ---- the robustness checks' nominal properties (Monte Carlo; tests/studies/test_montecarlo.py) ----
def _ri_one(seed: int, design: SyntheticDesign, inputs, draws: int, within: str) -> dict:
    from analysis.did.randomization import permutation_test
    from analysis.studies.rules import study_statistic

    panel, truth = simulate_panel(*inputs, replace(null_design(design), seed=seed))
    with _quiet():
        rep = Replication(panel, truth)
        # the study's statistic: covariates rebuilt on every permutation, the study's clusters
        rule = inference_rule(rep.study("pilot").panel)
        stat = study_statistic(rep.design, "pilot", None, rule.cluster)
        res = permutation_test(
            rep.sample, stat, "city_code", "pilot_year", within=within, draws=draws, seed=seed,
            progress=False,
        )  # fmt: skip
    return {
        "seed": seed,
        "p_value": float(res.p_value),
        "t": float(res.actual),
        "n_failed": int(res.n_failed),
    }


def randomization_rejection(
    n_reps: int,
    draws: int = 39,
    alpha: float = 0.05,
    within: str = "province",
    seed: int = 7,
    n_jobs: int = 2,
    design: SyntheticDesign | None = None,
) -> dict:
    """Rejection rate at ``alpha`` of the randomization test on the studentized BJS statistic
    (permutations of the pilot cohorts within ``within``) under the default DGP with *no* pilot
    effect. With ``draws = 39`` a p-value (1 + #)/(1 + B) <= 0.05 rejects exactly when at most one
    placebo beats the actual statistic: an exact 5% test under exchangeability, at 1/25 the cost
    of 999 draws (the Monte Carlo needs the size, not the power)."""
    from analysis.data.build import default_inputs

    inputs = default_inputs()
    base = design or SyntheticDesign()
    rows = run_tasks(
        [delayed(_ri_one)(s, base, inputs, draws, within) for s in _seeds(seed, n_reps)],
        as_backend(None, n_jobs=n_jobs),
    )
    p = np.array([r["p_value"] for r in rows])
    rate = float(np.mean(p <= alpha))
    return {
        "check": "randomization inference (studentized BJS, within " + within + ")",
        "null": "no pilot effect",
        "alpha": alpha,
        "rejection_rate": rate,
        "rejection_mc_se": mc_se_coverage(rate, len(p)),
        "n_reps": len(p),
        "draws": draws,
        "p_values": p.tolist(),
    }


def wild_bootstrap_replication(
    seed: int, design: SyntheticDesign, inputs, B: int = 999, cluster: str = "province"
) -> dict:
    """One replication of the restricted wild cluster bootstrap of the BJS ATT (``cluster``
    clusters, ``B`` draws, test-inversion CI) with the study's covariates; its target by the one
    rule (the total effect)."""
    from analysis.did.wild_bootstrap import imputation_wild_bootstrap

    panel, truth = simulate_panel(*inputs, replace(design, seed=seed))
    with _quiet():
        rep = Replication(panel, truth)
        sd = rep.study("pilot")
        r = imputation_wild_bootstrap(
            sd.panel, "log_exports", "year", "city_code", "pilot_year", covariates=sd.covariates,
            cluster=cluster, B=B, seed=seed,
        )  # fmt: skip
    lo, hi = (float(x) for x in r.conf_int)
    return {
        "estimate": float(r.estimate),
        "std_error": float(r.std_error),
        "conf_low": lo,
        "conf_high": hi,
        **rep.truths("pilot", sd.covariates, sd.treated_cities),
    }


def check_coverage(
    name: str,
    replicate: Callable[..., dict],
    n_reps: int,
    seed: int = 11,
    n_jobs: int = 2,
    design: SyntheticDesign | None = None,
    **options,
) -> pd.DataFrame:
    """Replications of a robustness check's interval under ``design`` (default: the default DGP):
    ``replicate(seed, design, inputs, **options) -> dict`` with ``estimate``, ``std_error``,
    ``conf_low``, ``conf_high``, ``truth``, ``truth_direct``, ``target`` (:meth:`Replication.
    truths`; or ``{"failed": reason}``), e.g.
    :func:`wild_bootstrap_replication`. Rows as :func:`simulate` (``estimator_id`` = ``name``);
    replications where the check failed are left out and listed in ``.attrs["failed"]``. (The
    checks of the robustness notebook are replicated by tests/studies/test_montecarlo.py, which
    passes them in: importing them here would make this pipeline stage depend on them.)"""
    from analysis.data.build import default_inputs

    inputs = default_inputs()
    base = design or SyntheticDesign()
    jobs = [delayed(replicate)(s, base, inputs, **options) for s in _seeds(seed, n_reps)]
    rows = run_tasks(jobs, as_backend(None, n_jobs=n_jobs))
    failed = [r["failed"] for r in rows if "failed" in r]
    frame = pd.DataFrame([r for r in rows if "failed" not in r])
    frame = frame.assign(estimator=name, estimator_id=name, rep=range(len(frame)))
    frame.attrs["failed"] = failed  # replications where the check raised (e.g. logit separation)
    return frame
