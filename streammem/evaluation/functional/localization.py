"""Temporal action localization: ActivityNet-style mAP at temporal IoU thresholds, plus detection latency.

Hand-written because no maintained lightweight package provides it (mmaction2 drags in mmcv; ActivityNet's
and ActionFormer's ``ANETdetection`` are unpackaged scripts). It follows ActionFormer's ``ANETdetection``:

- per class, predictions are ranked by descending score; tIoU is computed in continuous seconds;
- each prediction takes the unmatched ground truth of its video with the highest tIoU at or above the
  threshold, so a duplicate detection of an already matched instance is a false positive;
- AP is the VOC all-point interpolated area under the precision envelope;
- only classes present in the ground truth are evaluated; a class without predictions has AP 0.

``latency_s`` is OAT/MATR's detection latency ("AEDT"): the mean over true positives at tIoU 0.5 of
(emission time - ground-truth end), in seconds; negative means the action was reported before it ended.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["THUMOS_TIOU_THRESHOLDS", "localization_map", "class_matches", "pooled_map"]

THUMOS_TIOU_THRESHOLDS: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7)
_LATENCY_TIOU = 0.5


def localization_map(
    ground_truth: Sequence[Mapping],
    predictions: Sequence[Mapping],
    tiou_thresholds: Sequence[float] = THUMOS_TIOU_THRESHOLDS,
) -> dict[str, float]:
    """mAP at each tIoU threshold and their mean, in percent (0-100).

    ground_truth: items ``{"video", "label", "start", "end"}`` (seconds).
    predictions: items ``{"video", "label", "start", "end", "score"[, "emitted_at"]}``.
    Returns ``{"mAP@0.3": ..., ..., "mAP_avg": ...}``, plus ``latency_s`` (seconds; NaN without any true
    positive at tIoU 0.5) when every prediction carries ``emitted_at``.
    """
    if not ground_truth:
        raise ValueError("no ground-truth instances to evaluate against")
    thresholds = np.asarray(tiou_thresholds, dtype=np.float64)
    timed = [("emitted_at" in p) for p in predictions]
    if any(timed) and not all(timed):
        raise ValueError("emitted_at must be given for every prediction or for none")
    with_latency = bool(predictions) and all(timed)
    pr_emitted = np.array([float(p["emitted_at"]) for p in predictions]) if with_latency else None

    all_thresholds = np.append(thresholds, _LATENCY_TIOU)  # the last row serves the latency only
    ap_per_class: list[np.ndarray] = []
    delays: list[np.ndarray] = []
    for ranked, matched, gt_end in _match_classes(ground_truth, predictions, all_thresholds).values():
        if len(gt_end) == 0:
            continue  # only classes present in the ground truth are evaluated
        ap_per_class.append(_interpolated_ap(matched[:-1] >= 0, len(gt_end)))
        if pr_emitted is not None:
            hits = matched[-1] >= 0
            delays.append(pr_emitted[ranked][hits] - gt_end[matched[-1][hits]])

    ap = np.stack(ap_per_class, axis=1)  # (T, C)
    result = {f"mAP@{t:g}": 100 * float(ap[i].mean()) for i, t in enumerate(thresholds)}
    result["mAP_avg"] = 100 * float(ap.mean())
    if pr_emitted is not None:
        delay = np.concatenate(delays)
        result["latency_s"] = float(delay.mean()) if delay.size else float("nan")
    return result


def class_matches(
    ground_truth: Sequence[Mapping], predictions: Sequence[Mapping],
    tiou_thresholds: Sequence[float] = THUMOS_TIOU_THRESHOLDS,
) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """Per class of the ground truth or the predictions: the predictions' scores (P,) in ranking order, whether
    each is a true positive at each threshold (T, P), and the number of ground-truth instances.

    A prediction meets only its own video's ground truth, after the higher-scoring predictions of that video,
    so one video's matches hold in any set of videos: :func:`pooled_map` then gives the mAP of any draw of
    videos (a bootstrap over test videos) without matching again.
    """
    score = np.array([float(p["score"]) for p in predictions])
    return {label: (score[ranked], matched >= 0, len(gt_end)) for label, (ranked, matched, gt_end)
            in _match_classes(ground_truth, predictions, np.asarray(tiou_thresholds, dtype=np.float64)).items()}


def _match_classes(
    ground_truth: Sequence[Mapping], predictions: Sequence[Mapping], thresholds: np.ndarray,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per class of the ground truth or the predictions: the indices of its predictions in ranking order
    (descending score, stable), their matches (T, P) (a row of the class's ground truth ordered by video, or -1
    for a false positive) and that ground truth's end times."""
    videos = {v: i for i, v in enumerate(sorted({str(x["video"]) for x in [*ground_truth, *predictions]}))}
    gt_label = np.array([str(g["label"]) for g in ground_truth])
    gt_video = np.array([videos[str(g["video"])] for g in ground_truth], dtype=np.int64)
    gt_segment = np.array([(float(g["start"]), float(g["end"])) for g in ground_truth]).reshape(-1, 2)
    pr_label = np.array([str(p["label"]) for p in predictions])
    pr_video = np.array([videos[str(p["video"])] for p in predictions], dtype=np.int64)
    pr_segment = np.array([(float(p["start"]), float(p["end"])) for p in predictions]).reshape(-1, 2)
    pr_score = np.array([float(p["score"]) for p in predictions])
    out = {}
    for label in sorted({*gt_label.tolist(), *pr_label.tolist()}):
        g = np.flatnonzero(gt_label == label)
        g = g[np.argsort(gt_video[g], kind="stable")]  # grouped by video: a prediction only meets its video's
        p = np.flatnonzero(pr_label == label)
        p = p[np.argsort(-pr_score[p], kind="stable")]
        bounds = np.searchsorted(gt_video[g], [pr_video[p], pr_video[p] + 1]).T.reshape(-1, 2)  # candidate range
        out[label] = (p, _greedy_match(pr_segment[p], bounds, gt_segment[g], thresholds), gt_segment[g][:, 1])
    return out


