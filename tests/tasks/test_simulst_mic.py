"""``streammem demo simulst --source mic`` with a fake microphone (sounddevice replaced; no device here): the
talk is translated while it is heard, and SIGTERM ends the run cleanly with its outputs written."""

import json
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
import sounddevice
import soundfile as sf
from simulst_small import write_small_checkpoint

from streammem.cli import main
from streammem.tasks import simulst


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_small_checkpoint(tmp_path_factory.mktemp("w") / "small.safetensors")


class FakeMicrophone:
    """Stands in for sounddevice.InputStream: the bundled talk at 48 kHz, every block handed over on entry."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def __enter__(self):
        audio, rate = sf.read(simulst.SAMPLE_AUDIO, dtype="float32")
        talk = np.interp(np.arange(len(audio) * 3) / 3, np.arange(len(audio)), audio).astype(np.float32)
        size = self.kwargs["blocksize"]
        for i in range(0, len(talk) - size + 1, size):
            self.kwargs["callback"](talk[i:i + size, None], size, None, None)
        return self

    def __exit__(self, *exc):
        return None


def test_mic_demo_translates_as_it_listens_and_writes_words_with_times(weights, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sounddevice, "InputStream", FakeMicrophone)
    monkeypatch.setattr(sounddevice, "query_devices",
                        lambda device=None, kind=None: {"max_input_channels": 1, "default_samplerate": 48000.0})
    assert main(["demo", "simulst", "--source", "mic", "--seconds", "4.8", "--weights", str(weights),
                 "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "translation.json").read_text())
    assert result["audio_seconds"] == pytest.approx(4.8)  # the microphone stops after --seconds
    assert [round(s["start"]) for s in result["segments"]] == [0, 3]  # the talk's two sentences, found online
    for seg in result["segments"]:
        times = [w["emitted_at"] for w in seg["words"]]
        assert times == sorted(times) and all(seg["start"] <= t <= seg["end"] + 0.05 for t in times)
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert len(printed) == len({(w["emitted_at"]) for s in result["segments"] for w in s["words"]})
    assert (tmp_path / "emissions.png").stat().st_size > 1000


_ENDLESS_MIC = """
import sys, threading, time
import numpy as np, soundfile as sf, sounddevice
talk, rate = sf.read(sys.argv[1], dtype="float32")

class Stream:  # the talk over and over at 4x real time, from a capture thread like PortAudio's
    def __init__(self, **kwargs):
        self.kwargs, self.running = kwargs, True
    def __enter__(self):
        def run():
            size, i = self.kwargs["blocksize"], 0
            while self.running:
                block = np.take(talk, np.arange(i, i + size), mode="wrap")
                self.kwargs["callback"](block[:, None], size, None, None)
                i += size
                time.sleep(size / rate / 4)
        threading.Thread(target=run, daemon=True).start()
        return self
    def __exit__(self, *exc):
        self.running = False

sounddevice.InputStream = Stream
sounddevice.query_devices = lambda device=None, kind=None: {"max_input_channels": 1, "default_samplerate": 16000.0}
from streammem.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_sigterm_ends_a_live_translation_with_its_outputs_written(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _ENDLESS_MIC, str(simulst.SAMPLE_AUDIO), "demo", "simulst",
                             "--source", "mic", "--threads", "1", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    watchdog = threading.Timer(180, proc.kill)
    watchdog.start()
    try:
        words = []
        for line in proc.stdout:  # the shipped weights: words appear while the microphone is still open
            if line.startswith("["):
                words.append(line)
                if len(words) >= 2:
                    break
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=120)
    finally:
        watchdog.cancel()
    assert proc.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err
    result = json.loads((out / "translation.json").read_text())
    emitted = [w["word"] for s in result["segments"] for w in s["words"]]
    assert len(emitted) >= 2 and result["audio_seconds"] > 1.0
    assert (out / "emissions.png").is_file() and not [p for p in out.iterdir() if ".partial" in p.name]
