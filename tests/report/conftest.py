"""A report's inputs in a temporary folder: the published results (results/published, committed),
placeholder figure PNGs, executed-notebook stand-ins and the project's SOURCES.md."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from analysis import config as paths
from analysis.report.exhibits import EXHIBITS
from analysis.report.inputs import ReportInputs

PUBLISHED = paths.ROOT / "results" / "published"


def make_inputs(dest: Path) -> ReportInputs:
    shutil.copytree(PUBLISHED / "results", dest / "output" / "results")
    shutil.copytree(PUBLISHED / "tables", dest / "output" / "tables")
    (dest / "output" / "figures").mkdir(parents=True)
    (dest / "output" / "notebooks").mkdir(parents=True)
    for ex in EXHIBITS:
        if ex.kind == "figure":
            im = Image.new("RGB", (320, 160), "white")
            ImageDraw.Draw(im).rectangle([10, 10, 310, 150], outline="black")
            for lang in ("en", "zh"):  # figures are saved once per language
                im.save(dest / "output" / "figures" / f"{ex.stem}.{lang}.png")
            (dest / "output" / "notebooks" / f"{ex.stage}.html").write_text(f"<p>{ex.stage}</p>")
    (dest / "data" / "reference").mkdir(parents=True)
    shutil.copyfile(paths.REFERENCE / "SOURCES.md", dest / "data" / "reference" / "SOURCES.md")
    shutil.copyfile(paths.ROOT / "dvc.yaml", dest / "dvc.yaml")
    out = dest / "output"
    return ReportInputs(
        results=out / "results",
        tables=out / "tables",
        figures=out / "figures",
        notebooks=out / "notebooks",
        sources_md=dest / "data" / "reference" / "SOURCES.md",
        panel=dest / "data" / "processed" / "panel.csv",
        design=dest / "data" / "processed" / "design.json",
        panel_report=dest / "data" / "processed" / "panel_report.md",
        root=dest,
    )


@pytest.fixture(scope="module")
def report_inputs(tmp_path_factory) -> ReportInputs:
    return make_inputs(tmp_path_factory.mktemp("report_inputs"))


@pytest.fixture(scope="module")
def make_report_inputs():
    """make_inputs itself, for tests that alter the inputs before building."""
    return make_inputs


@pytest.fixture(scope="session")
def built_reports(tmp_path_factory) -> dict[str, Path]:
    """Both reports (en, zh), built once per session from the published results:
    language -> folder holding report.html, report.pdf, report.json (reports/<lang> under a root
    that also holds output/, as in the project)."""
    from analysis.config import load_params
    from analysis.report import build

    inputs = make_inputs(tmp_path_factory.mktemp("built_reports"))
    out = {}
    for lang in ("en", "zh"):
        params = load_params()
        params["report"]["lang"] = lang
        out[lang] = inputs.root / "reports" / lang
        build.build_report(params, out[lang], inputs)
    return out
