"""Figures of the data overview: treatment roll-out in time and space, export distribution."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figures.labels import label
from analysis.figures.style import PALETTE


def plot_rollout(panel: pd.DataFrame, lang: str = "en"):
    """Cumulative number of cities treated by year, pilot zones and rail links. (Where the pilot
    zones are: the prefecture choropleth :func:`analysis.figures.maps.plot_rollout_map`.)"""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    years = np.sort(panel["year"].unique())
    cities = panel.drop_duplicates("city_code")
    for key, col, color in (("pilot", "pilot_year", PALETTE[0]), ("rail", "rail_year", PALETTE[1])):
        first = cities[col].to_numpy()
        counts = [int(((first > 0) & (first <= y)).sum()) for y in years]
        ax.step(years, counts, where="post", label=label(key, lang), color=color, lw=2)
    ax.set_xlabel(label("year", lang))
    ax.set_ylabel(label("cities_treated", lang))
    ax.set_title(label("rollout_title", lang))
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def plot_export_distribution(panel: pd.DataFrame, year: int, lang: str = "en", n_named: int = 8):
    """Left: histogram of log exports in ``year``. Right: Lorenz curve with the largest exporters named."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    cross = panel[panel["year"] == year].dropna(subset=["exports_usd_mn"])
    ax1.hist(cross["log_exports"], bins=30, color=PALETTE[0], alpha=0.85)
    ax1.set_xlabel(label("log_exports", lang))
    ax1.set_ylabel(label("n_cities", lang))
    ax1.set_title(f"{label('dist_title', lang)} ({year})")
    values = np.sort(cross["exports_usd_mn"].to_numpy())
    share_exports = np.concatenate([[0], np.cumsum(values) / values.sum()])
    share_cities = np.linspace(0, 1, len(share_exports))
    ax2.plot(share_cities, share_exports, color=PALETTE[0], lw=2)
    ax2.plot([0, 1], [0, 1], color="0.6", ls="--", lw=0.8)
    top = cross.nlargest(n_named, "exports_usd_mn")
    # The largest exporters, listed (not placed on the curve: they all sit in its top-right corner)
    names = [
        f"{i}. {e} {c}" if lang == "en" else f"{i}. {c}"
        for i, (c, e) in enumerate(zip(top["city"], top["city_en"]), start=1)
    ]
    ax2.text(
        0.03,
        0.97,
        "\n".join([label("top_exporters", lang) + f" ({year}):", *names]),
        transform=ax2.transAxes,
        va="top",
        fontsize=8,
    )
    ax2.set_xlabel(label("share_cities", lang))
    ax2.set_ylabel(label("share_exports", lang))
    ax2.set_title(label("lorenz_title", lang))
    fig.tight_layout()
    return fig


def top_share(panel: pd.DataFrame, year: int, fraction: float = 0.1) -> float:
    """Share of national exports carried by the top ``fraction`` of cities in ``year``."""
    values = (
        panel.loc[panel["year"] == year, "exports_usd_mn"].dropna().sort_values(ascending=False)
    )
    k = max(1, int(round(fraction * len(values))))  # noqa: RUF046
    return float(values.iloc[:k].sum() / values.sum())
