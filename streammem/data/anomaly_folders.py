"""Folder layouts other than MVTec AD: anomalib's ``Folder`` convention and the medical sets MemMC-MAE uses.

- :func:`read_folder`: anomalib ``Folder(normal_dir, abnormal_dir, normal_test_dir, mask_dir)``. Without a
  ``normal_test_dir`` a seeded ``test_split_ratio`` of the normals moves to the test set (anomalib's
  ``FROM_DIR`` fallback). A mask's stem must contain its image's stem.
- :func:`read_hyper_kvasir`: the Hyper-Kvasir anomaly split of CCD (Tian et al., MICCAI 2021):
  ``train_set/`` normals, ``test_set/normal_test/`` and ``test_set/abnormal_test/``; no masks.
- :func:`read_chest_xray`: class folders ``<split>/NORMAL`` and ``<split>/PNEUMONIA`` (the ZhangLab /
  Kermany layout; any other class folder besides ``NORMAL`` is anomalous); train on ``train/NORMAL``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from streammem.data.anomaly_images import (
    AnomalyItem,
    AnomalySplit,
    list_images,
    mask_for,
    name_order,
    stem_matches,
)
from streammem.errors import InputError

__all__ = ["read_folder", "read_hyper_kvasir", "read_chest_xray"]


def read_folder(root: str | os.PathLike, normal_dir: str, abnormal_dir: str, normal_test_dir: str | None = None,
                mask_dir: str | None = None, test_split_ratio: float = 0.2, seed: int = 0) -> AnomalySplit:
    """anomalib ``Folder``: sub-folders of ``root`` by name. Errors name the folder or file at fault."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "dataset folder not found")
    normals = list_images(root / normal_dir, "normal folder")
    abnormal = list_images(root / abnormal_dir, "abnormal folder")
    if normal_test_dir is not None:
        train = normals
        normal_test = list_images(root / normal_test_dir, "normal test folder")
    else:
        order = np.random.default_rng(seed).permutation(len(normals))
        count = int(round(test_split_ratio * len(normals)))
        if count < 1 or count >= len(normals):
            raise InputError(root / normal_dir, f"too few normal images ({len(normals)}) to hold out {test_split_ratio:.0%} for testing")
        held = set(order[:count].tolist())
        train = [p for i, p in enumerate(normals) if i not in held]
        normal_test = [p for i, p in enumerate(normals) if i in held]
    masks = list_images(root / mask_dir, "mask folder") if mask_dir is not None else []
    for mask in masks:
        if not any(stem_matches(img, mask) for img in abnormal):
            raise InputError(mask, f"mask has no matching image in {root / abnormal_dir}")
    test = [AnomalyItem(p, 0) for p in normal_test]
    for img in abnormal:
        mask = mask_for(img, masks) if masks else None
        if masks and mask is None:
            raise InputError(img, f"no mask for this image in {root / mask_dir}")
        test.append(AnomalyItem(img, 1, Path(abnormal_dir).name, mask))
    return AnomalySplit(root.name, [AnomalyItem(p, 0) for p in train], test)


def read_hyper_kvasir(root: str | os.PathLike) -> AnomalySplit:
    """Hyper-Kvasir anomaly split (``train_set``, ``test_set/normal_test``, ``test_set/abnormal_test``)."""
    return read_folder(root, "train_set", "test_set/abnormal_test", normal_test_dir="test_set/normal_test")


def read_chest_xray(root: str | os.PathLike, test_split: str = "test") -> AnomalySplit:
    """Chest X-ray class folders: train on ``train/NORMAL``; test on every class folder of ``test_split``."""
    root = Path(root)
    train = list_images(root / "train" / "NORMAL", "normal training folder")
    test_root = root / test_split
    if not test_root.is_dir():
        raise InputError(test_root, "test split folder not found")
    classes = sorted((p for p in test_root.iterdir() if p.is_dir()), key=name_order)
    if not any(c.name == "NORMAL" for c in classes) or len(classes) < 2:
        raise InputError(test_root, "expected a NORMAL folder and at least one abnormal class folder")
    test = [AnomalyItem(p, int(c.name != "NORMAL"), "good" if c.name == "NORMAL" else c.name.lower())
            for c in classes for p in list_images(c, "class folder")]
    return AnomalySplit(root.name, [AnomalyItem(p, 0) for p in train], test)
