"""AMT SimulST training pieces: the talk context of an example, batches, both stages' losses."""

import numpy as np
import pytest
import torch
from simulst_small import write_talk

from streammem.data.mustc import read_split
from streammem.models import build_model
from streammem.models.amt_simulst.training import Example, batch_loss, stream_audio

SMALL = dict(num_mels=20, d_model=16, num_heads=2, ffn_dim=32, encoder_layers=2, decoder_layers=1,
             subsampling_channels=4, center_frames=8, left_frames=4, right_frames=4, memory_size=2, pre_decision=2,
             wait_k=2, train_wait_k=(), max_source_blocks=16, max_target_tokens=12, target_pieces=26, dropout=0.0,
             ctc_weight=0.3)


@pytest.fixture
def talk(tmp_path):
    return read_split(write_talk(tmp_path), "train")


def test_context_is_whole_chunks_before_the_segment(talk):
    first, second = talk
    audio, context = stream_audio(second, first, chunk_samples=1280, max_context_seconds=10.0)
    assert context == 40000 // 1280 * 1280  # 2.5 s since the previous segment began, trimmed from the front
    assert (audio.shape[0] - context) % 640 == 0 and audio.shape[0] - context >= round(1.03 * 16000)
    _, none = stream_audio(first, None, 1280, 10.0)
    assert none == 0
    _, capped = stream_audio(second, first, 1280, max_context_seconds=1.0)
    assert capped == 16000 // 1280 * 1280


@pytest.mark.parametrize("stage", ["asr", "st"])
def test_both_stages_give_a_finite_loss_that_trains(talk, stage):
    torch.manual_seed(0)
    model = build_model("amt_simulst", SMALL)
    model.fit_tokenizer(["Der Hund schlief.", "Er war groß.", "Die Katze war alt."] * 20)
    examples = []
    for i, seg in enumerate(talk):
        audio, context = stream_audio(seg, talk[i - 1] if i else None, model.chunk_samples, 2.0)
        feats = model.frontend.logmel(torch.nn.functional.pad(audio, (model.frontend.tail, 0)).unsqueeze(0))[0]
        examples.append(Example(seg.id, feats, context // 160, seg.source, seg.target))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        loss = batch_loss(model, examples, stage, 2, torch.device("cpu"))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
