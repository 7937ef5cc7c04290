"""Anomaly-detection metrics, as percentages 0-100: image AUROC / AUPRC / F1-max, pixel AUROC, AUPRO.

Curves come from scikit-learn. AUPRO follows the MVTec AD protocol (Bergmann et al., IJCV 2021) as anomalib
computes it since v2.3: connected components (8-connected) of every ground-truth mask are the regions; one
threshold sweep over all pixels; x = false-positive rate over normal pixels, y = per-region overlap averaged
over regions; the curve is cut at FPR 0.3 (interpolated) and its area divided by 0.3, so 100 is perfect.
AUPRO is written by hand because no kept library (scikit-learn, torchmetrics) has it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

__all__ = ["anomaly_metrics", "image_metrics", "pixel_metrics", "aupro", "f1_max", "f1_max_threshold"]

_EIGHT_CONNECTED = np.ones((3, 3), dtype=int)


def _f1_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.clip(precision + recall, 1e-12, None)
    return f1[:-1], thresholds  # the last point (recall 0) has no threshold


def f1_max(labels: np.ndarray, scores: np.ndarray) -> float:
    """The best F1 over all thresholds (anomalib's F1Max), 0-1."""
    f1, _ = _f1_curve(np.asarray(labels), np.asarray(scores))
    return float(f1.max())


def f1_max_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold (predict anomalous at >= threshold) that maximises F1 (anomalib's F1AdaptiveThreshold)."""
    f1, thresholds = _f1_curve(np.asarray(labels), np.asarray(scores))
    return float(thresholds[int(np.argmax(f1))])


def _check_both_classes(labels: np.ndarray, what: str) -> None:
    if labels.size == 0 or labels.min() == labels.max():
        raise ValueError(f"{what} needs both normal and anomalous samples")


def image_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """``image_AUROC``, ``image_AUPRC`` (average precision) and ``F1_max`` of image scores; labels 1 = anomalous."""
    labels = np.asarray(labels).astype(int).ravel()
    scores = np.asarray(scores, np.float64).ravel()
    _check_both_classes(labels, "image metrics")
    return {
        "image_AUROC": 100.0 * roc_auc_score(labels, scores),
        "image_AUPRC": 100.0 * average_precision_score(labels, scores),
        "F1_max": 100.0 * f1_max(labels, scores),
    }


def _flat_pixels(masks: Sequence[np.ndarray], maps: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Check per-image shapes; returns (the masks as bool arrays, all map pixels pooled in one vector)."""
    if len(masks) != len(maps):
        raise ValueError(f"{len(masks)} masks but {len(maps)} maps")
    masks = [np.asarray(m, bool) for m in masks]
    maps = [np.asarray(a, np.float64) for a in maps]
    for i, (m, a) in enumerate(zip(masks, maps, strict=True)):
        if m.shape != a.shape:
            raise ValueError(f"image {i}: mask {m.shape} and map {a.shape} differ in shape")
    return masks, np.concatenate([a.ravel() for a in maps])


def aupro(masks: Sequence[np.ndarray], maps: Sequence[np.ndarray], fpr_limit: float = 0.3) -> float:
    """Normalised area under the per-region-overlap curve up to ``fpr_limit``, 0-1.

    masks: N ground-truth masks (H_i, W_i) bool (an (N, H, W) array works too); maps: N pixel-score maps.
    """
    masks, scores = _flat_pixels(masks, maps)
    regions, next_id = [], 0
    for mask in masks:
        labelled, count = ndimage.label(mask, structure=_EIGHT_CONNECTED)
        regions.append(np.where(labelled > 0, labelled + next_id, 0).ravel())
        next_id += count
    regions = np.concatenate(regions)
    if next_id == 0 or (regions > 0).all():
        raise ValueError("AUPRO needs anomalous regions and normal pixels")
    sizes = np.bincount(regions, minlength=next_id + 1)
    # Per pixel: its share of the mean overlap (1 / (R * region size)) or of the FPR (1 / normal pixels).
    overlap_share = np.where(regions > 0, 1.0 / (next_id * sizes[regions]), 0.0)
    fp_share = np.where(regions == 0, 1.0 / sizes[0], 0.0)
    order = np.argsort(-scores, kind="stable")
    fpr = np.cumsum(fp_share[order])
    pro = np.cumsum(overlap_share[order])
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores[order])), scores.size - 1]  # one point per threshold
    fpr = np.r_[0.0, fpr[last_of_tie]]
    pro = np.r_[0.0, pro[last_of_tie]]
    cut = np.searchsorted(fpr, fpr_limit, side="right")
    x = np.r_[fpr[:cut], fpr_limit]
    y = np.r_[pro[:cut], np.interp(fpr_limit, fpr, pro)]
    return float(np.trapezoid(y, x) / fpr_limit)


def pixel_metrics(masks: Sequence[np.ndarray], maps: Sequence[np.ndarray]) -> dict[str, float]:
    """``pixel_AUROC`` over all pixels of all images pooled, and ``AUPRO`` (FPR limit 0.3, normalised).

    Images may differ in size: masks and maps are sequences of per-image (H_i, W_i) arrays.
    """
    flat_masks, scores = _flat_pixels(masks, maps)
    truth = np.concatenate([m.ravel() for m in flat_masks]).astype(int)
    _check_both_classes(truth, "pixel metrics")
    return {"pixel_AUROC": 100.0 * roc_auc_score(truth, scores), "AUPRO": 100.0 * aupro(flat_masks, maps)}


def anomaly_metrics(labels: np.ndarray, scores: np.ndarray, masks: Sequence[np.ndarray] | None = None,
                    maps: Sequence[np.ndarray] | None = None) -> dict[str, float]:
    """Image metrics, plus pixel metrics when masks and maps are given (keys as :func:`image_metrics`,
    :func:`pixel_metrics`)."""
    out = image_metrics(labels, scores)
    if masks is not None and maps is not None:
        out.update(pixel_metrics(masks, maps))
    return out
