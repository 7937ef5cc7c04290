"""What every training loop shares: many processes (DDP), mixed precision, and checkpoints that resume exactly.

A loop builds its model, optimizer and scheduler as before and hands them to :class:`Trainer`::

    trainer = Trainer(model, opt, sched, device=device, amp=amp, grad_clip=1.0)
    start = trainer.resume(state_path, extra)            # 0, or the step an interrupted run reached
    for it in range(start, iterations):
        batch = trainer.shard(global_batch)               # this rank's rows of the global batch
        with trainer.autocast():
            loss = trainer.call("training_loss", batch)   # through DDP when world > 1
        trainer.step(loss)                                # backward, all-reduce, clip, optimizer, scheduler
        trainer.save_state(state_path, extra, it + 1)      # rank 0, atomically

**Many processes.** Under ``torchrun`` (see :mod:`streammem.distributed`) the model is wrapped in
``DistributedDataParallel`` (gloo on the CPU, NCCL on CUDA). Every rank draws the same *global* batch from
the same seeded random state and keeps the rows ``rank, rank + N, ...`` of it (:meth:`Trainer.shard`), so N
processes with ``--batch-size B`` take the step one process takes on a batch of N x B: DDP averages the
gradients, and a loss normalised by a count that differs between ranks uses :meth:`Trainer.mean_divisor`.
Only rank 0 writes checkpoints and logs. With one process nothing changes: no wrapper, no extra operation,
the same random draws, so a seeded run gives the same weights it gave before this module existed.

**Mixed precision.** ``amp="bf16"`` runs forward and loss under ``torch.autocast`` on the run's device (CPU
or CUDA); ``amp="fp16"`` needs CUDA and scales the loss with a ``GradScaler``.

**Exact resume.** :meth:`Trainer.save_state` writes model, optimizer, scheduler, gradient scaler, every random
state (torch CPU and CUDA, plus the loop's own generators) and the step: tensors in ``X.safetensors``,
everything else in ``X.json``, both atomically. :meth:`Trainer.resume` puts them all back, so an interrupted
run continued from its state reaches the weights of the uninterrupted run. Nothing is unpickled.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from streammem import distributed
from streammem.errors import InputError, atomic_output

__all__ = ["AMP_MODES", "Trainer", "save_state", "load_state", "state_path", "is_training_state", "amp_dtype"]

T = TypeVar("T")
AMP_MODES = ("bf16", "fp16")
STATE_KIND = "streammem training state"
STATE_VERSION = 1


def amp_dtype(amp: str | None, device: torch.device, use: str = "training") -> torch.dtype | None:
    """``None``/``bf16``/``fp16`` -> the autocast dtype on ``device``; fp16 only on CUDA (a one-line error naming
    ``use``: ``training``, which scales the loss with a GradScaler, or ``inference``)."""
    if amp in (None, "", "none", "fp32"):
        return None
    if amp not in AMP_MODES:
        raise InputError("--amp", f"'{amp}' is not one of {', '.join(AMP_MODES)}")
    if amp == "fp16" and device.type != "cuda":
        why = " (it scales the loss with a GradScaler)" if use == "training" else ""
        raise InputError("--amp", f"fp16 {use} needs CUDA{why}; on {device.type} use --amp bf16")
    return torch.bfloat16 if amp == "bf16" else torch.float16


class _Call(nn.Module):
    """Lets DDP run any method of the model (``forward_sequence``, ``training_loss`` ...): DDP synchronises
    gradients only for work done through its own ``forward``, so each call goes through this one."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, method: str | Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if callable(method):  # a loss function of the model: method(model, ...)
            return method(self.model, *args, **kwargs)
        return getattr(self.model, method)(*args, **kwargs)


