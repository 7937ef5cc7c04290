"""The stream runner: source -> (chunker) -> ``step`` -> sinks, with progress and a run summary.

It is the streaming contract as a loop::

    state = initial_state
    for timestamp, payload in source:
        for chunk in chunker.push(payload):          # or the payload itself without a chunker
            output, state = step_fn(chunk, state)
            for sink in sinks: sink.write(timestamp, chunk, output)
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from streammem.progress import progress_bar
from streammem.streams.sinks import Sink, StopStream

__all__ = ["RunSummary", "StreamRunner"]


@dataclasses.dataclass
class RunSummary:
    """What a run did. Latencies are seconds per ``step`` call (p95 over the latest 10,000 steps);
    ``state`` is the final model state."""

    steps: int
    frames: int
    dropped: int
    seconds: float
    mean_latency: float
    p95_latency: float
    stopped_early: bool
    state: Any = dataclasses.field(default=None, repr=False)

    @property
    def fps(self) -> float:
        """Source items consumed per wall-clock second."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, float | int | bool]:
        """The numbers, for JSON and tables (without the state)."""
        numbers = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "state"}
        return {**numbers, "fps": self.fps}


class StreamRunner:
    """Drive ``step_fn(chunk, state) -> (output, state)`` over a source and fan outputs out to ``sinks``.

    ``chunker`` (anything with ``push(payload) -> list`` and ``flush() -> list``) regroups payloads into
    model chunks; sinks then receive the chunk as payload, stamped with the timestamp of the source item
    that completed it (when its output could first exist). ``progress`` shows a bar on stderr: with a total
    for files of known length, and for live sources (``live``; by default the source's own ``live``) a
    status line with fps, per-step latency and dropped frames.

    Sinks are opened before the first step and closed with ``success=True`` at the end, or with
    ``success=False`` if anything raised (including Ctrl-C), so file sinks leave nothing half-written.
    A sink raising ``StopStream`` ends the run successfully.
    """

    def __init__(
        self,
        step_fn: Callable[[Any, Any], tuple[Any, Any]],
        initial_state: Any,
        sinks: Sequence[Sink] = (),
        *,
        chunker: Any | None = None,
        progress: bool = True,
        live: bool | None = None,
    ):
        self.step_fn = step_fn
        self.initial_state = initial_state
        self.sinks = list(sinks)
        self.chunker = chunker
        self.progress = progress
        self.live = live

    def run(self, source: Iterable[tuple[float, Any]], max_frames: int | None = None) -> RunSummary:
        """Consume ``source`` to its end, ``max_frames`` items, or until a sink stops it; summarize the run."""
        live = bool(getattr(source, "live", False)) if self.live is None else self.live
        total = None if live else getattr(source, "total", None)
        if max_frames is not None:
            total = max_frames if total is None else min(total, max_frames)
        bar = progress_bar(total, unit="frame", enabled=self.progress)
        tally = _Tally()
        frames = 0
        state = self.initial_state
        stopped_early = False
        started = time.perf_counter()
        opened: list[Sink] = []
        iterator = iter(source)
        try:
            for sink in self.sinks:
                sink.open()
                opened.append(sink)
            try:
                timestamp = 0.0
                for timestamp, payload in itertools.islice(iterator, max_frames):
                    frames += 1
                    chunks = [payload] if self.chunker is None else self.chunker.push(payload)
                    for chunk in chunks:
                        state = self._step(chunk, state, timestamp, opened, tally)
                    bar.update(1)
                    if live and tally.latencies:
                        dropped = getattr(source, "dropped", 0)
                        bar.set_postfix_str(
                            f"{tally.latencies[-1] * 1e3:.1f} ms/step, dropped {dropped}", refresh=False
                        )
                for chunk in [] if self.chunker is None else self.chunker.flush():
                    state = self._step(chunk, state, timestamp, opened, tally)
            except StopStream:
                stopped_early = True
        except BaseException:
            for sink in opened:
                sink.close(success=False)
            raise
        finally:
            if hasattr(iterator, "close"):
                iterator.close()  # stops a live source's capture thread
            bar.close()
        for sink in opened:
            sink.close(success=True)
        return RunSummary(
            steps=tally.steps,
            frames=frames,
            dropped=int(getattr(source, "dropped", 0)),
            seconds=time.perf_counter() - started,
            mean_latency=tally.total / tally.steps if tally.steps else 0.0,
            p95_latency=float(np.percentile(list(tally.latencies), 95)) if tally.latencies else 0.0,
            stopped_early=stopped_early,
            state=state,
        )

    def _step(self, chunk: Any, state: Any, timestamp: float, sinks: list[Sink], tally: _Tally) -> Any:
        begin = time.perf_counter()
        output, state = self.step_fn(chunk, state)
        tally.add(time.perf_counter() - begin)
        for sink in sinks:
            sink.write(timestamp, chunk, output)
        return state


class _Tally:
    """Step count and latencies; p95 over the latest steps keeps memory bounded on endless streams."""

    def __init__(self, window: int = 10_000):
        self.steps = 0
        self.total = 0.0
        self.latencies: collections.deque[float] = collections.deque(maxlen=window)

    def add(self, latency: float) -> None:
        self.steps += 1
        self.total += latency
        self.latencies.append(latency)
