"""Multi-object tracking metrics: HOTA, DetA, AssA (Luiten et al. 2021), MOTA, IDSW (CLEAR), IDF1 (Identity).

All numbers come from TrackEval (PyPI ``trackeval`` 1.3.0, numpy-2-clean): its MOT17 preprocessing
(``MotChallenge2DBox.get_preprocessed_seq_data``) and its ``HOTA``, ``CLEAR`` and ``Identity`` classes,
fed with files parsed by :mod:`streammem.data.mot` (which validates them and names bad lines). The results
equal ``trackeval.Evaluator`` run with ``BENCHMARK=MOT17`` on the same files, as DanceTrack's official
command does; a test checks it. py-motmetrics is not used: its 1.4.0 IoU helper breaks on numpy 2.

Per-sequence statistics (TrackEval's raw result dicts) are what accumulators gather across processes;
:func:`tracking_table` turns them into the reported numbers: percent on a 0-100 scale, IDSW an integer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from trackeval.datasets import MotChallenge2DBox
from trackeval.metrics import CLEAR, HOTA, Identity

from streammem.data.mot import (
    MOT_CLASSES,
    MotBoxes,
    find_sequences,
    read_mot_ground_truth,
    read_mot_results,
    read_seqinfo,
)
from streammem.errors import InputError

__all__ = ["TRACKING_KEYS", "sequence_statistics", "tracking_table", "score_mot_folder"]

TRACKING_KEYS: tuple[str, ...] = ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW")

SequenceStatistics = dict[str, dict[str, Any]]  # TrackEval metric name -> its per-sequence result dict

_METRICS = (HOTA(), CLEAR({"PRINT_CONFIG": False}), Identity({"PRINT_CONFIG": False}))


class _Mot17Preprocessing(MotChallenge2DBox):
    """TrackEval's MOT17 dataset logic without its folder scan: the data arrive already parsed and validated."""

    def __init__(self) -> None:  # the parent's __init__ only reads folders and config, which we do not use
        self.benchmark = "MOT17"
        self.do_preproc = True
        self.class_name_to_class_id = dict(MOT_CLASSES)
        self.valid_class_numbers = list(MOT_CLASSES.values())


_DATASET = _Mot17Preprocessing()


def _raw_sequence(gt: MotBoxes, pred: MotBoxes, name: str) -> dict[str, Any]:
    """Build the per-frame dict that ``MotChallenge2DBox.get_raw_seq_data`` returns, rows in file order.

    Only frames holding a box are kept, and track ids are renumbered 0..K-1 (ground truth and predictions
    separately): TrackEval allocates arrays by the largest id and loops over every frame, while frames
    without boxes and the id values themselves do not change HOTA, CLEAR or Identity. So an id of 10^12 or a
    seqLength of 10^9 costs nothing.
    """
    frames, frame_index = np.unique(np.concatenate([gt.frame, pred.frame]), return_inverse=True)
    gt_frame, pred_frame = frame_index[: len(gt)], frame_index[len(gt) :]
    gt_ids = np.unique(gt.track_id, return_inverse=True)[1].reshape(-1)
    pred_ids = np.unique(pred.track_id, return_inverse=True)[1].reshape(-1)
    gt_order = np.argsort(gt_frame, kind="stable")
    pred_order = np.argsort(pred_frame, kind="stable")
    bounds = np.arange(1, len(frames))
    gt_split = np.split(gt_order, np.searchsorted(gt_frame[gt_order], bounds))
    pred_split = np.split(pred_order, np.searchsorted(pred_frame[pred_order], bounds))
    raw: dict[str, Any] = {
        "gt_ids": [], "gt_classes": [], "gt_dets": [], "gt_crowd_ignore_regions": [], "gt_extras": [],
        "tracker_ids": [], "tracker_classes": [], "tracker_dets": [], "tracker_confidences": [],
        "similarity_scores": [], "num_timesteps": len(gt_split), "seq": name,
    }  # fmt: skip
    for g, p in zip(gt_split, pred_split, strict=True):
        raw["gt_ids"].append(gt_ids[g].astype(int))
        raw["gt_classes"].append(gt.cls[g].astype(int))
        raw["gt_dets"].append(gt.box[g].reshape(-1, 4))
        raw["gt_crowd_ignore_regions"].append(np.empty((0, 4)))
        raw["gt_extras"].append({"zero_marked": gt.score[g].astype(int)})
        raw["tracker_ids"].append(pred_ids[p].astype(int))
        raw["tracker_classes"].append(pred.cls[p].astype(int))
        raw["tracker_dets"].append(pred.box[p].reshape(-1, 4))
        raw["tracker_confidences"].append(pred.score[p])
        raw["similarity_scores"].append(
            _DATASET._calculate_similarities(raw["gt_dets"][-1], raw["tracker_dets"][-1])
        )
    return raw


