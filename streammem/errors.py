"""User-facing errors and all-or-nothing output files."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["StreamMemError", "InputError", "atomic_output", "report", "warn"]


class StreamMemError(Exception):
    """An error the CLI prints as one line (no traceback) and exits non-zero on."""


class InputError(StreamMemError):
    """Bad user input: a missing, unreadable or malformed file, stream or device.

    The message must name the source and the problem, e.g. ``"data/gt.txt:12: expected 9 columns, got 7"``.
    """

    def __init__(self, source: str | os.PathLike, problem: str, line: int | None = None):
        where = f"{source}:{line}" if line is not None else f"{source}"
        super().__init__(f"{where}: {problem}")
        self.source = str(source)
        self.problem = problem
        self.line = line


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A failed run therefore never leaves a half-written output behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_current_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _current_umask() -> int:
    """The process umask (reading it requires setting it; restored at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def report(err: StreamMemError) -> int:
    """Print ``err`` as the one line every streammem command ends with on bad input; the exit status (2)."""
    print(f"streammem: error: {err}", file=sys.stderr)
    return 2


def warn(message: str) -> None:
    """A one-line warning on stderr (the problem and, where one was applied, the fix)."""
    print(f"streammem: warning: {message}", file=sys.stderr, flush=True)
