"""``streammem <verb> anomaly``: unsupervised anomaly detection with MemMC-MAE (demo, run, eval, score, train,
export, bench).

Data are image folders in the MVTec AD layout (``<category>/train/good``, ``test/<defect>``,
``ground_truth/<defect>/*_mask.png``), anomalib's ``Folder`` convention, the Hyper-Kvasir anomaly split or
chest X-ray class folders (``--layout``, detected when ``auto``). The synthetic digits one-class set is
written in the MVTec layout under ``runs/anomaly/data`` on first use. Heavy imports happen inside the
functions so ``streammem --help`` stays fast.
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path
from typing import Any

from streammem.errors import InputError, StreamMemError, atomic_output
from streammem.tasks import training_command
from streammem.tasks.common import (
    add_amp_argument,
    add_common_arguments,
    add_export_options,
    autocast,
    config_errors,
    positive_float,
    positive_int,
    resolve_weights,
    start,
    start_export,
    start_score,
    train_config,
)

__all__ = ["load_model", "read_split", "score_predictions", "LAYOUTS"] + [
    f"{p}{v}" for v in ("demo", "run", "eval", "score", "train", "export", "bench") for p in ("", "add_")
]

PACKAGE = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path("runs/anomaly/data/digits_0")  # the shipped tiny weights' training set (digit 0 normal)
DATA_SEED = 0
SAMPLE_IMAGES = PACKAGE / "samples" / "anomaly_images"  # held-out digits: normal_*.png, anomaly_digit*.png
SAMPLE_CLIP = PACKAGE / "samples" / "anomaly_clip.mp4"  # sliding weave; a stain appears half-way
TEXTURE_WEIGHTS = PACKAGE / "weights" / "memmc_mae_tiny_texture.safetensors"  # tiny trained on the texture set
LAYOUTS = ("auto", "mvtec", "folder", "hyper-kvasir", "chest-xray")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")
BENCH_DEVICES = ("cpu", "cuda")  # the benchmark measures on --device; MPS has no peak-memory statistics
EXPORT_DEVICES = ("cpu",)  # the exported step is traced and checked on the CPU; the file loads on any device


def load_model(weights: str | os.PathLike | None = None):
    """(model, meta) in eval mode from weights (default: the shipped tiny weights); config from the JSON."""
    from streammem.checkpoints import load_metadata, load_weights, stored_config_errors
    from streammem.models.memmc_mae import build

    path = resolve_weights(weights, "memmc_mae")
    meta = load_metadata(path)
    with stored_config_errors(path):
        model = build(meta["config"])
    meta = load_weights(model, path, expect_model="memmc_mae")
    return model.eval(), meta


def read_split(data: Path, layout: str = "auto"):
    """The dataset at ``data`` as an :class:`~streammem.data.anomaly_images.AnomalySplit`; the default synthetic
    category is written on first use."""
    from streammem.data.anomaly_folders import read_chest_xray, read_folder, read_hyper_kvasir
    from streammem.data.mvtec import read_mvtec
    from streammem.data.synthetic_anomaly import write_digits

    if data.resolve() == DEFAULT_DATA.resolve() and not data.is_dir():
        print(f"generating the synthetic digits one-class set under {data.parent} (seed {DATA_SEED})", flush=True)
        write_digits(data.parent, seed=DATA_SEED)
    if not data.is_dir():
        raise InputError(data, "dataset folder not found")
    if layout == "auto":
        found = [name for name, marker in (("mvtec", "train/good"), ("hyper-kvasir", "train_set"),
                                           ("chest-xray", "train/NORMAL"), ("folder", "normal"))
                 if (data / marker).is_dir()]
        if not found:
            raise InputError(data, "layout not recognised (expected train/good, train_set, train/NORMAL or normal/; "
                             "see --layout)")
        layout = found[0]
    if layout == "mvtec":
        return read_mvtec(data)
    if layout == "hyper-kvasir":
        return read_hyper_kvasir(data)
    if layout == "chest-xray":
        return read_chest_xray(data)
    return read_folder(data, "normal", "abnormal", normal_test_dir="normal_test" if (data / "normal_test").is_dir()
                       else None, mask_dir="mask" if (data / "mask").is_dir() else None, seed=DATA_SEED)


def _add_data_arguments(p: argparse.ArgumentParser, default: Path | None = DEFAULT_DATA) -> None:
    p.add_argument("--data", type=Path, default=default, help="dataset folder: an MVTec AD category, an anomalib "
                   "Folder root (normal/, abnormal/, normal_test/, mask/), a Hyper-Kvasir split or chest X-ray "
                   "class folders" + (f" (default: the synthetic {default}, written on first use)" if default else ""))
    p.add_argument("--layout", choices=LAYOUTS, default="auto", help="dataset layout (default: detected)")


# ------------------------------------------------------------------------------------------------- train
def add_train_arguments(p: argparse.ArgumentParser) -> None:
    _add_data_arguments(p)
    p.add_argument("--iterations", type=positive_int, default=1500, help="optimiser steps (default 1500)")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--lr", type=positive_float, default=1e-3)
    p.add_argument("--eval-every", type=positive_int, default=250, help="held-out normals scored (model selection)")
    p.add_argument("--flip", action="store_true", help="horizontal-flip augmentation (textures; not for digits)")
    add_common_arguments(p, "train", threads=1, out_help="output folder (default runs/anomaly/train/<data>/), or the "
                         "weights file itself (.safetensors)")
    p.add_argument("--stop-after", type=positive_int, default=None, help="end this run after N iterations of the "
                   "schedule and write the training state (for jobs with a time limit: continue with --resume)")
    p.add_argument("--resume", type=Path, default=None, help="continue an interrupted run exactly from its training "
                   "state (<weights>.state.safetensors, written at every held-out evaluation); give the same options")


def train(args: argparse.Namespace) -> int:
    """Train on the normal training images; every 10th is held out to select the checkpoint and fit the
    threshold; the test split is scored once at the end and its metrics stored with the weights."""
    from streammem.checkpoints import save_checkpoint
    from streammem.models.memmc_mae import CONFIGS, build
    from streammem.models.memmc_mae.scoring import evaluate_items, load_batch
    from streammem.models.memmc_mae.training import TrainSettings, split_normals, train_model
    from streammem.training import load_state, state_path

    run = start(args, task="anomaly", verb="train", stem=f"memmc_mae_{args.data.resolve().name}",
                inputs=[args.data], main_suffixes=(".safetensors",))
    if args.resume is not None:
        load_state(args.resume)  # a missing or foreign file is refused before the data are read
    split = read_split(args.data, args.layout)
    resolved = train_config(CONFIGS, args.config, args.set)
    with config_errors("train anomaly"):
        model = build(resolved)
    cfg = model.config
    out = run.main_path(f"memmc_mae_{Path(args.config).stem}.safetensors")
    images = load_batch(split.train, cfg.in_chans, cfg.image_size)
    fit, held = split_normals(len(images))
    if not fit or not held:
        raise InputError(args.data, f"{len(images)} training image(s): need at least 2 (one is held out)")
    if run.is_main:
        print(f"training MemMC-MAE ({args.config}, memory={cfg.memory}) on {len(fit)} normals of {split.name}, "
              f"selecting on {len(held)} held-out normals; weights -> {out}", flush=True)
    settings = TrainSettings(iterations=args.iterations, batch_size=args.batch_size, lr=args.lr,
                             eval_every=args.eval_every, seed=args.seed, flip=args.flip)
    command = training_command("anomaly")
    state = run.path(state_path(out).name)
    model, info = train_model(model, images[fit], images[held], settings, device=run.device, checkpoint=out,
                              training_command=command, log=lambda s: print(s, flush=True), amp=args.amp,
                              state_file=state, resume_state=args.resume, stop_after=args.stop_after)
    if not run.is_main:  # the test split is scored and the weights written once, by rank 0
        return run.finish()
    labels = {item.label for item in split.test}
    if labels == {0, 1}:
        test = evaluate_items(model, split.test, device=run.device)
        info.update({f"test_{k}": v for k, v in test.items()})
        print("test: " + " ".join(f"{k}={v:.2f}" for k, v in test.items()))
    save_checkpoint(out, model.cpu(), model_name="memmc_mae", config=cfg.to_dict(), training_command=command,
                    data_seed=args.seed, metrics={**info, "data": split.name})
    run.record(out)
    run.record(out.with_suffix(".json"))
    run.record(state)
    return run.finish()


# -------------------------------------------------------------------------------------------------- eval
def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    _add_data_arguments(p)
    p.add_argument("--batch-size", type=positive_int, default=64)
    add_common_arguments(p, "eval", threads=2, weights_help="weights (default: shipped memmc_mae_tiny)",
                         out_help="output folder for metrics.json and scores.csv (default "
                         "runs/anomaly/eval/<data>/), or the metrics file itself (.json)")
    add_amp_argument(p)


def eval(args: argparse.Namespace) -> int:  # noqa: A001 - the CLI verb's name
    """Image AUROC / AUPRC / F1-max on the test split, pixel AUROC and AUPRO when it has masks."""
    import numpy as np

    from streammem import distributed
    from streammem.data.anomaly_images import load_image, load_mask
    from streammem.evaluation.functional.anomaly import anomaly_metrics
    from streammem.evaluation.resume import StreamResults, fingerprint
    from streammem.models.memmc_mae.scoring import load_batch, score_images

    run = start(args, task="anomaly", verb="eval", stem=args.data.resolve().name, inputs=[args.data])
    precision = autocast(args.amp, run.device)
    if run.is_main:
        split = read_split(args.data, args.layout)  # rank 0 writes the default synthetic set if missing
    distributed.barrier()
    if not run.is_main:
        split = read_split(args.data, args.layout)
    model, meta = load_model(args.weights)
    model.to(run.device)
    cfg = model.config
    weights = resolve_weights(args.weights, "memmc_mae")
    with_maps = split.has_masks and all(item.mask is not None for item in split.test if item.label)
    # the streams are batches of test images (the same batches on any number of ranks), sharded under torchrun;
    # each finished batch is stored under <out>/streams/ and reused by a rerun (--resume)
    batches = [(f"batch{lo // args.batch_size:06d}", split.test[lo: lo + args.batch_size])
               for lo in range(0, len(split.test), args.batch_size)]
    cache = StreamResults.open(run, fingerprint(weights, data=str(args.data.resolve()), layout=args.layout,
                                                batch_size=args.batch_size, maps=with_maps, amp=args.amp),
                               args.resume)

    def score_batch(batch):
        with precision:
            score, amap = score_images(model, load_batch(batch[1], cfg.in_chans, cfg.image_size), args.batch_size,
                                       run.device)
        return {"scores": score, "maps": amap if with_maps else None}

    done = distributed.gather(cache.map(distributed.shard(batches), key=lambda b: b[0], compute=score_batch))
    resumed = cache.summary(len(batches), "batches of images")
    if not run.is_main:
        return run.finish()
    if resumed:
        print(resumed)
    scores = np.concatenate([np.asarray(b["scores"], np.float32) for b in done])
    maps = np.concatenate([np.asarray(b["maps"], np.float32) for b in done]) if with_maps else None
    labels = np.array([item.label for item in split.test])
    masks = None
    if with_maps:
        import cv2

        masks = []
        for item in split.test:
            h, w = load_image(item.path, 1).shape[:2]
            mask = load_mask(item.mask, (h, w)) if item.mask else np.zeros((h, w), bool)
            masks.append(cv2.resize(mask.astype(np.uint8), (cfg.image_size,) * 2, interpolation=cv2.INTER_NEAREST) > 0)
    metrics: dict[str, Any] = anomaly_metrics(labels, scores, masks, list(maps) if masks is not None else None)
    print(" ".join(f"{k}={v:.2f}" for k, v in metrics.items()))
    metrics.update({"images": len(split.test), "anomalous": int(labels.sum()), "data": str(args.data),
                    "weights": str(weights), "model": meta["config"]["memory"], "amp": args.amp})
    _write_scores(run.path("scores.csv"), args.data, [i.path for i in split.test], scores)
    run.record(run.path("scores.csv"))
    run.write_main_json("metrics.json", metrics)
    return run.finish()


def _write_scores(path: Path, root: Path, images: list[Path], scores) -> None:
    """``path,score`` rows (paths relative to ``root``): the CSV ``score anomaly`` reads back."""
    with atomic_output(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "score"])
        for image, score in zip(images, scores, strict=True):
            writer.writerow([image.relative_to(root).as_posix(), f"{float(score):.8g}"])


# ------------------------------------------------------------------------------------------------- score
def add_score_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gt", type=Path, required=True, help="dataset folder (any --layout) whose test split is scored")
    p.add_argument("--pred", type=Path, required=True, help="CSV with a header and columns path,score (path relative "
                   "to --gt, or the file name when unique)")
    p.add_argument("--maps", type=Path, default=None, help="folder of per-image anomaly maps, <path>.npy or a 16-bit "
                   "<path>.png, for pixel AUROC / AUPRO")
    p.add_argument("--layout", choices=LAYOUTS, default="auto")
    p.add_argument("--ignore-unknown", action="store_true", help="skip predictions for images not in the test split")
    add_common_arguments(p, "score", out_help="output folder for scores.json (0-100 scale; default "
                         "runs/anomaly/score/<predictions>/), or the JSON file itself")


def score(args: argparse.Namespace) -> int:
    """Score any system's ``path,score`` CSV (and optional maps) against a dataset's test split."""
    job = start_score(args, task="anomaly")
    result = score_predictions(args.gt, args.pred, args.maps, args.layout, args.ignore_unknown)
    print(" ".join(f"{k}={v:.2f}" for k, v in result.items() if isinstance(v, float)))
    job.write_main_json("scores.json", result)
    return job.finish()


def score_predictions(gt: Path, pred: Path, maps: Path | None = None, layout: str = "auto",
                      ignore_unknown: bool = False) -> dict[str, Any]:
    """Metrics of a ``path,score`` CSV against the test split of ``gt``; pixel metrics from ``maps`` if given."""
    import numpy as np

    from streammem.data.anomaly_images import load_image, load_mask
    from streammem.evaluation.functional.anomaly import anomaly_metrics

    split = read_split(gt, layout)
    by_rel = {item.path.relative_to(gt).as_posix(): item for item in split.test}
    by_name: dict[str, list] = {}
    for item in split.test:
        by_name.setdefault(item.path.name, []).append(item)
    scores: dict[Path, float] = {}
    unknown: list[str] = []
    for line, key, value in _read_score_csv(pred):
        item = by_rel.get(key) or (by_name[Path(key).name][0] if len(by_name.get(Path(key).name, [])) == 1 else None)
        if item is None:
            unknown.append(key)
            continue
        if item.path in scores:
            raise InputError(pred, f"'{key}' is scored twice", line=line)
        scores[item.path] = value
    if unknown and not ignore_unknown:
        raise InputError(pred, f"{len(unknown)} path(s) not in the test split of {gt}: {', '.join(unknown[:3])} "
                         "(--ignore-unknown skips them)")
    missing = [item.path.relative_to(gt).as_posix() for item in split.test if item.path not in scores]
    if missing:
        raise InputError(pred, f"no score for {len(missing)} test image(s): {', '.join(missing[:3])}")
    labels = np.array([item.label for item in split.test])
    values = np.array([scores[item.path] for item in split.test])
    pixel_masks = pixel_maps = None
    if maps is not None:
        pixel_masks, pixel_maps = [], []
        for item in split.test:
            amap = _read_map(maps, item.path.relative_to(gt))
            h, w = load_image(item.path, 1).shape[:2]
            if amap.shape != (h, w):
                raise InputError(maps / item.path.relative_to(gt), f"map is {amap.shape[1]}x{amap.shape[0]}, image {w}x{h}")
            pixel_maps.append(amap)
            pixel_masks.append(load_mask(item.mask, (h, w)) if item.mask else np.zeros((h, w), bool))
    result: dict[str, Any] = anomaly_metrics(labels, values, pixel_masks, pixel_maps)
    result.update({"task": "anomaly", "gt": str(gt), "pred": str(pred), "images": len(labels),
                   "anomalous": int(labels.sum()), "skipped_unknown": len(unknown)})
    return result


def _read_score_csv(path: Path):
    """Yields (line, path, score) from a CSV with a ``path,score`` header; bad rows name their line."""
    if not path.is_file():
        raise InputError(path, "predictions file not found")
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["path", "score"]:
        raise InputError(path, "expected a header line 'path,score'", line=1)
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) < 2:
            raise InputError(path, "expected 'path,score'", line=line)
        try:
            value = float(row[1])
        except ValueError:
            raise InputError(path, f"score '{row[1]}' is not a number", line=line) from None
        if value != value:
            raise InputError(path, "score is NaN", line=line)
        yield line, row[0].strip(), value


def _read_map(maps: Path, rel: Path):
    """The map of image ``rel``: ``<rel stem>.npy`` (float) or a 16-bit ``<rel stem>.png`` (scaled to 0-1)."""
    import numpy as np

    base = maps / rel.with_suffix("")
    npy, png = base.with_suffix(".npy"), base.with_suffix(".png")
    if npy.is_file():
        try:
            arr = np.load(npy, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise InputError(npy, f"unreadable map ({err})") from None
        return arr.reshape(arr.shape[-2:]) if arr.ndim == 3 and arr.shape[0] == 1 else arr
    if png.is_file():
        from streammem.data.anomaly_images import open_image

        arr = np.asarray(open_image(png), dtype=np.float64)  # the same size guard and one-line errors as images
        return arr / (65535.0 if arr.max() > 255 else 255.0)
    raise InputError(base, "no anomaly map (.npy or .png) for this image")


# ---------------------------------------------------------------------------------------------- demo / run
def _add_stream_arguments(p: argparse.ArgumentParser, verb: str) -> None:
    add_common_arguments(p, verb, threads=2, weights_help="weights (default: shipped memmc_mae_tiny for images, "
                         "memmc_mae_tiny_texture for the bundled clip)",
                         out_help=f"output folder (default runs/anomaly/{verb}/<source>/)")
    p.add_argument("--max-seconds", type=positive_float, default=None, help="stop a video source after this long")
    add_amp_argument(p)


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    _add_stream_arguments(p, "demo")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="an image, a folder of images, a video file, a URL or a camera index")
    _add_stream_arguments(p, "run")


def demo(args: argparse.Namespace) -> int:
    """The bundled digit images (heat-map overlays) and the bundled texture clip (annotated video + score plot)."""
    run = start(args, task="anomaly", verb="demo", stem="samples")
    precision = autocast(args.amp, run.device)
    model = load_model(args.weights)[0].to(run.device)
    clip_model = model if args.weights else load_model(TEXTURE_WEIGHTS if TEXTURE_WEIGHTS.is_file() else None)[0]
    with precision:
        _score_folder(run, model, sorted(p for p in SAMPLE_IMAGES.iterdir() if p.suffix == ".png"))
        _score_video(run, clip_model.to(run.device), str(SAMPLE_CLIP), SAMPLE_CLIP.stem, args.max_seconds)
    return run.finish()


def run(args: argparse.Namespace) -> int:
    """Score a source: images get overlays and ``scores.json``; a video, URL or camera an annotated video,
    per-frame scores and a score-over-time plot."""
    from streammem.data.anomaly_images import IMAGE_SUFFIXES, list_images

    source = args.source
    path = Path(source)
    local = path.exists()
    run_ = start(args, task="anomaly", verb="run", stem=source, inputs=[path] if local else [])
    precision = autocast(args.amp, run_.device)
    model = load_model(args.weights)[0].to(run_.device)
    with precision:
        if path.is_dir():
            _score_folder(run_, model, list_images(path))
        elif local and path.suffix.lower() in IMAGE_SUFFIXES:
            _score_folder(run_, model, [path])
        else:
            if local and path.suffix.lower() not in VIDEO_SUFFIXES:
                raise InputError(path, f"not an image ({', '.join(IMAGE_SUFFIXES)}) nor a video "
                                 f"({', '.join(VIDEO_SUFFIXES)})")
            _score_video(run_, model, source, path.stem if local else "stream", args.max_seconds)
    return run_.finish()


def _score_folder(run, model, images: list[Path]) -> None:
    """Score each image alone (any size and channels: the model converts) on the model's device; overlay PNG per
    image + scores.json."""
    import numpy as np
    import torch

    from streammem.data.anomaly_images import load_image

    records = []
    for image in images:
        rgb = load_image(image, 3)
        out = model(torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).to(model.image_threshold.device))
        amap = out.anomaly_map[0].float().cpu().numpy()
        records.append({"image": str(image), "pred_score": float(out.pred_score[0]), "pred_label": bool(out.pred_label[0]),
                        "raw_score": float(out.raw_score[0]),
                        "anomalous_pixels": float(np.mean(out.pred_mask[0].cpu().numpy()))})
        target = run.path(f"{image.stem}_heatmap.png")
        _write_png(target, _overlay(rgb, amap, float(out.pred_score[0])))
        run.record(target)
        print(f"{image.name}: pred_score {records[-1]['pred_score']:.3f} "
              f"({'anomalous' if records[-1]['pred_label'] else 'normal'})")
    run.write_json("scores.json", {"images": records})


def _score_video(run, model, source: str, name: str, max_seconds: float | None) -> None:
    """Frames through ``model.step`` (temporal smoothing of the score): annotated video, per-frame JSON, plot."""
    import torch

    from streammem.streams.runner import StreamRunner
    from streammem.streams.sinks import AnnotatedVideoSink
    from streammem.streams.sources import open_source

    frames_source = open_source(source, kind="video")
    fps = float(getattr(frames_source, "fps", 0.0) or 10.0)
    frames: list[dict] = []
    device = model.image_threshold.device

    def step(frame, state):
        out, state = model.step(torch.from_numpy(frame).permute(2, 0, 1).unsqueeze(0).to(device), state)
        frames.append({"frame": len(frames), "pred_score": float(out.pred_score[0]), "pred_label": bool(out.pred_label[0]),
                       "raw_score": float(out.raw_score[0])})
        return out, state

    def draw(frame, out):
        return _overlay(frame, out.anomaly_map[0].float().cpu().numpy(), float(out.pred_score[0]))

    video = run.path(f"{name}_annotated.mp4")
    max_frames = int(max_seconds * fps) if max_seconds else None
    try:
        StreamRunner(step, model.initial_state(1), [AnnotatedVideoSink(video, fps, draw)]).run(frames_source, max_frames)
    except KeyboardInterrupt:  # a live source is stopped with Ctrl-C: keep what was scored so far
        print("\nstopped")
    run.record(video)
    plot = run.path(f"{name}_scores.png")
    _score_plot(plot, frames, fps, name)
    run.record(plot)
    run.write_json(f"{name}_frames.json", {"source": source, "fps": fps, "frames": frames})
    first = next((f["frame"] for f in frames if f["pred_label"]), None)
    print(f"{name}: {len(frames)} frames; first anomalous frame: {first if first is not None else 'none'}")


def _overlay(rgb, amap, score: float, side: int = 192):
    """The image (upscaled to ``side`` px high) with the anomaly map as a JET heat map and the score written on it."""
    import cv2
    import numpy as np

    h, w = rgb.shape[:2]
    size = (max(1, round(side * w / h)), side)
    base = cv2.resize(np.ascontiguousarray(rgb[..., :3]), size, interpolation=cv2.INTER_NEAREST)
    heat = cv2.applyColorMap((np.clip(cv2.resize(amap, size), 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    out = cv2.addWeighted(base, 0.55, cv2.cvtColor(heat, cv2.COLOR_BGR2RGB), 0.45, 0)
    colour = (255, 60, 60) if score >= 0.5 else (60, 255, 60)
    cv2.putText(out, f"{score:.2f}", (4, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, colour, 2, cv2.LINE_AA)
    return out


def _write_png(path: Path, rgb) -> None:
    import cv2

    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise StreamMemError(f"{path}: could not encode PNG")
    with atomic_output(path) as tmp:
        tmp.write_bytes(data.tobytes())


def _score_plot(path: Path, frames: list[dict], fps: float, name: str) -> None:
    """pred_score over time with the 0.5 threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from streammem.streams.sinks import save_figure

    t = [f["frame"] / fps for f in frames]
    fig, ax = plt.subplots(figsize=(8, 2.6))
    ax.plot(t, [f["pred_score"] for f in frames], lw=1.5, label="pred_score (smoothed)")
    ax.axhline(0.5, color="red", ls="--", lw=1, label="threshold")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("time (s)")
    ax.set_title(f"anomaly score over time: {name}")
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    save_figure(fig, path)


