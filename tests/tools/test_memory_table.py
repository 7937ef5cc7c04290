"""tools/experiments/memory_table.py: ablate.py tables assembled into one memory type x task table."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "tools" / "experiments" / "memory_table.py"
_SPEC = importlib.util.spec_from_file_location("memory_table", _PATH)
memory_table = importlib.util.module_from_spec(_SPEC)
sys.modules["memory_table"] = memory_table
_SPEC.loader.exec_module(memory_table)


def _stat(mean, std):
    return {"mean": mean, "std": std, "per_seed": []}


TAL = {"task": "tal", "metrics": ["mAP_avg"], "seeds": [0, 1, 2], "items": 60, "schedule": "400",
       "variants": {"queue": {"mAP_avg": _stat(6.38, 0.79)}, "none": {"mAP_avg": _stat(4.1, 1.39)}},
       "differences": {"queue - none": {"mAP_avg": {"difference": 2.27, "low": 1.18, "high": 3.98}}}}
ASR = {"task": "asr", "metrics": ["WER", "CER"], "seeds": [0, 1, 2], "items": 300, "schedule": "300",
       "variants": {"ntm": {"WER": _stat(50.0, 1.0), "CER": _stat(20.0, 1.0)},
                    "gated": {"WER": _stat(48.0, 2.0), "CER": _stat(19.0, 1.0)},
                    "none": {"WER": _stat(49.0, 0.5), "CER": _stat(19.5, 1.0)}},
       "differences": {"ntm - gated": {"WER": {"difference": 2.0, "low": 0.5, "high": 3.5}},
                       "ntm - none": {"WER": {"difference": 1.0, "low": -0.5, "high": 2.5}}}}


def test_rows_are_memory_types_none_last_and_columns_tasks_with_their_first_metric():
    lines = memory_table.memory_table([TAL, ASR]).splitlines()
    assert lines[0] == "| memory | tal: mAP_avg | asr: WER |"
    assert lines[2] == "| queue | 6.38 ± 0.79 (ref) | – |"
    assert lines[3] == "| ntm | – | 50.00 ± 1.00 (ref) |"
    assert lines[4].startswith("| gated | – | 48.00 ± 2.00; ref − this +2.00")
    assert lines[5] == "| none | 4.10 ± 1.39; ref − this +2.27 (+1.18 .. +3.98) | 49.00 ± 0.50; ref − this +1.00 (-0.50 .. +2.50) |"


def test_a_file_that_is_not_a_table_is_a_one_line_error(tmp_path):
    bad = tmp_path / "table.json"
    bad.write_text(json.dumps({"rows": []}))
    with pytest.raises(SystemExit, match=r"table.json: not an ablate.py table.json"):
        memory_table.read_tables([bad])
    with pytest.raises(SystemExit, match="missing.json"):
        memory_table.read_tables([tmp_path / "missing.json"])
