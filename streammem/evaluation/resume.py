"""Resumable evaluation: one JSON per finished stream, reused by the next run with the same weights and options.

``streammem eval TASK`` evaluates stream by stream (a sequence, a video, a recording). Each stream's result is
written, atomically, to ``<out>/streams/<stream>.json`` as soon as it is done, together with a *fingerprint*:
a hash of the weights file (and its JSON sidecar) and of every option that changes a stream's result. A rerun
into the same output folder (``--resume``, the default) reads back the streams whose fingerprint matches and
computes only the others, so an interrupted evaluation picks up where it stopped; ``--no-resume`` recomputes
everything. A result is stored as strict JSON and the metric is always computed from the JSON form (also on
the run that computed it), so a resumed run's metrics equal an uninterrupted run's exactly.

Under torchrun each rank computes and writes its own shard of the streams (whole streams, never split), so the
output folder must be one every rank can write (a shared file system on several machines).

Example::

    cache = StreamResults.open(run, fingerprint(weights, data=str(data.resolve()), mode=args.mode), args.resume)
    results = cache.map(distributed.shard(videos), key=lambda v: v.name, compute=lambda v: predict(model, v),
                        desc="eval tal", unit="video")
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from streammem.errors import atomic_output

__all__ = ["STREAMS_FOLDER", "StreamResults", "add_resume_argument", "fingerprint", "file_digest"]

T = TypeVar("T")
STREAMS_FOLDER = "streams"
_FORMAT = 1  # bumped when a stored record's layout changes: older records are then recomputed


def add_resume_argument(parser: argparse.ArgumentParser) -> None:
    """``--resume`` (default) / ``--no-resume`` for an ``eval`` verb."""
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help=f"reuse the per-stream results an earlier run with the same weights and options left "
                        f"in <out>/{STREAMS_FOLDER}/ (default); --no-resume recomputes every stream")


def file_digest(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks (weights files can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(weights: str | os.PathLike, **options: Any) -> str:
    """What a per-stream result depends on: the weights (file and JSON sidecar bytes) and ``options``
    (JSON values: the data folder, the decoding mode, thresholds ...). Any change gives another fingerprint."""
    weights = Path(weights)
    sidecar = weights.with_suffix(".json")
    parts = {
        "format": _FORMAT,
        "weights": file_digest(weights),
        "sidecar": file_digest(sidecar) if sidecar.is_file() and sidecar != weights else None,
        "options": options,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _file_name(key: str) -> str:
    """A stream's file name: the key itself when it is a plain name, else a cleaned name plus a short hash
    (two keys never share a file)."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", key).strip("._")[:120]
    if clean != key or not clean:
        clean = f"{clean}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"
    return f"{clean}.json"


def _as_json(value: Any) -> Any:
    """``value`` exactly as it reads back from the stored JSON (numpy and tuples become plain values)."""
    from streammem.tasks.common import json_safe

    return json.loads(json.dumps(json_safe(value), allow_nan=False))


class StreamResults:
    """The per-stream results of one evaluation in ``folder`` (``<out>/streams/``) under one fingerprint."""

    def __init__(self, folder: Path, fingerprint: str, resume: bool = True) -> None:
        self.folder = Path(folder)
        self.fingerprint = fingerprint
        self.resume = resume
        self.reused = 0
        self.computed = 0

    @classmethod
    def open(cls, run: Any, fingerprint: str, resume: bool = True) -> StreamResults:
        """The ``streams/`` folder of a :class:`~streammem.tasks.common.Run`'s outputs (created if missing)."""
        return cls(run.folder_path(STREAMS_FOLDER), fingerprint, resume)

    def path(self, key: str) -> Path:
        return self.folder / _file_name(key)

    def load(self, key: str) -> Any | None:
        """The stored result of stream ``key`` if resuming and it was computed under this fingerprint, else None.

        A record that is unreadable, of another stream or of another fingerprint counts as not done."""
        if not self.resume:
            return None
        try:
            record = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("stream") != key or record.get("fingerprint") != self.fingerprint:
            return None
        self.reused += 1
        return record.get("result")

    def save(self, key: str, result: Any) -> Any:
        """Store stream ``key``'s result atomically; returns it as read back from JSON."""
        value = _as_json(result)
        with atomic_output(self.path(key)) as tmp:
            tmp.write_text(json.dumps({"stream": key, "fingerprint": self.fingerprint, "result": value},
                                      allow_nan=False) + "\n", encoding="utf-8")
        self.computed += 1
        return value

    def map(self, items: Sequence[T], *, key: Callable[[T], str], compute: Callable[[T], Any],
            progress: Callable[[Iterable[T], int], Iterable[T]] | None = None) -> list[Any]:
        """Each item's result in order: read back when done under this fingerprint, else computed and stored.

        ``progress(todo, total)`` wraps the items still to compute (e.g. a progress bar)."""
        results: list[Any] = [None] * len(items)
        todo = []
        for i, item in enumerate(items):
            stored = self.load(key(item))
            if stored is None:
                todo.append(i)
            else:
                results[i] = stored
        pending = (items[i] for i in todo)
        wrapped = progress(pending, len(todo)) if progress is not None else pending
        for i, item in zip(todo, wrapped, strict=True):
            results[i] = self.save(key(item), compute(item))
        return results

    def summary(self, total: int, unit: str) -> str | None:
        """A line saying how many of ``total`` streams were reused on all ranks (None when none were).

        Under torchrun every rank must call it (the counts are gathered)."""
        from streammem import distributed

        reused = sum(distributed.gather([self.reused]))
        if not reused:
            return None
        return f"resumed: {reused} of {total} {unit} already done in {self.folder} (--no-resume recomputes them)"
