"""Sequences in MOTChallenge/DanceTrack layout for MeMOTR: per-frame targets in memory, frames decoded on demand,
random training clips (:func:`sample_clip`), and batches of them from DataLoader workers (:func:`clip_batches`).

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
from streammem.data.mot_frames import frame_path, read_frame
from streammem.errors import InputError

__all__ = ["Sequence", "load_split", "load_sequence", "preprocess", "resize_rgb", "normalize", "input_size",
           "sample_clip", "clip_batches"]

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
    """One sequence: per 1-based frame the GT ids (n,) and normalised cx, cy, w, h boxes (n, 4) in memory (boxes
    with consider flag 0 or a non-pedestrian class are dropped); the frames stay on disk and are decoded on
    demand (:meth:`read`), so a dataset of any size takes the memory of its annotations only."""

    name: str
    path: Path
    info: SequenceInfo
    image_size: tuple[int, int]
    ids: list[Tensor]
    boxes: list[Tensor]

    @property
    def num_frames(self) -> int:
        return self.info.num_frames

    def read(self, index: list[int]) -> Tensor:
        """Frames at 0-based ``index`` decoded now: uint8 (len(index), 3, h, w) at the model input size."""
        return torch.stack([resize_rgb(read_frame(self.path, self.info, i + 1), self.image_size) for i in index])

    @property
    def frames(self) -> Tensor:
        """Every frame, decoded now (T, 3, h, w) uint8: for short sequences and inspection tools only."""
        return self.read(list(range(self.num_frames)))


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
    """Read a sequence folder's seqinfo.ini and gt.txt; every frame listed by seqinfo.ini must exist and the
    first must match imWidth/imHeight (InputError otherwise). Frames are decoded later, on demand."""
    seq_dir = Path(seq_dir)
    info = read_seqinfo(seq_dir / "seqinfo.ini")
    for f in range(1, info.num_frames + 1):
        frame_path(seq_dir, info, f)
    height, width = read_frame(seq_dir, info, 1).shape[:2]
    if (info.width and info.width != width) or (info.height and info.height != height):
        raise InputError(seq_dir / "seqinfo.ini", f"imWidth/imHeight {info.width}x{info.height} do not match the "
                         f"images ({width}x{height})")
    gt = read_mot_ground_truth(seq_dir / "gt" / "gt.txt", info.num_frames)
    ids, boxes = _targets(gt, info, width, height)
    return Sequence(seq_dir.name, seq_dir, info, tuple(image_size), ids, boxes)


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
    total = seq.num_frames
    stride = int(rng.integers(1, max(1, min(max_stride, (total - 1) // max(length - 1, 1))) + 1))
    start = int(rng.integers(0, total - (length - 1) * stride))
    index = [start + i * stride for i in range(length)]
    frames = normalize(seq.read(index))  # only the clip's frames are decoded
    targets = [(seq.ids[i], seq.boxes[i].clone()) for i in index]
    if flip and rng.random() < 0.5:
        frames = frames.flip(-1)
        for _, boxes in targets:
            boxes[:, 0] = 1.0 - boxes[:, 0]
    return frames, targets


class _ClipBatches(torch.utils.data.IterableDataset):
    """Batch ``it`` of ``lengths`` from its own generator (``seed``, ``it``); worker ``w`` of ``N`` makes batches
    ``w, w + N, ...``, which the DataLoader hands out in order, so the batches do not depend on ``N``."""

    def __init__(self, seqs: list[Sequence], lengths: list[int], batch_size: int, max_stride: int, seed: int):
        self.seqs, self.lengths, self.batch_size, self.max_stride, self.seed = seqs, lengths, batch_size, max_stride, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for it in range(worker, len(self.lengths), workers):
            rng = np.random.default_rng([self.seed, it])
            yield [sample_clip(self.seqs, self.lengths[it], self.max_stride, rng) for _ in range(self.batch_size)]


def clip_batches(seqs: list[Sequence], lengths: list[int], batch_size: int, max_stride: int, seed: int,
                 workers: int = 0):
    """One batch of ``batch_size`` random clips per entry of ``lengths`` (the clip length of each iteration).

    ``workers`` 0: decoded in this process from one generator seeded with ``seed``; N > 0: decoded ahead by N
    DataLoader worker processes, each batch from a generator of its own (``seed``, iteration), so any N gives
    the same batches. Either way only the clips in flight are in memory."""
    if workers <= 0:
        rng = np.random.default_rng(seed)
        for length in lengths:
            yield [sample_clip(seqs, length, max_stride, rng) for _ in range(batch_size)]
        return
    loader = torch.utils.data.DataLoader(_ClipBatches(seqs, lengths, batch_size, max_stride, seed), batch_size=None,
                                         num_workers=workers, prefetch_factor=2, persistent_workers=False)
    yield from loader
