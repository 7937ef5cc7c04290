import pytest
import torch

from streammem.memory import LongTermMemory

CPU = torch.device("cpu")


def test_ema_after_k_updates_matches_closed_form():
    memory = LongTermMemory(3, 4, momentum=0.01)
    start, target = torch.randn(1, 3, 4), torch.randn(1, 3, 4)
    state = memory.birth(memory.init(1, CPU), start, torch.ones(1, 3, dtype=torch.bool))
    steps = 50
    for _ in range(steps):
        state = memory.write(state, target, torch.ones(1, 3, dtype=torch.bool))
    expected = target + (1 - 0.01) ** steps * (start - target)  # M_k = v + (1-lambda)^k (M_0 - v)
    torch.testing.assert_close(memory.read(state), expected, rtol=1e-5, atol=1e-5)


def test_write_only_updates_active_selected_slots():
    memory = LongTermMemory(3, 2, momentum=0.5)
    state = memory.birth(memory.init(1, CPU), torch.ones(1, 3, 2), torch.tensor([[True, True, False]]))
    state = memory.write(state, torch.full((1, 3, 2), 3.0), torch.tensor([[True, False, True]]))
    assert state.memory[0, :, 0].tolist() == [2.0, 1.0, 0.0]  # updated, not selected, inactive
    assert state.active.tolist() == [[True, True, False]]


def test_birth_and_forget():
    memory = LongTermMemory(2, 2)
    state = memory.birth(memory.init(1, CPU), torch.full((1, 2, 2), 5.0), torch.tensor([[True, True]]))
    state = memory.forget(state, torch.tensor([[False, True]]))
    assert state.active.tolist() == [[True, False]]
    assert state.memory[0].tolist() == [[5.0, 5.0], [0.0, 0.0]]
    state = memory.birth(state, torch.full((1, 2, 2), 7.0), torch.tensor([[False, True]]))
    assert state.memory[0].tolist() == [[5.0, 5.0], [7.0, 7.0]] and state.active.all()


def test_no_gradient_flows_into_history():
    memory = LongTermMemory(2, 3, momentum=0.1)
    value = torch.randn(1, 2, 3, requires_grad=True)
    everyone = torch.ones(1, 2, dtype=torch.bool)
    state = memory.birth(memory.init(1, CPU), value * 2, everyone)
    state = memory.write(state, value * 3, everyone)
    assert not memory.read(state).requires_grad and memory.read(state).grad_fn is None


def test_invalid_momentum_rejected():
    with pytest.raises(ValueError, match="momentum"):
        LongTermMemory(2, 3, momentum=1.5)


def test_rows_are_independent(rows_independent):
    memory = LongTermMemory(3, 4, momentum=0.3)
    everyone = torch.ones(2, 3, dtype=torch.bool)

    def run(born_value, value):
        state = memory.birth(memory.init(2, CPU), born_value, everyone)
        return memory.read(memory.write(state, value, everyone))

    rows_independent(run, torch.randn(2, 3, 4), torch.randn(2, 3, 4))


def test_state_size_constant_over_long_stream(state_size_constant):
    memory = LongTermMemory(4, 3)
    value = torch.randn(2, 4, 3)
    mask = torch.tensor([[True, False, True, False], [False, True, False, True]])

    def advance(state, i):
        state = memory.birth(state, value, mask) if i % 7 == 0 else state
        state = memory.write(state, value, ~mask | mask)
        return memory.forget(state, mask) if i % 11 == 0 else state

    state_size_constant(memory.init(2, CPU), advance)


@pytest.mark.export
def test_scripted_matches_eager(device, scripted_matches):
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(4, 2, 3, 5, generator=generator).to(device)
    masks = (torch.rand(4, 3, 2, 3, generator=generator) > 0.4).to(device)

    def chain(module):
        state = module.init(2, device)
        outputs = []
        for t in range(4):
            state = module.birth(state, values[t], masks[t, 0])
            state = module.write(state, values[t] * 2, masks[t, 1])
            state = module.forget(state, masks[t, 2])
            outputs += [module(state), state]
        return outputs

    scripted_matches(LongTermMemory(3, 5, momentum=0.2), chain)


def test_forget_one_row_leaves_the_other_rows_untouched():
    memory = LongTermMemory(3, 2)
    state = memory.birth(memory.init(3, CPU), torch.randn(3, 3, 2), torch.ones(3, 3, dtype=torch.bool))
    after = memory.forget(state, torch.tensor([False, True, False]))  # (B,): a new video in row 1
    assert torch.equal(after.memory[[0, 2]], state.memory[[0, 2]]) and after.active[[0, 2]].all()
    assert not after.active[1].any() and after.memory[1].eq(0).all()


def test_gated_update_starts_as_the_ema_and_its_gate_learns():
    torch.manual_seed(0)
    ema, gated = LongTermMemory(3, 4, momentum=0.1), LongTermMemory(3, 4, momentum=0.1, gated=True)
    born = torch.ones(1, 3, dtype=torch.bool)
    start, value = torch.randn(1, 3, 4), torch.randn(1, 3, 4, requires_grad=True)
    a = ema.write(ema.birth(ema.init(1, CPU), start, born), value, born)
    b = gated.write(gated.birth(gated.init(1, CPU), start, born), value, born)
    torch.testing.assert_close(b.memory, a.memory)  # W = 0, sigmoid(b) = 1 - lambda
    assert not a.memory.requires_grad  # the EMA is detached (the paper) ...
    b.memory.square().sum().backward()  # ... the gated write is not, so the gate gets a gradient
    assert gated.gate.weight.grad.abs().sum() > 0 and value.grad.abs().sum() > 0


def test_gated_memory_scripts_and_matches_eager(scripted_matches):
    memory = LongTermMemory(3, 4, gated=True)
    with torch.no_grad():
        memory.gate.weight.normal_()
    born = torch.tensor([[True, True, False]])
    values = torch.randn(4, 1, 3, 4)

    def chain(module):
        state = module.birth(module.init(1, CPU), values[0], born)
        outs = []
        for t in range(1, 4):
            state = module.write(state, values[t], born)
            outs.append(state)
        return outs

    scripted_matches(memory, chain)
