"""Training the live front end's frame encoder on rendered clips, and extracting MATR features with it.

Legend: N frames, H x W pixels, F feature dim (MATR's input width), L per-frame labels (2 + classes).

The objective is per-frame classification (0 background, 1 class-agnostic action middle, 2 + k the cue of
class k; :mod:`streammem.data.synthetic_tal_video`) through ``FrameEncoder``'s Linear projection to F and
one Linear head, so the F-d features MATR reads separate exactly what MATR needs: action vs background,
and which class the cue shows. Half of each batch is drawn class-balanced (cue frames are rare).
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from streammem.errors import InputError, atomic_output
from streammem.models.matr.frontend import FrameEncoder, features_at_rate
from streammem.progress import progress, progress_bar

__all__ = ["EncoderSettings", "FrameLabeler", "recalibrate_batchnorm", "load_labelled_frames", "train_frame_encoder", "frame_accuracy",
           "video_features", "extract_features"]


class FrameLabeler(nn.Module):
    """``FrameEncoder`` + a Linear per-frame classifier on its F-d output (the head only serves training)."""

    def __init__(self, encoder: FrameEncoder, num_labels: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.out.out_features, num_labels)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (N, H, W, 3) uint8 -> logits (N, L)."""
        return self.head(self.encoder(frames))


@dataclass
class EncoderSettings:
    """Optimisation knobs (defaults: mobilenet_v3_small at 64x64, ~6 min on one CPU thread)."""

    iterations: int = 1200
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 50
    eval_every: int = 300
    seed: int = 52
    bn_frames: int = 4096  # training frames (natural label mix) that re-estimate BatchNorm statistics


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, frames: np.ndarray, batch: int) -> None:
    """Re-estimate every BatchNorm's running mean/var as a plain average over ``frames`` (N, H, W, 3).

    torchvision's MobileNetV3 uses BatchNorm momentum 0.01, so after a short training from scratch the running
    statistics still mix in the early weights' activations (and the class-balanced batches'): eval-mode
    outputs collapse to one class. Averaging over natural frames with the final weights fixes both.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    device = next(model.parameters()).device
    for i in range(0, len(frames) - 1, batch):  # a last batch of one frame has no batch statistics
        model(torch.from_numpy(frames[i : i + batch]).to(device))
    for m, momentum in zip(norms, saved, strict=True):
        m.momentum = momentum
    model.eval()


def _video_frames(path: Path) -> np.ndarray:
    from streammem.streams.sources import open_source

    return np.stack([f for _, f in open_source(str(path), kind="video")])


def load_labelled_frames(root: str | os.PathLike, names: list[str], keep_every: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Frames (N, H, W, 3) uint8 and labels (N,) of ``videos/<name>.mp4`` + ``labels/<name>.npy``.

    keep_every: keep every k-th background/middle frame (cue frames are all kept; they are rare).
    """
    root = Path(root)
    frames, labels = [], []
    for name in progress(names, total=len(names), desc="decode videos", unit="video"):
        video, label_path = root / "videos" / f"{name}.mp4", root / "labels" / f"{name}.npy"
        if not label_path.is_file():
            raise InputError(label_path, "per-frame label file not found")
        lab = np.load(label_path, allow_pickle=False)
        vid = _video_frames(video)
        if len(vid) != len(lab):
            raise InputError(video, f"{len(vid)} frames, but {label_path.name} has {len(lab)} labels")
        keep = (lab >= 2) | (np.arange(len(lab)) % keep_every == 0)
        frames.append(vid[keep])
        labels.append(lab[keep])
    return np.concatenate(frames), np.concatenate(labels)


@torch.no_grad()
def frame_accuracy(model: FrameLabeler, frames: np.ndarray, labels: np.ndarray, batch: int = 256) -> dict[str, float]:
    """Per-frame accuracy and balanced accuracy (mean recall over the labels present), in percent."""
    model.eval()
    device = next(model.parameters()).device
    pred = np.concatenate([model(torch.from_numpy(frames[i : i + batch]).to(device)).argmax(1).cpu().numpy()
                           for i in range(0, len(frames), batch)])
    recalls = [float((pred[labels == k] == k).mean()) for k in np.unique(labels)]
    return {"accuracy": 100 * float((pred == labels).mean()), "balanced_accuracy": 100 * float(np.mean(recalls))}


