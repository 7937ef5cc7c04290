"""Task ``simulst``: simultaneous English->German speech translation with the Augmented Memory Transformer.

Verbs: ``demo`` (translate a bundled talk or the microphone, words printed as they are emitted), ``run`` (any
audio file), ``eval`` (BLEU and SimulEval latencies on a MuST-C-layout split, per wait-k, with and without
Shiftable Context), ``train`` (ASR pre-training then ST), ``export`` (TorchScript streaming step), ``bench``
(per-chunk encoder cost, incremental vs re-encoding the prefix). ``streammem score`` scores SimulEval logs.
Heavy imports stay inside the functions so ``streammem --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from streammem.tasks import training_command
from streammem.tasks.common import (
    add_amp_argument,
    add_common_arguments,
    add_export_options,
    autocast,
    config_errors,
    int_at_least,
    positive_float,
    positive_int,
    resolve_weights,
    start,
    start_export,
    start_score,
    train_config,
)

__all__ = [
    "add_train_arguments", "train",
    "add_eval_arguments", "eval",
    "add_run_arguments", "run",
    "add_demo_arguments", "demo",
    "add_export_arguments", "export",
    "add_bench_arguments", "bench",
    "add_score_arguments", "score",
]

MODEL = "amt_simulst"
DEVICES = ("cpu", "cuda")  # every verb moves the model and its inputs together (CUDA not yet run here)
BENCH_DEVICES = ("cpu", "cuda")  # the benchmark measures on --device; MPS has no peak-memory statistics
EXPORT_DEVICES = ("cpu",)  # the exported step is traced and checked on the CPU; the file loads on any device
DEFAULT_DATA = Path("runs/synth_simulst")
SAMPLE_AUDIO = Path(__file__).resolve().parent.parent / "samples" / "simulst_talk.wav"


def _load_model(weights: str | Path | None):
    """The shipped (or given) checkpoint, built from the config stored beside it, in eval mode."""
    from streammem.checkpoints import load_metadata, load_weights, stored_config_errors
    from streammem.models import build_model

    path = resolve_weights(weights, MODEL)
    meta = load_metadata(path)
    with stored_config_errors(path):
        model = build_model(MODEL, meta["config"])
    load_weights(model, path, expect_model=MODEL)
    return model.eval()


def _add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait-k", type=positive_int, default=None,
                        help="lag of the policy in pre-decision blocks (default: the model's)")
    parser.add_argument("--no-shift", action="store_true", help="turn Shiftable Context off (windows at inference "
                        "then lack the right context and a full center, as in the plain AMT)")
    parser.add_argument("--shift-left", action="store_true", help="also shift left: a stream's first window waits for "
                        "a full window of future frames instead of starting with an empty left context")


def _set_policy(model, wait_k: int | None, no_shift: bool) -> None:
    if wait_k is not None:
        model.wait_k = wait_k
    model.shift_center = model.shift_right = not no_shift


# ---------------------------------------------------------------------------------------------- train
def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="MuST-C-layout corpus root (en-de/data/train/...); the synthetic corpus is written "
                        "there when missing")
    parser.add_argument("--stage", choices=("both", "asr", "st"), default="both",
                        help="asr: CTC pre-training of the encoder; st: translation from --init; both: asr then st")
    parser.add_argument("--init", type=Path, default=None, help="weights to start from (an asr-stage checkpoint "
                        "for --stage st; its stored config wins over --config)")
    parser.add_argument("--asr-minutes", type=positive_float, default=4.0, help="wall-clock budget of the asr stage")
    parser.add_argument("--st-minutes", type=positive_float, default=18.0, help="wall-clock budget of the st stage")
    parser.add_argument("--max-steps", type=positive_int, default=100000, help="per stage")
    parser.add_argument("--batch-size", type=positive_int, default=12)
    parser.add_argument("--lr", type=positive_float, default=2e-3)
    add_common_arguments(parser, "train", threads=1, out_help="output folder (default runs/simulst/train/"
                         "amt_simulst_<config>/), or the weights file itself (.safetensors)")
    parser.add_argument("--resume", type=Path, default=None, help="continue one stage (--stage asr, or st with the "
                        "same --init) exactly from its training state (<weights>.state.safetensors, written with "
                        "every checkpoint); give the same options (the minutes may change)")


def train(args: argparse.Namespace) -> int:
    """ASR pre-training and/or ST training with periodic checkpoints; the asr stage's weights are kept beside
    the final ones as ``<name>_asr.safetensors``."""
    from streammem import distributed
    from streammem.checkpoints import load_metadata, load_weights, save_checkpoint
    from streammem.data.synthetic_simulst import write_corpus
    from streammem.errors import InputError
    from streammem.models import build_model
    from streammem.models.amt_simulst import CONFIGS
    from streammem.models.amt_simulst.training import TrainOptions
    from streammem.models.amt_simulst.training import train as run_training
    from streammem.training import load_state, state_path

    name = f"{MODEL}_{Path(args.config).stem}"
    run = start(args, task="simulst", verb="train", stem=name, inputs=[args.data, args.init],
                main_suffixes=(".safetensors",))
    out = run.main_path(f"{name}.safetensors")
    asr_out = out.with_name(f"{out.stem}_asr.safetensors")
    if args.stage == "st" and args.init is None:
        raise InputError("--init", "--stage st starts from an asr-stage checkpoint; give it with --init")
    if args.resume is not None:
        if args.stage == "both":
            raise InputError("--resume", "continues one stage: give --stage asr, or --stage st with the same --init")
        load_state(args.resume)  # a missing or foreign file is refused before any corpus is written
    if not (args.data / "en-de" / "data" / "train").is_dir() and run.is_main:  # process 0 writes, the others wait
        # the corpus seed stays 0 whatever --seed: eval and every training seed use the same corpus
        print(f"{args.data}/en-de/data/train not found: writing the synthetic corpus there (seed 0)")
        write_corpus(args.data)
    distributed.barrier()
    if args.init is not None:
        if not args.init.is_file():
            raise InputError(args.init, "weights to start from not found")
        with config_errors("train simulst --init"):
            model = build_model(MODEL, load_metadata(args.init)["config"])
        load_weights(model, args.init, expect_model=MODEL)
    else:
        with config_errors("train simulst"):
            model = build_model(MODEL, train_config(CONFIGS, args.config, args.set))
    command = training_command("simulst")
    stages = ("asr", "st") if args.stage == "both" else (args.stage,)
    for stage in stages:
        path = asr_out if stage == "asr" and len(stages) == 2 else out
        options = TrainOptions(stage=stage, minutes=args.asr_minutes if stage == "asr" else args.st_minutes,
                               max_steps=args.max_steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed)

        def checkpoint(m, step: int, path: Path = path, stage: str = stage) -> None:
            save_checkpoint(path, m, model_name=MODEL, config=m.config.to_dict(), training_command=command,
                            data_seed=args.seed, metrics={"stage": stage, "steps": step})

        state = run.path(state_path(path).name)
        stats = run_training(model, args.data, options, device=run.device, checkpoint=checkpoint, amp=args.amp,
                             state_file=state, resume_state=args.resume)
        run.record(state)
        if run.is_main:
            print(f"{stage}: trained {stats['steps']} steps, loss {stats['loss']:.3f}", flush=True)
        run.record(path)
        run.record(path.with_suffix(".json"))
    return run.finish()


# ---------------------------------------------------------------------------------------------- eval
def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MuST-C-layout corpus root (default: the "
                        "synthetic corpus, written on first use)")
    parser.add_argument("--split", default="tst-COMMON")
    parser.add_argument("--k", type=positive_int, nargs="+", default=None,
                        help="wait-k lags to evaluate (default: the model's)")
    parser.add_argument("--shift", choices=("on", "off", "both"), default="on", help="Shiftable Context")
    parser.add_argument("--limit", type=positive_int, default=None, help="only the first N segments")
    parser.add_argument("--context-seconds", type=positive_float, default=2.0,
                        help="talk audio heard before each segment (the model's training context)")
    add_common_arguments(parser, "eval", threads=1, out_help="output folder for metrics.json and one SimulEval "
                         "instances log per setting (default runs/simulst/eval/<corpus>_<split>/), or the JSON file")
    add_amp_argument(parser)


def _talk_runs(segments: list) -> list[tuple[str, list[int]]]:
    """Runs of consecutive segments of one talk ``(key, indices)``: the streams of an evaluation. A segment hears
    its talk's audio since the previous segment began, so a run is translated whole, on one rank."""
    runs: list[tuple[str, list[int]]] = []
    for i, seg in enumerate(segments):
        if runs and segments[runs[-1][1][-1]].talk == seg.talk:
            runs[-1][1].append(i)
        else:
            runs.append((seg.talk, [i]))
    return [(f"{talk}_{idx[0]}-{idx[-1]}", idx) for talk, idx in runs]


