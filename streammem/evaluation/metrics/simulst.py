"""Simultaneous speech translation accumulator: corpus BLEU and SimulEval 1.1 latencies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streammem.evaluation.base import StreamMetric, unique_keys
from streammem.evaluation.functional.simulst import SimulInstance, simulst_scores

__all__ = ["SimulSTMetric"]


class SimulSTMetric(StreamMetric):
    """Each sample is one segment: ``{"segment": str, "prediction": str, "delays": [ms], "elapsed": [ms],
    "source_length": ms, "reference": str}`` (``elapsed`` optional). ``compute_metrics`` returns BLEU and
    AL, LAAL, DAL, AP (and their ``_CA`` variants when every segment has elapsed times)."""

    default_prefix = "simulst"

    def stream_result(self, sample: Mapping[str, Any]) -> tuple[str, SimulInstance]:
        instance = SimulInstance(
            str(sample["prediction"]), [float(d) for d in sample["delays"]], float(sample["source_length"]),
            str(sample["reference"]), [float(e) for e in sample.get("elapsed") or []],
        )
        return str(sample["segment"]), instance

    def compute_metrics(self, results: list) -> dict[str, float]:
        unique_keys([key for key, _ in results], "segment")
        return simulst_scores([instance for _, instance in sorted(results, key=lambda r: r[0])])
