"""Running the streaming step over audio and turning its emitted pieces into timed words.

The step emits target pieces only when a word is complete (the next word-initial piece or the end of
sentence was written); this module joins them into words and stamps each with the ms of source audio
read when it was emitted (SimulEval's ``delays``) and that plus the compute time so far (``elapsed``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from streammem.models.amt_simulst.model import AMTSimulST

__all__ = ["TimedWords", "translate_stream"]

SAMPLES_PER_MS = 16


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


@torch.no_grad()
def translate_stream(model: AMTSimulST, audio: Tensor, context: Tensor | None = None,
                     on_words: callable | None = None) -> TimedWords:
    """Translate one segment ``audio`` (S,) float 16 kHz, after listening to ``context`` (its talk's audio
    before it, a whole number of chunks). ``on_words(words, delay_ms)`` is called as words are emitted."""
    device = next(model.parameters()).device
    state = model.initial_state(1)
    if context is not None and context.numel():
        for chunk in _chunks(context.to(device).unsqueeze(0), model.chunk_samples):
            state = model.listen(chunk, state)
    state = model.start_segment(state, torch.ones(1, dtype=torch.bool, device=device))
    source_ms = audio.shape[0] / SAMPLES_PER_MS
    chunks = _chunks(audio.to(device).unsqueeze(0), model.chunk_samples)
    words, delays, elapsed = [], [], []
    read, began = 0, time.perf_counter()
    for i, chunk in enumerate(chunks):
        read += chunk.shape[1]
        end = torch.tensor([i == len(chunks) - 1], device=device)
        out, state = model(chunk, state, end)
        ids = out.tokens[0][out.new[0]].tolist()
        if ids:
            delay = min(read / SAMPLES_PER_MS, source_ms)
            compute = (time.perf_counter() - began) * 1000
            new_words = "".join(model.vocabulary[t] for t in ids).split()
            words += new_words
            delays += [delay] * len(new_words)
            elapsed += [delay + compute] * len(new_words)
            if on_words is not None:
                on_words(new_words, delay)
        if bool(out.ended[0]):
            break
    return TimedWords(words, delays, elapsed, source_ms)
