"""The synthetic TAL generator: long actions whose class shows only at their start."""

import numpy as np

from streammem.data.synthetic_tal import SyntheticTALConfig, synthetic_video


def test_generator_design_long_actions_and_identity_at_start():
    cfg = SyntheticTALConfig()
    lengths, first, middle = [], [], []
    for seed in range(6):
        feats, actions = synthetic_video(cfg, seed)
        for c, s, e in actions:
            lengths.append(e - s)
            if e - s > 10:
                first.append((c, feats[s : s + cfg.id_frames].mean(0)))
                middle.append((c, feats[s + 5 : e - 1].mean(0)))
    assert min(lengths) < 16 < 3 * 16 < max(lengths)  # from well under to several segments
    # class means differ at the start of an action, not in its middle
    def spread(items):
        means = [np.mean([f for c, f in items if c == k], axis=0) for k in {c for c, _ in items}]
        return np.mean([np.linalg.norm(a - b) for a in means for b in means])

    assert spread(first) > 5 * spread(middle)
