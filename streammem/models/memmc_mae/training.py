"""Training MemMC-MAE on normal images only, with held-out normals for model selection and calibration.

Legend: N images, C channels, S model input side.

The recipe is MAE's (AdamW, weight decay 0.05, linear warm-up then cosine decay, 75% random masking, MSE
on masked patches) at a higher learning rate and a small batch so the ``tiny`` config trains on two CPU
cores in minutes. Model selection uses the mean deterministic score of held-out *normal* images (lower is
better): no anomaly is ever seen, as the one-class protocol requires.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from streammem.checkpoints import save_checkpoint
from streammem.models.memmc_mae.model import MemMCMAE
from streammem.models.memmc_mae.scoring import fit_calibration, score_images
from streammem.models.schedules import warmup_cosine

__all__ = ["TrainSettings", "train_model", "split_normals"]


@dataclass
class TrainSettings:
    """Optimisation knobs; defaults train ``tiny`` on one digit's ~140 normals in a few minutes on 2 cores."""

    iterations: int = 1500
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: int = 100
    grad_clip: float = 1.0
    eval_every: int = 250
    log_every: int = 50
    seed: int = 0
    flip: bool = False  # horizontal-flip augmentation (off for digits, whose mirror images are not normal)


def split_normals(count: int, every: int = 10) -> tuple[list[int], list[int]]:
    """Indices of the training normals split into (fit, held-out): every ``every``-th one is held out."""
    held = list(range(0, count, every))
    held_set = set(held)
    return [i for i in range(count) if i not in held_set], held


def _lr_factor(it: int, s: TrainSettings) -> float:
    return warmup_cosine(it, s.warmup, s.iterations)


def train_model(
    model: MemMCMAE,
    train_images: torch.Tensor,
    val_images: torch.Tensor,
    settings: TrainSettings,
    device: torch.device | str = "cpu",
    checkpoint: str | Path | None = None,
    training_command: str = "",
    log: Callable[[str], None] = print,
    amp: str | None = None,
    state_file: str | Path | None = None,
    resume_state: str | Path | None = None,
    stop_after: int | None = None,
) -> tuple[MemMCMAE, dict[str, float]]:
    """Train on ``train_images`` (N, C, H, W) uint8 normals; select and calibrate on ``val_images`` normals.

    Every ``eval_every`` iterations the held-out normals are scored; the best weights (lowest mean score)
    are kept and, when ``checkpoint`` is given, written there atomically with their calibration (rank 0), and
    the training state goes to ``state_file``; a run continued from it (``resume_state``) reaches the weights of
    the uninterrupted run; ``stop_after``: end after that many iterations, writing the state. Under torchrun each process takes ``batch_size`` images of every global batch (see
    :mod:`streammem.training`). Returns (the best model, calibrated, in eval mode; its validation figures).
    """
    from streammem.training import Trainer

    device = torch.device(device)
    torch.manual_seed(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    model.to(device)
    train_images = train_images.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay,
                            betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: _lr_factor(it, settings))
    trainer = Trainer(model, opt, sched, device=device, amp=amp, grad_clip=settings.grad_clip)
    log = log if trainer.is_main else (lambda _: None)  # rank 0 alone logs
    best_state, best_score, best_info = copy.deepcopy(model.state_dict()), math.inf, {}
    running = torch.zeros((), device=device)
    first, extra = trainer.resume(resume_state, asdict(settings))
    if resume_state is not None:
        gen.set_state(extra["generator"])
        best_state, best_score, best_info = extra["best"], float(extra["best_score"]), extra["best_info"]
        running = extra["running"].to(device)
        log(f"resumed at iteration {first} from {resume_state}")
    start = time.time()

    def state() -> dict:
        return {"settings": asdict(settings), "images": len(train_images), "generator": gen.get_state(),
                "best": best_state, "best_score": best_score, "best_info": best_info, "running": running}

    for it in range(first, settings.iterations):
        if stop_after is not None and it >= stop_after:
            if state_file is not None:
                trainer.save_state(state_file, it, state())
            log(f"stopped after iteration {it} of {settings.iterations}; continue with --resume {state_file}")
            break
        model.train()
        size = trainer.global_batch(settings.batch_size)
        idx = torch.randint(0, len(train_images), (size,), generator=gen).to(device)
        batch = train_images[idx]
        if settings.flip:
            flip = (torch.rand(len(batch), generator=gen) < 0.5).to(device)
            batch = torch.where(flip.view(-1, 1, 1, 1), batch.flip(-1), batch)
        with trainer.autocast():
            if trainer.world == 1:
                loss, _ = model.training_loss(batch)
            else:  # the masks of the global batch, drawn alike on every rank; each keeps its rows
                noise = torch.rand(size, model.num_patches, device=device)
                loss, _ = trainer.call("training_loss", trainer.shard(batch), noise=trainer.shard(noise))
        trainer.step(loss)
        running = running + loss.detach()
        if (it + 1) % settings.log_every == 0:
            mean = trainer.all_mean(running.item() / settings.log_every)
            log(f"it {it + 1}/{settings.iterations} ({time.time() - start:.0f}s) "
                f"loss {mean:.4f} lr {sched.get_last_lr()[0]:.2e}")
            running = torch.zeros((), device=device)
        if (it + 1) % settings.eval_every == 0 or it + 1 == settings.iterations:
            scores, _ = score_images(model, val_images, device=device)
            mean = float(scores.mean())
            log(f"it {it + 1}: held-out normals mean score {mean:.4f} (best {min(best_score, mean):.4f})")
            if mean < best_score:
                best_score, best_state = mean, copy.deepcopy(model.state_dict())
                best_info = {"iteration": it + 1, "val_mean_score": mean}
                if checkpoint is not None and trainer.is_main:
                    _save(model, val_images, device, checkpoint, training_command, settings.seed, best_info)
            if state_file is not None:
                trainer.save_state(state_file, it + 1, state())
    model.load_state_dict(best_state)
    scores, maps = score_images(model, val_images, device=device)
    best_info.update(fit_calibration(model, scores, maps))
    return model.eval(), best_info


def _save(model: MemMCMAE, val_images: torch.Tensor, device: torch.device, path: str | Path, command: str,
          seed: int, info: dict[str, float]) -> None:
    """Calibrate the current weights on the held-out normals and write them (atomic safetensors + JSON)."""
    scores, maps = score_images(model, val_images, device=device)
    fitted = fit_calibration(model, scores, maps)
    save_checkpoint(path, model, model_name="memmc_mae", config=model.config.to_dict(),
                    training_command=command, data_seed=seed, metrics={**info, **fitted})
