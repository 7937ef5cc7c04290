"""Train the tiny AMT SimulST model on the synthetic corpus, one stage per call, with checkpoints.

  python tools/experiments/simulst_train.py CORPUS OUT --stage asr --minutes 5
  python tools/experiments/simulst_train.py CORPUS OUT --stage st --init OUT/asr.safetensors --minutes 10

Writes OUT/<stage>.safetensors (+ .json) every ``--checkpoint-every`` steps and at the end.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch

from streammem.checkpoints import load_metadata, load_weights, save_checkpoint
from streammem.models import build_model
from streammem.models.amt_simulst.training import TrainOptions, train


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("corpus", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--stage", choices=("asr", "st"), required=True)
    p.add_argument("--init", type=Path, help="weights to start from (the asr stage's, for st)")
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--max-steps", type=int, default=100000)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, e.g. memory_size=0")
    p.add_argument("--device", default="cpu")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    from streammem.models.config import parse_overrides

    overrides = parse_overrides(a.set)
    if a.init is not None:
        model = build_model("amt_simulst", load_metadata(a.init)["config"], **overrides)
        load_weights(model, a.init, expect_model="amt_simulst")
    else:
        model = build_model("amt_simulst", "tiny", **overrides)
    command = " ".join(shlex.quote(x) for x in ["python", *sys.argv])
    path = a.out / f"{a.stage}.safetensors"

    def checkpoint(m: torch.nn.Module, step: int) -> None:
        save_checkpoint(path, m, model_name="amt_simulst", config=m.config.to_dict(), training_command=command,
                        data_seed=0, metrics={"step": step})

    options = TrainOptions(stage=a.stage, minutes=a.minutes, max_steps=a.max_steps, lr=a.lr, seed=a.seed)
    print(train(model, a.corpus, options, device=a.device, checkpoint=checkpoint), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
