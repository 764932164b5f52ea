"""The engine of the interactive notebook ``notebooks/learn/learn_staggered_did.py``: the study's
synthetic data-generating process with its knobs, the estimators of :func:`analysis.did.estimate.estimate`
against the known truth, and a sentence that says which of them are biased and why.

No widgets here: every callback is a plain function of a :class:`Knobs` value (tests/studies/
test_learn.py calls them without a browser), and the notebook wires sliders to them.

**One redraw.** ``scene(knobs)`` composes the panel for the knobs, then runs TWFE, CS, SA and BJS
(overall ATT), the TWFE event study against the robust ones (CS dynamic aggregation, SA, BJS with
its Test 1 leads), and the Goodman-Bacon decomposition of the uncontrolled TWFE coefficient. Each
estimator runs twice: on the panel (estimate and 95% CI) and on the same panel without its noise
(the city shocks and the province-year shocks set to zero). Every point estimate used here is
linear in the outcome and the noise has mean zero given everything else, so the noiseless estimate
is the estimator's expected value on this design: its distance to the truth is the estimator's
**bias**, the rest of the distance of the noisy estimate is **noise**. That is what the sentence
reports (:func:`explain`), never whether one noisy interval happens to cover the truth.

**Speed** (measured in tests/studies/test_learn.py; under 1 s of CPU per redraw on the default
337-city panel). The untreated panel is simulated once (:func:`analysis.data.synthetic.simulate_panel`
with no effects; the city shocks and the province-year shocks are linear in their SDs, so two
more calls give them per unit SD) and each redraw only adds the effects: ``simulate_panel`` is
called three times per session, not once per redraw. The estimators take their fast, equal paths:
TWFE and the TWFE event study through the FE kernel's closed form (``method="demean"``), SA through
the kernel (``engine="kernel"``); both are tested equal to the reference paths to 1e-10.

**Knobs** (:class:`Knobs`; the defaults reproduce the study's DGP, ``params.yaml`` ``synthetic``,
exactly: tests/studies/test_learn.py compares the composed panel with ``simulate_panel``'s):
the size and the heterogeneity across batches of the effect at designation, its growth per year
since designation, the spacing and the shift of the designation batches, the number of never-
designated cities, anticipation (years before designation that the effect starts), the SD of the
city shocks and of the province-year shocks, the response of GDP per capita to the export effect
(GDP as a mediator), the rail link's effect and its growth, and whether the estimators adjust for
the DGP's controls and the rail link (the study's specification) or for nothing.

The untreated outcomes never move: a city whose designation the knobs move or remove keeps its
own city effect, GDP path and broadband diffusion (early-designated cities of the study keep their
faster GDP growth); only the treatment and its effects change.
"""

from __future__ import annotations

import functools
import time
import warnings
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from analysis.data.schema import CONTROLS
from analysis.data.synthetic import (
    NETWORK_OFF,
    SyntheticDesign,
    _city_effect_shifts,
    simulate_panel,
)
from analysis.did.bacon import TYPE_LATE_ALWAYS, TYPE_LATE_EARLY, bacon_decomposition
from analysis.did.estimate import estimate

ESTIMATORS = ("twfe", "cs", "sa", "bjs")
NAMES = {"twfe": "TWFE", "cs": "CS", "sa": "SA", "bjs": "BJS"}
COVARIATES = ["rail", "log_broadband", *CONTROLS]  # the study's (analysis.studies.simulation)
WINDOW = (-5, 5)
FORBIDDEN = (TYPE_LATE_EARLY, TYPE_LATE_ALWAYS)  # already-treated cities as controls
# an estimator is called biased when its expected value misses the truth by at least a quarter
# of its standard error and by at least 0.002 log points (0.2%): less is invisible in one estimate
BIAS_SE = 0.25
BIAS_FLOOR = 0.002
SPEC = {"y": "log_exports", "unit": "city_code", "time": "year", "cohort": "pilot_year"}