def sequence_statistics(
    gt: MotBoxes, pred: MotBoxes, num_frames: int, name: str = "sequence"
) -> SequenceStatistics:
    """TrackEval's HOTA, CLEAR and Identity results for one sequence of ``num_frames`` frames.

    These are sufficient statistics: combine any set of sequences with :func:`tracking_table`.
    """
    for boxes, what in ((gt, "ground truth"), (pred, "predictions")):
        if len(boxes) and (boxes.frame.min() < 1 or boxes.frame.max() > num_frames):
            raise ValueError(f"{name}: {what} has frames outside 1..{num_frames}")
    data = _DATASET.get_preprocessed_seq_data(_raw_sequence(gt, pred, name), "pedestrian")
    stats = {metric.get_name(): metric.eval_sequence(data) for metric in _METRICS}
    stats["skipped"] = {  # what MOT17 preprocessing leaves out, so reports can say how much
        "ground_truth_ignored": len(gt) - data["num_gt_dets"],
        "predictions_on_distractors": len(pred) - data["num_tracker_dets"],
    }
    return stats


def _summary(stats: SequenceStatistics) -> dict[str, float | int]:
    """The reported numbers of one TrackEval result (HOTA family averaged over the 19 alpha thresholds)."""
    hota, clear, identity = stats["HOTA"], stats["CLEAR"], stats["Identity"]
    return {
        "HOTA": 100 * float(np.mean(hota["HOTA"])),
        "DetA": 100 * float(np.mean(hota["DetA"])),
        "AssA": 100 * float(np.mean(hota["AssA"])),
        "MOTA": 100 * float(clear["MOTA"]),
        "IDF1": 100 * float(identity["IDF1"]),
        "IDSW": int(clear["IDSW"]),
    }


def tracking_table(statistics: Mapping[str, SequenceStatistics]) -> dict[str, Any]:
    """Per-sequence and combined numbers: ``{"sequences": {name: row}, "COMBINED": row, "skipped": counts}``.

    Rows have :data:`TRACKING_KEYS`. ``skipped`` counts ground-truth boxes TrackEval's MOT17 preprocessing
    ignores (consider flag 0 or not a pedestrian) and predictions it removes (matched to a distractor). COMBINED is TrackEval's ``combine_sequences`` over the sequences in
    name order (the Evaluator's order, so float sums match it bit for bit).
    """
    if not statistics:
        raise ValueError("no sequences to combine")
    names = sorted(statistics)
    combined = {
        metric.get_name(): metric.combine_sequences({n: statistics[n][metric.get_name()] for n in names})
        for metric in _METRICS
    }
    skipped = {
        k: sum(int(statistics[n]["skipped"][k]) for n in names) for k in statistics[names[0]]["skipped"]
    }
    return {
        "sequences": {n: _summary(statistics[n]) for n in names},
        "COMBINED": _summary(combined),
        "skipped": skipped,
    }


def score_mot_folder(
    gt_root: str | os.PathLike, predictions: str | os.PathLike, seqmap: str | os.PathLike | None = None
) -> dict[str, Any]:
    """Score MOTChallenge result files ``<predictions>/<seq>.txt`` against ``<gt_root>/<seq>/gt/gt.txt``.

    Sequences come from ``seqmap`` (DanceTrack's ``{split}_seqmap.txt``) or, without one, from every
    sequence folder under ``gt_root``. Returns :func:`tracking_table`'s dict plus ``missing_sequences``
    (no result file: scored as all misses), ``ignored_predictions`` (result files for sequences of
    ``gt_root`` outside the seqmap, skipped as TrackEval does) and ``unknown_predictions`` (result files
    naming no sequence of ``gt_root``: the caller decides, see ``streammem score --ignore-unknown``).
    A folder holding no result file for any sequence is an InputError: it is not a results folder.
    """
    gt_root, predictions = Path(gt_root), Path(predictions)
    if not predictions.is_dir():
        raise InputError(predictions, "predictions folder not found")
    names = find_sequences(gt_root, seqmap)
    result_stems = {p.stem for p in predictions.glob("*.txt") if p.is_file()}
    if not result_stems & set(names):
        raise InputError(
            predictions,
            f"not a MOTChallenge results folder: no <sequence>.txt for any of the {len(names)} sequences "
            f"(e.g. {names[0]}.txt)",
        )
    statistics, missing = {}, []
    for name in names:
        num_frames = read_seqinfo(gt_root / name / "seqinfo.ini").num_frames
        gt = read_mot_ground_truth(gt_root / name / "gt" / "gt.txt", num_frames)
        if name in result_stems:
            pred = read_mot_results(predictions / f"{name}.txt", num_frames)
        else:
            pred = MotBoxes.empty()
            missing.append(name)
        statistics[name] = sequence_statistics(gt, pred, num_frames, name)
    others = sorted(result_stems - set(names))
    ignored = [n for n in others if (gt_root / n / "gt" / "gt.txt").is_file()]
    unknown = [n for n in others if n not in set(ignored)]
    return {
        **tracking_table(statistics),
        "missing_sequences": missing,
        "ignored_predictions": ignored,
        "unknown_predictions": unknown,
    }
