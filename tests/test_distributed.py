"""Sharded evaluation under torchrun: 2 gloo processes give exactly the metrics 1 process gives, for every task,
and only rank 0 writes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from streammem import distributed


def test_one_process_is_a_world_of_one():
    assert distributed.world_size() == 1 and distributed.is_main()
    assert distributed.shard([1, 2, 3]) == [1, 2, 3] and distributed.gather([4, 5]) == [4, 5]


def _datasets(root):
    """A tiny held-out set per task in its public layout, and the eval arguments that read it."""
    import soundfile as sf

    from streammem.data.synthetic_mot import SyntheticMOTConfig, write_split
    from streammem.data.synthetic_tal import SyntheticTALConfig, generate_synthetic_tal

    generate_synthetic_tal(root / "tal", num_train=1, num_test=3, seed=5, cfg=SyntheticTALConfig(num_features=(80, 120)))
    write_split(root / "track", "val", [5000, 5001, 5002], SyntheticMOTConfig(num_frames=8))
    folder = root / "asr" / "test" / "900" / "1"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(3):
        sf.write(folder / f"900-1-{i:04d}.flac", 0.1 * rng.standard_normal(16000).astype(np.float32), 16000)
        lines.append(f"900-1-{i:04d} HELLO WORLD\n")
    (folder / "900-1.trans.txt").write_text("".join(lines))
    return {
        "tal": ["--data", str(root / "tal"), "--subset", "Test"],
        "track": [str(root / "track")],
        "asr": ["--data", str(root / "asr"), "--long-split", ""],
    }


def _run(cmd, env):
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
@pytest.mark.parametrize("task", ["tal", "track", "asr"])
def test_two_gloo_processes_give_the_one_process_metrics(task, tmp_path):
    args = _datasets(tmp_path)[task]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one, two = tmp_path / "one", tmp_path / "two"
    _run([sys.executable, "-m", "streammem", "eval", task, *args, "--threads", "1", "--out", str(one)], env)
    done = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
                 "streammem", "eval", task, *args, "--threads", "1", "--out", str(two)], env)
    assert done.stdout.count("wrote: ") == 1  # rank 0 alone reports (and writes)
    a = json.loads((one / "metrics.json").read_text())
    b = json.loads((two / "metrics.json").read_text())
    assert a == b
