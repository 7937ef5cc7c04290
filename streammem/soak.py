"""Soak a streaming step: many steps from one initial state, checking that the state and the process stay flat.

A memory that grows with the stream (a state tensor that lengthens, a cache kept on the side, a leak in a
sink) shows here as state bytes or resident memory that rise with the step count. :func:`soak` runs
``step(chunk, state)`` ``steps`` times and samples both along the way; :func:`stream_of` builds the shipped
tiny model of each task with a stream of inputs of the size it takes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from streammem.export import _leaves
from streammem.resources import current_rss_mb

__all__ = ["SoakResult", "soak", "state_bytes", "stream_of", "SOAK_TASKS"]


def state_bytes(state: Any) -> int:
    """Bytes held by every tensor of a (nested) state."""
    return sum(t.numel() * t.element_size() for t in _leaves(state))


@dataclass
class SoakResult:
    """State bytes and resident memory at the first sample (after warm-up) and at the end, with the step rate."""

    task: str
    steps: int
    state_bytes_start: int
    state_bytes_end: int
    rss_mb_start: float
    rss_mb_end: float
    rss_mb_max: float
    steps_per_s: float

    @property
    def rss_growth(self) -> float:
        """Relative growth of resident memory from the first sample to the largest one."""
        return (self.rss_mb_max - self.rss_mb_start) / self.rss_mb_start

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "rss_growth": self.rss_growth}


@torch.no_grad()
def soak(task: str, step: Callable[[Any, Any], tuple[Any, Any]], state: Any, chunks: Iterator[Any], steps: int,
         warmup: int = 100, samples: int = 20) -> SoakResult:
    """Run ``steps`` steps; sample state bytes and RSS after ``warmup`` steps (or at the end of a shorter run)
    and ``samples`` times after that."""
    every = max(1, (steps - warmup) // samples)
    start_bytes = rss_start = None
    rss_max = 0.0
    began = time.perf_counter()
    for i in range(1, steps + 1):
        _, state = step(next(chunks), state)
        if i == warmup or (i > warmup and (i - warmup) % every == 0) or i == steps:
            rss = current_rss_mb()
            if start_bytes is None:
                start_bytes, rss_start = state_bytes(state), rss
            rss_max = max(rss_max, rss)
    elapsed = time.perf_counter() - began
    return SoakResult(task, steps, start_bytes, state_bytes(state), rss_start, current_rss_mb(), rss_max,
                      steps / elapsed)


def _cycle(items: list[Any]) -> Iterator[Any]:
    while True:
        yield from items


def stream_of(task: str) -> tuple[Callable[[Any, Any], tuple[Any, Any]], Any, Iterator[Any]]:
    """(step, initial state, endless chunks) for the shipped tiny model of ``task`` (random inputs of its size)."""
    gen = torch.Generator().manual_seed(0)
    if task == "tal":
        from streammem.tasks.tal import load_model

        model, _ = load_model()
        chunks = [torch.randn(1, sum(model.feature_dims), generator=gen) for _ in range(64)]
        return model, model.initial_state(1), _cycle(chunks)
    if task == "track":
        from streammem.tasks.track import load_model, synthetic_clip

        model = load_model()
        clip = synthetic_clip(50, image_size=tuple(model.cfg.image_size))
        return model, model.initial_state(1), _cycle([clip[t : t + 1] for t in range(clip.shape[0])])
    if task == "asr":
        from streammem.tasks.asr import _load_model

        model = _load_model(None)
        chunks = [0.1 * torch.randn(1, model.chunk_samples, generator=gen) for _ in range(16)]
        return model, model.initial_state(1), _cycle(chunks)
    if task == "simulst":
        from streammem.tasks.simulst import _load_model

        model = _load_model(None)
        chunks = [0.1 * torch.randn(1, model.chunk_samples, generator=gen) for _ in range(16)]
        return model, model.initial_state(1), _cycle(chunks)
    if task == "anomaly":
        from streammem.tasks.anomaly import load_model

        model, _ = load_model()
        size = model.image_size
        frames = [torch.randint(0, 256, (1, model.in_chans, size, size), dtype=torch.uint8, generator=gen)
                  for _ in range(8)]
        return model.step, model.initial_state(1), _cycle(frames)
    raise ValueError(f"soak: unknown task {task!r} (known: {', '.join(SOAK_TASKS)})")


SOAK_TASKS = ("track", "tal", "asr", "simulst", "anomaly")
