"""Rendered-video variant of the synthetic TAL set: procedural clips a frame encoder must learn to read.

Layout written (features come later, from a trained frame encoder; see ``streammem train tal --stage encoder``)::

    root/annotations/thumos14.json   same schema as :mod:`streammem.data.synthetic_tal` (subsets Validation, Test)
    root/videos/<video>.mp4          H x W RGB at ``fps`` frames/s (OpenCV, mp4v)
    root/labels/<video>.npy          (N,) int64 per-frame label: 0 background, 1 action middle, 2 + k cue of class k
    root/features/<video>.npy        (T, F) written by the feature extraction, ``feature_rate`` per second

Design, as in the feature generator (whose timing :func:`~streammem.data.synthetic_tal.synthetic_video` is
reused): background (a textured noise image with camera jitter and brightness drift) between actions; an
action shows a class-specific cue (a coloured shape per class) only during its first ``id_frames`` features
(0.75 s at 4/s), then one class-agnostic "action in progress" pattern (a bright moving blob) until it ends.
Durations range from well under to several times MATR's segment, so long actions need memory.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from streammem.data.completion import generation
from streammem.data.synthetic_tal import CLASSES, SyntheticTALConfig, synthetic_video
from streammem.errors import atomic_output

__all__ = ["VideoTALConfig", "render_video", "frame_labels", "write_clip", "write_sample_clip", "generate_synthetic_tal_video",
           "BACKGROUND", "MIDDLE"]

BACKGROUND, MIDDLE = 0, 1  # per-frame labels; cue of class k is 2 + k


@dataclass
class VideoTALConfig:
    """Rendering knobs; ``timing`` holds the shared action-timing config (feature units, 4 features/s)."""

    timing: SyntheticTALConfig = field(default_factory=SyntheticTALConfig)
    fps: float = 8.0
    size: int = 64  # square frame side, pixels
    jitter: int = 2  # camera shake, pixels
    pixel_noise: float = 3.0  # per-frame noise std (0-255 scale)

    @property
    def frames_per_feature(self) -> int:
        return int(round(self.fps / self.timing.feature_rate))


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth coloured noise texture (size, size, 3) float in [40, 160]."""
    coarse = rng.uniform(0, 1, (size // 8 + 2, size // 8 + 2, 3))
    import cv2

    big = cv2.resize(coarse, (size + 16, size + 16), interpolation=cv2.INTER_CUBIC)
    return 40 + 120 * np.clip(big, 0, 1)


def _cue(frame: np.ndarray, label: int, cx: int, cy: int) -> None:
    """Draw class ``label``'s cue (a coloured shape) centred at (cx, cy) in place."""
    import cv2

    colours = [(230, 30, 30), (30, 220, 30), (40, 60, 240), (240, 220, 20), (220, 30, 220), (20, 220, 220),
               (250, 130, 0), (120, 60, 20)]
    colour = colours[label % len(colours)]
    r = 11
    if label == 0:
        cv2.rectangle(frame, (cx - r, cy - r), (cx + r, cy + r), colour, -1)
    elif label == 1:
        cv2.circle(frame, (cx, cy), r, colour, -1)
    elif label == 2:
        cv2.fillPoly(frame, [np.array([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], np.int32)], colour)
    elif label == 3:
        for dy in (-r, -r // 3, r // 3):
            cv2.rectangle(frame, (cx - r, cy + dy), (cx + r, cy + dy + 4), colour, -1)
    elif label == 4:
        cv2.line(frame, (cx - r, cy - r), (cx + r, cy + r), colour, 5)
        cv2.line(frame, (cx - r, cy + r), (cx + r, cy - r), colour, 5)
    else:
        cv2.circle(frame, (cx, cy), r, colour, 4)


def render_video(cfg: VideoTALConfig, seed: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Frames (N, H, W, 3) uint8 RGB and actions [(class, start, end)] in feature indices (end exclusive).

    The actions (and the length) are exactly those of ``synthetic_video(cfg.timing, seed)``.
    """
    feats, actions = synthetic_video(cfg.timing, seed)
    per = cfg.frames_per_feature
    n, size = len(feats) * per, cfg.size
    rng = np.random.default_rng([seed, 1])
    texture = _background(rng, size)
    labels = frame_labels(cfg, n, actions)
    frames = np.empty((n, size, size, 3), np.uint8)
    shift = np.zeros(2)
    phase = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size]
    cue_at = {}  # action index -> cue position, one per action
    blob = np.zeros(2)
    for i in range(n):
        shift = np.clip(shift + rng.normal(0, 0.7, 2), -cfg.jitter, cfg.jitter)
        dx, dy = (int(round(s)) + 8 for s in shift)
        brightness = 1.0 + 0.15 * np.sin(phase + 2 * np.pi * i / (cfg.fps * 20))
        img = texture[dy : dy + size, dx : dx + size] * brightness
        t = i // per
        k = next((j for j, (_, s, e) in enumerate(actions) if s <= t < e), None)
        if k is not None:
            c, s, _ = actions[k]
            if i == s * per:
                blob = rng.uniform(16, size - 16, 2)
            blob = np.clip(blob + rng.normal(0, 3.0, 2), 10, size - 10)
            spot = np.exp(-((xx - blob[0]) ** 2 + (yy - blob[1]) ** 2) / (2 * 6.0**2))
            img = img + 170 * spot[..., None]
        img = np.clip(img + rng.normal(0, cfg.pixel_noise, img.shape), 0, 255).astype(np.uint8)
        if labels[i] >= 2:
            cx, cy = cue_at.setdefault(k, tuple(int(v) for v in rng.integers(14, size - 14, 2)))
            _cue(img, labels[i] - 2, cx, cy)
        frames[i] = img
    return frames, actions


def frame_labels(cfg: VideoTALConfig, num_frames: int, actions: list[tuple[int, int, int]]) -> np.ndarray:
    """(N,) label per frame: 0 background, 1 action middle, 2 + class during the first ``id_frames`` features."""
    per = cfg.frames_per_feature
    labels = np.full(num_frames, BACKGROUND, np.int64)
    for c, s, e in actions:
        labels[s * per : e * per] = MIDDLE
        labels[s * per : (s + min(cfg.timing.id_frames, e - s)) * per] = 2 + c
    return labels


def write_clip(path: str | Path, frames: np.ndarray, fps: float) -> None:
    """Write RGB frames (N, H, W, 3) as an mp4v ``.mp4`` file, atomically."""
    import cv2

    path = Path(path)
    with atomic_output(path) as tmp:
        mp4 = tmp.with_suffix(".mp4")  # OpenCV picks the container from the suffix
        writer = cv2.VideoWriter(str(mp4), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frames.shape[2], frames.shape[1]))
        try:
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
        mp4.replace(tmp)


def _entry(cfg: VideoTALConfig, subset: str, seed: int, num_features: int, actions, classes: list[str]) -> dict:
    to_s = 1.0 / cfg.timing.feature_rate
    return {
        "subset": subset, "duration": num_features * to_s, "fps": cfg.fps, "seed": seed,
        "annotations": [
            {"label": classes[c], "label_id": c, "segment": [s * to_s, e * to_s],
             "segment(frames)": [s * to_s * cfg.fps, e * to_s * cfg.fps]}
            for c, s, e in actions
        ],
    }


def _annotation_json(cfg: VideoTALConfig, database: dict, seed: int) -> str:
    classes = list(CLASSES[: cfg.timing.num_classes])
    config = asdict(cfg.timing) | {k: v for k, v in asdict(cfg).items() if k != "timing"}
    meta = {"generator": "streammem.data.synthetic_tal_video", "config": config, "classes": classes, "seed": seed}
    return json.dumps({"version": "synthetic-video-1", "meta": meta, "database": database}, indent=1)


def generate_synthetic_tal_video(
    root: str | Path, num_train: int = 96, num_test: int = 24, seed: int = 0, cfg: VideoTALConfig | None = None
) -> Path:
    """Write ``num_train`` ("Validation") and ``num_test`` ("Test") clips with labels and annotations.

    Video i of a subset uses seed ``(seed * 2 + subset) * 1_000_003 + i`` as the feature generator does:
    train and test never share one. Returns the annotation JSON path.
    """
    cfg = cfg or VideoTALConfig()
    with generation(root, "synthetic_tal_video", num_train=num_train, num_test=num_test, seed=seed, config=cfg) as root:
        return _write_synthetic_tal_video(root, num_train, num_test, seed, cfg)


def _write_synthetic_tal_video(root: Path, num_train: int, num_test: int, seed: int, cfg: VideoTALConfig) -> Path:
    from streammem.progress import progress

    classes = list(CLASSES[: cfg.timing.num_classes])
    database: dict[str, dict] = {}
    jobs = [(subset_id, subset, i) for subset_id, (subset, count) in enumerate((("Validation", num_train), ("Test", num_test)))
            for i in range(count)]
    for subset_id, subset, i in progress(jobs, total=len(jobs), desc="render tal videos", unit="video"):
        video_seed = (seed * 2 + subset_id) * 1_000_003 + i
        frames, actions = render_video(cfg, video_seed)
        name = f"rendered_{subset.lower()}_{i:04d}"
        write_clip(root / "videos" / f"{name}.mp4", frames, cfg.fps)
        with atomic_output(root / "labels" / f"{name}.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, frame_labels(cfg, len(frames), actions))
        database[name] = _entry(cfg, subset, video_seed, len(frames) // cfg.frames_per_feature, actions, classes)
    path = root / "annotations" / "thumos14.json"
    with atomic_output(path) as tmp:
        tmp.write_text(_annotation_json(cfg, database, seed))
    return path


def write_sample_clip(path: str | Path, seed: int, cfg: VideoTALConfig | None = None, subset: str = "Test") -> Path:
    """One clip ``path`` (``.mp4``) with its ground truth beside it (``.json``, same schema); returns the JSON."""
    cfg = cfg or VideoTALConfig()
    path = Path(path)
    frames, actions = render_video(cfg, seed)
    write_clip(path, frames, cfg.fps)
    classes = list(CLASSES[: cfg.timing.num_classes])
    entry = _entry(cfg, subset, seed, len(frames) // cfg.frames_per_feature, actions, classes)
    with atomic_output(path.with_suffix(".json")) as tmp:
        tmp.write_text(_annotation_json(cfg, {path.stem: entry}, seed))
    return path.with_suffix(".json")
