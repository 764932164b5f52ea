"""The processed city-year panel: one schema for the synthetic default and for users' own files.

Every notebook reads only these columns, so a panel that passes this schema runs the whole study.
Canonical units are listed in data/README.md.
"""

from __future__ import annotations

import pandera.pandas as pa

PANEL_COLUMNS = {
    # identifiers
    "city_code": pa.Column(str, pa.Check.str_matches(r"^\d{6}$")),
    "city": pa.Column(str),
    "city_en": pa.Column(str),
    "province": pa.Column(str),
    "region": pa.Column(str, pa.Check.isin(["east", "central", "west", "northeast"])),
    "coastal": pa.Column(bool),
    "year": pa.Column(int, pa.Check.in_range(1990, 2030)),
    # outcome
    "exports_usd_mn": pa.Column(float, pa.Check.gt(0), nullable=True),
    "log_exports": pa.Column(float, nullable=True),
    # controls
    "gdp_per_capita_cny": pa.Column(float, pa.Check.gt(0), nullable=True),
    "log_gdp_pc": pa.Column(float, nullable=True),
    "population_10k": pa.Column(float, pa.Check.gt(0), nullable=True),
    "log_population": pa.Column(float, nullable=True),
    "fdi_usd_mn": pa.Column(float, pa.Check.ge(0), nullable=True),
    "log_fdi": pa.Column(float, nullable=True),
    "industry_share_pct": pa.Column(float, pa.Check.in_range(0, 100), nullable=True),
    # network coverage (continuous treatment)
    "broadband_per100": pa.Column(float, pa.Check.ge(0), nullable=True),
    "log_broadband": pa.Column(float, nullable=True),
    # mobile-phone subscribers per 100 people (yearbook 移动电话年末用户数 / year-end population x 100;
    # above 100 where people hold several SIMs): adoption, not 4G/5G coverage
    "mobile_per100": pa.Column(float, pa.Check.ge(0), nullable=True),
    "log_mobile": pa.Column(float, nullable=True),
    # binary staggered treatments: first treatment year (0 = never within the panel) and dummies
    "pilot_year": pa.Column(int, pa.Check.ge(0)),
    "pilot_batch": pa.Column(int, pa.Check.in_range(0, 7)),
    "pilot": pa.Column(int, pa.Check.isin([0, 1])),
    "rail_year": pa.Column(int, pa.Check.ge(0)),
    "rail": pa.Column(int, pa.Check.isin([0, 1])),
    "cre_year": pa.Column(int, pa.Check.ge(0)),
    "laos_rail_year": pa.Column(int, pa.Check.ge(0)),
    # Broadband China (宽带中国) demonstration city: first designation year (0 = never) and dummy
    "broadband_china_year": pa.Column(int, pa.Check.ge(0)),
    "broadband_china": pa.Column(int, pa.Check.isin([0, 1])),
    "data_source": pa.Column(str, pa.Check.isin(["synthetic", "file"])),
}

PANEL_SCHEMA = pa.DataFrameSchema(
    PANEL_COLUMNS, strict=True, ordered=True, unique=["city_code", "year"], coerce=True
)

CONTROLS = ["log_gdp_pc", "log_population", "log_fdi", "industry_share_pct"]
