"""Tracking accumulator: HOTA/DetA/AssA/MOTA/IDF1/IDSW over whole sequences."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streammem.evaluation.base import StreamMetric, unique_keys
from streammem.evaluation.functional.tracking import sequence_statistics, tracking_table

__all__ = ["TrackingMetric"]


class TrackingMetric(StreamMetric):
    """Each sample is one finished sequence: ``{"sequence": str, "num_frames": int, "gt": MotBoxes,
    "pred": MotBoxes}``. Per-sequence TrackEval statistics are computed where the sequence ran and
    gathered; ``compute_metrics`` returns the COMBINED row (TrackEval's combination)."""

    default_prefix = "track"  # evaluate() reports "track/<metric>"; compute_metrics() is unprefixed

    def stream_result(self, sample: Mapping[str, Any]) -> tuple[str, dict]:
        name = str(sample["sequence"])
        return name, sequence_statistics(sample["gt"], sample["pred"], int(sample["num_frames"]), name)

    def compute_metrics(self, results: list) -> dict[str, float]:
        unique_keys([name for name, _ in results], "sequence")
        return tracking_table(dict(results))["COMBINED"]
