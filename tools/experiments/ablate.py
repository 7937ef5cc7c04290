"""The clean memory ablation of one task: memory variants trained alike over seeds, scored on the same test items.

Usage: python tools/experiments/ablate.py TASK [--seeds 0 1 2] [--variants queue none] [--iterations N]
                                          [--out runs/ablate/TASK] [--resamples 1000]

Every variant is the same model config with only ``memory=<variant>`` changed (MATR's ``none`` keeps the
queue length, start head and decoding range and never writes), trained on the same data with the same
schedule and seed list, then evaluated on the same test items. Written under ``--out``: per run the weights
(``<variant>_s<seed>.safetensors``) and test predictions (``<variant>_s<seed>.predictions.json``; a run whose
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
def _tal_data(root: Path):
    from streammem.data.tal_features import load_tal_split
    from streammem.models.matr.training import selection_split
    from streammem.tasks.tal import DATA_SEED, _ensure_data

    root = _ensure_data(root)
    full = load_tal_split(root, "Validation")
    fit_names, held_names = selection_split([v.name for v in full.videos])
    fit = [v for v in full.videos if v.name in set(fit_names)]
    held = load_tal_split(root, "Validation", classes=full.classes, videos=held_names)
    test = load_tal_split(root, "Test", classes=full.classes)
    return fit, held, test, DATA_SEED


def train_tal(variant: str, seed: int, iterations: int, weights: Path, log: Callable[[str], None]) -> dict[str, list[dict]]:
    """MATR tiny with ``memory=variant`` trained as ``streammem train tal`` does; returns Test predictions per video."""
    import torch

    from streammem.checkpoints import save_checkpoint
    from streammem.models.matr import build, make_config
    from streammem.models.matr.training import TrainSettings, predict, train_model
    from streammem.tasks.tal import DEFAULT_DATA, _feature_dims

    torch.set_num_threads(1)
    fit, held, test, data_seed = _tal_data(DEFAULT_DATA)
    cfg = make_config("tiny", num_classes=len(test.classes), feature_dims=_feature_dims([16, 16], fit), memory=variant)
    torch.manual_seed(seed)
    model = build(cfg.to_dict())
    settings = TrainSettings(iterations=iterations, batch_size=8, lr=5e-4, eval_every=200, seed=seed)
    command = f"python tools/experiments/ablate.py tal (variant {variant}, seed {seed}, {iterations} iterations)"

    def checkpoint(m, metrics):
        save_checkpoint(weights, m, model_name="matr", config=cfg.to_dict(), training_command=command,
                        data_seed=data_seed, metrics={"held_out": metrics, "classes": test.classes})

    model, _ = train_model(model, fit, held, cfg, settings, on_checkpoint=checkpoint, log=log)
    return {v.name: predict(model, v, test.classes) for v in test.videos}


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
    """The Test videos (and their ground truth, kept for :func:`score_tal`)."""
    from streammem.tasks.tal import DEFAULT_DATA

    _, _, test, _ = _tal_data(DEFAULT_DATA)
    for g in test.ground_truth():
        _TAL_TRUTH.setdefault(str(g["video"]), []).append(g)
    return [v.name for v in test.videos if v.name in _TAL_TRUTH]


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
            stem = out / f"{variant}_s{seed}"
            done = stem.with_suffix(".predictions.json")
            if not done.is_file():
                began = time.monotonic()
                predictions = train(variant, seed, args.iterations, stem.with_suffix(".safetensors"),
                                    lambda s: print(s, flush=True))
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
