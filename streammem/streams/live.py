"""A bounded hand-off buffer between a capture thread and the model loop that drops the oldest item."""

from __future__ import annotations

import collections
import threading
import time
from typing import Generic, TypeVar

__all__ = ["DropOldestQueue"]

T = TypeVar("T")


class DropOldestQueue(Generic[T]):
    """Thread-safe FIFO of at most ``maxsize`` items; ``put`` on a full queue evicts the oldest item.

    A live source must not fall behind real time: when the model is slower than the camera or microphone,
    stale items are dropped (and counted in ``dropped``) so the consumer always gets recent ones. A plain
    ``queue.Queue`` would block the producer instead, which for a camera means the driver's own buffer
    drops frames silently and lag accumulates (geti-instant-learn#300).

    The producer calls ``close()`` (optionally with the exception that ended it); the consumer's ``get``
    then drains the remaining items and returns ``None`` at the end, or raises that exception.
    """

    def __init__(self, maxsize: int):
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self._items: collections.deque[T] = collections.deque(maxlen=maxsize)
        self._cond = threading.Condition()
        self._closed = False
        self._error: BaseException | None = None
        self.dropped = 0

    def put(self, item: T) -> None:
        """Append ``item``; if the queue is full the oldest item is discarded and counted."""
        with self._cond:
            if len(self._items) == self._items.maxlen:
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def close(self, error: BaseException | None = None) -> None:
        """Mark the end of the stream; ``error`` is re-raised by the consumer after the queue drains."""
        with self._cond:
            self._closed = True
            self._error = error
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> T | None:
        """Oldest item, waiting up to ``timeout`` s; ``None`` once closed and drained.

        Raises ``TimeoutError`` if nothing arrived in time and the producer is still open.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._items and not self._closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("no item arrived in time")
                self._cond.wait(remaining)
            if self._items:
                return self._items.popleft()
            if self._error is not None:
                raise self._error
            return None

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
