"""Every bench adapter puts its models and inputs on the run's device: its streaming step, recompute and peers
run on the ``meta`` device, where a tensor left on the CPU raises or comes out on the CPU.

Left out, as they read a tensor's value (``.item()``, impossible on ``meta``): the simulst step (its frame
counter) and the asr peers (torchaudio's Emformer reads its state's length)."""

import importlib

import pytest
import torch
from torch.utils._pytree import tree_leaves

from streammem.bench.harness import Options

META = torch.device("meta")
OPTS = Options(positions=(1,), repeats=1, warmup=1, recompute_seconds=1.0, recompute_memory_mb=1.0, configs=("tiny",),
               device=META)


def _adapter(task: str):
    return importlib.import_module(f"streammem.bench.{task}")


def _devices(obj) -> set[torch.device]:
    return {t.device for t in tree_leaves(obj) if isinstance(t, torch.Tensor)}


@pytest.mark.parametrize("task", ["tal", "track", "asr", "anomaly"])
def test_the_streaming_step_runs_on_the_options_device(task):
    workload = _adapter(task).stream(OPTS)
    with torch.no_grad():
        state = workload.initial_state()
        for i in range(2):
            state = workload.step(state, i)
    assert workload.device == META and _devices(state) == {META}


@pytest.mark.parametrize("task", ["tal", "track", "asr", "simulst", "anomaly"])
def test_the_recompute_runs_on_the_workload_device(task):
    adapter = _adapter(task)
    job = adapter.recompute(adapter.stream(OPTS), 2)
    with torch.no_grad():
        assert _devices(job.run()) == {META}


@pytest.mark.parametrize("task", ["tal", "track", "simulst", "anomaly"])
def test_the_peers_run_on_the_options_device(task):
    with torch.no_grad():
        peers = _adapter(task).peers("tiny", OPTS)
        outputs = [(peer.ours(), peer.theirs()) for peer in peers]
    assert peers and _devices(outputs) == {META}
