import pytest
import torch

from streammem.memory import MemoryBank

CPU = torch.device("cpu")
BOTH = torch.ones(2, dtype=torch.bool)


def test_keeps_only_the_last_capacity_summaries():
    bank = MemoryBank(3, 4)
    state = bank.init(2, CPU)
    for segment in range(10):
        state = bank.write(state, torch.full((2, 4), float(segment)), BOTH)
    memory, valid = bank.read(state)
    assert memory.shape == (2, 3, 4) and valid.all()
    assert memory[:, :, 0].tolist() == [[7.0, 8.0, 9.0]] * 2
    assert state.stamps.tolist() == [[7, 8, 9]] * 2  # segment counter per stream


def test_partial_bank_is_masked_and_rows_written_selectively():
    bank = MemoryBank(3, 2)
    state = bank.write(bank.init(2, CPU), torch.ones(2, 2), BOTH)
    state = bank.write(state, torch.full((2, 2), 2.0), torch.tensor([True, False]))
    memory, valid = bank.read(state)
    assert valid.tolist() == [[False, True, True], [False, False, True]]
    assert memory[1, :, 0].tolist() == [0.0, 0.0, 1.0]
    assert state.stamps.tolist() == [[-1, 0, 1], [-1, -1, 0]]


def test_forget_restarts_segment_count():
    bank = MemoryBank(2, 2)
    state = bank.write(bank.init(2, CPU), torch.ones(2, 2), BOTH)
    state = bank.forget(state, torch.tensor([True, False]))
    state = bank.write(state, torch.ones(2, 2), BOTH)
    assert state.stamps.tolist() == [[-1, 0], [0, 1]]


def test_capacity_zero_reads_empty():
    bank = MemoryBank(0, 5)
    state = bank.write(bank.init(2, CPU), torch.ones(2, 5), BOTH)
    memory, valid = bank(state)
    assert memory.shape == (2, 0, 5) and valid.shape == (2, 0)


def test_state_size_constant_over_long_stream(state_size_constant):
    bank = MemoryBank(3, 4)
    summary = torch.randn(2, 4)
    state = state_size_constant(bank.init(2, CPU), lambda s, i: bank.write(s, summary))
    assert state.stamps[0, -1].item() == 9999


@pytest.mark.export
def test_scripted_matches_eager(device, scripted_matches):
    summaries = torch.randn(6, 2, 4).to(device)
    selects = torch.tensor([[True, False], [True, True]] * 3, device=device)

    def chain(module):
        state = module.init(2, device)
        outputs = []
        for t in range(6):
            state = (
                module.write(state, summaries[t], selects[t]) if t % 2 else module.write(state, summaries[t])
            )
            outputs += [module(state), state]
        return outputs + [module.forget(state, selects[0])]

    scripted_matches(MemoryBank(3, 4), chain)
