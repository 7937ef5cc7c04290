"""Shiftable Context's left shift in the AMT step: window geometry with it on and off, the held first frames,
and the step staying incremental (one encode per frame, equal to re-encoding the prefix, per row)."""

import pytest
import torch

from streammem.models import build_model

SMALL = dict(num_mels=20, d_model=16, num_heads=2, ffn_dim=32, encoder_layers=2, decoder_layers=1,
             subsampling_channels=4, center_frames=8, left_frames=4, right_frames=4, memory_size=2, pre_decision=2,
             wait_k=2, train_wait_k=(), max_source_blocks=16, max_target_tokens=8, max_writes_per_step=3,
             target_pieces=20, dropout=0.0)
WINDOW = 16  # L + C + R frames


def _model(**overrides):
    torch.manual_seed(0)
    model = build_model("amt_simulst", {**SMALL, **overrides}).eval()
    with torch.no_grad():
        model.frontend.set_cmvn(torch.full((20,), -8.0), torch.full((20,), 4.0))
    return model


def _windows(model, chunks, end_last=True):
    """Feed chunks through the step, recording every window the encoder runs: (real frames, center states)."""
    seen = []
    encode = model.encode_window

    def spy(frames, valid, center, banks):
        for row in range(frames.shape[0]):
            if bool(center[row].any()):
                seen.append((int(valid[row].sum()), center[row].nonzero().flatten().tolist()))
        return encode(frames, valid, center, banks)

    model.encode_window = spy
    state = model.initial_state(1)
    with torch.no_grad():
        for i, chunk in enumerate(chunks):
            _, state = model(chunk, state, torch.tensor([end_last and i == len(chunks) - 1]))
    return seen, state


@pytest.mark.parametrize("left", [False, True])
def test_every_window_has_its_trained_size_only_with_shift_left(left):
    model = _model(shift_left=left)  # shift center and right on (the defaults)
    n = model.chunk_samples
    audio = 0.1 * torch.randn(1, 4 * n + 640)  # 4 chunks of C = 8 frames, then a last chunk of 4 frames
    chunks = [audio[:, i:i + n] for i in range(0, audio.shape[1], n)]
    windows, state = _windows(model, chunks)
    assert len(windows) == 5  # one window (one summary per layer) per chunk, with or without the shift
    real = [size for size, _ in windows]
    if left:
        assert real == [WINDOW] * 5
        assert windows[0][1] == [0, 1]  # the first chunk is the window's center, then 8 future frames
    else:
        assert real == [8] + [WINDOW] * 4  # the first window has no past to shift in: 8 real frames of 16
    assert int(state.frames_seen[0]) == 36 and int(state.held[0]) == 0


def test_window_geometry_of_the_first_piece():
    on, off = _model(shift_left=True), _model(shift_left=False)
    piece = (torch.tensor([0]), torch.tensor([8]), torch.tensor([16]))  # frames [0, 8) after 16 heard
    start, valid_start, valid_end, center_start = off.window_geometry(*piece)
    assert (int(start), int(valid_start), int(valid_end), int(center_start)) == (-8, 0, 8, 0)
    start, valid_start, valid_end, center_start = on.window_geometry(*piece)
    assert (int(start), int(valid_start), int(valid_end), int(center_start)) == (0, 0, WINDOW, 0)
    later = (torch.tensor([16]), torch.tensor([24]), torch.tensor([24]))  # a piece with a full past: unchanged
    assert [int(t) for t in on.window_geometry(*later)] == [int(t) for t in off.window_geometry(*later)] == [
        8, 8, 24, 16]


