"""Two clean runs of the pipeline give byte-identical products and the same dvc.lock (slow).

The same dvc.lock from two runs in two places is what lets the committed dvc.lock match a fresh
clone's run (git stays clean after `make reproduce`)."""

import pytest
from helpers.determinism import compare_runs
from helpers.project_copy import make_project

pytestmark = [pytest.mark.slow, pytest.mark.pipeline]


def test_two_clean_runs_are_byte_identical(tmp_path_factory):
    first, _, _ = make_project(tmp_path_factory.mktemp("project") / "project", n_cities=120)
    second, _, _ = make_project(tmp_path_factory.mktemp("project") / "project", n_cities=120)
    assert compare_runs(first / "output", second / "output") == []
    for rel in ("data/processed/panel.csv", "data/interim/environment.txt", "dvc.lock"):
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel
