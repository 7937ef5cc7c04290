"""Sine position embeddings for feature maps (DETR) and for boxes (DAB-DETR anchors).

Legend: B batch, N queries, D model dim, H/W feature map size.
"""

import math

import torch
from torch import Tensor

__all__ = ["sine_embedding_2d", "sine_embedding_boxes"]


def _sine(coords: Tensor, num_feats: int, temperature: float) -> Tensor:
    """(..., ) coordinates already scaled by 2*pi -> (..., num_feats) interleaved sin/cos."""
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=coords.device)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_feats)
    pos = coords.unsqueeze(-1) / dim_t
    return torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=-1).flatten(-2)


def sine_embedding_2d(batch: int, height: int, width: int, dim: int, temperature: float,
                      device: torch.device) -> Tensor:
    """Normalised sine embedding of every cell of an (H, W) map -> (B, D, H, W); D/2 per axis (y then x).

    MeMOTR uses temperature 20 (``models/position_embedding.py``) instead of DETR's 10000.
    """
    scale = 2 * math.pi
    ys = (torch.arange(height, dtype=torch.float32, device=device) + 0.5) / height * scale
    xs = (torch.arange(width, dtype=torch.float32, device=device) + 0.5) / width * scale
    pos_y = _sine(ys, dim // 2, temperature)[:, None, :].expand(height, width, dim // 2)
    pos_x = _sine(xs, dim // 2, temperature)[None, :, :].expand(height, width, dim // 2)
    pos = torch.cat((pos_y, pos_x), dim=-1).permute(2, 0, 1)
    return pos.unsqueeze(0).expand(batch, dim, height, width)


def sine_embedding_boxes(boxes: Tensor, num_feats: int, temperature: float = 10000.0) -> Tensor:
    """DAB-DETR anchor embedding: (B, N, 4) normalised (cx, cy, w, h) -> (B, N, 4 * num_feats), order y, x, w, h."""
    scaled = boxes * (2 * math.pi)
    x = _sine(scaled[..., 0], num_feats, temperature)
    y = _sine(scaled[..., 1], num_feats, temperature)
    w = _sine(scaled[..., 2], num_feats, temperature)
    h = _sine(scaled[..., 3], num_feats, temperature)
    return torch.cat((y, x, w, h), dim=-1)
