"""Training of the AMT SimulST model on a MuST-C-layout corpus: ASR pre-training (CTC), then ST (wait-k).

As in the recipe of Ma et al. (2021): stage ``asr`` trains the encoder with CTC on the English transcripts;
stage ``st`` starts from that encoder and trains the whole model on the translations with the wait-k
cross-attention mask (``train_wait_k`` lists the lags, one drawn per batch, so one model serves every k).
Every example is a segment preceded by the audio since the previous segment of its talk began (the
context the streaming translator hears before it, see :meth:`AMTSimulST.start_segment`), trimmed to whole
chunks so the segment starts at a window boundary, exactly as in streaming.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from streammem.data.mustc import MustcSegment, read_split, segment_audio
from streammem.errors import StreamMemError
from streammem.models.amt_simulst.model import AMTSimulST

__all__ = ["TrainOptions", "Example", "load_examples", "fit_cmvn", "train", "stream_audio"]


@dataclass
class TrainOptions:
    """Optimisation knobs (the recipe: Adam (0.9, 0.98), lr 7e-4 / 3.5e-4, inverse-sqrt warmup, clip 10;
    scaled down for minutes of CPU)."""

    stage: str = "st"  # "asr" (CTC pre-training of the encoder) or "st"
    minutes: float = 5.0
    max_steps: int = 100000
    batch_size: int = 12
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 1e-4
    clip: float = 10.0
    checkpoint_every: int = 100
    log_every: int = 10
    max_context_seconds: float = 2.0
    seed: int = 0


@dataclass
class Example:
    """A segment with its preceding talk context: un-normalised fbank (T, F), context frames, texts."""

    id: str
    feats: Tensor
    context_frames: int
    source: str
    target: str


def stream_audio(segment: MustcSegment, previous: MustcSegment | None, chunk_samples: int,
                 max_context_seconds: float) -> tuple[Tensor, int]:
    """(audio, context samples): the talk from the previous segment's start (at most ``max_context_seconds``,
    trimmed from the front to whole chunks) to the segment's end, padded to whole 40 ms states."""
    audio = torch.from_numpy(segment_audio(segment)).float()
    context = torch.zeros(0)
    if previous is not None:
        talk = torch.from_numpy(segment_audio(segment, start=previous.offset)).float()
        context = talk[: talk.shape[0] - audio.shape[0]]
    keep = min(context.shape[0], int(max_context_seconds * 16000)) // chunk_samples * chunk_samples
    context = context[context.shape[0] - keep:]
    audio = F.pad(audio, (0, (-audio.shape[0]) % 640))
    return torch.cat([context, audio]), keep


