import pytest
import torch

from streammem.memory import KNNMemory

CPU = torch.device("cpu")
ONE = torch.ones(1, dtype=torch.bool)


def scalar_pairs(*numbers):
    """keys (1, T, 1) and values (1, T, 1) both equal to ``numbers``."""
    tensor = torch.tensor(numbers, dtype=torch.float32).view(1, -1, 1)
    return tensor, tensor


def test_ring_buffer_overwrites_oldest():
    knn = KNNMemory(3, 1, 1, top_k=1)
    state = knn.init(1, CPU)
    for number in range(1, 6):
        state = knn.write(state, *scalar_pairs(number), ONE)
    assert state.keys.flatten().tolist() == [4.0, 5.0, 3.0]
    assert state.next_index.tolist() == [2] and state.valid.all()


def test_long_write_keeps_last_capacity_pairs_in_order():
    knn = KNNMemory(3, 1, 1, top_k=1)
    state = knn.write(knn.init(1, CPU), *scalar_pairs(1), ONE)
    state = knn.write(state, *scalar_pairs(2, 3, 4, 5, 6), ONE)
    assert sorted(state.keys.flatten().tolist()) == [4.0, 5.0, 6.0]
    state = knn.write(state, *scalar_pairs(7), ONE)
    assert sorted(state.keys.flatten().tolist()) == [5.0, 6.0, 7.0]  # 4 was the oldest


def test_read_is_exact_top_k_by_dot_product():
    generator = torch.Generator().manual_seed(0)
    knn = KNNMemory(8, 4, 2, top_k=3)
    keys, values = torch.randn(2, 8, 4, generator=generator), torch.randn(2, 8, 2, generator=generator)
    state = knn.write(knn.init(2, CPU), keys, values, torch.ones(2, dtype=torch.bool))
    query = torch.randn(2, 5, 4, generator=generator)
    found_values, scores, found = knn.read(state, query)
    brute = query @ keys.transpose(1, 2)
    order = brute.argsort(dim=-1, descending=True)[..., :3]
    torch.testing.assert_close(scores, brute.gather(-1, order))
    torch.testing.assert_close(found_values, values[torch.arange(2).view(2, 1, 1), order])
    assert found.all()


def test_empty_slots_are_never_returned():
    knn = KNNMemory(4, 1, 1, top_k=2)
    state = knn.write(knn.init(1, CPU), *scalar_pairs(-5), ONE)
    values, scores, found = knn.read(state, torch.ones(1, 1, 1))
    assert found.tolist() == [[[True, False]]]
    assert values.flatten().tolist() == [-5.0, 0.0] and scores[0, 0, 1] == float("-inf")


def test_select_forget_and_detach():
    knn = KNNMemory(2, 1, 1, top_k=1)
    keys = torch.ones(2, 1, 1, requires_grad=True)
    state = knn.write(knn.init(2, CPU), keys * 2, keys * 3, torch.tensor([True, False]))
    assert state.valid.tolist() == [[True, False], [False, False]] and not state.keys.requires_grad
    state = knn.forget(state, torch.tensor([True, False]))
    assert not state.valid.any() and state.next_index.tolist() == [0, 0]


def test_write_without_select_writes_every_row():
    knn = KNNMemory(3, 2, 2, top_k=1)
    state, pairs = knn.init(2, CPU), torch.randn(2, 2, 2)
    everyone = knn.write(state, pairs, pairs, torch.ones(2, dtype=torch.bool))
    for a, b in zip(knn.write(state, pairs, pairs), everyone, strict=True):
        assert torch.equal(a, b)


def test_invalid_sizes_rejected():
    with pytest.raises(ValueError, match="top_k"):
        KNNMemory(2, 3, 3, top_k=3)


def test_rows_are_independent(rows_independent):
    knn = KNNMemory(6, 3, 2, top_k=2)

    def run(keys, values, query):
        return knn.read(knn.write(knn.init(2, CPU), keys, values, torch.ones(2, dtype=torch.bool)), query)

    rows_independent(run, torch.randn(2, 4, 3), torch.randn(2, 4, 2), torch.randn(2, 2, 3))


def test_state_size_constant_over_long_stream(state_size_constant):
    knn = KNNMemory(5, 2, 2, top_k=2)
    pairs = torch.randn(2, 3, 2)
    both = torch.ones(2, dtype=torch.bool)
    state = state_size_constant(knn.init(2, CPU), lambda s, i: knn.write(s, pairs, pairs, both))
    assert state.next_index.tolist() == [30_000 % 5] * 2


@pytest.mark.export
def test_scripted_matches_eager(device, scripted_matches):
    keys = torch.randn(4, 2, 3, 3, device=device)
    values = torch.randn(4, 2, 3, 2, device=device)
    selects = torch.tensor([[True, False], [True, True]] * 2, device=device)
    query = torch.randn(2, 2, 3, device=device)

    def chain(module):
        state = module.init(2, device)
        outputs = []
        for t in range(4):
            state = (
                module.write(state, keys[t], values[t], selects[t])
                if t % 2
                else module.write(state, keys[t], values[t])
            )
            outputs += [module(state, query), state]
        return outputs + [module.forget(state, selects[0])]

    scripted_matches(KNNMemory(5, 3, 2, top_k=3), chain)


def test_forget_one_row_leaves_the_other_rows_untouched():
    memory = KNNMemory(4, 2, 3, top_k=2)
    state = memory.write(memory.init(3, CPU), torch.randn(3, 3, 2), torch.randn(3, 3, 3))
    after = memory.forget(state, torch.tensor([False, True, False]))
    for kept, before in zip(after, state, strict=True):
        assert torch.equal(kept[[0, 2]], before[[0, 2]])
    for cleared, empty in zip(after, memory.init(1, CPU), strict=True):
        assert torch.equal(cleared[1], empty[0])


def test_padded_pairs_take_slots_but_are_never_read():
    memory = KNNMemory(4, 1, 1, top_k=4)
    keys = torch.tensor([[[1.0], [2.0], [3.0]]])
    state = memory.write(memory.init(1, CPU), keys, keys, valid=torch.tensor([[True, False, True]]))
    assert state.valid[0].tolist() == [True, False, True, False] and int(state.next_index) == 3
    values, _, found = memory.read(state, torch.ones(1, 1, 1))
    assert sorted(values[0, 0][found[0, 0]].flatten().tolist()) == [1.0, 3.0]
