"""MOTChallenge / DanceTrack tracking data: ground truth, tracker results, sequence lists, writers.

Layouts read (DanceTrack and MOT17 share them):

- ``{split}/<seq>/{img1/, gt/gt.txt, seqinfo.ini}`` plus ``{split}_seqmap.txt`` (header line ``name``);
- ground truth, 9 columns ``frame,id,x,y,w,h,consider_flag,class,visibility`` (DanceTrack: ``...,1,1,1``);
- tracker results, MOTChallenge ``frame,id,x,y,w,h,conf,-1,-1,-1`` (7 to 10 columns accepted, as TrackEval).

Frames are 1-based and boxes are ``x, y, w, h`` in pixels, as in the files. Every problem is an
:class:`~streammem.errors.InputError` naming the file and line.
"""

from __future__ import annotations

import configparser
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from streammem.data._text_table import first_bad_row, read_numeric_table, read_text
from streammem.data.completion import refuse_interrupted
from streammem.errors import InputError, atomic_output

__all__ = [
    "MOT_CLASSES",
    "MAX_TRACK_ID",
    "MotBoxes",
    "SequenceInfo",
    "read_mot_ground_truth",
    "read_mot_results",
    "read_seqinfo",
    "read_seqmap",
    "find_sequences",
    "write_mot_results",
    "write_bdd100k_json",
]

# MOT16/17 class ids (Milan et al. 2016, table 3); TrackEval's MotChallenge2DBox uses the same table.
MOT_CLASSES: dict[str, int] = {
    "pedestrian": 1, "person_on_vehicle": 2, "car": 3, "bicycle": 4, "motorbike": 5, "non_mot_vehicle": 6,
    "static_person": 7, "distractor": 8, "occluder": 9, "occluder_on_ground": 10, "occluder_full": 11,
    "reflection": 12, "crowd": 13,
}  # fmt: skip


# Largest id read exactly: ids are parsed as float64, whose whole numbers are exact up to 2^53.
MAX_TRACK_ID = 2**53


@dataclass(frozen=True)
class MotBoxes:
    """Boxes of one sequence, one row per (frame, track). N rows.

    frame (N,) int64, 1-based; track_id (N,) int64; box (N, 4) float64 ``x, y, w, h`` in pixels;
    score (N,) float64, the detector confidence (results) or the consider flag (ground truth, 0 = ignore);
    cls (N,) int64, the MOT class (ground truth; 1 for results); visibility (N,) float64 (1 for results).
    """

    frame: np.ndarray
    track_id: np.ndarray
    box: np.ndarray
    score: np.ndarray
    cls: np.ndarray
    visibility: np.ndarray

    @classmethod
    def tracks(
        cls, frame: ArrayLike, track_id: ArrayLike, box: ArrayLike, score: ArrayLike | None = None
    ) -> MotBoxes:
        """Tracker output from arrays (a model's predictions); classes and visibility default to 1."""
        frame = np.asarray(frame, dtype=np.int64).reshape(-1)
        n = frame.shape[0]
        ones = np.ones(n)
        return cls(
            frame=frame,
            track_id=np.asarray(track_id, dtype=np.int64).reshape(n),
            box=np.asarray(box, dtype=np.float64).reshape(n, 4),
            score=ones if score is None else np.asarray(score, dtype=np.float64).reshape(n),
            cls=np.ones(n, dtype=np.int64),
            visibility=ones,
        )

    @classmethod
    def empty(cls) -> MotBoxes:
        """No boxes at all (a sequence the tracker produced nothing for)."""
        return cls.tracks(np.zeros(0), np.zeros(0), np.zeros((0, 4)))

    def __len__(self) -> int:
        return int(self.frame.shape[0])


@dataclass(frozen=True)
class SequenceInfo:
    """The ``[Sequence]`` section of a ``seqinfo.ini``; only ``seqLength`` is required."""

    name: str
    num_frames: int
    frame_rate: float | None = None
    width: int | None = None
    height: int | None = None
    image_dir: str = "img1"
    image_ext: str = ".jpg"


