"""What the study can do with a panel: the design check run before any estimation.

A user's yearbook panel may lack controls, cover a few years, or have no never-treated city. Instead
of letting an estimator fail deep inside a notebook, the panel stage runs :func:`check_design` and
writes what every study will do with this file: years, cities, treated cities per cohort, the
controls used and dropped (and why), which estimators run and, for each one that cannot, the reason.
When nothing at all can be estimated the stage stops with one ``error:`` line
(:class:`analysis.errors.InputError`).

The rules are the identification conditions of each estimator, stated where they are checked:

- every estimator needs at least two years and variation in the treatment after unit and year
  effects (some city switches into treatment inside the panel while another does not);
- Callaway-Sant'Anna with never-treated controls needs never-treated cities (otherwise it runs with
  not-yet-treated controls) and, like Sun-Abraham and the imputation estimator, drops cohorts
  treated in or before the first panel year (no pre-period);
- Sun-Abraham needs a clean control cohort: never-treated cities, or else the last-treated cohort;
- the wild cluster bootstrap needs enough clusters (Webb weights below 12, skipped below 5:
  MacKinnon & Webb 2017 show size distortions there even with Webb weights);
- the coverage study needs broadband.

Blank cells follow one rule, the same for every estimator of every study: a city-year enters the
estimation sample when the outcome and every variable the studies use (the controls kept above,
and broadband when the coverage study runs) are observed (complete cases, :func:`analysis_sample`).
The design check counts the blanks per column and the city-years the rule leaves out, so the
user reads what happened to them before any estimate; a city with a blank year in the middle of
its series keeps its other years (estimators that need a balanced panel then drop it, as the
balancing note says).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from analysis.data.schema import CONTROLS
from analysis.errors import InputError

BINARY_TREATMENTS = {
    "pilot": "pilot_year",
    "rail": "rail_year",
    "broadband_china": "broadband_china_year",  # issue 20: the 宽带中国 demonstration cities
}
"""Binary staggered treatments and the column holding each city's first treatment year."""

ROBUST_ESTIMATORS = ("cs", "sa", "bjs")
MIN_CONTROL_SHARE = 0.8
"""A control observed for fewer city-years than this share is dropped (listwise deletion on a
sparse control would otherwise remove most of the panel)."""
MIN_WILD_CLUSTERS = 5
WEBB_BELOW_CLUSTERS = 12


@dataclass
class TreatmentDesign:
    """What the panel offers for one binary staggered treatment."""

    treatment: str
    cohorts: dict[int, int]  # first treatment year -> number of cities switching inside the panel
    always_treated: int  # cities treated in or before the first panel year (no pre-period)
    treated_after_panel: int  # designated after the last panel year: untreated in the sample
    never_treated: int  # never treated within the panel (incl. treated after it)
    single_city_cohorts: list[int] = field(default_factory=list)
    estimators: dict[str, str | None] = field(default_factory=dict)  # name -> None (runs) | reason
    notes: list[str] = field(default_factory=list)

    @property
    def switchers(self) -> int:
        return int(sum(self.cohorts.values()))


