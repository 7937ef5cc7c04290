"""OAD -> TAL baseline: a per-frame action classifier over the current segment, grouped into actions.

Legend: B streams, T time, S segment length, F input dim, D model dim, C classes (+1 background).
It sees exactly MATR's current segment (same projections, same encoder shape) but has no instance queries
and no memory: the comparison isolates what MATR's instance decoding and memory add.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from streammem.models.matr.layers import sinusoid
from streammem.models.matr.model import MATRConfig

__all__ = ["FrameClassifier"]


class FrameClassifier(nn.Module):
    """Per-frame classifier: encoder over the last S features + a class token -> (C+1) logits per step."""

    def __init__(self, config: MATRConfig) -> None:
        super().__init__()
        c = config
        self.segment_len = c.segment_len
        self.d_model = c.d_model
        self.project = nn.Linear(sum(c.feature_dims), c.d_model)
        self.cls_token = nn.Parameter(torch.randn(1, 1, c.d_model) * 0.02)
        self.encoder = nn.ModuleList(
            [
                nn.TransformerEncoderLayer(c.d_model, c.encoder_heads, c.ffn_dim, c.dropout, activation="gelu", batch_first=True)
                for _ in range(c.encoder_layers)
            ]
        )
        self.head = nn.Linear(c.d_model, c.num_classes + 1)
        positions = torch.cat([torch.zeros(1), torch.arange(c.segment_len, 0, -1).float()])
        self.register_buffer("pos", sinusoid(positions, c.d_model).unsqueeze(0), persistent=False)

    def forward_sequence(self, x: Tensor) -> Tensor:
        """x (B, T, F) -> logits (B, T, C+1); step t sees features t-S+1..t only (causal)."""
        b, t, _ = x.shape
        s = self.segment_len
        proj = self.project(x)
        padded = torch.cat([proj.new_zeros(b, s - 1, self.d_model), proj], dim=1)
        windows = padded.unfold(1, s, 1).permute(0, 1, 3, 2).reshape(b * t, s, self.d_model)
        tokens = torch.cat([self.cls_token.expand(b * t, 1, self.d_model), windows], dim=1) + self.pos
        for layer in self.encoder:
            tokens = layer(tokens)
        return self.head(tokens[:, 0]).view(b, t, -1)
