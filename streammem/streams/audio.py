"""Audio sources: files via soundfile, the microphone via sounddevice.

Both yield ``(timestamp_seconds, chunk)`` where ``chunk`` is mono ``float32`` audio at the model's
``sample_rate``, ``chunk_seconds`` long (the last chunk of a file may be shorter). Any input rate and
channel count is downmixed (channel mean) and resampled with ``torchaudio.functional.resample``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torchaudio.transforms as AT

from streammem.errors import InputError
from streammem.streams.chunkers import FixedChunker
from streammem.streams.live import DropOldestQueue
from streammem.streams.sources import existing_file

__all__ = ["StreamingResampler", "AudioFileSource", "MicrophoneSource"]

log = logging.getLogger(__name__)

_LOWPASS_FILTER_WIDTH = 6  # torchaudio's defaults; the context below is derived from them
_ROLLOFF = 0.99


class StreamingResampler:
    """Resample a 1-D signal that arrives in pieces; the concatenated output equals one ``resample`` call.

    ``torchaudio.functional.resample`` (here its kernel-caching ``transforms.Resample``) only takes whole
    signals. Each call here resamples the new samples together with enough real context on both sides to
    cover the sinc kernel, starting on a whole period of ``orig_freq / gcd`` input samples so output phases
    line up, and keeps only the new outputs. The cost is a lag of that context (a few samples) until
    ``flush()``.
    """

    def __init__(self, orig_freq: int, new_freq: int):
        gcd = math.gcd(int(orig_freq), int(new_freq))
        self.orig, self.new = int(orig_freq) // gcd, int(new_freq) // gcd
        width = math.ceil(_LOWPASS_FILTER_WIDTH * self.orig / (min(self.orig, self.new) * _ROLLOFF))
        self._context = self.orig * math.ceil((width + self.orig) / self.orig)
        self._buffer = torch.zeros(self._context)  # zeros before the start, as torchaudio pads
        self._received = 0
        self._emitted = 0
        self._resampler = AT.Resample(
            self.orig, self.new, lowpass_filter_width=_LOWPASS_FILTER_WIDTH, rolloff=_ROLLOFF
        )

    def _resample(self, segment: torch.Tensor, count: int) -> torch.Tensor:
        out = self._resampler(segment)
        first = self._context * self.new // self.orig
        self._emitted += count
        return out[first : first + count]

    def push(self, samples: torch.Tensor) -> torch.Tensor:
        """Add ``samples`` ``[T]``; return the resampled samples that are now final."""
        if self.orig == self.new:
            return samples
        self._buffer = torch.cat([self._buffer, samples.to(self._buffer.dtype)])
        self._received += len(samples)
        ready = (len(self._buffer) - 2 * self._context) // self.orig * self.orig
        if ready <= 0:
            return self._buffer.new_zeros(0)
        out = self._resample(self._buffer[: ready + 2 * self._context], ready * self.new // self.orig)
        self._buffer = self._buffer[ready:]
        return out

    def flush(self) -> torch.Tensor:
        """The remaining output samples (the signal is zero after its end, as in torchaudio)."""
        if self.orig == self.new:
            return self._buffer.new_zeros(0)
        tail = len(self._buffer) - self._context
        padding = self._buffer.new_zeros(self._context + (-tail) % self.orig)
        count = math.ceil(self._received * self.new / self.orig) - self._emitted
        out = self._resample(torch.cat([self._buffer, padding]), count)
        self._buffer = self._buffer[:0]
        return out


def _soundfile_problem(error: Exception) -> str:
    """libsndfile's reason without the path soundfile prepends (InputError names the file itself)."""
    return str(getattr(error, "error_string", None) or error)


