"""Sequences in MOTChallenge/DanceTrack layout loaded for MeMOTR: frames, per-frame targets, clips.

Legend: T frames, H/W image size, n objects in a frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from streammem.data.mot import MotBoxes, SequenceInfo, find_sequences, read_mot_ground_truth, read_seqinfo
from streammem.data.mot_frames import read_frame
from streammem.errors import InputError

__all__ = ["Sequence", "load_split", "load_sequence", "preprocess", "resize_rgb", "normalize", "input_size",
           "sample_clip"]

_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def input_size(height: int, width: int, image_size: tuple[int, int]) -> tuple[int, int]:
    """(h, w) after resizing the short side to image_size[0] with the long side at most image_size[1]."""
    short, longest = image_size
    scale = min(short / min(height, width), longest / max(height, width))
    return max(int(round(height * scale)), 32), max(int(round(width * scale)), 32)


def resize_rgb(rgb: np.ndarray, image_size: tuple[int, int]) -> Tensor:
    """RGB uint8 (H, W, 3) -> uint8 (3, h, w) at the model's input size."""
    h, w = input_size(rgb.shape[0], rgb.shape[1], image_size)
    if (h, w) != rgb.shape[:2]:
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).contiguous()


def normalize(images: Tensor) -> Tensor:
    """uint8 (..., 3, h, w) -> ImageNet-normalised float."""
    return (images.float() / 255.0 - _MEAN.to(images.device)) / _STD.to(images.device)


def preprocess(rgb: np.ndarray, image_size: tuple[int, int]) -> Tensor:
    """RGB uint8 (H, W, 3) -> ImageNet-normalised float (3, h, w) at the model's input size."""
    return normalize(resize_rgb(rgb, image_size))


@dataclass
class Sequence:
    """One sequence in memory: frames (T, 3, h, w) uint8 at the model input size, and per 1-based frame the GT ids (n,) and
    normalised cx, cy, w, h boxes (n, 4). Boxes with consider flag 0 or a non-pedestrian class are dropped."""

    name: str
    path: Path
    info: SequenceInfo
    frames: Tensor
    ids: list[Tensor]
    boxes: list[Tensor]


def _targets(gt: MotBoxes, info: SequenceInfo, width: int, height: int) -> tuple[list[Tensor], list[Tensor]]:
    keep = (gt.score > 0) & (gt.cls == 1)
    ids, boxes = [], []
    for f in range(1, info.num_frames + 1):
        rows = np.flatnonzero(keep & (gt.frame == f))
        b = gt.box[rows]
        cxcywh = np.stack([(b[:, 0] + b[:, 2] / 2) / width, (b[:, 1] + b[:, 3] / 2) / height,
                           b[:, 2] / width, b[:, 3] / height], axis=1) if len(rows) else np.zeros((0, 4))
        ids.append(torch.as_tensor(gt.track_id[rows], dtype=torch.long))
        boxes.append(torch.as_tensor(cxcywh, dtype=torch.float32).clamp(0.0, 1.0))
    return ids, boxes


def load_sequence(seq_dir: str | os.PathLike, image_size: tuple[int, int]) -> Sequence:
    """Read a sequence folder; every frame listed by seqinfo.ini must exist (InputError otherwise)."""
    seq_dir = Path(seq_dir)
    info = read_seqinfo(seq_dir / "seqinfo.ini")
    frames = [read_frame(seq_dir, info, f) for f in range(1, info.num_frames + 1)]
    height, width = frames[0].shape[:2]
    if (info.width and info.width != width) or (info.height and info.height != height):
        raise InputError(seq_dir / "seqinfo.ini", f"imWidth/imHeight {info.width}x{info.height} do not match the "
                         f"images ({width}x{height})")
    stacked = torch.stack([resize_rgb(f, image_size) for f in frames])
    gt = read_mot_ground_truth(seq_dir / "gt" / "gt.txt", info.num_frames)
    ids, boxes = _targets(gt, info, width, height)
    return Sequence(seq_dir.name, seq_dir, info, stacked, ids, boxes)


def load_split(root: str | os.PathLike, split: str, image_size: tuple[int, int]) -> list[Sequence]:
    """All sequences of ``root/split`` (named by ``root/{split}_seqmap.txt`` when present)."""
    root = Path(root)
    seqmap = root / f"{split}_seqmap.txt"
    names = find_sequences(root / split, seqmap if seqmap.is_file() else None)
    return [load_sequence(root / split / n, image_size) for n in names]


def sample_clip(seqs: list[Sequence], length: int, max_stride: int, rng: np.random.Generator,
                flip: bool = True) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
    """A random clip: normalised frames (length, 3, h, w) and per frame (ids, boxes); stride 1..max_stride,
    random h-flip."""
    seq = seqs[int(rng.integers(len(seqs)))]
    total = seq.frames.shape[0]
    stride = int(rng.integers(1, max(1, min(max_stride, (total - 1) // max(length - 1, 1))) + 1))
    start = int(rng.integers(0, total - (length - 1) * stride))
    index = [start + i * stride for i in range(length)]
    frames = normalize(seq.frames[index])
    targets = [(seq.ids[i], seq.boxes[i].clone()) for i in index]
    if flip and rng.random() < 0.5:
        frames = frames.flip(-1)
        for _, boxes in targets:
            boxes[:, 0] = 1.0 - boxes[:, 0]
    return frames, targets
