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
    assert main(["demo", "tal", "--weights", str(weights), "--out-dir", str(root / "demo")]) == 0
    png, actions = root / "demo" / "tal_demo_timeline.png", root / "demo" / "tal_demo_actions.json"
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


def test_bench_reports_flat_latency_and_state(tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", "tal", "--steps", "300", "--window", "10", "--threads", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["state_numel_at_100"] == result["state_numel_at_300"]
    assert result["ms_per_step_at_300"] > 0 and result["frame_encoder_ms_per_feature"] > 0


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
