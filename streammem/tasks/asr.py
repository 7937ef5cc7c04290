"""Task ``asr``: streaming long-form speech recognition with Conformer-NTM.

Verbs: ``demo`` (stream a bundled long recording or the microphone, partial and final transcripts),
``run``/``transcribe`` (any audio file), ``eval`` (WER/CER per length bucket), ``train``, ``export``
(TorchScript streaming step), ``bench`` (real-time factor and per-chunk latency).
Heavy imports stay inside the functions so ``streammem --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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
    "add_train_arguments", "train",
    "add_eval_arguments", "eval",
    "add_run_arguments", "run",
    "add_transcribe_arguments", "transcribe",
    "add_demo_arguments", "demo",
    "add_export_arguments", "export",
    "add_bench_arguments", "bench",
]

DEVICES = ALL_DEVICES  # the model, its state and every audio chunk go to --device; CTC decoding runs on the CPU
EXPORT_DEVICES = ("cpu",)  # the exported step is traced and checked on the CPU; the file loads on any device
BENCH_DEVICES = ("cpu", "cuda")  # the benchmark measures on --device; MPS has no peak-memory statistics

MODEL = "conformer_ntm"
DEFAULT_DATA = Path("runs/synth_speech")
SAMPLE_AUDIO = Path(__file__).resolve().parent.parent / "samples" / "asr_long.flac"


def _load_model(weights: str | Path | None, streaming_ok: bool = True, int8: bool = False):
    """The shipped (or given) checkpoint, built from the config stored beside it, in eval mode.

    ``int8``: Linear weights of the streaming path dynamically quantized (``conformer_ntm.quantize``).
    """
    from streammem.checkpoints import load_metadata, load_weights, stored_config_errors
    from streammem.models import build_model

    path = resolve_weights(weights, MODEL)
    meta = load_metadata(path)
    with stored_config_errors(path):
        model = build_model(MODEL, meta["config"])
    load_weights(model, path, expect_model=MODEL)
    if int8:
        from streammem.models.conformer_ntm.quantize import quantize_int8

        return quantize_int8(model)
    return model.eval()


def _start_inference(args: argparse.Namespace, verb: str, stem: str, inputs: list):
    """``start`` for run, demo and eval: ``(run, model on the run's device, --amp's autocast)``. ``--int8``
    (dynamic quantization, CPU kernels only) makes ``--device auto`` the CPU and refuses other devices and --amp."""
    from streammem.errors import InputError

    if args.int8 and args.device == "auto":
        args.device = "cpu"
    job = start(args, task="asr", verb=verb, stem=stem, inputs=inputs)
    if args.int8 and job.device.type != "cpu":
        raise InputError("--int8", f"int8 dynamic quantization runs on the CPU only, not on {args.device}")
    if args.int8 and args.amp:
        raise InputError("--amp", "the int8 path computes in int8 and float32; drop --amp or --int8")
    precision = autocast(args.amp, job.device)
    return job, _load_model(args.weights, int8=args.int8).to(job.device), precision


def _add_int8_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--int8", action="store_true",
                        help="int8 dynamic quantization of the streaming path's Linear layers (CPU only, faster there; "
                             "accuracy in docs/asr.md)")


def _add_inference_arguments(parser: argparse.ArgumentParser) -> None:
    _add_int8_argument(parser)
    add_amp_argument(parser)


# ---------------------------------------------------------------------------------------------- train
def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="LibriSpeech-layout corpus root with a train/ split (generated when missing)")
    parser.add_argument("--no-memory", action="store_true", help="ablation: the same conformer without the NTM "
                        "(= --set use_memory=false)")
    parser.add_argument("--addressing", default=None, choices=("content", "full"),
                        help="NTM addressing (= --set memory_addressing=...)")
    parser.add_argument("--memory-init", default=None, choices=("constant", "random"),
                        help="NTM initial memory (= --set memory_init=...)")
    parser.add_argument("--tokens", default=None, choices=("char", "bpe"),
                        help="output units: characters, or SentencePiece BPE fitted on the training transcripts")
    parser.add_argument("--bpe-pieces", type=positive_int, default=256, help="BPE vocabulary size with --tokens bpe "
                        "(paper: 5000)")
    parser.add_argument("--minutes", type=positive_float, default=12.0, help="wall-clock training budget")
    parser.add_argument("--max-steps", type=positive_int, default=100000)
    parser.add_argument("--batch-frames", type=positive_int, default=5000, help="padded 10 ms feature frames per batch")
    parser.add_argument("--lr", type=positive_float, default=2e-3)
    parser.add_argument("--freq-mask", type=non_negative_int, default=27, help="SpecAugment frequency-mask width "
                        "(2 masks)")
    parser.add_argument("--join-fraction", type=float, default=0.0,
                        help="share of training items made of two utterances joined (teaches sentence starts "
                             "mid-stream, as in long-form audio)")
    parser.add_argument("--join-max", type=int_at_least(2), default=2, help="a joined training item holds 2 .. N "
                        "utterances")
    parser.add_argument("--join-consecutive", action="store_true",
                        help="join the utterances that follow in the same chapter instead of random ones "
                             "(chapter-level context, e.g. the spelling-convention corpus)")
    parser.add_argument("--stream-items", type=non_negative_int, default=0,
                        help="> 0: train on long streams: each batch row's NTM state carries (detached) to its next "
                             "item, reset every N items, so the memory learns the contents minutes of audio leave")
    parser.add_argument("--stream-rows", type=positive_int, default=4, help="parallel streams per batch with "
                        "--stream-items")
    parser.add_argument("--memory-lr-scale", type=positive_float, default=1.0,
                        help="learning-rate factor for the NTM and its output layer (e.g. 10 to learn a memory "
                             "inserted into a trained conformer faster)")
    parser.add_argument("--ctc-weight", type=float, default=None,
                        help="set the model's CTC loss weight (stored with the weights; the paper: 0.3; 1.0 trains "
                             "CTC alone, and joint decoding then uses CTC alone)")
    parser.add_argument("--streaming-fraction", type=float, default=0.5,
                        help="share of batches trained with the streaming chunk mask (the rest full context)")
    add_common_arguments(parser, "train", out_help="output folder (default runs/asr/train/conformer_ntm_<config>"
                         "[_nomem]/), or the weights file itself (.safetensors)")
    parser.add_argument("--resume", type=Path, default=None,
                        help="a training state (<weights>.state.safetensors, written with every checkpoint) continues "
                             "that run exactly (give the same options; --minutes may change); weights continue with "
                             "a new optimizer and schedule (their stored config wins over --config/--no-memory)")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="start from a trained conformer's weights (e.g. a --no-memory run of the same config); "
                             "an NTM it lacks is inserted as a pass-through and learned from there")


def train(args: argparse.Namespace) -> int:
    """Train on ``<data>/train`` with periodic checkpoints to ``--out``; writes the corpus first if missing."""
    from streammem import distributed
    from streammem.checkpoints import save_checkpoint
    from streammem.data.completion import interrupted
    from streammem.data.synthetic_speech import write_corpus
    from streammem.errors import InputError
    from streammem.models import build_model
    from streammem.models.conformer_ntm import CONFIGS
    from streammem.models.conformer_ntm.training import TrainOptions
    from streammem.models.conformer_ntm.training import train as run_training
    from streammem.training import is_training_state, load_state, state_path

    name = f"{MODEL}_{Path(args.config).stem}{'_nomem' if args.no_memory else ''}"
    exact = args.resume is not None and is_training_state(args.resume)  # else: continue from weights
    run = start(args, task="asr", verb="train", stem=name, inputs=[args.data, None if exact else args.resume,
                args.init_from], main_suffixes=(".safetensors",))
    out = run.main_path(f"{name}.safetensors")
    if exact:  # checked before any corpus is written
        load_state(args.resume)
    elif args.resume:
        model = _load_model(args.resume).train()
    if not (args.data / "train").is_dir() or interrupted(args.data):
        if args.data.resolve() != DEFAULT_DATA.resolve() and args.data.is_dir() and any(args.data.iterdir()) \
                and not interrupted(args.data):
            raise InputError(args.data, "has no train/ split (a LibriSpeech-layout corpus root is expected; the "
                             f"synthetic corpus is written only into {DEFAULT_DATA} or an empty folder)")
        if run.is_main:  # under torchrun process 0 writes the corpus while the others wait
            # the corpus seed stays 0 whatever --seed: eval and every training seed use the same corpus
            print(f"{args.data}/train not found or incomplete: writing the synthetic corpus there (seed 0)")
            write_corpus(args.data)
    distributed.barrier()
    if not args.resume or exact:
        flags = {"use_memory": False if args.no_memory else None, "memory_addressing": args.addressing,
                 "memory_init": args.memory_init, "tokens": args.tokens,
                 "bpe_pieces": args.bpe_pieces if args.tokens == "bpe" else None,
                 "ctc_weight": args.ctc_weight}
        resolved = train_config(CONFIGS, args.config, args.set, **{k: v for k, v in flags.items() if v is not None})
        with config_errors("train asr"):
            model = build_model(MODEL, resolved)
    if args.init_from and not exact:
        _init_from(model, args.init_from)
    if args.ctc_weight is not None:
        model.config.ctc_weight = args.ctc_weight
    command = training_command("asr")
    options = TrainOptions(minutes=args.minutes, max_steps=args.max_steps, batch_frames=args.batch_frames,
                           lr=args.lr, seed=args.seed, freq_mask=args.freq_mask,
                           join_fraction=args.join_fraction, join_max=args.join_max,
                           join_consecutive=args.join_consecutive, streaming_fraction=args.streaming_fraction,
                           memory_lr_scale=args.memory_lr_scale,
                           stream_items=args.stream_items, stream_rows=args.stream_rows)

    def checkpoint(m, step: int) -> None:
        save_checkpoint(out, m, model_name=MODEL, config=m.config.to_dict(), training_command=command,
                        data_seed=args.seed, metrics={"steps": step})

    state = run.path(state_path(out).name)
    stats = run_training(model, args.data / "train", options, checkpoint, device=run.device, amp=args.amp,
                         state_file=state, resume_state=args.resume if exact else None)
    if run.is_main:
        print(f"trained {stats['steps']} steps, loss {stats['loss']:.2f}")
    run.record(state)
    run.record(out)
    run.record(out.with_suffix(".json"))
    return run.finish()


def _init_from(model, path: Path) -> None:
    """Load a trained conformer into ``model``; NTM tensors it lacks start as a pass-through memory."""
    from streammem.checkpoints import load_weights
    from streammem.errors import InputError

    if not path.exists():
        raise InputError(path, "weights to start from not found")
    meta = load_weights(model, path, expect_model=MODEL, new_prefixes=("memory.", "memory_out.", "gated."))
    if model.memory_out is not None and not meta["config"]["use_memory"]:
        model.pass_encoder_through_memory()


# ---------------------------------------------------------------------------------------------- decoding helpers
def _stream_source(model, source, on_partial=None, show_progress: bool = True) -> tuple[str, list, dict]:
    """Run the streaming step over an audio source; returns (text, words, stats). A progress bar with ETA
    (chunks of a file) goes to stderr unless partial transcripts are printed instead."""
    import time

    from streammem.models.conformer_ntm.decoding import StreamingTranscriber
    from streammem.progress import progress

    transcriber = StreamingTranscriber(model)
    started, audio_seconds, shown = time.perf_counter(), 0.0, ""
    chunks = progress(source, total=getattr(source, "total", None), desc="asr", unit="chunk",
                      enabled=show_progress and on_partial is None)
    for _, chunk in chunks:
        text = transcriber.push(chunk)
        audio_seconds += len(chunk) / 16000
        if on_partial is not None and text != shown:
            on_partial(text, audio_seconds)
            shown = text
    words = transcriber.finish()
    elapsed = time.perf_counter() - started
    stats = {"audio_seconds": audio_seconds, "compute_seconds": elapsed,
             "rtf": elapsed / audio_seconds if audio_seconds else 0.0,
             "dropped_blocks": int(getattr(source, "dropped", 0))}
    return transcriber.text, words, stats


def _transcript(text: str, words: list, stats: dict, source: str) -> dict:
    """The transcript, word timestamps (s) and timing stats, as written to ``transcript.json``."""
    return {"source": source, "text": text,
            "words": [{"word": w.text, "start": round(w.start, 2), "end": round(w.end, 2)} for w in words], **stats}


# ---------------------------------------------------------------------------------------------- transcribe / run
def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="audio file: wav, flac, ogg, mp3 ...; any rate, any channel count")
    add_common_arguments(parser, "run", out_help="output folder for transcript.json (default runs/asr/run/<file>/), "
                         "or the JSON file itself")
    _add_inference_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Stream a file through the model (resampled to 16 kHz mono), print the transcript, write it with word times."""
    from streammem.streams.sources import open_source

    job, model, precision = _start_inference(args, "run", str(args.file), [args.file])
    source = open_source(str(args.file), kind="audio", chunk_seconds=model.chunk_samples / 16000)
    with precision:
        text, words, stats = _stream_source(model, source)
    print(text)
    job.write_main_json("transcript.json",
                   _transcript(text, words, stats, str(args.file)))
    return job.finish()


