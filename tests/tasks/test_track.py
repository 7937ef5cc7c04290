"""``streammem <verb> track``: eval (metrics JSON), bad input, demo (headless), export parity, bench."""

import json
from pathlib import Path

import pytest
import torch

from streammem.checkpoints import save_checkpoint
from streammem.cli import main
from streammem.data.synthetic_mot import SyntheticMOTConfig, write_split, write_video
from streammem.models.memotr import build
from streammem.tasks import TASKS, track

torch.set_num_threads(1)  # the CI machine is shared; one thread is faster than two under load
SMALL = SyntheticMOTConfig(num_frames=12)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """An untrained tiny model whose class heads fire, so tracks are born and scored."""
    torch.manual_seed(0)
    model = build("tiny", num_queries=8, max_tracks=6)
    with torch.no_grad():
        for head in model.class_embed:
            head.bias.fill_(0.0)
    path = tmp_path_factory.mktemp("w") / "memotr_test.safetensors"
    save_checkpoint(path, model, model_name="memotr", config=model.cfg.to_dict(), training_command="test",
                    data_seed=0)
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    write_split(root, "val", [5000, 5001], SMALL)
    return root


def test_eval_writes_the_metric_keys(dataset, weights, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["eval", "track", str(dataset), "--weights", str(weights), "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    for key in ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW"):
        assert key in metrics
    assert metrics["num_sequences"] == 2 and 0.0 <= metrics["HOTA"] <= 100.0
    assert isinstance(metrics["IDSW"], int)
    assert (tmp_path / "tracks" / "synth05000.txt").is_file()
    assert main(["eval", "track", str(dataset), "--weights", str(weights), "--out", str(out)]) == 0  # again
    assert "HOTA" in capsys.readouterr().out


def test_eval_baseline_tracker_runs_on_the_same_detections(dataset, weights, tmp_path):
    out = tmp_path / "b.json"
    assert main(["eval", "track", str(dataset), "--weights", str(weights), "--tracker", "bytetrack",
                 "--out", str(out)]) == 0
    assert json.loads(out.read_text())["tracker"] == "bytetrack"


def _copy(dataset: Path, tmp_path: Path) -> Path:
    import shutil

    root = tmp_path / "d"
    shutil.copytree(dataset, root)
    return root / "val" / "synth05000"


@pytest.mark.parametrize("damage, message", [
    (lambda s: (s / "gt" / "gt.txt").write_text("1,1,10,10,5\n"), "gt.txt:1"),
    (lambda s: (s / "gt" / "gt.txt").write_text(""), "gt.txt: file is empty"),
    (lambda s: (s / "img1" / "00000007.jpg").unlink(), "frame 7 of 12 is missing"),
    (lambda s: (s / "seqinfo.ini").write_text("[Sequence]\nname=x\nseqLength=30\n"), "frame 13 of 30 is missing"),
    (lambda s: (s / "seqinfo.ini").write_text("[Sequence]\nname=x\n"), "no seqLength"),
])
def test_bad_input_is_one_line_error(dataset, weights, tmp_path, capsys, damage, message):
    seq = _copy(dataset, tmp_path)
    damage(seq)
    code = main(["eval", "track", str(seq.parent.parent), "--weights", str(weights), "--out", str(tmp_path / "x.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("streammem: error:") and message in err[-1]
    assert not (tmp_path / "x.json").exists()


def test_demo_writes_annotated_video_and_mot_txt_headless(weights, tmp_path, capsys):
    clip = write_video(tmp_path / "clip.mp4", SMALL, 9001)
    out = tmp_path / "demo"
    assert main(["demo", "track", "--source", str(clip), "--weights", str(weights), "--out", str(out),
                 "--no-window"]) == 0
    video, txt = out / "tracks.mp4", out / "tracks.txt"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == SMALL.num_frames and summary["source"] == str(clip)
    assert video.stat().st_size > 0 and txt.is_file()
    assert str(video) in capsys.readouterr().out
    rows = [line.split(",") for line in txt.read_text().splitlines()]
    assert rows and all(len(r) == 10 and 1 <= int(r[0]) <= SMALL.num_frames for r in rows)


def test_demo_missing_source_is_one_line_error(weights, tmp_path, capsys):
    code = main(["demo", "track", "--source", str(tmp_path / "nope.mp4"), "--weights", str(weights),
                 "--out", str(tmp_path)])
    assert code == 2 and "no such file" in capsys.readouterr().err


@pytest.mark.export
def test_exported_step_loads_with_torch_jit_alone_and_matches(weights, tmp_path):
    path = tmp_path / "track.pt"
    assert main(["export", "track", "--out", str(path), "--weights", str(weights), "--check-frames", "2"]) == 0
    scripted = torch.jit.load(str(path))
    same, worst = track.track_parity(track.load_model(weights), scripted, track.synthetic_clip(6))
    assert same and worst <= 1e-4


@pytest.mark.slow
@pytest.mark.export
def test_export_parity_over_100_frames_with_shipped_weights(tmp_path, capsys):
    if not TASKS["track"].weights_shipped():
        pytest.skip("no shipped weights")
    assert main(["export", "track", "--out", str(tmp_path / "t.pt"), "--check-frames", "100"]) == 0
    assert "parity over 100 frames" in capsys.readouterr().out


def test_bench_streams_the_given_weights_through_the_harness(weights, tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", "track", "--quick", "--positions", "2,4", "--repeats", "1", "--threads", "1", "--weights",
                 str(weights), "--out", str(out)]) == 0
    task = json.loads(out.read_text())["tasks"]["track"]
    assert f"weights {weights.name}" in task["workload"]["label"]
    assert [p["position"] for p in task["stream"]["positions"]] == [2, 4]


def test_train_applies_config_overrides_and_records_them(tmp_path):
    data = tmp_path / "data"
    write_split(data, "train", [1000], SMALL)
    out = tmp_path / "w.safetensors"
    rc = main(["train", "track", "--data", str(data), "--iterations", "1", "--threads", "1", "--out", str(out),
               "--set", "dec_layers=2", "--set", "clip_lengths=[2]", "--set", "clip_milestones=[]"])
    assert rc == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["config"]["dec_layers"] == 2 and meta["config"]["clip_lengths"] == [2]
    model = track.load_model(out)
    assert model.cfg.dec_layers == 2 and len(model.decoder) == 2


def test_a_bad_override_when_fine_tuning_is_blamed_on_the_override_not_the_weights(weights, tmp_path, capsys):
    rc = main(["train", "track", "--init", str(weights), "--iterations", "1", "--threads", "1",
               "--out", str(tmp_path / "w.safetensors"), "--set", "no_such_field=1"])
    err = capsys.readouterr().err
    assert rc == 2 and "train track: bad config" in err and "no_such_field" in err and ".json" not in err


def test_inference_verbs_scope_autograd_instead_of_switching_it_off(dataset, weights, tmp_path, monkeypatch):
    seen = []
    real = track.track_frames

    def spy(*args, **kwargs):
        seen.append(torch.is_grad_enabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(track, "track_frames", spy)
    assert torch.is_grad_enabled()
    track.load_model(weights)
    assert torch.is_grad_enabled()  # loading weights leaves the process's autograd alone
    assert main(["eval", "track", str(dataset), "--weights", str(weights), "--threads", "1",
                 "--out", str(tmp_path / "m.json")]) == 0
    assert seen == [False, False] and torch.is_grad_enabled()  # off inside the verb only


def test_train_init_starts_from_the_given_weights(weights, tmp_path):
    data = tmp_path / "data"
    write_split(data, "train", [1000], SMALL)
    out = tmp_path / "w.safetensors"
    rc = main(["train", "track", "--data", str(data), "--iterations", "1", "--threads", "1", "--out", str(out),
               "--init", str(weights), "--set", "clip_lengths=[2]", "--set", "clip_milestones=[]", "--set", "lr=0",
               "--set", "lr_backbone=0", "--set", "lr_points=0"])
    assert rc == 0
    start, tuned = track.load_model(weights), track.load_model(out)
    assert tuned.cfg.num_queries == 8 and tuned.cfg.clip_lengths == (2,)  # the init's config, then --set
    for (name, a), b in zip(start.state_dict().items(), tuned.state_dict().values(), strict=True):
        assert torch.equal(a, b), name  # learning rate 0: one step leaves the initial weights as they were


@pytest.mark.parametrize("setting, message", [("dec_layers", "not KEY=VALUE"), ("no_such_field=1", "unknown memotr")])
def test_train_bad_override_is_one_line_error(tmp_path, capsys, setting, message):
    data = tmp_path / "data"
    write_split(data, "train", [1000], SMALL)
    rc = main(["train", "track", "--data", str(data), "--iterations", "1", "--set", setting,
               "--out", str(tmp_path / "w.safetensors")])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and message in err and "\n" not in err
    assert not (tmp_path / "w.safetensors").exists()


def test_a_stored_config_that_cannot_build_the_model_is_an_input_error_naming_the_sidecar(weights, tmp_path):
    import shutil

    from streammem.errors import InputError
    from streammem.tasks.track import load_model

    bad = tmp_path / "bad.safetensors"
    shutil.copy(weights, bad)
    meta = json.loads(Path(weights).with_suffix(".json").read_text())
    meta["config"]["no_such_field"] = 1
    bad.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"bad\.json.*stored config does not build the model.*no_such_field"):
        load_model(bad)