def read_mot_ground_truth(path: str | os.PathLike, num_frames: int | None = None) -> MotBoxes:
    """Read a MOT17/DanceTrack ``gt.txt`` (9 columns); frames beyond ``num_frames`` are an error."""
    table, lines = read_numeric_table(path, 9, 9)
    boxes = _boxes_from_table(path, table, lines, num_frames)
    cls = table[:, 7]
    _raise_on(
        path, lines, ~np.isin(cls, list(MOT_CLASSES.values())), "class (column 8) must be a MOT class id 1-13"
    )
    _raise_on(path, lines, table[:, 6] != np.round(table[:, 6]), "consider flag (column 7) must be 0 or 1")
    return MotBoxes(
        frame=boxes.frame, track_id=boxes.track_id, box=boxes.box,
        score=table[:, 6].copy(), cls=cls.astype(np.int64), visibility=table[:, 8].copy(),
    )  # fmt: skip


def read_mot_results(path: str | os.PathLike, num_frames: int | None = None) -> MotBoxes:
    """Read MOTChallenge tracker results (``frame,id,x,y,w,h,conf[,x,y,z]``); an empty file means no tracks."""
    table, lines = read_numeric_table(path, 7, 10, allow_empty=True)
    if table.shape[1] >= 8:
        # TrackEval reads column 8 as the class and evaluates pedestrians only (10-column files hold -1 there).
        _raise_on(path, lines, table[:, 7] > 1, "column 8 must be <= 1 (-1 world coordinate or class 1)")
    return _boxes_from_table(path, table, lines, num_frames)


def _boxes_from_table(path, table: np.ndarray, lines: np.ndarray, num_frames: int | None) -> MotBoxes:
    """Validate the columns shared by ground truth and results: frame, id, box size, unique ids per frame."""
    frame, track_id, box = table[:, 0], table[:, 1], table[:, 2:6]
    last = np.inf if num_frames is None else num_frames
    _raise_on(path, lines, (frame != np.round(frame)) | (frame < 1), "frame must be a whole number >= 1")
    _raise_on(path, lines, frame > last, f"frame is beyond the sequence length {num_frames}")
    _raise_on(
        path, lines, (track_id != np.round(track_id)) | (track_id < 0) | (track_id > MAX_TRACK_ID),
        f"id must be a whole number from 0 to {MAX_TRACK_ID} (2^53)",
    )
    _raise_on(path, lines, (box[:, 2] < 0) | (box[:, 3] < 0), "box width and height must be >= 0")
    frame, track_id = frame.astype(np.int64), track_id.astype(np.int64)
    order = np.lexsort((np.arange(len(frame)), track_id, frame))
    repeated = (frame[order][1:] == frame[order][:-1]) & (track_id[order][1:] == track_id[order][:-1])
    duplicate = np.zeros(len(frame), dtype=bool)
    duplicate[order[1:][repeated]] = True
    _raise_on(path, lines, duplicate, "id appears twice in the same frame")
    n = len(frame)
    return MotBoxes(frame, track_id, box.copy(), table[:, 6].copy(), np.ones(n, dtype=np.int64), np.ones(n))


def _raise_on(path, lines: np.ndarray, bad: np.ndarray, problem: str) -> None:
    """Raise InputError at the first line where ``bad`` (N,) holds."""
    index = first_bad_row(bad)
    if index is not None:
        raise InputError(path, problem, line=int(lines[index]))


def read_seqinfo(path: str | os.PathLike) -> SequenceInfo:
    """Read a sequence's ``seqinfo.ini``."""
    parser = configparser.ConfigParser(interpolation=None)  # a '%' in a value is text, not a template
    if not Path(path).is_file():
        raise InputError(path, "file not found")
    try:
        parser.read_string(read_text(path), source=str(path))
    except configparser.Error as err:  # its message spans lines (file, line, the line's text): keep the first
        problem = err.message.splitlines()[0].rstrip(".")
        raise InputError(path, f"not an ini file: {problem}", line=getattr(err, "lineno", None)) from None
    if "Sequence" not in parser:
        raise InputError(path, "no [Sequence] section")
    section = parser["Sequence"]
    try:
        num_frames = int(section["seqLength"])
        width = int(section["imWidth"]) if "imWidth" in section else None
        height = int(section["imHeight"]) if "imHeight" in section else None
        frame_rate = float(section["frameRate"]) if "frameRate" in section else None
    except KeyError:
        raise InputError(path, "no seqLength in [Sequence]") from None
    except ValueError as err:
        raise InputError(path, f"not a number: {err}") from None
    if num_frames < 1 or (width is not None and width < 1) or (height is not None and height < 1):
        raise InputError(path, "seqLength, imWidth and imHeight must be positive")
    return SequenceInfo(
        name=section.get("name", Path(path).parent.name), num_frames=num_frames, frame_rate=frame_rate,
        width=width, height=height, image_dir=section.get("imDir", "img1"), image_ext=section.get("imExt", ".jpg"),
    )  # fmt: skip


