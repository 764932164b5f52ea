"""TWFE event study: fully dynamic leads and lags of a staggered binary treatment, reference
period -1, reported inside a window, and a joint Wald test that the leads in the window are zero.

Fully dynamic, not binned: every relative period observed among the treated units gets its own
dummy (except the reference -1), and ``window`` only trims what is reported and tested. Binning
the end points (``e <= lo`` pooled into one dummy, ``e >= hi`` into another) assumes the effect is
constant across the pooled periods; when it is not (effects that grow, leads far from treatment)
the bins contaminate the reported coefficients and the pre-trend test, and an end-point bin is not
an adjacent single period for HonestDiD. Dropping the observations outside the window instead
would change the comparison sample with the window. The fully dynamic specification is the one
``fixest::i(rel_time, ref = -1)``, Stata ``eventdd`` and Sun & Abraham (2021) /
Borusyak, Jaravel & Spiess (2024, Sec. 3.3) recommend. Without never-treated units it is not
identified (relative time, unit and period effects are collinear), so the earliest relative
period is then dropped as a second reference (BJS 2024, Prop. 1 and footnote on "two
normalisations").

Under heterogeneous effects across cohorts the lag coefficients are contaminated (Sun & Abraham
2021); the heterogeneity-robust alternatives live in ``sun_abraham`` and ``callaway_santanna``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.did.inference import wald_statistic
from analysis.did.results import PretrendTest, tidy_frame
from analysis.did.twfe import TWFEResult, twfe


def _name(k: int) -> str:
    return f"evt_{'m' if k < 0 else 'p'}{abs(k)}"


def event_time_dummies(
    data: pd.DataFrame, gname: str, tname: str, window: tuple[int, int], ref: int = -1
) -> tuple[pd.DataFrame, list[int]]:
    """Add one column ``evt_m12``, ..., ``evt_p8`` per relative period observed among the treated
    units (fully dynamic: no binning), except the reference ``ref`` (and, without never-treated
    units, the earliest relative period; module docstring). Relative period ``e = t - g`` for
    units with ``g > 0``; never-treated units (``g == 0``) get zeros everywhere. ``window`` must
    contain ``ref``; it does not restrict the dummies (see :class:`EventStudyResult`)."""
    lo, hi = window
    if not lo <= ref <= hi:
        raise ValueError(f"the reference period {ref} must lie in the window {window}")
    g = data[gname].fillna(0).to_numpy()
    treated = g > 0
    e = np.where(treated, data[tname].to_numpy() - g, -10_000)
    observed = sorted(int(k) for k in np.unique(e[treated]))
    drop = {ref}
    if not (~treated).any() and observed:
        drop.add(observed[0])  # no never-treated units: a second normalisation
    periods = [k for k in observed if k not in drop]
    # the window's periods first: they are the first coefficients of the regression, so
    # ``params[:len(window periods)]`` are the reported ones (as before the change to fully dynamic)
    periods = [k for k in periods if lo <= k <= hi] + [k for k in periods if not lo <= k <= hi]
    cols = {_name(k): (e == k).astype(float) for k in periods}
    return data.assign(**cols), periods


@dataclass
class EventStudyResult:
    """Event-study coefficients by relative period (reference period normalised to zero).

    ``periods``: the relative periods inside ``window`` (the first ``len(periods)`` coefficients
    of ``fit``), the only ones :attr:`estimates`, :meth:`tidy` and the pre-trend test use;
    ``outside``: the relative periods estimated outside the window (fully dynamic; coefficients
    after those of ``periods``, before the controls)."""

    periods: list[int]
    ref: int
    fit: TWFEResult
    window: tuple[int, int]
    outside: list[int] = field(default_factory=list)

    @property
    def shown(self) -> list[int]:
        lo, hi = self.window
        return [p for p in self.periods if lo <= p <= hi]

    def _index(self, periods) -> list[int]:
        return [self.periods.index(p) for p in periods]

    @property
    def estimates(self) -> pd.Series:
        idx = self._index(self.shown)
        return pd.Series(self.fit.params.to_numpy()[idx], index=self.shown)

    def tidy(self, alpha: float = 0.05, include_ref: bool = True) -> pd.DataFrame:
        idx = self._index(self.shown)
        frame = tidy_frame(
            self.shown,
            self.fit.params.to_numpy()[idx],
            self.fit.std_errors.to_numpy()[idx],
            alpha,
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
        return frame

    @property
    def pretrend(self) -> PretrendTest | None:
        """Joint Wald test H0: the lead coefficients inside the window (``lo <= e < ref``) are
        zero; chi-squared with df = #leads. Leads further out are estimated but not tested: they
        rest on the few early cohorts and are not what the window reports."""
        leads = self._index([p for p in self.shown if p < self.ref])
        if not leads:
            return None
        b = self.fit.params.to_numpy()[leads]
        v = self.fit.cov.to_numpy()[np.ix_(leads, leads)]
        w, df = wald_statistic(b, v)
        return PretrendTest(w, df, float(stats.chi2.sf(w, df)))

    def pretrend_test(self) -> dict:
        """:attr:`pretrend` as the dict ``{"wald", "df", "p_value"}`` the results files hold."""
        test = self.pretrend
        return {"wald": np.nan, "df": 0, "p_value": np.nan} if test is None else test.to_dict()

    def summary(self) -> str:
        test = self.pretrend
        return (
            f"Event study (ref = {self.ref}, fully dynamic, shown in window {self.window})\n"
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
    method: str = "auto",
) -> EventStudyResult:
    """Estimate the fully dynamic TWFE event study with unit and time effects; clustered SEs
    (default: unit); coefficients reported and tested inside ``window``. ``method``: as
    :func:`analysis.did.twfe.twfe` (``"demean"``: the kernel's closed form on a balanced panel,
    the same numbers as PanelOLS without its dummy machinery)."""
    frame, periods = event_time_dummies(data, gname, tname, tuple(window), ref)
    names = [_name(k) for k in periods]
    fit = twfe(frame, yname, names + list(controls or []), idname, tname, cluster, method=method)
    lo, hi = window
    inside = [k for k in periods if lo <= k <= hi]
    rest = [k for k in periods if not lo <= k <= hi]
    return EventStudyResult(periods=inside, ref=ref, fit=fit, window=tuple(window), outside=rest)
