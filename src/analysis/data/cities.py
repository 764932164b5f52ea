"""City master: every prefecture-level unit with province, region, coastal flag and coordinates.

Source: the administrative-division table (adcode, name, longitude, latitude) shipped with the
PyPI package ``cpca`` (resources/adcodes.csv, vintage ~2018), read as a data file; nothing is typed
by hand except the NBS four-region convention, which is a classification of the 31 provinces.

Boundaries are those of 2019 onward for the whole panel: 莱芜 (merged into 济南 in January 2019)
is folded into 济南. Municipalities (北京, 天津, 上海, 重庆) are included as prefecture-level units,
as in the China City Statistical Yearbook.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

# National Bureau of Statistics convention (东部/中部/西部/东北, 2011 onward), by province code.
REGION_BY_PROVINCE = {
    "east": ["11", "12", "13", "31", "32", "33", "35", "37", "44", "46"],
    "central": ["14", "34", "36", "41", "42", "43"],
    "west": ["15", "45", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"],
    "northeast": ["21", "22", "23"],
}
MUNICIPALITIES = {"11", "12", "31", "50"}
# Second-level codes that group county-level units directly under a province, not prefectures.
NOT_PREFECTURES = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划")
MERGED = {"莱芜市": "济南市"}  # 2019-01: 莱芜 became two districts of 济南
OUT_OF_SCOPE_PROVINCES = {"71", "81", "82"}  # Taiwan, Hong Kong, Macao: not in the yearbook panel
COASTAL_RADIUS_KM = 30.0

CITY_SCHEMA = pa.DataFrameSchema(
    {
        "city_code": pa.Column(str, pa.Check.str_matches(r"^\d{6}$"), unique=True),
        "city": pa.Column(str, unique=True),
        "city_short": pa.Column(str, unique=True),
        "city_en": pa.Column(str),
        "province_code": pa.Column(str, pa.Check.str_matches(r"^\d{2}$")),
        "province": pa.Column(str),
        "region": pa.Column(str, pa.Check.isin(list(REGION_BY_PROVINCE))),
        "coastal": pa.Column(bool),
        "municipality": pa.Column(bool),
        "longitude": pa.Column(float, pa.Check.in_range(73, 136)),
        "latitude": pa.Column(float, pa.Check.in_range(3, 54)),
    },
    strict=True,
)


def read_adcodes() -> pd.DataFrame:
    """The cpca admin-code table (12-digit codes), read as a file (importing cpca needs pkg_resources)."""
    # find_spec locates the package without running its __init__ (which imports pkg_resources).
    spec = importlib.util.find_spec("cpca")
    table = pd.read_csv(
        Path(spec.origin).parent / "resources" / "adcodes.csv", dtype={"adcode": str}
    )
    table["code6"] = table["adcode"].str[:6]
    return table


def short_name(name: str) -> str:
    """杭州市 -> 杭州; names of autonomous prefectures, 地区 and 盟 are kept whole (as in the roster)."""
    return name[:-1] if name.endswith("市") and len(name) > 2 else name


# English names that differ from the plain pinyin of the Chinese name: the spellings of English
# usage (postal/Wade-Giles survivals, Mongolian, Uyghur and Tibetan names) and the apostrophe that
# separates syllables (Xi'an, not Xian = 先). Keys are the short Chinese names; everything else
# is pinyin.
ENGLISH_NAMES = {
    "哈尔滨": "Harbin",
    "西安": "Xi'an",
    "普洱": "Pu'er",
    "泰安": "Tai'an",
    "吉安": "Ji'an",
    "延安": "Yan'an",
    "淮安": "Huai'an",
    "六安": "Lu'an",
    "雅安": "Ya'an",
    "兴安盟": "Hinggan League",
    "乌鲁木齐": "Urumqi",
    "呼和浩特": "Hohhot",
    "拉萨": "Lhasa",
    "日喀则": "Shigatse",
    "喀什地区": "Kashgar Prefecture",
    "和田地区": "Hotan Prefecture",
    "阿克苏地区": "Aksu Prefecture",
    "包头": "Baotou",
    "呼伦贝尔": "Hulunbuir",
    "鄂尔多斯": "Ordos",
    "锡林郭勒盟": "Xilingol League",
}


def _english(name: str) -> str:
    from pypinyin import lazy_pinyin

    short = short_name(name)
    if short in ENGLISH_NAMES:
        return ENGLISH_NAMES[short]
    for suffix, english in (("地区", " Prefecture"), ("盟", " League")):
        if short.endswith(suffix):  # 大兴安岭地区 -> Daxinganling Prefecture
            return "".join(lazy_pinyin(short.removesuffix(suffix))).title() + english
    return "".join(lazy_pinyin(short)).title()


def _ocean_within(lon: np.ndarray, lat: np.ndarray, km: float) -> np.ndarray:
    """True where sea lies within ``km`` of a point (36 points on a circle, 1 km land mask).

    A geographic flag: a prefecture is coastal when sea lies within COASTAL_RADIUS_KM of the seat
    of any county-level unit inside it. It can flag estuary cities (the land mask counts the
    Yangtze mouth and Taihu as water) that the administrative list of coastal cities omits.
    """
    from global_land_mask import globe  # heavy import (land mask): only when the master is built

    angles = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    deg = km / 111.0
    lats = lat[:, None] + deg * np.sin(angles)[None, :]
    lons = lon[:, None] + deg * np.cos(angles)[None, :] / np.cos(np.radians(lat))[:, None]
    return globe.is_ocean(lats.ravel(), lons.ravel()).reshape(lats.shape).any(axis=1)


def build_city_master() -> pd.DataFrame:
    """Return the validated city master, one row per prefecture-level unit, sorted by code."""
    ad = read_adcodes()
    level = ad["adcode"].str[6:]
    provinces = ad[(ad["adcode"].str[2:] == "0" * 10)].assign(
        province_code=lambda d: d["code6"].str[:2]
    )
    province_name = provinces.set_index("province_code")["name"]

    prefectures = ad[
        (ad["code6"].str[4:] == "00") & (ad["code6"].str[2:4] != "00") & (level == "000000")
    ]
    prefectures = prefectures[
        ~prefectures["name"].isin(NOT_PREFECTURES) & ~prefectures["name"].isin(MERGED)
    ]
    municipalities = provinces[provinces["province_code"].isin(MUNICIPALITIES)]
    master = pd.concat([prefectures, municipalities], ignore_index=True)
    master["province_code"] = master["code6"].str[:2]
    master = master[~master["province_code"].isin(OUT_OF_SCOPE_PROVINCES)]

    # Coastal flag from the county-level seats inside each prefecture (municipality: whole province).
    counties = ad[(ad["code6"].str[4:] != "00") & (level == "000000")].dropna(subset=["longitude"])
    near_sea = _ocean_within(
        counties["longitude"].to_numpy(), counties["latitude"].to_numpy(), COASTAL_RADIUS_KM
    )
    counties = counties.assign(near_sea=near_sea, pref=counties["code6"].str[:4])
    coastal_pref = counties.groupby("pref")["near_sea"].any()
    coastal_prov = counties.groupby(counties["code6"].str[:2])["near_sea"].any()

    region_of = {p: r for r, codes in REGION_BY_PROVINCE.items() for p in codes}
    is_muni = master["province_code"].isin(MUNICIPALITIES)
    out = pd.DataFrame(
        {
            "city_code": master["code6"].to_numpy(),
            "city": np.where(is_muni, master["name"], master["name"]),
            "province_code": master["province_code"].to_numpy(),
            "municipality": is_muni.to_numpy(),
            "longitude": master["longitude"].astype(float).to_numpy(),
            "latitude": master["latitude"].astype(float).to_numpy(),
        }
    )
    out["city_short"] = out["city"].map(short_name)
    out["city_en"] = out["city"].map(_english)
    out["province"] = out["province_code"].map(province_name)
    out["region"] = out["province_code"].map(region_of)
    out["coastal"] = np.where(
        out["municipality"],
        out["province_code"].map(coastal_prov).fillna(False),
        out["city_code"].str[:4].map(coastal_pref).fillna(False),
    ).astype(bool)
    out = out.sort_values("city_code").reset_index(drop=True)
    columns = list(CITY_SCHEMA.columns)
    return CITY_SCHEMA.validate(out[columns])


def match_city_names(names: pd.Series, master: pd.DataFrame) -> pd.Series:
    """Map roster names (杭州, 西双版纳傣族自治州, 喀什地区) to city codes; NaN where unknown."""
    lookup = {
        **dict(zip(master["city_short"], master["city_code"])),
        **dict(zip(master["city"], master["city_code"])),
    }
    return names.map(lambda n: lookup.get(n, lookup.get(short_name(n))))