@dataclass(frozen=True)
class Knobs:
    """One setting of the interactive notebook; the defaults are the study's DGP and specification."""

    effect_size: float = 1.0  # x the effects at designation of params.yaml (0.15 for batch 1 ...)
    heterogeneity: float = 1.0  # 1: the batches' own effects; 0: every batch gets their mean
    growth: float = 0.03  # added per year since designation, up to growth_cap (5) years
    spacing: float = 1.0  # years between batches x spacing (0: all designated with batch 1)
    shift: int = 0  # every designation moved by this many years
    never_treated: int | None = None  # never-designated cities (None: as coded, 174 of 337)
    anticipation: int = 0  # years before designation that the effect starts
    noise_sd: float = 0.18  # SD of the city shocks (AR(1), fat-tailed)
    province_year_sd: float = 0.08  # SD of the shocks common to a province's cities in a year
    gdp_feedback: float = 0.1  # elasticity of log GDP per capita to the export effect
    rail_att: float = 0.08  # effect of a first international rail service
    rail_growth: float = 0.0  # added per year since the first service
    controls: bool = True  # adjust for rail, broadband and the controls (the study's estimators)


@dataclass
class Scene:
    """What one redraw shows: everything the figures and the sentence read."""

    knobs: Knobs
    estimates: pd.DataFrame  # estimator, estimate, std_error, conf_low, conf_high, expected, bias
    event_studies: dict[str, pd.DataFrame]  # "TWFE", "CS", "SA", "BJS": event_time, estimate, CI
    truth: float  # the total effect: ATT on the coded treated city-years
    truth_direct: float  # the same with GDP per capita on its untreated path
    truth_by_event: pd.Series  # true (total) effect by event time, -5..5
    bacon: pd.DataFrame  # two_by_twos of the uncontrolled TWFE (treated, untreated, type, ...)
    bacon_twfe: float
    design: dict  # counts the sentence uses (cities, treated, never, co-treated, cohorts)
    failed: dict[str, str] = field(default_factory=dict)  # estimator -> why it could not run
    seconds: float = 0.0

    @property
    def forbidden_weight(self) -> float:
        """Share of the TWFE coefficient's weight on comparisons with already-treated controls."""
        b = self.bacon
        return float(b.loc[b["type"].isin(FORBIDDEN), "weight"].sum()) if len(b) else 0.0


# ------------------------------------------------------------------------------------------ panel
def lab_design() -> SyntheticDesign:
    """The lab's DGP: the study's default without the parts the pilot-zone lessons do not use
    (issues 19-20): the China-Laos corridor's own effect (its cities get the rail effect, as
    before the two links were told apart), the pilot zones' spillover and the network block (a
    constant broadband elasticity, no Broadband China designation)."""
    d = SyntheticDesign()
    return replace(d, laos_att=d.rail_att, pilot_spillover=0.0, network=NETWORK_OFF)


