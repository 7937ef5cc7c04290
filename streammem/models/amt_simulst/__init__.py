"""Augmented Memory Transformer + Shiftable Context for simultaneous speech translation: ``build("tiny")``."""

from __future__ import annotations

from typing import Any

from streammem.models.amt_simulst.config import CONFIGS, AMTSimulSTConfig, make_config
from streammem.models.amt_simulst.model import STATE_SECONDS, AMTSimulST, AMTSimulSTState, StepOutput

__all__ = ["CONFIGS", "STATE_SECONDS", "AMTSimulST", "AMTSimulSTConfig", "AMTSimulSTState", "StepOutput", "build",
           "make_config"]


def build(config: str | dict[str, Any] | AMTSimulSTConfig = "tiny", **overrides: Any) -> AMTSimulST:
    """A fresh (untrained) model from a named config or a config dict, with overrides (e.g. ``memory_size=0``)."""
    return AMTSimulST(make_config(config, **overrides))
