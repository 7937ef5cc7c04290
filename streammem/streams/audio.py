"""Audio sources: files via soundfile (ffmpeg for formats it lacks, such as m4a/AAC), the microphone via
sounddevice; :func:`check_audio`, the checks every recording passes before a model hears it.

Both sources yield ``(timestamp_seconds, chunk)`` where ``chunk`` is mono ``float32`` audio at the model's
``sample_rate``, ``chunk_seconds`` long (the last chunk of a file may be shorter). Any input rate and
channel count is downmixed (channel mean) and resampled with ``torchaudio.functional.resample``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torchaudio.transforms as AT

from streammem.errors import InputError
from streammem.streams.chunkers import FixedChunker
from streammem.streams.live import DropOldestQueue
from streammem.streams.sources import existing_file

__all__ = [
    "StreamingResampler", "AudioFileSource", "MicrophoneSource", "AudioConditioning", "check_audio", "load_audio_file",
]

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


# ------------------------------------------------------------------------------------------- decoding
class _SoundfileDecoder:
    """wav, flac, ogg, mp3 ... through libsndfile, in blocks of about a second: ``(T, C)`` float32."""

    def __init__(self, path: Path, info: Any):
        self.path = path
        self.rate, self.channels, self.frames = int(info.samplerate), int(info.channels), int(info.frames)

    def blocks(self) -> Iterator[np.ndarray]:
        import soundfile

        read = 0
        try:
            with soundfile.SoundFile(str(self.path)) as audio:
                while len(data := audio.read(self.rate, dtype="float32", always_2d=True)):
                    read += len(data)
                    yield data
        except (soundfile.SoundFileError, RuntimeError) as error:
            raise InputError(
                self.path, f"cannot decode audio after {read} samples: {_soundfile_problem(error)}"
            ) from error
        if read < self.frames:
            raise InputError(self.path, f"truncated: header says {self.frames} samples, only {read} could be read")


class _FfmpegDecoder:
    """Formats libsndfile does not read (m4a/AAC, wma, ...) through the ffmpeg program, piped as float32
    PCM at the file's own rate and channel count, in blocks of about a second. ``frames`` is the container's
    duration estimate (exact only after decoding)."""

    def __init__(self, path: Path, rate: int, channels: int, frames: int):
        self.path, self.rate, self.channels, self.frames = path, rate, channels, frames

    @classmethod
    def probe(cls, path: Path) -> _FfmpegDecoder | None:
        """The decoder, or None when ffmpeg is missing or finds no audio stream."""
        import json
        import shutil
        import subprocess

        if shutil.which("ffprobe") is None or shutil.which("ffmpeg") is None:
            return None
        command = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                   "stream=sample_rate,channels:format=duration", "-of", "json", str(path)]  # fmt: skip
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return None
        try:
            info = json.loads(result.stdout)
            stream = info["streams"][0]
            rate, channels = int(stream["sample_rate"]), int(stream["channels"])
            duration = float(info.get("format", {}).get("duration", "nan"))
        except (ValueError, KeyError, IndexError, TypeError):
            return None
        if rate <= 0 or channels <= 0:
            return None
        return cls(path, rate, channels, round(duration * rate) if math.isfinite(duration) else 0)

    def blocks(self) -> Iterator[np.ndarray]:
        import subprocess

        command = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(self.path), "-map", "0:a:0",
                   "-f", "f32le", "-acodec", "pcm_f32le", "-"]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        block_bytes = 4 * self.channels * self.rate
        try:
            while data := process.stdout.read(block_bytes):
                usable = len(data) // (4 * self.channels) * 4 * self.channels
                yield np.frombuffer(data[:usable], dtype="<f4").reshape(-1, self.channels)
            problem = process.stderr.read().decode(errors="replace").strip().splitlines()
            if process.wait() != 0:
                raise InputError(self.path, f"ffmpeg cannot decode the audio ({(problem or ['no reason given'])[-1]})")
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            process.stdout.close()
            process.stderr.close()


def _open_audio(path: Path) -> _SoundfileDecoder | _FfmpegDecoder:
    """A decoder for ``path``: libsndfile where it reads the file, else ffmpeg (m4a/AAC ...)."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except (soundfile.SoundFileError, RuntimeError) as error:
        fallback = _FfmpegDecoder.probe(path)
        if fallback is None:
            raise InputError(path, f"cannot read audio: {_soundfile_problem(error)}") from error
        return fallback
    return _SoundfileDecoder(path, info)


# ------------------------------------------------------------------------------------------- checks
LOW_PEAK = 1 / 8  # below -18 dBFS the level is far under what the models were trained on
TARGET_PEAK = 0.5  # where a low-level recording is brought to
SILENT_PEAK = 1e-4  # -80 dBFS: nothing but the noise floor; amplifying it would only make noise
ACTIVE_CHANNEL_RATIO = 4.0  # one channel 12 dB louder (RMS) than every other one carries the signal


class AudioConditioning(NamedTuple):
    """What :func:`check_audio` decided for one recording.

    channel: the channel used alone, or None to average the channels; gain: factor applied to the mono
    signal; warnings: one line per problem found (and the fix applied).
    """

    channel: int | None
    gain: float
    warnings: tuple[str, ...]

    def apply(self, block: np.ndarray) -> np.ndarray:
        """A ``(T, C)`` block as mono float32 ``(T,)`` with the chosen channel and gain."""
        mono = block.mean(axis=1) if self.channel is None else block[:, self.channel]
        return (mono * self.gain).astype(np.float32, copy=False) if self.gain != 1.0 else mono.astype(np.float32)


