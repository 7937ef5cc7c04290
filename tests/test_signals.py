"""SIGTERM mid-write: the partial output is removed, finished outputs stay, exit status 143, one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from streammem.signals import Terminated, exit_status, interruption_message, sigterm_as_interrupt

# A writer like a CLI verb: one finished output, then a long write in progress when the signal comes.
_WRITER = """
import signal, sys, time
from streammem.errors import atomic_output
signal.signal(signal.SIGINT, signal.default_int_handler)  # a shell's background job starts with SIGINT ignored
from streammem.signals import exit_status, interruption_message, sigterm_as_interrupt

out = sys.argv[1]
try:
    with sigterm_as_interrupt():
        with atomic_output(out + "/done.txt") as tmp:
            tmp.write_text("finished\\n")
        with atomic_output(out + "/slow.txt") as tmp, open(tmp, "w") as f:
            f.write("half")
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
except KeyboardInterrupt as err:
    print(f"streammem: {interruption_message(err)}", file=sys.stderr)
    sys.exit(exit_status(err))
"""


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_write_removes_the_partial_and_keeps_finished_outputs(tmp_path, signum, status):
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_WRITER), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "writing"
    assert any(".partial" in p.name for p in tmp_path.iterdir())  # the write really is in progress
    child.send_signal(signum)
    _, err = child.communicate(timeout=30)
    assert child.returncode == status
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done.txt"]
    assert (tmp_path / "done.txt").read_text() == "finished\n"
    assert len(err.strip().splitlines()) == 1 and "partial outputs removed" in err


def test_previous_handler_is_restored_and_status_follows_the_signal():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        signal.pthread_kill(signal.pthread_self(), 0)  # let the handler run before the block ends
    assert signal.getsignal(signal.SIGTERM) is before
    assert exit_status(Terminated()) == 143 and exit_status(KeyboardInterrupt()) == 130
    assert interruption_message(Terminated()).startswith("terminated (SIGTERM)")
