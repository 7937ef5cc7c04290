"""Render a `streammem bench` JSON as Markdown: `python tools/bench_report.py JSON [--out FILE.md]`.

`docs/benchmarks.md` is this script's output for `docs/benchmarks.json`; without `--out` the page goes to stdout.
A file named by `--out` is written whole or not at all.
"""

import argparse
import json
import sys
from pathlib import Path

from streammem.bench.report import render
from streammem.errors import atomic_output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="the bench.json of `streammem bench all` (or of one task)")
    parser.add_argument("--out", type=Path, default=None, help="Markdown file to write (default: stdout)")
    args = parser.parse_args(argv)
    try:
        result = json.loads(args.json.read_text(encoding="utf-8"))
        text = render(result, source=str(args.json))
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"bench_report: error: {args.json}: cannot render ({type(err).__name__}: {err})", file=sys.stderr)
        return 2
    if args.out is None:
        sys.stdout.write(text)
    else:
        with atomic_output(args.out) as tmp:
            tmp.write_text(text, encoding="utf-8")
        print(f"wrote: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
