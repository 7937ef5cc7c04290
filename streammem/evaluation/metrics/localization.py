"""Temporal action localization accumulator: mAP@tIoU (and latency when emission times are given)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streammem.evaluation.base import StreamMetric, unique_keys
from streammem.evaluation.functional.localization import THUMOS_TIOU_THRESHOLDS, localization_map

__all__ = ["LocalizationMetric"]


class LocalizationMetric(StreamMetric):
    """Each sample is one finished video: ``{"video": str, "ground_truth": [{"label", "start", "end"}],
    "predictions": [{"label", "start", "end", "score"[, "emitted_at"]}]}`` (seconds)."""

    default_prefix = "tal"  # evaluate() reports "tal/<metric>"; compute_metrics() is unprefixed

    def __init__(self, tiou_thresholds: Sequence[float] = THUMOS_TIOU_THRESHOLDS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tiou_thresholds = tuple(float(t) for t in tiou_thresholds)

    def stream_result(self, sample: Mapping[str, Any]) -> tuple[str, list[dict], list[dict]]:
        video = str(sample["video"])
        gt = [{**item, "video": video} for item in sample["ground_truth"]]
        pred = [{**item, "video": video} for item in sample["predictions"]]
        return video, gt, pred

    def compute_metrics(self, results: list) -> dict[str, float]:
        unique_keys([video for video, _, _ in results], "video")
        gt = [item for _, items, _ in results for item in items]
        pred = [item for _, _, items in results for item in items]
        return localization_map(gt, pred, self.tiou_thresholds)
