import ast
from pathlib import Path

import pytest

from streammem.cli import PIPELINES_DIR, build_parser

PIPELINES = sorted(p for p in PIPELINES_DIR.glob("*.py") if not p.name.startswith("_"))


def _pipeline_argv(path: Path) -> list[str]:
    """The PIPELINE list of a pipeline file, read without running it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "PIPELINE":
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path.name} has no PIPELINE")


def test_there_is_a_pipeline_per_implemented_task_and_dataset():
    names = {p.stem for p in PIPELINES}
    assert {"track_dancetrack", "track_mot17", "tal_thumos14", "asr_librispeech"} <= names


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.stem)
def test_pipeline_is_a_valid_command_for_an_implemented_verb(path):
    argv = _pipeline_argv(path)
    args = build_parser().parse_args(argv)
    assert args.func.__module__ == f"streammem.tasks.{argv[1]}"  # not the "not implemented yet" stub
    assert path.read_text().split('"""')[1].strip()  # the docstring --help shows


def test_help_lists_pipelines_but_not_the_runner():
    text = build_parser().format_help()
    assert all(p.stem in text for p in PIPELINES)
    assert "_run" not in text
