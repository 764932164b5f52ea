"""Shared fixtures: locating the validation data sets with published answers."""

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
