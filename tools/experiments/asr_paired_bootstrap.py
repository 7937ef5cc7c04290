"""Is one streaming model's WER really lower than another's? Paired bootstrap over utterances, per bucket.

Usage: python tools/experiments/asr_paired_bootstrap.py EVAL_A EVAL_B [DATA=runs/synth_speech] [N=10000]
EVAL_A/B are `streammem eval asr` outputs on the same data (they keep the hypotheses). In a long-form
recording each reference word belongs to the utterance it was spoken in; jiwer's alignment charges every
error to a word (insertions to the word after them; asr_position.per_word_errors), so errors
add up per utterance and the bucket's WER is unchanged. Utterances are resampled with replacement, the
same ones for A and B (paired); the 95 % interval is the 2.5th-97.5th percentile of WER(A) - WER(B).
Utterances inside one recording are not independent (the memory runs through them), so the intervals of
the long buckets are, if anything, too narrow.
"""

import json
import sys
from pathlib import Path

import numpy as np
from asr_position import BUCKETS, per_word_errors  # same folder: the per-word error charging

from streammem.data.librispeech import long_form_sets, read_split
from streammem.evaluation.functional.speech import normalize_transcript


def per_utterance(result: dict, data: Path) -> dict[str, list[tuple[float, int]]]:
    """bucket -> [(errors, words)] per utterance, in a fixed order."""
    hyps = result["hypotheses"]
    out: dict[str, list[tuple[float, int]]] = {"short": []}
    for u in read_split(data / "test"):
        ref = normalize_transcript(u.text).split()
        out["short"].append((float(per_word_errors(ref, hyps[u.id]).sum()), len(ref)))
    for lf in long_form_sets(read_split(data / "test-long"), BUCKETS):
        if lf.id not in hyps:
            continue
        refs = [normalize_transcript(u.text).split() for u in lf.utterances]
        errors = per_word_errors([w for r in refs for w in r], hyps[lf.id])
        start = 0
        for r in refs:
            out.setdefault(lf.bucket, []).append((float(errors[start : start + len(r)].sum()), len(r)))
            start += len(r)
    return out


def main(argv: list[str]) -> int:
    a, b = (json.loads(Path(p).read_text()) for p in argv[:2])
    data = Path(argv[2]) if len(argv) > 2 else Path("runs/synth_speech")
    n = int(argv[3]) if len(argv) > 3 else 10_000
    ua, ub = per_utterance(a, data), per_utterance(b, data)
    rng = np.random.default_rng(0)
    print(f"A = {argv[0]}\nB = {argv[1]}")
    print("| bucket | utterances | WER A | WER B | A - B | 95 % interval |\n|---|---|---|---|---|---|")
    for bucket in ua:
        ea, wa = np.array(ua[bucket]).T
        eb, _ = np.array(ub[bucket]).T
        idx = rng.integers(0, len(ea), size=(n, len(ea)))
        diff = 100 * (ea[idx].sum(1) - eb[idx].sum(1)) / wa[idx].sum(1)
        lo, hi = np.percentile(diff, [2.5, 97.5])
        wer_a, wer_b = 100 * ea.sum() / wa.sum(), 100 * eb.sum() / wa.sum()
        print(f"| {bucket} | {len(ea)} | {wer_a:.2f} | {wer_b:.2f} | {wer_a - wer_b:+.2f} | {lo:+.2f} .. {hi:+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
