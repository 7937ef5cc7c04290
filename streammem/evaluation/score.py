"""Score any system's predictions against public-format ground truth with the standard metrics.

  track  --gt   MOTChallenge/DanceTrack split folder (<seq>/gt/gt.txt, <seq>/seqinfo.ini), or the dataset
                root with --subset SPLIT (then SPLIT_seqmap.txt beside it is used when present)
         --pred folder of MOTChallenge results <seq>.txt (frame,id,x,y,w,h,conf,-1,-1,-1)
         metrics: HOTA, DetA, AssA (TrackEval), MOTA, IDF1, IDSW per sequence and COMBINED
  tal    --gt   ActionFormer/OAT annotation JSON, or a folder of THUMOS <Class>_<subset>.txt files
         --pred ActivityNet results JSON {"results": {video: [{label, segment, score[, emitted_at]}]}}
         metrics: mAP@0.3 ... mAP@0.7, mAP_avg; latency_s when detections carry emitted_at
  asr    --gt   Kaldi text file (utt_id transcript), or a LibriSpeech folder of *.trans.txt
         --pred Kaldi text file of hypotheses
         metrics: WER, CER (corpus-pooled) and substitutions, deletions, insertions, hits

Scale (table and JSON): percentages on a 0-100 scale, counts as integers, latency in seconds.

Predictions for items the ground truth does not have (a result file naming no sequence, results for an
unknown video, a hypothesis for an unknown utterance) are refused with one line listing the first few, in
every task; --ignore-unknown skips them instead and reports how many. Items the ground truth has in
another split or outside the seqmap are skipped and counted. A reference transcript without words is an
error naming the file and utterance (its WER would be undefined).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from streammem.data._text_table import unknown_ids_problem
from streammem.errors import InputError

__all__ = ["add_arguments", "run", "score", "format_table", "headline_metrics"]

TASKS = ("track", "tal", "asr")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``streammem score TASK`` for track, tal and asr."""
    from streammem.tasks.common import add_common_arguments

    parser.add_argument("--gt", required=True, type=Path, help="ground truth (file or folder, see above)")
    parser.add_argument("--pred", required=True, type=Path, help="predictions (file or folder, see above)")
    add_common_arguments(parser, "score", out_help="output folder for scores.json (percentages on a 0-100 scale, "
                         "counts as integers, latency in seconds; default runs/<task>/score/<predictions>/), or the "
                         "JSON file itself")
    parser.add_argument(
        "--subset",
        help="split to score: a subfolder of --gt (track: val; asr: test-clean) or the annotations' subset (tal: test)",
    )
    parser.add_argument(
        "--seqmap", type=Path, help="track: seqmap file listing the sequences (header line 'name')"
    )
    parser.add_argument(
        "--ignore-unknown",
        action="store_true",
        help="skip predictions for sequences, videos or utterances the ground truth does not have "
        "(default: refuse them with an error listing the first few)",
    )


def score(
    task: str,
    gt: Path,
    pred: Path,
    subset: str | None = None,
    seqmap: Path | None = None,
    ignore_unknown: bool = False,
) -> dict[str, Any]:
    """Score one task's predictions; the returned dict is what ``--json`` writes.

    ``ignore_unknown``: skip predictions for items the ground truth lacks instead of refusing them.
    """
    if task == "track":
        return _score_track(gt, pred, subset, seqmap, ignore_unknown)
    if task == "tal":
        return _score_tal(gt, pred, subset, ignore_unknown)
    if task == "asr":
        return _score_asr(gt, pred, subset, ignore_unknown)
    raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")


def run(args: argparse.Namespace) -> int:
    """``streammem score TASK``: print a table of the scores and write them as JSON."""
    from streammem.tasks.common import start_score

    job = start_score(args, task=args.task)
    result = score(args.task, args.gt, args.pred, args.subset, args.seqmap, args.ignore_unknown)
    print(format_table(result))
    job.write_main_json("scores.json", result)
    return job.finish()


def _score_track(
    gt: Path, pred: Path, subset: str | None, seqmap: Path | None, ignore_unknown: bool
) -> dict[str, Any]:
    from streammem.evaluation.functional.tracking import score_mot_folder

    root = gt / subset if subset else gt
    if seqmap is None and subset and (gt / f"{subset}_seqmap.txt").is_file():
        seqmap = gt / f"{subset}_seqmap.txt"
    result = score_mot_folder(root, pred, seqmap)
    if result["unknown_predictions"] and not ignore_unknown:
        raise InputError(pred, unknown_ids_problem("result files", result["unknown_predictions"]))
    return {
        "task": "track",
        **result["COMBINED"],
        "gt": str(root),
        "pred": str(pred),
        "seqmap": None if seqmap is None else str(seqmap),
        **result,
    }


