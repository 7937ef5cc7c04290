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

from streammem.data.librispeech import long_form_sets, read_split
from streammem.evaluation.functional.speech import normalize_transcript

result = json.loads(Path(sys.argv[1]).read_text())
bucket = sys.argv[2] if len(sys.argv) > 2 else "5min"
data = Path(sys.argv[3] if len(sys.argv) > 3 else "runs/synth_speech")
BUCKETS = {"1min": 60.0, "2min": 120.0, "5min": 300.0}  # eval's default --buckets: ids count across all three
errors: dict[int, int] = {}
words: dict[int, int] = {}
for lf in (lf for lf in long_form_sets(read_split(data / "test-long"), BUCKETS) if lf.bucket == bucket):
    ref_words, minute_of = [], []
    start = 0.0
    for u in lf.utterances:
        w = normalize_transcript(u.text).split()
        ref_words += w
        minute_of += [int(start // 60)] * len(w)
        start += u.seconds
    hyp = normalize_transcript(result["hypotheses"][lf.id])
    out = jiwer.process_words(" ".join(ref_words), hyp)
    for m in minute_of:
        words[m] = words.get(m, 0) + 1
    for chunk in out.alignments[0]:
        if chunk.type in ("substitute", "delete"):
            for i in range(chunk.ref_start_idx, chunk.ref_end_idx):
                errors[minute_of[i]] = errors.get(minute_of[i], 0) + 1
        elif chunk.type == "insert":
            i = min(chunk.ref_start_idx, len(minute_of) - 1)
            errors[minute_of[i]] = errors.get(minute_of[i], 0) + chunk.hyp_end_idx - chunk.hyp_start_idx
print(f"{sys.argv[1]} ({bucket}): WER by minute of the recording")
for m in sorted(words):
    print(f"  minute {m + 1}: {100 * errors.get(m, 0) / words[m]:5.1f}  ({words[m]} words)")
