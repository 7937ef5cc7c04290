"""THUMOS14 test: per-video .npy features -> MATR -> online emitted actions + mAP@tIoU JSON.

Run: `python pipelines/tal_thumos14.py --data THUMOS_DIR` (extra arguments go to `streammem eval tal ...`).
"""

from _run import run_pipeline  # the script's own folder is on sys.path when it runs

# source -> model -> evaluator/sinks, as the command line runs it
PIPELINE = ["eval", "tal", "--subset", "test", "--out", "runs/pipelines/tal_thumos14"]  # metrics.json + predictions.json

if __name__ == "__main__":
    run_pipeline(PIPELINE)
