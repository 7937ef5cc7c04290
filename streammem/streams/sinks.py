"""Sinks: where a stream's outputs go (annotated video, JSON lines, MOTChallenge text, a window).

Every sink has ``open()``, ``write(timestamp, payload, output)`` and ``close(success)``. File sinks write
into a temporary file beside the target and rename it only on ``close(True)`` (``atomic_output``), so a
failed or interrupted run leaves nothing half-written. A sink ends the run early by raising
``StopStream`` from ``write`` (the window does on q / Esc); that is a normal, successful end.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from streammem.errors import StreamMemError, atomic_output

__all__ = [
    "Sink",
    "StopStream",
    "AnnotatedVideoSink",
    "JsonLinesSink",
    "MOTChallengeSink",
    "WindowSink",
    "draw_boxes",
    "has_display",
]

log = logging.getLogger(__name__)


class StopStream(Exception):
    """Raised by a sink's ``write`` to end the run normally (e.g. the user closed the window)."""


class Sink(Protocol):
    def open(self) -> None: ...

    def write(self, timestamp: float, payload: Any, output: Any) -> None: ...

    def close(self, success: bool) -> None: ...


class _Aborted(Exception):
    """Thrown into ``atomic_output`` so it discards the temporary file."""


class _AtomicFile:
    """``atomic_output`` split into open / commit / abort calls, for sinks whose lifetime spans a run."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._context = None

    def open(self) -> Path:
        self._context = atomic_output(self.path)
        return self._context.__enter__()

    def close(self, success: bool) -> None:
        context, self._context = self._context, None
        if context is None:
            return
        if success:
            context.__exit__(None, None, None)
        else:
            context.__exit__(_Aborted, _Aborted(), None)


def _field(output: Any, name: str) -> Any:
    return output[name] if isinstance(output, Mapping) else getattr(output, name)


def _numpy(value: Any) -> np.ndarray:
    """A numpy copy of a tensor or array-like (tensors are detached and moved to the CPU)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _jsonable(value: Any) -> Any:
    """``value`` with tensors and numpy values turned into plain lists and numbers."""
    if hasattr(value, "detach") or isinstance(value, np.ndarray | np.generic):
        return _numpy(value).tolist()
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if hasattr(value, "_asdict"):  # NamedTuple outputs keep their field names
        return _jsonable(value._asdict())
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def _color(track_id: int) -> tuple[int, int, int]:
    """A stable, well-separated RGB color per track id (golden-ratio hue steps)."""
    hue = int((track_id * 0.618033988749895 % 1.0) * 180)
    hsv = np.array([[[hue, 220, 255]]], dtype=np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def draw_boxes(
    frame: np.ndarray,
    boxes_xyxy: Any,
    ids: Sequence[int] | Any,
    trails: Mapping[int, Sequence[tuple[float, float]]] | None = None,
) -> np.ndarray:
    """A copy of the RGB ``frame`` ``(H, W, 3)`` with boxes ``(N, 4)`` (x1, y1, x2, y2 in pixels), their
    track ``ids`` ``(N,)`` and, if given, each id's trail (past box centers, oldest first)."""
    canvas = np.ascontiguousarray(frame).copy()
    for track_id, points in (trails or {}).items():
        if len(points) > 1:
            polyline = np.round(np.asarray(points, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(canvas, [polyline], False, _color(int(track_id)), 2, cv2.LINE_AA)
    for box, track_id in zip(
        _numpy(boxes_xyxy).reshape(-1, 4), _numpy(ids).reshape(-1).tolist(), strict=True
    ):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        color = _color(int(track_id))
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, 2)
        cv2.putText(
            canvas,
            str(int(track_id)),
            (x1, max(y1 - 4, 10)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            color,
            1,
            cv2.LINE_AA,
        )
    return canvas


_FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "FFV1"}


class AnnotatedVideoSink:
    """Write ``draw_fn(frame, output)`` (an RGB frame) for every step into a video file at ``fps``.

    The codec follows the extension: ``.mp4`` (mp4v), ``.avi`` (MJPG), ``.mkv`` (FFV1, lossless). The frame
    size is taken from the first frame. Without ``draw_fn`` the payload frame is written as is.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        draw_fn: Callable[[np.ndarray, Any], np.ndarray] | None = None,
    ):
        self.path = Path(path)
        if self.path.suffix.lower() not in _FOURCC:
            raise StreamMemError(f"{self.path}: unsupported video extension (use {', '.join(_FOURCC)})")
        self.fps = float(fps)
        self.draw_fn = draw_fn
        self._file = _AtomicFile(self.path)
        self._tmp: Path | None = None
        self._writer: cv2.VideoWriter | None = None
        self.frames = 0

    def open(self) -> None:
        self._tmp = self._file.open()
        self.frames = 0

    def write(self, timestamp: float, payload: Any, output: Any) -> None:
        frame = payload if self.draw_fn is None else self.draw_fn(payload, output)
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if self._writer is None:
            fourcc = cv2.VideoWriter_fourcc(*_FOURCC[self.path.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self._tmp), fourcc, self.fps, (frame.shape[1], frame.shape[0]))
            if not self._writer.isOpened():
                raise StreamMemError(f"{self.path}: OpenCV cannot write this video format")
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self, success: bool) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if success and self.frames == 0:
            log.warning("%s: no frames were written; no video saved", self.path)
            success = False
        self._file.close(success)


class JsonLinesSink:
    """One JSON object per step: ``{"timestamp": t, **to_record(output)}``.

    The default ``to_record`` stores ``{"output": output}`` with tensors and arrays as nested lists.
    """

    def __init__(self, path: str | os.PathLike, to_record: Callable[[Any], Mapping[str, Any]] | None = None):
        self.path = Path(path)
        self.to_record = to_record or (lambda output: {"output": output})
        self._file = _AtomicFile(self.path)
        self._handle = None

    def open(self) -> None:
        self._handle = open(self._file.open(), "w", encoding="utf-8")

    def write(self, timestamp: float, payload: Any, output: Any) -> None:
        record = {"timestamp": float(timestamp), **_jsonable(dict(self.to_record(output)))}
        self._handle.write(json.dumps(record) + "\n")

    def close(self, success: bool) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self._file.close(success)


def _tracks_of(output: Any) -> tuple[Any, Any, Any]:
    """``(boxes_xyxy, ids, scores)`` from an output with ``boxes``, ``ids`` and optional ``scores``."""
    scores = output.get("scores") if isinstance(output, Mapping) else getattr(output, "scores", None)
    return _field(output, "boxes"), _field(output, "ids"), scores


class MOTChallengeSink:
    """Tracks in MOTChallenge text: ``frame,id,x,y,w,h,conf,-1,-1,-1`` with 1-based frame numbers.

    Each ``write`` is one frame. ``to_tracks(output) -> (boxes_xyxy (N, 4), ids (N,), scores (N,) or None)``
    defaults to reading ``boxes``, ``ids`` and ``scores`` from a mapping or attributes; missing scores are
    written as 1.
    """

    def __init__(
        self, path: str | os.PathLike, to_tracks: Callable[[Any], tuple[Any, Any, Any]] | None = None
    ):
        self.path = Path(path)
        self.to_tracks = to_tracks or _tracks_of
        self._file = _AtomicFile(self.path)
        self._handle = None
        self.frame = 0

    def open(self) -> None:
        self._handle = open(self._file.open(), "w", encoding="utf-8")
        self.frame = 0

    def write(self, timestamp: float, payload: Any, output: Any) -> None:
        self.frame += 1
        boxes, ids, scores = self.to_tracks(output)
        boxes = _numpy(boxes).reshape(-1, 4).astype(np.float64)
        ids = _numpy(ids).reshape(-1)
        scores = np.ones(len(ids)) if scores is None else _numpy(scores).reshape(-1)
        for (x1, y1, x2, y2), track_id, score in zip(boxes, ids, scores, strict=True):
            self._handle.write(
                f"{self.frame},{int(track_id)},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{float(score):.4f},-1,-1,-1\n"
            )

    def close(self, success: bool) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self._file.close(success)


def has_display() -> bool:
    """Whether a window can be shown: always on macOS / Windows, elsewhere only with ``$DISPLAY`` set."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY"))


