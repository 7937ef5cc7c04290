"""CTC greedy with timestamps, prefix beam search, joint CTC/attention decoding, streaming transcriber."""

import math

import numpy as np
import torch

from streammem.models import build_model
from streammem.models.conformer_ntm.decoding import (
    StreamingTranscriber,
    ctc_greedy,
    joint_decode,
    prefix_beam_search,
    transcribe_offline,
    words_with_times,
)


def _peaky(path, vocab=6):
    lp = torch.full((len(path), vocab), -10.0)
    lp[torch.arange(len(path)), torch.tensor(path)] = 0.0
    return torch.log_softmax(lp, -1)


def test_ctc_greedy_collapses_repeats_and_blanks_and_keeps_frames():
    ids, frames = ctc_greedy(_peaky([0, 3, 3, 0, 3, 4, 4, 0]))
    assert ids == [3, 3, 4] and frames == [1, 4, 5]
    # A token continuing from the previous chunk is not emitted again.
    assert ctc_greedy(_peaky([3, 3, 4]), previous=3)[0] == [4]


def test_words_with_times_uses_40ms_frames():
    words = words_with_times(list("AB CD"), [0, 2, 3, 10, 12])
    assert [w.text for w in words] == ["AB", "CD"]
    assert math.isclose(words[0].start, 0.0) and math.isclose(words[0].end, 0.12)
    assert math.isclose(words[1].start, 0.40) and math.isclose(words[1].end, 0.52)


def test_prefix_beam_search_agrees_with_greedy_on_peaky_input_and_sums_paths():
    lp = _peaky([0, 3, 3, 0, 3, 4])
    best, score = prefix_beam_search(lp, beam=4)[0]
    assert best == [3, 3, 4] and score > -1.0
    # Two frames, uniform over {blank, 1}: P("1") = 3/4 (paths 1-, -1, 11).
    uniform = torch.log(torch.tensor([[0.5, 0.5], [0.5, 0.5]]))
    scores = dict((tuple(k), v) for k, v in prefix_beam_search(uniform, beam=4, top_k=2))
    assert math.isclose(math.exp(scores[(1,)]), 0.75, rel_tol=1e-6)


def test_streaming_transcriber_matches_offline_streaming_decode():
    torch.manual_seed(0)
    model = build_model("conformer_ntm", dict(d_model=32, num_heads=2, ffn_dim=64, num_blocks=2, kernel_size=5,
                                              subsampling_channels=8, chunk_frames=4, left_frames=8,
                                              decoder_layers=1, decoder_ffn_dim=64, dropout=0.0)).eval()
    audio = 0.1 * np.random.default_rng(0).standard_normal(5 * model.chunk_samples).astype(np.float32)
    t = StreamingTranscriber(model)
    for piece in np.array_split(audio, 7):  # pieces that do not line up with chunks
        t.push(piece)
    t.finish()
    text, _ = transcribe_offline(model, audio, streaming=True)
    assert t.text == text
    with torch.no_grad():
        x = torch.from_numpy(audio).unsqueeze(0)
        feats, lengths = model.features(x, torch.tensor([x.shape[1]]))
        enc, _ = model.encode(feats, lengths)
        ids = joint_decode(model, enc, torch.log_softmax(model.ctc(enc), -1)[0], beam=3)
    assert all(0 < i < 29 for i in ids)
