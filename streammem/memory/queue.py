"""Fixed-length FIFO queue of detached items with a validity mask (MATR's selective memory).

Legend: B batch (independent streams), L capacity (slots), ``*I`` the item shape.
"""

from typing import Final, NamedTuple

import torch
from torch import Tensor, nn

__all__ = ["MemoryQueue", "QueueState"]


class QueueState(NamedTuple):
    """State of a :class:`MemoryQueue`; slot ``L-1`` is the newest.

    items: (B, L, *I) stored items, zeros in empty slots.
    valid: (B, L) bool, True where a slot holds an item.
    stamps: (B, L) int64 caller-given time stamps, -1 in empty slots.
    """

    items: Tensor
    valid: Tensor
    stamps: Tensor


class MemoryQueue(nn.Module):
    """FIFO memory of the last ``capacity`` selected items, per stream.

    MATR (Song et al., CVPR 2024) keeps the detached features of the last segments flagged as
    containing an action; empty slots stay zero. ``capacity=0`` turns memory off (reads give L=0).

    Args:
        capacity: L, number of slots kept; the oldest is evicted when a full queue is written.
        item_shape: shape ``*I`` of one item, e.g. ``[frames, dim]``.
    """

    capacity: Final[int]
    item_shape: list[int]

    def __init__(self, capacity: int, item_shape: list[int]) -> None:
        super().__init__()
        if capacity < 0:
            raise ValueError(f"MemoryQueue: capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self.item_shape = list(item_shape)

    def forward(self, state: QueueState) -> tuple[Tensor, Tensor, Tensor]:
        return self.read(state)

    @torch.jit.export
    def init(self, batch_size: int, device: torch.device) -> QueueState:
        """Empty queues for ``batch_size`` streams: items (B, L, *I) zeros, valid False, stamps -1."""
        items = torch.zeros([batch_size, self.capacity] + self.item_shape, device=device)
        valid = torch.zeros(batch_size, self.capacity, dtype=torch.bool, device=device)
        stamps = torch.full((batch_size, self.capacity), -1, dtype=torch.int64, device=device)
        return QueueState(items, valid, stamps)

    @torch.jit.export
    def read(self, state: QueueState) -> tuple[Tensor, Tensor, Tensor]:
        """Return ``(items (B, L, *I), valid (B, L), stamps (B, L))``, oldest first."""
        return state.items, state.valid, state.stamps

    @torch.jit.export
    def write(self, state: QueueState, item: Tensor, select: Tensor, stamp: Tensor) -> QueueState:
        """Push ``item`` (B, *I) at the newest end of rows where ``select`` (B,) is True.

        The oldest slot of a selected row is evicted; unselected rows are returned unchanged.
        ``stamp`` (B,) int64 is stored beside the item. Items are stored detached.
        """
        if self.capacity == 0:
            return state
        item = item.detach().to(state.items.dtype)
        pushed = QueueState(
            torch.cat([state.items[:, 1:], item.unsqueeze(1)], dim=1),
            torch.cat([state.valid[:, 1:], torch.ones_like(select).unsqueeze(1)], dim=1),
            torch.cat([state.stamps[:, 1:], stamp.to(torch.int64).unsqueeze(1)], dim=1),
        )
        return _where_rows(select, pushed, state)

    @torch.jit.export
    def write_rows(self, state: QueueState, rows: Tensor, item: Tensor, select: Tensor, stamp: Tensor) -> QueueState:
        """:meth:`write` restricted to the distinct rows ``rows`` (K,) int64 of the state; ``item`` (K, *I),
        ``select`` (K,) and ``stamp`` (K,) belong to those rows, every other row is returned unchanged.

        Equal to :meth:`write` with ``select`` False outside ``rows``, at the cost of one copy of the state
        instead of a shifted copy and a selection over every row: MATR writes one phase row per stream and
        step out of ``B * S``.
        """
        if self.capacity == 0:
            return state
        picked = QueueState(state.items.index_select(0, rows), state.valid.index_select(0, rows),
                            state.stamps.index_select(0, rows))
        pushed = self.write(picked, item, select, stamp)
        return QueueState(state.items.index_copy(0, rows, pushed.items), state.valid.index_copy(0, rows, pushed.valid),
                          state.stamps.index_copy(0, rows, pushed.stamps))

    @torch.jit.export
    def forget(self, state: QueueState, reset: Tensor) -> QueueState:
        """Empty the rows where ``reset`` (B,) is True (a new video starts); others unchanged."""
        empty = QueueState(
            torch.zeros_like(state.items), torch.zeros_like(state.valid), torch.full_like(state.stamps, -1)
        )
        return _where_rows(reset, empty, state)


def _where_rows(rows: Tensor, chosen: QueueState, other: QueueState) -> QueueState:
    """Per row b: ``chosen`` where ``rows[b]`` else ``other``; rows (B,) bool."""
    row_items = rows.view([rows.shape[0]] + [1] * (chosen.items.dim() - 1))
    row_slots = rows.unsqueeze(1)
    return QueueState(
        torch.where(row_items, chosen.items, other.items),
        torch.where(row_slots, chosen.valid, other.valid),
        torch.where(row_slots, chosen.stamps, other.stamps),
    )
