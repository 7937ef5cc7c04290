"""The live front end: a torchvision frame encoder turned into features at a fixed rate."""

import numpy as np
import torch

from streammem.models.matr.frontend import FrameEncoder, features_at_rate


def test_features_at_fixed_rate_from_irregular_frames():
    torch.manual_seed(0)
    encoder = FrameEncoder(out_dim=32, backbone="mobilenet_v3_small", image_size=32)
    # 10 fps for 2 s, with a gap (dropped frames) between 0.9 s and 1.4 s
    stamps = [i / 10 for i in range(20) if not 9 <= i < 14]
    frames = [(t, np.full((24, 32, 3), int(t * 100), np.uint8)) for t in stamps]
    out = list(features_at_rate(frames, encoder, rate=4.0))
    times = [t for t, _ in out]
    assert times == [0.25 * (i + 1) for i in range(len(times))]  # regular 4/s time axis despite the gap
    assert len(times) == 8 and all(f.shape == (32,) for _, f in out)
    assert torch.equal(out[3][1], out[4][1])  # the empty interval [1.0, 1.25) repeats the previous feature
