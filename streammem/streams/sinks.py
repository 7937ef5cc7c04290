"""Sinks: where a stream's outputs go (annotated video, JSON lines, MOTChallenge text, a window).

Every sink has ``open()``, ``write(timestamp, payload, output)`` and ``close(success)``. File sinks write
into a temporary file beside the target and rename it only on ``close(True)`` (``atomic_output``), so a
failed or interrupted run leaves nothing half-written. A sink ends the run early by raising
``StopStream`` from ``write`` (the window does on q / Esc); that is a normal, successful end.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import shutil
import subprocess
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
    "save_figure",
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


DISPLAY_WIDTH = 640  # frames narrower than this are enlarged (by a whole factor) before anything is drawn


def display_scale(width: int, display_width: int = DISPLAY_WIDTH) -> int:
    """The whole factor that brings a ``width``-pixel frame to at least ``display_width`` (1 for large frames)."""
    return max(1, math.ceil(display_width / max(width, 1)))


def draw_boxes(
    frame: np.ndarray,
    boxes_xyxy: Any,
    ids: Sequence[int] | Any,
    trails: Mapping[int, Sequence[tuple[float, float]]] | None = None,
    display_width: int = DISPLAY_WIDTH,
) -> np.ndarray:
    """A copy of the RGB ``frame`` ``(H, W, 3)`` with boxes ``(N, 4)`` (x1, y1, x2, y2 in pixels of ``frame``),
    their track ``ids`` ``(N,)`` and, if given, each id's trail (past box centers, oldest first).

    A frame narrower than ``display_width`` is first enlarged by a whole factor so boxes and labels stay
    legible; labels are kept inside the frame.
    """
    scale = display_scale(frame.shape[1], display_width)
    canvas = np.ascontiguousarray(frame)
    canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) if scale > 1 else canvas.copy()
    height, width = canvas.shape[:2]
    for track_id, points in (trails or {}).items():
        if len(points) > 1:
            polyline = np.round(scale * np.asarray(points, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(canvas, [polyline], False, _color(int(track_id)), 2, cv2.LINE_AA)
    for box, track_id in zip(
        _numpy(boxes_xyxy).reshape(-1, 4), _numpy(ids).reshape(-1).tolist(), strict=True
    ):
        x1, y1, x2, y2 = (int(round(scale * v)) for v in box)
        color = _color(int(track_id))
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, 2)
        label = str(int(track_id))
        (text_w, text_h), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 2)
        x = min(max(x1, 0), max(width - text_w - 1, 0))  # inside the frame, even for boxes cut by its edge
        y = y1 - 4 if y1 - 4 - text_h >= 0 else min(max(y1, 0) + text_h + 4, height - baseline - 1)
        cv2.putText(canvas, label, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, color, 2, cv2.LINE_AA)
    return canvas


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Save a matplotlib figure as PNG, all or nothing, and close it (timelines, score plots, pictures)."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return path


_FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "FFV1"}


@functools.cache
def h264_encoder() -> str | None:
    """The ``ffmpeg`` program when it has the libx264 encoder, else None.

    The pip-installed OpenCV has no H.264 encoder, and mp4v files do not play in browsers; ffmpeg is already a
    system dependency (setup.sh installs it), so annotated ``.mp4`` files are encoded by piping frames to it.
    """
    program = shutil.which("ffmpeg")
    if program is None:
        return None
    try:
        listed = subprocess.run([program, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return program if " libx264 " in listed.stdout else None


class _FFmpegH264Writer:
    """Raw RGB frames piped to ``ffmpeg -c:v libx264 -pix_fmt yuv420p`` (browser-playable, ``+faststart``)."""

    def __init__(self, program: str, path: Path, fps: float, width: int, height: int) -> None:
        command = [
            program, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-",
            "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",  # yuv420p needs even sides
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", "-f", "mp4", str(path),
        ]
        self.size = (width, height)
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, rgb: np.ndarray) -> None:
        if (rgb.shape[1], rgb.shape[0]) != self.size:
            rgb = cv2.resize(rgb, self.size)
        self.process.stdin.write(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())

    def release(self) -> bool:
        """Finish the file; True when ffmpeg succeeded."""
        self.process.stdin.close()
        error = self.process.stderr.read().decode(errors="replace").strip()
        if self.process.wait() != 0:
            log.warning("ffmpeg could not encode the video: %s", error.splitlines()[-1] if error else "unknown error")
            return False
        return True


class AnnotatedVideoSink:
    """Write ``draw_fn(frame, output)`` (an RGB frame) for every step into a video file at ``fps``.

    ``.mp4`` is H.264 (yuv420p, plays in browsers) through ffmpeg's libx264; where no such encoder exists it
    falls back to OpenCV's MPEG-4 Part 2 (mp4v) and says so. ``.avi`` is MJPG and ``.mkv`` FFV1 (lossless),
    through OpenCV. The frame size is taken from the first frame. Without ``draw_fn`` the payload frame is
    written as is.
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
        self._writer: cv2.VideoWriter | _FFmpegH264Writer | None = None
        self.codec = ""
        self.frames = 0

    def open(self) -> None:
        self._tmp = self._file.open()
        self.frames = 0

    def _open_writer(self, width: int, height: int) -> None:
        suffix = self.path.suffix.lower()
        program = h264_encoder() if suffix == ".mp4" else None
        if program is not None:
            self._writer, self.codec = _FFmpegH264Writer(program, self._tmp, self.fps, width, height), "h264"
            return
        if suffix == ".mp4":
            log.warning("%s: no H.264 encoder (ffmpeg with libx264) found; writing MPEG-4 Part 2 (mp4v), which "
                        "browsers do not play", self.path)
        self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*_FOURCC[suffix]), self.fps,
                                       (width, height))
        self.codec = _FOURCC[suffix]
        if not self._writer.isOpened():
            raise StreamMemError(f"{self.path}: OpenCV cannot write this video format")

    def write(self, timestamp: float, payload: Any, output: Any) -> None:
        frame = payload if self.draw_fn is None else self.draw_fn(payload, output)
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if self._writer is None:
            self._open_writer(frame.shape[1], frame.shape[0])
        if isinstance(self._writer, _FFmpegH264Writer):
            self._writer.write(frame)
        else:
            self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self, success: bool) -> None:
        if self._writer is not None:
            encoded = self._writer.release()
            success = success and encoded is not False
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
