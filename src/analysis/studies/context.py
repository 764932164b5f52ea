"""What every study notebook does first and last: load the panel, say whether the data are
SYNTHETIC, save figures and write results files. Kept here so the notebooks stay narrative."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis import config as paths
from analysis import results_io
from analysis.figures.style import save_figure, use_house_style
from analysis.data.build import read_cities, read_panel
from analysis.studies.binary import output_dirs

SYNTHETIC_BANNER = (
    "SYNTHETIC DATA: this run uses the calibrated simulated panel with known true effects "
    "(real city list and treatment dates, simulated exports). Estimates are not findings about China."
)


@dataclass
class NotebookContext:
    panel: pd.DataFrame
    truth: dict
    dirs: dict[str, Path]
    lang: str

    @property
    def data_source(self) -> str:
        return str(self.panel["data_source"].iloc[0])

    @property
    def synthetic(self) -> bool:
        return self.data_source == "synthetic"

    def banner(self) -> None:
        from IPython.display import Markdown, display

        if self.synthetic:
            display(Markdown(f"> **{SYNTHETIC_BANNER}**"))
        else:
            display(Markdown("> Data: user-supplied file (`data.source: file`); no known truth."))

    @staticmethod
    def resolve(path: str | Path) -> Path:
        """Relative paths are relative to the project root, wherever the kernel was started
        (papermill runs in the root; JupyterLab started in notebooks/ runs there)."""
        return resolve(path)

    def cities(self, path: str | Path) -> pd.DataFrame:
        return read_cities(resolve(path))

    def save(self, fig, stem: str) -> list[Path]:
        return save_figure(fig, self.dirs["figures"] / stem, self.data_source)

    def write_table(self, frame: pd.DataFrame, stem: str) -> Path:
        return results_io.write_table(frame.assign(data_source=self.data_source), self.dirs["tables"] / f"{stem}.csv")

    def write_results(self, name: str, payload: dict, metrics: dict, plot: pd.DataFrame | None = None) -> Path:
        payload = {**payload, "data_source": self.data_source}
        results_io.write_json(self.dirs["metrics"] / f"{name}.json", {**metrics, "data_source": self.data_source})
        if plot is not None:
            results_io.write_table(plot, self.dirs["plots"] / f"{name}.csv")
        return results_io.write_json(self.dirs["results"] / f"{name}.json", payload)

    def truth_series(self, study: dict) -> pd.Series | None:
        es = study["event_study"]
        return es.set_index("event_time")["truth"] if "truth" in es else None

    def compare_with_truth(self, study: dict) -> pd.DataFrame:
        """One-row table: TWFE estimate, 95% CI and, on synthetic data, the truth and the bias."""
        twfe = study["twfe"]
        truth = study.get("true_att_overall", study.get("true_elasticity"))
        row = {"treatment": study["treatment"], "estimate": twfe["estimate"], "std_error": twfe["std_error"],
               "conf_low": twfe["conf_low"], "conf_high": twfe["conf_high"]}
        if truth is not None:
            row.update(truth=truth, bias=twfe["estimate"] - truth,
                       truth_in_ci=bool(twfe["conf_low"] <= truth <= twfe["conf_high"]))
        return pd.DataFrame([row])


def resolve(path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else paths.ROOT / path


def setup(panel_path: str, truth_path: str, output_dir: str, lang: str) -> NotebookContext:
    use_house_style()
    panel = read_panel(resolve(panel_path))
    truth = results_io.read_json(resolve(truth_path))
    return NotebookContext(panel=panel, truth=truth, dirs=output_dirs(resolve(output_dir)), lang=lang)
