"""One markdown table, memory type x task, from the ``table.json`` files ``ablate.py`` writes.

Usage: python tools/experiments/memory_table.py [TABLE.json ...] [--out memory_table.md]

Default inputs: ``runs/ablate/*/table.json`` (one per task; run e.g. ``ablate.py asr --variants ntm gated knn
none`` first for more rows). Per task the column shows its first metric: the mean ± sample std over seeds of
every memory type it was run with, and for every type but the task's reference (the first variant, marked
"ref") the paired difference reference − type with its 95 % bootstrap interval over test items. Types a
task was not run with (or cannot take) are "–". Relative paths are taken from the repository root.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def read_tables(paths: list[Path]) -> list[dict]:
    """The tables, in the order given; exits with a one-line error naming a missing or unreadable file."""
    tables = []
    for path in paths:
        try:
            result = json.loads(path.read_text())
            if not isinstance(result.get("variants"), dict) or "task" not in result:
                raise ValueError("no 'task' or 'variants'")
        except (OSError, ValueError) as err:
            sys.exit(f"memory_table.py: {path}: not an ablate.py table.json ({type(err).__name__}: {err})")
        tables.append(result)
    return tables


def memory_table(tables: list[dict]) -> str:
    """Markdown: one row per memory type (in order of first appearance, ``none`` last), one column per task."""
    rows = list(dict.fromkeys(v for t in tables for v in t["variants"] if v != "none"))
    rows += ["none"] if any("none" in t["variants"] for t in tables) else []
    metrics = [t.get("metrics", list(next(iter(t["variants"].values()))))[0] for t in tables]
    header = ["memory"] + [f"{t['task']}: {m}" for t, m in zip(tables, metrics, strict=True)]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---|" * len(tables)]
    for row in rows:
        cells = [row]
        for t, metric in zip(tables, metrics, strict=True):
            reference = next(iter(t["variants"]))
            if row not in t["variants"]:
                cells.append("–")
                continue
            s = t["variants"][row][metric]
            cell = f"{s['mean']:.2f} ± {s['std']:.2f}"
            if row == reference:
                cell += " (ref)"
            else:
                d = t["differences"][f"{reference} - {row}"][metric]
                cell += f"; ref − this {d['difference']:+.2f} ({d['low']:+.2f} .. {d['high']:+.2f})"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"{t['task']}: {len(t['seeds'])} seeds, {t['items']} test items, schedule {t.get('schedule', t.get('iterations', '?'))}"
             for t in tables]
    return "\n".join(lines) + "\n\n" + "; ".join(notes) + ".\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tables", nargs="*", type=Path, help="table.json files (default runs/ablate/*/table.json)")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown here too")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    paths = args.tables or sorted(Path("runs/ablate").glob("*/table.json"))
    if not paths:
        sys.exit("memory_table.py: no runs/ablate/*/table.json: run tools/experiments/ablate.py TASK first")
    text = memory_table(read_tables(paths))
    if args.out is not None:
        args.out.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
