"""`streammem <verb> anomaly` end to end on a tiny synthetic texture category: train, eval, score, demo, run,
export, bench, and bad input as one-line errors."""

import argparse
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from streammem.cli import main
from streammem.data.synthetic_anomaly import TextureConfig, write_textures
from streammem.tasks import anomaly

SMALL = ["image_size=16", "patch_size=4", "embed_dim=16", "depth=2", "num_heads=2", "decoder_dim=16",
         "decoder_depth=1", "decoder_heads=2", "memory_slots=4", "decoder_levels=[1,2]", "score_repeats=1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("anomaly")
    cat = write_textures(root / "data", TextureConfig(size=16, period=4.0, train=12, test_good=3, test_per_defect=2),
                         seed=3)
    weights = root / "w.safetensors"
    sets = [a for s in SMALL for a in ("--set", s)]
    code = main(["train", "anomaly", "--data", str(cat), "--iterations", "4", "--eval-every", "2", "--batch-size", "4",
                 "--threads", "1", *sets, "--out", str(weights)])
    assert code == 0
    return root, cat, weights


def test_train_stores_config_calibration_and_test_metrics(trained):
    _, _, weights = trained
    meta = json.loads(weights.with_suffix(".json").read_text())
    assert meta["model"] == "memmc_mae" and meta["config"]["image_size"] == 16
    assert meta["metrics"]["data"] == "texture" and "test_image_AUROC" in meta["metrics"]
    assert meta["metrics"]["image_threshold"] > 0 and meta["training_command"].startswith("streammem train anomaly")


def test_eval_writes_image_and_pixel_metrics_and_score_reads_them_back(trained, tmp_path):
    _, cat, weights = trained
    out = tmp_path / "metrics.json"
    assert main(["eval", "anomaly", "--data", str(cat), "--weights", str(weights), "--threads", "1", "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    for key in ("image_AUROC", "image_AUPRC", "F1_max", "pixel_AUROC", "AUPRO"):
        assert 0.0 <= metrics[key] <= 100.0
    assert metrics["images"] == 11 and metrics["anomalous"] == 8
    assert main(["score", "anomaly", "--gt", str(cat), "--pred", str(tmp_path / "scores.csv"), "--out",
                 str(tmp_path / "scored.json")]) == 0
    assert json.loads((tmp_path / "scored.json").read_text())["image_AUROC"] == pytest.approx(metrics["image_AUROC"])


def _score_args(*argv):
    parser = argparse.ArgumentParser()
    anomaly.add_score_arguments(parser)
    return parser.parse_args(argv)


def test_score_with_maps_gives_pixel_metrics_and_refuses_bad_rows(trained, tmp_path):
    _, cat, _ = trained
    split = anomaly.read_split(cat)
    maps = tmp_path / "maps"
    rows = ["path,score"]
    for item in split.test:
        rel = item.path.relative_to(cat)
        rows.append(f"{rel.as_posix()},{item.label + 0.1}")
        (maps / rel.parent).mkdir(parents=True, exist_ok=True)
        truth = cv2.imread(str(item.mask), cv2.IMREAD_GRAYSCALE) / 255.0 if item.mask else np.zeros((16, 16))
        np.save(maps / rel.with_suffix(".npy"), truth)
    csv_path = tmp_path / "pred.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    result = anomaly.score_predictions(cat, csv_path, maps)
    assert result["image_AUROC"] == pytest.approx(100.0) and result["AUPRO"] == pytest.approx(100.0)
    csv_path.write_text("\n".join(rows[:3] + ["test/good/000.png,abc"]) + "\n")
    assert main_score(cat, csv_path) == "not a number"
    csv_path.write_text("\n".join(rows + ["test/good/nope.png,0.5"]) + "\n")
    assert main_score(cat, csv_path) == "not in the test split"


def test_score_refuses_a_truncated_png_map_in_one_line(trained, tmp_path):
    from streammem.errors import InputError

    _, cat, _ = trained
    item = anomaly.read_split(cat).test[0]
    rel = item.path.relative_to(cat)
    maps = tmp_path / "maps"
    (maps / rel.parent).mkdir(parents=True)
    ok, encoded = cv2.imencode(".png", np.zeros((16, 16), np.uint16))
    (maps / rel.with_suffix(".png")).write_bytes(encoded.tobytes()[:40])  # header only: the pixels are cut off
    with pytest.raises(InputError) as err:
        anomaly._read_map(maps, rel)
    assert "truncated" in str(err.value) and "\n" not in str(err.value)


def main_score(cat, csv_path):
    from streammem.errors import InputError

    with pytest.raises(InputError) as err:
        anomaly.score(_score_args("--gt", str(cat), "--pred", str(csv_path), "--out", str(csv_path.parent / "o")))
    assert "\n" not in str(err.value)
    return "not a number" if "not a number" in str(err.value) else "not in the test split"


def test_demo_writes_overlays_video_plot_and_scores(tmp_path, capsys):
    assert main(["demo", "anomaly", "--threads", "1", "--out", str(tmp_path)]) == 0
    scores = json.loads((tmp_path / "scores.json").read_text())["images"]
    by_name = {s["image"].split("/")[-1]: s for s in scores}
    assert all(not by_name[f"normal_{i}.png"]["pred_label"] for i in range(3))  # shipped weights, held-out zeros
    assert all(v["pred_label"] for k, v in by_name.items() if k.startswith("anomaly"))
    assert (tmp_path / "normal_0_heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    frames = json.loads((tmp_path / "anomaly_clip_frames.json").read_text())["frames"]
    assert len(frames) == 40 and (tmp_path / "anomaly_clip_annotated.mp4").stat().st_size > 0
    assert str(tmp_path / "anomaly_clip_scores.png") in capsys.readouterr().out


def test_run_on_one_image_of_another_size_and_colour(trained, tmp_path):
    _, _, weights = trained
    image = tmp_path / "big.png"
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8))
    assert main(["run", "anomaly", str(image), "--weights", str(weights), "--threads", "1", "--out",
                 str(tmp_path / "out")]) == 0
    heat = cv2.imread(str(tmp_path / "out" / "big_heatmap.png"))
    assert heat.shape[0] == 192 and heat.shape[1] == 240  # the input's aspect ratio, upscaled


@pytest.mark.parametrize("layout, make, message", [
    ("auto", lambda d: (d / "train" / "good").mkdir(parents=True), "holds no images"),
    ("auto", lambda d: (d / "train" / "bad").mkdir(parents=True), "layout not recognised"),
    ("mvtec", lambda d: (d / "train" / "bad").mkdir(parents=True), "'train/good' is missing"),
])
def test_bad_datasets_are_one_line_errors(tmp_path, capsys, layout, make, message):
    data = tmp_path / "data"
    make(data)
    assert main(["eval", "anomaly", "--data", str(data), "--layout", layout, "--threads", "1",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_truncated_image_is_named(trained, tmp_path, capsys):
    _, _, weights = trained
    image = tmp_path / "t.png"
    ok, data = cv2.imencode(".png", np.zeros((20, 20), np.uint8))
    image.write_bytes(data.tobytes()[:30])
    assert main(["run", "anomaly", str(image), "--weights", str(weights), "--threads", "1", "--out",
                 str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(image) in err and "truncated" in err


@pytest.mark.slow
@pytest.mark.export
def test_export_torchscript_loads_with_torch_alone(trained, tmp_path):
    _, _, weights = trained
    out = tmp_path / "m.pt"
    assert main(["export", "anomaly", "--weights", str(weights), "--out", str(out)]) == 0
    code = (
        f"import torch; m = torch.jit.load({str(out)!r})\n"
        "o = m(torch.randint(0, 255, (2, 3, 20, 30), dtype=torch.uint8)); s = m.initial_state(1)\n"
        "f, s = m.step(torch.rand(1, 1, 16, 16), s)\n"
        "assert o.anomaly_map.shape == (2, 20, 30) and f.pred_score.shape == (1,); print('ok')"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == "ok", run.stderr


