"""``streammem <verb> track``: multi-object tracking with MeMOTR (demo, run, eval, train, export, bench).

Data are MOTChallenge/DanceTrack folders; the synthetic set (``streammem.data.synthetic_mot``) uses the same
layout. Heavy imports happen inside the functions so ``streammem --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from streammem.errors import InputError, StreamMemError
from streammem.evaluation.resume import StreamResults, fingerprint
from streammem.tasks import training_command
from streammem.tasks.common import (
    ALL_DEVICES,
    add_amp_argument,
    add_common_arguments,
    add_export_options,
    autocast,
    config_errors,
    finish_export,
    int_at_least,
    non_negative_int,
    positive_float,
    positive_int,
    resolve_weights,
    start,
    start_export,
    train_config,
)

__all__ = [
    "load_model", "track_frames", "evaluate", "track_parity", "synthetic_clip",
    "add_demo_arguments", "demo", "add_run_arguments", "run", "add_eval_arguments", "eval", "add_train_arguments", "train",
    "add_export_arguments", "export", "add_bench_arguments", "bench", "TRAIN_SEEDS", "TEST_SEEDS",
]

DEVICES = ALL_DEVICES  # the model, its state and every frame go to --device; boxes come back to the CPU per frame
EXPORT_DEVICES = ("cpu",)  # the exported step is traced and checked on the CPU; the file loads on any device
BENCH_DEVICES = ("cpu", "cuda")  # the benchmark measures on --device; MPS has no peak-memory statistics

PACKAGE = Path(__file__).resolve().parent.parent
SAMPLE_CLIP = PACKAGE / "samples" / "track_sample.mp4"
TRAIN_SEEDS = list(range(1000, 1024))  # synthetic training sequences
TEST_SEEDS = list(range(5000, 5008))  # held out: never used in training
DEFAULT_DATA = Path("runs/synth_track")


def load_model(weights: str | os.PathLike | None = None, **overrides: Any):
    """MeMOTR in eval mode with the given (or shipped) weights; its config comes from the weights' JSON."""
    from streammem.checkpoints import load_metadata, load_weights, stored_config_errors
    from streammem.models.memotr import build
    from streammem.models.memotr.config import resolve_config

    path = resolve_weights(weights, "memotr")
    meta = load_metadata(path)
    if meta.get("model") != "memotr":
        raise InputError(path, f"weights are for model {meta.get('model')!r}, not 'memotr'")
    with stored_config_errors(path):  # the stored config's errors name the sidecar; the caller's overrides'
        stored = resolve_config(meta["config"])  # errors stay the caller's (train track --init ... --set)
    model = build(stored, **overrides)
    load_weights(model, path, expect_model="memotr")  # names and shapes checked, non-finite values refused
    return model.eval()


# ------------------------------------------------------------------------------------------------ tracking
def track_frames(model, frames, width: int, height: int, baseline: bool = False):
    """Track one video given as an iterable of normalised frames (3, h, w); returns MotBoxes in pixels of
    (width, height).

    ``baseline`` runs the Kalman + Hungarian tracker on the same model's detections instead of MeMOTR's
    track queries. Runs without autograd (the state would otherwise chain a graph through the whole video).
    """
    import torch

    with torch.no_grad():
        return _track_frames(model, frames, width, height, baseline)


def _track_frames(model, frames, width: int, height: int, baseline: bool):
    import numpy as np

    from streammem.data.mot import MotBoxes
    from streammem.models.memotr.bytetrack import ByteTrackLite
    from streammem.models.memotr.model import boxes_to_xyxy_pixels

    rows_f, rows_id, rows_box, rows_score = [], [], [], []
    device = next(model.parameters()).device
    if baseline:
        tracker = ByteTrackLite(high=model.det_thresh, max_age=model.miss_tolerance)
        for t, frame in enumerate(frames):
            boxes, scores = model.detect(frame.unsqueeze(0).to(device))
            xyxy = boxes_to_xyxy_pixels(boxes[0].float(), width, height).cpu().numpy()
            s = scores[0].float().cpu().numpy()
            keep = _nms(xyxy, s)
            shown, ids = tracker.update(xyxy[keep], s[keep])
            for box, i in zip(shown, ids, strict=True):
                rows_f.append(t + 1), rows_id.append(int(i) + 1), rows_box.append(box), rows_score.append(1.0)
    else:
        state = model.initial_state(1)
        for t, frame in enumerate(frames):
            out, state = model(frame.unsqueeze(0).to(device), state)
            keep = out.keep[0]
            xyxy = boxes_to_xyxy_pixels(out.boxes[0][keep].float(), width, height).cpu().numpy()
            for box, i, s in zip(xyxy, out.ids[0][keep].tolist(), out.scores[0][keep].tolist(), strict=True):
                rows_f.append(t + 1), rows_id.append(i + 1), rows_box.append(box), rows_score.append(s)
    box = np.asarray(rows_box, dtype=np.float64).reshape(-1, 4)
    xywh = np.concatenate([box[:, :2], box[:, 2:] - box[:, :2]], axis=1)
    return MotBoxes.tracks(rows_f, rows_id, xywh, rows_score)


