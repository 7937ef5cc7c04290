"""Numeric text tables (MOTChallenge txt, THUMOS per-class txt) read with one-line errors naming file and line."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from streammem.errors import InputError

__all__ = ["read_numeric_table", "first_bad_row"]

_SEPARATOR = re.compile(r"\s*,\s*|\s+")


def read_numeric_table(
    path: str | os.PathLike, min_columns: int, max_columns: int, *, allow_empty: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Read comma- or whitespace-separated numbers, one record per line; blank lines are ignored.

    Returns ``(values, lines)``: values (N, C) float64, lines (N,) the 1-based line number of each row.
    Every row must have the column count of the first row, between ``min_columns`` and ``max_columns``.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot read: {err}") from None
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
