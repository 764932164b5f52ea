"""A corpus of realistic user panels, generated here from the synthetic DGP with known effects.

Each case is a file a researcher could hold (Chinese yearbook headers, units of the yearbook, some
columns missing, old city names, a short or unbalanced panel, ...) written from the synthetic
panel, so the true pilot-zone effect of exactly those city-years is known. Each case is checked at
two depths:

* **cheap** (every case, default suite): ingest the file as the panel stage does, run the design
  check (the skips and controls must be the expected ones, or the expected one-line error), then the
  pilot-zone study in-process: the heterogeneity-robust estimates that ran (BJS, CS) must lie within
  3 standard errors of the true effect, and every skip must be recorded with a reason.
* **whole DAG** (`dvc repro` in a temporary git copy of the project with ``data.source: file``
  and small notebook parameters, as tests/test_pipeline.py does): a report is produced (or the
  expected single error line, exit 1, no panel written), the results JSON record the expected skips
  and controls, and BJS/CS are within 3 SE of the truth. One DAG run costs minutes on two cores, so
  the default suite runs it for the "Done when" case of issue 9 (a yearbook-style XLSX with two
  header rows and only exports, GDP, population and broadband) and for the fatal 3-city case (it
  stops at the panel stage); the other cases run their DAG under ``-m slow``.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.city_panel_data import city_inputs
from helpers.project_copy import copy_project, git_commit, project_env, small_params

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CONTROLS = ["log_gdp_pc", "log_population", "log_fdi", "industry_share_pct"]
BASE_PROVINCES = ["浙江省", "河南省", "四川省", "湖北省", "贵州省", "云南省"]

# Chinese yearbook headers (data/README.md "Columns recognised") and how each column is made from
# the synthetic panel in the unit of the header.
HEADERS = {
    "exports": "货物出口额(万美元)",
    "gdp": "地区生产总值(万元)",
    "population": "年末总人口(万人)",
    "fdi": "实际使用外资金额(万美元)",
    "industry": "第二产业增加值占GDP比重(%)",
    "broadband": "每百人互联网宽带接入用户数",
}
# the control (or study) each optional column feeds
FEEDS = {
    "gdp": ["log_gdp_pc"],
    "population": ["log_population", "log_gdp_pc"],  # GDP per capita = GDP / population
    "fdi": ["log_fdi"],
    "industry": ["industry_share_pct"],
}
ALL_OPTIONAL = ("gdp", "population", "fdi", "industry", "broadband")


@dataclass
class Case:
    name: str
    columns: tuple[str, ...] = ALL_OPTIONAL
    provinces: tuple[str, ...] = tuple(BASE_PROVINCES)
    years: tuple[int, int] = (2010, 2023)
    exports_unit: str = "万美元"
    fmt: str = "csv"  # csv | xlsx2 (yearbook style: title row, two header rows)
    transform: str | None = None  # unbalanced | old_names | three_cities | all_treated
    fatal: str | None = None  # expected one-line error (regex)
    extra_skips: set[str] = field(default_factory=set)  # design skips beyond the controls'
    # blank cells, as real yearbooks have: {column key of HEADERS or "exports": number of blank
    # city-years}; "gap": that many cities miss one year in the middle of their series (every
    # column blank but city and year)
    blanks: dict[str, int] = field(default_factory=dict)

    @property
    def controls_dropped(self) -> set[str]:
        used = {c for col in self.columns for c in FEEDS.get(col, [])}
        if "population" not in self.columns:
            used.discard("log_gdp_pc")
        if "gdp" not in self.columns:
            used.discard("log_gdp_pc")
        return set(CONTROLS) - used

    @property
    def coverage_runs(self) -> bool:
        return "broadband" in self.columns


CASES = [
    Case("minimum_columns", columns=()),
    *[
        Case(f"without_{col}", columns=tuple(c for c in ALL_OPTIONAL if c != col))
        for col in ALL_OPTIONAL
    ],
    Case("unbalanced_entry_exit", transform="unbalanced"),
    Case("years_2013_2020", years=(2013, 2020)),
    Case("one_province", provinces=("四川省",), extra_skips={"wild cluster bootstrap"}),
    Case("exports_100m_usd", exports_unit="亿美元"),
    Case("exports_10k_yuan", exports_unit="万元"),
    Case("old_city_names", transform="old_names"),
    Case("three_cities", transform="three_cities", fatal=r"the panel has 3 cities"),
    Case(
        "no_never_treated",
        provinces=("浙江省", "江苏省", "广东省", "山东省", "福建省"),
        transform="all_treated",
    ),
    Case(
        "yearbook_xlsx",
        columns=("gdp", "population", "broadband"),
        years=(2011, 2022),
        fmt="xlsx2",
        # the held-out yearbook of issue 16: blank GDP and broadband cells, a blank export cell
        # and a city with a blank year in the middle of its series
        blanks={"gdp": 10, "broadband": 15, "exports": 3, "gap": 1},
    ),
    *[
        Case(f"blank_{col}", blanks={col: 12})
        for col in ("exports", "gdp", "population", "fdi", "industry", "broadband")
    ],
    Case("blank_year_mid_series", blanks={"gap": 3}),
]
BY_NAME = {c.name: c for c in CASES}
DEFAULT_DAG = ("yearbook_xlsx", "three_cities")


# --- the user's file, from the synthetic panel -----------------------------------------------
def case_panel(case: Case) -> pd.DataFrame:
    """The synthetic city-years the case's file holds (true effects known)."""
    _, panel, _ = city_inputs()
    rows = panel[panel["province"].isin(case.provinces) & panel["year"].between(*case.years)]
    if case.transform == "unbalanced":
        # late entrants, early leavers and a gap: every 5th city enters in 2013, every 7th leaves
        # after 2020, every 9th misses 2017
        codes = sorted(rows["city_code"].unique())
        late, early, gap = set(codes[::5]), set(codes[1::7]), set(codes[2::9])
        drop = (
            (rows["city_code"].isin(late) & (rows["year"] < 2013))
            | (rows["city_code"].isin(early) & (rows["year"] > 2020))
            | (rows["city_code"].isin(gap) & (rows["year"] == 2017))
        )
        rows = rows[~drop]
    elif case.transform == "three_cities":
        rows = rows[rows["city_code"].isin(sorted(rows["city_code"].unique())[:3])]
    elif case.transform == "all_treated":
        rows = rows[(rows["pilot_year"] > 0) & (rows["pilot_year"] <= case.years[1])]
    return rows.reset_index(drop=True)


