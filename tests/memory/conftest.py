"""Checks shared by the memory component tests: TorchScript parity, constant state size, row independence.

Served as fixtures (not imported), so this conftest never clashes with another folder's.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import torch
from torch import Tensor, nn

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(autouse=True)
def single_thread() -> Iterator[None]:
    """These tensors are tiny: a second intra-op thread only adds contention on shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    return torch.device(request.param)


def flatten_tensors(value: Any) -> list[Tensor]:
    """All tensors in a (nested) tuple/list/NamedTuple, in order."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in flatten_tensors(item)]
    raise TypeError(f"not a tensor or a tuple of tensors: {type(value)}")


def state_numel(state: Any) -> int:
    return sum(t.numel() for t in flatten_tensors(state))


def assert_all_close(actual: Any, expected: Any, **tolerance: float) -> None:
    """Nested tensors equal in count, shape, dtype and (within tolerance) value."""
    actual_tensors, expected_tensors = flatten_tensors(actual), flatten_tensors(expected)
    assert len(actual_tensors) == len(expected_tensors)
    for a, e in zip(actual_tensors, expected_tensors, strict=True):
        torch.testing.assert_close(a, e, **tolerance)


def assert_scripted_matches(module: nn.Module, chain: Callable[[nn.Module], Sequence[Any]]) -> None:
    """``chain(m)`` runs a series of calls and returns every output and state; scripted == eager."""
    scripted = torch.jit.script(module)
    assert_all_close(chain(scripted), chain(module))


def assert_state_size_constant(state: Any, advance: Callable[[Any, int], Any], steps: int = 10_000) -> Any:
    """Write ``steps`` times (``advance(state, i) -> state``); every state tensor keeps its shape."""
    shapes = [t.shape for t in flatten_tensors(state)]
    size = state_numel(state)
    with torch.no_grad():
        for i in range(steps):
            state = advance(state, i)
    assert [t.shape for t in flatten_tensors(state)] == shapes
    assert state_numel(state) == size
    return state


def assert_rows_independent(run: Callable[..., Any], *inputs: Tensor) -> None:
    """Changing batch row 1 of every input changes row 1 of the outputs but never row 0."""
    before = flatten_tensors(run(*inputs))
    perturbed = []
    for x in inputs:
        x = x.clone()
        x[1] = x[1] + 1.0 if x.is_floating_point() else ~x[1] if x.dtype == torch.bool else x[1] + 1
        perturbed.append(x)
    after = flatten_tensors(run(*perturbed))
    for b, a in zip(before, after, strict=True):
        torch.testing.assert_close(a[0], b[0], rtol=0, atol=0)
    assert any(not torch.equal(a[1], b[1]) for b, a in zip(before, after, strict=True))


@pytest.fixture
def scripted_matches() -> Callable[..., None]:
    return assert_scripted_matches


@pytest.fixture
def state_size_constant() -> Callable[..., Any]:
    return assert_state_size_constant


@pytest.fixture
def rows_independent() -> Callable[..., None]:
    return assert_rows_independent
