"""Running the streaming step over audio and turning its emitted pieces into timed words.

The step emits target pieces only when a word is complete (the next word-initial piece or the end of
sentence was written); this module joins them into words and stamps each with the ms of source audio
read when it was emitted (SimulEval's ``delays``) and that plus the compute time so far (``elapsed``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from streammem.models.amt_simulst.model import AMTSimulST

__all__ = ["TimedWords", "SegmentTranslator", "translate_stream", "split_on_pauses", "frame_energies",
           "segments_from_energies", "translate_talk", "translate_recording", "translate_segments"]

SAMPLES_PER_MS = 16
HOP = 160  # 10 ms energy frames of the pause detector


@dataclass
class TimedWords:
    """Words of one translated segment with their delays and elapsed times (ms), and the source length."""

    words: list[str]
    delays: list[float]
    elapsed: list[float]
    source_length: float

    @property
    def text(self) -> str:
        return " ".join(self.words)


def _chunks(audio: Tensor, size: int) -> list[Tensor]:
    """(B, S) -> chunks of ``size`` samples; the last one shorter, padded to whole 640-sample states."""
    out = [audio[:, i:i + size] for i in range(0, audio.shape[1], size)]
    if out and out[-1].shape[1] % 640:
        out[-1] = F.pad(out[-1], (0, (-out[-1].shape[1]) % 640))
    return out


class SegmentTranslator:
    """One segment (sentence) through the streaming step as its audio arrives, words stamped as emitted.

    The segment starts after the model listened to ``context`` (its talk's audio before it, a whole number of
    chunks; see :func:`translate_talk`). ``push(samples)`` takes audio of any length and steps the model
    on every full chunk; ``push(samples, end=True)`` ends the segment (the rest is padded to whole 40 ms
    states). ``on_words(words, delay_ms)`` is called as words are emitted; ``result()`` gives them all.
    """

    def __init__(self, model: AMTSimulST, context: Tensor | None = None,
                 on_words: Callable[[list[str], float], None] | None = None) -> None:
        self.model = model
        self.on_words = on_words
        self.device = next(model.parameters()).device
        with torch.no_grad():
            state = model.initial_state(1)
            if context is not None and context.numel():
                for chunk in _chunks(context.to(self.device).unsqueeze(0), model.chunk_samples):
                    state = model.listen(chunk, state)
            self.state = model.start_segment(state, torch.ones(1, dtype=torch.bool, device=self.device))
        self.pending = torch.zeros(0)
        self.heard = 0  # samples of the segment received
        self.words: list[str] = []
        self.delays: list[float] = []
        self.elapsed: list[float] = []
        self.done = False
        self.began = time.perf_counter()

    def push(self, samples: Tensor | np.ndarray, end: bool = False) -> None:
        """Hear ``samples`` (S,) float 16 kHz; step on every full chunk, and on the rest when ``end``."""
        samples = torch.as_tensor(samples, dtype=torch.float32).flatten()
        self.heard += samples.numel()  # the segment's length counts audio heard after its translation ended
        if self.done:
            return
        self.pending = torch.cat([self.pending, samples])
        size = self.model.chunk_samples
        while self.pending.numel() >= size and not self.done:
            chunk, self.pending = self.pending[:size], self.pending[size:]
            self._step(chunk, end and self.pending.numel() == 0, self.heard - self.pending.numel())
        if end and not self.done:  # the rest, or one silent state when the segment ended on a chunk boundary
            rest = self.pending if self.pending.numel() else torch.zeros(640)
            self.pending = torch.zeros(0)
            self._step(F.pad(rest, (0, (-rest.numel()) % 640)), True, self.heard)

    @torch.no_grad()
    def _step(self, chunk: Tensor, end: bool, read: int) -> None:
        out, self.state = self.model(chunk.to(self.device).unsqueeze(0), self.state,
                                     torch.tensor([end], device=self.device))
        self.done = end  # the step writes everything at the end; a segment ends once
        ids = out.tokens[0][out.new[0]].tolist()
        if ids:
            delay = read / SAMPLES_PER_MS
            compute = (time.perf_counter() - self.began) * 1000
            new_words = "".join(self.model.vocabulary[t] for t in ids).split()
            self.words += new_words
            self.delays += [delay] * len(new_words)
            self.elapsed += [delay + compute] * len(new_words)
            if self.on_words is not None:
                self.on_words(new_words, delay)
        self.done = self.done or bool(out.ended[0])

    def result(self) -> TimedWords:
        return TimedWords(self.words, self.delays, self.elapsed, self.heard / SAMPLES_PER_MS)


def translate_stream(model: AMTSimulST, audio: Tensor, context: Tensor | None = None,
                     on_words: Callable[[list[str], float], None] | None = None) -> TimedWords:
    """Translate one segment ``audio`` (S,) float 16 kHz, after listening to ``context`` (its talk's audio
    before it, a whole number of chunks). ``on_words(words, delay_ms)`` is called as words are emitted."""
    segment = SegmentTranslator(model, context, on_words)
    size = model.chunk_samples
    for i in range(0, audio.shape[0], size):
        segment.push(audio[i:i + size], end=i + size >= audio.shape[0])
    return segment.result()


def frame_energies(audio: np.ndarray) -> np.ndarray:
    """Energy in dB of each whole 10 ms frame of ``audio`` (S,) float 16 kHz."""
    frames = len(audio) // HOP
    return 10 * np.log10((audio[: frames * HOP].reshape(frames, HOP) ** 2).mean(1) + 1e-10)


def split_on_pauses(audio: np.ndarray, min_pause: float = 0.3, floor_db: float = 35.0) -> list[tuple[int, int]]:
    """Sentence-like segments of a recording, (start, end) samples, split at pauses of ``min_pause`` s.

    The model translates one segment (sentence) at a time, as MuST-C segments it; a file or microphone
    recording has no segmentation, so 10 ms frames more than ``floor_db`` below the loudest are silence
    (a plain energy detector: enough for clean recordings such as the bundled demo).
    """
    return segments_from_energies(frame_energies(audio), len(audio), min_pause, floor_db)


def segments_from_energies(energy: np.ndarray, samples: int, min_pause: float = 0.3, floor_db: float = 35.0
                           ) -> list[tuple[int, int]]:
    """:func:`split_on_pauses` from the recording's 10 ms frame energies (dB) and its length in samples."""
    frames = len(energy)
    if frames == 0:
        return []
    speech = energy > energy.max() - floor_db
    segments, start, silent = [], None, 0
    for i, is_speech in enumerate(speech):
        if is_speech:
            start = i if start is None else start
            silent = 0
        elif start is not None:
            silent += 1
            if silent * HOP >= min_pause * 16000:
                segments.append((start * HOP, (i - silent + 1) * HOP))
                start, silent = None, 0
    if start is not None:
        segments.append((start * HOP, (frames - silent) * HOP))
    pad = 1600  # keep 100 ms around each segment (word onsets and endings are quiet)
    return [(max(0, a - pad), min(samples, b + pad)) for a, b in segments if b - a >= 1600]


