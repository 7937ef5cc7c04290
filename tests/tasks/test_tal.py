"""`streammem <verb> tal` end to end on a tiny synthetic set: train, eval, demo, export, bench, bad input."""

import json
import subprocess
import sys

import pytest

from streammem.cli import main
from streammem.data.synthetic_tal import SyntheticTALConfig, generate_synthetic_tal


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("tal")
    generate_synthetic_tal(root / "data", num_train=6, num_test=2, seed=5, cfg=SyntheticTALConfig(num_features=(100, 140)))
    weights = root / "w.safetensors"
    code = main(["train", "tal", "--data", str(root / "data"), "--iterations", "2", "--eval-every", "1",
                 "--batch-size", "2", "--out", str(weights)])
    assert code == 0
    return root, weights


def test_train_writes_weights_with_classes(trained):
    _, weights = trained
    meta = json.loads(weights.with_suffix(".json").read_text())
    assert meta["model"] == "matr" and meta["metrics"]["classes"][:2] == ["Pitch", "Dive"]
    assert "mAP_avg" in meta["metrics"]["held_out"]
    log = (weights.parent / "train.log").read_text()
    assert "config (tiny): " in log and "\r" not in log  # the resolved config, then plain progress lines


def test_train_resume_keeps_start_weights_as_candidate(trained, capsys):
    root, weights = trained
    out = root / "resumed.safetensors"
    code = main(["train", "tal", "--data", str(root / "data"), "--iterations", "1", "--eval-every", "1",
                 "--batch-size", "2", "--resume", str(weights), "--out", str(out)])
    assert code == 0
    assert "it 0 (start weights)" in capsys.readouterr().out
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["model"] == "matr" and "mAP_avg" in meta["metrics"]["held_out"]
    # resuming a MATR checkpoint as the no-memory variant is a one-line input error
    assert main(["train", "tal", "--data", str(root / "data"), "--variant", "nomem", "--iterations", "1",
                 "--resume", str(weights), "--out", str(root / "x.safetensors")]) == 2


