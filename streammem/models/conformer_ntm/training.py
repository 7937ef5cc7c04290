"""Training of Conformer-NTM on a LibriSpeech-layout split: hybrid CTC/attention loss, SpecAugment, Adam + warmup.

Half of the batches use the streaming chunk mask and half full context, so one set of weights serves both
modes (dynamic-chunk training as in WeNet U2); the paper trains full-context only.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

from streammem.data.librispeech import Utterance, load_audio, read_split
from streammem.memory.ntm import NTMState
from streammem.models.conformer_ntm.model import ConformerNTM

__all__ = ["TrainOptions", "FeatureSet", "load_features", "train"]


@dataclass
class TrainOptions:
    """Optimisation knobs (the paper: Adam 2e-3, 15k warmup, clip 5; scaled down for minutes of CPU)."""

    minutes: float = 12.0
    max_steps: int = 100000
    batch_frames: int = 9000
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 1e-6
    clip: float = 5.0
    streaming_fraction: float = 0.5
    freq_mask: int = 27
    checkpoint_every: int = 200
    seed: int = 0
    join_fraction: float = 0.0  # share of training items that are several utterances joined (sentence starts mid-stream)
    join_max: int = 2  # a joined item holds 2 .. join_max utterances
    stream_items: int = 0  # > 0: carry the NTM state (detached) across this many consecutive items per row
    stream_rows: int = 4  # rows (parallel streams) per batch when stream_items > 0
    join_consecutive: bool = False  # a joined item takes the next utterances of its own chapter, not random ones
    memory_lr_scale: float = 1.0  # learning-rate factor for the memory and its output layer (memory.*, gated.*, memory_out.*)


@dataclass
class FeatureSet:
    """Utterances as un-normalised log-Mel features (T, F) with token ids, kept in memory."""

    ids: list[str]
    feats: list[Tensor]
    tokens: list[list[int]]


def load_features(model: ConformerNTM, utterances: list[Utterance], desc: str = "features") -> FeatureSet:
    """Decode every utterance's audio once and compute its log-Mel features (CMVN applied later)."""
    from streammem.progress import progress

    feats, tokens = [], []
    with torch.no_grad():
        for u in progress(utterances, total=len(utterances), desc=desc, unit="utt"):
            audio = torch.from_numpy(load_audio(u.path)).unsqueeze(0)
            feats.append(model.frontend.raw(audio)[0])
            tokens.append(model.tokenizer.encode(u.text))
    return FeatureSet([u.id for u in utterances], feats, tokens)


def _items(count: int, join_fraction: float, rng: random.Random, join_max: int = 2,
           chapters: list[str] | None = None) -> list[tuple[int, ...]]:
    """One epoch's training items: single utterances, a ``join_fraction`` of them followed by 1 .. join_max - 1
    other random utterances, so the model also sees sentences that start mid-stream after a pause, as in
    long-form audio (trained on single utterances only, it dropped most sentence-initial words of joined
    recordings), and the memory runs over longer streams. With ``chapters`` (each utterance's chapter, in
    corpus order) the partners are the utterances that follow in the same chapter, so an item is a stretch
    of one recording (what a chapter-level context such as a spelling convention needs)."""
    if join_fraction <= 0:  # no draws: batch order stays that of single-utterance training with the same seed
        return [(i,) for i in range(count)]
    items: list[tuple[int, ...]] = []
    for i in range(count):
        if rng.random() >= join_fraction:
            items.append((i,))
            continue
        extra = rng.randint(1, join_max - 1)
        if chapters is None:
            items.append((i, *(rng.randrange(count) for _ in range(extra))))
        else:
            items.append(tuple(j for j in range(i, min(i + 1 + extra, count)) if chapters[j] == chapters[i]))
    return items


def _batches(lengths: list[int], batch_frames: int, rng: random.Random) -> list[list[int]]:
    """Length-sorted batches of at most ``batch_frames`` padded frames, in random order."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i] + rng.random())
    batches, current = [], []
    for i in order:
        if current and (len(current) + 1) * lengths[i] > batch_frames:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def _stream_order(items: list[tuple[int, ...]], recordings: list[str], rng: random.Random) -> list[int]:
    """One epoch's item order for memory-carrying training: the recordings (chapters) in a new random order
    every epoch, each recording's items in corpus order, so a stream reads stretches of one recording as in
    long-form audio, and no row sees the same items every epoch. ``recordings``: each utterance's chapter."""
    by_recording: dict[str, list[int]] = {}
    for k, item in enumerate(items):
        by_recording.setdefault(recordings[item[0]], []).append(k)
    names = list(by_recording)
    rng.shuffle(names)
    return [k for name in names for k in by_recording[name]]


