"""MeMOTR: architecture wiring, runtime-tracker rules, flat streaming state, batching, training loss."""

import math

import pytest
import torch

from streammem.models import build_model
from streammem.models.memotr import build
from streammem.models.memotr.model import MeMOTR, TrackState

torch.set_num_threads(1)  # the CI machine is shared; one thread is faster than two under load
H, W = 48, 64


def _small(**overrides) -> MeMOTR:
    torch.manual_seed(0)
    cfg = dict(num_queries=8, max_tracks=6, min_area=0.0, miss_tolerance=3) | overrides
    return build("tiny", **cfg).eval()


def _confident(model: MeMOTR, bias: float) -> None:
    """Shift every class head so scores sit near sigmoid(bias) (births when high, misses when low)."""
    with torch.no_grad():
        for head in model.class_embed:
            head.bias.fill_(bias)
            head.weight.mul_(0.01)


def test_registry_builds_tiny():
    model = build_model("memotr", "tiny")
    assert isinstance(model, MeMOTR) and model.cfg.dec_layers >= 2


@pytest.mark.slow
def test_paper_config_is_the_released_one():
    paper = build("paper")
    assert (paper.cfg.dim, paper.cfg.num_queries, paper.cfg.enc_layers, paper.cfg.dec_layers) == (256, 300, 6, 6)
    assert paper.cfg.memory_lambda == 0.01 and paper.cfg.backbone == "resnet50"
    with torch.no_grad():
        out, state = paper(torch.randn(1, 3, 128, 160), paper.initial_state(1))
    assert out.boxes.shape == (1, paper.max_tracks, 4) and state.query.shape == (1, paper.max_tracks, 256)


def test_decoder_layer0_is_detect_only_and_tracks_join_later():
    model = _small()
    memory, shapes = model.encode(torch.randn(1, 3, H, W))
    k = model.max_tracks
    dec = model.decode(memory, shapes, torch.randn(1, k, model.dim), torch.rand(1, k, 4),
                       torch.ones(1, k, dtype=torch.bool))
    assert dec.det_logits.shape[:3] == (model.dec_layers, 1, model.num_queries)
    assert dec.trk_logits.shape[:3] == (model.dec_layers - 1, 1, k)
    # layer-0 detections do not depend on the track queries
    dec2 = model.decode(memory, shapes, torch.randn(1, k, model.dim), torch.rand(1, k, 4),
                        torch.ones(1, k, dtype=torch.bool))
    assert torch.equal(dec.det_boxes[0], dec2.det_boxes[0])
    assert not torch.allclose(dec.det_logits[-1], dec2.det_logits[-1])


def test_padded_track_slots_do_not_change_detections():
    model = _small()
    memory, shapes = model.encode(torch.randn(1, 3, H, W))
    k = model.max_tracks
    alive = torch.zeros(1, k, dtype=torch.bool)
    a = model.decode(memory, shapes, torch.randn(1, k, model.dim), torch.rand(1, k, 4), alive)
    b = model.decode(memory, shapes, torch.randn(1, k, model.dim), torch.rand(1, k, 4), alive)
    assert torch.allclose(a.det_boxes, b.det_boxes, atol=1e-6)


def test_assign_slots_fills_free_slots_best_first():
    born = torch.tensor([[True, False, True, True]])
    priority = torch.tensor([[0.6, 0.9, 0.8, 0.7]])
    free = torch.tensor([[False, True, True, False, False]])
    src, take = MeMOTR.assign_slots(born, priority, free)
    assert take.tolist() == [[False, True, True, False, False]]
    assert src[0, 1].item() == 2 and src[0, 2].item() == 3  # 0.8 then 0.7; 0.6 finds no free slot


def test_birth_miss_and_death_follow_the_thresholds():
    model = _small(miss_tolerance=3)
    frame = torch.randn(1, 3, H, W)
    _confident(model, 4.0)
    out, state = model(frame, model.initial_state(1))
    assert state.alive.all() and out.keep.all()  # every free slot took a confident detection
    assert sorted(state.ids[0].tolist()) == list(range(model.max_tracks))
    _confident(model, -4.0)
    frozen = state
    for step in range(1, 4):
        out, state = model(frame, state)
        if step < 3:
            assert state.alive.all() and (state.misses == step).all() and not out.keep.any()
            # low score: query, reference box, last output and memory stay frozen
            for name in ("query", "ref", "last_output", "memory"):
                assert torch.equal(getattr(state, name), getattr(frozen, name)), name
    assert not state.alive.any() and (state.ids == -1).all()  # killed at miss_tolerance
    assert state.next_id.item() == model.max_tracks


