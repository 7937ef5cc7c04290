"""Synthetic speech (held-out voices): short + 1/2/5-minute buckets -> streaming Conformer-NTM -> WER JSON.

Run: `python pipelines/asr_synthetic.py` (extra arguments go to `streammem eval asr ...`).
"""

from _run import run_pipeline  # the script's own folder is on sys.path when it runs

# source -> model -> evaluator/sinks, as the command line runs it
PIPELINE = ["eval", "asr", "--mode", "streaming", "--out", "runs/pipelines/asr_synthetic.json"]

if __name__ == "__main__":
    run_pipeline(PIPELINE)
