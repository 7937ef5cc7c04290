"""Property tests for every text parser: a byte-order mark or CRLF line ends never change what is read,
latin-1 bytes are a one-line error, and random or truncated bytes give the same kind of clean error
(StreamMemError, one line), never another exception or a hang."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streammem.data.kaldi_text import read_kaldi_text, read_librispeech_transcripts
from streammem.data.mot import read_mot_ground_truth, read_mot_results, read_seqinfo, read_seqmap
from streammem.data.thumos import read_activitynet_results, read_thumos_json, read_thumos_txt
from streammem.errors import StreamMemError

FAST = settings(max_examples=30, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

Parser = Callable[[Path], Any]


def _in_file(name: str, data: bytes, parse: Parser) -> Any:
    """Write ``data`` to a fresh folder as ``name`` and parse that path (or the folder for txt folders)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return _comparable(parse(path))


def _comparable(value: Any) -> Any:
    """Parsed results as plain values (numpy arrays, dataclasses) so two parses compare with ==."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "__dataclass_fields__"):
        return {k: _comparable(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_comparable(v) for v in value]
    if isinstance(value, set):
        return sorted(value)
    return value


def _outcome(name: str, data: bytes, parse: Parser) -> tuple[str, Any]:
    """("ok", parsed) or ("error", message); any exception other than StreamMemError fails the test."""
    try:
        return "ok", _in_file(name, data, parse)
    except StreamMemError as err:
        assert "\n" not in str(err), str(err)
        return "error", str(err).split(": ", 1)[-1]


def _reencodings(text: str) -> list[bytes]:
    crlf = text.replace("\n", "\r\n")
    return [b"\xef\xbb\xbf" + text.encode(), crlf.encode(), b"\xef\xbb\xbf" + crlf.encode()]


def _check_encodings(name: str, text: str, parse: Parser) -> None:
    """BOM / CRLF give exactly the plain UTF-8 outcome; latin-1 gives it too when the text is ASCII, else
    a one-line 'not UTF-8' error."""
    plain = _outcome(name, text.encode(), parse)
    for data in _reencodings(text):
        assert _outcome(name, data, parse) == plain
    try:
        latin1 = text.encode("latin-1")
    except UnicodeEncodeError:
        return
    kind, message = _outcome(name, latin1, parse)
    if text.isascii():
        assert (kind, message) == plain
    else:
        assert kind == "error" and "not UTF-8 text" in message


def _check_garbage(name: str, parse: Parser, data: bytes) -> None:
    _outcome(name, data, parse)  # any outcome but an unexpected exception


# ----------------------------------------------------------------------------------------- strategies
_words = st.text(alphabet="abcdeéüßXYZ'", min_size=1, max_size=6)
_ids = st.text(alphabet="abc123-_", min_size=1, max_size=6)
_numbers = st.floats(min_value=0, max_value=500, allow_nan=False).map(lambda v: round(v, 2))


@st.composite
def mot_text(draw, ground_truth: bool) -> str:
    rows = []
    for frame in range(1, draw(st.integers(1, 4)) + 1):
        for track in draw(st.sets(st.integers(0, 20), max_size=4)):
            box = [draw(_numbers) for _ in range(4)]
            if ground_truth:  # consider flag, class, visibility
                tail = [draw(st.sampled_from([0, 1])), draw(st.integers(1, 13)), round(draw(st.floats(0, 1)), 2)]
            else:  # confidence, world coordinates
                tail = [draw(_numbers), -1, -1, -1]
            rows.append(",".join(str(v) for v in [frame, track, *box, *tail]))
    return "".join(r + "\n" for r in rows)


@st.composite
def kaldi_text(draw) -> str:
    ids = draw(st.lists(_ids, min_size=1, max_size=5, unique=True))
    return "".join(f"{u} {' '.join(draw(st.lists(_words, min_size=1, max_size=5)))}\n" for u in ids)


@st.composite
def thumos_json(draw) -> str:
    videos = draw(st.lists(_ids, min_size=1, max_size=3, unique=True))
    database = {}
    for video in videos:
        annotations = []
        for _ in range(draw(st.integers(0, 3))):
            start = draw(_numbers)
            annotations.append({"label": draw(_words), "segment": [start, start + draw(_numbers)]})
        database[video] = {"subset": "test", "duration": 1000.0, "annotations": annotations}
    return json.dumps({"database": database}, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1])))


@st.composite
def results_json(draw) -> str:
    results = {}
    for video in draw(st.lists(_ids, max_size=3, unique=True)):
        results[video] = [{"label": draw(_words), "segment": [s, s + 1.0], "score": draw(st.floats(0, 1))}
                          for s in draw(st.lists(_numbers, max_size=3))]  # fmt: skip
    return json.dumps({"results": results}, ensure_ascii=draw(st.booleans()))


@st.composite
def seqinfo_text(draw) -> str:
    return (f"[Sequence]\nname={draw(_words)}\nimDir=img1\nframeRate={draw(st.integers(1, 60))}\n"
            f"seqLength={draw(st.integers(1, 10**6))}\nimWidth=640\nimHeight=480\nimExt=.jpg\n")  # fmt: skip


@st.composite
def segment_lines(draw) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        start = draw(_numbers)
        lines.append(f"{draw(_ids)}{draw(st.sampled_from([' ', '  ', chr(9)]))}{start} {start + draw(_numbers)}\n")
    return "".join(lines)


def _seqmap_text(names: list[str]) -> str:
    return "name\n" + "".join(f"{n}\n" for n in names)


def _results_against_ground_truth(path: Path) -> Any:
    ground_truth = path.parent / "gt.json"
    ground_truth.write_text(json.dumps({"database": {"a1": {"subset": "test", "annotations": []}}}))
    return read_activitynet_results(path, read_thumos_json(ground_truth), ignore_unknown=True)


PARSERS: dict[str, tuple[str, Parser]] = {
    "mot_gt": ("gt.txt", lambda p: read_mot_ground_truth(p, 4)),
    "mot_results": ("seq.txt", lambda p: read_mot_results(p, 4)),
    "seqinfo": ("seqinfo.ini", read_seqinfo),
    "seqmap": ("val_seqmap.txt", read_seqmap),
    "thumos_json": ("thumos.json", lambda p: read_thumos_json(p, "test")),
    "thumos_txt": ("ann/Diving_test.txt", lambda p: read_thumos_txt(p.parent, "test")),
    "results": ("results.json", _results_against_ground_truth),
    "kaldi": ("text", read_kaldi_text),
    "librispeech": ("1/2/1-2.trans.txt", lambda p: read_librispeech_transcripts(p.parents[1], require_words=True)),
}


_VALID = {
    "mot_gt": mot_text(ground_truth=True), "mot_results": mot_text(ground_truth=False), "seqinfo": seqinfo_text(),
    "seqmap": st.lists(_words, min_size=1, max_size=4, unique=True).map(_seqmap_text), "thumos_json": thumos_json(),
    "thumos_txt": segment_lines(), "results": results_json(), "kaldi": kaldi_text(), "librispeech": kaldi_text(),
}  # fmt: skip


@pytest.mark.parametrize("parser", sorted(PARSERS))
@FAST
@given(data=st.data())
def test_bom_and_crlf_never_change_what_is_read_and_latin1_is_a_clean_error(parser, data):
    name, parse = PARSERS[parser]
    _check_encodings(name, data.draw(_VALID[parser]), parse)


@pytest.mark.parametrize("parser", sorted(PARSERS))
@FAST
@given(data=st.binary(max_size=200))
def test_random_bytes_give_a_clean_outcome(parser, data):
    _check_garbage(*PARSERS[parser], data)


@pytest.mark.parametrize("parser", sorted(PARSERS))
@FAST
@given(data=st.data())
def test_truncated_and_mutated_files_give_a_clean_outcome(parser, data):
    raw = data.draw(_VALID[parser]).encode()
    cut = data.draw(st.integers(0, len(raw)))
    name, parse = PARSERS[parser]
    _check_garbage(name, parse, raw[:cut])
    if raw:
        position = data.draw(st.integers(0, len(raw) - 1))
        byte = data.draw(st.integers(0, 255))
        _check_garbage(name, parse, raw[:position] + bytes([byte]) + raw[position + 1 :])


@pytest.mark.parametrize("parser", sorted(PARSERS))
@FAST
@given(text=st.text(max_size=120))
def test_random_text_gives_a_clean_outcome(parser, text):
    name, parse = PARSERS[parser]
    _check_garbage(name, parse, text.encode())
