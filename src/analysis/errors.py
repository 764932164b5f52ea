"""One-line, locatable errors for bad input: ``error: FILE:ROW:COLUMN: what is wrong (hint)``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.errors
import pandera.pandas as pa


@dataclass
class InputError(Exception):
    """Bad input data. ROW is the 1-based line number in the file (header = line 1)."""

    file: str | Path
    message: str
    row: int | None = None
    column: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.row, self.column) if p is not None)
        text = f"error: {where}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


def validate_frame(
    frame: pd.DataFrame, schema: pa.DataFrameSchema, file: str | Path, header_rows: int = 1
) -> pd.DataFrame:
    """Validate ``frame`` against a pandera schema; raise InputError for the first failure.

    ``frame`` must carry its original 0-based data-row index so that the error names the line of the
    file (data row i sits on line i + header_rows + 1).
    """
    try:
        return schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        first = cases.iloc[0]
        column = first.get("column")
        index = first.get("index")
        row = int(index) + header_rows + 1 if pd.notna(index) else None
        check = str(first.get("check"))
        value = first.get("failure_case")
        if "column_in_dataframe" in check or "column_in_schema" in check:
            raise InputError(
                file, f"missing required column '{value}'", hint="see data/README.md"
            ) from None
        raise InputError(
            file,
            f"value {value!r} fails check {check}",
            row=row,
            column=None if pd.isna(column) else str(column),
        ) from None
