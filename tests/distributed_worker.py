"""Train a tiny model for a few steps, in one process or under torchrun, and write this rank's final parameters.

Used by tests/test_distributed_training.py: ``python distributed_worker.py TASK DATA OUT BATCH`` (BATCH per process).
"""
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from streammem import distributed

task, data, out, batch = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(1)
distributed.init_from_env(torch.device("cpu"))
torch.manual_seed(0)
if task == "tal":
    from dataclasses import asdict

    from streammem.data.tal_features import load_tal_split
    from streammem.models.matr import CONFIGS, build, make_config
    from streammem.models.matr.training import TrainSettings, train_model

    split = load_tal_split(data, "Validation")
    cfg = make_config({**asdict(CONFIGS["tiny"]), "num_classes": len(split.classes), "dropout": 0.0,
                       "feature_dims": [split.videos[0].features.shape[1] // 2] * 2})
    model = build(cfg.to_dict())
    settings = TrainSettings(iterations=3, batch_size=batch, steps_per_video=8, eval_every=100, seed=4, warmup=1)
    model, _ = train_model(model, split.videos, split, cfg, settings, log=lambda s: None)
elif task == "track":
    from streammem.models.memotr import build
    from streammem.models.memotr.data import load_split
    from streammem.models.memotr.training import train_loop

    model = build("tiny", num_queries=8, max_tracks=6)
    train_loop(model, load_split(data, "train", tuple(model.cfg.image_size)), 3, batch, 4, progress=False,
               log=lambda s: None)
elif task == "asr":
    from streammem.models import build_model
    from streammem.models.conformer_ntm.training import TrainOptions, train

    model = build_model("conformer_ntm", dict(d_model=32, num_heads=2, ffn_dim=64, num_blocks=2, kernel_size=5,
                        subsampling_channels=8, chunk_frames=4, left_frames=8, memory_slots=16, memory_dim=4,
                        decoder_layers=1, decoder_ffn_dim=64, max_relative_distance=32, dropout=0.0))
    train(model, data / "train", TrainOptions(max_steps=3, batch_frames=batch, seed=2, join_fraction=0.5))
elif task == "simulst":
    from streammem.models import build_model
    from streammem.models.amt_simulst.training import TrainOptions, train

    model = build_model("amt_simulst", dict(num_mels=20, d_model=16, num_heads=2, ffn_dim=32, encoder_layers=2,
                        decoder_layers=1, subsampling_channels=4, center_frames=8, left_frames=4, right_frames=4,
                        memory_size=2, pre_decision=2, wait_k=2, train_wait_k=(), max_source_blocks=16,
                        max_target_tokens=12, target_pieces=26, dropout=0.0, ctc_weight=0.3))
    train(model, data, TrainOptions(stage="asr", max_steps=3, batch_size=batch, seed=1), log=lambda s: None)
else:
    from streammem.models.memmc_mae import build
    from streammem.models.memmc_mae.training import TrainSettings, train_model

    model = build("tiny")
    images = torch.randint(0, 256, (24, 1, model.config.image_size, model.config.image_size), dtype=torch.uint8)
    settings = TrainSettings(iterations=3, batch_size=batch, eval_every=100, seed=4, warmup=1)
    model, _ = train_model(model, images[:20], images[20:], settings, log=lambda s: None)
# the parameters (buffers such as batch-norm statistics follow each process's own batches between broadcasts)
save_file({k: p.detach().contiguous() for k, p in model.named_parameters()}, str(out / f"rank{distributed.rank()}.safetensors"))
distributed.shutdown()
