"""Task ``asr``: streaming long-form speech recognition with Conformer-NTM.

Verbs: ``demo`` (stream a bundled long recording or the microphone, partial and final transcripts),
``run``/``transcribe`` (any audio file), ``eval`` (WER/CER per length bucket), ``train``, ``export``
(TorchScript streaming step), ``bench`` (real-time factor and per-chunk latency).
Heavy imports stay inside the functions so ``streammem --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from streammem.tasks import training_command

__all__ = [
    "add_train_arguments", "train",
    "add_eval_arguments", "eval",
    "add_run_arguments", "run",
    "add_transcribe_arguments", "transcribe",
    "add_demo_arguments", "demo",
    "add_export_arguments", "export",
    "add_bench_arguments", "bench",
]

MODEL = "conformer_ntm"
DEFAULT_DATA = Path("runs/synth_speech")
SAMPLE_AUDIO = Path(__file__).resolve().parent.parent / "samples" / "asr_long.flac"


def _weights(config: str = "tiny") -> Path:
    from streammem.models import weights_path

    return weights_path(MODEL, config)


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _load_model(weights: str | Path | None, streaming_ok: bool = True, int8: bool = False):
    """The shipped (or given) checkpoint, built from the config stored beside it, in eval mode.

    ``int8``: Linear weights of the streaming path dynamically quantized (``conformer_ntm.quantize``).
    """
    from streammem.checkpoints import load_metadata, load_weights, stored_config_errors
    from streammem.errors import InputError
    from streammem.models import build_model

    path = Path(weights) if weights else _weights()
    if not path.exists():
        raise InputError(path, "weights not found (train them with `streammem train asr`)")
    meta = load_metadata(path)
    with stored_config_errors(path):
        model = build_model(MODEL, meta["config"])
    load_weights(model, path, expect_model=MODEL)
    if int8:
        from streammem.models.conformer_ntm.quantize import quantize_int8

        return quantize_int8(model)
    return model.eval()


def _add_int8_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--int8", action="store_true",
                        help="int8 dynamic quantization of the streaming path's Linear layers (faster on CPU; "
                             "accuracy in docs/asr.md)")


# ---------------------------------------------------------------------------------------------- train
def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="LibriSpeech-layout corpus root with a train/ split (generated when missing)")
    parser.add_argument("--config", default="tiny", choices=("tiny", "paper"))
    parser.add_argument("--no-memory", action="store_true", help="ablation: the same conformer without the NTM")
    parser.add_argument("--addressing", default="content", choices=("content", "full"))
    parser.add_argument("--memory-init", default="constant", choices=("constant", "random"),
                        help="NTM initial memory; 'random' breaks content addressing's row symmetry")
    parser.add_argument("--tokens", default="char", choices=("char", "bpe"),
                        help="output units: characters, or SentencePiece BPE fitted on the training transcripts")
    parser.add_argument("--bpe-pieces", type=int, default=256, help="BPE vocabulary size with --tokens bpe (paper: 5000)")
    parser.add_argument("--minutes", type=float, default=12.0, help="wall-clock training budget")
    parser.add_argument("--max-steps", type=int, default=100000)
    parser.add_argument("--batch-frames", type=int, default=5000, help="padded 10 ms feature frames per batch")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--freq-mask", type=int, default=27, help="SpecAugment frequency-mask width (2 masks)")
    parser.add_argument("--join-fraction", type=float, default=0.0,
                        help="share of training items made of two utterances joined (teaches sentence starts "
                             "mid-stream, as in long-form audio)")
    parser.add_argument("--join-max", type=int, default=2, help="a joined training item holds 2 .. N utterances")
    parser.add_argument("--join-consecutive", action="store_true",
                        help="join the utterances that follow in the same chapter instead of random ones "
                             "(chapter-level context, e.g. the spelling-convention corpus)")
    parser.add_argument("--stream-items", type=int, default=0,
                        help="> 0: train on long streams: each batch row's NTM state carries (detached) to its next "
                             "item, reset every N items, so the memory learns the contents minutes of audio leave")
    parser.add_argument("--stream-rows", type=int, default=4, help="parallel streams per batch with --stream-items")
    parser.add_argument("--memory-lr-scale", type=float, default=1.0,
                        help="learning-rate factor for the NTM and its output layer (e.g. 10 to learn a memory "
                             "inserted into a trained conformer faster)")
    parser.add_argument("--ctc-weight", type=float, default=None,
                        help="set the model's CTC loss weight (stored with the weights; the paper: 0.3; 1.0 trains "
                             "CTC alone, and joint decoding then uses CTC alone)")
    parser.add_argument("--streaming-fraction", type=float, default=0.5,
                        help="share of batches trained with the streaming chunk mask (the rest full context)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="weights path (default runs/asr/conformer_ntm_<config>[_nomem].safetensors)")
    parser.add_argument("--resume", type=Path, default=None,
                        help="continue from these weights (their stored config wins over --config/--no-memory)")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="start from a trained conformer's weights (e.g. a --no-memory run of the same config); "
                             "an NTM it lacks is inserted as a pass-through and learned from there")


def train(args: argparse.Namespace) -> int:
    """Train on ``<data>/train`` with periodic checkpoints to ``--out``; writes the corpus first if missing."""
    _set_threads(args.threads)
    from streammem.checkpoints import save_checkpoint
    from streammem.data.synthetic_speech import write_corpus
    from streammem.models import build_model
    from streammem.models.conformer_ntm.training import TrainOptions
    from streammem.models.conformer_ntm.training import train as run_training

    if not (args.data / "train").is_dir():
        print(f"{args.data}/train not found: writing the synthetic corpus there (seed {args.seed})")
        write_corpus(args.data, seed=args.seed)
    if args.resume:
        model = _load_model(args.resume).train()
    else:
        model = build_model(MODEL, args.config, use_memory=not args.no_memory, memory_addressing=args.addressing,
                            memory_init=args.memory_init, tokens=args.tokens,
                            bpe_pieces=args.bpe_pieces if args.tokens == "bpe" else 0)
    if args.init_from:
        _init_from(model, args.init_from)
    if args.ctc_weight is not None:
        model.config.ctc_weight = args.ctc_weight
    out = args.out or Path("runs/asr") / f"{MODEL}_{args.config}{'_nomem' if args.no_memory else ''}.safetensors"
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

    stats = run_training(model, args.data / "train", options, checkpoint)
    print(f"trained {stats['steps']} steps, loss {stats['loss']:.2f}; weights: {out}")
    return 0


def _init_from(model, path: Path) -> None:
    """Load a trained conformer into ``model``; NTM tensors it lacks start as a pass-through memory."""
    from streammem.checkpoints import load_weights
    from streammem.errors import InputError

    if not path.exists():
        raise InputError(path, "weights to start from not found")
    meta = load_weights(model, path, expect_model=MODEL, new_prefixes=("memory.", "memory_out."))
    if model.memory_out is not None and not meta["config"]["use_memory"]:
        model.pass_encoder_through_memory()


# ---------------------------------------------------------------------------------------------- decoding helpers
def _stream_source(model, source, on_partial=None) -> tuple[str, list, dict]:
    """Run the streaming step over an audio source; returns (text, words, stats)."""
    import time

    from streammem.models.conformer_ntm.decoding import StreamingTranscriber

    transcriber = StreamingTranscriber(model)
    started, audio_seconds, shown = time.perf_counter(), 0.0, ""
    for _, chunk in source:
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


def _write_transcript(path: Path, text: str, words: list, stats: dict, source: str) -> None:
    """JSON with the transcript, word timestamps (s) and timing stats, written atomically."""
    from streammem.errors import atomic_output

    payload = {"source": source, "text": text,
               "words": [{"word": w.text, "start": round(w.start, 2), "end": round(w.end, 2)} for w in words],
               **stats}
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------- transcribe / run
def add_transcribe_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="audio file: wav, flac, ogg, mp3 ...; any rate, any channel count")
    parser.add_argument("--weights", type=Path, default=None, help="default: the shipped tiny weights")
    parser.add_argument("--out", type=Path, default=None, help="write transcript + word timestamps (JSON)")
    parser.add_argument("--threads", type=int, default=2)
    _add_int8_argument(parser)


def transcribe(args: argparse.Namespace) -> int:
    """Stream a file through the model (resampled to 16 kHz mono) and print the transcript."""
    _set_threads(args.threads)
    from streammem.streams.sources import open_source

    model = _load_model(args.weights, int8=args.int8)
    source = open_source(str(args.file), kind="audio", chunk_seconds=model.chunk_samples / 16000)
    text, words, stats = _stream_source(model, source)
    print(text)
    if args.out:
        _write_transcript(args.out, text, words, stats, str(args.file))
    return 0


add_run_arguments = add_transcribe_arguments
run = transcribe


# ---------------------------------------------------------------------------------------------- demo
def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default=str(SAMPLE_AUDIO),
                        help="audio file, or 'mic' / 'mic:<device>' for a microphone (default: bundled recording)")
    parser.add_argument("--seconds", type=float, default=None, help="stop a microphone after this long")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("outputs/asr_demo.json"),
                        help="final transcript with word timestamps")
    parser.add_argument("--threads", type=int, default=2)
    _add_int8_argument(parser)


def demo(args: argparse.Namespace) -> int:
    """Transcribe while streaming: partial transcripts as chunks arrive, then the final one with times."""
    _set_threads(args.threads)
    from streammem.streams.sources import open_source

    model = _load_model(args.weights, int8=args.int8)
    options = {"chunk_seconds": model.chunk_samples / 16000}
    if str(args.source).startswith("mic"):
        options["duration"] = args.seconds
    source = open_source(str(args.source), kind="audio", **options)

    def partial(text: str, at: float) -> None:
        tail = text[-100:]
        print(f"[{at:7.2f} s] {tail}", flush=True)

    text, words, stats = _stream_source(model, source, partial)
    _write_transcript(args.out, text, words, stats, str(args.source))
    print(f"\nfinal ({stats['audio_seconds']:.1f} s audio, RTF {stats['rtf']:.3f}): {text}")
    print(f"transcript with word timestamps: {args.out}")
    return 0


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
    parser.add_argument("--beam", type=int, default=10)
    parser.add_argument("--limit", type=int, default=None, help="score only the first N short utterances")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="JSON results (WER, CER, per-bucket)")
    _add_int8_argument(parser)


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
             decode: str = "greedy", beam: int = 10, limit: int | None = None) -> dict:
    """WER/CER on short utterances (top-level keys) and per length bucket (``buckets``)."""
    import numpy as np
    from tqdm import tqdm

    from streammem.data.librispeech import load_audio, long_form_sets, read_split
    from streammem.evaluation.functional.speech import error_rates, error_rates_by_bucket

    short = read_split(data / split)[:limit]
    items = [(u.id, "short", u.text, [u]) for u in short]
    if long_split:
        items += [(lf.id, lf.bucket, lf.text, list(lf.utterances))
                  for lf in long_form_sets(read_split(data / long_split), buckets)]
    refs, hyps, bucket_of, seconds = {}, {}, {}, {}
    for item_id, bucket, text, utts in tqdm(items, desc=f"eval asr ({mode})", unit="rec"):
        audio = np.concatenate([load_audio(u.path) for u in utts])
        refs[item_id], bucket_of[item_id] = text, bucket
        hyps[item_id] = _recognize(model, audio, mode, decode, beam)
        seconds[bucket] = seconds.get(bucket, 0.0) + len(audio) / 16000
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
    from streammem.evaluation.score import write_result_json
    _set_threads(args.threads)
    from streammem.errors import InputError

    buckets: dict[str, float] = {}
    for part in filter(None, args.buckets.split(",")):
        label, _, secs = part.partition("=")
        try:
            buckets[label] = float(secs)
        except ValueError:
            raise InputError("--buckets", f"expected label=seconds, got {part!r}") from None
    model = _load_model(args.weights, int8=args.int8)
    result = evaluate(model, args.data, args.split, args.long_split, buckets, args.mode, args.decode, args.beam,
                      args.limit)
    result["weights"] = str(args.weights or _weights())
    result["int8"] = args.int8
    print(f"{'bucket':>8} {'items':>6} {'minutes':>8} {'WER':>7} {'CER':>7}")
    for label, s in result["buckets"].items():
        print(f"{label:>8} {s['items']:>6} {s['audio_minutes']:>8.1f} {s['WER']:>7.2f} {s['CER']:>7.2f}")
    if args.out:
        write_result_json(args.out, result)
    return 0


# ---------------------------------------------------------------------------------------------- export
def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="TorchScript file (.pt)")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--check-chunks", type=int, default=8, help="eager-vs-scripted parity over this many chunks")
    _add_int8_argument(parser)


def export(args: argparse.Namespace) -> int:
    """Script the streaming step (``forward`` = ``step``, plus ``initial_state``) and check parity."""
    import torch

    from streammem.export import export_torchscript, stream_parity

    model = _load_model(args.weights, int8=args.int8)
    path = export_torchscript(model, args.out)
    scripted = torch.jit.load(str(path))
    gen = torch.Generator().manual_seed(0)
    chunks = [0.1 * torch.randn(1, model.chunk_samples, generator=gen) for _ in range(args.check_chunks)]
    diff = stream_parity(model, scripted, chunks, model.initial_state(1))
    print(f"exported {path} (chunk {model.chunk_samples} samples = {model.chunk_samples / 16000:.2f} s); "
          f"max |eager - scripted| over {args.check_chunks} chunks: {diff:.2e}")
    return 0


# ---------------------------------------------------------------------------------------------- bench
def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--configs", default="tiny,paper")
    parser.add_argument("--chunks", type=int, default=300,
                        help="stream length in 640 ms chunks (latency and RSS at chunk 100 vs the end; 2813 = 30 min)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="JSON results")


def _timed(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs (after one warm-up)."""
    import statistics
    import time

    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _stream_latencies(step, state, audio: list, chunks: int, rss: dict[str, float], label: str) -> list[float]:
    """Seconds per call of ``step(chunk, state)`` over ``chunks`` chunks cycling through ``audio``; the resident
    memory after chunk 100 and after the last one goes into ``rss`` as ``rss_mb_<label>_chunk<n>``."""
    import time

    from streammem.resources import current_rss_mb

    latencies = []
    for i in range(chunks):
        start = time.perf_counter()
        _, state = step(audio[i % len(audio)], state)
        latencies.append(time.perf_counter() - start)
        if i + 1 in (100, chunks):
            rss[f"rss_mb_{label}_chunk{i + 1}"] = current_rss_mb()
    return latencies


