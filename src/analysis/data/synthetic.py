"""Calibrated synthetic city panel with known true effects (the default data; SYNTHETIC).

Built on the real city master and the real treatment dates. Data-generating process, city i in
province p, year t:

    log_exports[i,t] = alpha[i] + lambda[t]
                       + tau_pilot[i,t] + tau_rail[i,t] + elasticity * log_broadband[i,t]
                       + beta' controls[i,t] + eps[i,t] + v[p,t] + s[i,t]

* alpha: heavy-tailed city effects (coastal, eastern, municipal and early-pilot cities export more;
  a few cities carry most exports, as in reality). The shocks are fat-tailed too (``shock_df``).
* lambda: year effects that tie the cities' exports to China's national goods exports of that year
  (data/reference/china_exports_national.csv); how, says ``year_effects``.
* tau_pilot = a[batch] + growth * min(e, cap) for e = t - start >= 0: heterogeneous across batches and
  growing with years since the effect starts. TWFE with one dummy is biased under this.
* tau_rail = tau_cre + tau_laos: the China-Europe Railway Express, a_rail + growth_rail * min(e, cap)
  after a city's first CRE service (``rail_att``, ``rail_att_growth``), and the China-Laos corridor,
  a constant ``laos_att`` from its coded first year (issue 19: the two links have effects of their
  own, and the truth reports them apart as ``cre`` and ``laos``; ``rail`` is their sum, timed by
  the first service of either link).
* s: the pilot zones' spatial spillover (issue 19): ``pilot_spillover`` on every city-year that is
  not (yet) under its own pilot effect and lies within ``pilot_spillover_km`` (great-circle distance,
  strictly below) of a city whose pilot effect has started -- trade diverted towards the zone (a
  negative value) or attracted along with it. It is a treatment effect on untreated neighbours:
  not part of the untreated potential outcome (the year effects below ignore it) and not passed
  on to GDP (``gdp_export_feedback`` acts on the treated cities' own effects only). The exposure is
  computed among the cities of the panel (a subset sees only its own pilot cities), so it is the
  exposure a ring estimator on the same panel sees (:mod:`analysis.did.spillover`).
* log_broadband: logistic diffusion of broadband users per 100 people, later and lower in the west.
* controls: log GDP per capita grows faster in early-pilot cities and where broadband spreads early,
  so comparisons that omit it are biased: upward for the early pilot cohorts (their faster GDP
  growth is credited to the pilot); for the broadband elasticity the direction depends on how all
  the controls co-move with broadband, so the notebook and the report state the measured one.
* eps: AR(1) shocks within city (fat-tailed); v: province-year shocks.

Parameters (params.yaml ``synthetic``; defaults calibrated in data/README.md, "The synthetic panel",
issue 12; the values before it in brackets):

* ``noise_sd`` 0.18 [0.06], ``noise_rho`` 0.6 [0.3]: stationary SD and AR(1) coefficient of eps.
* ``shock_df`` 4 [null]: Student-t degrees of freedom (> 2) of eps's innovations, rescaled to the
  same variance (heavier tails, same SD); null = Gaussian.
* ``province_year_sd`` 0.08 [0]: SD of v, i.i.d. N(0, sd) per province and year, drawn from a stream of
  its own (seed, 1) so that switching it on changes no other draw. Makes province clustering bite.
* ``gdp_export_feedback`` 0.1 [0]: log GDP per capita responds to the export effect with this
  elasticity, log_gdp_pc = untreated path + f * (tau_pilot + tau_rail): an endogenous (bad) control.
  The effect on log exports is then total = direct * (1 + beta_gdp * f); the truth's ATTs are total
  effects and ``att_overall_direct`` the direct one (what a regression on log_gdp_pc targets).
* ``effect_city_sd`` 0.15 [0]: idiosyncratic city-level effect heterogeneity: every treated city's
  pilot (and rail) effects are multiplied by its own 1 + N(0, sd), constant over its treated years,
  so the effects are not a deterministic function of batch and event time (a referee's request);
  proportional, so a design without effects stays without effects. The draws come from a stream of
  their own, (seed, 2): switching them on changes no other draw. The truth's ATTs average the
  realised effects, and ``city_effects`` lists them city by city.
* ``rail_att_growth`` 0 [0]: a dynamic rail effect (per year since first service, up to growth_cap);
  with 0.02 a year the BJS pilot estimate picks up rail dynamics (bias about 1.7 SE in the methods
  review's check). Kept at 0: the study's one absorbing rail dummy assumes a static effect, and
  nothing known fixes the size of a dynamic one; a stress scenario, not a default.
* ``laos_att`` 0.10 [the rail effect 0.08, timed by ``rail_year``], ``pilot_spillover`` -0.01 [0],
  ``pilot_spillover_km`` 100: issue 19's corridor effect and spillover (see tau_rail and s above);
  truth.json's ``cre``, ``laos`` and ``pilot.spillover`` blocks.
* ``year_effects``: ``untreated`` [``calibrated_after_effects``]. ``calibrated_after_effects`` sets
  lambda after the effects, so that the
  OBSERVED exports add up to national exports: the programmes only reallocate a fixed total,
  never-treated cities lose exports by construction (truth: ``log_loss_of_every_city_by_year``),
  SUTVA fails and the true ATT is a relative effect. ``untreated`` sets lambda so that the UNTREATED
  potential outcomes add up to national exports: no displacement, the ATT is an absolute effect,
  observed totals exceed the national figure by the programmes' contribution.
* ``effective_timing``: ``coding_rule`` [``approval``]. ``approval`` starts the effects in the calendar year of approval /
  first service whatever the coding (treatment.year_rule); ``coding_rule`` starts them in the year
  the coding gives (consistent DGP and coding, e.g. with year_rule: midyear). simulate_panel takes
  the coded table and, when they differ, a table coded by ``design.effect_start_rule(year_rule)``.
  Effects before the coded year are counted in the truth's ``outside_coding``.

truth.json states the estimand of each setting (``estimand``: kind, statement, effect start,
outcome effect) and the DGP options (``dgp``).

Calibration (data/README.md gives the reasoning): on the default draw the SD of city- and
year-demeaned annual log export growth is 0.21 (0.078 before), the residual AR(1) 0.34 (0.24),
the excess kurtosis of the residuals 3.3 (0.1) and the province-year share of the residual
variance 0.25 (0.093 = pure noise with ~11 cities per province). Under the defaults the truth's
ATT is the total, absolute effect on the treated city-years coded by the mid-year rule.

The realised true effects are written to JSON next to the panel (ATT by cohort and year, by event
time, overall, by batch; the elasticity and control coefficients).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.config import NetworkDGPConfig, SyntheticConfig
from analysis.data.geo import distance_matrix
from analysis.data.schema import PANEL_COLUMNS, PANEL_SCHEMA
from analysis.data.treatments import add_treatment_dummies, city_treatments

if TYPE_CHECKING:
    from analysis.config import PanelConfig


YEAR_EFFECTS = ("calibrated_after_effects", "untreated")
EFFECTIVE_TIMING = ("approval", "coding_rule")


@dataclass(frozen=True)
class SyntheticDesign(SyntheticConfig):
    """The data-generating process: params.yaml's ``synthetic`` section (its typed schema,
    :class:`analysis.config.SyntheticConfig`, holds those defaults: one place), plus the panel's
    years and the loadings that are not parameters of a run."""

    first_year: int = 2010
    last_year: int = 2023
    beta_log_gdp_pc: float = 0.6
    beta_log_population: float = 0.4
    beta_log_fdi: float = 0.08
    beta_industry_share: float = 0.01
    city_effect_sd: float = 1.1

    def __post_init__(self) -> None:
        if isinstance(self.network, dict):  # from_config's asdict flattens the nested section
            object.__setattr__(self, "network", NetworkDGPConfig(**self.network))
        if self.shock_df is not None and not self.shock_df > 2:
            raise ValueError(
                f"synthetic.shock_df = {self.shock_df}: Student-t shocks need more than 2 degrees"
                " of freedom (a finite variance); use null for Gaussian shocks"
            )
        if not -1 < self.noise_rho < 1:
            raise ValueError(f"synthetic.noise_rho = {self.noise_rho}: must lie in (-1, 1)")
        if self.year_effects not in YEAR_EFFECTS:
            raise ValueError(
                f"synthetic.year_effects = {self.year_effects!r}: use one of {', '.join(YEAR_EFFECTS)}"
            )
        if self.effective_timing not in EFFECTIVE_TIMING:
            raise ValueError(
                f"synthetic.effective_timing = {self.effective_timing!r}:"
                f" use one of {', '.join(EFFECTIVE_TIMING)}"
            )

    @classmethod
    def from_config(cls, synthetic: SyntheticConfig, panel: PanelConfig) -> SyntheticDesign:
        """The design of params.yaml's ``synthetic`` section over the years of its ``panel``
        section (the loadings without a key there keep the defaults above)."""
        from dataclasses import asdict

        return cls(first_year=panel.first_year, last_year=panel.last_year, **asdict(synthetic))

    @property
    def n_batches(self) -> int:
        return max(self.pilot_att_by_batch)

    def effect_start_rule(self, year_rule: str) -> str:
        """The treatment-year rule the true effects start by, given the coding rule
        (params.yaml treatment.year_rule): ``approval`` timing starts them in the calendar year of
        approval / first service whatever the coding; ``coding_rule`` makes them follow it."""
        return "approval" if self.effective_timing == "approval" else year_rule


REGION_DIFFUSION = {  # broadband ceiling (users per 100), midpoint year, speed
    "east": (48.0, 2013.0, 0.45),
    "central": (40.0, 2015.0, 0.45),
    "northeast": (40.0, 2014.5, 0.40),
    "west": (36.0, 2016.0, 0.45),
}


def _city_effects(
    cities: pd.DataFrame, rng: np.random.Generator, design: SyntheticDesign
) -> np.ndarray:
    # earlier batches export more: 1 for the first batch down to 1/n for the last
    n = design.n_batches
    early = np.where(cities["pilot_batch"] > 0, (n + 1 - cities["pilot_batch"]) / n, 0.0)
    return (
        1.3 * cities["coastal"].to_numpy()
        + 0.8 * (cities["region"] == "east").to_numpy()
        + 1.2 * cities["municipality"].to_numpy()
        + 1.0 * early
        + design.city_effect_sd * rng.standard_normal(len(cities))
    )


def pilot_effect(batch: np.ndarray, event: np.ndarray, design: SyntheticDesign) -> np.ndarray:
    """True pilot-zone effect on log exports by batch and years since designation (0 before)."""
    missing = sorted(set(np.unique(batch[batch > 0]).tolist()) - set(design.pilot_att_by_batch))
    if missing:
        raise ValueError(
            f"params.yaml synthetic.pilot_att_by_batch has no effect for batch {missing}"
        )
    lookup = np.zeros(design.n_batches + 1)  # index = batch; 0 = never designated
    for b, att in design.pilot_att_by_batch.items():
        lookup[b] = att
    base = lookup[batch]
    effect = base + design.pilot_att_growth * np.clip(event, 0, design.growth_cap)
    return np.where((batch > 0) & (event >= 0), effect, 0.0)


def rail_effect(event: np.ndarray, treated: np.ndarray, design: SyntheticDesign) -> np.ndarray:
    effect = design.rail_att + design.rail_att_growth * np.clip(event, 0, design.growth_cap)
    return np.where(treated & (event >= 0), effect, 0.0)


def corridor_effect(event: np.ndarray, treated: np.ndarray, design: SyntheticDesign) -> np.ndarray:
    """True China-Laos corridor effect on log exports: ``laos_att`` from the first coded year on."""
    return np.where(treated & (event >= 0), design.laos_att, 0.0)


def pilot_exposure(
    lat: np.ndarray, lon: np.ndarray, start: np.ndarray, years: np.ndarray, radius_km: float
) -> np.ndarray:
    """(n_cities, n_years) boolean: city i in year t is not under its own pilot effect (``start``
    0 = never, else t < start) and lies strictly within ``radius_km`` of another city whose
    effect has started (``0 < start_j <= t``) -- the exposure of :func:`simulate_panel`'s
    spillover, and the exposure of :func:`analysis.did.spillover.exposure_rings` with outer ring
    ``radius_km`` on the same cohorts."""
    start = np.asarray(start, dtype=float)
    dist = distance_matrix(lat, lon)
    np.fill_diagonal(dist, np.inf)
    started = (start[None, :] > 0) & (start[None, :] <= years[:, None])  # (T, n): j started by t
    near = np.where(started[:, None, :], dist[None, :, :], np.inf).min(axis=2).T  # (n, T)
    own = (start[:, None] > 0) & (years[None, :] >= start[:, None])
    return ~own & (near < radius_km)


def effect_start_table(
    master: pd.DataFrame,
    zones: pd.DataFrame,
    links: pd.DataFrame,
    design: SyntheticDesign,
    year_rule: str,
    include_county_units: bool = True,
) -> pd.DataFrame | None:
    """The treatments table the true effects start by, for simulate_panel's ``effect_start``;
    None when it is the coded table itself (same rule)."""
    rule = design.effect_start_rule(year_rule)
    if rule == year_rule:
        return None
    return city_treatments(master, zones, links, include_county_units, rule)


def simulate_panel(
    cities: pd.DataFrame,
    treatments: pd.DataFrame,
    national: pd.DataFrame,
    design: SyntheticDesign,
    effect_start: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Return (panel validated against PANEL_SCHEMA, true parameters as a JSON-ready dict).

    ``treatments``: the coded first treatment years (treatments.city_treatments under
    treatment.year_rule) written into the panel. ``effect_start``: the same table coded by the rule
    the true effects start by, ``design.effect_start_rule(year_rule)``; None = the coded table (the
    two coincide when the coding is the approval rule). Ignored with ``effective_timing:
    coding_rule`` (the default), where the effects start in the coded years by definition.
    """
    rng = np.random.default_rng(design.seed)
    cities = cities.merge(treatments, on="city_code", how="left", validate="one_to_one")
    start_cols = ["pilot_year", "pilot_batch", "rail_year", "cre_year", "laos_rail_year"]
    separate_start = effect_start is not None and design.effective_timing == "approval"
    if not separate_start:
        effect_start = treatments
    cities = cities.merge(
        effect_start[["city_code", *start_cols]].rename(columns=lambda c: f"effect_{c}"),
        left_on="city_code",
        right_on="effect_city_code",
        how="left",
        validate="one_to_one",
    )
    n_all = len(cities)  # the whole master: a subset carries its share of national exports
    # "Early" pilots (faster GDP growth) are those whose effect starts in the first half of the
    # programme (by the DGP's own timing, so that the untreated outcomes ignore the coding rule).
    designated = cities.loc[cities["effect_pilot_year"] > 0, "effect_pilot_year"]
    early_until = (designated.min() + designated.max()) / 2 if len(designated) else np.inf
    if design.n_cities is not None and design.n_cities < len(cities):
        keep = np.sort(rng.choice(len(cities), size=design.n_cities, replace=False))
        cities = cities.iloc[keep].reset_index(drop=True)
    years = np.arange(design.first_year, design.last_year + 1)
    n, T = len(cities), len(years)
    # Treatments first observed after the panel ends count as never treated within it.
    for col in ("pilot_year", "rail_year", "cre_year", "laos_rail_year"):
        cities.loc[cities[col] > design.last_year, col] = 0
    cities.loc[cities["pilot_year"] == 0, "pilot_batch"] = 0
    cities = _broadband_china_years(cities, design)
    for col in (
        "effect_pilot_year",
        "effect_rail_year",
        "effect_cre_year",
        "effect_laos_rail_year",
    ):
        cities.loc[cities[col] > design.last_year, col] = 0
    cities.loc[cities["effect_pilot_year"] == 0, "effect_pilot_batch"] = 0

    t = years[None, :] - design.first_year  # 0..T-1
    alpha = _city_effects(cities, rng, design)
    pilot_year = cities["effect_pilot_year"].to_numpy()[:, None]
    early_pilot = ((pilot_year > 0) & (pilot_year <= early_until)).astype(float)

    # Broadband diffusion (users per 100 people): logistic by region, shifted per city.
    ceil, mid, speed = (
        np.array([REGION_DIFFUSION[r][k] for r in cities["region"]]) for k in range(3)
    )
    shift = rng.normal(0, 1.0, n)
    ceiling = ceil * np.exp(rng.normal(0, 0.10, n))
    midpoint = mid + shift
    broadband = 2.0 + ceiling[:, None] / (
        1 + np.exp(-speed[:, None] * (years[None, :] - midpoint[:, None]))
    )
    broadband *= np.exp(rng.normal(0, 0.03, (n, T)))
    # Network block (issue 20): the designation's first stage on the doses, the mobile dose, the
    # heterogeneous dose response and the designation effect; own stream, no other draw changes.
    net = network_block(cities, years, shift, broadband, design)
    broadband = net.broadband
    log_broadband = np.log(broadband)

    # Controls. GDP per capita grows faster in early-pilot cities and in early-diffusion cities.
    log_gdp_pc0 = 10.4 + 0.5 * alpha / 2 + rng.normal(0, 0.25, n)
    gdp_growth = 0.065 + 0.02 * early_pilot[:, 0] - 0.004 * shift + rng.normal(0, 0.006, n)
    log_gdp_pc = log_gdp_pc0[:, None] + gdp_growth[:, None] * t + rng.normal(0, 0.015, (n, T))
    log_pop0 = 5.8 + 0.25 * alpha / 2 + rng.normal(0, 0.5, n)
    log_population = (
        log_pop0[:, None] + rng.normal(0.004, 0.004, n)[:, None] * t + rng.normal(0, 0.01, (n, T))
    )
    log_fdi = (
        (3.5 + 0.6 * alpha)[:, None]
        + rng.normal(0.02, 0.03, n)[:, None] * t
        + rng.normal(0, 0.2, (n, T))
    )
    industry = np.clip(
        (45 + rng.normal(0, 6, n))[:, None] - 0.6 * t + rng.normal(0, 1.0, (n, T)), 5, 90
    )

    event_pilot = years[None, :] - pilot_year
    tau_pilot = pilot_effect(cities["effect_pilot_batch"].to_numpy()[:, None], event_pilot, design)
    # the rail links' own effects: CRE (rail_att, rail_att_growth) and the China-Laos corridor
    cre_year = cities["effect_cre_year"].to_numpy()[:, None]
    tau_cre = rail_effect(years[None, :] - cre_year, cre_year > 0, design)
    laos_year = cities["effect_laos_rail_year"].to_numpy()[:, None]
    tau_laos = corridor_effect(years[None, :] - laos_year, laos_year > 0, design)
    if design.effect_city_sd > 0:  # each city's own, proportional deviation (zero stays zero)
        shift = _city_effect_shifts(n, design)  # (the diffusion shift was used by network_block)
        tau_pilot = tau_pilot * (1 + shift[:, :1])
        tau_cre = tau_cre * (1 + shift[:, 1:])  # one rail shift per city: no city has both links
        tau_laos = tau_laos * (1 + shift[:, 1:])
    tau_rail = tau_cre + tau_laos
    # the pilot zones' spillover on untreated neighbours (no random draw: the other draws are
    # those of a panel without it)
    exposed = np.zeros((n, T), dtype=bool)
    if design.pilot_spillover:
        exposed = pilot_exposure(
            cities["latitude"].to_numpy(float), cities["longitude"].to_numpy(float),
            cities["effect_pilot_year"].to_numpy(), years, design.pilot_spillover_km,
        )  # fmt: skip
    tau_spill = np.where(exposed, design.pilot_spillover, 0.0)

    eps = _city_shocks(rng, n, T, design)

    def control_index(gdp: np.ndarray) -> np.ndarray:
        return (
            design.beta_log_gdp_pc * gdp
            + design.beta_log_population * log_population
            + design.beta_log_fdi * log_fdi
            + design.beta_industry_share * industry
        )

    # The untreated potential outcome (GDP on its untreated path) and the observed outcome. With
    # gdp_export_feedback, GDP per capita responds to the export effect: a bad control.
    controls0 = control_index(log_gdp_pc)
    if design.gdp_export_feedback:
        log_gdp_pc = log_gdp_pc + design.gdp_export_feedback * (tau_pilot + tau_rail + net.tau)
        controls = control_index(log_gdp_pc)
    else:
        controls = controls0
    log_exports = (
        alpha[:, None]
        + tau_pilot
        + tau_rail
        + net.tau
        + net.dose_effect
        + controls
        + eps
        + tau_spill
    )
    log_exports0 = alpha[:, None] + net.dose_effect + controls0 + eps
    if design.province_year_sd > 0:
        shocks = _province_year_shocks(cities["province"].to_numpy(), T, design)
        log_exports = log_exports + shocks
        log_exports0 = log_exports0 + shocks
    # Year effects: scale every year so that the cities' exports (USD mn) add up to national
    # exports: the observed ones (calibrated_after_effects: the programme only reallocates
    # exports) or the untreated potential ones (untreated: the programme adds exports).
    nat = national.set_index("year").reindex(years)["exports_usd_bn"]
    if nat.isna().any():
        missing = ", ".join(str(y) for y in nat.index[nat.isna()])
        raise ValueError(
            f"national exports missing for {missing}: extend data/reference/china_exports_national.csv"
        )
    share = len(cities) / n_all
    target = np.log(nat.to_numpy() * 1000 * share)
    lam_untreated = target - np.log(np.exp(log_exports0).sum(axis=0))
    if design.year_effects == "untreated":
        lam = lam_untreated
    else:
        lam = target - np.log(np.exp(log_exports).sum(axis=0))
    log_exports = log_exports + lam[None, :]
    gdp_channel = 1 + design.beta_log_gdp_pc * design.gdp_export_feedback
    timing = {
        "lam": lam,
        "lam_untreated": lam_untreated,
        "target": target,
        "observed_total": np.log(np.exp(log_exports).sum(axis=0)),
        "years": years,
        "gdp_channel": gdp_channel,
        "separate_start": separate_start,
    }

    panel = pd.DataFrame(
        {
            "city_code": np.repeat(cities["city_code"].to_numpy(), T),
            "year": np.tile(years, n),
            "exports_usd_mn": np.exp(log_exports).ravel(),
            "log_exports": log_exports.ravel(),
            "gdp_per_capita_cny": np.exp(log_gdp_pc).ravel(),
            "log_gdp_pc": log_gdp_pc.ravel(),
            "population_10k": np.exp(log_population).ravel(),
            "log_population": log_population.ravel(),
            "fdi_usd_mn": np.exp(log_fdi).ravel(),
            "log_fdi": log_fdi.ravel(),
            "industry_share_pct": industry.ravel(),
            "broadband_per100": broadband.ravel(),
            "log_broadband": log_broadband.ravel(),
            "mobile_per100": net.mobile.ravel(),
            "log_mobile": np.log(net.mobile).ravel(),
        }
    )
    keep = [
        "city_code",
        "city",
        "city_en",
        "province",
        "region",
        "coastal",
        "pilot_year",
        "pilot_batch",
        "rail_year",
        "cre_year",
        "laos_rail_year",
        "broadband_china_year",
    ]
    panel = panel.merge(cities[keep], on="city_code", how="left")
    panel = add_treatment_dummies(panel)
    panel["data_source"] = "synthetic"
    panel = PANEL_SCHEMA.validate(panel[list(PANEL_COLUMNS)])
    parts = {"cre": tau_cre.ravel(), "laos": tau_laos.ravel(), "spillover": tau_spill.ravel()}
    truth = true_effects(panel, tau_pilot.ravel(), tau_rail.ravel(), design, timing, parts)
    truth.update(network_truth(panel, net, design, gdp_channel))
    return panel, truth