def _stream_batches(order: list[int], rows: int, stream_items: int, step: int) -> Iterator[tuple[list[int], Tensor]]:
    """Batches for memory-carrying training: ``order`` (see :func:`_stream_order`) is cut into ``rows``
    contiguous pieces and row r reads piece r in order as one long stream whose NTM state carries over; each
    row starts a fresh memory every ``stream_items`` items, rows staggered so the batch always mixes young and
    old memories. Yields (item indices, (rows,) bool: row starts a fresh memory)."""
    length = len(order) // rows
    for k in range(length):
        age = [(step + k + r * stream_items // rows) % stream_items for r in range(rows)]
        yield [order[r * length + k] for r in range(rows)], torch.tensor([a == 0 for a in age])


def spec_augment(freq_mask: int) -> Callable[[Tensor], Tensor]:
    """SpecAugment on (B, T, F) features: 2 frequency masks of width <= ``freq_mask`` and 2 time masks of at
    most 40 frames and 5 % of the length, drawn independently for every utterance (ESPnet's per-utterance masks)."""
    import torchaudio

    freq = torchaudio.transforms.FrequencyMasking(freq_mask, iid_masks=True)
    time = torchaudio.transforms.TimeMasking(40, iid_masks=True, p=0.05)

    def augment(feats: Tensor) -> Tensor:
        spec = feats.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T): iid masks need a channel dim
        return time(time(freq(freq(spec)))).squeeze(1).transpose(1, 2)

    return augment


def _reset_rows(memory: NTMState, fresh_memory: NTMState, fresh: Tensor) -> NTMState:
    """Rows where ``fresh`` is True take ``fresh_memory``'s state, the others keep theirs."""
    return NTMState(*(torch.where(fresh.view(-1, *([1] * (a.dim() - 1))), b, a)
                      for a, b in zip(memory, fresh_memory, strict=True)))


def _param_groups(model: ConformerNTM, lr: float, memory_scale: float) -> list[dict]:
    """One optimizer group for the conformer and decoders, one (``lr * memory_scale``) for the NTM path."""
    memory = [p for n, p in model.named_parameters() if n.startswith(("memory.", "gated.", "memory_out."))]
    ids = {id(p) for p in memory}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return [{"params": rest, "lr": lr}] + ([{"params": memory, "lr": lr * memory_scale}] if memory else [])


def train(
    model: ConformerNTM,
    train_dir: str | Path,
    options: TrainOptions,
    checkpoint: callable | None = None,
    device: torch.device | str = "cpu",
    amp: str | None = None,
    state_file: str | os.PathLike | None = None,
    resume_state: str | os.PathLike | None = None,
) -> dict[str, float]:
    """Train ``model`` in place on ``train_dir`` for ``options.minutes`` of wall time.

    Fits the global CMVN on the training features first (stored in the model's buffers).
    ``checkpoint(model, step)`` is called (rank 0) every ``checkpoint_every`` steps and at the end, and the
    training state goes to ``state_file`` then; ``resume_state`` continues from such a state exactly where it
    stopped (the same epoch plan, batch, optimizer and random states). Under torchrun every process builds the
    epoch's batches for ``batch_frames`` x processes and keeps its rows of each (see :mod:`streammem.training`);
    the wall-clock budget is process 0's. Returns the final running losses.
    """
    from streammem.progress import progress_bar
    from streammem.training import Trainer

    device = torch.device(device)
    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    utterances = read_split(train_dir)
    model.fit_tokenizer([u.text for u in utterances])  # a BPE config's SentencePiece model, fitted once
    data = load_features(model, utterances, desc="train features")
    stacked = torch.cat(data.feats)
    model.frontend.set_cmvn(stacked.mean(0), stacked.std(0))
    del stacked
    normed = [(f - model.frontend.mean) * model.frontend.istd for f in data.feats]
    lengths = [f.shape[0] for f in normed]
    augment = spec_augment(options.freq_mask)
    model.to(device)
    opt = torch.optim.Adam(_param_groups(model, options.lr, options.memory_lr_scale), lr=options.lr, betas=(0.9, 0.98),
                           weight_decay=options.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / options.warmup, math.sqrt(options.warmup / (s + 1)))
    )
    trainer = Trainer(model, opt, sched, device=device, amp=amp, grad_clip=options.clip, zero_grad_to_none=True)
    model.train()
    deadline = time.monotonic() + options.minutes * 60
    step, running = 0, {"loss": 0.0, "ctc": 0.0, "att": 0.0}
    separator = list(model.tokenizer.separator)
    if options.stream_items > 0 and len(normed) < options.stream_rows * trainer.world:
        from streammem.errors import InputError

        raise InputError(train_dir, f"{len(normed)} utterances, fewer than the {options.stream_rows * trainer.world} "
                         "stream rows")
    memory = model.initial_memory(options.stream_rows) if options.stream_items > 0 else None
    recordings = [i.rsplit("-", 1)[0] for i in data.ids]  # speaker-chapter of each utterance
    chapters = recordings if options.join_consecutive else None
    skip, epoch_rng = 0, rng.getstate()
    step, extra = trainer.resume(resume_state, asdict(options) | {"minutes": None})
    if resume_state is not None:  # the epoch is planned again from its starting random state, done batches skipped
        epoch_rng, skip = _rng_state(extra["epoch_rng"]), int(extra["epoch_done"])
        running = {k: float(v) for k, v in extra["running"].items()}
        if memory is not None:
            memory = NTMState(*(t.to(device) for t in extra["memory"]))
    bar = progress_bar(options.max_steps if options.max_steps < 100000 else None, desc="train asr", unit="step",
                       initial=step, enabled=trainer.is_main)

    def state(done: int, now_rng: tuple) -> dict:
        return {"settings": asdict(options) | {"minutes": None}, "epoch_rng": epoch_rng, "epoch_done": done,
                "rng": now_rng, "running": running, "memory": list(memory) if memory is not None else None}

    def stop() -> bool:  # every process stops at the same step (process 0's clock)
        return step >= options.max_steps or trainer.agree(time.monotonic() >= deadline)

    while not stop():
        rng.setstate(epoch_rng)
        items = _items(len(normed), options.join_fraction, rng, options.join_max, chapters)
        item_lengths = [sum(lengths[i] for i in item) for item in items]
        item_tokens = [[t for k, i in enumerate(item) for t in (separator if k else []) + data.tokens[i]] for item in items]
        if options.stream_items > 0:
            order = _stream_order(items, recordings, rng)
            plan = _stream_batches(order, options.stream_rows * trainer.world, options.stream_items, step - skip)
        else:
            plan = ((batch, None) for batch in _batches(item_lengths, options.batch_frames * trainer.world, rng))
        plan = list(plan)
        if skip:
            rng.setstate(_rng_state(extra["rng"]))
        done = skip
        for batch, fresh in plan[skip:]:
            if stop():
                break
            batch = trainer.shard(batch)
            fresh = trainer.shard(fresh) if fresh is not None else None
            longest = max(item_lengths[i] for i in batch)
            feats = torch.zeros(len(batch), longest, normed[0].shape[1])
            for row, i in enumerate(batch):
                feats[row, : item_lengths[i]] = torch.cat([normed[u] for u in items[i]])
            feats = augment(feats).to(device)
            feat_lengths = torch.tensor([item_lengths[i] for i in batch]).to(device)
            streaming = rng.random() < options.streaming_fraction
            if memory is not None and fresh is not None:
                memory = _reset_rows(memory, model.initial_memory(len(batch)), fresh.to(device))
            with trainer.autocast():
                loss, parts, final = trainer.call("loss", feats, feat_lengths, [item_tokens[i] for i in batch],
                                                  streaming, memory)
            if memory is not None:
                memory = NTMState(*(t.detach() for t in final))
            trainer.step(loss)
            step += 1
            done += 1
            for k, v in (("loss", loss.detach()), *parts.items()):
                running[k] = v if step == 1 else 0.98 * running[k] + 0.02 * v
            bar.update(1)
            if trainer.is_main and (step % 10 == 0 or step == 1):  # reading the losses waits for the device
                bar.set_postfix(loss=f"{float(running['loss']):.1f}", ctc=f"{float(running['ctc']):.1f}",
                                att=f"{float(running['att']):.1f}", lr=f"{sched.get_last_lr()[0]:.1e}")
            if step % options.checkpoint_every == 0:
                if checkpoint is not None and trainer.is_main:
                    checkpoint(model, step)
                if state_file is not None:
                    trainer.save_state(state_file, step, state(done, rng.getstate()))
        else:  # the epoch ran out: the next one is planned from the random state reached here
            skip, epoch_rng = 0, rng.getstate()
            continue
        if state_file is not None:
            trainer.save_state(state_file, step, state(done, rng.getstate()))
        break
    bar.close()
    model.eval()
    if checkpoint is not None and trainer.is_main:
        checkpoint(model, step)
    return {**{k: float(v) for k, v in running.items()}, "steps": step}


def _rng_state(stored) -> tuple:
    """A ``random.Random`` state back from JSON (lists) to the nested tuple ``setstate`` takes."""
    version, internal, gauss = stored
    return int(version), tuple(int(x) for x in internal), gauss
