"""Per-video feature streams for online temporal action localization (THUMOS14, MUSES, synthetic).

A dataset directory holds an annotation file (ActionFormer/OAT JSON, or a folder of THUMOS per-class txt
files) read by :mod:`streammem.data.thumos`, and one ``<video>.npy`` array (T, F) per video. The feature
rate (features per second) is fixed (``feature_rate``, THUMOS TSN: 4/s), derived from each video's fps
(``feature_stride`` frames per feature, ActionFormer I3D: 4), or, when neither is given and the annotations
give a duration, each video's own (its feature count over its duration). With a fixed or fps-derived rate a
video's length must agree with duration x rate within ``tolerance`` features, or the array belongs to
another video or another extractor.

MUSES (Liu et al., CVPR 2021) ships an ActivityNet-style ``database`` JSON (same layout) and 1024-d I3D
``.npy`` per video: :func:`load_muses` reads it with the same checks and ``feature_dims=[1024]`` in MATR.

Bad input: a missing or unreadable feature file, a length mismatch, a label outside the class list, or a
segment outside the video raise :class:`InputError` naming the file, unless ``skip_bad=True``, in which
case the video or segment is dropped and counted in ``skipped``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from streammem.data._text_table import read_text
from streammem.data.completion import refuse_interrupted
from streammem.data.tal_layouts import (
    LSTR_RATE,
    THUMOS14_CLASSES,
    FeatureLayout,
    detect_layout,
    lstr_annotations,
)
from streammem.data.thumos import TemporalAnnotations, read_thumos_json, read_thumos_txt
from streammem.errors import InputError

__all__ = ["TALVideo", "TALSplit", "MappedFeatures", "load_feature_file", "load_tal_split", "read_features",
           "load_muses", "find_annotations"]


class MappedFeatures:
    """A video's (T, F) features left on disk, read when converted (``np.asarray``): its ``.npy`` file(s)
    memory-mapped, cut to ``length`` rows, placed side by side (RGB and flow) and cast to float32.

    Training on a large set (THUMOS14 at 4096 dims: about 10 GB of features) then holds only the videos of the
    current batch in memory; the operating system's page cache keeps the files that are read often.
    """

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, files: tuple[Path, ...], length: int, widths: tuple[int, ...]) -> None:
        self.files, self.length, self.widths = tuple(files), int(length), tuple(widths)

    @property
    def shape(self) -> tuple[int, int]:
        return self.length, sum(self.widths)

    def __len__(self) -> int:
        return self.length

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        parts = [np.load(f, mmap_mode="r", allow_pickle=False)[: self.length] for f in self.files]
        rows = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        return np.array(rows, dtype=dtype or np.float32)  # always a copy: never a view of the mapped file


@dataclass
class TALVideo:
    """One video: features (T, F), their rate (features/s), and ground truth (class id, start s, end s)."""

    name: str
    features: np.ndarray | MappedFeatures  # MappedFeatures: read with np.asarray(features) when needed
    feature_rate: float
    duration: float
    segments: list[tuple[int, float, float]]
    files: tuple[Path, ...] = ()  # the feature file(s) read (LSTR/TeSTra: RGB and flow, concatenated)
    stream_dims: tuple[int, ...] = ()  # the width of each file's part of ``features`` (RGB, flow)


@dataclass
class TALSplit:
    """A subset of a dataset: its videos, the class list (id = index), and what was skipped and why."""

    videos: list[TALVideo]
    classes: list[str]
    skipped: dict[str, int] = field(default_factory=dict)

    def ground_truth(self) -> list[dict]:
        """Items ``{"video", "label", "start", "end"}`` (seconds) for the evaluator."""
        return [
            {"video": v.name, "label": self.classes[c], "start": s, "end": e} for v in self.videos for c, s, e in v.segments
        ]


def load_feature_file(path: str | os.PathLike, expected_length: float | None = None, tolerance: float = 4.0) -> np.ndarray:
    """Read one ``.npy`` feature array (T, F) as float32, checking T against ``expected_length`` (+-tolerance)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "feature file not found")
    if path.stat().st_size == 0:
        raise InputError(path, "feature file is empty (0 bytes)")
    try:
        feats = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise InputError(path, f"unreadable .npy feature file ({err})") from None
    if feats.ndim != 2 or feats.shape[0] == 0:
        raise InputError(path, f"expected a (T, F) feature array, got shape {feats.shape}")
    if not np.isfinite(feats).all():
        raise InputError(path, "features contain NaN or infinity")
    if expected_length is not None and abs(feats.shape[0] - expected_length) > tolerance:
        raise InputError(
            path, f"{feats.shape[0]} features, but duration x feature rate gives {expected_length:.1f} (tolerance {tolerance:g})"
        )
    return feats.astype(np.float32, copy=False)


