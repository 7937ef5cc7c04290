"""LibriSpeech-layout speech corpora: utterances, audio loading, and long-form sets joined per chapter.

Layout: ``<split>/<speaker>/<chapter>/<speaker>-<chapter>-<NNNN>.flac`` with one
``<speaker>-<chapter>.trans.txt`` per chapter (read by :mod:`streammem.data.kaldi_text`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streammem.data.completion import refuse_interrupted
from streammem.data.kaldi_text import read_kaldi_text
from streammem.errors import InputError

__all__ = ["Utterance", "LongForm", "read_split", "load_audio", "long_form_sets", "SAMPLE_RATE"]

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Utterance:
    """One utterance: id ``speaker-chapter-NNNN``, its audio file, transcript and duration (s)."""

    id: str
    path: Path
    text: str
    speaker: str
    chapter: str
    seconds: float


@dataclass(frozen=True)
class LongForm:
    """Consecutive utterances of one chapter joined into one recording (a long-form test item)."""

    id: str
    bucket: str
    utterances: tuple[Utterance, ...]

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.utterances)

    @property
    def seconds(self) -> float:
        return sum(u.seconds for u in self.utterances)


def read_split(root: str | os.PathLike) -> list[Utterance]:
    """Every utterance under ``root`` (a split or one chapter), sorted by id.

    Raises InputError naming the transcript when an audio file has no transcript line, or a line has no
    audio file, so a damaged corpus is never silently scored on a subset.
    """
    import soundfile as sf

    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a directory (expected a LibriSpeech-layout split)")
    refuse_interrupted(root)
    transcripts = sorted(root.rglob("*.trans.txt"))
    if not transcripts:
        raise InputError(root, "no *.trans.txt transcripts found")
    utterances: list[Utterance] = []
    for trans in transcripts:
        texts = read_kaldi_text(trans)
        audio = {p.stem: p for p in trans.parent.glob("*.flac")}
        missing_line = sorted(set(audio) - set(texts))
        if missing_line:
            raise InputError(trans, f"no transcript line for {missing_line[0]} ({len(missing_line)} audio files in all)")
        missing_audio = sorted(set(texts) - set(audio))
        if missing_audio:
            raise InputError(trans, f"no audio file for {missing_audio[0]} ({len(missing_audio)} lines in all)")
        for utt_id in sorted(texts):
            speaker, chapter, _ = utt_id.split("-", 2)
            try:
                seconds = sf.info(str(audio[utt_id])).duration
            except (RuntimeError, sf.LibsndfileError) as err:
                raise InputError(audio[utt_id], f"unreadable audio ({err})") from None
            utterances.append(Utterance(utt_id, audio[utt_id], texts[utt_id], speaker, chapter, seconds))
    return utterances


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Any soundfile-readable file (wav, flac, ogg, mp3, ...) -> mono float32 at ``sample_rate``.

    Channels are averaged; other rates are resampled (``torchaudio.functional.resample``).
    Empty, truncated or non-audio files raise InputError.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "audio file not found")
    if path.stat().st_size == 0:
        raise InputError(path, "audio file is empty")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as err:
        raise InputError(path, f"unreadable or truncated audio ({err})") from None
    if audio.shape[0] == 0:
        raise InputError(path, "audio file has no samples")
    mono = audio.mean(axis=1)
    if not np.isfinite(mono).all():
        raise InputError(path, "audio contains NaN or infinite samples")
    if rate != sample_rate:
        import torch
        import torchaudio

        mono = torchaudio.functional.resample(torch.from_numpy(mono), rate, sample_rate).numpy()
    return np.ascontiguousarray(mono, dtype=np.float32)


def long_form_sets(utterances: list[Utterance], bucket_seconds: dict[str, float]) -> list[LongForm]:
    """Join consecutive utterances of each chapter into recordings of about each bucket's length.

    For bucket ``label -> seconds``, a chapter is cut into consecutive groups, each closed as soon as it
    reaches ``seconds``; a shorter remainder is dropped so every item really is that long.
    """
    chapters: dict[tuple[str, str], list[Utterance]] = {}
    for u in sorted(utterances, key=lambda u: u.id):
        chapters.setdefault((u.speaker, u.chapter), []).append(u)
    items: list[LongForm] = []
    for label, seconds in bucket_seconds.items():
        for (speaker, chapter), utts in chapters.items():
            group: list[Utterance] = []
            for u in utts:
                group.append(u)
                if sum(g.seconds for g in group) >= seconds:
                    items.append(LongForm(f"{speaker}-{chapter}-{label}-{len(items):03d}", label, tuple(group)))
                    group = []
    return items