def check_audio(
    blocks: Iterable[np.ndarray], rate: int, source: str | os.PathLike, sample_rate: int = 16000
) -> AudioConditioning:
    """Check a recording before a model hears it, in one pass over its ``(T, C)`` blocks.

    Refused (InputError): NaN or infinite samples. Fixed with a warning: a multichannel recording whose
    signal is in one channel (that channel is used instead of the mean, which would mix in the others'
    noise at half level); a peak below 1/8 of full scale (gain-normalised to a peak of 0.5). Warned: a
    silent recording, and a rate below ``sample_rate`` (e.g. 8 kHz telephone audio lacks the upper band
    the model was trained with). Warnings go to stderr, one line each; all are also returned.
    """
    peaks, squares, count, mean_peak = None, None, 0, 0.0
    for block in blocks:
        if not np.isfinite(block).all():
            raise InputError(source, "audio contains NaN or infinite samples")
        block_peaks = np.abs(block).max(axis=0, initial=0.0)
        peaks = block_peaks if peaks is None else np.maximum(peaks, block_peaks)
        block_squares = np.square(block, dtype=np.float64).sum(axis=0)
        squares = block_squares if squares is None else squares + block_squares
        mean_peak = max(mean_peak, float(np.abs(block.mean(axis=1)).max(initial=0.0)))
        count += len(block)
    if count == 0:
        raise InputError(source, "audio file has no samples")
    warnings: list[str] = []
    channel, peak = None, mean_peak
    rms = np.sqrt(squares / count)
    if len(rms) > 1:
        loudest = int(rms.argmax())
        others = np.delete(rms, loudest)
        if rms[loudest] > 0 and (others * ACTIVE_CHANNEL_RATIO <= rms[loudest]).all():
            channel, peak = loudest, float(peaks[loudest])
            warnings.append(
                f"the signal is in channel {loudest + 1} of {len(rms)} (the others are at least 12 dB quieter): "
                "using that channel alone instead of the channel mean"
            )
    gain = 1.0
    if peak < SILENT_PEAK:
        warnings.append("the audio is silent (peak below -80 dBFS)")
    elif peak < LOW_PEAK:
        gain = TARGET_PEAK / peak
        warnings.append(
            f"low level: peak {20 * math.log10(peak):.0f} dBFS, gain-normalised by {20 * math.log10(gain):+.0f} dB"
        )
    if rate < sample_rate:
        warnings.append(
            f"sampled at {rate} Hz, so nothing above {rate // 2} Hz is recorded (band-limited, e.g. telephone "
            f"audio); the model expects {sample_rate} Hz audio: expect more errors"
        )
    from streammem.errors import warn

    for message in warnings:
        warn(f"{source}: {message}")
    return AudioConditioning(channel, gain, tuple(warnings))


def load_audio_file(path: str | os.PathLike, sample_rate: int = 16000) -> np.ndarray:
    """A whole audio file (any format libsndfile or ffmpeg reads) as checked mono float32 at ``sample_rate``.

    The checks and fixes of :func:`check_audio` apply; other rates are resampled
    (``torchaudio.functional.resample``).
    """
    path = existing_file(path)
    if path.stat().st_size == 0:
        raise InputError(path, "audio file is empty")
    decoder = _open_audio(path)
    audio = np.concatenate(list(decoder.blocks()) or [np.zeros((0, decoder.channels), np.float32)])
    mono = check_audio([audio], decoder.rate, path, sample_rate).apply(audio)
    if decoder.rate != sample_rate:
        import torchaudio.functional as AF

        mono = AF.resample(torch.from_numpy(np.ascontiguousarray(mono)), decoder.rate, sample_rate).numpy()
    return np.ascontiguousarray(mono, dtype=np.float32)


class AudioFileSource:
    """Fixed-length mono chunks of an audio file (anything libsndfile reads: wav, flac, ogg, mp3 ...; other
    formats such as m4a/AAC through ffmpeg).

    The file is read in blocks of about a second, so memory stays bounded for hour-long recordings. The first
    pass first reads the file once through :func:`check_audio` (NaN refused; the active channel of a
    multichannel file picked, a low level normalised, a narrow band warned about), then streams it; a later
    pass streams it with the same conditioning (its warnings are not repeated).
    """

    live = False
    dropped = 0

    def __init__(self, path: str | os.PathLike, *, sample_rate: int = 16000, chunk_seconds: float = 0.5):
        self.path = existing_file(path)
        self.sample_rate = sample_rate
        self.chunk_samples = max(1, round(chunk_seconds * sample_rate))
        self._decoder = _open_audio(self.path)
        if isinstance(self._decoder, _SoundfileDecoder) and self._decoder.frames <= 0:
            raise InputError(self.path, "audio file has no samples")
        self.file_rate, self.frames = self._decoder.rate, self._decoder.frames
        self.duration = self.frames / self.file_rate
        self.total = math.ceil(math.ceil(self.frames * sample_rate / self.file_rate) / self.chunk_samples) or None
        self.conditioning: AudioConditioning | None = None

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        if self.conditioning is None:
            self.conditioning = check_audio(self._decoder.blocks(), self.file_rate, self.path, self.sample_rate)
        resampler = StreamingResampler(self.file_rate, self.sample_rate)
        chunker = FixedChunker(self.chunk_samples)
        emitted = 0
        for data in self._decoder.blocks():
            for chunk in chunker.push(resampler.push(torch.from_numpy(self.conditioning.apply(data)))):
                yield emitted / self.sample_rate, chunk.numpy()
                emitted += len(chunk)
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
