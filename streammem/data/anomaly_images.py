"""What every anomaly-detection layout reader returns, and the checked image and mask loaders they share.

A split is a list of :class:`AnomalyItem` (image path, label 0 normal / 1 anomalous, defect name, optional
mask path). Loading checks what users get wrong: unreadable or truncated files, masks whose size differs
from their image, and images of another channel count than the rest (converted, never silently mixed up).
"""

from __future__ import annotations

import os
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from streammem.errors import InputError

__all__ = ["AnomalyItem", "AnomalySplit", "IMAGE_SUFFIXES", "list_images", "load_image", "load_mask", "mask_for", "open_image",
           "name_order", "stem_matches"]

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class AnomalyItem:
    """One image: ``label`` 0 normal, 1 anomalous; ``mask`` the ground-truth pixel mask, if the layout has one."""

    path: Path
    label: int
    defect: str = "good"
    mask: Path | None = None


@dataclass
class AnomalySplit:
    """Training normals and the labelled test images of one dataset or category."""

    name: str
    train: list[AnomalyItem]
    test: list[AnomalyItem]
    has_masks: bool = field(default=False)

    def __post_init__(self) -> None:
        self.has_masks = any(item.mask is not None for item in self.test)


def list_images(folder: Path, what: str = "image folder") -> list[Path]:
    """Sorted image files directly in ``folder``; a missing or image-less folder is an InputError."""
    if not folder.is_dir():
        raise InputError(folder, f"{what} not found")
    files = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), key=name_order)
    if not files:
        raise InputError(folder, f"{what} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def name_order(path: Path) -> tuple[str, str]:
    """Sort key of a folder's entries: by name in Unicode NFC, so the order (and a seeded hold-out drawn from
    it) does not depend on how the file system stores accented names."""
    return _nfc(path.name), path.name


def stem_matches(image: Path, mask: Path) -> bool:
    """anomalib's rule: the mask's stem contains the image's stem. Compared in Unicode NFC, so a name stored
    decomposed (as macOS writes it, ``e`` + combining accent) matches its composed twin."""
    return _nfc(image.stem) in _nfc(mask.stem)


def mask_for(image: Path, mask_files: Iterable[Path]) -> Path | None:
    """The mask whose stem contains the image's stem (:func:`stem_matches`), an exact ``<stem>`` or
    ``<stem>_mask`` (MVTec) first."""
    matches = [m for m in mask_files if stem_matches(image, m)]
    exact = [m for m in matches if _nfc(m.stem) in (_nfc(image.stem), _nfc(f"{image.stem}_mask"))]
    return (exact or matches or [None])[0]


def open_image(path: Path) -> Image.Image:
    """The decoded image; a header claiming more than PIL's ``MAX_IMAGE_PIXELS`` (89 M) is refused before any
    pixel memory is allocated (PIL itself only warns below twice that and raises a non-OSError above)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()  # decodes now, so a truncated file fails here and not later
                return img.copy()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(path, f"image header claims more than {Image.MAX_IMAGE_PIXELS:,} pixels (refused as a "
                         "decompression bomb)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise InputError(path, f"unreadable or truncated image ({err})") from None


def load_image(path: str | os.PathLike, channels: int) -> np.ndarray:
    """uint8 (H, W, channels) with channels 1 (grey) or 3 (RGB); other modes (palette, RGBA, 16-bit) converted."""
    path = Path(path)
    img = open_image(path)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        img = Image.fromarray((arr / top * 255.0).round().astype(np.uint8))
    img = img.convert("L" if channels == 1 else "RGB")
    arr = np.array(img, dtype=np.uint8)  # a writable copy (torch.from_numpy warns on read-only arrays)
    return arr[..., None] if channels == 1 else arr


def load_mask(path: str | os.PathLike, size: tuple[int, int]) -> np.ndarray:
    """Binary mask (H, W) bool; ``size`` (H, W) must be its image's size (an InputError names both)."""
    path = Path(path)
    arr = np.asarray(open_image(path).convert("L"))
    if arr.shape != tuple(size):
        raise InputError(path, f"mask is {arr.shape[1]}x{arr.shape[0]} but its image is {size[1]}x{size[0]}")
    return arr > 127
