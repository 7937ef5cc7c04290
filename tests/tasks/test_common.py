"""The shared task layer: devices, option types, the output guard, configs from names and files, JSON."""

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from streammem.errors import InputError, StreamMemError
from streammem.tasks import common


def test_auto_device_is_cuda_only_when_cuda_exists():
    assert common.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert common.resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("name, message", [("cuda", "CUDA is not available"), ("cuda:3", "CUDA is not available"),
                                           ("tpu", "is not a device"), ("", "")])
def test_unavailable_devices_are_one_line_errors(name, message):
    if not name:
        assert common.resolve_device(name) == torch.device("cpu")  # empty means auto
        return
    with pytest.raises(InputError, match=message):
        common.resolve_device(name)


def test_a_device_the_task_does_not_run_on_is_refused_and_auto_avoids_it():
    with pytest.raises(InputError, match="'cpu': streammem eval x runs on cuda only"):
        common.resolve_device("cpu", supported=("cuda",), what="streammem eval x")
    assert common.resolve_device("auto", supported=("cpu",)) == torch.device("cpu")


@pytest.mark.parametrize("parse, good, bad", [
    (common.positive_int, {"1": 1, "8": 8}, ["0", "-1", "1.5", "nan", "x", ""]),
    (common.non_negative_int, {"0": 0, "3": 3}, ["-1", "x"]),
    (common.positive_float, {"0.5": 0.5, "1e3": 1000.0}, ["0", "-2", "nan", "inf", "-inf", "x"]),
    (common.int_at_least(110), {"110": 110}, ["109", "50"]),
])
def test_option_types_accept_the_range_and_refuse_the_rest(parse, good, bad):
    for text, value in good.items():
        assert parse(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def test_outputs_default_folder_and_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outputs = common.Outputs.plan("tal", "run", "/data/videos/My Clip.mp4", None)
    assert outputs.folder == Path("runs/tal/run/My_Clip")
    assert not outputs.folder.exists()  # created only when something is written
    path = outputs.write_json("actions.json", {"x": float("nan"), "y": np.float32(1.5), "p": Path("a")})
    assert json.loads(path.read_text()) == {"x": None, "y": 1.5, "p": "a"}
    assert common.Outputs.plan("tal", "run", "0", None).folder.name == "camera0"
    assert common.Outputs.plan("tal", "run", "rtsp://cam/stream?x=1", None).folder.name == "stream"


def test_out_with_the_main_suffix_names_the_main_file(tmp_path):
    outputs = common.Outputs.plan("tal", "eval", "x", tmp_path / "sub" / "m.json")
    assert outputs.main == tmp_path / "sub" / "m.json" and outputs.folder == tmp_path / "sub"
    assert outputs.path("m.json") == tmp_path / "sub" / "m.json"
    assert outputs.path("predictions.json") == tmp_path / "sub" / "predictions.json"


def test_outputs_refuse_inputs_the_package_files_and_unwritable_places(tmp_path):
    source = tmp_path / "talk.wav"
    source.write_bytes(b"RIFF")
    with pytest.raises(InputError, match="is an input of this command"):
        common.Outputs.plan("asr", "run", "talk", source.with_suffix(".wav"), [source], main_suffixes=(".wav",))
    outputs = common.Outputs.plan("asr", "run", "talk", tmp_path, [source])
    with pytest.raises(InputError, match="is an input"):
        outputs.path("talk.wav")
    dataset = tmp_path / "dataset"
    (dataset / "annotations").mkdir(parents=True)
    (dataset / "annotations" / "gt.json").write_text("{}")
    with pytest.raises(InputError, match="is a file of an input folder"):
        common.Outputs.plan("tal", "eval", "x", dataset / "annotations" / "gt.json", [dataset])
    assert common.Outputs.plan("tal", "eval", "x", dataset / "metrics.json", [dataset]).main.parent == dataset
    with pytest.raises(InputError, match="inside the streammem package"):
        common.Outputs.plan("tal", "train", "x", common.PACKAGE_DIR / "weights" / "matr_tiny.safetensors",
                            main_suffixes=(".safetensors",))
    with pytest.raises(InputError, match="is a file"):
        common.Outputs.plan("tal", "eval", "x", source / "deeper")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        import os

        if os.access(locked, os.W_OK):  # root ignores permission bits
            pytest.skip("running as a user that can write anywhere")
        with pytest.raises(InputError, match="not writable"):
            common.Outputs.plan("tal", "eval", "x", locked / "out")
    finally:
        locked.chmod(0o700)


def test_a_weights_sidecar_counts_as_an_input(tmp_path):
    args = argparse.Namespace(threads=1, device="cpu", weights=tmp_path / "w.safetensors", out=tmp_path / "w.json")
    with pytest.raises(InputError, match="is an input"):
        common.start(args, task="tal", verb="eval", stem="x")


def test_train_config_from_a_name_a_yaml_and_a_python_file(tmp_path, capsys):
    from streammem.models.matr import CONFIGS

    named = common.train_config(CONFIGS, "tiny", ["memory_len=3"], num_classes=7)
    assert named["memory_len"] == 3 and named["num_classes"] == 7 and named["d_model"] == CONFIGS["tiny"].d_model
    assert '"memory_len": 3' in capsys.readouterr().out  # the resolved config is printed
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text("base: paper\nd_model: 128\n")
    from_yaml = common.train_config(CONFIGS, str(yaml_file), ["dropout=0.2"])
    assert from_yaml["d_model"] == 128 and from_yaml["dropout"] == 0.2
    assert from_yaml["encoder_layers"] == CONFIGS["paper"].encoder_layers
    py_file = tmp_path / "mine.py"
    py_file.write_text("d_model = 48\nencoder_layers = 1\n")
    from_py = common.train_config(CONFIGS, str(py_file))
    assert from_py["d_model"] == 48 and from_py["segment_len"] == CONFIGS["tiny"].segment_len


@pytest.mark.parametrize("text, message", [("base: nope\n", "base 'nope'"), ("a: [1, 2\n", "cannot read the config")])
def test_bad_config_files_are_one_line_errors(tmp_path, text, message):
    from streammem.models.matr import CONFIGS

    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        common.train_config(CONFIGS, str(path))
    with pytest.raises(InputError, match="not a config name"):
        common.train_config(CONFIGS, str(tmp_path / "missing.yaml"))
    with pytest.raises(StreamMemError, match="not KEY=VALUE"):
        common.train_config(CONFIGS, "tiny", ["layers"])


def test_json_safe_gives_strict_json():
    value = common.json_safe({"a": [np.int64(3), (1.0, math.inf)], 2: torch.tensor([1.5])})
    assert json.loads(json.dumps(value, allow_nan=False)) == {"a": [3, [1.0, None]], "2": [1.5]}


def test_a_verb_may_run_on_other_devices_than_its_task():
    from streammem.tasks import asr, simulst

    assert common.supported_devices(asr, "eval") == common.ALL_DEVICES
    assert common.supported_devices(asr, "export") == ("cpu",)
    assert common.supported_devices(asr, "bench") == ("cpu", "cuda")
    assert common.supported_devices(simulst, "train") == simulst.DEVICES  # no <VERB>_DEVICES: DEVICES for all


def test_inference_autocast_runs_in_the_asked_dtype_and_refuses_fp16_off_cuda():
    cpu = torch.device("cpu")
    with common.autocast(None, cpu):
        assert not torch.is_autocast_enabled("cpu")
    with common.autocast("bf16", cpu):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    with pytest.raises(InputError, match="fp16 inference needs CUDA"):
        common.autocast("fp16", cpu)


@pytest.mark.parametrize("task, module", [("simulst", "streammem.data.synthetic_simulst"),
                                          ("asr", "streammem.data.synthetic_speech")])
def test_train_writes_the_seed_0_corpus_whatever_the_training_seed(task, module, tmp_path, monkeypatch, capsys):
    import importlib

    from streammem.cli import main

    calls = []
    monkeypatch.setattr(importlib.import_module(module), "write_corpus",
                        lambda root, *args, **kwargs: calls.append((args, kwargs)))
    data = tmp_path / "data"  # missing: the synthetic corpus is written there, then found empty
    main(["train", task, "--data", str(data), "--seed", "3", "--max-steps", "1", "--out", str(tmp_path / "w")])
    assert len(calls) == 1 and calls[0][1].get("seed", 0) == 0 and not calls[0][0]
    assert "(seed 0)" in capsys.readouterr().out