def _city_shocks(rng: np.random.Generator, n: int, T: int, design: SyntheticDesign) -> np.ndarray:
    """AR(1) shocks within city with stationary SD ``noise_sd``: Gaussian, or Student-t with
    ``shock_df`` degrees of freedom rescaled to the same SD (heavier tails, same variance)."""

    def draw(sd: float) -> np.ndarray:
        if design.shock_df is None:
            return rng.normal(0, sd, n)
        df = design.shock_df
        return sd * np.sqrt((df - 2) / df) * rng.standard_t(df, n)

    eps = np.empty((n, T))
    eps[:, 0] = draw(design.noise_sd)
    innov_sd = design.noise_sd * np.sqrt(1 - design.noise_rho**2)
    for j in range(1, T):
        eps[:, j] = design.noise_rho * eps[:, j - 1] + draw(innov_sd)
    return eps


def _city_effect_shifts(n: int, design: SyntheticDesign) -> np.ndarray:
    """Each city's own proportional deviation from the pilot (column 0) and rail (column 1) effects
    of its batch and event time, N(0, effect_city_sd), from their own stream (seed, 2)."""
    rng = np.random.default_rng([design.seed, 2])
    return rng.normal(0, design.effect_city_sd, (n, 2))


def _province_year_shocks(provinces: np.ndarray, T: int, design: SyntheticDesign) -> np.ndarray:
    """Shocks common to the cities of a province in a year (i.i.d. N(0, province_year_sd)).

    Drawn from their own stream (seed, 1), so switching them on leaves every other draw unchanged.
    """
    rng = np.random.default_rng([design.seed, 1])
    names, index = np.unique(provinces, return_inverse=True)
    return rng.normal(0, design.province_year_sd, (len(names), T))[index]