_QUIT_KEYS = (ord("q"), ord("Q"), 27)  # 27: Esc


class WindowSink:
    """Show ``draw_fn(frame, output)`` (or the frame) in an OpenCV window; q or Esc ends the run.

    Refuses to open without a display (servers are headless by default: write a video instead).
    """

    def __init__(
        self, title: str = "streammem", draw_fn: Callable[[np.ndarray, Any], np.ndarray] | None = None
    ):
        self.title = title
        self.draw_fn = draw_fn

    def open(self) -> None:
        if not has_display():
            raise StreamMemError("window: no display ($DISPLAY is not set); write an annotated video instead")
        try:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
        except cv2.error as error:  # opencv-python-headless has no GUI backend
            raise StreamMemError(f"window: this OpenCV build cannot show windows ({error})") from error

    def write(self, timestamp: float, payload: Any, output: Any) -> None:
        frame = payload if self.draw_fn is None else self.draw_fn(payload, output)
        cv2.imshow(self.title, cv2.cvtColor(np.ascontiguousarray(frame, dtype=np.uint8), cv2.COLOR_RGB2BGR))
        if cv2.waitKey(1) & 0xFF in _QUIT_KEYS:
            raise StopStream

    def close(self, success: bool) -> None:
        try:
            cv2.destroyWindow(self.title)
        except cv2.error:
            pass  # the user already closed it
