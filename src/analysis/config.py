"""Project paths and the typed study configuration.

params.yaml is the single source of the study's values; the frozen dataclasses below mirror every
section of it and hold the defaults (a key missing from params.yaml takes the default here).
:func:`load_config` validates the file against them: an unknown or misspelt key and a value of the
wrong type are one-line errors (``error: params.yaml: unknown key 'a.b' (did you mean 'c'?)``).

Inputs (data/reference, data/raw) and products (data/interim, data/processed, output/, reports/)
are kept strictly apart.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# ANALYSIS_ROOT lets the pipeline test run the whole DAG in a temporary copy of the project.
ROOT = Path(os.environ.get("ANALYSIS_ROOT", Path(__file__).resolve().parents[2])).resolve()
DATA = ROOT / "data"
REFERENCE = DATA / "reference"
RAW = DATA / "raw"
INTERIM = DATA / "interim"
PROCESSED = DATA / "processed"
OUTPUT = ROOT / "output"
FIGURES = OUTPUT / "figures"
TABLES = OUTPUT / "tables"
RESULTS = OUTPUT / "results"
NOTEBOOKS_OUT = OUTPUT / "notebooks"
REPORTS = ROOT / "reports"
PARAMS = ROOT / "params.yaml"

YearRule = Literal["approval", "following", "midyear"]
Cluster = Literal["city_code", "province"]
# a study's SEs: "headline" = the study's one rule (analysis.studies.rules.inference_rule), or a
# column that overrides it (the results say so)
StudyCluster = Literal["headline", "city_code", "province"]
Estimator = Literal["cs", "sa", "bjs"]
# the design notebook's estimators: the binary studies' four and their headline (analysis.studies.power)
PowerEstimator = Literal["twfe", "cs", "sa", "bjs", "headline"]
# the specification curve's dimensions; "outcome" and "cluster" take ONE value (the curve's
# outcome and SE clustering: fixed choices, not dimensions; see studies/robustness/spec_curve.py)
SpecCurveDimension = Literal["estimator", "controls", "outcome", "cluster"]


# --- the schema: one dataclass per section of params.yaml ------------------------------------


@dataclass(frozen=True)
class DataConfig:
    source: Literal["synthetic", "file"] = "synthetic"
    file: str | tuple[str, ...] | None = None  # a file, a folder or a list of files in data/raw
    column_map: str | None = None


# How each control enters the binary studies' covariates (analysis.studies.rules): the headline is
# the TOTAL effect of designation, so a control the policy plausibly moves enters only through
# pre-treatment information. "as_is": the observed, time-varying control (for controls exports do
# not move); "untreated_path": on the city-years from a city's first treatment on, the control is
# replaced by its imputed untreated path (city effect + city linear trend + year effects fitted on
# the untreated city-years). "pre_trend" (the rule's former name) is read as "untreated_path".
ControlName = Literal["log_gdp_pc", "log_population", "log_fdi", "industry_share_pct"]
ControlRule = Literal["as_is", "untreated_path", "pre_trend"]
CONTROL_RULE_ALIASES: dict[str, str] = {"pre_trend": "untreated_path"}
DEFAULT_CONTROL_RULE: dict[str, str] = {
    "log_gdp_pc": "untreated_path",  # exports are part of GDP: moved by construction
    "log_population": "as_is",  # prefecture population moves slowly; not plausibly moved
    "log_fdi": "untreated_path",  # an opening-up policy plausibly attracts foreign investment
    "industry_share_pct": "untreated_path",  # more goods exports raise the secondary sector's share
}
# Controls whose baseline value (a city's first untreated panel year) interacted with year enters
# every binary study: parallel trends conditional on baseline income (studies/rules.py)
DEFAULT_BASELINE_TRENDS: tuple[str, ...] = ("log_gdp_pc",)


@dataclass(frozen=True)
class PanelConfig:
    first_year: int = 2010
    last_year: int = 2023
    # a control observed for fewer city-years than this share is dropped (design check)
    min_control_share: float = 0.8
    # control -> as_is | untreated_path (alias pre_trend); a control not named keeps its default (DEFAULT_CONTROL_RULE)
    control_rule: dict[ControlName, ControlRule] = field(
        default_factory=lambda: dict(DEFAULT_CONTROL_RULE)
    )
    # controls interacted (baseline value x year) in every binary study; [] for none
    baseline_trends: tuple[ControlName, ...] = DEFAULT_BASELINE_TRENDS

    def __post_init__(self) -> None:
        rule = {**DEFAULT_CONTROL_RULE, **self.control_rule}
        rule = {c: CONTROL_RULE_ALIASES.get(r, r) for c, r in rule.items()}
        object.__setattr__(self, "control_rule", rule)


@dataclass(frozen=True)
class TreatmentConfig:
    include_county_units: bool = True
    # midyear: approved Jan-Jun -> that year, Jul-Dec -> the next. Batches 4 and 7 (57 cities) were
    # approved on 15 Dec 2019 and 14 Nov 2022: coding them treated in the approval year assigns a
    # full year of exposure they could not have had (data/README.md). approval / following: robustness.
    year_rule: YearRule = "midyear"
    pilot_zones_file: str | None = None
    rail_links_file: str | None = None


@dataclass(frozen=True)
class NetworkDGPConfig:
    """params.yaml ``synthetic.network`` (issue 20): the network doses and the Broadband China
    designation of the synthetic panel (data/synthetic.py, "Network block")."""

    # broadband -> exports: city elasticity broadband_elasticity x (1 + elasticity_sd z_i), z_i
    # correlated (selection_on_gains) with how early the city's broadband diffuses
    elasticity_sd: float = 0.5
    # 0 by default: with 0.6 (gainers adopt faster) the pilot-zone headline, which holds broadband
    # fixed with one slope, is biased by -0.02 on a noiseless panel (data/README.md): a stress
    # scenario. Selection on gains of the designation effect (designation_selection) stays on.
    selection_on_gains: float = 0.0
    mobile_elasticity: float = 0.05  # exports on log mobile subscribers per 100 (homogeneous)
    # first stage of the designation: subscribers per 100 added (half in the designation year)
    designation_broadband: float = 4.0
    designation_mobile: float = 6.0
    # designation effect on log exports: h(D) (1 + selection (D - m) / s + v), h(d) =
    # scale log(1 + d / half_dose), D = broadband per 100 the year before designation
    designation_scale: float = 0.08
    designation_half_dose: float = 10.0
    designation_selection: float = 0.3
    designation_city_sd: float = 0.15


@dataclass(frozen=True)
class SyntheticConfig:
    seed: int = 20150307
    n_cities: int | None = None
    pilot_att_by_batch: dict[int, float] = field(
        default_factory=lambda: {1: 0.15, 2: 0.12, 3: 0.10, 4: 0.08, 5: 0.06, 6: 0.05, 7: 0.04}
    )
    pilot_att_growth: float = 0.03
    rail_att: float = 0.08
    rail_att_growth: float = 0.0
    growth_cap: int = 5
    broadband_elasticity: float = 0.15
    # an honest DGP, calibrated in data/README.md ("The synthetic panel"): volatile, persistent,
    # fat-tailed city shocks, a province-year component, GDP that contains exports, no forced
    # displacement, effects that start when the coding says
    noise_sd: float = 0.18
    noise_rho: float = 0.6
    shock_df: float | None = 4.0
    province_year_sd: float = 0.08
    gdp_export_feedback: float = 0.1
    # idiosyncratic city-level effect heterogeneity: each treated city's effects times 1 + N(0, sd)
    effect_city_sd: float = 0.15
    year_effects: Literal["calibrated_after_effects", "untreated"] = "untreated"
    effective_timing: Literal["approval", "coding_rule"] = "coding_rule"
    # issue 19: the China-Laos corridor's own effect (the China-Europe Railway Express keeps
    # rail_att and rail_att_growth), and the pilot zones' spillover on untreated cities within
    # pilot_spillover_km of a city whose pilot effect has started (data/README.md)
    laos_att: float = 0.10
    pilot_spillover: float = -0.01
    pilot_spillover_km: float = 100.0
    network: NetworkDGPConfig = field(default_factory=NetworkDGPConfig)


@dataclass(frozen=True)
class OverviewConfig:
    overview_year: int = 2019


@dataclass(frozen=True)
class EventStudyConfig:
    """A binary treatment's notebook (pilot_zones, rail_links)."""

    window: tuple[int, int] = (-5, 5)
    cluster: StudyCluster = "headline"
    estimators: tuple[Estimator, ...] = ("cs", "sa", "bjs")
    ri_draws: int = 0  # randomization inference on the studentized headline ATT; 0 disables
    ri_seed: int = 20240601