@dataclass
class DesignCheck:
    """The design check's findings; ``fatal`` is set when nothing can be estimated."""

    data_source: str
    first_year: int
    last_year: int
    n_years: int
    n_cities: int
    n_city_years: int
    balanced: bool
    cities_with_gaps: int
    controls_used: list[str]
    controls_dropped: dict[str, str]
    treatments: dict[str, TreatmentDesign]
    coverage: str | None  # None: the coverage study runs; else why it is skipped
    wild_bootstrap: dict
    balancing: str
    fatal: str | None = None
    blank_cells: dict[str, int] = field(default_factory=dict)  # column -> blank city-years
    incomplete_city_years: int = 0  # exports observed, a used variable blank: left out
    sample_columns: list[str] = field(default_factory=list)  # complete cases on these
    n_provinces: int | None = None  # provinces of the estimation sample (None: no province column)

    def runs(self, treatment: str, estimator: str) -> bool:
        return self.treatments[treatment].estimators.get(estimator) is None

    def skips(self) -> list[tuple[str, str]]:
        """(what, why) for every study or estimator that will not run."""
        out = [
            (f"{t}: {name}", why)
            for t, d in self.treatments.items()
            for name, why in d.estimators.items()
            if why
        ]
        if self.coverage:
            out.append(("coverage study", self.coverage))
        if self.wild_bootstrap.get("skip"):
            out.append(("wild cluster bootstrap", self.wild_bootstrap["skip"]))
        return out

    def to_dict(self) -> dict:
        out = asdict(self)
        for name, d in self.treatments.items():
            out["treatments"][name]["cohorts"] = {str(k): v for k, v in d.cohorts.items()}
            out["treatments"][name]["switchers"] = d.switchers
        out["skips"] = [{"what": w, "why": y} for w, y in self.skips()]
        return out

    def to_markdown(self) -> str:
        lines = [
            "# Design check: what the study will do with this panel",
            "",
            f"- Data source: {self.data_source}",
            (
                f"- Years: {self.first_year}-{self.last_year} ({self.n_years}); cities: {self.n_cities}; "
                f"city-years: {self.n_city_years}"
            ),
            f"- Balanced: {'yes' if self.balanced else 'no'} ({self.cities_with_gaps} cities with missing years). "
            + self.balancing,
            f"- Controls used: {', '.join(self.controls_used) or 'none'}",
        ]
        if self.blank_cells:
            lines.append(
                "- Blank cells: "
                + ", ".join(f"{c} {n}" for c, n in self.blank_cells.items())
                + f". Rule: a city-year is estimated only when {', '.join(self.sample_columns)} "
                f"are all observed; {self.incomplete_city_years} city-years with exports but a "
                "blank in one of the others are left out of every estimator."
            )
        for name, why in self.controls_dropped.items():
            lines.append(f"- Control dropped: {name} ({why})")
        lines += [
            "",
            "| treatment | cohorts (year: cities) | never treated | no pre-period | runs | skipped |",
            "|---|---|---|---|---|---|",
        ]
        for d in self.treatments.values():
            cohorts = ", ".join(f"{g}: {n}" for g, n in d.cohorts.items()) or "none"
            runs = ", ".join(k for k, v in d.estimators.items() if v is None) or "none"
            reasons = {v for v in d.estimators.values() if v}
            if len(reasons) == 1 and all(d.estimators.values()):
                skipped = f"all: {reasons.pop()}"
            else:
                skipped = "; ".join(f"{k}: {v}" for k, v in d.estimators.items() if v) or "none"
            lines.append(
                f"| {d.treatment} | {cohorts} | {d.never_treated} | {d.always_treated} | {runs} | {skipped} |"
            )
        # notes after the table: a line between its rows would end a Markdown table
        notes = [f"- {d.treatment}: {note}" for d in self.treatments.values() for note in d.notes]
        lines += ["", *notes] if notes else []
        lines += [
            "",
            f"- Coverage study: {'runs' if self.coverage is None else 'skipped: ' + self.coverage}",
        ]
        wb = self.wild_bootstrap
        lines.append(
            f"- Wild cluster bootstrap: {'skipped: ' + wb['skip'] if wb.get('skip') else wb['weights'] + ' weights, ' + str(wb['clusters']) + ' clusters'}"
        )
        if self.fatal:
            lines += ["", f"**Nothing can be estimated:** {self.fatal}"]
        return "\n".join(lines) + "\n"


OUTCOME = "log_exports"
BROADBAND = "log_broadband"


def analysis_sample(panel: pd.DataFrame, check: DesignCheck) -> pd.DataFrame:
    """The city-years every estimator of every study uses: the outcome and each variable in
    ``check.sample_columns`` observed (complete cases; the module docstring states the rule)."""
    cols = [c for c in (check.sample_columns or [OUTCOME]) if c in panel]
    keep = panel[cols].notna().all(axis=1)
    return panel if bool(keep.all()) else panel.loc[keep].reset_index(drop=True)


def _blank_cells(panel: pd.DataFrame, rows: pd.DataFrame) -> dict[str, int]:
    """Blank city-years per column the study could use (outcome over all rows; controls and
    broadband over the rows with exports), for columns the file has at all."""
    out = {}
    n_outcome = int(panel[OUTCOME].isna().sum()) if OUTCOME in panel else 0
    if n_outcome:
        out[OUTCOME] = n_outcome
    for col in [*CONTROLS, BROADBAND]:
        if col in rows and not rows[col].isna().all():
            n = int(rows[col].isna().sum())
            if n:
                out[col] = n
    return out


