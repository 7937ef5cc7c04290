"""BLEU against AL for every setting of one or more ``streammem eval simulst`` metrics files (one curve each).

  python tools/experiments/simulst_plot.py OUT.png LABEL=metrics.json [LABEL=metrics.json ...]

A file holding both Shiftable Context settings gives two curves (``LABEL`` and ``LABEL, no SC``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args = sys.argv[1:] if argv is None else argv
    out, curves = Path(args[0]), args[1:]
    fig, ax = plt.subplots(figsize=(6, 4))
    for item in curves:
        label, _, path = item.partition("=")
        results = json.loads(Path(path).read_text())["results"]
        for shift in (True, False):
            rows = sorted((r for r in results if r["shiftable_context"] == shift), key=lambda r: r["AL"])
            if rows:
                name = label if shift else f"{label}, no SC"
                ax.plot([r["AL"] for r in rows], [r["BLEU"] for r in rows], "o-" if shift else "s--", label=name)
                for r in rows:
                    ax.annotate(f"k={r.get('wait_k', r.get('k'))}", (r["AL"], r["BLEU"]), fontsize=7, xytext=(3, 3),
                                textcoords="offset points")
    ax.set_xlabel("AL (ms of source audio, SimulEval 1.1)")
    ax.set_ylabel("BLEU (sacreBLEU 13a, cased)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
