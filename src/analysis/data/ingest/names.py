"""City names in a yearbook file -> city_code of the city master (data/interim/cities.csv).

Yearbooks name the same prefecture in many ways: with or without 市/地区/盟/自治州, with the
ethnic designation of an autonomous prefecture or without (西双版纳傣族自治州 / 西双版纳州 /
西双版纳), with the name it had before a redesignation (毕节地区 -> 毕节市, 2011) or a renaming
(襄樊 -> 襄阳, 2010). County-level units (义乌市, a district) belong to their prefecture. Changes
of units are read from data/reference/admin_changes.csv:

* renamed / prefecture-to-city / new-prefecture: the same territory, mapped to the current code.
* merged (莱芜 -> 济南, 2019): before the merger the row is summed into the absorbing city (the
  city master uses post-2019 boundaries for all years); afterwards it is a part of that city.
* dissolved (巢湖, 2011): its area was split between three cities; rows before the dissolution
  are dropped and listed in the report (no guess of the split).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
from rapidfuzz import fuzz, process

from analysis import config as paths
from analysis.errors import InputError, validate_frame

ETHNIC = [
    "朝鲜族",
    "土家族",
    "苗族",
    "藏族",
    "羌族",
    "彝族",
    "布依族",
    "侗族",
    "哈尼族",
    "壮族",
    "傣族",
    "白族",
    "景颇族",
    "傈僳族",
    "回族",
    "蒙古族",
    "蒙古",
    "柯尔克孜",
    "哈萨克",
    "维吾尔",
]
PREFECTURE_SUFFIXES = ["自治州", "地区", "盟", "州", "市"]
COUNTY_SUFFIXES = ["自治县", "自治旗", "林区", "特区", "市", "县", "区", "旗"]
MUNICIPALITY_PROVINCES = {"11", "12", "31", "50"}
# Common short forms that suffix rules cannot derive (autonomous prefectures of Xinjiang).
SHORT_FORMS = {
    "博州": "博尔塔拉蒙古自治州",
    "巴州": "巴音郭楞蒙古自治州",
    "克州": "克孜勒苏柯尔克孜自治州",
}
_TRAILING_MARKS = re.compile(r"[\d*△▲#†‡＊]+$")
PROVINCE_SUFFIX = re.compile(r"(壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区|省|市)$")


@lru_cache(maxsize=65536)
def clean_name(name: object) -> str:
    """NFKC, no whitespace, no footnote marks ('北京市①' -> '北京市')."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(name)))
    text = re.sub(r"[(（].*?[)）]$", "", text)  # '毕节(地区)' annotations
    stripped = _TRAILING_MARKS.sub("", text)
    return stripped if stripped and not stripped.isdigit() else text


@lru_cache(maxsize=65536)
def prefecture_core(name: str) -> str:
    """'西双版纳傣族自治州' -> '西双版纳', '那曲地区' -> '那曲', '兴安盟' -> '兴安', '杭州市' -> '杭州'."""
    for suffix in PREFECTURE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            name = name[: -len(suffix)]
            break
    stripped = True
    while stripped:
        stripped = False
        for token in ETHNIC:
            if name.endswith(token) and len(name) > len(token) + 1:
                name, stripped = name[: -len(token)], True
    return name


def county_core(name: str) -> str:
    for suffix in COUNTY_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def province_core(name: object) -> str:
    return PROVINCE_SUFFIX.sub("", clean_name(name))


ADMIN_CHANGES_SCHEMA = pa.DataFrameSchema(
    {
        "old_name": pa.Column(str),
        "new_name": pa.Column(str, nullable=True),
        "city_code": pa.Column(str, pa.Check.str_matches(r"^\d{6}$"), nullable=True),
        "old_code": pa.Column(str, pa.Check.str_matches(r"^\d{6}$"), nullable=True),
        "year": pa.Column(int, pa.Check.in_range(1949, 2030)),
        "kind": pa.Column(
            str,
            pa.Check.isin(
                ["renamed", "prefecture-to-city", "new-prefecture", "merged", "dissolved"]
            ),
        ),
        "source": pa.Column(str),
        "verification": pa.Column(str, pa.Check.isin(["2nd-source", "single-source"])),
    },
    unique=["old_name", "kind"],
    strict=True,
    coerce=True,
)


