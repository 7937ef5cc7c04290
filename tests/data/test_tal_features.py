"""TAL feature datasets: the synthetic generator's layout and design, the reader, and bad input."""

import json

import numpy as np
import pytest

from streammem.data.synthetic_tal import SyntheticTALConfig, generate_synthetic_tal
from streammem.data.tal_features import load_feature_file, load_tal_split
from streammem.errors import InputError

SMALL = SyntheticTALConfig(num_features=(120, 160))


@pytest.fixture()
def dataset(tmp_path):
    generate_synthetic_tal(tmp_path, num_train=4, num_test=2, seed=3, cfg=SMALL)
    return tmp_path


def test_generator_writes_thumos_layout_read_back(dataset):
    data = json.loads((dataset / "annotations" / "thumos14.json").read_text())
    subsets = {v["subset"] for v in data["database"].values()}
    assert subsets == {"Validation", "Test"}
    train = load_tal_split(dataset, "Validation")
    test = load_tal_split(dataset, "Test")
    assert len(train.videos) == 4 and len(test.videos) == 2
    assert train.classes == data["meta"]["classes"]
    v = train.videos[0]
    assert v.feature_rate == SMALL.feature_rate
    assert v.features.shape == (round(v.duration * v.feature_rate), 32)
    train_seeds = {data["database"][x.name]["seed"] for x in train.videos}
    test_seeds = {data["database"][x.name]["seed"] for x in test.videos}
    assert not train_seeds & test_seeds


def test_feature_length_must_match_duration(dataset):
    data_path = dataset / "annotations" / "thumos14.json"
    data = json.loads(data_path.read_text())
    name = next(iter(data["database"]))
    np.save(dataset / "features" / f"{name}.npy", np.zeros((10, 32), dtype=np.float32))
    subset = data["database"][name]["subset"]
    with pytest.raises(InputError, match="duration x feature rate"):
        load_tal_split(dataset, subset)
    split = load_tal_split(dataset, subset, skip_bad=True)
    assert split.skipped["videos_bad_features"] == 1


def test_without_a_rate_each_video_runs_at_its_own_feature_count_over_duration(dataset):
    path = dataset / "annotations" / "thumos14.json"
    data = json.loads(path.read_text())
    del data["meta"]  # a plain ActionFormer-style file: no rate anywhere
    name = next(v for v, info in data["database"].items() if info["subset"] == "Test")
    duration = data["database"][name]["duration"]
    np.save(dataset / "features" / f"{name}.npy", np.zeros((int(duration * 8), 32), np.float32))  # 8/s, not 4/s
    path.write_text(json.dumps(data))
    videos = {v.name: v for v in load_tal_split(dataset, "Test").videos}
    assert videos[name].feature_rate == pytest.approx(int(duration * 8) / duration)
    assert all(v.feature_rate == pytest.approx(SMALL.feature_rate, rel=0.05) for n, v in videos.items() if n != name)


def _edit_first_annotation(dataset, **changes):
    path = dataset / "annotations" / "thumos14.json"
    data = json.loads(path.read_text())
    name = next(v for v, info in data["database"].items() if info["subset"] == "Test" and info["annotations"])
    data["database"][name]["annotations"][0].update(changes)
    path.write_text(json.dumps(data))


def test_unknown_label_is_an_error_or_counted_skip(dataset):
    _edit_first_annotation(dataset, label="Juggling")
    with pytest.raises(InputError, match="not in the class list"):
        load_tal_split(dataset, "Test", classes=["Pitch", "Dive", "Jump", "Throw", "Swing"])
    split = load_tal_split(dataset, "Test", classes=["Pitch", "Dive", "Jump", "Throw", "Swing"], skip_bad=True)
    assert split.skipped["segments_unknown_label"] == 1


def test_segment_outside_video(dataset):
    _edit_first_annotation(dataset, segment=[1.0, 9999.0])
    with pytest.raises(InputError, match="outside the video"):
        load_tal_split(dataset, "Test")
    assert load_tal_split(dataset, "Test", skip_bad=True).skipped["segments_outside_video"] == 1


def test_segment_end_before_start(dataset):
    _edit_first_annotation(dataset, segment=[5.0, 2.0])
    with pytest.raises(InputError, match="< start"):
        load_tal_split(dataset, "Test")


def test_feature_file_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_feature_file(tmp_path / "missing.npy")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(InputError, match="unreadable"):
        load_feature_file(tmp_path / "bad.npy")
    np.save(tmp_path / "one_d.npy", np.zeros(5))
    with pytest.raises(InputError, match=r"\(T, F\)"):
        load_feature_file(tmp_path / "one_d.npy")


def test_per_class_txt_annotations(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "features").mkdir()
    (tmp_path / "annotations" / "Diving_test.txt").write_text("video_test_1 1.0 3.5\nvideo_test_2 0.5 1.0\n")
    (tmp_path / "annotations" / "Ambiguous_test.txt").write_text("video_test_1 4.0 5.0\n")
    for name in ("video_test_1", "video_test_2"):
        np.save(tmp_path / "features" / f"{name}.npy", np.zeros((40, 8), dtype=np.float32))
    split = load_tal_split(tmp_path, "test", feature_rate=4.0)
    assert split.classes == ["Diving"]
    assert [(v.name, v.duration, v.segments) for v in split.videos] == [
        ("video_test_1", 10.0, [(0, 1.0, 3.5)]), ("video_test_2", 10.0, [(0, 0.5, 1.0)])
    ]
    assert split.skipped["ambiguous_annotations"] == 1


@pytest.mark.parametrize("content", [b"", b"\x93NUMPY\x01\x00"], ids=["zero_bytes", "header_only"])
def test_empty_npy_is_an_error_or_skipped_with_a_warning(dataset, capsys, content):
    data = json.loads((dataset / "annotations" / "thumos14.json").read_text())
    name = next(v for v, info in data["database"].items() if info["subset"] == "Validation")
    (dataset / "features" / f"{name}.npy").write_bytes(content)
    with pytest.raises(InputError, match=rf"{name}\.npy: (feature file is empty|unreadable)") as err:
        load_tal_split(dataset, "Validation")
    assert "\n" not in str(err.value)
    split = load_tal_split(dataset, "Validation", skip_bad=True)
    assert split.skipped["videos_bad_features"] == 1 and len(split.videos) == 3
    assert f"streammem: warning: skipped video '{name}'" in capsys.readouterr().err
