"""The synthetic tracking set is written in DanceTrack layout and read back by the public-format reader."""

import numpy as np

from streammem.data.mot import find_sequences, read_mot_ground_truth, read_seqinfo
from streammem.data.mot_frames import read_frame
from streammem.data.synthetic_mot import SyntheticMOTConfig, render_sequence, write_split

CFG = SyntheticMOTConfig(num_frames=40)


def test_written_split_reads_back_with_the_dancetrack_reader(tmp_path):
    names = write_split(tmp_path, "val", [3, 4], CFG)
    assert find_sequences(tmp_path / "val", tmp_path / "val_seqmap.txt") == names
    seq = tmp_path / "val" / names[0]
    info = read_seqinfo(seq / "seqinfo.ini")
    assert (info.num_frames, info.width, info.height) == (40, CFG.width, CFG.height)
    gt = read_mot_ground_truth(seq / "gt" / "gt.txt", info.num_frames)
    assert len(gt) > 0 and set(np.unique(gt.cls)) == {1}
    assert read_frame(seq, info, 40).shape == (CFG.height, CFG.width, 3)
    # the boxes match the rendering
    frames, rows = render_sequence(CFG, 3)
    assert np.allclose(gt.box, rows[:, 2:6], atol=0.01)


def test_rendering_is_deterministic_per_seed_and_differs_across_seeds():
    a, ga = render_sequence(CFG, 7)
    b, gb = render_sequence(CFG, 7)
    _, gc = render_sequence(CFG, 8)
    assert np.array_equal(a[5], b[5]) and np.array_equal(ga, gb)
    assert not np.array_equal(ga[:10], gc[:10])


def test_objects_look_alike_and_are_hidden_longer_than_a_second():
    cfg = SyntheticMOTConfig(num_frames=200)
    gaps, sizes = [], set()
    for seed in range(5000, 5004):
        _, gt = render_sequence(cfg, seed)
        full = gt[gt[:, 8] >= 0.999]
        sizes |= {(round(w), round(h)) for w, h in full[:, 4:6]}
        for tid in np.unique(gt[:, 1]):
            frames = gt[gt[:, 1] == tid, 0]
            gaps.append(np.diff(frames).max(initial=1))
    assert sizes == {(cfg.object_size, cfg.object_size)}  # every fully visible object has the same box size
    assert max(gaps) > cfg.fps  # some object is absent from the annotations for more than a second
