"""Conformer-NTM: streaming step == forward_sequence, flat state, padding, memory ablation, TorchScript."""

import pytest
import torch

from streammem.export import max_abs_diff, script, stream_parity
from streammem.models import build_model

# A small config keeps every test fast; the architecture is the same as tiny/paper.
SMALL = dict(d_model=32, num_heads=2, ffn_dim=64, num_blocks=2, kernel_size=5, subsampling_channels=8,
             chunk_frames=4, left_frames=8, memory_slots=16, memory_dim=4, decoder_layers=1, decoder_ffn_dim=64,
             max_relative_distance=32, dropout=0.0)


def _model(**overrides):
    torch.manual_seed(0)
    return build_model("conformer_ntm", {**SMALL, **overrides}).eval()


@pytest.mark.parametrize("use_memory", [True, False])
def test_step_loop_equals_forward_sequence_in_streaming_mode(use_memory):
    model = _model(use_memory=use_memory)
    n = model.chunk_samples
    audio = 0.1 * torch.randn(2, 7 * n)
    with torch.no_grad():
        whole, lengths = model.forward_sequence(audio, torch.tensor([7 * n, 7 * n]), streaming=True)
        state, outs = model.initial_state(2), []
        for i in range(7):
            out, state = model(audio[:, i * n:(i + 1) * n], state)
            outs.append(out)
    assert whole.shape[1] == 7 * model.chunk_frames == int(lengths[0])
    assert torch.allclose(torch.cat(outs, 1), whole, atol=1e-5)


def test_full_context_differs_from_streaming_mask():
    model = _model()
    audio = 0.1 * torch.randn(1, 6 * model.chunk_samples)
    with torch.no_grad():
        full, _ = model.forward_sequence(audio, torch.tensor([audio.shape[1]]), streaming=False)
        stream, _ = model.forward_sequence(audio, torch.tensor([audio.shape[1]]), streaming=True)
    # Chunk 0 of the streaming mask cannot see chunk 1, the full-context encoder can.
    assert (full - stream).abs().max() > 1e-4


def test_state_size_is_flat_over_a_long_stream():
    model = _model()
    state = model.initial_state(1)
    sizes = [t.numel() for t in state]
    chunk = 0.1 * torch.randn(1, model.chunk_samples)
    with torch.no_grad():
        for _ in range(60):  # 60 chunks: far past the left context (2 chunks) and the memory size
            out, state = model(chunk, state)
    assert [t.numel() for t in state] == sizes
    assert int(state.frames[0]) == 60 * model.chunk_frames
    assert all(torch.isfinite(t.float()).all() for t in state)
    assert torch.isfinite(out).all()


def test_padding_does_not_change_a_shorter_utterance():
    model = _model()
    n = model.chunk_samples
    short, long = 0.1 * torch.randn(1, 3 * n), 0.1 * torch.randn(1, 5 * n)
    batch = torch.zeros(2, 5 * n)
    batch[0, : 3 * n], batch[1] = short[0], long[0]
    with torch.no_grad():
        for streaming in (True, False):
            alone, la = model.forward_sequence(short, torch.tensor([3 * n]), streaming)
            padded, lp = model.forward_sequence(batch, torch.tensor([3 * n, 5 * n]), streaming)
            assert int(lp[0]) == int(la[0])
            assert torch.allclose(padded[0, : int(la[0])], alone[0], atol=1e-5)


def test_memory_carries_information_across_chunks():
    model = _model()
    chunk = 0.1 * torch.randn(1, model.chunk_samples)
    with torch.no_grad():
        state = model.initial_state(1)
        _, state = model(chunk, state)
        assert (state.memory - model.initial_state(1).memory).abs().max() > 0
        reset = model.initial_state(1)._replace(key_cache=state.key_cache, value_cache=state.value_cache,
                                                conv_cache=state.conv_cache, frames=state.frames,
                                                audio_tail=state.audio_tail, feature_cache=state.feature_cache,
                                                subsample_cache=state.subsample_cache)
        with_memory, _ = model(chunk, state)
        without, _ = model(chunk, reset)
    assert (with_memory - without).abs().max() > 1e-6


def test_ablation_has_no_memory_parameters_and_full_addressing_builds():
    plain = _model(use_memory=False)
    assert not any(name.startswith("memory") for name, _ in plain.named_parameters())
    assert plain.initial_state(1).memory.numel() == 0
    full = _model(memory_addressing="full")
    with torch.no_grad():
        out, _ = full(torch.zeros(1, full.chunk_samples), full.initial_state(1))
    assert out.shape == (1, full.chunk_frames, 30)


