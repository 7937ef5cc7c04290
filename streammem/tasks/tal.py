"""``streammem <verb> tal``: online temporal action localization with MATR (demo, eval, train, export, bench).

Data are THUMOS14-style directories (``annotations/*.json`` or per-class txt + ``features/<video>.npy``);
the synthetic set (:mod:`streammem.data.synthetic_tal`) is written in that layout and generated on first
use under ``runs/tal_synthetic``. Heavy imports happen inside the functions so ``streammem --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from streammem.errors import InputError, StreamMemError
from streammem.tasks import training_command
from streammem.tasks.common import (
    ALL_DEVICES,
    add_amp_argument,
    add_common_arguments,
    add_export_options,
    autocast,
    config_errors,
    finish_export,
    positive_float,
    positive_int,
    resolve_weights,
    start,
    start_export,
    train_config,
)

__all__ = ["load_model", "VARIANTS"] + [
    f"{p}{v}" for v in ("demo", "run", "eval", "train", "export", "bench") for p in ("", "add_")
]

DEVICES = ALL_DEVICES  # the model, its state and every input feature go to --device; decoding runs on the CPU
EXPORT_DEVICES = ("cpu",)  # the exported step is traced and checked on the CPU; the file loads on any device
BENCH_DEVICES = ("cpu", "cuda")  # the benchmark measures on --device; MPS has no peak-memory statistics

PACKAGE = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path("runs/tal_synthetic")
SAMPLE_ANNOTATIONS = PACKAGE / "samples" / "tal_sample.json"  # one held-out synthetic stream (seed 7)
DATA_SEED = 0
DEFAULT_VIDEO_DATA = Path("runs/tal_video/data")  # rendered clips (streammem.data.synthetic_tal_video)
VIDEO_WEIGHTS = PACKAGE / "weights" / "matr_tiny_video.safetensors"  # MATR trained on the encoder's features
ENCODER_WEIGHTS = PACKAGE / "weights" / "frame_encoder_tiny.safetensors"
SAMPLE_CLIP = PACKAGE / "samples" / "tal_clip.mp4"  # held-out rendered clip; ground truth in tal_clip.json
# What `--variant` trains: MATR; MATR without memory (same queue length and start head, never written, i.e.
# --set memory=none); and the per-frame OAD->TAL baseline.
VARIANTS = {"matr": "matr", "nomem": "matr_nomem", "oad": "matr_oad_baseline"}


def ensure_data(root: Path) -> Path:
    """The dataset directory; the default synthetic sets (features, rendered videos) are generated on first use."""
    from streammem.data.completion import interrupted
    from streammem.data.synthetic_tal import generate_synthetic_tal
    from streammem.data.synthetic_tal_video import generate_synthetic_tal_video

    for default, generate in ((DEFAULT_DATA, generate_synthetic_tal), (DEFAULT_VIDEO_DATA, generate_synthetic_tal_video)):
        if root.resolve() == default.resolve() and (not (root / "annotations").is_dir() or interrupted(root)):
            print(f"generating the synthetic TAL set under {root} (seed {DATA_SEED})", flush=True)
            generate(root, seed=DATA_SEED)
    if not root.exists():
        raise InputError(root, "dataset directory not found")
    return root


def load_model(weights: str | os.PathLike | None = None):
    """(model, meta) in eval mode from weights (default: shipped tiny MATR); the config comes from the JSON."""
    from streammem.checkpoints import load_metadata, load_weights, stored_config_errors
    from streammem.models.matr import build, make_config
    from streammem.models.matr.baseline import FrameClassifier

    path = resolve_weights(weights, "matr")
    meta = load_metadata(path)
    with stored_config_errors(path):
        cfg = make_config(meta["config"])
        model = FrameClassifier(cfg) if meta.get("model") == VARIANTS["oad"] else build(cfg.to_dict())
    meta = load_weights(model, path)
    return model.eval(), meta


# ------------------------------------------------------------------------------------------------- train
def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stage", default="matr", choices=["matr", "encoder", "features"],
                   help="matr: MATR on features/ (default); encoder: the frame encoder on rendered clips (videos/ + "
                   "labels/), then features/ for every video; features: only write features/ with --encoder")
    p.add_argument("--data", type=Path, default=None, help="THUMOS-style dataset dir (default: the synthetic feature "
                   f"set {DEFAULT_DATA}; the rendered set {DEFAULT_VIDEO_DATA} for --stage encoder/features)")
    p.add_argument("--subset", default="Validation", help="training subset (THUMOS14 trains on Validation)")
    p.add_argument("--variant", default="matr", choices=sorted(VARIANTS), help="matr; nomem (= --set memory=none: "
                   "same queue length and start head, never written); or the oad baseline")
    p.add_argument("--iterations", type=positive_int, default=None, help="default 1000 (matr), 1200 (encoder)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="videos (matr, default 8) or frames (encoder, 64)")
    p.add_argument("--lr", type=positive_float, default=None, help="default 5e-4 (matr), 2e-3 (encoder)")
    p.add_argument("--eval-every", type=positive_int, default=None, help="held-out evaluation (model selection) "
                   "interval (default 200 for matr, 300 for encoder)")
    add_common_arguments(p, "train", threads=1, out_help="output folder (default runs/tal/train/<variant>_<config>/), or "
                         "the weights file itself (.safetensors)")
    p.set_defaults(seed=52)
    p.add_argument("--resume", type=Path, default=None, help="a training state (<weights>.state.safetensors, written "
                   "at every held-out evaluation) continues that run exactly (same schedule, optimizer and random "
                   "state; give the same options); weights (.safetensors of the same variant/config) start a warm "
                   "restart: the LR schedule restarts and the start weights stay a selection candidate")
    p.add_argument("--stop-after", type=positive_int, default=None, help="end this run after N iterations of the "
                   "schedule and write the training state (for jobs with a time limit: continue with --resume)")
    p.add_argument("--class-weight", type=float, default=1.0, help="weight of MATR's focal class loss (the paper: 1, "
                   "every loss weighted 1)")
    p.add_argument("--backbone", default="mobilenet_v3_small", help="torchvision backbone of the frame encoder (encoder)")
    p.add_argument("--image-size", type=int, default=64, help="frames are resized to this square side (encoder)")
    p.add_argument("--encoder", type=Path, default=None, help="frame encoder weights for --stage features")
    p.add_argument("--backbone-weights", type=Path, default=None, help="--stage encoder: initialise the torchvision "
                   "backbone from a state dict you have (e.g. resnet18-*.pth), read with torch.load(weights_only=True)")


def train(args: argparse.Namespace) -> int:
    """Train one variant; the held-out part of the training subset (every 8th video) selects the checkpoint."""
    if args.stage != "matr":
        return _train_encoder(args)
    from streammem.checkpoints import save_checkpoint
    from streammem.data.tal_features import load_tal_split
    from streammem.models.matr import CONFIGS, build, make_config
    from streammem.models.matr.baseline import FrameClassifier
    from streammem.models.matr.training import TrainSettings, selection_split, train_model
    from streammem.training import is_training_state, state_path

    name = VARIANTS[args.variant]
    exact = args.resume is not None and is_training_state(args.resume)  # else: a warm restart from weights
    run = start(args, task="tal", verb="train", stem=f"{name}_{Path(args.config).stem}",
                inputs=[args.data, None if exact else args.resume], main_suffixes=(".safetensors",))
    root = ensure_data(args.data or DEFAULT_DATA)
    out = run.main_path(f"{name}_{Path(args.config).stem}.safetensors")
    state = run.path(state_path(out).name)
    # mapped: each batch's videos are read from their files, never the whole subset at once
    full = load_tal_split(root, args.subset, mapped=True)
    fit_names, held_names = selection_split([v.name for v in full.videos])
    fit = [v for v in full.videos if v.name in set(fit_names)]
    held = load_tal_split(root, args.subset, classes=full.classes, videos=held_names, mapped=True)
    fixed: dict[str, Any] = {"num_classes": len(full.classes)}
    if args.variant == "nomem":
        fixed["memory"] = "none"
    resolved = train_config(CONFIGS, args.config, args.set, **fixed)
    if "feature_dims" not in {s.partition("=")[0].strip() for s in args.set}:
        resolved["feature_dims"] = _feature_dims(resolved["feature_dims"], fit)
    with config_errors("train tal"):
        cfg = make_config(resolved)
        model = FrameClassifier(cfg) if args.variant == "oad" else build(cfg.to_dict())
    model = model.to(run.device)
    if args.resume is not None and not exact:
        from streammem.checkpoints import load_weights

        if not args.resume.is_file():
            raise InputError(args.resume, "weights to resume from not found")
        start_meta = load_weights(model, args.resume)
        if start_meta.get("model") != name:
            raise InputError(args.resume, f"holds {start_meta.get('model')!r}, not {name!r}")
    command = training_command("tal")
    if run.is_main:
        print(f"training {name} ({args.config}) on {len(fit)} videos, selecting on {len(held.videos)} held-out videos; "
              f"weights -> {out}", flush=True)
    settings = TrainSettings(iterations=args.iterations or 1000, batch_size=args.batch_size or 8, lr=args.lr or 5e-4,
                             eval_every=args.eval_every or 200, seed=args.seed, class_weight=args.class_weight)

    def checkpoint(m, metrics):
        save_checkpoint(out, m, model_name=name, config=cfg.to_dict(), training_command=command, data_seed=DATA_SEED,
                        metrics={"held_out": metrics, "classes": full.classes})

    _, metrics = train_model(model, fit, held, cfg, settings, on_checkpoint=checkpoint, log=lambda s: print(s, flush=True),
                             initial_eval=args.resume is not None and not exact, device=run.device, amp=args.amp,
                             state_file=state, resume_state=args.resume if exact else None,
                             stop_after=args.stop_after)
    if run.is_main:
        print(f"best held-out mAP_avg {metrics.get('mAP_avg', float('nan')):.2f}")
    run.record(out)
    run.record(out.with_suffix(".json"))
    run.record(state)
    return run.finish()


def _train_encoder(args: argparse.Namespace) -> int:
    """--stage encoder: per-frame training on rendered clips (selection on every 8th training video), then
    features/ for every video of the dataset; --stage features: only the features, with --encoder."""
    import numpy as np

    from streammem.checkpoints import save_checkpoint
    from streammem.data.tal_features import find_annotations
    from streammem.data.thumos import read_thumos_json
    from streammem.models.matr import CONFIGS
    from streammem.models.matr.encoder_training import (
        EncoderSettings,
        FrameLabeler,
        extract_features,
        frame_accuracy,
        load_labelled_frames,
        train_frame_encoder,
    )
    from streammem.models.matr.frontend import ENCODER_MODEL, FrameEncoder, load_frame_encoder
    from streammem.models.matr.training import selection_split

    run = start(args, task="tal", verb="train", stem=f"frame_encoder_{Path(args.config).stem}",
                inputs=[args.data, args.encoder, args.backbone_weights], main_suffixes=(".safetensors",))
    root = ensure_data(args.data or DEFAULT_VIDEO_DATA)
    annotation_path = find_annotations(root)
    data = read_thumos_json(annotation_path, args.subset)  # checks the file; names every video of any subset
    meta = json.loads(annotation_path.read_text()).get("meta") or {}
    rate = float((meta.get("config") or {}).get("feature_rate", 4.0))
    classes = [str(c) for c in meta.get("classes", [])]
    everything = sorted(data.known_videos)
    if args.stage == "features":
        if args.encoder is None:
            raise InputError("--encoder", "--stage features needs the frame encoder weights")
        encoder = load_frame_encoder(args.encoder)[0].to(run.device)
        paths = extract_features(encoder, root, everything, rate)
        print(f"{len(paths)} feature files written under {root / 'features'}")
        run.record(root / "features")
        return run.finish()
    train_names = sorted(data.videos)
    test_names = sorted(set(everything) - set(train_names))
    fit_names, held_names = selection_split(train_names)
    out = run.main_path(f"frame_encoder_{Path(args.config).stem}.safetensors")
    width = sum(train_config(CONFIGS, args.config, args.set)["feature_dims"])
    config = {"backbone": args.backbone, "image_size": args.image_size, "out_dim": width,
              "num_labels": 2 + len(classes), "feature_rate": rate}
    model = FrameLabeler(FrameEncoder(width, backbone=args.backbone, image_size=args.image_size), 2 + len(classes))
    if args.backbone_weights is not None:
        from streammem.checkpoints import load_backbone_weights

        head = ("fc.", "classifier.")  # the classification head, replaced by the encoder's own output layer
        count = load_backbone_weights(model.encoder.backbone, args.backbone_weights,
                                      lambda name: None if name.startswith(head) else name)
        print(f"backbone initialised from {args.backbone_weights} ({count} tensors)")
    model = model.to(run.device)
    labels = ["background", "action middle"] + [f"cue {c}" for c in classes]
    command = training_command("tal")
    print(f"training the frame encoder ({args.backbone}, {args.image_size}px -> {width}-d) on {len(fit_names)} videos, "
          f"selecting on {len(held_names)} held-out videos; weights -> {out}", flush=True)
    train_data = load_labelled_frames(root, fit_names, keep_every=2)
    held = load_labelled_frames(root, held_names)
    settings = EncoderSettings(iterations=args.iterations or 1200, batch_size=args.batch_size or 64,
                               lr=args.lr or 2e-3, eval_every=args.eval_every or 300, seed=args.seed)
    extra: dict[str, Any] = {}

    def checkpoint(m, metrics):
        save_checkpoint(out, m, model_name=ENCODER_MODEL, config=config, training_command=command,
                        data_seed=int(meta.get("seed", DATA_SEED)),
                        metrics={"held_out": metrics, "labels": labels, "classes": classes} | extra)

    t0 = time.perf_counter()
    model, held_metrics = train_frame_encoder(model, train_data, held, settings, on_checkpoint=checkpoint,
                                              log=lambda s: print(s, flush=True))
    extra["train_seconds"] = time.perf_counter() - t0
    del train_data
    if test_names:
        test = frame_accuracy(model, *load_labelled_frames(root, test_names))
        extra["test_frames"] = test
        print(f"held-out Test videos ({len(test_names)}): frame accuracy {test['accuracy']:.2f}, "
              f"balanced {test['balanced_accuracy']:.2f}")
    frame = np.zeros((1, args.image_size, args.image_size, 3), np.uint8)
    extra["ms_per_frame"] = _encoder_ms(model.encoder, frame)
    checkpoint(model, held_metrics)
    paths = extract_features(model.encoder, root, everything, rate)
    print(f"encoder: {extra['ms_per_frame']:.2f} ms/frame; {len(paths)} feature files under {root / 'features'}")
    for path in (out, out.with_suffix(".json"), root / "features"):
        run.record(path)
    return run.finish()


def _encoder_ms(encoder, frame, repeats: int = 50) -> float:
    """Median ms to encode one frame (batch of 1, no grad)."""
    import numpy as np
    import torch

    times = []
    with torch.no_grad():
        encoder.eval()
        x = torch.from_numpy(frame)
        for _ in range(repeats):
            t0 = time.perf_counter()
            encoder(x)
            times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def _feature_dims(dims, videos) -> list[int]:
    """Per-stream input dims: the data's own split when its streams come from separate files (LSTR/TeSTra
    RGB 2048 + flow 1024), else the config's split (e.g. RGB + flow halves) scaled to the data's width."""
    width = videos[0].features.shape[1]
    if len(videos[0].stream_dims) > 1:
        return list(videos[0].stream_dims)
    if sum(dims) == width:
        return list(dims)
    if width % len(dims) == 0:
        return [width // len(dims)] * len(dims)
    return [width]


def _classes(meta: dict, weights: Path) -> list[str]:
    classes = (meta.get("metrics") or {}).get("classes")
    if not isinstance(classes, list):
        raise InputError(weights, "the weights' JSON lists no class names (metrics.classes)")
    return [str(c) for c in classes]


# -------------------------------------------------------------------------------------------------- eval
def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="THUMOS-style dataset dir (synthetic by default)")
    p.add_argument("--subset", default="Test", help="subset to evaluate (held-out test streams)")
    p.add_argument("--feature-rate", type=positive_float, default=None, help="features per second (default: JSON "
                   "meta or 4)")
    p.add_argument("--skip-bad", action="store_true", help="skip (and count) bad videos/segments instead of failing")
    add_common_arguments(p, "eval", threads=1, weights_help="weights (default: shipped matr_tiny)",
                         out_help="output folder for metrics.json and predictions.json (ActivityNet results; "
                         "default runs/tal/eval/<dataset>/), or the metrics file itself (.json)")
    add_amp_argument(p)


def eval(args: argparse.Namespace) -> int:  # noqa: A001 - the CLI verb's name
    """mAP@0.3:0.1:0.7, mAP_avg and latency_s over a subset, streams processed online; long/short breakdown."""
    from dataclasses import replace

    from streammem import distributed
    from streammem.data.tal_features import load_tal_split, read_features
    from streammem.data.thumos import write_activitynet_results
    from streammem.evaluation.functional.localization import localization_map
    from streammem.evaluation.resume import StreamResults, fingerprint
    from streammem.models.matr.training import class_agnostic, long_short_breakdown, predict
    from streammem.progress import progress

    run = start(args, task="tal", verb="eval", stem=f"{args.data.resolve().name}_{args.subset}", inputs=[args.data])
    precision = autocast(args.amp, run.device)
    data = ensure_data(args.data)
    model, meta = load_model(args.weights)
    model.to(run.device)
    weights = resolve_weights(args.weights, "matr")
    classes = _classes(meta, weights)
    # every file is checked here, then each video's features are read when it is predicted: one at a time
    split = load_tal_split(data, args.subset, classes=classes, feature_rate=args.feature_rate,
                           skip_bad=args.skip_bad, keep_features=False)
    width = sum(model.feature_dims)
    for video in split.videos:
        if video.features.shape[1] != width:
            source = " + ".join(str(f) for f in video.files) or video.name
            raise InputError(source, f"{video.features.shape[1]}-d features, the "
                             f"MATR weights take {width}-d (train on these features, or extract matching ones)")
    # one JSON per finished video under <out>/streams/, reused by a rerun with the same weights and options
    cache = StreamResults.open(run, fingerprint(weights, data=str(data.resolve()), feature_rate=args.feature_rate,
                                                skip_bad=args.skip_bad, amp=args.amp), args.resume)
    mine = distributed.shard(split.videos)  # under torchrun: whole videos per rank, gathered in order
    with precision:
        per_video = cache.map(mine, key=lambda v: v.name,
                              compute=lambda v: predict(model, replace(v, features=read_features(v)), classes),
                              progress=lambda todo, n: progress(todo, total=n, desc="eval tal", unit="video"))
    preds = [p for video in distributed.gather(per_video) for p in video]
    resumed = cache.summary(len(split.videos), "videos")
    metrics: dict[str, Any] = localization_map(split.ground_truth(), preds)
    segment_s = model.segment_len / split.videos[0].feature_rate
    metrics.update(long_short_breakdown(split, preds, segment_s))
    metrics.update(class_agnostic(split, preds, segment_s))
    metrics.update({"model": meta.get("model"), "videos": len(split.videos), "instances": len(split.ground_truth()),
                    "predictions": len(preds), "skipped": split.skipped, "weights": str(weights), "amp": args.amp})
    if not run.is_main:
        return run.finish()
    if resumed:
        print(resumed)
    print(" ".join(f"{k}={metrics.get(k, float('nan')):.2f}"
                   for k in ("mAP@0.3", "mAP@0.5", "mAP@0.7", "mAP_avg", "latency_s")))
    write_activitynet_results(run.record(run.path("predictions.json")), preds)
    run.write_main_json("metrics.json", metrics)
    return run.finish()


# ---------------------------------------------------------------------------------------------- demo / run
def _add_stream_arguments(p: argparse.ArgumentParser, verb: str) -> None:
    add_common_arguments(p, verb, threads=1, weights_help="MATR weights (default: shipped matr_tiny_video for a "
                         "video or .npy source, matr_tiny for the bundled feature stream)",
                         out_help=f"output folder for actions.json and timeline.png (default runs/tal/{verb}/<source>/)")
    p.add_argument("--encoder", type=Path, default=None, help="frame encoder weights (default: the shipped "
                   "frame_encoder_tiny, trained on rendered clips)")
    p.add_argument("--backbone", default=None, help="use an UNTRAINED frame encoder with this torchvision backbone "
                   "instead (exercises the pipeline only)")
    p.add_argument("--feature-rate", type=positive_float, default=None, help="features per second (default: the "
                   "encoder's, 4)")
    p.add_argument("--max-seconds", type=positive_float, default=None, help="stop a video source after this long")
    p.add_argument("--plot-min-score", type=float, default=0.3, help="plot only actions scoring at least this "
                   "(the JSON keeps every emitted action)")
    add_amp_argument(p)


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", default=None, help="camera index, URL or video file (through the trained frame "
                   f"encoder), e.g. the bundled {SAMPLE_CLIP.name}; default: the bundled synthetic feature stream")
    _add_stream_arguments(p, "demo")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="video file, camera index, URL, or a features .npy (T, F); a file's ground truth "
                   "is read from a THUMOS JSON beside it (same name, .json) when present")
    _add_stream_arguments(p, "run")


def demo(args: argparse.Namespace) -> int:
    """Stream the bundled feature stream (or ``--source``) through MATR; write a timeline PNG and the actions."""
    return localize(args, args.source, "demo")


def run(args: argparse.Namespace) -> int:
    """Run the trained frame encoder + MATR over a video/camera/URL (or a features .npy); write PNG + JSON."""
    return localize(args, args.source, "run")


def _stream(model, features, classes: list[str], rate: float, video: str):
    """The streaming loop: one model.step per feature on the model's device, online post-processing on the CPU;
    yields emitted actions."""
    import torch

    from streammem.models.matr.postprocess import OnlineLocalizer

    post = OnlineLocalizer(classes, rate, horizon=(model.memory_len + 2) * model.segment_len, video=video)
    device = next(model.parameters()).device
    state = model.initial_state(1)
    for feat in features:
        out, state = model(torch.as_tensor(feat, dtype=torch.float32, device=device).view(1, -1), state)
        logits, start, end, now = (t[0].cpu() for t in (out.logits, out.start, out.end, out.now))
        yield from post.push(logits, start, end, float(now))


def _sidecar_truth(source: Path, classes: list[str]) -> list[dict]:
    """Ground truth of a file source from ``<file>.json`` (THUMOS JSON) beside it; [] when there is none."""
    from streammem.data.thumos import read_thumos_json

    path = source.with_suffix(".json")
    if source.suffix == ".json" or not path.is_file():
        return []
    annotations = read_thumos_json(path)
    return [a for a in annotations.annotations
            if a["label"] in classes and (a["video"] == source.stem or len(annotations.videos) == 1)]


def _frame_encoder(args: argparse.Namespace, width: int):
    """(encoder, feature rate, note or None): the trained encoder unless --backbone asks for an untrained one."""
    from streammem.models.matr.frontend import FrameEncoder, load_frame_encoder

    path = args.encoder or ENCODER_WEIGHTS
    if args.backbone is None or args.encoder is not None:
        if not path.is_file():
            raise InputError(path, "frame encoder weights not found (train them with `streammem train tal --stage encoder`)")
        encoder, meta = load_frame_encoder(path)
        if encoder.out.out_features != width:
            raise InputError(path, f"encoder gives {encoder.out.out_features}-d features, the MATR weights take {width}")
        return encoder, args.feature_rate or float(meta["config"].get("feature_rate", 4.0)), None
    note = (f"note: --backbone {args.backbone} builds an UNTRAINED frame encoder; the actions shown exercise the "
            "pipeline, not a trained model (the trained one is the default: omit --backbone)")
    return FrameEncoder(width, backbone=args.backbone), args.feature_rate or 4.0, note


def localize(args: argparse.Namespace, source: str | None, verb: str) -> int:
    """Stream one source through MATR online (demo and run): the bundled feature stream when ``source`` is None,
    a features ``.npy``, or a video file/camera/URL through the frame encoder. Writes ``actions.json``
    (emitted actions with emission times, ground truth if known) and ``timeline.png`` to the run's folder.
    """
    from streammem.data.tal_features import load_feature_file, load_tal_split

    local = source is not None and Path(source).exists()
    run = start(args, task="tal", verb=verb, stem=source or SAMPLE_ANNOTATIONS.stem,
                inputs=[source, Path(source).with_suffix(".json"), args.encoder] if local else [args.encoder])
    precision = autocast(args.amp, run.device)
    weights = args.weights or (resolve_weights(None, "matr") if source is None else VIDEO_WEIGHTS)
    model, meta = load_model(weights)
    model.to(run.device)
    classes = _classes(meta, weights)
    truth: list[dict] = []
    note = None
    if source is None:
        split = load_tal_split(SAMPLE_ANNOTATIONS, "Test", classes=classes, feature_dir=SAMPLE_ANNOTATIONS.parent)
        video = split.videos[0]
        rate, name, duration = video.feature_rate, video.name, video.duration
        truth = split.ground_truth()
        features = video.features
    elif source.endswith(".npy"):
        path = Path(source)
        features = load_feature_file(path)
        if features.shape[1] != sum(model.feature_dims):
            raise InputError(path, f"{features.shape[1]}-d features, the MATR weights take {sum(model.feature_dims)}")
        rate, name = args.feature_rate or 4.0, path.stem
        duration = len(features) / rate
        truth = _sidecar_truth(path, classes)
    else:
        from streammem.streams.sources import is_url, open_source

        encoder, rate, note = _frame_encoder(args, sum(model.feature_dims))
        encoder.to(run.device)
        frames_source = open_source(source, kind="video")
        is_file = not (source.strip().isdigit() or is_url(source))
        name = Path(source).stem if is_file else str(source)
        truth = _sidecar_truth(Path(source), classes) if is_file else []
        features = _EncodedFeatures(frames_source, encoder, rate, args.max_seconds)
    t0 = time.perf_counter()
    emitted = []
    try:
        with precision:
            for action in _stream(model, features, classes, rate, name):
                emitted.append(action)
    except KeyboardInterrupt:  # a live source is stopped with Ctrl-C: keep what was emitted so far
        print("\nstopped", file=sys.stderr)
    elapsed = time.perf_counter() - t0
    if source is not None and not source.endswith(".npy"):
        duration = features.seen_seconds
    shown = [a for a in emitted if a["score"] >= args.plot_min_score]
    _timeline(run.record(run.path("timeline.png")), truth, shown, classes, duration,
              f"{name} (actions scoring >= {args.plot_min_score:g})")
    run.write_json("actions.json", {"video": name, "feature_rate": rate, "weights": str(weights), "actions": emitted,
                                    "ground_truth": truth})
    if note:
        print(note, flush=True)
    print(f"{len(emitted)} actions emitted over {duration:.1f} s of stream in {elapsed:.2f} s")
    return run.finish()


class _EncodedFeatures:
    """Features (F,) of a frame source at ``rate`` per second through the encoder, on its device, with progress on
    stderr (a bar on a terminal, periodic lines in a log); ``seen_seconds``: stream time covered so far."""

    def __init__(self, source, encoder, rate: float, max_seconds: float | None) -> None:
        self.source, self.encoder, self.rate, self.max_seconds = source, encoder, rate, max_seconds
        self.seen_seconds = 0.0

    def __iter__(self):
        from streammem.models.matr.frontend import features_at_rate
        from streammem.progress import progress

        frames = ((ts, f) for ts, f in self.source if self.max_seconds is None or ts < self.max_seconds)
        total = int(self.max_seconds * self.rate) if self.max_seconds else None
        for ts, feat in progress(features_at_rate(frames, self.encoder, self.rate), total=total, desc="tal",
                                 unit="feature"):
            self.seen_seconds = ts
            yield feat
        if self.source.dropped:
            print(f"{self.source.dropped} frames dropped (the source outran the model)", file=sys.stderr)


def _timeline(path: Path, truth: list[dict], emitted: list[dict], classes: list[str], duration: float, title: str) -> None:
    """Ground truth vs emitted actions over time, one colour per class; ticks mark emission times."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from streammem.streams.sinks import save_figure

    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(12, 2.8))
    for row, items in ((1, truth), (0, emitted)):
        lanes: list[float] = []  # overlapping actions go to separate lanes of the row
        placed = []
        for a in sorted(items, key=lambda a: a["start"]):
            lane = next((i for i, end in enumerate(lanes) if end <= a["start"]), len(lanes))
            lanes[lane:lane + 1] = [a["end"]]
            placed.append((lane, a))
        height = 0.7 / max(1, len(lanes))
        for lane, a in placed:
            c = colours(classes.index(a["label"]) % 10)
            y = row - 0.35 + lane * height
            ax.broken_barh([(a["start"], a["end"] - a["start"])], (y, height * 0.9), color=c, alpha=0.85)
            if "emitted_at" in a:
                ax.plot([a["emitted_at"]] * 2, [y, y + height * 0.9], color="black", lw=1.0)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours(i % 10)) for i in range(len(classes))]
    ax.legend(handles, classes, ncol=len(classes), loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False)
    ax.set_yticks([0, 1], ["emitted (MATR)", "ground truth"])
    ax.set_xlim(0, max(duration, 1.0))
    ax.set_ylim(-0.6, 1.7)
    ax.set_xlabel("time (s); black ticks = emission time")
    ax.set_title(f"online action localization: {title}")
    fig.tight_layout()
    save_figure(fig, path)


