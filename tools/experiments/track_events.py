"""Where identity is lost: identity kept across occlusion gaps and crossings, per tracker.

    python tools/experiments/track_events.py GT_ROOT SPLIT NAME=TRACKS_DIR [NAME=TRACKS_DIR ...]

For every ground-truth track this finds two kinds of event:

* gap: the object is unannotated (visibility < 0.3: behind a pillar or another disc) for g frames between
  two annotated frames; bucketed by g (1-4, 5-9, >= 10 frames = at least a second at 10 fps);
* free frame pair: two consecutive annotated frames with no overlap (a switch here is spontaneous);
* crossing: a run of annotated frames where the object's box overlaps another object's box (IoU > 0.1)
  with no gap.

An event counts as "kept" when the prediction matched to the object on the frame before the event (IoU >= 0.5,
Hungarian per frame, as CLEAR MOT matches) has the same id as the one matched on the frame after. Events whose
end frames are not both matched are "unmatched" and left out of the kept rate. Last row: frame-level pairs
of shown boxes overlapping at IoU > 0.5 (two tracks on one object; the per-frame matching then alternates
between them, which counts as switches). The line after the table: how far objects move while hidden
for a second or more. HOTA/IDF1 summarise the same thing over all frames; this splits it by cause.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torchvision.ops import box_convert, box_iou

from streammem.data.mot import find_sequences, read_mot_ground_truth, read_mot_results, read_seqinfo

BUCKETS = (("gap 1-4 frames", 1, 4), ("gap 5-9 frames", 5, 9), ("gap >= 10 frames", 10, 10**9))


def _xyxy(box: np.ndarray) -> torch.Tensor:
    """MOT x, y, w, h rows -> x1, y1, x2, y2 (float64)."""
    return box_convert(torch.as_tensor(box, dtype=torch.float64), "xywh", "xyxy")


def _frame_matches(gt, pred, num_frames: int) -> dict[tuple[int, int], int]:
    """(frame, gt id) -> matched predicted id, Hungarian on IoU with IoU >= 0.5."""
    out: dict[tuple[int, int], int] = {}
    for f in range(1, num_frames + 1):
        g, p = gt.frame == f, pred.frame == f
        if not g.any() or not p.any():
            continue
        iou = box_iou(_xyxy(gt.box[g]), _xyxy(pred.box[p])).numpy()
        rows, cols = linear_sum_assignment(-iou)
        gid, pid = gt.track_id[g], pred.track_id[p]
        for r, c in zip(rows, cols, strict=True):
            if iou[r, c] >= 0.5:
                out[(f, int(gid[r]))] = int(pid[c])
    return out


def _duplicates(pred) -> int:
    """Pairs of shown boxes in one frame with IoU > 0.5: two tracks following one object."""
    count = 0
    for f in np.unique(pred.frame):
        m = pred.frame == f
        if m.sum() > 1:
            iou = box_iou(_xyxy(pred.box[m]), _xyxy(pred.box[m])).numpy()
            count += int((np.triu(iou, 1) > 0.5).sum())
    return count


def _events(gt) -> list[tuple[str, int, int, int]]:
    """(kind, gt id, frame before, frame after) for every gap, crossing and free frame pair."""
    events = []
    frames_of = defaultdict(list)
    for f, i in zip(gt.frame, gt.track_id, strict=True):
        frames_of[int(i)].append(int(f))
    overlapping: set[tuple[int, int]] = set()
    for f in np.unique(gt.frame):
        m = gt.frame == f
        if m.sum() < 2:
            continue
        iou = box_iou(_xyxy(gt.box[m]), _xyxy(gt.box[m])).numpy()
        np.fill_diagonal(iou, 0)
        for i in gt.track_id[m][(iou > 0.1).any(1)]:
            overlapping.add((int(f), int(i)))
    for tid, fs in frames_of.items():
        fs = sorted(fs)
        for a, b in zip(fs, fs[1:], strict=False):
            g = b - a - 1
            for name, lo, hi in BUCKETS:
                if lo <= g <= hi:
                    events.append((name, tid, a, b))
        present = set(fs)
        for f in fs:  # free-running frame pairs: nothing overlaps, nothing hidden
            if f + 1 in present and (f, tid) not in overlapping and (f + 1, tid) not in overlapping:
                events.append(("free frame pair", tid, f, f + 1))
        f = fs[0]
        while f <= fs[-1]:
            if (f, tid) in overlapping and f - 1 in present:
                end = f
                while end + 1 in present and (end + 1, tid) in overlapping:
                    end += 1
                if end + 1 in present:
                    events.append(("crossing", tid, f - 1, end + 1))
                f = end + 1
            else:
                f += 1
    return events


def main(argv: list[str]) -> int:
    root, split, specs = Path(argv[0]), argv[1], argv[2:]
    names = [s.split("=", 1)[0] for s in specs]
    dirs = [Path(s.split("=", 1)[1]) for s in specs]
    kept = {n: defaultdict(int) for n in names}
    matched = {n: defaultdict(int) for n in names}
    total: dict[str, int] = defaultdict(int)
    duplicates = dict.fromkeys(names, 0)
    moved: list[float] = []  # centre distance between the frames before and after each >= 10-frame gap
    for seq in find_sequences(root / split, root / f"{split}_seqmap.txt"):
        info = read_seqinfo(root / split / seq / "seqinfo.ini")
        gt = read_mot_ground_truth(root / split / seq / "gt" / "gt.txt", info.num_frames)
        events = _events(gt)
        for kind, tid, a, b in events:
            total[kind] += 1
            if kind == BUCKETS[-1][0]:
                before, after = (gt.box[(gt.frame == f) & (gt.track_id == tid)][0] for f in (a, b))
                moved.append(float(np.hypot(*(before[:2] + before[2:] / 2 - after[:2] - after[2:] / 2))))
        for name, d in zip(names, dirs, strict=True):
            pred = read_mot_results(d / f"{seq}.txt", info.num_frames)
            duplicates[name] += _duplicates(pred)
            m = _frame_matches(gt, pred, info.num_frames)
            for kind, tid, a, b in events:
                if (a, tid) in m and (b, tid) in m:
                    matched[name][kind] += 1
                    kept[name][kind] += m[(a, tid)] == m[(b, tid)]
    kinds = ["free frame pair", "crossing"] + [b[0] for b in BUCKETS]
    print("| event | count | " + " | ".join(f"{n}: id kept / both ends matched" for n in names) + " |")
    print("|---|---|" + "---|" * len(names))
    for kind in kinds:
        cells = [f"{kept[n][kind]} / {matched[n][kind]} ({100 * kept[n][kind] / max(matched[n][kind], 1):.1f} %)"
                 for n in names]
        print(f"| {kind} | {total[kind]} | " + " | ".join(cells) + " |")
    print("| duplicate pairs (two shown boxes, IoU > 0.5, same frame) | | " + " | ".join(str(duplicates[n]) for n in names) + " |")
    if moved:
        p10, p50, p90 = np.percentile(moved, [10, 50, 90])
        print(f"\nafter a {BUCKETS[-1][0]}, the object reappears {p50:.1f} px (median; 10th-90th percentile "
              f"{p10:.1f}-{p90:.1f} px) from where it was last annotated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
