"""Text inputs read one way: UTF-8 (a byte-order mark is skipped, CRLF or LF line ends), one-line errors naming
file and line; numeric tables (MOTChallenge txt, THUMOS per-class txt) on top."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from streammem.errors import InputError

__all__ = ["read_text", "read_numeric_table", "first_bad_row", "unknown_ids_problem"]

_SEPARATOR = re.compile(r"\s*,\s*|\s+")


def read_text(path: str | os.PathLike) -> str:
    """The text of a UTF-8 file without its byte-order mark (Windows editors write one), so a BOM or CRLF
    line ends never change a parsed value; other encodings (latin-1 ...) are an InputError naming the byte."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(
            path, f"not UTF-8 text (byte 0x{data[err.start]:02x}): save the file as UTF-8", line=line
        ) from None


def unknown_ids_problem(what: str, ids: list[str]) -> str:
    """The message for predictions about items the ground truth does not have (one policy for every task):
    how many, the first few, and the option that skips them."""
    shown = ", ".join(repr(i) for i in sorted(ids)[:5]) + (", ..." if len(ids) > 5 else "")
    return f"{len(ids)} {what} not in the ground truth ({shown}); score --ignore-unknown skips them"


def read_numeric_table(
    path: str | os.PathLike, min_columns: int, max_columns: int, *, allow_empty: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Read comma- or whitespace-separated numbers, one record per line; blank lines are ignored.

    Returns ``(values, lines)``: values (N, C) float64, lines (N,) the 1-based line number of each row.
    Every row must have the column count of the first row, between ``min_columns`` and ``max_columns``.
    """
    path = Path(path)
    text = read_text(path)
    rows: list[list[float]] = []
    lines: list[int] = []
    columns = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().rstrip(",")  # some writers end each row with a comma
        if not line:
            continue
        fields = _SEPARATOR.split(line)
        if columns is None:
            columns = len(fields)
            if not min_columns <= columns <= max_columns:
                wanted = str(min_columns) if min_columns == max_columns else f"{min_columns} to {max_columns}"
                raise InputError(path, f"expected {wanted} columns, got {columns}", line=number)
        elif len(fields) != columns:
            raise InputError(
                path, f"expected {columns} columns like the first row, got {len(fields)}", line=number
            )
        try:
            values = [float(f) for f in fields]
        except ValueError:
            bad = next(f for f in fields if not _is_number(f))
            raise InputError(path, f"not a number: {bad!r}", line=number) from None
        if not all(np.isfinite(values)):
            raise InputError(path, "values must be finite", line=number)
        rows.append(values)
        lines.append(number)
    if not rows and not allow_empty:
        raise InputError(path, "file is empty")
    table = np.asarray(rows, dtype=np.float64).reshape(len(rows), columns or min_columns)
    return table, np.asarray(lines, dtype=np.int64)


def first_bad_row(mask: np.ndarray) -> int | None:
    """Index of the first True in ``mask`` (N,), or None: used to name the first offending line."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True