def _nms(xyxy, scores, iou: float = 0.7):
    import torch
    from torchvision.ops import nms

    return nms(torch.as_tensor(xyxy), torch.as_tensor(scores), iou).numpy()


def _dataset_root(path: Path, split: str) -> tuple[Path, Path | None]:
    """(folder holding the sequences, seqmap or None) for a DanceTrack-style root or a split folder."""
    if (path / split).is_dir():
        seqmap = path / f"{split}_seqmap.txt"
        return path / split, seqmap if seqmap.is_file() else None
    if path.is_dir():
        return path, None
    raise InputError(path, "dataset folder not found")


def evaluate(model, data: Path, split: str, predictions: Path, baseline: bool = False, progress: bool = True,
             cache: StreamResults | None = None):
    """Track every sequence under ``data`` (DanceTrack/MOT17 layout), write MOTChallenge txt files to
    ``predictions`` and score them with TrackEval; returns the metrics dict (COMBINED row at the top).

    ``cache``: per-sequence results of an earlier run to reuse, and where each finished sequence is stored."""
    from streammem.data.mot import MotBoxes, find_sequences, read_seqinfo, write_mot_results
    from streammem.data.mot_frames import read_frame
    from streammem.evaluation.functional.tracking import TRACKING_KEYS, score_mot_folder
    from streammem.models.memotr.data import preprocess

    seq_root, seqmap = _dataset_root(data, split)
    names = find_sequences(seq_root, seqmap)
    for name in names:  # fail on bad files before spending time on tracking
        _check_sequence(seq_root / name)
    from streammem import distributed
    from streammem.progress import progress_bar

    predictions.mkdir(parents=True, exist_ok=True)
    # under torchrun each rank tracks whole sequences into the shared folder; rank 0 scores them all
    infos = {name: read_seqinfo(seq_root / name / "seqinfo.ini") for name in distributed.shard(names)}
    stored = {name: cache.load(name) for name in infos} if cache is not None else {}
    todo = {name: info for name, info in infos.items() if stored.get(name) is None}
    with progress_bar(sum(i.num_frames for i in todo.values()), desc="eval track", unit="frame",
                      enabled=progress) as bar:
        for name, info in infos.items():
            if name in todo:
                height, width = read_frame(seq_root / name, info, 1).shape[:2]
                # frames are read one at a time: long or large videos never sit in memory
                frames = (_counted(bar, preprocess(read_frame(seq_root / name, info, f), tuple(model.cfg.image_size)))
                          for f in range(1, info.num_frames + 1))
                boxes = track_frames(model, frames, width, height, baseline=baseline)
                rows = {"frame": boxes.frame, "id": boxes.track_id, "box": boxes.box, "score": boxes.score}
                stored[name] = cache.save(name, rows) if cache is not None else rows
            rows = stored[name]
            write_mot_results(predictions / f"{name}.txt",
                              MotBoxes.tracks(rows["frame"], rows["id"], rows["box"], rows["score"]))
    distributed.barrier()
    if not distributed.is_main():
        return {}
    scores = score_mot_folder(seq_root, predictions, seqmap)
    return {k: scores["COMBINED"][k] for k in TRACKING_KEYS} | {"sequences": scores["sequences"],
                                                                  "num_sequences": len(names)}


def _counted(bar, item):
    bar.update(1)
    return item


