import numpy as np
import pytest
import torch

from streammem.memory import NTMMemory, NTMState, content_addressing, erase_and_add, shift_and_sharpen

CPU = torch.device("cpu")


# Direct float64 transcriptions of Graves et al. 2014, one head and one stream at a time.
def graves_content(key, beta, memory):
    cosine = memory @ key / (np.linalg.norm(memory, axis=1) * np.linalg.norm(key))  # eq. 6
    scores = np.exp(beta * cosine)
    return scores / scores.sum()  # eq. 5


def graves_shift_sharpen(gated, shift, gamma):
    rows = len(gated)
    kernel = np.zeros(rows)
    for offset, weight in zip((-1, 0, 1), shift, strict=True):
        kernel[offset % rows] += weight
    shifted = np.array(
        [sum(gated[j] * kernel[(i - j) % rows] for j in range(rows)) for i in range(rows)]
    )  # eq. 8
    powered = shifted**gamma
    return powered / powered.sum()  # eq. 9


def graves_address(params, previous, memory, slot_dim, full):
    softplus = np.logaddexp(0.0, params[slot_dim])
    weights = graves_content(np.tanh(params[:slot_dim]), softplus, memory)
    if not full:
        return weights
    gate = 1 / (1 + np.exp(-params[slot_dim + 1]))
    gated = gate * weights + (1 - gate) * previous  # eq. 7
    shift = np.exp(params[slot_dim + 2 : slot_dim + 5]) / np.exp(params[slot_dim + 2 : slot_dim + 5]).sum()
    gamma = 1 + np.logaddexp(0.0, params[slot_dim + 5])
    return graves_shift_sharpen(gated, shift, gamma)


def random_state(ntm, batch, generator):
    def distribution(*shape):
        return torch.softmax(torch.randn(*shape, generator=generator, dtype=torch.float64), -1)

    n, m, r, w = ntm.num_slots, ntm.slot_dim, ntm.num_read_heads, ntm.num_write_heads
    return NTMState(
        torch.randn(batch, n, m, generator=generator, dtype=torch.float64),
        distribution(batch, r, n),
        distribution(batch, w, n),
        torch.randn(batch, r, m, generator=generator, dtype=torch.float64),
    )


def test_content_addressing_matches_graves():
    generator = torch.Generator().manual_seed(0)
    key = torch.randn(2, 3, 4, generator=generator, dtype=torch.float64)
    beta = torch.rand(2, 3, generator=generator, dtype=torch.float64) * 5
    memory = torch.randn(2, 7, 4, generator=generator, dtype=torch.float64)
    weights = content_addressing(key, beta, memory)
    for b in range(2):
        for h in range(3):
            expected = graves_content(key[b, h].numpy(), beta[b, h].item(), memory[b].numpy())
            np.testing.assert_allclose(weights[b, h].numpy(), expected, rtol=1e-7)


def test_shift_and_sharpen_matches_graves():
    generator = torch.Generator().manual_seed(1)
    gated = torch.softmax(torch.randn(2, 2, 5, generator=generator, dtype=torch.float64), -1)
    shift = torch.softmax(torch.randn(2, 2, 3, generator=generator, dtype=torch.float64), -1)
    gamma = 1 + torch.rand(2, 2, generator=generator, dtype=torch.float64) * 4
    weights = shift_and_sharpen(gated, shift, gamma)
    for b in range(2):
        for h in range(2):
            expected = graves_shift_sharpen(gated[b, h].numpy(), shift[b, h].numpy(), gamma[b, h].item())
            np.testing.assert_allclose(weights[b, h].numpy(), expected, rtol=1e-7)


def test_shift_moves_weight_circularly():
    weights = torch.tensor([[[0.0, 0.0, 0.0, 1.0]]])
    forward = shift_and_sharpen(weights, torch.tensor([[[0.0, 0.0, 1.0]]]), torch.ones(1, 1))
    torch.testing.assert_close(forward, torch.tensor([[[1.0, 0.0, 0.0, 0.0]]]), atol=1e-6, rtol=0)


def test_sharpening_stays_finite_at_largest_gamma():
    weights = torch.softmax(torch.randn(1, 1, 256), -1)
    sharpened = shift_and_sharpen(weights, torch.tensor([[[0.1, 0.8, 0.1]]]), torch.full((1, 1), 21.0))
    assert torch.isfinite(sharpened).all()
    torch.testing.assert_close(sharpened.sum(), torch.tensor(1.0))