@dataclass(frozen=True)
class RailLinksConfig(EventStudyConfig):
    """The rail notebook (issue 19): the China-Europe Railway Express is its study; with ~13
    treated cities in ~12 provinces its inference is built for few treated clusters."""

    ri_draws: int = 199  # randomization inference: a sensitivity check here
    wild_draws: int = 9999  # restricted wild cluster bootstrap of the ATT and the pre-trend tests
    wild_cluster: Cluster = "province"
    wild_weights: Literal["webb", "rademacher", "mammen", "normal"] = "webb"
    ct_draws: int = 9999  # Conley-Taber null draws
    mde_power: float = 0.8  # power of the stated minimum detectable effect (5% two-sided test)
    seed: int = 20240601  # the bootstrap's and Conley-Taber's draws


@dataclass(frozen=True)
class CorridorConfig:
    """The China-Laos corridor notebook (issue 19): synthetic DiD for the corridor prefectures."""

    # donors: never_treated = no pilot zone and no rail link within the panel years;
    # no_rail = every city without a rail link (pilot zones included: a sensitivity check whose
    # donors carry growing pilot effects)
    donors: Literal["never_treated", "no_rail"] = "never_treated"
    # the outcome net of the controls and of the pilot zones' event-time effects (estimated on
    # the untreated city-years), as R synthdid's covariate residualisation; none = raw log exports
    adjust: Literal["controls_and_pilot", "none"] = "controls_and_pilot"
    min_post_years: int = 1
    min_pre_years: int = 4
    # in-space placebos: random sets of as many donors as corridor cities (the SDID placebo SE,
    # Arkhangelsky et al. 2021, Algorithm 4), and same-province sets (the corridor lies in one
    # province: its province-year shocks); each set re-solves the weights (~0.13 s on 2 cores)
    placebo_draws: int = 200
    placebo_sets_per_province: int = 10
    mde_power: float = 0.8
    seed: int = 20240601


