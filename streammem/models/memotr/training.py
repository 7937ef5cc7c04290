"""MeMOTR training on clips: TALA assignment, focal/L1/GIoU with aux losses, collective average loss.

Legend: B clips, T frames, N detect queries, K track slots, Y decoder layers, n GT objects in a frame.

Follows MeMOTR's ``models/criterion.py``/``query_updater.py``: a track query keeps its GT id; detect queries
are Hungarian-matched to the GTs no track holds (layer 0 to all GTs); unmatched detections above 0.5 and
tracks whose IoU to their GT falls below 0.5 become negative track queries (id -1). Losses are summed over
frames and layers and divided by the clip's GT count. One deviation, for occlusions longer than a clip
step: a track whose GT is absent keeps its id (target: no object) until ``miss_tolerance`` frames pass,
so the frozen query learns to re-acquire its object (``train_keep_occluded``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor
from torchvision.ops import (
    box_convert,
    box_iou,
    generalized_box_iou,
    generalized_box_iou_loss,
    sigmoid_focal_loss,
)

from streammem.models.memotr.data import Sequence, clip_batches
from streammem.models.memotr.model import MeMOTR, TrackState

__all__ = ["clip_loss", "param_groups", "train_loop"]

FOCAL_ALPHA = 0.25
FOCAL_GAMMA = 2.0


def _match(logits: Tensor, boxes: Tensor, gt_boxes: Tensor, cfg) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian matching of queries (N) to GTs (n) with DETR's focal/L1/GIoU cost; returns index arrays."""
    if gt_boxes.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    p = logits.sigmoid()[:, 0]
    neg = (1 - FOCAL_ALPHA) * p.pow(FOCAL_GAMMA) * -(1 - p + 1e-8).log()
    pos = FOCAL_ALPHA * (1 - p).pow(FOCAL_GAMMA) * -(p + 1e-8).log()
    cost = (cfg.cls_weight * (pos - neg)[:, None] + cfg.l1_weight * torch.cdist(boxes, gt_boxes, p=1)
            - cfg.giou_weight * generalized_box_iou(box_convert(boxes, "cxcywh", "xyxy"),
                                                    box_convert(gt_boxes, "cxcywh", "xyxy")))
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    return rows.astype(np.int64), cols.astype(np.int64)