# ------------------------------------------------------------------------------------------------ export
def add_export_arguments(p: argparse.ArgumentParser) -> None:
    add_export_options(p, threads=1, weights_help="weights (default: shipped matr_tiny)")
    p.add_argument("--parity-steps", type=positive_int, default=2000, help="length of the eager-vs-exported parity stream")


def export(args: argparse.Namespace) -> int:
    """Export the streaming step (TorchScript or torch.export), then check exported vs eager on a long stream:
    outputs, states and (TorchScript) the emitted actions."""
    import torch

    from streammem.export import export_step, load_torchscript

    run, path = start_export(args, task="tal", model="matr")
    model, meta = load_model(args.weights)
    classes = _classes(meta, resolve_weights(args.weights, "matr"))
    feats = _parity_stream(sum(model.feature_dims), args.parity_steps)
    chunks = [f.view(1, -1) for f in torch.from_numpy(feats)]
    worst = export_step(args.format, model, chunks, model.initial_state(1), path)
    same = True
    if args.format == "torchscript":
        scripted = load_torchscript(path)
        eager_actions = list(_stream(model, feats, classes, 4.0, "parity"))
        same = _same_actions(eager_actions, list(_stream(scripted, feats, classes, 4.0, "parity")))
        print(f"{len(eager_actions)} emitted actions, identical: {same}")
    if not same:
        path.unlink(missing_ok=True)
        raise StreamMemError(f"{path}: exported and eager emitted different actions; not kept")
    print(f"parity over {len(chunks)} steps: max |diff| {worst:.2e}")
    return finish_export(run, path, args, worst, parity_steps=len(chunks))


