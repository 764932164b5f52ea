"""Treatment timing per city: the reference facts joined to the city master (0 = never treated)."""

from __future__ import annotations

import pandas as pd

from analysis.config import TreatmentConfig
from analysis.data import reference
from analysis.data.cities import match_city_names
from analysis.errors import InputError

TREATMENT_COLUMNS = [
    "pilot_year",
    "pilot_batch",
    "rail_year",
    "cre_year",
    "laos_rail_year",
    "broadband_china_year",
]
# Absorbing 0/1 dummy -> its first-year column (the binary staggered treatments of the panel).
DUMMIES = {"pilot": "pilot_year", "rail": "rail_year", "broadband_china": "broadband_china_year"}


def _codes(names: pd.Series, master: pd.DataFrame, file: str) -> pd.Series:
    codes = match_city_names(names, master)
    if codes.isna().any():
        i = int(codes.isna().to_numpy().nonzero()[0][0])
        raise InputError(
            file,
            f"unknown prefecture {names.iloc[i]!r}",
            row=i + 2,
            column="prefecture",
            hint="use a name from the city master (data/interim/cities.csv)",
        )
    return codes


def city_treatments(
    master: pd.DataFrame,
    zones: pd.DataFrame,
    links: pd.DataFrame,
    include_county_units: bool = True,
    year_rule: str = TreatmentConfig.year_rule,
    files: tuple[str, str] = ("cbec_pilot_zones.csv", "rail_links.csv"),
    broadband: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per city of the master with first treatment years (0 = never).

    ``year_rule`` (params.yaml treatment.year_rule; reference.treatment_year): ``midyear`` (the
    default, TreatmentConfig's: approved in the first half of the year -> that year, else the next;
    batches 4 and 7 were approved on 15 Dec 2019 and 14 Nov 2022, so the approval year would give
    them a year of exposure they could not have had), ``approval`` (calendar year of approval /
    first service) or ``following`` (the year after), the two robustness codings. Both tables carry full dates, so the rule applies to the
    pilot zones and to the rail links alike.
    ``files``: the roster and rail table as named in errors (a user's extended tables replace them).
    ``broadband``: the Broadband China roster (default: the committed one,
    reference.load_broadband_china); ``broadband_china_year`` is each prefecture's first designation
    under the same ``year_rule`` and ``include_county_units`` (阿拉尔, in no prefecture, treats no
    city: reference.broadband_unresolved)."""
    pilots = reference.pilot_cohorts(zones, include_county_units, year_rule)
    pilots["city_code"] = _codes(pilots["prefecture"], master, files[0]).to_numpy()
    rails = reference.rail_cohorts(links, year_rule)
    rails["city_code"] = _codes(rails["prefecture"], master, files[1]).to_numpy()
    out = (
        master[["city_code"]]
        .merge(pilots[["city_code", "pilot_year", "pilot_batch"]], on="city_code", how="left")
        .merge(
            rails[["city_code", "cre_year", "laos_rail_year", "rail_year"]],
            on="city_code",
            how="left",
        )
    )
    broadband = reference.load_broadband_china() if broadband is None else broadband
    china = reference.broadband_cohorts(broadband, include_county_units, year_rule)
    out = out.merge(
        china[["city_code", "broadband_year"]].rename(
            columns={"broadband_year": "broadband_china_year"}
        ),
        on="city_code",
        how="left",
        validate="one_to_one",
    )
    out[TREATMENT_COLUMNS] = out[TREATMENT_COLUMNS].fillna(0).astype(int)
    return out


def add_treatment_dummies(panel: pd.DataFrame) -> pd.DataFrame:
    """Absorbing 0/1 dummies from first treatment years."""
    panel = panel.copy()
    for name, first in DUMMIES.items():
        panel[name] = ((panel[first] > 0) & (panel["year"] >= panel[first])).astype(int)
    return panel
