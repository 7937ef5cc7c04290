"""What every source provides, and ``open_source``: one string (CLI ``--source``) to the right source."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Protocol

from streammem.errors import InputError

__all__ = ["Source", "open_source", "existing_file", "is_url"]


class Source(Protocol):
    """An iterable of ``(timestamp_seconds, payload)``.

    ``live``: whether it runs on the wall clock (and may drop); ``total``: number of items when known in
    advance (files), else None; ``dropped``: items discarded so far because the consumer fell behind.
    """

    live: bool
    total: int | None

    @property
    def dropped(self) -> int: ...

    def __iter__(self) -> Iterator[tuple[float, Any]]: ...


_MAX_CAMERA_INDEX = 2**31 - 1  # OpenCV takes the index as a C int


def is_url(spec: str) -> bool:
    """Whether ``spec`` names a network stream (``rtsp://``, ``http://`` ...) rather than a file."""
    return "://" in spec


def existing_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path, or an InputError saying why it cannot be read as a file."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if not path.is_file():
        raise InputError(path, "not a file")
    return path


def open_source(spec: str | int, kind: Literal["video", "audio"] = "video", **options: Any) -> Source:
    """The source ``spec`` names: ``"0"`` a camera, ``"mic"`` / ``"mic:2"`` a microphone, a URL a network
    stream (OpenCV), anything else a file (decord for video, soundfile for audio).

    ``options`` go to the source's constructor (``resize``, ``sample_rate``, ``chunk_seconds`` ...).
    """
    from streammem.streams.audio import AudioFileSource, MicrophoneSource
    from streammem.streams.video import OpenCVSource, VideoFileSource

    text = str(spec).strip()
    is_mic = text == "mic" or text.startswith("mic:")
    if kind == "video":
        if is_mic:
            raise InputError(text, "a microphone is not a video source")
        if text.isdigit():
            if int(text) > _MAX_CAMERA_INDEX:
                raise InputError(text, f"camera index out of range (0 to {_MAX_CAMERA_INDEX})")
            return OpenCVSource(int(text), **options)
        if is_url(text):
            return OpenCVSource(text, **options)
        return VideoFileSource(text, **options)
    if kind == "audio":
        if is_mic:
            device = text[4:] or None
            return MicrophoneSource(int(device) if device and device.isdigit() else device, **options)
        if text.isdigit() or is_url(text):
            raise InputError(text, "audio sources are files or 'mic' / 'mic:<device>'")
        return AudioFileSource(text, **options)
    raise ValueError(f"kind must be 'video' or 'audio', got {kind!r}")