def find_annotations(root: str | os.PathLike) -> Path:
    """The annotation source of a dataset directory: ``annotations/*.json``, ``*.json`` or a txt folder."""
    root = Path(root)
    if root.is_file():
        return root
    for pattern in ("annotations/*.json", "*.json"):
        found = sorted(root.glob(pattern))
        if found:
            return found[0]
    if (root / "annotations").is_dir() and any((root / "annotations").glob("*_*.txt")):
        return root / "annotations"
    raise InputError(root, "no annotation JSON (annotations/*.json) or per-class txt folder found")


def _classes_of(annotation_path: Path, annotations: TemporalAnnotations) -> list[str]:
    """The class list: the JSON's ``meta.classes`` when given (synthetic sets), else sorted labels."""
    if annotation_path.suffix == ".json":
        meta = json.loads(read_text(annotation_path)).get("meta", {})
        if isinstance(meta, dict) and isinstance(meta.get("classes"), list):
            return [str(c) for c in meta["classes"]]
    return sorted({a["label"] for a in annotations.annotations})


def load_tal_split(
    root: str | os.PathLike,
    subset: str,
    classes: list[str] | None = None,
    feature_dir: str | os.PathLike | None = None,
    feature_rate: float | None = None,
    feature_stride: float | None = None,
    tolerance: float = 4.0,
    skip_bad: bool = False,
    videos: list[str] | None = None,
    keep_features: bool = True,
    mapped: bool = False,
) -> TALSplit:
    """Load one subset of a dataset directory: annotations + features in any layout of
    :mod:`streammem.data.tal_layouts` (``features/<video>.npy``, LSTR/TeSTra ``rgb_*/`` + ``flow_*/``,
    ActionFormer ``thumos14.json`` + one folder of ``.npy``), told apart by the folder.

    root: dataset directory (or the annotation file itself). classes: the model's class list (default: from
    the annotations). feature_dir: read features from this one folder instead. feature_rate / feature_stride:
    see the module doc (default: the JSON ``meta`` rate for synthetic sets, else each video's own, else 4/s).
    videos: restrict to these names (e.g. a held-out selection split). keep_features False: every file is
    read and checked, then let go (``features`` keeps its width and no rows); :func:`read_features` reads one
    video's back when it is needed, so evaluating a large subset holds one video's features at a time.
    mapped True: every file is read and checked, then ``features`` is a :class:`MappedFeatures` that reads
    it again when converted (training holds the current batch's videos, not the subset).
    """
    refuse_interrupted(root)  # before looking for annotations: an interrupted generation has none yet
    layout = detect_layout(root) if feature_dir is None else FeatureLayout("streammem", (Path(feature_dir),))
    try:
        annotation_path = find_annotations(root)
    except InputError:
        if layout.name != "lstr":
            raise
        annotation_path = None  # LSTR/TeSTra: ground truth from target_perframe/
    if annotation_path is None:
        annotations = lstr_annotations(layout, subset)
        annotation_path = layout.targets
        if feature_rate is None and feature_stride is None:
            feature_rate = LSTR_RATE
    else:
        annotations = (read_thumos_json(annotation_path, subset, check_durations=False) if annotation_path.is_file()
                       else read_thumos_txt(annotation_path, subset))  # segments are checked below, with skip_bad
    if classes is not None:
        classes = list(classes)
    elif layout.name == "lstr" and annotation_path == layout.targets:
        classes = list(THUMOS14_CLASSES)
    else:
        classes = _classes_of(annotation_path, annotations)
    if feature_rate is None and feature_stride is None and annotation_path.suffix == ".json":
        meta = json.loads(read_text(annotation_path)).get("meta", {})
        feature_rate = (meta.get("config") or {}).get("feature_rate") if isinstance(meta, dict) else None
    index = {c: i for i, c in enumerate(classes)}
    skipped = dict(annotations.skipped)
    per_video: dict[str, list[dict]] = {}
    for a in annotations.annotations:
        per_video.setdefault(a["video"], []).append(a)
    out: list[TALVideo] = []
    for name in sorted(annotations.videos):
        if videos is not None and name not in videos:
            continue
        info = annotations.videos[name]
        if feature_stride is not None:
            if not info.fps:
                raise InputError(annotation_path, f"video {name!r}: no fps, needed for feature_stride")
            rate = info.fps / feature_stride
        elif feature_rate is None and info.duration:
            rate = None  # this video's own rate: its feature count over its annotated duration
        else:
            rate = feature_rate or 4.0
        expected = None if info.duration is None or rate is None else info.duration * rate
        try:
            feats, widths = _load_features(layout.files(name), expected, tolerance)
            if rate is None:
                rate = len(feats) / info.duration
        except InputError as err:
            if not skip_bad:
                raise
            from streammem.errors import warn

            warn(f"skipped video {name!r}: {err}")
            skipped["videos_bad_features"] = skipped.get("videos_bad_features", 0) + 1
            continue
        duration = info.duration if info.duration is not None else len(feats) / rate
        segments = []
        for a in per_video.get(name, []):
            problem = None
            if a["label"] not in index:
                problem, key = f"label {a['label']!r} not in the class list", "segments_unknown_label"
            elif a["start"] < 0 or a["end"] > duration + 1.0 / rate:
                problem = f"segment [{a['start']:g}, {a['end']:g}] outside the video (0, {duration:g})"
                key = "segments_outside_video"
            elif a["end"] <= a["start"]:
                problem, key = f"empty segment [{a['start']:g}, {a['end']:g}]", "segments_empty"
            if problem is not None:
                if not skip_bad:
                    raise InputError(annotation_path, f"video {name!r}: {problem}")
                skipped[key] = skipped.get(key, 0) + 1
                continue
            segments.append((index[a["label"]], a["start"], min(a["end"], duration)))
        if mapped:
            feats = MappedFeatures(layout.files(name), len(feats), widths)
        elif not keep_features:
            feats = np.empty((0, feats.shape[1]), np.float32)
        out.append(TALVideo(name, feats, rate, duration, sorted(segments, key=lambda s: (s[1], s[2])),
                            tuple(layout.files(name)), widths))
    if not out:
        raise InputError(annotation_path, f"no usable videos in subset {subset!r}")
    return TALSplit(out, classes, skipped)


