"""Batch scoring, calibration on validation normals, and evaluation of MemMC-MAE on an image split.

Legend: N images, C channels, S model input side, H/W image size.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from streammem.data.anomaly_images import AnomalyItem, load_image, load_mask
from streammem.evaluation.functional.anomaly import anomaly_metrics, f1_max_threshold
from streammem.models.memmc_mae.model import MemMCMAE

__all__ = ["load_batch", "score_images", "fit_calibration", "evaluate_items"]


def load_batch(items: Sequence[AnomalyItem], channels: int, size: int) -> torch.Tensor:
    """uint8 (N, C, S, S): the images read, converted to ``channels`` and resized to the model's input side."""
    arrays = []
    for item in items:
        img = load_image(item.path, channels)
        if img.shape[:2] != (size, size):
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA).reshape(size, size, channels)
        arrays.append(img)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


@torch.no_grad()
def score_images(model: MemMCMAE, images: torch.Tensor, batch_size: int = 64,
                 device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Raw scores (N,) and raw maps (N, H, W) of uint8 images (N, C, H, W), in batches on ``device``."""
    model.eval()
    scores, maps = [], []
    for lo in range(0, len(images), batch_size):
        score, amap = model.raw_scores(images[lo : lo + batch_size].to(device))
        scores.append(score.float().cpu())  # float32 when the model ran under autocast
        maps.append(amap.float().cpu())
    return torch.cat(scores).numpy(), torch.cat(maps).numpy()


def fit_calibration(model: MemMCMAE, scores: np.ndarray, maps: np.ndarray, labels: np.ndarray | None = None,
                    masks: np.ndarray | None = None, normal_quantile: float = 0.99) -> dict[str, float]:
    """Set the model's thresholds and min-max ranges from validation scores (anomalib's post-processor).

    With anomalies in the validation set (``labels``/``masks``), the thresholds maximise F1 (anomalib's
    ``F1AdaptiveThreshold``); with normals only, F1 is undefined and each threshold is the
    ``normal_quantile`` of the normal scores (pixels: of the normal images' pixels). The min-max range
    spans all validation scores. Returns the fitted values.
    """
    scores = np.asarray(scores, np.float64)
    maps = np.asarray(maps, np.float64)
    if labels is not None and 0 < np.sum(labels) < len(labels):
        image_thr = f1_max_threshold(np.asarray(labels), scores)
    else:
        image_thr = float(np.quantile(scores, normal_quantile))
    if masks is not None and 0 < np.sum(masks) < np.size(masks):
        pixel_thr = f1_max_threshold(np.asarray(masks).ravel(), maps.ravel())
    else:
        normal_maps = maps if labels is None else maps[np.asarray(labels) == 0]
        pixel_thr = float(np.quantile(normal_maps, normal_quantile))
    fitted = {
        "image_threshold": image_thr, "image_min": float(scores.min()), "image_max": float(scores.max()),
        "pixel_threshold": pixel_thr, "pixel_min": float(maps.min()), "pixel_max": float(maps.max()),
    }
    with torch.no_grad():
        model.image_threshold.fill_(image_thr)
        model.image_range.copy_(torch.tensor([fitted["image_min"], fitted["image_max"]]))
        model.pixel_threshold.fill_(pixel_thr)
        model.pixel_range.copy_(torch.tensor([fitted["pixel_min"], fitted["pixel_max"]]))
    return fitted


def evaluate_items(model: MemMCMAE, items: Sequence[AnomalyItem], batch_size: int = 64,
                   device: torch.device | str = "cpu") -> dict[str, float]:
    """Image metrics on ``items``, plus pixel metrics at the model's input size when every anomaly has a mask."""
    cfg = model.config
    images = load_batch(items, cfg.in_chans, cfg.image_size)
    scores, maps = score_images(model, images, batch_size, device)
    labels = np.array([item.label for item in items])
    with_masks = all(item.mask is not None for item in items if item.label == 1)
    masks = None
    if with_masks and any(item.mask is not None for item in items):
        masks = np.stack([_mask_at(item, cfg.image_size) for item in items])
    return anomaly_metrics(labels, scores, masks, maps if masks is not None else None)


def _mask_at(item: AnomalyItem, size: int) -> np.ndarray:
    """The item's mask resized (nearest) to the model input side; all False for normal images."""
    if item.mask is None:
        return np.zeros((size, size), bool)
    h, w = load_image(item.path, 1).shape[:2]
    mask = load_mask(item.mask, (h, w)).astype(np.uint8)
    return cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST).astype(bool)
