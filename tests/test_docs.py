"""The user documentation (``docs/*.md``, ``README.md``) reads as documentation and its commands run.

Two checks: no development-history wording (work periods, stage diaries, targets met or missed, paths
outside the repository), and every ``streammem <verb> ...`` line inside a fenced code block parses with the
real command-line parser, so a renamed or removed option cannot survive in the docs.
"""

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from streammem.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]

# Wording that belongs to a development log, not to user documentation (matched case-insensitively), and
# numbered work stages ("stage S4"; an option such as ``--stage st`` is not one).
HISTORY_WORDS = (
    "session",
    "kept for the record",
    "work period",
    "target met",
    "target missed",
    "**met**",
    "**missed**",
    "../shared",
    "/work/",
    "reference/",
    "issue #",
)

HISTORY_PATTERNS = (re.compile(r"\bstages? S\d"),)

VERBS = ("demo", "run", "eval", "train", "export", "bench", "score", "transcribe")
_COMMAND = re.compile(r"(?:^|[\s;&|(`])(?:[\w./-]*/)?streammem\s+(" + "|".join(VERBS) + r")\b(.*)")
_SHELL_STOP = {"&&", "||", "|", ";", "&", ")"}


def _history_words(line: str) -> list[str]:
    """The development-history words and patterns found in ``line``."""
    return [w for w in HISTORY_WORDS if w in line.lower()] + [p.pattern for p in HISTORY_PATTERNS if p.search(line)]


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _fenced_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line inside a fenced code block, backslash continuations joined.

    Blocks fenced as ```text hold program output or a usage synopsis, not commands, and are left out."""
    lines, inside, listing, pending, start = [], False, False, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            inside = not inside
            listing = inside and line.strip()[3:].strip() == "text"
            continue
        if not inside or listing:
            continue
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        lines.append((start, pending + line))
        pending = ""
    return lines


def _argv(verb: str, rest: str) -> list[str]:
    """The arguments after ``streammem VERB`` as the shell would pass them, up to the end of the command."""
    rest = rest.split("`")[0]
    rest = re.sub(r"\$\{?(\w+)\}?", r"\1", rest)  # $W/eval -> W/eval: a value, whatever the variable holds
    try:
        words = shlex.split(rest, comments=True)
    except ValueError as err:  # an unbalanced quote: not a command a shell would run
        return [verb, f"<unreadable command line: {err}>"]
    argv = [verb]
    for word in words:
        if word in _SHELL_STOP or word.startswith((">", "2>", "<(")):
            break
        argv.append(word)
    return argv


def _commands(path: Path) -> list[tuple[int, list[str]]]:
    found = []
    for number, line in _fenced_lines(path.read_text()):
        for match in _COMMAND.finditer(line):
            found.append((number, _argv(match.group(1), match.group(2))))
    return found


def _parse_error(argv: list[str]) -> str | None:
    """None when ``streammem`` accepts ``argv``, else argparse's message."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(argv)
    except SystemExit as done:
        if done.code:
            return (err.getvalue().strip().splitlines() or ["exit " + str(done.code)])[-1]
    return None


def test_the_docs_are_found():
    assert ROOT / "README.md" in DOCS and any(p.name == "track.md" for p in DOCS)


@pytest.mark.parametrize("path", DOCS, ids=_name)
def test_no_development_history_wording(path):
    hits = [
        f"{_name(path)}:{number}: '{word}' in: {line.strip()[:120]}"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for word in _history_words(line)
    ]
    assert not hits, "development-history wording in user docs:\n" + "\n".join(hits)


@pytest.mark.parametrize("path", DOCS, ids=_name)
def test_every_documented_command_parses(path):
    failures = []
    for number, argv in _commands(path):
        problem = _parse_error(argv)
        if problem:
            failures.append(f"{_name(path)}:{number}: streammem {' '.join(argv)}\n    {problem}")
    assert not failures, "commands the CLI refuses:\n" + "\n".join(failures)


def test_the_command_finder_sees_continuations_stops_at_shell_operators_and_skips_text_blocks():
    text = "```bash\n.venv/bin/streammem eval tal --threads 1 \\\n    --out x  # comment\nstreammem run asr a.wav && ls\n```\n"
    text += "```text\nstreammem run TASK ...   a usage synopsis\n```\n"
    found = [(n, _argv(m.group(1), m.group(2))) for n, line in _fenced_lines(text) for m in _COMMAND.finditer(line)]
    assert found == [(2, ["eval", "tal", "--threads", "1", "--out", "x"]), (4, ["run", "asr", "a.wav"])]


def test_history_wording_is_recognised_and_options_are_not():
    assert _history_words("as in stage S4 of session 5") == ["session", r"\bstages? S\d"]
    assert _history_words("Target met (60.2)") == ["target met"]
    assert not _history_words("streammem train simulst --stage st --init w.safetensors")


def test_a_removed_option_is_refused():
    assert _parse_error(["demo", "tal", "--out-dir", "x"]) is not None
    assert _parse_error(["demo", "tal", "--out", "x"]) is None
