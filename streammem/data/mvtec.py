"""MVTec AD layout reader: ``<category>/train/good``, ``test/<defect>``, ``ground_truth/<defect>/<stem>_mask.png``.

``test/good`` holds the normal test images; every other ``test/<defect>`` folder is anomalous, and its masks
(when ``ground_truth/<defect>`` exists) must match an image each. The synthetic sets of
:mod:`streammem.data.synthetic_anomaly` are written in this layout, so one reader serves both.
"""

from __future__ import annotations

import os
from pathlib import Path

from streammem.data.anomaly_images import (
    AnomalyItem,
    AnomalySplit,
    list_images,
    mask_for,
    name_order,
    stem_matches,
)
from streammem.errors import InputError

__all__ = ["read_mvtec", "mvtec_categories"]


def mvtec_categories(root: str | os.PathLike) -> list[str]:
    """Category folders under ``root`` (those with a ``train`` folder), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "dataset folder not found")
    return sorted(p.name for p in root.iterdir() if (p / "train").is_dir())


def read_mvtec(category_dir: str | os.PathLike) -> AnomalySplit:
    """Read one category. Errors (one line, naming the path): no ``train/good``, an empty folder, a mask
    with no matching image, an anomalous image without a mask when its defect has masks."""
    cat = Path(category_dir)
    if not cat.is_dir():
        raise InputError(cat, "category folder not found")
    good = cat / "train" / "good"
    if not good.is_dir():
        raise InputError(cat, "not an MVTec AD category: 'train/good' is missing")
    train = [AnomalyItem(p, 0) for p in list_images(good, "training folder")]
    test_root = cat / "test"
    if not test_root.is_dir():
        raise InputError(cat, "not an MVTec AD category: 'test' is missing")
    test: list[AnomalyItem] = []
    for defect_dir in sorted((p for p in test_root.iterdir() if p.is_dir()), key=name_order):
        defect = defect_dir.name
        images = list_images(defect_dir, "test folder")
        masks_dir = cat / "ground_truth" / defect
        masks = list_images(masks_dir, "mask folder") if defect != "good" and masks_dir.is_dir() else []
        for mask in masks:
            if not any(stem_matches(img, mask) for img in images):
                raise InputError(mask, f"mask has no matching image in {defect_dir}")
        for img in images:
            mask = mask_for(img, masks) if masks else None
            if masks and mask is None:
                raise InputError(img, f"no mask for this image in {masks_dir}")
            test.append(AnomalyItem(img, 0 if defect == "good" else 1, defect, mask))
    if not test:
        raise InputError(test_root, "no test images")
    return AnomalySplit(cat.name, train, test)
