"""Treatment facts typed from public records (data/reference): loaders with pandera schemas.

The pilot-zone roster lists some county-level units (e.g. 义乌) and a new area (雄安新区). They are
mapped to the prefecture that contains them; a prefecture's first treatment year is the earliest
batch among itself and the units inside it (金华 is treated through 义乌 in batch 3, 2018, although
金华 itself is designated in batch 6).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from analysis import config as paths
from analysis.errors import validate_frame

VERIFICATION = ["2nd-source", "single-source"]

# The programme began with 杭州 on 2015-03-07; later batches (a user's extended roster in
# treatment.pilot_zones_file) are open-ended, bounded only like the other dated tables (2030).
FIRST_PILOT_ZONE = pd.Timestamp("2015-03-07")
LAST_DATE = pd.Timestamp("2030-12-31")

PILOT_ZONES_SCHEMA = pa.DataFrameSchema(
    {
        "unit": pa.Column(str, unique=True),
        "batch": pa.Column(int, pa.Check.ge(1)),
        "approved": pa.Column("datetime64[ns]", pa.Check.in_range(FIRST_PILOT_ZONE, LAST_DATE)),
        "document": pa.Column(str, pa.Check.str_startswith("国函")),
        "unit_level": pa.Column(
            str, pa.Check.isin(["prefecture-level", "county-level", "new-area"])
        ),
        "prefecture": pa.Column(str),
        "verification": pa.Column(str, pa.Check.isin(VERIFICATION)),
    },
    strict=True,
    coerce=True,
)

RAIL_LINKS_SCHEMA = pa.DataFrameSchema(
    {
        "prefecture": pa.Column(str),
        "link": pa.Column(
            str, pa.Check.isin(["china-europe-railway-express", "china-laos-railway"])
        ),
        "first_service": pa.Column(
            "datetime64[ns]", pa.Check.in_range(pd.Timestamp("2000-01-01"), LAST_DATE)
        ),
        "route": pa.Column(str),
        "verification": pa.Column(str, pa.Check.isin(VERIFICATION)),
    },
    unique=["prefecture", "link"],
    strict=True,
    coerce=True,
)

NATIONAL_EXPORTS_SCHEMA = pa.DataFrameSchema(
    {
        "year": pa.Column(int, pa.Check.in_range(1990, 2030), unique=True),
        "exports_usd_bn": pa.Column(float, pa.Check.gt(0)),
        "cny_per_usd_avg": pa.Column(float, pa.Check.in_range(1, 20)),
        "verification": pa.Column(str, pa.Check.isin(VERIFICATION)),
    },
    strict=True,
    coerce=True,
)

FTZ_SCHEMA = pa.DataFrameSchema(
    {
        "prefecture": pa.Column(str),
        "zone": pa.Column(str),
        "approved": pa.Column("datetime64[ns]"),
        "verification": pa.Column(str, pa.Check.isin(VERIFICATION)),
    },
    strict=True,
    coerce=True,
)


def _read(path: Path, schema: pa.DataFrameSchema) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    return validate_frame(frame, schema, path)


def load_pilot_zones(path: Path | None = None) -> pd.DataFrame:
    """The designated units (committed roster: 165 units of batches 1-7), one row each, validated."""
    return _read(path or paths.REFERENCE / "cbec_pilot_zones.csv", PILOT_ZONES_SCHEMA)


def load_rail_links(path: Path | None = None) -> pd.DataFrame:
    return _read(path or paths.REFERENCE / "rail_links.csv", RAIL_LINKS_SCHEMA)


def load_national_exports(path: Path | None = None) -> pd.DataFrame:
    return _read(path or paths.REFERENCE / "china_exports_national.csv", NATIONAL_EXPORTS_SCHEMA)


def load_free_trade_zones(path: Path | None = None) -> pd.DataFrame:
    return _read(path or paths.REFERENCE / "pilot_free_trade_zones.csv", FTZ_SCHEMA)


def treatment_year(dates: pd.Series, rule: str = "approval") -> pd.Series:
    """Year a unit counts as treated.

    ``approval``: the calendar year of the approval/first service.
    ``following``: the year after (a common robustness coding when designation comes late in a year).
    ``midyear``: the calendar year if the date falls in its first half (January-June), else the
    year after: a unit approved on 15 December is hardly treated in that year (batches 3, 4 and 7
    of the pilot zones, approved on 24 Jul 2018, 15 Dec 2019 and 14 Nov 2022, move to 2019, 2020
    and 2023), while one approved in March is treated for most of it.
    """
    if rule == "approval":
        return dates.dt.year
    if rule == "following":
        return dates.dt.year + 1
    if rule == "midyear":
        return dates.dt.year + (dates.dt.month > 6).astype(int)
    raise ValueError(
        f"unknown treatment-year rule {rule!r}; use 'approval', 'following' or 'midyear'"
    )


def pilot_cohorts(
    zones: pd.DataFrame, include_county_units: bool = True, rule: str = "approval"
) -> pd.DataFrame:
    """First pilot-zone treatment year per prefecture.

    With ``include_county_units`` a prefecture is treated from the earliest batch among itself and
    the county-level units / new areas inside it; without, only its own designation counts.
    """
    use = zones if include_county_units else zones[zones["unit_level"] == "prefecture-level"]
    use = use.assign(pilot_year=treatment_year(use["approved"], rule))
    first = use.sort_values(["approved", "unit"]).groupby("prefecture", sort=True).first()
    return first.reset_index()[["prefecture", "pilot_year", "batch", "unit", "approved"]].rename(
        columns={"batch": "pilot_batch", "unit": "pilot_via_unit", "approved": "pilot_approved"}
    )


def rail_cohorts(links: pd.DataFrame, rule: str = "approval") -> pd.DataFrame:
    """First year of any international rail freight service per prefecture, plus per link."""
    links = links.assign(year=treatment_year(links["first_service"], rule))
    wide = links.pivot_table(index="prefecture", columns="link", values="year", aggfunc="min")
    wide = wide.rename(
        columns={"china-europe-railway-express": "cre_year", "china-laos-railway": "laos_rail_year"}
    )
    wide["rail_year"] = wide.min(axis=1)
    return wide.reset_index().rename_axis(columns=None)
