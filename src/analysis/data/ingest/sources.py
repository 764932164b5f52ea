"""Which files an ingest reads (one file, a list, or a folder) and years written in names and titles.

The China City Statistical Yearbook comes one volume per year, so a user often holds a folder of
annual tables whose year is only in the file name (``2015年城市统计年鉴.xlsx``, ``city_2016.csv``)
or in a title row above the header (``2016年 地级市主要指标``).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from analysis.errors import InputError

SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls")
# A four-digit year not glued to other digits: '2015年', 'city_2016', '2015-2016' (two years).
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-4]\d)(?!\d)")


def input_files(spec: Path | str | list | tuple) -> list[Path]:
    """The files behind ``data.file``: a file, a folder (its data files, sorted by name), or a list."""
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise InputError(
                "data.file", "empty list of files", hint="give a file, a folder or a list of files"
            )
        files: list[Path] = []
        for item in spec:
            files += input_files(item)
        return files
    path = Path(spec)
    if path.is_dir():
        # Excel's lock files (~$name.xlsx) and hidden files are not tables.
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(("~$", "."))
        )
        if not files:
            raise InputError(
                str(path),
                "folder holds no data file",
                hint=f"put the yearbook tables ({', '.join(SUFFIXES)}) in it",
            )
        return files
    return [path]


def describe(spec: Path | str | list | tuple) -> str:
    """How the report names the input: the path, or the paths joined by ', '."""
    if isinstance(spec, (list, tuple)):
        return ", ".join(str(s) for s in spec)
    return str(spec)


def years_in(text: object) -> list[int]:
    """Distinct four-digit years in ``text``, in order of appearance."""
    if text is None:
        return []
    found = [int(y) for y in _YEAR.findall(unicodedata.normalize("NFKC", str(text)))]
    return list(dict.fromkeys(found))


def table_year(
    label: str, sheet: str | None, file_name: str, titles: list[str], header_line: int
) -> tuple[int, str]:
    """(year, where it was found) of an annual table without a year column.

    Order: the sheet name (a workbook with one sheet per year), the file name, the title rows.
    A source naming several years (``2015-2016``) cannot say which one the table holds.
    """
    sources = [("sheet name", sheet), ("file name", Path(file_name).stem)] + [
        ("title row", t) for t in titles
    ]
    for where, text in sources:
        years = years_in(text)
        if len(years) == 1:
            return years[0], f"{where} {text!r}"
        if len(years) > 1:
            raise InputError(
                label,
                f"no year column, and the {where} {text!r} names several years "
                f"({', '.join(map(str, years))})",
                row=header_line,
                hint="add a 年份 column, or name the file after the one year it holds, e.g. "
                "2015年城市统计年鉴.xlsx",
            )
    raise InputError(
        label,
        "missing required column 'year'",
        row=header_line,
        hint="name it e.g. 年份, 年度, or map it with --map; or put the year in the file name "
        "or a title row, e.g. 2015年城市统计年鉴.xlsx",
    )
