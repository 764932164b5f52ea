"""Calibrated synthetic city panel with known true effects (the default data; SYNTHETIC).

Built on the real city master and the real treatment dates. Data-generating process, city i, year t:

    log_exports[i,t] = alpha[i] + lambda[t]
                       + tau_pilot[i,t] + tau_rail[i,t] + elasticity * log_broadband[i,t]
                       + beta' controls[i,t] + eps[i,t]

* alpha: heavy-tailed city effects (coastal, eastern, municipal and early-pilot cities export more;
  a few cities carry most exports, as in reality).
* lambda: year effects set so that the cities' exports add up to China's national goods exports of
  that year (data/reference/china_exports_national.csv).
* tau_pilot = a[batch] + growth * min(e, cap) for e = t - pilot_year >= 0: heterogeneous across
  batches and growing with years since designation. TWFE with one dummy is biased under this.
* tau_rail = a_rail + growth_rail * min(e, cap) after the first rail service.
* log_broadband: logistic diffusion of broadband users per 100 people, later and lower in the west.
* controls: log GDP per capita grows faster in early-pilot cities and where broadband spreads early,
  so comparisons that omit it are biased upward.
* eps: AR(1) shocks within city.

The realised true effects are written to JSON next to the panel (ATT by cohort and year, by event
time, overall, by batch; the elasticity and control coefficients).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.data.schema import PANEL_COLUMNS, PANEL_SCHEMA
from analysis.data.treatments import add_treatment_dummies


@dataclass(frozen=True)
class SyntheticDesign:
    """Parameters of the data-generating process (params.yaml: synthetic)."""

    seed: int = 20150307
    first_year: int = 2010
    last_year: int = 2023
    n_cities: int | None = None
    pilot_att_by_batch: dict = field(
        default_factory=lambda: {1: 0.15, 2: 0.12, 3: 0.10, 4: 0.08, 5: 0.06, 6: 0.05, 7: 0.04}
    )
    pilot_att_growth: float = 0.03
    rail_att: float = 0.08
    rail_att_growth: float = 0.0
    growth_cap: int = 5
    broadband_elasticity: float = 0.15
    beta_log_gdp_pc: float = 0.6
    beta_log_population: float = 0.4
    beta_log_fdi: float = 0.08
    beta_industry_share: float = 0.01
    noise_sd: float = 0.06
    noise_rho: float = 0.3
    city_effect_sd: float = 1.1

    @classmethod
    def from_params(cls, params: dict) -> "SyntheticDesign":
        syn = dict(params.get("synthetic", {}))
        syn["pilot_att_by_batch"] = {int(k): float(v) for k, v in syn.get("pilot_att_by_batch", {}).items()} or None
        if syn["pilot_att_by_batch"] is None:
            syn.pop("pilot_att_by_batch")
        return cls(first_year=params["panel"]["first_year"], last_year=params["panel"]["last_year"], **syn)


REGION_DIFFUSION = {  # broadband ceiling (users per 100), midpoint year, speed
    "east": (48.0, 2013.0, 0.45),
    "central": (40.0, 2015.0, 0.45),
    "northeast": (40.0, 2014.5, 0.40),
    "west": (36.0, 2016.0, 0.45),
}


def _city_effects(cities: pd.DataFrame, rng: np.random.Generator, design: SyntheticDesign) -> np.ndarray:
    early = np.where(cities["pilot_batch"] > 0, (8 - cities["pilot_batch"]) / 7, 0.0)
    return (
        1.3 * cities["coastal"].to_numpy()
        + 0.8 * (cities["region"] == "east").to_numpy()
        + 1.2 * cities["municipality"].to_numpy()
        + 1.0 * early
        + design.city_effect_sd * rng.standard_normal(len(cities))
    )


def pilot_effect(batch: np.ndarray, event: np.ndarray, design: SyntheticDesign) -> np.ndarray:
    """True pilot-zone effect on log exports by batch and years since designation (0 before)."""
    base = np.array([0.0] + [design.pilot_att_by_batch[b] for b in range(1, 8)])[batch]
    effect = base + design.pilot_att_growth * np.clip(event, 0, design.growth_cap)
    return np.where((batch > 0) & (event >= 0), effect, 0.0)


def rail_effect(event: np.ndarray, treated: np.ndarray, design: SyntheticDesign) -> np.ndarray:
    effect = design.rail_att + design.rail_att_growth * np.clip(event, 0, design.growth_cap)
    return np.where(treated & (event >= 0), effect, 0.0)


def simulate_panel(
    cities: pd.DataFrame, treatments: pd.DataFrame, national: pd.DataFrame, design: SyntheticDesign
) -> tuple[pd.DataFrame, dict]:
    """Return (panel validated against PANEL_SCHEMA, true parameters as a JSON-ready dict)."""
    rng = np.random.default_rng(design.seed)
    cities = cities.merge(treatments, on="city_code", how="left", validate="one_to_one")
    if design.n_cities is not None and design.n_cities < len(cities):
        keep = np.sort(rng.choice(len(cities), size=design.n_cities, replace=False))
        cities = cities.iloc[keep].reset_index(drop=True)
    years = np.arange(design.first_year, design.last_year + 1)
    n, T = len(cities), len(years)
    # Treatments first observed after the panel ends count as never treated within it.
    for col in ("pilot_year", "rail_year", "cre_year", "laos_rail_year"):
        cities.loc[cities[col] > design.last_year, col] = 0
    cities.loc[cities["pilot_year"] == 0, "pilot_batch"] = 0

    t = years[None, :] - design.first_year  # 0..T-1
    alpha = _city_effects(cities, rng, design)
    pilot_year = cities["pilot_year"].to_numpy()[:, None]
    early_pilot = ((pilot_year > 0) & (pilot_year <= 2018)).astype(float)

    # Broadband diffusion (users per 100 people): logistic by region, shifted per city.
    ceil, mid, speed = (np.array([REGION_DIFFUSION[r][k] for r in cities["region"]]) for k in range(3))
    shift = rng.normal(0, 1.0, n)
    ceiling = ceil * np.exp(rng.normal(0, 0.10, n))
    midpoint = mid + shift
    broadband = 2.0 + ceiling[:, None] / (1 + np.exp(-speed[:, None] * (years[None, :] - midpoint[:, None])))
    broadband *= np.exp(rng.normal(0, 0.03, (n, T)))
    log_broadband = np.log(broadband)

    # Controls. GDP per capita grows faster in early-pilot cities and in early-diffusion cities.
    log_gdp_pc0 = 10.4 + 0.5 * alpha / 2 + rng.normal(0, 0.25, n)
    gdp_growth = 0.065 + 0.02 * early_pilot[:, 0] - 0.004 * shift + rng.normal(0, 0.006, n)
    log_gdp_pc = log_gdp_pc0[:, None] + gdp_growth[:, None] * t + rng.normal(0, 0.015, (n, T))
    log_pop0 = 5.8 + 0.25 * alpha / 2 + rng.normal(0, 0.5, n)
    log_population = log_pop0[:, None] + rng.normal(0.004, 0.004, n)[:, None] * t + rng.normal(0, 0.01, (n, T))
    log_fdi = (3.5 + 0.6 * alpha)[:, None] + rng.normal(0.02, 0.03, n)[:, None] * t + rng.normal(0, 0.2, (n, T))
    industry = np.clip(
        (45 + rng.normal(0, 6, n))[:, None] - 0.6 * t + rng.normal(0, 1.0, (n, T)), 5, 90
    )

    event_pilot = years[None, :] - pilot_year
    tau_pilot = pilot_effect(cities["pilot_batch"].to_numpy()[:, None], event_pilot, design)
    rail_year = cities["rail_year"].to_numpy()[:, None]
    tau_rail = rail_effect(years[None, :] - rail_year, rail_year > 0, design)

    eps = np.empty((n, T))
    eps[:, 0] = rng.normal(0, design.noise_sd, n)
    innov_sd = design.noise_sd * np.sqrt(1 - design.noise_rho**2)
    for j in range(1, T):
        eps[:, j] = design.noise_rho * eps[:, j - 1] + rng.normal(0, innov_sd, n)

    controls = (
        design.beta_log_gdp_pc * log_gdp_pc
        + design.beta_log_population * log_population
        + design.beta_log_fdi * log_fdi
        + design.beta_industry_share * industry
    )
    log_exports = alpha[:, None] + tau_pilot + tau_rail + design.broadband_elasticity * log_broadband + controls + eps
    # Year effects: scale every year so that the cities' exports (USD mn) add up to national exports.
    nat = national.set_index("year").reindex(years)["exports_usd_bn"]
    if nat.isna().any():
        missing = ", ".join(str(y) for y in nat.index[nat.isna()])
        raise ValueError(f"national exports missing for {missing}: extend data/reference/china_exports_national.csv")
    share = len(cities) / 337  # a subset of cities carries its share of national exports
    lam = np.log(nat.to_numpy() * 1000 * share) - np.log(np.exp(log_exports).sum(axis=0))
    log_exports = log_exports + lam[None, :]

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
        }
    )
    keep = ["city_code", "city", "city_en", "province", "region", "coastal",
            "pilot_year", "pilot_batch", "rail_year", "cre_year", "laos_rail_year"]
    panel = panel.merge(cities[keep], on="city_code", how="left")
    panel = add_treatment_dummies(panel)
    panel["data_source"] = "synthetic"
    panel = PANEL_SCHEMA.validate(panel[list(PANEL_COLUMNS)])
    truth = true_effects(panel, tau_pilot.ravel(), tau_rail.ravel(), design)
    return panel, truth


def _att_table(panel: pd.DataFrame, tau: np.ndarray, cohort_col: str) -> dict:
    """Realised average effects among treated city-years: by (cohort, year), by event time, overall."""
    frame = pd.DataFrame({"g": panel[cohort_col].to_numpy(), "t": panel["year"].to_numpy(), "tau": tau})
    frame = frame[(frame["g"] > 0) & (frame["t"] >= frame["g"])]
    frame["e"] = frame["t"] - frame["g"]
    gt = frame.groupby(["g", "t"])["tau"].mean().reset_index()
    by_e = frame.groupby("e")["tau"].mean()
    by_g = frame.groupby("g")["tau"].mean()
    return {
        "att_overall": float(frame["tau"].mean()),
        "att_gt": [{"cohort": int(r.g), "year": int(r.t), "att": float(r.tau)} for r in gt.itertuples()],
        "att_by_event_time": {str(int(e)): float(v) for e, v in by_e.items()},
        "att_by_cohort": {str(int(g)): float(v) for g, v in by_g.items()},
    }


def true_effects(panel: pd.DataFrame, tau_pilot: np.ndarray, tau_rail: np.ndarray, design: SyntheticDesign) -> dict:
    """The known truth of the synthetic panel, as written next to it."""
    return {
        "data_source": "synthetic",
        "note": "SYNTHETIC data: calibrated simulation with known true effects, not real city exports.",
        "seed": design.seed,
        "outcome": "log_exports",
        "pilot": {
            **_att_table(panel, tau_pilot, "pilot_year"),
            "att_by_batch_at_designation": {str(b): v for b, v in design.pilot_att_by_batch.items()},
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
