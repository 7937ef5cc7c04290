"""The asr task end to end on a small random-weight checkpoint: demo, transcribe, eval, export, bad input."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from streammem.checkpoints import save_checkpoint
from streammem.cli import main
from streammem.models import build_model
from streammem.tasks import TASKS, asr

SMALL = dict(d_model=32, num_heads=2, ffn_dim=64, num_blocks=2, kernel_size=5, subsampling_channels=8,
             chunk_frames=4, left_frames=8, memory_slots=16, memory_dim=4, decoder_layers=1, decoder_ffn_dim=64,
             max_relative_distance=32, dropout=0.0)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model("conformer_ntm", SMALL)
    path = tmp_path_factory.mktemp("w") / "small.safetensors"
    save_checkpoint(path, model, model_name="conformer_ntm", config=model.config.to_dict(),
                    training_command="test", data_seed=0)
    return path


def _wav(path, seconds=2.0, rate=16000, channels=1, kind="noise"):
    n = int(seconds * rate)
    if kind == "silence":
        x = np.zeros(n, np.float32)
    elif kind == "clipped":
        x = np.clip(3 * np.sin(2 * np.pi * 200 * np.arange(n) / rate), -1, 1).astype(np.float32)
    else:
        x = 0.1 * np.random.default_rng(0).standard_normal(n).astype(np.float32)
    sf.write(path, np.stack([x] * channels, 1) if channels > 1 else x, rate)
    return path


def test_demo_headless_writes_transcript_with_word_times(tmp_path, weights, capsys):
    out = tmp_path / "demo.json"
    assert main(["demo", "asr", "--weights", str(weights), "--out", str(out), "--threads", "1"]) == 0
    result = json.loads(out.read_text())
    assert result["audio_seconds"] > 40 and set(result) >= {"text", "words", "rtf"}
    assert all(w["end"] >= w["start"] for w in result["words"])
    assert "final" in capsys.readouterr().out


@pytest.mark.parametrize("rate,channels,kind", [(8000, 1, "noise"), (48000, 2, "noise"), (16000, 1, "silence"),
                                                (16000, 1, "clipped")])
def test_transcribe_any_rate_channels_silence_clipping(tmp_path, weights, rate, channels, kind):
    path = _wav(tmp_path / "in.wav", rate=rate, channels=channels, kind=kind)
    out = tmp_path / "t.json"
    assert main(["transcribe", str(path), "--weights", str(weights), "--out", str(out), "--threads", "1"]) == 0
    result = json.loads(out.read_text())
    assert result["audio_seconds"] == pytest.approx(2.0, abs=0.05)


def test_bad_audio_files_are_clear_errors(tmp_path, weights, capsys):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    good = _wav(tmp_path / "good.flac", seconds=3.0)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])
    for bad in (empty, cut, tmp_path / "missing.wav"):
        assert main(["transcribe", str(bad), "--weights", str(weights), "--threads", "1"]) == 2
        err = capsys.readouterr().err
        assert str(bad.name) in err and "Traceback" not in err


@pytest.mark.parametrize("change, message", [
    ({"tokens": "words"}, "unknown tokens 'words'"),
    ({"tokens": "bpe", "bpe_pieces": 40, "bpe_model": "bm90IGEgbW9kZWw="}, "not a readable SentencePiece model"),
    ({"tokens": "bpe", "bpe_pieces": 40, "bpe_model": "%%%"}, "not base64"),
    ({"no_such_field": 1}, "unknown conformer_ntm config fields: no_such_field"),
])
def test_a_stored_config_that_cannot_build_the_model_is_a_one_line_error(tmp_path, weights, capsys, change, message):
    import json
    import shutil

    bad = tmp_path / "bad.safetensors"
    shutil.copy(weights, bad)
    meta = json.loads(weights.with_suffix(".json").read_text())
    meta["config"].update(change)
    bad.with_suffix(".json").write_text(json.dumps(meta))
    audio = _wav(tmp_path / "a.wav")
    assert main(["transcribe", str(audio), "--weights", str(bad), "--threads", "1"]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_eval_writes_wer_cer_per_bucket(tmp_path, weights):
    for split, n in (("test", 2), ("test-long", 4)):
        folder = tmp_path / "data" / split / "900" / "1"
        folder.mkdir(parents=True)
        lines = []
        for i in range(n):
            _wav(folder / f"900-1-{i:04d}.flac", seconds=1.0)
            lines.append(f"900-1-{i:04d} HELLO WORLD\n")
        (folder / "900-1.trans.txt").write_text("".join(lines))
    out = tmp_path / "r.json"
    for mode in ("streaming", "full"):
        assert main(["eval", "asr", "--data", str(tmp_path / "data"), "--buckets", "2s=2", "--mode", mode, "--weights",
                     str(weights), "--out", str(out), "--threads", "1"]) == 0
        result = json.loads(out.read_text())
        assert {"WER", "CER"} <= set(result) and set(result["buckets"]) == {"short", "2s"}
        assert result["buckets"]["2s"]["items"] == 2 and 0 <= result["WER"]
    (tmp_path / "data/test/900/1/900-1.trans.txt").write_text("900-1-0000 HELLO WORLD\n")  # a line missing
    assert main(["eval", "asr", "--data", str(tmp_path / "data"), "--weights", str(weights), "--threads", "1"]) == 2


@pytest.mark.export
def test_export_runs_with_torch_jit_load_alone(tmp_path, weights):
    out = tmp_path / "asr.pt"
    assert main(["export", "asr", "--weights", str(weights), "--out", str(out), "--check-chunks", "3"]) == 0
    scripted = torch.jit.load(str(out))
    model = asr._load_model(weights)
    chunk = 0.1 * torch.randn(1, model.chunk_samples)
    state = scripted.initial_state(1)
    a, _ = scripted(chunk, state)
    b, _ = model(chunk, model.initial_state(1))
    assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.export
def test_int8_export_matches_int8_eager_and_stays_close_to_fp32(tmp_path):
    """Shipped weights: the int8 TorchScript file equals the int8 model and follows the fp32 one closely."""
    out = tmp_path / "asr_int8.pt"
    assert main(["export", "asr", "--int8", "--out", str(out), "--check-chunks", "3"]) == 0
    scripted = torch.jit.load(str(out))
    int8, fp32 = asr._load_model(None, int8=True), asr._load_model(None)
    assert int8.encoder.blocks[0].ffn1.net[1].weight().dtype == torch.qint8  # really quantized
    assert fp32.encoder.blocks[0].ffn1.net[1].weight.dtype == torch.float32  # the source left untouched
    gen = torch.Generator().manual_seed(0)
    states = [m.initial_state(1) for m in (scripted, int8, fp32)]
    agree = total = 0
    for _ in range(6):
        chunk = 0.1 * torch.randn(1, fp32.chunk_samples, generator=gen)
        with torch.no_grad():
            (a, states[0]), (b, states[1]), (c, states[2]) = (m(chunk, s) for m, s in zip((scripted, int8, fp32), states, strict=True))
        assert torch.equal(a, b)
        assert (b.exp() - c.exp()).abs().max() < 0.2  # probabilities: int8 rounding, not a different model
        agree += int((b.argmax(-1) == c.argmax(-1)).sum())
        total += b.shape[1]
    assert agree / total > 0.9


def test_weights_shipped_follows_the_weights_file(tmp_path, monkeypatch):
    import streammem.models

    monkeypatch.setattr(streammem.models, "WEIGHTS_DIR", tmp_path)
    assert not TASKS["asr"].weights_shipped()
    (tmp_path / "conformer_ntm_tiny.safetensors").write_bytes(b"")
    assert TASKS["asr"].weights_shipped()
    assert not TASKS["asr"].weights_shipped("paper")


@pytest.mark.slow
@pytest.mark.export
@pytest.mark.skipif(not TASKS["asr"].weights_shipped(), reason="shipped weights missing")
def test_scripted_and_eager_give_the_same_transcript_on_60s(tmp_path):
    from streammem.streams.sources import open_source

    model = asr._load_model(None)
    out = tmp_path / "asr.pt"
    assert main(["export", "asr", "--out", str(out)]) == 0
    scripted = torch.jit.load(str(out))
    audio = np.concatenate([c for _, c in open_source(str(asr.SAMPLE_AUDIO), kind="audio")])
    audio = np.concatenate([audio, audio[: 60 * 16000 - len(audio)]])  # 60 s
    texts = [_stream_text(m, model, audio) for m in (model, scripted)]
    assert texts[0] == texts[1] and len(texts[0]) > 100


def _stream_text(step_model, reference, audio):
    """Greedy CTC transcript of ``audio`` through any step module (eager or scripted)."""
    from streammem.models.conformer_ntm.decoding import ctc_greedy

    n = reference.chunk_samples
    audio = np.concatenate([audio, np.zeros((-len(audio)) % n, np.float32)])
    state, ids, previous = step_model.initial_state(1), [], 0
    with torch.no_grad():
        for i in range(0, len(audio), n):
            log_probs, state = step_model(torch.from_numpy(audio[i:i + n]).unsqueeze(0), state)
            new, _ = ctc_greedy(log_probs[0], previous)
            previous = int(log_probs[0, -1].argmax())
            ids += new
    return reference.tokenizer.decode(ids)


def test_init_from_a_trained_conformer_starts_the_ntm_as_a_pass_through(tmp_path):
    """--init-from: a conformer without memory, loaded into the NTM model, computes the same outputs."""
    from streammem.errors import InputError

    torch.manual_seed(1)
    plain = build_model("conformer_ntm", {**SMALL, "use_memory": False}).eval()
    path = tmp_path / "plain.safetensors"
    save_checkpoint(path, plain, model_name="conformer_ntm", config=plain.config.to_dict(),
                    training_command="test", data_seed=0)
    with_ntm = build_model("conformer_ntm", SMALL).eval()
    asr._init_from(with_ntm, path)
    audio = 0.1 * torch.randn(2, 16000)
    lengths = torch.tensor([16000, 12000])
    expected, _ = plain.forward_sequence(audio, lengths)
    got, _ = with_ntm.forward_sequence(audio, lengths)
    assert torch.allclose(got, expected, atol=1e-5)
    assert with_ntm.memory_out.weight[:, SMALL["d_model"]:].abs().sum() == 0
    other = build_model("conformer_ntm", {**SMALL, "d_model": 16, "use_memory": False})
    save_checkpoint(path, other, model_name="conformer_ntm", config=other.config.to_dict(),
                    training_command="test", data_seed=0)
    with pytest.raises(InputError, match="does not match the model config"):
        asr._init_from(with_ntm, path)


def test_train_flags_reach_the_options_and_the_stored_ctc_weight(tmp_path, monkeypatch):
    import streammem.models.conformer_ntm.training as training

    (tmp_path / "train").mkdir()
    seen = {}

    def fake_train(model, train_dir, options, checkpoint, **run):  # run: device, amp, training state
        seen.update(options=options, ctc_weight=model.config.ctc_weight, tokens=model.config.tokens,
                    pieces=model.config.bpe_pieces)
        return {"steps": 0, "loss": 0.0}

    monkeypatch.setattr(training, "train", fake_train)
    assert main(["train", "asr", "--data", str(tmp_path), "--out", str(tmp_path / "w.safetensors"),
                 "--join-consecutive", "--streaming-fraction", "1", "--memory-lr-scale", "10", "--ctc-weight", "1",
                 "--tokens", "bpe", "--bpe-pieces", "64", "--threads", "1"]) == 0
    options = seen["options"]
    assert options.join_consecutive and options.streaming_fraction == 1.0 and options.memory_lr_scale == 10.0
    assert seen["ctc_weight"] == 1.0 and seen["tokens"] == "bpe" and seen["pieces"] == 64


def test_train_refuses_a_corpus_root_without_a_train_split_instead_of_writing_into_it(tmp_path, capsys):
    real = tmp_path / "LibriSpeech"
    (real / "test-clean").mkdir(parents=True)
    assert main(["train", "asr", "--data", str(real), "--out", str(tmp_path / "w.safetensors"), "--threads", "1"]) == 2
    assert "has no train/ split" in capsys.readouterr().err
    assert sorted(p.name for p in real.iterdir()) == ["test-clean"]
