"""Configs of Conformer-NTM: ``tiny`` (trains on 2 CPU cores in minutes) and ``paper`` (Carvalho & Abad 2023)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from streammem.models.config import resolve_config

__all__ = ["ConformerNTMConfig", "CONFIGS", "make_config"]


@dataclass
class ConformerNTMConfig:
    """Every size and switch of the model; one architecture serves full-context and streaming modes.

    Latency of the streaming step: ``chunk_frames`` encoder frames of 40 ms (WeNet convention).
    The depthwise convolution is causal so one set of weights runs in both modes (the paper's encoder is
    full-context with a centred convolution).
    ``max_relative_distance`` clips relative positions (in frames) so hour-long full-context inputs
    reuse the positions seen in training.
    Both configs use characters; ``tokens="bpe", bpe_pieces=5000`` is the paper's BPE vocabulary.
    """

    num_mels: int = 80
    d_model: int = 256
    num_heads: int = 4
    ffn_dim: int = 1024
    num_blocks: int = 12
    kernel_size: int = 31
    subsampling_channels: int = 256
    dropout: float = 0.1
    max_relative_distance: int = 1024
    chunk_frames: int = 16
    left_frames: int = 64
    use_memory: bool = True  # False: the ablation without any memory (wins over ``memory``)
    memory: str = "ntm"  # ntm | gated (GatedMemory) | knn (KNNMemory) | none: the component between encoder and decoders
    memory_top_k: int = 32  # knn: neighbours read per frame
    memory_slots: int = 256
    memory_dim: int = 10
    memory_addressing: str = "content"
    memory_init: str = "random"  # "constant" (1e-6) keeps every row identical: content reads stay uniform (see NTMMemory)
    decoder_layers: int = 6
    decoder_ffn_dim: int = 2048
    ctc_weight: float = 0.3
    tokens: str = "char"  # "char", or "bpe": SentencePiece BPE (the paper: 5000 pieces)
    bpe_pieces: int = 0  # with tokens="bpe"
    bpe_model: str = ""  # the fitted SentencePiece model, base64 (filled in when training starts)
    label_smoothing: float = 0.1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


CONFIGS: dict[str, ConformerNTMConfig] = {
    "paper": ConformerNTMConfig(),
    "tiny": ConformerNTMConfig(
        d_model=96,
        num_heads=4,
        ffn_dim=384,
        num_blocks=4,
        kernel_size=15,
        subsampling_channels=32,
        max_relative_distance=256,
        decoder_layers=1,
        decoder_ffn_dim=384,
    ),
}


def make_config(config: str | dict[str, Any] | ConformerNTMConfig, **overrides: Any) -> ConformerNTMConfig:
    """A config from a name (``tiny``/``paper``), a dict (e.g. a checkpoint's JSON) or a config, with overrides."""
    return resolve_config(ConformerNTMConfig, CONFIGS, config, "conformer_ntm", **overrides)
