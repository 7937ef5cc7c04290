"""THUMOS annotation readers (ActionFormer/OAT JSON, per-class txt) and ActivityNet results JSON."""

from __future__ import annotations

import json

import pytest

from streammem.data.thumos import (
    read_activitynet_results,
    read_thumos_json,
    read_thumos_txt,
    write_activitynet_results,
)
from streammem.errors import InputError


def _database(tmp_path, database):
    path = tmp_path / "thumos14.json"
    path.write_text(json.dumps({"database": database}, indent=1))
    return path


DB = {
    "video_validation_1": {"subset": "Validation", "duration": 60.0, "fps": 30.0,
                           "annotations": [{"label": "Diving", "segment": [1.0, 2.0]}]},
    "video_test_1": {"subset": "Test", "duration": 90.0, "fps": 29.97,
                     "annotations": [{"label": "Diving", "segment": [3.0, 5.5]},
                                     {"label": "Ambiguous", "segment": [7.0, 8.0]}]},
    "video_test_2": {"subset": "Test", "duration": 40.0, "fps": 25.0, "annotations": []},
}  # fmt: skip


def test_json_subset_selection_and_ambiguous_dropped(tmp_path):
    path = _database(tmp_path, DB)
    test = read_thumos_json(path, "test")  # matched case-insensitively ("Test")
    assert sorted(test.videos) == ["video_test_1", "video_test_2"]
    assert test.videos["video_test_1"].fps == 29.97
    assert test.annotations == [{"video": "video_test_1", "label": "Diving", "start": 3.0, "end": 5.5}]
    assert test.skipped == {"ambiguous_annotations": 1}
    with pytest.raises(InputError, match="choose one with --subset"):
        read_thumos_json(path)
    with pytest.raises(InputError, match="no subset 'train'"):
        read_thumos_json(path, "train")


@pytest.mark.parametrize(
    ("video", "problem"),
    [
        ({"subset": "Test", "annotations": [{"label": "Diving", "segment": [5.0, 3.0]}]}, "end 3 < start 5"),
        ({"subset": "Test", "annotations": [{"label": "Diving", "segment": [1.0]}]}, "segment"),
        ({"subset": "Test", "annotations": [{"segment": [1.0, 2.0]}]}, "label"),
        ({"subset": "Test", "duration": "long", "annotations": []}, "duration"),
        ({"annotations": []}, "subset"),
        ({"subset": "Test", "duration": 10.0, "annotations": [{"label": "Diving", "segment": [4.0, 11.5]}]},
         r"segment \[4, 11.5\] lies beyond the video's duration 10 s"),
        ({"subset": "Test", "duration": 10.0, "annotations": [{"label": "Diving", "segment": [10.0, 10.5]}]},
         "beyond the video's duration"),
    ],
)
def test_malformed_json_names_file_and_item(tmp_path, video, problem):
    path = _database(tmp_path, {"v": video})
    with pytest.raises(InputError, match=problem) as err:
        read_thumos_json(path, "test")
    assert err.value.source == str(path) and "'v'" in str(err.value)


def test_an_end_within_a_second_of_the_duration_is_kept(tmp_path):
    path = _database(tmp_path, {"v": {"subset": "Test", "duration": 10.0,
                                      "annotations": [{"label": "Diving", "segment": [8.0, 10.6]}]}})
    assert read_thumos_json(path).annotations == [{"video": "v", "label": "Diving", "start": 8.0, "end": 10.6}]


def test_invalid_json_gives_its_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"database": {\n "v": [1,,2]}}')
    with pytest.raises(InputError, match="not valid JSON") as err:
        read_thumos_json(path)
    assert err.value.line == 2


def test_per_class_txt_files(tmp_path):
    (tmp_path / "Diving_test.txt").write_text("video_test_1 3.0 5.5\nvideo_test_3  1 2\n")
    (tmp_path / "Ambiguous_test.txt").write_text("video_test_1292 0.5 4.0\n")
    (tmp_path / "Diving_val.txt").write_text("video_validation_1 1 2\n")
    ann = read_thumos_txt(tmp_path, "test")
    assert [(a["video"], a["label"], a["start"], a["end"]) for a in ann.annotations] == [
        ("video_test_1", "Diving", 3.0, 5.5),
        ("video_test_3", "Diving", 1.0, 2.0),
    ]
    assert ann.skipped == {"ambiguous_annotations": 1}
    # A video with only Ambiguous instances stays known, so detections there count as false positives.
    assert "video_test_1292" in ann.videos
    assert "video_validation_1" in ann.known_videos and "video_validation_1" not in ann.videos
    with pytest.raises(InputError, match="choose one"):
        read_thumos_txt(tmp_path)


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("v 1 2\nv 1\n", 2, "3 columns"),
        ("v 1 x\n", 1, "numbers"),
        ("v 1 2\nv 5 4\n", 2, "end 4 < start 5"),
        ("\n", None, "empty"),
    ],
)
def test_malformed_txt_names_file_and_line(tmp_path, text, line, problem):
    (tmp_path / "Diving_test.txt").write_text(text)
    with pytest.raises(InputError, match=problem) as err:
        read_thumos_txt(tmp_path, "test")
    assert err.value.source == str(tmp_path / "Diving_test.txt") and err.value.line == line


def test_results_round_trip_unknown_video_and_other_subset(tmp_path):
    ann = read_thumos_json(_database(tmp_path, DB), "Test")
    preds = [
        {
            "video": "video_test_1",
            "label": "Diving",
            "start": 3.0,
            "end": 5.0,
            "score": 0.9,
            "emitted_at": 5.25,
        },
        {
            "video": "video_test_2",
            "label": "Diving",
            "start": 1.0,
            "end": 2.0,
            "score": 0.1,
            "emitted_at": 2.0,
        },
    ]
    path = tmp_path / "results.json"
    write_activitynet_results(path, preds)
    assert read_activitynet_results(path, ann) == (preds, {"predictions_outside_subset": 0})

    data = json.loads(path.read_text())
    data["results"]["video_validation_1"] = [{"label": "Diving", "segment": [1, 2], "score": 0.5}]
    first = data["results"]["video_test_1"][0]
    first["gentime"] = first.pop("emitted_at")  # OAT/MATR spell the emission time "gentime"
    path.write_text(json.dumps(data))
    read, skipped = read_activitynet_results(path, ann)
    assert read == preds and skipped == {"predictions_outside_subset": 1}

    data["results"]["video_nowhere"] = []
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"1 videos not in the ground truth \('video_nowhere'\)"):
        read_activitynet_results(path, ann)


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"label": "Diving", "segment": [1, 2]}, "score"),
        ({"label": "Diving", "segment": [2, 1], "score": 0.5}, "end 1 < start 2"),
        ({"label": "Diving", "segment": [1, 2], "score": 0.5, "emitted_at": "soon"}, "emitted_at"),
    ],
)
def test_malformed_results(tmp_path, item, problem):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"results": {"v": [item]}}))
    with pytest.raises(InputError, match=problem) as err:
        read_activitynet_results(path)
    assert "results['v'][0]" in str(err.value)


def test_emission_times_all_or_none(tmp_path):
    path = tmp_path / "results.json"
    items = [
        {"label": "A", "segment": [1, 2], "score": 0.5, "emitted_at": 2.5},
        {"label": "A", "segment": [3, 4], "score": 0.4},
    ]
    path.write_text(json.dumps({"results": {"v": items}}))
    with pytest.raises(InputError, match="1 of 2 detections"):
        read_activitynet_results(path)
