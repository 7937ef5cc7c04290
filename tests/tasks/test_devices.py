"""``--device`` of tal, track and asr: which verbs take which devices, and a streaming step that keeps every tensor
on the model's device (run on the ``meta`` device, where a tensor left on the CPU is an error, as on CUDA)."""

import pytest
import torch

from streammem.tasks import asr, common, tal, track

META = torch.device("meta")


@pytest.mark.parametrize("module", [tal, track, asr], ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_inference_verbs_take_every_device_bench_cpu_and_cuda_and_export_the_cpu(module):
    for verb in ("train", "eval", "run", "demo"):
        assert common.supported_devices(module, verb) == common.ALL_DEVICES
    assert common.supported_devices(module, "bench") == ("cpu", "cuda")
    assert common.supported_devices(module, "export") == ("cpu",)


def _tal():
    model = tal.load_model()[0]
    return model, [torch.randn(1, sum(model.feature_dims)) for _ in range(3)]


def _track():
    model = track.load_model()
    return model, [torch.randn(1, 3, *model.cfg.image_size) for _ in range(3)]


def _asr():
    model = asr._load_model(None)
    return model, [0.1 * torch.randn(1, model.chunk_samples) for _ in range(3)]


@pytest.mark.parametrize("shipped", [_tal, _track, _asr], ids=["tal", "track", "asr"])
def test_the_streaming_step_keeps_state_and_outputs_on_the_model_device(shipped):
    torch.manual_seed(0)
    model, chunks = shipped()
    model.to(META)  # what `--device` does to the model; a CPU tensor made inside the step would now raise
    state = model.initial_state(1)
    assert {t.device for t in state} == {META}
    with torch.no_grad():
        for chunk in chunks:
            out, state = model(chunk.to(META), state)
        state = model.forget(state, torch.ones(1, dtype=torch.bool, device=META))
    outputs = [out] if isinstance(out, torch.Tensor) else [t for t in out if isinstance(t, torch.Tensor)]
    assert outputs and {t.device for t in outputs} == {META}
    assert {t.device for t in state} == {META}


def _asr_args(tmp_path, device: str):
    import argparse

    return argparse.Namespace(int8=True, amp=None, device=device, threads=1, weights=None, out=tmp_path)


def test_asr_int8_makes_device_auto_the_cpu_where_cuda_exists(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    job, model, _ = asr._start_inference(_asr_args(tmp_path, "auto"), "run", "x", [])
    assert job.device == torch.device("cpu") and model.frontend.mean.device == job.device


def test_asr_int8_on_cuda_is_a_one_line_error(tmp_path, monkeypatch):
    from streammem.errors import InputError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(InputError, match="int8 dynamic quantization runs on the CPU only"):
        asr._start_inference(_asr_args(tmp_path, "cuda"), "run", "x", [])