class Trainer:
    """One training loop's step machinery: DDP when world > 1, autocast, the optimizer step, exact-resume state.

    ``model`` stays the plain module (its state dict, its methods); :meth:`call` runs a method through DDP.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler | None = None, *, device: torch.device | str = "cpu",
                 amp: str | None = None, grad_clip: float | None = None,
                 zero_grad_to_none: bool = True) -> None:
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.device = torch.device(device)
        self.dtype = amp_dtype(amp, self.device)
        self.amp = amp if self.dtype is not None else None
        self.grad_clip = grad_clip
        self.zero_grad_to_none = zero_grad_to_none
        self.world = distributed.world_size()
        self.rank = distributed.rank()
        self.scaler = torch.amp.GradScaler("cuda") if self.dtype == torch.float16 else None
        self._wrapped: nn.Module | None = None
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index if self.device.index is not None else torch.cuda.current_device()] \
                if self.device.type == "cuda" else None
            self._wrapped = DistributedDataParallel(_Call(model), device_ids=ids)
        self._trainable = [p for p in model.parameters() if p.requires_grad]

    # ------------------------------------------------------------------------------------------ ranks
    @property
    def is_main(self) -> bool:
        """Whether this process logs and writes checkpoints (rank 0)."""
        return self.rank == 0

    def global_batch(self, per_rank: int) -> int:
        """The batch every rank draws before :meth:`shard`: ``per_rank`` x world size."""
        return per_rank * self.world

    def shard(self, items: Sequence[T]) -> list[T] | Sequence[T]:
        """This rank's rows of a global batch (``rank, rank + N, ...``, as ``DistributedSampler`` splits); the
        whole batch, untouched, in one process. A batch whose size is not a multiple of N is padded with its first
        items again, as ``DistributedSampler`` pads, so every rank has the same number of rows and none is empty."""
        if self.world == 1:
            return items
        missing = -len(items) % self.world
        if missing:
            extra = [i % len(items) for i in range(missing)]
            if isinstance(items, torch.Tensor):
                items = torch.cat([items, items[extra]])
            elif hasattr(items, "shape"):  # numpy
                import numpy as np

                items = np.concatenate([items, items[extra]])
            else:
                items = list(items) + [items[i] for i in extra]
        return items[self.rank :: self.world]

    def mean_divisor(self, count: float | torch.Tensor, minimum: float = 1.0) -> float | torch.Tensor:
        """The divisor that turns a rank's loss sum into its share of the global mean: ``count`` in one process;
        with N ranks ``max(total count, minimum) / N`` (DDP averages the gradients over ranks, so each rank's
        sum divided by this is the gradient of the global sum / global count). Every rank must call it."""
        if self.world == 1:
            return count
        total = torch.as_tensor(count, dtype=torch.float64, device=self._comm_device()).clone()
        torch.distributed.all_reduce(total)
        return max(float(total), minimum) / self.world

    def all_mean(self, value: float) -> float:
        """A logged scalar averaged over ranks (itself in one process)."""
        if self.world == 1:
            return value
        total = torch.tensor(float(value), dtype=torch.float64, device=self._comm_device())
        torch.distributed.all_reduce(total)
        return float(total) / self.world

    def agree(self, flag: bool) -> bool:
        """Process 0's ``flag`` on every process (e.g. its wall-clock budget ran out), so all stop at one step."""
        if self.world == 1:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self._comm_device())
        torch.distributed.broadcast(value, 0)
        return bool(value.item())

    def _comm_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    # ----------------------------------------------------------------------------------------- steps
    def call(self, method: str | Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``model.<method>(...)``, or ``method(model, ...)`` for a loss function that calls several methods of the
        model: through DDP with many processes (so the gradients are averaged)."""
        if self._wrapped is None:
            return method(self.model, *args, **kwargs) if callable(method) else getattr(self.model, method)(*args,
                                                                                                        **kwargs)
        return self._wrapped(method, *args, **kwargs)

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision for forward and loss (a no-op without ``--amp``)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def step(self, loss: torch.Tensor) -> float | None:
        """Zero the gradients, backpropagate ``loss``, (unscale,) clip, step the optimizer and the scheduler.

        Returns the gradient norm before clipping when clipping is on (a tensor on the device; not synchronised).
        With many processes every trainable parameter joins the graph with a zero weight, so DDP gets a gradient
        for each on every rank even when a rank's loss does not touch some (an empty set of targets).
        """
        if self._wrapped is not None:
            loss = loss + sum(p.reshape(-1)[0] * 0.0 for p in self._trainable)
        self.optimizer.zero_grad(set_to_none=self.zero_grad_to_none)
        norm = None
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            if self.grad_clip is not None:
                norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            if self.grad_clip is not None:
                norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return norm

    # ---------------------------------------------------------------------------------------- resume
    def state(self, step: int, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Everything an exact resume needs, as nested dicts of tensors and JSON scalars."""
        state: dict[str, Any] = {
            "step": int(step),
            "world_size": self.world,
            "model": {k: v.detach() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
            "extra": dict(extra or {}),
        }
        return state

    def save_state(self, path: str | os.PathLike, step: int, extra: Mapping[str, Any] | None = None) -> Path | None:
        """Write the training state (rank 0 only; atomically); returns the path on rank 0."""
        if not self.is_main:
            return None
        return save_state(path, self.state(step, extra))

    def resume(self, path: str | os.PathLike | None, settings: Mapping[str, Any] | None = None) -> tuple[int, dict]:
        """Load a state written by :meth:`save_state` into model, optimizer, scheduler, scaler and the torch
        random states; returns (the step to continue from, the loop's ``extra`` dict). ``settings``: the loop's
        settings, checked against those stored in ``extra["settings"]`` (a continued run must not change them).
        Without ``path``: (0, {})."""
        if path is None:
            return 0, {}
        state = load_state(path)
        stored = state.get("extra", {}).get("settings")
        if settings is not None and stored is not None:
            now = json.loads(json.dumps(dict(settings), default=str))
            changed = sorted(k for k in set(now) | set(stored) if now.get(k) != stored.get(k))
            if changed:
                k = changed[0]
                raise InputError(path, f"was written with {k}={stored.get(k)!r}, this run has {k}={now.get(k)!r}; an "
                                 "exact resume needs the same settings")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None and state.get("scheduler") is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            if self.scaler is not None and state.get("scaler") is not None:
                self.scaler.load_state_dict(state["scaler"])
        except (RuntimeError, ValueError, KeyError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise InputError(path, f"does not match this model or optimizer ({first})") from None
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        if distributed.is_main() and int(state.get("world_size", 1)) != self.world:
            print(f"note: {path} was written by {state.get('world_size')} process(es), this run has {self.world}: "
                  "the continued run draws its batches differently", flush=True)
        return int(state["step"]), state.get("extra", {})


# -------------------------------------------------------------------------------------------- files
def state_path(weights: str | os.PathLike) -> Path:
    """Where a run writing ``X.safetensors`` keeps its training state: ``X.state.safetensors`` (+ ``.json``)."""
    weights = Path(weights)
    return weights.with_name(weights.name.removesuffix(".safetensors") + ".state.safetensors")


def _json_path(path: Path) -> Path:
    return path.with_suffix(".json")


def is_training_state(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a training state written by :func:`save_state` (its JSON sidecar says so)."""
    side = _json_path(Path(path))
    try:
        return json.loads(side.read_text()).get("kind") == STATE_KIND
    except (OSError, ValueError, AttributeError):
        return False


def _split(value: Any, tensors: dict[str, torch.Tensor], key: str) -> Any:
    """Nested value -> JSON-able structure with tensors replaced by ``{"__tensor__": name}``."""
    if isinstance(value, torch.Tensor):
        tensors[key] = value.detach().to("cpu").contiguous().clone()
        return {"__tensor__": key}
    if isinstance(value, Mapping):
        if not all(isinstance(k, (str, int)) for k in value):
            raise TypeError(f"{key}: only str or int keys can be stored")
        # int keys (optimizer state) are kept apart from str keys so they come back as ints
        return {"__dict__": [[k, _split(v, tensors, f"{key}.{k}")] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"__list__": [_split(v, tensors, f"{key}.{i}") for i, v in enumerate(value)],
                "tuple": isinstance(value, tuple)}
    if isinstance(value, float) and value != value:
        return {"__float__": "nan"}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"{key}: cannot store a {type(value).__name__} in a training state")


def _join(value: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    if isinstance(value, dict):
        if "__tensor__" in value:
            return tensors[value["__tensor__"]]
        if "__dict__" in value:
            return {k: _join(v, tensors) for k, v in value["__dict__"]}
        if "__list__" in value:
            items = [_join(v, tensors) for v in value["__list__"]]
            return tuple(items) if value.get("tuple") else items
        if "__float__" in value:
            return float(value["__float__"])
    return value


def save_state(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write nested dicts/lists of tensors and scalars: tensors to ``path`` (safetensors), the rest to its JSON
    sidecar; each file atomically, the sidecar last (so a state is complete when its JSON names it)."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    tree = _split(dict(state), tensors, "s")
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata={"kind": STATE_KIND})
    with atomic_output(_json_path(path)) as tmp:
        tmp.write_text(json.dumps({"kind": STATE_KIND, "version": STATE_VERSION, "tensors": len(tensors),
                                   "state": tree}) + "\n")
    return path


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a state written by :func:`save_state` (safetensors + JSON; nothing unpickled); one-line errors."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    side = _json_path(path)
    if not path.is_file():
        raise InputError(path, "training state not found")
    try:
        meta = json.loads(side.read_text())
    except FileNotFoundError:
        raise InputError(side, "missing beside the training state") from None
    except (OSError, ValueError) as err:
        raise InputError(side, f"not a readable training state ({err})") from None
    if not isinstance(meta, dict) or meta.get("kind") != STATE_KIND:
        raise InputError(side, "is not a training state (weights from a finished run start a warm restart instead)")
    try:  # cloned: no tensor (e.g. an optimizer moment) stays tied to the file, which a later save may replace
        tensors = {k: v.clone() for k, v in load_file(str(path)).items()}
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(path, f"unreadable or truncated training state ({err})") from None
    if len(tensors) != meta.get("tensors"):
        raise InputError(path, f"holds {len(tensors)} tensors, its JSON names {meta.get('tensors')}: the two files "
                         "come from different saves")
    try:
        return _join(meta["state"], tensors)
    except KeyError as err:
        raise InputError(path, f"tensor {err} named by the JSON is missing") from None