def _head_gradients(model) -> tuple[float, float]:
    """Gradient norms of the NTM's read and write heads from the hybrid loss of a short batch."""
    torch.manual_seed(1)
    loss, parts, _ = model.train().loss(torch.randn(2, 64, 80), torch.tensor([64, 48]), [[3, 4, 1, 5], [6, 7]],
                                        streaming=True)
    loss.backward()
    assert torch.isfinite(loss) and parts["ctc"] > 0 and parts["att"] > 0
    return float(model.memory.read_heads.weight.grad.norm()), float(model.memory.write_heads.weight.grad.norm())


def test_loss_reaches_read_and_write_heads_memory_output_and_decoder():
    model = _model()
    read, write = _head_gradients(model)
    assert read > 1e-3 * write > 0  # the read head learns to address (not only erase/add)
    assert model.memory_out.weight.grad.abs().sum() > 0
    assert model.decoder.out.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("config", ["tiny", "paper"])
def test_read_head_of_each_shipped_config_receives_gradient_and_constant_memory_starves_it(config):
    torch.manual_seed(0)
    read, write = _head_gradients(build_model("conformer_ntm", config, dropout=0.0))
    assert read > 1e-3 * write  # measured: ~5e-2 (tiny) and ~1e-1 (paper) of the write head's
    torch.manual_seed(0)
    # the constant initial memory keeps every row identical: uniform read weights, no gradient to address
    read, write = _head_gradients(build_model("conformer_ntm", config, dropout=0.0, memory_init="constant"))
    assert read < 1e-6 * write


@pytest.mark.export
def test_torchscript_step_matches_eager():
    model = _model()
    scripted = script(model)
    chunks = [0.1 * torch.randn(1, model.chunk_samples) for _ in range(5)]
    assert stream_parity(model, scripted, chunks, model.initial_state(1)) < 1e-5
    assert max_abs_diff(scripted.initial_state(1), model.initial_state(1)) == 0


def test_configs_tiny_and_paper():
    tiny = build_model("conformer_ntm", "tiny")
    paper = build_model("conformer_ntm", "paper")
    assert len(paper.encoder.blocks) == 12 and paper.config.d_model == 256 and paper.config.kernel_size == 31
    assert len(paper.decoder.layers.layers) == 6
    assert paper.memory.num_slots == 256 and paper.memory.slot_dim == 10
    ntm = sum(p.numel() for p in paper.memory.parameters()) + sum(p.numel() for p in paper.memory_out.parameters())
    assert ntm < 100_000  # the NTM is a small add-on (~82 k in the authors' model)
    assert 25e6 < sum(p.numel() for p in paper.parameters()) < 45e6
    assert sum(p.numel() for p in tiny.parameters()) < 3e6


def _whole_table_attention(attn, x, key_cache, value_cache, mask):
    """RelPositionAttention as first written: project all 2R+1 table rows, then look distances up."""
    batch, tq = x.shape[0], x.shape[1]
    q = attn.query(x).view(batch, tq, attn.heads, attn.head_dim).transpose(1, 2)
    k = torch.cat([key_cache, attn.key(x).view(batch, tq, attn.heads, attn.head_dim).transpose(1, 2)], 2)
    v = torch.cat([value_cache, attn.value(x).view(batch, tq, attn.heads, attn.head_dim).transpose(1, 2)], 2)
    cached, tk = key_cache.shape[2], k.shape[2]
    p = attn.pos(attn.table).view(-1, attn.heads, attn.head_dim).transpose(0, 1)
    content = torch.matmul(q + attn.pos_bias_u.unsqueeze(1), k.transpose(-2, -1))
    position = torch.matmul(q + attn.pos_bias_v.unsqueeze(1), p.transpose(-2, -1))
    distance = (torch.arange(tq) + cached).unsqueeze(1) - torch.arange(tk).unsqueeze(0)
    index = attn.max_distance - distance.clamp(-attn.max_distance, attn.max_distance)
    position = position.gather(-1, index.expand(batch, attn.heads, tq, tk))
    scores = ((content + position) * attn.head_dim**-0.5).masked_fill(~mask.unsqueeze(1), attn.neg_inf)
    out = torch.matmul(torch.softmax(scores, -1), v).transpose(1, 2).reshape(batch, tq, -1)
    return attn.out(out), k, v


