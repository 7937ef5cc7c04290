"""MemMC-MAE: ablation switch, complementary scoring partitions, deterministic scores, streaming smoother, export."""

import dataclasses

import numpy as np
import pytest
import torch

from streammem.export import export_torchscript, script
from streammem.models import build_model
from streammem.models.memmc_mae import CONFIGS, build, make_config
from streammem.models.memmc_mae.scoring import fit_calibration

SMALL = dict(image_size=16, patch_size=4, embed_dim=16, depth=2, num_heads=2, decoder_dim=16, decoder_depth=1,
             decoder_heads=2, memory_slots=4, decoder_levels=[1, 2], score_repeats=2, map_sigma=1.0,
             temporal_window=3)


@pytest.fixture(autouse=True)
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _small(**overrides):
    torch.manual_seed(0)
    return build("tiny", **{**SMALL, **overrides}).eval()


def test_registry_builds_both_named_configs_and_paper_is_vit_b16():
    assert build_model("memmc_mae", "tiny").config == CONFIGS["tiny"]
    paper = make_config("paper")
    assert (paper.embed_dim, paper.depth, paper.num_heads, paper.patch_size, paper.image_size) == (768, 12, 12, 16, 224)


def test_memory_none_removes_the_memory_and_nothing_else():
    full, ablated = _small(), _small(memory="none")
    diff = {f.name for f in dataclasses.fields(full.config)
            if getattr(full.config, f.name) != getattr(ablated.config, f.name)}
    assert diff == {"memory"}
    full_keys, ablated_keys = full.state_dict(), ablated.state_dict()
    removed = set(full_keys) - set(ablated_keys)
    assert removed and all(k.endswith((".attn.m_k", ".attn.m_v")) for k in removed)
    assert not set(ablated_keys) - set(full_keys)
    assert all(full_keys[k].shape == ablated_keys[k].shape for k in ablated_keys)


def test_memae_variant_replaces_tokens_with_items_and_adds_the_entropy_loss():
    model = _small(memory="memae").train()
    assert all(block.items is not None and block.attn.num_slots == 0 for block in model.blocks)
    _, parts = model.training_loss(torch.rand(2, 1, 16, 16))
    assert set(parts) == {"mse", "entropy"} and parts["entropy"] > 0


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="decoder_levels"):
        make_config("tiny", decoder_levels=[5])
    with pytest.raises(ValueError, match="memory must be"):
        make_config("tiny", memory="queue")
    with pytest.raises(ValueError, match="equal visible sets"):
        build("tiny", image_size=12, patch_size=4)  # 9 patches, 4 partitions


