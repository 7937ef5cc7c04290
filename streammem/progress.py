"""Progress for long jobs: a tqdm bar with ETA on a terminal, plain periodic lines in a log file.

tqdm redraws its bar with carriage returns, which turn a log file into one huge line; when stderr is not a
terminal, :func:`progress` keeps tqdm's counting and ETA but prints a whole line every ``log_every`` seconds.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

__all__ = ["progress", "progress_bar"]

T = TypeVar("T")


class _Lines:
    """A file-like target that turns tqdm's carriage-return redraws into whole lines."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").replace("\x1b[A", "")
        if text.strip():
            self.stream.write(text.rstrip("\n") + "\n")

    def flush(self) -> None:
        self.stream.flush()


class _LogBar(tqdm):
    """A bar for log files: postfix updates (e.g. the loss every step) wait for the next periodic line instead
    of printing one line each."""

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        super().set_postfix(ordered_dict, refresh=False, **kwargs)

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        super().set_postfix_str(s, refresh=False)


def progress_bar(total: int | None = None, *, desc: str = "", unit: str = "it", log_every: float = 10.0,
                 enabled: bool = True, items: Iterable[T] | None = None, initial: int = 0) -> tqdm:
    """A tqdm bar on stderr (advance it with ``update(n)``; ETA when ``total`` is known); plain lines every
    ``log_every`` seconds when stderr is not a terminal. ``initial``: steps already done (a resumed run)."""
    terminal = sys.stderr.isatty()
    return (tqdm if terminal else _LogBar)(items, total=total, desc=desc, unit=unit, file=sys.stderr if terminal else _Lines(sys.stderr),
                mininterval=0.1 if terminal else log_every, dynamic_ncols=terminal, ascii=not terminal,
                disable=not enabled, initial=initial)


def progress(items: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it",
             log_every: float = 10.0, enabled: bool = True) -> Iterator[T]:
    """Iterate ``items`` with a progress bar (ETA when ``total`` is known) on stderr."""
    if not enabled:
        yield from items
        return
    bar = progress_bar(total, desc=desc, unit=unit, log_every=log_every, items=items)
    try:
        yield from bar
    finally:
        bar.close()