class Lab:
    """The study's untreated panel (:func:`lab_design`), simulated once, and the effects the
    knobs add to it."""

    def __init__(self, inputs=None, design: SyntheticDesign | None = None):
        from analysis.data.build import default_inputs

        self.design = design or lab_design()
        self.inputs = inputs or default_inputs()
        d = self.design
        zero = {b: 0.0 for b in d.pilot_att_by_batch}
        quiet = replace(
            d,
            pilot_att_by_batch=zero,
            pilot_att_growth=0.0,
            rail_att=0.0,
            rail_att_growth=0.0,
            laos_att=0.0,
            gdp_export_feedback=0.0,
        )
        base, _ = simulate_panel(*self.inputs, replace(quiet, noise_sd=0.0, province_year_sd=0.0))
        city, _ = simulate_panel(*self.inputs, replace(quiet, noise_sd=1.0, province_year_sd=0.0))
        prov, _ = simulate_panel(*self.inputs, replace(quiet, noise_sd=0.0, province_year_sd=1.0))
        self.n_cities = base["city_code"].nunique()
        self.years = np.sort(base["year"].unique())
        self.shape = (self.n_cities, len(self.years))
        # rows are sorted by city, then year (simulate_panel's order): (n, T) arrays below
        self.z = base["log_exports"].to_numpy().reshape(self.shape)  # untreated, noiseless
        # noise per unit SD, up to year constants (absorbed by the year effects; see compose)
        self.eps = city["log_exports"].to_numpy().reshape(self.shape) - self.z
        self.prov = prov["log_exports"].to_numpy().reshape(self.shape) - self.z
        self.gdp0 = base["log_gdp_pc"].to_numpy().reshape(self.shape)
        keep = ["city_code", "year", "province", "rail_year", "rail", *COVARIATES]
        self.frame = base[list(dict.fromkeys(keep))].drop(columns="log_gdp_pc")
        first = base.groupby("city_code", sort=False).first()
        self.cohort = first["pilot_year"].to_numpy()
        self.batch = first["pilot_batch"].to_numpy()
        self.rail_year = first["rail_year"].to_numpy()
        # the China-Laos corridor's cities: the rail knob's effect, static (the DGP's corridor
        # effect does not grow; lab_design gives it the rail effect)
        self.corridor = (first["laos_rail_year"] > 0).to_numpy()
        self.n_never = int((self.cohort == 0).sum())
        # a fixed order in which cities lose or gain a designation (never_treated knob)
        rng = np.random.default_rng([d.seed, 22])
        self.order = rng.permutation(self.n_cities)
        sizes = np.bincount(self.batch[self.batch > 0], minlength=d.n_batches + 1)[1:]
        self.new_batch = rng.choice(
            np.arange(1, d.n_batches + 1), self.n_cities, p=sizes / sizes.sum()
        )
        self.batch_year = {
            int(b): int(self.cohort[self.batch == b].min())
            for b in np.unique(self.batch[self.batch > 0])
        }

    # -- treatment timing
    def timing(self, k: Knobs) -> tuple[np.ndarray, np.ndarray]:
        """(batch, first year of the effect) per city for the knobs' timing; batch 0 = never."""
        batch = self.batch.copy()
        first = min(self.batch_year.values())
        if k.never_treated is not None:
            target = int(np.clip(k.never_treated, 0, self.n_cities))
            if target > self.n_never:  # designated cities, in a fixed order, lose it
                lose = [i for i in self.order if batch[i] > 0][: target - self.n_never]
                batch[lose] = 0
            elif target < self.n_never:  # never-designated cities join a batch (sizes as coded)
                gain = [i for i in self.order if batch[i] == 0][: self.n_never - target]
                batch[gain] = self.new_batch[gain]
        years = np.array(
            [
                first + k.shift + int(np.floor(k.spacing * (self.batch_year[b] - first) + 0.5))
                if b > 0
                else 0
                for b in batch
            ]
        )
        return batch, years

    def effects(self, k: Knobs, batch: np.ndarray, start: np.ndarray):
        """(pilot effect, rail effect) as (n, T) arrays, before the GDP channel."""
        d = self.design
        att = np.array([d.pilot_att_by_batch.get(b, 0.0) for b in range(d.n_batches + 1)])
        mean = float(np.mean(list(d.pilot_att_by_batch.values())))
        # k.heterogeneity * a_b + (1 - k.heterogeneity) * mean: the study's a_b exactly at 1
        size = k.effect_size * (k.heterogeneity * att + (1.0 - k.heterogeneity) * mean)
        e = self.years[None, :] - start[:, None] + k.anticipation
        on = (batch[:, None] > 0) & (start[:, None] > 0) & (e >= 0)
        tau = np.where(on, size[batch][:, None] + k.growth * np.clip(e, 0, d.growth_cap), 0.0)
        r = self.years[None, :] - self.rail_year[:, None]
        rail_on = (self.rail_year[:, None] > 0) & (r >= 0)
        growth = np.where(self.corridor[:, None], 0.0, k.rail_growth * np.clip(r, 0, d.growth_cap))
        tau_rail = np.where(rail_on, k.rail_att + growth, 0.0)
        if d.effect_city_sd > 0:  # the study's city-level effect heterogeneity, same draws
            shift = _city_effect_shifts(len(batch), d)
            tau, tau_rail = tau * (1 + shift[:, :1]), tau_rail * (1 + shift[:, 1:])
        return tau, tau_rail

    def compose(self, k: Knobs) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
        """(panel, the same panel without noise, truth) for the knobs.

        With year effects set on the untreated outcomes (the study's ``year_effects: untreated``),
        ``log_exports = z + e + channel * (tau + tau_rail) + lse(z) - lse(z + e)``, where ``z`` is
        the noiseless untreated panel, ``e`` the noise and ``lse`` the log of the year's sum of
        exports: exactly :func:`simulate_panel`'s arithmetic, rearranged."""
        batch, start = self.timing(k)
        tau, tau_rail = self.effects(k, batch, start)
        channel = 1.0 + self.design.beta_log_gdp_pc * k.gdp_feedback
        noise = k.noise_sd * self.eps + k.province_year_sd * self.prov
        effect = channel * (tau + tau_rail)
        lse = _logsumexp(self.z) - _logsumexp(self.z + noise)
        y = self.z + noise + effect + lse[None, :]
        gdp = self.gdp0 + k.gdp_feedback * (tau + tau_rail)
        cohort = np.where(start > self.years[-1], 0, start)  # after the panel: never within it
        coded = np.repeat(cohort, len(self.years))
        year = self.frame["year"].to_numpy()
        common = {
            "pilot_year": coded,
            "pilot": ((coded > 0) & (year >= coded)).astype(int),
            "log_gdp_pc": gdp.ravel(),
        }
        panel = self.frame.assign(log_exports=y.ravel(), **common)
        quiet = self.frame.assign(log_exports=(self.z + effect).ravel(), **common)
        treated = common["pilot"] == 1
        t_total, t_direct = channel * tau.ravel(), tau.ravel()
        event = np.where(coded > 0, year - coded, -10_000)
        by_event = pd.Series(t_total[coded > 0]).groupby(event[coded > 0]).mean()
        lo, hi = WINDOW
        truth = {
            "total": float(t_total[treated].mean()) if treated.any() else np.nan,
            "direct": float(t_direct[treated].mean()) if treated.any() else np.nan,
            "by_event": by_event.loc[(by_event.index >= lo) & (by_event.index <= hi)],
        }
        treated_city = cohort > 0
        design = {
            "cities": self.n_cities,
            "treated": int(treated_city.sum()),
            "never": int((cohort == 0).sum()),
            "cohorts": sorted(int(c) for c in np.unique(cohort[treated_city])),
            "co_treated": int((treated_city & (self.rail_year > 0)).sum()),
            # one designation year holding batches with different effects (SA's cells pool them)
            "mixed_cohorts": bool(
                pd.Series(batch[treated_city]).groupby(cohort[treated_city]).nunique().gt(1).any()
            ),
            "channel": channel,
        }
        return panel, quiet, truth | {"design": design}


