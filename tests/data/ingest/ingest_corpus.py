"""A corpus of malformed (and awkward-but-valid) yearbook files, generated in the test.

Each bad case gives the exact first line of stderr; ``{f}`` stands for the path of the file.
"""

from __future__ import annotations

import io
from pathlib import Path

HEADER = ["城市", "年份", "货物出口额(万美元)", "地区生产总值(万元)", "年末总人口(万人)"]
ROWS = [
    ["杭州", "2015", "6000000", "100500000", "723.6"],
    ["宁波", "2015", "5800000", "80110000", "586.6"],
    ["北京", "2015", "5469000", "230150000", "1345.2"],
    ["杭州", "2016", "6200000", "110500000", "736.0"],
    ["宁波", "2016", "5900000", "86860000", "591.0"],
    ["北京", "2016", "5100000", "256690000", "1362.9"],
]


def csv_text(rows=None, header=None, sep=",") -> str:
    rows = ROWS if rows is None else rows
    header = HEADER if header is None else header
    lines = [sep.join(header)] + [sep.join(r) for r in rows]
    return "\n".join(lines) + "\n"


def with_cell(row: int, col: int, value: str) -> list[list[str]]:
    rows = [list(r) for r in ROWS]
    rows[row][col] = value
    return rows


def xlsx_bytes(rows: list[list], merges: list[str] = ()) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for r in rows:
        sheet.append(r)
    for m in merges:
        sheet.merge_cells(m)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


TEXT = csv_text()

