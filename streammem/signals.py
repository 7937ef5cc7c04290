"""SIGTERM handled like Ctrl-C: a stopped run removes its partial outputs and keeps the finished ones.

Python turns SIGINT into ``KeyboardInterrupt``, which unwinds through every ``atomic_output`` block (the
temporary file is deleted) and every sink's ``close(success=False)``. SIGTERM (``kill``, a scheduler's
time limit, ``docker stop``) by default ends the process on the spot and leaves ``.partial`` files behind.
Inside :func:`sigterm_as_interrupt` it raises :class:`Terminated`, a ``KeyboardInterrupt``, so the same
cleanup runs; :func:`exit_status` gives the shell's convention for the exit code (130 for SIGINT, 143
for SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["Terminated", "sigterm_as_interrupt", "exit_status", "interruption_message"]


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (raised in the main thread by :func:`sigterm_as_interrupt`)."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, the first SIGTERM raises :class:`Terminated` in the main thread; later ones are
    ignored so they cannot cut the cleanup short. The previous handler is restored on exit.

    Outside the main thread (where Python cannot install signal handlers) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_status(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal number, as shells report it: 143 after SIGTERM, 130 after Ctrl-C."""
    return 128 + (signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)


def interruption_message(interrupt: KeyboardInterrupt) -> str:
    """The one line printed when a run is stopped by a signal."""
    if isinstance(interrupt, Terminated):
        return "terminated (SIGTERM): finished outputs kept, partial outputs removed"
    return "interrupted: finished outputs kept, partial outputs removed"
