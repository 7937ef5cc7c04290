"""``streammem score``: run(args) prints a table and writes JSON with the documented keys and scales."""

from __future__ import annotations

import json

import pytest

from streammem.errors import InputError
from streammem.evaluation import score
from streammem.evaluation.functional.tracking import score_mot_folder


def _parse(argv):
    """(the score TASK parser, parsed args) through the real command line parser."""
    from streammem.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["score", *argv])
    task_parser = parser._subparsers._group_actions[0].choices["score"]._subparsers._group_actions[0].choices[argv[0]]
    return task_parser, args


def test_help_states_the_json_scale():
    parser, _ = _parse(["asr", "--gt", "g", "--pred", "p"])
    text = parser.format_help()
    assert "0-100" in text and "integers" in text and "seconds" in text
    with pytest.raises(SystemExit):
        _parse(["bogus", "--gt", "g", "--pred", "p"])


def test_track_json_and_table(tmp_path, dancetrack_writer, tracking_set, capsys):
    sequences, predictions = tracking_set(seed=2, num_sequences=2)
    dancetrack_writer(tmp_path / "DanceTrack", sequences, predictions)
    out = tmp_path / "scores" / "track.json"
    _, args = _parse(["track", "--gt", str(tmp_path / "DanceTrack"), "--subset", "val",
                      "--pred", str(tmp_path / "DanceTrack" / "tracker"), "--out", str(out)])  # fmt: skip
    assert score.run(args) == 0
    result = json.loads(out.read_text())
    assert result["seqmap"].endswith("val_seqmap.txt")
    assert set(result) >= {"task", "sequences", "COMBINED", "missing_sequences", "ignored_predictions"}
    assert list(result["COMBINED"]) == ["HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW"]
    assert isinstance(result["COMBINED"]["IDSW"], int) and 1 < result["COMBINED"]["HOTA"] <= 100  # percent
    expected = score_mot_folder(tmp_path / "DanceTrack" / "val", tmp_path / "DanceTrack" / "tracker")
    assert result["COMBINED"] == expected["COMBINED"]
    assert {k: result[k] for k in result["COMBINED"]} == result["COMBINED"]  # headline keys at the top level
    assert list(score.headline_metrics(result)) == ["HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW"]
    table = capsys.readouterr().out
    assert "COMBINED" in table and all(name in table for name in sequences)


def test_tal_json_with_latency(tmp_path, capsys):
    gt = tmp_path / "thumos.json"
    gt.write_text(json.dumps({"database": {"v1": {"subset": "test", "annotations": [
        {"label": "Diving", "segment": [0, 10]}, {"label": "Ambiguous", "segment": [20, 30]}]}}}))  # fmt: skip
    pred = tmp_path / "results.json"
    pred.write_text(
        json.dumps(
            {"results": {"v1": [{"label": "Diving", "segment": [0, 6], "score": 0.9, "emitted_at": 9.5}]}}
        )
    )
    out = tmp_path / "tal.json"
    _, args = _parse(["tal", "--gt", str(gt), "--pred", str(pred), "--out", str(out)])
    assert score.run(args) == 0
    result = json.loads(out.read_text())
    assert list(score.headline_metrics(result)) == [*(f"mAP@0.{t}" for t in range(3, 8)), "mAP_avg", "latency_s"]
    assert result["mAP_avg"] == pytest.approx(80.0)  # tIoU 0.6: matched up to 0.6, missed at 0.7
    assert result["latency_s"] == pytest.approx(-0.5)
    assert result["skipped"] == {"ambiguous_annotations": 1, "predictions_outside_subset": 0}
    assert "skipped ambiguous annotations: 1" in capsys.readouterr().out


def test_tal_latency_without_true_positives_is_null_in_json(tmp_path):
    gt = tmp_path / "thumos.json"
    gt.write_text(
        json.dumps(
            {"database": {"v1": {"subset": "test", "annotations": [{"label": "A", "segment": [0, 1]}]}}}
        )
    )
    pred = tmp_path / "results.json"
    pred.write_text(
        json.dumps({"results": {"v1": [{"label": "A", "segment": [5, 6], "score": 1, "emitted_at": 6}]}})
    )
    out = tmp_path / "tal.json"
    _, args = _parse(["tal", "--gt", str(gt), "--pred", str(pred), "--out", str(out)])
    score.run(args)
    assert json.loads(out.read_text())["latency_s"] is None


def test_asr_json_lists_missing_and_skipped_unknown(tmp_path, capsys):
    chapter = tmp_path / "LibriSpeech" / "test-clean" / "1" / "2"
    chapter.mkdir(parents=True)
    (chapter / "1-2.trans.txt").write_text("1-2-0000 HELLO WORLD\n1-2-0001 GOOD MORNING\n")
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("1-2-0000 hello world\n9-9-9999 stray\n")
    out = tmp_path / "asr.json"
    argv = ["asr", "--gt", str(tmp_path / "LibriSpeech"), "--subset", "test-clean", "--pred", str(hyp)]
    with pytest.raises(InputError, match=r"hyp.txt: 1 hypothesis utterances not in the ground truth \('9-9-9999'\)"):
        score.run(_parse(argv)[1])
    _, args = _parse([*argv, "--out", str(out), "--ignore-unknown"])
    assert score.run(args) == 0
    result = json.loads(out.read_text())
    metrics = score.headline_metrics(result)
    assert list(metrics) == ["WER", "CER", "substitutions", "deletions", "insertions", "hits"]
    assert metrics["WER"] == pytest.approx(50.0)  # 2 deletions over 4 reference words; the stray is skipped
    assert (metrics["deletions"], metrics["insertions"], metrics["hits"]) == (2, 0, 2)
    assert result["missing_hypotheses"] == ["1-2-0001"] and result["extra_hypotheses"] == ["9-9-9999"]
    table = capsys.readouterr().out
    assert "missing hypotheses (1): 1-2-0001" in table and "skipped unknown hypotheses (1): 9-9-9999" in table


