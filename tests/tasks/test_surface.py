"""Every (task, verb) pair the CLI offers: the same option names, the same output convention, the same guards.

Each verb is run up to :func:`streammem.tasks.common.start` (the first thing every verb does), which is
stopped there once it has planned the outputs, so no model runs and no data is generated.
"""

import argparse
from pathlib import Path

import pytest

from streammem.cli import main
from streammem.errors import StreamMemError
from streammem.tasks import TASKS, common, task_module, verbs_of

SCORED = ("track", "tal", "asr")  # scored by streammem.evaluation.score; other tasks bring their own score verb
PAIRS = [(task, verb) for task in TASKS for verb in verbs_of(task)] + [(task, "score") for task in SCORED]


class _Planned(StreamMemError):
    """Raised by the spy once a verb has planned its outputs."""


@pytest.fixture
def planned(monkeypatch):
    seen = []
    real = common.start

    def spy(args, **kwargs):
        run = real(args, **kwargs)
        seen.append((kwargs["task"], kwargs["verb"], run.outputs))
        raise _Planned("planned")

    monkeypatch.setattr(common, "start", spy)
    for task in TASKS:
        module = task_module(task)
        if module is not None and hasattr(module, "start"):
            monkeypatch.setattr(module, "start", spy)
    return seen


def _parser(task: str, verb: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    if verb == "score" and task in SCORED:
        from streammem.evaluation import score

        score.add_arguments(parser)
    else:
        getattr(task_module(task), f"add_{verb}_arguments")(parser)
    return parser


def _argv(task: str, verb: str, existing: Path) -> list[str]:
    """The verb's command line with an existing file for each required argument."""
    actions = _parser(task, verb)._actions
    positionals = [a for a in actions if not a.option_strings and a.nargs is None]
    required = [a.option_strings[0] for a in actions if a.option_strings and a.required]
    return [verb, task, *([str(existing)] * len(positionals)), *(x for o in required for x in (o, str(existing)))]


def test_there_are_pairs_to_walk():
    assert {("track", "run"), ("tal", "eval"), ("asr", "export"), ("asr", "score")} <= set(PAIRS)


@pytest.mark.parametrize("task, verb", PAIRS)
def test_every_pair_has_the_common_options(task, verb):
    options = {s for a in _parser(task, verb)._actions for s in a.option_strings}
    assert set(common.COMMON_OPTIONS[verb]) <= options


@pytest.mark.parametrize("task, verb", PAIRS)
def test_every_pair_writes_under_runs_task_verb_by_default(task, verb, planned, tmp_path):
    source = tmp_path / "input.wav"
    source.write_bytes(b"")
    assert main(_argv(task, verb, source)) == 2
    (seen_task, seen_verb, outputs), = planned
    assert (seen_task, seen_verb) == (task, verb)
    assert outputs.folder.parts[:3] == ("runs", task, verb) and len(outputs.folder.parts) == 4


@pytest.mark.parametrize("task, verb", PAIRS)
def test_every_pair_honours_out(task, verb, planned, tmp_path):
    source = tmp_path / "input.wav"
    source.write_bytes(b"")
    assert main([*_argv(task, verb, source), "--out", str(tmp_path / "here")]) == 2
    (_, _, outputs), = planned
    assert outputs.folder == tmp_path / "here"


@pytest.mark.parametrize("task, verb", PAIRS)
def test_every_pair_refuses_to_write_into_the_package(task, verb, planned, tmp_path, capsys):
    source = tmp_path / "input.wav"
    source.write_bytes(b"")
    assert main([*_argv(task, verb, source), "--out", str(common.PACKAGE_DIR / "weights")]) == 2
    assert planned == []
    err = capsys.readouterr().err
    assert "refusing to write inside the streammem package" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("task, verb", [(t, v) for t, v in PAIRS if v in ("run", "eval", "demo", "bench", "export")])
def test_bad_numbers_are_usage_errors_not_tracebacks(task, verb, tmp_path, capsys):
    source = tmp_path / "input.wav"
    source.write_bytes(b"")
    for bad in ("0", "-5", "nan", "x"):
        assert main([*_argv(task, verb, source), "--threads", bad]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("task, verb", [(t, v) for t, v in PAIRS if v == "run"])
def test_run_refuses_to_write_over_its_own_input(task, verb, tmp_path, capsys):
    source = tmp_path / "input.json"
    source.write_text("{}")
    assert main([*_argv(task, verb, source)[:2], str(source), "--out", str(source)]) == 2
    assert "is an input of this command" in capsys.readouterr().err
    assert source.read_text() == "{}"


def test_export_refuses_a_suffix_that_does_not_match_the_format(tmp_path, capsys):
    assert main(["export", "tal", "--out", str(tmp_path / "x.pt2"), "--format", "torchscript"]) == 2
    assert "a .pt2 file holds export, not --format torchscript" in capsys.readouterr().err
    assert not (tmp_path / "x.pt2").exists()


def test_export_onto_its_own_weights_is_refused(tmp_path, capsys):
    import shutil

    from streammem.models import weights_path

    weights = tmp_path / "w.pt"
    shutil.copy(weights_path("matr", "tiny"), weights)
    shutil.copy(weights_path("matr", "tiny").with_suffix(".json"), tmp_path / "w.json")
    before = weights.read_bytes()
    assert main(["export", "tal", "--weights", str(weights), "--out", str(weights)]) == 2
    assert "is an input of this command" in capsys.readouterr().err
    assert weights.read_bytes() == before


def test_a_missing_verb_says_so_in_one_line(monkeypatch, capsys):
    import streammem.tasks as tasks

    real = tasks.verbs_of
    monkeypatch.setattr(tasks, "verbs_of", lambda name: [v for v in real(name) if v != "bench"])
    import streammem.cli as cli

    monkeypatch.setattr(cli, "verbs_of", tasks.verbs_of)
    assert main(["bench", "tal"]) == 2
    err = capsys.readouterr().err
    assert "'streammem bench tal' is not implemented yet" in err and err.count("\n") == 1


def test_unknown_device_is_one_line(tmp_path, capsys):
    assert main(["bench", "tal", "--device", "tpu", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--device: 'tpu'" in err and err.count("\n") == 1


@pytest.mark.parametrize("task, verb", [(t, v) for t, v in PAIRS if v == "score"])
def test_score_refuses_to_write_over_its_predictions(task, verb, tmp_path, capsys):
    pred = tmp_path / "pred.json"
    pred.write_text("{}")
    assert main([verb, task, "--gt", str(tmp_path), "--pred", str(pred), "--out", str(pred)]) == 2
    assert "is an input of this command" in capsys.readouterr().err
    assert pred.read_text() == "{}"