@dataclass(frozen=True)
class SimulationConfig:
    n_reps: int = 150  # per design; MC s.e. of a 95% coverage ~1.8 points (measured cost: README)
    sim_seed: int = 1
    n_jobs: int = 2


@dataclass(frozen=True)
class DesignConfig:
    """The design notebook: power and minimum detectable effects on the panel in use
    (analysis.studies.power)."""

    n_reps: int = 60  # simulated panels (the same draws for every estimator and effect shape)
    # fewer for the estimators beside the headline (the first of the same draws), for a run of
    # about 30 s: the rail study's control-adjusted CS runs one CS per covariate (34 with the
    # pilot-zone cells), 10-20 times the cost of a BJS fit
    reps_by_estimator: dict[PowerEstimator, int] = field(
        default_factory=lambda: {"cs": 10, "sa": 10, "bjs": 20}
    )
    seed: int = 20240601
    n_jobs: int = 2
    estimators: tuple[PowerEstimator, ...] = ("twfe", "cs", "sa", "bjs", "headline")


@dataclass(frozen=True)
class NetworkCoverageConfig:
    n_bins: int = 6
    cluster: StudyCluster = "headline"
    # issue 20: the Broadband China event study's window and the CGS bootstrap
    window: tuple[int, int] = (-5, 5)
    cgs_boot: int = 999
    cgs_seed: int = 20240601


@dataclass(frozen=True)
class DRConfig:
    # baseline covariates of the doubly-robust CS ATT: city means before the first designation
    covariates: tuple[str, ...] = ("log_gdp_pc", "log_population", "log_fdi", "industry_share_pct")


