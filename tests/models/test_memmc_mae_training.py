"""MemMC-MAE training: the loss falls, the best held-out weights are checkpointed with their calibration."""

import pytest
import torch

from streammem.checkpoints import load_weights
from streammem.models.memmc_mae import build
from streammem.models.memmc_mae.training import TrainSettings, split_normals, train_model

SMALL = dict(image_size=16, patch_size=4, embed_dim=16, depth=2, num_heads=2, decoder_dim=16, decoder_depth=1,
             decoder_heads=2, memory_slots=4, decoder_levels=[1, 2], score_repeats=1)


@pytest.fixture(autouse=True)
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _images(n: int) -> torch.Tensor:
    """Normal images: a bright square at a random place on black."""
    gen = torch.Generator().manual_seed(0)
    images = torch.zeros(n, 1, 16, 16, dtype=torch.uint8)
    for i in range(n):
        r, c = torch.randint(0, 10, (2,), generator=gen).tolist()
        images[i, 0, r : r + 6, c : c + 6] = 255
    return images


def test_split_normals_holds_out_every_tenth():
    fit, held = split_normals(25)
    assert held == [0, 10, 20] and sorted(fit + held) == list(range(25))


def test_training_lowers_the_loss_and_checkpoints_the_calibrated_best(tmp_path):
    torch.manual_seed(0)
    model = build("tiny", **SMALL)
    images = _images(40)
    fit, held = split_normals(len(images))
    logs: list[str] = []
    settings = TrainSettings(iterations=60, batch_size=8, warmup=5, eval_every=30, log_every=10, seed=1)
    path = tmp_path / "ck.safetensors"
    model, info = train_model(model, images[fit], images[held], settings, device="cpu", checkpoint=path,
                              training_command="test", log=logs.append)
    losses = [float(line.split("loss ")[1].split()[0]) for line in logs if " loss " in line]
    assert losses[-1] < losses[0]
    assert info["iteration"] in (30, 60) and info["image_threshold"] > 0
    fresh = build("tiny", **SMALL).eval()
    meta = load_weights(fresh, path, expect_model="memmc_mae")
    assert meta["training_command"] == "test" and meta["config"]["memory"] == "attention"
    assert fresh.image_threshold.item() == pytest.approx(info["image_threshold"])
    with torch.no_grad():
        torch.testing.assert_close(fresh(images[held]).pred_score, model(images[held]).pred_score)
