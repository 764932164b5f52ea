"""The Markdown validation report written next to an ingested panel.

It tells the user what the ingest assumed and what looks wrong without being an error: units
that were not stated, magnitudes that suggest a wrong unit (a factor of 10^k), coverage by year,
missing cells, year-on-year jumps of x10 or more, names that were mapped through a rename,
a merger or a county-level unit, rows that were dropped and why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data import reference
from analysis.errors import InputError

# Plausible medians across prefectures (canonical units); outside them a unit slip is likely.
PLAUSIBLE = {
    "exports_usd_mn": (10.0, 1e5),
    "gdp_per_capita_cny": (5e3, 3e5),
    "population_10k": (10.0, 3500.0),
    "fdi_usd_mn": (0.5, 2e4),
    "industry_share_pct": (10.0, 80.0),
    "broadband_per100": (0.5, 120.0),
}
JUMP = 10.0
JUMP_VARIABLES = [
    "exports_usd_mn",
    "gdp_per_capita_cny",
    "population_10k",
    "fdi_usd_mn",
    "broadband_per100",
]


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_none_\n"
    cols = list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        lines.append(
            "| "
            + " | ".join("" if (isinstance(v, float) and np.isnan(v)) else str(v) for v in row)
            + " |"
        )
    return "\n".join(lines) + "\n"


def unit_checks(panel: pd.DataFrame) -> list[str]:
    out = []
    for var, (lo, hi) in PLAUSIBLE.items():
        med = panel[var].median()
        if not np.isfinite(med):
            continue
        if med < lo or med > hi:
            # the smallest power of ten that brings the median into the usual range
            k = np.ceil(np.log10(lo / med)) if med < lo else np.floor(np.log10(hi / med))
            factor = 10.0**k
            out.append(
                f"**{var}**: median {med:.4g} is outside the usual range {lo:g}-{hi:g}; "
                f"a unit slip by a factor of about {factor:g} is likely (check the unit of the column)."
            )
    return out


def national_check(panel: pd.DataFrame) -> pd.DataFrame:
    """Sum of the cities' exports against national goods exports, by year."""
    try:
        nat = reference.load_national_exports().set_index("year")["exports_usd_bn"] * 1000
    except (InputError, OSError):  # the report must not fail on a reference problem
        return pd.DataFrame()
    by_year = panel.groupby("year").agg(
        cities=("city_code", "nunique"), exports=("exports_usd_mn", "sum")
    )
    by_year["national"] = nat.reindex(by_year.index)
    by_year["ratio"] = by_year["exports"] / by_year["national"]
    return by_year.reset_index()


def suspicious_jumps(panel: pd.DataFrame) -> pd.DataFrame:
    p = panel.sort_values(["city_code", "year"])
    consecutive = (p["year"] - p.groupby("city_code")["year"].shift()) == 1
    parts = []
    for var in JUMP_VARIABLES:
        prev = p.groupby("city_code")[var].shift()
        ratio = p[var] / prev
        bad = (consecutive & ((ratio >= JUMP) | (ratio <= 1 / JUMP))).to_numpy()
        if bad.any():
            parts.append(
                pd.DataFrame(
                    {
                        "city": p["city"].to_numpy()[bad],
                        "city_code": p["city_code"].to_numpy()[bad],
                        "year": p["year"].to_numpy()[bad],
                        "variable": var,
                        "previous": prev.to_numpy()[bad],
                        "value": p[var].to_numpy()[bad],
                        "ratio": ratio.to_numpy()[bad],
                    }
                )
            )
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    for col in ("previous", "value", "ratio"):
        out[col] = out[col].map("{:.4g}".format)
    return out


