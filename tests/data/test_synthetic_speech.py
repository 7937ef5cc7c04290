"""Synthetic espeak-ng corpus: grammar, held-out sentences, LibriSpeech layout read back by the reader."""

import shutil

import numpy as np
import pytest

from streammem.data.librispeech import read_split
from streammem.data.synthetic_speech import (
    TEST_VOICES,
    TRAIN_VOICES,
    SentenceGrammar,
    _write_chapter,
    synthesize,
)

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def test_grammar_is_deterministic_and_excludes_held_out():
    a = SentenceGrammar(3).unique_sentences(50)
    assert a == SentenceGrammar(3).unique_sentences(50)
    held = set(a[:25])
    rest = SentenceGrammar(4).unique_sentences(200, exclude=held)
    assert not held & set(rest) and len(set(rest)) == 200
    assert all(s == s.upper() and set(s) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ' ") for s in a)


def test_test_voices_are_held_out():
    assert not {v.name for v in TEST_VOICES} & {v.name for v in TRAIN_VOICES}


@needs_espeak
def test_synthesize_and_read_back(tmp_path):
    rng = np.random.default_rng(0)
    audio = synthesize("THE OLD MAN WALKED", TRAIN_VOICES[0], rng)
    assert audio.dtype == np.float32 and 0.5 < len(audio) / 16000 < 4 and np.abs(audio).max() <= 1.0
    _write_chapter((tmp_path / "test", 900, 1, TEST_VOICES[0], ["ONE DOG", "TWO CATS SLEPT"], 0))
    utts = read_split(tmp_path / "test")
    assert [u.text for u in utts] == ["ONE DOG", "TWO CATS SLEPT"]
    assert (tmp_path / "test/900/1/900-1.trans.txt").exists() and utts[0].path.suffix == ".flac"
