"""ActivityNet-style mAP@tIoU and detection latency: hand-worked cases and a loop-by-loop reference."""

from __future__ import annotations

import numpy as np
import pytest

from streammem.evaluation.functional.localization import localization_map

KEYS = ["mAP@0.3", "mAP@0.4", "mAP@0.5", "mAP@0.6", "mAP@0.7", "mAP_avg"]


def gt(video, label, start, end):
    return {"video": video, "label": label, "start": start, "end": end}


def det(video, label, start, end, score, **extra):
    return {"video": video, "label": label, "start": start, "end": end, "score": score, **extra}


def test_perfect_detections_score_100():
    truth = [gt("v1", "jump", 0, 10), gt("v1", "jump", 20, 30), gt("v2", "run", 5, 8)]
    result = localization_map(truth, [det(**t, score=0.9) for t in truth])
    assert list(result) == KEYS
    assert all(v == pytest.approx(100.0) for v in result.values())


def test_duplicate_detection_is_a_false_positive():
    truth = [gt("v", "a", 0, 10), gt("v", "a", 20, 30)]
    preds = [det("v", "a", 0, 10, 0.9), det("v", "a", 0, 10, 0.8), det("v", "a", 20, 30, 0.7)]
    # Ranked TP, FP (duplicate), TP: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
    # AP = 1/2 * 1 + 1/2 * 2/3 = 5/6 at every threshold.
    result = localization_map(truth, preds)
    assert result["mAP_avg"] == pytest.approx(100 * 5 / 6)
    assert result["mAP@0.7"] == pytest.approx(100 * 5 / 6)


def test_a_missed_instance_halves_ap():
    truth = [gt("v", "a", 0, 10), gt("v", "a", 20, 30)]
    assert localization_map(truth, [det("v", "a", 20, 30, 0.5)])["mAP_avg"] == pytest.approx(50.0)


def test_two_classes_one_without_predictions_and_a_class_absent_from_gt():
    truth = [gt("v", "a", 0, 10), gt("v", "b", 20, 30)]
    preds = [det("v", "a", 0, 10, 0.9), det("v", "zzz", 20, 30, 0.9)]  # "zzz" is not in GT: not evaluated
    # AP(a) = 1, AP(b) = 0 (no predictions): mAP = 1/2.
    assert localization_map(truth, preds)["mAP_avg"] == pytest.approx(50.0)


def test_tiou_threshold_decides_match():
    # tIoU([0, 6], [0, 10]) = 6 / 10: a match at 0.3 ... 0.6, a false positive at 0.7.
    result = localization_map([gt("v", "a", 0, 10)], [det("v", "a", 0, 6, 0.9)])
    assert [result[k] for k in KEYS[:5]] == pytest.approx([100, 100, 100, 100, 0])
    assert result["mAP_avg"] == pytest.approx(80.0)


def test_detection_in_another_video_does_not_match():
    result = localization_map(
        [gt("v1", "a", 0, 10)], [det("v2", "a", 0, 10, 0.9), det("v1", "a", 0, 10, 0.1)]
    )
    # Ranked FP, TP: precision envelope 1/2 at recall 1.
    assert result["mAP_avg"] == pytest.approx(50.0)


def test_all_point_interpolation_worked_by_hand():
    truth = [gt("v", "a", 0, 10), gt("v", "a", 20, 30), gt("v", "a", 40, 50)]
    preds = [
        det("v", "a", 0, 10, 0.9),  # TP  precision 1    recall 1/3
        det("v", "a", 60, 70, 0.8),  # FP  1/2
        det("v", "a", 80, 90, 0.7),  # FP  1/3
        det("v", "a", 20, 30, 0.6),  # TP  2/4          recall 2/3
        det("v", "a", 40, 50, 0.5),  # TP  3/5          recall 1
    ]
    # The envelope lifts the 2/4 at recall 2/3 to the later 3/5: AP = (1 + 3/5 + 3/5) / 3 (not (1 + 1/2 + 3/5) / 3).
    assert localization_map(truth, preds)["mAP@0.5"] == pytest.approx(100 * (1 + 0.6 + 0.6) / 3)


def test_latency_is_mean_emission_minus_gt_end_over_true_positives_at_half():
    truth = [gt("v", "a", 0, 10), gt("v", "a", 20, 30)]
    preds = [
        det("v", "a", 0, 10, 0.9, emitted_at=12.0),  # +2 s
        det("v", "a", 21, 30, 0.8, emitted_at=29.0),  # -1 s
        det("v", "a", 50, 60, 0.7, emitted_at=99.0),  # false positive: no latency
    ]
    result = localization_map(truth, preds)
    assert result["latency_s"] == pytest.approx(0.5)
    assert "latency_s" not in localization_map(truth, [det("v", "a", 0, 10, 0.9)])


def test_latency_is_nan_without_true_positives_and_inputs_are_checked():
    assert np.isnan(
        localization_map([gt("v", "a", 0, 10)], [det("v", "a", 50, 60, 1, emitted_at=61)])["latency_s"]
    )
    with pytest.raises(ValueError, match="emitted_at"):
        localization_map([gt("v", "a", 0, 1)], [det("v", "a", 0, 1, 1, emitted_at=2), det("v", "a", 0, 1, 1)])
    with pytest.raises(ValueError, match="no ground-truth"):
        localization_map([], [det("v", "a", 0, 1, 1)])


