import numpy as np
import pytest
import soundfile as sf

from streammem.data.mustc import read_split, read_talk, segment_audio
from streammem.errors import InputError

RATE = 16000


def _corpus(tmp_path, yaml_lines, en, de, talk_seconds=5.0, rate=RATE, channels=1):
    split = tmp_path / "en-de" / "data" / "dev"
    (split / "wav").mkdir(parents=True)
    (split / "txt").mkdir()
    t = np.arange(int(talk_seconds * rate)) / rate
    audio = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sf.write(split / "wav" / "ted_1.wav", audio if channels == 1 else np.stack([audio] * channels, 1), rate)
    (split / "txt" / "dev.yaml").write_text("".join(line + "\n" for line in yaml_lines))
    (split / "txt" / "dev.en").write_text("".join(line + "\n" for line in en))
    (split / "txt" / "dev.de").write_text("".join(line + "\n" for line in de))
    return tmp_path


GOOD = ["- {duration: 1.5, offset: 0.5, wav: ted_1.wav}", "- {duration: 2.0, offset: 2.5, wav: ted_1.wav}"]


def test_segments_are_cut_by_offset_and_duration(tmp_path):
    root = _corpus(tmp_path, GOOD, ["Hello.", "Bye."], ["Hallo.", "Tschüss."])
    first, second = read_split(root, "dev")
    assert (second.id, second.index, second.target) == ("ted_1_1", 1, "Tschüss.")
    assert len(segment_audio(first)) == 24000
    talk = read_talk(first.wav)
    np.testing.assert_array_equal(segment_audio(second), talk[40000:72000])
    assert len(segment_audio(second, start=first.offset)) == 64000  # from the previous segment's start


def test_other_sample_rates_are_resampled(tmp_path):
    root = _corpus(tmp_path, GOOD, ["a", "b"], ["c", "d"], rate=8000)
    first, _ = read_split(root, "dev")
    assert len(segment_audio(first)) == 24000


@pytest.mark.parametrize(
    ("yaml_lines", "en", "de", "seconds", "expected"),
    [
        (GOOD, ["a"], ["c", "d"], 5.0, r"dev\.en: 1 lines, but dev\.yaml has 2 segments"),
        (GOOD, ["a", "b"], ["c", " "], 5.0, r"dev\.de:2: empty line"),
        (GOOD, ["a", "b"], ["c", "d"], 4.0, r"dev\.yaml:2: segment ends at 4\.50 s, beyond ted_1\.wav"),
        ([GOOD[0], "- {duration: 1.0, offset: 0.1, wav: ted_9.wav}"], ["a", "b"], ["c", "d"], 5.0,
         r"dev\.yaml:2: wav ted_9\.wav not found"),
        ([GOOD[0], "- {duration: 1.0, wav: ted_1.wav}"], ["a", "b"], ["c", "d"], 5.0,
         r"dev\.yaml:2: entry needs offset, duration and wav"),
        (["- {duration: one, offset: 0, wav: ted_1.wav}"], ["a"], ["c"], 5.0, r"dev\.yaml:1: offset and duration must be numbers"),
    ],
)
def test_bad_corpus_is_one_line_error_naming_file_and_line(tmp_path, yaml_lines, en, de, seconds, expected):
    root = _corpus(tmp_path, yaml_lines, en, de, talk_seconds=seconds)
    with pytest.raises(InputError, match=expected) as info:
        read_split(root, "dev")
    assert "\n" not in str(info.value)


def test_stereo_talk_is_refused(tmp_path):
    root = _corpus(tmp_path, GOOD, ["a", "b"], ["c", "d"], channels=2)
    with pytest.raises(InputError, match=r"ted_1\.wav: 2 channels; MuST-C talks are mono"):
        read_split(root, "dev")


def test_missing_split_names_the_expected_layout(tmp_path):
    with pytest.raises(InputError, match=r"no MuST-C split 'train' \(expected en-de/data/train/"):
        read_split(tmp_path, "train")
