"""Legacy .xls bytes for the tests, written here because no installed package writes .xls.

``xlwt`` (the classic writer) is not in the lock and openpyxl/pandas write only .xlsx, so the test
fixtures are built from the two published formats directly: a BIFF8 (Excel 97-2003, UTF-16
strings) or BIFF5 (Excel 5/95, byte strings in the workbook's code page, e.g. 936 = GBK) record
stream [MS-XLS], wrapped in an OLE2 compound file with 512-byte sectors [MS-CFB]. Only what a
reader needs for values: BOF/BOUNDSHEET/EOF, CODEPAGE, DIMENSIONS, NUMBER and LABEL records.
xlrd (the reader under test) parses these files; the round-trip tests check the values.
"""

from __future__ import annotations

import struct

SECTOR = 512
END, FREE, FATSECT, NOSTREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
MIN_STREAM = 4096  # shorter streams live in the mini stream; padding keeps the container simple


def _record(rtype: int, payload: bytes) -> bytes:
    return struct.pack("<HH", rtype, len(payload)) + payload


def _text(value: str, biff: int, encoding: str, lenlen: int) -> bytes:
    fmt = "<B" if lenlen == 1 else "<H"
    if biff == 8:  # uncompressed UTF-16-LE, option byte 0x01
        return struct.pack(fmt, len(value)) + b"\x01" + value.encode("utf-16-le")
    raw = value.encode(encoding)
    return struct.pack(fmt, len(raw)) + raw


def _bof(biff: int, kind: int) -> bytes:
    if biff == 8:
        return _record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 0x0006))
    return _record(0x0809, struct.pack("<HHHH", 0x0500, kind, 0x0DBB, 0x07CC))


def _sheet_stream(rows: list[list], biff: int, encoding: str) -> bytes:
    n_cols = max((len(r) for r in rows), default=0)
    out = [_bof(biff, 0x0010), _record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, n_cols, 0))]
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out.append(_record(0x0203, struct.pack("<HHHd", i, j, 0, float(value))))
            else:
                out.append(
                    _record(
                        0x0204, struct.pack("<HHH", i, j, 0) + _text(str(value), biff, encoding, 2)
                    )
                )
    out.append(_record(0x000A, b""))
    return b"".join(out)


def biff_stream(sheets: dict[str, list[list]], biff: int = 8, encoding: str = "gbk") -> bytes:
    """The workbook stream: globals (with one BOUNDSHEET per sheet) followed by the sheets."""
    codepage = 1200 if biff == 8 else {"gbk": 936, "cp936": 936, "cp1252": 1252}[encoding]
    bodies = [_sheet_stream(rows, biff, encoding) for rows in sheets.values()]

    def globals_(offsets: list[int]) -> bytes:
        parts = [_bof(biff, 0x0005), _record(0x0042, struct.pack("<H", codepage))]
        for name, offset in zip(sheets, offsets):
            parts.append(
                _record(0x0085, struct.pack("<IBB", offset, 0, 0) + _text(name, biff, encoding, 1))
            )
        parts.append(_record(0x000A, b""))
        return b"".join(parts)

    head = len(globals_([0] * len(sheets)))  # offsets do not change the length of the globals
    offsets, pos = [], head
    for body in bodies:
        offsets.append(pos)
        pos += len(body)
    return globals_(offsets) + b"".join(bodies)


def _dir_entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
    encoded = (name + "\0").encode("utf-16-le") if name else b""
    return (
        encoded.ljust(64, b"\0")
        + struct.pack("<HBB", len(encoded), kind, 1)
        + struct.pack("<III", NOSTREAM, NOSTREAM, child)
        + b"\0" * 16
        + struct.pack("<I", 0)
        + b"\0" * 16
        + struct.pack("<III", start, size, 0)
    )


def compound_file(stream: bytes, name: str) -> bytes:
    """An OLE2 compound file (version 3) holding one stream in regular sectors."""
    stream = stream.ljust(max(MIN_STREAM, len(stream)), b"\0")
    n_data = -(-len(stream) // SECTOR)
    n_fat = 1
    while n_data + 1 + n_fat > n_fat * (SECTOR // 4):
        n_fat += 1
    if n_fat > 109:
        raise ValueError("stream too large for a header-only DIFAT")
    dir_sector = n_data
    fat = [i + 1 for i in range(n_data - 1)] + [END, END] + [FATSECT] * n_fat
    fat += [FREE] * (n_fat * (SECTOR // 4) - len(fat))
    difat = [dir_sector + 1 + k for k in range(n_fat)] + [FREE] * (109 - n_fat)
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, n_fat, dir_sector, 0, MIN_STREAM, END, 0, END, 0)
        + struct.pack("<109I", *difat)
    )
    directory = (
        _dir_entry("Root Entry", 5, 1, END, 0)
        + _dir_entry(name, 2, NOSTREAM, 0, len(stream))
        + _dir_entry("", 0, NOSTREAM, 0, 0) * 2
    )
    return (
        header
        + stream.ljust(n_data * SECTOR, b"\0")
        + directory
        + struct.pack(f"<{len(fat)}I", *fat)
    )


def xls_bytes(sheets: dict[str, list[list]], biff: int = 8, encoding: str = "gbk") -> bytes:
    """A legacy .xls workbook with the given sheets (rows of str / number / None)."""
    return compound_file(biff_stream(sheets, biff, encoding), "Workbook" if biff == 8 else "Book")