def eval(args: argparse.Namespace) -> int:  # noqa: A001 - the CLI verb's name
    """BLEU, AL, LAAL, DAL, AP and their computation-aware variants per (k, Shiftable Context) setting, and the
    pronoun accuracy on the synthetic corpus's pronoun segments. Under torchrun whole talks are sharded across
    ranks; each finished talk is stored under <out>/streams/ and reused by a rerun (``--resume``)."""
    import dataclasses
    import json

    from streammem import distributed
    from streammem.data.mustc import read_split
    from streammem.data.synthetic_simulst import pronoun_accuracy
    from streammem.evaluation.functional.simulst import SimulInstance, simulst_scores
    from streammem.evaluation.resume import StreamResults, fingerprint
    from streammem.models.amt_simulst.decoding import translate_segments
    from streammem.progress import progress

    job = start(args, task="simulst", verb="eval", stem=f"{args.data.resolve().name}_{args.split}", inputs=[args.data])
    precision = autocast(args.amp, job.device)
    if args.data == DEFAULT_DATA and not (args.data / "en-de").is_dir() and job.is_main:
        from streammem.data.synthetic_simulst import write_corpus

        print(f"{args.data} not found: writing the synthetic corpus there (seed 0)")
        write_corpus(args.data)
    distributed.barrier()  # under torchrun the other ranks wait for the corpus
    segments = read_split(args.data, args.split)[: args.limit]
    model = _load_model(args.weights).to(job.device)
    weights = resolve_weights(args.weights, MODEL)
    runs = _talk_runs(segments)
    mine = distributed.shard(runs)  # under torchrun: whole talks per rank, gathered in order
    results = []
    resumed = []
    for shift in {"on": (True,), "off": (False,), "both": (True, False)}[args.shift]:
        for k in args.k or [model.wait_k]:
            _set_policy(model, k, not shift)
            cache = StreamResults.open(job, fingerprint(weights, data=str(args.data.resolve()), split=args.split,
                                                        wait_k=k, shift=shift, context=args.context_seconds,
                                                        amp=args.amp),
                                       args.resume)

            def translate(run, k=k):
                with precision:
                    instances = translate_segments(model, [segments[i] for i in run[1]], args.context_seconds)
                return [dataclasses.asdict(ins) for ins in instances]

            bar = lambda todo, n, k=k, s=shift: progress(  # noqa: E731
                todo, total=n, desc=f"eval simulst k={k} shift={'on' if s else 'off'}", unit="talk")
            per_talk = cache.map(mine, key=lambda run, k=k, s=shift: f"k{k}_{'sc' if s else 'nosc'}_{run[0]}",
                                 compute=translate, progress=bar)
            instances = [SimulInstance(**ins) for talk in distributed.gather(per_talk) for ins in talk]
            resumed.append(cache.summary(len(runs), f"talks (k={k}, shift {'on' if shift else 'off'})"))
            scores = simulst_scores(instances)
            scores["pronoun_accuracy"], scores["pronoun_segments"] = pronoun_accuracy(
                [s.source for s in segments], [s.target for s in segments], [i.prediction for i in instances])
            row = {"wait_k": k, "shiftable_context": shift, **scores}
            results.append(row)
            if not job.is_main:
                continue
            print(f"k={k} shift={'on ' if shift else 'off'} BLEU {scores['BLEU']:6.2f}  AL {scores['AL']:7.1f} ms  "
                  f"LAAL {scores['LAAL']:7.1f}  AL_CA {scores.get('AL_CA', float('nan')):7.1f}  "
                  f"pronouns {scores['pronoun_accuracy']:5.1f} %", flush=True)
            log = job.path(f"instances_k{k}_{'sc' if shift else 'nosc'}.log")
            log.write_text("".join(json.dumps({"index": i, "prediction": ins.prediction, "delays": ins.delays,
                                               "elapsed": ins.elapsed, "source_length": ins.source_length,
                                               "reference": ins.reference}) + "\n" for i, ins in enumerate(instances)))
            job.record(log)
    if not job.is_main:
        return job.finish()
    for line in filter(None, resumed):
        print(line)
    job.write_main_json("metrics.json",
                   {"weights": str(weights), "split": args.split, "amp": args.amp,
                    "latency": "SimulEval 1.1 (|Y| = reference words), ms of source audio", "results": results})
    return job.finish()


