"""The live window path under a virtual X server, and what the stream package loads for video.

Each check runs in a subprocess: a segmentation fault in native code then fails the test instead of
killing pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "streammem" / "samples" / "track_sample.mp4"

needs_xvfb = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb not installed (apt-get install xvfb)")


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


@pytest.fixture(scope="module")
def virtual_display() -> Iterator[str]:
    """A private Xvfb server; yields its ``DISPLAY`` value."""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()  # Xvfb writes its display number once it accepts connections
    try:
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_opening_a_video_source_does_not_load_sounddevice():
    result = _python(f"""
        import sys
        import streammem.streams
        from streammem.streams import open_source
        source = open_source({str(SAMPLE)!r})
        next(iter(source))
        print(sorted(m for m in ("sounddevice", "_sounddevice") if m in sys.modules))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@needs_xvfb
def test_window_sink_shows_decord_frames_with_sounddevice_loaded(virtual_display):
    # The combination that crashed in cv2.namedWindow: cv2 imported first, sounddevice importable and
    # imported, a decord reader open, then the window.
    result = _python(
        f"""
        import cv2, sounddevice
        from streammem.streams import StreamRunner, WindowSink, open_source
        source = open_source({str(SAMPLE)!r})
        assert source.backend == "decord", source.backend
        summary = StreamRunner(lambda chunk, state: (None, state), None, [WindowSink()], progress=False).run(
            source, max_frames=5
        )
        print("frames", summary.frames)
        """,
        env={"DISPLAY": virtual_display},
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    assert result.stdout.split() == ["frames", "5"]


@needs_xvfb
@pytest.mark.slow
def test_track_demo_opens_its_live_window_without_crashing(virtual_display, tmp_path):
    # The only task demo with a live window; before, it died with exit 139 in WindowSink.open.
    result = subprocess.run(
        [sys.executable, "-m", "streammem", "demo", "track", "--max-frames", "3", "--threads", "1",
         "--out", str(tmp_path)],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1", "DISPLAY": virtual_display},
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    assert "tracked 3 frames" in result.stdout + result.stderr