def render_report(result) -> str:
    log, panel = result.log, result.panel
    n_cities = panel["city_code"].nunique()
    years = panel["year"]
    out = [f"# Validation report: {log.file}", ""]
    if len(log.inputs) > 1:
        out += [
            (
                f"- SHA-256 of the input set: `{log.sha256}` (of the manifest below; {len(log.inputs)} files, "
                f"{log.n_bytes} bytes; the files are only read)"
            )
        ]
        out += [f"  - `{i['sha256']}`  {i['file']} ({i['bytes']} bytes)" for i in log.inputs]
    else:
        out += [
            f"- SHA-256 of the input: `{log.sha256}` ({log.n_bytes} bytes; the file is only read)"
        ]
    out += [
        f"- Panel: {len(panel)} city-years, {n_cities} cities, years {years.min()}-{years.max()}"
        + (f" (window {log.window[0]}-{log.window[1]})" if log.window != (None, None) else ""),
        f"- Data rows read: {log.rows_read}",
    ]
    for t in log.tables:
        bits = [
            f"header on line(s) {', '.join(map(str, t['header_lines']))}",
            f"{t['data_rows']} data rows",
        ]
        if t["encoding"]:
            bits.insert(0, f"encoding {t['encoding']}")
        if t["title_rows"]:
            bits.append(f"{t['title_rows']} title row(s) above the header skipped")
        bits += t["notes"]
        out.append(f"- Table `{t['label']}`: " + "; ".join(bits))
    out += ["", "## Warnings", ""]
    out += [f"- {w}" for w in log.warnings] or ["- none"]
    out += [
        "",
        "## Columns",
        "",
        _table(
            pd.DataFrame(log.columns).rename(
                columns={
                    "table": "table",
                    "label": "file column",
                    "variable": "variable",
                    "unit": "unit in file",
                    "unit_source": "unit from",
                    "scope": "scope",
                }
            )
        ),
    ]
    if log.ignored:
        out += ["Columns not used: " + ", ".join(f"`{c}`" for c in log.ignored), ""]

    out += ["## Units", ""]
    assumed = [c for c in log.columns if c["unit_source"].startswith("assumed")]
    for c in assumed:
        out.append(
            f"- Unit of `{c['label']}` not stated: assumed **{c['unit']}** (China City Statistical "
            "Yearbook convention). State it in the header or in the column map if that is wrong."
        )
    checks = unit_checks(panel)
    out += [f"- {c}" for c in checks] or ["- Magnitudes of all variables are in the usual ranges."]
    nat = national_check(panel)
    if not nat.empty and nat["cities"].max() < 100:
        out += [
            "",
            "Sum of exports against national exports: skipped (fewer than 100 cities in every year).",
            "",
        ]
    elif not nat.empty:
        out += [
            "",
            (
                "Sum of the cities' exports against national goods exports (million USD); with all "
                "~300 prefectures the ratio should be close to 1, a ratio near 0.01 or 100 means a unit slip:"
            ),
            "",
            _table(
                nat.assign(
                    exports=nat["exports"].map("{:.6g}".format),
                    national=nat["national"].map("{:.6g}".format),
                    ratio=nat["ratio"].map("{:.3f}".format),
                )
            ),
        ]

    out += ["## Coverage by year", ""]
    cov = (
        panel.groupby("year")
        .agg(
            cities=("city_code", "nunique"),
            exports=("exports_usd_mn", "count"),
            gdp_pc=("gdp_per_capita_cny", "count"),
            population=("population_10k", "count"),
            broadband=("broadband_per100", "count"),
            fdi=("fdi_usd_mn", "count"),
            industry=("industry_share_pct", "count"),
        )
        .reset_index()
    )
    out.append(_table(cov))
    out += ["## Missing cells", ""]
    value_cols = [
        "exports_usd_mn",
        "gdp_per_capita_cny",
        "population_10k",
        "fdi_usd_mn",
        "industry_share_pct",
        "broadband_per100",
    ]
    miss = pd.DataFrame(
        {"variable": value_cols, "missing": [int(panel[c].isna().sum()) for c in value_cols]}
    )
    miss["share"] = (miss["missing"] / max(len(panel), 1)).map("{:.1%}".format)
    out.append(_table(miss))
    full = n_cities * panel["year"].nunique()
    out.append(
        f"City-years absent from the file (of a balanced {n_cities} x {panel['year'].nunique()} grid): "
        f"{full - len(panel)}\n"
    )

    out += ["## Suspicious jumps (year-on-year ratio of 10 or more, or 0.1 or less)", ""]
    jumps = suspicious_jumps(panel)
    out.append(_table(jumps.head(50)))
    if len(jumps) > 50:
        out.append(f"... and {len(jumps) - 50} more\n")

    out += ["## City names", ""]
    if log.name_notes is not None and not log.name_notes.empty:
        counts = log.name_notes["kind"].value_counts()
        out.append(
            "Names matched other than exactly: "
            + ", ".join(f"{k}: {v}" for k, v in counts.items())
            + "\n"
        )
        out.append(_table(log.name_notes.head(100)))
    else:
        out.append("All names matched the city master exactly.\n")
    if log.dissolved:
        out += [
            "Rows of dissolved units, dropped (their area was split; not assigned to any city): "
            + "; ".join(log.dissolved[:50]),
            "",
        ]
    out += [
        "## Duplicated keys and combined rows",
        "",
        (
            "Two rows for the same city and year in one table are rejected as an error, and so are two tables "
            "(files, sheets) giving different values for the same city, year and variable; the same value given "
            "twice is kept once (see Warnings). Rows below were combined on purpose:"
        ),
        "",
    ]
    out += [f"- {c}" for c in log.combined[:100]] or ["- none"]
    out += ["", "## Rows dropped", ""]
    out += [f"- {reason}: {n}" for reason, n in log.dropped.items()] or ["- none"]
    if log.notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in log.notes]
    return "\n".join(out) + "\n"
