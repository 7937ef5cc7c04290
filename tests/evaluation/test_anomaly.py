"""Anomaly metrics on hand-computed cases, AUPRO against a per-threshold loop, and the accumulator."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from streammem.evaluation.functional.anomaly import (
    anomaly_metrics,
    aupro,
    f1_max_threshold,
    image_metrics,
    pixel_metrics,
)
from streammem.evaluation.metrics.anomaly import AnomalyMetric


def test_image_metrics_hand_computed():
    # Sorted by score: 0.8 (anomaly), 0.4 (normal), 0.35 (anomaly), 0.1 (normal).
    labels, scores = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    out = image_metrics(labels, scores)
    assert out["image_AUROC"] == pytest.approx(75.0)  # 3 of 4 anomaly/normal pairs ordered right
    assert out["image_AUPRC"] == pytest.approx(100 * (0.5 * 1 + 0.5 * 2 / 3))  # AP = sum dR * P
    assert out["F1_max"] == pytest.approx(80.0)  # at 0.35: P 2/3, R 1
    assert f1_max_threshold(np.array(labels), np.array(scores)) == pytest.approx(0.35)


def test_pixel_metrics_hand_computed():
    mask = np.array([[[1, 1, 0], [0, 0, 0]]], bool)
    amap = np.array([[[0.9, 0.5, 0.7], [0.1, 0.2, 0.3]]])
    out = pixel_metrics(mask, amap)
    assert out["pixel_AUROC"] == pytest.approx(100 * 7 / 8)  # 0.5 loses only to the normal 0.7
    # PRO curve: (0,0) (0,.5) (.25,.5) (.25,1) (.5,1); area up to FPR .3 = .25*.5 + .05*1 = .175, / .3
    assert out["AUPRO"] == pytest.approx(100 * 0.175 / 0.3)


def test_aupro_of_a_constant_map_is_the_diagonal_and_of_a_perfect_map_is_one():
    mask = np.zeros((2, 4, 4), bool)
    mask[0, 1:3, 1:3] = True
    assert aupro(mask, np.ones(mask.shape)) == pytest.approx(0.5 * 0.3 * 0.3 / 0.3)
    assert aupro(mask, mask.astype(float)) == pytest.approx(1.0)


def _aupro_by_threshold_loop(masks, maps, limit=0.3):
    """The definition, one threshold at a time: mean per-region overlap vs FPR, cut and normalised."""
    regions = [ndimage.label(m, structure=np.ones((3, 3)))[0] for m in masks]
    points = [(0.0, 0.0)]
    for thr in np.unique(np.concatenate([a.ravel() for a in maps]))[::-1]:
        overlaps, fp, neg = [], 0, 0
        for lab, amap in zip(regions, maps, strict=True):
            pred = amap >= thr
            overlaps += [pred[lab == r].mean() for r in range(1, lab.max() + 1)]
            fp += (pred & (lab == 0)).sum()
            neg += (lab == 0).sum()
        points.append((fp / neg, np.mean(overlaps)))
    fpr, pro = np.array(points).T
    keep = fpr <= limit
    x = np.r_[fpr[keep], limit]
    y = np.r_[pro[keep], np.interp(limit, fpr, pro)]
    return np.trapezoid(y, x) / limit


def test_aupro_matches_the_threshold_loop_with_regions_of_different_sizes_and_image_sizes():
    rng = np.random.default_rng(3)
    masks = [np.zeros((8, 8), bool), np.zeros((6, 10), bool), np.zeros((5, 5), bool)]
    masks[0][1:5, 1:5] = True  # a large region ...
    masks[0][7, 7] = True  # ... and a one-pixel region: both count equally
    masks[1][2:4, 6:9] = True
    maps = [rng.random(m.shape).round(2) + 0.3 * m for m in masks]  # rounding makes ties
    assert aupro(masks, maps) == pytest.approx(_aupro_by_threshold_loop(masks, maps), abs=1e-9)


def test_metrics_refuse_one_class_and_shape_mismatch():
    with pytest.raises(ValueError, match="both"):
        image_metrics([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="differ"):
        pixel_metrics([np.zeros((2, 2), bool)], [np.zeros((2, 3))])


def _samples(seed: int, with_maps: bool) -> list[dict]:
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(10):
        label = int(i % 3 == 0)
        size = (8, 8) if i % 2 else (6, 9)
        mask = np.zeros(size, bool)
        if label:
            mask[1:4, 2:5] = True
        sample = {"image": f"img{i}.png", "label": label, "score": float(rng.random() + 0.5 * label)}
        if with_maps:
            sample.update(anomaly_map=rng.random(size) + mask, mask=mask)
        samples.append(sample)
    return samples


@pytest.mark.parametrize("with_maps", [False, True])
def test_accumulator_split_over_two_ranks_equals_one_and_the_function(with_maps):
    samples = _samples(1, with_maps)
    single = AnomalyMetric()
    single.process(None, samples)
    first, second = AnomalyMetric(), AnomalyMetric()
    first.process(None, samples[1::2])
    second.process(None, samples[0::2])
    expected = single.compute_metrics(single.results)
    assert first.compute_metrics(first.results + second.results) == pytest.approx(expected)
    direct = anomaly_metrics(
        [s["label"] for s in samples], [s["score"] for s in samples],
        [s["mask"] for s in samples] if with_maps else None, [s["anomaly_map"] for s in samples] if with_maps else None,
    )
    assert expected == pytest.approx(direct)
    assert ("AUPRO" in expected) == with_maps


def test_accumulator_rejects_an_image_twice_and_a_map_without_mask():
    metric = AnomalyMetric()
    metric.process(None, _samples(2, False)[:3] * 2)
    with pytest.raises(ValueError, match="more than once"):
        metric.compute_metrics(metric.results)
    with pytest.raises(ValueError, match="both"):
        metric.process(None, [{"image": "a", "label": 0, "score": 0.1, "anomaly_map": np.zeros((2, 2))}])