# ---------------------------------------------------------------------------------------------- run / demo
def _translate(model, audio, show) -> dict:
    """Translate a recording segment by segment, calling ``show(words, t)`` as words are emitted."""
    from streammem.models.amt_simulst.decoding import translate_talk

    return _result(model, translate_talk(model, audio, on_words=show), len(audio) / 16000)


def _result(model, segments: list, audio_seconds: float) -> dict:
    """The JSON of a translated recording: ``segments`` are ``((start, end) samples, TimedWords)``."""
    return {
        "translation": " ".join(t.text for _, t in segments),
        "segments": [{"start": round(a / 16000, 3), "end": round(b / 16000, 3), "text": t.text,
                      "words": [{"word": w, "emitted_at": round(a / 16000 + d / 1000, 3)}
                                for w, d in zip(t.words, t.delays, strict=True)]} for (a, b), t in segments],
        "audio_seconds": audio_seconds, "wait_k": model.wait_k, "shiftable_context": model.shift_center,
        "shift_left": model.shift_left,
    }


def _print_words(words: list[str], at: float) -> None:
    print(f"[{at:6.2f} s] {' '.join(words)}", flush=True)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="English speech: wav, flac, ogg, mp3 ...; any rate, any channel count")
    _add_policy_arguments(parser)
    add_common_arguments(parser, "run", threads=1, out_help="output folder for translation.json (default "
                         "runs/simulst/run/<file>/), or the JSON file itself")
    add_amp_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Translate a file (split into segments at pauses), print the words as emitted, write them with times.
    The file is streamed twice (segments, then translation), so memory does not grow with its length."""
    from streammem.models.amt_simulst.decoding import translate_recording
    from streammem.streams.sources import open_source

    job = start(args, task="simulst", verb="run", stem=str(args.file), inputs=[args.file])
    precision = autocast(args.amp, job.device)
    model = _load_model(args.weights).to(job.device)
    _set_policy(model, args.wait_k, args.no_shift)
    model.shift_left = args.shift_left and not args.no_shift
    source = open_source(str(args.file), kind="audio", chunk_seconds=1.0)
    samples: list[int] = []  # per pass; the first pass reads the whole file

    def pieces():
        samples.append(0)
        for _, chunk in source:
            samples[-1] += len(chunk)
            yield chunk

    with precision:
        segments = translate_recording(model, pieces, on_words=_print_words)
    result = _result(model, segments, samples[0] / 16000)
    job.write_main_json("translation.json",
                   {"source": str(args.file), **result})
    return job.finish()


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default=str(SAMPLE_AUDIO),
                        help="audio file, or 'mic' / 'mic:<device>' for a microphone, translated while it listens "
                        "until Ctrl-C (default: the bundled English talk)")
    parser.add_argument("--seconds", type=positive_float, default=None, help="stop a microphone after this long")
    _add_policy_arguments(parser)
    add_common_arguments(parser, "demo", threads=1, out_help="output folder for translation.json and emissions.png "
                         "(default runs/simulst/demo/<source>/)")
    add_amp_argument(parser)


def demo(args: argparse.Namespace) -> int:
    """Print German words as they are emitted with their emission times; write them as JSON and a picture of the
    source waveform with each word at its emission time."""
    from streammem.streams.audio import load_audio_file

    is_mic = str(args.source).startswith("mic")
    job = start(args, task="simulst", verb="demo", stem=str(args.source), inputs=[] if is_mic else [args.source])
    precision = autocast(args.amp, job.device)
    model = _load_model(args.weights).to(job.device)
    _set_policy(model, args.wait_k, args.no_shift)
    model.shift_left = args.shift_left and not args.no_shift
    with precision:
        if is_mic:
            result, waveform, rate = _translate_microphone(model, str(args.source), args.seconds)
        else:
            waveform, rate = load_audio_file(args.source), 16000
            result = _translate(model, waveform, _print_words)
    reference = Path(args.source).with_suffix(".de")
    if not is_mic and reference.is_file():
        result["reference"] = " ".join(reference.read_text(encoding="utf-8").split())
        print(f"reference: {result['reference']}")
    job.write_json("translation.json", {"source": str(args.source), **result})
    picture = job.path("emissions.png")
    _plot_emissions(waveform, result, picture, rate)
    job.record(picture)
    return job.finish()


def _translate_microphone(model, spec: str, seconds: float | None) -> tuple[dict, object, int]:
    """Translate a microphone while it listens (words printed as emitted) until ``seconds`` or Ctrl-C/SIGTERM,
    which end the open segment and keep everything. Returns the result, the waveform's peak envelope (10 ms
    frames, bounded memory for the picture) and its rate."""
    import sys

    import numpy as np

    from streammem.models.amt_simulst.live import LiveTranslator
    from streammem.streams.sources import open_source

    source = open_source(spec, kind="audio", chunk_seconds=model.chunk_samples / 16000, duration=seconds)
    live = LiveTranslator(model, _print_words)
    envelope: list[np.ndarray] = []
    print("listening (Ctrl-C to stop) ...", flush=True)
    chunks = iter(source)
    try:
        for _, chunk in chunks:
            live.push(chunk)
            frames = np.asarray(chunk, np.float32)[: len(chunk) // 160 * 160].reshape(-1, 160)
            envelope.append(np.abs(frames).max(1) if len(frames) else np.zeros(0, np.float32))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM stops a live source: keep what was translated
        print("\nstopped", file=sys.stderr)
    finally:
        chunks.close()
    live.finish()
    if source.dropped:
        print(f"{source.dropped} microphone blocks dropped (the model fell behind)", file=sys.stderr)
    waveform = np.concatenate(envelope) if envelope else np.zeros(0, np.float32)
    return _result(model, live.segments, live.heard / 16000), waveform, 100


def _plot_emissions(audio, result: dict, path: Path, rate: int = 16000) -> None:
    """The source waveform (samples at ``rate``; below 16 kHz a peak envelope) with each emitted word placed at
    its emission time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from streammem.streams.sinks import save_figure

    t = np.arange(len(audio)) / rate
    fig, ax = plt.subplots(figsize=(max(8.0, len(audio) / rate * 1.6), 3.2))
    if rate < 16000:
        ax.fill_between(t, -audio, audio, lw=0.4, color="0.55")
    else:
        ax.plot(t, audio, lw=0.4, color="0.55")
    for seg in result["segments"]:
        ax.axvspan(seg["start"], seg["end"], color="tab:blue", alpha=0.06)
        for i, w in enumerate(seg["words"]):
            ax.axvline(w["emitted_at"], color="tab:red", lw=0.6, alpha=0.6)
            ax.text(w["emitted_at"], 0.96 - 0.105 * (i % 9), w["word"], transform=ax.get_xaxis_transform(),
                    fontsize=8, color="tab:red", ha="left", va="top")
    ax.set_xlabel("source time (s): a word is drawn where it was emitted")
    ax.set_yticks([])
    ax.set_xlim(0, max(t[-1] if len(t) else 1.0, 1.0))
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


