"""Soak each task's streaming step: state bytes constant and resident memory flat over a long stream.

Usage: python tools/soak.py [TASK ...] [--steps 100000] [--threads 1] [--out runs/soak/soak.json]

Runs the shipped tiny model of each task (default: all five) for ``--steps`` steps on random inputs of its
chunk size, one task after another, and writes one JSON with, per task, the state bytes after the warm-up
and at the end, the resident memory (MiB) after the warm-up, at its largest and at the end, its relative
growth, and the step rate. Exit status 1 when a state grew or resident memory grew by 5 % or more.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import torch

from streammem.soak import SOAK_TASKS, soak, stream_of
from streammem.tasks.common import json_safe

LIMIT = 0.05  # largest accepted relative growth of resident memory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tasks", nargs="*", metavar="TASK", help=f"any of {', '.join(SOAK_TASKS)} (default: all)")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/soak/soak.json"))
    args = parser.parse_args(argv)
    unknown = sorted(set(args.tasks) - set(SOAK_TASKS))
    if unknown:
        parser.error(f"unknown task(s): {', '.join(unknown)}")
    args.tasks = args.tasks or list(SOAK_TASKS)
    torch.set_num_threads(args.threads)
    results, failed = [], []
    for task in args.tasks:
        step, state, chunks = stream_of(task)
        result = soak(task, step, state, chunks, args.steps)
        results.append(result.as_dict())
        flat = result.state_bytes_end == result.state_bytes_start and result.rss_growth < LIMIT
        print(f"{task}: {args.steps} steps at {result.steps_per_s:.0f}/s; state {result.state_bytes_start} -> "
              f"{result.state_bytes_end} bytes; RSS {result.rss_mb_start:.0f} -> max {result.rss_mb_max:.0f} MiB "
              f"({100 * result.rss_growth:+.1f} %) {'ok' if flat else 'GREW'}", flush=True)
        if not flat:
            failed.append(task)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(json_safe({"date": datetime.date.today().isoformat(), "steps": args.steps,
                                              "threads": args.threads, "torch": torch.__version__,
                                              "results": results}), indent=2) + "\n")
    print(f"wrote: {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
