"""Figures of the network-coverage study (issue 20): the Broadband China designation map, the
CGS dose-response of the designation against the truth, the dCDH event studies of the doses.
Text in both languages here (the map helpers of :mod:`analysis.figures.maps` draw the base)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from analysis.figures import boundaries as bd
from analysis.figures import maps
from analysis.figures.style import PALETTE

TEXT = {
    "en": {
        "map_title": "Broadband China demonstration cities by batch",
        "legend": "First designation (coded year)",
        "batch": "{year} ({n} cities)",
        "never": "Not designated",
        "cgs_att": "ATT(d|d): effect of designation on log exports",
        "cgs_acrt": "Slope of ATT(d|d) (ACRT(d|d) under strong parallel trends)",
        "dose": "Broadband subscribers per 100 people the year before designation",
        "estimate": "CGS estimate",
        "band": "95% uniform band",
        "truth_att": "Truth ATT(d|d)",
        "truth_att_d": "Truth ATT(d) (no selection)",
        "truth_slope": "Truth: slope of ATT(d|d)",
        "truth_acrt": "Truth ACRT(d|d) (causal)",
        "dcdh_title": "dCDH event study, {dose} in bands of {width:g}",
        "broadband_per100": "broadband per 100",
        "mobile_per100": "mobile per 100",
        "horizon": "Years since the dose changed band (negative: placebos)",
        "per_unit": "Effect per subscriber per 100 (normalized)",
        "target": "Target (same estimator, DGP's network effects)",
    },
    "zh": {
        "map_title": "“宽带中国”示范城市入选批次",
        "legend": "首次入选（编码年份）",
        "batch": "{year}年（{n}个城市）",
        "never": "未入选",
        "cgs_att": "ATT(d|d)：入选对出口额对数的影响",
        "cgs_acrt": "ATT(d|d) 的斜率（强平行趋势下为 ACRT(d|d)）",
        "dose": "入选前一年每百人宽带用户数",
        "estimate": "CGS 估计",
        "band": "95% 一致置信带",
        "truth_att": "真值 ATT(d|d)",
        "truth_att_d": "真值 ATT(d)（无选择）",
        "truth_slope": "真值：ATT(d|d) 的斜率",
        "truth_acrt": "真值 ACRT(d|d)（因果）",
        "dcdh_title": "dCDH 事件研究：{dose}（每档 {width:g}）",
        "broadband_per100": "每百人宽带用户",
        "mobile_per100": "每百人移动电话用户",
        "horizon": "剂量换档后的年数（负数：安慰剂）",
        "per_unit": "每百人每增加一户的影响（标准化）",
        "target": "目标值（同一估计量作用于 DGP 的网络效应）",
    },
}


def _t(key: str, lang: str, **kw) -> str:
    return TEXT[lang][key].format(**kw)


def plot_designation_map(cities: pd.DataFrame, years: pd.Series, lang: str = "en"):
    """Prefecture choropleth of the first Broadband China designation year (``years``: city_code
    -> coded year, 0 = never), with the base map of :mod:`analysis.figures.maps`."""
    index = maps._unit_index(cities)
    years = pd.Series(years).astype(int)
    years.index = years.index.astype(str)
    cohorts = sorted(int(y) for y in years.unique() if y > 0)
    colour = {y: maps.BATCH_COLOURS[i] for i, y in enumerate(cohorts)}
    colours = [maps.OUTSIDE_PANEL] * len(bd.prefecture_units())
    for code, pos in index.items():
        y = int(years.get(code, 0))
        colours[pos] = colour[y] if y > 0 else maps.UNTREATED
    fig, ax = maps._map_figure(colours, lang, _t("map_title", lang))
    counts = years[years > 0].value_counts()
    handles = [
        Patch(facecolor=colour[y], edgecolor="0.4", lw=0.3,
              label=_t("batch", lang, year=y, n=int(counts[y])))
        for y in cohorts
    ]  # fmt: skip
    handles += [
        Patch(facecolor=maps.UNTREATED, edgecolor="0.4", lw=0.3, label=_t("never", lang)),
        maps._outside_patch(lang),
    ]
    ax.legend(handles=handles, title=_t("legend", lang), loc="lower left", fontsize=7.5,
              title_fontsize=8, frameon=True, framealpha=0.95)  # fmt: skip
    return fig


def plot_cgs_dose_response(curve: pd.DataFrame, lang: str = "en"):
    """Two panels: ATT(d|d) and its slope, each with its uniform band, and the truth's curves where
    the data are synthetic (columns truth_att, truth_att_d, truth_slope, truth_acrt)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    d = curve["dose"].to_numpy()
    for ax, est, lo, hi, truths, title in (
        (axes[0], "att", "att_low", "att_high", ("truth_att", "truth_att_d"), "cgs_att"),
        (axes[1], "acrt", "acrt_low", "acrt_high", ("truth_slope", "truth_acrt"), "cgs_acrt"),
    ):
        ax.fill_between(d, curve[lo], curve[hi], color=PALETTE[0], alpha=0.2,
                        label=_t("band", lang))  # fmt: skip
        ax.plot(d, curve[est], color=PALETTE[0], lw=1.8, label=_t("estimate", lang))
        for k, col in enumerate(truths):
            if col in curve:
                ax.plot(d, curve[col], color="black", lw=1.2, ls=("-", "--")[k],
                        label=_t(col, lang))  # fmt: skip
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_xlabel(_t("dose", lang), fontsize=8.5)
        ax.set_title(_t(title, lang), fontsize=10)
        ax.legend(fontsize=7.5)
    fig.tight_layout()
    return fig


def plot_dose_event_studies(studies: dict, lang: str = "en"):
    """One panel per dose: dCDH normalized effects and placebos with 95% intervals, and the
    target (the same estimator on the DGP's network effects) where known. ``studies``: dose ->
    {"band_width", "event_study" (event_time, estimate, conf_low, conf_high[, target])}."""
    ran = {k: v for k, v in studies.items() if "event_study" in v}
    fig, axes = plt.subplots(1, max(len(ran), 1), figsize=(5 * max(len(ran), 1), 4), squeeze=False)
    for ax, (dose, res) in zip(axes[0], ran.items()):
        es = pd.DataFrame(res["event_study"])
        x = es["event_time"].to_numpy()
        y = es["estimate"].to_numpy()
        # the estimator's own intervals (t(G-1) with the province jackknife), not +/- 1.96 s.e.
        yerr = np.vstack([y - es["conf_low"].to_numpy(), es["conf_high"].to_numpy() - y])
        ax.errorbar(x, y, yerr=yerr, fmt="o", color=PALETTE[0], capsize=2,
                    label=_t("estimate", lang).replace("CGS", "dCDH"))  # fmt: skip
        if "target" in es and es["target"].notna().any():
            ax.plot(x, es["target"], color="black", marker="_", ms=14, lw=0, mew=1.5,
                    label=_t("target", lang))  # fmt: skip
        ax.axhline(0, color="0.6", lw=0.6)
        ax.axvline(-0.5, color="0.8", lw=0.6, ls=":")
        ax.set_title(_t("dcdh_title", lang, dose=_t(dose, lang), width=res["band_width"]),
                     fontsize=10)  # fmt: skip
        ax.set_xlabel(_t("horizon", lang), fontsize=8.5)
        ax.set_ylabel(_t("per_unit", lang), fontsize=8.5)
        ax.legend(fontsize=7.5)
    fig.tight_layout()
    return fig
