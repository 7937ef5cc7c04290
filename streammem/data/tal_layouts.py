"""The TAL feature layouts researchers download, told apart by their folders.

- ``streammem``: ``annotations/*.json`` (or ``*.json``) + ``features/<video>.npy`` (T, F): the synthetic sets.
- ``lstr`` (LSTR / TeSTra / MiniROAD, 4 features/s): ``rgb_*/<video>.npy`` (T, 2048) and ``flow_*/<video>.npy``
  (T, 1024), concatenated along the features (RGB first), with ``target_perframe/<video>.npy`` (T, 22):
  background, the 20 THUMOS14 classes in alphabetical order, Ambiguous. Ground truth is an annotation JSON in
  the folder when there is one, else the runs of each class in ``target_perframe`` (Ambiguous dropped); the
  subset is the name's (``video_validation_*`` = Validation, ``video_test_*`` = Test).
- ``actionformer``: ``thumos14.json`` (``annotations/thumos14.json`` or beside the features) + one folder of
  per-video ``.npy`` (T, 2048), e.g. ``i3d_features/`` (two-stream I3D, 16-frame clips at stride 4); the rate
  is each video's own (feature count / annotated duration).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streammem.errors import InputError

__all__ = ["FeatureLayout", "THUMOS14_CLASSES", "LSTR_RATE", "detect_layout", "lstr_annotations"]

THUMOS14_CLASSES = [
    "BaseballPitch", "BasketballDunk", "Billiards", "CleanAndJerk", "CliffDiving", "CricketBowling", "CricketShot",
    "Diving", "FrisbeeCatch", "GolfSwing", "HammerThrow", "HighJump", "JavelinThrow", "LongJump", "PoleVault",
    "Shotput", "SoccerPenalty", "TennisSwing", "ThrowDiscus", "VolleyballSpiking",
]
LSTR_RATE = 4.0  # LSTR/TeSTra THUMOS features: 24 fps frames in chunks of 6
_LSTR_SUBSETS = {"video_validation_": "Validation", "video_test_": "Test"}


@dataclass(frozen=True)
class FeatureLayout:
    """Where a dataset folder keeps its features: ``name`` (streammem, lstr, actionformer), the feature folders
    whose per-video arrays are concatenated along the features, and (lstr) the per-frame target folder."""

    name: str
    feature_dirs: tuple[Path, ...]
    targets: Path | None = None

    def files(self, video: str) -> list[Path]:
        return [folder / f"{video}.npy" for folder in self.feature_dirs]


def _npy_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*.npy")))


def detect_layout(root: str | os.PathLike) -> FeatureLayout:
    """The layout of dataset folder ``root`` (see the module doc); a one-line error when none fits."""
    root = Path(root)
    if root.is_file():  # the annotation file itself: features/ beside it
        return FeatureLayout("streammem", (root.parent / "features",))
    if (root / "features").is_dir() or not root.is_dir():
        return FeatureLayout("streammem", (root / "features",))
    rgb = sorted(p for p in root.glob("rgb_*") if p.is_dir())
    flow = sorted(p for p in root.glob("flow_*") if p.is_dir())
    if rgb or flow:
        for kind, found in (("rgb_*", rgb), ("flow_*", flow)):
            if len(found) > 1:
                raise InputError(root, f"several {kind} feature folders ({', '.join(p.name for p in found)}): keep one")
        target = root / "target_perframe"
        return FeatureLayout("lstr", tuple(rgb + flow), target if target.is_dir() else None)
    folders = [p for p in _npy_folders(root) if p.name != "annotations"]
    if len(folders) == 1:
        return FeatureLayout("actionformer", (folders[0],))
    if folders:
        raise InputError(root, f"several folders of .npy features ({', '.join(p.name for p in folders)}): expected "
                         "features/, rgb_*/ + flow_*/ (LSTR/TeSTra) or one folder beside thumos14.json (ActionFormer)")
    raise InputError(root, "no feature folder: expected features/, rgb_*/ + flow_*/ (LSTR/TeSTra) or a folder of "
                     "per-video .npy beside thumos14.json (ActionFormer)")


def lstr_annotations(layout: FeatureLayout, subset: str | None):
    """Ground truth of an LSTR/TeSTra folder from ``target_perframe/<video>.npy`` (T, 22): each class's runs of
    frames as segments at 4/s, Ambiguous dropped and counted; the subset from the video names."""
    from streammem.data.thumos import TemporalAnnotations, VideoInfo, _select_subset

    folder = layout.targets
    if folder is None:
        raise InputError(layout.feature_dirs[0].parent, "LSTR/TeSTra layout without an annotation JSON or "
                         "target_perframe/: no ground truth")
    subset_of = {}
    for path in sorted(folder.glob("*.npy")):
        prefix = next((p for p in _LSTR_SUBSETS if path.stem.startswith(p)), None)
        if prefix is not None:
            subset_of[path.stem] = _LSTR_SUBSETS[prefix]
    if not subset_of:
        raise InputError(folder, "no video_validation_*.npy or video_test_*.npy targets")
    chosen = _select_subset(folder, set(subset_of.values()), subset)
    videos, annotations, ambiguous = {}, [], 0
    width = len(THUMOS14_CLASSES) + 2
    for name, sub in subset_of.items():
        if chosen is not None and sub != chosen:
            continue
        path = folder / f"{name}.npy"
        try:
            target = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise InputError(path, f"unreadable .npy target file ({err})") from None
        if target.ndim != 2 or target.shape[1] != width:
            raise InputError(path, f"expected per-frame targets (T, {width}) (background, 20 classes, Ambiguous), got "
                             f"shape {target.shape}")
        videos[name] = VideoInfo(sub, duration=len(target) / LSTR_RATE, fps=None)
        for column in range(1, width):
            on = np.concatenate([[0], (target[:, column] > 0.5).astype(np.int8), [0]])
            starts, ends = np.flatnonzero(np.diff(on) == 1), np.flatnonzero(np.diff(on) == -1)
            if column == width - 1:
                ambiguous += len(starts)
                continue
            annotations += [{"video": name, "label": THUMOS14_CLASSES[column - 1], "start": s / LSTR_RATE,
                             "end": e / LSTR_RATE} for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    skipped = {"ambiguous_annotations": ambiguous} if ambiguous else {}
    return TemporalAnnotations(videos, annotations, set(subset_of), skipped)
