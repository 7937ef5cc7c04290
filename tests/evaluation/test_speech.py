"""WER/CER: counts worked by hand, LibriSpeech-style normalisation, missing and extra utterances, buckets."""

from __future__ import annotations

import pytest

from streammem.evaluation.functional.speech import (
    error_rates,
    error_rates_by_bucket,
    length_buckets,
    normalize_transcript,
)


def _counts(result):
    return result["hits"], result["substitutions"], result["deletions"], result["insertions"]


def test_wer_and_cer_by_hand_with_normalisation():
    refs = {"u1": "THE CAT SAT", "u2": "HELLO WORLD"}
    hyps = {"u1": "The cat, sat.", "u2": "hello"}
    result = error_rates(refs, hyps)
    # Words: u1 3 hits after normalisation; u2 1 hit + 1 deletion -> WER = 1 / 5.
    assert result["WER"] == pytest.approx(20.0)
    assert _counts(result) == (4, 0, 1, 0)
    # Characters: "the cat sat" (11) and "hello world" (11); u2 loses " world" (6) -> CER = 6 / 22.
    assert result["CER"] == pytest.approx(100 * 6 / 22)
    assert result["missing_hypotheses"] == [] and result["extra_hypotheses"] == []


def test_missing_utterance_counts_as_deletions_and_extra_as_insertions():
    refs = {"u1": "a b c", "u2": "good morning"}
    hyps = {"u1": "a x c", "stray": "noise here"}
    result = error_rates(refs, hyps)
    # u1: 1 substitution; u2 missing: 2 deletions; "stray": 2 insertions. WER = (1 + 2 + 2) / 5 words.
    assert _counts(result) == (2, 1, 2, 2)
    assert result["WER"] == pytest.approx(100.0)
    assert result["missing_hypotheses"] == ["u2"]
    assert result["extra_hypotheses"] == ["stray"]


def test_pooled_not_averaged_per_utterance():
    # Per-utterance mean would be (100% + 0%) / 2 = 50%; pooled: 1 error over 5 words.
    result = error_rates(
        {"short": "yes", "long": "one two three four"}, {"short": "no", "long": "one two three four"}
    )
    assert result["WER"] == pytest.approx(20.0)


def test_normalisation_keeps_apostrophes_and_splits_on_other_punctuation():
    assert normalize_transcript("  Don\u2019t  STOP -- well-known!  ") == "don't stop well known"
    assert error_rates({"u": "DON'T"}, {"u": "dont"})["substitutions"] == 1
    assert error_rates({"u": "WELL KNOWN"}, {"u": "well-known"})["WER"] == 0.0


def test_buckets():
    lengths = {"a": 10.0, "b": 45.0, "c": 400.0, "d": 50.0}
    buckets = length_buckets(lengths, edges=(30, 60, 300))
    assert buckets == {"a": "<30", "b": "30-60", "d": "30-60", "c": ">=300"}
    assert list(buckets) == ["a", "b", "d", "c"]  # length order
    refs = {"a": "x y", "b": "p q", "d": "r s", "c": "m n"}
    hyps = {"a": "x y", "b": "p", "d": "r s", "c": "m n"}
    per = error_rates_by_bucket(refs, hyps, buckets)
    assert list(per) == ["<30", "30-60", ">=300"]
    assert per["30-60"]["WER"] == pytest.approx(25.0) and per["<30"]["WER"] == 0.0
    with pytest.raises(ValueError, match="without a bucket"):
        error_rates_by_bucket({**refs, "e": "z"}, hyps, buckets)
