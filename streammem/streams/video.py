"""Video sources: decord for files (with random access for evaluation), OpenCV for cameras and URLs.

Every source yields ``(timestamp_seconds, frame)`` with ``frame`` an RGB ``uint8`` array of shape
``(H, W, 3)``. Files never drop frames; live sources (camera, RTSP/HTTP) read in a background thread into
a small drop-oldest queue so the model always sees recent frames, and count what they dropped.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import cv2
import numpy as np

from streammem.errors import InputError
from streammem.streams.live import DropOldestQueue
from streammem.streams.sources import existing_file, is_url

__all__ = ["VideoFileSource", "OpenCVSource"]

log = logging.getLogger(__name__)

Size = tuple[int, int]  # (width, height), OpenCV's order


def _display_name(source: int | str | os.PathLike) -> str:
    """A name for messages: ``camera 0``, a URL without its password, or the path."""
    if isinstance(source, int):
        return f"camera {source}"
    text = str(source)
    if is_url(text):
        parts = urllib.parse.urlsplit(text)
        if parts.password is not None:
            host = parts.hostname or ""
            netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
            text = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return text


def _import_decord() -> Any:
    """``import decord`` with its native library kept out of the process-wide symbol scope.

    decord loads ``libdecord.so`` with ``RTLD_GLOBAL``, which puts its bundled ``libxcb`` copy first in
    every later symbol lookup. OpenCV's Qt window plugin, loaded at ``cv2.namedWindow``, then binds part of
    its xcb calls to that copy while libX11 (bound at ``import cv2``) uses the system one: one connection
    driven by two libxcb builds segfaults inside ``namedWindow``. decord needs no global symbols (it is
    called only through its own ctypes handle), so it is imported with ``RTLD_LOCAL``.
    """
    import ctypes

    if "decord" in sys.modules:
        return sys.modules["decord"]
    saved = ctypes.RTLD_GLOBAL
    ctypes.RTLD_GLOBAL = ctypes.RTLD_LOCAL  # read by decord's loader at import time only
    try:
        import decord
    finally:
        ctypes.RTLD_GLOBAL = saved
    return decord


def _to_rgb(frame_bgr: np.ndarray, resize: Size | None) -> np.ndarray:
    """OpenCV's BGR frame as RGB, resized to ``(width, height)`` if asked."""
    if resize is not None and (frame_bgr.shape[1], frame_bgr.shape[0]) != tuple(resize):
        frame_bgr = cv2.resize(frame_bgr, tuple(resize), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)


