"""The whole DVC pipeline, run in a temporary copy of the project with small parameters."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers.project_copy import MAKE, project_env

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STAGES = (
    "environment",
    "cities",
    "treatments",
    "panel",
    "overview",
    "pilot_zones",
    "rail_links",
    "corridor",
    "network_coverage",
    "simulation",
    "robustness",
    "design",
)


def other_stages(stage: str) -> tuple[str, ...]:
    """The notebook stages a change to ``stage``'s parameters must not rerun."""
    return tuple(s for s in STAGES if s != stage)


pytestmark = pytest.mark.pipeline


def _run(args, cwd, env):
    result = subprocess.run(args, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, (
        f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def project(pipeline_build, tmp_path_factory):
    """A copy of the session's small pipeline build (tests/conftest.py) that this module's tests
    may change: rerun stages, run experiments, check out; ``(dest, env, log of the build)``."""
    build, _, log = pipeline_build
    dest = tmp_path_factory.mktemp("project") / "project"
    shutil.copytree(build, dest, symlinks=True)
    return dest, project_env(dest), log


def test_repro_builds_every_product(project):
    dest, _, _ = project
    for rel in (
        "reports/en/report.html",
        "reports/en/report.pdf",
        "reports/zh/report.html",
        "reports/zh/report.pdf",
        "output/notebooks/pilot_zones.html",
        "output/notebooks/network_coverage.ipynb",
        "output/figures/pilot_event_study.en.png",
        "output/notebooks/robustness.html",
        "output/figures/robustness_spec_curve.zh.png",
        "output/notebooks/simulation.html",
        "output/figures/simulation_bacon.en.svg",
        "output/figures/coverage_dose_response.zh.svg",
        "output/figures/overview_map.zh.png",
        "output/figures/rail_corridors.en.png",
        "output/figures/corridor_sdid.zh.png",
        "output/figures/robustness_spillover_map.en.png",
        "output/tables/twfe_joint.csv",
        "data/processed/truth.json",
    ):
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
    html = (dest / "reports/en/report.html").read_text(encoding="utf-8")
    assert f"{pilot['twfe']['estimate']:.3f}" in html
    assert "SYNTHETIC DATA" in html
    reader = PdfReader(dest / "reports/zh/report.pdf")
    text = "".join(page.extract_text() for page in reader.pages)
    assert "跨境电子商务综合试验区" in text and "模拟数据" in text
    fonts = {
        f.get_object()["/BaseFont"] for p in reader.pages for f in p["/Resources"]["/Font"].values()
    }
    assert any("NotoSansCJK" in str(f) for f in fonts), fonts
    images = sum(len(p.images) for p in reader.pages)
    assert images >= 5


def _dvc(dest, env, *args):
    return _run([str(BIN / "dvc"), *args], dest, env)


def _git_status(dest, env) -> str:
    return _run(["git", "status", "--porcelain", "--untracked-files=all"], dest, env)


def test_clean_git_and_lock_after_a_run(project):
    """After a run (committed by the fixture) DVC sees nothing to do, a second `make reproduce`
    runs nothing and rewrites nothing: dvc.lock holds no volatile record, git stays clean."""
    dest, env, _ = project
    assert "up to date" in _dvc(dest, env, "status")
    log = _run(MAKE + ["reproduce"], dest, env)
    assert "Running stage" not in log, log
    assert _git_status(dest, env) == "", _git_status(dest, env)
    lock = (dest / "dvc.lock").read_text()
    for volatile in ("output/runtime", "reports/"):
        assert volatile not in lock, f"{volatile} is a record of the run, not a DVC out"
    assert "output/notebooks/pilot_zones.html" in lock, "executed notebooks are products"
    # Those records are still written, for the report and the reader.
    assert (dest / "output/runtime/pilot_zones.json").exists()
    assert (dest / "output/notebooks/pilot_zones.html").exists()


def other_cpu_dispatch() -> str:
    """``NPY_DISABLE_CPU_FEATURES`` for every SIMD extension NumPy dispatches to on this CPU
    (beyond its compiled baseline): a run under it takes the code paths of an older processor."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return " ".join(f for f in __cpu_dispatch__ if __cpu_features__.get(f))


@pytest.mark.slow
def test_another_cpu_dispatch_writes_the_same_lock(project):
    """Slow (~8 min on 2 cores; the default command runs tests/test_cpu_dispatch.py, the studies'
    results files under the same two settings). Issue 16: a forced rerun of every stage as another CPU would run it -- NumPy's dispatched
    SIMD extensions off (on an AVX-512 machine: AVX2 and AVX-512 kernels replaced by SSE ones) and
    two BLAS threads instead of one -- writes the same dvc.lock and the same bytes in every
    product (git stays clean; OPENBLAS_CORETYPE is left as the machine sets it)."""
    dest, env, _ = project
    features = other_cpu_dispatch()
    if not features:
        pytest.skip("this CPU has no SIMD extension beyond NumPy's baseline to turn off")
    other = {**env, "NPY_DISABLE_CPU_FEATURES": features, "OPENBLAS_NUM_THREADS": "2"}
    check = subprocess.run(
        [sys.executable, "-c", "import numpy; print(numpy._core._multiarray_umath.__cpu_features__['AVX2'])"],
        env=other, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "AVX2" not in features or check.stdout.strip() == "False", check.stdout
    log = _dvc(dest, other, "repro", "-f")
    assert "Running stage 'pilot_zones'" in log and "Running stage 'robustness'" in log
    status = _git_status(dest, env)
    # the lock's diff names the products that changed (path lines in the context)
    assert status == "", (
        f"another CPU dispatch changed the products:\n{status}\n"
        + _run(["git", "diff", "-U4", "--", "dvc.lock"], dest, env)[:6000]
    )


def test_experiment_runs_one_notebook_and_shows_its_metrics(project):
    """The README's experiment command: only that notebook and the report rerun, params.yaml keeps
    its comments and layout, and `dvc exp show` has the headline metrics of the last commit and
    of the experiment."""
    dest, env, _ = project
    before = (dest / "params.yaml").read_text(encoding="utf-8").splitlines()
    log = _run(MAKE + ["exp", "ARGS=-S 'notebooks.rail_links.window=[-4,4]'"], dest, env)
    assert "Running stage 'rail_links'" in log and "Running stage 'report'" in log, log
    for other in other_stages("rail_links"):
        assert f"Running stage '{other}'" not in log
    after = (dest / "params.yaml").read_text(encoding="utf-8").splitlines()
    # params.yaml keeps its layout (analysis.experiment): only the window's line changed
    assert [(a, b) for a, b in zip(before, after, strict=True) if a != b] == [
        ("    window: [-5, 5]", "    window: [-4, 4]")
    ]
    old, new = yaml.safe_load("\n".join(before)), yaml.safe_load("\n".join(after))
    assert new["notebooks"]["rail_links"].pop("window") == [-4, 4]
    old["notebooks"]["rail_links"].pop("window")
    assert new == old
    shown = subprocess.run(
        [str(BIN / "dvc"), "exp", "show", "--json"],
        cwd=dest,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = _exp_rows(json.loads(shown))
    assert {"workspace", "master"} <= {r["name"] for r in rows} and len(rows) >= 3, rows
    for row in rows:
        assert row["metrics"].get("output/metrics/rail_links.json"), row
    windows = {r["name"]: r["params"]["notebooks"]["rail_links"]["window"] for r in rows}
    assert [-4, 4] in windows.values() and [-5, 5] in windows.values(), windows
    assert "rail_links" in _dvc(dest, env, "params", "diff")
    _dvc(dest, env, "metrics", "show")
    changed = _dvc(dest, env, "exp", "show", "--only-changed", "--md")
    assert changed.startswith("|") and "window" in changed and len(changed.splitlines()[0]) < 400


def _exp_rows(shown) -> list[dict]:
    """Flatten `dvc exp show --json` (DVC 3: a list of baselines, each with its experiments)."""
    rows = []

    def visit(entry, name):
        data = (entry.get("data") or {}) if isinstance(entry, dict) else {}
        metrics = {path: (m.get("data") or {}) for path, m in (data.get("metrics") or {}).items()}
        params = {path: (p.get("data") or {}) for path, p in (data.get("params") or {}).items()}
        rows.append(
            {
                "name": name or entry.get("name") or entry.get("rev"),
                "metrics": metrics,
                "params": params.get("params.yaml", {}),
            }
        )
        for exp in entry.get("experiments") or []:
            for rev in exp.get("revs") or []:
                visit(rev, rev.get("name") or exp.get("name"))

    for baseline in shown:
        visit(baseline, baseline.get("name") or baseline.get("rev"))
    return rows


def test_plots_render_offline(project, tmp_path):
    """`dvc plots show` and `dvc plots diff` embed the PNG figures and load nothing from a CDN."""
    dest, env, _ = project
    for args in (("show",), ("diff", "HEAD")):
        out = tmp_path / args[0]
        _dvc(dest, env, "plots", *args, "-o", str(out))
        html = (out / "index.html").read_text(encoding="utf-8")
        assert "<img" in html and "pilot_event_study" in html
        assert not re.search(r"(src|href)=[\"']https?://", html), (
            "the plots page loads from the network"
        )
        assert "vega" not in html.lower()


def test_a_parameter_reruns_only_its_notebook(project):
    dest, env, _ = project
    # parsed, not edited as text: an earlier experiment may have re-emitted params.yaml in block
    # style; the corridor's notebook: the quickest stage with parameters of its own
    params = yaml.safe_load((dest / "params.yaml").read_text(encoding="utf-8"))
    params["notebooks"]["corridor"]["mde_power"] = 0.9
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    log = _dvc(dest, env, "repro")
    assert "Running stage 'corridor'" in log and "Running stage 'report'" in log
    for other in other_stages("corridor"):
        assert f"Running stage '{other}'" not in log
    _dvc(dest, env, "dag")


def test_chinese_report_renders(project, tmp_path):
    """report.lang = zh: the Chinese report compiles, with CJK text and the Chinese SYNTHETIC badge."""
    from pypdf import PdfReader

    dest, env, _ = project
    script = (
        "from pathlib import Path; from analysis.config import load_params; from analysis.report.build import build_report; "
        f"p = load_params(); p['report']['lang'] = 'zh'; build_report(p, Path({str(tmp_path)!r}))"
    )
    _run([sys.executable, "-c", script], dest, env)
    text = "".join(page.extract_text() for page in PdfReader(tmp_path / "report.pdf").pages)
    assert "跨境电商综试区" in text and "模拟数据" in text
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'lang="zh-CN"' in html and "复现说明" in html


def test_an_interactive_run_writes_nothing_of_the_pipeline(project):
    """Issue 17: a notebook run by hand (as JupyterLab would: no papermill parameters) takes its
    parameters from params.yaml and writes to output/interactive/, so the pipeline's products and
    `dvc status` are untouched."""
    import jupytext
    import nbclient

    dest, env, _ = project
    before = _dvc(dest, env, "status"), _git_status(dest, env)
    # the corridor's notebook: the quickest with results, tables and figures of its own
    products = sorted((dest / "output").glob("*/corridor*"))
    digest = {p: p.read_bytes() for p in products}
    code = (
        "import jupytext, nbclient; "
        "nb = jupytext.read('notebooks/corridor.py'); "
        "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3', "
        "resources={'metadata': {'path': '.'}}).execute()"
    )
    assert jupytext and nbclient
    _run([sys.executable, "-c", code], dest, env)
    assert (dest / "output/interactive/results/corridor.json").exists()
    assert (_dvc(dest, env, "status"), _git_status(dest, env)) == before
    assert products and all(p.read_bytes() == digest[p] for p in products)


def test_a_checkout_restores_notebooks_results_and_report_of_one_run(project):
    """Issue 17: after experiments, `git checkout params.yaml` and `make reproduce` restore the
    committed run's products, executed notebooks included (DVC outs, restored from the cache with
    the results they narrate); the report marks the runtime of a stage whose products were
    restored rather than made ("restored from the DVC cache")."""
    dest, env, _ = project
    _run(["git", "checkout", "params.yaml"], dest, env)
    _run(MAKE + ["reproduce"], dest, env)
    assert _git_status(dest, env) == "", _git_status(dest, env)
    executed = json.loads((dest / "output/notebooks/rail_links.ipynb").read_text(encoding="utf-8"))
    assert executed["metadata"]["papermill"]["parameters"]["window"] == [-5, 5]
    html = (dest / "reports/en/report.html").read_text(encoding="utf-8")
    assert "restored from the DVC cache" in html
