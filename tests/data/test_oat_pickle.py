"""OAT/MATR feature pickles: converted to per-video .npy through a restricted unpickler that refuses code."""

import os
import pickle
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from streammem.data.oat_pickle import convert, main, read_oat_pickle
from streammem.data.tal_features import load_tal_split
from streammem.errors import InputError

TOOL = Path(__file__).resolve().parents[2] / "tools" / "convert_oat_pickle.py"


def _oat_split(rng):
    """The OAT structure: video -> {"rgb": (T, 2048), "flow": (T, 2048)} (OrderedDict for one of them)."""
    return {
        "video_test_0000004": {"rgb": rng.standard_normal((12, 2048)).astype(np.float32),
                               "flow": rng.standard_normal((12, 2048)).astype(np.float32)},
        "video_test_0000006": OrderedDict(rgb=rng.standard_normal((8, 2048)), flow=rng.standard_normal((8, 2048))),
    }


class _RunsShell:
    """Unpickling this calls os.system: a pickle is a program."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_a_benign_oat_pickle_converts_to_rgb_then_flow_per_video(tmp_path, protocol):
    data = _oat_split(np.random.default_rng(0))
    source = tmp_path / "thumos_all_feature_test_V3.pickle"
    source.write_bytes(pickle.dumps(data, protocol=protocol))
    written = convert(source, tmp_path / "oat")
    assert sorted(p.name for p in written) == ["video_test_0000004.npy", "video_test_0000006.npy"]
    for video, streams in data.items():
        features = np.load(tmp_path / "oat" / "features" / f"{video}.npy")
        assert features.dtype == np.float32 and features.shape == (len(streams["rgb"]), 4096)
        np.testing.assert_array_equal(features, np.concatenate([streams["rgb"], streams["flow"]], 1).astype(np.float32))


def test_the_converted_folder_is_a_dataset_tal_reads(tmp_path):
    source = tmp_path / "split.pickle"
    source.write_bytes(pickle.dumps(_oat_split(np.random.default_rng(1))))
    annotations = tmp_path / "thumos14.json"
    annotations.write_text('{"database": {"video_test_0000004": {"subset": "Test", "duration": 3.0, "annotations": '
                           '[{"label": "Diving", "segment": [0.5, 2.0]}]}}}')
    assert main([str(source), str(tmp_path / "oat"), "--annotations", str(annotations)]) == 0
    (video,) = load_tal_split(tmp_path / "oat", "Test").videos
    assert video.features.shape == (12, 4096) and video.feature_rate == 4.0  # 12 features over 3 s


def test_a_hostile_pickle_is_refused_in_one_line_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    source = tmp_path / "evil.pickle"
    source.write_bytes(pickle.dumps({"video_test_0000004": {"rgb": _RunsShell(marker), "flow": np.zeros((2, 2))}}))
    with pytest.raises(InputError, match=r"evil.pickle: refusing to unpickle posix.system"):
        read_oat_pickle(source)
    done = subprocess.run([sys.executable, str(TOOL), str(source), str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "refusing to unpickle" in done.stderr and "Traceback" not in done.stderr
    assert not marker.exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("payload", [
    b"cbuiltins\neval\n(S'1+1'\ntR.",  # protocol 0: builtins.eval
    pickle.dumps(subprocess.Popen),  # a class by reference
    b"\x80\x02}q\x00.",  # an empty dict: no videos
    b"not a pickle at all",
])
def test_code_globals_and_non_feature_pickles_are_one_line_errors(tmp_path, payload):
    source = tmp_path / "x.pickle"
    source.write_bytes(payload)
    with pytest.raises(InputError) as err:
        read_oat_pickle(source)
    assert str(err.value).startswith(f"{source}: ") and "\n" not in str(err.value)


def test_a_video_without_flow_is_refused_naming_it(tmp_path):
    source = tmp_path / "x.pickle"
    source.write_bytes(pickle.dumps({"v1": {"rgb": np.zeros((3, 4))}}))
    with pytest.raises(InputError, match="video 'v1': 'flow' is not a \\(T, F\\) array"):
        read_oat_pickle(source)
