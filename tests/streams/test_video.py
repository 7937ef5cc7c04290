import itertools
import logging

import cv2
import decord
import numpy as np
import pytest

from streammem.errors import InputError
from streammem.streams.video import OpenCVSource, VideoFileSource

from .conftest import FPS
from .fakes import FakeCapture, FakeCaptureFactory, StallingFileCapture, numbered_frames


def _opencv_sequential(path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def test_decord_random_access_matches_sequential_opencv_exactly(lossless_video):
    path, written = lossless_video
    sequential = _opencv_sequential(path)
    source = VideoFileSource(path)
    assert source.backend == "decord"
    assert len(source) == len(sequential) == len(written) == 12
    for index in [7, 0, 11, 3, 3, 10, 1]:  # out of order and repeated: seeks backwards and forwards
        frame = source.frame(index)
        assert frame.dtype == np.uint8 and frame.shape == (48, 64, 3)
        np.testing.assert_array_equal(frame, sequential[index])
        np.testing.assert_array_equal(frame, written[index])  # FFV1 + bgr0 is lossless


def test_file_iteration_yields_every_frame_with_its_presentation_time(lossless_video):
    path, written = lossless_video
    source = VideoFileSource(path)
    items = list(source)
    assert [t for t, _ in items] == pytest.approx([i / FPS for i in range(12)])
    for (_, frame), expected in zip(items, written, strict=True):
        np.testing.assert_array_equal(frame, expected)
    assert source.dropped == 0 and not source.live


def test_resize_gives_the_requested_width_and_height(lossless_video):
    source = VideoFileSource(lossless_video[0], resize=(32, 24))
    assert source.frame(5).shape == (24, 32, 3)
    assert next(iter(source))[1].shape == (24, 32, 3)


def test_opencv_fallback_when_decord_cannot_open(lossless_video, monkeypatch):
    def refuse(*args, **kwargs):
        raise decord.DECORDError("unsupported container")

    monkeypatch.setattr(decord, "VideoReader", refuse)
    path, written = lossless_video
    source = VideoFileSource(path, resize=(32, 24))
    assert source.backend == "opencv" and len(source) == 12
    np.testing.assert_array_equal(VideoFileSource(path).frame(9), written[9])
    assert [frame.shape for _, frame in source] == [(24, 32, 3)] * 12


def test_missing_video_is_a_one_line_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file") as caught:
        VideoFileSource(tmp_path / "nope.mp4")
    assert str(caught.value).startswith(str(tmp_path / "nope.mp4"))


def test_garbage_bytes_are_reported_as_an_undecodable_video(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(InputError, match="cannot decode video") as caught:
        VideoFileSource(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message


def test_opencv_file_source_reads_everything_without_a_thread(lossless_video):
    path, written = lossless_video
    source = OpenCVSource(path)
    assert not source.live and source.total == 12 and source.fps == FPS
    frames = [frame for _, frame in source]
    assert len(frames) == 12 and source.dropped == 0
    np.testing.assert_array_equal(frames[4], written[4])


def test_camera_that_cannot_be_opened_is_an_input_error():
    factory = FakeCaptureFactory(FakeCapture([], opened=False))
    with pytest.raises(InputError, match="cannot open camera") as caught:
        OpenCVSource(0, capture_factory=factory)
    assert str(caught.value).startswith("camera 0:")
    assert factory.made[0].released


def test_url_password_is_not_shown_in_errors():
    with pytest.raises(InputError, match="cannot open stream") as caught:
        OpenCVSource("rtsp://admin:secret@10.0.0.5:554/live", capture_factory=FakeCaptureFactory())
    assert "secret" not in str(caught.value) and "admin:***@10.0.0.5:554" in str(caught.value)


def test_live_source_drops_oldest_frames_for_a_slow_consumer():
    capture = FakeCapture(numbered_frames(50))
    source = OpenCVSource(0, queue_size=2, max_retries=0, capture_factory=FakeCaptureFactory(capture))
    assert source.live and source.total is None
    seen = []
    for _, frame in source:
        seen.append(int(frame[0, 0, 0]))
        if len(seen) == 1:  # a slow model: the camera delivers all 50 frames during this first step
            assert capture.exhausted.wait(5)
    assert len(seen) + source.dropped == 50
    assert source.dropped >= 47  # only the queue's 2 newest (and possibly the first) frames survive
    assert seen[-2:] == [48, 49]  # drop-oldest keeps the most recent frames
    assert seen == sorted(set(seen))
    assert capture.released


def test_camera_disconnect_is_retried_then_the_stream_ends_cleanly(caplog):
    first, second = FakeCapture(numbered_frames(5)), FakeCapture(numbered_frames(8)[5:])
    factory = FakeCaptureFactory(first, second)
    source = OpenCVSource(0, queue_size=100, max_retries=2, retry_backoff=0.001, capture_factory=factory)
    with caplog.at_level(logging.INFO, logger="streammem.streams.video"):
        items = list(source)
    assert [int(frame[0, 0, 0]) for _, frame in items] == list(range(8))
    timestamps = [t for t, _ in items]
    assert timestamps == sorted(timestamps)
    assert factory.calls == 1 + 1 + 1  # open, a successful reconnect, then the budget's last attempt
    assert all(capture.released for capture in factory.made)
    assert "stream ended after 8 frames (2 of 2 reconnection attempts used, 0 frames dropped" in caplog.text
    assert source.dropped == 0 and source.reconnects == 2


@pytest.mark.parametrize("seekable", [True, False])
def test_a_url_that_keeps_stalling_ends_without_replaying_its_opening_frames(caplog, seekable):
    frames = numbered_frames(20)
    factory = FakeCaptureFactory(then=lambda: StallingFileCapture(frames, stall_at=6, seekable=seekable))
    source = OpenCVSource("http://host/clip.mp4", queue_size=100, max_retries=3, retry_backoff=0.001,
                          capture_factory=factory)  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="streammem.streams.video"):
        items = list(itertools.islice(source, 500))  # before: frames 0-5 again after every reconnect, forever
    assert [int(frame[0, 0, 0]) for _, frame in items] == list(range(6))
    assert factory.calls == 1 + 3 and source.reconnects == 3
    assert "stream ended after 6 frames (3 of 3 reconnection attempts used, 0 frames dropped" in caplog.text


def test_a_url_file_that_ends_normally_is_not_reconnected():
    factory = FakeCaptureFactory(then=lambda: StallingFileCapture(numbered_frames(4), stall_at=4))
    source = OpenCVSource("http://host/clip.mp4", queue_size=100, max_retries=3, retry_backoff=0.001,
                          capture_factory=factory)  # fmt: skip
    assert len(list(source)) == 4 and factory.calls == 1 and source.reconnects == 0


def test_live_frames_are_converted_from_bgr_to_rgb():
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 0] = 10  # blue
    source = OpenCVSource(0, max_retries=0, capture_factory=FakeCaptureFactory(FakeCapture([bgr])))
    ((_, frame),) = list(source)
    assert frame[0, 0].tolist() == [0, 0, 10]


def test_leaving_a_live_stream_early_stops_the_capture_thread():
    capture = FakeCapture(None)  # a camera that never ends
    source = OpenCVSource(0, capture_factory=FakeCaptureFactory(capture))
    stream = iter(source)
    for _ in range(3):
        next(stream)
    stream.close()
    assert capture.released
