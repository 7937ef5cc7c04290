"""Anomaly-detection data made here, written in the MVTec AD layout so :mod:`streammem.data.mvtec` reads it.

Two sets:

1. **Digits one-class protocol** (``digits_<d>`` categories): scikit-learn's 8x8 digit images, upsampled to
   32x32 grey PNGs. Digit d is normal: 80% of its images train (``train/good``), the other 20% are
   ``test/good``; the same held-out 20% of every other digit are the anomalies (``test/digit_<k>``). No
   masks (image-level only), as in the MNIST one-class protocol MemAE reports.

2. **Textures with injected defects** (``texture`` category): 64x64 colour images of a woven pattern (two
   crossed gratings of fixed period, random phase and contrast, sensor noise); test images carry one defect
   each, with its pixel mask in ``ground_truth/<defect>/<stem>_mask.png``:
   ``scratch`` (a thin bright straight line), ``stain`` (a dark smooth blob), ``missing`` (a square of flat
   background where the weave is gone) and ``foreign`` (a square of another weave: other period and angle).

   Why a memory-less autoencoder reconstructs these defects too well (MemAE's identity-mapping problem):
   every defect is *locally simple and self-similar* (flat, straight, smooth or periodic) and spans several
   8x8 patches. A masked autoencoder learns on the weave to "continue what the visible neighbours show";
   with 75% masking some patches of a defect stay visible and the masked ones are interpolated from them,
   so the defect is repainted with low error. Only a prior that pulls every token toward the normal weave
   (the encoder memory) makes the repainting fail. The demo clip (:func:`write_texture_clip`) slides the
   weave and lets a stain grow in the middle of the clip.

   Measured (``docs/anomaly.md``): with one fixed weave the trap does not close. Every variant, with or
   without memory, learns the weave exactly and flags every defect. ``period_jitter`` / ``angle_jitter``
   (the ``texture_varied`` set) give each image its own weave. The network must then read the weave from
   the visible patches, which is where the repainting happens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from streammem.errors import atomic_output

__all__ = [
    "TextureConfig", "DEFECTS", "render_texture", "inject_defect", "write_digits", "write_textures",
    "write_texture_clip", "write_demo_samples",
]

DEFECTS: tuple[str, ...] = ("scratch", "stain", "missing", "foreign")


@dataclass(frozen=True)
class TextureConfig:
    """Texture set sizes; the weave's period (pixels) and tint are shared by every normal image."""

    size: int = 64
    period: float = 8.0
    tint: tuple[float, float, float] = (0.85, 0.7, 0.5)
    noise: float = 0.03
    train: int = 240
    test_good: int = 40
    test_per_defect: int = 20
    period_jitter: float = 0.0  # each image's period drawn from period * (1 +- jitter)
    angle_jitter: float = 0.0  # each image's weave rotated by up to +- this many degrees


def _write_png(path: Path, image: np.ndarray) -> None:
    """uint8 (H, W) grey or (H, W, 3) RGB -> PNG, atomically."""
    with atomic_output(path) as tmp:
        bgr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        ok, data = cv2.imencode(".png", bgr)
        if not ok:
            raise OSError(f"could not encode {path}")
        tmp.write_bytes(data.tobytes())


