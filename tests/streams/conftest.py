"""Shared fixtures: a small lossless video written with OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

FPS = 10.0


@pytest.fixture
def lossless_video(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    """12 random RGB frames (48 x 64) in FFV1 / Matroska, which stores RGB losslessly (bgr0)."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(12)]
    path = tmp_path / "clip.mkv"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), FPS, (64, 48))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path, frames
