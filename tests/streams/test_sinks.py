import json

import cv2
import numpy as np
import pytest
import torch

from streammem.errors import StreamMemError
from streammem.streams import sinks as sinks_module
from streammem.streams.runner import StreamRunner
from streammem.streams.sinks import (
    AnnotatedVideoSink,
    JsonLinesSink,
    MOTChallengeSink,
    WindowSink,
    draw_boxes,
    has_display,
)


def _frames(count):
    return [(i / 10, np.full((32, 48, 3), 10 * i, np.uint8)) for i in range(count)]


def _track_step(frame, state):
    """A fake tracker: one box that moves one pixel per frame, id 7."""
    x = float(state)
    output = {
        "boxes": torch.tensor([[x, 2.0, x + 10.0, 22.0]]),
        "ids": torch.tensor([7]),
        "scores": torch.tensor([0.5]),
    }
    return output, state + 1


def _sinks(out):
    draw = lambda frame, output: draw_boxes(frame, output["boxes"], output["ids"])  # noqa: E731
    return [
        AnnotatedVideoSink(out / "video.mkv", fps=10, draw_fn=draw),
        JsonLinesSink(out / "tracks.jsonl"),
        MOTChallengeSink(out / "mot.txt"),
    ]


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_all_file_sinks_write_complete_outputs_on_success(tmp_path):
    out = tmp_path / "out"
    sinks = _sinks(out)
    StreamRunner(_track_step, 0, sinks, progress=False).run(_frames(5))
    assert _files(tmp_path) == ["out/mot.txt", "out/tracks.jsonl", "out/video.mkv"]

    lines = (out / "mot.txt").read_text().splitlines()
    assert lines[0] == "1,7,0.00,2.00,10.00,20.00,0.5000,-1,-1,-1"
    assert lines[4] == "5,7,4.00,2.00,10.00,20.00,0.5000,-1,-1,-1"

    records = [json.loads(line) for line in (out / "tracks.jsonl").read_text().splitlines()]
    assert [r["timestamp"] for r in records] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert records[2]["output"]["boxes"] == [[2.0, 2.0, 12.0, 22.0]] and records[2]["output"]["ids"] == [7]

    capture = cv2.VideoCapture(str(out / "video.mkv"))
    read = []
    while (frame := capture.read())[0]:
        read.append(cv2.cvtColor(frame[1], cv2.COLOR_BGR2RGB))
    assert len(read) == 5
    expected = draw_boxes(_frames(5)[3][1], torch.tensor([[3.0, 2.0, 13.0, 22.0]]), [7])
    np.testing.assert_array_equal(read[3], expected)  # FFV1 is lossless


def test_a_failed_run_leaves_no_output_files(tmp_path):
    def failing_step(frame, state):
        if state == 3:
            raise RuntimeError("boom")
        return _track_step(frame, state)

    with pytest.raises(RuntimeError):
        StreamRunner(failing_step, 0, _sinks(tmp_path / "out"), progress=False).run(_frames(5))
    assert _files(tmp_path) == []


def test_video_sink_without_frames_saves_nothing(tmp_path):
    sink = AnnotatedVideoSink(tmp_path / "empty.mp4", fps=25)
    sink.open()
    sink.close(success=True)
    assert _files(tmp_path) == []


def test_video_sink_rejects_an_unknown_extension(tmp_path):
    with pytest.raises(StreamMemError, match="unsupported video extension"):
        AnnotatedVideoSink(tmp_path / "out.gif", fps=25)


def test_draw_boxes_draws_on_a_copy_with_a_stable_color_per_id():
    frame = np.zeros((70, 60, 3), np.uint8)
    trails = {3: [(5.0, 60.0), (55.0, 60.0)]}
    drawn = draw_boxes(frame, np.array([[10, 25, 30, 45]]), np.array([3]), trails=trails, display_width=0)
    assert frame.max() == 0  # the input is untouched
    color = drawn[35, 10]  # on the left edge of the box
    assert color.max() > 0 and drawn[35, 20].max() == 0  # edge drawn, inside empty (the label sits above)
    np.testing.assert_array_equal(drawn[60, 30], color)  # the trail has the id's color
    other = draw_boxes(frame, np.array([[10, 25, 30, 45]]), np.array([4]), display_width=0)
    assert not np.array_equal(other[35, 10], color)


def test_draw_boxes_enlarges_small_frames_and_keeps_labels_inside():
    frame = np.zeros((120, 160, 3), np.uint8)
    drawn = draw_boxes(frame, np.array([[158, 50, 200, 80]]), np.array([77]))  # cut by the right edge
    assert drawn.shape == (480, 640, 3)  # 160 px wide -> x4, a whole factor
    assert drawn[260, 632].max() > 0  # the box's left edge, at 4x its coordinate
    label = np.where(drawn[150:199].max(axis=(0, 2)) > 0)[0]  # above the box: the label alone
    assert label.size and label.min() < 632 and label.max() < 640  # pulled left so all of it shows
    assert draw_boxes(np.zeros((480, 800, 3), np.uint8), np.zeros((0, 4)), np.zeros(0)).shape == (480, 800, 3)


def _codec(path):
    import subprocess

    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=codec_name,width,height,pix_fmt", "-of", "csv=p=0", str(path)],
                           capture_output=True, text=True, check=True)
    return probe.stdout.strip().split(",")


@pytest.mark.skipif(sinks_module.h264_encoder() is None, reason="no ffmpeg with libx264 here")
def test_mp4_is_h264_yuv420p_with_even_sides(tmp_path):
    sink = AnnotatedVideoSink(tmp_path / "a.mp4", fps=10)
    sink.open()
    for t in range(5):
        sink.write(t / 10, np.full((33, 51, 3), 40 * t, np.uint8), None)
    sink.close(success=True)
    assert _codec(tmp_path / "a.mp4") == ["h264", "52", "34", "yuv420p"]
    assert sink.codec == "h264"


def test_mp4_falls_back_to_mp4v_and_says_so(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(sinks_module, "h264_encoder", lambda: None)
    sink = AnnotatedVideoSink(tmp_path / "b.mp4", fps=10)
    sink.open()
    sink.write(0.0, np.zeros((32, 48, 3), np.uint8), None)
    sink.close(success=True)
    assert sink.codec == "mp4v" and (tmp_path / "b.mp4").stat().st_size > 0
    assert "no H.264 encoder" in caplog.text


def test_has_display_follows_the_display_variable(monkeypatch):
    monkeypatch.setattr(sinks_module.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    assert not has_display()
    monkeypatch.setenv("DISPLAY", ":0")
    assert has_display()


def test_window_refuses_to_open_without_a_display(monkeypatch):
    monkeypatch.setattr(sinks_module.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(StreamMemError, match="no display"):
        WindowSink().open()


def test_pressing_q_in_the_window_ends_the_run(monkeypatch):
    monkeypatch.setattr(sinks_module.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    shown = []
    monkeypatch.setattr(cv2, "namedWindow", lambda *args: None)
    monkeypatch.setattr(cv2, "imshow", lambda title, frame: shown.append(frame))
    monkeypatch.setattr(cv2, "waitKey", lambda delay: ord("q") if len(shown) == 2 else -1)
    monkeypatch.setattr(cv2, "destroyWindow", lambda title: None)
    summary = StreamRunner(_track_step, 0, [WindowSink()], progress=False).run(_frames(5))
    assert summary.stopped_early and summary.steps == 2 and len(shown) == 2
