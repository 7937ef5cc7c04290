"""Synthetic multi-object tracking videos written in DanceTrack layout.

``{root}/{split}/<seq>/{img1/00000001.jpg, gt/gt.txt, seqinfo.ini}`` plus ``{root}/{split}_seqmap.txt``, so
:mod:`streammem.data.mot` and the tracking evaluator read them as they read DanceTrack.

By default every object is the same bright disc: identity cannot be kept from appearance. Objects curve (turn
rate random-walks), cross each other, pass behind occluding pillars for longer than a second, enter and leave
through the borders; the camera shakes and the sensor is noisy. Only motion and memory carry identity.
``tints`` with more than one colour gives the look-alike variant (DanceTrack's groups in one costume): each
object wears one of a few close tints, so with more objects than tints appearance narrows identity down but
never settles it. Small frames (160x120 by default) keep it learnable on a CPU.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from streammem.data.completion import generation
from streammem.errors import atomic_output

__all__ = ["LOOKALIKE_TINTS", "SyntheticMOTConfig", "render_sequence", "write_sequence", "write_split", "write_video"]


@dataclass(frozen=True)
class SyntheticMOTConfig:
    """Scene parameters. Sizes in pixels, speeds in pixels per frame, ``fps`` frames per second."""

    width: int = 160
    height: int = 120
    num_frames: int = 200
    fps: int = 10
    object_size: int = 14
    max_objects: int = 6
    min_objects: int = 3
    speed: tuple[float, float] = (1.2, 2.6)
    max_turn: float = 0.12  # rad per frame
    pillars: tuple[int, int] = (1, 2)
    pillar_width: tuple[int, int] = (30, 38)
    min_visibility: float = 0.3  # boxes less visible than this are not annotated
    noise: float = 6.0
    shake: float = 1.5
    tints: tuple[tuple[int, int, int], ...] = ((225, 215, 90),)  # RGB; one object wears one tint for life


LOOKALIKE_TINTS = ((225, 215, 90), (235, 160, 80), (170, 220, 120))  # yellow, orange, pale green


@dataclass
class _Object:
    track_id: int
    x: float
    y: float
    heading: float
    speed: float
    turn: float
    leaving_at: int
    tint: tuple[int, int, int]


def _spawn(rng: np.random.Generator, tint_rng: np.random.Generator, cfg: SyntheticMOTConfig, track_id: int,
           frame: int, inside: bool) -> _Object:
    """A new object: inside the frame (first frame) or just outside a border heading in; its tint comes from
    ``tint_rng``, so the tints never change the motion drawn from ``rng``."""
    s = cfg.object_size
    speed = float(rng.uniform(*cfg.speed))
    life = int(rng.integers(cfg.num_frames // 3, cfg.num_frames))
    if inside:
        x, y = rng.uniform(s, cfg.width - s), rng.uniform(s, cfg.height - s)
        heading = rng.uniform(-math.pi, math.pi)
    else:
        side = int(rng.integers(4))
        if side < 2:  # left / right
            x = -s / 2 + 1 if side == 0 else cfg.width + s / 2 - 1
            y = rng.uniform(s, cfg.height - s)
            heading = (0.0 if side == 0 else math.pi) + rng.uniform(-0.6, 0.6)
        else:  # top / bottom
            x = rng.uniform(s, cfg.width - s)
            y = -s / 2 + 1 if side == 2 else cfg.height + s / 2 - 1
            heading = (math.pi / 2 if side == 2 else -math.pi / 2) + rng.uniform(-0.6, 0.6)
    tint = cfg.tints[int(tint_rng.integers(len(cfg.tints)))]
    return _Object(track_id, float(x), float(y), float(heading), speed, float(rng.uniform(-0.05, 0.05)), frame + life,
                   tint)


def _background(rng: np.random.Generator, cfg: SyntheticMOTConfig, margin: int) -> np.ndarray:
    """A smooth random texture larger than the frame (the camera shakes over it)."""
    small = rng.uniform(40, 110, size=(6, 8, 3)).astype(np.float32)
    big = cv2.resize(small, (cfg.width + 2 * margin, cfg.height + 2 * margin), interpolation=cv2.INTER_CUBIC)
    return np.clip(big, 0, 255)


def render_sequence(cfg: SyntheticMOTConfig, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Render one sequence.

    Returns:
        frames: T RGB uint8 images (H, W, 3);
        gt: (N, 9) DanceTrack rows ``frame, id, x, y, w, h, 1, 1, visibility`` (1-based frames, ids from 1).
    """
    rng = np.random.default_rng(seed)
    tint_rng = np.random.default_rng([seed, 7])  # its own stream (see _spawn)
    w, h, s = cfg.width, cfg.height, cfg.object_size
    margin = int(math.ceil(cfg.shake * 4)) + 2
    background = _background(rng, cfg, margin)
    pillars = []
    count = int(rng.integers(cfg.pillars[0], cfg.pillars[1] + 1))
    for i in range(count):  # one pillar per vertical band, so pillars never merge into one wall
        pw = int(rng.integers(*cfg.pillar_width))
        lo, hi = i * w // count + 8, (i + 1) * w // count - pw - 8
        px = int(rng.integers(lo, max(hi, lo + 1)))
        top = 0 if rng.random() < 0.6 else int(rng.integers(0, h // 3))
        pillars.append((px, top, pw, h - top if rng.random() < 0.7 else int(rng.integers(h // 2, h - top))))
    pillar_mask = np.zeros((h, w), dtype=bool)
    for px, py, pw, ph in pillars:
        pillar_mask[py : py + ph, px : px + pw] = True
    next_id = 1
    objects = []
    for _ in range(int(rng.integers(cfg.min_objects, cfg.max_objects + 1))):
        objects.append(_spawn(rng, tint_rng, cfg, next_id, 0, inside=True))
        next_id += 1
    cam = np.zeros(2)
    frames: list[np.ndarray] = []
    rows: list[list[float]] = []
    disc = np.zeros((s, s), dtype=np.float32)
    cv2.circle(disc, (s // 2, s // 2), s // 2, 1.0, -1, lineType=cv2.LINE_AA)
    for t in range(cfg.num_frames):
        cam = np.clip(0.7 * cam + rng.normal(0, cfg.shake, 2), -margin + 1, margin - 1)
        ox, oy = margin + int(round(cam[0])), margin + int(round(cam[1]))
        image = background[oy : oy + h, ox : ox + w].copy()
        label = np.zeros((h, w), dtype=np.int32)  # which object owns each pixel (z-order = list order)
        for obj in objects:
            x0, y0 = int(round(obj.x - s / 2)), int(round(obj.y - s / 2))
            xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + s, w), min(y0 + s, h)
            if xa >= xb or ya >= yb:
                continue
            alpha = disc[ya - y0 : yb - y0, xa - x0 : xb - x0, None]
            image[ya:yb, xa:xb] = image[ya:yb, xa:xb] * (1 - alpha) + np.array(obj.tint) * alpha
            label[ya:yb, xa:xb][alpha[..., 0] > 0.5] = obj.track_id
        for px, py, pw, ph in pillars:
            image[py : py + ph, px : px + pw] = (60, 70, 150)
            image[py : py + ph : 6, px : px + pw] = (40, 50, 120)
        label[pillar_mask] = 0
        image = image * rng.uniform(0.9, 1.1) + rng.normal(0, cfg.noise, image.shape)
        frames.append(np.clip(image, 0, 255).astype(np.uint8))
        for obj in objects:
            x0, y0 = obj.x - s / 2, obj.y - s / 2
            xa, ya, xb, yb = max(x0, 0.0), max(y0, 0.0), min(x0 + s, w), min(y0 + s, h)
            if xa >= xb or ya >= yb:
                continue
            visible = float((label == obj.track_id).sum()) / float((disc > 0.5).sum())
            if visible >= cfg.min_visibility:
                rows.append([t + 1, obj.track_id, xa, ya, xb - xa, yb - ya, 1, 1, round(min(visible, 1.0), 3)])
        # move: curving paths, reflect off borders until the object's time to leave
        survivors = []
        for obj in objects:
            obj.turn = float(np.clip(obj.turn + rng.normal(0, 0.03), -cfg.max_turn, cfg.max_turn))
            if rng.random() < 0.02:
                obj.turn = -obj.turn
            obj.heading += obj.turn
            obj.speed = float(np.clip(obj.speed + rng.normal(0, 0.1), *cfg.speed))
            obj.x += obj.speed * math.cos(obj.heading)
            obj.y += obj.speed * math.sin(obj.heading)
            if t < obj.leaving_at:
                if not s / 2 <= obj.x <= w - s / 2:
                    obj.heading = math.pi - obj.heading
                    obj.x = float(np.clip(obj.x, s / 2, w - s / 2))
                if not s / 2 <= obj.y <= h - s / 2:
                    obj.heading = -obj.heading
                    obj.y = float(np.clip(obj.y, s / 2, h - s / 2))
            if -s < obj.x < w + s and -s < obj.y < h + s:
                survivors.append(obj)
        objects = survivors
        if len(objects) < cfg.max_objects and rng.random() < 0.04:
            objects.append(_spawn(rng, tint_rng, cfg, next_id, t, inside=False))
            next_id += 1
    gt = np.asarray(rows, dtype=np.float64).reshape(-1, 9)
    return frames, gt


def write_sequence(seq_dir: str | os.PathLike, cfg: SyntheticMOTConfig, seed: int) -> Path:
    """Render and write one sequence folder (img1/, gt/gt.txt, seqinfo.ini)."""
    seq_dir = Path(seq_dir)
    frames, gt = render_sequence(cfg, seed)
    (seq_dir / "img1").mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames, start=1):
        cv2.imwrite(str(seq_dir / "img1" / f"{i:08d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
    (seq_dir / "gt").mkdir(exist_ok=True)
    with atomic_output(seq_dir / "gt" / "gt.txt") as tmp, open(tmp, "w") as out:
        for r in gt:
            out.write(f"{int(r[0])},{int(r[1])},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},1,1,{r[8]:.3f}\n")
    with atomic_output(seq_dir / "seqinfo.ini") as tmp:
        tmp.write_text(
            f"[Sequence]\nname={seq_dir.name}\nimDir=img1\nframeRate={cfg.fps}\nseqLength={cfg.num_frames}\n"
            f"imWidth={cfg.width}\nimHeight={cfg.height}\nimExt=.jpg\n"
        )
    return seq_dir


def write_split(root: str | os.PathLike, split: str, seeds: list[int], cfg: SyntheticMOTConfig | None = None) -> list[str]:
    """Write one sequence per seed under ``root/split`` and the ``{split}_seqmap.txt``; returns the names."""
    cfg = cfg or SyntheticMOTConfig()
    root = Path(root)
    names = []
    (root / f"{split}_seqmap.txt").unlink(missing_ok=True)  # a stale seqmap must not pass for this split's
    with generation(root / split, "synthetic_mot", seeds=list(seeds), config=cfg):
        for seed in seeds:
            name = f"synth{seed:05d}"
            write_sequence(root / split / name, cfg, seed)
            names.append(name)
        with atomic_output(root / f"{split}_seqmap.txt") as tmp:
            tmp.write_text("name\n" + "".join(f"{n}\n" for n in names))
    return names


def write_video(path: str | os.PathLike, cfg: SyntheticMOTConfig, seed: int) -> Path:
    """Render one sequence into an mp4 (mp4v) file, e.g. the demo's bundled sample clip."""
    path = Path(path)
    frames, _ = render_sequence(cfg, seed)
    with atomic_output(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), cfg.fps, (cfg.width, cfg.height))
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m streammem.data.synthetic_mot ROOT --split val --seeds 5000-5007 [--lookalike]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m streammem.data.synthetic_mot", description=main.__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("--split", default="val")
    parser.add_argument("--seeds", required=True, help="FIRST-LAST (inclusive), e.g. 1000-1023")
    parser.add_argument("--lookalike", action="store_true",
                        help=f"objects wear one of {len(LOOKALIKE_TINTS)} close tints instead of one colour")
    args = parser.parse_args(argv)
    first, _, last = args.seeds.partition("-")
    seeds = list(range(int(first), int(last or first) + 1))
    cfg = SyntheticMOTConfig(tints=LOOKALIKE_TINTS) if args.lookalike else SyntheticMOTConfig()
    names = write_split(args.root, args.split, seeds, cfg)
    print(f"{len(names)} sequences written to {args.root / args.split}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