# ------------------------------------------------------------------------------------------------ digits
def write_digits(root: str | os.PathLike, normal_digits: tuple[int, ...] = tuple(range(10)), seed: int = 0,
                 size: int = 32) -> list[Path]:
    """Write one ``digits_<d>`` category per normal digit under ``root``; returns the category folders."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0 * 255.0).clip(0, 255).astype(np.uint8)
    rng = np.random.default_rng(seed)
    held_out: dict[int, np.ndarray] = {}
    train: dict[int, np.ndarray] = {}
    for d in range(10):
        idx = rng.permutation(np.flatnonzero(digits.target == d))
        cut = int(round(0.8 * len(idx)))
        train[d], held_out[d] = idx[:cut], idx[cut:]

    def upsample(i: int) -> np.ndarray:
        return cv2.resize(images[i], (size, size), interpolation=cv2.INTER_LINEAR)

    out = []
    for d in normal_digits:
        cat = Path(root) / f"digits_{d}"
        for i in train[d]:
            _write_png(cat / "train" / "good" / f"{i:04d}.png", upsample(i))
        for k in range(10):
            folder = "good" if k == d else f"digit_{k}"
            for i in held_out[k]:
                _write_png(cat / "test" / folder / f"{i:04d}.png", upsample(i))
        out.append(cat)
    return out


# ---------------------------------------------------------------------------------------------- textures
def _weave(size: int, period: float, angle: float, phase: tuple[float, float], shift: float = 0.0) -> np.ndarray:
    """Two crossed gratings at ``angle`` and ``angle + 90`` degrees, values in [0, 1], (size, size)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    x = x + shift
    a = np.deg2rad(angle)
    u = x * np.cos(a) + y * np.sin(a)
    v = -x * np.sin(a) + y * np.cos(a)
    k = 2 * np.pi / period
    return 0.5 + 0.25 * np.sin(k * u + phase[0]) + 0.25 * np.sin(k * v + phase[1])


def render_texture(cfg: TextureConfig, rng: np.random.Generator, shift: float = 0.0) -> np.ndarray:
    """One normal image, float (H, W, 3) in [0, 1]: the tinted weave with random phase, contrast and noise."""
    phase = (rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi))
    period = cfg.period * (1 + rng.uniform(-cfg.period_jitter, cfg.period_jitter)) if cfg.period_jitter else cfg.period
    angle = rng.uniform(-cfg.angle_jitter, cfg.angle_jitter) if cfg.angle_jitter else 0.0
    grey = _weave(cfg.size, period, angle, phase, shift)
    grey = 0.5 + (grey - 0.5) * rng.uniform(0.8, 1.0)
    rgb = grey[..., None] * np.asarray(cfg.tint)[None, None, :]
    return np.clip(rgb + rng.normal(0.0, cfg.noise, rgb.shape), 0.0, 1.0)