def test_erase_then_add_by_hand():
    memory = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    weights = torch.tensor([[[1.0, 0.5]]])
    erase = torch.tensor([[[1.0, 0.5]]])
    add = torch.tensor([[[10.0, 20.0]]])
    # row 0: [1*(1-1), 2*(1-0.5)] + [10, 20]; row 1: [3*(1-0.5), 4*(1-0.25)] + 0.5*[10, 20]
    expected = torch.tensor([[[10.0, 21.0], [6.5, 13.0]]])
    torch.testing.assert_close(erase_and_add(memory, weights, erase, add), expected)


def test_two_write_heads_erase_before_either_adds():
    memory = torch.ones(1, 1, 1)
    weights = torch.ones(1, 2, 1)
    erase = torch.tensor([[[0.5], [0.5]]])
    add = torch.tensor([[[1.0], [2.0]]])
    assert erase_and_add(memory, weights, erase, add).item() == pytest.approx(1 * 0.5 * 0.5 + 1 + 2)


@pytest.mark.parametrize("addressing", ["content", "full"])
def test_step_matches_graves_equations(addressing):
    generator = torch.Generator().manual_seed(2)
    full = addressing == "full"
    ntm = NTMMemory(
        4, num_slots=6, slot_dim=3, num_read_heads=2, num_write_heads=2, addressing=addressing
    ).double()
    state = random_state(ntm, 2, generator)
    x = torch.randn(2, 4, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        reads, new = ntm.step(x, state)
    size = ntm.address_size
    for b in range(2):
        controller = np.concatenate([x[b].numpy(), state.reads[b].flatten().numpy()])
        read_params = ntm.read_heads(torch.from_numpy(controller)).detach().clamp(-20, 20).view(2, -1).numpy()
        write_params = (
            ntm.write_heads(torch.from_numpy(controller)).detach().clamp(-20, 20).view(2, -1).numpy()
        )
        memory = state.memory[b].numpy()
        keep, added = np.ones_like(memory), np.zeros_like(memory)
        for h in range(2):
            read_w = graves_address(read_params[h], state.read_weights[b, h].numpy(), memory, 3, full)
            np.testing.assert_allclose(new.read_weights[b, h].numpy(), read_w, rtol=1e-6)
            np.testing.assert_allclose(reads[b, 3 * h : 3 * h + 3].numpy(), read_w @ memory, rtol=1e-6)
            write_w = graves_address(write_params[h], state.write_weights[b, h].numpy(), memory, 3, full)
            np.testing.assert_allclose(new.write_weights[b, h].numpy(), write_w, rtol=1e-6)
            erase = 1 / (1 + np.exp(-write_params[h, size : size + 3]))
            keep *= 1 - np.outer(write_w, erase)
            added += np.outer(write_w, np.tanh(write_params[h, size + 3 :]))
        np.testing.assert_allclose(new.memory[b].numpy(), memory * keep + added, rtol=1e-6)


def test_init_follows_stability_recipe():
    state = NTMMemory(5, num_slots=8, slot_dim=4, num_read_heads=2).init(3, CPU)
    # pytorch-ntm's fixed memory: uniform in +-1/sqrt(N+M), the same for every stream, rows distinct
    assert state.memory.abs().max() <= 1 / (8 + 4) ** 0.5 and torch.equal(state.memory[0], state.memory[2])
    assert len({tuple(row.tolist()) for row in state.memory[0]}) == 8
    constant = NTMMemory(5, num_slots=8, slot_dim=4, memory_init="constant").init(3, CPU)
    assert torch.equal(constant.memory, torch.full((3, 8, 4), 1e-6))
    assert state.reads.eq(0).all() and state.reads.shape == (3, 2, 4)
    assert state.read_weights[..., 0].eq(1).all() and state.read_weights.sum().item() == 6
    assert state.write_weights.shape == (3, 1, 8) and state.write_weights[..., 0].eq(1).all()


def test_head_outputs_clipped_to_20():
    ntm = NTMMemory(2, num_slots=3, slot_dim=2)
    with torch.no_grad():
        ntm.read_heads.weight.zero_()
        ntm.read_heads.bias.fill_(1e4)
    memory = torch.tensor([[[1.0, 1.0], [1.0, 0.0], [-1.0, -1.0]]])
    _, state = ntm.step(torch.zeros(1, 2), ntm.init(1, CPU)._replace(memory=memory))
    # key = tanh(20) = (1, 1) and beta = softplus(20); unclipped beta = 1e4 would make row 1's weight 0
    ratio = state.read_weights[0, 0, 1] / state.read_weights[0, 0, 0]
    expected = torch.exp(torch.nn.functional.softplus(torch.tensor(20.0)) * (2**-0.5 - 1))
    torch.testing.assert_close(ratio, expected, rtol=1e-4, atol=0)


def test_unknown_addressing_rejected():
    with pytest.raises(ValueError, match="addressing"):
        NTMMemory(4, addressing="location")


@pytest.mark.parametrize("addressing", ["content", "full"])
def test_forward_sequence_equals_step_loop(addressing):
    ntm = NTMMemory(4, num_slots=6, slot_dim=3, num_read_heads=2, addressing=addressing)
    x = torch.randn(2, 5, 4)
    reads, state = ntm.forward_sequence(x, ntm.init(2, CPU))
    step_state = ntm.init(2, CPU)
    for t in range(5):
        step_reads, step_state = ntm.step(x[:, t], step_state)
        torch.testing.assert_close(reads[:, t], step_reads)
    for a, b in zip(state, step_state, strict=True):
        torch.testing.assert_close(a, b)


def test_reads_see_memory_before_this_frames_write():
    ntm = NTMMemory(3, num_slots=4, slot_dim=2)
    state = ntm.init(1, CPU)._replace(memory=torch.randn(1, 4, 2))
    reads, new = ntm.step(torch.randn(1, 3), state)
    torch.testing.assert_close(reads, torch.matmul(new.read_weights, state.memory).flatten(1))
    assert not torch.allclose(new.memory, state.memory)


def test_padded_frames_do_not_change_state():
    ntm = NTMMemory(4, num_slots=6, slot_dim=3, addressing="full")
    x = torch.randn(2, 5, 4)
    lengths = torch.tensor([3, 5])
    reads, state = ntm.forward_sequence(x, ntm.init(2, CPU), lengths)
    alone_reads, alone_state = ntm.forward_sequence(x[:1, :3], ntm.init(1, CPU))
    for padded, alone in zip(state, alone_state, strict=True):
        torch.testing.assert_close(padded[:1], alone)
    torch.testing.assert_close(reads[:1, :3], alone_reads)
    assert reads[0, 3:].eq(0).all()
    noisy = x.clone()
    noisy[0, 3:] = 100.0
    _, noisy_state = ntm.forward_sequence(noisy, ntm.init(2, CPU), lengths)
    for a, b in zip(state, noisy_state, strict=True):
        assert torch.equal(a, b)


def test_gradient_reaches_read_and_write_heads():
    ntm = NTMMemory(4, num_slots=6, slot_dim=3, addressing="full")
    reads, _ = ntm.forward_sequence(torch.randn(2, 4, 4), ntm.init(2, CPU), torch.tensor([4, 2]))
    reads.pow(2).sum().backward()
    for parameter in ntm.parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all()
        assert parameter.grad.abs().sum() > 0


def test_rows_are_independent(rows_independent):
    ntm = NTMMemory(4, num_slots=6, slot_dim=3, addressing="full")
    with torch.no_grad():
        rows_independent(lambda x: ntm.forward_sequence(x, ntm.init(2, CPU)), torch.randn(2, 4, 4))


def test_state_size_constant_over_long_stream(state_size_constant):
    ntm = NTMMemory(3, num_slots=8, slot_dim=2)
    x = torch.randn(2, 3)
    state = state_size_constant(ntm.init(2, CPU), lambda s, i: ntm.step(x, s)[1])
    assert torch.isfinite(state.memory).all()


@pytest.mark.export
@pytest.mark.parametrize("addressing", ["content", "full"])
def test_scripted_matches_eager(addressing, device, scripted_matches):
    ntm = NTMMemory(4, num_slots=6, slot_dim=3, num_read_heads=2, num_write_heads=2, addressing=addressing)
    x = torch.randn(2, 6, 4).to(device)
    lengths = torch.tensor([6, 4], device=device)

    def chain(module):
        state = module.init(2, device)
        first, state = module(x[:, 0], state)
        second, state = module.step(x[:, 1], state)
        sequence, state = module.forward_sequence(x[:, 2:], state, lengths - 2)
        return [first, second, sequence, state, module.read(state)]

    scripted_matches(ntm.to(device), chain)


@pytest.mark.parametrize("memory_init, spread", [("constant", False), ("random", True)])
def test_content_addressing_symmetry_needs_a_random_initial_memory(memory_init, spread):
    """A constant memory keeps every row identical under content addressing; a random one does not."""
    torch.manual_seed(0)
    ntm = NTMMemory(input_dim=6, num_slots=16, slot_dim=4, memory_init=memory_init)
    state = ntm.init(2, torch.device("cpu"))
    for _ in range(20):
        _, state = ntm.step(torch.randn(2, 6), state)
    row_spread = state.memory.std(dim=1).max().item()
    weight_spread = state.read_weights.std(dim=-1).max().item()
    assert (row_spread > 1e-4) is spread
    assert (weight_spread > 1e-4) is spread


def test_random_initial_memory_is_fixed_and_scriptable():
    a = NTMMemory(input_dim=6, num_slots=16, slot_dim=4, memory_init="random")
    b = NTMMemory(input_dim=6, num_slots=16, slot_dim=4, memory_init="random")
    assert torch.equal(a.init(1, torch.device("cpu")).memory, b.init(1, torch.device("cpu")).memory)
    assert "initial_memory" not in a.state_dict()  # derived from the config, not a weight
    scripted = torch.jit.script(a)
    assert torch.equal(scripted.init(1, torch.device("cpu")).memory, a.init(1, torch.device("cpu")).memory)
    with pytest.raises(ValueError, match="memory_init"):
        NTMMemory(input_dim=6, memory_init="zeros")


def _per_frame_reference(ntm, x, state, lengths=None):
    """The plain per-frame loop of ``step`` that ``forward_sequence`` vectorises."""
    outputs = []
    for t in range(x.shape[1]):
        reads, new_state = ntm.step(x[:, t], state)
        if lengths is not None:
            mask = (lengths > t).view(-1, 1, 1)
            new_state = NTMState(*(torch.where(mask, a, b) for a, b in zip(new_state, state, strict=True)))
            reads = reads * (lengths > t).unsqueeze(-1).to(reads.dtype)
        state = new_state
        outputs.append(reads)
    return torch.stack(outputs, 1), state


@pytest.mark.parametrize("addressing", ["content", "full"])
@pytest.mark.parametrize("read_heads, write_heads", [(1, 1), (2, 1), (1, 3), (2, 2)])
@pytest.mark.parametrize("padded", [False, True])
def test_vectorised_forward_sequence_matches_per_frame_step(addressing, read_heads, write_heads, padded):
    generator = torch.Generator().manual_seed(read_heads * 10 + write_heads)
    torch.manual_seed(read_heads * 10 + write_heads)
    ntm = NTMMemory(12, num_slots=32, slot_dim=5, num_read_heads=read_heads, num_write_heads=write_heads,
                    addressing=addressing, memory_init="random")
    x = torch.randn(3, 16, 12, generator=generator)
    state = NTMState(*(t.float() for t in random_state(ntm, 3, generator)))
    lengths = torch.tensor([16, 9, 1]) if padded else None
    reads, final = ntm.forward_sequence(x, state, lengths)
    expected_reads, expected_final = _per_frame_reference(ntm, x, state, lengths)
    torch.testing.assert_close(reads, expected_reads, atol=1e-5, rtol=0)
    for a, b in zip(final, expected_final, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    # Gradients agree too (training runs the vectorised loop).
    ntm.zero_grad()
    reads.pow(2).sum().backward()
    fast = [p.grad.clone() for p in ntm.parameters()]
    ntm.zero_grad()
    expected_reads = _per_frame_reference(ntm, x, state, lengths)[0]
    expected_reads.pow(2).sum().backward()
    for a, p in zip(fast, ntm.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad, atol=1e-4, rtol=1e-4)


def test_head_order_is_a_permutation_of_both_heads_rows():
    for addressing in ("content", "full"):
        ntm = NTMMemory(4, num_slots=6, slot_dim=3, num_read_heads=2, num_write_heads=3, addressing=addressing)
        rows = ntm.read_heads.out_features + ntm.write_heads.out_features
        assert sorted(ntm.head_order.tolist()) == list(range(rows))
        assert "head_order" not in ntm.state_dict()  # derived, so checkpoints keep their tensor names


def test_write_is_the_step_state_and_read_returns_its_reads():
    torch.manual_seed(0)
    ntm = NTMMemory(input_dim=5, num_slots=8, slot_dim=4)
    x, state = torch.randn(2, 5), ntm.init(2, CPU)
    reads, stepped = ntm.step(x, state)
    written = ntm.write(state, x)
    assert all(torch.equal(a, b) for a, b in zip(written, stepped, strict=True))
    assert torch.equal(ntm.read(written), reads)


def test_forget_one_row_leaves_the_other_rows_untouched():
    torch.manual_seed(0)
    ntm = NTMMemory(input_dim=5, num_slots=8, slot_dim=4)
    state = ntm.init(3, CPU)
    for _ in range(4):
        state = ntm.write(state, torch.randn(3, 5))
    after = ntm.forget(state, torch.tensor([False, True, False]))
    for kept, before, fresh in zip(after, state, ntm.init(1, CPU), strict=True):
        assert torch.equal(kept[[0, 2]], before[[0, 2]])
        assert torch.equal(kept[1], fresh[0])
    assert not torch.equal(state.memory[1], after.memory[1])
