"""Soak: the runner notices a state that grows, and every task's shipped step stays flat over a long stream."""

import pytest
import torch

from streammem.soak import SOAK_TASKS, soak, state_bytes, stream_of


def _endless(chunk):
    while True:
        yield chunk


def test_soak_reports_a_growing_state_and_a_fixed_one():
    def growing(chunk, state):
        return chunk, torch.cat([state, chunk])

    def fixed(chunk, state):
        return chunk, state + chunk

    grew = soak("toy", growing, torch.zeros(1), _endless(torch.ones(1)), steps=300, warmup=10)
    assert grew.state_bytes_end > grew.state_bytes_start == 11 * 4
    flat = soak("toy", fixed, torch.zeros(1), _endless(torch.ones(1)), steps=300, warmup=10)
    assert flat.state_bytes_end == flat.state_bytes_start == 4
    assert state_bytes((torch.zeros(2, 3), [torch.zeros(5, dtype=torch.int64)])) == 6 * 4 + 5 * 8


STEPS = {"tal": 3000, "asr": 1500, "track": 400, "simulst": 1500, "anomaly": 600}


@pytest.mark.slow
@pytest.mark.parametrize("task", SOAK_TASKS)
def test_shipped_step_keeps_state_and_resident_memory_flat(task):
    torch.set_num_threads(1)
    step, state, chunks = stream_of(task)
    result = soak(task, step, state, chunks, STEPS[task])
    assert result.state_bytes_end == result.state_bytes_start > 0
    assert result.rss_growth < 0.05, result.as_dict()
