"""Does the recogniser keep a chapter's spelling convention? Spelled words of a spelling-corpus evaluation.

Usage: python tools/experiments/asr_spelling.py EVAL_JSON [DATA=runs/synth_speech_spelling]
EVAL_JSON is a `streammem eval asr --data DATA` output (it keeps the hypotheses). Every reference word with
two spellings (COLOUR / COLOR ...) is aligned to the hypothesis with jiwer and counted as: right spelling,
the other convention's spelling (the error only a memory of the chapter can avoid), or another error.
Per bucket (`one by one`: test-long's utterances decoded separately, `--split test-long --long-split ""`),
per minute of the long-form recordings (a word counts in the minute its utterance starts), and the
utterances scored on their own split by their chapter's convention.
"""
import json
import sys
from pathlib import Path

from streammem.data.librispeech import long_form_sets, read_split
from streammem.data.synthetic_speech_spelling import chapter_conventions, spelled_word, spelling_verdicts
from streammem.evaluation.functional.speech import normalize_transcript

BUCKETS = {"1min": 60.0, "2min": 120.0, "5min": 300.0}  # eval's default --buckets: ids count across all three


def main(argv: list[str]) -> int:
    result = json.loads(Path(argv[0]).read_text())
    data = Path(argv[1] if len(argv) > 1 else "runs/synth_speech_spelling")
    hyps = result["hypotheses"]
    counts: dict[str, dict[str, int]] = {}
    by_minute: dict[int, dict[str, int]] = {}
    by_convention: dict[str, dict[str, int]] = {}

    def add(table: dict, key, verdicts: list[str]) -> None:
        row = table.setdefault(key, {"right": 0, "other": 0, "error": 0})
        for v in verdicts:
            row[v] += 1

    conventions = chapter_conventions(data)
    for split, label in (("test", "short"), ("test-long", "one by one")):  # utterances scored on their own
        for u in read_split(data / split):
            if u.id in hyps:
                verdicts = spelling_verdicts(u.text, hyps[u.id])
                add(counts, label, verdicts)
                add(by_convention, f"{label}, {conventions[f'{u.speaker}-{u.chapter}']} chapters", verdicts)
    for lf in long_form_sets(read_split(data / "test-long"), BUCKETS):
        if lf.id not in hyps:
            continue
        verdicts = spelling_verdicts(" ".join(u.text for u in lf.utterances), hyps[lf.id])
        add(counts, lf.bucket, verdicts)
        start, k = 0.0, 0
        for u in lf.utterances:  # the spelled words of each utterance, in order
            n = sum(spelled_word(w) for w in normalize_transcript(u.text).split())
            add(by_minute, int(start // 60), verdicts[k:k + n])
            k, start = k + n, start + u.seconds
    print(f"{argv[0]}: spelled words, % right spelling / % other convention's spelling / % other error")
    rows = [*counts.items(), *((f"minute {m + 1}", by_minute[m]) for m in sorted(by_minute)), *sorted(by_convention.items())]
    for key, row in rows:
        n = sum(row.values())
        print(f"  {key:>9}: {n:5d} words ({row['right']} right, {row['other']} other)  right {100 * row['right'] / n:5.1f}  other convention "
              f"{100 * row['other'] / n:5.1f}  other error {100 * row['error'] / n:5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
