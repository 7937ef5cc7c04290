"""LibriSpeech-layout reader: utterances, robust audio loading, long-form sets, damaged corpora."""

import numpy as np
import pytest
import soundfile as sf

from streammem.data.librispeech import load_audio, long_form_sets, read_split
from streammem.errors import InputError


def _chapter(root, speaker="19", chapter="198", n=3, seconds=1.0):
    folder = root / speaker / chapter
    folder.mkdir(parents=True)
    lines = []
    for i in range(n):
        utt = f"{speaker}-{chapter}-{i:04d}"
        sf.write(folder / f"{utt}.flac", np.zeros(int(16000 * seconds), np.float32), 16000)
        lines.append(f"{utt} WORD NUMBER {i}\n")
    (folder / f"{speaker}-{chapter}.trans.txt").write_text("".join(lines))
    return folder


def test_read_split_finds_utterances_in_order(tmp_path):
    _chapter(tmp_path, n=3)
    utts = read_split(tmp_path)
    assert [u.id for u in utts] == ["19-198-0000", "19-198-0001", "19-198-0002"]
    assert utts[1].text == "WORD NUMBER 1" and utts[1].speaker == "19" and utts[1].seconds == pytest.approx(1.0)


def test_missing_transcript_line_is_an_input_error(tmp_path):
    folder = _chapter(tmp_path, n=3)
    trans = folder / "19-198.trans.txt"
    trans.write_text("".join(trans.read_text().splitlines(keepends=True)[:2]))
    with pytest.raises(InputError, match="no transcript line for 19-198-0002"):
        read_split(tmp_path)


def test_missing_audio_is_an_input_error(tmp_path):
    folder = _chapter(tmp_path, n=2)
    (folder / "19-198-0001.flac").unlink()
    with pytest.raises(InputError, match="no audio file for 19-198-0001"):
        read_split(tmp_path)


@pytest.mark.parametrize("rate,channels", [(8000, 1), (48000, 1), (16000, 2), (44100, 2)])
def test_load_audio_resamples_and_downmixes(tmp_path, rate, channels):
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    path = tmp_path / "x.wav"
    sf.write(path, data, rate)
    audio = load_audio(path)
    assert audio.ndim == 1 and abs(len(audio) - 16000) <= 1
    assert audio.dtype == np.float32 and 0.4 < np.abs(audio).max() < 0.6


def test_empty_and_truncated_files_are_input_errors(tmp_path):
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_audio(empty)
    good = tmp_path / "good.flac"
    sf.write(good, 0.1 * np.random.default_rng(0).standard_normal(32000).astype(np.float32), 16000)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(InputError):
        load_audio(cut)
    with pytest.raises(InputError, match="not found"):
        load_audio(tmp_path / "nope.wav")


def test_long_form_sets_join_consecutive_utterances_per_chapter(tmp_path):
    _chapter(tmp_path, n=7, seconds=1.0)
    _chapter(tmp_path, speaker="20", chapter="5", n=2, seconds=1.0)
    items = long_form_sets(read_split(tmp_path), {"3s": 3.0})
    assert [len(i.utterances) for i in items] == [3, 3]  # remainders shorter than 3 s are dropped
    assert items[0].text == "WORD NUMBER 0 WORD NUMBER 1 WORD NUMBER 2"
    assert items[0].bucket == "3s" and items[0].seconds == pytest.approx(3.0)