# ---------------------------------------------------------------------------------------------- export
def add_score_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pred", type=Path, required=True, help="a SimulEval instances.log (JSON lines: prediction, "
                        "delays, elapsed, source_length, reference), from any SimulEval run")
    parser.add_argument("--gt", type=Path, default=None, help="reference file, one line per instance in the log's "
                        "order (e.g. MuST-C txt/tst-COMMON.de); default: the references stored in the log")
    add_common_arguments(parser, "score", out_help="output folder for scores.json (BLEU, AL, LAAL, DAL, AP in ms, "
                         "AL_CA, LAAL_CA; default runs/simulst/score/<log>/), or the JSON file itself")


def score(args: argparse.Namespace) -> int:
    """Score any SimulEval run: sacreBLEU and the SimulEval 1.1 latencies of its ``instances.log``."""
    from streammem.evaluation.functional.simulst import score_instances_log

    job = start_score(args, task="simulst")
    result = score_instances_log(args.pred, args.gt)
    print(" ".join(f"{k}={v:.2f}" for k, v in result.items() if isinstance(v, float)))
    job.write_main_json("scores.json", result)
    return job.finish()


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    add_export_options(parser, threads=1)
    parser.add_argument("--check-chunks", type=int_at_least(2), default=8, help="eager-vs-exported parity over this "
                        "many chunks")


