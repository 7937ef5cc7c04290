"""Simultaneous speech translation scores exactly as SimulEval 1.1 defines them, plus corpus BLEU.

Quality: sacreBLEU corpus BLEU, 13a tokenizer, case-sensitive, on the detokenized word stream.
Latency (ms of source audio), per instance then averaged over instances, with the latency unit = word:

- ``delays`` d_i: ms of source audio read when output word i was emitted.
- ``elapsed`` e_i: d_i plus the wall-clock ms spent since the instance's first read (computation-aware).
- |X| = source duration in ms; |Y| = **reference** word count (SimulEval 1.1's default, ``use_ref_len``);
  SimulEval 1.0.x used reference words + 1 and counted the end of sentence, so its numbers differ.

AL   = 1/tau sum_{i<=tau} [d_i - (i-1)|X|/|Y|], tau = first i with d_i >= |X|; AL = d_1 if d_1 > |X|.
LAAL = AL with |Y| replaced by max(|hyp|, |Y|).
DAL  = 1/|hyp| sum_i [g_i - (i-1)|X|/|hyp|], g_1 = d_1, g_i = max(d_i, g_{i-1} + |X|/|hyp|).
AP   = sum_i d_i / (|X| |Y|) (a ratio, may exceed 1).
``*_CA`` = the same formulas on ``elapsed``. Hand-written (about 40 lines) so the base install does not
carry SimulEval's pins; the golden-vector tests were computed with SimulEval 1.1.4.

An instance without output has no delays; like SimulEval, it is left out of the latency means (it still
counts in BLEU) and the number of such instances is reported as ``empty``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "SimulInstance",
    "average_lagging",
    "length_adaptive_average_lagging",
    "differentiable_average_lagging",
    "average_proportion",
    "instance_latency",
    "corpus_bleu",
    "simulst_scores",
    "read_instances_log",
    "score_instances_log",
]


@dataclass
class SimulInstance:
    """One translated segment: words emitted, their delays (and elapsed times), source length, reference."""

    prediction: str
    delays: list[float]
    source_length: float
    reference: str
    elapsed: list[float] = field(default_factory=list)

    @property
    def reference_length(self) -> int:
        return len(self.reference.split())


def average_lagging(delays: Sequence[float], source_length: float, target_length: float) -> float:
    """AL (Ma et al. 2019, SimulEval's oracle): lag behind an ideal policy, up to the first full read."""
    if delays[0] > source_length:
        return float(delays[0])
    rate = source_length / target_length  # ms of source per target word of the ideal policy
    total, tau = 0.0, 0
    for i, d in enumerate(delays):
        total += d - i * rate
        tau = i + 1
        if d >= source_length:
            break
    return total / tau


def length_adaptive_average_lagging(delays: Sequence[float], source_length: float, reference_length: int) -> float:
    """LAAL (Papi et al. 2022): AL with max(|hyp|, |ref|), so over-generation is not rewarded."""
    return average_lagging(delays, source_length, max(len(delays), reference_length))


def differentiable_average_lagging(delays: Sequence[float], source_length: float) -> float:
    """DAL (Cherry & Foster 2019): every word lags at least |X|/|hyp| behind the previous; hypothesis length."""
    rate = source_length / len(delays)
    total, previous = 0.0, 0.0
    for i, d in enumerate(delays):
        previous = d if i == 0 else max(d, previous + rate)
        total += previous - i * rate
    return total / len(delays)


def average_proportion(delays: Sequence[float], source_length: float, target_length: float) -> float:
    """AP (Cho & Esipova 2016): mean share of the source read per word, over |Y| words."""
    return sum(delays) / (source_length * target_length)


def instance_latency(instance: SimulInstance) -> dict[str, float]:
    """AL, LAAL, DAL, AP and, when ``elapsed`` is given, AL_CA, LAAL_CA, DAL_CA, AP_CA of one instance."""
    ref = instance.reference_length
    if ref == 0:
        raise ValueError("latency needs a reference with at least one word (|Y| = reference words)")
    out: dict[str, float] = {}
    variants = [("", instance.delays)] + ([("_CA", instance.elapsed)] if instance.elapsed else [])
    for suffix, times in variants:
        out["AL" + suffix] = average_lagging(times, instance.source_length, ref)
        out["LAAL" + suffix] = length_adaptive_average_lagging(times, instance.source_length, ref)
        out["DAL" + suffix] = differentiable_average_lagging(times, instance.source_length)
        out["AP" + suffix] = average_proportion(times, instance.source_length, ref)
    return out


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacreBLEU corpus BLEU (0-100), 13a tokenizer, case-sensitive, one reference per segment."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)], tokenize="13a", lowercase=False).score)


def simulst_scores(instances: Sequence[SimulInstance]) -> dict[str, Any]:
    """Corpus BLEU and the instance-mean latencies (ms; AP as a ratio), SimulEval 1.1 conventions.

    Keys: ``BLEU, AL, LAAL, DAL, AP`` and, when every scored instance has ``elapsed``, the ``_CA`` variants;
    ``instances`` (count) and ``empty`` (instances without output, left out of the latency means).
    """
    if not instances:
        raise ValueError("no instances to score")
    out: dict[str, Any] = {"BLEU": corpus_bleu([i.prediction for i in instances], [i.reference for i in instances])}
    scored = [instance_latency(i) for i in instances if i.delays]
    keys = [k for k in scored[0] if all(k in s for s in scored)] if scored else ["AL", "LAAL", "DAL", "AP"]
    for key in keys:
        out[key] = sum(s[key] for s in scored) / len(scored) if scored else math.nan
    out["instances"] = len(instances)
    out["empty"] = len(instances) - len(scored)
    return out


def read_instances_log(path: str | os.PathLike) -> list[SimulInstance]:
    """SimulEval's ``instances.log``: one JSON object per line with ``prediction``, ``delays``, ``elapsed``,
    ``source_length`` (ms) and ``reference``. A malformed line is an :class:`InputError` naming the line."""
    from streammem.errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "instances log not found")
    instances = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(path, f"not a JSON line ({err.msg})", line=number) from None
        missing = [k for k in ("prediction", "delays", "source_length", "reference") if k not in record]
        if missing:
            raise InputError(path, f"missing key(s) {', '.join(missing)}", line=number)
        prediction = record["prediction"]
        prediction = " ".join(prediction) if isinstance(prediction, list) else str(prediction)
        delays = [float(d) for d in record["delays"]]
        elapsed = [float(e) for e in record.get("elapsed") or []]
        if len(delays) != len(prediction.split()):
            raise InputError(path, f"{len(delays)} delays for {len(prediction.split())} predicted words", line=number)
        if elapsed and len(elapsed) != len(delays):
            raise InputError(path, f"{len(elapsed)} elapsed times for {len(delays)} delays", line=number)
        if not str(record["reference"]).split():
            raise InputError(path, "empty reference (latency needs |Y| > 0)", line=number)
        instances.append(SimulInstance(prediction, delays, float(record["source_length"]), str(record["reference"]), elapsed))
    if not instances:
        raise InputError(path, "no instances in the log")
    return instances


def score_instances_log(pred: str | os.PathLike, gt: str | os.PathLike | None = None) -> dict[str, Any]:
    """``score simulst --pred INSTANCES.log [--gt REF]``: :func:`simulst_scores` of a SimulEval log.

    ``gt`` (optional) is a reference file with one line per instance, in the log's order (e.g. MuST-C's
    ``tst-COMMON.de``); it replaces the references stored in the log. Line counts must agree.
    """
    from streammem.errors import InputError

    instances = read_instances_log(pred)
    if gt is not None:
        gt = Path(gt)
        if not gt.is_file():
            raise InputError(gt, "reference file not found")
        lines = gt.read_text(encoding="utf-8").splitlines()
        if len(lines) != len(instances):
            raise InputError(gt, f"{len(lines)} reference lines, but {Path(pred).name} has {len(instances)} instances")
        for number, (line, instance) in enumerate(zip(lines, instances, strict=True), start=1):
            if not line.split():
                raise InputError(gt, "empty reference (latency needs |Y| > 0)", line=number)
            instance.reference = line.strip()
    return simulst_scores(instances)