def load_admin_changes(path: Path | None = None) -> pd.DataFrame:
    """data/reference/admin_changes.csv, validated (a user's extended copy goes through the same checks)."""
    path = path or paths.REFERENCE / "admin_changes.csv"
    frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False).replace(
        {"": None}
    )
    frame = validate_frame(frame, ADMIN_CHANGES_SCHEMA, path)
    bad = frame["kind"].ne("dissolved") & frame["city_code"].isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            path, "city_code is required unless kind is 'dissolved'", row=i + 2, column="city_code"
        )
    return frame.assign(old_core=frame["old_name"].map(lambda n: prefecture_core(clean_name(n))))


@dataclass
class Match:
    code: str | None
    kind: str  # direct | variant | renamed | prefecture-to-city | new-prefecture | merged | county | dissolved | unknown
    note: str = ""
    suggestions: list[str] = field(default_factory=list)


@dataclass
class NameIndex:
    master: pd.DataFrame
    changes: pd.DataFrame
    exact: dict[str, str]
    core: dict[str, str]
    county: dict[
        str, list[tuple[str, str]]
    ]  # name or core -> [(prefecture code or '', county name)]
    province_of: dict[str, str]
    choices: list[str]
    _by_name: dict | None = None
    _by_core: dict | None = None

    @classmethod
    def cached(cls, master: pd.DataFrame) -> NameIndex:
        """The index for ``master`` and the committed admin_changes.csv, built once per process."""
        path = paths.REFERENCE / "admin_changes.csv"
        key = (
            int(pd.util.hash_pandas_object(master[["city_code", "city"]], index=False).sum()),
            str(path),
            path.stat().st_mtime_ns if path.exists() else 0,
        )
        if key not in _INDEX_CACHE:
            _INDEX_CACHE.clear()
            _INDEX_CACHE[key] = cls.build(master)
        return _INDEX_CACHE[key]

    @classmethod
    def build(cls, master: pd.DataFrame, changes: pd.DataFrame | None = None) -> NameIndex:
        changes = load_admin_changes() if changes is None else changes
        exact = {
            **dict(zip(master["city_short"], master["city_code"])),
            **dict(zip(master["city"], master["city_code"])),
        }
        core = {prefecture_core(n): c for n, c in zip(master["city"], master["city_code"])}
        county: dict[str, list[tuple[str, str]]] = {}
        codes = set(master["city_code"])
        for code6, name in _county_units():
            pref = code6[:2] + "0000" if code6[:2] in MUNICIPALITY_PROVINCES else code6[:4] + "00"
            entry = (pref if pref in codes else "", name)
            for key in {name, county_core(name)}:
                county.setdefault(key, []).append(entry)
        province_of = dict(zip(master["city_code"], master["province"].map(province_core)))
        choices = sorted(set(master["city"]) | set(changes["old_name"]))
        return cls(master, changes, exact, core, county, province_of, choices)

    def match(self, name: str, year: int | None = None, province: str | None = None) -> Match:
        n = clean_name(name)
        n = SHORT_FORMS.get(n, n)
        change = self._change(n, exact_only=True)
        if change is None and n not in self.exact and prefecture_core(n) not in self.core:
            change = self._change(n, exact_only=False)
        if change is not None:
            kind, when = change["kind"], int(change["year"])
            if kind == "dissolved":
                if year is None or year < when:
                    return Match(
                        None,
                        "dissolved",
                        f"{change['old_name']} dissolved in {when}: {change['source']}",
                    )
            elif kind == "merged":
                if year is None or year < when:
                    return Match(
                        change["city_code"],
                        "merged",
                        f"{change['old_name']} merged into {change['new_name']} in {when}: summed into it",
                    )
                return Match(
                    change["city_code"],
                    "county",
                    f"{change['old_name']} is part of {change['new_name']} since {when}",
                )
            else:
                return Match(
                    change["city_code"],
                    kind,
                    f"{change['old_name']} -> {change['new_name']} ({when})",
                )
        if n in self.exact:
            return Match(self.exact[n], "direct")
        c = prefecture_core(n)
        if c in self.core:
            return Match(self.core[c], "variant")
        units = self.county.get(n) or self.county.get(county_core(n)) or []
        if province is not None and len(units) > 1:
            pc = province_core(province)
            units = [
                u for u in units if u[0] and self.province_of.get(u[0], "").startswith(pc[:2])
            ] or units
        prefs = sorted({u[0] for u in units})
        if len(prefs) == 1 and prefs[0]:
            return Match(prefs[0], "county", f"county-level unit {units[0][1]} -> its prefecture")
        if len(prefs) == 1:
            return Match(
                None,
                "unknown",
                f"{units[0][1]} is a county-level unit directly under its province; "
                "not a prefecture of the city master",
            )
        if len(prefs) > 1:
            where = ", ".join(
                self.master.set_index("city_code").loc[[p for p in prefs if p], "city"]
            )
            return Match(
                None, "unknown", f"ambiguous county-level name (in {where}); add a province column"
            )
        return Match(None, "unknown", suggestions=self.suggest(n))

    def _change(self, n: str, exact_only: bool) -> dict | None:
        if self._by_name is None:  # plain dicts: this runs once per distinct name
            rows = self.changes[self.changes["kind"] != "new-prefecture"].to_dict("records")
            self._by_name = {r["old_name"]: r for r in rows}
            self._by_core = {r["old_core"]: r for r in rows}
        hit = self._by_name.get(n)
        if hit is None and not exact_only:
            hit = self._by_core.get(prefecture_core(n))
        return hit

    def suggest(self, name: str, limit: int = 3) -> list[str]:
        found = process.extract(
            name, self.choices, scorer=fuzz.WRatio, limit=limit, score_cutoff=50
        )
        return [f[0] for f in found]


