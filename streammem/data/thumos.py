"""THUMOS14-style temporal action annotations and ActivityNet-format detection results.

Ground truth comes in two forms:

- ActionFormer / OAT JSON: ``{"database": {video: {"subset", "duration", "fps", "annotations":
  [{"label", "segment": [start, end]}]}}}`` (seconds; ``subset`` is ``Validation``/``Test`` or ``train``/``test``);
- the original per-class text files ``<Class>_<subset>.txt`` with lines ``video start end``.

``Ambiguous`` instances are dropped from the ground truth and counted, as ActivityNet-style evaluation does
(detections on them then count as false positives). Results are ActivityNet JSON ``{"results": {video:
[{"label", "segment": [s, e], "score"[, "emitted_at"]}]}}``; OAT/MATR's ``gentime`` is read as ``emitted_at``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streammem.data._text_table import read_text, unknown_ids_problem
from streammem.errors import InputError, atomic_output

__all__ = [
    "AMBIGUOUS",
    "VideoInfo",
    "TemporalAnnotations",
    "read_thumos_json",
    "read_thumos_txt",
    "read_activitynet_results",
    "write_activitynet_results",
]

AMBIGUOUS = "Ambiguous"
DURATION_SLACK = 1.0  # seconds an annotated end may pass the stated duration (rounded durations, frame ends)


@dataclass(frozen=True)
class VideoInfo:
    """One video of the database; duration (s) and fps are None where the source does not give them."""

    subset: str
    duration: float | None = None
    fps: float | None = None


@dataclass
class TemporalAnnotations:
    """Ground truth of one subset.

    videos: the subset's videos; annotations: ``{"video", "label", "start", "end"}`` items (seconds);
    known_videos: every video the source names, in any subset (to tell "other subset" from "unknown");
    skipped: what was dropped and how often, e.g. ``{"ambiguous_annotations": 3}``.
    """

    videos: dict[str, VideoInfo]
    annotations: list[dict[str, Any]]
    known_videos: set[str]
    skipped: dict[str, int] = field(default_factory=dict)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise InputError(path, f"not valid JSON: {err.msg}", line=err.lineno) from None
    except RecursionError:
        raise InputError(path, "not valid JSON: nested too deeply") from None


def _number(value: Any) -> float | None:
    """A finite float from a JSON number, else None (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _segment(path: Path, where: str, item: Any) -> tuple[str, float, float]:
    """Validate ``{"label", "segment": [start, end]}``; return (label, start, end)."""
    if not isinstance(item, Mapping):
        raise InputError(path, f"{where}: expected an object")
    label, segment = item.get("label"), item.get("segment")
    if not isinstance(label, str) or not label:
        raise InputError(path, f"{where}: 'label' must be a non-empty string")
    if not isinstance(segment, list | tuple) or len(segment) != 2 or any(_number(v) is None for v in segment):
        raise InputError(path, f"{where}: 'segment' must be [start, end] in seconds")
    start, end = float(segment[0]), float(segment[1])
    if end < start:
        raise InputError(path, f"{where}: segment end {end:g} < start {start:g}")
    return label, start, end


def _select_subset(source: Path, available: set[str], subset: str | None) -> str | None:
    """The subset name as the source spells it (matched case-insensitively); None means all videos."""
    if subset is None:
        if len(available) > 1:
            raise InputError(source, f"has subsets {', '.join(sorted(available))}: choose one with --subset")
        return None
    spelled = {s.lower(): s for s in available}
    if subset.lower() not in spelled:
        raise InputError(
            source, f"no subset {subset!r} (available: {', '.join(sorted(available)) or 'none'})"
        )
    return spelled[subset.lower()]


def read_thumos_json(path: str | os.PathLike, subset: str | None = None, check_durations: bool = True
                     ) -> TemporalAnnotations:
    """Read an ActionFormer/OAT annotation JSON, keeping the videos of ``subset`` (all if it has only one).

    ``check_durations``: a segment that starts at or after its video's stated duration, or ends more than
    ``DURATION_SLACK`` seconds past it, is an error (callers with their own per-segment policy turn it off).
    """
    path = Path(path)
    data = _load_json(path)
    database = data.get("database") if isinstance(data, Mapping) else None
    if not isinstance(database, Mapping) or not database:
        raise InputError(path, "expected a non-empty 'database' object of videos")
    for video, info in database.items():
        if not isinstance(info, Mapping) or not isinstance(info.get("subset"), str):
            raise InputError(path, f"database[{video!r}]: expected an object with a 'subset' string")
    chosen = _select_subset(path, {info["subset"] for info in database.values()}, subset)
    videos, annotations, ambiguous = {}, [], 0
    for video, info in database.items():
        if chosen is not None and info["subset"] != chosen:
            continue
        duration, fps = info.get("duration"), info.get("fps")
        for name, value in (("duration", duration), ("fps", fps)):
            if value is not None and (_number(value) is None or value < 0):
                raise InputError(path, f"database[{video!r}]: '{name}' must be a number >= 0")
        videos[video] = VideoInfo(
            info["subset"], None if duration is None else float(duration), None if fps is None else float(fps)
        )
        items = info.get("annotations", [])
        if not isinstance(items, list):
            raise InputError(path, f"database[{video!r}]: 'annotations' must be a list")
        for i, item in enumerate(items):
            label, start, end = _segment(path, f"database[{video!r}].annotations[{i}]", item)
            if check_durations and duration is not None and (start >= duration or end > duration + DURATION_SLACK):
                raise InputError(path, f"database[{video!r}].annotations[{i}]: segment [{start:g}, {end:g}] lies "
                                 f"beyond the video's duration {float(duration):g} s")
            if label == AMBIGUOUS:
                ambiguous += 1
                continue
            annotations.append({"video": video, "label": label, "start": start, "end": end})
    return TemporalAnnotations(videos, annotations, set(database), {"ambiguous_annotations": ambiguous})


def read_thumos_txt(folder: str | os.PathLike, subset: str | None = None) -> TemporalAnnotations:
    """Read the original per-class files ``<Class>_<subset>.txt`` (lines ``video start end``) in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "annotation folder not found")
    files = {p: p.stem.rpartition("_") for p in sorted(folder.glob("*_*.txt"))}
    if not files:
        raise InputError(folder, "no per-class <Class>_<subset>.txt annotation files")
    chosen = _select_subset(folder, {suffix for _, _, suffix in files.values()}, subset)
    videos, annotations, known, ambiguous = {}, [], set(), 0
    for path, (label, _, suffix) in files.items():
        rows = _read_segment_lines(path)  # every file, so a video of another subset is known, not unknown
        known.update(video for _, video, _, _ in rows)
        if chosen is not None and suffix != chosen:
            continue
        videos.update((video, VideoInfo(suffix)) for _, video, _, _ in rows)
        if label == AMBIGUOUS:
            ambiguous += len(rows)
            continue
        annotations += [{"video": v, "label": label, "start": s, "end": e} for _, v, s, e in rows]
    return TemporalAnnotations(videos, annotations, known, {"ambiguous_annotations": ambiguous})


def _read_segment_lines(path: Path) -> list[tuple[int, str, float, float]]:
    """Lines ``video start end`` of one class file as (line, video, start, end)."""
    text = read_text(path)
    rows = []
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise InputError(path, f"expected 3 columns 'video start end', got {len(fields)}", line=number)
        try:
            start, end = float(fields[1]), float(fields[2])
        except ValueError:
            raise InputError(path, "start and end must be numbers (seconds)", line=number) from None
        if not (math.isfinite(start) and math.isfinite(end)):
            raise InputError(path, "start and end must be finite", line=number)
        if end < start:
            raise InputError(path, f"end {end:g} < start {start:g}", line=number)
        rows.append((number, fields[0], start, end))
    if not rows:
        raise InputError(path, "file is empty")
    return rows


def read_activitynet_results(
    path: str | os.PathLike, annotations: TemporalAnnotations | None = None, ignore_unknown: bool = False
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Read ActivityNet results JSON into ``{"video", "label", "start", "end", "score"[, "emitted_at"]}`` items.

    With ``annotations``, videos of another subset are skipped, and videos the ground truth never names are
    an error listing the first few (skipped and counted with ``ignore_unknown``); returns (predictions,
    skipped counts).
    """
    path = Path(path)
    data = _load_json(path)
    results = data.get("results") if isinstance(data, Mapping) else None
    if not isinstance(results, Mapping):
        raise InputError(path, "expected a 'results' object mapping each video to its detections")
    predictions, outside, unknown = [], 0, {}
    for video, items in results.items():
        if not isinstance(items, list):
            raise InputError(path, f"results[{video!r}]: expected a list of detections")
        if annotations is not None and video not in annotations.videos:
            if video not in annotations.known_videos:
                unknown[video] = len(items)
            else:
                outside += len(items)
            continue
        for i, item in enumerate(items):
            where = f"results[{video!r}][{i}]"
            label, start, end = _segment(path, where, item)
            score = _number(item.get("score"))
            if score is None:
                raise InputError(path, f"{where}: 'score' must be a finite number")
            prediction = {"video": video, "label": label, "start": start, "end": end, "score": score}
            emitted = item.get("emitted_at", item.get("gentime"))
            if emitted is not None:
                if _number(emitted) is None:
                    raise InputError(path, f"{where}: 'emitted_at' must be a finite number (seconds)")
                prediction["emitted_at"] = float(emitted)
            predictions.append(prediction)
    timed = sum("emitted_at" in p for p in predictions)
    if 0 < timed < len(predictions):
        raise InputError(
            path, f"emitted_at is given for {timed} of {len(predictions)} detections: give all or none"
        )
    if unknown and not ignore_unknown:
        raise InputError(path, unknown_ids_problem("videos", list(unknown)))
    skipped = {"predictions_outside_subset": outside}
    if unknown:
        skipped["predictions_unknown_video"] = sum(unknown.values())
    return predictions, skipped


def write_activitynet_results(path: str | os.PathLike, predictions: Sequence[Mapping[str, Any]]) -> None:
    """Write prediction items (as read by :func:`read_activitynet_results`) as ActivityNet results JSON."""
    results: dict[str, list[dict[str, Any]]] = {}
    for p in predictions:
        item = {
            "label": p["label"],
            "segment": [float(p["start"]), float(p["end"])],
            "score": float(p["score"]),
        }
        if "emitted_at" in p:
            item["emitted_at"] = float(p["emitted_at"])
        results.setdefault(str(p["video"]), []).append(item)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps({"version": "streammem", "results": results}))
