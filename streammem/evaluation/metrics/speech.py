"""Speech recognition accumulator: corpus-pooled WER and CER."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streammem.evaluation.base import StreamMetric, unique_keys
from streammem.evaluation.functional.speech import error_rates

__all__ = ["SpeechMetric"]


class SpeechMetric(StreamMetric):
    """Each sample is one utterance: ``{"utterance": str, "reference": str, "hypothesis": str}``.
    ``compute_metrics`` returns WER, CER (percent) and the word-level error counts."""

    default_prefix = "asr"  # evaluate() reports "asr/<metric>"; compute_metrics() is unprefixed

    def stream_result(self, sample: Mapping[str, Any]) -> tuple[str, str, str]:
        return str(sample["utterance"]), str(sample["reference"]), str(sample["hypothesis"])

    def compute_metrics(self, results: list) -> dict[str, float]:
        unique_keys([utt for utt, _, _ in results], "utterance")
        scores = error_rates({u: r for u, r, _ in results}, {u: h for u, _, h in results})
        return {
            k: v for k, v in scores.items() if not isinstance(v, list)
        }  # id lists are empty: every sample is paired
