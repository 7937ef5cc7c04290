"""Progress off a terminal: whole lines at most every ``log_every`` seconds, never carriage-return redraws."""

import io

from streammem import progress as progress_module


def test_off_a_terminal_progress_is_a_few_plain_lines(monkeypatch):
    err = io.StringIO()  # not a terminal
    monkeypatch.setattr(progress_module.sys, "stderr", err)
    bar = progress_module.progress_bar(2000, desc="train", log_every=3600, items=range(2000))
    for i in bar:
        bar.set_postfix(loss=f"{i:.3f}")  # every step, as training loops do
    text = err.getvalue()
    assert "\r" not in text
    lines = text.strip().splitlines()
    assert 1 <= len(lines) <= 3 and lines[-1].startswith("train: 100%") and "2000/2000" in lines[-1]
    assert list(progress_module.progress(range(5), total=5, enabled=False)) == [0, 1, 2, 3, 4]