def _anet_reference(truth, preds, thresholds):
    """ActivityNet's compute_average_precision_detection + interpolated_prec_rec, loop by loop."""
    aps = []
    for label in sorted({t["label"] for t in truth}):
        g = [t for t in truth if t["label"] == label]
        p = sorted((d for d in preds if d["label"] == label), key=lambda d: -d["score"])
        if not p:
            aps.append(np.zeros(len(thresholds)))
            continue
        tp = np.zeros((len(thresholds), len(p)))
        fp = np.zeros((len(thresholds), len(p)))
        lock = -np.ones((len(thresholds), len(g)))
        for i, d in enumerate(p):
            cand = [j for j, t in enumerate(g) if t["video"] == d["video"]]
            if not cand:
                fp[:, i] = 1
                continue
            inter = [max(0.0, min(d["end"], g[j]["end"]) - max(d["start"], g[j]["start"])) for j in cand]
            union = [
                (d["end"] - d["start"]) + (g[j]["end"] - g[j]["start"]) - x
                for j, x in zip(cand, inter, strict=True)
            ]
            tiou = np.array(inter) / np.array(union)
            for k, thr in enumerate(thresholds):
                for j in np.argsort(tiou)[::-1]:
                    if tiou[j] < thr:
                        fp[k, i] = 1
                        break
                    if lock[k, cand[j]] >= 0:
                        continue
                    tp[k, i] = 1
                    lock[k, cand[j]] = i
                    break
                if fp[k, i] == 0 and tp[k, i] == 0:
                    fp[k, i] = 1
        ap = []
        for k in range(len(thresholds)):
            tpc, fpc = np.cumsum(tp[k]), np.cumsum(fp[k])
            rec, prec = tpc / len(g), tpc / (tpc + fpc)
            mprec, mrec = np.hstack([[0], prec, [0]]), np.hstack([[0], rec, [1]])
            for i in range(len(mprec) - 1)[::-1]:
                mprec[i] = max(mprec[i], mprec[i + 1])
            idx = np.where(mrec[1:] != mrec[:-1])[0] + 1
            ap.append(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))
        aps.append(np.array(ap))
    return 100 * np.array(aps).mean(axis=0)


@pytest.mark.parametrize("seed", range(5))
def test_matches_activitynet_reference_on_random_sets(seed):
    rng = np.random.default_rng(seed)
    thresholds = (0.3, 0.4, 0.5, 0.6, 0.7)
    truth, preds = [], []
    for _ in range(40):
        s = rng.uniform(0, 100)
        truth.append(gt(f"v{rng.integers(4)}", f"c{rng.integers(3)}", s, s + rng.uniform(1, 20)))
    for t in truth:
        for _ in range(rng.integers(0, 3)):  # jittered detections, sometimes duplicates
            s, e = t["start"] + rng.normal(0, 2), t["end"] + rng.normal(0, 2)
            preds.append(det(t["video"], t["label"], min(s, e), max(s, e), rng.uniform()))
    for _ in range(20):  # background false positives
        s = rng.uniform(0, 100)
        preds.append(det(f"v{rng.integers(5)}", f"c{rng.integers(3)}", s, s + 5, rng.uniform()))
    result = localization_map(truth, preds, thresholds)
    expected = _anet_reference(truth, preds, thresholds)
    assert [result[f"mAP@{t:g}"] for t in thresholds] == pytest.approx(list(expected), abs=1e-9)
    assert result["mAP_avg"] == pytest.approx(expected.mean(), abs=1e-9)


def test_pooled_map_of_videos_matched_one_by_one_equals_the_map_of_their_union():
    from streammem.evaluation.functional.localization import class_matches, pooled_map

    rng = np.random.default_rng(0)
    gt, preds = {}, {}
    for v in range(6):
        starts = rng.uniform(0, 50, 4)
        gt[v] = [{"video": v, "label": str(rng.integers(3)), "start": s, "end": s + rng.uniform(1, 8)} for s in starts]
        preds[v] = [{"video": v, "label": str(rng.integers(3)), "start": g["start"] + rng.normal(0, 1),
                     "end": g["end"] + rng.normal(0, 1), "score": float(rng.choice([0.2, 0.5, 0.9]))}  # ties too
                    for g in gt[v] for _ in range(2)]
    parts = {v: class_matches(gt[v], preds[v]) for v in gt}
    for _ in range(5):
        drawn = rng.integers(0, 6, 6)  # with repeats: a video drawn twice counts twice
        union_gt = [{**g, "video": f"{v}#{k}"} for k, v in enumerate(drawn) for g in gt[v]]
        union_pr = [{**p, "video": f"{v}#{k}"} for k, v in enumerate(drawn) for p in preds[v]]
        assert pooled_map([parts[v] for v in drawn]) == pytest.approx(localization_map(union_gt, union_pr))
