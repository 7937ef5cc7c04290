"""Speech recognition error rates: WER and CER with jiwer 4, pooled over the corpus (not averaged per utterance).

Both sides get LibriSpeech-style normalisation (LibriSpeech references are upper case without punctuation
except apostrophes): case-fold, turn punctuation other than apostrophes into spaces, collapse whitespace.
An utterance without a hypothesis counts as all deletions; a hypothesis without a reference counts as all
insertions; both are listed so a partial run is never mistaken for a complete one.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import jiwer

__all__ = ["normalize_transcript", "error_rates", "error_rates_by_bucket", "length_buckets"]

_NORMALIZE = [
    jiwer.ToLowerCase(),
    jiwer.SubstituteRegexes(
        {r"[\u2018\u2019]": "'", r"[^\w\s']|_": " "}
    ),  # curly apostrophes stay apostrophes
    jiwer.RemoveMultipleSpaces(),
    jiwer.Strip(),
]
_WORDS = jiwer.Compose([*_NORMALIZE, jiwer.ReduceToListOfListOfWords()])
_CHARACTERS = jiwer.Compose([*_NORMALIZE, jiwer.ReduceToListOfListOfChars()])


def normalize_transcript(text: str) -> str:
    """The normalised form both references and hypotheses are scored in."""
    return jiwer.Compose(_NORMALIZE)(text)


def error_rates(references: Mapping[str, str], hypotheses: Mapping[str, str]) -> dict[str, Any]:
    """Corpus WER and CER (percent, 0-100) of hypotheses against references, keyed by utterance id.

    Returns ``WER``, ``CER``, the word-level ``substitutions``, ``deletions``, ``insertions``, ``hits``
    (integers), and the sorted id lists ``missing_hypotheses`` and ``extra_hypotheses``.
    """
    ids = sorted(set(references) | set(hypotheses))
    if not ids:
        raise ValueError("no utterances to score")
    refs = [references.get(i, "") for i in ids]
    hyps = [hypotheses.get(i, "") for i in ids]
    words = jiwer.process_words(refs, hyps, reference_transform=_WORDS, hypothesis_transform=_WORDS)
    chars = jiwer.process_characters(
        refs, hyps, reference_transform=_CHARACTERS, hypothesis_transform=_CHARACTERS
    )
    return {
        "WER": 100 * float(words.wer),
        "CER": 100 * float(chars.cer),
        "substitutions": int(words.substitutions),
        "deletions": int(words.deletions),
        "insertions": int(words.insertions),
        "hits": int(words.hits),
        "missing_hypotheses": sorted(set(references) - set(hypotheses)),
        "extra_hypotheses": sorted(set(hypotheses) - set(references)),
    }


def error_rates_by_bucket(
    references: Mapping[str, str], hypotheses: Mapping[str, str], buckets: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """:func:`error_rates` per bucket, in the order buckets first appear in ``buckets`` (id -> label).

    Every reference id needs a bucket. Hypotheses without a reference belong to no bucket and are left out
    here; :func:`error_rates` on the whole set reports them.
    """
    unassigned = sorted(set(references) - set(buckets))
    if unassigned:
        raise ValueError(f"utterances without a bucket: {', '.join(unassigned[:5])}")
    labels = [
        label for label in dict.fromkeys(buckets.values()) if any(buckets[i] == label for i in references)
    ]
    result = {}
    for label in labels:
        ids = [i for i in references if buckets[i] == label]
        result[label] = error_rates(
            {i: references[i] for i in ids}, {i: hypotheses[i] for i in ids if i in hypotheses}
        )
    return result


def length_buckets(
    lengths: Mapping[str, float], edges: Sequence[float] = (30, 60, 120, 300)
) -> dict[str, str]:
    """Label each id by its length interval, e.g. edges (30, 60) give ``<30``, ``30-60``, ``>=60``.

    The returned mapping is ordered by length, so :func:`error_rates_by_bucket` lists buckets shortest first.
    """
    edges = sorted(edges)
    labels = (
        [f"<{edges[0]:g}"] + [f"{a:g}-{b:g}" for a, b in itertools.pairwise(edges)] + [f">={edges[-1]:g}"]
    )
    return {i: labels[sum(lengths[i] >= e for e in edges)] for i in sorted(lengths, key=lengths.__getitem__)}
