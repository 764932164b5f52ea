"""The whole DVC pipeline, run in a temporary copy of the project with small parameters."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.pipeline


def _project_files() -> list[str]:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    untracked = subprocess.run(["git", "ls-files", "--others", "--exclude-standard"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout
    return sorted({f for f in (tracked + untracked).splitlines() if f and not f.startswith(("output/", "reports/report"))})


def _run(args, cwd, env):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def make_project(tmp_path_factory, n_cities: int = 200):
    """A git copy of the project with small parameters, after one full `dvc repro`."""
    dest = tmp_path_factory.mktemp("project")
    for rel in _project_files():
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for sub in ("data/interim", "data/processed", "data/raw"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["synthetic"]["n_cities"] = n_cities
    # Small loops: the test checks the plumbing; full sizes are exercised by `make reproduce`.
    params["notebooks"]["simulation"]["n_reps"] = 2
    rob = params["notebooks"]["robustness"]
    rob.update(placebo_draws=199, wild_draws=999)
    rob["spec_curve"]["options"] = {"sample": ["all"], "outcome": ["log_exports"]}
    (dest / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False))
    env = {**os.environ, "ANALYSIS_ROOT": str(dest), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for args in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        _run(args, dest, env)
    log = _run([str(BIN / "dvc"), "repro"], dest, env)
    return dest, env, log


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory)


def test_repro_builds_every_product(project):
    dest, _, log = project
    for rel in ("reports/report.html", "reports/report.pdf", "output/notebooks/pilot_zones.html",
                "output/notebooks/network_coverage.ipynb", "output/figures/pilot_event_study.png",
                "output/notebooks/robustness.html", "output/figures/robustness_spec_curve.png",
                "output/notebooks/simulation.html", "output/figures/simulation_bacon.svg",
                "output/figures/coverage_dose_response.svg", "output/tables/twfe_joint.csv",
                "data/processed/truth.json"):
        assert (dest / rel).stat().st_size > 0, rel


def test_estimates_sit_where_theory_says(project):
    dest, _, _ = project
    cov = json.loads((dest / "output/results/network_coverage.json").read_text())
    # The elasticity enters the DGP linearly and homogeneously: TWFE with controls is unbiased.
    assert abs(cov["twfe"]["estimate"] - cov["true_elasticity"]) < 3 * cov["twfe"]["std_error"]
    pilot = json.loads((dest / "output/results/pilot_zones.json").read_text())
    # Effects grow with time since designation: the single-dummy TWFE falls short of the true ATT...
    assert pilot["twfe_bias"] < 0
    # ...while the event study tracks the true dynamic path at short horizons.
    for row in pilot["event_study"]:
        if 0 <= row["event_time"] <= 3:
            assert abs(row["estimate"] - row["truth"]) < 3.5 * row["std_error"], row
    assert pilot["data_source"] == "synthetic"


def test_report_numbers_come_from_results_and_chinese_renders(project):
    from pypdf import PdfReader

    dest, _, _ = project
    pilot = json.loads((dest / "output/results/pilot_zones.json").read_text())
    html = (dest / "reports/report.html").read_text(encoding="utf-8")
    assert f"{pilot['twfe']['estimate']:.3f}" in html
    assert "SYNTHETIC DATA" in html
    reader = PdfReader(dest / "reports/report.pdf")
    text = "".join(page.extract_text() for page in reader.pages)
    assert "跨境电子商务综合试验区" in text and "SYNTHETIC DATA" in text
    fonts = {f.get_object()["/BaseFont"] for p in reader.pages for f in p["/Resources"]["/Font"].values()}
    assert any("NotoSansCJK" in str(f) for f in fonts), fonts
    images = sum(len(p.images) for p in reader.pages)
    assert images >= 5


def test_second_repro_does_nothing_and_a_parameter_reruns_only_its_notebook(project):
    dest, env, _ = project
    log = _run([str(BIN / "dvc"), "repro"], dest, env)
    assert "Running stage" not in log and "up to date" in log
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["notebooks"]["rail_links"]["window"] = [-4, 4]
    (dest / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False))
    log = _run([str(BIN / "dvc"), "repro"], dest, env)
    assert "Running stage 'rail_links'" in log and "Running stage 'report'" in log
    for other in ("cities", "treatments", "panel", "overview", "pilot_zones", "network_coverage", "simulation", "robustness"):
        assert f"Running stage '{other}'" not in log
    for args in (["dvc", "dag"], ["dvc", "params", "diff"], ["dvc", "metrics", "show"]):
        _run([str(BIN / args[0]), *args[1:]], dest, env)


def test_chinese_report_renders(project, tmp_path):
    """report.lang = zh: the Chinese report compiles, with CJK text and the SYNTHETIC badge."""
    from pypdf import PdfReader

    dest, env, _ = project
    script = (
        "from pathlib import Path; from analysis.config import load_params; from analysis.report.build import build_report; "
        f"p = load_params(); p['report']['lang'] = 'zh'; build_report(p, Path({str(tmp_path)!r}))"
    )
    _run([sys.executable, "-c", script], dest, env)
    text = "".join(page.extract_text() for page in PdfReader(tmp_path / "report.pdf").pages)
    assert "跨境电商综试区" in text and "参考文献" in text and "SYNTHETIC" in text
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'lang="zh-CN"' in html and "复现说明" in html
