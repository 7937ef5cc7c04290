"""Accumulators: per-stream results split over two accumulators (two ranks) give the one-accumulator numbers."""

from __future__ import annotations

import numpy as np
import pytest

from streammem.data.mot import MotBoxes, find_sequences, read_mot_ground_truth, read_mot_results, read_seqinfo
from streammem.evaluation.functional.localization import localization_map
from streammem.evaluation.functional.tracking import score_mot_folder
from streammem.evaluation.metrics import LocalizationMetric, SpeechMetric, TrackingMetric


def _split_equals_single(metric_cls, samples, **kwargs):
    """Return (one accumulator's metrics, two accumulators' concatenated results' metrics)."""
    single = metric_cls(**kwargs)
    single.process(None, samples)
    first, second = metric_cls(**kwargs), metric_cls(**kwargs)
    first.process(None, samples[1::2])  # interleaved, as a distributed sampler shards
    second.process(None, samples[0::2])
    return single.compute_metrics(single.results), first.compute_metrics(first.results + second.results)


def test_tracking_metric_split_equals_single_and_the_folder_scorer(tmp_path, dancetrack_writer, tracking_set):
    sequences, predictions = tracking_set(seed=7, num_sequences=4)
    split_dir, seqmap, tracker = dancetrack_writer(tmp_path, sequences, predictions)
    samples = []
    for name in find_sequences(split_dir, seqmap):
        n = read_seqinfo(split_dir / name / "seqinfo.ini").num_frames
        gt = read_mot_ground_truth(split_dir / name / "gt" / "gt.txt", n)
        samples.append(
            {
                "sequence": name,
                "num_frames": n,
                "gt": gt,
                "pred": read_mot_results(tracker / f"{name}.txt", n),
            }
        )
    single, split = _split_equals_single(TrackingMetric, samples)
    assert split == single
    assert single == score_mot_folder(split_dir, tracker, seqmap)["COMBINED"]


def test_tracking_metric_evaluate_prefixes_and_rejects_a_sequence_seen_twice():
    gt = MotBoxes.tracks([1, 2], [1, 1], [[0, 0, 10, 10]] * 2)
    sample = {"sequence": "s", "num_frames": 2, "gt": gt, "pred": gt}
    metric = TrackingMetric()
    metric.process(None, [sample])
    assert metric.evaluate(size=1)["track/HOTA"] == pytest.approx(100.0)
    metric.process(None, [sample, sample])
    with pytest.raises(ValueError, match="more than once"):
        metric.compute_metrics(metric.results)


def test_localization_metric_split_equals_single_and_the_function():
    rng = np.random.default_rng(0)
    samples = []
    for v in range(6):
        truth = [{"label": f"c{k % 2}", "start": 10.0 * k, "end": 10.0 * k + 5} for k in range(3)]
        preds = [
            {"label": t["label"], "start": t["start"] + rng.normal(0, 1), "end": t["end"] + rng.normal(0, 1),
             "score": float(rng.uniform()), "emitted_at": t["end"] + 1.0}
            for t in truth
        ]  # fmt: skip
        samples.append({"video": f"v{v}", "ground_truth": truth, "predictions": preds})
    single, split = _split_equals_single(LocalizationMetric, samples, tiou_thresholds=(0.5, 0.7))
    assert split == single
    flat_gt = [{**t, "video": s["video"]} for s in samples for t in s["ground_truth"]]
    flat_pred = [{**p, "video": s["video"]} for s in samples for p in s["predictions"]]
    assert single == localization_map(flat_gt, flat_pred, (0.5, 0.7))
    assert list(single) == ["mAP@0.5", "mAP@0.7", "mAP_avg", "latency_s"]


def test_speech_metric_split_equals_single():
    samples = [
        {"utterance": "u1", "reference": "the cat sat", "hypothesis": "the cat sat"},
        {"utterance": "u2", "reference": "hello world", "hypothesis": "hello"},
        {"utterance": "u3", "reference": "a b c d", "hypothesis": "a x c d e"},
    ]
    single, split = _split_equals_single(SpeechMetric, samples)
    assert split == single
    # 9 reference words; errors: u2 1 deletion, u3 1 substitution + 1 insertion.
    assert single["WER"] == pytest.approx(100 * 3 / 9)
    assert [single[k] for k in ("substitutions", "deletions", "insertions", "hits")] == [1, 1, 1, 7]


def _rank_evaluates(rank: int, init_file: str, samples: list, queue) -> None:
    """One of two gloo ranks: process every other utterance, then gather and compute as mmengine does."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        metric = SpeechMetric()
        metric.process(None, samples[rank::2])
        queue.put((rank, metric.evaluate(size=len(samples))))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_speech_metric_gathers_across_two_gloo_processes(tmp_path):
    import multiprocessing

    samples = [
        {"utterance": f"u{i}", "reference": "a b c d", "hypothesis": "a b c d"[: 2 * i + 1]} for i in range(4)
    ]
    single = SpeechMetric()
    single.process(None, samples)
    expected = {f"asr/{k}": v for k, v in single.compute_metrics(single.results).items()}
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    ranks = [
        ctx.Process(target=_rank_evaluates, args=(r, str(tmp_path / "init"), samples, queue)) for r in (0, 1)
    ]
    for p in ranks:
        p.start()
    results = dict(queue.get(timeout=120) for _ in ranks)
    for p in ranks:
        p.join(timeout=60)
    assert [p.exitcode for p in ranks] == [0, 0]
    assert (
        results[0] == expected and results[1] == expected
    )  # rank 0 computes, every rank receives the result
