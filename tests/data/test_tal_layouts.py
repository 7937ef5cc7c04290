"""The official TAL feature layouts (LSTR/TeSTra rgb_*/ + flow_*/ with target_perframe/, ActionFormer thumos14.json +
one .npy folder), told apart by the folder; `eval tal` and `train tal` read them."""

import json
import shutil

import numpy as np
import pytest

from streammem.cli import main
from streammem.data.synthetic_tal import SyntheticTALConfig, generate_synthetic_tal
from streammem.data.tal_features import load_tal_split, read_features
from streammem.data.tal_layouts import THUMOS14_CLASSES, detect_layout
from streammem.errors import InputError


def _target(length: int, runs: list[tuple[int, int, int]]) -> np.ndarray:
    """Per-frame targets (T, 22): background, 20 classes, Ambiguous; ``runs`` = (column, first, end) frames."""
    target = np.zeros((length, 22), np.float32)
    target[:, 0] = 1
    for column, lo, hi in runs:
        target[lo:hi, column], target[lo:hi, 0] = 1, 0
    return target


def _lstr_folder(root, rng):
    """An LSTR/TeSTra THUMOS folder: RGB (T, 2048), flow (T, 1024), per-frame targets (T, 22), 4 features/s."""
    for sub in ("rgb_kinetics_resnet50", "flow_kinetics_bninception", "target_perframe"):
        (root / sub).mkdir(parents=True)
    runs = {"video_validation_0000051": [(1, 4, 12)], "video_test_0000004": [(8, 8, 20), (21, 30, 34), (3, 36, 39)]}
    for name, video_runs in runs.items():
        np.save(root / "rgb_kinetics_resnet50" / f"{name}.npy", rng.standard_normal((40, 2048)).astype(np.float32))
        np.save(root / "flow_kinetics_bninception" / f"{name}.npy", rng.standard_normal((40, 1024)).astype(np.float32))
        np.save(root / "target_perframe" / f"{name}.npy", _target(40, video_runs))
    return root


def test_lstr_features_concatenate_rgb_then_flow_and_targets_give_the_segments(tmp_path):
    root = _lstr_folder(tmp_path / "THUMOS", np.random.default_rng(0))
    assert detect_layout(root).name == "lstr"
    split = load_tal_split(root, "Test")
    (video,) = split.videos
    rgb = np.load(root / "rgb_kinetics_resnet50" / "video_test_0000004.npy")
    flow = np.load(root / "flow_kinetics_bninception" / "video_test_0000004.npy")
    np.testing.assert_array_equal(video.features, np.concatenate([rgb, flow], axis=1))
    assert video.name == "video_test_0000004" and video.feature_rate == 4.0 and video.duration == 10.0
    assert video.stream_dims == (2048, 1024)
    assert split.classes == THUMOS14_CLASSES
    # Diving (column 8) frames 8-20 -> 2 s to 5 s; BasketballDunk (column 2... here 3 = Billiards) 36-39; the
    # Ambiguous run (column 21) is dropped and counted
    assert [(split.classes[c], s, e) for c, s, e in video.segments] == [("Diving", 2.0, 5.0), ("Billiards", 9.0, 9.75)]
    assert split.skipped == {"ambiguous_annotations": 1}
    assert [v.name for v in load_tal_split(root, "validation").videos] == ["video_validation_0000051"]


def test_lstr_flow_shorter_than_its_video_is_one_line_naming_the_file(tmp_path):
    root = _lstr_folder(tmp_path / "THUMOS", np.random.default_rng(0))
    np.save(root / "flow_kinetics_bninception" / "video_test_0000004.npy", np.zeros((30, 1024), np.float32))
    with pytest.raises(InputError, match=r"flow_kinetics_bninception/video_test_0000004.npy: 30 features, but "
                       r"duration x feature rate gives 40"):
        load_tal_split(root, "Test")


def test_rgb_and_flow_of_different_lengths_are_one_line_naming_both(tmp_path):
    root = _lstr_folder(tmp_path / "THUMOS", np.random.default_rng(0))
    database = {"video_test_0000004": {"subset": "Test", "duration": 10.0, "annotations": []}}
    (root / "thumos14.json").write_text(json.dumps({"database": database}))  # each video's own rate: no length check
    np.save(root / "flow_kinetics_bninception" / "video_test_0000004.npy", np.zeros((30, 1024), np.float32))
    with pytest.raises(InputError, match=r"rgb_kinetics_resnet50/video_test_0000004.npy: 40 features, but .*"
                       r"flow_kinetics_bninception/video_test_0000004.npy has 30"):
        load_tal_split(root, "Test")