def _check_sequence(seq_dir: Path) -> None:
    """InputError for an unreadable seqinfo.ini or gt.txt, or a frame missing from img1/."""
    from streammem.data.mot import read_mot_ground_truth, read_seqinfo
    from streammem.data.mot_frames import frame_path

    info = read_seqinfo(seq_dir / "seqinfo.ini")
    read_mot_ground_truth(seq_dir / "gt" / "gt.txt", info.num_frames)
    for frame in range(1, info.num_frames + 1):
        frame_path(seq_dir, info, frame)


# ------------------------------------------------------------------------------------------------- eval
def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, nargs="?", default=None,
                        help="dataset root ({split}/<seq>/ + {split}_seqmap.txt) or a folder of sequences; "
                             "default: the held-out synthetic test split (generated if missing)")
    parser.add_argument("--split", default="val", help="split folder under the root (default val)")
    parser.add_argument("--tracker", choices=("memotr", "bytetrack"), default="memotr",
                        help="memotr: track queries; bytetrack: Kalman + Hungarian on the same detections")
    add_common_arguments(parser, "eval", out_help="output folder for metrics.json and tracks/<seq>.txt "
                         "(default runs/track/eval/<dataset>_<split>/), or the metrics file itself (.json)")
    add_amp_argument(parser)


def ensure_synthetic_test(root: Path = DEFAULT_DATA, split: str = "val") -> Path:
    """The held-out synthetic split (seeds ``TEST_SEEDS``), generated on first use (under torchrun by rank 0
    alone, the other ranks waiting for it)."""
    from streammem import distributed
    from streammem.data.completion import interrupted
    from streammem.data.synthetic_mot import write_split

    missing = not (root / f"{split}_seqmap.txt").is_file() or interrupted(root / split)
    if missing and distributed.is_main():
        print(f"generating held-out synthetic sequences (seeds {TEST_SEEDS[0]}-{TEST_SEEDS[-1]}) in {root}/{split}")
        write_split(root, split, TEST_SEEDS)
    distributed.barrier()
    return root


