"""The digits one-class table from the JSON lines ``anomaly_digits.py`` prints: per normal digit and variant
the mean ± sample std over seeds of the test image AUROC, and the mean over digits with the std over seeds of
each seed's digit mean.

Usage: python tools/experiments/anomaly_table.py RESULTS.jsonl [...] [--iterations 500]
(a later line for the same digit, seed, variant and iteration count replaces an earlier one)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, nargs="+")
    parser.add_argument("--iterations", type=int, default=500)
    args = parser.parse_args()
    runs: dict[tuple[int, int, str], float] = {}
    for path in args.results:
        for line in path.read_text().splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                if r.get("iterations") == args.iterations and "digit" in r:
                    runs[(r["digit"], r["seed"], r["variant"])] = r["image_AUROC"]
    variants = sorted({v for _, _, v in runs}, key=lambda v: (v != "full", v))
    digits = sorted({d for d, _, _ in runs})
    seeds = sorted({s for _, s, _ in runs})
    print("| normal digit | " + " | ".join(variants) + " |")
    print("|---|" + "---|" * len(variants))
    for d in digits:
        cells = [np.array([runs[(d, s, v)] for s in seeds if (d, s, v) in runs]) for v in variants]
        print(f"| {d} | " + " | ".join(f"{c.mean():.2f} ± {c.std(ddof=1):.2f} ({len(c)})" for c in cells) + " |")
    means = []
    for v in variants:
        per_seed = [np.mean([runs[(d, s, v)] for d in digits]) for s in seeds if all((d, s, v) in runs for d in digits)]
        means.append(f"{np.mean(per_seed):.2f} ± {np.std(per_seed, ddof=1):.2f}" if len(per_seed) > 1 else "–")
    print(f"| mean of the {len(digits)} | " + " | ".join(means) + " |")


if __name__ == "__main__":
    main()
