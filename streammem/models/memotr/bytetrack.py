"""Tracking-by-detection baseline: constant-velocity Kalman filter + two-stage Hungarian IoU association
(ByteTrack, Zhang et al., ECCV 2022) over a detector's boxes.

Hand-written with numpy and scipy's ``linear_sum_assignment`` because no maintained tracker package is
installed here (``supervision``/``boxmot`` are not dependencies). It runs on MeMOTR's own detect queries so the
comparison isolates association.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["ByteTrackLite"]


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between (n, 4) and (m, 4) x1, y1, x2, y2 boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter + 1e-9)


def _to_xyxy(cxcywh: np.ndarray) -> np.ndarray:
    c, s = cxcywh[..., :2], cxcywh[..., 2:4]
    return np.concatenate([c - s / 2, c + s / 2], axis=-1)


@dataclass
class _Track:
    track_id: int
    mean: np.ndarray  # cx, cy, w, h, vx, vy, vw, vh
    cov: np.ndarray
    missed: int = 0
    hits: int = 1
    box: np.ndarray = field(default_factory=lambda: np.zeros(4))


class ByteTrackLite:
    """Online tracker over per-frame detections (pixel x1, y1, x2, y2 boxes and scores).

    Args:
        high: detections above it are matched first and may start tracks.
        low: detections between ``low`` and ``high`` recover tracked objects in the second stage.
        match_iou: minimum IoU for the first-stage match (0.2, ByteTrack's 0.8 cost threshold).
        max_age: frames a lost track is kept (MeMOTR's miss tolerance, for a like-for-like comparison).
    """

    _F = np.eye(8) + np.eye(8, k=4)
    _H = np.eye(4, 8)

    def __init__(self, high: float = 0.5, low: float = 0.1, match_iou: float = 0.2, max_age: int = 30) -> None:
        self.high, self.low, self.match_iou, self.max_age = high, low, match_iou, max_age
        self.tracks: list[_Track] = []
        self.next_id = 0

    def _noise(self, h: float) -> tuple[np.ndarray, np.ndarray]:
        pos, vel = 1.0 / 20, 1.0 / 160  # ByteTrack's weights, relative to the box height
        q = np.diag(np.square([pos * h] * 4 + [vel * h] * 4))
        r = np.diag(np.square([pos * h] * 4))
        return q, r

    def _predict(self) -> None:
        for t in self.tracks:
            q, _ = self._noise(max(t.mean[3], 1.0))
            t.mean = self._F @ t.mean
            t.cov = self._F @ t.cov @ self._F.T + q

    def _update(self, t: _Track, box: np.ndarray) -> None:
        z = np.concatenate([(box[:2] + box[2:]) / 2, box[2:] - box[:2]])
        _, r = self._noise(max(z[3], 1.0))
        s = self._H @ t.cov @ self._H.T + r
        gain = t.cov @ self._H.T @ np.linalg.inv(s)
        t.mean = t.mean + gain @ (z - self._H @ t.mean)
        t.cov = (np.eye(8) - gain @ self._H) @ t.cov
        t.missed, t.hits, t.box = 0, t.hits + 1, box

    def _associate(self, tracks: list[_Track], boxes: np.ndarray, min_iou: float) -> tuple[list, list, list]:
        if not tracks or len(boxes) == 0:
            return [], list(range(len(tracks))), list(range(len(boxes)))
        iou = _iou(_to_xyxy(np.stack([t.mean[:4] for t in tracks])), boxes)
        rows, cols = linear_sum_assignment(-iou)
        pairs = [(r, c) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= min_iou]
        used_t, used_d = {r for r, _ in pairs}, {c for _, c in pairs}
        return (pairs, [i for i in range(len(tracks)) if i not in used_t],
                [j for j in range(len(boxes)) if j not in used_d])

    def update(self, boxes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One frame: detections (n, 4) x1, y1, x2, y2 and scores (n,) -> shown boxes (m, 4) and ids (m,)."""
        self._predict()
        high = scores >= self.high
        low = (scores >= self.low) & ~high
        hb, lb = boxes[high], boxes[low]
        pairs, rest_t, rest_d = self._associate(self.tracks, hb, self.match_iou)
        for r, c in pairs:
            self._update(self.tracks[r], hb[c])
        recent = [self.tracks[i] for i in rest_t if self.tracks[i].missed == 0]
        pairs2, _, _ = self._associate(recent, lb, 0.5)
        for r, c in pairs2:
            self._update(recent[r], lb[c])
        updated = {id(self.tracks[r]) for r, _ in pairs} | {id(recent[r]) for r, _ in pairs2}
        for t in self.tracks:
            if id(t) not in updated:
                t.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_age]
        for c in rest_d:
            b = hb[c]
            mean = np.concatenate([(b[:2] + b[2:]) / 2, b[2:] - b[:2], np.zeros(4)])
            h = max(mean[3], 1.0)
            cov = np.diag(np.square([h / 10] * 4 + [h / 16] * 4))
            track = _Track(self.next_id, mean, cov, box=b)
            self.next_id += 1
            self.tracks.append(track)
            updated.add(id(track))
        shown = [t for t in self.tracks if id(t) in updated]
        return (np.stack([t.box for t in shown]) if shown else np.zeros((0, 4)),
                np.asarray([t.track_id for t in shown], dtype=np.int64))
