"""Learned memory items read by attention with hard shrinkage (MemAE, used by MemMC-MAE).

Legend: B batch, T tokens, D feature dim, K memory items.
"""

from typing import Final

import torch
from torch import Tensor, nn

__all__ = ["MemoryItems", "addressing_entropy"]


class MemoryItems(nn.Module):
    """K learned prototypes; a query is replaced by a sparse combination of them.

    MemAE (Gong et al., ICCV 2019): w = softmax(q M^T), hard shrinkage
    w' = relu(w - lambda) w / (|w - lambda| + eps), then L1 renormalisation; output w' M.
    The items are trained by backprop, so there is no write or forget and no per-stream state.

    Args:
        num_items: K, prototypes (MemAE video: 2000).
        dim: D, feature size.
        shrink_threshold: lambda; MemAE advises 1/K to 3/K (released code: 0.0025). 0 turns it off.
    """

    num_items: Final[int]
    dim: Final[int]
    shrink_threshold: Final[float]
    eps: Final[float]

    def __init__(self, num_items: int, dim: int, shrink_threshold: float) -> None:
        super().__init__()
        self.num_items = num_items
        self.dim = dim
        self.shrink_threshold = shrink_threshold
        self.eps = 1e-12
        bound = dim**-0.5  # MemAE's uniform(-1/sqrt(D), 1/sqrt(D)) initialisation
        self.items = nn.Parameter(torch.empty(num_items, dim).uniform_(-bound, bound))

    def forward(self, query: Tensor) -> tuple[Tensor, Tensor]:
        return self.read(query)

    @torch.jit.export
    def read(self, query: Tensor) -> tuple[Tensor, Tensor]:
        """Address the items with ``query`` (B, T, D).

        Returns:
            output (B, T, D) the recombined items, and weights (B, T, K) after shrinkage (rows sum to
            1, or are all zero when every weight was shrunk away).
        """
        weights = torch.softmax(torch.matmul(query, self.items.t()), dim=-1)
        if self.shrink_threshold > 0:
            shifted = weights - self.shrink_threshold
            weights = torch.relu(shifted) * weights / (shifted.abs() + self.eps)
            weights = weights / weights.sum(dim=-1, keepdim=True).clamp_min(self.eps)
        return torch.matmul(weights, self.items), weights


def addressing_entropy(weights: Tensor, eps: float = 1e-12) -> Tensor:
    """MemAE's sparsity loss: mean over tokens of -sum_k w_k log w_k, weights (..., K) -> scalar."""
    return -(weights * (weights + eps).log()).sum(dim=-1).mean()
