"""Read the study parameters (params.yaml), the single place where a user changes a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from analysis import paths


def load_params(path: Path | str | None = None) -> dict[str, Any]:
    """Return params.yaml as a nested dict."""
    with open(path or paths.PARAMS, encoding="utf-8") as fh:
        return yaml.safe_load(fh)
