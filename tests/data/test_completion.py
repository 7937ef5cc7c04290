"""Completion markers: a generation killed part-way is refused by the readers, and generating again
finishes it."""

from __future__ import annotations

import numpy as np
import pytest

from streammem.data import synthetic_mot, synthetic_speech, synthetic_tal
from streammem.data.completion import COMPLETE, IN_PROGRESS, interrupted, is_complete
from streammem.data.librispeech import read_split
from streammem.data.mot import find_sequences
from streammem.data.synthetic_mot import SyntheticMOTConfig, write_split
from streammem.data.synthetic_tal import SyntheticTALConfig, generate_synthetic_tal
from streammem.data.tal_features import load_tal_split
from streammem.errors import InputError

TINY_MOT = SyntheticMOTConfig(num_frames=4, width=96, height=64)
TINY_TAL = SyntheticTALConfig(num_features=(120, 160))


def _killed_after(module, name: str, calls: int, monkeypatch):
    """Make ``module.name`` raise KeyboardInterrupt (as Ctrl-C or SIGTERM would) on call ``calls + 1``."""
    real, count = getattr(module, name), {"n": 0}

    def wrapper(*args, **kwargs):
        count["n"] += 1
        if count["n"] > calls:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


def test_interrupted_tracking_split_is_refused_then_regenerated(tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        _killed_after(synthetic_mot, "write_sequence", 2, patch)
        with pytest.raises(KeyboardInterrupt):
            write_split(tmp_path, "val", [1, 2, 3, 4], TINY_MOT)
    assert (tmp_path / "val" / "synth00002").is_dir() and not is_complete(tmp_path / "val")
    assert interrupted(tmp_path / "val")
    with pytest.raises(InputError, match="val: its generation was interrupted"):
        find_sequences(tmp_path / "val")
    assert write_split(tmp_path, "val", [1, 2, 3, 4], TINY_MOT) == [f"synth0000{i}" for i in range(1, 5)]
    assert is_complete(tmp_path / "val") and not interrupted(tmp_path / "val")
    assert not (tmp_path / "val" / IN_PROGRESS).exists()
    assert find_sequences(tmp_path / "val") == [f"synth0000{i}" for i in range(1, 5)]


def test_a_stale_seqmap_does_not_pass_for_an_interrupted_regeneration(tmp_path, monkeypatch):
    write_split(tmp_path, "val", [1, 2], TINY_MOT)
    with monkeypatch.context() as patch:
        _killed_after(synthetic_mot, "write_sequence", 1, patch)
        with pytest.raises(KeyboardInterrupt):
            write_split(tmp_path, "val", [1, 2], TINY_MOT)
    assert not (tmp_path / "val_seqmap.txt").exists() and not (tmp_path / "val" / COMPLETE).exists()


def test_interrupted_tal_features_are_refused_then_regenerated(tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        _killed_after(synthetic_tal, "synthetic_video", 3, patch)
        with pytest.raises(KeyboardInterrupt):
            generate_synthetic_tal(tmp_path, num_train=4, num_test=2, seed=1, cfg=TINY_TAL)
    assert len(list((tmp_path / "features").glob("*.npy"))) == 3
    with pytest.raises(InputError, match="its generation was interrupted"):
        load_tal_split(tmp_path, "Validation")
    generate_synthetic_tal(tmp_path, num_train=4, num_test=2, seed=1, cfg=TINY_TAL)
    assert len(load_tal_split(tmp_path, "Validation").videos) == 4 and is_complete(tmp_path)


def test_interrupted_speech_corpus_is_refused_not_read_as_a_smaller_one(tmp_path, monkeypatch):
    def fake_chapters(jobs, workers):  # the first chapter written, then the process is killed
        import soundfile

        split_dir, speaker, chapter = jobs[0][:3]
        folder = split_dir / str(speaker) / str(chapter)
        folder.mkdir(parents=True)
        soundfile.write(folder / f"{speaker}-{chapter}-0000.flac", np.zeros(1600, np.float32), 16000)
        (folder / f"{speaker}-{chapter}.trans.txt").write_text(f"{speaker}-{chapter}-0000 HELLO\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic_speech, "write_chapters", fake_chapters)
    with pytest.raises(KeyboardInterrupt):
        synthetic_speech.write_corpus(tmp_path, train_per_voice=2, dev_per_voice=1, test_per_voice=1,
                                      long_utterances=1, long_speakers=1)  # fmt: skip
    with pytest.raises(InputError, match="its generation was interrupted"):
        read_split(tmp_path / "train")