def pooled_map(
    parts: Sequence[Mapping[str, tuple[np.ndarray, np.ndarray, int]]],
    tiou_thresholds: Sequence[float] = THUMOS_TIOU_THRESHOLDS,
) -> dict[str, float]:
    """mAP (percent, as :func:`localization_map`) of the union of parts matched separately by
    :func:`class_matches`, each a video or a set of whole videos, counted as often as it appears."""
    labels = sorted({label for part in parts for label, (_, _, n) in part.items() if n > 0})
    if not labels:
        raise ValueError("no ground-truth instances to evaluate against")
    aps = []
    for label in labels:
        got = [part[label] for part in parts if label in part]
        scores = np.concatenate([s for s, _, _ in got])
        hits = np.concatenate([t for _, t, _ in got], axis=1)
        rank = np.argsort(-scores, kind="stable")  # ties keep part order, as the pooled ranking would
        aps.append(_interpolated_ap(hits[:, rank], sum(n for _, _, n in got)))
    ap = np.stack(aps, axis=1)  # (T, C)
    result = {f"mAP@{t:g}": 100 * float(ap[i].mean()) for i, t in enumerate(tiou_thresholds)}
    result["mAP_avg"] = 100 * float(ap.mean())
    return result


def _tiou(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Temporal IoU (P, G) between segments predicted (P, 2) and truth (G, 2), in continuous time."""
    inter = np.clip(
        np.minimum(predicted[:, None, 1], truth[None, :, 1])
        - np.maximum(predicted[:, None, 0], truth[None, :, 0]),
        0.0,
        None,
    )
    union = (predicted[:, 1] - predicted[:, 0])[:, None] + (truth[:, 1] - truth[:, 0])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _greedy_match(
    predicted: np.ndarray, bounds: np.ndarray, truth: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """Match predictions (P, 2), best score first, to ground truth (G, 2) at each threshold (T,).

    ``bounds`` (P, 2) is the range of ground-truth rows in each prediction's video. Returns (T, P): the
    matched ground-truth row, or -1 for a false positive. Sequential over predictions because an earlier
    (higher-scoring) match locks its instance; vectorised over thresholds and instances.
    """
    matched = np.full((len(thresholds), len(predicted)), -1, dtype=np.int64)
    free = np.ones((len(thresholds), len(truth)), dtype=bool)
    rows = np.arange(len(thresholds))
    for i, (lo, hi) in enumerate(bounds):
        if lo == hi:
            continue  # no instance of this class in the prediction's video
        tiou = _tiou(predicted[i : i + 1], truth[lo:hi])[0]  # (G_video,)
        candidates = free[:, lo:hi] & (tiou[None, :] >= thresholds[:, None])  # (T, G_video)
        best = np.where(candidates, tiou[None, :], -np.inf).argmax(axis=1)
        hit = candidates[rows, best]
        matched[hit, i] = lo + best[hit]
        free[rows[hit], lo + best[hit]] = False
    return matched


def _interpolated_ap(true_positive: np.ndarray, num_gt: int) -> np.ndarray:
    """VOC all-point interpolated AP per threshold from true_positive (T, P) in ranking order; (T,)."""
    if true_positive.shape[1] == 0:
        return np.zeros(true_positive.shape[0])
    tp = np.cumsum(true_positive, axis=1)
    fp = np.cumsum(~true_positive, axis=1)
    recall = tp / num_gt
    precision = tp / (tp + fp)
    # Precision envelope: the best precision at any recall at least as high (monotone from the right).
    envelope = np.flip(np.maximum.accumulate(np.flip(precision, axis=1), axis=1), axis=1)
    recall_step = np.diff(recall, axis=1, prepend=0.0)
    return (recall_step * envelope).sum(axis=1)
