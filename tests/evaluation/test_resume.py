"""Resumable evaluation: per-stream results stored under a fingerprint of weights and options, reused by a rerun;
an interrupted `eval` resumed gives exactly the metrics of an uninterrupted one."""

import json

import numpy as np
import pytest
from heldout import write_eval_sets

from streammem.cli import main
from streammem.evaluation.resume import StreamResults, fingerprint


@pytest.fixture
def weights(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"weights one")
    return path


def test_fingerprint_changes_with_the_weights_bytes_the_sidecar_and_the_options(weights):
    base = fingerprint(weights, mode="streaming", beam=10)
    assert fingerprint(weights, beam=10, mode="streaming") == base  # option order does not matter
    assert fingerprint(weights, mode="full", beam=10) != base
    assert fingerprint(weights, mode="streaming", beam=10, data="/other") != base
    weights.with_suffix(".json").write_text('{"config": {}}')
    with_sidecar = fingerprint(weights, mode="streaming", beam=10)
    assert with_sidecar != base
    weights.write_bytes(b"weights two")
    assert fingerprint(weights, mode="streaming", beam=10) != with_sidecar


def test_map_stores_each_stream_and_a_rerun_computes_only_the_missing_ones(tmp_path):
    calls = []

    def compute(name):
        calls.append(name)
        return {"name": name, "score": np.float32(0.1) * len(name), "boxes": np.arange(3.0) / 7}

    first = StreamResults(tmp_path / "streams", "fp1").map(["a", "bb", "c/d"], key=str, compute=compute)
    assert calls == ["a", "bb", "c/d"] and len(list((tmp_path / "streams").glob("*.json"))) == 3
    (tmp_path / "streams" / "bb.json").unlink()  # as if interrupted before "bb" finished
    calls.clear()
    again = StreamResults(tmp_path / "streams", "fp1")
    assert again.map(["a", "bb", "c/d"], key=str, compute=compute) == first  # the JSON form, equal both times
    assert calls == ["bb"] and (again.reused, again.computed) == (2, 1)


def test_another_fingerprint_no_resume_or_a_damaged_record_recompute(tmp_path):
    StreamResults(tmp_path, "fp1").map(["a", "b"], key=str, compute=lambda s: 1)
    assert StreamResults(tmp_path, "fp2").map(["a", "b"], key=str, compute=lambda s: 2) == [2, 2]
    assert StreamResults(tmp_path, "fp2", resume=False).map(["a"], key=str, compute=lambda s: 3) == [3]
    (tmp_path / "b.json").write_text('{"stream": "b", "finger')  # a torn file from another tool
    cache = StreamResults(tmp_path, "fp2")
    assert cache.map(["a", "b"], key=str, compute=lambda s: 4) == [3, 4]
    assert (cache.reused, cache.computed) == (1, 1)


def test_two_keys_that_clean_to_the_same_name_keep_separate_files(tmp_path):
    cache = StreamResults(tmp_path, "fp")
    assert cache.path("a/b") != cache.path("a_b") and cache.path("a/b").parent == tmp_path
    cache.map(["a/b", "a_b"], key=str, compute=lambda s: s)
    assert StreamResults(tmp_path, "fp").map(["a/b", "a_b"], key=str, compute=lambda s: None) == ["a/b", "a_b"]


def _eval(task, args, out, *extra):
    assert main(["eval", task, *args, "--threads", "1", "--out", str(out), *extra]) == 0
    return json.loads((out / "metrics.json").read_text())


def _interrupted_then_resumed(task, tmp_path, capsys, unit):
    """Metrics of an uninterrupted run, and of a run resumed after losing its last stream's result."""
    args = write_eval_sets(tmp_path)[task]
    whole = _eval(task, args, tmp_path / "whole")
    out = tmp_path / "resumed"
    _eval(task, args, out)
    stored = sorted((out / "streams").glob("*.json"))
    assert len(stored) >= 3
    stored[-1].unlink()  # the last stream never finished
    (out / "metrics.json").unlink()
    capsys.readouterr()
    resumed = _eval(task, args, out)
    assert f"resumed: {len(stored) - 1} of {len(stored)} {unit}" in capsys.readouterr().out
    return whole, resumed


def test_tal_eval_resumed_after_an_interruption_equals_an_uninterrupted_run(tmp_path, capsys):
    whole, resumed = _interrupted_then_resumed("tal", tmp_path, capsys, "videos")
    assert resumed == whole


def test_tal_eval_recomputes_when_an_option_changes_or_with_no_resume(tmp_path, capsys):
    args = write_eval_sets(tmp_path)["tal"]
    out = tmp_path / "out"
    _eval("tal", args, out)
    capsys.readouterr()
    _eval("tal", args, out, "--feature-rate", "4")  # explicit rate: another fingerprint
    assert "resumed:" not in capsys.readouterr().out
    _eval("tal", args, out, "--feature-rate", "4", "--no-resume")
    assert "resumed:" not in capsys.readouterr().out


def _timing_free(metrics):
    """simulst's computation-aware latencies (``*_CA``) are wall-clock times; they are stored per stream, so a
    resumed run reports the stored ones, but an uninterrupted rerun measures its own."""
    if "results" not in metrics:
        return metrics
    return metrics | {"results": [{k: v for k, v in row.items() if not k.endswith("_CA")} for row in metrics["results"]]}


@pytest.mark.slow
@pytest.mark.parametrize("task, unit", [("track", "sequences"), ("asr", "recordings"), ("simulst", "talks"),
                                        ("anomaly", "batches")])
def test_eval_resumed_after_an_interruption_equals_an_uninterrupted_run(task, unit, tmp_path, capsys):
    whole, resumed = _interrupted_then_resumed(task, tmp_path, capsys, unit)
    assert _timing_free(resumed) == _timing_free(whole)