class OpenCVSource:
    """Frames from ``cv2.VideoCapture``: a camera index, an RTSP/HTTP URL or a video file.

    Live sources (camera, URL) capture in a reader thread into a ``DropOldestQueue`` of ``queue_size``
    frames: if the consumer is slower, the oldest frames are dropped and counted in ``dropped``. Timestamps
    are seconds since capture started. A live source that stops delivering frames is reopened, waiting
    ``retry_backoff * 2**k`` s before attempt ``k``, at most ``max_retries`` times over the whole stream
    (frames arriving in between do not refill the budget, so a stream that keeps stalling ends); it then
    ends cleanly with the frames it had, and a warning gives the frames, attempts and drops. A reopened
    finite stream (a file behind a URL) resumes after the last delivered frame instead of replaying it. Files are read in the caller's thread,
    never drop frames, and are timestamped ``index / fps``.

    ``capture_factory`` builds the capture object (``cv2.VideoCapture`` by default); tests inject fakes.
    """

    def __init__(
        self,
        source: int | str | os.PathLike,
        *,
        resize: Size | None = None,
        live: bool | None = None,
        queue_size: int = 2,
        max_retries: int = 3,
        retry_backoff: float = 0.5,
        capture_factory: Callable[[int | str], Any] = cv2.VideoCapture,
    ):
        if isinstance(source, os.PathLike):
            source = str(source)
        self.source = source
        self.name = _display_name(source)
        self.live = (isinstance(source, int) or is_url(source)) if live is None else live
        if not self.live and not isinstance(source, int):
            existing_file(source)
        self.resize = resize
        self.queue_size = queue_size
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self._capture_factory = capture_factory
        self._queue: DropOldestQueue | None = None
        self.reconnects = 0  # reconnection attempts used so far (the budget is max_retries in all)
        self.replayed_skipped = 0  # frames read again after a reconnect and discarded
        self._capture = self._open()
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps: float | None = fps if fps > 0 else None
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.total: int | None = count if count > 0 and not self.live else None

    @property
    def dropped(self) -> int:
        """Frames discarded so far because the consumer fell behind (always 0 for files)."""
        return 0 if self._queue is None else self._queue.dropped

    def _try_open(self) -> Any | None:
        try:
            capture = self._capture_factory(self.source)
        except cv2.error:  # e.g. an index OpenCV's bindings cannot convert
            return None
        if capture.isOpened():
            return capture
        capture.release()
        return None

    def _open(self) -> Any:
        capture = self._try_open()
        if capture is not None:
            return capture
        if isinstance(self.source, int):
            raise InputError(
                self.name, "cannot open camera (not connected, in use by another program, or no permission)"
            )
        if is_url(self.source):
            raise InputError(
                self.name, "cannot open stream (unreachable, wrong URL, or unsupported protocol)"
            )
        raise InputError(self.name, "cannot decode video (not a video file, or corrupt)")

    def _take_capture(self) -> Any:
        """The capture opened by ``__init__`` for the first pass, a fresh one for later passes."""
        capture, self._capture = self._capture, None
        return capture if capture is not None else self._open()

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        return self._iter_live() if self.live else self._iter_file()

    def _iter_file(self) -> Iterator[tuple[float, np.ndarray]]:
        capture = self._take_capture()
        try:
            index = 0
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                timestamp = index / self.fps if self.fps else capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                yield timestamp, _to_rgb(frame, self.resize)
                index += 1
        finally:
            capture.release()

    def _iter_live(self) -> Iterator[tuple[float, np.ndarray]]:
        queue: DropOldestQueue[tuple[float, np.ndarray]] = DropOldestQueue(self.queue_size)
        self._queue = queue
        stop = threading.Event()
        reader = threading.Thread(
            target=self._capture_loop,
            args=(self._take_capture(), queue, stop),
            name=f"capture {self.name}",
            daemon=True,
        )
        reader.start()
        try:
            while (item := queue.get()) is not None:
                yield item
        finally:
            stop.set()
            reader.join(timeout=5.0)  # a stalled network read can block for ffmpeg's timeout; it is a daemon
            if reader.is_alive():
                log.warning("%s: capture thread still blocked in a read; leaving it to finish", self.name)

    def _capture_loop(self, capture: Any, queue: DropOldestQueue, stop: threading.Event) -> None:
        """Reader thread: read frames into ``queue``; reopen a failed source at most ``max_retries`` times
        over the whole stream (the budget never refills, so a source that keeps stalling ends)."""
        start = time.monotonic()
        frames = 0
        try:
            while not stop.is_set():
                ok, frame = capture.read() if capture is not None else (False, None)
                if ok:
                    frames += 1
                    queue.put((time.monotonic() - start, _to_rgb(frame, self.resize)))
                    continue
                if capture is not None:
                    length = capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0
                    capture.release()
                    capture = None
                    if 0 < length <= frames:  # a finite stream that simply ended
                        break
                if self.reconnects >= self.max_retries:
                    break
                self.reconnects += 1
                log.info(
                    "%s: disconnected; reconnection attempt %d of %d", self.name, self.reconnects, self.max_retries
                )
                if stop.wait(self.retry_backoff * 2 ** (self.reconnects - 1)):
                    break
                capture = self._try_open()
                if capture is not None and not self._resume_at(capture, frames):
                    capture.release()
                    capture = None
            if not stop.is_set():
                log.warning(
                    "%s: stream ended after %d frames (%d of %d reconnection attempts used, %d frames dropped "
                    "because the model fell behind)",
                    self.name, frames, self.reconnects, self.max_retries, queue.dropped,
                )  # fmt: skip
        except BaseException as error:  # noqa: BLE001 - handed to the consumer thread, which re-raises it
            queue.close(error)
        else:
            queue.close()
        finally:
            if capture is not None:
                capture.release()

    def _resume_at(self, capture: Any, position: int) -> bool:
        """After a reconnect, skip the frames already delivered when the source restarts from its beginning.

        A finite stream (a file behind a URL: it reports a frame count) restarts at frame 0 when reopened;
        feeding those frames again would replay the video and, if it stalls at the same place, loop forever.
        It is seeked to ``position``, or read forward to it where seeking is not supported. Live streams
        (no frame count) continue from the present. Returns False if the position cannot be reached.
        """
        if position == 0 or (capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) <= 0:
            return True
        capture.set(cv2.CAP_PROP_POS_FRAMES, position)
        current = int(capture.get(cv2.CAP_PROP_POS_FRAMES) or 0)
        for _ in range(max(0, position - current)):
            if not capture.grab():
                return False
        self.replayed_skipped += max(0, position - current)
        return True

    def close(self) -> None:
        """Release a capture that was opened but never iterated."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class VideoFileSource:
    """Frames of a video file, decoded by decord, with random access (``frame(i)``) for evaluation.

    decord is used for its frame-accurate random access; if it cannot open the file (an unusual container,
    or decord missing for the platform) the file is read with OpenCV instead, where ``frame(i)`` seeks,
    which is only frame-exact for intra-coded or well-indexed files. ``resize`` is ``(width, height)``.
    Timestamps are the frames' presentation times (decord) or ``index / fps`` (OpenCV).
    """

    live = False
    dropped = 0

    def __init__(self, path: str | os.PathLike, *, resize: Size | None = None):
        self.path = existing_file(path)
        self.resize = resize
        self._reader = self._open_decord()
        self._capture: Any | None = None
        if self._reader is not None:
            self.backend = "decord"
            self.total = len(self._reader)
            self.fps = float(self._reader.get_avg_fps())
            self._timestamps = (
                self._reader.get_frame_timestamp(range(self.total))[:, 0] if self.total else None
            )
        else:
            self.backend = "opencv"
            fallback = OpenCVSource(self.path, resize=resize, live=False)
            self.total = fallback.total or 0
            self.fps = fallback.fps or 0.0
            fallback.close()
        if self.total == 0:
            raise InputError(self.path, "video has no frames")

    def _open_decord(self) -> Any | None:
        try:
            decord = _import_decord()
        except ImportError:
            return None
        size = {} if self.resize is None else {"width": int(self.resize[0]), "height": int(self.resize[1])}
        try:
            return decord.VideoReader(str(self.path), ctx=decord.cpu(0), **size)
        except (RuntimeError, decord.DECORDError) as error:
            log.debug("%s: decord cannot open it (%s); using OpenCV", self.path, error)
            return None

    def __len__(self) -> int:
        return self.total

    def timestamp(self, index: int) -> float:
        """Presentation time of frame ``index`` in seconds."""
        if self._reader is not None:
            return float(self._timestamps[index])
        return index / self.fps if self.fps else 0.0

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (0-based) as RGB ``uint8`` ``(H, W, 3)``."""
        if not 0 <= index < self.total:
            raise IndexError(f"{self.path}: frame {index} out of range [0, {self.total})")
        if self._reader is not None:
            try:
                return self._reader[index].asnumpy()
            except Exception as error:  # decord raises its own error types from native code
                raise InputError(self.path, f"cannot decode frame {index}: {error}") from error
        if self._capture is None:
            self._capture = cv2.VideoCapture(str(self.path))
        if int(self._capture.get(cv2.CAP_PROP_POS_FRAMES)) != index:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = self._capture.read()
        if not ok:
            raise InputError(self.path, f"cannot decode frame {index}")
        return _to_rgb(frame, self.resize)

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        if self._reader is None:
            yield from OpenCVSource(self.path, resize=self.resize, live=False)
            return
        self._reader.seek(0)
        for index in range(self.total):
            try:
                frame = self._reader.next().asnumpy()
            except Exception as error:  # decord raises its own error types from native code
                raise InputError(self.path, f"cannot decode frame {index}: {error}") from error
            yield float(self._timestamps[index]), frame

    def close(self) -> None:
        """Release the OpenCV capture used for random access (decord frees its decoder when collected)."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
