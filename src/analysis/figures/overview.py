"""Figures of the data overview: treatment roll-out in time and space, export distribution."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figures.labels import label
from analysis.figures.style import PALETTE


def plot_rollout(panel: pd.DataFrame, lang: str = "en"):
    """Left: cumulative number of treated cities by year. Right: map of pilot cities by cohort,
    first-batch cities named (Chinese names, so the CJK font is exercised in every language)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [1, 1.2]})
    years = np.sort(panel["year"].unique())
    cities = panel.drop_duplicates("city_code")
    for key, col, color in (("pilot", "pilot_year", PALETTE[0]), ("rail", "rail_year", PALETTE[1])):
        first = cities[col].to_numpy()
        counts = [int(((first > 0) & (first <= y)).sum()) for y in years]
        ax1.step(years, counts, where="post", label=label(key, lang), color=color, lw=2)
    ax1.set_xlabel(label("year", lang))
    ax1.set_ylabel(label("cities_treated", lang))
    ax1.set_title(label("rollout_title", lang))
    ax1.legend(loc="upper left")

    coords = pd.DataFrame({"lon": cities["longitude"], "lat": cities["latitude"]}) if "longitude" in cities else None
    if coords is None:
        ax2.axis("off")
        return fig
    never = cities["pilot_year"] == 0
    ax2.scatter(cities.loc[never, "longitude"], cities.loc[never, "latitude"], s=8, color="0.75", label=label("never", lang))
    cohorts = sorted(cities.loc[~never, "pilot_year"].unique())
    cmap = plt.get_cmap("viridis", max(len(cohorts), 2))
    for i, g in enumerate(cohorts):
        sub = cities[cities["pilot_year"] == g]
        ax2.scatter(sub["longitude"], sub["latitude"], s=18, color=cmap(i), label=str(g))
    for row in cities[cities["pilot_year"].isin(cohorts[:2])].itertuples():
        ax2.annotate(row.city_short if hasattr(row, "city_short") else row.city, (row.longitude, row.latitude),
                     fontsize=7, xytext=(3, 2), textcoords="offset points")
    ax2.set_xlabel(label("lon", lang))
    ax2.set_ylabel(label("lat", lang))
    ax2.set_title(label("map_title", lang))
    ax2.legend(title=label("cohort", lang), fontsize=7, title_fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def plot_export_distribution(panel: pd.DataFrame, year: int, lang: str = "en", n_named: int = 8):
    """Left: histogram of log exports in ``year``. Right: Lorenz curve with the largest exporters named."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    cross = panel[panel["year"] == year].dropna(subset=["exports_usd_mn"])
    ax1.hist(cross["log_exports"], bins=30, color=PALETTE[0], alpha=0.85)
    ax1.set_xlabel(label("log_exports", lang))
    ax1.set_title(f"{label('dist_title', lang)} ({year})")
    values = np.sort(cross["exports_usd_mn"].to_numpy())
    share_exports = np.concatenate([[0], np.cumsum(values) / values.sum()])
    share_cities = np.linspace(0, 1, len(share_exports))
    ax2.plot(share_cities, share_exports, color=PALETTE[0], lw=2)
    ax2.plot([0, 1], [0, 1], color="0.6", ls="--", lw=0.8)
    top = cross.nlargest(n_named, "exports_usd_mn")
    names = [f"{c} {e}" if lang == "en" else c for c, e in zip(top["city"], top["city_en"])]
    ax2.text(0.03, 0.97, "\n".join(names), transform=ax2.transAxes, va="top", fontsize=8)
    ax2.set_xlabel(label("share_cities", lang))
    ax2.set_ylabel(label("share_exports", lang))
    ax2.set_title(label("lorenz_title", lang))
    fig.tight_layout()
    return fig


def top_share(panel: pd.DataFrame, year: int, fraction: float = 0.1) -> float:
    """Share of national exports carried by the top ``fraction`` of cities in ``year``."""
    values = panel.loc[panel["year"] == year, "exports_usd_mn"].dropna().sort_values(ascending=False)
    k = max(1, int(round(fraction * len(values))))
    return float(values.iloc[:k].sum() / values.sum())
