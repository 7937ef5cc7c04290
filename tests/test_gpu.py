"""GPU smoke tests (``-m gpu``; skipped without CUDA): each tiny model trains a few steps on CUDA through its
training loop, each shipped model's streaming step gives the same outputs eager and TorchScript-scripted
on the GPU, ``eval`` and ``run`` of tal, track and asr give on CUDA what they give on the CPU (and ``run`` of
these, anomaly and simulst also works under ``--amp bf16`` and ``fp16``), and ``bench`` of every task measures
on CUDA."""

import pytest
import torch

from streammem.export import PARITY_TOLERANCE, script, stream_parity

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]
CUDA = torch.device("cuda")


def _moved(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _changed(before: list[torch.Tensor], model: torch.nn.Module) -> bool:
    return any(not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters(), strict=True))


# ----------------------------------------------------------------------------------------------- training
@pytest.mark.parametrize("amp", [None, "bf16", "fp16"])
def test_anomaly_trains_on_cuda(amp):
    from streammem.models.memmc_mae import build
    from streammem.models.memmc_mae.training import TrainSettings, train_model

    torch.manual_seed(0)
    model = build("tiny")
    size = model.config.image_size
    images = torch.randint(0, 256, (24, model.config.in_chans, size, size), dtype=torch.uint8)
    before = _moved(model)
    settings = TrainSettings(iterations=4, batch_size=4, eval_every=2, warmup=1)
    model, info = train_model(model, images[:20], images[20:], settings, device=CUDA, amp=amp, log=lambda _: None)
    assert next(model.parameters()).device.type == CUDA.type
    assert torch.isfinite(torch.tensor(info["val_mean_score"]))
    assert _changed([b.to(CUDA) for b in before], model)


