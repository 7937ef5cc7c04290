"""MATR (ECCV 2024) for online temporal action localization: model, losses, online post-processing."""

from __future__ import annotations

from typing import Any

from streammem.models.config import resolve_config
from streammem.models.matr.model import CONFIGS, MATR, MATRConfig, MATROutput, MATRState

__all__ = ["MATR", "MATRConfig", "MATROutput", "MATRState", "CONFIGS", "build", "make_config"]


def make_config(config: str | dict[str, Any] = "tiny", **overrides: Any) -> MATRConfig:
    """A named config (``tiny``, ``paper``) or a dict of fields, with keyword overrides."""
    return resolve_config(MATRConfig, CONFIGS, config, "MATR", **overrides)


def build(config: str | dict[str, Any] = "tiny", **overrides: Any) -> MATR:
    """Build MATR from a named config or a config dict (e.g. ``memory="none"`` for the no-memory ablation)."""
    return MATR(make_config(config, **overrides))
