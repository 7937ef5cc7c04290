"""Synthetic temporal action localization streams, written as THUMOS14 in ActionFormer's layout.

Layout written (read back by :mod:`streammem.data.tal_features` like a real THUMOS14 copy)::

    root/annotations/thumos14.json   {"database": {video: {"subset", "duration", "fps", "annotations": [...]}}}
    root/features/<video>.npy        (T, F) float32, ``feature_rate`` features per second

Design: what makes memory necessary. Every action shows its class only in its first ``id_frames`` features;
its middle is one class-agnostic "action" pattern and it ends when background returns. Durations range from
well under to several times the segment length, so for long actions neither the class nor the start is in
the current segment when the action ends: only a memory of earlier segments recovers them.
Training and test videos use disjoint seeds (``seed`` and ``seed + 1`` streams).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from streammem.data.completion import generation
from streammem.errors import atomic_output

__all__ = ["SyntheticTALConfig", "generate_synthetic_tal", "synthetic_video"]

CLASSES: tuple[str, ...] = ("Pitch", "Dive", "Jump", "Throw", "Swing", "Kick", "Lift", "Row")


@dataclass
class SyntheticTALConfig:
    """Knobs of the generator; the defaults match MATR's ``tiny`` config (segment 16, memory 6)."""

    num_classes: int = 5
    feature_dims: list[int] = field(default_factory=lambda: [16, 16])  # two "streams" like RGB + flow
    feature_rate: float = 4.0  # features per second (THUMOS TSN convention)
    fps: float = 30.0
    num_features: tuple[int, int] = (400, 560)  # video length range, in features
    short: tuple[int, int] = (3, 14)  # short action length range (< segment 16)
    long: tuple[int, int] = (20, 80)  # long action length range (1.25 to 5 segments)
    long_fraction: float = 0.5
    gap: tuple[int, int] = (6, 40)  # background between actions
    id_frames: int = 3  # class identity shows only in an action's first features
    noise: float = 0.5
    prototype_seed: int = 1234  # fixes class/action/background patterns across all videos


def _patterns(cfg: SyntheticTALConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(class prototypes (C, F), action pattern (F,), background pattern (F,)), shared by every video."""
    rng = np.random.default_rng(cfg.prototype_seed)
    dim = sum(cfg.feature_dims)

    def unit(*shape: int) -> np.ndarray:
        v = rng.standard_normal((*shape, dim))
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    return 2.0 * unit(cfg.num_classes), 1.5 * unit(), 1.0 * unit()


def synthetic_video(cfg: SyntheticTALConfig, seed: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """One stream: features (T, F) float32 and actions [(class, start, end)] in feature indices, end exclusive."""
    rng = np.random.default_rng(seed)
    prototypes, action, background = _patterns(cfg)
    length = int(rng.integers(cfg.num_features[0], cfg.num_features[1] + 1))
    feats = background + cfg.noise * rng.standard_normal((length, sum(cfg.feature_dims)))
    actions: list[tuple[int, int, int]] = []
    t = int(rng.integers(cfg.gap[0], cfg.gap[1] + 1))
    while True:
        lo, hi = cfg.long if rng.random() < cfg.long_fraction else cfg.short
        dur = int(rng.integers(lo, hi + 1))
        if t + dur + 1 > length:
            break
        label = int(rng.integers(cfg.num_classes))
        feats[t : t + dur] += action - background
        feats[t : t + min(cfg.id_frames, dur)] += prototypes[label]
        actions.append((label, t, t + dur))
        t += dur + int(rng.integers(cfg.gap[0], cfg.gap[1] + 1))
    return feats.astype(np.float32), actions


def generate_synthetic_tal(
    root: str | Path, num_train: int = 160, num_test: int = 60, seed: int = 0, cfg: SyntheticTALConfig | None = None
) -> Path:
    """Write ``num_train`` ("Validation" subset, as THUMOS14 trains on it) and ``num_test`` ("Test") videos.

    Video i of a subset uses seed ``(seed * 2 + subset) * 1_000_003 + i``: train and test never share one.
    Returns the annotation JSON path.
    """
    cfg = cfg or SyntheticTALConfig()
    with generation(root, "synthetic_tal", num_train=num_train, num_test=num_test, seed=seed, config=cfg) as root:
        return _write_synthetic_tal(root, num_train, num_test, seed, cfg)


def _write_synthetic_tal(root: Path, num_train: int, num_test: int, seed: int, cfg: SyntheticTALConfig) -> Path:
    (root / "features").mkdir(parents=True, exist_ok=True)
    classes = list(CLASSES[: cfg.num_classes])
    database: dict[str, dict] = {}
    for subset_id, (subset, count) in enumerate((("Validation", num_train), ("Test", num_test))):
        for i in range(count):
            video_seed = (seed * 2 + subset_id) * 1_000_003 + i
            feats, actions = synthetic_video(cfg, video_seed)
            name = f"synthetic_{subset.lower()}_{i:04d}"
            with atomic_output(root / "features" / f"{name}.npy") as tmp, open(tmp, "wb") as fh:
                np.save(fh, feats)
            to_s = 1.0 / cfg.feature_rate
            database[name] = {
                "subset": subset,
                "duration": len(feats) * to_s,
                "fps": cfg.fps,
                "seed": video_seed,
                "annotations": [
                    {
                        "label": classes[c],
                        "label_id": c,
                        "segment": [s * to_s, e * to_s],
                        "segment(frames)": [s * to_s * cfg.fps, e * to_s * cfg.fps],
                    }
                    for c, s, e in actions
                ],
            }
    path = root / "annotations" / "thumos14.json"
    meta = {"generator": "streammem.data.synthetic_tal", "config": asdict(cfg), "classes": classes, "seed": seed}
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps({"version": "synthetic-1", "meta": meta, "database": database}, indent=1))
    return path