def test_duplicate_tracks_ends_the_younger_of_two_found_tracks_on_one_object():
    boxes = torch.tensor([[[0.5, 0.5, 0.1, 0.1], [0.51, 0.5, 0.1, 0.1], [0.2, 0.2, 0.1, 0.1], [0.2, 0.2, 0.1, 0.1]]])
    ids = torch.tensor([[7, 3, 5, 9]])
    seen = torch.tensor([[True, True, True, False]])
    dup = MeMOTR.duplicate_tracks(boxes, ids, seen, 0.5)
    # slot 0 (id 7) overlaps the older id 3: ended; slot 3 sits on slot 2 but was not found: its box is frozen
    assert dup.tolist() == [[True, False, False, False]]
    assert not MeMOTR.duplicate_tracks(boxes, ids, seen, 0.95).any()  # IoU 0.82 is under this threshold


@pytest.mark.parametrize("dedupe_iou", [0.0, 0.5])
def test_runtime_dedupe_is_off_by_default_and_keeps_one_track_per_object(dedupe_iou):
    model = _small(dedupe_iou=dedupe_iou)
    _confident(model, 4.0)
    with torch.no_grad():  # every detect query predicts the same box: six births on one object
        for head in model.bbox_embed:
            head.layers[-1].weight.zero_()
        model.det_anchor.weight.zero_()
    out, state = model(torch.randn(1, 3, H, W), model.initial_state(1))
    if dedupe_iou == 0.0:  # the paper's runtime: no NMS, every slot takes a birth
        assert int(state.alive.sum()) == model.max_tracks
    else:
        assert int(state.alive.sum()) == 1 and int(out.keep.sum()) == 1
        assert state.ids[state.alive].tolist() == [0]  # the oldest id survives
        assert ((state.ids == -1) == ~state.alive).all() and (state.query[~state.alive] == 0).all()


def test_long_term_memory_is_an_ema_with_lambda():
    model = _small()
    k, d = model.max_tracks, model.dim
    state = model.initial_state(1)
    m0 = torch.randn(1, k, d)
    state = state._replace(memory=m0, alive=torch.ones(1, k, dtype=torch.bool))
    out = torch.randn(1, k, d)
    scores = torch.tensor([[0.9, 0.2] + [0.9] * (k - 2)])
    born = torch.zeros(1, k, dtype=torch.bool)
    _, _, _, mem = model.update_tracks(out, out, torch.rand(1, k, 4), scores, born, state.alive, state)
    assert torch.allclose(mem[0, 0], 0.99 * m0[0, 0] + 0.01 * out[0, 0], atol=1e-6)
    assert torch.equal(mem[0, 1], m0[0, 1])  # score <= 0.5: no write


def test_memory_attention_reads_other_tracks_and_ablation_does_not():
    torch.manual_seed(0)
    for use_memory in (True, False):
        model = _small(use_memory=use_memory)
        k, d = model.max_tracks, model.dim
        out, last, mem, boxes = torch.randn(1, k, d), torch.randn(1, k, d), torch.randn(1, k, d), torch.rand(1, k, 4)
        alive = torch.ones(1, k, dtype=torch.bool)
        q1 = model.query_updater(out, last, mem, boxes, alive)
        mem2 = mem.clone()
        mem2[0, 1] += 1.0  # change another track's memory
        q2 = model.query_updater(out, last, mem2, boxes, alive)
        assert (not torch.allclose(q1[0, 0], q2[0, 0])) == use_memory


def test_state_size_is_flat_over_a_long_stream():
    model = _small()
    _confident(model, 0.0)
    state = model.initial_state(1)
    sizes = set()
    with torch.no_grad():
        for _t in range(120):
            _, state = model(torch.randn(1, 3, H, W), state)
            sizes.add(tuple(tuple(s.shape) for s in state))
    assert len(sizes) == 1
    assert int(state.next_id) > model.max_tracks  # tracks died and were reborn in the fixed slots


