"""Configs of the Augmented Memory Transformer for SimulST: ``tiny`` (trains on CPU in minutes) and ``paper``.

``paper`` is the configuration of Ma et al. (ICASSP 2021) as used with Shiftable Context (Raffel et al.,
ICML 2023): 12 pre-LN encoder layers and 6 decoder layers of width 256 with 4 heads and FFN 2048, windows of
left/center/right 32/64/32 fbank frames (10 ms), a memory of 3 vectors per layer, pre-decision blocks of 8
encoder states (320 ms), one model per wait-k in {1, 3, 5, 7}, SentencePiece unigram 10k.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from streammem.models.config import resolve_config

__all__ = ["AMTSimulSTConfig", "CONFIGS", "make_config"]


@dataclass
class AMTSimulSTConfig:
    """Every size and switch of the model.

    Frames are 10 ms fbank frames; ``center_frames``, ``left_frames`` and ``right_frames`` must be multiples
    of 4 (the subsampler keeps one encoder state per 4 frames). The streaming step reads ``center_frames`` of
    audio per call. ``memory_size=0`` removes the memory banks and nothing else (the memory ablation).
    ``shift_center``/``shift_right``/``shift_left`` are the Shiftable Context switches (the papers' agent flags),
    used at inference only (training always sees full windows with real right context); they can be flipped on a
    trained model. Shift left holds a stream's first frames until a full window has been heard (see
    ``AMTSimulST.encode_chunk``); it is off by default.
    ``wait_k`` is the policy's lag in pre-decision blocks; ``train_wait_k`` lists the lags training samples
    from (one lag per batch, so one model serves every k; empty = ``wait_k`` only).
    """

    num_mels: int = 80
    d_model: int = 256
    num_heads: int = 4
    ffn_dim: int = 2048
    encoder_layers: int = 12
    decoder_layers: int = 6
    subsampling_channels: int = 256
    dropout: float = 0.1
    center_frames: int = 64
    left_frames: int = 32
    right_frames: int = 32
    memory_size: int = 3
    weak_attention_std: float = 0.5  # Shi et al. 2020 suppression scale; 0 turns it off
    tanh_memory: bool = False
    max_relative_distance: int = 16
    pre_decision: int = 8
    wait_k: int = 3
    train_wait_k: tuple[int, ...] = ()
    shift_center: bool = True
    shift_right: bool = True
    shift_left: bool = False
    max_source_blocks: int = 128  # decoder's view: the last this many pre-decision blocks of the segment
    max_target_tokens: int = 64
    max_writes_per_step: int = 8
    target_pieces: int = 10000  # SentencePiece unigram vocabulary (fitted when training starts)
    target_model: str = ""  # the fitted SentencePiece model, base64
    ctc_weight: float = 0.0  # auxiliary CTC (English) in the ST stage; the ASR pre-training stage is CTC alone
    label_smoothing: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


CONFIGS: dict[str, AMTSimulSTConfig] = {
    "paper": AMTSimulSTConfig(),
    "tiny": AMTSimulSTConfig(
        d_model=96, num_heads=4, ffn_dim=256, encoder_layers=4, decoder_layers=2, subsampling_channels=16,
        center_frames=32, left_frames=16, right_frames=16, memory_size=3, pre_decision=4, wait_k=3,
        train_wait_k=(1, 3, 5, 7), max_source_blocks=64, max_target_tokens=40, target_pieces=128, dropout=0.1,
        ctc_weight=0.3,
    ),
}


def make_config(config: str | dict[str, Any] | AMTSimulSTConfig = "tiny", **overrides: Any) -> AMTSimulSTConfig:
    """A config from a name (``tiny``/``paper``), a dict (e.g. a checkpoint's JSON) or a config, with overrides."""
    return resolve_config(AMTSimulSTConfig, CONFIGS, config, "amt_simulst", **overrides)
