import json
import math
import re

import pytest

from streammem.errors import InputError
from streammem.evaluation.functional.simulst import (
    SimulInstance,
    average_lagging,
    corpus_bleu,
    differentiable_average_lagging,
    instance_latency,
    read_instances_log,
    score_instances_log,
    simulst_scores,
)
from streammem.evaluation.metrics.simulst import SimulSTMetric

# Golden vector computed with SimulEval 1.1.4 (word unit, |Y| = reference words).
GOLDEN = SimulInstance(
    prediction="a b c d e f",
    delays=[1280, 1280, 1920, 2560, 3000, 3000],
    source_length=3000,
    reference="v w x y z",
    elapsed=[1400, 1450, 2100, 2800, 3300, 3350],
)


def test_golden_vector_matches_simuleval():
    scores = instance_latency(GOLDEN)
    assert scores["AL"] == pytest.approx(808.0)
    assert scores["LAAL"] == pytest.approx(1008.0)
    assert scores["DAL"] == pytest.approx(1280.0)
    assert scores["AP"] == pytest.approx(0.869333, abs=1e-6)
    assert scores["AL_CA"] == pytest.approx(1010.0)


def test_al_is_first_delay_when_it_exceeds_the_source():
    assert average_lagging([3500.0, 3600.0], 3000.0, 2) == 3500.0


def test_wait_nothing_policy_has_zero_al():
    # the ideal policy: word i emitted at (i-1)|X|/|Y| lags by nothing
    assert average_lagging([0.0, 1000.0, 2000.0, 3000.0], 3000.0, 3) == pytest.approx(0.0)


def test_dal_pushes_bunched_words_apart():
    # all words at the end: g_i = 3000 + (i-1)*1000, so every term lags by 3000
    assert differentiable_average_lagging([3000.0] * 3, 3000.0) == pytest.approx(3000.0)


def test_bleu_is_case_sensitive():
    assert corpus_bleu(["Der Hund schläft heute ."], ["Der Hund schläft heute ."]) == pytest.approx(100.0)
    assert corpus_bleu(["der hund schläft heute ."], ["Der Hund schläft heute ."]) < 50.0


def test_corpus_scores_skip_empty_outputs_in_latency():
    empty = SimulInstance("", [], 2000.0, "ein Wort")
    scores = simulst_scores([GOLDEN, empty])
    assert scores["AL"] == pytest.approx(808.0) and scores["empty"] == 1 and scores["instances"] == 2


def test_metric_accumulator_matches_functional():
    metric = SimulSTMetric()
    metric.process(None, [{"segment": "t_1", "prediction": GOLDEN.prediction, "delays": GOLDEN.delays,
                           "elapsed": GOLDEN.elapsed, "source_length": 3000, "reference": GOLDEN.reference}])
    result = metric.compute_metrics(metric.results)
    assert result["AL"] == pytest.approx(808.0) and result["AL_CA"] == pytest.approx(1010.0)
    assert not math.isnan(result["BLEU"])


def test_instances_log_round_trip(tmp_path):
    log = tmp_path / "instances.log"
    record = {"index": 0, "prediction": GOLDEN.prediction, "delays": GOLDEN.delays, "elapsed": GOLDEN.elapsed,
              "prediction_length": 6, "source_length": 3000, "reference": GOLDEN.reference}
    log.write_text(json.dumps(record) + "\n")
    (instance,) = read_instances_log(log)
    assert instance_latency(instance)["LAAL"] == pytest.approx(1008.0)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not a JSON line"),
        ('{"prediction": "a", "delays": [1]}', "missing key(s) source_length, reference"),
        ('{"prediction": "a b", "delays": [1], "source_length": 5, "reference": "x"}', "1 delays for 2 predicted"),
        ('{"prediction": "a", "delays": [1], "source_length": 5, "reference": " "}', "empty reference"),
    ],
)
def test_instances_log_errors_name_the_line(tmp_path, line, problem):
    log = tmp_path / "instances.log"
    log.write_text("\n" + line + "\n")
    with pytest.raises(InputError, match=f"instances.log:2: .*{re.escape(problem)}"):
        read_instances_log(log)


def test_score_log_with_reference_file(tmp_path):
    log = tmp_path / "instances.log"
    record = {"prediction": "Der Hund schläft .", "delays": [500, 900, 1400, 2000], "source_length": 2000,
              "reference": "ignored by --gt"}
    log.write_text(json.dumps(record) + "\n")
    ref = tmp_path / "ref.de"
    ref.write_text("Der Hund schläft .\n")
    scores = score_instances_log(log, ref)
    assert scores["BLEU"] == pytest.approx(100.0) and scores["AL"] == pytest.approx((500 + 400 + 400 + 500) / 4)
    ref.write_text("a\nb\n")
    with pytest.raises(InputError, match="2 reference lines, but instances.log has 1 instances"):
        score_instances_log(log, ref)
