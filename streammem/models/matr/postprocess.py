"""Online post-processing for On-TAL: per-step thresholding + NMS, emit only finished actions, causal NMS.

The On-TAL protocol (CAG-QIL, ICCV 2021; OAT, ECCV 2022) forbids revising the past: an action is emitted
once, when its predicted end has passed, and a later proposal overlapping an earlier emitted one of the
same class is dropped (never the other way round). Times: features index f spans [f, f+1)/rate seconds.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import batched_nms

__all__ = ["OnlineLocalizer", "group_frame_probabilities"]


class OnlineLocalizer:
    """Turns one stream's per-step MATR outputs into emitted actions; keeps only a bounded history.

    classes: class names (id = index); feature_rate: features per second; horizon: the longest a proposal
    can reach back, in features ((M+2)*S for MATR); kept actions that end before ``now - horizon`` can no
    longer overlap a new proposal and are forgotten, so the history stays bounded on endless streams.
    """

    def __init__(self, classes: list[str], feature_rate: float, horizon: float, score_threshold: float = 0.1,
                 nms_tiou: float = 0.3, video: str = "stream") -> None:
        self.classes = list(classes)
        self.rate = float(feature_rate)
        self.horizon = float(horizon)
        self.score_threshold = score_threshold
        self.nms_tiou = nms_tiou
        self.video = video
        self._kept: list[tuple[int, float, float]] = []  # (class, start, end) in features

    def push(self, logits: Tensor, start: Tensor, end: Tensor, now: float) -> list[dict]:
        """One step: logits (Q, C+1), start/end (Q,) in features, now in features -> newly emitted actions."""
        probs = logits.float().softmax(-1)[:, :-1]
        score, label = probs.max(-1)
        start = start.float().clamp(min=0.0)
        end = end.float()
        keep = (score >= self.score_threshold) & (end <= now) & (end > start)
        if not bool(keep.any()):
            self._forget(now)
            return []
        score, label, start, end = score[keep], label[keep], start[keep], end[keep]
        boxes = torch.stack([start, torch.zeros_like(start), end, torch.ones_like(start)], dim=1)
        order = batched_nms(boxes, score, label, self.nms_tiou)  # per-step class-wise NMS, best first
        emitted = []
        for i in order.tolist():
            c, s, e = int(label[i]), float(start[i]), float(end[i])
            if any(k == c and _tiou(s, e, ks, ke) > self.nms_tiou for k, ks, ke in self._kept):
                continue  # an earlier output wins: the past is never revised
            self._kept.append((c, s, e))
            emitted.append({"video": self.video, "label": self.classes[c], "start": s / self.rate, "end": e / self.rate,
                            "score": float(score[i]), "emitted_at": now / self.rate})
        self._forget(now)
        return emitted

    def _forget(self, now: float) -> None:
        self._kept = [k for k in self._kept if k[2] >= now - self.horizon]


def _tiou(s1: float, e1: float, s2: float, e2: float) -> float:
    inter = max(0.0, min(e1, e2) - max(s1, s2))
    union = (e1 - s1) + (e2 - s2) - inter
    return inter / union if union > 0 else 0.0


def group_frame_probabilities(probs: Tensor, classes: list[str], feature_rate: float, threshold: float = 0.3,
                              video: str = "stream") -> list[dict]:
    """OAD -> TAL baseline grouping (SimOn-style): per class, open on 0->1, close on 1->0, score = mean prob.

    probs (T, C+1) per-frame probabilities (background last), consumed in time order; an action is emitted
    at the step its class falls below ``threshold`` (or at the stream's end).
    """
    active = (probs[:, :-1] >= threshold).numpy()
    p = probs[:, :-1].numpy()
    steps, num_classes = active.shape
    out = []
    for c in range(num_classes):
        opened = -1
        for t in range(steps + 1):
            on = t < steps and bool(active[t, c])
            if on and opened < 0:
                opened = t
            elif not on and opened >= 0:
                out.append({"video": video, "label": classes[c], "start": opened / feature_rate, "end": t / feature_rate,
                            "score": float(p[opened:t, c].mean()), "emitted_at": min(t + 1, steps) / feature_rate})
                opened = -1
    return sorted(out, key=lambda a: a["emitted_at"])