def _disc_mask(size: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def inject_defect(image: np.ndarray, kind: str, cfg: TextureConfig, rng: np.random.Generator,
                  strength: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Paint defect ``kind`` on ``image`` (H, W, 3) float; returns (new image, mask (H, W) bool).

    ``strength`` in [0, 1] scales the defect's extent and contrast (the demo clip grows a stain with it).
    """
    s = cfg.size
    out = image.copy()
    if kind == "scratch":
        mask = np.zeros((s, s), np.uint8)
        length = rng.uniform(0.4, 0.7) * s * max(strength, 0.05)
        cy, cx, a = rng.uniform(0.3 * s, 0.7 * s), rng.uniform(0.3 * s, 0.7 * s), rng.uniform(0, np.pi)
        dy, dx = np.sin(a) * length / 2, np.cos(a) * length / 2
        cv2.line(mask, (int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy)), 1, thickness=2)
        mask = mask.astype(bool)
        out[mask] = np.clip(0.95 * strength + out[mask] * (1 - strength), 0, 1)
    elif kind == "stain":
        r = rng.uniform(0.1, 0.17) * s * max(strength, 0.05)
        cy, cx = rng.uniform(0.3 * s, 0.7 * s, size=2)
        mask = _disc_mask(s, cy, cx, r, r * rng.uniform(0.7, 1.3))
        y, x = np.mgrid[0:s, 0:s]
        fade = np.exp(-(((y - cy) ** 2 + (x - cx) ** 2) / (2 * r**2)))[..., None]
        dark = out * (1 - 0.7 * strength * fade)
        out = np.where(mask[..., None], dark, out)
    elif kind in ("missing", "foreign"):
        w = int(rng.uniform(0.2, 0.3) * s * max(strength, 0.05)) + 1
        y0, x0 = rng.integers(0, s - w, size=2)
        mask = np.zeros((s, s), bool)
        mask[y0 : y0 + w, x0 : x0 + w] = True
        if kind == "missing":
            fill = np.full_like(out, 0.5) * np.asarray(cfg.tint)
        else:
            other = _weave(s, cfg.period * rng.uniform(1.6, 2.2), rng.uniform(25, 65), (0.0, 0.0))
            fill = other[..., None] * np.asarray(cfg.tint)[None, None, :]
        out = np.where(mask[..., None], fill + rng.normal(0, cfg.noise, out.shape), out)
    else:
        raise ValueError(f"unknown defect '{kind}' (known: {', '.join(DEFECTS)})")
    return np.clip(out, 0, 1), mask


def _u8(image: np.ndarray) -> np.ndarray:
    return (image * 255.0 + 0.5).astype(np.uint8)


def write_textures(root: str | os.PathLike, cfg: TextureConfig | None = None, seed: int = 0,
                   name: str = "texture") -> Path:
    """Write the category ``name`` (train/good, test/good, test/<defect>, ground_truth/<defect>)."""
    cfg = cfg or TextureConfig()
    rng = np.random.default_rng(seed)
    cat = Path(root) / name
    for i in range(cfg.train):
        _write_png(cat / "train" / "good" / f"{i:03d}.png", _u8(render_texture(cfg, rng)))
    for i in range(cfg.test_good):
        _write_png(cat / "test" / "good" / f"{i:03d}.png", _u8(render_texture(cfg, rng)))
    for kind in DEFECTS:
        for i in range(cfg.test_per_defect):
            image, mask = inject_defect(render_texture(cfg, rng), kind, cfg, rng)
            _write_png(cat / "test" / kind / f"{i:03d}.png", _u8(image))
            _write_png(cat / "ground_truth" / kind / f"{i:03d}_mask.png", mask.astype(np.uint8) * 255)
    return cat


def write_texture_clip(path: str | os.PathLike, cfg: TextureConfig | None = None, seed: int = 0,
                       frames: int = 40, fps: float = 8.0) -> np.ndarray:
    """A short mp4 of the weave sliding sideways; a stain appears at the middle frame and grows.

    Returns the per-frame ground truth (frames,) bool: True where the stain is visible.
    """
    from streammem.data.synthetic_tal_video import write_clip

    cfg = cfg or TextureConfig()
    rng = np.random.default_rng(seed)
    phase_rng_state = rng.bit_generator.state
    defect_rng = np.random.default_rng(seed + 1)
    defect_state = defect_rng.bit_generator.state
    video, truth = [], []
    start = frames // 2
    for t in range(frames):
        rng.bit_generator.state = phase_rng_state  # same phase and contrast every frame; only the shift moves
        image = render_texture(cfg, rng, shift=0.5 * t)
        if t >= start:
            defect_rng.bit_generator.state = defect_state  # the same stain, larger each frame
            image, _ = inject_defect(image, "stain", cfg, defect_rng, strength=min(1.0, 0.4 + 0.1 * (t - start)))
        video.append(_u8(image))
        truth.append(t >= start)
    write_clip(path, np.stack(video), fps)
    return np.asarray(truth)


def write_demo_samples(images_dir: str | os.PathLike, clip_path: str | os.PathLike, seed: int = 0,
                       normal_digit: int = 0) -> list[Path]:
    """The bundled demo inputs: 3 normal and 3 anomalous digit images (test split of ``digits_<normal_digit>``,
    so never trained on) and the texture clip. Returns the image paths."""
    import tempfile

    images_dir = Path(images_dir)
    with tempfile.TemporaryDirectory() as tmp:
        (cat,) = write_digits(tmp, (normal_digit,), seed=seed)
        normals = sorted((cat / "test" / "good").glob("*.png"))[:3]
        others = [d for d in range(10) if d != normal_digit][::3]
        anomalies = [sorted((cat / "test" / f"digit_{d}").glob("*.png"))[0] for d in others]
        written = []
        for i, src in enumerate(normals):
            written.append(images_dir / f"normal_{i}.png")
            _write_png(written[-1], cv2.imread(str(src), cv2.IMREAD_GRAYSCALE))
        for d, src in zip(others, anomalies, strict=True):
            written.append(images_dir / f"anomaly_digit{d}.png")
            _write_png(written[-1], cv2.imread(str(src), cv2.IMREAD_GRAYSCALE))
    write_texture_clip(clip_path, seed=seed)
    return written
