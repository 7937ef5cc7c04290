"""Frames of a MOTChallenge/DanceTrack sequence (``img1/00000001.jpg`` or MOT17's ``img1/000001.jpg``)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from streammem.data.mot import SequenceInfo
from streammem.errors import InputError

__all__ = ["frame_path", "read_frame"]


def frame_path(seq_dir: str | os.PathLike, info: SequenceInfo, frame: int) -> Path:
    """Path of 1-based ``frame``: DanceTrack names have 8 digits, MOT17 names 6; a missing frame is an InputError."""
    folder = Path(seq_dir) / info.image_dir
    for digits in (8, 6):
        path = folder / f"{frame:0{digits}d}{info.image_ext}"
        if path.is_file():
            return path
    raise InputError(folder / f"{frame:08d}{info.image_ext}", f"frame {frame} of {info.num_frames} is missing")


def read_frame(seq_dir: str | os.PathLike, info: SequenceInfo, frame: int) -> np.ndarray:
    """Decode 1-based ``frame`` as RGB uint8 (H, W, 3)."""
    path = frame_path(seq_dir, info, frame)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(path, "cannot decode the image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