@torch.enable_grad()  # load_model (demo/eval) turns grad off process-wide
def train_frame_encoder(
    model: FrameLabeler,
    train: tuple[np.ndarray, np.ndarray],
    held: tuple[np.ndarray, np.ndarray],
    settings: EncoderSettings,
    on_checkpoint: Callable[[FrameLabeler, dict], None] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[FrameLabeler, dict]:
    """Per-frame cross-entropy (half-balanced batches, left-right flips); keeps the best held-out balanced accuracy.

    BatchNorm statistics are re-estimated on natural training frames before each held-out evaluation. Batches
    go to the model's device; the frames stay in host memory.
    """
    frames, labels = train
    device = next(model.parameters()).device
    rng = np.random.default_rng(settings.seed)
    natural = frames[rng.permutation(len(frames))[: settings.bn_frames]]
    torch.manual_seed(settings.seed)
    by_label = [np.flatnonzero(labels == k) for k in np.unique(labels)]
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)

    def lr_at(it: int) -> float:
        if it < settings.warmup:
            return (it + 1) / settings.warmup
        return 0.5 * (1 + math.cos(math.pi * (it - settings.warmup) / max(1, settings.iterations - settings.warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    best: tuple[float, dict, dict] = (-1.0, {}, {})
    t0 = time.perf_counter()
    bar = progress_bar(settings.iterations, desc="train frame encoder", unit="it", items=range(settings.iterations))
    for it in bar:
        model.train()
        half = settings.batch_size // 2  # half natural label mix, half class-balanced (cue frames are rare)
        groups = rng.integers(len(by_label), size=settings.batch_size - half)
        idx = np.concatenate([rng.integers(len(frames), size=half), [rng.choice(by_label[g]) for g in groups]])
        batch = torch.from_numpy(frames[idx])
        flip = torch.from_numpy(rng.random(len(idx)) < 0.5)  # every cue shape is left-right symmetric
        batch[flip] = batch[flip].flip(2)
        loss = nn.functional.cross_entropy(model(batch.to(device)), torch.from_numpy(labels[idx]).to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if (it + 1) % settings.eval_every == 0 or it + 1 == settings.iterations:
            recalibrate_batchnorm(model, natural, settings.batch_size)
            metrics = frame_accuracy(model, *held) | {"iteration": it + 1}
            log(f"it {it + 1} ({time.perf_counter() - t0:.0f}s) loss {loss.item():.3f} held-out frame accuracy "
                f"{metrics['accuracy']:.2f} balanced {metrics['balanced_accuracy']:.2f}")
            if metrics["balanced_accuracy"] > best[0]:
                best = (metrics["balanced_accuracy"], copy.deepcopy(model.state_dict()), metrics)
                if on_checkpoint is not None:
                    on_checkpoint(model, metrics)
    model.load_state_dict(best[1])
    return model.eval(), best[2]


def video_features(encoder: FrameEncoder, source, rate: float) -> np.ndarray:
    """(T, F) float32 features at ``rate`` per second of a frame source, exactly as the live path computes them."""
    return np.stack([f.cpu().numpy() for _, f in features_at_rate(source, encoder, rate)]).astype(np.float32)


def extract_features(encoder: FrameEncoder, root: str | os.PathLike, names: list[str], rate: float) -> list[Path]:
    """Write ``features/<name>.npy`` for ``videos/<name>.mp4`` of each name (atomically); returns the paths."""
    from streammem.streams.sources import open_source

    root = Path(root)
    out = []
    for name in progress(names, total=len(names), desc="extract features", unit="video"):
        feats = video_features(encoder, open_source(str(root / "videos" / f"{name}.mp4"), kind="video"), rate)
        path = root / "features" / f"{name}.npy"
        with atomic_output(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, feats)
        out.append(path)
    return out