def _att_table(panel: pd.DataFrame, tau: np.ndarray, cohort_col: str) -> dict:
    """Realised average effects among treated city-years: by (cohort, year), by event time, overall."""
    frame = pd.DataFrame(
        {"g": panel[cohort_col].to_numpy(), "t": panel["year"].to_numpy(), "tau": tau}
    )
    frame = frame[(frame["g"] > 0) & (frame["t"] >= frame["g"])]
    frame["e"] = frame["t"] - frame["g"]
    gt = frame.groupby(["g", "t"])["tau"].mean().reset_index()
    by_e = frame.groupby("e")["tau"].mean()
    by_g = frame.groupby("g")["tau"].mean()
    return {
        "att_overall": float(frame["tau"].mean()),
        "att_gt": [
            {"cohort": int(r.g), "year": int(r.t), "att": float(r.tau)} for r in gt.itertuples()
        ],
        "att_by_event_time": {str(int(e)): float(v) for e, v in by_e.items()},
        "att_by_cohort": {str(int(g)): float(v) for g, v in by_g.items()},
    }


def _effects_by_city(panel: pd.DataFrame, tau: np.ndarray, cohort_col: str) -> dict:
    """The realised effect of every treated city at each of its coded treated years (event time
    0, 1, ...): the truth of any subset of cities a study keeps (studies.rules.truth_for)."""
    frame = pd.DataFrame(
        {
            "city": panel["city_code"].astype(str).to_numpy(),
            "g": panel[cohort_col].to_numpy(),
            "t": panel["year"].to_numpy(),
            "tau": tau,
        }
    )
    frame = frame[(frame["g"] > 0) & (frame["t"] >= frame["g"])].sort_values(["city", "t"])
    return {
        city: {"cohort": int(rows["g"].iloc[0]), "effects": rows["tau"].astype(float).tolist()}
        for city, rows in frame.groupby("city", sort=True)
    }


