"""Anomaly-detection accumulator: image AUROC / AUPRC / F1-max, and pixel AUROC / AUPRO where masks exist."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from streammem.evaluation.base import StreamMetric, unique_keys
from streammem.evaluation.functional.anomaly import anomaly_metrics

__all__ = ["AnomalyMetric"]


class AnomalyMetric(StreamMetric):
    """Each sample is one image (or one video frame): ``{"image": str, "label": 0|1, "score": float}``, plus
    ``"anomaly_map"`` (H, W) and ``"mask"`` (H, W) bool for pixel metrics. Pixel metrics are computed only
    when every sample carries both (a normal image's mask is all False)."""

    default_prefix = "anomaly"

    def stream_result(self, sample: Mapping[str, Any]) -> tuple[str, int, float, np.ndarray | None, np.ndarray | None]:
        amap = sample.get("anomaly_map")
        mask = sample.get("mask")
        if (amap is None) != (mask is None):
            raise ValueError(f"image {sample['image']!r}: give both 'anomaly_map' and 'mask' or neither")
        if amap is not None:
            amap, mask = np.asarray(amap, np.float32), np.asarray(mask, bool)
            if amap.shape != mask.shape:
                raise ValueError(f"image {sample['image']!r}: anomaly_map {amap.shape} and mask {mask.shape} differ")
        return str(sample["image"]), int(sample["label"]), float(sample["score"]), amap, mask

    def compute_metrics(self, results: list) -> dict[str, float]:
        unique_keys([image for image, *_ in results], "image")
        labels = np.array([label for _, label, _, _, _ in results])
        scores = np.array([score for _, _, score, _, _ in results])
        if all(amap is not None for *_, amap, _ in results):
            maps = [amap for *_, amap, _ in results]
            masks = [mask for *_, mask in results]
            return anomaly_metrics(labels, scores, masks, maps)
        return anomaly_metrics(labels, scores)