# ------------------------------------------------------------------------------------------------ export
def add_export_arguments(p: argparse.ArgumentParser) -> None:
    add_export_options(p, threads=1, weights_help="weights (default: shipped memmc_mae_tiny)")


def export(args: argparse.Namespace) -> int:
    """TorchScript: the scoring graph (``forward(images)``, preprocessing and calibration inside) plus ``step``;
    torch.export: the streaming step. Both checked against eager within 1e-4 on the bundled images."""
    import torch

    from streammem.data.anomaly_images import load_image
    from streammem.export import (
        PARITY_TOLERANCE,
        export_step,
        export_torchscript,
        load_torchscript,
        max_abs_diff,
    )

    run, path = start_export(args, task="anomaly", model="memmc_mae")
    model, _ = load_model(args.weights)
    images = [torch.from_numpy(load_image(p, 3)).permute(2, 0, 1).unsqueeze(0)
              for p in sorted(SAMPLE_IMAGES.glob("*.png"))]
    if args.format == "torchscript":
        export_torchscript(model, path)
        loaded = load_torchscript(path)
        worst = max(max_abs_diff(model(x), loaded(x)) for x in images)
        state_e, state_s = model.initial_state(1), loaded.initial_state(1)
        for x in images:
            (out_e, state_e), (out_s, state_s) = model.step(x, state_e), loaded.step(x, state_s)
            worst = max(worst, max_abs_diff(out_e, out_s), max_abs_diff(state_e, state_s))
        if not worst <= PARITY_TOLERANCE:
            path.unlink(missing_ok=True)
            raise StreamMemError(f"{path}: exported scoring differs from eager by {worst:.2e}; not kept")
    else:
        worst = export_step("export", _step_module(model), images, model.initial_state(1), path)
    print(f"parity on {len(images)} bundled images: max |diff| {worst:.2e}")
    run.record(path)
    return run.finish()


def _step_module(model):
    """The streaming step as ``forward(frame, state)``, the form :func:`streammem.export.export_step` exports."""
    import torch

    class StepModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, frame, state):
            return self.model.step(frame, state)

    return StepModule().eval()


# ------------------------------------------------------------------------------------------------- bench
def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    from streammem.bench import add_arguments

    add_arguments(parser)


def bench(args: argparse.Namespace) -> int:
    """The shared benchmark harness (streammem.bench) on this task: streaming step at stream positions,
    full-context recompute, equal-size peers, FLOPs against the machine's matmul rate -> bench.json."""
    from streammem.bench import bench_task

    return bench_task("anomaly", args)
