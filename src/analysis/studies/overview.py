"""Descriptive facts of the panel for the data-overview notebook and the report."""

from __future__ import annotations

import pandas as pd

from analysis.figures.overview import top_share


def rollout_table(panel: pd.DataFrame) -> pd.DataFrame:
    """Cities newly treated and cumulatively treated, by year and treatment."""
    cities = panel.drop_duplicates("city_code")
    years = sorted(panel["year"].unique())
    rows = []
    for y in years:
        row = {"year": y}
        for name, col in (("pilot", "pilot_year"), ("rail", "rail_year")):
            row[f"{name}_new"] = int((cities[col] == y).sum())
            row[f"{name}_cumulative"] = int(((cities[col] > 0) & (cities[col] <= y)).sum())
        row["broadband_median"] = float(panel.loc[panel["year"] == y, "broadband_per100"].median())
        rows.append(row)
    return pd.DataFrame(rows)


def overview_results(panel: pd.DataFrame, year: int) -> dict:
    cities = panel.drop_duplicates("city_code")
    return {
        "n_cities": int(cities.shape[0]),
        "years": [int(panel["year"].min()), int(panel["year"].max())],
        "n_city_years": int(panel.shape[0]),
        "n_pilot_cities": int((cities["pilot_year"] > 0).sum()),
        "n_rail_cities": int((cities["rail_year"] > 0).sum()),
        "pilot_cohort_sizes": {
            str(int(g)): int(n)
            for g, n in cities.loc[cities["pilot_year"] > 0, "pilot_year"]
            .value_counts()
            .sort_index()
            .items()
        },
        "overview_year": year,
        "top10_share": top_share(panel, year, 0.1),
        "total_exports_usd_bn": float(
            panel.loc[panel["year"] == year, "exports_usd_mn"].sum() / 1000
        ),
        "rollout": rollout_table(panel),
    }
