"""Many processes through torchrun: whole streams sharded across ranks, per-stream results gathered, one writer.

``torchrun --nproc_per_node N -m streammem eval TASK ...`` sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``;
:func:`init_from_env` joins the process group (NCCL on CUDA, gloo on CPU), :func:`shard` gives each rank every
N-th stream (a sequence, video or recording is never split), and :func:`gather` returns every rank's results
in the original stream order, so rank 0 computes exactly the metric one process computes. Without torchrun
everything here is a no-op for a world of one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist

__all__ = ["init_from_env", "rank", "world_size", "is_main", "shard", "gather", "barrier", "shutdown"]

T = TypeVar("T")


def init_from_env(device: torch.device) -> None:
    """Join the process group torchrun describes (once); on CUDA, each rank takes its ``LOCAL_RANK`` GPU."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """Whether this process writes outputs and prints results (rank 0)."""
    return rank() == 0


def shard(items: Sequence[T]) -> list[T]:
    """This rank's streams: items ``rank, rank + N, ...`` (whole streams, none twice, none left out)."""
    return list(items[rank() :: world_size()])


def gather(results: Sequence[T]) -> list[T]:
    """Every rank's :func:`shard` results, back in the order of the items they were sharded from (all ranks)."""
    if world_size() == 1:
        return list(results)
    parts: list[Any] = [None] * world_size()
    dist.all_gather_object(parts, list(results))
    ordered: list[T] = []
    for i in range(max(len(p) for p in parts)):
        ordered.extend(p[i] for p in parts if i < len(p))
    return ordered


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
