"""What every study notebook does first and last: load the panel, say whether the data are
SYNTHETIC, draw and save figures (both languages), show tables and test results readably, and
write results files. Kept here so the notebooks stay narrative."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# tqdm.auto (imported by the estimators for their optional progress bars) warns inside a Jupyter
# kernel that has no ipywidgets. The notebooks never show progress bars (progress=False), so the
# warning says nothing to a reader: filtered here, before the estimators are imported.
from tqdm import TqdmWarning

warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)

import pandas as pd

from analysis import config as paths
from analysis import results_io
from analysis.data.build import read_cities, read_panel
from analysis.figures.labels import LANGS, p_text
from analysis.figures.style import plot_not_estimated, save_figure, use_house_style
from analysis.studies.binary import output_dirs

SYNTHETIC_BANNER = (
    "SYNTHETIC DATA: this run uses the calibrated simulated panel with known true effects "
    "(real city list and treatment dates, simulated exports). Estimates are not findings about China."
)
# Inline figures: PNGs are saved at 150 dpi; shown at the width they would have at 100 dpi.
DISPLAY_DPI_RATIO = 100 / 150


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
        if self.synthetic:
            _markdown(f"> **{SYNTHETIC_BANNER}**")
        else:
            _markdown("> Data: user-supplied file (`data.source: file`); no known truth.")

    @staticmethod
    def resolve(path: str | Path) -> Path:
        """Relative paths are relative to the project root, wherever the kernel was started
        (papermill runs in the root; JupyterLab started in notebooks/ runs there)."""
        return resolve(path)

    def cities(self, path: str | Path) -> pd.DataFrame:
        return read_cities(resolve(path))

    # --- figures ------------------------------------------------------------------------------
    def figure(self, stem: str, plot: Callable, *args, **kwargs) -> None:
        """Draw ``plot(*args, **kwargs, lang=...)`` in every language, save each as
        ``figures/<stem>.<lang>.png`` and ``.svg`` (with the SYNTHETIC badge in that language),
        and show the notebook's own language inline. What is shown is the saved PNG itself, so
        the notebook and the report show the same picture."""
        shown = None
        # drawn from rounded values: the same bytes on every CPU (results_io, "Rounding rule")
        args = results_io.round_for_plotting(args)
        kwargs = results_io.round_for_plotting(kwargs)
        for lang in LANGS:
            fig = plot(*args, **kwargs, lang=lang)
            png, _ = save_figure(
                fig, self.dirs["figures"] / f"{stem}.{lang}", self.data_source, lang
            )
            if lang == self.lang:
                shown = png
        _show_png(shown)

    def skipped_figure(self, stem: str, what: str, reason: str) -> None:
        """A figure whose study or estimator did not run on this panel: say why in one sentence,
        and save a panel stating the reason under the figure's name in every language (the
        pipeline declares the file; the report prints the reason instead of the picture)."""
        self.skipped(what, reason)
        for lang in LANGS:
            save_figure(
                plot_not_estimated(reason, lang), self.dirs["figures"] / f"{stem}.{lang}",
                self.data_source, lang, skipped=reason,
            )  # fmt: skip

    @staticmethod
    def skipped(what: str, reason: str) -> None:
        """One explained sentence for a study, estimator or check that did not run."""
        _markdown(f"> **Not estimated: {what}.** {reason}.")

    @staticmethod
    def controls(study: dict) -> None:
        """Which controls the study used and which it dropped, with the reasons (design check)."""
        used = ", ".join(f"`{c}`" for c in study.get("controls_used", [])) or "none"
        dropped = study.get("controls_dropped", {})
        text = f"**Controls used:** {used}."
        if dropped:
            text += " **Dropped:** " + "; ".join(f"`{c}` ({why})" for c, why in dropped.items())
            text += "."
        _markdown(text)

    def study_figure(self, study: dict, stem: str) -> None:
        """One of the robustness checklist's figures (``study["figures"]``: function name in
        analysis.figures, frame and keyword arguments), in both languages; a figure whose check
        was skipped is replaced by the reason (:meth:`skipped_figure`)."""
        from analysis.figures import figure_function

        call = next(c for c in study["figures"] if c["stem"] == stem)
        if "skipped" in call:
            self.skipped_figure(stem, stem.replace("robustness_", "").replace("_", " "),
                                call["skipped"])  # fmt: skip
            return
        self.figure(
            stem,
            figure_function(call["function"]),
            study["frames"][call["frame"]],
            **call["kwargs"],
        )

    # --- tables and tests ---------------------------------------------------------------------
    @staticmethod
    def table(
        frame: pd.DataFrame, digits: int = 3, draws: int | None = None, index: bool = False
    ) -> pd.DataFrame:
        """``frame`` for display: floats rounded to ``digits``, p-value columns as text (``p <
        0.0001``, never ``0.0``; ``draws``: the number of draws when they are resampling
        p-values), the default integer index dropped."""
        out = frame.copy()
        for col in out.columns:
            if str(col).startswith("p_value") or col == "p":
                out[col] = [_p_only(v, draws) for v in out[col]]
            elif pd.api.types.is_float_dtype(out[col]):
                out[col] = out[col].round(digits)
        if not index and isinstance(out.index, pd.RangeIndex):
            out.index = [""] * len(out)
        return out

    @staticmethod
    def facts(values: dict, digits: int = 3, draws: int | None = None) -> pd.DataFrame:
        """A dict of results (estimate, std_error, p_value, ...) as a two-column table; p-values as
        text (``draws``: resampling draws), numbers rounded, lists as intervals."""
        rows = []
        for key, value in values.items():
            if key.startswith("p_value") or key == "p":
                shown = _p_only(value, draws)
            elif isinstance(value, float):
                shown = _round(value, digits)
            elif isinstance(value, list | tuple) and all(isinstance(v, float) for v in value):
                shown = "[" + ", ".join(_round(v, digits) for v in value) + "]"
            elif isinstance(value, dict):
                shown = "; ".join(
                    f"{k}: {_round(v, digits) if isinstance(v, float) else v}"
                    for k, v in value.items()
                )
            else:
                shown = "—" if value is None else str(value)
            rows.append({"quantity": key.replace("_", " "), "value": shown})
        return pd.DataFrame(rows).set_index("quantity")

    @staticmethod
    def wald_sentence(test: dict, what: str) -> None:
        """A Wald test result ``{"wald", "df", "p_value"}`` as one sentence."""
        if test is None or test.get("wald") is None or _nan(test.get("wald")):
            _markdown(f"**{what}:** not available (too few comparisons to compute the test).")
            return
        _markdown(
            f"**{what}:** Wald χ²({int(test['df'])}) = {test['wald']:.2f}, "
            f"{p_text(test['p_value'])}."
        )

    # --- files (paths relative to the project root: an executed notebook must not carry the
    # machine's absolute paths) -------------------------------------------------------------------
    def event_study_figure(self, study: dict, stem: str, title: str) -> None:
        """A binary-treatment study's pre-trend tests (one per estimator that has one) as a
        table, then its event-study figure (every estimator that ran on the same event times,
        and the unbinned truth on synthetic data), or the reason none ran."""
        from analysis.figures.effects import plot_event_study
        from analysis.studies.binary import event_study_series, skips

        tests = self.pretrend_table(study)
        if len(tests):
            display_frame(self.table(tests, digits=3))
        series = event_study_series(study)
        if series:
            self.figure(stem, plot_event_study, series, self.truth_series(study), title)
        else:
            reason = skips(study).get("study", "no estimator ran")
            self.skipped_figure(stem, "the event study", reason)

    @staticmethod
    def pretrend_table(study: dict) -> pd.DataFrame:
        """``study["pretrend_tests"]`` as one row per estimator (statistic, df, p-value, what is
        tested), skipped tests with their reason."""
        rows = []
        for name, t in study.get("pretrend_tests", {}).items():
            if "skipped" in t:
                rows.append({"estimator": name, "test": t.get("test"), "note": t["skipped"]})
            else:
                rows.append({"estimator": name, **{k: t[k] for k in ("stat", "df", "p_value")},
                             "test": t["test"]})  # fmt: skip
        return pd.DataFrame(rows)

    @staticmethod
    def cluster_table(study: dict) -> pd.DataFrame:
        """The few-(treated-)clusters diagnostic, one row per cluster variable."""
        rows = []
        for cl, d in study.get("cluster_diagnostic", {}).items():
            rows.append({
                "cluster": cl, "clusters": d["n_clusters"], "treated": d["n_treated_clusters"],
                "control": d["n_control_clusters"], "t(G-1) 5%": d["critical_value"],
                "thin cohorts": ", ".join(map(str, d["thin_cohorts"])) or "-",
                "recommendation": d["recommendation"],
            })  # fmt: skip
        return pd.DataFrame(rows)

    def randomization(self, study: dict) -> None:
        """The randomization-inference result in one sentence (or why it did not run)."""
        ri = study.get("randomization") or {}
        if "skipped" in ri or not ri:
            self.skipped("randomization inference", ri.get("skipped", "not run"))
            return
        within = f", within {ri['within']}" if ri.get("within") else ""
        _markdown(
            f"**Randomization inference** ({ri['statistic']}; {ri['draws']} permutations of the "
            f"treatment dates{within}, seed {ri['seed']}): t = {ri['t_stat']:.2f}, "
            f"{p_text(ri['p_value'], ri['draws'])}."
        )

    def headline(self, study: dict) -> None:
        """The headline robust ATT in one sentence (or why it did not run)."""
        h = study.get("headline") or {}
        if "skipped" in h or not h:
            self.skipped("the headline ATT", h.get("skipped", "not computed"))
            return
        g = h["n_clusters"]
        text = (
            f"**Headline ({h['label']}; total effect):** ATT = {h['estimate']:.4f}, SE "
            f"{h['std_error']:.4f} (clustered by {h['cluster']}, G = {g}: "
            f"{h.get('inference', {}).get('reason', 'the study rule')}), 95% CI "
            f"[{h['conf_low']:.4f}, {h['conf_high']:.4f}] with t({g - 1}) critical value "
            f"{h['critical_value']:.3f}, {p_text(h['p_value'])}."
        )
        alt = h.get("appendix_other_cluster")
        if alt:
            text += (
                f" Appendix, clustered by {alt['cluster']}: SE {alt['std_error']:.4f}, 95% CI "
                f"[{alt['conf_low']:.4f}, {alt['conf_high']:.4f}]."
            )
        test = h.get("cluster_test")
        if test and test.get("statistic") == test.get("statistic"):
            text += (
                f" MacKinnon-Nielsen-Webb test of city against province clustering: "
                f"{test['statistic']:.2f}, {p_text(test['p_value'])} (one-sided)."
            )
        if h.get("truth") is not None:
            text += f" True ATT {h['truth']:.4f}; the interval {'covers' if h['truth_in_ci'] else 'misses'} it."
        _markdown(text)

    def decomposition(self, study: dict) -> None:
        """The direct-effect decomposition beside the headline, in one sentence."""
        d = study.get("decomposition") or {}
        if "skipped" in d or not d:
            self.skipped("the direct-effect decomposition", d.get("skipped", "not computed"))
            return
        parts = []
        for key, what in (("direct", "direct"), ("indirect", "through " + ", ".join(d["through"]))):
            v = d[key]
            parts.append(
                f"{what} {v['estimate']:.4f} (SE {v['std_error']:.4f}, 95% CI "
                f"[{v['conf_low']:.4f}, {v['conf_high']:.4f}])"
            )
        text = f"**Decomposition** (total {d['total']['estimate']:.4f}): " + "; ".join(parts) + "."
        if d["direct"].get("truth") is not None:
            text += f" True direct effect {d['direct']['truth']:.4f}."
        _markdown(text + f" *Assumptions:* {d['assumptions']}")

    def write_table(self, frame: pd.DataFrame, stem: str) -> Path:
        path = self.dirs["tables"] / f"{stem}.csv"
        return _relative(results_io.write_table(frame.assign(data_source=self.data_source), path))

    def write_results(
        self, name: str, payload: dict, metrics: dict, plot: pd.DataFrame | None = None
    ) -> Path:
        payload = {**payload, "data_source": self.data_source}
        results_io.write_json(
            self.dirs["metrics"] / f"{name}.json", {**metrics, "data_source": self.data_source}
        )
        if plot is not None:
            results_io.write_table(plot, self.dirs["plots"] / f"{name}.csv")
        return _relative(results_io.write_json(self.dirs["results"] / f"{name}.json", payload))

    def truth_series(self, study: dict) -> pd.Series | None:
        """The unbinned true effect at each event time of the common support."""
        truth = study.get("truth_event_study")
        if truth:
            return pd.Series({int(k): v for k, v in truth.items()}).sort_index()
        es = study["event_study"]
        return es.set_index("event_time")["truth"] if "truth" in es else None

    def compare_with_truth(self, study: dict) -> pd.DataFrame:
        """One-row table: TWFE estimate, 95% CI and, on synthetic data, the truth and the bias
        (empty, after one explained sentence, when TWFE did not run on this panel)."""
        twfe = study["twfe"]
        if "skipped" in twfe:
            self.skipped(f"TWFE for {study['treatment']}", twfe["skipped"])
            return pd.DataFrame()
        truth = study.get("true_att_target", study.get("true_att_overall"))
        truth = study.get("true_elasticity") if truth is None else truth
        row = {
            "treatment": study["treatment"],
            "estimate": twfe["estimate"],
            "std_error": twfe["std_error"],
            "conf_low": twfe["conf_low"],
            "conf_high": twfe["conf_high"],
        }
        if truth is not None:
            row.update(
                truth=truth,
                bias=twfe["estimate"] - truth,
                truth_in_ci=bool(twfe["conf_low"] <= truth <= twfe["conf_high"]),
            )
        return pd.DataFrame([row])


def _nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _round(value: float, digits: int) -> str:
    return "—" if _nan(value) else f"{value:.{digits}f}"


def _p_only(value, draws: int | None) -> str:
    """``p < 0.0001`` -> ``< 0.0001``: the column header already says p."""
    if value is None or _nan(value):
        return "—"
    return p_text(float(value), draws).removeprefix("p ").removeprefix("= ")


def display_frame(frame: pd.DataFrame) -> None:
    from IPython.display import display

    display(frame)


def _markdown(text: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(text))


def _show_png(path: Path | None) -> None:
    from IPython.display import Image, display

    if path is None:
        return
    data = path.read_bytes()
    width = int.from_bytes(data[16:20], "big")  # PNG IHDR: width in pixels
    display(Image(data=data, format="png", width=int(width * DISPLAY_DPI_RATIO)))


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings of the estimators (e.g. a pre-test that cannot be computed on a small sample) as a
    note in the notebook, named by the module that raised it, instead of a stderr traceback line
    with the machine's paths."""
    _markdown(f"> **Note** (from `{Path(filename).stem}`): {message}")


def _relative(path: str | Path) -> Path:
    return Path(paths.display_path(path))


def resolve(path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else paths.ROOT / path


def setup(panel_path: str, truth_path: str, output_dir: str, lang: str) -> NotebookContext:
    use_house_style()
    warnings.showwarning = _show_warning
    panel = read_panel(resolve(panel_path))
    truth = results_io.read_json(resolve(truth_path))
    return NotebookContext(
        panel=panel, truth=truth, dirs=output_dirs(resolve(output_dir)), lang=lang
    )
