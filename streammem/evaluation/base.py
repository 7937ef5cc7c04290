"""The evaluator interface every task shares, on mmengine's ``BaseMetric``.

``process(data_batch, data_samples)`` turns each finished stream (a sequence, video or utterance) into a
picklable per-stream result and appends it to ``self.results``; ``evaluate(size)`` gathers the results of
all ranks (mmengine's ``collect_results``) and calls ``compute_metrics(results)``, which hands them to the
pure functions in :mod:`streammem.evaluation.functional`. Splitting the streams across processes therefore
gives exactly the numbers one process gives.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from mmengine.evaluator import BaseMetric

__all__ = ["StreamMetric", "unique_keys"]


class StreamMetric(BaseMetric):
    """One accumulator per task: per-stream results in, one flat metrics dict out (percent 0-100)."""

    def process(self, data_batch: Any, data_samples: Sequence[Mapping[str, Any]]) -> None:
        """Append one result per stream; ``data_batch`` is unused (samples carry prediction and ground truth)."""
        for sample in data_samples:
            self.results.append(self.stream_result(sample))

    @abstractmethod
    def stream_result(self, sample: Mapping[str, Any]) -> Any:
        """The per-stream result to gather: small, picklable, sufficient for ``compute_metrics``."""

    @abstractmethod
    def compute_metrics(self, results: list) -> dict[str, float]:
        """Metrics over all gathered per-stream results."""


def unique_keys(keys: Sequence[str], what: str) -> None:
    """Raise if a stream was processed twice (two ranks given the same stream would double-count it)."""
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"{what} {key!r} was processed more than once")
        seen.add(key)
