"""TWFE event study: leads and lags of a staggered binary treatment, binned end points,
reference period -1, and a joint Wald test that all leads are zero (pre-trends).

Under heterogeneous effects across cohorts the lag coefficients are contaminated (Sun & Abraham
2021); the heterogeneity-robust alternatives live in ``sun_abraham`` and ``callaway_santanna``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.did.results import PretrendTest, tidy_frame
from analysis.did.twfe import TWFEResult, twfe


def event_time_dummies(
    data: pd.DataFrame, gname: str, tname: str, window: tuple[int, int], ref: int = -1
) -> tuple[pd.DataFrame, list[int]]:
    """Add columns ``evt_m3``, ..., ``evt_p5`` for relative periods; end points are binned.

    Relative period e = t - g for units with g > 0; e <= window[0] goes to the lower bin and
    e >= window[1] to the upper bin. Never-treated units (g == 0) get zeros everywhere.
    """
    lo, hi = window
    treated = data[gname].to_numpy() > 0
    e = np.where(treated, data[tname].to_numpy() - data[gname].to_numpy(), -10_000)
    e = np.where(treated, np.clip(e, lo, hi), e)
    periods = [k for k in range(lo, hi + 1) if k != ref]
    cols = {f"evt_{'m' if k < 0 else 'p'}{abs(k)}": (e == k).astype(float) for k in periods}
    return data.assign(**cols), periods


@dataclass
class EventStudyResult:
    """Event-study coefficients by relative period (reference period normalised to zero)."""

    periods: list[int]
    ref: int
    fit: TWFEResult
    window: tuple[int, int]

    @property
    def estimates(self) -> pd.Series:
        return pd.Series(self.fit.params.to_numpy()[: len(self.periods)], index=self.periods)

    def tidy(self, alpha: float = 0.05, include_ref: bool = True) -> pd.DataFrame:
        k = len(self.periods)
        frame = tidy_frame(
            self.periods, self.fit.params.to_numpy()[:k], self.fit.std_errors.to_numpy()[:k], alpha
        )
        frame = frame.rename(columns={"term": "event_time"})
        if include_ref:
            ref = pd.DataFrame(
                [
                    {
                        "event_time": self.ref,
                        "estimate": 0.0,
                        "std_error": 0.0,
                        "statistic": np.nan,
                        "p_value": np.nan,
                        "conf_low": 0.0,
                        "conf_high": 0.0,
                    }
                ]
            )
            frame = pd.concat([frame, ref], ignore_index=True).sort_values(
                "event_time", ignore_index=True
            )
        lo, hi = self.window
        frame["binned"] = frame["event_time"].isin([lo, hi])
        return frame

    @property
    def pretrend(self) -> PretrendTest | None:
        """Joint Wald test H0: all lead coefficients (e < ref) are zero; chi-squared with df = #leads."""
        leads = [i for i, p in enumerate(self.periods) if p < self.ref]
        if not leads:
            return None
        b = self.fit.params.to_numpy()[leads]
        v = self.fit.cov.to_numpy()[np.ix_(leads, leads)]
        w = float(b @ np.linalg.solve(v, b))
        return PretrendTest(w, len(leads), float(stats.chi2.sf(w, len(leads))))

    def pretrend_test(self) -> dict:
        """:attr:`pretrend` as the dict ``{"wald", "df", "p_value"}`` the results files hold."""
        test = self.pretrend
        return {"wald": np.nan, "df": 0, "p_value": np.nan} if test is None else test.to_dict()

    def summary(self) -> str:
        test = self.pretrend
        return (
            f"Event study (ref = {self.ref}, window {self.window}, end points binned)\n"
            f"{self.tidy().round(4).to_string(index=False)}\n"
            f"{'No leads: no pre-trend test' if test is None else test}"
        )

    def plot(self, ax=None, label: str | None = None, color=None, offset: float = 0.0):
        from analysis.figures.style import event_study_axes

        return event_study_axes(self.tidy(), ax=ax, label=label, color=color, offset=offset)


def event_study(
    data: pd.DataFrame,
    yname: str,
    gname: str,
    idname: str,
    tname: str,
    window: tuple[int, int] = (-5, 5),
    ref: int = -1,
    controls: list[str] | None = None,
    cluster: str | None = None,
) -> EventStudyResult:
    """Estimate the TWFE event study with unit and time effects; clustered SEs (default: unit)."""
    frame, periods = event_time_dummies(data, gname, tname, tuple(window), ref)
    names = [f"evt_{'m' if k < 0 else 'p'}{abs(k)}" for k in periods]
    fit = twfe(frame, yname, names + list(controls or []), idname, tname, cluster)
    return EventStudyResult(periods=periods, ref=ref, fit=fit, window=tuple(window))