def benchmark(config: str, chunks: int) -> dict:
    """Speed of one config (random weights): streaming step latency/RTF and resident memory (eager, TorchScript,
    int8 TorchScript), NTM cost per frame, and the same-size torchaudio Conformer (full context) and Emformer
    (streaming) in the same run."""
    import time

    import torch
    import torchaudio

    from streammem.errors import StreamMemError
    from streammem.models import build_model
    from streammem.resources import peak_rss_mb

    if chunks < 110:
        raise StreamMemError(f"bench asr --chunks {chunks}: need at least 110 chunks (latency at chunk 100 vs the end)")
    model = build_model(MODEL, config).eval()
    cfg = model.config
    chunk_s = model.chunk_samples / 16000
    gen = torch.Generator().manual_seed(0)
    audio = [0.1 * torch.randn(1, model.chunk_samples, generator=gen) for _ in range(8)]
    rss: dict[str, float] = {}  # resident memory (MiB) after chunk 100 and after the last chunk of each stream
    with torch.no_grad():
        latencies = _stream_latencies(model, model.initial_state(1), audio, chunks, rss, "eager")
        early = sorted(latencies[90:110])[10]
        late = sorted(latencies[-20:])[10]
        # The exported model (TorchScript: no Python between ops, the NTM loop included), same stream.
        from streammem.export import script

        scripted = script(model)
        script_latencies = _stream_latencies(scripted, model.initial_state(1), audio, chunks, rss, "torchscript")
        # The same stream through the int8 export (quantize.py): latency, and how far its log-probs move.
        from streammem.models.conformer_ntm.quantize import quantize_int8

        int8 = script(quantize_int8(model))
        int8_latencies = _stream_latencies(int8, model.initial_state(1), audio, chunks, {}, "int8")
        int8_state, fp32_state = model.initial_state(1), model.initial_state(1)
        int8_diff = 0.0
        for i in range(20):
            out8, int8_state = int8(audio[i % len(audio)], int8_state)
            out32, fp32_state = scripted(audio[i % len(audio)], fp32_state)
            int8_diff = max(int8_diff, float((out8 - out32).abs().max()))
        frames = cfg.chunk_frames
        ntm_state = model.memory.init(1, torch.device("cpu"))
        # NTM per 40 ms frame as the streaming step runs it: forward_sequence over one chunk of C frames
        # (input term of all frames in one matmul, then the recurrence); and one frame through ``step``.
        hs = torch.randn(1, frames, cfg.d_model)
        ntm_ms = _timed(lambda: [model.memory.forward_sequence(hs, ntm_state) for _ in range(10)], 5) * 100 / frames
        h = hs[:, 0]
        ntm_step_ms = _timed(lambda: [model.memory.step(h, ntm_state) for _ in range(100)], 5) * 10
        # Full context: our encoder vs torchaudio's Conformer of the same size on 10 s (250 frames).
        feats = torch.randn(1, 1000, cfg.num_mels)
        ours_full = _timed(lambda: model.encode(feats, torch.tensor([1000]), False), 3)
        conformer = torchaudio.models.Conformer(cfg.d_model, cfg.num_heads, cfg.ffn_dim, cfg.num_blocks,
                                                cfg.kernel_size).eval()
        x = torch.randn(1, 250, cfg.d_model)
        ta_full = _timed(lambda: conformer(x, torch.tensor([250])), 3)
        emformer = torchaudio.models.Emformer(cfg.d_model, cfg.num_heads, cfg.ffn_dim, cfg.num_blocks,
                                              segment_length=frames, left_context_length=cfg.left_frames,
                                              right_context_length=0).eval()
        em_state = None
        seg = torch.randn(1, frames, cfg.d_model)
        em_times = []
        for _ in range(30):
            start = time.perf_counter()
            _, _, em_state = emformer.infer(seg, torch.tensor([frames]), em_state)
            em_times.append(time.perf_counter() - start)
        em_chunk = sorted(em_times[5:])[12]
    ours_chunk = sorted(latencies[-50:])[25]
    return {
        "config": config,
        "parameters": sum(p.numel() for p in model.parameters()),
        "chunk_seconds": chunk_s,
        "stream_seconds": chunks * chunk_s,
        "rtf_streaming": sum(latencies) / (chunks * chunk_s),
        "rtf_streaming_torchscript": sum(script_latencies) / (chunks * chunk_s),
        "chunk_latency_ms_torchscript_last": 1000 * sorted(script_latencies[-50:])[25],
        "chunk_latency_ms_step100": 1000 * early,
        "chunk_latency_ms_last": 1000 * late,
        "ntm_ms_per_frame": ntm_ms,
        "ntm_ms_single_frame_step": ntm_step_ms,
        "ntm_share_of_step": ntm_ms * frames / (1000 * ours_chunk),
        "full_context_10s_ms": 1000 * ours_full,
        "torchaudio_conformer_10s_ms": 1000 * ta_full,
        "ratio_full_vs_torchaudio_conformer": ours_full / ta_full,
        "emformer_chunk_ms": 1000 * em_chunk,
        "ratio_step_vs_emformer": ours_chunk / em_chunk,
        "chunk_latency_ms_torchscript_step100": 1000 * sorted(script_latencies[90:110])[10],
        "rtf_streaming_int8_torchscript": sum(int8_latencies) / (chunks * chunk_s),
        "chunk_latency_ms_int8_torchscript_last": 1000 * sorted(int8_latencies[-50:])[25],
        "int8_max_logprob_diff_20_chunks": int8_diff,
        **rss,
        "peak_rss_mb": peak_rss_mb(),
    }


def bench(args: argparse.Namespace) -> int:
    """Print and optionally write the speed table for each config."""
    _set_threads(args.threads)
    from streammem.errors import atomic_output

    results = [benchmark(c.strip(), args.chunks) for c in args.configs.split(",") if c.strip()]
    for r in results:
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}))
    if args.out:
        with atomic_output(args.out) as tmp:
            tmp.write_text(json.dumps({"threads": args.threads, "results": results}, indent=2) + "\n")
    return 0
