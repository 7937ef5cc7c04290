"""Conformer-NTM for streaming long-form ASR: ``build("tiny")`` / ``build("paper")``."""

from __future__ import annotations

from typing import Any

from streammem.models.conformer_ntm.config import CONFIGS, ConformerNTMConfig, make_config
from streammem.models.conformer_ntm.model import FRAME_SECONDS, ConformerNTM, ConformerNTMState
from streammem.models.conformer_ntm.tokens import CharTokenizer, SentencePieceTokenizer

__all__ = [
    "CONFIGS", "FRAME_SECONDS", "CharTokenizer", "ConformerNTM", "ConformerNTMConfig", "ConformerNTMState",
    "SentencePieceTokenizer", "build", "make_config",
]


def build(config: str | dict[str, Any] | ConformerNTMConfig = "tiny", **overrides: Any) -> ConformerNTM:
    """A fresh (untrained) model from a named config or a config dict, with keyword overrides."""
    return ConformerNTM(make_config(config, **overrides))
