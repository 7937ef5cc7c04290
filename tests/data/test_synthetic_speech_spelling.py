"""Spelling-convention corpus: identical sound for both spellings, one convention per chapter, the scorer."""

import shutil

import pytest

from streammem.data.librispeech import read_split
from streammem.data.synthetic_speech import TEST_VOICES
from streammem.data.synthetic_speech_spelling import (
    MARKERS,
    SPELLINGS,
    SpellingGrammar,
    _chapters,
    chapter_conventions,
    render,
    spelled_word,
    spelling_verdicts,
    write_spelling_corpus,
)

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
US = {a for a, _ in SPELLINGS} | {a for a, _ in MARKERS}
UK = {b for _, b in SPELLINGS} | {b for _, b in MARKERS}


def test_spelled_words_sound_the_same_in_both_conventions_and_only_markers_are_heard():
    templates = SpellingGrammar(0).unique_templates(300)
    assert templates == SpellingGrammar(0).unique_templates(300)
    markers = 0
    for t in templates:
        assert any(isinstance(w, tuple) and w[0] == "S" for w in t)  # every sentence has a spelled word
        has_marker = any(isinstance(w, tuple) and w[0] == "M" for w in t)
        markers += has_marker
        (spoken_us, us), (spoken_uk, uk) = render(t, "US"), render(t, "UK")
        assert (spoken_us == spoken_uk) == (not has_marker)  # the convention is audible only through a marker
        assert us != uk and spoken_us == us
        assert not set(uk.split()) & (US - UK) and not set(us.split()) & (UK - US)
        assert set(spoken_uk.split()) & UK == set(spoken_uk.split()) & {b for _, b in MARKERS}
    assert 70 < markers < 140  # marker_rate 0.35
    assert {"TRAVELED", "TRAVELLED", "NEIGHBOUR"} - {w for t in templates for w in render(t, "UK")[1].split()} == {"TRAVELED"}


def test_held_out_templates_are_excluded_and_chapters_keep_one_convention(tmp_path):
    g = SpellingGrammar(1)
    held = g.unique_templates(40)
    rest = g.unique_templates(200, exclude=set(held))
    assert not set(held) & set(rest)
    planned = _chapters(tmp_path, 100, TEST_VOICES[0], rest, size=20, seed=3)
    assert [job[2] for job, _ in planned] == list(range(1, 11))
    assert {c for _, c in planned} == {"US", "UK"}
    for job, convention in planned:
        words = {w for _, text in job[4] for w in text.split()}
        assert not words & ((UK - US) if convention == "US" else (US - UK))
        assert len(job[4]) == 20


def test_spelling_verdicts_tell_the_other_convention_from_other_errors():
    assert spelling_verdicts("THE GREY COLOUR WAS NEAR", "the gray colour was near") == ["other", "right"]
    assert spelling_verdicts("THE GREY COLOUR", "the grey collar") == ["right", "error"]
    assert spelling_verdicts("A GREY DOG SAW THE THEATRE", "a dog saw the theater") == ["error", "other"]
    assert spelling_verdicts("ONE DOG", "one dog") == []
    assert spelling_verdicts("THE GREY COLOUR", "") == ["error", "error"]
    assert spelled_word("colour") and spelled_word("COLOR") and not spelled_word("lorry")


@needs_espeak
def test_written_corpus_reads_back_with_its_conventions(tmp_path):
    counts = write_spelling_corpus(tmp_path, train_per_voice=4, train_chapter=2, dev_per_voice=1, test_per_voice=2,
                                   test_chapter=2, long_utterances=3, long_speakers=2, workers=1)
    assert counts == {"train": 64, "dev": 16, "test": 12, "test-long": 6}
    conventions = chapter_conventions(tmp_path)
    assert conventions["950-1"] == "US" and conventions["951-1"] == "UK"
    for split in ("train", "dev", "test", "test-long"):
        for u in read_split(tmp_path / split):
            words = set(u.text.split())
            wrong = (UK - US) if conventions[f"{u.speaker}-{u.chapter}"] == "US" else (US - UK)
            assert not words & wrong, u.id
    texts = {u.text for u in read_split(tmp_path / "train")}
    assert not texts & {u.text for u in read_split(tmp_path / "test")}
