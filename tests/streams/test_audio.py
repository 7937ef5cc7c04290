import numpy as np
import pytest
import sounddevice
import soundfile
import torch
import torchaudio.functional as AF

from streammem.errors import InputError
from streammem.streams.audio import AudioFileSource, MicrophoneSource, StreamingResampler


def _sine(rate: int, seconds: float, hz: float) -> np.ndarray:
    return np.sin(2 * np.pi * hz * np.arange(round(rate * seconds)) / rate).astype(np.float32)


def _dominant_hz(signal: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize(("orig", "new"), [(44100, 16000), (8000, 16000), (48000, 16000), (16000, 22050)])
def test_streaming_resampler_equals_resampling_the_whole_signal(orig, new):
    signal = torch.from_numpy(np.random.default_rng(0).standard_normal(orig // 8 + 7).astype(np.float32))
    resampler = StreamingResampler(orig, new)
    sizes = np.random.default_rng(1).integers(1, 600, 200)
    bounds = np.minimum(np.cumsum(np.concatenate([[0], sizes])), len(signal))
    pieces = [resampler.push(signal[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    streamed = torch.cat([*pieces, resampler.flush()])
    whole = AF.resample(signal, orig, new)
    assert streamed.shape == whole.shape
    # transforms.Resample's cached kernel rounds slightly differently from the functional one
    torch.testing.assert_close(streamed, whole, atol=1e-4, rtol=0)


@pytest.mark.parametrize("file_rate", [8000, 48000])
def test_stereo_file_becomes_16k_mono_chunks_with_the_same_pitch(tmp_path, file_rate):
    left = _sine(file_rate, 1.3, 440.0)
    path = tmp_path / f"tone_{file_rate}.wav"
    soundfile.write(path, np.stack([left, 0.5 * left], axis=1), file_rate, subtype="FLOAT")
    source = AudioFileSource(path, sample_rate=16000, chunk_seconds=0.5)
    items = list(source)
    assert source.total == len(items) == 3
    assert [len(chunk) for _, chunk in items] == [8000, 8000, 4800]
    assert [t for t, _ in items] == pytest.approx([0.0, 0.5, 1.0])
    audio = np.concatenate([chunk for _, chunk in items])
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert _dominant_hz(audio, 16000) == pytest.approx(440.0, abs=1.0)
    expected = AF.resample(
        torch.from_numpy(0.75 * left), file_rate, 16000
    ).numpy()  # channel mean, then resample
    np.testing.assert_allclose(audio, expected, atol=2e-5)


def test_missing_audio_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        AudioFileSource(tmp_path / "absent.wav")


def test_empty_audio_file(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros(0, np.float32), 16000)
    with pytest.raises(InputError, match="no samples") as caught:
        AudioFileSource(path)
    assert str(caught.value).startswith(str(path))


def test_audio_file_cut_inside_its_header(tmp_path):
    path = tmp_path / "cut.wav"
    soundfile.write(path, _sine(16000, 1.0, 300.0), 16000)
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(InputError, match="cannot read audio") as caught:
        AudioFileSource(path)
    assert "\n" not in str(caught.value)


def test_truncated_compressed_audio_fails_while_streaming(tmp_path):
    path = tmp_path / "cut.flac"
    soundfile.write(path, _sine(16000, 2.0, 300.0), 16000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    source = AudioFileSource(path)
    with pytest.raises(InputError, match="cannot decode audio|truncated") as caught:
        list(source)
    assert str(caught.value).startswith(str(path))


class FakeInputStream:
    """Stands in for sounddevice.InputStream: delivers ``blocks`` blocks of a 440 Hz tone on entry."""

    def __init__(self, blocks: int, **kwargs):
        self.blocks = blocks
        self.kwargs = kwargs
        self.closed = False

    def __enter__(self):
        rate, size = self.kwargs["samplerate"], self.kwargs["blocksize"]
        tone = _sine(rate, self.blocks * size / rate, 440.0)
        for i in range(self.blocks):
            self.kwargs["callback"](tone[i * size : (i + 1) * size, None], size, None, None)
        return self

    def __exit__(self, *exc):
        self.closed = True


def _microphone(blocks: int, **options) -> tuple[MicrophoneSource, list[FakeInputStream]]:
    streams: list[FakeInputStream] = []

    def factory(**kwargs):
        streams.append(FakeInputStream(blocks, **kwargs))
        return streams[-1]

    info = {"max_input_channels": 2, "default_samplerate": 48000.0}
    return MicrophoneSource(stream_factory=factory, query_device=lambda device: info, **options), streams


def test_microphone_chunks_are_resampled_to_the_model_rate():
    source, streams = _microphone(10, chunk_seconds=0.1, duration=0.5, queue_size=100)
    items = list(source)
    assert [len(chunk) for _, chunk in items] == [1600] * 5
    assert [t for t, _ in items] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert _dominant_hz(np.concatenate([c for _, c in items]), 16000) == pytest.approx(440.0, abs=3.0)
    assert streams[0].kwargs["samplerate"] == 48000 and streams[0].closed
    assert source.dropped == 0


def test_microphone_drops_oldest_blocks_when_the_consumer_lags():
    source, _ = _microphone(20, chunk_seconds=0.1, duration=0.2, queue_size=3)
    items = list(source)
    assert source.dropped == 17
    assert items[0][0] == pytest.approx(1.7)  # timestamps skip the dropped audio


def test_silent_device_is_reported_as_stalled():
    source, _ = _microphone(0, chunk_seconds=0.1)
    source.stall_timeout = 0.05
    with pytest.raises(InputError, match="no audio received"):
        list(source)


def test_no_input_device_is_an_input_error():
    def query(device):
        raise sounddevice.PortAudioError("Error querying device -1")

    with pytest.raises(InputError, match="no audio input device") as caught:
        MicrophoneSource(query_device=query)
    assert str(caught.value).startswith("microphone:")