def _logsumexp(x: np.ndarray) -> np.ndarray:
    """log of the column sums of exp(x) (per year), as simulate_panel computes it."""
    return np.log(np.exp(x).sum(axis=0))


@functools.lru_cache(maxsize=1)
def lab() -> Lab:
    """The session's Lab (the untreated panel of the study's default DGP), built on first use."""
    return Lab()


# ----------------------------------------------------------------------------------- estimation
def _options(name: str, panel: pd.DataFrame, controls: bool) -> tuple[str, dict]:
    """estimate()'s name and options for one estimator of the notebook (fast, equal paths)."""
    covariates = COVARIATES if controls else []
    has_never = bool((panel["pilot_year"] == 0).any())
    if name == "twfe":
        return "twfe", {"covariates": covariates, "method": "demean"}
    if name == "cs":
        extra = {} if has_never else {"control_group": "notyettreated"}
        return ("cs_adjusted" if controls else "cs"), {"covariates": covariates, **extra}
    if name == "sa":
        extra = {} if has_never else {"control": "last"}
        return "sa", {"covariates": covariates, "engine": "kernel", **extra}
    if name == "bjs":  # with Test 1's leads for the event study (the ATT does not change)
        return "bjs", {"covariates": covariates, "window": WINDOW, "pretrends": True}
    raise ValueError(name)


def _event_study(est) -> pd.DataFrame:
    es = est.event_study
    lo, hi = WINDOW
    es = es[(es["event_time"] >= lo) & (es["event_time"] <= hi)]
    return es[["event_time", "estimate", "conf_low", "conf_high"]].reset_index(drop=True)


def cs_adjusted_expected(fit, quiet: pd.DataFrame, opts: dict) -> float:
    """``estimate("cs_adjusted", quiet).att`` from the noisy panel's fit, by the identity its
    docstring states, ``ATT(y - X'b) = ATT(y) - b'ATT(X)``: the covariates (hence ``ATT(X)``) are
    the same in both panels, only ``y`` and so ``b`` differ. Saves the covariates' six ATT(g,t)
    runs (tests/studies/test_learn.py checks it against the full estimate to 1e-10)."""
    from analysis.did.fe import fit_within

    names = list(fit.coef.index)
    untreated = quiet[quiet["pilot"] == 0]
    first = fit_within(untreated, SPEC["y"], names, SPEC["unit"], SPEC["time"])
    if first.names != names:  # the kernel's rank rule kept other covariates: the long way
        return float(estimate("cs_adjusted", quiet, **SPEC, **opts).att)
    att_x = np.array([g.aggregate("simple").overall_att for g in fit.covariate_gt])
    cs_opts = {k: v for k, v in opts.items() if k != "covariates"}
    return float(estimate("cs", quiet, **SPEC, **cs_opts).att - first.params @ att_x)


