"""LibriSpeech test-clean: flac -> streaming Conformer-NTM -> CTC transcript -> WER/CER JSON.

Run: `python pipelines/asr_librispeech.py --data LibriSpeech` (extra arguments go to `streammem eval asr ...`).
"""

from _run import run_pipeline  # the script's own folder is on sys.path when it runs

# source -> model -> evaluator/sinks, as the command line runs it
PIPELINE = ["eval", "asr", "--split", "test-clean", "--long-split", "", "--mode", "streaming", "--out", "runs/pipelines/asr_librispeech.json"]

if __name__ == "__main__":
    run_pipeline(PIPELINE)
