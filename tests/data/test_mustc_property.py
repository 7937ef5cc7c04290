"""MuST-C YAML and text files: a BOM or CRLF never changes the segments read; random, truncated or latin-1
bytes are one clean StreamMemError, never another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streammem.data.mustc import read_split
from streammem.errors import StreamMemError

FAST = settings(max_examples=30, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
YAML = b"- {duration: 1.5, offset: 0.5, wav: ted_1.wav}\n- {duration: 2.0, offset: 2.5, wav: ted_1.wav}\n"
EN, DE = b"Hello.\nBye.\n", "Hallo.\nTschüss.\n".encode()


def _read(yaml: bytes, en: bytes = EN, de: bytes = DE):
    """("ok", [(id, offset, duration, source, target)]) or ("error", message) for a corpus with these files."""
    with tempfile.TemporaryDirectory() as folder:
        split = Path(folder) / "en-de" / "data" / "dev"
        (split / "wav").mkdir(parents=True)
        (split / "txt").mkdir()
        sf.write(split / "wav" / "ted_1.wav", np.zeros(16000 * 5, np.float32), 16000)
        for name, data in (("dev.yaml", yaml), ("dev.en", en), ("dev.de", de)):
            (split / "txt" / name).write_bytes(data)
        try:
            return "ok", [(s.id, s.offset, s.duration, s.source, s.target) for s in read_split(folder, "dev")]
        except StreamMemError as err:
            assert "\n" not in str(err), str(err)
            return "error", str(err)


def test_bom_and_crlf_read_the_same_segments():
    plain = _read(YAML)
    assert plain[0] == "ok" and len(plain[1]) == 2
    crlf = lambda b: b.replace(b"\n", b"\r\n")  # noqa: E731
    assert _read(b"\xef\xbb\xbf" + YAML, b"\xef\xbb\xbf" + EN, b"\xef\xbb\xbf" + DE) == plain
    assert _read(crlf(YAML), crlf(EN), crlf(DE)) == plain


def test_latin1_text_is_a_clean_error():
    kind, message = _read(YAML, de="Hallo.\nTschüss.\n".encode("latin-1"))
    assert kind == "error" and "dev.de" in message


@FAST
@given(st.binary(max_size=300))
def test_random_yaml_bytes_are_read_or_refused_cleanly(data):
    _read(data)


@FAST
@given(st.integers(min_value=0, max_value=len(YAML)))
def test_truncated_yaml_is_read_or_refused_cleanly(cut):
    _read(YAML[:cut])


@FAST
@given(st.sampled_from(["en", "de"]), st.data())
def test_truncated_or_mutated_text_files_are_read_or_refused_cleanly(which, data):
    raw = EN if which == "en" else DE
    cut = data.draw(st.integers(0, len(raw)))
    position = data.draw(st.integers(0, len(raw) - 1))
    mutated = raw[:position] + bytes([data.draw(st.integers(0, 255))]) + raw[position + 1:]
    for variant in (raw[:cut], mutated):
        _read(YAML, **{which: variant})


_yaml_pieces = st.sampled_from(["- ", "{", "}", "[", "]", ":", ",", " ", "\n", "duration", "offset", "wav", "ted_1.wav",
                                "ted_2.wav", "1.5", "-3", "1e9", "nan", ".inf", "null", "'", '"', "#", "&a", "*a", "!!str",
                                "\t", "\r\n", "é"])


@FAST
@given(st.lists(_yaml_pieces, max_size=40).map("".join))
def test_yaml_like_text_is_read_or_refused_cleanly(text):
    kind, found = _read(text.encode())
    if kind == "ok":  # whatever was accepted is usable: a segment inside its 5 s talk
        assert all(0 <= offset and 0 < duration and offset + duration <= 5.0 for _, offset, duration, _, _ in found)


_values = st.sampled_from(["nan", ".nan", ".inf", "-.inf", "-1", "0", "0.0", "1e9", "2.5", "1", "abc", "", "~", "[1]",
                           "{a: 1}", "true", "0x10", "1_0", "2.5e-1"])


@FAST
@given(st.lists(st.tuples(_values, _values, st.sampled_from(["ted_1.wav", "ted_2.wav", "", "~", "../ted_1.wav", "1"])),
                min_size=2, max_size=2))
def test_odd_offsets_durations_and_wav_names_are_read_only_when_valid(entries):
    yaml = "".join(f"- {{duration: {d}, offset: {o}, wav: {w}}}\n" for d, o, w in entries).encode()
    kind, found = _read(yaml)
    if kind == "ok":
        assert all(0 <= offset and 0 < duration and offset + duration <= 5.0 for _, offset, duration, _, _ in found)
