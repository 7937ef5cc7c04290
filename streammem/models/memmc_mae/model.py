"""MemMC-MAE: a ViT masked autoencoder with encoder memory and a multi-level cross-attention decoder.

Tian et al., "Unsupervised Anomaly Detection in Medical Images with a Memory-augmented Multi-level
Cross-attentional Masked Autoencoder" (MLMI 2023, arXiv 2203.11725). Only the paper's abstract could be
checked; where it is silent the Meshed-Memory Transformer (M²) operators and MAE's defaults are used
(``docs/anomaly.md`` lists every choice).

Legend: B images, P scoring passes (R repeats x K partitions), C channels, S model input side, p patch side,
L = (S/p)^2 patches, V visible patches per pass, D encoder dim, Dd decoder dim, W temporal window.

Training masks a random 75% of the patches and regresses their pixels. Scoring is deterministic: the patches
are split into K complementary visible sets (so every patch is reconstructed while masked), R times with
fixed seeds; the squared error of masked pixels is averaged into a map, smoothed, and reduced to a score.
The whole scoring path, pre- and post-processing included, is one TorchScript graph (``forward``).
"""


from typing import Final, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torchvision.transforms.functional import gaussian_blur

from streammem.memory import MemoryAugmentedAttention, MemoryItems, addressing_entropy
from streammem.models.memmc_mae.config import MemMCMAEConfig
from streammem.nn.position_encoding import sine_embedding_2d

__all__ = ["MemMCMAE", "AnomalyOutput", "AnomalyState"]


class AnomalyOutput(NamedTuple):
    """Scores named as anomalib's ``InferenceBatch``; normalised with the calibration fitted on validation normals.

    pred_score: (B,) image score in [0, 1]; 0.5 is the fitted threshold.
    anomaly_map: (B, H, W) pixel scores in [0, 1] at the input resolution; 0.5 is the pixel threshold.
    pred_label: (B,) bool, pred_score >= 0.5.
    pred_mask: (B, H, W) bool, anomaly_map >= 0.5.
    raw_score: (B,) the unnormalised score (mean squared error of the top map pixels); used for AUROC.
    """

    pred_score: Tensor
    anomaly_map: Tensor
    pred_label: Tensor
    pred_mask: Tensor
    raw_score: Tensor


class AnomalyState(NamedTuple):
    """Streaming state of one video or camera per row; fixed size whatever the stream's length.

    recent_scores: (B, W) raw scores of the last W frames, newest last, zeros before the start.
    count: (B,) int64 frames seen, capped at W (how many of ``recent_scores`` are real).
    """

    recent_scores: Tensor
    count: Tensor


def _mlp(dim: int, ratio: float) -> nn.Sequential:
    """ViT's feed-forward block (GELU, as MAE)."""
    hidden = int(dim * ratio)
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


def _positions(side: int, dim: int) -> Tensor:
    """Fixed 2-D sin-cos positions (1, side*side, dim), row-major like the patch order."""
    pos = sine_embedding_2d(1, side, side, dim, temperature=10000.0, device=torch.device("cpu"))
    return pos.flatten(2).transpose(1, 2).contiguous()


