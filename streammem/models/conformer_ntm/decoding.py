"""Decoding for Conformer-NTM: streaming CTC greedy with word timestamps, CTC prefix beam search, and
joint CTC/attention scoring of the beam (attention rescoring).

Legend: T encoder frames (40 ms), V vocabulary, D model dim.

Hand-written because torchaudio's ``ctc_decoder`` needs flashlight-text (not a dependency) and cannot
rescore with our attention decoder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from streammem.models.conformer_ntm.model import FRAME_SECONDS, ConformerNTM

__all__ = ["Word", "ctc_greedy", "words_with_times", "prefix_beam_search", "joint_decode", "StreamingTranscriber",
           "transcribe_offline"]


@dataclass(frozen=True)
class Word:
    """A recognised word with its CTC-aligned start and end time in seconds."""

    text: str
    start: float
    end: float


def ctc_greedy(log_probs: Tensor, previous: int = 0) -> tuple[list[int], list[int]]:
    """Best path of (T, V) log-probs: collapse repeats, drop blanks. Returns token ids and their frames.

    ``previous`` is the last frame's best token of the preceding chunk, so a token spanning a chunk
    boundary is not emitted twice.
    """
    best = log_probs.argmax(-1).tolist()
    ids, frames = [], []
    for t, token in enumerate(best):
        if token != 0 and token != previous:
            ids.append(token)
            frames.append(t)
        previous = token
    return ids, frames


def words_with_times(symbols: list[str], frames: list[int], offset_frames: int = 0) -> list[Word]:
    """Group output symbols into words; a word spans its first to last symbol's frame.

    A symbol that starts with a space starts a new word (a lone space, as characters have, only ends one;
    a SentencePiece piece such as " THE" ends the previous word and starts the next)."""
    words: list[Word] = []
    current, start, end = "", 0, 0
    for sym, f in zip([*symbols, " "], [*frames, frames[-1] if frames else 0], strict=True):
        if sym.startswith(" "):
            if current:
                words.append(Word(current, (start + offset_frames) * FRAME_SECONDS,
                                  (end + 1 + offset_frames) * FRAME_SECONDS))
            current = ""
            sym = sym[1:]
            if not sym:
                continue
        if not current:
            start = f
        current += sym
        end = f
    return words


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def prefix_beam_search(log_probs: Tensor, beam: int = 10, top_k: int = 8) -> list[tuple[list[int], float]]:
    """CTC prefix beam search over (T, V) log-probs: the ``beam`` best label sequences and their log-probs."""
    lp = log_probs.tolist()
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}  # prefix -> (p_blank, p_nonblank)
    candidates = log_probs.topk(min(top_k, log_probs.shape[1]), dim=-1).indices.tolist()
    for t, row in enumerate(lp):
        nxt: dict[tuple[int, ...], list[float]] = {}
        for prefix, (pb, pnb) in beams.items():
            total = _logaddexp(pb, pnb)
            for c in candidates[t]:
                p = row[c]
                if c == 0:
                    e = nxt.setdefault(prefix, [-math.inf, -math.inf])
                    e[0] = _logaddexp(e[0], total + p)
                    continue
                last = prefix[-1] if prefix else None
                extended = (*prefix, c)
                e = nxt.setdefault(extended, [-math.inf, -math.inf])
                if c == last:
                    e[1] = _logaddexp(e[1], pb + p)  # a repeat needs a blank between
                    same = nxt.setdefault(prefix, [-math.inf, -math.inf])
                    same[1] = _logaddexp(same[1], pnb + p)
                else:
                    e[1] = _logaddexp(e[1], total + p)
        ranked = sorted(nxt.items(), key=lambda kv: _logaddexp(*kv[1]), reverse=True)[:beam]
        beams = {k: (v[0], v[1]) for k, v in ranked}
    return [(list(k), _logaddexp(*v)) for k, v in beams.items()]


@torch.no_grad()
def joint_decode(model: ConformerNTM, encoded: Tensor, log_probs: Tensor, beam: int = 10) -> list[int]:
    """Joint CTC/attention decoding of one utterance: CTC prefix beam, scored by
    ``ctc_weight * log p_ctc + (1 - ctc_weight) * log p_att`` (the paper's weight 0.3), best kept.

    encoded: (1, T, D) memory-augmented encoder output; log_probs: (T, V) its CTC log-probs.
    """
    hyps = prefix_beam_search(log_probs, beam)
    att = model.decoder_scores(encoded, [h for h, _ in hyps]).tolist()
    w = model.config.ctc_weight
    scores = [w * c + (1 - w) * a for (_, c), a in zip(hyps, att, strict=True)]
    return hyps[int(np.argmax(scores))][0]


@dataclass
class StreamingTranscriber:
    """Feed audio of any length; the model's step runs on every complete chunk and the CTC greedy
    transcript grows (partial results). ``finish()`` pads the last chunk and returns the words.
    """

    model: ConformerNTM
    state: object = None
    buffer: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    ids: list[int] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    frames_done: int = 0
    previous: int = 0

    def __post_init__(self) -> None:
        if self.state is None:
            self.state = self.model.initial_state(1)

    @torch.no_grad()
    def push(self, audio: np.ndarray) -> str:
        """Append 16 kHz mono samples; run every complete chunk; return the transcript so far."""
        self.buffer = np.concatenate([self.buffer, np.asarray(audio, np.float32)])
        size = self.model.chunk_samples
        while len(self.buffer) >= size:
            chunk = torch.from_numpy(self.buffer[:size].copy()).unsqueeze(0).to(self.state.audio_tail.device)
            self.buffer = self.buffer[size:]
            log_probs, self.state = self.model(chunk, self.state)
            log_probs = log_probs[0].cpu()  # decoded on the CPU: one copy per chunk
            ids, frames = ctc_greedy(log_probs, self.previous)
            self.previous = int(log_probs[-1].argmax())
            self.ids += ids
            self.frames += [f + self.frames_done for f in frames]
            self.frames_done += log_probs.shape[0]
        return self.text

    @property
    def text(self) -> str:
        return self.model.tokenizer.decode(self.ids)

    def finish(self) -> list[Word]:
        """Flush the partial last chunk (zero-padded) and return the words with times."""
        if len(self.buffer):
            self.push(np.zeros(self.model.chunk_samples - len(self.buffer), np.float32))
        symbols = [self.model.tokenizer.symbols[i] for i in self.ids]
        return words_with_times(symbols, self.frames)


@torch.no_grad()
def transcribe_offline(model: ConformerNTM, audio: np.ndarray, streaming: bool, joint: bool = False,
                       beam: int = 10) -> tuple[str, list[Word]]:
    """Whole-file decoding with ``forward_sequence`` (full context or the streaming mask)."""
    device = model.frontend.mean.device
    x = torch.from_numpy(np.asarray(audio, np.float32)).unsqueeze(0).to(device)
    feats, lengths = model.features(x, torch.tensor([x.shape[1]], device=device))
    encoded, out_lengths = model.encode(feats, lengths, streaming)
    log_probs = torch.log_softmax(model.ctc(encoded), dim=-1)[0, : int(out_lengths[0])].cpu()
    ids, frames = ctc_greedy(log_probs)
    if joint:
        ids = joint_decode(model, encoded[:, : int(out_lengths[0])], log_probs, beam)
        return model.tokenizer.decode(ids), []
    symbols = [model.tokenizer.symbols[i] for i in ids]
    return model.tokenizer.decode(ids), words_with_times(symbols, frames)
