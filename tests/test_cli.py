import subprocess
import sys

from streammem.cli import build_parser, main
from streammem.tasks import TASKS, VERBS, verbs_of


def test_help_lists_every_task_and_its_verbs():
    text = build_parser().format_help()
    for name, task in TASKS.items():
        assert name in text
        assert task.summary in text
        verbs = verbs_of(name)
        assert (", ".join(verbs) if verbs else "none yet") in text
    assert "verbs: demo, run, eval, train, export, bench, score" in text  # track/tal/asr score through one scorer
    for verb in ("demo", "run", "eval", "train", "export", "bench", "score"):
        assert verb in text


def test_verbs_of_only_reports_implemented_pairs():
    for name in TASKS:
        for verb in verbs_of(name):
            assert verb in VERBS


def test_unknown_task_is_an_argparse_error(capsys):
    assert main(["eval", "no-such-task"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_entry_point_runs_as_module():
    out = subprocess.run([sys.executable, "-m", "streammem", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("streammem ")


def test_training_command_records_the_arguments_quoted(monkeypatch):
    from streammem.tasks import training_command

    monkeypatch.setattr("sys.argv", ["streammem", "train", "asr", "--out", "a b.safetensors"])
    assert training_command("asr") == "streammem train asr --out 'a b.safetensors'"
    monkeypatch.setattr("sys.argv", ["streammem", "train", "tal"])
    assert training_command("tal") == "streammem train tal"


def test_sigterm_stops_a_verb_with_143_one_line_and_no_partial_output(tmp_path):
    import os
    import signal
    import time

    out = tmp_path / "bench"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "streammem", "bench", "tal", "--positions", "1000000", "--threads", "1",
                             "--out", str(out)], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    time.sleep(8)  # past start-up, inside the stream loop
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert err.strip().splitlines()[-1] == "streammem: terminated (SIGTERM): finished outputs kept, partial outputs removed"
    assert not out.exists() or not list(out.iterdir())
