"""Multi-scale deformable attention (Deformable DETR, Zhu et al., ICLR 2021) in pure PyTorch.

Legend: B batch, Q queries, S flattened multi-scale tokens, L levels, H heads, P points per head and level,
D model dim. Sampling uses ``grid_sample`` so it runs on CPU, on GPU and under TorchScript; the compiled
CUDA kernel of the reference code raises on CPU and blocks export (Deformable-DETR #166), hence hand-written.
"""

import math
from typing import Final

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MSDeformAttn", "ms_deform_attn"]


def ms_deform_attn(
    value: Tensor, shapes: list[tuple[int, int]], sampling_locations: Tensor, attention_weights: Tensor
) -> Tensor:
    """Bilinearly sample each level at the given locations and sum with the attention weights.

    Args:
        value: (B, S, H, Dh) per-head values of all levels, flattened level after level.
        shapes: L pairs (h, w), the spatial size of each level; sum of h*w is S.
        sampling_locations: (B, Q, H, L, P, 2) normalised (x, y) in [0, 1].
        attention_weights: (B, Q, H, L, P), softmax-normalised over L*P.
    Returns:
        (B, Q, H*Dh).
    """
    b, _, heads, dh = value.shape
    q = sampling_locations.shape[1]
    grids = 2.0 * sampling_locations - 1.0
    # (L, B*H, 1, Q, P), each level's block contiguous: multiplying the samples by a strided slice of a
    # (B*H, 1, Q, L, P) tensor instead ran about 3x slower on the CPU at paper size (the worst operator).
    levels, points = attention_weights.shape[3], attention_weights.shape[4]
    weights = attention_weights.permute(3, 0, 2, 1, 4).reshape(levels, b * heads, 1, q, points)
    out = torch.zeros(b * heads, dh, q, dtype=value.dtype, device=value.device)
    start = 0
    for level, (h, w) in enumerate(shapes):
        v = value[:, start : start + h * w].flatten(2).transpose(1, 2).reshape(b * heads, dh, h, w)
        start += h * w
        g = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)  # (B*H, Q, P, 2)
        sampled = F.grid_sample(v, g, mode="bilinear", padding_mode="zeros", align_corners=False)
        out = out + (sampled * weights[level]).sum(-1)  # accumulate: no (L*P) concat
    return out.view(b, heads * dh, q).transpose(1, 2).contiguous()


class MSDeformAttn(nn.Module):
    """Each query attends to P learned sampling points around its reference per level and head.

    Reference points are (x, y) centres or (cx, cy, w, h) boxes (DAB/box refinement: offsets scale with
    the box size).
    """

    num_heads: Final[int]
    num_levels: Final[int]
    num_points: Final[int]

    def __init__(self, dim: int = 256, num_levels: int = 4, num_heads: int = 8, num_points: int = 4) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"MSDeformAttn: dim {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.num_levels = num_levels
        self.num_points = num_points
        self.sampling_offsets = nn.Linear(dim, num_heads * num_levels * num_points * 2)
        self.attention_weights = nn.Linear(dim, num_heads * num_levels * num_points)
        self.value_proj = nn.Linear(dim, dim)
        self.output_proj = nn.Linear(dim, dim)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # Deformable DETR init: offsets start on a ring of directions, growing with the point index.
        nn.init.constant_(self.sampling_offsets.weight, 0.0)
        thetas = torch.arange(self.num_heads, dtype=torch.float32) * (2.0 * math.pi / self.num_heads)
        grid = torch.stack([thetas.cos(), thetas.sin()], -1)
        grid = (grid / grid.abs().max(-1, keepdim=True)[0]).view(self.num_heads, 1, 1, 2)
        grid = grid.repeat(1, self.num_levels, self.num_points, 1)
        for i in range(self.num_points):
            grid[:, :, i, :] *= i + 1
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.view(-1))
        nn.init.constant_(self.attention_weights.weight, 0.0)
        nn.init.constant_(self.attention_weights.bias, 0.0)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.constant_(self.value_proj.bias, 0.0)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.constant_(self.output_proj.bias, 0.0)

    def forward(self, query: Tensor, reference_points: Tensor, value: Tensor, shapes: list[tuple[int, int]]) -> Tensor:
        """
        Args:
            query: (B, Q, D) queries with their positional embedding added.
            reference_points: (B, Q, L, 2) normalised centres or (B, Q, L, 4) normalised boxes.
            value: (B, S, D) flattened multi-scale features.
            shapes: L pairs (h, w) of the levels inside ``value``.
        Returns:
            (B, Q, D).
        """
        b, q, _ = query.shape
        s = value.shape[1]
        heads, levels, points = self.num_heads, self.num_levels, self.num_points
        v = self.value_proj(value).view(b, s, heads, -1)
        offsets = self.sampling_offsets(query).view(b, q, heads, levels, points, 2)
        weights = self.attention_weights(query).view(b, q, heads, levels * points).softmax(-1)
        weights = weights.view(b, q, heads, levels, points)
        if reference_points.shape[-1] == 2:
            normaliser = torch.tensor([[w, h] for h, w in shapes], dtype=query.dtype, device=query.device)
            locations = reference_points[:, :, None, :, None, :] + offsets / normaliser[None, None, None, :, None, :]
        else:
            centre = reference_points[:, :, None, :, None, :2]
            size = reference_points[:, :, None, :, None, 2:]
            locations = centre + offsets / points * size * 0.5
        return self.output_proj(ms_deform_attn(v, shapes, locations, weights))
