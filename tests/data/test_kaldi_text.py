"""Kaldi text / LibriSpeech transcript reading and writing."""

from __future__ import annotations

import pytest

from streammem.data.kaldi_text import read_kaldi_text, read_librispeech_transcripts, write_kaldi_text
from streammem.errors import InputError


def test_read_write_round_trip_with_empty_transcript(tmp_path):
    path = tmp_path / "text"
    write_kaldi_text(path, {"b": "HELLO  WORLD", "a": ""})
    assert path.read_text() == "a\nb HELLO WORLD\n"
    assert read_kaldi_text(path) == {"a": "", "b": "HELLO WORLD"}


def test_tabs_and_blank_lines(tmp_path):
    path = tmp_path / "text"
    path.write_text("u1\tTHE CAT\n\nu2 A DOG \n")
    assert read_kaldi_text(path) == {"u1": "THE CAT", "u2": "A DOG"}


@pytest.mark.parametrize(("text", "line", "problem"), [("u1 A\nu1 B\n", 2, "twice"), ("\n", None, "empty")])
def test_malformed(tmp_path, text, line, problem):
    path = tmp_path / "text"
    path.write_text(text)
    with pytest.raises(InputError, match=problem) as err:
        read_kaldi_text(path)
    assert err.value.line == line and err.value.source == str(path)


def test_librispeech_layout(tmp_path):
    chapter = tmp_path / "test-clean" / "1089" / "134686"
    chapter.mkdir(parents=True)
    (chapter / "1089-134686.trans.txt").write_text(
        "1089-134686-0000 HE HOPED\n1089-134686-0001 STUFF IT INTO YOU\n"
    )
    other = tmp_path / "test-clean" / "121" / "121726"
    other.mkdir(parents=True)
    (other / "121-121726.trans.txt").write_text("121-121726-0000 ALSO A POPULAR CONTRIVANCE\n")
    refs = read_librispeech_transcripts(tmp_path / "test-clean")
    assert refs["1089-134686-0001"] == "STUFF IT INTO YOU" and len(refs) == 3
    (other / "dup.trans.txt").write_text("121-121726-0000 AGAIN\n")
    with pytest.raises(InputError, match="another transcript"):
        read_librispeech_transcripts(tmp_path / "test-clean")
    (tmp_path / "empty_split").mkdir()
    with pytest.raises(InputError, match="no \\*.trans.txt"):
        read_librispeech_transcripts(tmp_path / "empty_split")
