import pytest
import torch

from streammem.memory import MemoryBank

CPU = torch.device("cpu")
BOTH = torch.ones(2, dtype=torch.bool)


def _window(batch=2, frames=6, dim=8):
    valid = torch.ones(batch, frames, dtype=torch.bool)
    center = torch.zeros(batch, frames, dtype=torch.bool)
    center[:, 2:4] = True
    return torch.randn(batch, frames, dim), valid, center


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


def test_new_memory_is_the_summary_query_output():
    torch.manual_seed(0)
    bank = MemoryBank(2, 8, heads=2).eval()
    x, valid, center = _window()
    out, state = bank(x, valid, center, bank.init(2, CPU))
    # The summary (mean of the center) attends to the window only: with an empty and with a full bank the
    # written memory vector is the same, while the window outputs change once the bank holds something.
    filled = bank.write(bank.init(2, CPU), torch.randn(2, 8))
    out2, state2 = bank(x, valid, center, filled)
    torch.testing.assert_close(state.items[:, -1], state2.items[:, -1])
    assert not torch.allclose(out, out2)
    # and that vector is the plain attention of the center mean over the window
    s = x[:, 2:4].mean(1, keepdim=True)
    q, _, _ = bank._project(s)
    _, k, v = bank._project(x)
    att = torch.softmax(q @ k.transpose(-1, -2) / 2.0, -1) @ v
    torch.testing.assert_close(state.items[:, -1], bank.out(att.transpose(1, 2).reshape(2, 8)))


def test_padded_frames_compute_what_the_shorter_window_computes():
    torch.manual_seed(0)
    bank = MemoryBank(2, 8, heads=2, weak_attention_std=0.5).eval()
    x, valid, center = _window()
    state = bank.write(bank.init(2, CPU), torch.randn(2, 8))
    short, short_state = bank(x[:, :4], valid[:, :4], center[:, :4], state)
    padded_valid = valid.clone()
    padded_valid[:, 4:] = False
    padded, padded_state = bank(x, padded_valid, center, state)
    torch.testing.assert_close(padded[:, :4], short)
    torch.testing.assert_close(padded_state.items, short_state.items)


def test_weak_attention_suppression_changes_outputs_only_when_on():
    torch.manual_seed(0)
    plain = MemoryBank(2, 8, heads=2)
    weak = MemoryBank(2, 8, heads=2, weak_attention_std=0.5)
    weak.load_state_dict(plain.state_dict())
    x, valid, center = _window(frames=12)
    out_plain, _ = plain(x * 4, valid, center, plain.init(2, CPU))
    out_weak, _ = weak(x * 4, valid, center, weak.init(2, CPU))
    assert not torch.allclose(out_plain, out_weak)


def test_window_without_center_writes_nothing():
    bank = MemoryBank(2, 8, heads=2)
    x, valid, center = _window()
    center[1] = False
    _, state = bank(x, valid, center, bank.init(2, CPU))
    assert state.valid[:, -1].tolist() == [True, False]


def test_capacity_zero_is_plain_windowed_attention():
    bank = MemoryBank(0, 8, heads=2)
    x, valid, center = _window()
    out, state = bank(x, valid, center, bank.init(2, CPU))
    assert state.items.shape == (2, 0, 8) and out.shape == x.shape


def test_gradient_flows_through_the_memory():
    bank = MemoryBank(2, 8, heads=2)
    x1, valid, center = _window()
    x1.requires_grad_(True)
    _, state = bank(x1, valid, center, bank.init(2, CPU))
    out, _ = bank(torch.randn(2, 6, 8), valid, center, state)
    out.sum().backward()
    assert x1.grad is not None and x1.grad.abs().sum() > 0


def test_state_size_constant_over_long_stream(state_size_constant):
    bank = MemoryBank(3, 4)
    summary = torch.randn(2, 4)
    state = state_size_constant(bank.init(2, CPU), lambda s, i: bank.write(s, summary))
    assert state.stamps[0, -1].item() == 9999


@pytest.mark.export
def test_scripted_matches_eager(device, scripted_matches):
    torch.manual_seed(0)
    xs = torch.randn(4, 2, 6, 8).to(device)
    _, valid, center = _window()
    valid, center = valid.to(device), center.to(device)

    def chain(module):
        state = module.init(2, device)
        outputs = []
        for t in range(4):
            out, state = module(xs[t], valid, center, state)
            outputs += [out, state]
        return outputs + [module.forget(state, BOTH.to(device) & torch.tensor([True, False], device=device))]

    scripted_matches(MemoryBank(3, 8, heads=2, weak_attention_std=0.5).to(device).eval(), chain)
