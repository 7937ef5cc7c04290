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


def test_frame_encoder_save_load_round_trip(tmp_path):
    import pytest

    from streammem.checkpoints import save_checkpoint
    from streammem.errors import InputError
    from streammem.models.matr.encoder_training import FrameLabeler
    from streammem.models.matr.frontend import ENCODER_MODEL, load_frame_encoder

    torch.manual_seed(0)
    model = FrameLabeler(FrameEncoder(out_dim=32, backbone="mobilenet_v3_small", image_size=32), 7)
    config = {"backbone": "mobilenet_v3_small", "image_size": 32, "out_dim": 32, "num_labels": 7, "feature_rate": 4.0}
    path = save_checkpoint(tmp_path / "enc.safetensors", model, model_name=ENCODER_MODEL, config=config,
                           training_command="test", data_seed=0)
    loaded, meta = load_frame_encoder(path)
    frames = torch.randint(0, 255, (3, 40, 48, 3), dtype=torch.uint8)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(loaded(frames), model.encoder(frames), atol=1e-6)
    assert meta["config"]["backbone"] == "mobilenet_v3_small"
    other = save_checkpoint(tmp_path / "other.safetensors", model, model_name="matr", config=config,
                            training_command="test", data_seed=0)
    with pytest.raises(InputError, match="expected 'frame_encoder'"):
        load_frame_encoder(other)
