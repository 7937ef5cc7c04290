from typing import NamedTuple

import pytest
import torch

from streammem.export import export_torchscript, max_abs_diff, stream_parity


class _State(NamedTuple):
    total: torch.Tensor
    steps: torch.Tensor


class _RunningMean(torch.nn.Module):
    """A toy streaming model: explicit state, forward is the step."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(3, 3)

    @torch.jit.export
    def initial_state(self, batch_size: int) -> _State:
        return _State(torch.zeros(batch_size, 3), torch.zeros(batch_size, dtype=torch.long))

    def forward(self, chunk: torch.Tensor, state: _State) -> tuple[torch.Tensor, _State]:
        total = state.total + self.proj(chunk)
        steps = state.steps + 1
        return total / steps.unsqueeze(-1).float(), _State(total, steps)


@pytest.mark.export
def test_exported_step_matches_eager_and_loads_with_torch_alone(tmp_path):
    torch.manual_seed(0)
    model = _RunningMean().eval()
    path = export_torchscript(model, tmp_path / "step.pt")
    loaded = torch.jit.load(str(path))
    chunks = [torch.randn(2, 3) for _ in range(20)]
    assert stream_parity(model, loaded, chunks, model.initial_state(2)) < 1e-6
    state = loaded.initial_state(2)
    assert state.total.shape == (2, 3)


def test_max_abs_diff_detects_differences_and_structure_mismatch():
    a = (torch.zeros(2), {"x": torch.ones(1)})
    b = (torch.zeros(2), {"x": torch.full((1,), 1.5)})
    assert max_abs_diff(a, b) == 0.5
    with pytest.raises(ValueError, match="structures differ"):
        max_abs_diff(a, (torch.zeros(2),))