def test_two_videos_batched_equal_separate_runs():
    model = _small(miss_tolerance=2)
    _confident(model, 0.0)
    torch.manual_seed(1)
    video = torch.randn(2, 12, 3, H, W)
    with torch.no_grad():
        batched, _ = model.forward_sequence(video, model.initial_state(2))
        for b in range(2):
            alone, _ = model.forward_sequence(video[b : b + 1], model.initial_state(1))
            for x, y in zip(batched, alone, strict=True):
                assert torch.equal(x.ids[b], y.ids[0]) and torch.equal(x.keep[b], y.keep[0])
                assert torch.allclose(x.boxes[b], y.boxes[0], atol=1e-5)


def test_forward_sequence_equals_the_step_loop():
    model = _small()
    _confident(model, 0.0)
    video = torch.randn(1, 5, 3, H, W)
    with torch.no_grad():
        seq, final = model.forward_sequence(video, model.initial_state(1))
        state = model.initial_state(1)
        for t in range(5):
            out, state = model.step(video[:, t], state)
            assert torch.equal(out.ids, seq[t].ids) and torch.allclose(out.boxes, seq[t].boxes)
    assert all(torch.equal(a, b) for a, b in zip(state, final, strict=True))


def test_forget_one_row_leaves_other_rows_outputs_identical():
    model = _small(miss_tolerance=2)
    _confident(model, 0.0)
    torch.manual_seed(1)
    video = torch.randn(2, 8, 3, H, W)
    with torch.no_grad():
        state = model.initial_state(2)
        for t in range(4):
            _, state = model(video[:, t], state)
        assert bool(state.alive[1].any())
        kept, reset, fresh = state, model.forget(state, torch.tensor([False, True])), model.initial_state(1)
        for t in range(4, 8):
            out_kept, kept = model(video[:, t], kept)
            out_reset, reset = model(video[:, t], reset)
            out_fresh, fresh = model(video[1:, t], fresh)
            assert all(torch.equal(a[0], b[0]) for a, b in zip(out_kept, out_reset, strict=True))
            assert torch.equal(out_reset.ids[1:], out_fresh.ids) and torch.equal(out_reset.keep[1:], out_fresh.keep)
            torch.testing.assert_close(out_reset.boxes[1:], out_fresh.boxes, rtol=1e-5, atol=1e-5)
    assert not torch.equal(out_kept.ids[1], out_reset.ids[1])


@pytest.mark.export
@pytest.mark.parametrize("dedupe_iou", [0.0, 0.5])
def test_torchscript_step_matches_eager(dedupe_iou):
    model = _small(dedupe_iou=dedupe_iou)
    _confident(model, 0.0)
    scripted = torch.jit.script(model)
    s_e, s_s = model.initial_state(1), scripted.initial_state(1)
    with torch.no_grad():
        for _ in range(4):
            frame = torch.randn(1, 3, H, W)
            a, s_e = model(frame, s_e)
            b, s_s = scripted(frame, s_s)
            assert torch.equal(a.ids, b.ids) and torch.equal(a.keep, b.keep)
            assert torch.allclose(a.boxes, b.boxes, atol=1e-5)
    assert isinstance(s_s, tuple) and len(s_s) == len(TrackState._fields)


def test_clip_loss_trains_track_queries_through_the_query_updater():
    from streammem.models.memotr.training import clip_loss

    model = _small()
    _confident(model, 2.0)  # scores above 0.5: the updater's output becomes the next query
    model.train()
    ids = torch.tensor([3, 7])
    boxes = torch.tensor([[0.3, 0.4, 0.2, 0.2], [0.7, 0.6, 0.2, 0.25]])
    targets = [[(ids, boxes)], [(ids, boxes + 0.02)], [(ids[:1], boxes[:1] + 0.04)]]
    loss, parts = clip_loss(model, torch.randn(1, 3, 3, H, W), targets)
    loss.backward()
    assert torch.isfinite(loss) and parts["l1"] > 0
    grads = [p.grad for p in model.query_updater.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)


