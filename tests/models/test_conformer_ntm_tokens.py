"""Output units: characters and SentencePiece BPE share one id layout, word timing and export path."""

import base64
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from streammem.checkpoints import load_weights, save_checkpoint
from streammem.export import export_torchscript
from streammem.models import build_model
from streammem.models.conformer_ntm.decoding import words_with_times
from streammem.models.conformer_ntm.tokens import (
    CharTokenizer,
    SentencePieceTokenizer,
    fit_sentencepiece,
    make_tokenizer,
)
from streammem.models.conformer_ntm.training import TrainOptions, train

sentencepiece = pytest.importorskip("sentencepiece")

TEXTS = [
    "THE OLD MAN WALKED SLOWLY", "A YOUNG WOMAN SAW THE RIVER", "THE DOG DIDN'T WAIT FOR THE MAN",
    "MY FRIEND WALKED TO THE OLD RIVER", "THEIR DOG SAW A WOMAN", "THE RIVER WAS COLD IN WINTER",
] * 5
SMALL = dict(d_model=32, num_heads=2, ffn_dim=64, num_blocks=2, kernel_size=5, subsampling_channels=8,
             chunk_frames=4, left_frames=8, memory_slots=16, memory_dim=4, decoder_layers=1, decoder_ffn_dim=64,
             max_relative_distance=32, dropout=0.0)


def test_sentencepiece_round_trips_and_marks_word_starts_with_a_space():
    model = fit_sentencepiece(TEXTS, 40)
    assert model == fit_sentencepiece(TEXTS, 40)  # deterministic
    assert len(model) < 10_000  # no 240 kB NFKC table in every config
    tok = SentencePieceTokenizer(40, model)
    assert len(tok) == 42 and tok.blank == 0 and tok.sos_eos == 41 and tok.separator == ()
    for text in ("THE OLD DOG WAITED", "the  river's man"):
        ids = tok.encode(text)
        assert ids and all(0 < i < tok.sos_eos for i in ids)
        assert tok.decode(ids) == " ".join(text.upper().split())
    pieces = [tok.symbols[i] for i in tok.encode("THE OLD DOG WAITED")]
    assert sum(p.startswith(" ") for p in pieces) == 4  # one word start per word
    assert tok.decode([0, *tok.encode("THE DOG"), 41]) == "THE DOG"  # blank and <sos/eos> are not text


def test_unfitted_or_impossible_bpe_vocabularies_are_clear_errors():
    tok = SentencePieceTokenizer(30)
    assert len(tok) == 32 and not tok.fitted
    with pytest.raises(RuntimeError, match="not fitted"):
        tok.encode("THE DOG")
    with pytest.raises(ValueError, match="cannot fit 5000 SentencePiece pieces"):
        fit_sentencepiece(TEXTS, 5000)
    with pytest.raises(ValueError, match="has 40 pieces, config says 50"):
        SentencePieceTokenizer(50, fit_sentencepiece(TEXTS, 40))
    with pytest.raises(ValueError, match="unknown tokens"):
        make_tokenizer("words")
    assert isinstance(make_tokenizer("char"), CharTokenizer)


def test_words_with_times_groups_pieces_that_start_words():
    words = words_with_times([" THE", " OL", "D", " DOG"], [0, 3, 4, 9])
    assert [w.text for w in words] == ["THE", "OLD", "DOG"]
    assert math.isclose(words[1].start, 0.12) and math.isclose(words[1].end, 0.20)
    assert [w.text for w in words_with_times(list("AB CD"), [0, 1, 2, 3, 4])] == ["AB", "CD"]  # characters


def test_bpe_model_fits_once_saves_reloads_and_exports_its_vocabulary(tmp_path):
    torch.manual_seed(0)
    model = build_model("conformer_ntm", SMALL | {"tokens": "bpe", "bpe_pieces": 40}).eval()
    assert model.ctc.out_features == 42 and not model.tokenizer.fitted
    model.fit_tokenizer(TEXTS)
    fitted = model.config.bpe_model
    assert base64.b64decode(fitted) == fit_sentencepiece(TEXTS, 40)
    model.fit_tokenizer(["SOMETHING ELSE ENTIRELY"] * 50)  # already fitted: unchanged
    assert model.config.bpe_model == fitted and model.vocabulary == list(model.tokenizer.symbols)
    path = save_checkpoint(tmp_path / "bpe.safetensors", model, model_name="conformer_ntm",
                           config=model.config.to_dict(), training_command="test", data_seed=0)
    again = build_model("conformer_ntm", model.config.to_dict()).eval()
    load_weights(again, path, expect_model="conformer_ntm")
    assert again.tokenizer.symbols == model.tokenizer.symbols
    ids = model.tokenizer.encode("THE OLD DOG")
    assert again.tokenizer.decode(ids) == "THE OLD DOG"
    scripted = torch.jit.load(str(export_torchscript(again, tmp_path / "bpe.pt")))
    assert list(scripted.vocabulary) == list(model.tokenizer.symbols)
    state = scripted.initial_state(1)
    out, _ = scripted(torch.zeros(1, again.chunk_samples), state)
    assert out.shape[-1] == 42


def test_training_a_bpe_model_fits_its_pieces_on_the_transcripts_and_joins_without_a_separator(tmp_path, monkeypatch):
    folder = tmp_path / "train" / "1" / "2"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    texts = TEXTS[:6]
    for i in range(len(texts)):
        sf.write(folder / f"1-2-{i:04d}.flac", 0.1 * rng.standard_normal(8000).astype(np.float32), 16000)
    (folder / "1-2.trans.txt").write_text("".join(f"1-2-{i:04d} {t}\n" for i, t in enumerate(texts)))
    model = build_model("conformer_ntm", SMALL | {"tokens": "bpe", "bpe_pieces": 30})
    seen = []
    original = model.loss

    def recording_loss(feats, feat_lengths, targets, streaming, memory=None):
        seen.extend(model.tokenizer.decode(t) for t in targets)
        return original(feats, feat_lengths, targets, streaming, memory)

    monkeypatch.setattr(model, "loss", recording_loss)
    stats = train(model, tmp_path / "train", TrainOptions(minutes=5, max_steps=2, batch_frames=100000,
                                                          join_fraction=1.0, freq_mask=2, warmup=1))
    assert stats["steps"] == 2 and model.tokenizer.fitted and model.config.bpe_model
    assert base64.b64decode(model.config.bpe_model) == fit_sentencepiece(texts, 30)
    assert seen and all(" ".join(t.split()) in {a + " " + b for a in texts for b in texts} for t in seen)
