"""Tracking metrics: hand-computed golden cases and equality with TrackEval's own Evaluator."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest
import trackeval

from streammem.data.mot import MOT_CLASSES, MotBoxes
from streammem.evaluation.functional.tracking import (
    TRACKING_KEYS,
    score_mot_folder,
    sequence_statistics,
    tracking_table,
)

A = (100.0, 100.0, 50.0, 100.0)  # two far-apart objects, x y w h
B = (600.0, 100.0, 50.0, 100.0)
FAR = (1200.0, 600.0, 50.0, 100.0)


def _gt(rows):
    """Ground truth from (frame, id, box) rows: consider flag 1, class pedestrian, fully visible."""
    n = len(rows)
    return MotBoxes(
        frame=np.array([r[0] for r in rows]), track_id=np.array([r[1] for r in rows]),
        box=np.array([r[2] for r in rows], dtype=float).reshape(n, 4),
        score=np.ones(n), cls=np.ones(n, dtype=np.int64), visibility=np.ones(n),
    )  # fmt: skip


def _pred(rows):
    return MotBoxes.tracks([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


def _row(gt_rows, pred_rows, num_frames):
    stats = sequence_statistics(_gt(gt_rows), _pred(pred_rows), num_frames)
    return tracking_table({"seq": stats})["COMBINED"]


def test_perfect_tracking_scores_100():
    gt = [(f, 1, A) for f in (1, 2, 3)] + [(f, 2, B) for f in (1, 2, 3)]
    row = _row(gt, [(f, i + 10, box) for f, i, box in gt], 3)
    assert row == {"HOTA": 100.0, "DetA": 100.0, "AssA": 100.0, "MOTA": 100.0, "IDF1": 100.0, "IDSW": 0}


def test_duplicate_miss_false_positive_and_id_switch_by_hand():
    gt = [(f, 1, A) for f in (1, 2, 3, 4)] + [(f, 2, B) for f in (1, 2, 3, 4)]
    pred = [
        (1, 10, A), (1, 20, B),
        (2, 10, A), (2, 20, B), (2, 30, A),  # track 30 duplicates A: a false positive
        (3, 10, A), (3, 40, FAR),  # B missed; track 40 is a false positive
        (4, 50, A), (4, 20, B),  # A continues as track 50: one ID switch
    ]  # fmt: skip
    row = _row(gt, pred, 4)
    # 8 GT boxes, TP 7, FN 1, FP 2, IDSW 1: MOTA = 1 - (1 + 2 + 1) / 8.
    assert row["MOTA"] == pytest.approx(50.0)
    assert row["IDSW"] == 1
    # Identity: best id pairing A-10 (3 frames), B-20 (3): IDTP 6, IDFN 8 - 6, IDFP 9 - 6; IDF1 = 12 / 17.
    assert row["IDF1"] == pytest.approx(100 * 12 / 17)


def test_frames_outside_the_sequence_are_rejected():
    with pytest.raises(ValueError, match="frames outside 1..2"):
        sequence_statistics(_gt([(1, 1, A)]), _pred([(3, 1, A)]), num_frames=2)


def test_hota_of_an_id_switch_halfway_is_sqrt_half():
    gt = [(f, 1, A) for f in (1, 2, 3, 4)]
    pred = [(1, 7, A), (2, 7, A), (3, 8, A), (4, 8, A)]
    row = _row(gt, pred, 4)
    # Every box is exact, so DetA = 1 at all alphas; each TP's association: TPA 2 / (TPA 2 + FNA 2 + FPA 0).
    assert row["DetA"] == pytest.approx(100.0)
    assert row["AssA"] == pytest.approx(50.0)
    assert row["HOTA"] == pytest.approx(100 * math.sqrt(0.5))


def test_hota_of_half_the_frames_detected_is_half():
    gt = [(f, 1, A) for f in (1, 2, 3, 4)]
    row = _row(gt, [(1, 3, A), (2, 3, A)], 4)
    # DetA = TP 2 / (TP 2 + FN 2); AssA = 2 / (2 + 2 + 0); HOTA = sqrt(0.5 * 0.5).
    assert (row["DetA"], row["AssA"], row["HOTA"]) == pytest.approx((50.0, 50.0, 50.0))
    assert row["MOTA"] == pytest.approx(50.0) and row["IDSW"] == 0


def _trackeval_evaluator(root, split_dir, seqmap):
    """TrackEval's own pipeline, configured as DanceTrack's official command; returns per-seq and combined rows."""
    evaluator = trackeval.Evaluator(
        {"PRINT_RESULTS": False, "PRINT_CONFIG": False, "TIME_PROGRESS": False, "OUTPUT_SUMMARY": False,
         "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "BREAK_ON_ERROR": True}
    )  # fmt: skip
    dataset = trackeval.datasets.MotChallenge2DBox(
        {"GT_FOLDER": str(split_dir), "TRACKERS_FOLDER": str(root), "TRACKERS_TO_EVAL": ["tracker"],
         "TRACKER_SUB_FOLDER": "", "SEQMAP_FILE": str(seqmap), "SKIP_SPLIT_FOL": True, "PRINT_CONFIG": False,
         "OUTPUT_FOLDER": str(root / "trackeval_out")}
    )  # fmt: skip
    metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(), trackeval.metrics.Identity()]
    with contextlib.redirect_stdout(io.StringIO()):
        output, _ = evaluator.evaluate([dataset], metrics)
    res = output["MotChallenge2DBox"]["tracker"]

    def row(r):
        return {
            "HOTA": 100 * float(np.mean(r["HOTA"]["HOTA"])), "DetA": 100 * float(np.mean(r["HOTA"]["DetA"])),
            "AssA": 100 * float(np.mean(r["HOTA"]["AssA"])), "MOTA": 100 * float(r["CLEAR"]["MOTA"]),
            "IDF1": 100 * float(r["Identity"]["IDF1"]), "IDSW": int(r["CLEAR"]["IDSW"]),
        }  # fmt: skip

    per_seq = {seq: row(v["pedestrian"]) for seq, v in res.items() if seq != "COMBINED_SEQ"}
    return per_seq, row(res["COMBINED_SEQ"]["pedestrian"]), dataset


@pytest.mark.parametrize("mot17", [False, True], ids=["dancetrack_gt", "mot17_flags_and_distractors"])
def test_equals_trackeval_evaluator_on_the_same_files(tmp_path, dancetrack_writer, tracking_set, mot17):
    sequences, predictions = tracking_set(seed=3, mot17=mot17)
    split_dir, seqmap, tracker = dancetrack_writer(tmp_path, sequences, predictions)
    ours = score_mot_folder(split_dir, tracker, seqmap)
    per_seq, combined, dataset = _trackeval_evaluator(tmp_path, split_dir, seqmap)
    assert ours["sequences"] == per_seq  # exact: same code, same data, same summation order
    assert ours["COMBINED"] == combined
    assert 0 < combined["HOTA"] < 100 and combined["IDSW"] > 0  # the set exercises errors, not a trivial case
    assert dataset.class_name_to_class_id == MOT_CLASSES
    assert ours["missing_sequences"] == [] and tuple(ours["COMBINED"]) == TRACKING_KEYS
    # MOT17 preprocessing ignores the static person (30 frames x 3 sequences) and every third frame of a
    # not-considered box (10 x 3), and removes predictions on the static person.
    assert ours["skipped"]["ground_truth_ignored"] == (120 if mot17 else 0)
    assert (
        (0 < ours["skipped"]["predictions_on_distractors"] <= 90)
        if mot17
        else ours["skipped"]["predictions_on_distractors"] == 0
    )


def test_missing_sequence_is_scored_as_all_misses_and_listed(tmp_path, dancetrack_writer, tracking_set):
    sequences, predictions = tracking_set(seed=5)
    missing = sorted(sequences)[1]
    predictions = {**predictions, missing: []}  # TrackEval needs a file: an empty one means no tracks
    split_dir, seqmap, tracker = dancetrack_writer(tmp_path, sequences, predictions)
    per_seq, combined, _ = _trackeval_evaluator(tmp_path, split_dir, seqmap)
    (tracker / f"{missing}.txt").unlink()
    (tracker / "dancetrack0099.txt").write_text("1,1,0,0,10,10,1,-1,-1,-1\n")  # no such sequence
    ours = score_mot_folder(split_dir, tracker, seqmap)
    assert ours["missing_sequences"] == [missing]
    assert ours["unknown_predictions"] == ["dancetrack0099"] and ours["ignored_predictions"] == []
    assert ours["sequences"][missing]["DetA"] == 0.0 and ours["sequences"][missing]["MOTA"] == 0.0
    assert ours["sequences"] == per_seq and ours["COMBINED"] == combined


def test_without_seqmap_every_sequence_folder_is_scored(tmp_path, dancetrack_writer, tracking_set):
    sequences, predictions = tracking_set(seed=1, num_sequences=2)
    split_dir, seqmap, tracker = dancetrack_writer(tmp_path, sequences, predictions)
    assert score_mot_folder(split_dir, tracker) == score_mot_folder(split_dir, tracker, seqmap)


def _scramble_ids(boxes: MotBoxes, offset: int) -> MotBoxes:
    """The same boxes with every id moved far up (a bijection, so every metric must stay the same)."""
    return MotBoxes(boxes.frame, boxes.track_id * 7919 + offset, boxes.box, boxes.score, boxes.cls,
                    boxes.visibility)  # fmt: skip


@pytest.mark.parametrize("offset", [10**9, 10**12, 2**53 - 10**6])
def test_huge_track_ids_score_like_small_ones_without_allocating_by_id(offset):
    import tracemalloc

    rng = np.random.default_rng(0)
    gt = _gt([(f, k, (100 * k + f, 50, 40, 80)) for f in range(1, 31) for k in range(1, 5)])
    pred = _pred([(f, k if f < 15 else 5 - k, (100 * k + f + rng.normal(), 50, 40, 80))
                  for f in range(1, 31) for k in range(1, 5)])  # fmt: skip
    small = tracking_table({"s": sequence_statistics(gt, pred, 30)})
    tracemalloc.start()
    try:
        big = tracking_table({"s": sequence_statistics(_scramble_ids(gt, offset), _scramble_ids(pred, offset), 30)})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert big == small
    assert peak < 50 * 2**20  # TrackEval alone would allocate 8 bytes per id value: 8 GB at 10^9


def test_a_huge_sequence_length_scores_like_the_real_one():
    gt = _gt([(f, 1, A) for f in range(1, 11)])
    pred = _pred([(f, 1, A) for f in range(1, 8)])
    assert tracking_table({"s": sequence_statistics(gt, pred, 10**9)}) == tracking_table(
        {"s": sequence_statistics(gt, pred, 10)}
    )


def test_no_boxes_at_all_scores_zero_without_error():
    row = tracking_table({"s": sequence_statistics(MotBoxes.empty(), MotBoxes.empty(), 5)})["COMBINED"]
    assert row["IDSW"] == 0 and row["DetA"] == 0.0
