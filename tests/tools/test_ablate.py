"""tools/experiments/ablate.py: the table's means, spreads and paired bootstrap on hand-computed cases."""

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "tools" / "experiments" / "ablate.py"
_SPEC = importlib.util.spec_from_file_location("ablate", _PATH)
ablate = importlib.util.module_from_spec(_SPEC)
sys.modules["ablate"] = ablate  # dataclasses look their module up there
_SPEC.loader.exec_module(ablate)


def _share(predictions, items):
    """A stand-in metric: the share of drawn items a run gets right (1) in percent."""
    return {"acc": 100.0 * sum(predictions[i] for i in items) / len(items)}


def test_table_means_spreads_and_paired_difference():
    items = ["a", "b", "c", "d"]
    runs = [
        ablate.Run("queue", 0, {"a": 1, "b": 1, "c": 1, "d": 0}),  # 75
        ablate.Run("queue", 1, {"a": 1, "b": 1, "c": 0, "d": 0}),  # 50
        ablate.Run("none", 0, {"a": 1, "b": 0, "c": 0, "d": 0}),  # 25
        ablate.Run("none", 1, {"a": 1, "b": 0, "c": 0, "d": 0}),  # 25
    ]
    result = ablate.table(runs, items, _share, ["acc"], resamples=500)
    assert result["variants"]["queue"]["acc"]["mean"] == pytest.approx(62.5)
    assert result["variants"]["queue"]["acc"]["std"] == pytest.approx(17.6777, abs=1e-3)  # sample std of 75, 50
    assert result["variants"]["none"]["acc"] == {"mean": 25.0, "std": 0.0, "per_seed": [25.0, 25.0]}
    diff = result["differences"]["queue - none"]["acc"]
    assert diff["difference"] == pytest.approx(37.5)
    # per item the seed-mean difference is a 0, b 100, c 50, d 0: resampled means lie in [0, 100], around 37.5
    assert 0.0 <= diff["low"] < 37.5 < diff["high"] <= 100.0
    table = ablate.markdown(result, "demo", "python tools/experiments/ablate.py demo")
    assert "| queue | 62.50 ± 17.68 |" in table and "| queue - none | +37.50 (" in table


def test_identical_variants_have_a_zero_width_interval():
    runs = [ablate.Run(v, 0, {"a": 1, "b": 0, "c": 1}) for v in ("queue", "none")]
    diff = ablate.paired_bootstrap(runs[:1], runs[1:], ["a", "b", "c"], _share, "acc", resamples=200)
    assert diff == (0.0, 0.0, 0.0)  # the same items are drawn for both: no spurious spread