def test_bad_input_raises_input_error_and_writes_nothing(tmp_path):
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("u1 a\nu1 b\n")
    ref = tmp_path / "ref.txt"
    ref.write_text("u1 a\n")
    out = tmp_path / "asr.json"
    _, args = _parse(["asr", "--gt", str(ref), "--pred", str(hyp), "--out", str(out)])
    with pytest.raises(InputError, match=f"{hyp}:2: utterance id 'u1' appears twice"):
        score.run(args)
    assert not out.exists()


def _track_set(tmp_path, dancetrack_writer, tracking_set):
    sequences, predictions = tracking_set(seed=3, num_sequences=2)
    return dancetrack_writer(tmp_path / "DanceTrack", sequences, predictions)


def test_track_pred_folder_without_any_result_file_is_refused(tmp_path, dancetrack_writer, tracking_set):
    split_dir, seqmap, _ = _track_set(tmp_path, dancetrack_writer, tracking_set)
    elsewhere = tmp_path / "not_results"
    elsewhere.mkdir()
    (elsewhere / "notes.txt").write_text("hello\n")
    with pytest.raises(InputError, match="not_results: not a MOTChallenge results folder"):
        score.score("track", split_dir, elsewhere, seqmap=seqmap)


def test_unknown_result_files_are_refused_unless_ignored(tmp_path, dancetrack_writer, tracking_set):
    split_dir, seqmap, tracker = _track_set(tmp_path, dancetrack_writer, tracking_set)
    expected = score.score("track", split_dir, tracker, seqmap=seqmap)
    (tracker / "nosuchseq.txt").write_text("1,1,0,0,10,10,1,-1,-1,-1\n")
    with pytest.raises(InputError, match=r"1 result files not in the ground truth \('nosuchseq'\)"):
        score.score("track", split_dir, tracker, seqmap=seqmap)
    ignored = score.score("track", split_dir, tracker, seqmap=seqmap, ignore_unknown=True)
    assert ignored["COMBINED"] == expected["COMBINED"] and ignored["unknown_predictions"] == ["nosuchseq"]


def test_tal_unknown_videos_are_refused_unless_ignored(tmp_path):
    gt = tmp_path / "thumos.json"
    gt.write_text(json.dumps({"database": {"v1": {"subset": "test", "annotations": [
        {"label": "A", "segment": [0, 10]}]}}}))  # fmt: skip
    pred = tmp_path / "results.json"
    pred.write_text(json.dumps({"results": {
        "v1": [{"label": "A", "segment": [0, 10], "score": 0.9}],
        "x1": [{"label": "A", "segment": [0, 10], "score": 0.9}],
        "x2": [{"label": "A", "segment": [0, 10], "score": 0.9}]}}))  # fmt: skip
    with pytest.raises(InputError, match=r"2 videos not in the ground truth \('x1', 'x2'\)"):
        score.score("tal", gt, pred)
    result = score.score("tal", gt, pred, ignore_unknown=True)
    assert result["mAP_avg"] == pytest.approx(100.0) and result["skipped"]["predictions_unknown_video"] == 2


def test_bom_and_crlf_in_a_hypothesis_file_do_not_move_wer(tmp_path):
    ref = tmp_path / "ref.txt"
    ref.write_text("u1 HELLO WORLD\nu2 GOOD MORNING\n")
    hyp = tmp_path / "hyp.txt"
    hyp.write_bytes("\ufeffu1 hello world\r\nu2 good morning\r\n".encode())
    result = score.score("asr", ref, hyp)
    assert result["WER"] == 0.0 and result["missing_hypotheses"] == [] and result["extra_hypotheses"] == []


def test_latin1_hypothesis_file_is_a_one_line_error_naming_it(tmp_path):
    ref = tmp_path / "ref.txt"
    ref.write_text("u1 CAFE\n")
    hyp = tmp_path / "hyp.txt"
    hyp.write_bytes("u1 café\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"hyp.txt:1: not UTF-8 text \(byte 0xe9\)"):
        score.score("asr", ref, hyp)


@pytest.mark.parametrize("line", ["u2", "u2 ...", "u2 -- !"])
def test_reference_without_words_is_an_error_naming_file_and_utterance(tmp_path, line):
    ref = tmp_path / "ref.txt"
    ref.write_text(f"u1 HELLO\n{line}\n")
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("u1 hello\nu2 a b c d e f g h i j k l m n\n")  # would be WER 1400 over 1 word
    with pytest.raises(InputError, match=r"ref.txt(:2)?: .*'u2'.*(empty reference|no words)"):
        score.score("asr", ref, hyp)
