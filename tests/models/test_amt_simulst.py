"""AMT SimulST: incremental encoder == re-encoding, training windows == streaming windows, memory ablation,
flat state, per-row reset, wait-k, TorchScript parity."""

import pytest
import torch

from streammem.models import build_model

SMALL = dict(num_mels=20, d_model=16, num_heads=2, ffn_dim=32, encoder_layers=2, decoder_layers=1,
             subsampling_channels=4, center_frames=8, left_frames=4, right_frames=4, memory_size=2, pre_decision=2,
             wait_k=2, train_wait_k=(), max_source_blocks=16, max_target_tokens=8, max_writes_per_step=3,
             target_pieces=20, dropout=0.0)


def _model(**overrides):
    torch.manual_seed(0)
    model = build_model("amt_simulst", {**SMALL, **overrides}).eval()
    with torch.no_grad():
        model.frontend.set_cmvn(torch.full((20,), -8.0), torch.full((20,), 4.0))
    return model


def _encode_incrementally(model, audio, state=None):
    state = model.initial_state(audio.shape[0]) if state is None else state
    outs = []
    n = model.chunk_samples
    with torch.no_grad():
        for i in range(0, audio.shape[1], n):
            out, state = model.encode_chunk(audio[:, i:i + n], state)
            outs.append(out)
    return outs, state


@pytest.mark.parametrize("shift", [True, False])
def test_incremental_encoder_equals_reencoding_the_prefix(shift):
    model = _model(shift_center=shift, shift_right=shift)
    audio = 0.1 * torch.randn(2, 6 * model.chunk_samples)
    incremental, _ = _encode_incrementally(model, audio)
    for n in range(1, 7):  # the reference agent's way: every read re-encodes the whole prefix from scratch
        again, _ = _encode_incrementally(model, audio[:, : n * model.chunk_samples])
        torch.testing.assert_close(incremental[n - 1], again[-1])


@pytest.mark.parametrize("memory_size", [2, 0])
def test_streaming_windows_equal_training_windows_without_right_context(memory_size):
    # training encodes all windows in parallel; the step loop encodes them one by one
    model = _model(right_frames=0, shift_center=False, shift_right=False, memory_size=memory_size)
    audio = 0.1 * torch.randn(2, 5 * model.chunk_samples)
    incremental, _ = _encode_incrementally(model, audio)
    with torch.no_grad():
        feats = model.features(audio)
        whole, valid = model.encode_frames(feats, torch.ones(feats.shape[:2], dtype=torch.bool))
    assert valid.all()
    torch.testing.assert_close(torch.cat(incremental, 1), whole, atol=1e-5, rtol=1e-5)


def test_shiftable_context_changes_windows_after_the_first():
    shifted, plain = _model(), _model(shift_center=False, shift_right=False)
    audio = 0.1 * torch.randn(1, 3 * shifted.chunk_samples)
    a, _ = _encode_incrementally(shifted, audio)
    b, _ = _encode_incrementally(plain, audio)
    assert not torch.allclose(a[2], b[2])


def test_memory_off_removes_the_banks_and_nothing_else():
    with_memory, without = _model(), _model(memory_size=0)
    assert {k: v.shape for k, v in with_memory.state_dict().items()} == {
        k: v.shape for k, v in without.state_dict().items()}
    without.load_state_dict(with_memory.state_dict())
    audio = 0.1 * torch.randn(1, 4 * with_memory.chunk_samples)
    a, state_a = _encode_incrementally(with_memory, audio)
    b, state_b = _encode_incrementally(without, audio)
    torch.testing.assert_close(a[0], b[0])  # the first window has an empty bank either way
    assert not torch.allclose(a[3], b[3])
    assert state_a.bank_valid.all() and state_b.bank_items.numel() == 0


def test_state_size_is_flat_over_a_long_stream():
    model = _model()
    state = model.initial_state(1)
    shapes = [t.shape for t in state]
    chunk = 0.1 * torch.randn(1, model.chunk_samples)
    no = torch.zeros(1, dtype=torch.bool)
    with torch.no_grad():
        for _ in range(80):  # far past the memory (2 summaries) and the decoder's 16 blocks
            out, state = model(chunk, state, no)
    assert [t.shape for t in state] == shapes
    assert int(state.frames_seen[0]) == 80 * model.center and int(state.bank_stamps[0, 0, -1]) == 79
    assert all(torch.isfinite(t.float()).all() for t in state) and int(state.written[0]) <= model.max_tokens