def _outside_coding(panel: pd.DataFrame, tau: np.ndarray, cohort_col: str) -> dict:
    """Effects the coding misses: city-years with a true effect before the coded first year (or
    in a city coded never treated), as under effective_timing: approval with a later coding."""
    g, t = panel[cohort_col].to_numpy(), panel["year"].to_numpy()
    missed = (tau != 0) & ((g == 0) | (t < g))
    return {
        "city_years": int(missed.sum()),
        "mean_effect": float(tau[missed].mean()) if missed.any() else 0.0,
    }


def _estimand(design: SyntheticDesign, timing: dict) -> dict:
    """What the ATTs of the truth file are effects *of*, in words and numbers, for this design."""
    years = [str(int(y)) for y in timing["years"]]
    if design.year_effects == "untreated":
        excess = timing["observed_total"] - timing["target"]
        scope = {
            "kind": "absolute effect",
            "statement": (
                "Year effects are calibrated so that the UNTREATED potential outcomes of the cities"
                " add up to national exports; the treatment effects come on top, so observed exports"
                " exceed the national total by the programmes' contribution (no displacement: the"
                " untreated outcomes of never-treated cities do not depend on who is treated, SUTVA"
                " holds in the DGP). The ATTs are effects relative to a world without the programmes."
            ),
            "log_excess_of_observed_over_national_by_year": dict(zip(years, excess.tolist())),
        }
    else:
        shift = timing["lam"] - timing["lam_untreated"]
        scope = {
            "kind": "relative effect",
            "statement": (
                "Year effects are set AFTER the treatment effects so that observed exports add up to"
                " national exports: the programmes only reallocate a fixed national total. Never-"
                " treated cities lose exports by construction (log loss by year below), SUTVA fails,"
                " and the ATTs are effects of treated cities relative to the others at the realised"
                " year effects, not relative to a world without the programmes (that effect is the"
                " ATT plus the log loss of the year)."
            ),
            "log_loss_of_every_city_by_year": dict(zip(years, shift.tolist())),
        }
    if design.effective_timing == "coding_rule":
        start = "Effects start in the year the treatment.year_rule coding gives (the coded cohort)."
    elif timing["separate_start"]:
        start = (
            "Effects start in the calendar year of approval / first service whatever the coding;"
            " under a later coding (following, midyear) some effects fall before the coded year"
            " (outside_coding), and the ATTs average the coded treated city-years only."
        )
    else:
        start = (
            "Effects start in the coded years of the treatments table (the calendar year of"
            " approval / first service when it is coded by the approval rule, the default)."
        )
    channel = timing["gdp_channel"]
    if design.gdp_export_feedback:
        outcome = (
            f"Total effect on log exports, including the response of log GDP per capita (elasticity"
            f" {design.gdp_export_feedback} to the export effect, weight {design.beta_log_gdp_pc} in"
            f" log exports): total = direct x {channel:.6g}. A regression controlling for log_gdp_pc"
            " conditions on a mediator (bad control) and targets the direct effect (att_*_direct)."
        )
    else:
        outcome = "Effect on log exports; the controls do not respond to treatment (exogenous)."
    return {**scope, "effect_start": start, "outcome_effect": outcome}


