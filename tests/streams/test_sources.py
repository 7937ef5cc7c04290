import numpy as np
import pytest
import soundfile

from streammem.errors import InputError
from streammem.streams.audio import AudioFileSource, MicrophoneSource
from streammem.streams.sources import open_source
from streammem.streams.video import OpenCVSource, VideoFileSource

from .fakes import FakeCapture, FakeCaptureFactory

_MIC = {"max_input_channels": 1, "default_samplerate": 16000.0}


def test_digits_open_a_camera():
    source = open_source("1", capture_factory=FakeCaptureFactory(FakeCapture([])))
    assert isinstance(source, OpenCVSource) and source.live and source.source == 1


def test_urls_open_a_network_stream():
    source = open_source("http://cam.local/video", capture_factory=FakeCaptureFactory(FakeCapture([])))
    assert isinstance(source, OpenCVSource) and source.live


def test_video_files_open_with_decord(lossless_video):
    source = open_source(str(lossless_video[0]), resize=(32, 24))
    assert isinstance(source, VideoFileSource) and source.frame(0).shape == (24, 32, 3)


def test_mic_opens_a_microphone_with_an_optional_device():
    assert isinstance(open_source("mic", kind="audio", query_device=lambda d: _MIC), MicrophoneSource)
    assert open_source("mic:2", kind="audio", query_device=lambda d: _MIC).device == 2


def test_audio_files_open_with_soundfile(tmp_path):
    soundfile.write(tmp_path / "a.wav", np.zeros(1600, np.float32), 16000)
    assert isinstance(open_source(str(tmp_path / "a.wav"), kind="audio"), AudioFileSource)


@pytest.mark.parametrize(("spec", "kind"), [("mic", "video"), ("0", "audio"), ("rtsp://x/y", "audio")])
def test_specs_of_the_wrong_kind_are_input_errors(spec, kind):
    with pytest.raises(InputError):
        open_source(spec, kind=kind)


@pytest.mark.parametrize("index", ["99999999999999999999", "4000000000"])
def test_a_huge_camera_index_is_a_one_line_error(index):
    with pytest.raises(InputError, match="camera index out of range") as err:
        open_source(index)
    assert "\n" not in str(err.value)
