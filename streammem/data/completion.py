"""Completion markers for generated data: a folder whose generation was killed is never read as complete.

A generator runs inside :func:`generation`, which writes ``.streammem-generating`` into its folder first and
replaces it with ``.streammem-complete`` (what was generated, as JSON) only when the generator returns.
Readers call :func:`refuse_interrupted` before reading, so a corpus whose generation was killed (Ctrl-C,
SIGTERM, out of memory, power loss) is refused with one line instead of being used with part of its files;
generating into the folder again finishes it. Folders without markers (real datasets) are not affected.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streammem.errors import InputError, atomic_output

__all__ = ["IN_PROGRESS", "COMPLETE", "generation", "is_complete", "interrupted", "refuse_interrupted"]

IN_PROGRESS = ".streammem-generating"
COMPLETE = ".streammem-complete"


@contextlib.contextmanager
def generation(root: str | os.PathLike, generator: str, **parameters: Any) -> Iterator[Path]:
    """Mark ``root`` as being generated for the block; mark it complete only if the block returns."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / COMPLETE).unlink(missing_ok=True)
    record = json.dumps({"generator": generator, "parameters": parameters}, default=str, sort_keys=True)
    (root / IN_PROGRESS).write_text(record + "\n")
    yield root
    with atomic_output(root / COMPLETE) as tmp:
        tmp.write_text(record + "\n")
    (root / IN_PROGRESS).unlink()


def is_complete(root: str | os.PathLike) -> bool:
    """Whether a generator finished writing ``root`` (False while one runs or after one was killed)."""
    root = Path(root)
    return (root / COMPLETE).is_file() and not (root / IN_PROGRESS).exists()


def interrupted(root: str | os.PathLike) -> bool:
    """Whether a generation into ``root`` started and never finished (generate it again before use)."""
    return (Path(root) / IN_PROGRESS).exists()


def refuse_interrupted(path: str | os.PathLike, levels: int = 2) -> None:
    """InputError if ``path`` or one of its ``levels`` parents is a generation that never finished (a split
    folder is read below the corpus root that holds the marker)."""
    path = Path(path)
    for folder in [path, *path.parents][: levels + 1]:
        if interrupted(folder):
            raise InputError(
                folder, "its generation was interrupted before it finished: generate it again (or delete it)"
            )
