"""MemMC-MAE hyper-parameters: ``paper`` (ViT-B/16 encoder at 224 px) and ``tiny`` (trains on 2 CPU cores in minutes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["MemMCMAEConfig", "CONFIGS", "MEMORY_KINDS"]

MEMORY_KINDS: tuple[str, ...] = ("attention", "memae", "none")


@dataclass
class MemMCMAEConfig:
    """Every field the model, its scorer and its streaming smoother read.

    ``memory`` picks the encoder memory: ``attention`` (learned key/value slots joined to the tokens in one
    softmax, the Meshed-Memory reading), ``memae`` (MemAE addressing with hard shrinkage, replacing each
    block's tokens by recombined items) or ``none`` (the ablation: the same network without slots).
    ``decoder_levels`` are the 1-based encoder blocks every decoder layer cross-attends to; ``()`` gives the
    plain MAE decoder (self-attention only).
    """

    image_size: int = 224
    in_chans: int = 3
    patch_size: int = 16
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    decoder_dim: int = 512
    decoder_depth: int = 8
    decoder_heads: int = 16
    mlp_ratio: float = 4.0
    memory: str = "attention"
    memory_slots: int = 40  # per encoder block (M² uses 40)
    shrink_threshold: float = 0.025  # memae only: MemAE advises 1/M to 3/M
    entropy_weight: float = 0.0002  # memae only: MemAE's alpha
    decoder_levels: tuple[int, ...] = (4, 8, 12)
    mask_ratio: float = 0.75
    norm_pix: bool = False
    pixel_mean: tuple[float, ...] = (0.485, 0.456, 0.406)  # ImageNet; applied inside the scoring graph
    pixel_std: tuple[float, ...] = (0.229, 0.224, 0.225)
    score_repeats: int = 2  # R: independent complementary partitions averaged at test time
    score_seed: int = 0  # the partitions are drawn once from this seed, so scores are reproducible
    map_sigma: float = 4.0  # Gaussian smoothing of the anomaly map (pixels at model resolution); 0 = off
    score_top_fraction: float = 1.0  # image score = mean of the top fraction of map pixels (1 = mean)
    temporal_window: int = 5  # streaming: frame score = mean of the last W raw scores; 1 = no smoothing

    def to_dict(self) -> dict:
        return asdict(self)

    def __post_init__(self) -> None:
        if self.memory not in MEMORY_KINDS:
            raise ValueError(f"memory must be one of {', '.join(MEMORY_KINDS)}, got '{self.memory}'")
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        bad = [lvl for lvl in self.decoder_levels if not 1 <= lvl <= self.depth]
        if bad:
            raise ValueError(f"decoder_levels {bad} are outside the encoder's blocks 1..{self.depth}")
        if not 0.0 < self.mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")
        if len(self.pixel_mean) != self.in_chans or len(self.pixel_std) != self.in_chans:
            raise ValueError(f"pixel_mean and pixel_std need {self.in_chans} values (in_chans)")
        if self.temporal_window < 1 or self.score_repeats < 1:
            raise ValueError("temporal_window and score_repeats must be >= 1")
        if not 0.0 < self.score_top_fraction <= 1.0:
            raise ValueError(f"score_top_fraction must be in (0, 1], got {self.score_top_fraction}")


CONFIGS: dict[str, MemMCMAEConfig] = {
    "paper": MemMCMAEConfig(),
    "tiny": MemMCMAEConfig(
        image_size=32,
        in_chans=1,
        patch_size=4,
        embed_dim=64,
        depth=4,
        num_heads=4,
        decoder_dim=64,
        decoder_depth=2,
        decoder_heads=4,
        memory_slots=32,
        shrink_threshold=0.03,
        decoder_levels=(2, 4),
        pixel_mean=(0.5,),
        pixel_std=(0.5,),
        map_sigma=1.0,
        temporal_window=5,
    ),
}
