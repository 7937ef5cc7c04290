"""MeMOTR's sequence loading and clip sampling on the synthetic DanceTrack-layout set."""

import numpy as np
import torch

from streammem.data.synthetic_mot import SyntheticMOTConfig, write_split
from streammem.models.memotr.data import load_split, normalize, sample_clip


def test_clips_follow_the_ground_truth_and_flip_consistently(tmp_path):
    cfg = SyntheticMOTConfig(num_frames=20)
    write_split(tmp_path, "train", [1, 2], cfg)
    seqs = load_split(tmp_path, "train", (120, 160))
    assert [s.name for s in seqs] == ["synth00001", "synth00002"]
    assert seqs[0].frames.dtype == torch.uint8 and seqs[0].frames.shape == (20, 3, 120, 160)
    n_rows = sum(len(i) for i in seqs[0].ids)
    gt_lines = (tmp_path / "train" / "synth00001" / "gt" / "gt.txt").read_text().splitlines()
    assert n_rows == len(gt_lines)
    flips = set()
    for seed in range(12):
        frames, targets = sample_clip(seqs[:1], 3, 2, np.random.default_rng(seed))
        assert frames.shape == (3, 3, 120, 160) and len(targets) == 3
        start = [t for t in range(20) if torch.allclose(normalize(seqs[0].frames[t]), frames[0])]
        flipped = not start
        flips.add(flipped)
        if flipped:
            match = [t for t in range(20) if torch.allclose(normalize(seqs[0].frames[t]).flip(-1), frames[0])]
            ids, boxes = targets[0]
            assert torch.equal(ids, seqs[0].ids[match[0]])
            assert torch.allclose(boxes[:, 0], 1.0 - seqs[0].boxes[match[0]][:, 0])
    assert flips == {True, False}
