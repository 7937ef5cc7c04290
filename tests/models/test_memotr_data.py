"""MeMOTR's sequence loading and clip sampling on the synthetic DanceTrack-layout set."""

import numpy as np
import pytest
import torch

from streammem.data.synthetic_mot import SyntheticMOTConfig, write_split
from streammem.models.memotr.data import load_split, normalize, sample_clip


def test_clips_follow_the_ground_truth_and_flip_consistently(tmp_path):
    cfg = SyntheticMOTConfig(num_frames=20)
    write_split(tmp_path, "train", [1, 2], cfg)
    seqs = load_split(tmp_path, "train", (120, 160))
    assert [s.name for s in seqs] == ["synth00001", "synth00002"]
    decoded = seqs[0].frames  # decoded on demand, all at once here
    assert decoded.dtype == torch.uint8 and decoded.shape == (20, 3, 120, 160)
    n_rows = sum(len(i) for i in seqs[0].ids)
    gt_lines = (tmp_path / "train" / "synth00001" / "gt" / "gt.txt").read_text().splitlines()
    assert n_rows == len(gt_lines)
    flips = set()
    for seed in range(12):
        frames, targets = sample_clip(seqs[:1], 3, 2, np.random.default_rng(seed))
        assert frames.shape == (3, 3, 120, 160) and len(targets) == 3
        start = [t for t in range(20) if torch.allclose(normalize(decoded[t]), frames[0])]
        flipped = not start
        flips.add(flipped)
        if flipped:
            match = [t for t in range(20) if torch.allclose(normalize(decoded[t]).flip(-1), frames[0])]
            ids, boxes = targets[0]
            assert torch.equal(ids, seqs[0].ids[match[0]])
            assert torch.allclose(boxes[:, 0], 1.0 - seqs[0].boxes[match[0]][:, 0])
    assert flips == {True, False}


def _dancetrack(root, sequences: int, frames: int, size=(160, 120)):
    """``root/train/dancetrackNNNN/{seqinfo.ini, img1/%08d.jpg, gt/gt.txt}`` + ``train_seqmap.txt`` (DanceTrack)."""
    import cv2

    rng = np.random.default_rng(0)
    width, height = size
    names = []
    for s in range(1, sequences + 1):
        name = f"dancetrack{s:04d}"
        seq = root / "train" / name
        (seq / "img1").mkdir(parents=True)
        (seq / "gt").mkdir()
        (seq / "seqinfo.ini").write_text(f"[Sequence]\nname={name}\nimDir=img1\nframeRate=20\nseqLength={frames}\n"
                                         f"imWidth={width}\nimHeight={height}\nimExt=.jpg\n")
        rows = []
        for f in range(1, frames + 1):
            image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
            cv2.imwrite(str(seq / "img1" / f"{f:08d}.jpg"), image)
            for i in (1, 2):
                rows.append(f"{f},{i},{10 * i + f % 7},{20 + i},{30},{40},1,1,1\n")
        (seq / "gt" / "gt.txt").write_text("".join(rows))
        names.append(name)
    (root / "train_seqmap.txt").write_text("name\n" + "\n".join(names) + "\n")


@pytest.mark.slow  # writes 3,000 JPEG frames
@pytest.mark.parametrize("workers", [0, 2])
def test_the_training_loader_keeps_resident_memory_bounded_on_50_sequences(tmp_path, workers):
    """50 DanceTrack-layout sequences of 60 frames: held decoded at the input size they would take 173 MB; loading
    the split and drawing 150 batches of clips (from worker processes or not) grows the resident set far less."""
    from streammem.models.memotr.data import clip_batches
    from streammem.resources import current_rss_mb

    _dancetrack(tmp_path, sequences=50, frames=60)
    whole_mb = 50 * 60 * 3 * 120 * 160 / 2**20
    before = current_rss_mb()
    seqs = load_split(tmp_path, "train", (120, 160))
    assert len(seqs) == 50 and sum(s.num_frames for s in seqs) == 3000
    peak = current_rss_mb()
    for batch in clip_batches(seqs, [5] * 150, 2, 10, seed=0, workers=workers):
        assert len(batch) == 2 and batch[0][0].shape == (5, 3, 120, 160)
        peak = max(peak, current_rss_mb())
    grown = peak - before
    print(f"resident set grew {grown:.1f} MB over 150 batches ({workers} workers); whole set decoded: {whole_mb:.0f} MB")
    assert grown < whole_mb / 4


def test_worker_batches_do_not_depend_on_the_number_of_workers(tmp_path):
    from streammem.models.memotr.data import clip_batches

    write_split(tmp_path, "train", [1, 2], SyntheticMOTConfig(num_frames=12))
    seqs = load_split(tmp_path, "train", (120, 160))
    one = list(clip_batches(seqs, [2, 3, 2], 2, 3, seed=4, workers=1))
    two = list(clip_batches(seqs, [2, 3, 2], 2, 3, seed=4, workers=2))
    assert [b[0][0].shape[0] for b in one] == [2, 3, 2]
    for a, b in zip(one, two, strict=True):
        for (fa, ta), (fb, tb) in zip(a, b, strict=True):
            assert torch.equal(fa, fb) and all(torch.equal(x[1], y[1]) for x, y in zip(ta, tb, strict=True))