# name -> (file bytes, expected first stderr line or None when the file must ingest cleanly)
BAD: dict[str, tuple[bytes, str]] = {
    "empty file": (b"", "error: {f}: file is empty (export the yearbook table with a header row)"),
    "whitespace only": (
        b"\n \r\n\t\n",
        "error: {f}: file is empty (export the yearbook table with a header row)",
    ),
    "invalid byte": (
        TEXT.encode("utf-8").replace("宁波,2015".encode(), b"\xff\xfe,2015"),
        (
            "error: {f}:3: cannot decode byte 0xff as UTF-8 or GBK/GB18030 (save the file as UTF-8 "
            "CSV or as .xlsx)"
        ),
    ),
    "utf-16 without BOM": (
        TEXT.encode("utf-16-le"),
        (
            "error: {f}:1: file contains NUL bytes: not a text CSV (UTF-16 without a "
            "byte-order mark or a binary file; save as UTF-8 CSV or .xlsx)"
        ),
    ),
    "mojibake header": (
        TEXT.encode("utf-8").decode("latin-1").encode("utf-8"),
        (
            "error: {f}: no header row with at least two known columns in the first 30 rows ("
            "read as utf-8; name the columns as in data/README.md or pass --map; if the text looks "
            "garbled, save the file as UTF-8)"
        ),
    ),
    "missing exports column": (
        csv_text([r[:2] + r[3:] for r in ROWS], HEADER[:2] + HEADER[3:]).encode(),
        (
            "error: {f}:1: missing required column 'exports' (name it e.g. 货物出口额, "
            "出口总额, or map it with --map)"
        ),
    ),
    "misspelt exports column": (
        csv_text(header=HEADER[:2] + ["货物出品额(万美元)"] + HEADER[3:]).encode(),
        (
            "error: {f}:1: missing required column 'exports' (name it e.g. 货物出口额, "
            "出口总额; did you mean '货物出品额(万美元)'? else map it with --map)"
        ),
    ),
    "missing year column": (
        csv_text([r[:1] + r[2:] for r in ROWS], HEADER[:1] + HEADER[2:]).encode(),
        (
            "error: {f}:1: missing required column 'year' (name it e.g. 年份, 年度, or map it "
            "with --map; or put the year in the file name or a title row, e.g. 2015年城市统计年鉴.xlsx)"
        ),
    ),
    "missing city column": (
        csv_text([r[1:] for r in ROWS], HEADER[1:]).encode(),
        (
            "error: {f}:1: missing required column 'city' (name it e.g. 城市, 城市名称, or map "
            "it with --map)"
        ),
    ),
    "duplicate city-year": (
        csv_text(ROWS + [ROWS[0]]).encode(),
        (
            "error: {f}:8:城市: duplicate city-year: 杭州 2015 (also on line 2) (keep one row "
            "per city and year)"
        ),
    ),
    "duplicate via name variant": (
        csv_text(ROWS + [["杭州市"] + ROWS[0][1:]]).encode(),
        (
            "error: {f}:8:城市: duplicate city-year: 杭州市 and 杭州 are both 330100 in 2015 "
            "(also on line 2) (a unit and its former name: keep one row)"
        ),
    ),
    "text exports": (
        csv_text(with_cell(2, 2, "abc")).encode(),
        (
            "error: {f}:4:货物出口额(万美元): not a number: 'abc' (use digits, leave the cell empty or "
            "'-' if missing)"
        ),
    ),
    "negative exports": (
        csv_text(with_cell(1, 2, "-5")).encode(),
        (
            "error: {f}:3:货物出口额(万美元): exports must be > 0, got -5 (leave the cell empty if "
            "the value is unknown)"
        ),
    ),
    "zero exports": (
        csv_text(with_cell(3, 2, "0")).encode(),
        (
            "error: {f}:5:货物出口额(万美元): exports must be > 0, got 0 (leave the cell empty if the "
            "value is unknown)"
        ),
    ),
    "unknown city": (
        csv_text(with_cell(1, 0, "杭洲")).encode(),
        "error: {f}:3:城市: unknown city '杭洲' (did you mean 杭州市?)",
    ),
    "several unknown cities": (
        csv_text(with_cell(1, 0, "杭洲") + [["Gotham", "2015", "1", "1", "1"]]).encode(),
        ("error: {f}:3:城市: unknown city '杭洲' (did you mean 杭州市?; 1 more unknown: Gotham)"),
    ),
    "county-level unit under a province": (
        csv_text(with_cell(0, 0, "济源市")).encode(),
        (
            "error: {f}:2:城市: unknown city '济源市' (济源市 is a county-level "
            "unit directly under its province; not a prefecture of the city master)"
        ),
    ),
    "ambiguous county name": (
        csv_text(with_cell(0, 0, "鼓楼区")).encode(),
        (
            "error: {f}:2:城市: unknown city '鼓楼区' (ambiguous county-level name (in 南京市, "
            "徐州市, 福州市, 开封市); add a province column)"
        ),
    ),
    "mixed units": (
        csv_text(with_cell(4, 2, "12亿美元")).encode(),
        (
            "error: {f}:6:货物出口额(万美元): mixed units: cell '12亿美元' is in 亿美元 but the column is in 万美元 "
            "(convert the cell or split the column by unit)"
        ),
    ),
    "year out of range": (
        csv_text(with_cell(5, 1, "2099")).encode(),
        "error: {f}:7:年份: year 2099 out of range 1990-2030 (check the year column)",
    ),
    "year as text": (
        csv_text(with_cell(0, 1, "二〇一五")).encode(),
        "error: {f}:2:年份: not a year: '二〇一五' (write a four-digit year, e.g. 2015)",
    ),
    "fractional year": (
        csv_text(with_cell(0, 1, "2015.5")).encode(),
        "error: {f}:2:年份: not a year: '2015.5' (write a four-digit year, e.g. 2015)",
    ),
    "missing year cell": (
        csv_text(with_cell(2, 1, "")).encode(),
        "error: {f}:4:年份: missing year (every data row needs a year)",
    ),
    "missing city cell": (
        csv_text(with_cell(2, 0, "")).encode(),
        "error: {f}:4:城市: missing city (every data row needs a city)",
    ),
    "unquoted thousands separator": (
        csv_text(with_cell(1, 4, "1,234")).encode(),
        (
            "error: {f}:3: row has 6 filled fields beyond the 5 header columns ("
            'quote values that contain the delimiter, e.g. "1,234", or remove separators)'
        ),
    ),
    "industry share above 100": (
        csv_text(
            [r + ["150" if i == 3 else "45"] for i, r in enumerate(ROWS)],
            HEADER + ["第二产业增加值占GDP比重(%)"],
        ).encode(),
        (
            "error: {f}:5:第二产业增加值占GDP比重(%): industry share 150 outside 0-100 % ("
            "give the share in percent)"
        ),
    ),
    "negative population": (
        csv_text(with_cell(0, 4, "-723.6")).encode(),
        (
            "error: {f}:2:年末总人口(万人): population must be > 0, got -723.6 (leave the cell "
            "empty if unknown)"
        ),
    ),
    "English header without unit": (
        csv_text(
            header=["city", "year", "exports", "gdp (10k yuan)", "population (10k persons)"]
        ).encode(),
        (
            "error: {f}:1:exports: unit of column 'exports' not stated (write it in "
            "the header, e.g. 'exports (10k USD)', or under units: in --map)"
        ),
    ),
    "unit of the wrong kind": (
        csv_text(header=HEADER[:4] + ["年末总人口(万美元)"]).encode(),
        (
            "error: {f}:1:年末总人口(万美元): unit '万美元' is not a unit of population (see "
            "data/README.md for accepted units)"
        ),
    ),
    "two export columns": (
        csv_text([r + [r[2]] for r in ROWS], HEADER + ["出口总额(万美元)"]).encode(),
        (
            "error: {f}:1:出口总额(万美元): columns '货物出口额(万美元)' and '出口总额(万美元)' both hold "
            "exports (keep one, or name the one to use in a column map (--map))"
        ),
    ),
    "header only": (
        csv_text(rows=[]).encode(),
        "error: {f}: no data rows below the header (add one row per city and year)",
    ),
    "all years outside the panel": (
        csv_text([[r[0], "2005"] + r[2:] for r in ROWS[:3]]).encode(),
        (
            "error: {f}: no rows within the panel years 2010-2023 (check params.yaml "
            "panel: first_year/last_year)"
        ),
    ),
    "corrupt legacy xls": (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
        (
            "error: {f}: cannot open as a legacy .xls workbook: CompDocError (re-save the file "
            "from Excel as .xlsx or as UTF-8 CSV)"
        ),
    ),
    "corrupt xlsx": (
        b"PK\x03\x04" + b"garbage" * 20,
        (
            "error: {f}: cannot open as an Excel workbook: BadZipFile (re-save the file from Excel "
            "as .xlsx or as UTF-8 CSV)"
        ),
    ),
    "province contradicts city": (
        csv_text([["海南省", "海南"] + ROWS[0][1:]], ["省份"] + HEADER).encode(),
        (
            "error: {f}:2:省份: city '海南' is in 青海省 in the city master, not in 海南省 ("
            "check the city or the province)"
        ),
    ),
    "xlsx text in exports": (
        xlsx_bytes(
            [HEADER]
            + [[r[0], int(r[1]), float(r[2]), float(r[3]), float(r[4])] for r in ROWS[:2]]
            + [["北京", 2015, "n/a?", 1.0, 1.0]]
        ),
        (
            "error: {f}:4:货物出口额(万美元): not a number: 'n/a?' (use digits, leave the cell "
            "empty or '-' if missing)"
        ),
    ),
    "bad city code": (
        csv_text([["33010", "2015", "1", "1", "1"]], ["城市代码"] + HEADER[1:]).encode(),
        (
            "error: {f}:2:城市代码: city code '33010' is not a 6-digit code (use the administrative "
            "division code, e.g. 330100)"
        ),
    ),
}