def eval(args: argparse.Namespace) -> int:  # noqa: A001 (the CLI verb)
    from streammem import distributed

    stem = f"{(args.data or DEFAULT_DATA).resolve().name}_{args.split}"
    run = start(args, task="track", verb="eval", stem=stem, inputs=[args.data])
    precision = autocast(args.amp, run.device)
    data = args.data if args.data is not None else ensure_synthetic_test()
    model = load_model(args.weights).to(run.device)
    predictions = run.folder_path("tracks")
    if run.is_main:  # an earlier run's tracks (ours) would be scored again
        for stale in predictions.glob("*.txt"):
            stale.unlink()
    distributed.barrier()  # under torchrun, no rank writes before they are gone
    weights = resolve_weights(args.weights, "memotr")
    # one JSON per finished sequence under <out>/streams/, reused by a rerun with the same weights and options
    cache = StreamResults.open(run, fingerprint(weights, data=str(Path(data).resolve()), split=args.split,
                                                tracker=args.tracker, amp=args.amp), args.resume)
    with precision:
        metrics = evaluate(model, data, args.split, predictions, baseline=args.tracker == "bytetrack", cache=cache)
    resumed = cache.summary(metrics.get("num_sequences", 0) if run.is_main else 0, "sequences")
    if not run.is_main:
        return run.finish()
    if resumed:
        print(resumed)
    metrics["tracker"] = args.tracker
    metrics["amp"] = args.amp
    metrics["weights"] = str(weights)
    print(" ".join(f"{k} {metrics[k]:.2f}" if isinstance(metrics[k], float) else f"{k} {metrics[k]}"
                   for k in ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW")))
    run.record(predictions)
    run.write_main_json("metrics.json", metrics)
    return run.finish()


# ------------------------------------------------------------------------------------------------ train
def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="dataset root with train/ (+ train_seqmap.txt); the synthetic set is generated "
                             "there when missing")
    parser.add_argument("--split", default="train")
    parser.add_argument("--iterations", type=positive_int, default=4000)
    parser.add_argument("--batch-size", type=positive_int, default=2, help="clips per step")
    parser.add_argument("--no-memory", action="store_true",
                        help="ablation: no long-term memory and no memory-attention in the query updater")
    parser.add_argument("--checkpoint-every", type=positive_float, default=120.0, help="seconds between checkpoints")
    parser.add_argument("--workers", type=non_negative_int, default=0, help="DataLoader worker processes decoding "
                        "clips ahead of the training step (default 0: decoded in the training process); frames are "
                        "always decoded on demand, never held in memory")
    parser.add_argument("--backbone-weights", type=Path, default=None,
                        help="initialise a ResNet backbone (--set backbone=resnet18|resnet50) from a torchvision "
                        "state dict you have (e.g. resnet50-*.pth), read with torch.load(weights_only=True)")
    parser.add_argument("--init", type=Path, default=None,
                        help="start from these safetensors weights (fine-tuning) and their stored config; "
                             "--set and --no-memory still apply, --config is ignored")
    add_common_arguments(parser, "train", out_help="output folder (default runs/track/train/memotr_<config>[_nomem]/), "
                         "or the weights file itself (.safetensors)")
    parser.add_argument("--resume", type=Path, default=None, help="continue an interrupted run exactly from its "
                        "training state (<weights>.state.safetensors, written with every checkpoint); give the same "
                        "options")


def train(args: argparse.Namespace) -> int:
    from streammem import distributed
    from streammem.checkpoints import save_checkpoint
    from streammem.data.completion import interrupted
    from streammem.data.synthetic_mot import write_split
    from streammem.models.config import parse_overrides
    from streammem.models.memotr import CONFIGS, build
    from streammem.models.memotr.data import load_split
    from streammem.models.memotr.training import train_loop
    from streammem.training import load_state, state_path

    suffix = "_nomem" if args.no_memory else ""
    name = f"memotr_{Path(args.config).stem}{suffix}"
    run = start(args, task="track", verb="train", stem=name, inputs=[args.data, args.init, args.backbone_weights],
                main_suffixes=(".safetensors",))
    out = run.main_path(f"{name}.safetensors")
    if args.resume is not None:
        load_state(args.resume)  # a missing or foreign file is refused before any data are written
    with config_errors("train track"):
        if args.init is not None:
            try:
                overrides = parse_overrides(args.set)
            except ValueError as err:
                raise StreamMemError(f"--set: {err}") from None
            model = load_model(args.init, use_memory=not args.no_memory, **overrides)
        else:
            model = build(train_config(CONFIGS, args.config, args.set, use_memory=not args.no_memory))
    if args.backbone_weights is not None:
        from streammem.checkpoints import load_backbone_weights

        if not hasattr(model.backbone, "torchvision_name"):
            raise InputError(args.backbone_weights, f"the config's backbone is {model.cfg.backbone!r}, not a torchvision "
                             "ResNet: add --set backbone=resnet18 (or resnet50)")
        count = load_backbone_weights(model.backbone, args.backbone_weights, model.backbone.torchvision_name)
        print(f"backbone initialised from {args.backbone_weights} ({count} tensors)")
    if args.data == DEFAULT_DATA and (not (args.data / f"{args.split}_seqmap.txt").is_file()
                                      or interrupted(args.data / args.split)):
        if run.is_main:  # under torchrun process 0 writes, the others wait
            print(f"generating synthetic training sequences (seeds {TRAIN_SEEDS[0]}-{TRAIN_SEEDS[-1]}) in {args.data}")
            write_split(args.data, args.split, TRAIN_SEEDS)
    distributed.barrier()
    seqs = load_split(args.data, args.split, tuple(model.cfg.image_size))
    command = training_command("track")

    def save(it: int, metrics: dict | None = None) -> None:
        save_checkpoint(out, model, model_name="memotr", config=model.cfg.to_dict(), training_command=command,
                        data_seed=TRAIN_SEEDS[0], metrics={"iterations": it, **(metrics or {})})

    if run.is_main:
        print(f"train track: {len(seqs)} sequences, {args.iterations} iterations x {args.batch_size} clips, "
              f"config {args.config}{' (no memory)' if args.no_memory else ''} -> {out}", flush=True)
    started = time.time()
    state = run.path(state_path(out).name)
    running = train_loop(model, seqs, args.iterations, args.batch_size, args.seed,
                         on_checkpoint=lambda it: save(it), checkpoint_every_s=args.checkpoint_every,
                         workers=args.workers, device=run.device, amp=args.amp, state_file=state,
                         resume_state=args.resume)
    if run.is_main:
        save(args.iterations, {"train_loss": running.get("loss"), "train_minutes": (time.time() - started) / 60})
        print(f"trained in {(time.time() - started) / 60:.1f} min")
    run.record(state)
    run.record(out)
    run.record(out.with_suffix(".json"))
    return run.finish()


# ------------------------------------------------------------------------------------------------- demo
def _add_stream_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    add_common_arguments(parser, verb, out_help=f"output folder for tracks.mp4 (annotated, H.264) and tracks.txt "
                         f"(MOTChallenge) (default runs/track/{verb}/<source>/)")
    parser.add_argument("--no-window", action="store_true", help="never open a live window")
    parser.add_argument("--max-frames", type=positive_int, default=None, help="stop after this many frames")
    add_amp_argument(parser)


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default=None,
                        help="video file, camera index (0) or URL; default: the bundled synthetic clip")
    _add_stream_arguments(parser, "demo")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="video file, camera index (0) or URL")
    _add_stream_arguments(parser, "run")


