"""Render the report (HTML and PDF via Typst) from the results files and figures.

Every number in the text is read from output/results/*.json or output/tables/*.csv; nothing is
typed into the templates. One document (report/paper.py) feeds both formats:

- HTML: templates/report.html.j2 rendered by Jinja with autoescaping; figures embedded as data
  URIs, the CJK font embedded as a subset of the glyphs the page uses, notebook links relative to
  the report, so the file is self-contained and makes no network request.
- PDF: templates/report.typ reads the document from report.json as data (no value is spliced into
  Typst source) and is compiled by the ``typst`` PyPI package with root = a staging folder holding
  only report.typ, report.json and the figures, and the CJK font from ``mplfonts``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import jinja2

from analysis import config as paths
from analysis.figures.style import cjk_font_path
from analysis.report import webfont
from analysis.report.exhibits import EXHIBITS
from analysis.report.inputs import ReportInputs, load_results
from analysis.report.paper import build_document
from analysis.report.replication import replication_section

TEMPLATES = Path(__file__).parent / "templates"


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.exists() else None


def _commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError, NotADirectoryError):
        return "uncommitted"


def document(
    params: dict, inputs: ReportInputs | None = None, html_dir: Path | None = None
) -> dict:
    """The report in ``params['report']['lang']`` as plain data (see report/paper.py)."""
    inputs = inputs or ReportInputs()
    lang = (params.get("report", {}) or {}).get("lang", "en")
    return build_document(
        params,
        load_results(inputs),
        replication_section(inputs.root, params, EXHIBITS),
        inputs,
        lang=lang,
        commit=_commit(inputs.root),
        panel_hash=_sha256(inputs.panel),
        html_dir=html_dir or paths.REPORTS,
    )


def _figure_files(doc: dict) -> list[dict]:
    return [b for s in doc["sections"] for b in s["blocks"] if b["kind"] == "figure"]


def render_html(doc: dict, figures_dir: Path) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("report.html.j2")
    images = {
        f["stem"]: "data:image/png;base64,"
        + base64.b64encode((figures_dir / Path(f["file"]).name).read_bytes()).decode("ascii")
        for f in _figure_files(doc)
    }
    page = template.render(doc=doc, images=images, font_face=None)
    # The glyphs to embed are those of the page's text (the font is only used where it is needed).
    font = webfont.subset_data_uri(cjk_font_path(), webfont.visible_text(page))
    return template.render(doc=doc, images=images, font_face=font)


def render_pdf(
    doc: dict, figures_dir: Path, typ_path: Path, json_path: Path, pdf_path: Path
) -> None:
    import typst

    with tempfile.TemporaryDirectory(prefix="report-typst-") as tmp:
        stage = Path(tmp)
        (stage / "figures").mkdir()
        for f in _figure_files(doc):
            shutil.copyfile(figures_dir / Path(f["file"]).name, stage / f["file"])
        shutil.copyfile(TEMPLATES / "report.typ", stage / "report.typ")
        (stage / "report.json").write_text(
            json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        tmp_pdf = pdf_path.with_suffix(".pdf.tmp")
        typst.compile(
            str(stage / "report.typ"),
            output=str(tmp_pdf),
            root=str(stage),
            font_paths=[str(cjk_font_path().parent)],
        )
        tmp_pdf.replace(pdf_path)  # no partial PDF if compilation fails
        shutil.copyfile(stage / "report.typ", typ_path)
        shutil.copyfile(stage / "report.json", json_path)


def build_report(
    params: dict, out_dir: Path | None = None, inputs: ReportInputs | None = None
) -> list[Path]:
    """Write report.html, report.typ (+ report.json, its data) and report.pdf; return their paths."""
    out_dir = Path(out_dir or paths.REPORTS)
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = inputs or ReportInputs()
    doc = document(params, inputs, html_dir=out_dir)
    html_path, typ_path, pdf_path = (
        out_dir / "report.html",
        out_dir / "report.typ",
        out_dir / "report.pdf",
    )
    json_path = out_dir / "report.json"
    html_path.write_text(render_html(doc, inputs.figures), encoding="utf-8")
    render_pdf(doc, inputs.figures, typ_path, json_path, pdf_path)
    return [html_path, typ_path, pdf_path, json_path]


LANGS = ("en", "zh")


def build_reports(params: dict, out_dir: Path | None = None) -> list[Path]:
    """Both languages from the same results and figures (the notebooks write every figure in
    both languages, so no estimation reruns): reports/en/report.* and reports/zh/report.*."""
    out_dir = Path(out_dir or paths.REPORTS)
    inputs = ReportInputs()
    written = []
    for lang in LANGS:
        in_lang = {**params, "report": {**params["report"], "lang": lang}}
        written += build_report(in_lang, out_dir / lang, inputs)
    return written
