"""Shared conventions for estimator results.

Every estimator returns an object that knows its own inference (statsmodels style) and exports a
tidy table (pyfixest / broom style) with the columns in ``TIDY_COLUMNS``. ``Estimate`` is the common
shape :func:`analysis.did.estimate.estimate` gives every estimator's result; ``PretrendTest`` the
one pre-trend test type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


EVENT_STUDY_COLUMNS = ["event_time", "estimate", "std_error", "conf_low", "conf_high"]


@dataclass(frozen=True)
class PretrendTest:
    """Joint Wald test that the pre-treatment effects are zero: ``statistic`` ~ chi-squared(``df``).

    One type for every estimator that tests pre-trends: the TWFE event study (all leads = 0), Callaway &
    Sant'Anna (all pre-treatment ATT(g,t) = 0, as R ``summary(att_gt)``) and the Borusyak-Jaravel-Spiess
    imputation estimator (their Test 1; it also reports the lead coefficients in ``leads`` and the F
    version ``f_stat``/``f_p_value``).
    """

    statistic: float
    df: int
    p_value: float
    leads: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    f_stat: float | None = None
    f_p_value: float | None = None

    @property
    def wald(self) -> float:
        return self.statistic

    @property
    def W(self) -> float:  # R did's name (summary(att_gt))
        return self.statistic

    def to_dict(self) -> dict:
        """``{"wald", "df", "p_value"}``: the form written to the results JSON."""
        return {"wald": self.statistic, "df": self.df, "p_value": self.p_value}

    def __str__(self) -> str:
        return (
            f"Pre-trend Wald test: W = {self.statistic:.4f}, df = {self.df}, p = {self.p_value:.5f}"
        )


@dataclass
class Estimate:
    """One estimator's answer in one shape, whatever the estimator (made by :func:`analysis.did.estimate.estimate`).

    ``att``/``se``/``conf_low``/``conf_high``: the overall average effect on the treated, as the estimator
    reports it (``term`` is its own label: ``overall`` for R did's ``aggte``, ``ATT`` for fixest and
    didimputation, the treatment column for a TWFE regression); ``event_study``: one row per event time
    with the columns in ``EVENT_STUDY_COLUMNS`` (empty when the estimator has no event-time effects);
    ``pretrend``: the estimator's pre-trend test or None; ``fit``: the estimator's own result object.
    """

    estimator: str
    att: float
    se: float
    conf_low: float
    conf_high: float
    event_study: pd.DataFrame
    pretrend: PretrendTest | None
    fit: Any = field(repr=False)
    term: str = "ATT"

    def overall(self) -> pd.Series:
        """The overall effect as one tidy row (``TIDY_COLUMNS``)."""
        row = tidy_frame([self.term], [self.att], [self.se]).iloc[0].copy()
        row["conf_low"], row["conf_high"] = self.conf_low, self.conf_high
        return row

    def tidy(self) -> pd.DataFrame:
        """The overall row, then one row per event time (``term = "event_time::k"``)."""
        es = self.event_study
        rows = tidy_frame(
            [f"event_time::{k}" for k in es["event_time"]], es["estimate"], es["std_error"]
        )
        rows["conf_low"], rows["conf_high"] = es["conf_low"].to_numpy(), es["conf_high"].to_numpy()
        return pd.concat([self.overall().to_frame().T, rows], ignore_index=True).astype(
            {c: float for c in TIDY_COLUMNS[1:]}
        )

    def summary(self) -> str:
        head = (
            f"{self.estimator}: {self.term} = {self.att:.4f} (SE {self.se:.4f}; "
            f"95% CI [{self.conf_low:.4f}, {self.conf_high:.4f}])"
        )
        lines = [head]
        if len(self.event_study):
            lines.append(self.event_study.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        if self.pretrend is not None:
            lines.append(str(self.pretrend))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def event_study_frame(event_times, estimates, std_errors, conf_low, conf_high) -> pd.DataFrame:
    """An ``Estimate.event_study`` frame (integer event times, sorted)."""
    frame = pd.DataFrame(
        {
            "event_time": np.asarray(event_times, dtype=float).astype(int),
            "estimate": np.asarray(estimates, dtype=float),
            "std_error": np.asarray(std_errors, dtype=float),
            "conf_low": np.asarray(conf_low, dtype=float),
            "conf_high": np.asarray(conf_high, dtype=float),
        }
    )
    return frame.sort_values("event_time", ignore_index=True)