class _Trails:
    """Recent box centres per track id for drawing; ids unseen for ``forget`` frames are dropped (bounded)."""

    def __init__(self, length: int = 20, forget: int = 30) -> None:
        self.length, self.forget, self.frame = length, forget, 0
        self.points: dict[int, list[tuple[float, float]]] = {}
        self.seen: dict[int, int] = {}

    def update(self, boxes_xyxy, ids) -> dict[int, list[tuple[float, float]]]:
        self.frame += 1
        for box, i in zip(boxes_xyxy.tolist(), ids.tolist(), strict=True):
            trail = self.points.setdefault(i, [])
            trail.append(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2))
            del trail[: -self.length]
            self.seen[i] = self.frame
        for i in [i for i, f in self.seen.items() if self.frame - f > self.forget]:
            del self.points[i], self.seen[i]
        return self.points


def make_step(model):
    """``step(rgb_frame, state) -> (output, state)`` for the stream runner; the frame and the state go to the
    model's device, the output (pixel xyxy boxes, 1-based ids and scores of the tracks shown in this frame) is
    NumPy on the CPU."""
    from streammem.models.memotr.data import preprocess
    from streammem.models.memotr.model import boxes_to_xyxy_pixels

    size = tuple(model.cfg.image_size)
    device = next(model.parameters()).device

    def step(rgb, state):
        if state is None:
            state = model.initial_state(1)
        out, state = model(preprocess(rgb, size).unsqueeze(0).to(device), state)
        keep = out.keep[0]
        boxes = boxes_to_xyxy_pixels(out.boxes[0][keep].float(), rgb.shape[1], rgb.shape[0])
        return {"boxes": boxes.cpu().numpy(), "ids": (out.ids[0][keep] + 1).cpu().numpy(),
                "scores": out.scores[0][keep].float().cpu().numpy()}, state

    return step


def demo(args: argparse.Namespace) -> int:
    """Track the bundled clip (or ``--source``): annotated video, MOTChallenge txt, a live window if a display exists."""
    return _track_source(args, args.source if args.source is not None else str(SAMPLE_CLIP), "demo")


def run(args: argparse.Namespace) -> int:
    """Track any video file, camera or URL: annotated video, MOTChallenge txt, a live window if a display exists."""
    return _track_source(args, args.source, "run")


def _track_source(args: argparse.Namespace, spec: str, verb: str) -> int:
    import itertools

    from streammem.streams import (
        AnnotatedVideoSink,
        MOTChallengeSink,
        StreamRunner,
        WindowSink,
        draw_boxes,
        has_display,
        open_source,
    )

    local = Path(spec).exists()
    run = start(args, task="track", verb=verb, stem=spec, inputs=[spec] if local else [])
    precision = autocast(args.amp, run.device)
    model = load_model(args.weights).to(run.device)
    source = open_source(spec, kind="video")
    trails = _Trails()

    def draw(frame, output):
        return draw_boxes(frame, output["boxes"], output["ids"], trails.update(output["boxes"], output["ids"]))

    video_out, mot_out = run.path("tracks.mp4"), run.path("tracks.txt")
    sinks = [AnnotatedVideoSink(video_out, fps=getattr(source, "fps", None) or 10.0, draw_fn=draw),
             MOTChallengeSink(mot_out)]
    if has_display() and not args.no_window:
        sinks.append(WindowSink("streammem track", draw_fn=lambda f, o: draw_boxes(f, o["boxes"], o["ids"])))
    frames = source if args.max_frames is None else _limited(source, args.max_frames, itertools)
    with precision:
        summary = StreamRunner(make_step(model), None, sinks).run(frames)
    print(f"tracked {summary.frames} frames at {summary.fps:.1f} frames/s "
          f"({summary.mean_latency * 1e3:.1f} ms/frame mean)")
    run.record(video_out)
    run.record(mot_out)
    track_ids = {int(line.split(",")[1]) for line in mot_out.read_text().splitlines()} if mot_out.is_file() else set()
    run.write_json("summary.json", {"source": spec, "weights": str(resolve_weights(args.weights, "memotr")),
                                    "tracks": len(track_ids), **summary.as_dict(), "fps": summary.fps})
    return run.finish()