@dataclass(frozen=True)
class HeterogeneityConfig:
    dimensions: tuple[Literal["region", "coastal", "batch", "size"], ...] = (
        "region",
        "coastal",
        "batch",
        "size",
    )
    size_bins: int = 3


@dataclass(frozen=True)
class HonestDiDConfig:
    # event times of the clean event study (analysis.studies.robustness.sensitivity): those in
    # the window reached by at least min_cohorts cohorts, contiguous around e = -1; no bins
    window: tuple[int, int] = (-5, 5)
    min_cohorts: int = 2
    target: Literal["average", "first"] = "average"
    # relative magnitudes (Delta^RM): 1 = post-period violations as large as the largest pre one
    Mbarvec: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)
    # smoothness (Delta^SD): M as multiples of the largest pre-period slope change (benchmark)
    M_multiples: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0)
    Mvec: tuple[float, ...] | None = None  # absolute M values instead of M_multiples
    grid_points: int = 1000
    type: Literal["both", "smoothness", "relative_magnitude"] = "both"


@dataclass(frozen=True)
class SpecCurveConfig:
    # overrides of analysis.studies.robustness.spec_curve.DEFAULT_OPTIONS
    options: dict[SpecCurveDimension, tuple[str, ...]] = field(default_factory=dict)
    # wild-bootstrap null draws of the joint test (0 = none): each specification is estimated
    # G + 1 times whatever their number (linearity), so 999 cost what 29 did (~16 s on 2 cores)
    draws: int = 999
    # SEs of every specification: "headline" (the study's clustering level,
    # analysis.studies.rules.inference_rule, as the headline's) or a cluster column
    cluster: str = "headline"


@dataclass(frozen=True)
class ConleyConfig:
    """Conley spatial SEs of the TWFE foil and event study (issue 19): cutoffs well inside the map
    (the pooled form collapses as the cutoff approaches it; analysis.did.conley)."""

    cutoffs_km: tuple[float, ...] = (100.0, 200.0, 300.0)
    window: tuple[int, int] = (-5, 5)


@dataclass(frozen=True)
class SpilloverConfig:
    """The pilot zones' spatial spillovers (issue 19): ring design and its Monte Carlo."""

    rings: tuple[float, ...] = (0.0, 50.0, 100.0)  # km: bands [0, 50), [50, 100); controls beyond
    cluster: Cluster = "province"
    mc_reps: int = 200  # simulated panels (0 = no Monte Carlo); make test-slow runs 500
    mc_seed: int = 19


@dataclass(frozen=True)
class MultipleTestingConfig:
    # stepdown adjusted p-values (analysis.did.stepdown) across the heterogeneity dimensions' tests
    # and across the three treatments' headline tests: draws of the cluster multiplier bootstrap
    # (weights shared by the statistics of a family; normal: exact joint normal draws)
    draws: int = 9999
    weights: Literal["normal", "rademacher", "webb"] = "normal"


@dataclass(frozen=True)
class RobustnessConfig:
    seed: int = 20240601
    n_jobs: int = 2
    placebo_draws: int = 999  # p-value floor 1/1000; ~12 s with n_jobs=2 on the default panel
    # strata of the placebo permutations (studies/robustness/checklist.py STRATA); baseline_gdp:
    # quintiles of the city's mean log GDP per capita before the first designation year
    placebo_within: Literal["province", "region_coastal", "baseline_gdp"] | None = "baseline_gdp"
    wild_draws: int = 9999
    wild_cluster: Cluster = "province"
    wild_weights: Literal["rademacher", "webb", "mammen", "normal"] = "rademacher"
    concurrent_policies: dict[str, str] = field(default_factory=dict)
    dr: DRConfig = field(default_factory=DRConfig)
    heterogeneity: HeterogeneityConfig = field(default_factory=HeterogeneityConfig)
    honestdid: HonestDiDConfig = field(default_factory=HonestDiDConfig)
    spec_curve: SpecCurveConfig = field(default_factory=SpecCurveConfig)
    conley: ConleyConfig = field(default_factory=ConleyConfig)
    spillover: SpilloverConfig = field(default_factory=SpilloverConfig)
    multiple_testing: MultipleTestingConfig = field(default_factory=MultipleTestingConfig)