def load_examples(model: AMTSimulST, root: str | Path, split: str, max_context_seconds: float) -> list[Example]:
    """Every segment of ``split`` as an :class:`Example` (fbank computed once, CMVN applied later)."""
    segments = read_split(root, split)
    examples = []
    with torch.no_grad():
        for i, seg in enumerate(segments):
            previous = segments[i - 1] if i > 0 and segments[i - 1].talk == seg.talk else None
            audio, context = stream_audio(seg, previous, model.chunk_samples, max_context_seconds)
            feats = model.frontend.logmel(F.pad(audio, (model.frontend.tail, 0)).unsqueeze(0))[0]
            examples.append(Example(seg.id, feats, context // 160, seg.source, seg.target))
    return examples


def fit_cmvn(model: AMTSimulST, examples: list[Example]) -> None:
    """Global CMVN from the training segments' frames (not their contexts), stored in the model's buffers."""
    stacked = torch.cat([e.feats[e.context_frames:] for e in examples])
    model.frontend.set_cmvn(stacked.mean(0), stacked.std(0))


def _batch(model: AMTSimulST, examples: list[Example], cmvn: tuple[Tensor, Tensor] | None = None
           ) -> tuple[Tensor, Tensor, int]:
    """Contexts left-padded (as invalid frames) to one length, segments right-padded: feats (B, T, F),
    frame_valid (B, T), the common segment start. ``cmvn``: the model's (mean, istd) already on the host (a
    training loop copies them once instead of every batch)."""
    # features are built on the CPU
    mean, istd = cmvn if cmvn is not None else (model.frontend.mean.cpu(), model.frontend.istd.cpu())
    start = max(e.context_frames for e in examples)
    longest = max(e.feats.shape[0] - e.context_frames for e in examples)
    feats = torch.zeros(len(examples), start + longest, examples[0].feats.shape[1])
    valid = torch.zeros(len(examples), start + longest, dtype=torch.bool)
    for row, e in enumerate(examples):
        begin = start - e.context_frames
        feats[row, begin: begin + e.feats.shape[0]] = (e.feats - mean) * istd
        valid[row, begin: begin + e.feats.shape[0]] = True
    return feats, valid, start


def _padded(ids: list[list[int]], value: int = 0) -> Tensor:
    out = torch.full((len(ids), max(len(i) for i in ids)), value, dtype=torch.int64)
    for row, i in enumerate(ids):
        out[row, : len(i)] = torch.tensor(i, dtype=torch.int64)
    return out


def batch_loss(model: AMTSimulST, examples: list[Example], stage: str, k: int, device: torch.device,
               cmvn: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """CTC loss on the English transcripts (``asr``), or wait-k cross-entropy on the translations (``st``)
    mixed with that CTC loss by the config's ``ctc_weight`` (losses in float32 under mixed precision)."""
    feats, valid, start = _batch(model, examples, cmvn)
    states, state_valid = model.encode_segment(feats.to(device), valid.to(device), start)
    ctc = torch.zeros((), device=device)
    ctc_weight = 1.0 if stage == "asr" else model.config.ctc_weight
    if ctc_weight > 0:
        targets = [model.source_tokenizer.encode(e.source) for e in examples]
        log_probs = model.ctc(states).float().log_softmax(-1).transpose(0, 1)
        ctc = F.ctc_loss(log_probs, _padded(targets).to(device), state_valid.sum(1),
                         torch.tensor([len(t) for t in targets], device=device), zero_infinity=True)
    if stage == "asr":
        return ctc
    pieces = [model.tokenizer.encode(e.target)[: model.max_tokens - 1] for e in examples]
    inputs = _padded([[model.sos_eos] + p for p in pieces]).to(device)
    outputs = _padded([p + [model.sos_eos] for p in pieces]).to(device)
    logits = model.translation_logits(states, state_valid, inputs, k).float()
    translation = F.cross_entropy(logits.flatten(0, 1), outputs.flatten(), ignore_index=0,
                                  label_smoothing=model.config.label_smoothing)
    return (1 - ctc_weight) * translation + ctc_weight * ctc


def train(model: AMTSimulST, root: str | Path, options: TrainOptions, device: torch.device | str = "cpu",
          checkpoint: Callable[[AMTSimulST, int], None] | None = None, log: Callable[[str], None] = print,
          amp: str | None = None, state_file: str | os.PathLike | None = None,
          resume_state: str | os.PathLike | None = None) -> dict[str, float]:
    """Train ``model`` in place on ``root``'s ``train`` split for ``options.minutes`` or ``max_steps``.

    The ``asr`` stage fits the target SentencePiece model and the global CMVN first (both stored in the
    model); the ``st`` stage expects a model loaded from the ``asr`` stage and keeps both. ``checkpoint(model,
    step)`` is called (rank 0) every ``checkpoint_every`` steps and at the end, and the training state goes to
    ``state_file`` then; ``resume_state`` continues from such a state exactly where it stopped. Under torchrun
    every process builds batches of ``batch_size`` x processes segments and keeps its rows of each (see
    :mod:`streammem.training`); the wall-clock budget is process 0's. Returns the final running loss.
    """
    from streammem.training import Trainer

    if options.stage not in ("asr", "st"):
        raise ValueError(f"unknown stage {options.stage!r} (expected 'asr' or 'st')")
    device = torch.device(device)
    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    examples = load_examples(model, root, "train", options.max_context_seconds)
    if options.stage == "asr":
        try:
            model.fit_tokenizer([e.target for e in examples])
        except ValueError as err:  # e.g. more pieces than the translations allow: one line, not a traceback
            raise StreamMemError(f"target vocabulary: {err} (lower target_pieces)") from None
        fit_cmvn(model, examples)
    elif not model.tokenizer.fitted:
        raise ValueError("stage 'st' starts from an 'asr' checkpoint (its vocabulary and CMVN)")
    model.to(device).train()
    cmvn = (model.frontend.mean.cpu(), model.frontend.istd.cpu())  # batches are built on the host
    lags = list(model.config.train_wait_k) or [model.config.wait_k]
    opt = torch.optim.Adam(model.parameters(), lr=options.lr, betas=(0.9, 0.98), weight_decay=options.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / options.warmup, math.sqrt(options.warmup / (s + 1))))
    trainer = Trainer(model, opt, sched, device=device, amp=amp, grad_clip=options.clip)
    log = log if trainer.is_main else (lambda _: None)  # rank 0 alone logs
    deadline = time.monotonic() + options.minutes * 60
    step, running, began = 0, 0.0, time.monotonic()
    order = sorted(range(len(examples)), key=lambda i: examples[i].feats.shape[0])
    skip, epoch_rng = 0, rng.getstate()
    step, extra = trainer.resume(resume_state, asdict(options) | {"minutes": None})
    if resume_state is not None:  # the epoch is shuffled again from its starting random state, done batches skipped
        epoch_rng, skip, running = _rng_state(extra["epoch_rng"]), int(extra["epoch_done"]), float(extra["running"])
        log(f"resumed at step {step} from {resume_state}")

    def state(done: int) -> dict:
        return {"settings": asdict(options) | {"minutes": None}, "epoch_rng": epoch_rng, "epoch_done": done,
                "rng": rng.getstate(), "running": running}

    def stop() -> bool:  # every process stops at the same step (process 0's clock)
        return step >= options.max_steps or trainer.agree(time.monotonic() >= deadline)

    size = trainer.global_batch(options.batch_size)
    while not stop():
        rng.setstate(epoch_rng)
        batches = [order[i:i + size] for i in range(0, len(order), size)]
        rng.shuffle(batches)
        if skip:
            rng.setstate(_rng_state(extra["rng"]))
        done = skip
        for batch in batches[skip:]:
            if stop():
                break
            mine = [examples[i] for i in trainer.shard(batch)]
            k = rng.choice(lags)
            with trainer.autocast():
                loss = trainer.call(batch_loss, mine, options.stage, k, device, cmvn)
            trainer.step(loss)
            step += 1
            done += 1
            value = loss.detach()
            running = 0.9 * running + 0.1 * value if step > 1 else value
            if step % options.log_every == 0:
                log(f"{options.stage} step {step} loss {trainer.all_mean(float(running)):.3f} lr "
                    f"{sched.get_last_lr()[0]:.2e} {time.monotonic() - began:.0f}s")
            if step % options.checkpoint_every == 0:
                if checkpoint is not None and trainer.is_main:
                    checkpoint(model, step)
                if state_file is not None:
                    trainer.save_state(state_file, step, state(done))
        else:  # the epoch ran out: the next one is shuffled from the random state reached here
            skip, epoch_rng = 0, rng.getstate()
            continue
        if state_file is not None:
            trainer.save_state(state_file, step, state(done))
        break
    model.eval()
    if checkpoint is not None and trainer.is_main:
        checkpoint(model, step)
    return {"loss": float(running), "steps": step}


def _rng_state(stored) -> tuple:
    """A ``random.Random`` state back from JSON (lists) to the nested tuple ``setstate`` takes."""
    version, internal, gauss = stored
    return int(version), tuple(int(x) for x in internal), gauss
