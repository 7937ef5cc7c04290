"""`streammem bench`: one quick run of every task (a few steps each) writes every key and the device measured,
a fixed-size state, a growing recompute, and the report `tools/bench_report.py` renders; bad options and devices are
one-line errors.
Timings are never asserted."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from bench_json import missing_keys

from streammem.cli import main
from streammem.tasks import TASKS, common

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    code = main(["bench", "all", "--quick", "--device", "cpu", "--threads", "1", "--out", str(out / "all.json"),
                 "--report", str(out / "all.md")])
    assert code == 0
    return json.loads((out / "all.json").read_text()), out


def test_every_task_writes_every_key(quick):
    result, _ = quick
    assert {"machine", "matmul", "options", "tasks", "wall_seconds"} <= set(result)
    assert {"torch", "cpu", "threads", "date"} <= set(result["machine"]) and result["machine"]["threads"] == 1
    assert set(result["tasks"]) == set(TASKS)
    for name, task in result["tasks"].items():
        assert missing_keys(task, name) == []


def test_the_json_records_the_device_measured(quick):
    result, _ = quick
    assert result["machine"]["device"] == result["matmul"]["device"] == "cpu"
    assert result["machine"]["device_name"] == result["machine"]["cpu"] and result["matmul"]["size"] == 1024


def test_the_state_keeps_its_size_along_the_stream(quick):
    result, _ = quick
    positions = result["options"]["positions"]
    for name, task in result["tasks"].items():
        rows = task["stream"]["positions"]
        assert [r["position"] for r in rows] == positions, name
        assert len({r["state_bytes"] for r in rows}) == 1 and rows[0]["state_bytes"] > 0, name
        assert task["stream"]["steps_run"] > positions[-1], name


def test_the_recompute_attends_over_a_history_that_grows(quick):
    result, _ = quick
    for name, task in result["tasks"].items():
        rc = task["recompute"]
        tokens = [m["tokens"] for m in rc["measured"]]
        assert tokens == sorted(tokens) and tokens[-1] > tokens[0], name
        assert all(m["tokens"] == m["n"] * rc["tokens_per_step"] for m in rc["measured"]), name
        assert [a["n"] for a in rc["at_positions"]] == result["options"]["positions"], name
        assert task["ratios"]["speed"] > 0 and task["ratios"]["memory"] > 0, name


def test_peers_and_flops_are_counted(quick):
    result, _ = quick
    for name, task in result["tasks"].items():
        assert all(p["ours_ms"] > 0 and p["peer_ms"] > 0 for p in task["peers"]), name
        (tiny,) = task["efficiency"]
        assert tiny["config"] == "tiny" and tiny["flops_per_step"] > 0, name
    (deformable,) = result["tasks"]["track"]["peers"]
    assert deformable["max_abs_diff"] < 1e-4  # ours and the reference formulation compute the same function


def test_the_report_is_rendered_from_the_json(quick):
    _, out = quick
    report = (out / "all.md").read_text()
    assert all(f"## `{name}`" in report for name in TASKS) and "nan" not in report.lower()
    tool = subprocess.run([sys.executable, str(ROOT / "tools" / "bench_report.py"), str(out / "all.json")],
                          capture_output=True, text=True, timeout=120)
    assert tool.returncode == 0, tool.stderr
    assert tool.stdout == report


def test_the_report_says_what_was_done_about_the_worst_operators_where_they_are_listed(quick):
    result, out = quick
    report = (out / "all.md").read_text()
    listed = [name for name, task in result["tasks"].items()
              if task["worst_operators"] and any(e["top_operators"] for e in task["efficiency"])]
    assert listed  # the quick run profiles the tiny steps below the floor
    for name in listed:
        section = report.split(f"## `{name}`")[1].split("\n## ")[0]
        assert "What was done about the worst operators:" in section
        assert all(f"- {note}" in section for note in result["tasks"][name]["worst_operators"])


def test_the_latency_target_compares_a_fresh_stream_and_the_long_one_timed_in_alternating_blocks(quick):
    result, out = quick
    for task in result["tasks"].values():
        paired = task["stream"]["paired"]
        assert paired["first_position"] == result["options"]["positions"][0]
        assert paired["last_position"] > result["options"]["positions"][-1]  # the long stream went on
        assert paired["first_ms"]["samples"] == paired["last_ms"]["samples"] == 9  # 3 blocks of 3 steps (quick)
        ratio = paired["last_ms"]["p50"] / paired["first_ms"]["p50"]
        assert task["targets"]["flat_latency"]["ratio"] == ratio
    assert "alternating blocks" in (out / "all.md").read_text()


def test_bad_options_are_one_line_usage_errors(capsys):
    for bad in (["--positions", "0"], ["--positions", "a,b"], ["--configs", "huge"], ["--repeats", "0"]):
        assert main(["bench", "tal", *bad]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_bench_all_refuses_a_device_one_task_cannot_bench_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert main(["bench", "all", "--quick", "--device", "mps", "--out", str(tmp_path / "all.json")]) == 2
    assert "streammem bench all runs on cpu and cuda only" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_report_inside_the_package_is_refused_before_any_work(tmp_path, capsys):
    target = common.PACKAGE_DIR / "weights" / "report.md"
    assert main(["bench", "all", "--quick", "--out", str(tmp_path), "--report", str(target)]) == 2
    assert "refusing to write inside the streammem package" in capsys.readouterr().err
    assert not target.exists() and not list(tmp_path.iterdir())