def usable_controls(
    panel: pd.DataFrame, candidates=CONTROLS, min_share: float = MIN_CONTROL_SHARE
) -> tuple[list[str], dict[str, str]]:
    """Controls observed for at least ``min_share`` of city-years (with exports observed) and
    varying within cities; the others with the reason they are dropped."""
    rows = panel[panel["log_exports"].notna()] if "log_exports" in panel else panel
    used, dropped = [], {}
    for col in candidates:
        if col not in rows or rows[col].isna().all():
            dropped[col] = "not in the data"
            continue
        share = float(rows[col].notna().mean())
        if share < min_share:
            dropped[col] = (
                f"observed for {_share(share, min_share)} of city-years, below the "
                f"{min_share:.0%} threshold"
            )
            continue
        within = rows[col] - rows.groupby("city_code")[col].transform("mean")
        if not np.nanmax(np.abs(within.to_numpy(dtype=float))) > 1e-12:
            dropped[col] = "constant within every city (absorbed by city effects)"
            continue
        used.append(col)
    return used, dropped


def _treatment_design(
    panel: pd.DataFrame, treatment: str, cohort_col: str, first: int, last: int
) -> TreatmentDesign:
    cohort = panel.groupby("city_code")[cohort_col].first()
    inside = cohort[(cohort > first) & (cohort <= last)]
    always = int(((cohort > 0) & (cohort <= first)).sum())
    after = int((cohort > last).sum())
    never = int(((cohort == 0) | (cohort > last)).sum())
    counts = {int(g): int(n) for g, n in inside.value_counts().sort_index().items()}
    design = TreatmentDesign(
        treatment,
        counts,
        always,
        after,
        never,
        single_city_cohorts=[g for g, n in counts.items() if n == 1],
    )
    est = design.estimators
    if not counts:
        why = (
            f"no city starts {treatment} inside {first}-{last}"
            if always == 0
            else f"every treated city was treated in or before {first} (no pre-period)"
        )
        for name in ("twfe", "event_study", *ROBUST_ESTIMATORS):
            est[name] = why
        return design
    if never == 0 and len(counts) == 1 and always == 0:
        # one cohort and nobody untreated: the dummy equals a year dummy after city effects
        why = "all cities switch in the same year and none stays untreated: no comparison group"
        for name in ("twfe", "event_study", *ROBUST_ESTIMATORS):
            est[name] = why
        return design
    est["twfe"] = None
    est["event_study"] = None
    if never == 0:
        # with not-yet-treated controls a single cohort has nobody to be compared with
        est["cs"] = (
            None
            if len(counts) >= 2
            else "no never-treated city and a single cohort: no not-yet-treated controls"
        )
        design.notes.append(
            "no never-treated city: Callaway-Sant'Anna uses not-yet-treated cities as controls"
        )
        if len(counts) < 2:
            est["sa"] = "no never-treated city and a single cohort: no clean control cohort"
        else:
            est["sa"] = None
            design.notes.append(
                f"Sun-Abraham uses the last-treated cohort ({max(counts)}) as control"
            )
        est["bjs"] = (
            None if len(counts) >= 2 else "no untreated city-years after the single cohort starts"
        )
    else:
        est["cs"] = est["sa"] = est["bjs"] = None
    if always:
        design.notes.append(
            f"{always} cities treated in or before {first} have no pre-period: CS, SA and BJS drop them"
        )
    if design.single_city_cohorts:
        design.notes.append(
            "cohorts of one city ("
            + ", ".join(map(str, design.single_city_cohorts))
            + "): their ATT(g,t) rest on one "
            "city; inference for them is fragile (randomization inference is reported beside the clustered SE)"
        )
    return design


