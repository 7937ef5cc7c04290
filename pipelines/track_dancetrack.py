"""DanceTrack val: img1 frames -> MeMOTR tiny -> MOTChallenge txt + TrackEval HOTA/MOTA/IDF1 JSON.

Run: `python pipelines/track_dancetrack.py DATA_ROOT` (extra arguments go to `streammem eval track DATA_ROOT ...`).
"""

from _run import run_pipeline  # the script's own folder is on sys.path when it runs

# source -> model -> evaluator/sinks, as the command line runs it
PIPELINE = ["eval", "track", "--split", "val", "--out", "runs/pipelines/track_dancetrack.json"]

if __name__ == "__main__":
    run_pipeline(PIPELINE)
