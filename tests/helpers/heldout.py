"""A held-out yearbook panel from a data-generating process written apart from the project's own
(``analysis.data.synthetic`` is neither imported nor copied), with its true effects (issue 18).

The project's estimators were tuned on its synthetic DGP, where a city's log GDP per capita is an
exact straight line plus noise, effects start on January 1 of the coded year and parallel trends
hold given the controls' paths. This DGP differs where real yearbook data plausibly differ; only
the cities (the city master) and the treatment dates (``data/reference``) are real.

City i (province p), year t = 2010..2023, s = t - 2010; all logs natural:

    log GDP pc[i,t]  = g0[i] + c[t] + b[i] s + u[i,t] + m_pilot[i,t] + m_rail[i,t]
    log exports[i,t] = alpha[i] + lambda[t] + GAMMA log GDP pc[i,t] + POP (log pop[i,t] - mean)
                       + THETA (g0[i] - mean g0) s + tau_pilot[i,t] + tau_cre[i,t] + tau_laos[i,t]
                       + v[p,t] + eps[i,t]

* **GDP per capita is a mediator**: designation raises log GDP per capita by ``PILOT_GDP_STEP`` a
  year since the designation date, up to ``PILOT_GDP_YEARS`` years (m_pilot; rail: m_rail), and
  GDP raises exports (``GAMMA``). The TOTAL effect on log exports is tau + GAMMA m; the DIRECT
  effect (GDP held on its untreated path) is tau.
* **The common GDP path c[t] is concave** (``GDP_GROWTH``: nominal growth slowing from 17% in 2011
  to about 5% with a dip in 2020, the shape of China's national GDP per capita; a DGP choice, not a
  data fact). A city's own path deviates from it by a city growth rate b and AR(1) noise u.
* **Parallel trends only conditional on baseline GDP**: THETA != 0 gives cities with a higher 2010
  GDP per capita a different export trend (slower: export growth moving from rich coastal cities
  to poorer ones, beyond what their GDP growth carries); and GDP growth converges (b falls with
  g0). **Designation is targeted on baseline size and growth**: the real roster decides who is
  designated when, and the cities designated early are drawn larger (population, GDP per capita)
  and faster-growing (b) than late and never-designated ones (``EARLY``).
* **Batch-specific effects that grow** with time since designation: tau = mult[i] (A[batch] +
  G[batch] min(years since the date, CAP)); mult[i] is a city's own multiplier (log-normal, larger
  for coastal cities): the effects are not a deterministic function of batch and event time.
* **Mid-year timing**: every effect is computed month by month from the designation (or first
  service) DATE (a month counts when its 15th is on or after the date) and averaged over the 12
  months of a calendar year. The project codes a date in January-June as treated from that year
  and July-December from the next (``treatment.year_rule: midyear``, :func:`coded_year`). The
  mismatch this imposes on the project, by construction: (a) a date in July-December leaves a
  partly treated calendar year that the project codes as untreated (pilot batch 3, 24 Jul 2018:
  5 of the 12 months of 2018 exposed; batch 4, 15 Dec 2019: 1 of 12; batch 7, 14 Nov 2022: 2 of
  12; the CRE services of 武汉, 苏州, 郑州, 西安, 长沙, 金华, 厦门, 广州; China-Laos, 3 Dec 2021):
  these effects contaminate the untreated-outcome model and are not in the truth; (b) a date in
  January-June makes the coded first year only partly exposed (batch 1, 7 Mar 2015: 10 of 12
  months; batch 5, 27 Apr 2020: 8 of 12): the truth counts the partial effect of that year.
  :func:`timing_mismatch` measures both on the panel.
* **City effects alpha are random** (heavy-tailed, larger for coastal, eastern and early cities),
  **province-year shocks** v ~ N(0, ``PROVINCE_YEAR_SD``), AR(1) city shocks eps with Student-t
  innovations, year effects lambda that make untreated exports follow China's national exports
  (data/reference/china_exports_national.csv).
* **Rail**: the China-Europe Railway Express (CRE) from each origin city's first-service date in
  data/reference/rail_links.csv, growing effects, and a small GDP effect; the China-Laos railway
  (its four prefectures, in data/reference) with an effect of its own. **Co-treatment**: the CRE
  origin cities are mostly early pilot cities (the real dates), and the DGP draws them larger
  still (a logistics hub is a large city), so rail and pilot effects overlap in time and place.

The file (:func:`write_yearbook`) is what a user holds: an XLSX workbook with one sheet per year
(a title row, Chinese headers with the yearbook's units: 货物出口额(万美元), 地区生产总值(万元),
年末总人口(万人), 实际使用外资金额(万美元), 第二产业增加值占GDP比重(%)), a province column, city
names with their 市/州 suffix, blank cells and "—" marks, a footnote; two city-years absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from studies.test_user_panels import HEADERS as USER_HEADERS

FIRST_YEAR, LAST_YEAR = 2010, 2023
YEARS = np.arange(FIRST_YEAR, LAST_YEAR + 1)
SEED = 18

# --- parameters (fixed before any estimate was seen; the reasons beside each) -----------------
GAMMA = 0.8  # export elasticity to GDP per capita (exports scale with output)
POP = 0.8  # export elasticity to population
THETA = -0.012  # export trend per log point of 2010 GDP per capita, per year (conditional PT)
# nominal growth of the common GDP-per-capita path, 2011..2023 (concave, dip in 2020)
GDP_GROWTH = (0.17, 0.10, 0.09, 0.08, 0.065, 0.075, 0.10, 0.095, 0.07, 0.02, 0.125, 0.055, 0.045)
GDP_CONVERGENCE = 0.015  # b falls by this per log point of g0 (poorer cities grow faster)
GDP_TARGETING = 0.005  # b rises by this per unit of EARLY (designation targeted on growth)
GDP_AR, GDP_SD = 0.6, 0.025  # city GDP deviations: AR(1) coefficient and stationary SD
PILOT_GDP_STEP, PILOT_GDP_YEARS = 0.025, 4  # mediator: +2.5% GDP pc a year, for 4 years
RAIL_GDP_STEP, RAIL_GDP_YEARS = 0.01, 3
# pilot direct effect by batch: level at designation and growth a year (capped at CAP years)
PILOT_A = {1: 0.10, 2: 0.10, 3: 0.08, 4: 0.07, 5: 0.05, 6: 0.04, 7: 0.03}
PILOT_G = {1: 0.03, 2: 0.03, 3: 0.025, 4: 0.02, 5: 0.02, 6: 0.015, 7: 0.015}
CAP = 5
CRE_A, CRE_G, CRE_CAP = 0.06, 0.02, 4
LAOS_A, LAOS_G, LAOS_CAP = 0.05, 0.02, 4
EFFECT_SD = 0.35  # SD of log of a city's effect multiplier
# how early a city's designation came (targeting on size and growth): batch -> score, never 0
EARLY = {1: 1.0, 2: 1.0, 3: 0.75, 4: 0.55, 5: 0.4, 6: 0.25, 7: 0.15}
CRE_HUB = 0.3  # CRE origin cities: larger still
PROVINCE_YEAR_SD = 0.07
NOISE_AR, NOISE_SD, NOISE_DF = 0.5, 0.16, 5
# share of blank cells per column (FDI is the column yearbooks most often leave empty)
BLANK_SHARE = {"exports": 0.004, "gdp": 0.008, "population": 0.004, "fdi": 0.04, "industry": 0.015}
ABSENT_CITY_YEARS = 2  # rows missing from their sheet altogether

# the yearbook's headers with their units (the corpus of user panels writes the same ones)
HEADERS = {k: USER_HEADERS[k] for k in ("exports", "gdp", "population", "fdi", "industry")}
DECIMALS = {"exports": 0, "gdp": 0, "population": 2, "fdi": 0, "industry": 2}


# --- the real treatment dates -----------------------------------------------------------------
def _city_codes(names: pd.Series, master: pd.DataFrame) -> pd.Series:
    """Roster names (杭州, 西双版纳傣族自治州) -> city-master codes, by full or short name."""
    lookup = {**dict(zip(master["city_short"], master["city_code"], strict=True)),
              **dict(zip(master["city"], master["city_code"], strict=True))}  # fmt: skip
    codes = names.map(lookup)
    missing = sorted(set(names[codes.isna()]))
    assert not missing, f"roster names not in the city master: {missing}"
    return codes


def treatment_dates(master: pd.DataFrame) -> pd.DataFrame:
    """Per city of the master: the first pilot designation date and its batch (the earliest among
    the city and the county-level units inside it: the roster's ``prefecture``), the first CRE
    service and the China-Laos opening (NaT = never)."""
    from analysis.data import reference

    zones = reference.load_pilot_zones()
    zones = zones.assign(city_code=_city_codes(zones["prefecture"], master))
    first = zones.sort_values("approved").groupby("city_code").first()
    links = reference.load_rail_links()
    links = links.assign(city_code=_city_codes(links["prefecture"], master))
    out = pd.DataFrame(index=master["city_code"])
    out["pilot_date"] = first["approved"]
    out["pilot_batch"] = first["batch"].reindex(out.index).fillna(0).astype(int)
    for col, link in (
        ("cre_date", "china-europe-railway-express"),
        ("laos_date", "china-laos-railway"),
    ):
        out[col] = links[links["link"] == link].groupby("city_code")["first_service"].min()
    return out


def coded_year(dates: pd.Series) -> pd.Series:
    """The project's default coding (params.yaml treatment.year_rule: midyear): a date in
    January-June -> that year, July-December -> the next; 0 = never. Written here from the rule's
    statement (README, "treatment.year_rule") so that the test can check the project's coding
    against it."""
    year = dates.dt.year + (dates.dt.month > 6).astype("Int64")
    return year.fillna(0).astype(int)


def _month_years(dates: pd.Series) -> np.ndarray:
    """Years since ``dates`` at the middle of each month of each panel year: (city, year, 12),
    NaN where the city has no date."""
    mid = pd.to_datetime([f"{y}-{m:02d}-15" for y in YEARS for m in range(1, 13)]).to_numpy()
    d = dates.to_numpy(dtype="datetime64[ns]")
    days = (mid[None, :] - d[:, None]) / np.timedelta64(1, "D")
    return (days / 365.25).reshape(len(dates), len(YEARS), 12)


def _ramp(s: np.ndarray, level: float | np.ndarray, growth: float | np.ndarray, cap: float):
    """Annual mean over months of ``level + growth min(s, cap)`` where ``s >= 0`` (0 before and
    where there is no date): the effect of a calendar year under monthly timing."""
    with np.errstate(invalid="ignore"):
        on = s >= 0
        val = np.where(on, level + growth * np.minimum(np.where(on, s, 0), cap), 0.0)
    return val.mean(axis=2)


# --- the panel ----------------------------------------------------------------------------------
@dataclass
class HeldOut:
    """``values``: one row per city-year, in canonical units, before blanks; ``effects``: the true
    effects per city-year (``pilot_total``, ``pilot_direct``, ``cre_total``, ``laos_total``; the
    treatments' move of log GDP per capita ``log_gdp_pc_effect``) with the coded first years and
    the exposed share of each year; ``blanks``: column -> boolean mask over
    ``values`` rows (``absent``: the row is not in the file)."""

    values: pd.DataFrame
    effects: pd.DataFrame
    blanks: dict[str, np.ndarray]


def simulate(seed: int = SEED) -> HeldOut:
    from analysis.data import reference
    from analysis.data.cities import build_city_master

    rng = np.random.default_rng(seed)
    master = build_city_master().reset_index(drop=True)
    dates = treatment_dates(master)
    n, T = len(master), len(YEARS)
    s = (YEARS - FIRST_YEAR)[None, :].astype(float)
    batch = dates["pilot_batch"].to_numpy()
    is_cre = dates["cre_date"].notna().to_numpy()
    early = np.array([EARLY.get(b, 0.0) for b in batch]) + CRE_HUB * is_cre
    coastal = master["coastal"].to_numpy(dtype=float)
    east = (master["region"] == "east").to_numpy(dtype=float)
    west = (master["region"] == "west").to_numpy(dtype=float)
    muni = master["municipality"].to_numpy(dtype=float)

    # baseline size and income, targeted: early cities are larger and richer
    log_pop0 = np.log(420) + 0.45 * early + 1.0 * muni + rng.normal(0, 0.5, n)
    g0 = (np.log(30000) + 0.30 * early + 0.25 * east + 0.15 * coastal - 0.15 * west
          + 0.2 * muni + rng.normal(0, 0.28, n))  # fmt: skip
    g0c = g0 - g0.mean()
    pop_growth = (np.select([east > 0, west > 0, master["region"] == "northeast"],
                            [0.008, 0.004, -0.006], 0.002) + rng.normal(0, 0.004, n))  # fmt: skip
    log_pop = log_pop0[:, None] + pop_growth[:, None] * s + rng.normal(0, 0.01, (n, T))

    # GDP per capita: concave common path, convergent and targeted city growth, AR(1) deviations
    c = np.concatenate([[0.0], np.cumsum(np.log1p(GDP_GROWTH))])[None, :]
    b = GDP_TARGETING * early - GDP_CONVERGENCE * g0c + rng.normal(0, 0.01, n)
    u = _ar1(rng, n, T, GDP_AR, GDP_SD, df=None)

    # effects, month by month from the dates
    s_pilot = _month_years(dates["pilot_date"])
    s_cre = _month_years(dates["cre_date"])
    s_laos = _month_years(dates["laos_date"])
    mult = np.exp(rng.normal(-(EFFECT_SD**2) / 2, EFFECT_SD, n)) * np.where(coastal > 0, 1.15, 0.92)
    a = np.array([PILOT_A.get(x, 0.0) for x in batch])[:, None, None]
    g = np.array([PILOT_G.get(x, 0.0) for x in batch])[:, None, None]
    tau_pilot = mult[:, None] * _ramp(s_pilot, a, g, CAP)
    rail_mult = np.exp(rng.normal(-(0.3**2) / 2, 0.3, n))
    tau_cre = rail_mult[:, None] * _ramp(s_cre, CRE_A, CRE_G, CRE_CAP)
    tau_laos = rail_mult[:, None] * _ramp(s_laos, LAOS_A, LAOS_G, LAOS_CAP)
    m_pilot = _ramp(s_pilot, 0.0, PILOT_GDP_STEP, PILOT_GDP_YEARS)
    m_rail = _ramp(s_cre, 0.0, RAIL_GDP_STEP, RAIL_GDP_YEARS) + _ramp(
        s_laos, 0.0, RAIL_GDP_STEP, RAIL_GDP_YEARS
    )
    log_gdp_pc = g0[:, None] + c + b[:, None] * s + u + m_pilot + m_rail

    # exports: random city levels, national year effects, conditional trends, shocks
    alpha = (1.2 * coastal + 0.5 * east + 0.6 * early - 0.4 * west
             + 0.8 * rng.standard_t(4, n) / np.sqrt(2))  # fmt: skip
    provinces, p_idx = np.unique(master["province"].to_numpy(), return_inverse=True)
    v = rng.normal(0, PROVINCE_YEAR_SD, (len(provinces), T))[p_idx]
    eps = _ar1(rng, n, T, NOISE_AR, NOISE_SD, df=NOISE_DF)
    national = reference.load_national_exports().set_index("year").loc[YEARS]
    lam = np.log(national["exports_usd_bn"].to_numpy() * 1e5)[None, :] - GAMMA * c
    base = (alpha[:, None] + GAMMA * (log_gdp_pc - m_pilot - m_rail)
            + POP * (log_pop - log_pop.mean()) + THETA * g0c[:, None] * s + v + eps)  # fmt: skip
    # the level: untreated exports of all cities add up to national exports in 2010
    lam = lam - np.log(np.exp(base[:, 0] + lam[0, 0]).sum() / np.exp(lam[0, 0]))
    log_exports0 = base + lam  # untreated potential outcome
    total_pilot = tau_pilot + GAMMA * m_pilot
    total_rail = tau_cre + tau_laos + GAMMA * m_rail
    log_exports = log_exports0 + total_pilot + total_rail

    # FDI and industry share (controls the project rules by their pre-treatment trends)
    log_fdi = (np.log(15000) + 0.9 * g0c[:, None] + 0.8 * (log_pop0[:, None] - np.log(420))
               + 0.5 * c + 0.15 * (m_pilot > 0) + _ar1(rng, n, T, 0.5, 0.3, df=None))  # fmt: skip
    industry = (47 + 3 * coastal[:, None] - 0.45 * s + rng.normal(0, 4, n)[:, None]
                + _ar1(rng, n, T, 0.7, 1.0, df=None))  # fmt: skip

    def long(x: np.ndarray) -> np.ndarray:
        return x.ravel()

    codes = np.repeat(master["city_code"].to_numpy(), T)
    years = np.tile(YEARS, n)
    pop = np.exp(log_pop)
    values = pd.DataFrame(
        {
            "city_code": codes,
            "year": years,
            "city": np.repeat(master["city"].to_numpy(), T),
            "province": np.repeat(master["province"].to_numpy(), T),
            "exports": long(np.exp(log_exports)),  # 10k USD
            "gdp": long(np.exp(log_gdp_pc) * pop),  # GDP per capita (yuan) x 10k persons = 10k yuan
            "population": long(pop),
            "fdi": long(np.exp(log_fdi)),
            "industry": long(industry),
        }
    )
    coded = {k: coded_year(dates[f"{k}_date"]).to_numpy() for k in ("pilot", "cre", "laos")}
    exposed = {k: (x >= 0).mean(axis=2) for k, x in (("pilot", s_pilot), ("cre", s_cre),
                                                      ("laos", s_laos))}  # fmt: skip
    effects = pd.DataFrame(
        {
            "city_code": codes,
            "year": years,
            "pilot_batch": np.repeat(batch, T),
            "pilot_total": long(total_pilot),
            "pilot_direct": long(tau_pilot),
            "cre_total": long(tau_cre + GAMMA * _ramp(s_cre, 0.0, RAIL_GDP_STEP, RAIL_GDP_YEARS)),
            "laos_total": long(
                tau_laos + GAMMA * _ramp(s_laos, 0.0, RAIL_GDP_STEP, RAIL_GDP_YEARS)
            ),
            # what designation and rail add to log GDP per capita (the mediator's move)
            "log_gdp_pc_effect": long(m_pilot + m_rail),
            **{f"{k}_coded_year": np.repeat(v, T) for k, v in coded.items()},
            **{f"{k}_exposed": long(v) for k, v in exposed.items()},
        }
    )
    return HeldOut(values, effects, _blanks(rng, values))


def _ar1(rng, n: int, T: int, rho: float, sd: float, df: float | None) -> np.ndarray:
    """Stationary AR(1) series with stationary SD ``sd``; Student-t innovations (rescaled to the
    same variance) when ``df`` is given."""
    sd_innov = sd * np.sqrt(1 - rho**2)
    if df is None:
        z = rng.normal(0, 1, (n, T))
    else:
        z = rng.standard_t(df, (n, T)) / np.sqrt(df / (df - 2))
    out = np.empty((n, T))
    out[:, 0] = z[:, 0] * sd
    for t in range(1, T):
        out[:, t] = rho * out[:, t - 1] + sd_innov * z[:, t]
    return out


def _blanks(rng, values: pd.DataFrame) -> dict[str, np.ndarray]:
    out = {}
    for col, share in BLANK_SHARE.items():
        mask = np.zeros(len(values), dtype=bool)
        mask[rng.choice(len(values), size=round(share * len(values)), replace=False)] = True
        out[col] = mask
    # whole rows absent from their sheet, in the middle of a series
    absent = np.zeros(len(values), dtype=bool)
    middle = values["year"].between(FIRST_YEAR + 3, LAST_YEAR - 3).to_numpy()
    absent[rng.choice(np.flatnonzero(middle), size=ABSENT_CITY_YEARS, replace=False)] = True
    out["absent"] = absent
    return out


# --- the user's file ------------------------------------------------------------------------------
def yearbook_table(held: HeldOut) -> pd.DataFrame:
    """The file's rows (long), Chinese headers, yearbook units and rounding, blanks as None."""
    v = held.values
    table = pd.DataFrame({"省份": v["province"], "城市": v["city"], "year": v["year"]})
    for col, header in HEADERS.items():
        x = v[col].round(DECIMALS[col]).astype(object)
        x[held.blanks[col]] = None
        table[header] = x
    return table[~held.blanks["absent"]].reset_index(drop=True)


def write_yearbook(held: HeldOut, folder: Path, stem: str = "城市统计年鉴2010-2023") -> Path:
    """An XLSX workbook, one sheet per year (the year only in the sheet name and the title row),
    as a user compiles it from the annual volumes. Some blank cells are written as "—", as the
    printed yearbook marks them."""
    from openpyxl import Workbook

    table = yearbook_table(held)
    wb = Workbook()
    wb.remove(wb.active)
    headers = [h for h in table.columns if h != "year"]
    dash = np.random.default_rng(SEED + 1)
    for year, rows in table.groupby("year", sort=True):
        ws = wb.create_sheet(f"{year}年")
        ws.append([f"{year}年 地级及以上城市主要统计指标"])
        ws.append(headers)
        for rec in rows[headers].itertuples(index=False):
            cells = [x.item() if hasattr(x, "item") else x for x in rec]
            ws.append([("—" if dash.random() < 0.3 else None) if x is None else x for x in cells])
        ws.append(["资料来源：根据《中国城市统计年鉴》整理；空白或“—”表示数据缺失。"])
    path = Path(folder) / f"{stem}.xlsx"
    wb.save(path)
    return path


# --- the truths ---------------------------------------------------------------------------------
def timing_mismatch(held: HeldOut) -> dict:
    """What the project's mid-year coding misses: the effects on city-years it codes untreated
    (dates in July-December), and the exposed share of the coded first years."""
    e = held.effects
    out = {}
    for k, total in (("pilot", "pilot_total"), ("cre", "cre_total"), ("laos", "laos_total")):
        g = e[f"{k}_coded_year"]
        before = (g > 0) & (e["year"] < g) & (e[f"{k}_exposed"] > 0)
        first = (g > 0) & (e["year"] == g)
        out[k] = {
            "coded_untreated_exposed_city_years": int(before.sum()),
            "mean_effect_there": float(e.loc[before, total].mean()) if before.any() else 0.0,
            "mean_exposed_share_of_coded_first_year": float(e.loc[first, f"{k}_exposed"].mean()),
        }
    return out


RAIL_LINKS = {"any": ("cre", "laos"), "cre": ("cre",)}
"""The links a rail study's treatment covers: ``any`` (main: the rail study pools the first
service of either link) or ``cre`` (the China-Europe Railway Express alone)."""


def truths(held: HeldOut, sample: pd.DataFrame, link: str = "any") -> dict:
    """The true effects over ``sample`` (``city_code``, ``year``: the city-years a study estimates
    on, the cities it leaves out already removed), averaged over the city-years the project codes
    treated (``year >= coded year``), as the imputation ATT averages its treated city-years:

    ``pilot_total`` (the ATT of designation, GDP on its designated path), ``pilot_direct`` (GDP held
    on its untreated path), ``rail_total`` (the links of ``RAIL_LINKS[link]``: first service of any
    of them; cities served only by a link outside ``link`` are not in a ``cre`` study's sample) and
    the number of treated city-years behind each."""
    rows = sample[["city_code", "year"]].astype({"city_code": str, "year": int})
    e = rows.merge(held.effects, on=["city_code", "year"], how="left", validate="one_to_one")
    assert e["pilot_total"].notna().all(), "a sample city-year the DGP did not make"
    pilot = (e["pilot_coded_year"] > 0) & (e["year"] >= e["pilot_coded_year"])
    links = RAIL_LINKS[link]
    first = e[[f"{k}_coded_year" for k in links]].where(lambda x: x > 0).min(axis=1)
    rail = first.notna() & (e["year"] >= first)
    rail_effect = sum(e[f"{k}_total"] for k in links)
    return {
        "pilot_total": float(e.loc[pilot, "pilot_total"].mean()),
        "pilot_direct": float(e.loc[pilot, "pilot_direct"].mean()),
        "pilot_treated_city_years": int(pilot.sum()),
        "rail_total": float(rail_effect[rail].mean()),
        "rail_treated_city_years": int(rail.sum()),
        "rail_link": link,
    }