@pytest.mark.parametrize("amp", [None, "bf16"])
def test_tal_trains_on_cuda(amp, tmp_path):
    from dataclasses import asdict

    from streammem.data.synthetic_tal import SyntheticTALConfig, generate_synthetic_tal
    from streammem.data.tal_features import load_tal_split
    from streammem.models.matr import CONFIGS, build, make_config
    from streammem.models.matr.training import TrainSettings, train_model

    generate_synthetic_tal(tmp_path, num_train=6, num_test=1, seed=3, cfg=SyntheticTALConfig(num_features=(60, 100)))
    split = load_tal_split(tmp_path, "Validation")
    cfg = make_config({**asdict(CONFIGS["tiny"]), "num_classes": len(split.classes),
                       "feature_dims": [split.videos[0].features.shape[1] // 2] * 2})
    torch.manual_seed(0)
    model = build(cfg.to_dict()).to(CUDA)
    before = _moved(model)
    settings = TrainSettings(iterations=4, batch_size=2, steps_per_video=8, eval_every=2, warmup=1)
    model, metrics = train_model(model, split.videos, split, cfg, settings, device=CUDA, amp=amp, log=lambda _: None)
    assert "mAP_avg" in metrics and next(model.parameters()).device.type == CUDA.type
    assert _changed(before, model)


def test_tal_frame_encoder_stage_trains_on_cuda_and_writes_features(tmp_path):
    from streammem.cli import main
    from streammem.data.synthetic_tal import SyntheticTALConfig
    from streammem.data.synthetic_tal_video import VideoTALConfig, generate_synthetic_tal_video
    from streammem.data.tal_features import load_tal_split

    cfg = VideoTALConfig(timing=SyntheticTALConfig(num_features=(60, 60), gap=(4, 10)))
    generate_synthetic_tal_video(tmp_path / "data", num_train=2, num_test=1, seed=4, cfg=cfg)
    assert main(["train", "tal", "--stage", "encoder", "--data", str(tmp_path / "data"), "--iterations", "2",
                 "--eval-every", "1", "--batch-size", "4", "--image-size", "32", "--device", "cuda",
                 "--out", str(tmp_path / "enc.safetensors")]) == 0
    assert load_tal_split(tmp_path / "data", "Test").videos[0].features.shape == (60, 32)


def test_track_trains_on_cuda(tmp_path):
    from streammem.data.synthetic_mot import SyntheticMOTConfig, write_split
    from streammem.models.memotr import build
    from streammem.models.memotr.data import load_split
    from streammem.models.memotr.training import train_loop

    write_split(tmp_path, "train", [1, 2], SyntheticMOTConfig(num_frames=10))
    torch.manual_seed(0)
    model = build("tiny", num_queries=8, max_tracks=6)
    before = _moved(model)
    seqs = load_split(tmp_path, "train", tuple(model.cfg.image_size))
    running = train_loop(model, seqs, 3, 2, 0, progress=False, device=CUDA, log=lambda _: None)
    assert torch.isfinite(torch.tensor(running["loss"]))
    assert _changed([b.to(CUDA) for b in before], model)


def _speech(root):
    import numpy as np
    import soundfile as sf

    folder = root / "train" / "1" / "2"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(4):
        sf.write(folder / f"1-2-{i:04d}.flac", 0.1 * rng.standard_normal(8000).astype(np.float32), 16000)
        lines.append(f"1-2-{i:04d} HELLO WORLD\n")
    (folder / "1-2.trans.txt").write_text("".join(lines))
    return root / "train"


@pytest.mark.parametrize("amp", [None, "bf16"])
def test_asr_trains_on_cuda(amp, tmp_path):
    from streammem.models import build_model
    from streammem.models.conformer_ntm.training import TrainOptions, train

    torch.manual_seed(0)
    model = build_model("conformer_ntm", "tiny")
    before = _moved(model)
    stats = train(model, _speech(tmp_path), TrainOptions(max_steps=3, batch_frames=2000), device=CUDA, amp=amp)
    assert stats["steps"] == 3 and torch.isfinite(torch.tensor(stats["loss"]))
    assert _changed([b.to(CUDA) for b in before], model)


def test_simulst_asr_stage_trains_on_cuda(tmp_path):
    from simulst_small import write_talk

    from streammem.models import build_model
    from streammem.models.amt_simulst.training import TrainOptions, train

    write_talk(tmp_path)
    torch.manual_seed(0)
    model = build_model("amt_simulst", "tiny", target_pieces=22)
    stats = train(model, tmp_path, TrainOptions(stage="asr", max_steps=3, batch_size=2), device=CUDA)
    assert stats["steps"] == 3 and torch.isfinite(torch.tensor(stats["loss"]))


# ------------------------------------------------------------------------------------------------- parity
def _chunks(task: str, model) -> list:
    """The chunks each task's ``export`` checks parity on (see streammem/tasks/<task>.py), on the GPU."""
    gen = torch.Generator().manual_seed(0)
    if task == "tal":
        return [torch.randn(1, sum(model.feature_dims), generator=gen).to(CUDA) for _ in range(40)]
    if task == "track":
        from streammem.tasks.track import synthetic_clip

        frames = synthetic_clip(6, image_size=tuple(model.cfg.image_size)).to(CUDA)
        return [frames[t : t + 1] for t in range(frames.shape[0])]
    return [0.1 * torch.randn(1, model.chunk_samples, generator=gen).to(CUDA) for _ in range(12)]


def _shipped(task: str):
    from streammem.tasks import asr, simulst, tal, track

    if task == "tal":
        return tal.load_model()[0]
    if task == "track":
        return track.load_model()
    if task == "asr":
        return asr._load_model(None)
    return simulst._load_model(None)


@pytest.mark.parametrize("task", ["tal", "track", "asr", "simulst"])
def test_scripted_step_matches_eager_on_cuda(task):
    model = _shipped(task).eval().to(CUDA)
    scripted = script(model)
    worst = stream_parity(model, scripted, _chunks(task, model), model.initial_state(1))
    assert worst <= PARITY_TOLERANCE


def test_anomaly_scripted_scoring_matches_eager_on_cuda():
    from streammem.export import max_abs_diff
    from streammem.tasks.anomaly import load_model

    model = load_model()[0].to(CUDA)
    scripted = script(model)
    size = model.config.image_size
    images = torch.randint(0, 256, (2, model.config.in_chans, size, size), dtype=torch.uint8, device=CUDA)
    with torch.no_grad():
        assert max_abs_diff(model(images), scripted(images)) <= PARITY_TOLERANCE



# ---------------------------------------------------------------------------------- eval and run, CUDA vs CPU
@pytest.fixture
def fp32_convolutions():
    """cuDNN convolutions in full float32 (not TF32), so CUDA and CPU outputs agree to float rounding."""
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        yield


def _on_both(args: list[str], out) -> dict:
    """Run one command on the CPU and on CUDA, each into its own folder: {device: folder}."""
    from streammem.cli import main

    folders = {}
    for device in ("cpu", "cuda"):
        folders[device] = out / device
        assert main([*args, "--device", device, "--threads", "1", "--out", str(folders[device])]) == 0
    return folders


def _same_actions(cpu: list[dict], cuda: list[dict]) -> None:
    assert [(a["label"], a["emitted_at"]) for a in cpu] == [(a["label"], a["emitted_at"]) for a in cuda]
    for a, b in zip(cpu, cuda, strict=True):
        assert all(abs(a[k] - b[k]) <= 1e-3 for k in ("start", "end", "score"))


def test_tal_eval_on_cuda_matches_the_cpu(tmp_path):
    import json

    from streammem.data.synthetic_tal import SyntheticTALConfig, generate_synthetic_tal

    generate_synthetic_tal(tmp_path / "data", num_train=1, num_test=3, seed=5,
                           cfg=SyntheticTALConfig(num_features=(80, 120)))
    runs = _on_both(["eval", "tal", "--data", str(tmp_path / "data")], tmp_path)
    cpu, cuda = ({video: [{**a, "start": a["segment"][0], "end": a["segment"][1]} for a in actions]
                  for video, actions in json.loads((runs[d] / "predictions.json").read_text())["results"].items()}
                 for d in ("cpu", "cuda"))
    assert cpu.keys() == cuda.keys() and any(cpu.values())
    for video in cpu:
        _same_actions(cpu[video], cuda[video])


def test_tal_run_on_cuda_matches_the_cpu(tmp_path):
    import json

    from streammem.models import weights_path
    from streammem.tasks.tal import SAMPLE_ANNOTATIONS

    runs = _on_both(["run", "tal", str(SAMPLE_ANNOTATIONS.with_suffix(".npy")), "--weights",
                     str(weights_path("matr"))], tmp_path)
    cpu, cuda = (json.loads((runs[d] / "actions.json").read_text())["actions"] for d in ("cpu", "cuda"))
    assert cpu
    _same_actions(cpu, cuda)


def _mot_rows(path) -> list[tuple[int, int, list[float]]]:
    rows = [line.split(",") for line in path.read_text().splitlines()]
    return [(int(r[0]), int(r[1]), [float(v) for v in r[2:6]]) for r in rows]


def _same_tracks(cpu, cuda) -> None:
    a, b = _mot_rows(cpu), _mot_rows(cuda)
    assert a and [r[:2] for r in a] == [r[:2] for r in b]  # the same tracks on the same frames
    assert max(abs(x - y) for r, s in zip(a, b, strict=True) for x, y in zip(r[2], s[2], strict=True)) <= 0.05


def test_track_eval_on_cuda_matches_the_cpu(tmp_path, fp32_convolutions):
    from streammem.data.synthetic_mot import SyntheticMOTConfig, write_split
    from streammem.tasks.track import TEST_SEEDS

    write_split(tmp_path / "data", "val", TEST_SEEDS[:1], SyntheticMOTConfig(num_frames=8))
    runs = _on_both(["eval", "track", str(tmp_path / "data")], tmp_path)
    for cpu in (runs["cpu"] / "tracks").glob("*.txt"):
        _same_tracks(cpu, runs["cuda"] / "tracks" / cpu.name)


def test_track_run_on_cuda_matches_the_cpu(tmp_path, fp32_convolutions):
    from streammem.tasks.track import SAMPLE_CLIP

    runs = _on_both(["run", "track", str(SAMPLE_CLIP), "--max-frames", "8", "--no-window"], tmp_path)
    _same_tracks(runs["cpu"] / "tracks.txt", runs["cuda"] / "tracks.txt")


def _sample_speech(folder, pieces: int, seconds: float) -> list:
    """The first ``pieces`` stretches of ``seconds`` of the bundled recording as 16 kHz files under ``folder``."""
    import soundfile as sf

    from streammem.tasks.asr import SAMPLE_AUDIO

    audio, rate = sf.read(SAMPLE_AUDIO, dtype="float32")
    n = int(seconds * rate)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(pieces):
        paths.append(folder / f"1-2-{i:04d}.flac")
        sf.write(paths[-1], audio[i * n : (i + 1) * n], rate)
    return paths


def test_asr_run_on_cuda_matches_the_cpu(tmp_path, fp32_convolutions):
    import json

    (path,) = _sample_speech(tmp_path / "audio", 1, 8.0)
    runs = _on_both(["run", "asr", str(path)], tmp_path)
    cpu, cuda = (json.loads((runs[d] / "transcript.json").read_text()) for d in ("cpu", "cuda"))
    assert cpu["text"] and cpu["text"] == cuda["text"] and cpu["words"] == cuda["words"]


@pytest.mark.parametrize("mode, decode", [("streaming", "greedy"), ("full", "joint")])
def test_asr_eval_on_cuda_matches_the_cpu(tmp_path, fp32_convolutions, mode, decode):
    import json

    paths = _sample_speech(tmp_path / "data" / "test" / "1" / "2", 2, 4.0)
    (paths[0].parent / "1-2.trans.txt").write_text("".join(f"{p.stem} HELLO WORLD\n" for p in paths))
    runs = _on_both(["eval", "asr", "--data", str(tmp_path / "data"), "--long-split", "", "--mode", mode,
                     "--decode", decode], tmp_path)
    cpu, cuda = (json.loads((runs[d] / "metrics.json").read_text())["hypotheses"] for d in ("cpu", "cuda"))
    assert len(cpu) == 2 and any(cpu.values()) and cpu == cuda


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_run_of_each_task_under_autocast_on_cuda(tmp_path, amp):
    from streammem.cli import main
    from streammem.models import weights_path
    from streammem.tasks import anomaly, simulst
    from streammem.tasks.tal import SAMPLE_ANNOTATIONS
    from streammem.tasks.track import SAMPLE_CLIP

    (speech,) = _sample_speech(tmp_path / "audio", 1, 4.0)
    commands = {"tal": ["run", "tal", str(SAMPLE_ANNOTATIONS.with_suffix(".npy")), "--weights", str(weights_path("matr"))],
                "track": ["run", "track", str(SAMPLE_CLIP), "--max-frames", "4", "--no-window"],
                "asr": ["run", "asr", str(speech)],
                "anomaly_images": ["run", "anomaly", str(anomaly.SAMPLE_IMAGES)],
                "anomaly_video": ["run", "anomaly", str(anomaly.SAMPLE_CLIP), "--max-seconds", "1",
                                  "--weights", str(anomaly.TEXTURE_WEIGHTS)],
                "simulst": ["run", "simulst", str(simulst.SAMPLE_AUDIO)]}
    for task, args in commands.items():
        out = tmp_path / task
        assert main([*args, "--device", "cuda", "--amp", amp, "--threads", "1", "--out", str(out)]) == 0, task
        assert any(out.glob("*.json")), task


# -------------------------------------------------------------------------------------------------- bench
def test_peak_bytes_on_cuda_sees_a_temporary_freed_before_the_end():
    from streammem.bench.measure import peak_bytes_of

    def work():
        big = torch.ones(1024, 1024, device=CUDA)  # 4 MiB, gone when work returns
        return big.sum()

    assert 4 * 2**20 <= peak_bytes_of(work, CUDA) < 5 * 2**20


@pytest.mark.parametrize("task", ["tal", "track", "asr", "simulst", "anomaly"])
def test_bench_measures_on_cuda(task, tmp_path):
    import json

    from bench_json import missing_keys

    from streammem.cli import main

    out = tmp_path / "bench.json"
    assert main(["bench", task, "--quick", "--device", "cuda", "--threads", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    machine, matmul = result["machine"], result["matmul"]
    assert machine["device"] == matmul["device"] == "cuda"
    assert machine["device_name"] == torch.cuda.get_device_name(CUDA) and {"allow_tf32", "cudnn_allow_tf32"} <= set(matmul)
    measured = result["tasks"][task]
    assert missing_keys(measured, task) == []
    assert all(p["step_peak_bytes"] > 0 for p in measured["stream"]["positions"])  # the CUDA allocator's peak
    assert all(m["peak_bytes"] > 0 for m in measured["recompute"]["measured"])
    assert all(e["top_operators"] is None for e in measured["efficiency"])