def _box_losses(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    if pred.shape[0] == 0:
        zero = pred.sum() * 0.0
        return zero, zero
    l1 = (pred - target).abs().sum()
    giou = generalized_box_iou_loss(box_convert(pred, "cxcywh", "xyxy"), box_convert(target, "cxcywh", "xyxy"),
                                    reduction="sum")
    return l1, giou


def clip_loss(model: MeMOTR, frames: Tensor, targets: list[list[tuple[Tensor, Tensor]]],
              mean_divisor: Callable[[float], float] | None = None) -> tuple[Tensor, dict[str, float]]:
    """Loss of one batch of clips.

    Args:
        frames: (B, T, 3, H, W) normalised images.
        targets: targets[t][b] = (ids (n,), boxes (n, 4) normalised cx, cy, w, h), on the frames' device.
        mean_divisor: many processes (see :meth:`streammem.training.Trainer.mean_divisor`): divide by the GT
            count over every process's clips (as DETR all-reduces its number of boxes).
    Returns:
        the collective average loss and logged parts.
    """
    cfg = model.cfg
    dev = frames.device
    b_size, t_size = frames.shape[0], frames.shape[1]
    state = model.initial_state(b_size)
    gt_of = torch.full((b_size, model.max_tracks), -1, dtype=torch.long, device=dev)
    misses = torch.zeros(b_size, model.max_tracks, dtype=torch.long, device=dev)
    count = sum(int(targets[t][b][0].numel()) for t in range(t_size) for b in range(b_size))
    num_gt = max(count, 1) if mean_divisor is None else mean_divisor(count)
    parts = {"cls": frames.new_zeros(()), "l1": frames.new_zeros(()), "giou": frames.new_zeros(())}
    for t in range(t_size):
        memory, shapes = model.encode(frames[:, t])
        dec = model.decode(memory, shapes, state.query, state.ref, state.alive)
        y_size, n = dec.det_logits.shape[0], model.num_queries
        born = torch.zeros(b_size, n, dtype=torch.bool, device=dev)
        priority = torch.zeros(b_size, n, device=dev)
        born_gt = torch.full((b_size, n), -1, dtype=torch.long, device=dev)
        det_scores = dec.det_logits[-1].detach().sigmoid().amax(-1)
        trk_scores = dec.trk_logits[-1].detach().sigmoid().amax(-1)
        for b in range(b_size):
            ids, gt_boxes = targets[t][b]
            index_of = {int(i): j for j, i in enumerate(ids.tolist())}
            alive = state.alive[b]
            slot_target = torch.tensor([index_of.get(int(g), -1) if a and g >= 0 else -1
                                        for a, g in zip(alive.tolist(), gt_of[b].tolist(), strict=True)], device=dev)
            held = {int(g) for a, g in zip(alive.tolist(), gt_of[b].tolist(), strict=True) if a and g >= 0}
            free_gt = torch.tensor([j for j, i in enumerate(ids.tolist()) if i not in held], dtype=torch.long, device=dev)
            alive_slots = alive.nonzero().flatten()
            trk_matched = slot_target[alive_slots]
            for y in range(y_size):
                cand = torch.arange(ids.numel(), device=dev) if y == 0 else free_gt
                logits, boxes = dec.det_logits[y, b], dec.det_boxes[y, b]
                rows, cols = _match(logits.detach(), boxes.detach(), gt_boxes[cand], cfg)
                rows_t, gt_idx = torch.from_numpy(rows).to(dev), cand[torch.from_numpy(cols).to(dev)]
                if y > 0:  # tracks take part from layer 1 on
                    logits = torch.cat((logits, dec.trk_logits[y - 1, b, alive_slots]))
                    boxes = torch.cat((boxes, dec.trk_boxes[y - 1, b, alive_slots]))
                    has = trk_matched >= 0
                    rows_t = torch.cat((rows_t, n + has.nonzero().flatten()))
                    gt_idx = torch.cat((gt_idx, trk_matched[has]))
                target = torch.zeros_like(logits)
                target[rows_t, 0] = 1.0
                parts["cls"] = parts["cls"] + sigmoid_focal_loss(logits, target, FOCAL_ALPHA, FOCAL_GAMMA, "sum")
                l1, giou = _box_losses(boxes[rows_t], gt_boxes[gt_idx])
                parts["l1"] = parts["l1"] + l1
                parts["giou"] = parts["giou"] + giou
                if y == y_size - 1:  # newborns from the final layer's matching of untracked GTs
                    born[b, rows_t[: len(rows)]] = True
                    priority[b, rows_t[: len(rows)]] = 2.0
                    born_gt[b, rows_t[: len(rows)]] = ids[cand[torch.from_numpy(cols).to(dev)]]
            # negative track queries: confident unmatched detections
            fp = (det_scores[b] > cfg.det_thresh) & ~born[b]
            born[b] |= fp
            priority[b] = torch.where(fp, det_scores[b], priority[b])
            # existing tracks: IoU < 0.5 to their GT -> negative; absent GT -> a miss
            for k in alive_slots.tolist():
                j = int(slot_target[k])
                if j >= 0:
                    iou = box_iou(box_convert(dec.trk_boxes[-1, b, k : k + 1].detach(), "cxcywh", "xyxy"),
                                  box_convert(gt_boxes[j : j + 1], "cxcywh", "xyxy"))[0, 0]
                    misses[b, k] = 0
                    if iou < 0.5:
                        gt_of[b, k] = -1
                elif gt_of[b, k] >= 0:
                    misses[b, k] += 1
                    if not cfg.train_keep_occluded:
                        gt_of[b, k] = -1
        negative_low = (gt_of < 0) & (trk_scores <= cfg.update_thresh)
        dead = state.alive & (negative_low | (misses >= model.miss_tolerance))
        alive = state.alive & ~dead
        src, born_slot = model.assign_slots(born, priority, ~alive)
        gt_of = torch.where(born_slot, born_gt.gather(1, src), torch.where(alive, gt_of, torch.full_like(gt_of, -1)))
        misses = torch.where(alive & ~born_slot, misses, torch.zeros_like(misses))
        b3 = born_slot.unsqueeze(-1)
        out = torch.where(b3, model.gather_slots(dec.det_out, src), dec.trk_out)
        pre = torch.where(b3, model.gather_slots(dec.det_pre, src), dec.trk_pre)
        boxes = torch.where(b3, model.gather_slots(dec.det_boxes[-1], src), dec.trk_boxes[-1])
        scores = torch.where(born_slot, det_scores.gather(1, src), trk_scores)
        alive = alive | born_slot
        if cfg.tp_drop > 0:  # MOTR/MeMOTR TP_DROP_RATE: drop true tracks so detect queries learn to re-detect
            drop = alive & (gt_of >= 0) & (torch.rand(alive.shape, device=dev) < cfg.tp_drop)
            alive, born_slot = alive & ~drop, born_slot & ~drop
            gt_of = torch.where(drop, torch.full_like(gt_of, -1), gt_of)
        query, ref, last, mem = model.update_tracks(out, pre, boxes, scores, born_slot, alive, state)
        state = TrackState(query, ref, last, mem, alive, gt_of, misses, state.next_id)
    loss = (cfg.cls_weight * parts["cls"] + cfg.l1_weight * parts["l1"] + cfg.giou_weight * parts["giou"]) / num_gt
    return loss, {k: float(v.detach()) / num_gt for k, v in parts.items()}


def param_groups(model: MeMOTR) -> list[dict]:
    """AdamW groups as MeMOTR: backbone, sampling offsets (and anchors), the rest."""
    cfg = model.cfg
    backbone, points, rest = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("backbone."):
            backbone.append(p)
        elif "sampling_offsets" in name or name.startswith("det_anchor"):
            points.append(p)
        else:
            rest.append(p)
    return [{"params": rest, "lr": cfg.lr}, {"params": backbone, "lr": cfg.lr_backbone},
            {"params": points, "lr": cfg.lr_points}]


def clip_length(cfg, progress: float) -> int:
    """Clip length grows with training progress (MeMOTR: 2 -> 3 -> 4 -> 5)."""
    return cfg.clip_lengths[sum(progress >= m for m in cfg.clip_milestones)]


def train_loop(model: MeMOTR, seqs: list[Sequence], iterations: int, batch_size: int, seed: int,
               on_checkpoint: Callable[[int], None] | None = None, checkpoint_every_s: float = 120.0,
               lr_drop: float = 0.8, progress: bool = True, log: Callable[[str], None] = print,
               workers: int = 0, device: torch.device | str = "cpu", amp: str | None = None,
               state_file: str | os.PathLike | None = None,
               resume_state: str | os.PathLike | None = None) -> dict[str, float]:
    """Train for ``iterations`` steps of ``batch_size`` clips; LR x0.1 after ``lr_drop`` of them. Clips are
    decoded on demand, by ``workers`` DataLoader processes ahead of the step when > 0.

    ``on_checkpoint(it)`` is called (rank 0) every ``checkpoint_every_s`` seconds, and the training state goes to
    ``state_file`` then and at the end; ``resume_state`` continues from such a state exactly (the clips of the
    iterations done are drawn again and passed over). Under torchrun every process draws the clips of
    ``batch_size`` x processes and keeps its share (see :mod:`streammem.training`).
    """
    from streammem.progress import progress_bar
    from streammem.training import Trainer

    cfg = model.cfg
    device = torch.device(device)
    torch.manual_seed(seed)
    model.to(device)
    optimizer = torch.optim.AdamW(param_groups(model), lr=cfg.lr, weight_decay=cfg.weight_decay)
    base = [g["lr"] for g in optimizer.param_groups]
    trainer = Trainer(model, optimizer, None, device=device, amp=amp,
                      grad_clip=cfg.grad_clip if cfg.grad_clip > 0 else None)
    log = log if trainer.is_main else (lambda _: None)  # rank 0 alone logs
    divisor = trainer.mean_divisor if trainer.world > 1 else None
    lengths = [clip_length(cfg, it / iterations) for it in range(iterations)]
    batches = clip_batches(seqs, lengths, trainer.global_batch(batch_size), cfg.max_stride, seed, workers)
    settings = {"iterations": iterations, "batch_size": batch_size, "seed": seed, "lr_drop": lr_drop}
    first, extra = trainer.resume(resume_state, settings)
    running: dict[str, float] = dict(extra.get("running", {}))
    for _ in range(first):  # the same clip stream: the batches already trained on are drawn and passed over
        next(batches)
    model.train()
    last_save = time.monotonic()
    bar = progress_bar(iterations, desc="train track", enabled=progress and trainer.is_main,
                       items=range(first, iterations), initial=first)
    it = first
    for it in bar:
        scale = 0.1 if it >= lr_drop * iterations else 1.0
        for g, lr in zip(optimizer.param_groups, base, strict=True):
            g["lr"] = lr * scale
        length = lengths[it]
        clips = trainer.shard(next(batches))
        frames = torch.stack([c[0] for c in clips]).to(device)
        targets = [[tuple(x.to(device) for x in c[1][t]) for c in clips] for t in range(length)]
        with trainer.autocast():
            loss, parts = trainer.call(clip_loss, frames, targets, divisor)
        trainer.step(loss)
        parts["loss"] = float(loss.detach())
        for k, v in parts.items():
            running[k] = v if k not in running else 0.98 * running[k] + 0.02 * v
        if math.isnan(parts["loss"]):
            raise FloatingPointError(f"train track: loss is NaN at iteration {it}")
        bar.set_postfix(loss=f"{running['loss']:.3f}", len=length)
        if not progress and it % 50 == 0:
            log(f"it {it} len {length} " + " ".join(f"{k} {v:.4f}" for k, v in running.items()))
        if trainer.agree(time.monotonic() - last_save > checkpoint_every_s):
            if on_checkpoint is not None and trainer.is_main:
                on_checkpoint(it)
            if state_file is not None:
                trainer.save_state(state_file, it + 1, {"settings": settings, "running": running})
            last_save = time.monotonic()
    if state_file is not None and iterations > first:
        trainer.save_state(state_file, iterations, {"settings": settings, "running": running})
    model.eval()
    return running
