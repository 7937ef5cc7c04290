"""MemMC-MAE on the digits one-class protocol (or, with --texture, the defect-texture set): train on normals, test.

Writes the digit categories first if missing (``streammem.data.synthetic_anomaly.write_digits``), then for
every (digit, seed, variant) trains a fresh model and prints one JSON line. Variants are config overrides:
``full`` (the config as is), ``no_memory`` (memory="none" and nothing else), ``plain_mae`` (no memory, no
multi-level decoder), ``levels_only``, ``memory_only``, ``memae``.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python tools/experiments/anomaly_digits.py \
        --data runs/anomaly/data --digits 0 1 --seeds 0 1 2 --variants full no_memory

With ``--texture`` the ``texture`` category is used instead (64x64 colour: ``tiny`` with 8x8 patches and
3 channels, horizontal flips) and pixel AUROC / AUPRO are reported too; ``--varied`` uses ``texture_varied``,
where every image has its own weave period and angle.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from streammem.data.mvtec import read_mvtec
from streammem.data.synthetic_anomaly import TextureConfig, write_digits, write_textures
from streammem.models.memmc_mae import build
from streammem.models.memmc_mae.scoring import evaluate_items, load_batch
from streammem.models.memmc_mae.training import TrainSettings, split_normals, train_model

VARIANTS: dict[str, dict] = {
    "full": {},
    "no_memory": {"memory": "none"},
    "plain_mae": {"memory": "none", "decoder_levels": []},
    "levels_only": {"memory": "none"},
    "memory_only": {"decoder_levels": []},
    "memae": {"memory": "memae"},
}
TEXTURE: dict = {"image_size": 64, "patch_size": 8, "in_chans": 3, "pixel_mean": [0.5] * 3, "pixel_std": [0.5] * 3}


VARIED = TextureConfig(period_jitter=0.25, angle_jitter=20.0)  # --varied: every image its own period and angle


def run(data: Path, digit: int | None, seed: int, variant: str, iterations: int, save: Path | None,
        varied: bool = False) -> dict:
    texture = "texture_varied" if varied else "texture"
    cat = data / (f"digits_{digit}" if digit is not None else texture)
    if not cat.is_dir():
        if digit is not None:
            write_digits(data, (digit,))
        else:
            write_textures(data, VARIED if varied else None, name=texture)
    split = read_mvtec(cat)
    torch.manual_seed(seed)
    model = build("tiny", **VARIANTS[variant], **({} if digit is not None else TEXTURE))
    cfg = model.config
    images = load_batch(split.train, cfg.in_chans, cfg.image_size)
    fit, held = split_normals(len(images))
    settings = TrainSettings(iterations=iterations, seed=seed, flip=digit is None)
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    start = time.time()
    model, info = train_model(model, images[fit], images[held], settings, checkpoint=save,
                              training_command=command, log=lambda m: print(m, file=sys.stderr, flush=True))
    metrics = evaluate_items(model, split.test)
    if save is not None:
        from streammem.checkpoints import save_checkpoint

        save_checkpoint(save, model, model_name="memmc_mae", config=cfg.to_dict(), training_command=command,
                        data_seed=seed, metrics={**info, **{f"test_{k}": v for k, v in metrics.items()},
                                                 "data": cat.name})
    return {"digit": digit, "seed": seed, "variant": variant, "iterations": iterations,
            "train_s": round(time.time() - start, 1), **{k: round(v, 2) for k, v in metrics.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("runs/anomaly/data"))
    parser.add_argument("--digits", type=int, nargs="+", default=[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=["full", "no_memory"], choices=sorted(VARIANTS))
    parser.add_argument("--iterations", type=int, default=1500)
    parser.add_argument("--texture", action="store_true", help="the texture set instead of digits")
    parser.add_argument("--varied", action="store_true", help="with --texture: the texture_varied category "
                        "(period +-25%%, angle +-20 degrees per image)")
    parser.add_argument("--save", type=Path, default=None, help="write the (single) trained model here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for digit in [None] if args.texture else args.digits:
        for variant in args.variants:
            for seed in args.seeds:
                row = run(args.data, digit, seed, variant, args.iterations, args.save, args.varied)
                rows.append(row)
                print(json.dumps(row), flush=True)
    for variant in args.variants:
        auc = np.array([r["image_AUROC"] for r in rows if r["variant"] == variant])
        print(json.dumps({"variant": variant, "runs": len(auc), "image_AUROC_mean": round(float(auc.mean()), 2),
                          "image_AUROC_std": round(float(auc.std(ddof=1)) if len(auc) > 1 else 0.0, 2)}))


if __name__ == "__main__":
    main()