def test_eval_writes_metric_keys(trained):
    root, weights = trained
    out = root / "eval.json"
    assert main(["eval", "tal", "--data", str(root / "data"), "--weights", str(weights), "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    for key in ("mAP@0.3", "mAP@0.4", "mAP@0.5", "mAP@0.6", "mAP@0.7", "mAP_avg", "latency_s"):
        assert key in metrics
    assert 0.0 <= metrics["mAP_avg"] <= 100.0
    assert metrics["videos"] == 2


def test_demo_headless_writes_png_and_json(trained, capsys):
    root, weights = trained
    assert main(["demo", "tal", "--weights", str(weights), "--out", str(root / "demo")]) == 0
    png, actions = root / "demo" / "timeline.png", root / "demo" / "actions.json"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(actions.read_text())
    assert data["ground_truth"] and all(a["end"] <= a["emitted_at"] + 1e-6 for a in data["actions"])
    assert str(png) in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.export
def test_export_parity_and_plain_torch_load(trained):
    root, weights = trained
    out = root / "matr.pt"
    assert main(["export", "tal", "--weights", str(weights), "--out", str(out), "--parity-steps", "300"]) == 0
    code = (
        f"import torch; m = torch.jit.load({str(out)!r}); s = m.initial_state(1)\n"
        "for _ in range(40): o, s = m(torch.randn(1, 32), s)\n"
        "assert o.logits.shape == (1, 5, 6), o.logits.shape; print('ok')"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == "ok", run.stderr


def test_eval_bad_label_is_one_line_error(trained, capsys):
    root, weights = trained
    path = root / "data" / "annotations" / "thumos14.json"
    original = path.read_text()
    data = json.loads(original)
    video = next(v for v, info in data["database"].items() if info["subset"] == "Test" and info["annotations"])
    data["database"][video]["annotations"][0]["label"] = "Juggling"
    path.write_text(json.dumps(data))
    try:
        code = main(["eval", "tal", "--data", str(root / "data"), "--weights", str(weights), "--out", str(root / "e.json")])
        assert code == 2
        assert "not in the class list" in capsys.readouterr().err
        assert main(["eval", "tal", "--data", str(root / "data"), "--weights", str(weights), "--skip-bad",
                     "--out", str(root / "e.json")]) == 0
        assert json.loads((root / "e.json").read_text())["skipped"]["segments_unknown_label"] == 1
    finally:
        path.write_text(original)


# ------------------------------------------------------------------ rendered video: live front end (demo/run)
@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 20 s held-out rendered clip with its ground truth beside it (clip.json)."""
    from streammem.data.synthetic_tal_video import VideoTALConfig, write_sample_clip

    root = tmp_path_factory.mktemp("tal_clip")
    cfg = VideoTALConfig(timing=SyntheticTALConfig(num_features=(80, 80), gap=(4, 10)))
    write_sample_clip(root / "clip.mp4", seed=8_000_001, cfg=cfg)
    return root / "clip.mp4"


def test_demo_source_uses_trained_encoder_and_shows_ground_truth(clip, tmp_path, capsys):
    assert main(["demo", "tal", "--source", str(clip), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "UNTRAINED" not in out
    png, actions = tmp_path / "timeline.png", tmp_path / "actions.json"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(actions.read_text())
    assert data["weights"].endswith("matr_tiny_video.safetensors")
    truth = json.loads(clip.with_suffix(".json").read_text())["database"]["clip"]["annotations"]
    assert len(data["ground_truth"]) == len(truth) > 0
    assert all(a["end"] <= a["emitted_at"] + 1e-6 <= 20.0 + 1e-6 for a in data["actions"])


def test_demo_untrained_backbone_says_so(clip, tmp_path, capsys):
    assert main(["demo", "tal", "--source", str(clip), "--backbone", "mobilenet_v3_small", "--max-seconds", "5",
                 "--out", str(tmp_path)]) == 0
    assert "UNTRAINED" in capsys.readouterr().out


def test_run_video_and_features_write_png_and_json(clip, tmp_path):
    import numpy as np

    from streammem.models.matr.encoder_training import video_features
    from streammem.models.matr.frontend import load_frame_encoder
    from streammem.streams.sources import open_source
    from streammem.tasks.tal import ENCODER_WEIGHTS

    assert main(["run", "tal", str(clip), "--out", str(tmp_path / "video")]) == 0
    video = json.loads((tmp_path / "video" / "actions.json").read_text())
    assert (tmp_path / "video" / "timeline.png").read_bytes()[:4] == b"\x89PNG"
    assert video["video"] == "clip" and video["ground_truth"]
    # the same stream as a features .npy (what `train tal --stage encoder` writes) emits the same actions
    encoder, _ = load_frame_encoder(ENCODER_WEIGHTS)
    feats = video_features(encoder, open_source(str(clip)), 4.0)
    np.save(tmp_path / "clip.npy", feats)
    assert main(["run", "tal", str(tmp_path / "clip.npy"), "--out", str(tmp_path / "npy")]) == 0
    npy = json.loads((tmp_path / "npy" / "actions.json").read_text())
    assert [(a["label"], a["emitted_at"]) for a in npy["actions"]] == [(a["label"], a["emitted_at"]) for a in video["actions"]]


def test_run_corrupt_video_is_one_line_error_without_outputs(tmp_path, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    out_dir = tmp_path / "out"
    assert main(["run", "tal", str(bad), "--out", str(out_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "broken.mp4" in err
    assert not out_dir.exists() or not any(out_dir.iterdir())
    assert main(["run", "tal", str(tmp_path / "missing.mp4"), "--out", str(out_dir)]) == 2
    assert "missing.mp4: no such file" in capsys.readouterr().err


def test_run_is_a_tal_verb():
    from streammem.tasks import verbs_of

    assert "run" in verbs_of("tal")


def test_train_encoder_stage_writes_weights_and_features(tmp_path):
    from streammem.data.synthetic_tal_video import VideoTALConfig, generate_synthetic_tal_video
    from streammem.data.tal_features import load_tal_split
    from streammem.models.matr.frontend import load_frame_encoder

    cfg = VideoTALConfig(timing=SyntheticTALConfig(num_features=(60, 60), gap=(4, 10)))
    generate_synthetic_tal_video(tmp_path / "data", num_train=2, num_test=1, seed=4, cfg=cfg)
    weights = tmp_path / "enc.safetensors"
    assert main(["train", "tal", "--stage", "encoder", "--data", str(tmp_path / "data"), "--iterations", "2",
                 "--eval-every", "1", "--batch-size", "4", "--image-size", "32", "--out", str(weights)]) == 0
    encoder, meta = load_frame_encoder(weights)
    assert meta["config"]["out_dim"] == 32 and "balanced_accuracy" in meta["metrics"]["test_frames"]
    split = load_tal_split(tmp_path / "data", "Test")
    assert split.videos[0].features.shape == (60, 32)


def test_a_stored_config_that_cannot_build_the_model_is_an_input_error_naming_the_sidecar(trained, tmp_path):
    import json
    import shutil

    from streammem.errors import InputError
    from streammem.tasks.tal import load_model

    _, weights = trained
    bad = tmp_path / "bad.safetensors"
    shutil.copy(weights, bad)
    meta = json.loads(weights.with_suffix(".json").read_text())
    meta["config"]["no_such_field"] = 1
    bad.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"bad\.json.*stored config does not build the model.*no_such_field"):
        load_model(bad)


def test_eval_features_of_another_width_are_one_line_naming_both_widths(tmp_path, capsys):
    generate_synthetic_tal(tmp_path / "wide", num_train=1, num_test=1, seed=5,
                           cfg=SyntheticTALConfig(num_features=(100, 140), feature_dims=[1024, 1024]))
    assert main(["eval", "tal", "--data", str(tmp_path / "wide"), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.strip()
    assert "2048-d features, the MATR weights take 32-d" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "e").exists()
