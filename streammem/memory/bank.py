"""Augmented memory: one layer's self-attention over [memory bank; window] that writes a segment summary.

Legend: B batch (independent streams), T window frames, M bank capacity (summaries kept), D model dim,
H heads, E head dim (D / H).
"""

import math
from typing import Final

import torch
from torch import Tensor, nn

from streammem.memory.queue import MemoryQueue, QueueState

__all__ = ["MemoryBank"]



class MemoryBank(nn.Module):
    """Per-layer augmented memory of the last ``capacity`` segment summaries (Wu et al. 2020; Ma et al. 2021).

    One call (``forward``) is one layer's self-attention for one window ``[left | center | right]``:

    1. summary query s = mean of the (layer-normed) input over the window's center frames (zero if none);
    2. queries = [window; s], keys/values = [bank; window], all through the same projections;
    3. s may not attend to the bank (no "mem-on-mem"); empty slots and padded frames are masked;
    4. optional weak-attention suppression (Shi et al. 2020): probabilities below mean - ``std_scale`` * std
       of a row's unmasked probabilities are dropped before a second softmax;
    5. the output at s (after the output projection, optionally tanh-squashed) is appended to the bank as the
       newest memory vector, for rows that had center frames; the oldest falls out.

    Window-window scores and values carry clipped relative positions (Shaw et al. 2018), so a window with
    padded (masked) frames computes what the shorter window would. The bank state is a
    :class:`QueueState` (items (B, M, D), valid (B, M), stamps (B, M) = segment index per stream), handled
    by the same ``init/read/write/forget`` contract as the other memories. Unlike :class:`MemoryQueue`,
    written summaries keep their gradient, so the memory is trained end to end across segments.

    Args:
        capacity: M, summaries kept (``max_memory_size``; the SimulST papers use 3). 0 turns memory off and
            leaves plain windowed self-attention with the same weights.
        dim: D.
        heads: H; D must be divisible by H.
        weak_attention_std: suppression scale (0.5 in the papers); 0 turns suppression off.
        tanh: squash new memory vectors with tanh (fairseq's default; off in the Shiftable Context setup).
        max_relative_distance: relative positions are clipped to +- this many frames.
    """

    capacity: Final[int]
    dim: Final[int]
    heads: Final[int]
    head_dim: Final[int]
    std_scale: Final[float]
    tanh: Final[bool]
    max_distance: Final[int]
    neg_inf: Final[float] = -1e9  # finite, so a fully masked row cannot produce NaN

    def __init__(self, capacity: int, dim: int, heads: int = 1, weak_attention_std: float = 0.0, tanh: bool = False,
                 max_relative_distance: int = 16) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"MemoryBank: dim {dim} is not divisible by {heads} heads")
        self.capacity = capacity
        self.dim = dim
        self.heads = heads
        self.head_dim = dim // heads
        self.std_scale = weak_attention_std
        self.tanh = tanh
        self.max_distance = max_relative_distance
        self.queue = MemoryQueue(capacity, [dim])
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.rel_key = nn.Embedding(2 * max_relative_distance + 1, self.head_dim)
        self.rel_value = nn.Embedding(2 * max_relative_distance + 1, self.head_dim)

    def forward(self, x: Tensor, valid: Tensor, center: Tensor, state: QueueState) -> tuple[Tensor, QueueState]:
        """One window: x (B, T, D) layer-normed input, valid (B, T) bool real frames, center (B, T) bool.

        Returns (attention output (B, T, D) before residual, the bank with this window's summary written).
        """
        memory, memory_valid = self.read(state)
        memory = memory.to(x.dtype)
        q, k, v = self._project(torch.cat([memory, x], 1))  # the window's keys and values serve both steps
        M = memory.shape[1]
        out = self._attend(q[:, :, M:], k, v, valid, memory_valid)
        summary, written = self._summarize(x, valid, center, k[:, :, M:], v[:, :, M:])
        return out, self.write(state, summary, written)

    def summarize(self, x: Tensor, valid: Tensor, center: Tensor) -> tuple[Tensor, Tensor]:
        """Steps 1, 3, 5 for a window: (new memory vector (B, D), (B,) bool the window had center frames).

        The summary query reads the window only, so the vectors of many windows can be computed at once
        (parallel training over windows) and give what the window-by-window loop gives."""
        _, k, v = self._project(x)
        return self._summarize(x, valid, center, k, v)

    def _summarize(self, x: Tensor, valid: Tensor, center: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`summarize` given the window's keys and values k, v (B, H, T, E)."""
        in_center = (center & valid).to(x.dtype).unsqueeze(-1)
        count = in_center.sum(1)
        s = ((x * in_center).sum(1) / count.clamp_min(1.0)).unsqueeze(1)
        q, _, _ = self._project(s)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)  # (B, H, 1, T)
        out = self._attention(scores, valid.view(x.shape[0], 1, 1, -1), v)
        out = self.out(out.transpose(1, 2).reshape(x.shape[0], self.dim))
        return (torch.tanh(out) if self.tanh else out), count.squeeze(-1) > 0

    def attend(self, x: Tensor, valid: Tensor, memory: Tensor, memory_valid: Tensor) -> Tensor:
        """Step 2 for the window's frames: queries x (B, T, D) over [memory (B, M, D); x] -> (B, T, D)."""
        q, k, v = self._project(torch.cat([memory, x], 1))
        return self._attend(q[:, :, memory.shape[1]:], k, v, valid, memory_valid)

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, valid: Tensor, memory_valid: Tensor) -> Tensor:
        """:meth:`attend` given the window's queries q (B, H, T, E) and the keys and values of [memory; window]."""
        B, T, M = q.shape[0], q.shape[2], memory_valid.shape[1]
        # Relative positions (Shaw et al. 2018) through the (2R+1)-row tables, not a (T, T, E) lookup: the key
        # term is q . table gathered at each pair's clipped distance; the value term bins each row's
        # probabilities by distance, then one product with the table. Same sums as the per-pair form.
        rel = self._relative(T, q.device).expand(B, self.heads, T, T)
        scores = torch.matmul(q, k.transpose(-1, -2))  # (B, H, T, M+T)
        window = scores[:, :, :, M:] + torch.matmul(q, self.rel_key.weight.t()).gather(-1, rel)
        scores = torch.cat([scores[:, :, :, :M], window], -1) / math.sqrt(self.head_dim)
        allowed = torch.cat([memory_valid, valid], 1).view(B, 1, 1, M + T)
        probs = self._probabilities(scores, allowed)
        bins = probs.new_zeros(B, self.heads, T, self.rel_value.num_embeddings).scatter_add(-1, rel, probs[:, :, :, M:])
        out = torch.matmul(probs, v) + torch.matmul(bins, self.rel_value.weight)
        return self.out(out.transpose(1, 2).reshape(B, T, self.dim))

    def _attention(self, scores: Tensor, allowed: Tensor, v: Tensor) -> Tensor:
        return torch.matmul(self._probabilities(scores, allowed), v)

    def _probabilities(self, scores: Tensor, allowed: Tensor) -> Tensor:
        """Masked softmax, with weak-attention suppression when switched on."""
        if self.std_scale > 0:
            allowed = allowed & ~self._weak(scores, allowed)
        return torch.softmax(scores.masked_fill(~allowed, self.neg_inf), -1)

    def _project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, N, D) -> q, k, v each (B, H, N, E)."""
        B, N, _ = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        return q, k, v

    def _relative(self, length: int, device: torch.device) -> Tensor:
        """(T, T) indices of clipped relative positions j - i into the embedding tables."""
        pos = torch.arange(length, device=device)
        return (pos.unsqueeze(0) - pos.unsqueeze(1)).clamp(-self.max_distance, self.max_distance) + self.max_distance

    def _weak(self, scores: Tensor, allowed: Tensor) -> Tensor:
        """(B, H, Q, K) True where a probability is below mean - std_scale * std of its row (Shi et al. 2020)."""
        probs = torch.softmax(scores.masked_fill(~allowed, self.neg_inf), -1)
        n = allowed.sum(-1, keepdim=True).to(probs.dtype)
        mean = 1.0 / n.clamp_min(1.0)
        var = (((probs - mean) ** 2) * allowed.to(probs.dtype)).sum(-1, keepdim=True) / (n - 1.0).clamp_min(1.0)
        return probs < mean - self.std_scale * var.sqrt()

    @torch.jit.export
    def init(self, batch_size: int, device: torch.device) -> QueueState:
        """Empty banks: memory (B, M, D) zeros, valid (B, M) False, stamps -1."""
        return self.queue.init(batch_size, device)

    @torch.jit.export
    def read(self, state: QueueState) -> tuple[Tensor, Tensor]:
        """Return ``(memory (B, M, D), valid (B, M) bool)``, oldest first."""
        return state.items, state.valid

    @torch.jit.export
    def write(self, state: QueueState, summary: Tensor, select: Tensor | None = None) -> QueueState:
        """Append ``summary`` (B, D) to the rows where ``select`` (B,) is True (default: all), dropping the oldest."""
        if self.capacity == 0:
            return state
        if select is None:
            select = torch.ones(summary.shape[0], dtype=torch.bool, device=summary.device)
        segment = state.stamps[:, -1] + 1  # index of this segment in the stream: 0, 1, 2, ...
        pushed = self.queue.write(state, summary, select, segment)
        # MemoryQueue stores items detached; the bank keeps the gradient so memory is trained end to end.
        items = torch.cat([state.items[:, 1:], summary.unsqueeze(1).to(state.items.dtype)], 1)
        items = torch.where(select.view(-1, 1, 1), items, state.items)
        return QueueState(items, pushed.valid, pushed.stamps)

    @torch.jit.export
    def forget(self, state: QueueState, reset: Tensor) -> QueueState:
        """Empty the rows where ``reset`` (B,) is True (a new stream starts)."""
        return self.queue.forget(state, reset)