class _limited:
    """The first ``n`` items of a source, keeping its attributes (fps, total, live)."""

    def __init__(self, source, n: int, itertools) -> None:
        self.source, self.n, self._it = source, n, itertools
        self.live = getattr(source, "live", False)
        total = getattr(source, "total", None)
        self.total = n if total is None else min(total, n)
        self.fps = getattr(source, "fps", None)
        self.dropped = 0

    def __iter__(self):
        return self._it.islice(iter(self.source), self.n)


# ----------------------------------------------------------------------------------------------- export
def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    add_export_options(parser)
    parser.add_argument("--check-frames", type=int_at_least(2), default=100,
                        help="frames of a synthetic clip to compare exported and eager tracks on")


def synthetic_clip(num_frames: int, seed: int = TEST_SEEDS[0], image_size: tuple[int, int] = (120, 160)):
    """Normalised frames (T, 3, h, w) of a held-out synthetic sequence."""
    import torch

    from streammem.data.synthetic_mot import SyntheticMOTConfig, render_sequence
    from streammem.models.memotr.data import preprocess

    frames, _ = render_sequence(SyntheticMOTConfig(num_frames=num_frames), seed)
    return torch.stack([preprocess(f, image_size) for f in frames])


def track_parity(eager, scripted, frames) -> tuple[bool, float]:
    """Run both over (T, 3, h, w): (ids and keep masks equal on every frame, max |box diff| of kept tracks)."""
    import torch

    s_eager, s_script = eager.initial_state(1), scripted.initial_state(1)
    same, worst = True, 0.0
    with torch.no_grad():
        for t in range(frames.shape[0]):
            a, s_eager = eager(frames[t : t + 1], s_eager)
            b, s_script = scripted(frames[t : t + 1], s_script)
            same = same and bool(torch.equal(a.keep, b.keep)) and bool(torch.equal(a.ids[a.keep], b.ids[b.keep]))
            if same and bool(a.keep.any()):
                worst = max(worst, float((a.boxes[a.keep] - b.boxes[b.keep]).abs().max()))
    return same, worst


def export(args: argparse.Namespace) -> int:
    """Export the step (TorchScript with ``initial_state``, or torch.export), check it against eager on a clip:
    boxes, scores and states within the tolerance; for TorchScript also identical ids on every frame."""
    from streammem.export import PARITY_TOLERANCE, export_step, load_torchscript

    run, path = start_export(args, task="track", model="memotr")
    model = load_model(args.weights)
    frames = synthetic_clip(args.check_frames, image_size=tuple(model.cfg.image_size))
    chunks = [frames[t : t + 1] for t in range(frames.shape[0])]
    worst = export_step(args.format, model, chunks, model.initial_state(1), path)
    if args.format == "torchscript":
        same, box_diff = track_parity(model, load_torchscript(path), frames)
        if not same or box_diff > PARITY_TOLERANCE:
            path.unlink(missing_ok=True)
            raise StreamMemError(f"{path}: scripted tracks differ from eager (max box diff {box_diff:.2e})")
    print(f"parity over {args.check_frames} frames: max |diff| {worst:.2e}")
    return finish_export(run, path, args, worst, parity_frames=args.check_frames)


# ------------------------------------------------------------------------------------------------ bench
def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    from streammem.bench import add_arguments

    add_arguments(parser)


def bench(args: argparse.Namespace) -> int:
    """The shared benchmark harness (streammem.bench) on this task: streaming step at stream positions,
    full-context recompute, equal-size peers, FLOPs against the machine's matmul rate -> bench.json."""
    from streammem.bench import bench_task

    return bench_task("track", args)
