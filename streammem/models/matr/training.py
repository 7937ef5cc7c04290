"""Training and offline-equivalent evaluation of MATR and the OAD->TAL baseline on feature streams.

Legend: B videos per batch, T time steps, K sampled steps per video, F input dim.

Training follows the official recipe where it matters for the method (teacher-forced memory writes from
ground-truth flags, targets = instances ending near the current step, Hungarian matching, all losses
weight 1) and departs where CPU time forces it: AdamW with linear warmup + cosine decay at a higher rate,
K sampled steps per video instead of every step, and half of them drawn near action ends.
Model selection uses a held-out part of the training subset, never the test subset.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from streammem import distributed
from streammem.data.tal_features import TALSplit, TALVideo
from streammem.evaluation.functional.localization import localization_map
from streammem.models.matr.baseline import FrameClassifier
from streammem.models.matr.losses import matr_loss, step_targets, window_flags
from streammem.models.matr.model import MATR, MATRConfig
from streammem.models.matr.postprocess import OnlineLocalizer, group_frame_probabilities
from streammem.models.schedules import warmup_cosine
from streammem.progress import progress_bar

__all__ = [
    "TrainSettings", "train_model", "predict", "predict_matr", "predict_frames", "evaluate", "selection_split",
    "long_short_breakdown", "length_group", "class_agnostic",
]


@dataclass
class TrainSettings:
    """Optimisation knobs (defaults: the tiny config on the synthetic set, ~10 min on 2 CPU cores)."""

    iterations: int = 1500
    batch_size: int = 8
    steps_per_video: int = 48
    lr: float = 5e-4
    weight_decay: float = 1e-4
    warmup: int = 100
    grad_clip: float = 1.0
    eval_every: int = 250
    seed: int = 52
    oad_threshold: float = 0.3
    class_weight: float = 1.0  # weight of the focal class loss (the paper: 1, every loss weighted 1)


def selection_split(names: list[str], every: int = 8) -> tuple[list[str], list[str]]:
    """Split training videos into (fit, held-out selection): every ``every``-th name, sorted, is held out."""
    names = sorted(names)
    held = names[::every]
    return [n for n in names if n not in set(held)], held


def _segments_in_features(video: TALVideo) -> np.ndarray:
    """(G, 3) rows (class, start, end) in feature units."""
    if not video.segments:
        return np.zeros((0, 3))
    return np.array([(c, s * video.feature_rate, e * video.feature_rate) for c, s, e in video.segments], dtype=np.float64)


def _frame_labels(video: TALVideo, num_classes: int) -> np.ndarray:
    """(T,) class of the action covering each feature's centre; background = num_classes."""
    labels = np.full(len(video.features), num_classes, dtype=np.int64)
    centres = np.arange(len(video.features)) + 0.5
    for c, s, e in _segments_in_features(video):
        labels[(centres >= s) & (centres < e)] = int(c)
    return labels


