"""Markdown tables from the eval JSONs written by tools/experiments/asr_eval_all.sh.

Usage: python tools/experiments/asr_table.py [DIR [NTM_NAME NOMEM_NAME]] (default runs/asr2 ntm nomem).
"""
import json
import sys
from pathlib import Path

W = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/asr2")
NTM, NOMEM = sys.argv[2:4] if len(sys.argv) > 3 else ("ntm", "nomem")
rows = []
for name, label in ((NTM, "Conformer-NTM"), (NOMEM, "Conformer (no NTM)")):
    for mode in ("streaming", "full"):
        p = W / f"eval_{name}_{mode}.json"
        if not p.exists():
            continue
        r = json.loads(p.read_text())
        b = r["buckets"]
        cells = [f"{b[k]['WER']:.1f} / {b[k]['CER']:.1f}" if k in b else "not run" for k in ("short", "1min", "2min", "5min")]
        rows.append(f"| {label} | {mode} (CTC greedy) | " + " | ".join(cells) + " |")
    p = W / f"eval_{name}_full_joint.json"
    if p.exists():
        r = json.loads(p.read_text())
        rows.append(f"| {label} | full (joint CTC/attention, beam 10) | {r['WER']:.1f} / {r['CER']:.1f} | not run | not run | not run |")
print("| model | mode | short | 1 min | 2 min | 5 min |\n|---|---|---|---|---|---|")
print("\n".join(rows))
for name in (NTM,):
    p = W / f"eval_{name}_streaming.json"
    if p.exists():
        b = json.loads(p.read_text())["buckets"]
        print("\nitems / minutes:", {k: (v["items"], v["audio_minutes"]) for k, v in b.items()})
