"""TorchScript export of a streaming step, with an eager-vs-scripted parity check over a whole stream.

TorchScript is deprecated upstream but is what users deploy today; ``torch.export`` sits beside it: the
step is exported with its state flattened to tensors (:class:`FlatStep`), so the ``.pt2`` runs with
``torch.export.load`` alone and, through AOTInductor, from C++.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from streammem.errors import StreamMemError, atomic_output

__all__ = [
    "FORMATS",
    "PARITY_TOLERANCE",
    "FlatStep",
    "export_step",
    "load_torchscript", "script", "export_torchscript", "export_program", "load_program", "program_parity", "stream_parity",
    "max_abs_diff",
]


def script(model: torch.nn.Module) -> torch.jit.ScriptModule:
    """``torch.jit.script`` on an eval-mode model, with the upstream deprecation warning silenced."""
    model = model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        # nn.TransformerDecoder's optional final norm trips this notice inside torch; nothing of ours to fix
        warnings.filterwarnings("ignore", message="'norm' was found in ScriptModule constants")
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


class FlatStep(torch.nn.Module):
    """The streaming step with its state flattened to tensors: ``forward(chunk, *state) -> (*output, *state)``.

    ``torch.export`` needs plain tensor inputs and outputs; a NamedTuple state or output becomes its fields
    in order, and nested tuples are flattened depth first. ``state_names``/``output_names`` record the order.
    """

    def __init__(self, model: torch.nn.Module, example_state: Any, example_output: Any) -> None:
        super().__init__()
        self.model = model
        self.state_type = type(example_state)
        self.state_names = _names(example_state, "state")
        self.output_names = _names(example_output, "output")

    def forward(self, chunk: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        output, new_state = self.model(chunk, self.state_type(*state))
        return tuple(_leaves(output)) + tuple(_leaves(new_state))


def _names(value: Any, prefix: str) -> list[str]:
    """Field names of the tensors :func:`_leaves` returns, in the same order (``prefix.field.sub``)."""
    if isinstance(value, torch.Tensor):
        return [prefix]
    if isinstance(value, dict):
        return [n for k in sorted(value) for n in _names(value[k], f"{prefix}.{k}")]
    if isinstance(value, (tuple, list)):
        fields = getattr(value, "_fields", None) or [str(i) for i in range(len(value))]
        return [n for f, v in zip(fields, value, strict=True) for n in _names(v, f"{prefix}.{f}")]
    return []


def export_program(model: torch.nn.Module, chunk: torch.Tensor, state: Any, path: str | os.PathLike) -> Path:
    """``torch.export`` the streaming step for ``chunk``-shaped inputs and save a ``.pt2`` archive.

    The archive holds :class:`FlatStep` and, in its extra file ``streammem.json``, the order of the flattened
    inputs/outputs and the initial state's values, so a program with only torch can start a stream::

        program = torch.export.load("step.pt2"); info = json.loads(extra["streammem.json"])
        state = [torch.tensor(s["values"], dtype=getattr(torch, s["dtype"])).reshape(s["shape"]) ...]
        outputs = program.module()(chunk, *state)   # (*output, *new_state)
    """
    path = Path(path)
    model = model.eval()
    with torch.no_grad():
        example_output, _ = model(chunk, state)
    flat = FlatStep(model, state, example_output).eval()
    leaves = _leaves(state)
    try:
        with torch.no_grad():
            program = torch.export.export(flat, (chunk, *leaves), strict=False)
    except Exception as err:  # torch.export raises many internal types; report them in one line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise StreamMemError(f"torch.export failed for {type(model).__name__}: {first}") from None
    info = {
        "inputs": ["chunk", *flat.state_names],
        "outputs": [*flat.output_names, *flat.state_names],
        "num_outputs": len(flat.output_names),
        "chunk_shape": list(chunk.shape),
        "initial_state": [
            {"name": n, "dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape),
             "values": t.detach().cpu().flatten().tolist()}
            for n, t in zip(flat.state_names, leaves, strict=True)
        ],
    }
    with atomic_output(path) as tmp:
        torch.export.save(program, str(tmp), extra_files={"streammem.json": json.dumps(info)})
    return path


def load_program(path: str | os.PathLike) -> tuple[torch.nn.Module, list[torch.Tensor], dict[str, Any]]:
    """(step module, initial state tensors, info) from a ``.pt2`` written by :func:`export_program`."""
    extra = {"streammem.json": ""}
    program = torch.export.load(str(path), extra_files=extra)
    info = json.loads(extra["streammem.json"])
    state = [torch.tensor(s["values"], dtype=getattr(torch, s["dtype"])).reshape(s["shape"])
             for s in info["initial_state"]]
    return program.module(), state, info


@torch.no_grad()
def program_parity(model: torch.nn.Module, program: torch.nn.Module, chunks: Iterable[torch.Tensor], state: Any) -> float:
    """Worst difference between the eager step loop and an exported :class:`FlatStep` over the same stream."""
    flat_state = _leaves(state)
    worst = 0.0
    for chunk in chunks:
        out_e, state = model(chunk, state)
        got = program(chunk, *flat_state)
        expected = _leaves(out_e) + _leaves(state)
        worst = max(worst, max_abs_diff(expected, list(got)))
        flat_state = list(got[len(got) - len(flat_state):])
    return worst


FORMATS: dict[str, str] = {"torchscript": ".pt", "export": ".pt2"}  # --format -> file suffix
# Largest |eager - exported| accepted on any output or state value over a whole stream: different kernels
# round differently, and over thousands of steps the carried state drifts by ~1e-4 in float32.
PARITY_TOLERANCE = 1e-3


def load_torchscript(path: str | os.PathLike) -> torch.jit.ScriptModule:
    """``torch.jit.load`` with the upstream deprecation warning silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path))


def export_step(fmt: str, model: torch.nn.Module, chunks: list[Any], state: Any, path: str | os.PathLike,
                tolerance: float = PARITY_TOLERANCE) -> float:
    """Export ``model``'s streaming step as ``fmt`` (``torchscript`` or ``export``) to ``path``, load it back as a
    user would, and run it beside eager over ``chunks`` from ``state``; the worst difference, or an error
    (and no file) when it exceeds ``tolerance``."""
    path = Path(path)
    if fmt == "torchscript":
        export_torchscript(model, path)
        worst = stream_parity(model, load_torchscript(path), chunks, state)
    elif fmt == "export":
        export_program(model, chunks[0], state, path)
        program, _, _ = load_program(path)
        worst = program_parity(model, program, chunks, state)
    else:
        raise StreamMemError(f"unknown export format '{fmt}' (use {' or '.join(FORMATS)})")
    if not worst <= tolerance:
        path.unlink(missing_ok=True)
        raise StreamMemError(f"{path}: exported step differs from eager by {worst:.2e} (> {tolerance:g}); not kept")
    return worst


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