add_transcribe_arguments = add_run_arguments
transcribe = run


# ---------------------------------------------------------------------------------------------- demo
def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default=str(SAMPLE_AUDIO),
                        help="audio file, or 'mic' / 'mic:<device>' for a microphone (default: bundled recording)")
    parser.add_argument("--seconds", type=positive_float, default=None, help="stop a microphone after this long")
    add_common_arguments(parser, "demo", out_help="output folder for transcript.json (default runs/asr/demo/<source>/), "
                         "or the JSON file itself")
    _add_inference_arguments(parser)


def demo(args: argparse.Namespace) -> int:
    """Transcribe while streaming: partial transcripts as chunks arrive, then the final one with times."""
    from streammem.streams.sources import open_source

    is_file = not str(args.source).startswith("mic")
    job, model, precision = _start_inference(args, "demo", str(args.source), [args.source] if is_file else [])
    options = {"chunk_seconds": model.chunk_samples / 16000}
    if str(args.source).startswith("mic"):
        options["duration"] = args.seconds
    source = open_source(str(args.source), kind="audio", **options)

    def partial(text: str, at: float) -> None:
        tail = text[-100:]
        print(f"[{at:7.2f} s] {tail}", flush=True)

    with precision:
        text, words, stats = _stream_source(model, source, partial)
    print(f"\nfinal ({stats['audio_seconds']:.1f} s audio, RTF {stats['rtf']:.3f}): {text}")
    job.write_main_json("transcript.json",
                   _transcript(text, words, stats, str(args.source)))
    return job.finish()