def read_seqmap(path: str | os.PathLike) -> list[str]:
    """Sequence names from a seqmap: header line ``name``, then one name per line (first comma field)."""
    return list(_seqmap_lines(Path(path)))


def _seqmap_lines(path: Path) -> dict[str, int]:
    """Seqmap names in order, each with its line number (for errors about that sequence)."""
    rows = read_text(path).splitlines()
    names: dict[str, int] = {}
    header_seen = False
    for number, raw in enumerate(rows, start=1):
        name = raw.split(",")[0].strip()
        if not name:
            continue
        if not header_seen:
            # TrackEval drops the first line unread, so a missing header would silently lose a sequence.
            if name != "name":
                raise InputError(path, f"expected the header line 'name', got {name!r}", line=number)
            header_seen = True
            continue
        if name in names:
            raise InputError(path, f"sequence {name!r} listed twice", line=number)
        names[name] = number
    if not names:
        raise InputError(path, "lists no sequences")
    return names


def find_sequences(gt_root: str | os.PathLike, seqmap: str | os.PathLike | None = None) -> list[str]:
    """Sequences to evaluate: the seqmap's names, or every ``<seq>/gt/gt.txt`` under ``gt_root`` (sorted)."""
    gt_root = Path(gt_root)
    if not gt_root.is_dir():
        raise InputError(gt_root, "ground-truth folder not found")
    refuse_interrupted(gt_root)
    if seqmap is None:
        names = sorted(p.parent.parent.name for p in gt_root.glob("*/gt/gt.txt"))
        if not names:
            raise InputError(gt_root, "no <sequence>/gt/gt.txt found")
        return names
    names = _seqmap_lines(Path(seqmap))
    for name, line in names.items():
        for needed in ("gt/gt.txt", "seqinfo.ini"):
            if not (gt_root / name / needed).is_file():
                raise InputError(seqmap, f"unknown sequence {name!r}: no {needed} under {gt_root}", line=line)
    return list(names)


def write_mot_results(path: str | os.PathLike, boxes: MotBoxes) -> None:
    """Write MOTChallenge results ``frame,id,x,y,w,h,conf,-1,-1,-1``, sorted by frame then id."""
    order = np.lexsort((boxes.track_id, boxes.frame))
    with atomic_output(path) as tmp, open(tmp, "w") as out:
        for i in order:
            x, y, w, h = (f"{v:.10g}" for v in boxes.box[i])
            out.write(
                f"{boxes.frame[i]},{boxes.track_id[i]},{x},{y},{w},{h},{boxes.score[i]:.10g},-1,-1,-1\n"
            )


def write_bdd100k_json(
    path: str | os.PathLike,
    boxes: MotBoxes,
    video_name: str,
    num_frames: int | None = None,
    category: str = "pedestrian",
) -> None:
    """Write one video's tracks as BDD100K/Scalabel frames ``[{name, videoName, frameIndex, labels}]``.

    ``frameIndex`` is 0-based; ``box2d`` uses Scalabel's inclusive corners (x2 = x + w - 1). Frames
    without boxes are written too when ``num_frames`` is given, so the file covers the whole video.
    """
    last = int(boxes.frame.max(initial=0)) if num_frames is None else num_frames
    frames = []
    for frame in range(1, last + 1):
        rows = np.flatnonzero(boxes.frame == frame)
        labels = [
            {
                "id": str(int(boxes.track_id[i])),
                "category": category,
                "score": float(boxes.score[i]),
                "box2d": {
                    "x1": float(boxes.box[i, 0]),
                    "y1": float(boxes.box[i, 1]),
                    "x2": float(boxes.box[i, 0] + boxes.box[i, 2] - 1),
                    "y2": float(boxes.box[i, 1] + boxes.box[i, 3] - 1),
                },
            }
            for i in rows[np.argsort(boxes.track_id[rows], kind="stable")]
        ]
        if labels or num_frames is not None:
            name = f"{video_name}-{frame:07d}.jpg"
            frames.append({"name": name, "videoName": video_name, "frameIndex": frame - 1, "labels": labels})
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(frames, indent=1))
