"""MeMOTR multi-object tracker: ``build(config)`` returns a :class:`MeMOTR` (configs ``tiny``, ``paper``)."""

from typing import Any

from streammem.models.memotr.config import CONFIGS, MeMOTRConfig, resolve_config
from streammem.models.memotr.model import MeMOTR, TrackOutput, TrackState

__all__ = ["build", "MeMOTR", "MeMOTRConfig", "TrackOutput", "TrackState", "CONFIGS"]


def build(config: "str | dict[str, Any] | MeMOTRConfig" = "tiny", **overrides: Any) -> MeMOTR:
    """Build MeMOTR from a named config (``tiny``, ``paper``), a dict or a config object, with overrides."""
    return MeMOTR(resolve_config(config, **overrides))