_INDEX_CACHE: dict[tuple, NameIndex] = {}


@lru_cache(maxsize=1)
def _county_units() -> tuple[tuple[str, str], ...]:
    from analysis.data.cities import read_adcodes

    ad = read_adcodes()
    county = ad[(ad["code6"].str[4:] != "00") & (ad["adcode"].str[6:] == "000000")]
    return tuple(zip(county["code6"], county["name"]))


def resolve(
    names: np.ndarray, years: np.ndarray, provinces: np.ndarray | None, index: NameIndex
) -> pd.DataFrame:
    """Per row: code, kind, note (unique name/year/province combinations are matched once)."""
    frame = pd.DataFrame(
        {"name": names, "year": years, "province": provinces if provinces is not None else None}
    )
    # Year only matters for names with a change entry; other names are matched once.
    has_change = set(index.changes["old_name"]) | set(index.changes["old_core"])
    core = frame["name"].map(lambda s: prefecture_core(clean_name(s)))
    frame["key_year"] = np.where(
        frame["name"].isin(has_change) | core.isin(has_change), frame["year"], -1
    )
    keys = frame[["name", "key_year", "province"]].drop_duplicates()
    results = [
        index.match(
            r.name,
            None if r.key_year == -1 else int(r.key_year),
            None if r.province is None or pd.isna(r.province) else r.province,
        )
        for r in keys.itertuples(index=False)
    ]
    keys = keys.assign(
        code=[m.code for m in results],
        kind=[m.kind for m in results],
        note=[m.note for m in results],
        suggestions=[m.suggestions for m in results],
    )
    out = frame.merge(keys, on=["name", "key_year", "province"], how="left", sort=False)
    return out[["code", "kind", "note", "suggestions"]]
