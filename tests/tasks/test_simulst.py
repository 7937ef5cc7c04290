"""The simulst task end to end on a small random-weight checkpoint: run, demo, eval, export, bench, train,
bad input."""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from simulst_small import SMALL, write_small_checkpoint

from streammem.cli import main
from streammem.tasks import simulst, verbs_of


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_small_checkpoint(tmp_path_factory.mktemp("w") / "small.safetensors")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A two-segment MuST-C split cut from the bundled talk."""
    root = tmp_path_factory.mktemp("mustc")
    split = root / "en-de" / "data" / "tst-COMMON"
    (split / "wav").mkdir(parents=True)
    (split / "txt").mkdir()
    shutil.copy(simulst.SAMPLE_AUDIO, split / "wav" / "ted_1.wav")
    (split / "txt" / "tst-COMMON.yaml").write_text("- {duration: 1.9, offset: 0.0, wav: ted_1.wav}\n"
                                                   "- {duration: 1.9, offset: 2.6, wav: ted_1.wav}\n")
    shutil.copy(simulst.SAMPLE_AUDIO.with_suffix(".en"), split / "txt" / "tst-COMMON.en")
    shutil.copy(simulst.SAMPLE_AUDIO.with_suffix(".de"), split / "txt" / "tst-COMMON.de")
    return root


def test_the_task_has_every_model_verb():
    assert set(verbs_of("simulst")) == {"demo", "run", "eval", "score", "train", "export", "bench"}


def test_demo_writes_words_with_times_and_a_picture(weights, tmp_path):
    assert main(["demo", "simulst", "--weights", str(weights), "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "translation.json").read_text())
    assert [round(s["start"]) for s in result["segments"]] == [0, 3]  # the talk's two sentences, split at the pause
    for seg in result["segments"]:
        times = [w["emitted_at"] for w in seg["words"]]
        assert times == sorted(times) and all(seg["start"] <= t <= seg["end"] + 0.01 for t in times)
    assert result["reference"].startswith("Dann machte der Lehrer")
    assert (tmp_path / "emissions.png").stat().st_size > 1000


def test_run_translates_any_rate_and_channels(weights, tmp_path):
    audio, _ = sf.read(simulst.SAMPLE_AUDIO, dtype="float32")
    wav = tmp_path / "talk.wav"
    sf.write(wav, np.stack([audio[::2]] * 2, 1), 8000)
    assert main(["run", "simulst", str(wav), "--weights", str(weights), "--wait-k", "2", "--no-shift",
                 "--out", str(tmp_path / "t.json")]) == 0
    result = json.loads((tmp_path / "t.json").read_text())
    assert result["wait_k"] == 2 and result["shiftable_context"] is False and len(result["segments"]) == 2


def test_eval_writes_metrics_and_simuleval_logs_that_score_alike(weights, corpus, tmp_path):
    from streammem.evaluation.functional.simulst import score_instances_log

    assert main(["eval", "simulst", "--weights", str(weights), "--data", str(corpus), "--k", "1", "3",
                 "--shift", "both", "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [(r["wait_k"], r["shiftable_context"]) for r in metrics["results"]] == [
        (1, True), (3, True), (1, False), (3, False)]
    row = metrics["results"][0]
    assert row["instances"] == 2 and row["pronoun_segments"] == 1
    again = score_instances_log(tmp_path / "instances_k1_sc.log")
    assert again["BLEU"] == pytest.approx(row["BLEU"])


def test_export_matches_eager(weights, tmp_path):
    assert main(["export", "simulst", "--weights", str(weights), "--out", str(tmp_path / "step.pt"),
                 "--check-chunks", "3"]) == 0
    scripted = torch.jit.load(str(tmp_path / "step.pt"))
    state = scripted.initial_state(1)
    out, state = scripted(torch.zeros(1, 5120), state)
    assert int(state.frames_seen[0]) == 32


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_train_both_stages_writes_weights(tmp_path):
    from streammem.data.synthetic_simulst import write_corpus

    write_corpus(tmp_path / "data", train_talks=2, dev_talks=1, test_talks_per_voice=1, contents_per_talk=3)
    sets = [x for k, v in SMALL.items() if k not in ("train_wait_k",) for x in ("--set", f"{k}={json.dumps(v)}")]
    assert main(["train", "simulst", "--data", str(tmp_path / "data"), "--max-steps", "2", "--batch-size", "2",
                 *sets, "--set", "target_pieces=40", "--out", str(tmp_path / "w.safetensors")]) == 0
    assert (tmp_path / "w.safetensors").is_file() and (tmp_path / "w_asr.safetensors").is_file()
    meta = json.loads((tmp_path / "w.json").read_text())
    assert meta["metrics"]["stage"] == "st" and meta["config"]["target_model"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_a_vocabulary_larger_than_the_data_allows_is_one_line(tmp_path, capsys):
    from streammem.data.synthetic_simulst import write_corpus

    write_corpus(tmp_path / "data", train_talks=1, dev_talks=1, test_talks_per_voice=1, contents_per_talk=2)
    assert main(["train", "simulst", "--data", str(tmp_path / "data"), "--max-steps", "1", "--set",
                 "target_pieces=5000", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "target vocabulary: cannot fit 5000 SentencePiece pieces" in err and err.count("\n") == 1


def test_st_stage_without_init_is_one_line(tmp_path, capsys):
    assert main(["train", "simulst", "--stage", "st", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--init: --stage st starts from an asr-stage checkpoint" in err and err.count("\n") == 1


def test_eval_on_a_misaligned_corpus_is_one_line(weights, corpus, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(corpus, bad)
    (bad / "en-de" / "data" / "tst-COMMON" / "txt" / "tst-COMMON.de").write_text("nur eine Zeile\n")
    assert main(["eval", "simulst", "--weights", str(weights), "--data", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "tst-COMMON.de: 1 lines, but tst-COMMON.yaml has 2 segments" in err and err.count("\n") == 1


def test_missing_weights_are_one_line(tmp_path, capsys):
    assert main(["run", "simulst", str(simulst.SAMPLE_AUDIO), "--weights", str(tmp_path / "x.safetensors"),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "x.safetensors: weights not found" in err and err.count("\n") == 1


def test_score_reads_a_simuleval_instances_log(tmp_path, capsys):
    import json as _json

    from streammem.cli import main as _main

    log = tmp_path / "instances.log"
    rows = [{"index": i, "prediction": "ich sehe das Haus", "delays": [1000.0, 2000.0, 3000.0, 4000.0],
             "elapsed": [1100.0, 2100.0, 3100.0, 4100.0], "source_length": 4000.0,
             "reference": "ich sehe das Haus"} for i in range(2)]
    log.write_text("".join(_json.dumps(r) + "\n" for r in rows))
    assert _main(["score", "simulst", "--pred", str(log), "--out", str(tmp_path / "s.json")]) == 0
    result = _json.loads((tmp_path / "s.json").read_text())
    assert result["BLEU"] == pytest.approx(100.0)
    assert result["AL"] == pytest.approx(1000.0) and result["AL_CA"] == pytest.approx(1100.0)  # +100 ms computing
    refs = tmp_path / "ref.de"
    refs.write_text("ich sehe das Haus\nein ganz anderer Satz hier\n")
    assert _main(["score", "simulst", "--pred", str(log), "--gt", str(refs), "--out", str(tmp_path / "t.json")]) == 0
    assert _json.loads((tmp_path / "t.json").read_text())["BLEU"] < 100.0
    refs.write_text("only one line\n")
    assert _main(["score", "simulst", "--pred", str(log), "--gt", str(refs)]) == 2
    assert "1 reference lines, but instances.log has 2 instances" in capsys.readouterr().err
