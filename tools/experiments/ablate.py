"""The clean memory ablation of one task: memory variants trained alike over seeds, scored on the same test items.

Usage: python tools/experiments/ablate.py TASK [--variants A B ...] [--seeds 0 1 2] [--schedule S]
                                          [--out runs/ablate/TASK] [--resamples 1000]

Every variant is the same model config with only its memory changed (``--set memory=<variant>``; simulst,
whose config has no ``memory`` field, maps ``bank`` to the config's memory banks and ``none`` to
``memory_size=0``), trained by ``streammem train TASK --seed <seed>`` on the task's default (synthetic) data
with the same schedule, then scored by ``streammem eval TASK`` on the same test items. Both commands run as
separate processes of this repository's ``streammem`` at one thread. Written under ``--out``: per run a
folder ``<variant>_s<seed>/`` with the weights, training log, eval folder and the test predictions by item
(``predictions_by_item.json``; a run whose predictions exist is not retrained, so an interrupted protocol
resumes), then ``table.json`` and ``table.md``: per variant the mean and sample standard deviation over seeds
of each metric, and for every variant against the first the paired difference of the seed-mean metric (first
minus other) with a 95 % bootstrap interval over test items (items resampled with replacement, the same
resample for both variants and every seed; corpus-level metrics such as BLEU, pooled WER, HOTA and AUROC are
recomputed on each resample).

Tasks, their test items and metrics, and ``--schedule`` (the training length; default: the short schedule):

- ``tal``: MATR tiny, variants queue|gated|knn|none; 60 Test streams; mAP_avg, mAP@0.5, and the class-agnostic
  mAP@0.5 of actions longer than one segment. Schedule = ``train tal --iterations`` (short 400; full 2800).
- ``track``: MeMOTR tiny, variants ema|gated|none; the 8 held-out synthetic sequences; HOTA, AssA (TrackEval's
  combination over the drawn sequences). Schedule = ``train track --iterations`` (short 150; full 15000).
- ``asr``: Conformer-NTM tiny, variants ntm|gated|knn|none, each fine-tuned (``--init-from``, lr 1e-3) from
  the same conformer: the shipped model with its memory removed (a from-scratch tiny model stays at 100 % WER
  for thousands of steps); the 300 held-out short test utterances, streaming; WER, CER pooled over the drawn
  utterances (jiwer). Schedule = ``train asr --max-steps`` (short 60; full 4200, the fine-tuning steps of the
  shipped recipe).
- ``simulst``: AM-Transformer tiny, variants bank|none; the 155 tst-COMMON segments at the model's wait-k with
  Shiftable Context; corpus BLEU of the drawn segments and their mean AL (ms); the percent of content segments
  whose object noun is translated, of pronoun segments with the right German pronoun, and of those among the
  pronoun segments whose antecedent was translated (the pronoun the memory banks are meant to carry).
  Schedule = ``ASR+ST`` steps of the two training stages (``--max-steps`` of ``--stage asr`` then ``--stage
  st``; short 30+120; full 241+1462).
- ``anomaly``: MemMC-MAE tiny on the digits one-class set (digit 0 normal), variants attention|memae|none;
  its test images; image AUROC. Schedule = ``train anomaly --iterations`` (short 200; full 1500).
  ``--data DIR`` runs it on another MVTec-style category folder instead (``train/good``, ``test/<kind>``);
  ``--texture`` on the defect-texture set (``runs/anomaly/data/texture``, written on first use, or the
  texture folder ``--data`` names, e.g. ``texture_varied``), 64x64 colour with the tiny config's 8x8
  patches, 3 channels and horizontal flips, as its shipped weights were trained.

Wall-clock budgets (asr ``--minutes``, simulst ``--asr-minutes/--st-minutes``) are set out of reach, so every
run stops at its step count and is reproducible. Relative paths are taken from the repository root, whatever
the working directory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
UNLIMITED_MINUTES = "100000"  # wall-clock budgets out of reach: the step count ends training


@dataclass
class Run:
    """One trained variant x seed: its test predictions (prepared for scoring), grouped by item."""

    variant: str
    seed: int
    predictions: Any


@dataclass(frozen=True)
class Task:
    """How the protocol trains, evaluates and scores one task.

    ``train(variant, seed, schedule, folder)`` trains and evaluates one run and returns its predictions by
    item (JSON-able); ``prepare`` turns them into what ``score(prepared, items)`` reads (per-item sufficient
    statistics, computed once per run); ``items()`` lists the test items.
    """

    train: Callable[[str, int, str, Path], dict]
    prepare: Callable[[dict], Any]
    score: Callable[[Any, Sequence[str]], dict[str, float]]
    items: Callable[[], list[str]]
    metrics: tuple[str, ...]
    variants: tuple[str, str]
    short: str
    full: str


def streammem(*args: str) -> None:
    """``python -m streammem ARGS`` from the repository root (this checkout's package, not an installed one)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run([sys.executable, "-m", "streammem", *args], check=True, cwd=ROOT, env=env)


def steps(schedule: str, parts: int = 1) -> list[str]:
    """``schedule`` as ``parts`` positive step counts joined by ``+`` (``"300"``, ``"40+200"``)."""
    counts = schedule.split("+")
    if len(counts) != parts or not all(c.isdigit() and int(c) > 0 for c in counts):
        raise ValueError(f"schedule {schedule!r}: expected {' + '.join(['STEPS'] * parts)} (positive integers)")
    return counts


def identity(predictions: dict) -> dict:
    return predictions


# ------------------------------------------------------------------------------------------------- tal
def train_tal(variant: str, seed: int, schedule: str, out: Path) -> dict[str, list[dict]]:
    """``train tal --set memory=VARIANT --iterations N`` then ``eval tal``; the Test predictions per video."""
    from streammem.data.thumos import read_activitynet_results

    weights = out / "weights.safetensors"
    streammem("train", "tal", "--set", f"memory={variant}", "--seed", str(seed), "--iterations", *steps(schedule),
              "--threads", "1", "--out", str(weights))
    streammem("eval", "tal", "--weights", str(weights), "--threads", "1", "--out", str(out / "eval"))
    predictions, _ = read_activitynet_results(out / "eval" / "predictions.json")
    by_video: dict[str, list[dict]] = {}
    for p in predictions:
        by_video.setdefault(str(p["video"]), []).append(p)
    return by_video


def prepare_tal(predictions: dict[str, list[dict]]) -> dict[str, dict]:
    """Per Test video its predictions matched to its ground truth, once (``class_matches``): all classes, and
    classes merged on the actions longer than one segment (eval's ``agnostic/long``: boundaries alone, where a
    start lies before the segment the model sees). Matching never crosses videos, so a draw's mAP pools these."""
    from streammem.evaluation.functional.localization import class_matches
    from streammem.models.matr.training import length_group

    out = {}
    for name, truth in _TAL_TRUTH.items():
        preds = predictions.get(name, [])
        long_gt, long_preds = length_group([{**g, "label": "action"} for g in truth],
                                           [{**p, "label": "action"} for p in preds], _TAL_SEGMENT_SECONDS[0], True)
        out[name] = {"all": class_matches(truth, preds), "long": class_matches(long_gt, long_preds)}
    return out


def score_tal(videos: dict[str, dict], items: Sequence[str]) -> dict[str, float]:
    """mAP of ``items`` (Test video names, repeats allowed: a video drawn twice counts twice), equal to eval's
    ``localization_map`` of their union, and the class-agnostic mAP@0.5 of their long actions."""
    from streammem.evaluation.functional.localization import pooled_map

    scores = pooled_map([videos[name]["all"] for name in items])
    scores["long_agnostic_mAP@0.5"] = pooled_map([videos[name]["long"] for name in items])["mAP@0.5"]
    return scores


_TAL_TRUTH: dict[str, list[dict]] = {}
_TAL_SEGMENT_SECONDS: list[float] = []  # one MATR tiny segment in seconds of the test features


def tal_items() -> list[str]:
    """The Test videos with ground truth (kept for :func:`score_tal`), of the default synthetic set (generated
    on first use, before any training starts)."""
    from streammem.data.tal_features import load_tal_split
    from streammem.models.matr import CONFIGS
    from streammem.tasks.tal import DEFAULT_DATA, ensure_data

    split = load_tal_split(ensure_data(DEFAULT_DATA), "Test")
    for g in split.ground_truth():
        _TAL_TRUTH.setdefault(str(g["video"]), []).append(g)
    _TAL_SEGMENT_SECONDS[:] = [CONFIGS["tiny"].segment_len / split.videos[0].feature_rate]
    return sorted(_TAL_TRUTH)


# ----------------------------------------------------------------------------------------------- track
def _track_split() -> tuple[Path, Path | None]:
    """(folder of the held-out sequences, seqmap) of the default synthetic split, written on first use."""
    from streammem.tasks.track import _dataset_root, ensure_synthetic_test

    return _dataset_root(ensure_synthetic_test(), "val")


def train_track(variant: str, seed: int, schedule: str, out: Path) -> dict[str, str]:
    """``train track --set memory=VARIANT --iterations N`` then ``eval track``; each sequence's MOTChallenge
    result text."""
    weights = out / "weights.safetensors"
    streammem("train", "track", "--set", f"memory={variant}", "--seed", str(seed), "--iterations", *steps(schedule),
              "--threads", "1", "--out", str(weights))
    streammem("eval", "track", "--weights", str(weights), "--threads", "1", "--out", str(out / "eval"))
    return {name: (out / "eval" / "tracks" / f"{name}.txt").read_text() for name in track_items()}


def prepare_track(predictions: dict[str, str]) -> dict[str, dict]:
    """TrackEval's per-sequence sufficient statistics of each sequence's results."""
    from streammem.data.mot import read_mot_ground_truth, read_mot_results, read_seqinfo
    from streammem.evaluation.functional.tracking import sequence_statistics

    seq_root, _ = _track_split()
    stats = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in predictions.items():
            frames = read_seqinfo(seq_root / name / "seqinfo.ini").num_frames
            (Path(tmp) / "r.txt").write_text(text)
            stats[name] = sequence_statistics(read_mot_ground_truth(seq_root / name / "gt" / "gt.txt", frames),
                                              read_mot_results(Path(tmp) / "r.txt", frames), frames, name)
    return stats


def score_track(statistics: dict[str, dict], items: Sequence[str]) -> dict[str, float]:
    """HOTA and AssA combined (as TrackEval combines sequences) over ``items`` (repeats count again)."""
    from streammem.evaluation.functional.tracking import tracking_table

    combined = tracking_table({f"{name}#{k:04d}": statistics[name] for k, name in enumerate(items)})["COMBINED"]
    return {"HOTA": combined["HOTA"], "AssA": combined["AssA"]}


def track_items() -> list[str]:
    from streammem.data.mot import find_sequences

    return find_sequences(*_track_split())


# ------------------------------------------------------------------------------------------------- asr
ASR_FINE_TUNE = ["--lr", "1e-3"]  # the fine-tuning rate of the shipped recipe's stage 2 (docs/asr.md)


def asr_base(folder: Path) -> Path:
    """The shared starting point of every asr run: the shipped Conformer-NTM's conformer with its memory
    removed (encoder and decoders; config ``use_memory=False``), written once as ``base.safetensors`` in
    ``folder``. A from-scratch tiny model stays on the CTC plateau (100 % WER) for thousands of steps, so a
    short schedule compares memories on a trained conformer instead: ``--init-from`` inserts a memory as a
    pass-through (``none`` loads it as is), so every variant starts as the same function."""
    from streammem.checkpoints import load_checkpoint, load_metadata, save_checkpoint
    from streammem.models import build_model
    from streammem.tasks.common import resolve_weights

    base = folder / "base.safetensors"
    if base.is_file():
        return base
    shipped = resolve_weights(None, "conformer_ntm")
    config = {**load_metadata(shipped)["config"], "use_memory": False}
    model = build_model("conformer_ntm", config)
    state, _ = load_checkpoint(shipped)
    model.load_state_dict({k: v for k, v in state.items() if k in model.state_dict()}, strict=True)
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(base, model, model_name="conformer_ntm", config=model.config.to_dict(),
                    training_command=f"{shipped.name} without memory.* and memory_out.* (ablate.py asr_base)",
                    data_seed=0)
    return base


def train_asr(variant: str, seed: int, schedule: str, out: Path) -> dict[str, dict]:
    """``train asr --set memory=VARIANT --init-from BASE --max-steps N`` (BASE: :func:`asr_base`) then streaming
    ``eval asr`` on the short test split; per utterance its reference, hypothesis and jiwer edit counts."""
    weights = out / "weights.safetensors"
    streammem("train", "asr", "--set", f"memory={variant}", "--init-from", str(asr_base(out.parent)), "--seed",
              str(seed), "--max-steps", *steps(schedule), "--minutes", UNLIMITED_MINUTES, *ASR_FINE_TUNE,
              "--threads", "1", "--out", str(weights))
    streammem("eval", "asr", "--weights", str(weights), "--mode", "streaming", "--long-split", "", "--threads", "1",
              "--out", str(out / "eval"))
    hypotheses = json.loads((out / "eval" / "metrics.json").read_text())["hypotheses"]
    return {i: asr_counts(ref, hypotheses.get(i, "")) for i, ref in _asr_references().items()}


def asr_counts(reference: str, hypothesis: str) -> dict:
    """One utterance's texts and its word and character edit counts (jiwer, in the normalised form eval
    scores), so a pooled WER/CER of any list of utterances is a ratio of sums."""
    import jiwer

    from streammem.evaluation.functional.speech import error_rates, normalize_transcript

    w = error_rates({"u": reference}, {"u": hypothesis})
    c = jiwer.process_characters(normalize_transcript(reference), normalize_transcript(hypothesis))
    return {"reference": reference, "hypothesis": hypothesis,
            "word_errors": w["substitutions"] + w["deletions"] + w["insertions"],
            "words": w["hits"] + w["substitutions"] + w["deletions"],
            "char_errors": c.substitutions + c.deletions + c.insertions, "chars": c.hits + c.substitutions + c.deletions}


def score_asr(counts: dict[str, dict], items: Sequence[str]) -> dict[str, float]:
    """WER and CER pooled over ``items`` (total edits / total reference words or characters), as jiwer pools a
    corpus."""
    rows = [counts[i] for i in items]
    return {"WER": 100.0 * sum(r["word_errors"] for r in rows) / sum(r["words"] for r in rows),
            "CER": 100.0 * sum(r["char_errors"] for r in rows) / sum(r["chars"] for r in rows)}


def _asr_references() -> dict[str, str]:
    from streammem.data.librispeech import read_split
    from streammem.tasks.asr import DEFAULT_DATA

    return {u.id: u.text for u in read_split(DEFAULT_DATA / "test")}


def asr_items() -> list[str]:
    return sorted(_asr_references())


# --------------------------------------------------------------------------------------------- simulst
SIMULST_VARIANTS = {"bank": [], "none": ["--set", "memory_size=0"]}


def train_simulst(variant: str, seed: int, schedule: str, out: Path) -> dict[str, dict]:
    """``train simulst --stage asr`` (A steps) then ``--stage st`` (B steps) from it, schedule ``A+B``, then
    ``eval simulst`` (the model's wait-k, Shiftable Context on); per segment its SimulEval instance."""
    from streammem.evaluation.functional.simulst import read_instances_log

    if variant not in SIMULST_VARIANTS:
        raise ValueError(f"simulst: memory variant must be one of {', '.join(SIMULST_VARIANTS)}, got {variant!r}")
    asr_steps, st_steps = steps(schedule, 2)
    asr, weights = out / "asr.safetensors", out / "weights.safetensors"
    streammem("train", "simulst", "--stage", "asr", *SIMULST_VARIANTS[variant], "--seed", str(seed), "--max-steps",
              asr_steps, "--asr-minutes", UNLIMITED_MINUTES, "--threads", "1", "--out", str(asr))
    streammem("train", "simulst", "--stage", "st", "--init", str(asr), "--seed", str(seed), "--max-steps", st_steps,
              "--st-minutes", UNLIMITED_MINUTES, "--threads", "1", "--out", str(weights))
    streammem("eval", "simulst", "--weights", str(weights), "--shift", "on", "--threads", "1", "--out",
              str(out / "eval"))
    (log,) = sorted((out / "eval").glob("instances_k*_sc.log"))
    instances = read_instances_log(log)
    ids = simulst_items()
    if len(instances) != len(ids):
        raise ValueError(f"{log}: {len(instances)} instances for {len(ids)} test segments")
    return {i: {"prediction": x.prediction, "delays": x.delays, "elapsed": x.elapsed,
                "source_length": x.source_length, "reference": x.reference} for i, x in zip(ids, instances, strict=True)}


def prepare_simulst(predictions: dict[str, dict]) -> dict[str, dict]:
    """Per segment its prediction, reference and AL (None for a segment without output, left out of AL as
    SimulEval does); for a content segment whether its translation names its object; for a pronoun segment
    whether its pronoun is right and whether the previous segment's translation named the noun it stands for."""
    from streammem.data.synthetic_simulst import is_pronoun_segment, object_named, pronoun_right
    from streammem.evaluation.functional.simulst import SimulInstance, instance_latency

    by_place = {(s.talk, s.index): s for s in _SIMULST_SEGMENTS.values()}
    out = {}
    for i, p in predictions.items():
        x = SimulInstance(p["prediction"], p["delays"], p["source_length"], p["reference"], p["elapsed"])
        row = {"prediction": x.prediction, "reference": x.reference,
               "AL": instance_latency(x)["AL"] if x.delays else None, "object": None, "pronoun": None, "named": None}
        segment = _SIMULST_SEGMENTS.get(i)
        if segment is not None and not is_pronoun_segment(segment.source):
            row["object"] = object_named(segment.source, x.prediction)
        elif segment is not None:
            row["pronoun"] = pronoun_right(x.reference, x.prediction)
            before = by_place.get((segment.talk, segment.index - 1))
            row["named"] = before is not None and object_named(before.source, predictions[before.id]["prediction"])
        out[i] = row
    return out


def score_simulst(segments: dict[str, dict], items: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU of the drawn segments (sacreBLEU, as eval), their mean AL (ms), the percent of drawn content
    segments whose translation names their object noun (``object``), of drawn pronoun segments with the right
    German pronoun (``pronoun``; what the memory is for), and the same over those whose antecedent noun the
    model translated in the previous segment (``pronoun_named``)."""
    from streammem.evaluation.functional.simulst import corpus_bleu

    rows = [segments[i] for i in items]
    lags = [r["AL"] for r in rows if r["AL"] is not None]
    objects = [r["object"] for r in rows if r["object"] is not None]
    pronouns = [r["pronoun"] for r in rows if r["pronoun"] is not None]
    named = [r["pronoun"] for r in rows if r["pronoun"] is not None and r["named"]]
    percent = lambda hits: 100.0 * float(np.mean(hits)) if hits else float("nan")  # noqa: E731
    return {"BLEU": corpus_bleu([r["prediction"] for r in rows], [r["reference"] for r in rows]),
            "AL": float(np.mean(lags)) if lags else float("nan"),
            "object": percent(objects), "pronoun": percent(pronouns), "pronoun_named": percent(named)}


_SIMULST_SEGMENTS: dict[str, Any] = {}  # id -> tst-COMMON segment (source, talk, index), kept for scoring


def simulst_items() -> list[str]:
    """The tst-COMMON segment ids in eval's order (the default synthetic corpus, written on first use)."""
    from streammem.data.mustc import read_split
    from streammem.tasks.simulst import DEFAULT_DATA

    if not (DEFAULT_DATA / "en-de").is_dir():
        from streammem.data.synthetic_simulst import write_corpus

        write_corpus(DEFAULT_DATA)
    segments = read_split(DEFAULT_DATA, "tst-COMMON")
    _SIMULST_SEGMENTS.update({s.id: s for s in segments})
    return [s.id for s in segments]


# --------------------------------------------------------------------------------------------- anomaly
TEXTURE_DATA = Path("runs/anomaly/data/texture")
# The texture set's model: 64x64 colour, 8x8 patches, flips (as tools/experiments/anomaly_digits.py --texture).
TEXTURE_TRAIN = ("--set", "image_size=64", "--set", "patch_size=8", "--set", "in_chans=3",
                 "--set", "pixel_mean=[0.5,0.5,0.5]", "--set", "pixel_std=[0.5,0.5,0.5]", "--flip")


@dataclass
class AnomalyData:
    """The category the anomaly protocol trains and tests on (``--data``/``--texture``; default digits 0)."""

    folder: Path | None = None  # None: ``streammem``'s default digits set
    train_options: tuple[str, ...] = ()


ANOMALY = AnomalyData()


def _anomaly_data_options() -> list[str]:
    return [] if ANOMALY.folder is None else ["--data", str(ANOMALY.folder)]


def train_anomaly(variant: str, seed: int, schedule: str, out: Path) -> dict[str, float]:
    """``train anomaly --set memory=VARIANT --iterations N`` then ``eval anomaly``; each test image's score."""
    import csv

    weights = out / "weights.safetensors"
    streammem("train", "anomaly", *_anomaly_data_options(), *ANOMALY.train_options, "--set", f"memory={variant}",
              "--seed", str(seed), "--iterations", *steps(schedule), "--threads", "1", "--out", str(weights))
    streammem("eval", "anomaly", *_anomaly_data_options(), "--weights", str(weights), "--threads", "1",
              "--out", str(out / "eval"))
    with (out / "eval" / "scores.csv").open(newline="") as f:
        return {row["path"]: float(row["score"]) for row in csv.DictReader(f)}


_ANOMALY_LABELS: dict[str, int] = {}


def anomaly_items() -> list[str]:
    """The test images (paths relative to the data folder) of the category; labels kept for scoring."""
    from streammem.tasks.anomaly import DEFAULT_DATA, read_split

    folder = ANOMALY.folder or DEFAULT_DATA  # read_split writes the default digits set on first use
    if folder == TEXTURE_DATA and not folder.is_dir():
        from streammem.data.synthetic_anomaly import write_textures

        write_textures(folder.parent)
    for item in read_split(folder).test:
        _ANOMALY_LABELS[item.path.relative_to(folder).as_posix()] = int(item.label)
    return sorted(_ANOMALY_LABELS)


def score_anomaly(scores: dict[str, float], items: Sequence[str]) -> dict[str, float]:
    """Image AUROC (percent) of the drawn images' scores."""
    from sklearn.metrics import roc_auc_score

    return {"image_AUROC": 100.0 * float(roc_auc_score([_ANOMALY_LABELS[i] for i in items],
                                                        [scores[i] for i in items]))}


TASKS = {
    "tal": Task(train_tal, prepare_tal, score_tal, tal_items, ("mAP_avg", "mAP@0.5", "long_agnostic_mAP@0.5"),
                ("queue", "none"), "400", "2800"),
    "track": Task(train_track, prepare_track, score_track, track_items, ("HOTA", "AssA"), ("ema", "none"),
                  "150", "15000"),
    "asr": Task(train_asr, identity, score_asr, asr_items, ("WER", "CER"), ("ntm", "none"), "60", "4200"),
    "simulst": Task(train_simulst, prepare_simulst, score_simulst, simulst_items,
                    ("BLEU", "AL", "object", "pronoun", "pronoun_named"), ("bank", "none"), "30+120", "241+1462"),
    "anomaly": Task(train_anomaly, identity, score_anomaly, anomaly_items, ("image_AUROC",), ("attention", "none"),
                    "200", "1500"),
}


# --------------------------------------------------------------------------------------------- protocol
def paired_bootstrap(
    runs_a: list[Run], runs_b: list[Run], items: list[str], score: Callable[[Any, Sequence[str]], dict[str, float]],
    metrics: Sequence[str], resamples: int, seed: int = 0,
) -> dict[str, tuple[float, float, float]]:
    """Per metric: seed-mean of A minus B on all items, and the 2.5-97.5 percentile interval over item resamples.

    Each resample draws len(items) items with replacement; A and B (every seed of each) are scored on the same
    draw, so the interval reflects which test items were drawn, not training noise alone.
    """
    def difference(drawn: Sequence[str]) -> dict[str, float]:
        a = [score(r.predictions, drawn) for r in runs_a]
        b = [score(r.predictions, drawn) for r in runs_b]
        return {m: float(np.mean([s[m] for s in a]) - np.mean([s[m] for s in b])) for m in metrics}

    rng = np.random.default_rng(seed)
    draws = [difference([items[i] for i in rng.integers(0, len(items), len(items))]) for _ in range(resamples)]
    full = difference(items)
    out = {}
    for m in metrics:
        low, high = np.percentile([d[m] for d in draws], [2.5, 97.5])
        out[m] = (full[m], float(low), float(high))
    return out


def table(runs: list[Run], items: list[str], score: Callable, metrics: Sequence[str], resamples: int) -> dict:
    """Per variant mean/std over seeds; per non-first variant the paired difference against the first."""
    variants = list(dict.fromkeys(r.variant for r in runs))
    out: dict = {"items": len(items), "seeds": sorted({r.seed for r in runs}), "metrics": list(metrics),
                 "variants": {}, "differences": {}}
    for v in variants:
        scores = [score(r.predictions, items) for r in runs if r.variant == v]
        out["variants"][v] = {m: {"mean": float(np.mean([s[m] for s in scores])),
                                  "std": float(np.std([s[m] for s in scores], ddof=1)) if len(scores) > 1 else 0.0,
                                  "per_seed": [s[m] for s in scores]} for m in metrics}
    base = [r for r in runs if r.variant == variants[0]]
    for v in variants[1:]:
        other = [r for r in runs if r.variant == v]
        paired = paired_bootstrap(base, other, items, score, metrics, resamples)
        out["differences"][f"{variants[0]} - {v}"] = {
            m: dict(zip(("difference", "low", "high"), paired[m], strict=True)) for m in metrics}
    return out


def markdown(result: dict, task: str, command: str) -> str:
    """The table as markdown, with the command that produced it."""
    metrics = list(next(iter(result["variants"].values())))
    schedule = f", schedule {result['schedule']}" if "schedule" in result else ""
    lines = [f"# Memory ablation: {task}", "", f"`{command}`", "",
             f"{len(result['seeds'])} seeds ({', '.join(map(str, result['seeds']))}), {result['items']} test items"
             f"{schedule}.", "",
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


def check_package() -> None:
    """Exit unless ``python -m streammem`` run from the repository root imports this repository's package."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    found = subprocess.run([sys.executable, "-c", "import streammem; print(streammem.__file__)"], cwd=ROOT, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    if not Path(found).resolve().is_relative_to(ROOT):
        sys.exit(f"ablate.py: streammem is imported from {found}, not from {ROOT}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=None,
                        help="memory variants; the first is the reference (default: the task's memory, then none)")
    parser.add_argument("--schedule", "--iterations", dest="schedule", default=None,
                        help="training length (see the module doc; default: the task's short schedule)")
    parser.add_argument("--out", type=Path, default=None, help="default runs/ablate/TASK")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=None,
                        help="anomaly: an MVTec-style category folder instead of the digits-0 set")
    parser.add_argument("--texture", action="store_true", help=f"anomaly: the texture model options, on the "
                        f"defect-texture set ({TEXTURE_DATA}) or the texture folder --data names")
    args = parser.parse_args(argv)
    if (args.data or args.texture) and args.task != "anomaly":
        parser.error("--data and --texture are options of the anomaly protocol")
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    task = TASKS[args.task]
    variants = args.variants or list(task.variants)
    schedule = args.schedule or task.short
    try:
        steps(schedule, 2 if args.task == "simulst" else 1)
    except ValueError as err:
        parser.error(f"--schedule: {err}")
    check_package()
    if args.data is not None and not args.data.is_dir():
        parser.error(f"--data {args.data}: not a folder")
    if args.texture:
        ANOMALY.train_options = TEXTURE_TRAIN
    if args.data is not None or args.texture:
        ANOMALY.folder = args.data or TEXTURE_DATA
    name = args.task if ANOMALY.folder is None else f"{args.task}_{ANOMALY.folder.name}"
    out = args.out or Path("runs/ablate") / name
    out.mkdir(parents=True, exist_ok=True)
    command = "python tools/experiments/ablate.py " + " ".join(argv)
    items = task.items()
    runs: list[Run] = []
    for seed in args.seeds:
        for variant in variants:
            folder = out / f"{variant}_s{seed}"
            done = folder / "predictions_by_item.json"
            if not done.is_file():
                began = time.monotonic()
                predictions = task.train(variant, seed, schedule, folder)
                done.write_text(json.dumps(predictions))
                print(f"{args.task} memory={variant} seed={seed}: trained and predicted in "
                      f"{time.monotonic() - began:.0f} s", flush=True)
            runs.append(Run(variant, seed, task.prepare(json.loads(done.read_text()))))
    result = table(runs, items, task.score, task.metrics, args.resamples)
    result.update({"task": args.task, "schedule": schedule, "command": command})
    (out / "table.json").write_text(json.dumps(result, indent=1))
    (out / "table.md").write_text(markdown(result, args.task, command))
    print((out / "table.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
