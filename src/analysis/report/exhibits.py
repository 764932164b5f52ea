"""The one registry of the paper's exhibits: every figure and table the report shows, in order.

Each exhibit has a stable id (used by the report text, the replication section and tests), the
pipeline stage and notebook that make it, the stem of its files under output/figures or
output/tables, the plotting function that draws it (figures) and the key of its caption in
report/text/<lang>.yaml. Figure and table numbers follow this order; nothing else numbers exhibits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Exhibit:
    id: str
    kind: Literal["figure", "table"]
    stage: str  # dvc.yaml stage (= notebook name for notebook stages)
    stem: str  # output/figures/<stem>.png or output/tables/<stem>.csv
    function: str | None  # plotting function (module:function) for figures; None for tables
    caption: str  # key under ``captions`` in report/text/<lang>.yaml

    @property
    def notebook(self) -> str:
        return f"{self.stage}.ipynb"


EXHIBITS: tuple[Exhibit, ...] = (
    Exhibit("twfe_joint", "table", "pilot_zones", "twfe_joint", None, "twfe_joint"),
    Exhibit("overall", "table", "pilot_zones", "pilot_overall", None, "overall"),
    Exhibit(
        "simulation_table", "table", "simulation", "simulation_summary", None, "simulation_table"
    ),
    Exhibit(
        "robustness_table", "table", "robustness", "robustness_summary", None, "robustness_table"
    ),
    Exhibit(
        "overview_rollout",
        "figure",
        "overview",
        "overview_rollout",
        "analysis.figures.overview:plot_rollout",
        "overview_rollout",
    ),
    Exhibit(
        "overview_map",
        "figure",
        "overview",
        "overview_map",
        "analysis.figures.maps:plot_rollout_map",
        "overview_map",
    ),
    Exhibit(
        "overview_exports",
        "figure",
        "overview",
        "overview_exports",
        "analysis.figures.overview:plot_export_distribution",
        "overview_exports",
    ),
    Exhibit(
        "pilot_event_study",
        "figure",
        "pilot_zones",
        "pilot_event_study",
        "analysis.figures.effects:plot_event_study",
        "pilot_event_study",
    ),
    Exhibit(
        "pilot_pretrend_power",
        "figure",
        "pilot_zones",
        "pilot_pretrend_power",
        "analysis.figures.pretrends:plot_pretrends",
        "pilot_pretrend_power",
    ),
    Exhibit(
        "pilot_effect_map",
        "figure",
        "pilot_zones",
        "pilot_effect_map",
        "analysis.figures.maps:plot_effect_map",
        "pilot_effect_map",
    ),
    Exhibit(
        "rail_corridors",
        "figure",
        "rail_links",
        "rail_corridors",
        "analysis.figures.maps:plot_rail_corridors",
        "rail_corridors",
    ),
    Exhibit(
        "rail_event_study",
        "figure",
        "rail_links",
        "rail_event_study",
        "analysis.figures.effects:plot_event_study",
        "rail_event_study",
    ),
    Exhibit(
        "corridor_sdid",
        "figure",
        "corridor",
        "corridor_sdid",
        "analysis.figures.corridor:plot_corridor",
        "corridor_sdid",
    ),
    Exhibit(
        "rail_pretrend_power",
        "figure",
        "rail_links",
        "rail_pretrend_power",
        "analysis.figures.pretrends:plot_pretrends",
        "rail_pretrend_power",
    ),
    Exhibit(
        "coverage_dose_response",
        "figure",
        "network_coverage",
        "coverage_dose_response",
        "analysis.figures.effects:plot_dose_response",
        "coverage_dose_response",
    ),
    Exhibit(
        "robustness_summary",
        "figure",
        "robustness",
        "robustness_summary",
        "analysis.figures.robustness:plot_estimates",
        "robustness_summary",
    ),
    Exhibit(
        "robustness_spec_curve",
        "figure",
        "robustness",
        "robustness_spec_curve",
        "analysis.figures.spec_curve:plot_spec_curve",
        "robustness_spec_curve",
    ),
    Exhibit(
        "robustness_honestdid",
        "figure",
        "robustness",
        "robustness_honestdid",
        "analysis.figures.sensitivity:plot_honestdid",
        "robustness_honestdid",
    ),
    Exhibit(
        "robustness_spillover",
        "figure",
        "robustness",
        "robustness_spillover",
        "analysis.figures.spillover:plot_spillover",
        "robustness_spillover",
    ),
    Exhibit(
        "robustness_spillover_map",
        "figure",
        "robustness",
        "robustness_spillover_map",
        "analysis.figures.maps:plot_exposure_map",
        "robustness_spillover_map",
    ),
    Exhibit(
        "simulation_bacon",
        "figure",
        "simulation",
        "simulation_bacon",
        "analysis.figures.robustness:plot_bacon",
        "simulation_bacon",
    ),
    Exhibit(
        "simulation_draws",
        "figure",
        "simulation",
        "simulation_draws",
        "analysis.figures.effects:plot_simulation_draws",
        "simulation_draws",
    ),
)

# The overall-effects table is built from two stages' files; the registry names the first.
EXTRA_SOURCES = {"overall": ("rail_links", "rail_overall")}


def of_kind(kind: str, exhibits: tuple[Exhibit, ...] = EXHIBITS) -> list[Exhibit]:
    return [e for e in exhibits if e.kind == kind]


def numbers(exhibits: tuple[Exhibit, ...] = EXHIBITS) -> dict[str, int]:
    """Exhibit id -> its number within its kind (Figure 1.., Table 1..), in registry order."""
    out: dict[str, int] = {}
    for kind in ("figure", "table"):
        out.update({e.id: n for n, e in enumerate(of_kind(kind, exhibits), start=1)})
    return out


def by_id(exhibit_id: str, exhibits: tuple[Exhibit, ...] = EXHIBITS) -> Exhibit:
    for e in exhibits:
        if e.id == exhibit_id:
            return e
    raise KeyError(f"no exhibit {exhibit_id!r} in the registry")
