"""Treatment facts typed from public records (data/reference): loaders with pandera schemas.

The pilot-zone roster lists some county-level units (e.g. 义乌) and a new area (雄安新区). They are
mapped to the prefecture that contains them; a prefecture's first treatment year is the earliest
batch among itself and the units inside it (金华 is treated through 义乌 in batch 3, 2018, although
金华 itself is designated in batch 6).

The Broadband China (宽带中国) demonstration roster follows the same rule: its units include a city
cluster (长株潭 -> 长沙, 株洲, 湘潭), county-level cities (昆山 in 苏州, 永城 in 商丘) and districts of
重庆; one unit (阿拉尔, a county-level city directly under Xinjiang) is in no prefecture and is left
unmapped (see data/reference/SOURCES.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pandas as pd
import pandera.pandas as pa

from analysis import config as paths
from analysis.errors import InputError, validate_frame

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


# Broadband China (宽带中国) demonstration cities: three annual batches (2014, 2015, 2016) of 39 units.
BROADBAND_BATCH_YEARS = {1: 2014, 2: 2015, 3: 2016}
BROADBAND_LEVELS = ["prefecture-level", "city-cluster", "county-level", "district"]
# Units inside a prefecture (treat it only under include_county_units), as for the pilot zones.
SUB_PREFECTURE_LEVELS = ["county-level", "district"]
_NOT_EMPTY = pa.Check(lambda s: s.str.strip().str.len() > 0, name="not_empty")

BROADBAND_SCHEMA = pa.DataFrameSchema(
    {
        "unit": pa.Column(str, _NOT_EMPTY, unique=True),
        "batch": pa.Column(int, pa.Check.isin(list(BROADBAND_BATCH_YEARS))),
        "batch_year": pa.Column(int, pa.Check.isin(list(BROADBAND_BATCH_YEARS.values()))),
        "announced": pa.Column(
            "datetime64[ns]",
            pa.Check.in_range(pd.Timestamp("2014-01-01"), pd.Timestamp("2016-12-31")),
        ),
        "announcement": pa.Column(str, _NOT_EMPTY),
        "unit_level": pa.Column(str, pa.Check.isin(BROADBAND_LEVELS)),
        # ";"-separated for a city cluster; empty for a unit in no prefecture (then mapping_note says why)
        "prefecture": pa.Column(str),
        "city_code": pa.Column(str, pa.Check.str_matches(r"^(\d{6}(;\d{6})*)?$")),
        "mapping_note": pa.Column(str),
        "source": pa.Column(str, _NOT_EMPTY),
        "second_source": pa.Column(str),
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


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";")] if cell.strip() else []


def _check_broadband(units: pd.DataFrame, path: Path) -> None:
    """Row-level rules pandera cannot express; the first violation is a one-line InputError."""

    def fail(i: int, column: str, message: str, hint: str) -> NoReturn:
        raise InputError(path, message, row=int(i) + 2, column=column, hint=hint)

    for i, row in units.iterrows():
        expected = BROADBAND_BATCH_YEARS[row["batch"]]
        if row["batch_year"] != expected:
            fail(
                i,
                "batch_year",
                f"batch {row['batch']} is {expected}, not {row['batch_year']}",
                "batches 1, 2, 3 = 2014, 2015, 2016",
            )
        if row["announced"].year != row["batch_year"]:
            fail(
                i,
                "announced",
                f"announced {row['announced']:%Y-%m-%d} outside batch year {row['batch_year']}",
                "the date the batch's list was published",
            )
        prefectures, codes = _split(row["prefecture"]), _split(row["city_code"])
        if len(prefectures) != len(codes):
            fail(
                i,
                "city_code",
                f"{len(codes)} codes for {len(prefectures)} prefectures",
                "one city-master code per prefecture, ';'-separated in the same order",
            )
        if row["unit_level"] == "city-cluster" and len(prefectures) < 2:
            fail(
                i,
                "prefecture",
                f"city cluster {row['unit']!r} maps to {len(prefectures)} prefecture(s)",
                "list its member prefectures, ';'-separated",
            )
        if row["unit_level"] != "city-cluster" and len(prefectures) > 1:
            fail(
                i,
                "prefecture",
                f"{row['unit']!r} ({row['unit_level']}) maps to several prefectures",
                "only a city-cluster unit maps to more than one",
            )
        if not prefectures and not row["mapping_note"].strip():
            fail(
                i,
                "mapping_note",
                f"unit {row['unit']!r} has no prefecture and no note",
                "an unresolved unit must say why it is unmapped",
            )
    # A prefecture reached by more than one row (two batches, or itself and a unit inside it) must
    # say so on each of those rows: its first year then depends on include_county_units.
    rows_of: dict[str, list[int]] = {}
    for i, cell in units["prefecture"].items():
        for prefecture in _split(cell):
            rows_of.setdefault(prefecture, []).append(int(i))
    for prefecture, rows in rows_of.items():
        if len(rows) < 2:
            continue
        for i in rows:
            if not units.at[i, "mapping_note"].strip():
                others = ", ".join(str(j + 2) for j in rows if j != i)
                fail(
                    i,
                    "mapping_note",
                    f"prefecture {prefecture!r} is also designated on row(s) "
                    f"{others}, without a note",
                    "say which designation counts and why",
                )


def load_broadband_china(path: Path | None = None) -> pd.DataFrame:
    """The Broadband China demonstration units (117 units, batches 2014-2016), validated."""
    path = path or paths.REFERENCE / "broadband_china.csv"
    frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    units = validate_frame(frame, BROADBAND_SCHEMA, path)
    _check_broadband(units, path)
    return units


def broadband_unresolved(units: pd.DataFrame) -> pd.DataFrame:
    """Units mapped to no prefecture (阿拉尔): they treat no city of the master, listed, not guessed."""
    return units[units["prefecture"].str.strip() == ""]


def broadband_cohorts(
    units: pd.DataFrame, include_county_units: bool = True, rule: str = "approval"
) -> pd.DataFrame:
    """First Broadband China designation per prefecture (the earliest batch when it appears twice).

    A city cluster treats each of its member prefectures. With ``include_county_units`` a county-level
    city or district treats the prefecture that contains it (商丘 from 2015 through 永城, itself
    designated in 2016; 重庆 from 2015 through 江津区 and 荣昌区); without, only prefecture-level units
    and clusters count. Unresolved units (:func:`broadband_unresolved`) treat no prefecture.
    """
    use = units if include_county_units else units[~units["unit_level"].isin(SUB_PREFECTURE_LEVELS)]
    use = use[use["prefecture"].str.strip() != ""]
    long = use.assign(
        prefecture=use["prefecture"].map(_split), city_code=use["city_code"].map(_split)
    ).explode(["prefecture", "city_code"])
    long = long.assign(
        broadband_year=treatment_year(long["announced"], rule),
        # on the same date a prefecture's own designation names it, not a unit inside it (苏州, 昆山)
        _inside=long["unit_level"].isin(SUB_PREFECTURE_LEVELS),
    )
    order = ["announced", "_inside", "unit"]
    first = long.sort_values(order).groupby("prefecture", sort=True).first()
    return first.reset_index()[
        ["prefecture", "city_code", "broadband_year", "batch", "unit", "announced"]
    ].rename(
        columns={
            "batch": "broadband_batch",
            "unit": "broadband_via_unit",
            "announced": "broadband_announced",
        }
    )


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