def blank_rows(case: Case, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Which city-years of ``case_panel(case)`` are blank in which column (fixed seed)."""
    out = {}
    rng = np.random.default_rng(16)
    for key, n in sorted(case.blanks.items()):
        if key == "gap":
            codes = sorted(rows["city_code"].unique())
            picked = rng.choice(codes, size=n, replace=False)
            middle = int(np.median(rows["year"].unique()))
            out[key] = (rows["city_code"].isin(picked) & (rows["year"] == middle)).to_numpy()
        else:
            mask = np.zeros(len(rows), dtype=bool)
            mask[rng.choice(len(rows), size=n, replace=False)] = True
            out[key] = mask
    return out


def complete_rows(case: Case, rows: pd.DataFrame) -> pd.DataFrame:
    """The city-years the study estimates on: the design check's rule (data/design.py) drops a
    city-year with a blank outcome or a blank in a variable the study uses; every blank column of
    these cases is used (its control or broadband), so any blank drops the row."""
    masks = blank_rows(case, rows)
    blank = np.zeros(len(rows), dtype=bool)
    for mask in masks.values():
        blank |= mask
    return rows[~blank].reset_index(drop=True)


def _rates() -> pd.Series:
    from analysis.data import reference

    national = reference.load_national_exports()
    return national.set_index("year")["cny_per_usd_avg"]


def user_table(case: Case) -> pd.DataFrame:
    """The file's table: Chinese headers, yearbook units."""
    rows = case_panel(case)
    city = rows["city"]
    if case.transform == "old_names":
        city = city.replace({"襄阳市": "襄樊市", "毕节市": "毕节地区"})
        assert {"襄樊市", "毕节地区"} <= set(city), "the old names must occur in the file"
    usd_10k = rows["exports_usd_mn"] * 100
    exports = {
        "万美元": usd_10k,
        "亿美元": rows["exports_usd_mn"] / 100,
        "万元": usd_10k * rows["year"].map(_rates()),
    }[case.exports_unit]
    out = {"城市": city, "年份": rows["year"], f"货物出口额({case.exports_unit})": exports}
    if "gdp" in case.columns:
        out[HEADERS["gdp"]] = rows["gdp_per_capita_cny"] * rows["population_10k"]
    if "population" in case.columns:
        out[HEADERS["population"]] = rows["population_10k"]
    if "fdi" in case.columns:
        out[HEADERS["fdi"]] = rows["fdi_usd_mn"] * 100
    if "industry" in case.columns:
        out[HEADERS["industry"]] = rows["industry_share_pct"]
    if "broadband" in case.columns:
        if "population" in case.columns:  # as the yearbook gives it: subscribers, 10k
            out["互联网宽带接入用户数(万户)"] = (
                rows["broadband_per100"] * rows["population_10k"] / 100
            )
        else:
            out[HEADERS["broadband"]] = rows["broadband_per100"]
    table = pd.DataFrame(out)
    for key, mask in blank_rows(case, rows).items():
        if key == "gap":
            table.loc[mask, table.columns[2:]] = np.nan
            continue
        cols = [c for c in table.columns if c.startswith(_HEADER_STEMS[key])]
        assert cols, (key, list(table.columns))
        table.loc[mask, cols] = np.nan
    return table


# the start of each column's header in user_table (exports carry their unit in the header)
_HEADER_STEMS = {
    "exports": "货物出口额",
    "gdp": "地区生产总值",
    "population": "年末总人口",
    "fdi": "实际使用外资",
    "industry": "第二产业",
    "broadband": ("互联网宽带", "每百人互联网宽带"),
}


def write_user_file(case: Case, folder: Path, stem: str | None = None) -> Path:
    table = user_table(case)
    stem = stem or case.name
    if case.fmt == "csv":
        path = folder / f"{stem}.csv"
        table.to_csv(path, index=False, encoding="utf-8")
        return path
    # Yearbook style: a title row, then two header rows (indicator; unit) with Chinese headers.
    from openpyxl import Workbook

    path = folder / f"{stem}.xlsx"
    names = [re.sub(r"\(.*\)", "", h) for h in table.columns]
    units = [(re.search(r"\((.*)\)", h) or [None, ""])[1] for h in table.columns]
    wb = Workbook()
    ws = wb.active
    ws.title = "城市统计"
    ws.append([f"主要城市统计指标({case.years[0]}-{case.years[1]}年)"])
    ws.append(names)
    ws.append(units)
    for rec in table.itertuples(index=False):
        ws.append([v.item() if hasattr(v, "item") else v for v in rec])
    ws.append(["资料来源：中国城市统计年鉴"])
    wb.save(path)
    return path


# --- the truth of the case's city-years ------------------------------------------------------
def true_att(rows: pd.DataFrame) -> float:
    """Average true pilot effect over the treated city-years of cohorts with a pre-period."""
    from analysis.data.synthetic import SyntheticDesign, pilot_effect

    first, last = rows["year"].min(), rows["year"].max()
    g = rows["pilot_year"].to_numpy()
    keep = (g > first) & (g <= last) & (rows["year"].to_numpy() >= g)
    tau = pilot_effect(
        rows["pilot_batch"].to_numpy()[keep], (rows["year"].to_numpy() - g)[keep], SyntheticDesign()
    )
    return float(np.mean(tau))


def truths(case: Case) -> dict[str, float]:
    """BJS uses every observed city-year; CS (R did's default) only cities observed every year.
    Both on the complete city-years (blank cells: one rule for every estimator)."""
    rows = complete_rows(case, case_panel(case))
    n_years = rows["year"].nunique()
    full = rows.groupby("city_code")["year"].transform("size") == n_years
    return {"bjs": true_att(rows), "cs": true_att(rows[full])}


def assert_within_3se(robust: dict, truth: dict[str, float], where: str) -> list[str]:
    ran = []
    for key in ("bjs", "cs"):
        value = robust[key]
        if "skipped" in value:
            continue
        est, se = value["overall"]["estimate"], value["overall"]["std_error"]
        assert abs(est - truth[key]) < 3 * se, (where, key, est, se, truth[key])
        ran.append(key)
    return ran


# --- cheap: ingest, design check, pilot study in-process -------------------------------------
def _ingest(path: Path, case: Case):
    from analysis.data import reference, treatments
    from analysis.data.ingest import ingest_file

    master, _, _ = city_inputs()
    table = treatments.city_treatments(
        master, reference.load_pilot_zones(), reference.load_rail_links()
    )
    return ingest_file(path, master, table, first_year=2010, last_year=2023)


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_user_panel_design_and_estimates(name, tmp_path):
    from analysis.data.design import check_design, require_estimable
    from analysis.errors import InputError
    from analysis.studies.binary import binary_study
    from analysis.studies.coverage import coverage_study, dose_event_studies
    from analysis.studies.rules import MIN_CELL_CLUSTERS

    case = BY_NAME[name]
    path = write_user_file(case, tmp_path)
    result = _ingest(path, case)
    panel = result.panel
    rows = case_panel(case)
    blank = blank_rows(case, rows)
    # a city-year with every column blank (a gap in the series) may be dropped by the ingest
    gap = blank.get("gap", np.zeros(len(rows), dtype=bool))
    assert len(rows) - gap.sum() <= len(panel) <= len(rows), "every city-year of the file"
    # the unit conversions recover the synthetic exports (USD mn) whatever unit the file uses
    exported = ~(gap | blank.get("exports", np.zeros(len(rows), dtype=bool)))
    src = rows[exported].set_index(["city_code", "year"])["exports_usd_mn"]
    got = panel.set_index(["city_code", "year"])["exports_usd_mn"].reindex(src.index)
    np.testing.assert_allclose(got.to_numpy(), src.to_numpy(), rtol=1e-6)
    check = check_design(panel, min_control_share=0.8, wild_cluster="province", source="file")
    # the design check counts the blanks and says what happens to them
    for key, n in case.blanks.items():
        if key == "gap":
            continue
        col = {"exports": "log_exports", "gdp": "log_gdp_pc", "population": "log_population",
               "fdi": "log_fdi", "industry": "industry_share_pct",
               "broadband": "log_broadband"}[key]  # fmt: skip
        assert check.blank_cells.get(col, 0) >= n, (key, check.blank_cells)
    if case.blanks:
        assert "Blank cells" in check.to_markdown()
        assert check.n_city_years == len(complete_rows(case, rows)), check.n_city_years
    if case.fatal:
        with pytest.raises(InputError) as err:
            require_estimable(check, path.name)
        line = str(err.value)
        assert "\n" not in line and re.search(case.fatal, line), line
        return
    assert check.fatal is None, check.fatal
    assert set(check.controls_dropped) == case.controls_dropped
    assert all(check.controls_dropped.values()), "every dropped control has a reason"
    assert (check.coverage is None) == case.coverage_runs
    expected = set(case.extra_skips) | (set() if case.coverage_runs else {"coverage study"})
    assert {what for what, _ in check.skips()} == expected, check.skips()

    # the appendix (the other clustering level) is the same code on every panel: left out here
    study = binary_study(
        panel, {}, "pilot", "pilot_year", (-5, 5), "headline", design=check, appendix=False
    )
    assert study["controls_used"] == check.controls_used
    assert set(study["controls_dropped"]) == case.controls_dropped
    ran = assert_within_3se(study["robust"], truths(case), name)
    assert ran == ["bjs", "cs"], study["robust"]
    coverage = coverage_study(panel, {}, 6, "headline", design=check)
    assert ("skipped" in coverage) == (not case.coverage_runs)
    if not case.coverage_runs:
        assert "broadband" in coverage["skipped"]
    else:
        # dCDH's comparisons need controls in five provinces; its jackknife deletes one: with six
        # provinces the replicates ask four (they printed "n/a" for the s.e. and the placebo test).
        # With one province no comparison exists: a recorded skip (it stopped the pipeline)
        row = dose_event_studies(panel, {})["broadband_per100"]
        if len(case.provinces) > MIN_CELL_CLUSTERS:
            assert np.isfinite(row["std_error"]) and row["placebo_test"] is not None, row
        elif len(case.provinces) == 1:
            assert "no switcher has a not-yet-switched control" in row["skipped"], row


# --- whole DAG ---------------------------------------------------------------------------------
def run_dag(case: Case, tmp_path: Path) -> tuple[Path, dict]:
    """The README's worked example ("Your own data") in a git copy of the project: the user's
    file as data/raw/my_panel.<ext>, then `analysis check` on it and
    `make exp ARGS="-S data.source=file -S data.file=..."` (the whole DAG)."""
    dest = copy_project(tmp_path / "project")
    user = write_user_file(case, dest / "data/raw", stem="my_panel")
    small_params(dest / "params.yaml")
    env = project_env(dest)
    git_commit(dest, env, "copy", init=True)
    rel = f"data/raw/{user.name}"
    check = subprocess.run(
        [str(BIN / "analysis"), "check", rel],
        check=False,
        cwd=dest,
        env=env,
        capture_output=True,
        text=True,
    )
    exp = subprocess.run(
        ["make", "-o", ".venv/.installed", "exp", f"ARGS=-S data.source=file -S data.file={rel}"],
        check=False, cwd=dest, env=env, capture_output=True, text=True,
    )  # fmt: skip
    return dest, {"check": check, "exp": exp}


def check_dag(case: Case, tmp_path: Path) -> None:
    dest, runs = run_dag(case, tmp_path)
    check, run = runs["check"], runs["exp"]
    log = run.stdout[-4000:] + run.stderr[-4000:]
    if case.fatal:
        # `analysis check`: exit 1, one line
        assert check.returncode == 1, check.stdout + check.stderr
        assert check.stderr.strip().count("\n") == 0 and re.search(case.fatal, check.stderr)
        assert check.stderr.startswith("error: data/raw/my_panel.")
        # the pipeline stops at the panel stage with the same single line and writes nothing
        assert run.returncode != 0
        errors = [ln for ln in (run.stdout + run.stderr).splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and re.search(case.fatal, errors[0]), log
        assert "Traceback" not in run.stderr, log
        assert not (dest / "data/processed/panel.csv").exists(), "no partial outputs"
        assert not (dest / "reports/en/report.html").exists()
        return
    assert check.returncode == 0, check.stderr
    assert "Controls used" in check.stdout and "Design check" in check.stdout
    assert run.returncode == 0, log
    for rel in ("reports/en/report.html", "reports/en/report.pdf", "reports/zh/report.pdf"):
        assert (dest / rel).stat().st_size > 0, rel
    html = (dest / "reports/en/report.html").read_text(encoding="utf-8")
    assert "SYNTHETIC DATA" not in html and "recovery" not in html.lower()
    assert "data/raw/my_panel." in html, "the report names the user's file"
    digest = hashlib.sha256((dest / "data/raw" / case_file_name(case)).read_bytes()).hexdigest()
    assert digest in html, "and its SHA-256"
    results = dest / "output/results"
    pilot = json.loads((results / "pilot_zones.json").read_text())
    assert set(pilot["controls_dropped"]) == case.controls_dropped
    assert_within_3se(pilot["robust"], truths(case), case.name)
    coverage = json.loads((results / "network_coverage.json").read_text())
    assert ("skipped" in coverage) == (not case.coverage_runs)
    robustness = json.loads((results / "robustness.json").read_text())
    if "wild cluster bootstrap" in case.extra_skips:
        assert "wild_bootstrap" in robustness["skips"]
    for name in ("pilot_zones", "rail_links", "network_coverage", "robustness"):
        record = json.loads((results / f"{name}.json").read_text())
        assert "controls_used" in record and "controls_dropped" in record, name


def case_file_name(case: Case) -> str:
    return f"my_panel.{'csv' if case.fmt == 'csv' else 'xlsx'}"