def true_effects(
    panel: pd.DataFrame,
    tau_pilot: np.ndarray,
    tau_rail: np.ndarray,
    design: SyntheticDesign,
    timing: dict | None = None,
    parts: dict | None = None,
) -> dict:
    """The known truth of the synthetic panel, as written next to it.

    ``timing`` (from simulate_panel: year effects, national targets) adds the estimand statement;
    ``parts`` (from simulate_panel: per-cell ``cre``, ``laos`` and ``spillover`` effects) adds the
    two rail links' own blocks and the pilot zones' spillover (:func:`link_truth`)."""
    direct = {"pilot": tau_pilot, "rail": tau_rail}
    if design.gdp_export_feedback:  # the ATTs are total effects; the direct ones are kept apart
        channel = 1 + design.beta_log_gdp_pc * design.gdp_export_feedback
        tau_pilot, tau_rail = tau_pilot * channel, tau_rail * channel
    truth = {
        "data_source": "synthetic",
        "note": "SYNTHETIC data: calibrated simulation with known true effects, not real city exports.",
        "seed": design.seed,
        "outcome": "log_exports",
        "pilot": {
            **_att_table(panel, tau_pilot, "pilot_year"),
            "att_by_batch_at_designation": {
                str(b): v for b, v in design.pilot_att_by_batch.items()
            },
            "growth_per_year": design.pilot_att_growth,
            "growth_cap_years": design.growth_cap,
        },
        "rail": {
            **_att_table(panel, tau_rail, "rail_year"),
            "att_at_first_service": design.rail_att,
            "growth_per_year": design.rail_att_growth,
        },
        "broadband": {"elasticity": design.broadband_elasticity, "regressor": "log_broadband"},
        "controls": {
            "log_gdp_pc": design.beta_log_gdp_pc,
            "log_population": design.beta_log_population,
            "log_fdi": design.beta_log_fdi,
            "industry_share_pct": design.beta_industry_share,
        },
    }
    if parts is not None:
        links = link_truth(panel, parts, design)
        truth["pilot"]["spillover"] = links.pop("spillover")
        truth.update(links)
    if timing is None:
        return truth
    channel = 1 + design.beta_log_gdp_pc * design.gdp_export_feedback
    total = {"pilot": tau_pilot, "rail": tau_rail}
    for name, cohort in (("pilot", "pilot_year"), ("rail", "rail_year")):
        block = truth[name]
        block["outside_coding"] = _outside_coding(panel, direct[name], cohort)
        if design.gdp_export_feedback:
            block["att_overall_direct"] = _att_table(panel, direct[name], cohort)["att_overall"]
        # city by city (total effects; the direct ones are these divided by total_over_direct)
        block["total_over_direct"] = channel
        block["city_effects"] = _effects_by_city(panel, total[name], cohort)
    truth["dgp"] = {
        "noise_sd": design.noise_sd,
        "noise_rho": design.noise_rho,
        "shock_df": design.shock_df,
        "province_year_sd": design.province_year_sd,
        "gdp_export_feedback": design.gdp_export_feedback,
        "effect_city_sd": design.effect_city_sd,
        "year_effects": design.year_effects,
        "effective_timing": design.effective_timing,
        "laos_att": design.laos_att,
        "pilot_spillover": design.pilot_spillover,
        "pilot_spillover_km": design.pilot_spillover_km,
    }
    truth["estimand"] = _estimand(design, timing)
    return truth


