"""Units of yearbook columns and their conversion to the panel's canonical units (data/README.md).

Canonical: exports and FDI in million USD, GDP per capita in yuan, population in 10k persons,
broadband in subscribers per 100 people, industry share in percent. Yuan amounts become USD with
the annual average rate ``cny_per_usd_avg`` of data/reference/china_exports_national.csv.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Unit:
    kind: str  # money | money_pc | count | percent | per100
    scale: float  # multiplier to the base (1 yuan, 1 USD, 1 person/subscriber, 1 %)
    currency: str | None = None  # CNY | USD for money kinds
    label: str = ""


def _money(aliases: list[str], scale: float, currency: str, kind: str = "money") -> dict[str, Unit]:
    return {a: Unit(kind, scale, currency, aliases[0]) for a in aliases}


UNITS: dict[str, Unit] = {
    **_money(["元", "人民币元", "yuan", "cny", "rmb"], 1, "CNY"),
    **_money(["千元", "thousandyuan", "1000yuan", "cny1000", "kyuan"], 1e3, "CNY"),
    **_money(
        [
            "万元",
            "10kyuan",
            "10000yuan",
            "yuan10k",
            "10kcny",
            "cny10k",
            "10krmb",
            "rmb10k",
            "10000cny",
        ],
        1e4,
        "CNY",
    ),
    **_money(
        ["百万元", "millionyuan", "cnymn", "mncny", "cnymillion", "yuanmn", "mnyuan"], 1e6, "CNY"
    ),
    **_money(
        ["亿元", "100millionyuan", "100mnyuan", "yuan100m", "cny100m", "100mcny", "100millioncny"],
        1e8,
        "CNY",
    ),
    **_money(["十亿元", "billionyuan", "cnybn", "bnyuan", "yuanbn"], 1e9, "CNY"),
    **_money(["美元", "usd", "us$", "$", "dollars", "usdollars"], 1, "USD"),
    **_money(
        ["千美元", "thousandusd", "1000usd", "usd1000", "kusd", "usdk", "usdthousand"], 1e3, "USD"
    ),
    **_money(["万美元", "10kusd", "10000usd", "usd10k", "10000dollars"], 1e4, "USD"),
    **_money(
        ["百万美元", "millionusd", "usdmn", "mnusd", "usdmillion", "musd", "usdm"], 1e6, "USD"
    ),
    **_money(["亿美元", "100millionusd", "usd100m", "100musd", "100mnusd"], 1e8, "USD"),
    **_money(["十亿美元", "billionusd", "usdbn", "bnusd", "usdbillion"], 1e9, "USD"),
    **_money(
        ["元/人", "yuan/person", "yuanperperson", "cny/person", "yuanpercapita", "元每人"],
        1,
        "CNY",
        "money_pc",
    ),
    **_money(["万元/人", "10kyuan/person"], 1e4, "CNY", "money_pc"),
    **_money(["美元/人", "usd/person", "usdperperson", "usdpercapita"], 1, "USD", "money_pc"),
    **{
        a: Unit("count", 1, None, a if not a.isascii() else "人")
        for a in ["人", "户", "个", "persons", "people", "subscribers", "users", "households"]
    },
    **{
        a: Unit("count", 1e3, None, a if not a.isascii() else "千人")
        for a in ["千人", "千户", "thousandpersons", "1000persons", "thousandsubscribers"]
    },
    **{
        a: Unit("count", 1e4, None, a if not a.isascii() else "万人")
        for a in [
            "万人",
            "万户",
            "万个",
            "10kpersons",
            "10000persons",
            "10kpeople",
            "10000people",
            "10ksubscribers",
            "10000subscribers",
            "10kusers",
            "10000users",
            "10khouseholds",
        ]
    },
    **{
        a: Unit("count", 1e6, None, a if not a.isascii() else "百万人")
        for a in [
            "百万人",
            "百万户",
            "millionpersons",
            "millionpeople",
            "millionsubscribers",
            "mnpersons",
        ]
    },
    **{a: Unit("percent", 1, None, "%") for a in ["%", "百分比", "percent", "pct", "per cent"]},
    **{
        a: Unit("per100", 1, None, "户/百人")
        for a in [
            "户/百人",
            "每百人",
            "户每百人",
            "per100",
            "per100people",
            "per100persons",
            "subscribersper100people",
            "/100people",
        ]
    },
}

# The unit every variable is stored in before the panel is derived (see ``to_base``).
VARIABLE_KIND = {
    "exports": "money",
    "fdi": "money",
    "gdp": "money",
    "gdp_pc": "money_pc",
    "population": "count",
    "broadband_users": "count",
    "mobile_users": "count",
    "broadband_per100": "per100",
    "industry_share": "percent",
}

# Yearbook conventions (China City Statistical Yearbook) used when a Chinese header states no unit;
# every such guess is listed in the validation report.
YEARBOOK_DEFAULT = {
    "exports": "万美元",
    "fdi": "万美元",
    "gdp": "万元",
    "gdp_pc": "元/人",
    "population": "万人",
    "broadband_users": "万户",
    "mobile_users": "万户",
    "industry_share": "%",
    "broadband_per100": "户/百人",
}

SCOPES = {
    "全市": "city",
    "全市口径": "city",
    "市辖区": "districts",
    "市区": "districts",
    "wholecity": "city",
    "citywide": "city",
    "districts": "districts",
    "urbandistricts": "districts",
}


def normalise(text: object) -> str:
    """NFKC (full-width -> ASCII), lower case, no whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()


def lookup_unit(text: object) -> Unit | None:
    key = normalise(text).replace(",", "").replace("_", "")
    if key in UNITS:
        return UNITS[key]
    return UNITS.get(key.replace("per", "/").replace("//", "/")) if "per" in key else None


def lookup_scope(text: object) -> str | None:
    return SCOPES.get(normalise(text).replace("_", ""))


def compatible(variable: str, unit: Unit) -> bool:
    want = VARIABLE_KIND[variable]
    if variable == "gdp_pc":  # a per-capita column labelled just "元" is per person
        return unit.kind in ("money_pc", "money")
    return unit.kind == want


def to_base(
    values: np.ndarray, variable: str, unit: Unit, years: np.ndarray, rates: pd.Series
) -> np.ndarray:
    """Convert to: exports/FDI in million USD, GDP and GDP per capita in yuan, population in 10k
    persons, subscriber counts in subscribers.

    ``rates``: yuan per USD by year; years missing there must have been checked by the caller.
    """
    x = values * unit.scale
    if variable in ("exports", "fdi"):
        if unit.currency == "CNY":
            x = x / rates.reindex(years).to_numpy()
        return x / 1e6
    if variable in ("gdp", "gdp_pc"):
        if unit.currency == "USD":
            x = x * rates.reindex(years).to_numpy()
        return x
    if variable == "population":  # persons -> 10k persons (the panel's unit)
        return x / 1e4
    return x
