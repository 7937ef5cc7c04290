"""Augmented-memory bank: the last M segment summaries, used as extra keys/values (AM-Transformer).

Legend: B batch (independent streams), M bank capacity (summaries kept), D model dim.
"""

from typing import Final

import torch
from torch import Tensor, nn

from streammem.memory.queue import MemoryQueue, QueueState

__all__ = ["MemoryBank"]


class MemoryBank(nn.Module):
    """Per-layer bank of segment summary vectors, keeping the last ``capacity`` (FIFO).

    Augmented Memory Transformer (Wu et al. 2020; Ma et al., ICASSP 2021): after each segment a layer
    appends one memory vector; the next segments attend to [memory; window]. Built on
    :class:`MemoryQueue`, whose stamps count the segments each stream has written.

    Args:
        capacity: M, summaries kept (``max_memory_size``; the SimulST papers use 3). 0 turns memory off.
        dim: D, size of one summary.
    """

    capacity: Final[int]
    dim: Final[int]

    def __init__(self, capacity: int, dim: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.dim = dim
        self.queue = MemoryQueue(capacity, [dim])

    def forward(self, state: QueueState) -> tuple[Tensor, Tensor]:
        return self.read(state)

    @torch.jit.export
    def init(self, batch_size: int, device: torch.device) -> QueueState:
        """Empty banks: memory (B, M, D) zeros, valid (B, M) False."""
        return self.queue.init(batch_size, device)

    @torch.jit.export
    def read(self, state: QueueState) -> tuple[Tensor, Tensor]:
        """Return ``(memory (B, M, D), valid (B, M) bool)``, oldest first.

        ``memory`` serves as both the keys and the values prepended to self-attention; mask out the
        slots where ``valid`` is False (``key_padding_mask = ~valid``).
        """
        return state.items, state.valid

    @torch.jit.export
    def write(self, state: QueueState, summary: Tensor, select: Tensor | None = None) -> QueueState:
        """Append ``summary`` (B, D) to the rows where ``select`` (B,) is True (default: all), dropping the oldest."""
        if self.capacity == 0:
            return state
        if select is None:
            select = torch.ones(summary.shape[0], dtype=torch.bool, device=summary.device)
        segment = state.stamps[:, -1] + 1  # index of this segment in the stream: 0, 1, 2, ...
        return self.queue.write(state, summary, select, segment)

    @torch.jit.export
    def forget(self, state: QueueState, reset: Tensor) -> QueueState:
        """Empty the rows where ``reset`` (B,) is True (a new utterance starts)."""
        return self.queue.forget(state, reset)