def _run(k: Knobs, panel: pd.DataFrame, quiet: pd.DataFrame) -> tuple[list[dict], dict, dict]:
    rows, studies, failed = [], {}, {}
    for key in ESTIMATORS:
        name, opts = _options(key, panel, k.controls)
        try:
            est = estimate(name, panel, **SPEC, **opts)
            if name == "cs_adjusted":
                expected = cs_adjusted_expected(est.fit, quiet, opts)
            else:
                fast = {o: v for o, v in opts.items() if o not in ("window", "pretrends")}
                expected = estimate(name, quiet, **SPEC, **fast).att
        except Exception as exc:  # noqa: BLE001 - shown to the student, the redraw goes on
            failed[NAMES[key]] = _first_line(exc)
            continue
        rows.append(
            {
                "estimator": NAMES[key],
                "estimate": est.att,
                "std_error": est.se,
                "conf_low": est.conf_low,
                "conf_high": est.conf_high,
                "expected": float(expected),
            }
        )
        if key != "twfe":
            studies[NAMES[key]] = _event_study(est)
    try:
        es_opts = {"covariates": COVARIATES if k.controls else [], "method": "demean"}
        twfe_es = estimate("event_study", panel, **SPEC, window=WINDOW, **es_opts)
        studies = {"TWFE": _event_study(twfe_es), **studies}
    except Exception as exc:  # noqa: BLE001
        failed["TWFE event study"] = _first_line(exc)
    return rows, studies, failed


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _no_comparison(design: dict) -> str | None:
    """Why nothing can be estimated on this design (None when something can)."""
    if design["treated"] == 0:
        return "no_treated"
    if design["never"] == 0 and len(design["cohorts"]) == 1:
        return "no_comparison"
    return None


EMPTY_BACON = pd.DataFrame(columns=["treated", "untreated", "type", "estimate", "weight"])


