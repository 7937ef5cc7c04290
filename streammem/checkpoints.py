"""Weights as safetensors plus a JSON sidecar; loading never unpickles.

``X.safetensors`` holds the tensors; ``X.json`` holds the model name, its config, the command and data seed
that trained it, and the metrics measured on it. A missing, truncated or mismatched file, or one holding NaN
or infinite values (a diverged training run), is reported in one line naming the file.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from streammem.errors import InputError, atomic_output

__all__ = [
    "save_checkpoint", "load_checkpoint", "load_metadata", "load_weights", "load_backbone_weights", "sidecar_path",
    "stored_config_errors",
    "FORMAT_VERSION",
]

FORMAT_VERSION = 1


def sidecar_path(weights_path: str | os.PathLike) -> Path:
    """The JSON config file that sits beside a ``.safetensors`` file."""
    return Path(weights_path).with_suffix(".json")


def save_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    *,
    model_name: str,
    config: Mapping[str, Any],
    training_command: str,
    data_seed: int,
    metrics: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model``'s state dict to ``path`` (safetensors) and its metadata beside it (JSON).

    Shared tensors (tied weights) are cloned so safetensors accepts them; both files are written atomically.
    """
    path = Path(path).with_suffix(".safetensors")
    tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {
        "format_version": FORMAT_VERSION,
        "model": model_name,
        "config": dict(config),
        "training_command": training_command,
        "data_seed": int(data_seed),
        "metrics": dict(metrics or {}),
        "num_parameters": int(sum(p.numel() for p in model.parameters())),
    }
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata={"model": model_name})
    with atomic_output(sidecar_path(path)) as tmp:
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return path


def load_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON sidecar of a checkpoint written by :func:`save_checkpoint` (model name, config, ...), checked,
    without reading the tensors: what a loader needs to build the model before loading its weights."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(path, "expected a .safetensors weights file (pickled checkpoints are not loaded)")
    if not path.is_file():
        raise InputError(path, "weights file not found")
    meta_path = sidecar_path(path)
    if not meta_path.is_file():
        raise InputError(meta_path, "config file missing beside the weights")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(meta_path, f"not valid JSON ({err.msg if hasattr(err, 'msg') else err})") from None
    for key in ("model", "config"):
        if key not in meta:
            raise InputError(meta_path, f"missing key '{key}'")
    return meta


@contextmanager
def stored_config_errors(weights_path: str | os.PathLike) -> Iterator[None]:
    """Building a model from a checkpoint's stored config: a config that cannot build one (unknown field,
    bad value, unreadable tokenizer model) is an InputError naming the JSON sidecar, not a traceback."""
    try:
        yield
    except (ValueError, TypeError, RuntimeError) as err:
        raise InputError(sidecar_path(weights_path), f"stored config does not build the model: {err}") from None


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`: ``(state_dict, metadata)``."""
    meta = load_metadata(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(path, f"unreadable or truncated safetensors file ({err})") from None
    not_finite = sorted(k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all())
    if not_finite:
        raise InputError(
            path, f"tensor '{not_finite[0]}' holds NaN or infinite values ({len(not_finite)} tensors in all)"
        )
    return state, meta


def load_weights(
    model: torch.nn.Module,
    path: str | os.PathLike,
    expect_model: str | None = None,
    new_prefixes: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Load ``path`` into ``model`` strictly; return the metadata. Every task's loader goes through here.

    A checkpoint for another model, or whose tensor names/shapes differ from ``model``'s, is an InputError
    listing the first differences (``load_state_dict`` would raise a multi-line RuntimeError on shapes). ``new_prefixes`` names modules the model adds to the checkpoint's (e.g. a
    memory inserted into a pre-trained network): their tensors may be absent and keep their initial values.
    """
    state, meta = load_checkpoint(path)
    if expect_model is not None and meta["model"] != expect_model:
        raise InputError(path, f"checkpoint is for model '{meta['model']}', expected '{expect_model}'")
    own = model.state_dict()
    missing = sorted(k for k in set(own) - set(state) if not k.startswith(new_prefixes))
    unexpected = sorted(set(state) - set(own))
    wrong_shape = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:3]}")
        if wrong_shape:
            k = wrong_shape[0]
            parts.append(f"shape of '{k}' is {tuple(state[k].shape)}, model has {tuple(own[k].shape)}")
        raise InputError(path, "does not match the model config: " + "; ".join(parts))
    model.load_state_dict(state, strict=not new_prefixes)
    return meta


def load_backbone_weights(
    module: torch.nn.Module, path: str | os.PathLike, rename: Callable[[str], str | None] = lambda name: name
) -> int:
    """Initialise ``module`` from a torchvision-style backbone file the user has (``--backbone-weights``).

    The file is read with ``torch.load(weights_only=True)``: plain tensors and containers only, so a pickle
    carrying code is refused. It may be a state dict, or hold one under ``state_dict`` or ``model``; a
    ``module.`` prefix (DataParallel) is dropped. ``rename`` maps a file name to ``module``'s name, or None to
    skip it (a classification head). Every tensor of ``module`` must be found with its shape; returns how many
    were loaded.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "backbone weights not found")
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols mean nothing to the user
            warnings.simplefilter("ignore")
            raw = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError for code, RuntimeError/EOFError for damage: one line either way
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise InputError(path, f"not a plain tensor state dict (refused by torch.load weights_only): {first[:200]}") \
            from None
    if isinstance(raw, dict):
        raw = raw.get("state_dict", raw.get("model", raw))
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise InputError(path, "expected a state dict of tensors")
    own = module.state_dict()
    mapped = {}
    for name, tensor in raw.items():
        target = rename(name.removeprefix("module."))
        if target is not None and target in own:
            mapped[target] = tensor
    missing = [k for k in own if k not in mapped and not k.endswith("num_batches_tracked")]
    if missing:
        raise InputError(path, f"{len(missing)} backbone tensors missing (first: {missing[0]!r}); is this the same "
                         "architecture?")
    wrong = [k for k, t in mapped.items() if t.shape != own[k].shape]
    if wrong:
        raise InputError(path, f"tensor {wrong[0]!r} has shape {tuple(mapped[wrong[0]].shape)}, the backbone "
                         f"expects {tuple(own[wrong[0]].shape)}")
    module.load_state_dict(mapped, strict=False)
    return len(mapped)
