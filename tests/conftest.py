"""Shared fixtures: locating the validation data sets with published answers, and the one small
pipeline build that the pipeline's tests and the executed notebooks' tests read."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _validation_dir() -> Path | None:
    value = os.environ.get("VALIDATION_DATA_DIR")
    if not value:
        return None
    path = Path(value)
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def validation_dir() -> Path:
    """Directory of ../shared/validation; fail in CI, skip elsewhere when it is missing."""
    path = _validation_dir()
    if path is None:
        reason = (
            "VALIDATION_DATA_DIR is not set or not a directory; "
            "set it to the shared validation data (see README, 'Tests')"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def load_validation(validation_dir):
    """Return a loader: load_validation('mpdta.csv') -> DataFrame."""

    def _load(name: str, **read_options) -> pd.DataFrame:
        return pd.read_csv(validation_dir / name, **read_options)

    return _load


# The modules that read the session's pipeline build. One `make reproduce` of the small project
# takes ~5 minutes on 2 cores, the longest setup of the default test command: it is built once, and
# under `--dist loadfile` these modules are scheduled as one unit, on the worker that built it (a
# second worker would otherwise build it again, or wait idle for the first).
PIPELINE_BUILD_MODULES = ("tests/test_pipeline.py", "tests/studies/test_executed_notebooks.py")


@pytest.fixture(scope="session")
def pipeline_build(tmp_path_factory):
    """``(dest, env, log)`` of one `make reproduce` of the project with small parameters
    (helpers.project_copy.make_project). Read it, never change it: a test that reruns, edits or
    checks out works on a copy (tests/test_pipeline.py's ``project``)."""
    from helpers.project_copy import make_project

    return make_project(tmp_path_factory.mktemp("pipeline-build") / "project")


def pytest_collection_modifyitems(config, items):
    """A module that asks for ``pipeline_build`` must be listed in PIPELINE_BUILD_MODULES, else
    the scheduler below would let two workers build it."""
    for item in items:
        module = item.nodeid.split("::")[0]
        if (
            "pipeline_build" in getattr(item, "fixturenames", ())
            and module not in PIPELINE_BUILD_MODULES
        ):
            raise pytest.UsageError(
                f"{module} uses pipeline_build: add it to PIPELINE_BUILD_MODULES"
            )


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` (the README's test command), with PIPELINE_BUILD_MODULES as one file."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class OnePipelineBuild(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            return PIPELINE_BUILD_MODULES[0] if module in PIPELINE_BUILD_MODULES else module

    return OnePipelineBuild(config, log)
