"""MATR: streaming step vs forward_sequence, flat state, phase memory, losses, online post-processing, export."""

import math

import numpy as np
import pytest
import torch

from streammem.export import max_abs_diff, script, stream_parity
from streammem.models import build_model
from streammem.models.matr import CONFIGS, build
from streammem.models.matr.losses import matr_loss, step_targets, window_flags
from streammem.models.matr.model import _memory_slots
from streammem.models.matr.postprocess import OnlineLocalizer, group_frame_probabilities

SMALL = dict(feature_dims=[3, 5], num_classes=3, d_model=16, encoder_layers=1, encoder_heads=2, decoder_layers=1,
             decoder_heads=2, ffn_dim=32, dropout=0.0, segment_len=4, memory_len=2, max_age=8, num_queries=3,
             detect_back=2, anticipate=2)


def _small(**overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return build({**SMALL, **overrides}).eval()


def _loop(model, x):
    state = model.initial_state(x.shape[0])
    outs = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            out, state = model(x[:, t], state)
            outs.append(out)
    return type(outs[0])(*(torch.stack(f, 1) for f in zip(*outs, strict=True))), state


@pytest.mark.parametrize("threshold", [0.5, 0.0, 2.0])  # own flags, always write, never write
@pytest.mark.parametrize("memory, memory_len", [("queue", 2), ("queue", 0), ("none", 2), ("gated", 2), ("knn", 2)])
def test_forward_sequence_equals_step_loop(threshold, memory, memory_len):
    model = _small(flag_threshold=threshold, memory=memory, memory_len=memory_len, memory_top_k=3)
    x = torch.randn(2, 23, 8)
    stepped, _ = _loop(model, x)
    with torch.no_grad():
        seq = model.forward_sequence(x)
    assert max_abs_diff(stepped, seq) < 1e-4


def test_no_memory_variant_keeps_head_and_range_and_stays_empty():
    queue, none = _small(memory="queue"), _small(memory="none")
    shapes = {n: tuple(p.shape) for n, p in queue.named_parameters()}
    assert {n: tuple(p.shape) for n, p in none.named_parameters()} == shapes
    assert none.start_bins.out_features == queue.start_bins.out_features == SMALL["memory_len"] + 2
    # the same decoding range: a start offset in the last bin decodes identically in both
    logits = torch.full((1, 3, 4), -9.0)
    logits[..., 3] = 9.0
    residual, end, now = torch.full((1, 3, 4), 0.5), torch.zeros(1, 3), torch.tensor([40.0])
    assert torch.equal(none.boundaries(logits, residual, end, now)[0], queue.boundaries(logits, residual, end, now)[0])
    assert float(none.boundaries(logits, residual, end, now)[0][0, 0]) == 40.0 - 3.5 * SMALL["segment_len"]
    none.flag_threshold = -1.0  # the flag fires at every step, yet nothing is written
    _, state = _loop(none, torch.randn(2, 30, 8))
    assert [tuple(t.shape) for t in state] == [tuple(t.shape) for t in queue.initial_state(2)]
    assert not bool(state.mem_valid.any()) and not bool(state.mem_items.any())
    x = torch.randn(1, 30, 8)
    with torch.no_grad():  # teacher-forced flags do not reach the memory either
        written = none.forward_sequence(x, flags=torch.ones(1, 30, dtype=torch.bool))
        unwritten = none.forward_sequence(x, flags=torch.zeros(1, 30, dtype=torch.bool))
    assert max_abs_diff(written, unwritten) == 0


@pytest.mark.parametrize("memory", ["queue", "none", "gated", "knn"])
def test_memory_kinds_stream_with_fixed_state_and_script(memory):
    model = _small(memory=memory, flag_threshold=0.0)
    state = model.initial_state(2)
    shapes = [tuple(t.shape) for t in state]
    with torch.no_grad():
        for _ in range(40):
            _, state = model(torch.randn(2, 8), state)
    assert [tuple(t.shape) for t in state] == shapes
    if memory != "none":
        assert bool(state.mem_items.any())  # something was written
    scripted = script(model)
    assert stream_parity(model, scripted, list(torch.randn(12, 2, 8)), model.initial_state(2)) < 1e-5


@pytest.mark.parametrize("memory", ["queue", "gated", "knn"])
def test_forget_one_row_leaves_other_rows_outputs_identical(memory):
    model = _small(memory=memory, flag_threshold=0.0)
    x = torch.randn(2, 30, 8)
    with torch.no_grad():
        state = model.initial_state(2)
        for t in range(20):
            _, state = model(x[:, t], state)
        reset = model.forget(state, torch.tensor([False, True]))
        fresh = model.initial_state(1)
        kept, restarted = state, reset
        for t in range(20, 30):
            out_kept, kept = model(x[:, t], kept)
            out_reset, restarted = model(x[:, t], restarted)
            out_fresh, fresh = model(x[1:, t], fresh)
            assert all(torch.equal(a[0], b[0]) for a, b in zip(out_kept, out_reset, strict=True))
            torch.testing.assert_close(out_reset.logits[1:], out_fresh.logits, rtol=1e-5, atol=1e-5)
    assert not torch.equal(out_kept.logits[1], out_reset.logits[1])


def test_unknown_memory_kind_rejected():
    with pytest.raises(ValueError, match="memory must be one of"):
        _small(memory="lstm")


def test_forward_sequence_with_given_flags_matches_loop_that_writes_them():
    model = _small()
    x = torch.randn(1, 19, 8)
    flags = torch.rand(1, 19) > 0.5
    state = model.initial_state(1)
    outs = []
    with torch.no_grad():
        for t in range(19):
            # steer the step's write decision through the threshold: always (-1) or never (2)
            model.flag_threshold = -1.0 if bool(flags[0, t]) else 2.0
            out, state = model(x[:, t], state)
            outs.append(out.logits)
        model.flag_threshold = 0.5
        seq = model.forward_sequence(x, flags=flags, at=torch.tensor([[3, 11, 18]]))
    assert torch.allclose(torch.stack(outs, 1)[:, [3, 11, 18]], seq.logits, atol=1e-5)


def test_memory_slots_match_phase_fifo():
    rng = np.random.default_rng(0)
    flags = torch.from_numpy(rng.random((1, 40)) > 0.4)
    ends, valid = _memory_slots(flags, torch.arange(40).unsqueeze(0), S=4, M=3)
    for t in range(40):
        expected = [e for e in range(t - 4, -1, -4) if flags[0, e]][:3][::-1]  # newest last
        got = ends[0, t][valid[0, t]].tolist()
        assert got == expected


def test_state_size_flat_on_long_stream_and_memory_fills():
    model = _small(flag_threshold=-1.0)  # every segment is written
    state = model.initial_state(1)
    sizes = []
    with torch.no_grad():
        for t in range(200):
            _, state = model(torch.randn(1, 8), state)
            if t in (10, 199):
                sizes.append([tuple(s.shape) for s in state])
    assert sizes[0] == sizes[1]
    assert bool(state.mem_valid.all())
    phase_rows = state.mem_stamps.view(4, 2)  # (phase, slot): stamps of phase p are = p mod 4, newest last
    assert (phase_rows % 4 == torch.arange(4).unsqueeze(1)).all()
    assert (phase_rows[:, 1] - phase_rows[:, 0] == 4).all()
    assert int(state.steps) == 200


def test_selective_write_uses_flag():
    model = _small(flag_threshold=2.0)  # sigmoid never exceeds 2: nothing is written
    _, state = _loop(model, torch.randn(1, 30, 8))
    assert not bool(state.mem_valid.any())


def test_configs_and_registry():
    paper, tiny = CONFIGS["paper"], CONFIGS["tiny"]
    assert (paper.d_model, paper.encoder_layers, paper.decoder_layers, paper.segment_len, paper.memory_len) == (1024, 3, 5, 64, 7)
    assert sum(paper.feature_dims) == 4096
    model = build_model("matr", "tiny")
    assert model.segment_len == tiny.segment_len
    assert model.start_bins.out_features == tiny.memory_len + 2


@pytest.mark.slow
def test_paper_config_builds_and_steps():
    model = build("paper").eval()
    assert 120e6 < sum(p.numel() for p in model.parameters()) < 200e6
    with torch.no_grad():
        out, _ = model(torch.randn(1, 4096), model.initial_state(1))
    assert out.logits.shape == (1, 10, 21)


@pytest.mark.export
def test_scripted_step_matches_eager():
    model = _small(flag_threshold=0.0)
    scripted = script(model)
    x = torch.randn(40, 2, 8)
    assert stream_parity(model, scripted, list(x), model.initial_state(2)) < 1e-5


def test_losses_finite_and_backprop():
    cfg = {**SMALL}
    model = build(cfg).train()
    x = torch.randn(2, 30, 8)
    segs = [np.array([[1, 3.0, 12.0], [2, 15.0, 17.0]]), np.array([[0, 2.0, 25.0]])]
    flags = torch.from_numpy(np.stack([window_flags(s, 30, 4) for s in segs]))
    at = torch.tensor([[11, 16, 28], [24, 25, 5]])
    out = model.forward_sequence(x, flags=flags, at=at)
    flat = type(out)(*(t.reshape(-1, *t.shape[2:]) for t in out))
    targets = [tg for b in range(2) for tg in step_targets(segs[b], at[b].numpy() + 1.0, model.config)]
    assert [len(t) for t in targets] == [1, 1, 0, 1, 1, 0]  # ends within (now - 2, now + 2]
    losses = matr_loss(flat, targets, flags.gather(1, at).float().reshape(-1), model.config)
    assert set(losses) == {"flag", "class", "start_bin", "l1", "diou"}
    total = sum(losses.values())
    total.backward()
    assert torch.isfinite(total)
    assert model.start_bins.weight.grad.abs().sum() > 0


def test_losses_match_hand_computed_values():
    """One step, two queries, one target (class 1, start offset 2.3, end offset 0.4 segments)."""
    from streammem.models.matr.model import MATROutput

    cfg = build(SMALL).config  # M = 2: four start bins
    logits = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [0.0, math.log(8.0), 0.0, 0.0]]])  # q1: class 1 at 8/11
    start_logits = torch.tensor([[[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]])  # q0 bin 0, q1 bin 2
    residual = torch.full((1, 2, 4), 0.25)
    end = torch.tensor([[0.0, 0.5]])
    zeros = torch.zeros(1, 2)
    out = MATROutput(logits, start_logits, residual, end, torch.zeros(1), zeros, zeros, torch.zeros(1))
    target = [np.array([[1.0, 2.3, 0.4]])]
    losses = matr_loss(out, target, torch.ones(1), cfg)
    # matching: q1 (class prob 8/11, intervals [0.5, 2.25] vs [0.4, 2.3]) beats q0 (1/4, no overlap)
    assert losses["flag"].item() == pytest.approx(math.log(2.0))
    assert losses["start_bin"].item() == pytest.approx(math.log(3 + math.e) - 1.0)  # bin floor(2.3) = 2
    assert losses["l1"].item() == pytest.approx(abs(0.25 - 0.3) + abs(0.5 - 0.4))
    iou = (2.25 - 0.5) / 1.9  # 1.9 = the union (and the enclosing interval)
    centre_gap = (0.5 + 2.25) / 2 - (0.4 + 2.3) / 2
    assert losses["diou"].item() == pytest.approx(1.0 - (iou - (centre_gap / 1.9) ** 2))

    def focal(p):
        return -0.25 * (1 - p) ** 2 * math.log(p)

    # q0 -> background (prob 1/4), q1 -> class 1 (prob 8/11); one matched target
    assert losses["class"].item() == pytest.approx(focal(1 / 4) + focal(8 / 11), rel=1e-5)


def test_window_flags():
    flags = window_flags(np.array([[0, 10.0, 12.0]]), 30, 4)
    assert flags.tolist() == [10 <= t <= 14 for t in range(30)]


def _logits(scores: list[tuple[int, float]], num_classes: int = 2) -> torch.Tensor:
    """Logits whose softmax puts ``score`` on class ``c``, the rest on background."""
    rows = []
    for c, s in scores:
        p = torch.full((num_classes + 1,), 1e-6)
        p[c], p[-1] = s, 1 - s
        rows.append(p.log())
    return torch.stack(rows)


def test_online_localizer_emits_only_finished_and_never_revises():
    post = OnlineLocalizer(["a", "b"], feature_rate=2.0, horizon=20)
    # end 12 is in the future at now=10: nothing is emitted
    assert post.push(_logits([(0, 0.9)]), torch.tensor([2.0]), torch.tensor([12.0]), now=10.0) == []
    first = post.push(_logits([(0, 0.6)]), torch.tensor([2.0]), torch.tensor([9.0]), now=10.0)
    assert [(a["label"], a["start"], a["end"], a["emitted_at"]) for a in first] == [("a", 1.0, 4.5, 5.0)]
    # a later, better-scoring overlapping proposal of the same class is suppressed; another class is not
    later = post.push(_logits([(0, 0.95), (1, 0.5)]), torch.tensor([2.5, 2.5]), torch.tensor([9.5, 9.5]), now=11.0)
    assert [a["label"] for a in later] == ["b"]
    # low scores are dropped
    assert post.push(_logits([(0, 0.05)]), torch.tensor([30.0]), torch.tensor([35.0]), now=40.0) == []
    assert len(post._kept) == 0  # history beyond the horizon is forgotten


def test_group_frame_probabilities():
    probs = torch.zeros(8, 3)
    probs[:, -1] = 1.0
    probs[2:5, 0], probs[2:5, -1] = 0.8, 0.2
    probs[6:, 1], probs[6:, -1] = 0.5, 0.5
    out = group_frame_probabilities(probs, ["a", "b"], feature_rate=1.0)
    assert [(a["label"], a["start"], a["end"]) for a in out] == [("a", 2.0, 5.0), ("b", 6.0, 8.0)]
    assert out[0]["score"] == pytest.approx(0.8) and out[0]["emitted_at"] == 6.0
