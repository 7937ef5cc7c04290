"""Fixture writers for evaluation tests: DanceTrack-layout tracking sets in tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def write_dancetrack(
    root: Path, sequences: dict, predictions: dict, split: str = "val"
) -> tuple[Path, Path, Path]:
    """Write ``root/{split}/<seq>/{gt/gt.txt, seqinfo.ini}``, ``{split}_seqmap.txt`` and ``root/tracker/<seq>.txt``.

    sequences: name -> (num_frames, gt rows of 9 numbers); predictions: name -> rows of 10 numbers
    (a name absent from predictions gets no file). Returns (split folder, seqmap, tracker folder).
    """
    split_dir = root / split
    for name, (num_frames, rows) in sequences.items():
        (split_dir / name / "gt").mkdir(parents=True)
        (split_dir / name / "img1").mkdir()
        (split_dir / name / "gt" / "gt.txt").write_text(
            "".join(",".join(f"{v:g}" for v in r) + "\n" for r in rows)
        )
        (split_dir / name / "seqinfo.ini").write_text(
            f"[Sequence]\nname={name}\nimDir=img1\nframeRate=20\nseqLength={num_frames}\n"
            "imWidth=1920\nimHeight=1080\nimExt=.jpg\n"
        )
    seqmap = root / f"{split}_seqmap.txt"
    seqmap.write_text("name\n" + "".join(f"{n}\n" for n in sequences))
    tracker = root / "tracker"
    tracker.mkdir()
    for name, rows in predictions.items():
        (tracker / f"{name}.txt").write_text("".join(",".join(f"{v:g}" for v in r) + "\n" for r in rows))
    return split_dir, seqmap, tracker


def random_tracking_set(seed: int, num_sequences: int = 3, num_frames: int = 30, mot17: bool = False):
    """Noisy tracks with ID switches, misses and false positives (MOT17 flags/classes when ``mot17``)."""
    rng = np.random.default_rng(seed)
    sequences, predictions = {}, {}
    for s in range(num_sequences):
        gt_rows, pred_rows = [], []
        num_objects = 6
        start = rng.uniform(0, 1500, size=(num_objects, 2))
        velocity = rng.uniform(-8, 8, size=(num_objects, 2))
        size = rng.uniform(40, 160, size=(num_objects, 2))
        for f in range(1, num_frames + 1):
            for k in range(num_objects):
                x, y = start[k] + velocity[k] * f
                w, h = size[k]
                flag, cls, vis = 1, 1, 1.0
                if mot17 and k == 0:
                    cls = 7  # static_person: a distractor class, matching predictions are removed
                if mot17 and k == 1 and f % 3 == 0:
                    flag = 0  # not considered in these frames
                gt_rows.append((f, k + 1, x, y, w, h, flag, cls, vis))
                if rng.random() < 0.1:
                    continue  # a miss
                track = k + 1 + (100 if (k == 2 and f > num_frames // 2) else 0)  # one ID switch
                jitter = rng.normal(0, 6, size=4)
                pred_rows.append(
                    (f, track, x + jitter[0], y + jitter[1], w + jitter[2], h + jitter[3], 1.0, -1, -1, -1)
                )
            if rng.random() < 0.3:
                pred_rows.append(
                    (f, 500 + f, *rng.uniform(0, 1500, 2), 60, 120, 0.5, -1, -1, -1)
                )  # a false positive
        sequences[f"dancetrack{s + 1:04d}"] = (num_frames, gt_rows)
        predictions[f"dancetrack{s + 1:04d}"] = pred_rows
    return sequences, predictions


@pytest.fixture
def dancetrack_writer():
    return write_dancetrack


@pytest.fixture
def tracking_set():
    return random_tracking_set
