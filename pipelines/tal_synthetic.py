"""Synthetic THUMOS-layout streams (held-out Test) -> MATR tiny -> mAP@tIoU + latency JSON.

Run: `python pipelines/tal_synthetic.py` (extra arguments go to `streammem eval tal ...`).
"""

from _run import run_pipeline  # the script's own folder is on sys.path when it runs

# source -> model -> evaluator/sinks, as the command line runs it
PIPELINE = ["eval", "tal", "--out", "runs/pipelines/tal_synthetic.json"]

if __name__ == "__main__":
    run_pipeline(PIPELINE)
