"""MuST-C reader: segments cut from whole-talk wavs by the YAML offsets, aligned with the text files.

Layout (``en-de`` shown; any ``en-xx`` works): ``<root>/en-de/data/<split>/wav/<talk>.wav`` (whole talks)
and ``<root>/en-de/data/<split>/txt/<split>.yaml`` with one entry per segment, e.g.
``- {duration: 3.5, offset: 16.08, speaker_id: spk.767, wav: ted_767.wav}`` (seconds), aligned line by line
with ``txt/<split>.en`` and ``txt/<split>.<lang>``. Segment ids are ``<talk>_<i>``, ``i`` counting the
talk's segments in file order (MuST-C lists them by offset).

Everything is checked before any audio is read, and each problem is one :class:`InputError` naming the
file and line: YAML entries and text lines that disagree in number, entries without offset/duration/wav,
a missing wav, a segment ending beyond its wav, stereo audio (refused: MuST-C talks are mono, so a stereo
file is a wrong file), an empty English or target line. Talks at another sample rate are resampled to
16 kHz with torchaudio when read.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streammem.data._text_table import read_text
from streammem.errors import InputError

__all__ = ["MustcSegment", "read_split", "read_talk", "segment_audio", "SAMPLE_RATE"]

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class MustcSegment:
    """One segment: where its audio is (talk wav, offset and duration in seconds) and its two texts."""

    id: str
    talk: str
    index: int  # position of the segment in its talk (0, 1, ...)
    wav: Path
    offset: float
    duration: float
    source: str
    target: str


def _split_dir(root: Path, split: str, lang: str) -> Path:
    """Accept the corpus root, ``.../en-xx`` or ``.../en-xx/data``."""
    for candidate in (root / f"en-{lang}" / "data", root / "data", root):
        if (candidate / split).is_dir():
            return candidate / split
    raise InputError(root, f"no MuST-C split '{split}' (expected en-{lang}/data/{split}/ under it)")


def _yaml_entries(path: Path) -> list[tuple[int, object]]:
    """(line number, entry) of each item of the YAML list, parsed with line marks for error messages."""
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        loader = loader_cls(read_text(path))
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else []
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = str(getattr(err, "problem", None) or err).splitlines()[0]  # one line, however yaml words it
        raise InputError(path, f"not valid YAML ({problem})",
                         line=mark.line + 1 if mark else None) from None
    if node is None or not isinstance(data, list):
        raise InputError(path, "expected a YAML list with one entry per segment")
    return [(item.start_mark.line + 1, entry) for item, entry in zip(node.value, data, strict=True)]


def _text_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError(path, "text file not found")
    return read_text(path).splitlines()


def read_split(root: str | os.PathLike, split: str, lang: str = "de") -> list[MustcSegment]:
    """All segments of ``split`` (``train``, ``dev``, ``tst-COMMON``, ...), checked as the module says."""
    import soundfile as sf

    split_dir = _split_dir(Path(root), split, lang)
    txt = split_dir / "txt"
    yaml_path = txt / f"{split}.yaml"
    if not yaml_path.is_file():
        raise InputError(yaml_path, "segment YAML not found")
    entries = _yaml_entries(yaml_path)
    sources, targets = _text_lines(txt / f"{split}.en"), _text_lines(txt / f"{split}.{lang}")
    for path, lines in ((txt / f"{split}.en", sources), (txt / f"{split}.{lang}", targets)):
        if len(lines) != len(entries):
            raise InputError(path, f"{len(lines)} lines, but {yaml_path.name} has {len(entries)} segments")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                raise InputError(path, "empty line (every segment needs its text)", line=number)
    lengths: dict[str, float] = {}
    counts: dict[str, int] = {}
    segments = []
    for (line, entry), source, target in zip(entries, sources, targets, strict=True):
        if not isinstance(entry, dict) or not {"offset", "duration", "wav"} <= set(entry):
            raise InputError(yaml_path, "entry needs offset, duration and wav", line=line)
        try:
            offset, duration = float(entry["offset"]), float(entry["duration"])
        except (TypeError, ValueError):
            raise InputError(yaml_path, "offset and duration must be numbers (seconds)", line=line) from None
        if not (offset >= 0 and duration > 0 and math.isfinite(offset + duration)):  # NaN fails every comparison
            raise InputError(yaml_path, f"offset {offset} / duration {duration} out of range", line=line)
        wav = split_dir / "wav" / str(entry["wav"])
        if wav.name not in lengths:
            if not wav.is_file():
                raise InputError(yaml_path, f"wav {wav.name} not found in {wav.parent}", line=line)
            info = sf.info(str(wav))
            if info.channels != 1:
                raise InputError(wav, f"{info.channels} channels; MuST-C talks are mono")
            lengths[wav.name] = info.frames / info.samplerate
        if offset + duration > lengths[wav.name] + 0.01:  # 10 ms slack for rounded offsets
            raise InputError(yaml_path, f"segment ends at {offset + duration:.2f} s, beyond {wav.name} "
                             f"({lengths[wav.name]:.2f} s)", line=line)
        talk = wav.stem
        index = counts.get(talk, 0)
        counts[talk] = index + 1
        segments.append(MustcSegment(f"{talk}_{index}", talk, index, wav, offset, duration, source.strip(), target.strip()))
    return segments


@functools.lru_cache(maxsize=4)
def read_talk(path: Path) -> np.ndarray:
    """A whole talk as 16 kHz mono float32 in [-1, 1] (resampled with torchaudio if needed); cached."""
    import soundfile as sf

    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    if audio.shape[1] != 1:
        raise InputError(path, f"{audio.shape[1]} channels; MuST-C talks are mono")
    audio = audio[:, 0]
    if rate != SAMPLE_RATE:
        import torch
        import torchaudio

        audio = torchaudio.functional.resample(torch.from_numpy(audio), rate, SAMPLE_RATE).numpy()
    return audio


def segment_audio(segment: MustcSegment, start: float | None = None) -> np.ndarray:
    """The segment's samples, or from ``start`` seconds (e.g. the previous segment's offset) to its end."""
    audio = read_talk(segment.wav)
    begin = round((segment.offset if start is None else start) * SAMPLE_RATE)
    return audio[begin: round((segment.offset + segment.duration) * SAMPLE_RATE)]
