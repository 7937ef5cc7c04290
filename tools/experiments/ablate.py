"""The clean memory ablation of one task: memory variants trained alike over seeds, scored on the same test items.

Usage: python tools/experiments/ablate.py TASK [--seeds 0 1 2] [--variants queue none] [--iterations N]
                                          [--out runs/ablate/TASK] [--resamples 1000]

Every variant is the same model config with only ``memory=<variant>`` changed (MATR's ``none`` keeps the
queue length, start head and decoding range and never writes), trained by ``streammem train TASK --set
memory=<variant> --seed <seed>`` on the same data with the same schedule, then scored by ``streammem eval
TASK`` on the same test items. Written under ``--out``: per run a folder ``<variant>_s<seed>/`` with the
weights, training log, eval folder and the test predictions by item (``predictions_by_item.json``; a run whose
predictions exist is not retrained, so an interrupted protocol resumes), then ``table.json`` and ``table.md``:
per variant the mean and sample standard deviation over seeds of each metric, and for every variant against
the first the paired difference of the seed-mean metric with a 95 % bootstrap interval over test items
(items resampled with replacement, the same resample for both variants and every seed).

Tasks: ``tal`` (MATR tiny on the synthetic feature set, Validation -> Test). Relative paths are taken from
the repository root, whatever the working directory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

METRICS = {"tal": ("mAP_avg", "mAP@0.5")}


@dataclass
class Run:
    """One trained variant x seed: its predictions on the test items, grouped by item."""

    variant: str
    seed: int
    predictions: dict[str, list[dict]]


# ------------------------------------------------------------------------------------------------- tal
def train_tal(variant: str, seed: int, iterations: int, out: Path) -> dict[str, list[dict]]:
    """``streammem train tal --set memory=VARIANT --seed SEED`` then ``streammem eval tal`` on the Test subset,
    both writing under the run's folder ``out``; returns the Test predictions per video. Both commands run at
    one thread, as separate processes."""
    from streammem.data.thumos import read_activitynet_results

    weights = out / "weights.safetensors"
    cli = [sys.executable, "-m", "streammem"]
    subprocess.run(cli + ["train", "tal", "--set", f"memory={variant}", "--seed", str(seed), "--iterations",
                          str(iterations), "--threads", "1", "--out", str(weights)], check=True)
    evaluated = out / "eval"
    subprocess.run(cli + ["eval", "tal", "--weights", str(weights), "--threads", "1", "--out", str(evaluated)],
                   check=True)
    predictions, _ = read_activitynet_results(evaluated / "predictions.json")
    by_video: dict[str, list[dict]] = {}
    for p in predictions:
        by_video.setdefault(str(p["video"]), []).append(p)
    return by_video


def score_tal(predictions: dict[str, list[dict]], items: Sequence[str]) -> dict[str, float]:
    """mAP of the predictions of ``items`` (test video names, repeats allowed) against their ground truth."""
    from streammem.evaluation.functional.localization import localization_map

    gt, preds = [], []
    for k, name in enumerate(items):
        tag = f"{name}#{k}"  # a video drawn twice counts twice
        gt += [{**g, "video": tag} for g in _TAL_TRUTH[name]]
        preds += [{**p, "video": tag} for p in predictions.get(name, [])]
    return localization_map(gt, preds)


_TAL_TRUTH: dict[str, list[dict]] = {}


def tal_items() -> list[str]:
    """The Test videos with ground truth (kept for :func:`score_tal`), of the default synthetic set."""
    from streammem.data.tal_features import load_tal_split
    from streammem.tasks.tal import DEFAULT_DATA

    for g in load_tal_split(DEFAULT_DATA, "Test").ground_truth():
        _TAL_TRUTH.setdefault(str(g["video"]), []).append(g)
    return sorted(_TAL_TRUTH)


TASKS = {"tal": (train_tal, score_tal, tal_items)}


# --------------------------------------------------------------------------------------------- protocol
def paired_bootstrap(
    runs_a: list[Run], runs_b: list[Run], items: list[str], score: Callable[[dict, Sequence[str]], dict[str, float]],
    metric: str, resamples: int, seed: int = 0,
) -> tuple[float, float, float]:
    """Seed-mean metric of A minus B on all items, and the 2.5-97.5 percentile interval over item resamples.

    Each resample draws len(items) items with replacement; A and B (every seed of each) are scored on the same
    draw, so the interval reflects which test items were drawn, not training noise alone.
    """
    def difference(drawn: Sequence[str]) -> float:
        a = np.mean([score(r.predictions, drawn)[metric] for r in runs_a])
        b = np.mean([score(r.predictions, drawn)[metric] for r in runs_b])
        return float(a - b)

    rng = np.random.default_rng(seed)
    draws = [difference([items[i] for i in rng.integers(0, len(items), len(items))]) for _ in range(resamples)]
    low, high = np.percentile(draws, [2.5, 97.5])
    return difference(items), float(low), float(high)


def table(runs: list[Run], items: list[str], score: Callable, metrics: Sequence[str], resamples: int) -> dict:
    """Per variant mean/std over seeds; per non-first variant the paired difference against the first."""
    variants = list(dict.fromkeys(r.variant for r in runs))
    out: dict = {"items": len(items), "seeds": sorted({r.seed for r in runs}), "variants": {}, "differences": {}}
    for v in variants:
        scores = [score(r.predictions, items) for r in runs if r.variant == v]
        out["variants"][v] = {m: {"mean": float(np.mean([s[m] for s in scores])),
                                  "std": float(np.std([s[m] for s in scores], ddof=1)) if len(scores) > 1 else 0.0,
                                  "per_seed": [s[m] for s in scores]} for m in metrics}
    base = [r for r in runs if r.variant == variants[0]]
    for v in variants[1:]:
        other = [r for r in runs if r.variant == v]
        out["differences"][f"{variants[0]} - {v}"] = {
            m: dict(zip(("difference", "low", "high"), paired_bootstrap(base, other, items, score, m, resamples),
                        strict=True)) for m in metrics}
    return out


def markdown(result: dict, task: str, command: str) -> str:
    """The table as markdown, with the command that produced it."""
    metrics = list(next(iter(result["variants"].values())))
    lines = [f"# Memory ablation: {task}", "", f"`{command}`", "",
             f"{len(result['seeds'])} seeds ({', '.join(map(str, result['seeds']))}), {result['items']} test items.", "",
             "| memory | " + " | ".join(f"{m} mean ± std" for m in metrics) + " |",
             "|---|" + "---|" * len(metrics)]
    for v, row in result["variants"].items():
        lines.append(f"| {v} | " + " | ".join(f"{row[m]['mean']:.2f} ± {row[m]['std']:.2f}" for m in metrics) + " |")
    lines += ["", "| paired difference | " + " | ".join(f"{m} (95 % bootstrap interval over items)" for m in metrics)
              + " |", "|---|" + "---|" * len(metrics)]
    for name, row in result["differences"].items():
        lines.append(f"| {name} | " + " | ".join(
            f"{row[m]['difference']:+.2f} ({row[m]['low']:+.2f} .. {row[m]['high']:+.2f})" for m in metrics) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=["queue", "none"], help="memory= values; the first is the reference")
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None, help="default runs/ablate/TASK")
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args(argv)
    os.chdir(Path(__file__).resolve().parents[2])
    out = args.out or Path("runs/ablate") / args.task
    out.mkdir(parents=True, exist_ok=True)
    train, score, list_items = TASKS[args.task]
    command = "python tools/experiments/ablate.py " + " ".join(argv)
    runs: list[Run] = []
    for seed in args.seeds:
        for variant in args.variants:
            folder = out / f"{variant}_s{seed}"
            done = folder / "predictions_by_item.json"
            if not done.is_file():
                began = time.monotonic()
                predictions = train(variant, seed, args.iterations, folder)
                done.write_text(json.dumps(predictions))
                print(f"{args.task} memory={variant} seed={seed}: trained and predicted in "
                      f"{time.monotonic() - began:.0f} s", flush=True)
            runs.append(Run(variant, seed, json.loads(done.read_text())))
    items = list_items()
    result = table(runs, items, score, METRICS[args.task], args.resamples)
    result.update({"task": args.task, "iterations": args.iterations, "command": command})
    (out / "table.json").write_text(json.dumps(result, indent=1))
    (out / "table.md").write_text(markdown(result, args.task, command))
    print((out / "table.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
