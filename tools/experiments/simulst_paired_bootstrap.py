"""Is one SimulST setting's BLEU really higher than another's? sacreBLEU's paired bootstrap over segments.

  python tools/experiments/simulst_paired_bootstrap.py BASELINE.log OTHER.log [OTHER2.log ...] [--samples 1000]

Each log is a SimulEval instances log (JSON lines with ``prediction`` and ``reference``) of the same segments in
the same order, e.g. from ``simulst_eval.py --instances``. For each other log: BLEU of both, the paired bootstrap
p-value of the difference (sacreBLEU's ``--paired-bs``: segments resampled with replacement, the same ones for
both systems) and the bootstrap mean and 95 % interval of the other system's BLEU, plus how many segments'
translations differ at all.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest


def read_log(path: Path) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["prediction"] for r in rows], [r["reference"] for r in rows]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("baseline", type=Path)
    p.add_argument("others", type=Path, nargs="+")
    p.add_argument("--samples", type=int, default=1000)
    a = p.parse_args(argv)
    base, refs = read_log(a.baseline)
    for other in a.others:
        hyps, other_refs = read_log(other)
        if other_refs != refs:
            raise SystemExit(f"{other}: not the same segments as {a.baseline}")
        test = PairedTest([(a.baseline.name, base), (other.name, hyps)], {"BLEU": BLEU()}, [refs], test_type="bs",
                          n_samples=a.samples)
        _, results = test()
        b, o = results["BLEU"]
        changed = sum(x != y for x, y in zip(base, hyps, strict=True))
        print(json.dumps({"baseline": a.baseline.name, "other": other.name, "BLEU_baseline": round(b.score, 2),
                          "BLEU_other": round(o.score, 2), "delta": round(o.score - b.score, 2),
                          "p_value": o.p_value, "other_mean": round(o.mean, 2), "other_ci95": round(o.ci, 2),
                          "segments_changed": changed, "segments": len(refs)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
