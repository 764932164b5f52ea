"""Two clean runs of the pipeline give byte-identical results, tables and figures (slow)."""

import pytest

from helpers.determinism import compare_runs

from test_pipeline import make_project

pytestmark = [pytest.mark.slow, pytest.mark.pipeline]


def test_two_clean_runs_are_byte_identical(tmp_path_factory):
    first, _, _ = make_project(tmp_path_factory, n_cities=120)
    second, _, _ = make_project(tmp_path_factory, n_cities=120)
    assert compare_runs(first / "output", second / "output") == []
    assert (first / "data/processed/panel.csv").read_bytes() == (second / "data/processed/panel.csv").read_bytes()
