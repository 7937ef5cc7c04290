"""tools/experiments/ablate.py: the table's means, spreads and paired bootstrap on hand-computed cases."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[2] / "tools" / "experiments" / "ablate.py"
_SPEC = importlib.util.spec_from_file_location("ablate", _PATH)
ablate = importlib.util.module_from_spec(_SPEC)
sys.modules["ablate"] = ablate  # dataclasses look their module up there
_SPEC.loader.exec_module(ablate)


def _share(predictions, items):
    """A stand-in metric: the share of drawn items a run gets right (1) in percent."""
    return {"acc": 100.0 * sum(predictions[i] for i in items) / len(items)}


def test_table_means_spreads_and_paired_difference():
    items = ["a", "b", "c", "d"]
    runs = [
        ablate.Run("queue", 0, {"a": 1, "b": 1, "c": 1, "d": 0}),  # 75
        ablate.Run("queue", 1, {"a": 1, "b": 1, "c": 0, "d": 0}),  # 50
        ablate.Run("none", 0, {"a": 1, "b": 0, "c": 0, "d": 0}),  # 25
        ablate.Run("none", 1, {"a": 1, "b": 0, "c": 0, "d": 0}),  # 25
    ]
    result = ablate.table(runs, items, _share, ["acc"], resamples=500)
    assert result["variants"]["queue"]["acc"]["mean"] == pytest.approx(62.5)
    assert result["variants"]["queue"]["acc"]["std"] == pytest.approx(17.6777, abs=1e-3)  # sample std of 75, 50
    assert result["variants"]["none"]["acc"] == {"mean": 25.0, "std": 0.0, "per_seed": [25.0, 25.0]}
    diff = result["differences"]["queue - none"]["acc"]
    assert diff["difference"] == pytest.approx(37.5)
    # per item the seed-mean difference is a 0, b 100, c 50, d 0: resampled means lie in [0, 100], around 37.5
    assert 0.0 <= diff["low"] < 37.5 < diff["high"] <= 100.0
    table = ablate.markdown(result, "demo", "python tools/experiments/ablate.py demo")
    assert "| queue | 62.50 ± 17.68 |" in table and "| queue - none | +37.50 (" in table


def test_identical_variants_have_a_zero_width_interval():
    runs = [ablate.Run(v, 0, {"a": 1, "b": 0, "c": 1}) for v in ("queue", "none")]
    diff = ablate.paired_bootstrap(runs[:1], runs[1:], ["a", "b", "c"], _share, ["acc"], resamples=200)
    assert diff == {"acc": (0.0, 0.0, 0.0)}  # the same items are drawn for both: no spurious spread


def test_pooled_wer_of_a_draw_counts_a_repeated_utterance_twice():
    counts = {"a": ablate.asr_counts("the cat sat", "the cat"), "b": ablate.asr_counts("a dog", "a dog")}
    assert counts["a"]["word_errors"] == 1 and counts["a"]["words"] == 3
    assert ablate.score_asr(counts, ["a", "b"])["WER"] == pytest.approx(100 * 1 / 5)
    assert ablate.score_asr(counts, ["a", "a", "b"])["WER"] == pytest.approx(100 * 2 / 8)  # pooled, not averaged
    assert ablate.score_asr(counts, ["b"]) == {"WER": 0.0, "CER": 0.0}


def test_simulst_draw_is_corpus_bleu_and_mean_lagging_of_segments_with_output():
    from streammem.evaluation.functional.simulst import corpus_bleu

    stored = {
        "s0": {"prediction": "das ist gut", "delays": [300.0, 600.0, 900.0], "elapsed": [], "source_length": 1000.0,
               "reference": "das ist gut"},
        "s1": {"prediction": "", "delays": [], "elapsed": [], "source_length": 800.0, "reference": "es war schwer"},
    }
    segments = ablate.prepare_simulst(stored)
    # AL with |Y| = 3 reference words, |X| = 1000 ms: tau = 3 (900 < 1000), (300 + (600 - 333.3) + (900 - 666.7)) / 3
    assert segments["s0"]["AL"] == pytest.approx(266.667, abs=1e-2) and segments["s1"]["AL"] is None
    scored = ablate.score_simulst(segments, ["s0", "s1", "s1"])
    assert scored["AL"] == pytest.approx(segments["s0"]["AL"])  # a segment without output has no lagging
    assert scored["BLEU"] == pytest.approx(corpus_bleu(["das ist gut", "", ""], ["das ist gut", "es war schwer",
                                                                                  "es war schwer"]))


def test_anomaly_draw_is_the_auroc_of_the_drawn_images(monkeypatch):
    monkeypatch.setattr(ablate, "_ANOMALY_LABELS", {"n0": 0, "n1": 0, "a0": 1, "a1": 1})
    scores = {"n0": 0.1, "n1": 0.6, "a0": 0.5, "a1": 0.9}
    assert ablate.score_anomaly(scores, ["n0", "n1", "a0", "a1"])["image_AUROC"] == pytest.approx(75.0)  # 3 of 4 pairs
    assert ablate.score_anomaly(scores, ["n0", "a0", "a1"])["image_AUROC"] == pytest.approx(100.0)


def test_schedule_is_one_step_count_per_training_stage():
    assert ablate.steps("300") == ["300"] and ablate.steps("40+200", 2) == ["40", "200"]
    for bad, parts in (("40+200", 1), ("300", 2), ("0", 1), ("ten", 1)):
        with pytest.raises(ValueError, match="schedule"):
            ablate.steps(bad, parts)
    for name, task in ablate.TASKS.items():  # every task's documented schedules parse
        for schedule in (task.short, task.full):
            ablate.steps(schedule, 2 if name == "simulst" else 1)


def test_track_draw_combines_sequences_as_trackeval_does():
    from streammem.data.mot import MotBoxes
    from streammem.evaluation.functional.tracking import sequence_statistics, tracking_table

    frames = np.repeat(np.arange(1, 11), 2)
    ids = np.tile([1, 2], 10)
    boxes = np.stack([[10.0 + 60 * (i - 1) + f, 20.0, 30.0, 40.0] for f, i in zip(frames, ids, strict=True)])
    gt = MotBoxes.tracks(frames, ids, boxes, np.ones(len(frames)))
    swapped = MotBoxes.tracks(frames, np.where(frames > 5, 3 - ids, ids), boxes, np.ones(len(frames)))
    stats = {"good": sequence_statistics(gt, gt, 10, "good"), "swap": sequence_statistics(gt, swapped, 10, "swap")}
    assert ablate.score_track(stats, ["good", "good"]) == {"HOTA": pytest.approx(100.0), "AssA": pytest.approx(100.0)}
    both = ablate.score_track(stats, ["good", "swap"])
    combined = tracking_table(stats)["COMBINED"]
    assert both == {"HOTA": pytest.approx(combined["HOTA"]), "AssA": pytest.approx(combined["AssA"])}
    assert both["AssA"] < ablate.score_track(stats, ["good", "good", "swap"])["AssA"] < 100.0  # the repeat counts


def test_anomaly_texture_runs_train_and_eval_on_the_texture_set_with_its_model_options(monkeypatch, tmp_path):
    calls = []

    def fake_streammem(*args):
        calls.append(args)
        if args[0] == "eval":
            out = Path(args[args.index("--out") + 1])
            out.mkdir(parents=True)
            (out / "scores.csv").write_text("path,score\ntest/good/000.png,0.5\n")

    monkeypatch.setattr(ablate, "streammem", fake_streammem)
    monkeypatch.setattr(ablate, "ANOMALY", ablate.AnomalyData(ablate.TEXTURE_DATA, ablate.TEXTURE_TRAIN))
    scores = ablate.train_anomaly("none", 1, "20", tmp_path / "none_s1")
    train, evaluate = calls
    assert scores == {"test/good/000.png": 0.5}
    assert train[:4] == ("train", "anomaly", "--data", str(ablate.TEXTURE_DATA))
    assert "in_chans=3" in train and "--flip" in train and "memory=none" in train
    assert evaluate[:4] == ("eval", "anomaly", "--data", str(ablate.TEXTURE_DATA))


def test_texture_options_apply_to_the_texture_folder_data_names(monkeypatch, tmp_path):
    varied = tmp_path / "texture_varied"
    varied.mkdir()
    seen = {}

    def stop_after_setup(*_):
        seen["data"] = ablate.ANOMALY
        raise SystemExit(0)

    monkeypatch.setattr(ablate, "check_package", lambda: None)
    monkeypatch.setattr(ablate, "ANOMALY", ablate.AnomalyData())
    monkeypatch.setattr(ablate, "TASKS", {**ablate.TASKS, "anomaly": ablate.Task(
        ablate.train_anomaly, ablate.identity, ablate.score_anomaly, stop_after_setup, ("image_AUROC",),
        ("attention", "none"), "200", "1500")})
    with pytest.raises(SystemExit):
        ablate.main(["anomaly", "--texture", "--data", str(varied), "--out", str(tmp_path / "out")])
    assert seen["data"].folder == varied and seen["data"].train_options == ablate.TEXTURE_TRAIN


def test_data_options_are_refused_for_other_tasks(capsys):
    with pytest.raises(SystemExit) as stop:
        ablate.main(["tal", "--texture"])
    assert stop.value.code == 2
    assert "--data and --texture are options of the anomaly protocol" in capsys.readouterr().err


def test_simulst_object_and_pronoun_scores_count_their_segments_and_pronouns_whose_antecedent_was_named(monkeypatch):
    from types import SimpleNamespace

    talk = [("The man saw the dog.", "Der Mann sah den Hund.", "Der Mann sah den Hund."),
            ("Later it was big.", "Später war er groß.", "Später war er groß."),
            ("The woman saw the lamp.", "Die Frau sah die Lampe.", "Die Frau sah das Buch."),
            ("It was old.", "Sie war alt.", "Es war alt.")]
    segments = {f"t_{i}": SimpleNamespace(id=f"t_{i}", talk="t", index=i, source=en) for i, (en, _, _) in enumerate(talk)}
    monkeypatch.setattr(ablate, "_SIMULST_SEGMENTS", segments)
    stored = {f"t_{i}": {"prediction": hyp, "delays": [100.0] * len(hyp.split()), "elapsed": [],
                         "source_length": 1000.0, "reference": ref} for i, (_, ref, hyp) in enumerate(talk)}
    prepared = ablate.prepare_simulst(stored)
    assert [prepared[f"t_{i}"]["pronoun"] for i in range(4)] == [None, True, None, False]
    assert prepared["t_1"]["named"] is True and prepared["t_3"]["named"] is False  # Lampe missing from t_2
    scored = ablate.score_simulst(prepared, list(stored))
    assert [prepared[f"t_{i}"]["object"] for i in range(4)] == [True, None, False, None]
    assert scored["object"] == 50.0 and scored["pronoun"] == 50.0 and scored["pronoun_named"] == 100.0
    assert np.isnan(ablate.score_simulst(prepared, ["t_2", "t_3"])["pronoun_named"])  # no antecedent translated


def test_tal_long_agnostic_map_counts_boundaries_of_long_actions_whatever_their_class(monkeypatch):
    truth = [{"video": "v", "start": 0.0, "end": 5.0, "label": "wave"},  # long: more than one 1 s segment
             {"video": "v", "start": 6.0, "end": 6.5, "label": "jump"}]  # short
    monkeypatch.setattr(ablate, "_TAL_TRUTH", {"v": truth})
    monkeypatch.setattr(ablate, "_TAL_SEGMENT_SECONDS", [1.0])
    wrong_class = {"v": [{"video": "v", "start": 0.2, "end": 5.0, "label": "jump", "score": 0.9}]}
    scored = ablate.score_tal(ablate.prepare_tal(wrong_class), ["v"])
    assert scored["long_agnostic_mAP@0.5"] == pytest.approx(100.0)  # IoU 0.96 with the long action
    assert scored["mAP@0.5"] == pytest.approx(0.0)  # no action found with its class
    short_only = {"v": [{"video": "v", "start": 6.0, "end": 6.5, "label": "jump", "score": 0.9}]}
    assert ablate.score_tal(ablate.prepare_tal(short_only), ["v"])["long_agnostic_mAP@0.5"] == pytest.approx(0.0)
