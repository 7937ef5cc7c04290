"""BLEU and latency of an AMT SimulST checkpoint on a MuST-C-layout split, for several wait-k and with
Shiftable Context on and off, plus how often the German pronoun of a pronoun segment is right (what the
memory is for, see streammem.data.synthetic_simulst).

  python tools/experiments/simulst_eval.py WEIGHTS CORPUS --k 1 3 5 7 --json OUT.json

Each segment is translated after listening to its talk from the previous segment's start (as in training).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from streammem.checkpoints import load_metadata, load_weights
from streammem.data.mustc import read_split
from streammem.data.synthetic_simulst import pronoun_accuracy
from streammem.evaluation.functional.simulst import simulst_scores
from streammem.models import build_model
from streammem.models.amt_simulst.decoding import translate_segments


def evaluate(model, segments, k: int, shift: bool | str, context_seconds: float) -> tuple[dict, list]:
    """``shift``: shift center and right on (True, the shipped default), every shift off (False), only
    ``"center"`` / ``"right"`` / ``"left"``, or ``"all"`` three."""
    model.wait_k = k
    model.shift_center = shift in (True, "center", "all")
    model.shift_right = shift in (True, "right", "all")
    model.shift_left = shift in ("left", "all")
    instances = translate_segments(model, segments, context_seconds)
    scores = simulst_scores(instances)
    scores["pronoun_accuracy"], scores["pronoun_segments"] = pronoun_accuracy(
        [s.source for s in segments], [s.target for s in segments], [i.prediction for i in instances])
    return scores, instances


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("weights", type=Path)
    p.add_argument("corpus", type=Path)
    p.add_argument("--split", default="tst-COMMON")
    p.add_argument("--k", type=int, nargs="+", default=[1, 3, 5, 7])
    p.add_argument("--shift", choices=("both", "on", "off", "center", "right", "left", "all"), default="both",
                   help="on: shift center and right (the default at inference); both: on and off; center/right/left: "
                   "only that shift; all: center, right and left")
    p.add_argument("--limit", type=int, default=0, help="first N segments only")
    p.add_argument("--context-seconds", type=float, default=2.0)
    p.add_argument("--json", type=Path)
    p.add_argument("--examples", type=int, default=0, help="print this many translations")
    p.add_argument("--instances", type=Path, help="folder for one SimulEval instances log per setting "
                   "(instances_k<k>_<shift>.log), e.g. for a paired bootstrap between settings")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    model = build_model("amt_simulst", load_metadata(a.weights)["config"])
    load_weights(model, a.weights, expect_model="amt_simulst")
    model.eval()
    segments = read_split(a.corpus, a.split)
    segments = segments[: a.limit] if a.limit else segments
    results = []
    for shift in {"both": (True, False), "on": (True,), "off": (False,), "center": ("center",),
                  "right": ("right",), "left": ("left",), "all": ("all",)}[a.shift]:
        for k in a.k:
            scores, instances = evaluate(model, segments, k, shift, a.context_seconds)
            row = {"k": k, "shiftable_context": shift, **{key: round(v, 2) if isinstance(v, float) else v
                                                          for key, v in scores.items()}}
            results.append(row)
            print(json.dumps(row), flush=True)
            if a.instances:
                a.instances.mkdir(parents=True, exist_ok=True)
                name = {True: "on", False: "off"}.get(shift, shift)
                (a.instances / f"instances_k{k}_{name}.log").write_text("".join(
                    json.dumps({"index": i, "prediction": ins.prediction, "delays": ins.delays,
                                "elapsed": ins.elapsed, "source_length": ins.source_length,
                                "reference": ins.reference}) + "\n" for i, ins in enumerate(instances)))
            for ins in instances[: a.examples]:
                print(f"  REF {ins.reference}\n  HYP {ins.prediction}  {ins.delays}")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"weights": str(a.weights), "split": a.split, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
