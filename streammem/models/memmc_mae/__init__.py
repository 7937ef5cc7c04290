"""MemMC-MAE (MLMI 2023) for unsupervised anomaly detection: model, deterministic scorer, training, calibration."""

from __future__ import annotations

from typing import Any

from streammem.models.config import resolve_config
from streammem.models.memmc_mae.config import CONFIGS, MEMORY_KINDS, MemMCMAEConfig
from streammem.models.memmc_mae.model import AnomalyOutput, AnomalyState, MemMCMAE

__all__ = [
    "MemMCMAE", "MemMCMAEConfig", "AnomalyOutput", "AnomalyState", "CONFIGS", "MEMORY_KINDS", "build", "make_config",
]


def make_config(config: str | dict[str, Any] = "tiny", **overrides: Any) -> MemMCMAEConfig:
    """A named config (``tiny``, ``paper``) or a dict of fields, with keyword overrides."""
    return resolve_config(MemMCMAEConfig, CONFIGS, config, "MemMC-MAE", **overrides)


def build(config: str | dict[str, Any] = "tiny", **overrides: Any) -> MemMCMAE:
    """Build MemMC-MAE from a named config or a config dict (``memory="none"`` is the memory ablation)."""
    return MemMCMAE(make_config(config, **overrides))
