"""MATR training targets and losses: Hungarian matching, focal classification, start bins, L1, 1-D DIoU, flag BCE.

Legend: N sampled steps (flattened B*K), Q queries, C classes (+1 background), G targets of one step,
M memory length (M+2 start bins). Offsets are in segments: start offset (now - start)/S, end (now - end)/S.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from streammem.models.matr.model import MATRConfig, MATROutput

__all__ = ["step_targets", "window_flags", "matr_loss"]


def window_flags(segments: np.ndarray, num_steps: int, segment_len: int) -> np.ndarray:
    """Ground-truth flag per step: does the segment ending there overlap an action by > 1%? (T,) bool.

    segments: (G, 3) rows (class, start, end) in feature units.
    """
    cover = np.zeros(num_steps + 1)
    for _, s, e in segments:
        lo, hi = max(s, 0.0), min(e, float(num_steps))
        if hi <= lo:
            continue
        idx = np.arange(int(np.floor(lo)), int(np.ceil(hi)))
        cover[idx] += np.clip(np.minimum(idx + 1, hi) - np.maximum(idx, lo), 0, 1)
    cover = np.minimum(cover[:num_steps], 1.0)
    summed = np.convolve(cover, np.ones(segment_len))[:num_steps]  # sum over the window ending at t
    return summed / segment_len > 0.01


def step_targets(segments: np.ndarray, now: np.ndarray, cfg: MATRConfig) -> list[np.ndarray]:
    """Targets of each step: instances whose end lies in (now - detect_back, now + anticipate], at most Q.

    segments (G, 3) (class, start, end) in features; now (K,) -> per step an array (g, 3) of
    (class, start offset, end offset) in segments.
    """
    out = []
    for n in now:
        hit = segments[(segments[:, 2] > n - cfg.detect_back) & (segments[:, 2] <= n + cfg.anticipate)]
        hit = hit[np.argsort(-hit[:, 2])][: cfg.num_queries]
        out.append(np.stack([hit[:, 0], (n - hit[:, 1]) / cfg.segment_len, (n - hit[:, 2]) / cfg.segment_len], 1))
    return out


def _interval_iou(a_lo: Tensor, a_hi: Tensor, b_lo: Tensor, b_hi: Tensor) -> tuple[Tensor, Tensor]:
    """1-D IoU and DIoU of intervals (broadcasting); lengths below 0 count as 0."""
    inter = (torch.minimum(a_hi, b_hi) - torch.maximum(a_lo, b_lo)).clamp(min=0)
    union = (a_hi - a_lo).clamp(min=0) + (b_hi - b_lo).clamp(min=0) - inter
    iou = inter / union.clamp(min=1e-6)
    enclose = (torch.maximum(a_hi, b_hi) - torch.minimum(a_lo, b_lo)).clamp(min=1e-6)
    centre = ((a_lo + a_hi) - (b_lo + b_hi)) / 2
    return iou, iou - (centre / enclose) ** 2


def matr_loss(out: MATROutput, targets: list[np.ndarray], flag_targets: Tensor, cfg: MATRConfig,
              alpha: float = 0.25, gamma: float = 2.0,
              mean_divisor: Callable[[float], float] | None = None) -> dict[str, Tensor]:
    """All MATR losses (weight 1 each) over N sampled steps; outputs have leading dims flattened to (N,).

    targets: per step (g, 3) from :func:`step_targets`; flag_targets (N,) float. Tensors are made on the
    outputs' device; the Hungarian matching moves all cost matrices to the CPU in one transfer. Under mixed
    precision the losses are computed in float32. ``mean_divisor`` (many processes, see
    :meth:`streammem.training.Trainer.mean_divisor`): normalise the matched-pair and class losses by the count over
    every rank's batch, so the averaged gradient is that of the global batch.
    """
    out = type(out)(*(t.float() for t in out))  # no-op in float32
    device = out.logits.device
    n_steps, q, c1 = out.logits.shape
    bg = c1 - 1
    nbins = out.start_logits.shape[-1]
    probs = out.logits.softmax(-1)
    bins = out.start_logits.argmax(-1, keepdim=True)
    pred_start = (bins.float() + out.start_residual.gather(-1, bins)).squeeze(-1)  # (N, Q) offsets
    rows, cols, tgt = [], [], []
    with torch.no_grad():
        steps, costs = [], []
        for n, t in enumerate(targets):
            if len(t) == 0:
                continue
            tt = torch.as_tensor(t, dtype=probs.dtype, device=device)
            iou, _ = _interval_iou(out.end_offset[n][:, None], pred_start[n][:, None], tt[None, :, 2], tt[None, :, 1])
            steps.append(n)
            costs.append(-probs[n][:, tt[:, 0].long()] - iou)
        if costs:  # one device -> host transfer for every matching of the batch
            flat = torch.cat([c.reshape(-1) for c in costs]).cpu().numpy()
            offset = 0
            for n, c in zip(steps, costs, strict=True):
                cost = flat[offset : offset + c.numel()].reshape(c.shape)
                offset += c.numel()
                qi, gi = linear_sum_assignment(cost)
                rows += [n] * len(qi)
                cols += qi.tolist()
                tgt.append(targets[n][gi])
    num = max(len(rows), 1) if mean_divisor is None else mean_divisor(len(rows))
    classes = torch.full((n_steps, q), bg, dtype=torch.long, device=device)
    logp = out.logits.log_softmax(-1)
    losses = {"flag": F.binary_cross_entropy_with_logits(out.flag_logit, flag_targets.float())}
    if rows:
        r = torch.tensor(rows, device=device)
        c = torch.tensor(cols, device=device)
        t = torch.as_tensor(np.concatenate(tgt), dtype=out.end_offset.dtype, device=device)
        cls, s_off, e_off = t[:, 0].long(), t[:, 1], t[:, 2]
        classes[r, c] = cls
        gt_bin = s_off.floor().clamp(0, nbins - 1).long()
        res = out.start_residual[r, c].gather(-1, gt_bin[:, None]).squeeze(-1)
        start = gt_bin.float() + res
        end = out.end_offset[r, c]
        if mean_divisor is None:  # (the order of these operations fixes the rounding of seeded runs)
            losses["start_bin"] = F.cross_entropy(out.start_logits[r, c], gt_bin)
            losses["l1"] = (res - (s_off - gt_bin.float())).abs().mean() + (end - e_off).abs().mean()
            _, diou = _interval_iou(end, start, e_off, s_off)
            losses["diou"] = (1 - diou).mean()
        else:
            losses["start_bin"] = F.cross_entropy(out.start_logits[r, c], gt_bin, reduction="sum") / num
            losses["l1"] = ((res - (s_off - gt_bin.float())).abs().sum() + (end - e_off).abs().sum()) / num
            _, diou = _interval_iou(end, start, e_off, s_off)
            losses["diou"] = (1 - diou).sum() / num
    logp_t = logp.gather(-1, classes.unsqueeze(-1)).squeeze(-1)
    focal = -alpha * (1 - logp_t.exp()) ** gamma * logp_t  # softmax focal loss (Lin et al., 2017)
    losses["class"] = focal.sum() / num
    return losses
