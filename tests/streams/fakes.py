"""Fake OpenCV captures for live-source tests (no camera needed)."""

from __future__ import annotations

import threading

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


class FakeCaptureFactory:
    """Returns the given captures in order, then captures that fail to open; records every call."""

    def __init__(self, *captures: FakeCapture):
        self.captures = list(captures)
        self.calls = 0
        self.made: list[FakeCapture] = []

    def __call__(self, source: int | str) -> FakeCapture:
        self.calls += 1
        capture = self.captures.pop(0) if self.captures else FakeCapture([], opened=False)
        self.made.append(capture)
        return capture


def numbered_frames(count: int) -> list[np.ndarray]:
    """Tiny frames whose pixels all equal their index, so a frame says which one it is."""
    return [np.full((4, 4, 3), i, dtype=np.uint8) for i in range(count)]