def export(args: argparse.Namespace) -> int:
    """Export the streaming step (``forward``; TorchScript also carries ``initial_state``, ``start_segment``,
    ``listen`` and the target vocabulary) and check it against eager over a stream of chunks."""
    import torch

    from streammem.export import export_step

    job, path = start_export(args, task="simulst", model=MODEL)
    model = _load_model(args.weights)
    gen = torch.Generator().manual_seed(0)
    chunks = [0.1 * torch.randn(1, model.chunk_samples, generator=gen) for _ in range(args.check_chunks)]
    diff = export_step(args.format, model, chunks, model.initial_state(1), path)
    print(f"chunk {model.chunk_samples} samples = {model.chunk_samples / 16000:.2f} s; max |eager - exported| over "
          f"{args.check_chunks} chunks: {diff:.2e}")
    job.record(path)
    return job.finish()


# ---------------------------------------------------------------------------------------------- bench
def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    from streammem.bench import add_arguments

    add_arguments(parser)


def bench(args: argparse.Namespace) -> int:
    """The shared benchmark harness (streammem.bench) on this task: streaming step at stream positions,
    full-context recompute, equal-size peers, FLOPs against the machine's matmul rate -> bench.json."""
    from streammem.bench import bench_task

    return bench_task("simulst", args)
