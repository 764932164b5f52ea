"""The user's file through the whole DAG (README "Your own data"): `analysis check`, then the
experiment on it, the report in both languages (tests/studies/test_user_panels.py: the cases and
:func:`check_dag`). A file of its own so that the test runner's workers (``--dist loadfile``) run
it beside the cases' design-and-estimates checks rather than after them."""

from __future__ import annotations

import pytest
from studies.test_user_panels import BY_NAME, CASES, DEFAULT_DAG, check_dag


@pytest.mark.pipeline
@pytest.mark.parametrize("name", DEFAULT_DAG)
def test_user_panel_whole_dag(name, tmp_path):
    check_dag(BY_NAME[name], tmp_path)


@pytest.mark.slow
@pytest.mark.pipeline
@pytest.mark.parametrize("name", [c.name for c in CASES if c.name not in DEFAULT_DAG])
def test_user_panel_whole_dag_slow(name, tmp_path):
    check_dag(BY_NAME[name], tmp_path)
