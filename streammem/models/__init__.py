"""Model registry: ``build_model("matr", "tiny")`` imports ``streammem.models.matr`` and calls its ``build``."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import torch

from streammem.errors import StreamMemError

__all__ = ["MODELS", "build_model", "weights_path"]

MODELS: tuple[str, ...] = ("memotr", "matr", "conformer_ntm", "amt_simulst", "memmc_mae")

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def build_model(name: str, config: str | dict[str, Any] = "tiny", **overrides: Any) -> torch.nn.Module:
    """Build model ``name`` from a named config (``tiny``, ``paper``) or a config dict, with overrides."""
    if name not in MODELS:
        raise StreamMemError(f"unknown model '{name}' (known: {', '.join(MODELS)})")
    try:
        module = importlib.import_module(f"streammem.models.{name}")
    except ModuleNotFoundError as err:
        if err.name == f"streammem.models.{name}":
            raise StreamMemError(f"model '{name}' is not implemented yet") from None
        raise
    return module.build(config, **overrides)


def weights_path(name: str, config: str = "tiny") -> Path:
    """Where the shipped weights of ``name``/``config`` live (they may not exist)."""
    return WEIGHTS_DIR / f"{name}_{config}.safetensors"