class AudioFileSource:
    """Fixed-length mono chunks of an audio file (any format libsndfile reads: wav, flac, ogg ...).

    The file is read in blocks of about a second, so memory stays bounded for hour-long recordings.
    """

    live = False
    dropped = 0

    def __init__(self, path: str | os.PathLike, *, sample_rate: int = 16000, chunk_seconds: float = 0.5):
        import soundfile

        self.path = existing_file(path)
        self.sample_rate = sample_rate
        self.chunk_samples = max(1, round(chunk_seconds * sample_rate))
        try:
            info = soundfile.info(str(self.path))
        except (soundfile.SoundFileError, RuntimeError) as error:
            raise InputError(self.path, f"cannot read audio: {_soundfile_problem(error)}") from error
        if info.frames <= 0:
            raise InputError(self.path, "audio file has no samples")
        self.file_rate, self.frames = int(info.samplerate), int(info.frames)
        self.duration = self.frames / self.file_rate
        self.total = math.ceil(math.ceil(self.frames * sample_rate / self.file_rate) / self.chunk_samples)

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        import soundfile

        resampler = StreamingResampler(self.file_rate, self.sample_rate)
        chunker = FixedChunker(self.chunk_samples)
        emitted = 0
        read = 0
        try:
            with soundfile.SoundFile(str(self.path)) as audio:
                while block := len(data := audio.read(self.file_rate, dtype="float32", always_2d=True)):
                    read += block
                    for chunk in chunker.push(resampler.push(torch.from_numpy(data.mean(axis=1)))):
                        yield emitted / self.sample_rate, chunk.numpy()
                        emitted += len(chunk)
        except (soundfile.SoundFileError, RuntimeError) as error:
            raise InputError(
                self.path, f"cannot decode audio after {read} samples: {_soundfile_problem(error)}"
            ) from error
        if read < self.frames:
            raise InputError(
                self.path, f"truncated: header says {self.frames} samples, only {read} could be read"
            )
        for chunk in chunker.push(resampler.flush()) + chunker.flush():
            yield emitted / self.sample_rate, chunk.numpy()
            emitted += len(chunk)


class MicrophoneSource:
    """Fixed-length mono chunks from a microphone (sounddevice / PortAudio), captured live.

    PortAudio's callback thread only copies each block into a ``DropOldestQueue`` of ``queue_size`` blocks
    (the torchaudio device-ASR pattern); if the model falls behind, the oldest blocks are dropped and
    counted in ``dropped``. Audio is captured at the device's native rate and resampled here, since many
    devices reject 16 kHz. Timestamps count dropped audio too, so they stay on the wall clock. The stream
    runs until the consumer stops, or for ``duration`` seconds if given.

    ``stream_factory`` builds the input stream (``sounddevice.InputStream`` by default) and
    ``query_device(device)`` returns its info dict; tests inject fakes for both.
    """

    live = True
    total = None
    stall_timeout = 5.0  # seconds without a block before the device counts as stalled

    def __init__(
        self,
        device: int | str | None = None,
        *,
        sample_rate: int = 16000,
        chunk_seconds: float = 0.1,
        queue_size: int = 100,
        duration: float | None = None,
        stream_factory: Callable[..., Any] | None = None,
        query_device: Callable[[int | str | None], dict] | None = None,
    ):
        import sounddevice

        self.name = "microphone" if device is None else f"microphone {device}"
        self.device = device
        self.sample_rate = sample_rate
        self.chunk_seconds = chunk_seconds
        self.queue_size = queue_size
        self.duration = duration
        self._stream_factory = stream_factory or sounddevice.InputStream
        query = query_device or (lambda dev: sounddevice.query_devices(dev, kind="input"))
        try:
            info = query(device)
        except (sounddevice.PortAudioError, ValueError) as error:
            raise InputError(self.name, f"no audio input device ({error})") from error
        if not info or int(info.get("max_input_channels", 0)) < 1:
            raise InputError(self.name, "no audio input device (the device has no input channels)")
        self.capture_rate = int(info["default_samplerate"])
        self._queue: DropOldestQueue | None = None

    @property
    def dropped(self) -> int:
        """Captured blocks discarded because the consumer fell behind."""
        return 0 if self._queue is None else self._queue.dropped

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        import sounddevice

        queue: DropOldestQueue[np.ndarray] = DropOldestQueue(self.queue_size)
        self._queue = queue
        block = max(1, round(self.chunk_seconds * self.capture_rate))

        def callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            if status:
                log.debug("%s: %s", self.name, status)
            queue.put(indata.mean(axis=1).astype(np.float32))  # copy: PortAudio reuses `indata`

        try:
            stream = self._stream_factory(
                device=self.device,
                channels=1,
                samplerate=self.capture_rate,
                blocksize=block,
                dtype="float32",
                callback=callback,
            )
        except (sounddevice.PortAudioError, ValueError) as error:
            raise InputError(self.name, f"cannot open audio input ({error})") from error
        resampler = StreamingResampler(self.capture_rate, self.sample_rate)
        chunker = FixedChunker(max(1, round(self.chunk_seconds * self.sample_rate)))
        emitted = 0
        limit = None if self.duration is None else round(self.duration * self.sample_rate)
        with stream:
            while limit is None or emitted < limit:
                try:
                    data = queue.get(timeout=self.stall_timeout)
                except TimeoutError:
                    raise InputError(self.name, f"no audio received for {self.stall_timeout:g} s") from None
                if data is None:
                    break
                for chunk in chunker.push(resampler.push(torch.from_numpy(data))):
                    dropped_seconds = queue.dropped * block / self.capture_rate
                    yield emitted / self.sample_rate + dropped_seconds, chunk.numpy()
                    emitted += len(chunk)