def _score_tal(gt: Path, pred: Path, subset: str | None, ignore_unknown: bool) -> dict[str, Any]:
    from streammem.data.thumos import read_activitynet_results, read_thumos_json, read_thumos_txt
    from streammem.evaluation.functional.localization import localization_map

    if not gt.exists():
        raise InputError(gt, "not found")
    annotations = read_thumos_txt(gt, subset) if gt.is_dir() else read_thumos_json(gt, subset)
    if not annotations.annotations:
        raise InputError(gt, "no ground-truth instances in the chosen subset")
    predictions, skipped = read_activitynet_results(pred, annotations, ignore_unknown=ignore_unknown)
    return {
        "task": "tal",
        **localization_map(annotations.annotations, predictions),
        "gt": str(gt),
        "pred": str(pred),
        "subset": subset,
        "videos": len(annotations.videos),
        "ground_truth_instances": len(annotations.annotations),
        "predictions": len(predictions),
        "skipped": {**annotations.skipped, **skipped},
    }


def _score_asr(gt: Path, pred: Path, subset: str | None, ignore_unknown: bool) -> dict[str, Any]:
    from streammem.data.kaldi_text import read_kaldi_text, read_librispeech_transcripts
    from streammem.evaluation.functional.speech import error_rates, normalize_transcript

    root = gt / subset if subset else gt
    if root.is_dir():
        references = read_librispeech_transcripts(root, require_words=True)
    else:
        references = read_kaldi_text(root, require_words=True)
    wordless = [u for u, text in references.items() if not normalize_transcript(text)]
    if wordless:  # e.g. punctuation only: no word survives normalisation
        raise InputError(root, f"utterance {wordless[0]!r}: the reference has no words after normalisation")
    hypotheses = read_kaldi_text(pred)
    unknown = sorted(set(hypotheses) - set(references))
    if unknown and not ignore_unknown:
        raise InputError(pred, unknown_ids_problem("hypothesis utterances", unknown))
    scores = error_rates(references, {u: h for u, h in hypotheses.items() if u in references})
    return {
        "task": "asr",
        **scores,
        "extra_hypotheses": unknown,
        "gt": str(root),
        "pred": str(pred),
        "utterances": len(references),
    }


def format_table(result: dict[str, Any]) -> str:
    """A readable plain-text table of ``score``'s result."""
    if result["task"] == "track":
        keys = list(result["COMBINED"])
        rows = [[name, *row.values()] for name, row in result["sequences"].items()]
        lines = _rows(["sequence", *keys], [*rows, ["COMBINED", *result["COMBINED"].values()]])
        if result["missing_sequences"]:
            lines.append(f"no predictions (scored as all misses): {', '.join(result['missing_sequences'])}")
        lines += [f"skipped {k.replace('_', ' ')}: {v}" for k, v in result["skipped"].items() if v]
        if result["ignored_predictions"]:
            lines.append(
                f"ignored result files (not in the sequence list): {', '.join(result['ignored_predictions'])}"
            )
        if result["unknown_predictions"]:
            lines.append(
                f"skipped result files (no such sequence): {', '.join(result['unknown_predictions'])}"
            )
        return "\n".join(lines)
    lines = _rows(["metric", "value"], [[k, v] for k, v in headline_metrics(result).items()])
    if result["task"] == "tal":
        lines.append(
            f"{result['videos']} videos, {result['ground_truth_instances']} ground-truth instances, "
            f"{result['predictions']} predictions"
        )
        lines += [f"skipped {k.replace('_', ' ')}: {v}" for k, v in result["skipped"].items() if v]
    else:
        for key in ("missing_hypotheses", "extra_hypotheses"):
            if result[key]:
                shown = ", ".join(result[key][:10]) + (" ..." if len(result[key]) > 10 else "")
                label = "skipped unknown hypotheses" if key == "extra_hypotheses" else "missing hypotheses"
                lines.append(f"{label} ({len(result[key])}): {shown}")
    return "\n".join(lines)


def headline_metrics(result: dict[str, Any]) -> dict[str, Any]:
    """The scalar metrics at the top level of a score/eval result (HOTA..., mAP@..., WER...)."""
    return {
        k: v for k, v in result.items() if k != "task" and isinstance(v, int | float) and k not in _DETAIL_KEYS
    }


_DETAIL_KEYS = frozenset({"utterances", "videos", "ground_truth_instances", "predictions"})


def _rows(header: list[str], rows: list[list[Any]]) -> list[str]:
    """Left-aligned first column, right-aligned numbers (2 decimals for floats)."""
    cells = [header] + [[str(r[0])] + [_cell(v) for v in r[1:]] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        "  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)])
        for row in cells
    ]


def _cell(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)