# ---------------------------------------------------------------------------------------------- eval
def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="LibriSpeech-layout corpus root")
    parser.add_argument("--split", default="test", help="short utterances (bucket 'short')")
    parser.add_argument("--long-split", default="test-long", help="chapters joined into long-form buckets ('' = none)")
    parser.add_argument("--buckets", default="1min=60,2min=120,5min=300", help="label=seconds,... long-form lengths")
    parser.add_argument("--mode", default="streaming", choices=("streaming", "full"),
                        help="streaming: the chunked step loop (CTC greedy); full: full-context encoder")
    parser.add_argument("--decode", default="greedy", choices=("greedy", "joint"),
                        help="full mode only: CTC greedy, or joint CTC/attention (beam + attention scoring)")
    parser.add_argument("--beam", type=positive_int, default=10)
    parser.add_argument("--limit", type=positive_int, default=None, help="score only the first N short utterances")
    add_common_arguments(parser, "eval", out_help="output folder for metrics.json (WER, CER, per bucket, hypotheses; "
                         "default runs/asr/eval/<corpus>_<split>/), or the JSON file itself")
    _add_inference_arguments(parser)


def _recognize(model, audio, mode: str, decode: str, beam: int) -> str:
    """One recording's transcript in the chosen mode."""
    import numpy as np

    from streammem.models.conformer_ntm.decoding import StreamingTranscriber, transcribe_offline

    if mode == "streaming":
        transcriber = StreamingTranscriber(model)
        transcriber.push(np.asarray(audio, np.float32))
        transcriber.finish()
        return transcriber.text
    return transcribe_offline(model, audio, streaming=False, joint=decode == "joint", beam=beam)[0]


