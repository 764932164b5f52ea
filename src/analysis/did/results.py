"""Shared conventions for estimator results.

Every estimator returns an object that knows its own inference (statsmodels style) and exports a
tidy table (pyfixest / broom style) with the columns in ``TIDY_COLUMNS``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

TIDY_COLUMNS = ["term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]


def tidy_frame(
    terms, estimates, std_errors, alpha: float = 0.05, crit: float | np.ndarray | None = None
) -> pd.DataFrame:
    """Build a tidy table from estimates and standard errors (normal critical values by default).

    ``crit`` overrides the critical value (e.g. a uniform-band critical value from a bootstrap).
    """
    est = np.asarray(estimates, dtype=float)
    se = np.asarray(std_errors, dtype=float)
    z = stats.norm.ppf(1 - alpha / 2) if crit is None else np.asarray(crit, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / se
    return pd.DataFrame(
        {
            "term": list(terms),
            "estimate": est,
            "std_error": se,
            "statistic": stat,
            "p_value": 2 * stats.norm.sf(np.abs(stat)),
            "conf_low": est - z * se,
            "conf_high": est + z * se,
        }
    )