def _bacon(panel: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    b = bacon_decomposition(panel, SPEC["y"], "pilot", SPEC["unit"], SPEC["time"])
    return b.two_by_twos, b.twfe


@functools.lru_cache(maxsize=32)
def scene(k: Knobs = Knobs()) -> Scene:
    """Compose the panel for ``k`` and run every estimator on it (cached per setting)."""
    start = time.process_time()
    panel, quiet, truth = lab().compose(k)
    design = truth["design"]
    rows, studies, failed = [], {}, {}
    two, twfe, quiet_two = EMPTY_BACON, np.nan, EMPTY_BACON
    design["nothing"] = _no_comparison(design)
    if design["nothing"] is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyfixest / pandas deprecations, no-never notes
            rows, studies, failed = _run(k, panel, quiet)
            try:
                two, twfe = _bacon(panel)
                quiet_two, _ = _bacon(quiet)  # the 2x2 estimates' expected values
            except Exception as exc:  # noqa: BLE001
                failed["Goodman-Bacon"] = _first_line(exc)
    columns = ["estimator", "estimate", "std_error", "conf_low", "conf_high", "expected"]
    table = pd.DataFrame(rows, columns=columns)
    table["bias"] = table["expected"] - truth["total"]
    if len(quiet_two):
        design["forbidden_expected"] = _forbidden_average(quiet_two)
    return Scene(
        knobs=k,
        estimates=table,
        event_studies=studies,
        truth=truth["total"],
        truth_direct=truth["direct"],
        truth_by_event=truth["by_event"],
        bacon=two,
        bacon_twfe=twfe,
        design=design,
        failed=failed,
        seconds=time.process_time() - start,
    )


def _forbidden_average(two: pd.DataFrame) -> float:
    bad = two[two["type"].isin(FORBIDDEN)]
    return float(np.average(bad["estimate"], weights=bad["weight"])) if len(bad) else np.nan


# ----------------------------------------------------------------------------------- callbacks
def estimates_figure(k: Knobs = Knobs(), lang: str = "en"):
    """TWFE, CS, SA and BJS: estimate, 95% CI and expected value against the truth."""
    from analysis.figures.learn import plot_estimates_vs_truth

    s = scene(k)
    return plot_estimates_vs_truth(s.estimates, s.truth, s.truth_direct, lang=lang)


def event_study_figure(k: Knobs = Knobs(), lang: str = "en"):
    """The TWFE event study against CS, SA and BJS, with the true effect by event time."""
    from analysis.figures.learn import plot_event_studies

    s = scene(k)
    return plot_event_studies(s.event_studies, s.truth_by_event, lang=lang)


def bacon_figure(k: Knobs = Knobs(), lang: str = "en"):
    """The Goodman-Bacon weights of the uncontrolled TWFE, the forbidden comparisons marked."""
    from analysis.figures.learn import plot_bacon_weights

    s = scene(k)
    return plot_bacon_weights(s.bacon, s.bacon_twfe, s.truth, lang=lang)


def dashboard(k: Knobs = Knobs(), lang: str = "en"):
    """The three panels in one figure (one image per redraw: what the notebook shows)."""
    from analysis.figures.learn import plot_dashboard

    s = scene(k)
    return plot_dashboard(
        s.estimates, s.truth, s.truth_direct, s.event_studies, s.truth_by_event, s.bacon,
        s.bacon_twfe, lang=lang,
    )  # fmt: skip


def sentence(k: Knobs = Knobs(), lang: str = "en") -> str:
    """Which estimators are biased and why, for the knobs ``k``."""
    return explain(scene(k), lang)


def redraw(k: Knobs = Knobs(), lang: str = "en", dpi: int = 80) -> tuple[bytes, str]:
    """What one change of a widget shows: the dashboard as PNG bytes and the sentence."""
    from analysis.figures.learn import png

    return png(dashboard(k, lang), dpi=dpi), sentence(k, lang)


def default_knobs() -> dict:
    """The widgets' starting values: the study's DGP (``never_treated``: the coded count)."""
    return asdict(Knobs()) | {"never_treated": lab().n_never}


# ------------------------------------------------------------------------------------ sentence
def yardstick(s: Scene) -> float:
    """The bias that counts: a quarter of the estimators' median standard error, at least
    ``BIAS_FLOOR`` (one yardstick for all four, so equal biases get the same verdict)."""
    se = s.estimates["std_error"].median() if len(s.estimates) else np.nan
    return max(BIAS_FLOOR, BIAS_SE * se) if np.isfinite(se) else BIAS_FLOOR


def reasons(s: Scene, estimator: str) -> list[str]:
    """Codes of the mechanisms of the knobs that bias ``estimator``, in the order they are told.

    Every estimator: ``anticipation``; with the controls, ``bad_control`` (GDP per capita, a
    mediator) and ``rail_dynamics`` (one rail dummy, a growing rail effect); without them,
    ``confounding`` (faster GDP growth of the study's early pilots, broadband) and
    ``co_treatment`` (rail links of designated cities). TWFE's and SA's own mechanisms are told
    only when the estimator's expected value stands apart from the robust estimator that makes the
    same comparisons (TWFE from BJS, SA from CS), which none of them affects: TWFE's ``forbidden`` (already-designated controls while effects
    grow) and ``weighting`` (batches weighted by the variance of their treatment dummy), and, with
    the controls, ``leak`` (the controls' coefficients are fit on designated city-years too, so
    effects that vary leak into them; for SA only when one designation year mixes batches). The
    shared mechanisms are told for TWFE and SA only when CS or BJS is biased too (otherwise they do
    not bite on this design, or cancel)."""
    k, d = s.knobs, s.design
    varies = k.effect_size != 0 and k.heterogeneity != 0
    out = []
    tol = yardstick(s)
    expected = s.estimates.set_index("estimator")["expected"]
    # TWFE is held against BJS (both compare with every untreated year), SA against CS (both
    # compare with the year before designation and never-designated cities)
    order = ("CS", "BJS") if estimator == "SA" else ("BJS", "CS")
    reference = next((expected[n] for n in order if n in expected), np.nan)
    own = estimator in expected and not abs(expected[estimator] - reference) < tol
    if estimator == "TWFE" and own:
        if k.growth != 0 and s.forbidden_weight >= 0.005:
            out.append("forbidden")
        if varies and len(d["cohorts"]) > 1:
            out.append("weighting")
        if k.controls and (varies or k.growth != 0):
            out.append("leak")
    if estimator == "SA" and own and k.controls and varies and d.get("mixed_cohorts", False):
        out.append("leak")
    # the shared mechanisms, unless the robust estimators show they do not bite here
    robust = [expected[n] for n in ("CS", "BJS") if n in expected]
    if estimator not in ("BJS", "CS") and all(abs(v - s.truth) < tol for v in robust):
        return out
    if k.anticipation > 0:
        out.append("anticipation")
    if k.controls:
        if k.gdp_feedback != 0:
            out.append("bad_control")
        if k.rail_growth != 0:
            out.append("rail_dynamics")
    else:
        out.append("confounding")
        if (k.rail_att != 0 or k.rail_growth != 0) and d["co_treated"]:
            out.append("co_treatment")
    return out


TEXT = {
    "en": {
        "one": "{name} is biased by {bias:+.3f} (expected {expected:.3f} against the true {truth:.3f}): {why}.",
        "many": "{names} are biased by {biases} (expected {expected} against the true {truth:.3f}): {why}.",
        "each": "{names} are each biased by {bias:+.3f} (expected {expected:.3f} against the true {truth:.3f}): {why}.",
        "fine_one": "{names} is not biased here: its expected value is within {tol:.3f} of the true {truth:.3f}.",
        "fine_many": "{names} are not biased here: their expected values are within {tol:.3f} of the true {truth:.3f}.",
        "fine_all": "No estimator is biased here: every expected value is within {tol:.3f} of the true {truth:.3f}.",
        "noise": "The rest is noise: this draw's estimates lie {lo:.1f} to {hi:.1f} standard errors from their expected values.",
        "failed": "{name} could not be estimated: {reason}.",
        "no_treated": "No city is designated: there is no effect to estimate.",
        "no_comparison": (
            "Every city is designated in the same year: with no comparison group, no estimator"
            " can tell the effect from the year effects."
        ),
        "and": " and ",
        "comma": ", ",
        "reason_sep": "; ",
        "forbidden": (
            "{share:.0%} of its weight is on forbidden comparisons, later batches against cities"
            " designated earlier whose effects still grow (expected {avg:.3f})"
        ),
        "weighting": (
            "it weights the batches by the variance of their treatment dummy rather than their"
            " size, and their effects differ"
        ),
        "leak": "the controls' coefficients, fit on designated city-years too, absorb part of the effect",
        "anticipation": (
            "the effect starts {years} before designation, so the comparison years before it are"
            " already affected"
        ),
        "year": ("year", "years"),
        "bad_control": (
            "GDP per capita, which designation raises, is a control (a bad control; the direct"
            " effect is {direct:.3f})"
        ),
        "rail_dynamics": "one rail dummy cannot absorb a growing rail effect",
        "confounding": (
            "without controls, the faster GDP growth and earlier broadband of the early-designated"
            " cities bend their trends"
        ),
        "co_treatment": "{n} designated cities also got a rail link, whose effect is credited to the zones",
        "unexplained": "a feature of these untreated outcomes",
    },
    "zh": {
        "one": "{name}有偏，偏差 {bias:+.3f}（期望值 {expected:.3f}，真实值 {truth:.3f}）：{why}。",
        "many": "{names}有偏，偏差分别为 {biases}（期望值 {expected}，真实值 {truth:.3f}）：{why}。",
        "each": "{names}均有偏，偏差均为 {bias:+.3f}（期望值 {expected:.3f}，真实值 {truth:.3f}）：{why}。",
        "fine_one": "{names}在此无偏：其期望值距真实值不到 {tol:.3f}（真实值 {truth:.3f}）。",
        "fine_many": "{names}在此无偏：其期望值距真实值都不到 {tol:.3f}（真实值 {truth:.3f}）。",
        "fine_all": "所有估计量在此均无偏：期望值距真实值都不到 {tol:.3f}（真实值 {truth:.3f}）。",
        "noise": "其余部分是噪声：本次抽样的估计值距其期望值 {lo:.1f} 至 {hi:.1f} 个标准误。",
        "failed": "{name}无法估计：{reason}。",
        "no_treated": "没有城市被设立为综试区：没有可估计的效应。",
        "no_comparison": "所有城市在同一年设立：没有对照组，任何估计量都无法把效应与年份效应分开。",
        "and": "和",
        "comma": "、",
        "reason_sep": "；",
        "forbidden": (
            "其 {share:.0%} 的权重落在“禁止的比较”上，即以较早设立、效应仍在增长的城市为对照的较晚批次"
            "（期望值 {avg:.3f}）"
        ),
        "weighting": "它按各批次处理变量的方差而非批次规模加权，而各批次效应不同",
        "leak": "控制变量的系数也用已设立的城市-年估计，吸收了部分效应",
        "anticipation": "效应在设立前 {years} 年就已开始，设立前用作比较的年份已受影响",
        "year": ("", ""),
        "bad_control": "人均 GDP 会因设立而提高，却被用作控制变量（坏控制；直接效应为 {direct:.3f}）",
        "rail_dynamics": "一个铁路虚拟变量无法吸收逐年增长的铁路效应",
        "confounding": "不加控制变量时，较早设立城市更快的人均 GDP 增长和更早的宽带普及使其趋势偏离",
        "co_treatment": "{n} 个设立城市同时开通了国际铁路货运，其效应被算作综试区的效应",
        "unexplained": "这组未处理结果本身的特征",
    },
}


def _join(items: list[str], t: dict) -> str:
    if len(items) <= 1:
        return "".join(items)
    return t["comma"].join(items[:-1]) + t["and"] + items[-1]


def _reason_text(code: str, s: Scene, t: dict, lang: str) -> str:
    k = s.knobs
    if code == "forbidden":
        avg = s.design.get("forbidden_expected", np.nan)
        return t["forbidden"].format(share=s.forbidden_weight, avg=avg)
    if code == "bad_control":
        return t["bad_control"].format(direct=s.truth_direct)
    if code == "anticipation":
        unit = t["year"][0 if k.anticipation == 1 else 1]
        return t["anticipation"].format(years=f"{k.anticipation} {unit}".strip())
    if code == "co_treatment":
        return t["co_treatment"].format(n=s.design["co_treated"])
    return t[code]


def explain(s: Scene, lang: str = "en") -> str:
    """Which estimators are biased (expected value against the truth, beyond :func:`yardstick`),
    why (the mechanisms of :func:`reasons`), which are not, and how far the noise took this draw."""
    t = TEXT[lang]
    nothing = s.design.get("nothing")
    if nothing:
        return t[nothing]
    table = s.estimates
    tol = yardstick(s)
    biased = [r for r in table.itertuples() if abs(r.bias) >= tol]
    fine = [r.estimator for r in table.itertuples() if abs(r.bias) < tol]
    groups: dict[tuple[str, ...], list] = {}
    for r in biased:
        groups.setdefault(tuple(reasons(s, r.estimator)) or ("unexplained",), []).append(r)
    parts = []
    for codes, rows in groups.items():
        why = t["reason_sep"].join(_reason_text(c, s, t, lang) for c in codes)
        if len(rows) == 1:
            r = rows[0]
            parts.append(
                t["one"].format(
                    name=r.estimator, bias=r.bias, expected=r.expected, truth=s.truth, why=why
                )
            )
        elif len({(f"{r.bias:+.3f}", f"{r.expected:.3f}") for r in rows}) == 1:
            parts.append(
                t["each"].format(
                    names=_join([r.estimator for r in rows], t),
                    bias=rows[0].bias,
                    expected=rows[0].expected,
                    truth=s.truth,
                    why=why,
                )
            )
        else:
            parts.append(
                t["many"].format(
                    names=_join([r.estimator for r in rows], t),
                    biases=_join([f"{r.bias:+.3f}" for r in rows], t),
                    expected=_join([f"{r.expected:.3f}" for r in rows], t),
                    truth=s.truth,
                    why=why,
                )
            )
    if fine:
        key = "fine_all" if not biased else "fine_one" if len(fine) == 1 else "fine_many"
        parts.append(t[key].format(names=_join(fine, t), tol=tol, truth=s.truth))
    if len(table):
        z = ((table["estimate"] - table["expected"]).abs() / table["std_error"]).to_numpy()
        parts.append(t["noise"].format(lo=float(np.min(z)), hi=float(np.max(z))))
    for name, reason in s.failed.items():
        parts.append(t["failed"].format(name=name, reason=reason))
    return (" " if lang == "en" else "").join(parts)