def _sample_steps(segs: np.ndarray, length: int, k: int, cfg: MATRConfig, rng: np.random.Generator) -> np.ndarray:
    """K steps of one video: half uniform, half where an action end is a target (so positives are frequent)."""
    uniform = rng.integers(0, length, size=k - k // 2)
    if len(segs):
        ends = segs[rng.integers(0, len(segs), size=k // 2), 2]
        near = np.floor(ends + rng.uniform(-cfg.anticipate, cfg.detect_back, size=k // 2)).astype(np.int64) - 1
    else:
        near = rng.integers(0, length, size=k // 2)
    return np.clip(np.concatenate([uniform, near]), 0, length - 1)


def _pad(videos: list[TALVideo]) -> torch.Tensor:
    longest = max(len(v.features) for v in videos)
    x = torch.zeros(len(videos), longest, videos[0].features.shape[1])
    for i, v in enumerate(videos):
        x[i, : len(v.features)] = torch.from_numpy(np.asarray(v.features))  # a mapped video is read here
    return x


def _lr_factor(it: int, s: TrainSettings) -> float:
    return warmup_cosine(it, s.warmup, s.iterations)


def train_model(
    model: nn.Module,
    train: list[TALVideo],
    select: TALSplit,
    cfg: MATRConfig,
    settings: TrainSettings,
    on_checkpoint: Callable[[nn.Module, dict], None] | None = None,
    log: Callable[[str], None] = print,
    initial_eval: bool = False,
    device: torch.device | str = "cpu",
    amp: str | None = None,
    state_file: str | os.PathLike | None = None,
    resume_state: str | os.PathLike | None = None,
    stop_after: int | None = None,
) -> tuple[nn.Module, dict]:
    """Train ``model`` (MATR or FrameClassifier); keep the state with the best held-out mAP_avg.

    on_checkpoint(model, metrics) is called (rank 0) whenever the held-out score improves. ``initial_eval``
    scores the starting weights first (a warm restart from weights), so they stay a candidate for selection.
    ``state_file``: the training state written at every held-out evaluation (model, optimizer, schedule, random
    states, the best weights so far); ``resume_state``: such a file, from which the run continues exactly as the
    uninterrupted run would; ``stop_after``: end after that many iterations of the schedule, writing the state
    (a job with a time limit continues later with ``resume_state``). Under torchrun the batch is ``batch_size`` videos per process (see
    :mod:`streammem.training`). Returns (best model, its held-out metrics).
    """
    from streammem.training import Trainer

    device = torch.device(device)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    is_matr = isinstance(model, MATR)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: _lr_factor(it, settings))
    trainer = Trainer(model, opt, sched, device=device, amp=amp, grad_clip=settings.grad_clip)
    divisor = trainer.mean_divisor if trainer.world > 1 else None
    log = log if trainer.is_main else (lambda _: None)  # rank 0 alone logs
    segs = [_segments_in_features(v) for v in train]
    flags = [window_flags(s, len(v.features), cfg.segment_len) for s, v in zip(segs, train, strict=True)]
    frames = [_frame_labels(v, cfg.num_classes) for v in train]
    best, best_metrics, best_score = copy.deepcopy(model.state_dict()), {}, -1.0
    first, extra = trainer.resume(resume_state, asdict(settings))
    if resume_state is not None:
        rng.bit_generator.state = extra["numpy_rng"]
        best, best_metrics, best_score = extra["best"], extra["best_metrics"], float(extra["best_score"])
        log(f"resumed at iteration {first} from {resume_state} (best held-out mAP_avg so far {best_score:.2f})")
    elif initial_eval:
        best_metrics = evaluate(model, select, cfg, settings)
        best_score = best_metrics["mAP_avg"]
        log(f"it 0 (start weights) held-out mAP_avg {best_score:.2f} mAP@0.5 {best_metrics['mAP@0.5']:.2f}")
        if on_checkpoint is not None and trainer.is_main:
            on_checkpoint(model, best_metrics)
    bar = progress_bar(settings.iterations, desc="train tal", unit="it", items=range(first, settings.iterations),
                       initial=first, enabled=trainer.is_main)
    start_time = time.time()

    def state() -> dict:
        return {"settings": asdict(settings), "videos": len(train), "numpy_rng": rng.bit_generator.state,
                "best": best, "best_metrics": best_metrics, "best_score": best_score}

    for it in bar:
        if stop_after is not None and it >= stop_after:
            if state_file is not None:
                trainer.save_state(state_file, it, state())
            log(f"stopped after iteration {it} of {settings.iterations}; continue with --resume {state_file}")
            break
        model.train()
        idx = rng.choice(len(train), size=min(trainer.global_batch(settings.batch_size), len(train)), replace=False)
        if is_matr:  # drawn for the whole global batch on every rank: the random stream stays the same
            at = np.stack([_sample_steps(segs[i], len(train[i].features), settings.steps_per_video, cfg, rng) for i in idx])
            idx, at = trainer.shard(idx), trainer.shard(at)
        else:
            idx = trainer.shard(idx)
        batch = [train[i] for i in idx]
        x = _pad(batch).to(device)
        with trainer.autocast():
            if is_matr:
                gt_flags = torch.zeros(x.shape[:2], dtype=torch.bool)
                for row, i in enumerate(idx):
                    gt_flags[row, : len(flags[i])] = torch.from_numpy(flags[i])
                gt_flags = gt_flags.to(device)
                at_t = torch.from_numpy(at).to(device)
                out = trainer.call("forward_sequence", x, flags=gt_flags, at=at_t)
                flat = type(out)(*(t.reshape(-1, *t.shape[2:]) for t in out))
                targets = [tg for row, i in enumerate(idx) for tg in step_targets(segs[i], at[row] + 1.0, cfg)]
                flag_t = gt_flags.gather(1, at_t).float().reshape(-1)
                losses = matr_loss(flat, targets, flag_t, cfg, mean_divisor=divisor)
            else:
                logits = trainer.call("forward_sequence", x)
                labels = torch.full(x.shape[:2], -100, dtype=torch.long)
                for row, i in enumerate(idx):
                    labels[row, : len(frames[i])] = torch.from_numpy(frames[i])
                labels = labels.reshape(-1).to(device)
                flat_logits = logits.reshape(-1, logits.shape[-1]).float()
                if divisor is None:
                    losses = {"frame_ce": nn.functional.cross_entropy(flat_logits, labels)}
                else:
                    summed = nn.functional.cross_entropy(flat_logits, labels, reduction="sum")
                    losses = {"frame_ce": summed / divisor(int((labels != -100).sum()))}
        if "class" in losses:
            losses["class"] = settings.class_weight * losses["class"]
        loss = sum(losses.values())
        trainer.step(loss)
        if trainer.is_main and (it + 1) % 10 == 0:  # reading the loss waits for the device: not every step
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if (it + 1) % settings.eval_every == 0 or it + 1 == settings.iterations:
            metrics = evaluate(model, select, cfg, settings)
            parts = " ".join(f"{k}={v:.3f}" for k, v in losses.items())
            log(f"it {it + 1} ({time.time() - start_time:.0f}s) loss {loss.item():.3f} [{parts}] held-out mAP_avg "
                f"{metrics['mAP_avg']:.2f} mAP@0.5 {metrics['mAP@0.5']:.2f}")
            if metrics["mAP_avg"] > best_score:
                best_score, best_metrics = metrics["mAP_avg"], metrics
                best = copy.deepcopy(model.state_dict())
                if on_checkpoint is not None and trainer.is_main:
                    on_checkpoint(model, metrics)
            if state_file is not None:
                trainer.save_state(state_file, it + 1, state())
    model.load_state_dict(best)
    return model.eval(), best_metrics


@torch.no_grad()
def predict_matr(model: MATR, video: TALVideo, classes: list[str], block: int = 512) -> list[dict]:
    """Emitted actions of one video: the step loop's outputs (computed in blocks) through the online post-processor."""
    model.eval()
    x = torch.from_numpy(np.asarray(video.features)).unsqueeze(0).to(model.class_queries.device)
    T = x.shape[1]
    S = model.segment_len
    flag_logits = []
    proj = model.project(x)
    padded = torch.cat([proj.new_zeros(1, S - 1, model.d_model), proj], dim=1)
    windows = padded.unfold(1, S, 1).permute(0, 1, 3, 2)[0]
    for lo in range(0, T, block):
        flag_logits.append(model.encode(windows[lo : lo + block])[1])
    flags = (torch.sigmoid(torch.cat(flag_logits)) > model.flag_threshold).unsqueeze(0)
    post = OnlineLocalizer(classes, video.feature_rate, horizon=(model.memory_len + 2) * S, video=video.name)
    emitted = []
    for lo in range(0, T, block):
        at = torch.arange(lo, min(T, lo + block), device=x.device).unsqueeze(0)
        out = model.forward_sequence(x, flags=flags, at=at)
        logits, start, end, now = (t[0].cpu() for t in (out.logits, out.start, out.end, out.now))  # one copy a block
        for k in range(at.shape[1]):
            emitted += post.push(logits[k], start[k], end[k], float(now[k]))
    return emitted


@torch.no_grad()
def predict_frames(model: FrameClassifier, video: TALVideo, classes: list[str], threshold: float) -> list[dict]:
    """OAD->TAL baseline predictions of one video (per-frame probabilities grouped online)."""
    model.eval()
    x = torch.from_numpy(np.asarray(video.features)).unsqueeze(0).to(next(model.parameters()).device)
    probs = model.forward_sequence(x)[0].float().softmax(-1).cpu()
    return group_frame_probabilities(probs, classes, video.feature_rate, threshold, video=video.name)


def predict(model: nn.Module, video: TALVideo, classes: list[str], settings: TrainSettings | None = None) -> list[dict]:
    """Dispatch to the right predictor for MATR or the frame-classifier baseline."""
    if isinstance(model, MATR):
        return predict_matr(model, video, classes)
    return predict_frames(model, video, classes, (settings or TrainSettings()).oad_threshold)


def evaluate(model: nn.Module, split: TALSplit, cfg: MATRConfig, settings: TrainSettings | None = None,
             predictions: list[dict] | None = None) -> dict[str, float]:
    """mAP@0.3:0.1:0.7, mAP_avg and latency_s of ``model`` on ``split`` (streams processed online)."""
    if predictions is None:  # under torchrun each rank predicts whole videos of its shard, gathered in order
        mine = [predict(model, v, split.classes, settings) for v in distributed.shard(split.videos)]
        predictions = [p for video in distributed.gather(mine) for p in video]
    return localization_map(split.ground_truth(), predictions)


def length_group(gt: list[dict], predictions: list[dict], segment_seconds: float,
                 is_long: bool) -> tuple[list[dict], list[dict]]:
    """The ground truth longer than one segment (``is_long``) or not, and the predictions that belong with it:
    all but those whose best-overlapping ground truth (same video, any class) is in the other group."""
    keep_gt = [g for g in gt if ((g["end"] - g["start"]) > segment_seconds) == is_long]
    by_video: dict[str, list[dict]] = {}
    for g in gt:
        by_video.setdefault(g["video"], []).append(g)
    preds = []
    for p in predictions:
        cands = by_video.get(p["video"], [])
        overlaps = [max(0.0, min(p["end"], g["end"]) - max(p["start"], g["start"])) for g in cands]
        if overlaps and max(overlaps) > 0:
            g = cands[int(np.argmax(overlaps))]
            if ((g["end"] - g["start"]) > segment_seconds) != is_long:
                continue
        preds.append(p)
    return keep_gt, preds


def long_short_breakdown(split: TALSplit, predictions: list[dict], segment_seconds: float) -> dict[str, float]:
    """mAP on long (> one segment) and short ground truth separately.

    Predictions whose best-overlapping ground truth (same video, any class) belongs to the other group are
    left out, so detections of short actions do not count as false positives of long ones and vice versa.
    """
    gt = split.ground_truth()
    out = {}
    for name, is_long in (("long", True), ("short", False)):
        keep_gt, preds = length_group(gt, predictions, segment_seconds, is_long)
        if keep_gt:
            metrics = localization_map(keep_gt, preds)
            out.update({f"{name}/{k}": v for k, v in metrics.items()})
            out[f"{name}/count"] = len(keep_gt)
    return out


def class_agnostic(split: TALSplit, predictions: list[dict], segment_seconds: float) -> dict[str, float]:
    """Localization quality alone: every class renamed to one, so only boundaries (and scores) matter.

    Reported overall and for long / short ground truth (same filtering as :func:`long_short_breakdown`).
    """
    one = TALSplit(split.videos, ["action"] * len(split.classes), split.skipped)
    merged = [{**p, "label": "action"} for p in predictions]
    out = {f"agnostic/{k}": v for k, v in localization_map(one.ground_truth(), merged).items()}
    out.update({f"agnostic/{k}": v for k, v in long_short_breakdown(one, merged, segment_seconds).items()})
    return out
