"""Sharded evaluation under torchrun: 2 gloo processes give exactly the metrics 1 process gives, for every task,
and only rank 0 writes."""

import json
import os
import subprocess
import sys

import pytest
from heldout import write_eval_sets

from streammem import distributed


def test_one_process_is_a_world_of_one():
    assert distributed.world_size() == 1 and distributed.is_main()
    assert distributed.shard([1, 2, 3]) == [1, 2, 3] and distributed.gather([4, 5]) == [4, 5]


def _run(cmd, env):
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _timing_free(metrics):
    """simulst's computation-aware latencies (``*_CA``) are wall-clock times: they differ between any two runs."""
    if "results" not in metrics:
        return metrics
    return metrics | {"results": [{k: v for k, v in row.items() if not k.endswith("_CA")} for row in metrics["results"]]}


@pytest.mark.slow
@pytest.mark.parametrize("task", ["tal", "track", "asr", "simulst", "anomaly"])
def test_two_gloo_processes_give_the_one_process_metrics(task, tmp_path):
    args = write_eval_sets(tmp_path)[task]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one, two = tmp_path / "one", tmp_path / "two"
    _run([sys.executable, "-m", "streammem", "eval", task, *args, "--threads", "1", "--out", str(one)], env)
    done = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
                 "streammem", "eval", task, *args, "--threads", "1", "--out", str(two)], env)
    assert done.stdout.count("wrote: ") == 1  # rank 0 alone reports (and writes)
    a = json.loads((one / "metrics.json").read_text())
    b = json.loads((two / "metrics.json").read_text())
    assert _timing_free(a) == _timing_free(b)
    assert sorted(p.name for p in (one / "streams").iterdir()) == sorted(p.name for p in (two / "streams").iterdir())


@pytest.mark.slow
def test_missing_synthetic_track_data_is_generated_by_rank_zero_alone(tmp_path):
    script = ("import sys, torch; from pathlib import Path; from streammem import distributed; "
              "from streammem.tasks.track import ensure_synthetic_test; "
              "distributed.init_from_env(torch.device('cpu')); ensure_synthetic_test(Path(sys.argv[1])); "
              "distributed.shutdown()")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "--no-python",
                 sys.executable, "-c", script, str(tmp_path / "synth")], env)
    assert done.stdout.count("generating held-out synthetic sequences") == 1
    assert (tmp_path / "synth" / "val_seqmap.txt").is_file()