def test_first_chunk_waits_for_a_full_window_and_reads_the_future():
    model = _model(shift_left=True)
    n = model.chunk_samples
    audio = 0.1 * torch.randn(1, 3 * n)
    state = model.initial_state(1)
    with torch.no_grad():
        first, state = model.encode_chunk(audio[:, :n], state)
        assert first.shape[1] == 0 and int(state.held[0]) == 8 and not state.bank_valid.any()
        second, state = model.encode_chunk(audio[:, n:2 * n], state)
        assert second.shape[1] == 4 and int(state.held[0]) == 0  # both chunks' 2 + 2 states
        # the first chunk's states: the window of the stream's first 16 frames, center = its 8 frames
        feats = model.features(audio[:, :2 * n])
        center = torch.tensor([[True, True, False, False]])
        expected, _ = model.encode_window(feats, torch.ones(1, WINDOW, dtype=torch.bool), center,
                                          model._empty_banks(1, torch.device("cpu")))
    torch.testing.assert_close(second[:, :2], expected[:, :2])
    assert int(state.bank_stamps[0, 0, -1]) == 1  # two summaries written, in order


@pytest.mark.parametrize("shifts", [dict(shift_left=True), dict(shift_left=True, shift_center=False, shift_right=False)])
def test_incremental_encoder_with_shift_left_equals_reencoding_the_prefix(shifts):
    model = _model(**shifts)
    n = model.chunk_samples
    audio = 0.1 * torch.randn(2, 4 * n)
    with torch.no_grad():
        state, incremental = model.initial_state(2), []
        for i in range(4):
            out, state = model.encode_chunk(audio[:, i * n:(i + 1) * n], state)
            incremental.append(out)
        for k in range(1, 5):  # the reference agent's way: every read re-encodes the whole prefix from scratch
            fresh = model.initial_state(2)
            for i in range(k):
                again, fresh = model.encode_chunk(audio[:, i * n:(i + 1) * n], fresh)
            torch.testing.assert_close(incremental[k - 1], again)
    assert [o.shape[1] for o in incremental] == [0, 4, 2, 2]  # every frame encoded once


def test_a_row_reset_mid_stream_holds_while_the_other_row_streams():
    model = _model(shift_left=True)
    n = model.chunk_samples
    audio = 0.1 * torch.randn(2, 5 * n)
    no = torch.zeros(2, dtype=torch.bool)
    with torch.no_grad():
        state = model.initial_state(2)
        for i in range(3):
            _, state = model(audio[:, i * n:(i + 1) * n], state, no)
        state = model.reset(state, torch.tensor([True, False]))
        for i in range(3, 5):
            _, state = model(audio[:, i * n:(i + 1) * n], state, no)
        alone = model.initial_state(1)
        for i in range(3, 5):
            _, alone = model(audio[:1, i * n:(i + 1) * n], alone, no[:1])
    assert state.states_seen.tolist() == [4, 10]  # row 0: 2 chunks since its reset; row 1: 5 chunks
    torch.testing.assert_close(state.states[0], alone.states[0])
    torch.testing.assert_close(state.bank_items[:, 0], alone.bank_items[:, 0])


def test_segment_end_and_start_release_what_is_held():
    model = _model(shift_left=True)
    n = model.chunk_samples
    chunk = 0.1 * torch.randn(1, n)
    with torch.no_grad():
        _, state = model(chunk, model.initial_state(1), torch.tensor([True]))  # a one-chunk segment
        assert int(state.states_seen[0]) == 2 and int(state.held[0]) == 0
        state = model.listen(chunk, model.initial_state(1))  # a one-chunk context, then a segment starts
        assert int(state.held[0]) == 8
        state = model.start_segment(state, torch.tensor([True]))
    assert int(state.held[0]) == 0 and int(state.states_seen[0]) == 0 and bool(state.bank_valid[:, 0, -1].all())


@pytest.mark.export
def test_scripted_step_with_shift_left_matches_eager():
    model = _model(wait_k=1, shift_left=True)
    scripted = torch.jit.script(model)
    n = model.chunk_samples
    audio = 0.1 * torch.randn(2, 5 * n)
    results = []
    for m in (model, scripted):
        state, outs = m.initial_state(2), []
        with torch.no_grad():
            for i in range(5):
                out, state = m(audio[:, i * n:(i + 1) * n], state, torch.tensor([i == 4, i == 0]))
                outs.append((out, state))
        results.append(outs)
    for (out_a, state_a), (out_b, state_b) in zip(*results, strict=True):
        for a, b in zip(list(out_a) + list(state_a), list(out_b) + list(state_b), strict=True):
            torch.testing.assert_close(a, b)
