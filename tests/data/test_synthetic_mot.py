"""The synthetic tracking set is written in DanceTrack layout and read back by the public-format reader."""

import numpy as np

from streammem.data.mot import find_sequences, read_mot_ground_truth, read_seqinfo
from streammem.data.mot_frames import read_frame
from streammem.data.synthetic_mot import (
    LOOKALIKE_TINTS,
    SyntheticMOTConfig,
    main,
    render_sequence,
    write_split,
)

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


def _disc_colours(frame: np.ndarray, gt: np.ndarray, t: int) -> list[tuple[int, int, int]]:
    """Mean colour at the centre of every fully visible object in frame t (1-based)."""
    out = []
    for row in gt[(gt[:, 0] == t) & (gt[:, 8] >= 0.999)]:
        cx, cy = int(row[2] + row[4] / 2), int(row[3] + row[5] / 2)
        out.append(tuple(int(v) for v in frame[cy - 2 : cy + 3, cx - 2 : cx + 3].reshape(-1, 3).mean(0)))
    return out


def test_lookalike_variant_changes_colours_not_the_scene():
    plain, lookalike = CFG, SyntheticMOTConfig(num_frames=40, tints=LOOKALIKE_TINTS)
    colours, plain_colours = [], []
    for seed in (3, 4, 5, 6):
        fa, ga = render_sequence(plain, seed)
        fb, gb = render_sequence(lookalike, seed)
        assert np.array_equal(ga, gb)  # same motion, occlusions and annotations
        for t in (5, 15, 25, 35):
            colours += _disc_colours(fb[t - 1], gb, t)
            plain_colours += _disc_colours(fa[t - 1], ga, t)
    # one colour for every disc by default: centre colours differ by camera noise only
    plain_colours = np.array(plain_colours)
    assert len(plain_colours) > 5 and np.abs(plain_colours - plain_colours.mean(0)).max() < 40
    # the variant shows more than one tint, and more objects than tints (so tints repeat)
    nearest = {int(np.abs(np.array(LOOKALIKE_TINTS) - np.array(c)).sum(1).argmin()) for c in colours}
    assert len(nearest) > 1 and len(colours) > len(LOOKALIKE_TINTS)


def test_generator_command_writes_a_lookalike_split(tmp_path, capsys):
    assert main([str(tmp_path), "--split", "val", "--seeds", "7-8", "--lookalike"]) == 0
    assert find_sequences(tmp_path / "val", tmp_path / "val_seqmap.txt") == ["synth00007", "synth00008"]
    assert "2 sequences" in capsys.readouterr().out