def test_a_folder_with_no_known_layout_is_one_line(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    np.save(tmp_path / "a" / "v.npy", np.zeros((2, 2)))
    np.save(tmp_path / "b" / "v.npy", np.zeros((2, 2)))
    with pytest.raises(InputError, match="several folders of .npy features \\(a, b\\)"):
        detect_layout(tmp_path)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """The synthetic set (32-d = 16 RGB + 16 flow features, the shipped weights' width) in streammem's layout."""
    root = tmp_path_factory.mktemp("tal") / "ours"
    generate_synthetic_tal(root, num_train=4, num_test=3, seed=5, cfg=SyntheticTALConfig(num_features=(80, 120)))
    return root


def _as_lstr(ours, root, rgb=16):
    """The same features split into rgb_*/ (the first ``rgb``) and flow_*/ (the rest), the JSON beside them."""
    for sub in ("rgb_kinetics_resnet50", "flow_kinetics_bninception"):
        (root / sub).mkdir(parents=True)
    for path in (ours / "features").glob("*.npy"):
        features = np.load(path)
        np.save(root / "rgb_kinetics_resnet50" / path.name, features[:, :rgb])
        np.save(root / "flow_kinetics_bninception" / path.name, features[:, rgb:])
    shutil.copy(ours / "annotations" / "thumos14.json", root / "thumos14.json")
    return root


def _as_actionformer(ours, root):
    """ActionFormer's layout: annotations/thumos14.json + i3d_features/<video>.npy."""
    shutil.copytree(ours / "annotations", root / "annotations")
    shutil.copytree(ours / "features", root / "i3d_features")
    return root


@pytest.mark.parametrize("convert, name", [(_as_lstr, "lstr"), (_as_actionformer, "actionformer")])
def test_eval_tal_on_an_official_layout_gives_the_metrics_of_the_same_features(synthetic, convert, name, tmp_path):
    root = convert(synthetic, tmp_path / name)
    assert detect_layout(root).name == name
    results = []
    for data in (synthetic, root):
        out = tmp_path / f"{data.name}.json"
        assert main(["eval", "tal", "--data", str(data), "--threads", "1", "--out", str(out)]) == 0
        results.append({k: v for k, v in json.loads(out.read_text()).items() if k.startswith("mAP")})
    assert results[0] == results[1] and results[0]["mAP_avg"] > 0


def test_train_tal_reads_the_lstr_layout_with_one_projection_per_file(synthetic, tmp_path):
    root = _as_lstr(synthetic, tmp_path / "lstr", rgb=20)  # RGB and flow of different widths, as LSTR's 2048 + 1024
    out = tmp_path / "w.safetensors"
    assert main(["train", "tal", "--data", str(root), "--iterations", "1", "--eval-every", "1", "--batch-size", "2",
                 "--threads", "1", "--out", str(out)]) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["metrics"]["classes"][:2] == ["Pitch", "Dive"] and meta["config"]["feature_dims"] == [20, 12]


def test_a_split_loaded_without_features_reads_each_video_back_the_same(tmp_path):
    root = _lstr_folder(tmp_path / "THUMOS", np.random.default_rng(0))
    whole = load_tal_split(root, "Test")
    light = load_tal_split(root, "Test", keep_features=False)  # what eval tal holds: no feature rows
    assert light.videos[0].features.shape == (0, 3072) and light.ground_truth() == whole.ground_truth()
    np.testing.assert_array_equal(read_features(light.videos[0]), whole.videos[0].features)


def test_a_mapped_split_reads_the_same_features_and_holds_none_in_memory(tmp_path):
    import tracemalloc

    rng = np.random.default_rng(0)
    root = _lstr_folder(tmp_path / "THUMOS", rng)
    rgb_dir, flow_dir = root / "rgb_kinetics_resnet50", root / "flow_kinetics_bninception"
    np.save(flow_dir / "video_test_0000004.npy", rng.standard_normal((42, 1024)).astype(np.float32))  # 2 longer
    database = {f"video_test_{i:07d}": {"subset": "Test", "duration": 10.0, "annotations": []} for i in range(4, 24)}
    (root / "thumos14.json").write_text(json.dumps({"database": database}))
    for name in list(database)[1:]:  # 20 videos of 40 x 3072 float32: 9.8 MB of features in all
        shutil.copy(rgb_dir / "video_test_0000004.npy", rgb_dir / f"{name}.npy")
        shutil.copy(root / "target_perframe" / "video_test_0000004.npy", root / "target_perframe" / f"{name}.npy")
        np.save(flow_dir / f"{name}.npy", rng.standard_normal((40, 1024)).astype(np.float32))
    whole = load_tal_split(root, "Test")
    tracemalloc.start()
    mapped = load_tal_split(root, "Test", mapped=True)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert held < 1e6  # numpy allocations are traced: the 9.8 MB of features are not held
    for light, full in zip(mapped.videos, whole.videos, strict=True):
        assert light.features.shape == full.features.shape == (40, 3072) and len(light.features) == 40
        read = np.asarray(light.features)
        assert read.dtype == np.float32 and read.flags.writeable
        np.testing.assert_array_equal(read, full.features)  # the longer flow file cut to the RGB length