@dataclass(frozen=True)
class NotebooksConfig:
    overview: OverviewConfig = field(default_factory=OverviewConfig)
    pilot_zones: EventStudyConfig = field(default_factory=EventStudyConfig)
    rail_links: RailLinksConfig = field(default_factory=RailLinksConfig)
    simulation: SimulationConfig = field(default_factory=SimulationConfig)
    robustness: RobustnessConfig = field(default_factory=RobustnessConfig)
    network_coverage: NetworkCoverageConfig = field(default_factory=NetworkCoverageConfig)
    corridor: CorridorConfig = field(default_factory=CorridorConfig)
    design: DesignConfig = field(default_factory=DesignConfig)


@dataclass(frozen=True)
class ReportConfig:
    lang: Literal["en", "zh"] = "en"
    title: str = "Pilot zones, rail links, network coverage and the exports of Chinese cities"
    title_zh: str = "跨境电商综试区、铁路联通、网络覆盖与中国城市出口"


@dataclass(frozen=True)
class ParallelConfig:
    """Where replications run (analysis.parallel.run_tasks): ``local`` processes on this machine
    (each notebook's ``n_jobs``), or a ``dask`` cluster: the scheduler at ``address`` (null: the
    DASK_SCHEDULER_ADDRESS environment variable, or a temporary LocalCluster). Numbers do not
    depend on it (every replication carries its own seed)."""

    backend: Literal["local", "dask"] = "local"
    address: str | None = None


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    panel: PanelConfig = field(default_factory=PanelConfig)
    treatment: TreatmentConfig = field(default_factory=TreatmentConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    notebooks: NotebooksConfig = field(default_factory=NotebooksConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)

    def as_dict(self) -> dict:
        """The configuration as plain nested dicts and lists (as params.yaml reads)."""
        return plain(self)


# --- loading and validation -------------------------------------------------------------------


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate params.yaml (default: the project's); raise InputError on a bad key or value."""
    import yaml

    path = Path(path or PARAMS)
    where = display_path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except FileNotFoundError:
        _fail(where, "file not found")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        _fail(
            where,
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            row=mark.line + 1 if mark else None,
        )
    config = parse_section(Config, raw or {}, where=where)
    _check_inputs_in_raw(config, where)
    return config


def _check_inputs_in_raw(config: Config, where: str) -> None:
    """Every user input named in params.yaml lies inside data/raw/: that folder is a dependency of
    the stages that read them, so editing such a file reruns what depends on it (a file elsewhere
    would be read but not tracked, and results could be served stale)."""
    named = {"data.column_map": config.data.column_map}
    spec = config.data.file
    for i, item in enumerate(spec if isinstance(spec, tuple) else [spec]):
        named[f"data.file[{i}]" if isinstance(spec, tuple) else "data.file"] = item
    named["treatment.pilot_zones_file"] = config.treatment.pilot_zones_file
    named["treatment.rail_links_file"] = config.treatment.rail_links_file
    for name, roster in config.notebooks.robustness.concurrent_policies.items():
        named[f"notebooks.robustness.concurrent_policies.{name}"] = roster
    for key, value in named.items():
        if value is None:
            continue
        parts = Path(value).parts
        if Path(value).is_absolute() or ".." in parts or parts[:2] != ("data", "raw"):
            _fail(
                where,
                f"'{key}' must be a path inside data/raw/, not {value!r}",
                hint="copy your file into data/raw/: the pipeline tracks inputs there",
            )


def load_params(path: Path | str | None = None) -> dict:
    """params.yaml validated and completed with the defaults, as plain nested dicts."""
    return load_config(path).as_dict()


def parse_section(cls: type, values: Any, where: str = "params.yaml", prefix: str = ""):
    """Build the dataclass ``cls`` from a mapping (missing keys take the defaults), checking every
    key and type. Also used on the parameters papermill injects into a notebook (its translator
    turns tuples into strings and integer keys into strings; lists and string keys come back)."""
    return _convert(cls, values, where, prefix)


def display_path(path: Path | str) -> str:
    """A path as shown to users: relative to the project root when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def plain(value: Any) -> Any:
    """Dataclasses -> dicts, tuples -> lists, recursively (for YAML, JSON and papermill)."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _fail(
    where: str, message: str, hint: str | None = None, row: int | None = None
) -> typing.NoReturn:
    from analysis.errors import InputError

    raise InputError(where, message, row=row, hint=hint)


def _describe(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0])}"
        return f"a list of {len(args)} ({', '.join(_describe(a) for a in args)})"
    if origin is dict:
        return f"a mapping of {_describe(args[0])} to {_describe(args[1])}"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, where: str, key: str) -> Any:
    """``value`` as type ``tp`` (the subset of typing the schema uses), or an InputError."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)

    def wrong() -> typing.NoReturn:
        _fail(where, f"'{key}' must be {_describe(tp)}, not {value!r}")

    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            wrong()
        hints = typing.get_type_hints(tp)
        names = [f.name for f in dataclasses.fields(tp)]
        for name in value:
            if name not in names:
                close = difflib.get_close_matches(str(name), names, n=1)
                _fail(
                    where,
                    f"unknown key '{_join(key, name)}'",
                    hint=f"did you mean '{close[0]}'?"
                    if close
                    else f"known keys: {', '.join(names)}",
                )
        return tp(
            **{n: _convert(hints[n], value[n], where, _join(key, n)) for n in names if n in value}
        )
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1 and value is not None:
            from analysis.errors import InputError

            try:
                return _convert(options[0], value, where, key)
            except InputError as exc:
                if not exc.message.startswith(f"'{key}' must"):
                    raise  # a nested key: its own message says more
                wrong()  # this key: name the whole union ("float or null")
        if value is not None:
            from analysis.errors import InputError

            for option in options:  # e.g. data.file: one path or a list of paths
                try:
                    return _convert(option, value, where, key)
                except InputError:
                    continue
        wrong()
    if origin is Literal:
        if value in args and type(value) is type(args[0]):
            return value
        close = difflib.get_close_matches(str(value), [str(a) for a in args], n=1)
        _fail(
            where,
            f"'{key}' must be {_describe(tp)}, not {value!r}",
            hint=f"did you mean {close[0]!r}?" if close else None,
        )
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            wrong()
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, where, f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            wrong()
        return tuple(
            _convert(a, v, where, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value))
        )
    if origin is dict:
        if not isinstance(value, dict):
            wrong()
        return {
            _key(args[0], k, where, key): _convert(args[1], v, where, _join(key, k))
            for k, v in value.items()
        }
    if tp is bool:
        if not isinstance(value, bool):
            wrong()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            wrong()
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            wrong()
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            wrong()
        return value
    raise TypeError(f"schema type {tp!r} of '{key}' is not supported")  # a bug in the schema


def _key(tp: Any, k: Any, where: str, key: str) -> Any:
    """A mapping key; integer keys may arrive as strings (papermill writes every key as a string)."""
    if tp is int and isinstance(k, str) and k.lstrip("-").isdigit():
        k = int(k)
    return _convert(tp, k, where, f"{key} key")


def _join(prefix: str, name: Any) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


# --- what each notebook receives ------------------------------------------------------------------
# One notebook per section of params.yaml's notebooks (each is a DVC stage run by
# analysis.studies.runner; papermill injects notebook_parameters() after its parameters cell).
NOTEBOOKS = tuple(f.name for f in dataclasses.fields(NotebooksConfig))

# Relative to the project root (the notebooks resolve them there): no absolute path of the machine
# is written into an executed notebook.
COMMON: dict[str, typing.Callable[[Config], object]] = {
    "panel_path": lambda c: display_path(PROCESSED / "panel.csv"),
    "truth_path": lambda c: display_path(PROCESSED / "truth.json"),
    "cities_path": lambda c: display_path(INTERIM / "cities.csv"),
    "treatments_path": lambda c: display_path(INTERIM / "treatments.csv"),
    "output_dir": lambda c: display_path(OUTPUT),
    "lang": lambda c: c.report.lang,
}


# Notebook-specific parameters from other sections of params.yaml.
def control_rule_parameter(c: Config) -> dict:
    """The notebooks' ``control_rule`` parameter: params.yaml ``panel.control_rule`` with
    ``panel.baseline_trends`` under the key ``baseline_trends`` (read by analysis.studies.rules),
    so that both settings of the binary studies' covariates reach every study through one
    parameter."""
    return {**plain(c.panel.control_rule), "baseline_trends": list(c.panel.baseline_trends)}


EXTRA: dict[str, dict[str, typing.Callable[[Config], object]]] = {
    # the simulation redraws the default panel: it needs the data-generating process
    "simulation": {
        "synthetic": lambda c: plain(c.synthetic),
        "first_year": lambda c: c.panel.first_year,
        "last_year": lambda c: c.panel.last_year,
        # the Goodman-Bacon figure uses the studies' estimation sample (complete cases)
        "min_control_share": lambda c: c.panel.min_control_share,
        "control_rule": control_rule_parameter,
    },
    # concurrent-policy rosters are coded like the pilot zones; the spillover Monte Carlo redraws
    # the default panel (issue 19)
    "robustness": {
        "year_rule": lambda c: c.treatment.year_rule,
        "min_control_share": lambda c: c.panel.min_control_share,
        "control_rule": control_rule_parameter,
        "synthetic": lambda c: plain(c.synthetic),
        "first_year": lambda c: c.panel.first_year,
        "last_year": lambda c: c.panel.last_year,
    },
    # the studies drop sparse controls by the panel stage's rule (analysis.data.design)
    **{
        name: {"min_control_share": lambda c: c.panel.min_control_share}
        for name in ("pilot_zones", "rail_links", "network_coverage", "corridor")
    },
}

# the binary studies build their covariates by params.yaml panel.control_rule (studies/rules.py)
for _name in ("pilot_zones", "rail_links", "corridor"):
    EXTRA[_name]["control_rule"] = control_rule_parameter
# the network study runs Broadband China through the binary toolkit (issue 20) and names the
# cities of single-source roster rows by the coding rule
EXTRA["network_coverage"]["control_rule"] = control_rule_parameter
EXTRA["network_coverage"]["year_rule"] = lambda c: c.treatment.year_rule

# the design notebook simulates the binary studies as they run: their sample, covariates and
# clusters
EXTRA["design"] = {
    "min_control_share": lambda c: c.panel.min_control_share,
    "control_rule": control_rule_parameter,
    "clusters": lambda c: {
        "pilot": c.notebooks.pilot_zones.cluster,
        "rail": c.notebooks.rail_links.cluster,
    },
}
# every notebook that runs replications takes the one backend setting (params.yaml parallel): the
# Monte Carlo, the power study, randomization inference (pilot zones, rail links, robustness), the
# specification curve and the spillover Monte Carlo (robustness)
for _name in ("simulation", "design", "robustness", "pilot_zones", "rail_links"):
    EXTRA[_name]["backend"] = lambda c: plain(c.parallel)

INTERACTIVE_OUTPUT = OUTPUT / "interactive"
"""Where a notebook run by hand (JupyterLab) writes: never over the pipeline's products."""


def notebook_parameters(name: str, config: Config) -> dict:
    """The values papermill injects into notebook ``name`` (plain lists and dicts: papermill's
    translator would turn tuples into strings)."""
    section = plain(getattr(config.notebooks, name))
    extra = {key: value(config) for key, value in EXTRA.get(name, {}).items()}
    return {**{key: value(config) for key, value in COMMON.items()}, **section, **extra}


def interactive_parameters(name: str, show: bool = False) -> dict:
    """The parameters of notebook ``name`` for a run by hand: params.yaml's values, read now (so a
    notebook opened in JupyterLab runs what the pipeline would), except ``output_dir``, which is
    ``output/interactive``: an interactive run never overwrites the pipeline's outputs, and
    ``make verify`` keeps passing. ``show``: print them, one ``name = value`` a line."""
    values = notebook_parameters(name, load_config())
    values["output_dir"] = display_path(INTERACTIVE_OUTPUT)
    if show:
        print(f"# params.yaml -> notebooks/{name}.py (outputs to {values['output_dir']}/)")
        for key, value in values.items():
            print(f"{key} = {value!r}")
    return values