def _parity_stream(width: int, steps: int):
    """A long synthetic feature stream (test seeds) of ``steps`` features."""
    import numpy as np

    from streammem.data.synthetic_tal import SyntheticTALConfig, synthetic_video

    cfg = SyntheticTALConfig(feature_dims=[width // 2, width - width // 2])
    parts, total, seed = [], 0, 9_000_000
    while total < steps:
        feats, _ = synthetic_video(cfg, seed)
        parts.append(feats)
        total += len(feats)
        seed += 1
    return np.concatenate(parts)[:steps]


def _same_actions(a: list[dict], b: list[dict], tol: float = 1e-4) -> bool:
    """Same emitted actions in the same order (labels, emission times equal; times and scores within tol)."""
    if len(a) != len(b):
        return False
    return all(
        x["label"] == y["label"] and x["emitted_at"] == y["emitted_at"]
        and all(abs(x[k] - y[k]) <= tol for k in ("start", "end", "score"))
        for x, y in zip(a, b, strict=True)
    )


# ------------------------------------------------------------------------------------------------- bench
def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    from streammem.bench import add_arguments

    add_arguments(parser)


def bench(args: argparse.Namespace) -> int:
    """The shared benchmark harness (streammem.bench) on this task: streaming step at stream positions,
    full-context recompute, equal-size peers, FLOPs against the machine's matmul rate -> bench.json."""
    from streammem.bench import bench_task

    return bench_task("tal", args)
