"""Kaldi ``text`` files (``utt_id transcript`` per line) and LibriSpeech ``*.trans.txt``, which use the same format.

An id alone on its line is an empty transcript (what Kaldi decoders write for silence); references must
have words (``require_words``), since a word error rate over no words is undefined. Files are UTF-8 (a
byte-order mark and CRLF line ends are accepted; other encodings are an error naming the byte).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from streammem.data._text_table import read_text
from streammem.data.completion import refuse_interrupted
from streammem.errors import InputError, atomic_output

__all__ = ["read_kaldi_text", "read_librispeech_transcripts", "write_kaldi_text"]


def read_kaldi_text(path: str | os.PathLike, require_words: bool = False) -> dict[str, str]:
    """Read ``utt_id text`` lines into ``{utt_id: text}``; blank lines are ignored, ids must be unique.

    ``require_words``: an id without a transcript is an error (for references).
    """
    path = Path(path)
    text = read_text(path)
    transcripts: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        utt_id, *rest = line.split(maxsplit=1)
        transcript = rest[0] if rest else ""
        if utt_id in transcripts:
            raise InputError(path, f"utterance id {utt_id!r} appears twice", line=number)
        if require_words and not transcript.strip():
            raise InputError(path, f"utterance {utt_id!r} has an empty reference transcript", line=number)
        transcripts[utt_id] = transcript.strip()
    if not transcripts:
        raise InputError(path, "file is empty")
    return transcripts


def read_librispeech_transcripts(root: str | os.PathLike, require_words: bool = False) -> dict[str, str]:
    """All ``<speaker>-<chapter>.trans.txt`` under ``root`` (a split such as ``test-clean``, or one chapter);
    ``require_words`` as in :func:`read_kaldi_text`."""
    root = Path(root)
    if not root.exists():
        raise InputError(root, "not found")
    refuse_interrupted(root)
    files = [root] if root.is_file() else sorted(root.rglob("*.trans.txt"))
    if not files:
        raise InputError(root, "no *.trans.txt transcripts found")
    transcripts: dict[str, str] = {}
    for path in files:
        for utt_id, transcript in read_kaldi_text(path, require_words).items():
            if utt_id in transcripts:
                raise InputError(path, f"utterance id {utt_id!r} also appears in another transcript file")
            transcripts[utt_id] = transcript
    return transcripts


def write_kaldi_text(path: str | os.PathLike, transcripts: Mapping[str, str]) -> None:
    """Write ``utt_id text`` lines sorted by id (Kaldi's order); ids must not contain whitespace."""
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
        for utt_id in sorted(transcripts):
            if not utt_id or any(c.isspace() for c in utt_id):
                raise ValueError(f"utterance id {utt_id!r} is empty or contains whitespace")
            out.write(f"{utt_id} {' '.join(transcripts[utt_id].split())}".rstrip() + "\n")