# --- issue 19: the two rail links apart, and the pilot zones' spillover ---------------------------


def _att_block(panel: pd.DataFrame, tau: np.ndarray, cohort_col: str) -> dict:
    """:func:`_att_table`, or empty blocks (``att_overall`` None) when no city-year is treated."""
    g, t = panel[cohort_col].to_numpy(), panel["year"].to_numpy()
    if not ((g > 0) & (t >= g)).any():
        return {"att_overall": None, "att_gt": [], "att_by_event_time": {}, "att_by_cohort": {}}
    return _att_table(panel, tau, cohort_col)


def link_truth(panel: pd.DataFrame, parts: dict, design: SyntheticDesign) -> dict:
    """The ``cre`` and ``laos`` blocks (each link's realised ATT over its own coded treated
    city-years, total effects with GDP's response; ``att_overall_direct`` without it) and the
    ``spillover`` block for ``pilot.spillover`` (the realised effect on exposed untreated city-years, by time since
    first exposure), from the per-cell effects of :func:`simulate_panel`."""
    channel = 1 + design.beta_log_gdp_pc * design.gdp_export_feedback
    out = {}
    for name, cohort, extra in (
        ("cre", "cre_year", {"link": "china-europe-railway-express",
                             "att_at_first_service": design.rail_att,
                             "growth_per_year": design.rail_att_growth}),
        ("laos", "laos_rail_year", {"link": "china-laos-railway", "att": design.laos_att}),
    ):  # fmt: skip
        tau = np.asarray(parts[name], dtype=float)
        block = {**_att_block(panel, tau * channel, cohort), **extra}
        block["att_overall_direct"] = _att_block(panel, tau, cohort)["att_overall"]
        block["cities"] = sorted(panel.loc[panel[cohort] > 0, "city_code"].unique().tolist())
        block["outside_coding"] = _outside_coding(panel, tau, cohort)
        # city by city, as for pilot and rail (studies.rules.truth_for averages the kept cities)
        block["total_over_direct"] = channel
        block["city_effects"] = _effects_by_city(panel, tau * channel, cohort)
        out[name] = block
    spill = np.asarray(parts["spillover"], dtype=float)
    exposed = spill != 0
    frame = pd.DataFrame(
        {"city": panel["city_code"].to_numpy(), "t": panel["year"].to_numpy(), "s": spill}
    )[exposed]
    first = frame.groupby("city")["t"].transform("min")
    by_e = frame.groupby(frame["t"] - first)["s"].mean()
    out["spillover"] = {
        "effect": design.pilot_spillover,
        "radius_km": design.pilot_spillover_km,
        "exposure": (
            "an untreated city-year (no pilot effect of its own yet) strictly within radius_km of"
            " a city whose pilot effect has started; a treatment effect on neighbours (not in the"
            " untreated outcome, no GDP response)"
        ),
        "exposed_city_years": int(exposed.sum()),
        "exposed_cities": int(frame["city"].nunique()),
        "att_exposed": float(frame["s"].mean()) if len(frame) else None,
        "att_by_event_time": {str(int(e)): float(v) for e, v in by_e.items()},
    }
    return out


