"""Per-track long-term memory updated by an exponential moving average (MeMOTR).

Legend: B batch (independent streams), K track slots, D embedding dim.
"""

import math
from typing import Final, NamedTuple

import torch
from torch import Tensor, nn

__all__ = ["LongTermMemory", "LongTermState"]


class LongTermState(NamedTuple):
    """State of a :class:`LongTermMemory`.

    memory: (B, K, D) long-term embedding per track slot, zeros in free slots.
    active: (B, K) bool, True where a slot holds a live track.
    """

    memory: Tensor
    active: Tensor


class LongTermMemory(nn.Module):
    """EMA memory of track embeddings: M <- (1 - lambda) M + lambda O_t, or a learned gated update.

    MeMOTR (Gao & Wang, ICCV 2023) uses lambda = 0.01 and detaches the memory, so no gradient
    flows through the history. Slots are born with a track and freed when it dies.
    ``gated=True`` replaces the constant lambda by a learned per-channel gate,
    M <- g M + (1 - g) O_t with g = sigmoid(W [M; O_t] + b), initialised to the EMA (W = 0,
    sigmoid(b) = 1 - lambda); its writes keep their gradient so the gate can learn within a clip.

    Args:
        num_slots: K, track slots per stream.
        dim: D, embedding size.
        momentum: lambda, weight of the new embedding in the EMA (the gate's starting point).
        gated: learned gate instead of the constant lambda.
    """

    num_slots: Final[int]
    dim: Final[int]
    momentum: Final[float]

    def __init__(self, num_slots: int, dim: int, momentum: float = 0.01, gated: bool = False) -> None:
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"LongTermMemory: momentum must be in [0, 1], got {momentum}")
        self.num_slots = num_slots
        self.dim = dim
        self.momentum = momentum
        self.gate: nn.Linear | None = None
        if gated:
            self.gate = nn.Linear(2 * dim, dim)
            nn.init.zeros_(self.gate.weight)
            keep = min(max(1.0 - momentum, 1e-4), 1.0 - 1e-4)
            nn.init.constant_(self.gate.bias, math.log(keep / (1.0 - keep)))

    def forward(self, state: LongTermState) -> Tensor:
        return self.read(state)

    @torch.jit.export
    def init(self, batch_size: int, device: torch.device) -> LongTermState:
        """All slots free: memory (B, K, D) zeros, active (B, K) False."""
        return LongTermState(
            torch.zeros(batch_size, self.num_slots, self.dim, device=device),
            torch.zeros(batch_size, self.num_slots, dtype=torch.bool, device=device),
        )

    @torch.jit.export
    def read(self, state: LongTermState) -> Tensor:
        """Return memory (B, K, D); free slots read as zeros."""
        return state.memory

    @torch.jit.export
    def write(self, state: LongTermState, value: Tensor, update: Tensor) -> LongTermState:
        """EMA (or gated) update with ``value`` (B, K, D) where ``update`` (B, K) and the slot is active."""
        gate = self.gate
        if gate is None:
            value = value.detach().to(state.memory.dtype)
            blended = (1.0 - self.momentum) * state.memory + self.momentum * value
        else:
            value = value.to(state.memory.dtype)
            keep = torch.sigmoid(gate(torch.cat([state.memory, value], dim=-1)))
            blended = keep * state.memory + (1.0 - keep) * value
        mask = (update & state.active).unsqueeze(-1)
        return LongTermState(torch.where(mask, blended, state.memory), state.active)

    @torch.jit.export
    def birth(self, state: LongTermState, value: Tensor, born: Tensor) -> LongTermState:
        """Start tracks where ``born`` (B, K): memory = ``value`` (B, K, D) detached, slot active."""
        value = value.detach().to(state.memory.dtype)
        return LongTermState(torch.where(born.unsqueeze(-1), value, state.memory), state.active | born)

    @torch.jit.export
    def forget(self, state: LongTermState, dead: Tensor) -> LongTermState:
        """Free the slots where ``dead`` (B, K) (tracks end), or every slot of the rows where ``dead`` (B,)
        (a new video starts): memory zeroed, slot inactive; other slots and rows unchanged."""
        if dead.dim() == 1:
            dead = dead.unsqueeze(1).expand(-1, self.num_slots)
        memory = state.memory.masked_fill(dead.unsqueeze(-1), 0.0)
        return LongTermState(memory, state.active & ~dead)