def evaluate(model, data: Path, split: str, long_split: str, buckets: dict[str, float], mode: str,
             decode: str = "greedy", beam: int = 10, limit: int | None = None, cache: StreamResults | None = None) -> dict:
    """WER/CER on short utterances (top-level keys) and per length bucket (``buckets``).

    ``cache``: per-recording results of an earlier run to reuse, and where each finished recording is stored."""
    import numpy as np

    from streammem import distributed
    from streammem.data.librispeech import load_audio, long_form_sets, read_split
    from streammem.evaluation.functional.speech import error_rates, error_rates_by_bucket
    from streammem.progress import progress

    short = read_split(data / split)[:limit]
    items = [(u.id, "short", u.text, [u]) for u in short]
    if long_split:
        items += [(lf.id, lf.bucket, lf.text, list(lf.utterances))
                  for lf in long_form_sets(read_split(data / long_split), buckets)]
    mine = distributed.shard(items)  # under torchrun: whole recordings per rank, gathered in order

    def recognize(item):
        item_id, bucket, text, utts = item
        audio = np.concatenate([load_audio(u.path) for u in utts])
        return [item_id, bucket, text, _recognize(model, audio, mode, decode, beam), len(audio) / 16000]

    bar = lambda todo, n: progress(todo, total=n, desc=f"eval asr ({mode})", unit="rec")  # noqa: E731
    done = (cache.map(mine, key=lambda item: item[0], compute=recognize, progress=bar) if cache is not None
            else [recognize(item) for item in bar(mine, len(mine))])
    refs, hyps, bucket_of, seconds = {}, {}, {}, {}
    for item_id, bucket, text, hyp, secs in distributed.gather(done):
        refs[item_id], bucket_of[item_id], hyps[item_id] = text, bucket, hyp
        seconds[bucket] = seconds.get(bucket, 0.0) + secs
    short_ids = {u.id for u in short}
    top = error_rates({k: v for k, v in refs.items() if k in short_ids}, {k: v for k, v in hyps.items() if k in short_ids})
    per_bucket = error_rates_by_bucket(refs, hyps, bucket_of)
    for label, scores in per_bucket.items():
        scores["items"] = sum(1 for b in bucket_of.values() if b == label)
        scores["audio_minutes"] = round(seconds[label] / 60, 2)
    return {"WER": top["WER"], "CER": top["CER"], "mode": mode, "decode": decode, "buckets": per_bucket,
            "hypotheses": hyps}