# --- Network block (issue 20): doses, heterogeneous dose response, Broadband China ----------------
#
# params.yaml ``synthetic.network`` (config.NetworkDGPConfig). In log exports the single constant
# elasticity is replaced by
#
#     b_i log(bb0[i,t]) + mobile_elasticity log(mob0[i,t]) + tau_bc[i,t]
#
# * bb0: the broadband diffusion above (users per 100) without the programme; the observed dose
#   adds the designation's first stage, bb = bb0 + designation_broadband x ramp(e) (half in the
#   designation year, all from the next); mob0 a logistic mobile diffusion (~55 -> ~115 per 100,
#   city-specific timing independent of region) and mob = mob0 + designation_mobile x ramp(e).
# * b_i = broadband_elasticity (1 + elasticity_sd z_i): a dose response concave in the dose (log)
#   and heterogeneous across cities; optionally with selection on gains: z_i = -rho shift_i +
#   sqrt(1-rho^2) xi_i correlates (rho = selection_on_gains) with how EARLY the city's broadband
#   diffuses (shift_i is its diffusion midpoint's deviation), so the cities that gain more adopt
#   faster and a TWFE elasticity (variance-weighted by each city's dose path) is not the mean
#   elasticity. 0 by default: with 0.6 the pilot-zone study, which holds broadband fixed with one
#   slope, is biased by -0.02 (data/README.md); selection on gains stays in tau_bc (kappa).
# * tau_bc: the Broadband China designation's effect on log exports, constant from the coded
#   designation year g on: h(D_i) (1 + kappa (D_i - m) / s + v_i), h(d) = scale log(1 + d / half),
#   D_i = observed broadband per 100 in g - 1 (the dose the city brings to the programme), m and s
#   its mean and SD over the designated cities, v_i ~ N(0, designation_city_sd). Hence, in the
#   notation of Callaway, Goodman-Bacon & Sant'Anna (2024):
#       ATT(d)   = h(d)                                (mean effect of dose d over the designated)
#       ATT(d|d) = h(d) (1 + kappa (d - m) / s)        (effect on the cities that have dose d)
#       ACRT(d|d) = h'(d) (1 + kappa (d - m) / s)      (causal response at d of those cities)
#   and a DiD across doses identifies ATT(d|d), whose slope h'(d)(1 + ...) + h(d) kappa / s is
#   ACRT(d|d) plus a selection-bias term (CGS's Theorem 3.2) unless kappa = 0.
#   The subscribers the programme adds are NOT also counted through b_i log(bb): tau_bc is the
#   programme's whole effect (its network upgrades included), so ATT(d|d) has the closed form
#   above (else it would depend on the unknown joint law of b_i and D_i).
# With the GDP feedback, GDP per capita responds to tau_bc as to the pilot and rail effects: the
# truth's designation effects are total effects (x total_over_direct).
# Draws: stream (seed, 3); the other draws of the panel are unchanged (elasticity_sd = 0,
# mobile_elasticity = 0 and zero designation terms reproduce the constant-elasticity panel).

DOSE_COLUMN = "broadband_per100"
DESIGNATION = "broadband_china"
NETWORK_OFF = NetworkDGPConfig(
    elasticity_sd=0.0,
    selection_on_gains=0.0,
    mobile_elasticity=0.0,
    designation_broadband=0.0,
    designation_mobile=0.0,
    designation_scale=0.0,
)
"""The network block switched off: the constant-elasticity panel published before issue 20."""


@dataclass(frozen=True)
class NetworkDraw:
    """The network block's arrays (cities x years) and per-city draws."""

    broadband: np.ndarray  # observed broadband per 100 (with the first stage)
    mobile: np.ndarray  # observed mobile subscribers per 100 (with the first stage)
    first_stage_broadband: np.ndarray
    first_stage_mobile: np.ndarray
    dose_effect: np.ndarray  # b_i log(bb0) + mobile_elasticity log(mob0)
    tau: np.ndarray  # designation effect on log exports (direct: before the GDP feedback)
    elasticity: np.ndarray  # b_i
    dose: np.ndarray  # D_i (0 for cities never designated)
    dose_mean: float
    dose_sd: float


def _broadband_china_years(cities: pd.DataFrame, design: SyntheticDesign) -> pd.DataFrame:
    """The coded designation year (0 = never; a designation after the panel counts as never)."""
    cities = cities.copy()
    if "broadband_china_year" not in cities:  # a treatments table without the network roster
        cities["broadband_china_year"] = 0
    year = cities["broadband_china_year"].fillna(0).astype(int)
    cities["broadband_china_year"] = year.where(year <= design.last_year, 0)
    return cities


def _ramp(event: np.ndarray) -> np.ndarray:
    """Share of the first stage reached e years after designation: 1/2 in the year, 1 after."""
    return np.where(event < 0, 0.0, np.minimum(event + 1, 2) / 2)


def designation_h(d: np.ndarray, net: NetworkDGPConfig) -> np.ndarray:
    """h(d) = scale log(1 + d / half_dose): the designation effect at dose d (concave)."""
    return net.designation_scale * np.log1p(np.asarray(d, dtype=float) / net.designation_half_dose)


def designation_h_prime(d: np.ndarray, net: NetworkDGPConfig) -> np.ndarray:
    return net.designation_scale / (net.designation_half_dose + np.asarray(d, dtype=float))


def network_block(
    cities: pd.DataFrame,
    years: np.ndarray,
    shift: np.ndarray,
    broadband0: np.ndarray,
    design: SyntheticDesign,
) -> NetworkDraw:
    """Draw the network block for ``cities`` (with ``broadband_china_year``) over ``years``;
    ``shift``: the standardised deviation of each city's broadband diffusion midpoint (negative =
    early), ``broadband0``: the diffusion without the programme."""
    net = design.network
    rng = np.random.default_rng([design.seed, 3])
    n, T = broadband0.shape
    g = cities["broadband_china_year"].to_numpy()
    event = np.where(g[:, None] > 0, years[None, :] - g[:, None], -1)
    ramp = _ramp(event)
    rho = net.selection_on_gains
    z = -rho * shift + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    elasticity = design.broadband_elasticity * (1 + net.elasticity_sd * z)
    mob_mid = 2013.0 + rng.normal(0, 1.5, n)
    mobile0 = 40.0 + (75.0 * np.exp(rng.normal(0, 0.08, n)))[:, None] / (
        1 + np.exp(-0.4 * (years[None, :] - mob_mid[:, None]))
    )
    mobile0 = mobile0 * np.exp(rng.normal(0, 0.02, (n, T)))
    v = rng.normal(0, net.designation_city_sd, n)
    fs_bb = net.designation_broadband * ramp
    fs_mob = net.designation_mobile * ramp
    broadband = broadband0 + fs_bb
    # the dose at designation: observed broadband the year before (the first panel year for a
    # city designated in it)
    col = np.clip(g - 1 - years[0], 0, T - 1)
    dose = np.where(g > 0, broadband[np.arange(n), col], 0.0)
    treated = g > 0
    m = float(dose[treated].mean()) if treated.any() else 0.0
    s = float(dose[treated].std()) if treated.sum() > 1 else 1.0
    gain = designation_h(dose, net) * (1 + net.designation_selection * (dose - m) / s + v)
    tau = np.where(event >= 0, gain[:, None], 0.0)
    dose_effect = elasticity[:, None] * np.log(broadband0) + net.mobile_elasticity * np.log(mobile0)
    return NetworkDraw(
        broadband=broadband,
        mobile=mobile0 + fs_mob,
        first_stage_broadband=fs_bb,
        first_stage_mobile=fs_mob,
        dose_effect=dose_effect,
        tau=tau,
        elasticity=elasticity,
        dose=dose,
        dose_mean=m,
        dose_sd=s,
    )


