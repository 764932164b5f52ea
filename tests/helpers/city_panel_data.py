"""The synthetic city panel (default design, all 337 cities) and the city master, built once per
test session for the robustness-checklist tests (no dependence on pipeline outputs)."""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

PROVINCES = ["浙江省", "江苏省", "河南省", "四川省", "广东省", "湖北省", "黑龙江省", "云南省"]


@lru_cache(maxsize=1)
def city_inputs() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(city master, synthetic panel, truth)."""
    from analysis.data import reference, synthetic, treatments
    from analysis.data.cities import build_city_master

    master = build_city_master()
    table = treatments.city_treatments(
        master, reference.load_pilot_zones(), reference.load_rail_links()
    )
    panel, truth = synthetic.simulate_panel(
        master, table, reference.load_national_exports(), synthetic.SyntheticDesign()
    )
    return master, panel, truth


def subset_panel() -> pd.DataFrame:
    """The cities of eight provinces (~120 cities, every pilot cohort but 2015, never-treated too)."""
    _, panel, _ = city_inputs()
    return panel[panel["province"].isin(PROVINCES)].reset_index(drop=True)
