"""Multi-head attention whose keys and values are extended by learned memory slots (Meshed-Memory operator).

Legend: B batch, T query tokens, S key/value tokens, M memory slots, H heads, E head dim, D model dim.
"""

import math
from typing import Final

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["MemoryAugmentedAttention"]


class MemoryAugmentedAttention(nn.Module):
    """Attention over the tokens' keys/values plus M learned key/value slots, in one softmax.

    Meshed-Memory Transformer (Cornia et al., CVPR 2020, ``ScaledDotProductAttentionMemory``): the slots
    ``m_k``, ``m_v`` (M, D) are plain parameters trained by backprop (no write rule, no per-stream state);
    they are concatenated to the projected keys and values, memory keys scaled by sqrt(E) and values by
    sqrt(M), initialised N(0, 1/E) and N(0, 1/M). A query can therefore read learned prototypes instead
    of (or beside) the other tokens. ``num_slots=0`` is plain multi-head attention with the same
    projections, which is how a memory ablation removes the memory and nothing else.

    Args:
        dim: D, model size (also the output size).
        num_heads: H; D must be divisible by H.
        num_slots: M, learned slots per layer (M² uses 40); 0 turns the memory off.
    """

    dim: Final[int]
    num_heads: Final[int]
    num_slots: Final[int]
    head_dim: Final[int]

    def __init__(self, dim: int, num_heads: int, num_slots: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"MemoryAugmentedAttention: dim {dim} is not divisible by {num_heads} heads")
        if num_slots < 0:
            raise ValueError(f"MemoryAugmentedAttention: num_slots must be >= 0, got {num_slots}")
        self.dim = dim
        self.num_heads = num_heads
        self.num_slots = num_slots
        self.head_dim = dim // num_heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        if num_slots > 0:
            self.m_k = nn.Parameter(torch.randn(num_slots, dim) * (1.0 / self.head_dim) ** 0.5)
            self.m_v = nn.Parameter(torch.randn(num_slots, dim) * (1.0 / num_slots) ** 0.5)
        else:  # registered as None so TorchScript sees the attributes; never read when M = 0
            self.register_parameter("m_k", None)
            self.register_parameter("m_v", None)

    def forward(self, query: Tensor, context: Tensor) -> Tensor:
        """query (B, T, D) attends to context (B, S, D) and the memory slots -> (B, T, D).

        Self-attention passes the same tensor twice.
        """
        b, t, _ = query.shape
        keys = self.k_proj(context)
        values = self.v_proj(context)
        if self.num_slots > 0:
            m_k = self.m_k
            m_v = self.m_v
            assert m_k is not None and m_v is not None
            keys = torch.cat([keys, (m_k * math.sqrt(self.head_dim)).expand(b, -1, -1)], dim=1)
            values = torch.cat([values, (m_v * math.sqrt(self.num_slots)).expand(b, -1, -1)], dim=1)
        q = self._heads(self.q_proj(query))
        out = F.scaled_dot_product_attention(q, self._heads(keys), self._heads(values))
        return self.out_proj(out.transpose(1, 2).reshape(b, t, self.dim))

    def _heads(self, x: Tensor) -> Tensor:
        """(B, N, D) -> (B, H, N, E)."""
        return x.view(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    @torch.jit.export
    def attention_weights(self, query: Tensor, context: Tensor) -> Tensor:
        """The softmax weights (B, H, T, S + M): columns S.. are the memory slots (for inspection and tests)."""
        b = query.shape[0]
        keys = self.k_proj(context)
        if self.num_slots > 0:
            m_k = self.m_k
            assert m_k is not None
            keys = torch.cat([keys, (m_k * math.sqrt(self.head_dim)).expand(b, -1, -1)], dim=1)
        logits = self._heads(self.q_proj(query)) @ self._heads(keys).transpose(-1, -2)
        return torch.softmax(logits / math.sqrt(self.head_dim), dim=-1)
