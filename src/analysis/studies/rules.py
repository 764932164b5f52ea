"""The three rules of the binary studies (pilot zones, rail links; issue 18), each applied in one
place so that every estimator of a study sees the same covariates, is compared with the truth it
targets, and is inferred on at one clustering level.

**1. The estimand and the covariates** (:func:`study_data`). The headline answers "by how much did
designation raise a city's exports?": the TOTAL effect of the treatment, including what runs through
the controls the treatment moves. A control therefore enters only as pre-treatment information,
never with the post-treatment path of a variable the policy moves (Caetano, Callaway, Payne &
Rodrigues 2022, "Difference in differences with time-varying covariates"). params.yaml
``panel.control_rule`` (defaults and reasons in :data:`analysis.config.DEFAULT_CONTROL_RULE`)
says, per control:

* ``as_is``: the observed, time-varying control, for controls exports plausibly do not move.
  Default for log population: a prefecture's resident population responds to export jobs only
  slowly (migration over many years), and within the panel's few post-designation years the
  response is small next to its level.
* ``untreated_path`` (alias ``pre_trend``, its former name): on the city-years from a city's first
  treatment on, the control is replaced by its imputed untreated path (column
  ``<control>_untreated``; the observed value elsewhere): city effects, city linear trends and
  year effects fitted on the city-years untreated by every binary treatment of the study, predicted
  on the treated ones (:func:`untreated_path_columns`; the imputation of Borusyak, Jaravel & Spiess
  applied to the control). Default for log GDP per capita (exports are part of GDP: moved by
  construction; the synthetic DGP's ``gdp_export_feedback``), log FDI (the pilot zones are an
  opening-up policy that plausibly draws foreign investment) and the industry share (more goods
  exports raise the secondary sector's share). "First treatment" is the first year of ANY of the
  study's binary treatments (the treatment and the concurrent ones), so the concurrent treatments'
  effects are learnt with the controls on their untreated paths too (the cells of rule 2 then carry
  their total effects). A treated city with fewer than :data:`MIN_PRE_YEARS` untreated years of a
  ruled control has no trend to continue: it leaves the study (named, with the reason, in
  ``StudyData.left_out``; on the real dates: Chongqing, first rail service 2011). A year in which
  no city-year is untreated (every city treated by then: a panel without never-treated cities)
  teaches no year effect: its treated city-years leave the study, not the cities (as in the
  imputation estimator itself, which has nothing to impute them from; ``StudyData.years_left_out``).
  Until issue 18's
  held-out check the column was a city's own straight line through its pre-treatment years; on a
  concave common GDP path (the held-out DGP, China's national GDP per capita) that line overshot
  the untreated path by 0.10 and the pilot headline fell 3.7 SE short of the total effect; the year
  effects let the common path bend.

**Baseline covariates x year** (:func:`baseline_columns`, params.yaml ``panel.baseline_trends``,
default log GDP per capita): a city's baseline value of the control (its first panel year
untreated by every binary treatment), centred, times each year dummy but the first, in the
covariates of every estimator of the study (headline and decomposition): untreated exports may
trend differently by baseline income (parallel trends conditional on baseline GDP, designation
targeted on size and growth). On the held-out DGP (30 redraws) the pilot headline's bias was
-0.025 with the imputed path alone and -0.0002 (0.004) with the baseline x year columns too.

The review's Monte Carlo found the (former) pre-trend rule unbiased for the total effect on the
synthetic DGP, whose GDP paths are straight lines (bias -0.0013 (0.0014), coverage 94.5%), where
holding GDP at its observed path targets the direct effect and dropping GDP is confounded
(+0.021). The direct effect -- the controls ruled ``untreated_path`` held at their observed paths,
i.e. the effect that does not run through them -- is reported beside the headline as a
decomposition (``direct_covariates``), never as the headline.

**2. Concurrent binary treatments** (:func:`concurrent_columns`). Another staggered binary
treatment (rail in the pilot study, the pilot zones in the rail study, a user's extra policy) must
not leak into the treatment's counterfactual. Its treated city-years enter the untreated-outcome
model with one dummy per (cohort, event time) cell, which keeps them out of the estimation of the
city and year effects and imputes each cell's own effect into the counterfactual of a city-year
treated by both: its effects may differ by cohort and grow, as the pilot zones' do. A cell that
meets the main treatment must be learnt from city-years untreated by it in at least
:data:`MIN_CELL_CLUSTERS` of the study's inference clusters (rule 3: the provinces); when one is
not, the rule coarsens to one dummy per event time, then to one absorbing dummy (``level`` says
which, ``note`` why). A coefficient learnt from two to four clusters fits their residuals, and the
clustered variance cannot see its noise, although every treated city-year of the cell draws its
counterfactual from it. Under the real dates: the rail study gets the pilot zones' and Broadband
China's (cohort, event time) cells (each learnt from five provinces or more), the pilot study the
absorbing rail dummy (rail cities become pilots 3-10 years after their first service, so late rail
event times exist only on pilot city-years) and one absorbing Broadband China dummy (its 2015
cohort's late event times are learnt from four provinces or fewer). With one on/off pilot dummy
the rail headline was biased by +0.034 on a truth of 0.080 (review, finding 1). The Broadband
China study instead leaves out its designated city-years in the cells its controls cannot learn
and keeps the finest cells (:data:`CENSOR_UNSUPPORTED`, :func:`unsupported_rows`).
The count is issue 18's, after issue 19's ring design had shown the noise (below). Paired Monte
Carlo, 500 panels of the default DGP, seed 20240601 (the slow test's), without -> with the count:
pilot headline bias +0.0048 (MC s.e. 0.0012) -> +0.0049 (0.0010), coverage 93.6% -> 94.2%, mean
s.e. 0.0254 -> 0.0226 against an SD of 0.0275 -> 0.0233 (SE/SD 0.93 -> 0.97), paired difference
of the estimates +0.0001 (0.0006); direct effect +0.0036 (0.0012) -> +0.0037 (0.0011), 93.0% ->
94.0%, 0.0254 / 0.0274 -> 0.0227 / 0.0237 (SE/SD 0.93 -> 0.96), paired difference +0.0001
(0.0006); rail headline unchanged (+0.0034 (0.0028), 94.6%, SE/SD 0.96: its cells are learnt from
five provinces or more on every panel). Fewer cells cost no bias and remove a sixth of the
spread.
An estimator whose untreated-outcome model learns from fewer city-years than the headline's applies
the rule again on its own controls (:func:`concurrent_on_controls`): the ring design of the
spillover study (issue 19) keeps exposed city-years out of its controls, which left Broadband
China's late cells (2015 cohort, event times 5-8) learnt from 3-4 cities in 2-3 provinces while
30-34 treated city-years each drew their counterfactual from them. Before the count was every
study's, in 500 panels the ring design's direct effect had mean s.e. 0.0291 against an SD of
0.0331 (SE/SD 0.88, coverage 90.6%); with the cells coarsened by the count on its own controls
(one absorbing dummy and the dose column) 0.0258 against 0.0254 (1.01, 95.2%), the estimate
moving by +0.0005 (MC s.e. 0.0009) on the same panels. Since the count is the study's, the ring
design's controls coarsen nothing more on the default DGP (the study's cells are already those);
the second pass stays for panels whose cells the study learns from enough clusters and the ring
design's thinner controls do not.
A concurrent treatment whose effect grows with a dose the city brings (:data:`CONCURRENT_DOSE`:
Broadband China, whose effect rises with the broadband a city had the year before designation,
the dose of the coverage study's CGS curve) also enters as its on-dummy times that dose, centred:
the cells learn the effect of a city of average dose, the column how it changes with the dose.
Without it a study's treated cities whose dose differs from the other designated cities' keep
the difference in their counterfactual's error: the pilot cities bring more broadband (their
headline was biased upward), the China-Europe rail cities less (biased downward, which hid an
upward bias of its own). Monte Carlo on the same 60 default panels: pilot headline +0.0079 with
the cells alone, +0.0025 with the column (paired difference -0.0054, MC s.e. 0.0003; SD
unchanged, 0.024), against +0.0018 when the DGP has no designation effect at all; rail headline
+0.0007, +0.0093 and +0.0091; direct effect -0.0031, -0.0076 and -0.0081: with the column every
estimator lands where it would without the co-treatment. City-specific designation steps
instead moved the pilot headline by -0.0034 (0.0017) and added noise.

**3. Inference** (:func:`inference_rule`). One clustering level for a study, from the design:
the province, the coarsest level at which shocks are plausibly shared (provincial governments
select and support the pilot applicants, customs and trade policy are provincial, the synthetic
DGP has province-year shocks), when the panel has at least :data:`MIN_COARSE_CLUSTERS` provinces
(with fewer than :data:`FEW_COARSE_CLUSTERS` the reason says t(G-1) is approximate); the city
(the level of assignment) otherwise. Intervals and p-values use t(G-1), G the clusters of
that level. The choice is not a pre-test (the review: "the larger of the two SEs" is one, and
conservative when city clustering suffices); the score-variance test of MacKinnon, Nielsen & Webb
(2023, "Testing for the appropriate level of clustering in linear regression models", J.
Econometrics 235(2)) of city against province clustering is reported beside it as the data's
evidence (:func:`analysis.did.inference.cluster_level_test`), and the other level's interval as an
appendix entry. Every study (event-study bands, pre-trend tests, heterogeneity, HonestDiD,
randomization studentization) calls :func:`inference_rule` for its level.

The imputation (BJS) variance of a study's headline averages the treated effects over cells
(:func:`variance_cells`): cohort x event time with the leave-own-cluster-out means of BJS (2024,
App. A.6) when the typical cohort spans at least :data:`MIN_CELL_CLUSTERS` clusters (the pilot
zones: Monte Carlo coverage 94.0%); event time only, without leave-out, when cohorts are a few
cities each (the China-Europe Railway Express: cohorts of one to four cities, where leave-out means
from one or two other clusters inflate the variance, coverage 96.7-98.5% in 300 and 200
replications, against 94.7% (1.3) with event-time cells: Gardner's (2022) two-stage GMM variance,
conservative when effects differ across the pooled cohorts).

**The truth an estimator targets** (:func:`truth_for`): one function maps the covariates an
estimator uses to the truth it targets, ``direct`` when they include a control the data-generating
process lets the treatment move (the truth's ``mediators``: log GDP per capita when GDP responds to
exports) in its observed form, ``total`` otherwise; and it averages the truth over the treated
cities a study keeps (the truth's ``city_effects``), so a city left out by rule 1 leaves the
truth too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.config import CONTROL_RULE_ALIASES, DEFAULT_BASELINE_TRENDS, DEFAULT_CONTROL_RULE
from analysis.did.inference import critical_value, t_p_value

TREATMENTS = ["pilot", "rail", "broadband_china", "log_broadband"]
BINARY = {"pilot": "pilot_year", "rail": "rail_year", "broadband_china": "broadband_china_year"}
MEDIATORS = {"broadband_china": ["log_broadband"]}
"""Doses a treatment moves (its first stage, issue 20): they do not enter its own study as observed
covariates (the headline is the total effect of designation)."""
CONTROL_RULES = ("as_is", "untreated_path")
UNTREATED_SUFFIX = "_untreated"
BASELINE_INFIX = "_baseline_x_"
BASELINE_KEY = "baseline_trends"
"""A control rule mapping may carry the baseline-trend controls (params.yaml
``panel.baseline_trends``) under this key: the notebooks' one ``control_rule`` parameter brings
both settings of the covariates to every study (:func:`analysis.config.control_rule_parameter`)."""
MIN_PRE_YEARS = 3
"""Untreated years a ruled control needs in a treated city: a line through two points has no
residual to tell a trend from noise."""
CONCURRENT_LEVELS = ("cohort_event", "event", "static")
CONCURRENT_DOSE = {"broadband_china": "log_broadband"}
"""A concurrent treatment whose effect grows with a dose the city brings to it (Broadband China:
its broadband the year before designation, the dose of the coverage study's CGS curve): it also
enters as its on-dummy times the city's centred dose (rule 2)."""
COARSE_CLUSTER, FINE_CLUSTER = "province", "city_code"
MIN_COARSE_CLUSTERS = 5
"""Below this many provinces, province clusters cannot carry inference at all (the design check's
floor for the wild cluster bootstrap, MacKinnon & Webb 2017): the rule falls back to city clusters
and says so."""
FEW_COARSE_CLUSTERS = 12
"""Below this many provinces t(G-1) on province clusters is only approximate (Cameron, Gelbach &
Miller 2008; Webb weights for the wild bootstrap below 12): the reason says so. Falling back to
city clusters instead would ignore the province-level correlation, which over-rejects more."""

MIN_CELL_CLUSTERS = 5
"""Treated clusters a cohort needs, in the median cohort, for cohort x event-time variance cells
with leave-out means (:func:`variance_cells`); and the clusters a concurrent treatment's cell is
learnt from (rule 2: :func:`build_study_data`, :func:`concurrent_on_controls`)."""

CENSOR_UNSUPPORTED = ("broadband_china",)
"""Studies that leave out, instead of coarsening for, the treated city-years that meet a concurrent
cell their controls cannot learn (rule 2, :func:`unsupported_rows`). Broadband China (2014-2016)
meets the pilot zones' 2015 and 2016 cohorts (Hangzhou; the 12 cities of batch 2) from their
second year on, and the early China-Europe rail cohorts, only among designated cities: coarsening
made the pilot zones one absorbing dummy in that study, whose growing, batch-specific effects then
reached its counterfactual (noiseless default panel: 0.1249 against a truth of 0.1071; Monte
Carlo bias +0.019, 0.8 SD, coverage 89.5%). Leaving out the 136 designated city-years of those
cells (of 907; 17 cities) keeps every other cell at cohort x event time: noiseless 0.1044 against the
truth of the city-years kept, 0.1028 (0.1016 when the DGP has no pilot and rail effects). The
estimand is then the ATT over the designated city-years kept (``StudyData.censored``; the truth
follows, :func:`truth_for` ``exclude``). The pilot and rail studies coarsen: their Monte Carlo
rows cover (94.2%, 94.6%) and leaving out their rows would drop the rail cities' pilot years."""

UNIT, TIME = "city_code", "year"


# --- 1. the control rule ------------------------------------------------------------------------
def control_rule(rule: Mapping[str, str] | None = None) -> dict[str, str]:
    """params.yaml ``panel.control_rule`` completed with the defaults (a control not named keeps
    its default; a control the defaults do not know enters ``as_is``; ``pre_trend``, the rule's
    former name, reads as ``untreated_path``)."""
    out = {**DEFAULT_CONTROL_RULE, **dict(rule or {})}
    out.pop(BASELINE_KEY, None)
    out = {c: CONTROL_RULE_ALIASES.get(r, r) for c, r in out.items()}
    bad = {c: r for c, r in out.items() if r not in CONTROL_RULES}
    if bad:
        raise ValueError(f"panel.control_rule: unknown rule(s) {bad}; use one of {CONTROL_RULES}")
    return out


def baseline_trends(
    rule: Mapping | None = None, baseline: Sequence[str] | None = None
) -> list[str]:
    """The controls interacted with year: ``baseline`` when given, else the rule mapping's
    :data:`BASELINE_KEY` entry, else :data:`analysis.config.DEFAULT_BASELINE_TRENDS`."""
    if baseline is None:
        baseline = dict(rule or {}).get(BASELINE_KEY, DEFAULT_BASELINE_TRENDS)
    return list(baseline)


def first_treatment(panel: pd.DataFrame, cohort_cols: Sequence[str]) -> pd.Series:
    """Each city's first treatment year over ``cohort_cols`` (0 = never treated in the panel)."""
    years = panel.groupby(UNIT)[list(cohort_cols)].first().fillna(0).astype(int)
    first = years.where(years > 0).min(axis=1)
    return first.fillna(0).astype(int)


def _city_line_residuals(
    codes: np.ndarray, t: np.ndarray, fit: np.ndarray, z: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(intercept, slope, residual)`` of each column of ``z`` (n x m) on a city's own line in
    ``t`` over the ``fit`` rows: the city effect and city trend partialled out (Frisch-Waugh-Lovell,
    one 2 x 2 problem per city). A city with fewer than two distinct fitted years gets slope 0."""
    w = fit.astype(float)
    n = np.bincount(codes, w, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        tm = np.bincount(codes, w * t, minlength=k) / n
        dt = np.where(fit, t - tm[codes], 0.0)
        sxx = np.bincount(codes, dt * dt, minlength=k)
        zm = np.stack([np.bincount(codes, w * c, minlength=k) for c in z.T], axis=1) / n[:, None]
        sxz = np.stack([np.bincount(codes, dt * c, minlength=k) for c in z.T], axis=1)
        slope = np.where(sxx[:, None] > 1e-12, sxz / sxx[:, None], 0.0)
    resid = np.where(fit[:, None], z - zm[codes] - slope[codes] * dt[:, None], 0.0)
    intercept = zm - slope * tm[:, None]
    return intercept, slope, resid


def untreated_path_columns(
    panel: pd.DataFrame, controls: Sequence[str], first: pd.Series, min_pre: int = MIN_PRE_YEARS
) -> tuple[pd.DataFrame, dict[str, str], dict[str, str]]:
    """``(columns, left_out, years_left_out)``: ``<control>_untreated`` for each of ``controls`` -- the observed
    value on the city-years untreated by every treatment in ``first`` (each city's first treatment
    year, 0 = never), and from a city's ``first`` year on its imputed untreated path

        x_it = a_i + b_i t + c_t,

    city effects, city linear trends and year effects fitted on the untreated city-years (the
    imputation of Borusyak, Jaravel & Spiess applied to the control: Caetano et al. 2022 ask for its
    untreated path). The year effects let the common path bend, which a city's own straight line
    (the former ``pre_trend`` column) cannot: on a concave common GDP path that line overshot the
    untreated path by 0.10 log points and halved the pilot headline (the held-out check of issue
    18, tests/studies/test_heldout.py). ``left_out``: the treated cities without ``min_pre``
    untreated years of some control (city -> reason; their columns are NaN from ``first`` on).
    ``years_left_out``: the years with no untreated city-year to learn the year effect from
    (year -> reason); the treated city-years of those years are NaN (the study drops them).

    Written by hand: no FE routine of the project or its dependencies fits unit-specific slopes
    (did/fe.py absorbs unit and time effects; pyfixest has no varying-slope syntax), and the dense
    least squares of ~2 x cities + years columns would be rebuilt on every permutation of
    randomization inference (:class:`StudyStatistic`); Frisch-Waugh-Lovell takes the city lines out
    city by city and leaves a regression on the (years - 1) year dummies."""
    codes, units = pd.factorize(panel[UNIT])
    k = len(units)
    start = first.reindex(units).fillna(0).to_numpy()
    f = start[codes]
    t = panel[TIME].to_numpy(dtype=float)
    yidx, years = pd.factorize(panel[TIME], sort=True)
    post = (f > 0) & (t >= f)
    t0 = t - t.mean()  # centred: the city lines' intercepts stay well scaled
    out, left_out, years_out = {}, {}, {}
    for c in controls:
        x = panel[c].to_numpy(dtype=float)
        fit = ~post & np.isfinite(x)
        n_fit = np.bincount(codes[fit], minlength=k)
        fitted = fit & (n_fit[codes] >= min_pre)  # too few years carry no trend (and no weight)
        dummies = (yidx[:, None] == np.arange(1, len(years))[None, :]).astype(float)
        z = np.column_stack([np.where(fitted, x, 0.0), dummies])
        _, _, r = _city_line_residuals(codes, t0, fitted, z, k)
        learnt = np.concatenate([[True], (r[:, 1:] ** 2).sum(axis=0) > 1e-10])
        gamma = np.zeros(len(years))
        gamma[1:][learnt[1:]] = np.linalg.lstsq(r[:, 1:][:, learnt[1:]], r[:, 0], rcond=None)[0]
        year_effect = gamma[yidx]
        a, b, _ = _city_line_residuals(codes, t0, fitted, (x - year_effect)[:, None], k)
        path = a[codes, 0] + b[codes, 0] * t0 + year_effect
        ok_year = learnt[yidx]
        out[c + UNTREATED_SUFFIX] = np.where(post, np.where(ok_year, path, np.nan), x)
        for i in np.flatnonzero((start > 0) & (n_fit < min_pre)):
            left_out.setdefault(
                str(units[i]),
                f"{int(n_fit[i])} year(s) of {c} before its first treatment ({int(start[i])}): "
                f"its untreated path needs {min_pre}",
            )
        for y in sorted(set(years[yidx[post & ~ok_year]])):
            years_out.setdefault(
                str(int(y)),
                f"no city-year untreated in {int(y)} to learn the common path of {c} from: "
                "its treated city-years leave",
            )
    return pd.DataFrame(out, index=panel.index), left_out, years_out


def baseline_columns(
    panel: pd.DataFrame, controls: Sequence[str], first: pd.Series
) -> tuple[pd.DataFrame, dict[str, str]]:
    """``(columns, left_out)``: ``<control>_baseline_x_<year>`` for each of ``controls`` and each
    panel year but the first: a city's baseline value of the control, centred on the mean over
    cities, times the year dummy. In the untreated-outcome model they let untreated exports trend
    differently by baseline level (parallel trends conditional on baseline GDP per capita: the
    issue's "baseline covariates interacted with year"). The baseline is the city's value in the
    first panel year it is observed untreated by every treatment in ``first`` (pre-treatment
    information only); a treated city with no such year leaves (``left_out``)."""
    codes, units = pd.factorize(panel[UNIT])
    start = first.reindex(units).fillna(0).to_numpy()[codes]
    t = panel[TIME].to_numpy()
    years = sorted(set(t))
    pre = ~((start > 0) & (t >= start))
    out, left_out = {}, {}
    for c in controls:
        rows = panel.loc[pre & panel[c].notna().to_numpy(), [UNIT, TIME, c]]
        base = rows.sort_values(TIME).groupby(UNIT)[c].first()
        for city in sorted(
            set(panel.loc[start > 0, UNIT].astype(str)) - set(base.index.astype(str))
        ):
            left_out.setdefault(city, f"no year of {c} before its first treatment: no baseline")
        centred = panel[UNIT].map(base - base.mean()).to_numpy(dtype=float)
        for y in years[1:]:
            out[f"{c}{BASELINE_INFIX}{y}"] = centred * (t == y)
    return pd.DataFrame(out, index=panel.index), left_out


# --- 2. concurrent binary treatments ------------------------------------------------------------
@dataclass
class Concurrent:
    """How a concurrent binary treatment enters a study's untreated-outcome model."""

    treatment: str
    cohort: str
    level: str  # cohort_event | event | static
    columns: list[str]
    note: str

    def record(self) -> dict:
        return {
            "treatment": self.treatment,
            "level": self.level,
            "n_dummies": len(self.columns),
            "note": self.note,
        }


def _cells(panel: pd.DataFrame, cohort: str, level: str) -> np.ndarray:
    """The concurrent-treated cell of each row as an integer (-1 where untreated by it): cohort x
    100 + event time, event time, or 0 (one cell)."""
    g = panel[cohort].fillna(0).to_numpy(dtype=int)
    e = panel[TIME].to_numpy(dtype=int) - g
    on = (g > 0) & (e >= 0)
    cell = {"cohort_event": g * 100 + e, "event": e}.get(level, np.zeros_like(e))
    return np.where(on, cell, -1)


def _cell_name(name: str, level: str, cell: int) -> str:
    if level == "cohort_event":
        return f"{name}_g{cell // 100}_e{cell % 100}"
    return f"{name}_e{cell}"


def _learnt_cells(
    panel: pd.DataFrame, cells: np.ndarray, controls: np.ndarray, cluster: str | None
) -> set:
    """The cells of ``cells`` the ``controls`` rows can learn: any control city-year in the cell,
    or with ``cluster`` control city-years in at least :data:`MIN_CELL_CLUSTERS` of its clusters
    (a cell learnt from two or three clusters fits their residuals: the clustered variance
    cannot see its noise)."""
    on = controls & (cells >= 0)
    if cluster is None:
        return set(np.unique(cells[on]))
    n = pd.Series(panel[cluster].to_numpy()[on]).groupby(cells[on]).nunique()
    return set(n.index[n >= MIN_CELL_CLUSTERS])


def concurrent_columns(
    panel: pd.DataFrame,
    main_cohort: str,
    cohort: str,
    name: str,
    controls: np.ndarray | None = None,
    cluster: str | None = None,
) -> tuple[pd.DataFrame, Concurrent]:
    """Dummies of the concurrent treatment ``name`` (first year in ``cohort``) for the study of
    the treatment in ``main_cohort``: the finest level of :data:`CONCURRENT_LEVELS` at which every
    cell that meets a main-treated city-year also has a city-year untreated by the main treatment
    (where its effect is learnt). Columns ``<name>_g<cohort>_e<event time>`` or ``<name>_e<event
    time>``; at the ``static`` level the absorbing dummy ``<name>`` itself (its name in the panel:
    results read as before).

    ``controls``: the rows of the untreated-outcome model that uses the columns (default: those
    untreated by the main treatment); every other row meets the cells. ``cluster``: a cell counts
    as learnt only from controls in :data:`MIN_CELL_CLUSTERS` of its clusters (rule 2; the studies
    pass their inference cluster: :func:`build_study_data`, :func:`concurrent_on_controls`; None:
    one city-year suffices)."""
    if controls is None:
        g = panel[main_cohort].fillna(0).to_numpy()
        controls = ~((g > 0) & (panel[TIME].to_numpy() >= g))
    controls = np.asarray(controls, dtype=bool)
    lacking = (
        "occur only with the main treatment"
        if cluster is None
        else f"are learnt from fewer than {MIN_CELL_CLUSTERS} {cluster} clusters of the controls"
    )
    why = []
    for level in CONCURRENT_LEVELS:
        cells = _cells(panel, cohort, level)
        met = set(np.unique(cells[~controls])) - {-1}
        missing = met - _learnt_cells(panel, cells, controls, cluster)
        if level == "static" or not missing:
            break
        why.append(f"{level}: {len(missing)} cell(s) {lacking}")
    if level == "static":
        frame = pd.DataFrame({name: (cells >= 0).astype(float)}, index=panel.index)
        note = f"{name}: one absorbing dummy"
    else:
        labels = sorted(set(np.unique(cells)) - {-1})
        frame = pd.DataFrame(
            {_cell_name(name, level, lab): (cells == lab).astype(float) for lab in labels},
            index=panel.index,
        )
        what = "cohort x event time" if level == "cohort_event" else "event time"
        note = f"{name}: one dummy per {what} cell ({frame.shape[1]})"
    if why:
        note += " (finer levels lack support: " + "; ".join(why) + ")"
    dose = _concurrent_dose(panel, cohort, name, cells >= 0, controls)
    if isinstance(dose, str):
        note += f"; {dose}" if dose else ""
    else:
        frame[dose.name] = dose
        note += f"; x its centred {CONCURRENT_DOSE[name]} at its start ({dose.name})"
    return frame, Concurrent(name, cohort, level, list(frame.columns), note)


def concurrent_on_controls(
    panel: pd.DataFrame,
    covariates: Sequence[str],
    concurrent: Mapping[str, Concurrent],
    main_cohort: str,
    controls: np.ndarray,
    cluster: str,
) -> tuple[pd.DataFrame, list[str], dict[str, Concurrent]]:
    """``(panel, covariates, concurrent)``: rule 2 again for an estimator whose untreated-outcome
    model learns only from the ``controls`` rows of ``panel`` (the ring design: the city-years
    neither treated nor exposed), each cell learnt from :data:`MIN_CELL_CLUSTERS` of the
    ``cluster`` clusters (module docstring): the study's ``concurrent`` columns rebuilt by
    :func:`concurrent_columns`, in the panel and in place of the old ones in ``covariates``."""
    covariates = list(covariates)
    out = {}
    for key, old in concurrent.items():
        frame, new = concurrent_columns(
            panel, main_cohort, old.cohort, old.treatment, controls, cluster
        )
        at = min((covariates.index(c) for c in old.columns if c in covariates), default=None)
        if at is None:  # not among these covariates: nothing to replace
            continue
        rest = [c for c in covariates if c not in old.columns]
        covariates = rest[:at] + new.columns + rest[at:]
        panel = pd.concat([panel.drop(columns=list(frame.columns), errors="ignore"), frame], axis=1)
        out[key] = new
    return panel, covariates, out


def unsupported_rows(
    panel: pd.DataFrame, main_cohort: str, others: Mapping[str, str], cluster: str | None
) -> tuple[np.ndarray, dict[str, int]]:
    """``(rows, counts)``: the city-years treated by the main treatment (first year in
    ``main_cohort``) that meet a cohort x event-time cell of a concurrent treatment (``others``:
    name -> cohort column) which the city-years untreated by the main treatment do not learn from
    :data:`MIN_CELL_CLUSTERS` ``cluster`` clusters (rule 2), and their number per concurrent
    treatment. The studies of :data:`CENSOR_UNSUPPORTED` leave them out."""
    g = panel[main_cohort].fillna(0).to_numpy()
    controls = ~((g > 0) & (panel[TIME].to_numpy() >= g))
    rows, counts = np.zeros(len(panel), dtype=bool), {}
    for name, cohort in others.items():
        cells = _cells(panel, cohort, "cohort_event")
        met = set(np.unique(cells[~controls])) - {-1}
        missing = met - _learnt_cells(panel, cells, controls, cluster)
        hit = ~controls & np.isin(cells, sorted(missing))
        counts[name] = int(hit.sum())
        rows |= hit
    return rows, counts


def dose_before_start(
    panel: pd.DataFrame, cohort: str, column: str, first_year: bool = True
) -> pd.Series:
    """Each row's city's ``column`` in the year before its first year in ``cohort`` (NaN where
    untreated or blank): a dose not yet moved by the treatment. ``first_year``: a city treated
    from its first panel year takes that year's value (else NaN: the CGS curve needs a year
    before, :func:`analysis.studies.coverage.designation_dose_response`)."""
    g = panel[cohort].fillna(0)
    by_city = panel[(g > 0) & (panel[TIME] == g - 1)].set_index(UNIT)[column]
    if first_year:
        first = panel[g > 0].sort_values(TIME).groupby(UNIT)[column].first()
        by_city = by_city.combine_first(first)
    return panel[UNIT].map(by_city).where(g > 0)


def _concurrent_dose(panel, cohort, name, on, controls) -> pd.Series | str:
    """Rule 2's dose column of the concurrent treatment ``name`` (:data:`CONCURRENT_DOSE`): its
    on-dummy times the city's dose at its start, centred on the mean over its treated cities (a
    city with a blank dose gets the mean). A reason string instead where the treatment has no
    dose, the panel lacks it, or the column cannot be learnt from the ``controls`` city-years
    (those untreated by the main treatment, or an estimator's own)."""
    column = CONCURRENT_DOSE.get(name)
    if column is None:
        return ""
    if column not in panel.columns:
        return f"no {column} in this panel: no dose column"
    dose = dose_before_start(panel, cohort, column)
    treated = dose[panel[cohort].fillna(0) > 0].groupby(panel[UNIT]).first()
    centred = (dose - treated.mean()).fillna(0.0)
    values = pd.Series(np.where(on, centred, 0.0), index=panel.index, name=f"{name}_dose")
    learnt = on & controls
    if not learnt.any() or np.ptp(values.to_numpy()[learnt]) == 0:
        return f"{column} at its start does not vary where it is learnt: no dose column"
    return values


# --- the study's data ---------------------------------------------------------------------------
def treatment_covariates(design, treatment: str | None) -> list[str]:
    """The other treatments that vary in this panel (a binary treatment whose TWFE cannot run has
    no variation left after city and year effects; broadband only when the coverage study runs),
    in the order of ``TREATMENTS``."""
    keep = []
    for t in TREATMENTS:
        if t == treatment or t in MEDIATORS.get(treatment or "", []):
            continue
        if (
            t in BINARY
            and design.runs(t, "twfe")
            or t == "log_broadband"
            and design.coverage is None
        ):
            keep.append(t)
    return keep


@dataclass
class StudyData:
    """A binary study's estimation data: the panel (analysis sample, minus the cities the control
    rule leaves out, plus the built columns), the covariates of every estimator of the study
    (total effect) and those of the direct-effect decomposition."""

    panel: pd.DataFrame
    treatment: str
    cohort: str
    covariates: list[str]
    direct_covariates: list[str]
    control_rule: dict  # control -> rule, and BASELINE_KEY -> the baseline-trend controls asked for
    controls: dict[str, str]  # control -> the column the study uses
    baseline: dict[str, list[str]] = field(default_factory=dict)  # control -> its x-year columns
    concurrent: dict[str, Concurrent] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    years_left_out: dict[str, str] = field(default_factory=dict)  # year -> reason (treated rows)
    censored: dict[str, list[int]] = field(default_factory=dict)  # city -> treated years left out
    censored_by: dict[str, int] = field(default_factory=dict)  # concurrent treatment -> rows

    @property
    def treated_cities(self) -> list[str]:
        p = self.panel
        return sorted(p.loc[p[self.cohort] > 0, UNIT].astype(str).unique())

    def record(self) -> dict:
        """What the results say about the covariates (JSON-ready)."""
        ruled = [c for c, col in self.controls.items() if col != c]
        return {
            "estimand": "total",
            "control_rule": {c: self.control_rule.get(c, "as_is") for c in self.controls},
            "controls_untreated_path": ruled,
            "untreated_path_model": "city effect + city linear trend + year effects, fitted on "
            "the city-years untreated by every binary treatment of the study",
            "min_pre_years": MIN_PRE_YEARS,
            "baseline_trends": {c: len(cols) for c, cols in self.baseline.items()},
            "baseline_rule": "a city's value in its first untreated panel year, centred, times "
            "each year dummy but the first",
            "concurrent": {k: v.record() for k, v in self.concurrent.items()},
            "cities_left_out": dict(self.left_out),
            "years_left_out": dict(self.years_left_out),
            "censored_city_years": sum(len(v) for v in self.censored.values()),
            "censored_cities": len(self.censored),
            "censored_by": dict(self.censored_by),
        }


def study_data(
    panel: pd.DataFrame,
    design,
    treatment: str,
    rule: Mapping[str, str] | None = None,
    baseline: Sequence[str] | None = None,
) -> StudyData:
    """The covariates of the binary study of ``treatment`` (rules 1 and 2 of the module docstring)
    on ``panel`` (the design check's analysis sample): the usable controls by ``rule``
    (params.yaml ``panel.control_rule``), the concurrent binary treatments by
    :func:`concurrent_columns`, broadband (when it varies) as observed, and the ``baseline``
    controls (params.yaml ``panel.baseline_trends``; None: :func:`baseline_trends` of ``rule``)
    interacted with year (:func:`baseline_columns`)."""
    return build_study_data(
        panel,
        treatment,
        design.controls_used,
        treatment_covariates(design, treatment),
        rule,
        baseline,
    )


def build_study_data(
    panel: pd.DataFrame,
    treatment: str,
    controls: Sequence[str],
    others: Sequence[str],
    rule: Mapping[str, str] | None = None,
    baseline: Sequence[str] | None = None,
    cluster: str | None = None,
) -> StudyData:
    """:func:`study_data` from its ingredients: the usable ``controls`` and the ``others``
    treatments that vary (binary ones get :func:`concurrent_columns`, each cell learnt from
    :data:`MIN_CELL_CLUSTERS` ``cluster`` clusters; None: the study's inference cluster,
    :func:`inference_rule`; the rest enter as observed); ``baseline``: the controls interacted with
    year (only those among ``controls``; None: :func:`baseline_trends` of ``rule``)."""
    requested = baseline_trends(rule, baseline)
    base_controls = [c for c in requested if c in controls]
    rule = control_rule(rule)
    cohort = BINARY[treatment]
    binary_others = [o for o in others if o in BINARY]
    continuous = [o for o in others if o not in BINARY]
    controls = list(controls)
    ruled = [c for c in controls if rule.get(c, "as_is") == "untreated_path"]
    first = first_treatment(panel, [cohort] + [BINARY[o] for o in binary_others])
    built, left_out, years_out = untreated_path_columns(panel, ruled, first)
    base, base_left = baseline_columns(panel, base_controls, first)
    left_out = {**base_left, **left_out}
    built = pd.concat([built, base], axis=1)
    data = pd.concat([panel.drop(columns=list(built.columns), errors="ignore"), built], axis=1)
    if left_out:
        data = data[~data[UNIT].astype(str).isin(left_out)]
    if years_out:  # the treated city-years of a year no untreated city-year can teach
        first_of = data[UNIT].map(first).fillna(0).to_numpy()
        post = (first_of > 0) & (data[TIME].to_numpy() >= first_of)
        data = data[~(post & data[TIME].astype(int).astype(str).isin(years_out).to_numpy())]
    data = data.reset_index(drop=True)
    concurrent, dummies = {}, []
    cluster = cluster or inference_rule(data).cluster
    censored, censored_by = {}, {}
    if treatment in CENSOR_UNSUPPORTED and binary_others:
        rows, censored_by = unsupported_rows(
            data, cohort, {o: BINARY[o] for o in binary_others}, cluster
        )
        censored = {
            str(c): sorted(int(t) for t in ts) for c, ts in data.loc[rows].groupby(UNIT)[TIME]
        }
        data = data[~rows].reset_index(drop=True)
    for o in binary_others:
        frame, conc = concurrent_columns(data, cohort, BINARY[o], o, cluster=cluster)
        data = pd.concat([data.drop(columns=list(frame.columns), errors="ignore"), frame], axis=1)
        concurrent[o] = conc
        dummies += conc.columns
    columns = {c: c + UNTREATED_SUFFIX if c in ruled else c for c in controls}
    by_control = {c: [x for x in base.columns if x.startswith(c + BASELINE_INFIX)]
                  for c in base_controls}  # fmt: skip
    base_cols = list(base.columns)
    return StudyData(
        panel=data,
        treatment=treatment,
        cohort=cohort,
        covariates=dummies + continuous + [columns[c] for c in controls] + base_cols,
        direct_covariates=dummies + continuous + controls + base_cols,
        control_rule={**rule, BASELINE_KEY: requested},
        controls=columns,
        baseline=by_control,
        concurrent=concurrent,
        left_out=left_out,
        years_left_out=years_out,
        censored=censored,
        censored_by=censored_by,
    )


@dataclass(frozen=True)
class StudyStatistic:
    """``data -> (BJS ATT, clustered s.e. with the headline's variance cells)`` with the study's
    covariates rebuilt on ``data`` (:func:`build_study_data`): the statistic of randomization
    inference, where the permuted treatment dates move the untreated paths, the baselines and the
    concurrent cells with them (the covariates are part of the statistic). Picklable."""

    treatment: str
    controls: tuple[str, ...]
    others: tuple[str, ...]
    rule: tuple[tuple[str, str], ...]
    cluster: str
    yname: str = "log_exports"
    baseline: tuple[str, ...] = DEFAULT_BASELINE_TRENDS

    def __call__(self, data: pd.DataFrame) -> tuple[float, float]:
        from analysis.did.randomization import bjs_statistic

        sd = build_study_data(
            data, self.treatment, self.controls, self.others, dict(self.rule), self.baseline,
            self.cluster,
        )  # fmt: skip
        cells = variance_cells(sd.panel, sd.cohort, self.cluster)  # as the headline's SE
        stat = bjs_statistic(
            self.yname, TIME, UNIT, sd.cohort, sd.covariates, cluster=self.cluster,
            **imputation_options(cells),
        )  # fmt: skip
        return stat(sd.panel)


def study_statistic(
    sd_or_design, treatment: str, rule, cluster: str, baseline: Sequence[str] | None = None
) -> StudyStatistic:
    """The :class:`StudyStatistic` of a study (its design check, the control rule, the cluster,
    the baseline-trend controls)."""
    design = sd_or_design
    return StudyStatistic(
        treatment,
        tuple(design.controls_used),
        tuple(treatment_covariates(design, treatment)),
        tuple(sorted(control_rule(rule).items())),
        cluster,
        baseline=tuple(baseline_trends(rule, baseline)),
    )


# --- the truth an estimator targets -------------------------------------------------------------
def mediators(truth: dict | None, key: str) -> set[str]:
    """The controls the data-generating process lets ``key`` move (the truth's ``mediators``;
    a truth file without the key but with a direct effect: log GDP per capita)."""
    truth = truth or {}
    if "mediators" in truth:
        return set(truth["mediators"])
    block = truth.get(key) or {}
    direct = block.get("att_overall_direct")
    return {"log_gdp_pc"} if direct is not None and direct != block.get("att_overall") else set()


def estimand_of(truth: dict | None, key: str, covariates: Sequence[str]) -> str:
    """``direct`` when ``covariates`` hold a mediator of the truth in its observed form (the model
    conditions on it), ``total`` otherwise."""
    return "direct" if mediators(truth, key) & set(covariates) else "total"


def truth_for(
    truth: dict | None,
    key: str,
    covariates: Sequence[str],
    cities: Sequence[str] | None = None,
    target: str | None = None,
    exclude: Mapping[str, Sequence[int]] | None = None,
) -> dict | None:
    """The truth an estimator with ``covariates`` targets, over the treated ``cities`` it
    estimates (default: all): ``{"target", "att_overall", "att_by_event_time", "att_gt",
    "att_by_cohort", "n_cities"}`` in the shape of the truth file's block, or None without a truth.
    ``target`` (``total`` / ``direct``) overrides the rule, for reporting the other truth beside
    an estimator's own. ``exclude``: city -> treated years the study leaves out
    (``StudyData.censored``), out of the truth too.

    From the truth's ``city_effects`` (total effects; direct = total / ``total_over_direct``)
    when it has them; otherwise from its aggregate effects, scaled by direct / total overall for
    the direct target (and then for all cities only)."""
    block = (truth or {}).get(key)
    if not block or block.get("att_overall") is None:
        return None
    target = target or estimand_of(truth, key, covariates)
    by_city = block.get("city_effects")
    if by_city:
        scale = 1.0 / float(block.get("total_over_direct", 1.0)) if target == "direct" else 1.0
        keep = (
            by_city if cities is None else {c: by_city[c] for c in map(str, cities) if c in by_city}
        )
        exclude = exclude or {}
        rows = [
            (v["cohort"], e, scale * float(x))
            for c, v in keep.items()
            for e, x in enumerate(v["effects"])
            if v["cohort"] + e not in exclude.get(c, ())
        ]
        if not rows:
            return None
        frame = pd.DataFrame(rows, columns=["g", "e", "tau"])
        frame["t"] = frame["g"] + frame["e"]
        gt = frame.groupby(["g", "t"])["tau"].mean()
        return {
            "target": target,
            "att_overall": float(frame["tau"].mean()),
            "att_by_event_time": {
                str(int(e)): float(v) for e, v in frame.groupby("e")["tau"].mean().items()
            },
            "att_gt": [
                {"cohort": int(g), "year": int(t), "att": float(v)} for (g, t), v in gt.items()
            ],
            "att_by_cohort": {
                str(int(g)): float(v) for g, v in frame.groupby("g")["tau"].mean().items()
            },
            "n_cities": len(keep),
        }
    total = float(block["att_overall"])
    scale = 1.0
    if target == "direct":
        scale = float(block.get("att_overall_direct", total)) / total if total else 1.0
    return {
        "target": target,
        "att_overall": scale * total,
        "att_by_event_time": {
            k: scale * float(v) for k, v in (block.get("att_by_event_time") or {}).items()
        },
        "att_gt": [{**r, "att": scale * float(r["att"])} for r in block.get("att_gt") or []],
        "att_by_cohort": {
            k: scale * float(v) for k, v in (block.get("att_by_cohort") or {}).items()
        },
        "n_cities": None,
    }


# --- 3. inference -------------------------------------------------------------------------------
@dataclass(frozen=True)
class InferenceRule:
    """The clustering level of a study and its t(G-1) inference."""

    cluster: str
    n_clusters: int
    other: str | None  # the other level (appendix), None when the panel has only one
    reason: str

    def critical_value(self, alpha: float = 0.05) -> float:
        return critical_value(alpha, self.n_clusters)

    def interval(self, estimate: float, se: float, alpha: float = 0.05) -> dict:
        """``{"std_error", "critical_value", "conf_low", "conf_high", "p_value", "cluster",
        "n_clusters"}`` for ``estimate`` with standard error ``se`` at this level."""
        crit = self.critical_value(alpha)
        return {
            "std_error": float(se),
            "cluster": self.cluster,
            "n_clusters": self.n_clusters,
            "critical_value": crit,
            "conf_low": float(estimate - crit * se),
            "conf_high": float(estimate + crit * se),
            "p_value": t_p_value(estimate / se, self.n_clusters) if se > 0 else float("nan"),
        }

    def record(self) -> dict:
        return {
            "cluster": self.cluster,
            "n_clusters": self.n_clusters,
            "other": self.other,
            "reason": self.reason,
            "critical_value": self.critical_value(),
        }


def inference_rule(panel: pd.DataFrame, level: str = COARSE_CLUSTER) -> InferenceRule:
    """The study's clustering level (rule 3 of the module docstring) on ``panel``: ``level`` (the
    provinces; a design may ask for another grouping, e.g. params.yaml's ``spillover.cluster``)
    when the panel has enough of its clusters to carry t(G-1) inference, else the cities."""
    n_fine = int(panel[FINE_CLUSTER].nunique())
    if level == FINE_CLUSTER:
        return InferenceRule(FINE_CLUSTER, n_fine, None, "clustered by city, as asked")
    groups = "provinces" if level == COARSE_CLUSTER else f"{level} groups"
    name = "province" if level == COARSE_CLUSTER else level
    if level not in panel.columns or panel[level].nunique() < 2:
        return InferenceRule(
            FINE_CLUSTER, n_fine, None, f"the panel has no {groups}: clustered by city"
        )
    n_coarse = int(panel[level].nunique())
    if n_coarse < MIN_COARSE_CLUSTERS:
        return InferenceRule(
            FINE_CLUSTER,
            n_fine,
            level,
            f"only {n_coarse} {groups} (< {MIN_COARSE_CLUSTERS}): {name} clusters cannot carry "
            f"inference; clustered by city (the level of assignment), which ignores shocks shared "
            f"within {groups}",
        )
    reason = (
        f"clustered by {name} ({n_coarse}), the coarsest level at which shocks are plausibly "
        "shared (provincial selection and support of the designated cities, provincial trade "
        "shocks); by design, not by a pre-test"
        if level == COARSE_CLUSTER
        else f"clustered by {name} ({n_coarse}), as asked"
    )
    if n_coarse < FEW_COARSE_CLUSTERS:
        reason += f"; with {n_coarse} clusters t(G-1) is approximate: see the wild bootstrap"
    return InferenceRule(level, n_coarse, FINE_CLUSTER, reason)


def variance_cells(panel: pd.DataFrame, cohort: str, cluster: str) -> dict:
    """The cells of the BJS variance's effect averages for a study with ``cohort`` clustered by
    ``cluster`` (module docstring): ``{"avg_effects_by", "leaveout", "median_cohort_clusters",
    "reason"}``; ``avg_effects_by`` and ``leaveout`` go to :func:`analysis.did.imputation.
    imputation`."""
    treated = panel.loc[panel[cohort] > 0]
    per_cohort = treated.groupby(cohort)[cluster].nunique() if len(treated) else pd.Series([0])
    median = float(per_cohort.median())
    if median >= MIN_CELL_CLUSTERS:
        return {
            "avg_effects_by": ["cohort", "horizon"],
            "leaveout": True,
            "median_cohort_clusters": median,
            "reason": f"cohorts span {median:g} {cluster} clusters (median): cohort x event-time "
            "cells with leave-own-cluster-out means (BJS 2024, App. A.6)",
        }
    return {
        "avg_effects_by": ["horizon"],
        "leaveout": False,
        "median_cohort_clusters": median,
        "reason": f"cohorts span {median:g} {cluster} clusters (median, fewer than "
        f"{MIN_CELL_CLUSTERS}): event-time cells pooling the cohorts, without leave-out (leave-out "
        "means from one or two other clusters over-state the variance)",
    }


def imputation_options(cells: Mapping) -> dict:
    """The keyword arguments of :func:`analysis.did.imputation.imputation` (and of the BJS
    routines built on it) for :func:`variance_cells` ``cells``: ``leaveout``, ``avg_effects_by``."""
    return {"leaveout": bool(cells["leaveout"]), "avg_effects_by": tuple(cells["avg_effects_by"])}
