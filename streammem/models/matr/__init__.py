"""MATR (ECCV 2024) for online temporal action localization: model, losses, online post-processing."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from streammem.models.matr.model import CONFIGS, MATR, MATRConfig, MATROutput, MATRState

__all__ = ["MATR", "MATRConfig", "MATROutput", "MATRState", "CONFIGS", "build", "make_config"]


def make_config(config: str | dict[str, Any] = "tiny", **overrides: Any) -> MATRConfig:
    """A named config (``tiny``, ``paper``) or a dict of fields, with keyword overrides."""
    if isinstance(config, str):
        if config not in CONFIGS:
            raise ValueError(f"unknown MATR config '{config}' (known: {', '.join(CONFIGS)})")
        base = CONFIGS[config]
    else:
        known = {f.name for f in fields(MATRConfig)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown MATR config fields: {unknown}")
        base = MATRConfig(**config)
    return replace(base, **overrides)


def build(config: str | dict[str, Any] = "tiny", **overrides: Any) -> MATR:
    """Build MATR from a named config or a config dict (e.g. ``memory_len=0`` for the no-memory ablation)."""
    return MATR(make_config(config, **overrides))