# Streaming chunks (few queries: (q W_p) p^T) and long full-context inputs (W_p p first), with and without
# clipping at max_distance.
@pytest.mark.parametrize("tq, cached, max_distance", [(4, 8, 32), (4, 8, 5), (16, 64, 1024), (12, 0, 5),
                                                       (30, 0, 64), (1, 0, 3), (40, 0, 8), (100, 0, 4)])
def test_attention_projects_only_the_distances_it_uses(tq, cached, max_distance):
    from streammem.models.conformer_ntm.encoder import RelPositionAttention

    torch.manual_seed(tq + cached)
    attn = RelPositionAttention(32, 4, 0.0, max_distance).eval()
    x = torch.randn(2, tq, 32)
    key_cache, value_cache = torch.randn(2, 2, 4, cached, 8)
    mask = torch.rand(2, tq, cached + tq) > 0.2
    mask[..., -1] = True
    with torch.no_grad():
        got = attn(x, key_cache, value_cache, mask)
        expected = _whole_table_attention(attn, x, key_cache, value_cache, mask)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_forget_one_row_leaves_other_rows_outputs_identical():
    model = _model()
    n = model.chunk_samples
    audio = 0.1 * torch.randn(2, 8 * n)
    with torch.no_grad():
        state = model.initial_state(2)
        for i in range(4):
            _, state = model(audio[:, i * n:(i + 1) * n], state)
        kept, reset, fresh = state, model.forget(state, torch.tensor([False, True])), model.initial_state(1)
        for i in range(4, 8):
            chunk = audio[:, i * n:(i + 1) * n]
            out_kept, kept = model(chunk, kept)
            out_reset, reset = model(chunk, reset)
            out_fresh, fresh = model(chunk[1:], fresh)
            assert torch.equal(out_reset[0], out_kept[0])  # row 0 never sees row 1's reset
            torch.testing.assert_close(out_reset[1:], out_fresh, rtol=1e-5, atol=1e-5)  # row 1 starts anew
    assert not torch.allclose(out_kept[1], out_reset[1])


@pytest.mark.parametrize("memory", ["ntm", "gated", "knn", "none"])
def test_memory_kinds_stream_like_forward_sequence_with_fixed_state_and_script(memory):
    model = _model(memory=memory, memory_top_k=8)
    n = model.chunk_samples
    audio = 0.1 * torch.randn(2, 6 * n)
    with torch.no_grad():
        whole, _ = model.forward_sequence(audio, torch.tensor([6 * n, 6 * n]), streaming=True)
        state = model.initial_state(2)
        shapes = [tuple(t.shape) for t in state]
        outs = []
        for i in range(6):
            out, state = model(audio[:, i * n:(i + 1) * n], state)
            outs.append(out)
    assert torch.allclose(torch.cat(outs, 1), whole, atol=1e-5)
    assert [tuple(t.shape) for t in state] == shapes
    if memory != "none":
        assert not torch.equal(state.memory, model.initial_state(2).memory)  # something was written
    scripted = script(model)
    chunks = [0.1 * torch.randn(2, n) for _ in range(3)]
    assert stream_parity(model, scripted, chunks, model.initial_state(2)) < 1e-5


@pytest.mark.parametrize("memory", ["gated", "knn"])
def test_swapped_memory_changes_later_outputs_and_trains(memory):
    model = _model(memory=memory, memory_top_k=8)
    n = model.chunk_samples
    a, b = 0.1 * torch.randn(1, 4 * n), 0.1 * torch.randn(1, 4 * n)
    tail = 0.1 * torch.randn(1, n)
    with torch.no_grad():
        outs = []
        for past in (a, b):
            state = model.initial_state(1)
            for i in range(4):
                _, state = model(past[:, i * n:(i + 1) * n], state)
            outs.append(model(tail, state)[0])
    assert not torch.allclose(outs[0], outs[1], atol=1e-4)  # the past reaches the present through the memory
    model.train()
    loss, _, _ = model.loss(torch.randn(2, 64, 80), torch.tensor([64, 48]), [[3, 4, 1, 5], [6, 7]], streaming=True)
    loss.backward()
    assert model.memory_out.weight.grad[:, model.config.d_model:].abs().sum() > 0  # the read vector is used
