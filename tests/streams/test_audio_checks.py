"""check_audio and the file sources: NaN refused, low level / one active channel fixed with a warning,
narrow band warned about, m4a/AAC decoded through ffmpeg."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile

from streammem.errors import InputError
from streammem.streams.audio import AudioFileSource, check_audio, load_audio_file

RATE = 16000


def _speechlike(seconds: float = 1.0, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Noise shaped by a 4 Hz syllable envelope, peak 0.8."""
    t = np.arange(round(seconds * rate)) / rate
    noise = np.random.default_rng(seed).standard_normal(len(t))
    signal = noise * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) * np.sin(2 * np.pi * 300 * t)
    return (0.8 * signal / np.abs(signal).max()).astype(np.float32)


def _stream(path) -> np.ndarray:
    return np.concatenate([chunk for _, chunk in AudioFileSource(path, sample_rate=RATE)])


def test_a_clean_recording_passes_unchanged_and_silently(tmp_path, capsys):
    audio = _speechlike()
    path = tmp_path / "clean.wav"
    soundfile.write(path, audio, RATE, subtype="FLOAT")
    np.testing.assert_array_equal(_stream(path), audio)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_audio_is_a_one_line_error_naming_the_file(tmp_path, bad):
    audio = _speechlike()
    audio[1234] = bad
    path = tmp_path / "broken.wav"
    soundfile.write(path, audio, RATE, subtype="FLOAT")
    with pytest.raises(InputError, match=r"broken\.wav: audio contains NaN or infinite samples") as err:
        _stream(path)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="NaN or infinite"):
        load_audio_file(path)


def test_low_level_is_gain_normalised_with_a_warning(tmp_path, capsys):
    audio = _speechlike() / 16  # peak 0.05, -26 dBFS
    path = tmp_path / "quiet.wav"
    soundfile.write(path, audio, RATE, subtype="FLOAT")
    streamed = _stream(path)
    np.testing.assert_allclose(streamed, audio * (0.5 / np.abs(audio).max()), rtol=1e-5)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "quiet.wav: low level: peak -26 dBFS, gain-normalised by +20 dB" in err[0]


def test_silence_is_warned_about_but_not_amplified(tmp_path, capsys):
    path = tmp_path / "silence.wav"
    soundfile.write(path, np.zeros(RATE, np.float32), RATE)
    assert not _stream(path).any()
    assert "the audio is silent" in capsys.readouterr().err


def test_speech_in_one_channel_of_four_uses_that_channel(tmp_path, capsys):
    speech = _speechlike()
    hiss = 0.01 * np.random.default_rng(1).standard_normal((len(speech), 3)).astype(np.float32)
    path = tmp_path / "four.wav"
    soundfile.write(path, np.column_stack([hiss[:, :2], speech, hiss[:, 2]]), RATE, subtype="FLOAT")
    np.testing.assert_array_equal(_stream(path), speech)  # the mean would be speech/4 plus hiss
    assert "the signal is in channel 3 of 4" in capsys.readouterr().err


def test_two_live_channels_are_still_averaged():
    speech = _speechlike()
    block = np.column_stack([speech, 0.6 * speech])
    conditioning = check_audio([block], RATE, "stereo.wav")
    assert conditioning.channel is None and conditioning.warnings == ()
    np.testing.assert_allclose(conditioning.apply(block), 0.8 * speech, rtol=1e-6)


def test_8khz_audio_gets_a_band_warning(tmp_path, capsys):
    path = tmp_path / "phone.wav"
    soundfile.write(path, _speechlike(rate=8000), 8000)
    assert len(_stream(path)) == RATE
    assert "phone.wav: sampled at 8000 Hz, so nothing above 4000 Hz is recorded" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_m4a_aac_is_decoded_through_ffmpeg(tmp_path):
    audio = _speechlike(seconds=2.0)
    wav, m4a = tmp_path / "speech.wav", tmp_path / "speech.m4a"
    soundfile.write(wav, audio, RATE, subtype="FLOAT")
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", "-b:a", "128k", str(m4a)], check=True)
    with pytest.raises(soundfile.LibsndfileError):
        soundfile.info(str(m4a))  # libsndfile alone refuses it
    for decoded in (_stream(m4a), load_audio_file(m4a)):
        # AAC adds priming samples at the start: align by cross-correlation before comparing
        lag = int(np.argmax(np.correlate(decoded[:4000], audio[:2000], mode="valid")))
        aligned = decoded[lag : lag + len(audio)]
        assert len(aligned) >= len(audio) - 1100
        assert np.corrcoef(aligned, audio[: len(aligned)])[0, 1] > 0.95


def test_a_file_nothing_can_decode_is_a_one_line_error(tmp_path):
    path = tmp_path / "notes.m4a"
    path.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(InputError, match=r"notes\.m4a: cannot read audio") as err:
        AudioFileSource(path)
    assert "\n" not in str(err.value)