def translate_talk(model: AMTSimulST, audio: np.ndarray, context_seconds: float = 2.0,
                   on_words: Callable[[list[str], float], None] | None = None
                   ) -> list[tuple[tuple[int, int], TimedWords]]:
    """Translate a recording segment by segment (:func:`split_on_pauses`), each after listening to the talk
    since the previous segment began (at most ``context_seconds``, whole chunks), as in training.
    ``on_words(words, time_s)`` gets the words with their emission time in the recording (s)."""
    return translate_recording(model, lambda: [audio], context_seconds, on_words)


def translate_recording(model: AMTSimulST, pieces: Callable[[], Iterable[np.ndarray]], context_seconds: float = 2.0,
                        on_words: Callable[[list[str], float], None] | None = None
                        ) -> list[tuple[tuple[int, int], TimedWords]]:
    """:func:`translate_talk` for a recording of any length, in bounded memory: ``pieces()`` yields its mono
    16 kHz audio in pieces of any size and is called twice. The first pass keeps only the 10 ms energies
    (400 bytes per second of audio) to find the segments as :func:`split_on_pauses` finds them; the second
    translates them, holding only the audio still to be fed and the next segment's context. The result
    equals translating the whole recording at once."""
    energies, rest, total = [], np.zeros(0, np.float32), 0
    for piece in pieces():
        data = np.concatenate([rest, np.asarray(piece, np.float32).ravel()])
        total += len(data) - len(rest)
        whole = len(data) // HOP * HOP
        energies.append(frame_energies(data[:whole]))
        rest = data[whole:]
    segments = segments_from_energies(np.concatenate(energies) if energies else np.zeros(0), total)
    size = model.chunk_samples
    keeps = [min(start - (segments[i - 1][0] if i > 0 else start), int(context_seconds * 16000)) // size * size
             for i, (start, _) in enumerate(segments)]
    out: list[tuple[tuple[int, int], TimedWords]] = []
    buffer, offset, fed, i = np.zeros(0, np.float32), 0, 0, 0
    segment: SegmentTranslator | None = None
    for piece in pieces():
        if i >= len(segments):
            break
        buffer = np.concatenate([buffer, np.asarray(piece, np.float32).ravel()])
        heard = offset + len(buffer)
        while i < len(segments):
            start, end = segments[i]
            if segment is None:
                if heard < start:
                    break
                context = torch.from_numpy(buffer[start - keeps[i] - offset:start - offset].copy())
                segment = SegmentTranslator(model, context, _at(on_words, start))
                fed = start
            upto = min(end, heard)
            segment.push(torch.from_numpy(buffer[fed - offset:upto - offset].copy()), end=upto == end)
            fed = upto
            if fed < end:
                break
            out.append(((start, end), segment.result()))
            segment, i = None, i + 1
        needed = min(fed if segment is not None else heard, segments[i][0] - keeps[i] if i < len(segments) else heard)
        buffer, offset = buffer[needed - offset:], needed
    return out


def _at(on_words: Callable[[list[str], float], None] | None, start: int) -> Callable[[list[str], float], None] | None:
    """``on_words`` with a segment's delays (ms) turned into times in the recording (s)."""
    if on_words is None:
        return None
    return lambda words, delay_ms: on_words(words, start / 16000 + delay_ms / 1000)


def translate_segments(model: AMTSimulST, segments: list, context_seconds: float = 2.0,
                       progress: Callable | None = None) -> list:
    """SimulEval-style instances (:class:`SimulInstance`) for MuST-C segments (:func:`streammem.data.mustc.
    read_split`), each translated after its talk's audio since the previous segment began, as in training."""
    from streammem.evaluation.functional.simulst import SimulInstance
    from streammem.models.amt_simulst.training import stream_audio

    instances = []
    items = list(enumerate(segments))
    for i, seg in (progress(items) if progress is not None else items):
        previous = segments[i - 1] if i > 0 and segments[i - 1].talk == seg.talk else None
        audio, context = stream_audio(seg, previous, model.chunk_samples, context_seconds)
        out = translate_stream(model, audio[context:context + round(seg.duration * 16000)], audio[:context])
        instances.append(SimulInstance(out.text, out.delays, out.source_length, seg.target, out.elapsed))
    return instances