def test_clip_loss_matches_hand_computed_focal_l1_and_giou(monkeypatch):
    """One frame, one object, two detect queries whose outputs are fixed: every term by hand."""
    from streammem.models.memotr.model import DecoderOutput
    from streammem.models.memotr.training import clip_loss

    model = _small(num_queries=2, dec_layers=2, tp_drop=0.0)
    k, d = model.max_tracks, model.dim
    det_logits = torch.tensor([[[[2.0], [-1.0]]], [[[1.0], [-2.0]]]])  # (Y=2, B=1, N=2, 1)
    det_boxes = torch.tensor([[0.52, 0.5, 0.2, 0.2], [0.1, 0.1, 0.1, 0.1]]).expand(2, 1, 2, 4)
    dec = DecoderOutput(det_logits, det_boxes, torch.zeros(1, 1, k, 1), torch.full((1, 1, k, 4), 0.5),
                        torch.randn(1, 2, d), torch.randn(1, k, d), torch.randn(1, 2, d), torch.randn(1, k, d))
    monkeypatch.setattr(model, "encode", lambda frame: (torch.zeros(1, 1, d), [(1, 1)]))
    monkeypatch.setattr(model, "decode", lambda *args: dec)
    gt = torch.tensor([[0.5, 0.5, 0.2, 0.2]])
    loss, parts = clip_loss(model, torch.zeros(1, 1, 3, H, W), [[(torch.tensor([5]), gt)]])

    def focal(logit, positive):
        p = 1 / (1 + math.exp(-logit))
        p_t, alpha_t = (p, 0.25) if positive else (1 - p, 0.75)
        return -alpha_t * (1 - p_t) ** 2 * math.log(p_t)

    cls = focal(2.0, True) + focal(-1.0, False) + focal(1.0, True) + focal(-2.0, False)  # query 0 matched, 2 layers
    l1 = 2 * 0.02  # |0.52 - 0.5| in each layer
    giou = 2 * (1 - 0.036 / 0.044)  # boxes [0.42, 0.62] x [0.4, 0.6] and [0.4, 0.6]^2: enclosure = union
    assert parts["cls"] == pytest.approx(cls, rel=1e-5)
    assert parts["l1"] == pytest.approx(l1, rel=1e-5)
    assert parts["giou"] == pytest.approx(giou, rel=1e-5)
    cfg = model.cfg
    assert loss.item() == pytest.approx(cfg.cls_weight * cls + cfg.l1_weight * l1 + cfg.giou_weight * giou, rel=1e-5)


@pytest.mark.parametrize("memory", ["ema", "gated", "none"])
def test_memory_kinds_stream_with_fixed_state_and_script(memory):
    model = _small(memory=memory)
    _confident(model, 0.0)
    scripted = torch.jit.script(model)
    state, s_state = model.initial_state(1), scripted.initial_state(1)
    shapes = [tuple(t.shape) for t in state]
    with torch.no_grad():
        for _ in range(4):
            frame = torch.randn(1, 3, H, W)
            out, state = model(frame, state)
            s_out, s_state = scripted(frame, s_state)
            assert torch.equal(out.ids, s_out.ids) and torch.allclose(out.boxes, s_out.boxes, atol=1e-5)
    assert [tuple(t.shape) for t in state] == shapes and bool(state.alive.any())
    assert (model.long_memory.gate is not None) == (memory == "gated")
    assert model.query_updater.use_memory == (memory != "none")


def test_gated_long_term_memory_gate_learns_from_the_clip_loss():
    from streammem.models.memotr.training import clip_loss

    model = _small(memory="gated")
    _confident(model, 2.0)  # every slot updates: the memory is written and read again on later frames
    model.train()
    ids = torch.tensor([3, 7])
    boxes = torch.tensor([[0.3, 0.4, 0.2, 0.2], [0.7, 0.6, 0.2, 0.25]])
    targets = [[(ids, boxes)], [(ids, boxes + 0.02)], [(ids, boxes + 0.04)]]
    loss, _ = clip_loss(model, torch.randn(1, 3, 3, H, W), targets)
    loss.backward()
    assert model.long_memory.gate.weight.grad.abs().sum() > 0


def test_unknown_memory_kind_rejected():
    with pytest.raises(ValueError, match="memory must be one of"):
        _small(memory="lstm")

