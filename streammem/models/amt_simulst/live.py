"""Translating a live stream (a microphone) while it is heard: segments found online at pauses.

A recording on disk is segmented with the whole of it in view (:func:`~streammem.models.amt_simulst.decoding.
split_on_pauses`); a live stream cannot wait for its end. :class:`LiveTranslator` runs the same energy
detector frame by frame (10 ms): a segment opens at the first speech frame (100 ms earlier, as the file
path pads it), is fed to the model chunk by chunk as the audio arrives, and is ended when ``min_pause`` s of
silence have been heard. Each segment is translated after listening to the talk since the previous segment
began (at most ``context_seconds``, whole chunks), as in training and in the file path. Memory is bounded:
only the audio a later segment may need as context is kept.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from streammem.models.amt_simulst.decoding import SegmentTranslator, TimedWords
from streammem.models.amt_simulst.model import AMTSimulST

__all__ = ["LiveTranslator"]

RATE = 16000
HOP = 160  # 10 ms energy frames
PAD = 1600  # 100 ms kept before a segment's first speech frame


class LiveTranslator:
    """Push audio as it arrives; words come out through ``on_words(words, time_s)`` (time in the stream).

    A 10 ms frame is speech when its energy is above ``max(loudest so far - floor_db, silence_db)`` dB (the
    file detector's rule, with the loudest frame *so far*, and an absolute floor so that the room's noise before
    anyone speaks does not open a segment). ``finish()`` ends an open segment (the stream stopped, e.g.
    Ctrl-C). ``segments`` holds ``((start, end) samples, TimedWords)`` of every segment, finished or open.
    """

    def __init__(self, model: AMTSimulST, on_words: Callable[[list[str], float], None] | None = None,
                 context_seconds: float = 2.0, min_pause: float = 0.3, floor_db: float = 35.0,
                 silence_db: float = -50.0) -> None:
        self.model = model
        self.on_words = on_words
        self.context = int(context_seconds * RATE) // model.chunk_samples * model.chunk_samples
        self.pause_frames = max(1, round(min_pause * RATE / HOP))
        self.floor_db, self.silence_db = floor_db, silence_db
        self.loudest = -np.inf
        self.buffer = np.zeros(0, np.float32)  # samples [offset, offset + len(buffer)) of the stream
        self.offset = 0
        self.classified = 0  # samples whose 10 ms frames were classified
        self.segment: SegmentTranslator | None = None
        self.start = 0  # the open segment's first sample
        self.fed = 0  # samples given to the open segment's translator
        self.silent = 0  # silent frames since the last speech frame of the open segment
        self.previous_start: int | None = None
        self.segments: list[tuple[tuple[int, int], TimedWords]] = []

    @property
    def heard(self) -> int:
        """Samples received so far."""
        return self.offset + len(self.buffer)

    def push(self, samples: np.ndarray) -> None:
        """Hear ``samples`` (S,) float 16 kHz mono: classify whole 10 ms frames, open, feed and end segments."""
        self.buffer = np.concatenate([self.buffer, np.asarray(samples, np.float32).ravel()])
        while self.heard - self.classified >= HOP:
            frame = self._slice(self.classified, self.classified + HOP)
            self.classified += HOP
            energy = 10 * np.log10(float(np.mean(frame.astype(np.float64) ** 2)) + 1e-10)
            self.loudest = max(self.loudest, energy)
            speech = energy > max(self.loudest - self.floor_db, self.silence_db)
            if self.segment is None and speech:
                self._open(max(self.classified - HOP - PAD, self.offset, self._last_end()))
            elif self.segment is not None:
                self.silent = 0 if speech else self.silent + 1
                if self.silent >= self.pause_frames:
                    self._feed(self.classified, end=True)
        if self.segment is not None:
            self._feed(self.heard, end=False)
        self._trim()

    def finish(self) -> None:
        """End the open segment with what was heard (the stream stopped)."""
        if self.segment is not None:
            self._feed(self.heard, end=True)

    def _last_end(self) -> int:
        return self.segments[-1][0][1] if self.segments else 0

    def _slice(self, a: int, b: int) -> np.ndarray:
        return self.buffer[a - self.offset:b - self.offset]

    def _open(self, start: int) -> None:
        previous = self.previous_start if self.previous_start is not None else start
        keep = min(start - previous, self.context) // self.model.chunk_samples * self.model.chunk_samples
        keep = min(keep, (start - self.offset) // self.model.chunk_samples * self.model.chunk_samples)
        context = torch.from_numpy(self._slice(start - keep, start).copy())
        t0 = start / RATE

        def report(words: list[str], delay_ms: float) -> None:
            if self.on_words is not None:
                self.on_words(words, t0 + delay_ms / 1000)

        self.segment = SegmentTranslator(self.model, context, report)
        self.start = self.fed = start
        self.silent = 0
        self.previous_start = start
        self.segments.append(((start, start), self.segment.result()))

    def _feed(self, until: int, end: bool) -> None:
        segment = self.segment
        assert segment is not None
        segment.push(torch.from_numpy(self._slice(self.fed, until).copy()), end=end)
        self.fed = until
        self.segments[-1] = ((self.start, until), segment.result())
        if end:
            self.segment = None

    def _trim(self) -> None:
        """Keep the audio a later segment may still need: the open segment's unfed part, the pad before the next
        first speech frame, and the context before it."""
        keep_from = self.classified - PAD - self.context - HOP
        if self.segment is not None:
            keep_from = min(keep_from, self.fed)
        drop = keep_from - self.offset
        if drop > 0:
            self.buffer = self.buffer[drop:]
            self.offset += drop
