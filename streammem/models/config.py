"""One way for every model family to turn a config name, dict or object into its config dataclass."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields, is_dataclass
from typing import Any, TypeVar

__all__ = ["parse_overrides", "resolve_config"]

C = TypeVar("C")


def resolve_config(
    cls: type[C], named: Mapping[str, C], config: str | Mapping[str, Any] | C, model: str, **overrides: Any
) -> C:
    """A ``cls`` config from a name in ``named``, a dict (e.g. a checkpoint's JSON) or a ``cls``, plus overrides.

    Unknown names and unknown fields are errors naming ``model``. Lists from JSON go back to tuples where
    the field's default is a tuple, so a config read from a checkpoint equals the one that was saved.
    """
    if isinstance(config, str):
        if config not in named:
            raise ValueError(f"unknown {model} config '{config}' (known: {', '.join(named)})")
        base = asdict(named[config])
    elif is_dataclass(config):
        base = asdict(config)
    else:
        base = dict(config)
    base.update(overrides)
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(base) - set(known))
    if unknown:
        raise ValueError(f"unknown {model} config fields: {', '.join(unknown)}")
    for name, value in base.items():
        if isinstance(value, list) and isinstance(known[name].default, tuple):
            base[name] = tuple(value)
    return cls(**base)


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["dec_layers=3", "clip_lengths=[2,4]"]`` -> ``{"dec_layers": 3, "clip_lengths": [2, 4]}``.

    Values are JSON (numbers, booleans, lists); anything that is not JSON stays a string. A malformed
    item is a ``ValueError`` naming it, so a typo on the command line is one clear line.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"config override '{item}' is not KEY=VALUE")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out
