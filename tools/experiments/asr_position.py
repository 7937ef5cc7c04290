"""WER by minute inside long recordings: does the streaming model get worse the longer its memory runs?

Usage: python tools/experiments/asr_position.py EVAL_JSON [BUCKET=5min] [DATA=runs/synth_speech]
EVAL_JSON is a `streammem eval asr --mode streaming` output (it keeps the hypotheses). Each reference word
is placed in the minute where its utterance starts; jiwer's alignment gives its errors (substitution or
deletion of that word, insertions charged to the word after them).
"""
import json
import sys
from pathlib import Path

import jiwer
import numpy as np

from streammem.data.librispeech import long_form_sets, read_split
from streammem.evaluation.functional.speech import normalize_transcript

BUCKETS = {"1min": 60.0, "2min": 120.0, "5min": 300.0}  # eval's default --buckets: ids count across all three


def per_word_errors(ref_words: list[str], hyp: str) -> np.ndarray:
    """Errors charged to each reference word (substitution/deletion of it, insertions before it)."""
    errors = np.zeros(len(ref_words))
    out = jiwer.process_words(" ".join(ref_words), normalize_transcript(hyp))
    for chunk in out.alignments[0]:
        if chunk.type in ("substitute", "delete"):
            errors[chunk.ref_start_idx : chunk.ref_end_idx] += 1
        elif chunk.type == "insert":
            errors[min(chunk.ref_start_idx, len(ref_words) - 1)] += chunk.hyp_end_idx - chunk.hyp_start_idx
    return errors


def main(argv: list[str]) -> int:
    result = json.loads(Path(argv[0]).read_text())
    bucket = argv[1] if len(argv) > 1 else "5min"
    data = Path(argv[2] if len(argv) > 2 else "runs/synth_speech")
    errors: dict[int, float] = {}
    words: dict[int, int] = {}
    for lf in (lf for lf in long_form_sets(read_split(data / "test-long"), BUCKETS) if lf.bucket == bucket):
        ref_words, minute_of = [], []
        start = 0.0
        for u in lf.utterances:
            w = normalize_transcript(u.text).split()
            ref_words += w
            minute_of += [int(start // 60)] * len(w)
            start += u.seconds
        for m, e in zip(minute_of, per_word_errors(ref_words, result["hypotheses"][lf.id]), strict=True):
            words[m] = words.get(m, 0) + 1
            errors[m] = errors.get(m, 0) + e
    print(f"{argv[0]} ({bucket}): WER by minute of the recording")
    for m in sorted(words):
        print(f"  minute {m + 1}: {100 * errors.get(m, 0) / words[m]:5.1f}  ({words[m]} words)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
