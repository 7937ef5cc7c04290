"""TorchScript export of a streaming step, with an eager-vs-scripted parity check over a whole stream.

TorchScript is deprecated upstream but is what users deploy today; ``torch.export`` sits beside it for
models whose step has no data-dependent Python control flow.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from streammem.errors import StreamMemError, atomic_output

__all__ = ["script", "export_torchscript", "export_program", "stream_parity", "max_abs_diff"]


def script(model: torch.nn.Module) -> torch.jit.ScriptModule:
    """``torch.jit.script`` on an eval-mode model, with the upstream deprecation warning silenced."""
    model = model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(model)


def export_torchscript(model: torch.nn.Module, path: str | os.PathLike) -> Path:
    """Script ``model`` (its ``forward`` is the streaming step) and save it; the file needs only torch.

    Any exported ``@torch.jit.export`` methods (e.g. ``initial_state``) travel with it.
    """
    path = Path(path)
    scripted = script(model)
    with atomic_output(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(scripted, str(tmp))
    return path


def export_program(model: torch.nn.Module, example_args: tuple[Any, ...], path: str | os.PathLike) -> Path:
    """``torch.export`` the step for the given example inputs and save a ``.pt2`` archive."""
    path = Path(path)
    try:
        program = torch.export.export(model.eval(), example_args)
    except Exception as err:  # torch.export raises many internal types; report them in one line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise StreamMemError(f"torch.export failed for {type(model).__name__}: {first}") from None
    with atomic_output(path) as tmp:
        torch.export.save(program, str(tmp))
    return path


def _leaves(value: Any) -> list[torch.Tensor]:
    """All tensors inside nested tuples/lists/NamedTuples/dicts, in a fixed order."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for k in sorted(value) for t in _leaves(value[k])]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _leaves(v)]
    return []


def max_abs_diff(a: Any, b: Any) -> float:
    """Largest absolute difference between two nested tensor structures of the same shape."""
    la, lb = _leaves(a), _leaves(b)
    if len(la) != len(lb):
        raise ValueError(f"structures differ: {len(la)} vs {len(lb)} tensors")
    worst = 0.0
    for x, y in zip(la, lb, strict=True):
        if x.shape != y.shape:
            raise ValueError(f"shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
        if x.numel():
            worst = max(worst, (x.double() - y.double()).abs().max().item())
    return worst


@torch.no_grad()
def stream_parity(
    eager: torch.nn.Module, scripted: torch.nn.Module, chunks: Iterable[Any], state: Any
) -> float:
    """Run both step loops over the same chunks from the same state; the worst output/state difference."""
    state_e, state_s = state, state
    worst = 0.0
    for chunk in chunks:
        out_e, state_e = eager(chunk, state_e)
        out_s, state_s = scripted(chunk, state_s)
        worst = max(worst, max_abs_diff(out_e, out_s), max_abs_diff(state_e, state_s))
    return worst
