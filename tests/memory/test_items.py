import math

import pytest
import torch

from streammem.memory import MemoryItems, addressing_entropy


def test_read_matches_memae_hard_shrinkage():
    module = MemoryItems(6, 4, shrink_threshold=0.15)
    query = torch.randn(2, 3, 4)
    output, weights = module.read(query)
    dense = torch.softmax(query @ module.items.t(), dim=-1)
    shrunk = torch.where(dense > 0.15, dense, torch.zeros_like(dense))  # relu(w-l) w / |w-l| = w above l
    expected = shrunk / shrunk.sum(-1, keepdim=True)
    torch.testing.assert_close(weights, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(output, expected @ module.items, rtol=1e-5, atol=1e-6)
    assert (weights == 0).any()  # shrinkage made the addressing sparse


def test_zero_threshold_is_plain_attention():
    module = MemoryItems(5, 3, shrink_threshold=0.0)
    query = torch.randn(1, 2, 3)
    _, weights = module(query)
    torch.testing.assert_close(weights, torch.softmax(query @ module.items.t(), -1))


def test_items_are_trained_by_backprop():
    module = MemoryItems(4, 3, shrink_threshold=0.1)
    output, weights = module(torch.randn(2, 5, 3))
    (output.pow(2).sum() + addressing_entropy(weights)).backward()
    assert module.items.grad is not None and module.items.grad.abs().sum() > 0


def test_entropy_of_uniform_addressing_is_log_k():
    assert addressing_entropy(torch.full((2, 3, 8), 1 / 8)).item() == pytest.approx(math.log(8), rel=1e-6)


def test_rows_are_independent(rows_independent):
    module = MemoryItems(6, 4, shrink_threshold=0.1)
    with torch.no_grad():
        rows_independent(module.read, torch.randn(2, 3, 4))


@pytest.mark.export
def test_scripted_matches_eager(device, scripted_matches):
    queries = torch.randn(3, 2, 4, 5, device=device)

    def chain(module):
        return [module(queries[0]), module.read(queries[1]), module.read(queries[2])]

    scripted_matches(MemoryItems(7, 5, shrink_threshold=0.1).to(device), chain)
