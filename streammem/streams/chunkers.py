"""Chunkers: turn a stream of samples or frames, arriving in pieces of any size, into model chunks.

All chunkers work along the first axis (T, time) of numpy arrays or torch tensors, take pieces with
``push(piece) -> list[...]`` as they arrive, return what became complete, and emit the rest with
``flush()`` at the end of the stream. They keep only a bounded buffer (at most one window plus the
newest piece), so they can run on endless streams.

Two window chunkers serve the segment-based speech encoders (augmented memory, Emformer):

- ``ContextChunker(center, left, right)``: the training-time view. Each center block waits for ``right``
  frames of lookahead (that is its latency) and the stream edges are padded, so every window has the
  trained size ``left + center + right`` except a short final center.
- ``ShiftableContextChunker(center, left, right)``: the inference-time view of Shiftable Context
  (Raffel, Penney and Chen, ICML 2023, arXiv 2307.01377): no lookahead wait and no padding; the
  window shifts into the past so it keeps the trained size.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, TypeVar

import numpy as np
import torch

__all__ = ["Window", "FixedChunker", "ContextChunker", "ShiftableContextChunker"]

Array = TypeVar("Array", np.ndarray, torch.Tensor)
Padding = Literal["zeros", "edge", "none"]


def _concat(pieces: list) -> np.ndarray | torch.Tensor:
    if isinstance(pieces[0], torch.Tensor):
        return torch.cat(pieces, dim=0)
    return np.concatenate(pieces, axis=0)


def _repeat_rows(like: np.ndarray | torch.Tensor, row: np.ndarray | torch.Tensor | None, count: int):
    """``count`` copies of ``row`` (or zero rows if ``row`` is None), shaped like ``like[:count]``."""
    shape = (count, *like.shape[1:])
    if isinstance(like, torch.Tensor):
        out = like.new_zeros(shape)
    else:
        out = np.zeros(shape, dtype=like.dtype)
    if row is not None:
        out[:] = row
    return out


class Window(NamedTuple):
    """One model input window: ``data`` is ``[left context | center | right context]`` along T.

    ``start`` is the stream index of the first center frame; ``left``, ``center`` and ``right`` count the
    frames of each part in ``data``, so the center is ``data[left:left + center]`` and only its outputs
    belong to this window.
    """

    data: np.ndarray | torch.Tensor
    start: int
    left: int
    center: int
    right: int

    @property
    def center_data(self) -> np.ndarray | torch.Tensor:
        """The frames this window is responsible for."""
        return self.data[self.left : self.left + self.center]


class FixedChunker:
    """Cut the stream into consecutive blocks of ``size`` frames.

    The last block is shorter unless ``pad_last`` pads it with zeros to ``size`` (its real length is then
    lost to the caller; use it when the model needs a fixed shape and tolerates trailing silence).
    """

    def __init__(self, size: int, *, pad_last: bool = False):
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.size = size
        self.pad_last = pad_last
        self._pending: list = []
        self._count = 0

    def push(self, piece: Array) -> list[Array]:
        """Add ``piece`` ``[T, ...]``; return the blocks ``[size, ...]`` it completed."""
        if len(piece) == 0:
            return []
        self._pending.append(piece)
        self._count += len(piece)
        if self._count < self.size:
            return []
        data = _concat(self._pending)
        full = len(data) // self.size * self.size
        blocks = [data[i : i + self.size] for i in range(0, full, self.size)]
        self._pending = [data[full:]] if full < len(data) else []
        self._count = len(data) - full
        return blocks

    def flush(self) -> list[Array]:
        """The final partial block, if any (zero-padded to ``size`` when ``pad_last``)."""
        if self._count == 0:
            return []
        data = _concat(self._pending)
        self._pending, self._count = [], 0
        if self.pad_last:
            data = _concat([data, _repeat_rows(data, None, self.size - len(data))])
        return [data]


class ContextChunker:
    """Center blocks of ``center`` frames, each with ``left`` frames before and ``right`` frames after.

    A window is emitted once its right context has arrived, so ``right`` frames are lookahead latency.
    At the stream start the missing left context, and at the end the missing right context, are padded:
    ``pad="zeros"`` with zero frames, ``"edge"`` by repeating the first / last frame (fairseq's augmented
    memory encoder repeats frame 0 on the left and uses zeros on the right), ``"none"`` not at all
    (shorter windows). The last center may be shorter than ``center``; ``flush()`` emits it.
    """

    def __init__(self, center: int, left: int = 0, right: int = 0, *, pad: Padding = "zeros"):
        if center < 1 or left < 0 or right < 0:
            raise ValueError(f"need center >= 1 and left, right >= 0; got {center}, {left}, {right}")
        if pad not in ("zeros", "edge", "none"):
            raise ValueError(f"pad must be 'zeros', 'edge' or 'none', got {pad!r}")
        self.center, self.left, self.right, self.pad = center, left, right, pad
        self._buffer = None  # frames [buffer_start, received): up to `left` past frames + pending ones
        self._buffer_start = 0
        self._next = 0  # stream index of the next center to emit
        self._first_frame = None

    def push(self, piece: Array) -> list[Window]:
        """Add ``piece`` ``[T, ...]``; return the windows whose right context is now complete."""
        if len(piece) == 0:
            return []
        if self._first_frame is None:
            self._first_frame = piece[0]
        self._buffer = piece if self._buffer is None else _concat([self._buffer, piece])
        windows = []
        while self._received() >= self._next + self.center + self.right:
            windows.append(self._window(self._next + self.center))
        self._trim()
        return windows

    def flush(self) -> list[Window]:
        """Windows for the remaining centers, with right context padded per ``pad``."""
        windows = []
        while self._buffer is not None and self._next < self._received():
            windows.append(self._window(min(self._next + self.center, self._received())))
        self._trim()
        return windows

    def _received(self) -> int:
        return self._buffer_start + (0 if self._buffer is None else len(self._buffer))

    def _window(self, end: int) -> Window:
        start, received = self._next, self._received()
        lo, hi = max(start - self.left, 0), min(end + self.right, received)
        data = self._buffer[lo - self._buffer_start : hi - self._buffer_start]
        missing_left, missing_right = self.left - (start - lo), self.right - (hi - end)
        if self.pad != "none" and (missing_left or missing_right):
            edge = self.pad == "edge"
            parts = [_repeat_rows(data, self._first_frame if edge else None, missing_left), data]
            parts.append(_repeat_rows(data, self._buffer[-1] if edge else None, missing_right))
            data = _concat(parts)
            left, right = self.left, self.right
        else:
            left, right = start - lo, hi - end
        self._next = end
        return Window(data, start, left, end - start, right)

    def _trim(self) -> None:
        """Drop frames no future window needs (older than ``left`` before the next center)."""
        keep_from = max(self._next - self.left, self._buffer_start)
        if self._buffer is not None and keep_from > self._buffer_start:
            self._buffer = self._buffer[keep_from - self._buffer_start :]
            self._buffer_start = keep_from


class ShiftableContextChunker:
    """Shiftable Context windows for streaming inference (Raffel et al., ICML 2023).

    Each ``push`` is one read; every frame it brings is emitted in the windows it returns (no lookahead
    wait, so ``flush()`` has nothing left). The unemitted frames are cut into segments ``c`` of at most
    ``center`` frames, and each window is built from real neighbouring frames (never padded), following
    the authors' ``augmented_memory_attention.py``:

    1. shift center: a short segment is topped up to ``center`` with earlier frames (as left context);
    2. right context: up to ``right`` frames after ``c``, if already received;
    3. shift right: each missing right frame is replaced by one more earlier frame (as left context);
    4. shift left: the very first segment, which has no past, takes up to ``left`` more future frames;
    5. left context: ``left`` more earlier frames.

    So once enough of the stream exists every window has the trained size ``left + center + right``; only
    the outputs of ``c`` (``Window.center_data``) are kept. Segment boundaries follow the reads, not a
    fixed grid. The buffer keeps at most ``left + center + right`` past frames.
    """

    def __init__(self, center: int, left: int = 0, right: int = 0):
        if center < 1 or left < 0 or right < 0:
            raise ValueError(f"need center >= 1 and left, right >= 0; got {center}, {left}, {right}")
        self.center, self.left, self.right = center, left, right
        self._buffer = None
        self._buffer_start = 0
        self._next = 0

    def push(self, piece: Array) -> list[Window]:
        """Add one read ``piece`` ``[T, ...]``; return one window per segment of the new frames."""
        if len(piece) == 0:
            return []
        self._buffer = piece if self._buffer is None else _concat([self._buffer, piece])
        received = self._buffer_start + len(self._buffer)
        windows = []
        while self._next < received:
            windows.append(self._window(self._next, min(self._next + self.center, received), received))
            self._next = windows[-1].start + windows[-1].center
        keep_from = max(received - (self.left + self.center + self.right), self._buffer_start)
        self._buffer = self._buffer[keep_from - self._buffer_start :]
        self._buffer_start = keep_from
        return windows

    def flush(self) -> list[Window]:
        """Nothing: every received frame was already emitted by ``push``."""
        return []

    def _window(self, start: int, end: int, received: int) -> Window:
        available_right = min(self.right, received - end)
        if start == 0:  # steps 2 and 4: no past, so take right context plus up to `left` more future frames
            lo, hi = 0, min(end + self.right + self.left, received)
        else:  # steps 1, 2, 3, 5: the window ends after the available right context and reaches back
            hi = end + available_right
            lo = max(start - (self.center - (end - start)) - (self.right - available_right) - self.left, 0)
        data = self._buffer[lo - self._buffer_start : hi - self._buffer_start]
        return Window(data, start, start - lo, end - start, hi - end)
