import os
import stat

import pytest

from streammem.errors import InputError, atomic_output


def test_input_error_names_source_line_and_problem():
    err = InputError("gt/gt.txt", "expected 9 columns, got 7", line=12)
    assert str(err) == "gt/gt.txt:12: expected 9 columns, got 7"


def test_atomic_output_renames_on_success(tmp_path):
    target = tmp_path / "out" / "result.json"
    with atomic_output(target) as tmp:
        assert tmp != target and tmp.parent == target.parent
        tmp.write_text("ok")
        assert not target.exists()
    assert target.read_text() == "ok"
    assert list(target.parent.iterdir()) == [target]


def test_atomic_output_gets_the_usual_file_mode(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "weights.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "weights.bin").stat().st_mode) == 0o644


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("previous")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "previous"
    assert list(tmp_path.iterdir()) == [target]