def read_features(video: TALVideo, tolerance: float = 4.0) -> np.ndarray:
    """A video's features read again from its file(s) (for a split loaded with ``keep_features=False``)."""
    return _load_features(list(video.files), None, tolerance)[0]


def _load_features(paths: list[Path], expected_length: float | None, tolerance: float
                   ) -> tuple[np.ndarray, tuple[int, ...]]:
    """One video's features and each file's width: one file, or several (RGB + flow) concatenated along the
    features. Their lengths may differ by up to ``tolerance`` (extractors round differently): the longer ones
    are cut to the shortest."""
    parts = [load_feature_file(p, expected_length, tolerance) for p in paths]
    widths = tuple(p.shape[1] for p in parts)
    if len(parts) == 1:
        return parts[0], widths
    lengths = [len(p) for p in parts]
    if max(lengths) - min(lengths) > tolerance:
        raise InputError(paths[lengths.index(max(lengths))], f"{max(lengths)} features, but "
                         f"{paths[lengths.index(min(lengths))]} has {min(lengths)} (tolerance {tolerance:g})")
    return np.concatenate([p[: min(lengths)] for p in parts], axis=1), widths


def load_muses(
    root: str | os.PathLike, subset: str, classes: list[str] | None = None, feature_rate: float = 4.0, **kwargs
) -> TALSplit:
    """MUSES: ActivityNet-style JSON + I3D ``.npy`` per video (features/ under ``root``); same checks."""
    return load_tal_split(root, subset, classes=classes, feature_rate=feature_rate, **kwargs)
