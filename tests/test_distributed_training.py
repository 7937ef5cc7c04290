"""Training on many processes (DDP, gloo), exact resume from a training state, and mixed precision: the shared
training layer (streammem.training) and the task loops that use it."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from streammem.errors import InputError
from streammem.training import Trainer, is_training_state, load_state, save_state, state_path

WORKER = Path(__file__).with_name("distributed_worker.py")
ANOMALY_SMALL = ["image_size=16", "patch_size=4", "embed_dim=16", "depth=2", "num_heads=2", "decoder_dim=16",
                 "decoder_depth=1", "decoder_heads=2", "memory_slots=4", "decoder_levels=[1,2]", "score_repeats=1"]


# --------------------------------------------------------------------------------------------- fast tests
def _tiny_training():
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: 1.0 / (1 + it))
    return model, opt, sched


def _steps(trainer, count, gen):
    for _ in range(count):
        x = torch.randn(16, 4, generator=gen)
        with trainer.autocast():
            loss = (trainer.call("forward", x) - x.sum(1, keepdim=True)).pow(2).mean()
        trainer.step(loss)


def test_training_state_round_trip_restores_optimizer_scheduler_and_random_streams(tmp_path):
    model, opt, sched = _tiny_training()
    trainer = Trainer(model, opt, sched, grad_clip=1.0)
    gen = torch.Generator().manual_seed(1)
    _steps(trainer, 3, gen)
    rng = np.random.default_rng(5)
    rng.random(3)
    path = save_state(tmp_path / "w.state.safetensors", trainer.state(3, {
        "numpy_rng": rng.bit_generator.state, "generator": gen.get_state(), "score": math.nan, "pair": (1, "a")}))
    assert is_training_state(path) and not is_training_state(tmp_path / "nothing.safetensors")
    expected_next = rng.random()
    _steps(trainer, 2, gen)
    after = {k: v.clone() for k, v in model.state_dict().items()}

    model2, opt2, sched2 = _tiny_training()
    again = Trainer(model2, opt2, sched2, grad_clip=1.0)
    step, extra = again.resume(path)
    assert step == 3 and math.isnan(extra["score"]) and extra["pair"] == (1, "a")
    rng2 = np.random.default_rng(0)
    rng2.bit_generator.state = extra["numpy_rng"]
    assert rng2.random() == expected_next
    gen2 = torch.Generator()
    gen2.set_state(extra["generator"])
    assert sched2.last_epoch == 3 and opt2.state_dict()["state"][0]["step"] == 3
    _steps(again, 2, gen2)
    for k, v in model2.state_dict().items():
        assert torch.equal(v, after[k]), k


def test_a_training_state_is_refused_with_other_settings_and_weights_are_not_a_state(tmp_path):
    model, opt, sched = _tiny_training()
    trainer = Trainer(model, opt, sched)
    path = save_state(tmp_path / "s.safetensors", trainer.state(1, {"settings": {"lr": 0.1, "batch_size": 4}}))
    with pytest.raises(InputError, match="batch_size=4"):
        trainer.resume(path, {"lr": 0.1, "batch_size": 8})
    assert trainer.resume(path, {"lr": 0.1, "batch_size": 4})[0] == 1
    (tmp_path / "w.json").write_text(json.dumps({"model": "matr", "config": {}}))
    (tmp_path / "w.safetensors").write_bytes(path.read_bytes())
    with pytest.raises(InputError, match="not a training state"):
        load_state(tmp_path / "w.safetensors")
    assert state_path(tmp_path / "w.safetensors").name == "w.state.safetensors"


def test_one_process_trainer_leaves_the_batch_and_the_divisor_alone():
    model, opt, sched = _tiny_training()
    trainer = Trainer(model, opt, sched)
    assert trainer.world == 1 and trainer.is_main and trainer.global_batch(8) == 8
    items = [3, 1, 2]
    assert trainer.shard(items) is items and trainer.mean_divisor(7) == 7


def test_bf16_training_runs_on_the_cpu_and_fp16_needs_cuda():
    model, opt, sched = _tiny_training()
    before = [p.detach().clone() for p in model.parameters()]
    trainer = Trainer(model, opt, sched, amp="bf16", grad_clip=1.0)
    _steps(trainer, 2, torch.Generator().manual_seed(0))
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    with pytest.raises(InputError, match="fp16 training needs CUDA"):
        Trainer(model, opt, sched, amp="fp16")


# --------------------------------------------------------------------------------------------- slow tests
def _run(cmd, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, **kw)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    return done


def _tal_data(root: Path) -> Path:
    from streammem.data.synthetic_tal import SyntheticTALConfig, generate_synthetic_tal

    generate_synthetic_tal(root, num_train=10, num_test=1, seed=3, cfg=SyntheticTALConfig(num_features=(60, 100)))
    return root


@pytest.mark.slow
@pytest.mark.parametrize("task,batch", [("tal", 2), ("anomaly", 4)])
def test_two_gloo_processes_hold_identical_weights_equal_to_one_process_on_the_doubled_batch(task, batch, tmp_path):
    data = _tal_data(tmp_path / "data") if task == "tal" else tmp_path
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    _run([sys.executable, str(WORKER), task, str(data), str(one), str(2 * batch)])
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(WORKER), task,
          str(data), str(two), str(batch)])
    rank0, rank1 = load_file(two / "rank0.safetensors"), load_file(two / "rank1.safetensors")
    single = load_file(one / "rank0.safetensors")
    for k in rank0:
        assert torch.equal(rank0[k], rank1[k]), f"replicas differ in {k}"
    worst = max(float((rank0[k] - single[k]).abs().max()) for k in rank0)
    assert worst < 1e-4, f"2 processes x {batch} differ from 1 process x {2 * batch} by {worst}"


def _anomaly_data(root: Path) -> Path:
    from streammem.data.synthetic_anomaly import TextureConfig, write_textures

    return write_textures(root, TextureConfig(size=16, period=4.0, train=12, test_good=3, test_per_defect=2), seed=3)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["tal", "anomaly"])
def test_resumed_training_reaches_the_weights_of_the_uninterrupted_run(task, tmp_path):
    if task == "tal":
        args = ["--data", str(_tal_data(tmp_path / "data")), "--batch-size", "2"]
    else:
        args = ["--data", str(_anomaly_data(tmp_path / "data")), "--batch-size", "4",
                *[a for s in ANOMALY_SMALL for a in ("--set", s)]]
    base = [sys.executable, "-m", "streammem", "train", task, *args, "--iterations", "8", "--eval-every", "2",
            "--threads", "1", "--seed", "7"]
    whole, parts = tmp_path / "whole" / "w.safetensors", tmp_path / "parts" / "w.safetensors"
    _run([*base, "--out", str(whole)])
    _run([*base, "--out", str(parts), "--stop-after", "4"])
    assert load_state(state_path(parts))["step"] == 4
    done = _run([*base, "--out", str(parts), "--resume", str(state_path(parts))])
    assert "resumed at iteration 4" in done.stdout
    a, b = load_state(state_path(whole)), load_state(state_path(parts))
    assert a["step"] == b["step"] == 8
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    wa, wb = load_file(whole), load_file(parts)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # the selected (best held-out) weights too


@pytest.mark.slow
def test_two_process_training_resumed_from_its_state_reaches_the_uninterrupted_two_process_weights(tmp_path):
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
                "streammem"]
    base = [*torchrun, "train", "tal", "--data", str(_tal_data(tmp_path / "data")), "--batch-size", "1",
            "--iterations", "6", "--eval-every", "2", "--threads", "1", "--seed", "7"]
    whole, parts = tmp_path / "whole" / "w.safetensors", tmp_path / "parts" / "w.safetensors"
    _run([*base, "--out", str(whole)])
    _run([*base, "--out", str(parts), "--stop-after", "2"])
    assert load_state(state_path(parts))["step"] == 2
    _run([*base, "--out", str(parts), "--resume", str(state_path(parts))])
    a, b = load_state(state_path(whole)), load_state(state_path(parts))
    assert a["step"] == b["step"] == 6
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def _speech_data(root: Path) -> Path:
    import soundfile as sf

    folder = root / "train" / "1" / "2"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(8):
        sf.write(folder / f"1-2-{i:04d}.flac", 0.1 * rng.standard_normal(4000 + 1600 * i).astype(np.float32), 16000)
        lines.append(f"1-2-{i:04d} HELLO WORLD\n")
    (folder / "1-2.trans.txt").write_text("".join(lines))
    return root


def _talk_data(root: Path) -> Path:
    from simulst_small import FOUR_SEGMENTS, write_talk

    return write_talk(root, FOUR_SEGMENTS)


@pytest.mark.slow
@pytest.mark.parametrize("task,batch", [("track", 1), ("asr", 400), ("simulst", 1)])
def test_two_gloo_processes_keep_identical_replicas(task, batch, tmp_path):
    """track, asr, simulst under torchrun: every process ends with the same parameters (DDP averaged the
    gradients). The doubled-batch comparison of tal and anomaly does not apply: batch-norm statistics, per-row
    random draws (SpecAugment, track drops) or per-process loss normalisation depend on the batch split."""
    if task == "track":
        from streammem.data.synthetic_mot import SyntheticMOTConfig, write_split

        write_split(tmp_path / "data", "train", [1, 2], SyntheticMOTConfig(num_frames=10))
        data = tmp_path / "data"
    else:
        data = (_speech_data if task == "asr" else _talk_data)(tmp_path / "data")
    two = tmp_path / "two"
    two.mkdir()
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(WORKER), task,
          str(data), str(two), str(batch)])
    rank0, rank1 = load_file(two / "rank0.safetensors"), load_file(two / "rank1.safetensors")
    assert rank0.keys() == rank1.keys()
    for k in rank0:
        assert torch.equal(rank0[k], rank1[k]), f"replicas differ in {k}"


def _copy_state(path: Path, to: Path) -> None:
    for suffix in (".safetensors", ".json"):
        to.with_suffix(suffix).write_bytes(path.with_suffix(suffix).read_bytes())


@pytest.mark.slow
@pytest.mark.parametrize("task", ["track", "asr", "simulst"])
def test_loops_resumed_from_a_mid_run_state_reach_the_uninterrupted_weights(task, tmp_path):
    """The state written at an earlier checkpoint (copied aside while the run went on) continues to the same
    weights: for asr and simulst from the middle of an epoch, whose batches are planned again and passed over."""
    state, early = tmp_path / "w.state.safetensors", tmp_path / "early.state.safetensors"
    copy_at = {"track": 2, "asr": 8, "simulst": 4}[task]

    def copy(_model=None, step=None):
        if (step if step is not None else _model) == copy_at:  # track calls back with the iteration alone
            _copy_state(state, early)

    if task == "track":
        from streammem.data.synthetic_mot import SyntheticMOTConfig, write_split

        write_split(tmp_path / "data", "train", [1, 2], SyntheticMOTConfig(num_frames=10))
    else:
        (_speech_data if task == "asr" else _talk_data)(tmp_path / "data")
    data = tmp_path / "data"

    def run(resume=None):
        torch.manual_seed(0)
        if task == "track":
            from streammem.models.memotr import build
            from streammem.models.memotr.data import load_split
            from streammem.models.memotr.training import train_loop

            model = build("tiny", num_queries=8, max_tracks=6)
            train_loop(model, load_split(data, "train", tuple(model.cfg.image_size)), 5, 1, 4,
                       on_checkpoint=lambda it: copy(it), checkpoint_every_s=0.0, progress=False,
                       log=lambda s: None, state_file=state, resume_state=resume)
        elif task == "asr":
            from streammem.models import build_model
            from streammem.models.conformer_ntm.training import TrainOptions, train

            model = build_model("conformer_ntm", dict(d_model=32, num_heads=2, ffn_dim=64, num_blocks=2,
                                kernel_size=5, subsampling_channels=8, chunk_frames=4, left_frames=8, memory_slots=16,
                                memory_dim=4, decoder_layers=1, decoder_ffn_dim=64, max_relative_distance=32))
            train(model, data / "train", TrainOptions(max_steps=9, batch_frames=300, seed=2, checkpoint_every=4,
                                                      join_fraction=0.5), copy, state_file=state, resume_state=resume)
        else:
            from streammem.models import build_model
            from streammem.models.amt_simulst.training import TrainOptions, train

            model = build_model("amt_simulst", dict(num_mels=20, d_model=16, num_heads=2, ffn_dim=32,
                                encoder_layers=2, decoder_layers=1, subsampling_channels=4, center_frames=8,
                                left_frames=4, right_frames=4, memory_size=2, pre_decision=2, wait_k=2,
                                train_wait_k=(1, 2, 3), max_source_blocks=16, max_target_tokens=12, target_pieces=26,
                                ctc_weight=0.3))
            train(model, data, TrainOptions(stage="asr", max_steps=7, batch_size=1, seed=1, checkpoint_every=2),
                  checkpoint=copy, log=lambda s: None, state_file=state, resume_state=resume)
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    whole = run()
    assert load_state(early)["step"] == {"track": 2, "asr": 4, "simulst": 2}[task]
    resumed = run(resume=early)
    for k, v in whole.items():
        assert torch.equal(v, resumed[k]), k


def test_shards_of_an_uneven_batch_are_padded_like_distributed_sampler():
    model, opt, sched = _tiny_training()
    trainer = Trainer(model, opt, sched)
    trainer.world = 2  # the split rule alone (no process group is needed to compute it)
    trainer.rank = 0
    assert trainer.shard([5, 6, 7]) == [5, 7]
    trainer.rank = 1
    assert trainer.shard([5, 6, 7]) == [6, 5] and trainer.shard([9]) == [9]
    assert torch.equal(trainer.shard(torch.tensor([True, False, True])), torch.tensor([False, True]))
    assert list(trainer.shard(np.arange(4))) == [1, 3]


def test_fp16_training_off_cuda_is_a_one_line_error_before_any_work(tmp_path, capsys):
    from streammem.cli import main

    assert main(["train", "anomaly", "--data", str(tmp_path / "none"), "--amp", "fp16", "--device", "cpu",
                 "--out", str(tmp_path / "w.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "fp16 training needs CUDA" in err and "Traceback" not in err and not (tmp_path / "w.safetensors").exists()