def designation_curves(
    grid: np.ndarray, net: NetworkDGPConfig, dose_mean: float, dose_sd: float, channel: float
) -> pd.DataFrame:
    """The true dose-response curves of the designation on ``grid`` (total effects)."""
    sel = 1 + net.designation_selection * (grid - dose_mean) / dose_sd
    h, dh = designation_h(grid, net), designation_h_prime(grid, net)
    return pd.DataFrame(
        {
            "dose": grid,
            "att_d": channel * h,
            "att_d_given_d": channel * h * sel,
            "acrt_d_given_d": channel * dh * sel,
            # what a DiD across doses identifies as the slope: ACRT(d|d) + selection bias
            "slope_att_d_given_d": channel * (dh * sel + h * net.designation_selection / dose_sd),
        }
    )


def network_truth(
    panel: pd.DataFrame, draw: NetworkDraw, design: SyntheticDesign, channel: float
) -> dict:
    """truth.json's network blocks: the designation (binary ATTs, city by city, dose-response
    curves), its first stage on both doses, and the dose response of exports to broadband."""
    net = design.network
    tau_total = channel * draw.tau.ravel()
    cities = panel["city_code"].drop_duplicates().to_numpy()
    dose = pd.Series(draw.dose, index=cities)
    treated = dose[dose > 0]
    grid = (
        np.quantile(treated.to_numpy(), np.linspace(0.05, 0.95, 19))
        if len(treated)
        else np.array([])
    )
    curves = designation_curves(grid, net, draw.dose_mean, draw.dose_sd, channel)
    block = {
        **_att_table(panel, tau_total, "broadband_china_year"),
        "outside_coding": _outside_coding(panel, draw.tau.ravel(), "broadband_china_year"),
        "total_over_direct": channel,
        "city_effects": _effects_by_city(panel, tau_total, "broadband_china_year"),
        "dose_variable": (
            "broadband_per100 in the year before designation (the dose the city brings to the"
            " programme; observed, not moved by it)"
        ),
        "city_doses": {str(c): float(d) for c, d in treated.items()},
        "dose_mean": draw.dose_mean,
        "dose_sd": draw.dose_sd,
        "dose_response": {c: curves[c].tolist() for c in curves.columns},
        "att_overall_over_designated_cities": float(
            channel
            * (
                designation_h(treated.to_numpy(), net)
                * (
                    1
                    + net.designation_selection
                    * (treated.to_numpy() - draw.dose_mean)
                    / draw.dose_sd
                )
            ).mean()
        )
        if len(treated)
        else None,
        "statement": (
            "Effect of Broadband China designation on log exports, constant from the coded"
            " designation year: h(D)(1 + kappa (D - m)/s + v) with h(d) = scale log(1 + d/half),"
            " total effects (GDP feedback included). ATT(d|d) = h(d)(1 + kappa (d - m)/s), ATT(d) ="
            " h(d), ACRT(d|d) = h'(d)(1 + kappa (d - m)/s); a DiD across doses identifies ATT(d|d)"
            " and, as its slope, ACRT(d|d) plus selection bias (slope_att_d_given_d)."
        ),
        "params": {
            "scale": net.designation_scale,
            "half_dose": net.designation_half_dose,
            "selection": net.designation_selection,
            "city_sd": net.designation_city_sd,
        },
    }
    first_stage = {
        "broadband_per100": {
            **_att_table(panel, draw.first_stage_broadband.ravel(), "broadband_china_year"),
            "full": net.designation_broadband,
        },
        "mobile_per100": {
            **_att_table(panel, draw.first_stage_mobile.ravel(), "broadband_china_year"),
            "full": net.designation_mobile,
        },
        "ramp": "half the full first stage in the designation year, all of it from the next",
    }
    lo, hi = np.quantile(draw.broadband, [0.05, 0.95])
    bb_grid = np.linspace(lo, hi, 25)
    b = draw.elasticity
    broadband = {
        "elasticity": design.broadband_elasticity,
        "regressor": "log_broadband",
        "elasticity_mean_realised": float(b.mean()),
        "elasticity_sd_realised": float(b.std()),
        "elasticity_sd": net.elasticity_sd,
        "selection_on_gains": net.selection_on_gains,
        "city_elasticities": {str(c): float(x) for c, x in zip(cities, b)},
        "dose_response": {
            "dose": bb_grid.tolist(),
            # mean over cities of b_i (log d - log d_ref), d_ref = the grid's first point
            "effect": (b.mean() * (np.log(bb_grid) - np.log(bb_grid[0]))).tolist(),
        },
        "statement": (
            "log exports contain b_i log(broadband without the programme), b_i = elasticity (1 +"
            " elasticity_sd z_i), z_i correlated (selection_on_gains) with early diffusion: concave"
            " in the dose, heterogeneous, with selection on gains; the programme's added subscribers"
            " act through the designation effect, not through b_i."
        ),
    }
    mobile = {
        "elasticity": net.mobile_elasticity,
        "regressor": "log_mobile",
        "statement": "log exports contain mobile_elasticity x log(mobile per 100 without the programme)",
    }
    return {
        DESIGNATION: block,
        "first_stage": first_stage,
        "broadband": broadband,
        "mobile": mobile,
    }


def network_effect_component(panel: pd.DataFrame, truth: dict) -> pd.Series:
    """The part of log exports due to the doses and the designation, city-year by city-year
    (total effects), rebuilt from the panel and its truth alone: b_i log(bb0) + mobile_elasticity
    log(mob0) + tau_bc, bb0 and mob0 the observed doses less the first stage. What a dCDH
    estimator applied to it returns is that estimator's target on the realised doses (no noise,
    no confounding)."""
    fs = truth["first_stage"]
    g = panel["broadband_china_year"].to_numpy()
    event = np.where(g > 0, panel["year"].to_numpy() - g, -1)
    ramp = _ramp(event)
    bb0 = panel["broadband_per100"].to_numpy() - fs["broadband_per100"]["full"] * ramp
    mob0 = panel["mobile_per100"].to_numpy() - fs["mobile_per100"]["full"] * ramp
    b = panel["city_code"].map(truth["broadband"]["city_elasticities"]).to_numpy(dtype=float)
    effects = truth[DESIGNATION]["city_effects"]
    tau = np.zeros(len(panel))
    codes = panel["city_code"].to_numpy()
    for i in np.flatnonzero(event >= 0):
        tau[i] = effects[codes[i]]["effects"][event[i]]
    value = b * np.log(bb0) + truth["mobile"]["elasticity"] * np.log(mob0) + tau
    return pd.Series(value, index=panel.index, name="network_effect")