def check_design(
    panel: pd.DataFrame,
    *,
    min_control_share: float = MIN_CONTROL_SHARE,
    wild_cluster: str = "province",
    source: str | None = None,
) -> DesignCheck:
    """Inspect a processed panel (PANEL_SCHEMA columns) and decide what can be estimated."""
    with_exports = panel[panel["log_exports"].notna()]
    name = source or (str(panel["data_source"].iloc[0]) if len(panel) else "file")
    if with_exports.empty:
        raise InputError(
            name,
            "no city-year has exports (the outcome); nothing can be estimated",
            hint="check the exports column and its unit",
        )
    used, dropped = usable_controls(panel, min_share=min_control_share)
    coverage = _coverage_reason(panel, min_control_share)
    sample_columns = [OUTCOME, *used] + ([BROADBAND] if coverage is None else [])
    complete = with_exports[sample_columns].notna().all(axis=1)
    obs = with_exports[complete]
    if obs.empty:
        raise InputError(
            name,
            "no city-year has exports and every control observed; nothing can be estimated",
            hint="fill the blank cells or drop the sparse control from the file",
        )
    years = sorted(obs["year"].unique())
    first, last = int(years[0]), int(years[-1])
    n_cities = int(obs["city_code"].nunique())
    per_city = obs.groupby("city_code")["year"].agg(["min", "max", "count"])
    gaps = int((per_city["count"] < len(years)).sum())
    balanced = gaps == 0
    treatments = {
        t: _treatment_design(obs, t, col, first, last) for t, col in BINARY_TREATMENTS.items()
    }
    clusters = int(obs[wild_cluster].nunique())
    if clusters < MIN_WILD_CLUSTERS:
        wild = {
            "clusters": clusters,
            "weights": "none",
            "skip": f"{clusters} {wild_cluster} clusters (< {MIN_WILD_CLUSTERS})",
        }
    else:
        wild = {
            "clusters": clusters,
            "weights": "webb" if clusters < WEBB_BELOW_CLUSTERS else "rademacher",
            "skip": None,
        }
    balancing = (
        "Callaway-Sant'Anna keeps only cities observed in every year (R did's default); "
        f"here it drops {gaps} cities ({int(len(years) * gaps - per_city.loc[per_city['count'] < len(years), 'count'].sum())} "
        "missing city-years). TWFE, Sun-Abraham and the imputation estimator use all observed city-years."
        if gaps
        else "No balancing needed."
    )
    check = DesignCheck(
        data_source=name,
        first_year=first,
        last_year=last,
        n_years=len(years),
        n_cities=n_cities,
        n_city_years=len(obs),
        balanced=balanced,
        cities_with_gaps=gaps,
        controls_used=used,
        controls_dropped=dropped,
        treatments=treatments,
        coverage=coverage,
        wild_bootstrap=wild,
        balancing=balancing,
        blank_cells=_blank_cells(panel, with_exports),
        incomplete_city_years=int((~complete).sum()),
        sample_columns=sample_columns,
        n_provinces=int(obs["province"].nunique()) if "province" in obs else None,
    )
    check.fatal = _fatal(check)
    return check


def _share(share: float, threshold: float) -> str:
    """``share`` as a percentage with as many decimals as it takes to read below ``threshold``
    (99.6% is not printed "100%, below 100%"), rounded down."""
    for digits in range(4):
        scale = 10 ** (digits + 2)
        shown = math.floor(round(share * scale, 9)) / scale  # 0.29 * 100 is 28.999...
        if shown < threshold or digits == 3:
            return f"{shown:.{digits}%}"
    raise AssertionError  # pragma: no cover


def _coverage_reason(panel: pd.DataFrame, min_share: float) -> str | None:
    """None when the coverage study runs; else why not (broadband absent or too sparse)."""
    if BROADBAND not in panel or panel[BROADBAND].isna().all():
        return "broadband is not in the data"
    share = float(panel[BROADBAND].notna().mean())
    if share < min_share:
        return (
            f"broadband observed for {_share(share, min_share)} of city-years "
            f"(below {min_share:.0%})"
        )
    return None


def _fatal(check: DesignCheck) -> str | None:
    if check.n_years < 2:
        return f"the panel has one year ({check.first_year}); difference-in-differences needs at least two"
    if check.n_cities < 4:
        return f"the panel has {check.n_cities} cities; the study needs at least 4 (clustered standard errors)"
    binary = any(why is None for d in check.treatments.values() for why in d.estimators.values())
    if not binary and check.coverage is not None:
        reasons = "; ".join(
            f"{d.treatment}: {next(iter(d.estimators.values()))}" for d in check.treatments.values()
        )
        return f"no treatment effect can be estimated ({reasons}; coverage: {check.coverage})"
    return None


def require_estimable(check: DesignCheck, file_label: str) -> None:
    """Raise the one-line error when nothing can be estimated."""
    if check.fatal:
        raise InputError(file_label, check.fatal, hint="see data/README.md, 'Your own data'")
