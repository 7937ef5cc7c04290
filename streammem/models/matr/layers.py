"""Small building blocks of MATR: sinusoidal positions, a post-norm DETR decoder layer, an MLP.

Legend: B batch, N query tokens, L memory (key) tokens, D model dim.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["sinusoid", "DecoderLayer", "MLP"]


def sinusoid(positions: Tensor, dim: int) -> Tensor:
    """Transformer sine/cosine encoding of float ``positions`` (N,) -> (N, dim); dim must be even."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(10000.0) / half))
    angles = positions.float().unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class DecoderLayer(nn.Module):
    """DETR decoder layer (post-norm): self-attention over queries, cross-attention to memory, FFN.

    Positions are added to queries/keys only, never to values (Carion et al., 2020).
    """

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn_dim, dim))
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, tgt: Tensor, memory: Tensor, query_pos: Tensor, memory_pos: Tensor) -> Tensor:
        """tgt (B, N, D), memory (B, L, D), query_pos (B or 1, N, D), memory_pos (B or 1, L, D) -> (B, N, D)."""
        q = tgt + query_pos
        tgt = self.norm1(tgt + self.drop(self.self_attn(q, q, tgt, need_weights=False)[0]))
        attended = self.cross_attn(tgt + query_pos, memory + memory_pos, memory, need_weights=False)[0]
        tgt = self.norm2(tgt + self.drop(attended))
        return self.norm3(tgt + self.drop(self.ffn(tgt)))


class MLP(nn.Module):
    """Linear -> activation -> Linear (MATR's heads; ``tanh`` in the end-offset head as in the paper's code)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, tanh: bool = False) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.Tanh() if tanh else nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
