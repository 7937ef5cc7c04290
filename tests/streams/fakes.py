"""Fake OpenCV captures for live-source tests (no camera needed)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np


class FakeCapture:
    """Stands in for cv2.VideoCapture: returns ``frames`` (BGR) then fails, like an unplugged camera.

    ``frames=None`` produces frames forever. ``exhausted`` is set by the first failed read, which the
    reader thread makes only after queueing the last frame.
    """

    def __init__(self, frames: list[np.ndarray] | None, opened: bool = True):
        self.frames = frames
        self.opened = opened
        self.index = 0
        self.released = False
        self.exhausted = threading.Event()

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.frames is None:
            self.index += 1
            return True, np.zeros((4, 4, 3), np.uint8)
        if self.index >= len(self.frames):
            self.exhausted.set()
            return False, None
        frame = self.frames[self.index]
        self.index += 1
        return True, frame

    def get(self, prop: int) -> float:
        return 0.0  # unknown fps and frame count, as for most cameras

    def release(self) -> None:
        self.released = True


class StallingFileCapture:
    """A video file behind a URL that stalls: every open starts at frame 0 (as OpenCV does for a reopened
    HTTP file), reports the file's frame count, and fails once it reaches ``stall_at``.

    ``seekable=False`` ignores ``set(CAP_PROP_POS_FRAMES)`` like a server without range requests.
    """

    def __init__(self, frames: list[np.ndarray], stall_at: int, seekable: bool = True):
        self.frames, self.stall_at, self.seekable = frames, stall_at, seekable
        self.position = 0
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return True

    def grab(self) -> bool:
        if self.position >= min(self.stall_at, len(self.frames)):
            return False
        self.position += 1
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if not self.grab():
            return False, None
        return True, self.frames[self.position - 1]

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_FRAME_COUNT:
            return float(len(self.frames))
        if prop == cv2.CAP_PROP_POS_FRAMES:
            return float(self.position)
        return 0.0

    def set(self, prop: int, value: float) -> bool:
        if prop == cv2.CAP_PROP_POS_FRAMES and self.seekable:
            self.position = int(value)
            return True
        return False

    def release(self) -> None:
        self.released = True


class FakeCaptureFactory:
    """Returns the given captures in order, then ``then()`` (default: captures that fail to open); records
    every call."""

    def __init__(self, *captures: FakeCapture, then: Callable[[], Any] | None = None):
        self.captures = list(captures)
        self.then = then or (lambda: FakeCapture([], opened=False))
        self.calls = 0
        self.made: list[Any] = []

    def __call__(self, source: int | str) -> Any:
        self.calls += 1
        capture = self.captures.pop(0) if self.captures else self.then()
        self.made.append(capture)
        return capture


def numbered_frames(count: int) -> list[np.ndarray]:
    """Tiny frames whose pixels all equal their index, so a frame says which one it is."""
    return [np.full((4, 4, 3), i, dtype=np.uint8) for i in range(count)]
