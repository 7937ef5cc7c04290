"""MeMOTR configurations: ``paper`` follows the released DanceTrack config, ``tiny`` trains on CPU here."""

from dataclasses import asdict, dataclass, field
from typing import Any

from streammem.models.config import resolve_config as shared_resolve_config

__all__ = ["MeMOTRConfig", "CONFIGS", "resolve_config"]


@dataclass
class MeMOTRConfig:
    """Architecture, runtime-tracker and training settings (names follow MeMOTR's configs/*.yaml)."""

    backbone: str = "resnet50"  # resnet18 | resnet34 | resnet50 | stem (a small conv stem for tiny)
    stem_channels: tuple[int, ...] = (16, 32, 64, 96, 128)
    dim: int = 256
    ffn_dim: int = 2048
    heads: int = 8
    enc_layers: int = 6
    dec_layers: int = 6
    num_levels: int = 4
    num_points: int = 4
    num_queries: int = 300
    num_classes: int = 1
    max_tracks: int = 64  # K fixed track slots per stream
    pos_temperature: float = 20.0
    dropout: float = 0.0
    use_memory: bool = True  # False: ablation without long-term memory and memory-attention (= memory="none")
    memory: str = "ema"  # long-term memory update: ema (the paper) | gated (learned gate, LongTermMemory) | none
    memory_lambda: float = 0.01
    update_thresh: float = 0.5
    det_thresh: float = 0.5
    result_thresh: float = 0.5
    miss_tolerance: int = 30
    min_area: float = 100.0  # px^2 at the input resolution
    dedupe_iou: float = 0.0  # > 0: end a found track overlapping an older found track this much (not in the paper)
    image_size: tuple[int, int] = (800, 1536)  # (short side, max long side) at inference
    # training
    lr: float = 2e-4
    lr_backbone: float = 2e-5
    lr_points: float = 1e-5
    weight_decay: float = 5e-4
    grad_clip: float = 0.1
    cls_weight: float = 2.0
    l1_weight: float = 5.0
    giou_weight: float = 2.0
    clip_lengths: tuple[int, ...] = (2, 3, 4, 5)
    clip_milestones: tuple[float, ...] = (0.3, 0.5, 0.7)  # fraction of training where the length grows
    max_stride: int = 10
    tp_drop: float = 0.0  # TP_DROP_RATE: chance a true track is dropped in training (0 in the released configs)
    train_keep_occluded: bool = True  # track keeps its GT id while the GT is absent (re-acquisition)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


CONFIGS: dict[str, MeMOTRConfig] = {
    "paper": MeMOTRConfig(),
    "tiny": MeMOTRConfig(
        backbone="stem",
        stem_channels=(16, 32, 48, 64, 96),
        dim=64,
        ffn_dim=256,
        heads=4,
        enc_layers=1,
        dec_layers=3,  # detect-only layer 0 + two joint layers (one joint layer learned births too slowly)
        num_levels=3,
        num_points=4,
        num_queries=24,
        max_tracks=16,
        miss_tolerance=10,
        min_area=20.0,
        image_size=(120, 160),
        lr=5e-4,
        lr_backbone=5e-4,
        lr_points=5e-5,
        weight_decay=1e-4,
        clip_lengths=(2, 3, 4, 5),
        clip_milestones=(0.25, 0.5, 0.75),
        max_stride=4,
        tp_drop=0.2,
    ),
}


def resolve_config(config: "str | dict[str, Any] | MeMOTRConfig", **overrides: Any) -> MeMOTRConfig:
    """A named config, a dict (e.g. from a checkpoint's JSON) or a config object, with overrides applied.

    A dict is laid over the tiny config, so checkpoints written before a field existed still load.
    """
    if isinstance(config, dict):
        config = asdict(CONFIGS["tiny"]) | config
    return shared_resolve_config(MeMOTRConfig, CONFIGS, config, "memotr", **overrides)
