"""Bounded key/value memory with exact top-k retrieval (Memorizing-Transformer style ablation).

Legend: B batch (independent streams), T items written or queries read, C capacity,
Dk key dim, Dv value dim, k neighbours returned.
"""

from typing import Final, NamedTuple

import torch
from torch import Tensor, nn

__all__ = ["KNNMemory", "KNNState"]


class KNNState(NamedTuple):
    """State of a :class:`KNNMemory` (a ring buffer per stream).

    keys: (B, C, Dk). values: (B, C, Dv). valid: (B, C) bool. next_index: (B,) int64 slot written next.
    """

    keys: Tensor
    values: Tensor
    valid: Tensor
    next_index: Tensor


class KNNMemory(nn.Module):
    """Ring buffer of detached key/value pairs; reads return the top-k keys by dot product.

    Exact search by one matmul: at the capacities used here (thousands) it is as fast as an index
    and needs no extra dependency.

    Args:
        capacity: C >= 1; the oldest pairs are overwritten first.
        key_dim: Dk. value_dim: Dv.
        top_k: neighbours per query, at most C.
    """

    capacity: Final[int]
    key_dim: Final[int]
    value_dim: Final[int]
    top_k: Final[int]

    def __init__(self, capacity: int, key_dim: int, value_dim: int, top_k: int) -> None:
        super().__init__()
        if capacity < 1 or not 1 <= top_k <= capacity:
            raise ValueError(
                f"KNNMemory: need 1 <= top_k <= capacity, got top_k={top_k}, capacity={capacity}"
            )
        self.capacity = capacity
        self.key_dim = key_dim
        self.value_dim = value_dim
        self.top_k = top_k

    def forward(self, state: KNNState, query: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.read(state, query)

    @torch.jit.export
    def init(self, batch_size: int, device: torch.device) -> KNNState:
        """Empty buffers: keys (B, C, Dk), values (B, C, Dv) zeros, valid False, next_index 0."""
        return KNNState(
            torch.zeros(batch_size, self.capacity, self.key_dim, device=device),
            torch.zeros(batch_size, self.capacity, self.value_dim, device=device),
            torch.zeros(batch_size, self.capacity, dtype=torch.bool, device=device),
            torch.zeros(batch_size, dtype=torch.int64, device=device),
        )

    @torch.jit.export
    def write(
        self, state: KNNState, keys: Tensor, values: Tensor, select: Tensor | None = None, valid: Tensor | None = None
    ) -> KNNState:
        """Append ``keys`` (B, T, Dk) and ``values`` (B, T, Dv) in order to rows where ``select`` (B,) (default: all).

        Older pairs are overwritten FIFO; when T > C only the last C pairs are kept. ``valid`` (B, T) bool
        (default: all) marks padding: a padded pair still takes its slot but is stored empty, never read.
        """
        count = keys.shape[1]
        kept = min(count, self.capacity)
        keys = keys[:, count - kept :].detach().to(state.keys.dtype)
        values = values[:, count - kept :].detach().to(state.values.dtype)
        start = state.next_index + (count - kept)
        slots = (start.unsqueeze(1) + torch.arange(kept, device=keys.device)) % self.capacity  # (B, kept)
        stored = torch.ones_like(slots, dtype=torch.bool) if valid is None else valid[:, count - kept :]
        new = KNNState(
            state.keys.scatter(1, slots.unsqueeze(-1).expand(-1, -1, self.key_dim), keys),
            state.values.scatter(1, slots.unsqueeze(-1).expand(-1, -1, self.value_dim), values),
            state.valid.scatter(1, slots, stored),
            (state.next_index + count) % self.capacity,
        )
        if select is None:
            return new
        return _where_rows(select, new, state)

    @torch.jit.export
    def read(self, state: KNNState, query: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Exact top-k of ``query`` (B, T, Dk) against the stored keys by dot product.

        Returns:
            values (B, T, k, Dv), scores (B, T, k) best first, found (B, T, k) bool, False where
            fewer than k pairs are stored (those values are zeros and scores -inf).
        """
        scores = torch.matmul(query, state.keys.transpose(1, 2))
        scores = scores.masked_fill(~state.valid.unsqueeze(1), float("-inf"))
        top_scores, top_index = scores.topk(self.top_k, dim=-1)
        batch, steps = query.shape[0], query.shape[1]
        flat_index = top_index.reshape(batch, steps * self.top_k, 1).expand(-1, -1, self.value_dim)
        values = state.values.gather(1, flat_index).view(batch, steps, self.top_k, self.value_dim)
        found = state.valid.gather(1, top_index.reshape(batch, -1)).view(batch, steps, self.top_k)
        values = values * found.unsqueeze(-1).to(values.dtype)
        return values, top_scores, found

    @torch.jit.export
    def forget(self, state: KNNState, reset: Tensor) -> KNNState:
        """Empty the rows where ``reset`` (B,) is True."""
        empty = KNNState(
            torch.zeros_like(state.keys),
            torch.zeros_like(state.values),
            torch.zeros_like(state.valid),
            torch.zeros_like(state.next_index),
        )
        return _where_rows(reset, empty, state)


def _where_rows(rows: Tensor, chosen: KNNState, other: KNNState) -> KNNState:
    """Per row b: ``chosen`` where ``rows[b]`` (B,) else ``other``."""
    slot = rows.unsqueeze(1)
    return KNNState(
        torch.where(slot.unsqueeze(-1), chosen.keys, other.keys),
        torch.where(slot.unsqueeze(-1), chosen.values, other.values),
        torch.where(slot, chosen.valid, other.valid),
        torch.where(rows, chosen.next_index, other.next_index),
    )
