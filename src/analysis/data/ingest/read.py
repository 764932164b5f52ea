"""Read a user's yearbook export (CSV, XLSX or legacy XLS) into a grid of raw cells with their line numbers.

Nothing is interpreted here except the bytes: encoding (UTF-8, UTF-8 with BOM, UTF-16 with BOM,
GBK/GB18030, the encodings Chinese Excel and statistics portals save in), delimiter and
spreadsheet sheets. Legacy ``.xls`` (BIFF) workbooks are read with ``xlrd``, which also decodes the
code page (936 = GBK) of old BIFF5 files. Each sheet becomes a ``Grid``: rows of cells plus the 1-based line (CSV) or
spreadsheet row (XLSX) of each, so every later error can name ``FILE:ROW:COLUMN``.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from analysis.errors import InputError

ZIP_MAGIC = b"PK\x03\x04"  # .xlsx is a zip container
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls (BIFF in an OLE2 compound file): read with xlrd
DELIMITERS = [",", "\t", ";", "|"]


@dataclass
class Grid:
    """One table of raw cells: ``rows[i]`` was read from line/spreadsheet row ``lines[i]``."""

    label: str  # how errors name the table: the file name, plus [sheet] for multi-sheet workbooks
    rows: list[list]
    lines: list[int]
    encoding: str | None = None
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)


def decode(data: bytes, label: str) -> tuple[str, str]:
    """Return (text, encoding name); UTF-8 first because GB18030 accepts almost any byte pair."""
    if data.startswith(codecs.BOM_UTF8):
        return _decode_strict(data[3:], "utf-8", label, offset=3), "utf-8-sig"
    for bom, name in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return _decode_strict(data[2:], name, label, offset=2), "utf-16"
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise InputError(
            label,
            "file contains NUL bytes: not a text CSV",
            row=line,
            hint="UTF-16 without a byte-order mark or a binary file; save as UTF-8 CSV or .xlsx",
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            # GB18030 is a superset of GBK and GB2312, so one attempt covers all three.
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            pos = utf8_error.start
            line = data[:pos].count(b"\n") + 1
            raise InputError(
                label,
                f"cannot decode byte 0x{data[pos]:02x} as UTF-8 or GBK/GB18030",
                row=line,
                hint="save the file as UTF-8 CSV or as .xlsx",
            ) from None


def _decode_strict(data: bytes, encoding: str, label: str, offset: int) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            label,
            f"invalid {encoding} byte 0x{data[exc.start]:02x} after the byte-order mark",
            row=line,
            hint="save the file as UTF-8 CSV or as .xlsx",
        ) from None


def sniff_delimiter(text: str) -> str:
    """The delimiter with the largest median count over the first non-empty lines (ties: comma)."""
    lines = [ln for ln in text.splitlines()[:60] if ln.strip()][:40]
    best, best_score = ",", 0.0
    for delim in DELIMITERS:
        score = median(ln.count(delim) for ln in lines) if lines else 0
        if score > best_score:
            best, best_score = delim, score
    return best


def read_csv_grid(text: str, label: str, encoding: str) -> Grid:
    delim = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    rows, lines = [], []
    previous_end = 0
    try:
        for row in reader:
            rows.append(row)
            lines.append(previous_end + 1)  # a quoted multi-line record is named by its first line
            previous_end = reader.line_num
    except csv.Error as exc:
        raise InputError(
            label,
            f"CSV syntax error: {exc}",
            row=reader.line_num,
            hint="check quotes around values",
        ) from None
    grid = Grid(label, rows, lines, encoding=encoding)
    if delim != ",":
        grid.notes.append(f"delimiter {delim!r}")
    return grid


def read_xlsx_grids(path: Path, label: str, sheet: str | None = None) -> list[Grid]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 -- openpyxl raises many types for corrupt containers
        raise InputError(
            label,
            f"cannot open as an Excel workbook: {type(exc).__name__}",
            hint="re-save the file from Excel as .xlsx or as UTF-8 CSV",
        ) from None
    try:
        names = book.sheetnames
        if sheet is not None:
            if sheet not in names:
                raise InputError(
                    label, f"sheet {sheet!r} not found", hint=f"sheets: {', '.join(names)}"
                )
            names = [sheet]
        grids = []
        for name in names:
            rows, lines = [], []
            for i, values in enumerate(book[name].iter_rows(values_only=True), start=1):
                rows.append(list(values))
                lines.append(i)
            grids.append(Grid(label, rows, lines, sheet=name))
    finally:
        book.close()
    if len(grids) > 1:
        for g in grids:
            g.label = f"{label}[{g.sheet}]"
    return grids


def read_xls_grids(data: bytes, label: str, sheet: str | None = None) -> list[Grid]:
    """Sheets of a legacy .xls workbook; numbers arrive as floats, text as str, blanks as None."""
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except Exception as exc:  # noqa: BLE001 -- xlrd raises XLRDError, CompDocError, struct.error... on corrupt files
        raise InputError(
            label,
            f"cannot open as a legacy .xls workbook: {type(exc).__name__}",
            hint="re-save the file from Excel as .xlsx or as UTF-8 CSV",
        ) from None
    try:
        names = book.sheet_names()
        if sheet is not None:
            if sheet not in names:
                raise InputError(
                    label, f"sheet {sheet!r} not found", hint=f"sheets: {', '.join(names)}"
                )
            names = [sheet]
        grids = []
        for name in names:
            ws = book.sheet_by_name(name)
            rows, lines = [], []
            for i in range(ws.nrows):
                rows.append([_xls_value(c, book.datemode) for c in ws.row(i)])
                lines.append(i + 1)
            grids.append(Grid(label, rows, lines, sheet=name))
    finally:
        book.release_resources()
    if len(grids) > 1:
        for g in grids:
            g.label = f"{label}[{g.sheet}]"
    return grids


def _xls_value(cell, datemode: int) -> object:
    import xlrd

    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if cell.ctype == xlrd.XL_CELL_ERROR:  # '#N/A' etc.: the parser's missing marks
        return xlrd.error_text_from_code.get(cell.value, "#N/A")
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    return cell.value  # text: str; number and date serial: float


def read_grids(path: Path | str, sheet: str | None = None) -> tuple[list[Grid], bytes]:
    """All tables of a file plus its raw bytes (for the report's checksum)."""
    path = Path(path)
    label = str(path)
    if not path.is_file():
        raise InputError(
            label, "file not found", hint="give the path of a CSV, XLSX or XLS file, or of a folder"
        )
    data = path.read_bytes()
    if not data.strip():
        raise InputError(label, "file is empty", hint="export the yearbook table with a header row")
    if data.startswith(OLE_MAGIC):
        return read_xls_grids(data, label, sheet), data
    if data.startswith(ZIP_MAGIC):
        return read_xlsx_grids(path, label, sheet), data
    head = data[:512].lstrip(codecs.BOM_UTF8).lstrip().lower()
    if path.suffix.lower() in (".xls", ".xlsx") and head.startswith((b"<", b"\xef\xbb\xbf<")):
        # statistics websites often serve an HTML table (or Excel 2003 XML) named .xls
        kind = "an XML spreadsheet" if head.startswith(b"<?xml") else "an HTML page"
        raise InputError(
            label,
            f"{kind} saved under an Excel name, not an Excel workbook",
            hint="open it in Excel or LibreOffice and save it as .xlsx (or as UTF-8 CSV)",
        )
    text, encoding = decode(data, label)
    return [read_csv_grid(text, label, encoding)], data
