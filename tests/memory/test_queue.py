import pytest
import torch

from streammem.memory import MemoryQueue

CPU = torch.device("cpu")


def _push(queue, state, values, select=None):
    """Write scalar items ``values`` (one per row) stamped with the same values."""
    values = torch.as_tensor(values, dtype=torch.float32)
    batch = values.shape[0]
    select = torch.ones(batch, dtype=torch.bool) if select is None else torch.as_tensor(select)
    return queue.write(state, values.view(batch, 1).expand(batch, 2), select, values.long())


def test_fifo_order_and_eviction():
    queue = MemoryQueue(3, [2])
    state = queue.init(1, CPU)
    for value in (1, 2):
        state = _push(queue, state, [value])
    items, valid, stamps = queue.read(state)
    assert items.shape == (1, 3, 2)
    assert valid.tolist() == [[False, True, True]]
    assert items[0, :, 0].tolist() == [0.0, 1.0, 2.0]
    assert stamps.tolist() == [[-1, 1, 2]]
    for value in (3, 4, 5):
        state = _push(queue, state, [value])
    items, valid, stamps = queue.read(state)
    assert items[0, :, 0].tolist() == [3.0, 4.0, 5.0]  # 1 and 2 evicted, newest last
    assert valid.all()
    assert stamps.tolist() == [[3, 4, 5]]


def test_selective_write_leaves_unselected_rows_untouched():
    queue = MemoryQueue(2, [2])
    state = _push(queue, queue.init(2, CPU), [1, 2])
    new = _push(queue, state, [7, 8], select=[False, True])
    for before, after in zip(state, new, strict=True):
        assert torch.equal(after[0], before[0])
    assert new.items[1, :, 0].tolist() == [2.0, 8.0]


def test_writing_some_rows_equals_writing_all_with_the_others_unselected():
    queue = MemoryQueue(2, [2])
    state = _push(queue, queue.init(4, CPU), [1, 2, 3, 4])
    rows, select = torch.tensor([3, 1]), torch.tensor([True, False])
    item, stamp = torch.tensor([[9.0, 9.0], [6.0, 6.0]]), torch.tensor([9, 6])
    some = queue.write_rows(state, rows, item, select, stamp)
    full_item = torch.zeros(4, 2).index_copy(0, rows, item)
    full = queue.write(state, full_item, torch.zeros(4, dtype=torch.bool).index_copy(0, rows, select),
                       torch.zeros(4, dtype=torch.long).index_copy(0, rows, stamp))
    for a, b in zip(some, full, strict=True):
        assert torch.equal(a, b)
    assert some.items[3, :, 0].tolist() == [4.0, 9.0] and some.items[1, :, 0].tolist() == [0.0, 2.0]
    assert torch.equal(state.items[3, :, 0], torch.tensor([0.0, 4.0]))  # the given state is not modified


def test_forget_clears_only_reset_rows():
    queue = MemoryQueue(2, [2])
    state = _push(queue, queue.init(2, CPU), [1, 2])
    state = queue.forget(state, torch.tensor([True, False]))
    assert not state.valid[0].any() and state.items[0].eq(0).all() and state.stamps[0].eq(-1).all()
    assert state.valid[1].tolist() == [False, True] and state.items[1, 1, 0] == 2.0


def test_capacity_zero_turns_memory_off():
    queue = MemoryQueue(0, [4, 3])
    state = queue.init(2, CPU)
    state = queue.write(state, torch.ones(2, 4, 3), torch.ones(2, dtype=torch.bool), torch.zeros(2).long())
    items, valid, stamps = queue.read(state)
    assert items.shape == (2, 0, 4, 3) and valid.shape == (2, 0) and stamps.shape == (2, 0)


def test_items_are_stored_detached():
    queue = MemoryQueue(2, [3])
    item = torch.randn(1, 3, requires_grad=True)
    state = queue.write(queue.init(1, CPU), item * 2, torch.tensor([True]), torch.tensor([0]))
    assert not state.items.requires_grad
    assert torch.equal(state.items[0, 1], (item * 2)[0].detach())


def test_state_size_constant_over_long_stream(state_size_constant):
    queue = MemoryQueue(4, [3])
    ones = torch.ones(2, dtype=torch.bool)
    item = torch.ones(2, 3)
    state = state_size_constant(
        queue.init(2, CPU), lambda s, i: queue.write(s, item * i, ones, torch.full((2,), i))
    )
    assert state.stamps[0].tolist() == [9996, 9997, 9998, 9999]


@pytest.mark.export
@pytest.mark.parametrize("capacity", [0, 3])
def test_scripted_matches_eager(capacity, device, scripted_matches):
    queue = MemoryQueue(capacity, [2, 2])
    generator = torch.Generator().manual_seed(0)
    items = torch.randn(5, 3, 2, 2, generator=generator).to(device)
    selects = (torch.rand(5, 3, generator=generator) > 0.3).to(device)

    def chain(module):
        state = module.init(3, device)
        outputs = []
        for t in range(5):
            state = module.write(state, items[t], selects[t], torch.full((3,), t, device=device))
            outputs += [module(state), state]
        state = module.forget(state, torch.tensor([True, False, True], device=device))
        return outputs + [module.read(state)]

    scripted_matches(queue, chain)