def test_wait_k_reads_k_blocks_before_the_first_write():
    model = _model(wait_k=5, pre_decision=1)  # 2 blocks per chunk: the first write needs 3 chunks
    state = model.initial_state(1)
    chunk = 0.1 * torch.randn(1, model.chunk_samples)
    no = torch.zeros(1, dtype=torch.bool)
    written = []
    with torch.no_grad():
        for _ in range(3):
            _, state = model(chunk, state, no)
            written.append(int(state.written[0]))
    assert written[:2] == [0, 0] and written[2] >= 1


def test_reset_row_starts_fresh_and_leaves_the_other():
    model = _model()
    audio = 0.1 * torch.randn(2, 3 * model.chunk_samples)
    _, state = _encode_incrementally(model, audio)
    state = model.reset(state, torch.tensor([True, False]))
    fresh = model.initial_state(1)
    for name, got, want in zip(state._fields, state, fresh, strict=True):
        batch_dim = 1 if name.startswith("bank_") else 0  # the banks are (layers, B, ...)
        torch.testing.assert_close(got.select(batch_dim, 0), want.select(batch_dim, 0))
    assert int(state.frames_seen[1]) == 3 * model.center


def test_start_segment_keeps_the_encoder_memory():
    model = _model()
    audio = 0.1 * torch.randn(1, 3 * model.chunk_samples)
    _, state = _encode_incrementally(model, audio)
    kept = model.start_segment(state, torch.tensor([True]))
    torch.testing.assert_close(kept.bank_items, state.bank_items)
    assert int(kept.states_seen[0]) == 0 and int(kept.frames_seen[0]) == 3 * model.center


@pytest.mark.export
def test_scripted_step_matches_eager_on_a_stream():
    model = _model(wait_k=1)
    scripted = torch.jit.script(model)
    audio = 0.1 * torch.randn(2, 5 * model.chunk_samples)
    n = model.chunk_samples
    results = []
    for m in (model, scripted):
        state, outs = m.initial_state(2), []
        with torch.no_grad():
            for i in range(5):
                end = torch.tensor([i == 4, False])
                out, state = m(audio[:, i * n:(i + 1) * n], state, end)
                outs.append((out, state))
        results.append(outs)
    for (out_a, state_a), (out_b, state_b) in zip(*results, strict=True):
        for a, b in zip(list(out_a) + list(state_a), list(out_b) + list(state_b), strict=True):
            torch.testing.assert_close(a, b)


def test_words_are_emitted_whole_once_the_next_word_starts():
    model = _model(wait_k=1, pre_decision=1, max_target_tokens=24, target_pieces=30)
    model.fit_tokenizer(["Gestern sah der Mann den Hund.", "Die Frau machte das Fenster zu.",
                         "Ich denke, dass er alt war."] * 20)
    script = model.tokenizer.encode("Der Hund war alt.") + [model.sos_eos]

    def decode(tokens, blocks, allowed):  # a decoder that always writes the scripted pieces
        logits = torch.zeros(tokens.shape[0], tokens.shape[1], len(model.vocabulary))
        for u in range(tokens.shape[1]):
            logits[:, u, script[min(u, len(script) - 1)]] = 1.0
        return logits

    model.decode = decode
    state = model.initial_state(1)
    chunk = 0.1 * torch.randn(1, model.chunk_samples)
    emitted = []
    with torch.no_grad():
        for i in range(8):
            out, state = model(chunk, state, torch.tensor([i == 7]))
            pieces = out.tokens[0][out.new[0]].tolist()
            emitted.append("".join(model.vocabulary[t] for t in pieces))
    assert "".join(emitted).split() == "Der Hund war alt.".split()
    assert all(text == "" or text.startswith(" ") for text in emitted)  # only whole words, never a word's tail
    assert sum(1 for text in emitted if text) >= 2 and bool(out.ended[0])
