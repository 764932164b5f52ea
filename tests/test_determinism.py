"""compare_runs: byte comparison of two output directories."""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers.determinism import compare_runs


def _run_dir(root: Path) -> Path:
    for rel, data in {
        "results/a.json": b'{"x": 1.0}\n',
        "tables/t.csv": b"a,b\n1,2\n",
        "figures/f.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
        "figures/f.svg": b"<svg/>",
        "metrics/m.json": b"{}",
        "plots/p.csv": b"x,y\n",
        "runtime/a.json": b'{"seconds": 1.0}',  # differs every run: not compared by default
        "notebooks/a.html": b"<html/>",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_identical_runs(tmp_path):
    a = _run_dir(tmp_path / "a")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    (b / "runtime" / "a.json").write_bytes(b'{"seconds": 2.5}')
    (b / "notebooks" / "a.html").write_bytes(b"<html>other</html>")
    assert compare_runs(a, b) == []


def test_differences_found(tmp_path):
    a = _run_dir(tmp_path / "a")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    png = bytearray((b / "figures" / "f.png").read_bytes())
    png[-1] ^= 1  # one bit, same size
    (b / "figures" / "f.png").write_bytes(bytes(png))
    (b / "tables" / "t.csv").write_bytes(b"a,b\n1,3\n")
    (b / "metrics" / "m.json").unlink()  # only in a
    (b / "plots" / "extra.csv").write_bytes(b"")  # only in b
    assert compare_runs(a, b) == [
        "figures/f.png",
        "metrics/m.json",
        "plots/extra.csv",
        "tables/t.csv",
    ]
    assert compare_runs(b, a) == compare_runs(a, b)
    assert compare_runs(a, b, patterns=("results/*.json",)) == []
    assert compare_runs(a, b, patterns=("runtime/*.json", "figures/*.svg")) == []