def _merged_header_xlsx() -> bytes:
    """Yearbook layout: a title row, '货物出口额(万美元)' merged over 全市 / 市辖区, units in row 3."""
    rows = [
        ["2015-2016 年城市对外贸易"],
        ["城市", "年份", "货物出口额(万美元)", None, "年末总人口"],
        [None, None, "全市", "市辖区", "万人"],
    ]
    rows += [[r[0], int(r[1]), float(r[2]), float(r[2]) / 2, float(r[4])] for r in ROWS]
    rows += [["注：市辖区不含县。"], ["资料来源：中国城市统计年鉴。"]]
    return xlsx_bytes(rows, merges=["A1:E1", "C2:D2"])


# name -> (bytes, checks on the panel: city_code -> exports_usd_mn in 2015)
HZ, NB, BJ = "330100", "330200", "110000"
GOOD: dict[str, tuple[bytes, dict[str, float]]] = {
    "utf-8": (TEXT.encode(), {HZ: 60000.0}),
    "utf-8 with BOM": (b"\xef\xbb\xbf" + TEXT.encode(), {HZ: 60000.0}),
    "GBK": (TEXT.encode("gbk"), {HZ: 60000.0}),
    "GB18030": (TEXT.encode("gb18030"), {HZ: 60000.0}),
    "UTF-16 with BOM": (TEXT.encode("utf-16"), {HZ: 60000.0}),
    "quoted thousands separators": (
        csv_text([[r[0], r[1], f'"{int(r[2]):,}"', r[3], r[4]] for r in ROWS]).encode(),
        {HZ: 60000.0, NB: 58000.0},
    ),
    "full-width digits": (csv_text(with_cell(0, 2, "６０００００１")).encode(), {HZ: 60000.01}),
    "footnote rows": (
        (TEXT + "注：出口额按当年汇率折算。\n资料来源：《中国城市统计年鉴》\n").encode(),
        {HZ: 60000.0},
    ),
    "title row and blank lines": (
        ("城市对外贸易 2015-2016\n\n" + TEXT + "\n\n").encode(),
        {HZ: 60000.0},
    ),
    "tab separated": (csv_text(sep="\t").encode(), {HZ: 60000.0}),
    "second header row of units": (
        csv_text(
            [["", "", "亿美元", "亿元", "万人"]]
            + [[r[0], r[1], str(float(r[2]) / 1e4), str(float(r[3]) / 1e4), r[4]] for r in ROWS],
            ["城市", "年份", "货物出口额", "地区生产总值", "年末总人口"],
        ).encode(),
        {HZ: 60000.0},
    ),
    "merged header cells (xlsx)": (_merged_header_xlsx(), {HZ: 60000.0, BJ: 54690.0}),
    "cell unit suffix equal to the column's": (
        csv_text(with_cell(0, 2, "6000000万美元")).encode(),
        {HZ: 60000.0},
    ),
    "missing marks in controls": (csv_text(with_cell(0, 3, "—")).encode(), {HZ: 60000.0}),
    "year with 年": (csv_text([[r[0], r[1] + "年"] + r[2:] for r in ROWS]).encode(), {HZ: 60000.0}),
    "name variants": (
        csv_text(
            [["杭州市"] + ROWS[0][1:], ["宁波市"] + ROWS[1][1:], ["北京市①"] + ROWS[2][1:]]
        ).encode(),
        {HZ: 60000.0, NB: 58000.0, BJ: 54690.0},
    ),
    "repeated header and total rows": (
        csv_text(ROWS[:3] + [HEADER, ["全国", "2015", "1", "1", "1"]]).encode(),
        {HZ: 60000.0},
    ),
    "English canonical headers": (
        csv_text(
            [[r[0], r[1], str(float(r[2]) / 100)] for r in ROWS], ["city", "year", "exports_usd_mn"]
        ).encode(),
        {HZ: 60000.0},
    ),
    "exports in 亿元": (
        csv_text(
            [[r[0], r[1], str(float(r[2]) / 1e4 * 6.2284)] for r in ROWS],
            ["城市", "年份", "出口总额(亿元)"],
        ).encode(),
        {HZ: 60000.0},
    ),
    "city codes only": (
        csv_text(
            [["330100", "2015", "6000000"], ["522400", "2010", "1000"]],
            ["行政区划代码", "年份", "货物出口额(万美元)"],
        ).encode(),
        {HZ: 60000.0},
    ),
}


def write(tmp: Path, name: str, data: bytes) -> Path:
    suffix = (
        ".xlsx" if data.startswith(b"PK") else ".xls" if data.startswith(b"\xd0\xcf") else ".csv"
    )
    path = tmp / f"input{suffix}"
    path.write_bytes(data)
    return path