def test_scoring_partitions_make_every_patch_visible_once_and_masked_k_minus_1_times_per_repeat():
    model = _small()
    keep, masked = model.score_keep, model.score_masked
    L, K, R = model.num_patches, 4, 2
    assert keep.shape == (R * K, L // K) and masked.shape == (R * K, L)
    for r in range(R):
        visible = keep[r * K : (r + 1) * K].flatten()
        assert sorted(visible.tolist()) == list(range(L))
        assert (masked[r * K : (r + 1) * K].sum(0) == K - 1).all()
    assert not torch.equal(keep[:K], keep[K:])  # the repeats use different partitions
    assert torch.equal(keep, _small().score_keep)  # drawn from the fixed seed


def test_scores_are_deterministic_per_image_and_maps_come_back_at_input_size():
    model = _small()
    images = torch.randint(0, 256, (3, 1, 20, 24), dtype=torch.uint8)
    with torch.no_grad():
        a = model(images)
        b = model(images[1:2])
    assert a.anomaly_map.shape == (3, 20, 24) and a.pred_score.shape == (3,)
    torch.testing.assert_close(a.raw_score[1:2], b.raw_score, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(model(images).raw_score, a.raw_score, rtol=0, atol=0)


def test_the_map_averages_each_pixel_over_the_passes_that_masked_it():
    model = _small(map_sigma=0.0, score_repeats=1)
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        _, raw_map = model.raw_scores(x)
        target = model.target(model.preprocess(x))[0]  # (L, p*p)
        total, count = torch.zeros(16, 16), torch.zeros(16, 16)
        for k in range(4):
            pred, _ = model.reconstruct(model.preprocess(x), model.score_keep[k : k + 1])
            err = (pred[0] - target).pow(2)  # (L, p*p), one channel
            for patch in range(16):
                if patch in model.score_keep[k].tolist():
                    continue  # visible in this pass: its error is not scored
                r, c = divmod(patch, 4)
                total[4 * r : 4 * r + 4, 4 * c : 4 * c + 4] += err[patch].view(4, 4)
                count[4 * r : 4 * r + 4, 4 * c : 4 * c + 4] += 1
    assert (count == 3).all()
    torch.testing.assert_close(raw_map[0], total / count, rtol=1e-5, atol=1e-6)


def test_calibration_sets_threshold_and_range_like_anomalib():
    model = _small()
    scores = np.linspace(0.0, 1.0, 101)
    maps = np.tile(scores[:, None, None], (1, 2, 2))
    fitted = fit_calibration(model, scores, maps, normal_quantile=0.9)
    assert fitted["image_threshold"] == pytest.approx(0.9) and fitted["image_max"] == pytest.approx(1.0)
    out = model.postprocess(torch.tensor([0.9, 0.95, 0.2]), torch.zeros(3, 2, 2))
    torch.testing.assert_close(out.pred_score, torch.tensor([0.5, 0.55, 0.0]))  # clamp((x-t)/(max-min)+.5)
    assert out.pred_label.tolist() == [True, True, False]
    labels = (np.arange(101) >= 71).astype(int)
    assert fit_calibration(model, scores, maps, labels=labels)["image_threshold"] == pytest.approx(0.71)


def _stream(model, frames, reset_at=None):
    state = model.initial_state(frames.shape[1])
    outs, states = [], []
    for t in range(frames.shape[0]):
        if reset_at is not None and t == reset_at:
            state = model.reset(state, torch.tensor([False, True]))
        out, state = model.step(frames[t], state)
        outs.append(out)
        states.append(state)
    return outs, states


def test_streaming_score_is_the_mean_of_the_last_w_raw_scores_and_resets_per_row():
    model = _small()
    frames = torch.rand(6, 2, 1, 16, 16)
    with torch.no_grad():
        raw = torch.stack([model.raw_scores(f)[0] for f in frames])
        outs, states = _stream(model, frames, reset_at=4)
    smoothed = torch.stack([o.raw_score for o in outs])
    W = 3
    for t in range(6):
        start0 = max(0, t - W + 1)
        torch.testing.assert_close(smoothed[t, 0], raw[start0 : t + 1, 0].mean(), rtol=1e-5, atol=1e-7)
        start1 = max(4 if t >= 4 else 0, t - W + 1)
        torch.testing.assert_close(smoothed[t, 1], raw[start1 : t + 1, 1].mean(), rtol=1e-5, atol=1e-7)
    assert all(s.recent_scores.shape == (2, W) and s.count.max() <= W for s in states)


def test_temporal_window_one_turns_smoothing_off():
    model = _small(temporal_window=1)
    frames = torch.rand(3, 2, 1, 16, 16)
    with torch.no_grad():
        outs, _ = _stream(model, frames)
        for t in range(3):
            torch.testing.assert_close(outs[t].raw_score, model.raw_scores(frames[t])[0])


@pytest.mark.export
def test_scripted_scoring_with_preprocessing_matches_eager_and_loads_with_torch_alone(tmp_path):
    model = _small()
    fit_calibration(model, np.array([0.1, 0.3]), np.full((2, 4, 4), 0.2))
    images = torch.randint(0, 256, (2, 3, 21, 17), dtype=torch.uint8)  # colour, odd size: converted in-graph
    path = export_torchscript(model, tmp_path / "memmc_mae.pt")
    loaded = torch.jit.load(str(path))
    with torch.no_grad():
        eager, scripted = model(images), loaded(images)
        for name in ("pred_score", "anomaly_map", "raw_score"):
            torch.testing.assert_close(getattr(scripted, name).float(), getattr(eager, name).float(), rtol=0, atol=1e-4)
        assert torch.equal(scripted.pred_label, eager.pred_label)
        frames = torch.rand(4, 2, 1, 16, 16)
        eager_stream, eager_states = _stream(model, frames, reset_at=2)
        script_stream, script_states = _stream(script(model), frames, reset_at=2)
    for a, b in zip(eager_stream + eager_states, script_stream + script_states, strict=True):
        for x, y in zip(a, b, strict=True):
            torch.testing.assert_close(x.float(), y.float(), rtol=0, atol=1e-4)
