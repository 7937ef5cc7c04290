"""The ``streammem`` command: demo, run, eval, train, export, bench and score, per task.

Each verb takes a task name; the task module (``streammem.tasks.<task>``) supplies that verb's arguments and
implementation. Bad input ends in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from streammem import __version__
from streammem.errors import StreamMemError, report
from streammem.signals import exit_status, interruption_message, sigterm_as_interrupt
from streammem.tasks import TASKS, task_module, verbs_of

__all__ = ["main", "build_parser"]

VERB_HELP = {
    "demo": "run a task's bundled demo (all tasks with shipped weights when no task is given)",
    "run": "run a trained model over a source (file, camera, URL, microphone) and write its outputs",
    "eval": "evaluate a model on a dataset directory in the public format; writes a metrics JSON",
    "train": "train a model (tiny or paper config) and save safetensors weights",
    "export": "export a model's streaming step to TorchScript (parity-checked against eager)",
    "bench": "benchmark a model's streaming step at stream positions 100 to 10,000 against full-context recompute "
    "and equal-size peers: latency, memory, FLOPs",
}

PIPELINES_DIR = Path(__file__).resolve().parent.parent / "pipelines"


def _pipelines_text() -> str:
    """One line per pipeline config in ``pipelines/`` (first docstring line), for --help."""
    if not PIPELINES_DIR.is_dir():
        return ""
    lines = []
    for path in sorted(p for p in PIPELINES_DIR.glob("*.py") if not p.name.startswith("_")):
        doc = path.read_text().split('"""')
        summary = doc[1].strip().splitlines()[0] if len(doc) > 2 else ""
        lines.append(f"  {path.stem:<24} {summary}")
    return ("pipelines (pipelines/*.py):\n" + "\n".join(lines)) if lines else ""


def _epilog() -> str:
    from streammem.evaluation.score import TASKS as SCORED

    rows = []
    for task in TASKS.values():
        verbs = verbs_of(task.name) + (["score"] if task.name in SCORED and "score" not in verbs_of(task.name) else [])
        rows.append(f"  {task.name:<8} {task.summary}\n           verbs: {', '.join(verbs) if verbs else 'none yet'}")
    text = "tasks:\n" + "\n".join(rows)
    pipes = _pipelines_text()
    return text + ("\n\n" + pipes if pipes else "")


def _not_implemented(verb: str, task: str):
    def run(_args: argparse.Namespace) -> int:
        have = verbs_of(task)
        hint = f"; task '{task}' supports: {', '.join(have)}" if have else f"; task '{task}' has no implementation yet"
        raise StreamMemError(f"'streammem {verb} {task}' is not implemented yet{hint}")

    return run


def _demo_all(_args: argparse.Namespace) -> int:
    """``streammem demo`` with no task: every task whose weights ship, one after another."""
    ran = []
    for name in TASKS:
        module = task_module(name)
        if module is None or not hasattr(module, "demo") or not TASKS[name].weights_shipped():
            continue
        parser = argparse.ArgumentParser(prog=f"streammem demo {name}")
        module.add_demo_arguments(parser)
        print(f"== streammem demo {name}", flush=True)
        code = module.demo(parser.parse_args([]))
        if code:
            return code
        ran.append(name)
    if not ran:
        raise StreamMemError("no task has shipped weights yet: nothing to demo (see `streammem train --help`)")
    print(f"demo finished for: {', '.join(ran)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streammem",
        description="Streaming perception with memory-augmented transformers.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"streammem {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    for verb, help_text in VERB_HELP.items():
        vp = verbs.add_parser(verb, help=help_text, description=help_text)
        tasks = vp.add_subparsers(dest="task", metavar="TASK")
        tasks.required = verb != "demo"
        if verb == "demo":
            vp.set_defaults(func=_demo_all)
        for name, task in TASKS.items():
            tp = tasks.add_parser(name, help=task.summary, description=f"{help_text}: {task.summary}")
            module = task_module(name)
            if module is not None and verb in verbs_of(name):
                getattr(module, f"add_{verb}_arguments")(tp)
                tp.set_defaults(func=getattr(module, verb))
            else:
                tp.set_defaults(func=_not_implemented(verb, name))
        if verb == "bench":
            from streammem.bench import add_all_arguments, bench_all

            tp = tasks.add_parser("all", help="every task in one run: one JSON (and the Markdown report with --report)",
                                  description=f"{help_text}: every task in one run")
            add_all_arguments(tp)
            tp.set_defaults(func=bench_all)
    from streammem.evaluation import score

    sp = verbs.add_parser(
        "score",
        help="score any system's predictions (standard result files) with the standard metrics",
        description="score any system's predictions against public-format ground truth, with the code `eval` "
        "uses; `streammem score TASK --help` gives each task's formats",
    )
    tasks = sp.add_subparsers(dest="task", metavar="TASK")
    tasks.required = True
    for name, task in TASKS.items():
        tp = tasks.add_parser(name, help=task.summary, description=f"score predictions: {task.summary}")
        module = task_module(name)
        if module is not None and "score" in verbs_of(name):
            module.add_score_arguments(tp)
            tp.set_defaults(func=module.score)
        elif name in score.TASKS:
            tp.description, tp.formatter_class = score.__doc__, argparse.RawDescriptionHelpFormatter
            score.add_arguments(tp)
            tp.set_defaults(func=score.run)
        else:
            tp.set_defaults(func=_not_implemented("score", name))
    asr = task_module("asr")
    if asr is not None and hasattr(asr, "add_transcribe_arguments"):
        tp = verbs.add_parser("transcribe", help="transcribe an audio file (any format, rate, channels)")
        asr.add_transcribe_arguments(tp)
        tp.set_defaults(func=asr.transcribe)
    return parser


def _autograd_for(verb: str) -> contextlib.AbstractContextManager:
    """Inference verbs run under ``torch.no_grad`` (scoped to the verb, never switched off process-wide);
    ``train`` keeps autograd; ``score`` does not need torch at all."""
    if verb in ("train", "score"):
        return contextlib.nullcontext()
    import torch

    return torch.no_grad()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, or a usage error argparse already printed in one line
        return int(done.code or 0)
    try:
        with sigterm_as_interrupt(), _autograd_for(args.verb):
            return int(args.func(args) or 0)
    except StreamMemError as err:
        return report(err)
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: partial outputs were removed on the way out
        print(f"streammem: {interruption_message(stop)}", file=sys.stderr)
        return exit_status(stop)
    finally:
        from streammem.tasks.common import close_logs

        close_logs()
        if "torch" in sys.modules:  # only a verb that imported torch can have joined a process group
            from streammem import distributed

            distributed.shutdown()


if __name__ == "__main__":
    sys.exit(main())