def eval(args: argparse.Namespace) -> int:  # noqa: A001 - the CLI verb's name
    """Score the model on held-out speech; prints a per-bucket table and writes JSON."""
    from streammem.errors import InputError

    buckets: dict[str, float] = {}
    for part in filter(None, args.buckets.split(",")):
        label, _, secs = part.partition("=")
        try:
            buckets[label] = float(secs)
        except ValueError:
            raise InputError("--buckets", f"expected label=seconds, got {part!r}") from None
        if not buckets[label] > 0:
            raise InputError("--buckets", f"a bucket length must be positive seconds, got {part!r}")
    job, model, precision = _start_inference(args, "eval", f"{args.data.resolve().name}_{args.split}", [args.data])
    weights = resolve_weights(args.weights, MODEL)
    # one JSON per finished recording under <out>/streams/, reused by a rerun with the same weights and options
    cache = StreamResults.open(job, fingerprint(weights, data=str(args.data.resolve()), split=args.split,
                                                long_split=args.long_split, buckets=buckets, mode=args.mode,
                                                decode=args.decode, beam=args.beam, int8=args.int8, amp=args.amp),
                               args.resume)
    with precision:
        result = evaluate(model, args.data, args.split, args.long_split, buckets, args.mode, args.decode, args.beam,
                          args.limit, cache=cache)
    resumed = cache.summary(len(result["hypotheses"]), "recordings")
    result["weights"] = str(weights)
    result["int8"] = args.int8
    result["amp"] = args.amp
    if not job.is_main:
        return job.finish()
    if resumed:
        print(resumed)
    print(f"{'bucket':>8} {'items':>6} {'minutes':>8} {'WER':>7} {'CER':>7}")
    for label, s in result["buckets"].items():
        print(f"{label:>8} {s['items']:>6} {s['audio_minutes']:>8.1f} {s['WER']:>7.2f} {s['CER']:>7.2f}")
    job.write_main_json("metrics.json", result)
    return job.finish()


# ---------------------------------------------------------------------------------------------- export
def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    add_export_options(parser, threads=2)
    parser.add_argument("--check-chunks", type=int_at_least(2), default=8, help="eager-vs-exported parity over this "
                        "many chunks")
    _add_int8_argument(parser)


def export(args: argparse.Namespace) -> int:
    """Export the streaming step (``forward`` = ``step``; TorchScript also carries ``initial_state`` and the output
    vocabulary) and check it against eager over a stream of chunks."""
    import torch

    from streammem.export import export_step

    job, path = start_export(args, task="asr", model=MODEL)
    model = _load_model(args.weights, int8=args.int8)
    gen = torch.Generator().manual_seed(0)
    chunks = [0.1 * torch.randn(1, model.chunk_samples, generator=gen) for _ in range(args.check_chunks)]
    diff = export_step(args.format, model, chunks, model.initial_state(1), path)
    print(f"chunk {model.chunk_samples} samples = {model.chunk_samples / 16000:.2f} s; max |eager - exported| over "
          f"{args.check_chunks} chunks: {diff:.2e}")
    return finish_export(job, path, args, diff, parity_chunks=args.check_chunks, int8=args.int8)


# ---------------------------------------------------------------------------------------------- bench
def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    from streammem.bench import add_arguments

    add_arguments(parser)


def bench(args: argparse.Namespace) -> int:
    """The shared benchmark harness (streammem.bench) on this task: streaming step at stream positions,
    full-context recompute, equal-size peers, FLOPs against the machine's matmul rate -> bench.json."""
    from streammem.bench import bench_task

    return bench_task("asr", args)