class _EncoderBlock(nn.Module):
    """Pre-norm ViT block; self-attention reads the M memory slots, or MemAE items rewrite its output."""

    def __init__(self, cfg: MemMCMAEConfig) -> None:
        super().__init__()
        slots = cfg.memory_slots if cfg.memory == "attention" else 0
        self.norm1 = nn.LayerNorm(cfg.embed_dim)
        self.attn = MemoryAugmentedAttention(cfg.embed_dim, cfg.num_heads, slots)
        self.norm2 = nn.LayerNorm(cfg.embed_dim)
        self.mlp = _mlp(cfg.embed_dim, cfg.mlp_ratio)
        self.items = MemoryItems(cfg.memory_slots, cfg.embed_dim, cfg.shrink_threshold) if cfg.memory == "memae" else None

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (B, V, D) -> (x (B, V, D), addressing entropy (scalar; 0 without MemAE items))."""
        h = self.norm1(x)
        x = x + self.attn(h, h)
        x = x + self.mlp(self.norm2(x))
        entropy = torch.zeros((), device=x.device)
        if self.items is not None:
            x, weights = self.items(x)  # MemAE: the tokens are replaced by a sparse mix of normal prototypes
            entropy = addressing_entropy(weights)
        return x, entropy


class _DecoderBlock(nn.Module):
    """Self-attention, then gated cross-attention to each chosen encoder level (summed / sqrt(L)), then MLP.

    The gate is M²'s meshed connectivity: alpha_l = sigmoid(W_l [x; cross_l]); one cross-attention shared
    by all levels, one gate per level. Without levels this is MAE's decoder block.
    """

    num_levels: Final[int]

    def __init__(self, cfg: MemMCMAEConfig) -> None:
        super().__init__()
        dim = cfg.decoder_dim
        self.num_levels = len(cfg.decoder_levels)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MemoryAugmentedAttention(dim, cfg.decoder_heads, 0)
        self.norm_cross = nn.LayerNorm(dim)
        self.cross = MemoryAugmentedAttention(dim, cfg.decoder_heads, 0)
        self.gates = nn.ModuleList(nn.Linear(2 * dim, dim) for _ in range(self.num_levels))
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = _mlp(dim, cfg.mlp_ratio)

    def forward(self, x: Tensor, levels: list[Tensor]) -> Tensor:
        """x (B, L, Dd), levels: each (B, V, Dd) -> (B, L, Dd)."""
        h = self.norm1(x)
        x = x + self.attn(h, h)
        if self.num_levels > 0:
            q = self.norm_cross(x)
            mixed = torch.zeros_like(x)
            for i, gate in enumerate(self.gates):
                cross = self.cross(q, levels[i])
                mixed = mixed + torch.sigmoid(gate(torch.cat([q, cross], dim=-1))) * cross
            x = x + mixed / (self.num_levels**0.5)
        return x + self.mlp(self.norm2(x))


class MemMCMAE(nn.Module):
    """MemMC-MAE (Tian et al., MLMI 2023): training loss, deterministic scorer and streaming frame scorer.

    ``forward(images)`` scores a batch: images (B, C', H, W), uint8 in [0, 255] or float in [0, 1], any size
    and 1 or 3 channels (converted inside the graph) -> :class:`AnomalyOutput`.
    """

    image_size: Final[int]
    in_chans: Final[int]
    patch_size: Final[int]
    grid: Final[int]
    num_patches: Final[int]
    num_keep: Final[int]
    norm_pix: Final[bool]
    map_sigma: Final[float]
    blur_kernel: Final[int]
    top_k: Final[int]
    temporal_window: Final[int]
    entropy_weight: Final[float]
    level_index: list[int]

    def __init__(self, cfg: MemMCMAEConfig) -> None:
        super().__init__()
        self.config = cfg
        self.image_size = cfg.image_size
        self.in_chans = cfg.in_chans
        self.patch_size = cfg.patch_size
        self.grid = cfg.image_size // cfg.patch_size
        self.num_patches = self.grid * self.grid
        partitions = round(1.0 / (1.0 - cfg.mask_ratio))
        if self.num_patches % partitions:
            raise ValueError(
                f"{self.num_patches} patches cannot be split into {partitions} equal visible sets "
                f"(mask_ratio {cfg.mask_ratio}); pick an image_size, patch_size or mask_ratio that divides"
            )
        self.num_keep = self.num_patches // partitions
        self.norm_pix = cfg.norm_pix
        self.map_sigma = float(cfg.map_sigma)
        self.blur_kernel = 2 * int(4.0 * cfg.map_sigma + 0.5) + 1  # anomalib's kernel size for sigma
        self.top_k = max(1, int(round(cfg.score_top_fraction * cfg.image_size * cfg.image_size)))
        self.temporal_window = cfg.temporal_window
        self.entropy_weight = cfg.entropy_weight if cfg.memory == "memae" else 0.0
        self.level_index = [lvl - 1 for lvl in cfg.decoder_levels]
        patch_dim = cfg.patch_size * cfg.patch_size * cfg.in_chans

        self.patch_embed = nn.Conv2d(cfg.in_chans, cfg.embed_dim, cfg.patch_size, cfg.patch_size)
        self.blocks = nn.ModuleList(_EncoderBlock(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.embed_dim)
        self.decoder_embed = nn.Linear(cfg.embed_dim, cfg.decoder_dim)
        self.level_proj = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(cfg.embed_dim), nn.Linear(cfg.embed_dim, cfg.decoder_dim))
            for _ in cfg.decoder_levels
        )
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.decoder_dim))
        self.decoder_blocks = nn.ModuleList(_DecoderBlock(cfg) for _ in range(cfg.decoder_depth))
        self.decoder_norm = nn.LayerNorm(cfg.decoder_dim)
        self.decoder_pred = nn.Linear(cfg.decoder_dim, patch_dim)
        nn.init.normal_(self.mask_token, std=0.02)

        self.register_buffer("pos_embed", _positions(self.grid, cfg.embed_dim), persistent=False)
        self.register_buffer("decoder_pos_embed", _positions(self.grid, cfg.decoder_dim), persistent=False)
        self.register_buffer("pixel_mean", torch.tensor(cfg.pixel_mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(cfg.pixel_std).view(1, -1, 1, 1), persistent=False)
        keep, masked = _complementary_partitions(self.num_patches, partitions, cfg.score_repeats, cfg.score_seed)
        self.register_buffer("score_keep", keep, persistent=False)
        self.register_buffer("score_masked", masked, persistent=False)
        # Calibration fitted on validation normals (scoring.fit_calibration); saved with the weights.
        self.register_buffer("image_threshold", torch.tensor(0.5))
        self.register_buffer("image_range", torch.tensor([0.0, 1.0]))
        self.register_buffer("pixel_threshold", torch.tensor(0.5))
        self.register_buffer("pixel_range", torch.tensor([0.0, 1.0]))

    # ------------------------------------------------------------------------------------- network
    def preprocess(self, images: Tensor) -> Tensor:
        """(B, C', H, W) uint8 [0, 255] or float [0, 1] -> (B, C, S, S) normalised model input."""
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        if x.shape[1] != self.in_chans:
            x = x.mean(dim=1, keepdim=True) if self.in_chans == 1 else x.mean(dim=1, keepdim=True).expand(-1, self.in_chans, -1, -1)
        if x.shape[-2] != self.image_size or x.shape[-1] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False, antialias=True)
        return (x - self.pixel_mean) / self.pixel_std

    def patchify(self, x: Tensor) -> Tensor:
        """(B, C, S, S) -> (B, L, p*p*C), MAE's order (row-major patches, pixels then channels)."""
        b, c, p, g = x.shape[0], self.in_chans, self.patch_size, self.grid
        x = x.reshape(b, c, g, p, g, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, g * g, p * p * c)

    def target(self, x: Tensor) -> Tensor:
        """The regression target (B, L, p*p*C): patch pixels, per-patch normalised when ``norm_pix``."""
        target = self.patchify(x)
        if self.norm_pix:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1e-6).sqrt()
        return target

    def reconstruct(self, x: Tensor, keep: Tensor) -> tuple[Tensor, Tensor]:
        """Encode the visible patches ``keep`` (B, V) of x (B, C, S, S); predict all patches.

        Returns (prediction (B, L, p*p*C), summed MemAE addressing entropy (scalar, 0 without MemAE)).
        """
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos_embed
        d = tokens.shape[-1]
        h = tokens.gather(1, keep.unsqueeze(-1).expand(-1, -1, d))
        entropy = torch.zeros((), device=x.device)
        outputs: list[Tensor] = []
        for block in self.blocks:
            h, block_entropy = block(h)
            entropy = entropy + block_entropy
            outputs.append(h)
        levels: list[Tensor] = []
        for i, proj in enumerate(self.level_proj):
            levels.append(proj(outputs[self.level_index[i]]))
        visible = self.decoder_embed(self.norm(h))
        b, dd = visible.shape[0], visible.shape[-1]
        y = self.mask_token.expand(b, self.num_patches, dd).to(visible.dtype).clone()  # autocast: bf16/fp16 rows
        y = y.scatter(1, keep.unsqueeze(-1).expand(-1, -1, dd), visible) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            y = block(y, levels)
        return self.decoder_pred(self.decoder_norm(y)), entropy

    @torch.jit.unused
    def training_loss(self, images: Tensor, noise: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """MAE objective on a random mask per image: MSE on masked patches (+ MemAE entropy when used).

        images: (B, C', H, W) as for :meth:`forward`; noise: (B, L) uniform draws that order the patches (the
        lowest are kept), drawn here when not given (a loop under torchrun draws them for the global batch).
        Returns (loss, its parts).
        """
        x = self.preprocess(images)
        b = x.shape[0]
        if noise is None:
            noise = torch.rand(b, self.num_patches, device=x.device)
        order = noise.argsort(dim=1)
        keep = order[:, : self.num_keep]
        masked = torch.ones(b, self.num_patches, device=x.device).scatter(1, keep, 0.0)
        pred, entropy = self.reconstruct(x, keep)
        per_patch = (pred - self.target(x)).pow(2).mean(dim=-1)
        mse = (per_patch * masked).sum() / masked.sum()
        parts = {"mse": mse}
        if self.entropy_weight > 0:
            parts["entropy"] = self.entropy_weight * entropy
        return sum(parts.values()), parts

    # ------------------------------------------------------------------------------------- scoring
    def raw_scores(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Deterministic scoring: (raw image scores (B,), raw error map (B, H, W) at the input resolution)."""
        height, width = images.shape[-2], images.shape[-1]
        x = self.preprocess(images)
        b = x.shape[0]
        passes = self.score_keep.shape[0]
        xs = x.repeat_interleave(passes, dim=0)
        pred, _ = self.reconstruct(xs, self.score_keep.repeat(b, 1))
        g, p = self.grid, self.patch_size
        err = (pred - self.target(xs)).pow(2).view(b, passes, self.num_patches, p * p, self.in_chans).mean(-1)
        weight = self.score_masked.view(1, passes, self.num_patches, 1)
        err = (err * weight).sum(1) / weight.sum(1)  # each pixel averaged over the passes that masked it
        error_map = err.view(b, g, g, p, p).permute(0, 1, 3, 2, 4).reshape(b, 1, g * p, g * p)
        if self.map_sigma > 0:
            error_map = gaussian_blur(error_map, [self.blur_kernel, self.blur_kernel], [self.map_sigma, self.map_sigma])
        score = error_map.flatten(1).topk(self.top_k, dim=1).values.mean(dim=1)
        if height != self.image_size or width != self.image_size:
            error_map = F.interpolate(error_map, size=(height, width), mode="bilinear", align_corners=False)
        return score, error_map.squeeze(1)

    def postprocess(self, raw_score: Tensor, raw_map: Tensor) -> AnomalyOutput:
        """anomalib's normalisation: clamp((x - threshold) / (max - min) + 0.5, 0, 1), then 0.5 cuts labels."""
        score = _normalise(raw_score, self.image_threshold, self.image_range)
        amap = _normalise(raw_map, self.pixel_threshold, self.pixel_range)
        return AnomalyOutput(score, amap, score >= 0.5, amap >= 0.5, raw_score)

    def forward(self, images: Tensor) -> AnomalyOutput:
        """Score images (B, C', H, W); see the class docstring."""
        raw_score, raw_map = self.raw_scores(images)
        return self.postprocess(raw_score, raw_map)

    # ----------------------------------------------------------------------------------- streaming
    @torch.jit.export
    def initial_state(self, batch_size: int) -> AnomalyState:
        """No frames seen yet, for ``batch_size`` streams."""
        device = self.image_threshold.device
        return AnomalyState(
            torch.zeros(batch_size, self.temporal_window, device=device),
            torch.zeros(batch_size, dtype=torch.int64, device=device),
        )

    @torch.jit.export
    def step(self, frame: Tensor, state: AnomalyState) -> tuple[AnomalyOutput, AnomalyState]:
        """Score one frame per stream, frame (B, C', H, W); the image score is the mean of the last W raw scores."""
        raw_score, raw_map = self.raw_scores(frame)
        recent = torch.cat([state.recent_scores[:, 1:], raw_score.unsqueeze(1)], dim=1)
        count = (state.count + 1).clamp(max=self.temporal_window)
        slots = torch.arange(self.temporal_window, device=frame.device).unsqueeze(0)
        real = (slots >= self.temporal_window - count.unsqueeze(1)).to(recent.dtype)
        smoothed = (recent * real).sum(dim=1) / count.to(recent.dtype)
        return self.postprocess(smoothed, raw_map), AnomalyState(recent, count)

    @torch.jit.export
    def reset(self, state: AnomalyState, rows: Tensor) -> AnomalyState:
        """Forget the frames of streams where ``rows`` (B,) is True (a new video starts); others unchanged."""
        return AnomalyState(
            torch.where(rows.unsqueeze(1), torch.zeros_like(state.recent_scores), state.recent_scores),
            torch.where(rows, torch.zeros_like(state.count), state.count),
        )


def _normalise(x: Tensor, threshold: Tensor, value_range: Tensor) -> Tensor:
    span = (value_range[1] - value_range[0]).clamp_min(1e-12)
    return ((x - threshold) / span + 0.5).clamp(0.0, 1.0)


def _complementary_partitions(num_patches: int, parts: int, repeats: int, seed: int) -> tuple[Tensor, Tensor]:
    """R random splits of the L patches into K equal visible sets, drawn from ``seed``.

    Returns keep (R*K, L/K) int64 visible patches per pass and masked (R*K, L) float, 1 where a pass hides
    the patch; within one repeat every patch is visible exactly once and masked K-1 times.
    """
    gen = torch.Generator().manual_seed(seed)
    keep = torch.cat([torch.randperm(num_patches, generator=gen).view(parts, -1) for _ in range(repeats)])
    masked = torch.ones(keep.shape[0], num_patches).scatter(1, keep, 0.0)
    return keep.sort(dim=1).values, masked
