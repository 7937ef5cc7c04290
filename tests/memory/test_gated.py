import pytest
import torch

from streammem.memory import GatedMemory

CPU = torch.device("cpu")


def reference_write(module, slots, x):
    """slot <- g * slot + (1 - g) * u, u = attention(slots -> x), g = sigmoid(W [slot; u])."""
    scores = module.slot_query(slots) @ module.input_key(x).transpose(1, 2) / module.dim**0.5
    update = torch.softmax(scores, -1) @ module.input_value(x)
    gate = torch.sigmoid(module.gate(torch.cat([slots, update], -1)))
    return gate * slots + (1 - gate) * update, update


def test_write_matches_gated_update():
    module = GatedMemory(3, 4)
    state = module.init(2, CPU)
    x = torch.randn(2, 5, 4)
    new = module.write(state, x, torch.ones(2, 5, dtype=torch.bool))
    expected, _ = reference_write(module, state.slots, x)
    torch.testing.assert_close(new.slots, expected)


def test_gate_chooses_between_old_content_and_update():
    module = GatedMemory(2, 3)
    state = module.init(1, CPU)
    x = torch.randn(1, 4, 3)
    valid = torch.ones(1, 4, dtype=torch.bool)
    _, update = reference_write(module, state.slots, x)
    with torch.no_grad():
        module.gate.weight.zero_()
        module.gate.bias.fill_(50.0)
        torch.testing.assert_close(module.write(state, x, valid).slots, state.slots)
        module.gate.bias.fill_(-50.0)
        torch.testing.assert_close(module.write(state, x, valid).slots, update)


def test_old_content_decays_under_repeated_writes():
    torch.manual_seed(0)
    module = GatedMemory(2, 3)
    with torch.no_grad():  # a gate that keeps half the old content: decay no longer depends on the draw
        module.gate.weight.zero_()
        module.gate.bias.zero_()
    x = torch.randn(1, 4, 3)
    valid = torch.ones(1, 4, dtype=torch.bool)
    with torch.no_grad():
        first = module.init(1, CPU)._replace(slots=torch.full((1, 2, 3), 10.0))
        second = module.init(1, CPU)._replace(slots=torch.full((1, 2, 3), -10.0))
        gaps = []
        for _ in range(30):
            first, second = module.write(first, x, valid), module.write(second, x, valid)
            gaps.append((first.slots - second.slots).abs().max().item())
    assert gaps[-1] < 0.1 * gaps[0]  # the initial difference fades


def test_write_without_mask_uses_every_token():
    module = GatedMemory(2, 3)
    state, x = module.init(2, CPU), torch.randn(2, 4, 3)
    torch.testing.assert_close(
        module.write(state, x), module.write(state, x, torch.ones(2, 4, dtype=torch.bool))
    )


def test_masked_tokens_and_empty_rows():
    module = GatedMemory(2, 3)
    state = module.init(2, CPU)
    x = torch.randn(2, 4, 3)
    valid = torch.tensor([[True, True, False, False], [False, False, False, False]])
    new = module.write(state, x, valid)
    expected, _ = reference_write(module, state.slots[:1], x[:1, :2])
    torch.testing.assert_close(new.slots[:1], expected)
    assert torch.equal(new.slots[1], state.slots[1])
    assert torch.isfinite(new.slots).all()


def test_read_is_attention_over_slots():
    module = GatedMemory(3, 4)
    state = module.init(1, CPU)._replace(slots=torch.randn(1, 3, 4))
    query = torch.randn(1, 2, 4)
    expected = torch.softmax(query @ state.slots.transpose(1, 2) / 2.0, -1) @ state.slots
    torch.testing.assert_close(module.read(state, query), expected)


def test_forget_restores_initial_slots():
    module = GatedMemory(2, 3)
    state = module.write(module.init(2, CPU), torch.randn(2, 4, 3), torch.ones(2, 4, dtype=torch.bool))
    reset = module.forget(state, torch.tensor([True, False]))
    torch.testing.assert_close(reset.slots[0], module.initial_slots)
    assert torch.equal(reset.slots[1], state.slots[1])


def test_gradient_reaches_gate_and_initial_slots():
    module = GatedMemory(2, 3)
    state = module.write(module.init(1, CPU), torch.randn(1, 4, 3), torch.ones(1, 4, dtype=torch.bool))
    module.read(state, torch.randn(1, 2, 3)).sum().backward()
    assert module.gate.weight.grad.abs().sum() > 0 and module.initial_slots.grad.abs().sum() > 0


def test_rows_are_independent(rows_independent):
    module = GatedMemory(3, 4)
    valid = torch.ones(2, 5, dtype=torch.bool)

    def run(x, query):
        return module.read(module.write(module.init(2, CPU), x, valid), query)

    with torch.no_grad():
        rows_independent(run, torch.randn(2, 5, 4), torch.randn(2, 2, 4))


def test_state_size_constant_over_long_stream(state_size_constant):
    module = GatedMemory(4, 3)
    x = torch.randn(2, 2, 3)
    valid = torch.ones(2, 2, dtype=torch.bool)
    state = state_size_constant(module.init(2, CPU), lambda s, i: module.write(s, x, valid))
    assert torch.isfinite(state.slots).all()


@pytest.mark.export
def test_scripted_matches_eager(device, scripted_matches):
    x = torch.randn(4, 2, 3, 5, device=device)
    valid = torch.rand(4, 2, 3, device=device) > 0.3
    query = torch.randn(2, 2, 5, device=device)

    def chain(module):
        state = module.init(2, device)
        outputs = []
        for t in range(4):
            state = module.write(state, x[t], valid[t]) if t % 2 else module.write(state, x[t])
            outputs += [module(state, query), module.read(state, query), state]
        return outputs + [module.forget(state, valid[0, :, 0])]

    scripted_matches(GatedMemory(3, 5).to(device), chain)


def test_forget_one_row_leaves_the_other_rows_untouched():
    torch.manual_seed(0)
    memory = GatedMemory(4, 6)
    state = memory.write(memory.init(3, CPU), torch.randn(3, 5, 6))
    after = memory.forget(state, torch.tensor([False, True, False]))
    assert torch.equal(after.slots[[0, 2]], state.slots[[0, 2]])
    assert torch.equal(after.slots[1], memory.init(1, CPU).slots[0]) and not torch.equal(state.slots[1], after.slots[1])
