"""Slot memory with a learned gate between old content and an attention update.

Legend: B batch (independent streams), T tokens of the written chunk, Q query tokens, S slots, D dim.
"""

from typing import Final, NamedTuple

import torch
from torch import Tensor, nn

__all__ = ["GatedMemory", "GatedState"]


class GatedState(NamedTuple):
    """State of a :class:`GatedMemory`. slots: (B, S, D)."""

    slots: Tensor


class GatedMemory(nn.Module):
    """S memory slots updated by gated attention, so old content decays unless refreshed.

    Write: the slots attend to the chunk to form an update u; a gate g = sigmoid(W [slot; u]) keeps
    g * slot + (1 - g) * u (the MATR gated variant and chunked-attention memories). Read: scaled
    dot-product attention of the queries over the slots, without projections (the caller's attention
    block owns those).

    Args:
        num_slots: S.
        dim: D.
    """

    num_slots: Final[int]
    dim: Final[int]

    def __init__(self, num_slots: int, dim: int) -> None:
        super().__init__()
        self.num_slots = num_slots
        self.dim = dim
        self.initial_slots = nn.Parameter(torch.randn(num_slots, dim) * dim**-0.5)
        self.slot_query = nn.Linear(dim, dim)
        self.input_key = nn.Linear(dim, dim)
        self.input_value = nn.Linear(dim, dim)
        self.gate = nn.Linear(2 * dim, dim)

    def forward(self, state: GatedState, query: Tensor) -> Tensor:
        return self.read(state, query)

    @torch.jit.export
    def init(self, batch_size: int, device: torch.device) -> GatedState:
        """Every stream starts from the learned initial slots, (B, S, D)."""
        slots = self.initial_slots.to(device).unsqueeze(0).expand(batch_size, -1, -1)
        return GatedState(slots.clone())

    @torch.jit.export
    def read(self, state: GatedState, query: Tensor) -> Tensor:
        """Attend from ``query`` (B, Q, D) over the slots; returns (B, Q, D)."""
        return _attend(query, state.slots, state.slots)

    @torch.jit.export
    def write(self, state: GatedState, x: Tensor, valid: Tensor | None = None) -> GatedState:
        """Gated update of the slots from chunk ``x`` (B, T, D).

        ``valid`` (B, T) bool marks real (not padded) tokens (default: all); a row with none keeps its slots.
        """
        if valid is None:
            valid = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        any_valid = valid.any(dim=1)
        # Rows without a valid token attend everywhere (finite values) and are then discarded.
        mask = valid | ~any_valid.unsqueeze(1)
        update = _attend(self.slot_query(state.slots), self.input_key(x), self.input_value(x), mask)
        gate = torch.sigmoid(self.gate(torch.cat([state.slots, update], dim=-1)))
        slots = gate * state.slots + (1.0 - gate) * update
        return GatedState(torch.where(any_valid.view(-1, 1, 1), slots, state.slots))

    @torch.jit.export
    def forget(self, state: GatedState, reset: Tensor) -> GatedState:
        """Return the rows where ``reset`` (B,) is True to the initial slots."""
        initial = self.initial_slots.to(state.slots.dtype).unsqueeze(0).expand_as(state.slots)
        return GatedState(torch.where(reset.view(-1, 1, 1), initial, state.slots))


def _attend(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None) -> Tensor:
    """Scaled dot-product attention: query (B, Q, D), key/value (B, T, D), mask (B, T) True = attend."""
    scores = torch.matmul(query, key.transpose(1, 2)) * query.shape[-1] ** -0.5
    if mask is not None:
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
    return torch.matmul(torch.softmax(scores, dim=-1), value)
