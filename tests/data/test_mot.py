"""MOTChallenge readers and writers: valid files round-trip, malformed ones name file and line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streammem.data.mot import (
    MotBoxes,
    find_sequences,
    read_mot_ground_truth,
    read_mot_results,
    read_seqinfo,
    read_seqmap,
    write_bdd100k_json,
    write_mot_results,
)
from streammem.errors import InputError

GT_OK = "1,1,10,20,30,40,1,1,1\n1,2,50,20,30,40,0,7,0.5\n2,1,11,20,30,40,1,1,1\n"


def test_ground_truth_columns_are_read(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text(GT_OK)
    gt = read_mot_ground_truth(path, num_frames=2)
    assert gt.frame.tolist() == [1, 1, 2] and gt.track_id.tolist() == [1, 2, 1]
    assert gt.box[1].tolist() == [50, 20, 30, 40]
    assert gt.score.tolist() == [1, 0, 1] and gt.cls.tolist() == [1, 7, 1] and gt.visibility[1] == 0.5


def test_results_round_trip_through_the_writer(tmp_path):
    boxes = MotBoxes.tracks(
        [2, 1, 1], [5, 9, 3], [[1.5, 2, 3, 4], [5, 6, 7, 8], [0, 0, 1, 1]], [0.9, 0.8, 0.7]
    )
    path = tmp_path / "out" / "seq.txt"
    write_mot_results(path, boxes)
    assert path.read_text().splitlines()[0] == "1,3,0,0,1,1,0.7,-1,-1,-1"  # sorted by frame, then id
    back = read_mot_results(path)
    assert back.frame.tolist() == [1, 1, 2] and back.track_id.tolist() == [3, 9, 5]
    assert back.box[2].tolist() == [1.5, 2, 3, 4] and back.score.tolist() == [0.7, 0.8, 0.9]
    assert list(tmp_path.joinpath("out").iterdir()) == [path]  # no temporary file left behind


def test_empty_results_file_means_no_tracks(tmp_path):
    (tmp_path / "seq.txt").write_text("")
    assert len(read_mot_results(tmp_path / "seq.txt")) == 0


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("1,1,10,20,30,40,1,1,1\n1,2,10,20,30,40,1,1\n", 2, "columns"),
        ("1,1,10,20,30,40,1,1,1,1,1\n", 1, "columns"),
        ("1,1,10,20,30,40,1,1,1\n2,1,ten,20,30,40,1,1,1\n", 2, "not a number"),
        ("1,1,10,20,-30,40,1,1,1\n", 1, "width and height"),
        (
            "1,1,10,20,30,40,1,1,1\n2,3,10,20,30,40,1,1,1\n2,3,50,20,30,40,1,1,1\n",
            3,
            "twice in the same frame",
        ),
        ("0,1,10,20,30,40,1,1,1\n", 1, "frame"),
        ("1.5,1,10,20,30,40,1,1,1\n", 1, "frame"),
        ("1,1,10,20,30,40,1,1,1\n9,1,10,20,30,40,1,1,1\n", 2, "beyond the sequence length"),
        ("1,-2,10,20,30,40,1,1,1\n", 1, "id"),
        ("1,1,10,20,30,40,1,14,1\n", 1, "class"),
        ("\n\n", None, "empty"),
    ],
)
def test_malformed_ground_truth_names_file_and_line(tmp_path, text, line, problem):
    path = tmp_path / "gt.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=problem) as err:
        read_mot_ground_truth(path, num_frames=5)
    assert err.value.source == str(path) and err.value.line == line
    assert str(err.value).startswith(f"{path}:{line}:" if line else f"{path}:")


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("1,1,10,20,30,40\n", 1, "columns"),
        ("1,1,10,20,30,40,0.9,3,-1,-1\n", 1, "column 8"),
        ("1,1,10,20,30,40,0.9,-1,-1,-1\n1,1,10,20,30,40,0.9,-1,-1,-1\n", 2, "twice"),
        ("1,1,10,20,30,nan,0.9,-1,-1,-1\n", 1, "finite"),
    ],
)
def test_malformed_results_name_file_and_line(tmp_path, text, line, problem):
    path = tmp_path / "seq.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=problem) as err:
        read_mot_results(path)
    assert err.value.line == line


def test_seqinfo_and_seqmap(tmp_path):
    (tmp_path / "seq").mkdir()
    ini = tmp_path / "seq" / "seqinfo.ini"
    ini.write_text(
        "[Sequence]\nname=seq\nimDir=img1\nframeRate=20\nseqLength=42\nimWidth=640\nimHeight=480\n"
    )
    info = read_seqinfo(ini)
    assert (info.num_frames, info.width, info.height, info.frame_rate) == (42, 640, 480, 20.0)
    ini.write_text("[Sequence]\nname=seq\n")
    with pytest.raises(InputError, match="seqLength"):
        read_seqinfo(ini)
    seqmap = tmp_path / "val_seqmap.txt"
    seqmap.write_text("name\nseq\n\n")
    assert read_seqmap(seqmap) == ["seq"]
    seqmap.write_text("seq\nother\n")
    with pytest.raises(InputError, match="header") as err:
        read_seqmap(seqmap)
    assert err.value.line == 1


def test_unknown_sequence_in_seqmap_names_its_line(tmp_path):
    (tmp_path / "val" / "a" / "gt").mkdir(parents=True)
    (tmp_path / "val" / "a" / "gt" / "gt.txt").write_text(GT_OK)
    (tmp_path / "val" / "a" / "seqinfo.ini").write_text("[Sequence]\nseqLength=2\n")
    seqmap = tmp_path / "val_seqmap.txt"
    seqmap.write_text("name\na\nghost\n")
    with pytest.raises(InputError, match="unknown sequence 'ghost'") as err:
        find_sequences(tmp_path / "val", seqmap)
    assert err.value.line == 3
    assert find_sequences(tmp_path / "val") == ["a"]


def test_bdd100k_json(tmp_path):
    boxes = MotBoxes.tracks([1, 3], [4, 4], [[10, 20, 30, 40], [12, 20, 30, 40]], [0.9, 0.5])
    path = tmp_path / "video.json"
    write_bdd100k_json(path, boxes, "b1c66a42-6f7d68ca", num_frames=3)
    frames = json.loads(path.read_text())
    assert [f["frameIndex"] for f in frames] == [0, 1, 2]
    assert frames[0]["name"] == "b1c66a42-6f7d68ca-0000001.jpg" and frames[1]["labels"] == []
    label = frames[2]["labels"][0]
    assert label["id"] == "4" and label["box2d"] == {"x1": 12.0, "y1": 20.0, "x2": 41.0, "y2": 59.0}
    assert np.isclose(label["score"], 0.5)
