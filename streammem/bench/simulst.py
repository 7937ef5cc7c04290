"""Benchmark adapter of ``simulst`` (Augmented Memory Transformer): the incremental encoder step per audio chunk
(the wait-k decoder runs on the encoder states it yields); peer ``nn.TransformerEncoder`` of equal size."""

from __future__ import annotations

import functools

import torch
from torch import nn

from streammem.bench.harness import Extra, Options, Peer, Recompute, Workload, weights_label

RECOMPUTE = ("the model's encoder layers without memory banks, full attention over every encoder state of the "
             "history (one per 40 ms), re-run at each chunk; front end, subsampling and decoder left out (a lower "
             "bound)")

# What was done about the worst operators of the paper-size step (rendered under its top-operator table).
WORST_OPERATORS = (
    "The memory bank's relative positions looked up a (T, T, E) embedding per window and layer (`aten::index_select`) "
    "and contracted it pair by pair (`aten::einsum`); they now take one product with the (2R+1)-row tables, "
    "gathered (keys) or binned by distance (values), and the window's keys and values are projected once for "
    "both the attention and the memory summary.",
    "The rest is the Conv2d subsampling and the feed-forward matrix products of one window, each already a "
    "single oneDNN or MKL call; batch-1 streaming keeps the products small.",
)


def _workload(model, label: str, config: str, opts: Options) -> Workload:
    model = model.to(opts.device)
    gen = torch.Generator().manual_seed(0)
    audio = [(0.1 * torch.randn(1, model.chunk_samples, generator=gen)).to(opts.device) for _ in range(8)]
    return Workload(
        label=label, config=config, model=model, initial_state=lambda: model.initial_state(1),
        step=lambda state, i: model.encode_chunk(audio[i % len(audio)], state)[1],
        what="fbank front end, window subsampling, encoder layers with augmented memory banks (encode_chunk)",
        seconds_per_step=model.chunk_samples / 16000,
    )


def _size(model) -> str:
    c = model.config
    return (f"{c.encoder_layers} layers, d={c.d_model}, window {c.left_frames}/{c.center_frames}/{c.right_frames} "
            f"frames, memory {c.memory_size}")


def stream(opts: Options) -> Workload:
    from streammem.tasks.simulst import _load_model

    model = _load_model(opts.weights)
    return _workload(model, f"AM-Transformer tiny, {weights_label(opts.weights)} ({_size(model)})", "tiny", opts)


@functools.lru_cache(maxsize=2)
def _random(config: str, device: torch.device):
    from streammem.models import build_model

    return build_model("amt_simulst", config).eval().to(device)


def paper(opts: Options) -> Workload:
    model = _random("paper", opts.device)
    return _workload(model, f"AM-Transformer paper, random weights ({_size(model)})", "paper", opts)


def _plain(layers, x: torch.Tensor, valid: torch.Tensor, bank: torch.Tensor, bank_valid: torch.Tensor):
    for layer in layers:
        x = layer._finish(x, layer.norm1(x), valid, bank, bank_valid)
    return x


def recompute(workload: Workload, n: int) -> Recompute:
    model = workload.model
    states = n * (model.chunk_samples // 640)
    x = torch.randn(1, states, model.d_model, device=workload.device)
    valid = torch.ones(1, states, dtype=torch.bool, device=x.device)
    bank, bank_valid = x.new_zeros(1, 0, model.d_model), valid.new_zeros(1, 0)
    layers = model.encoder
    return Recompute(run=lambda: _plain(layers, x, valid, bank, bank_valid), tokens=states,
                     history_bytes=x.numel() * x.element_size())


def peers(config: str, opts: Options) -> list[Peer]:
    from streammem.memory.queue import QueueState

    model = _random(config, opts.device)
    c = model.config
    tokens = (c.left_frames + c.center_frames + c.right_frames) // 4
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, tokens, c.d_model, generator=gen).to(opts.device)
    valid = torch.ones(1, tokens, dtype=torch.bool, device=x.device)
    center = torch.zeros(1, tokens, dtype=torch.bool, device=x.device)
    center[:, c.left_frames // 4:(c.left_frames + c.center_frames) // 4] = True
    banks = []
    for layer in model.encoder:
        empty = layer.attention.init(1, x.device)
        banks.append(QueueState(torch.randn(empty.items.shape, generator=gen).to(x.device),
                                torch.ones_like(empty.valid), torch.zeros_like(empty.stamps)))

    def ours() -> torch.Tensor:
        h = x
        for layer, bank in zip(model.encoder, banks, strict=True):
            h, _ = layer(h, valid, center, bank)
        return h

    layer = nn.TransformerEncoderLayer(c.d_model, c.num_heads, c.ffn_dim, 0.0, batch_first=True, norm_first=True)
    peer = nn.TransformerEncoder(layer, c.encoder_layers, enable_nested_tensor=False).eval().to(x.device)
    return [Peer(f"encoder layers, one window ({_size(model)}; {tokens} states + {c.memory_size} memory vectors)",
                 f"nn.TransformerEncoder, {c.encoder_layers} layers, same width/heads/FFN, same window", ours,
                 lambda: peer(x))]


def extras(workload: Workload, opts: Options) -> list[Extra]:
    """AL_CA - AL of the whole step (encoder and wait-k decoder) on the bundled talk: the compute time the
    step adds to every emission (SimulEval's computation-aware average lagging minus the ideal one)."""
    import numpy as np

    from streammem.evaluation.functional.simulst import SimulInstance, instance_latency
    from streammem.models.amt_simulst.decoding import translate_talk
    from streammem.streams.audio import load_audio_file
    from streammem.tasks.simulst import SAMPLE_AUDIO

    talk = load_audio_file(SAMPLE_AUDIO)
    if opts.quick:  # the first 10 s of the talk
        talk = talk[: 10 * 16000]
    references = SAMPLE_AUDIO.with_suffix(".de").read_text(encoding="utf-8").splitlines()
    gaps = []
    for ((a, b), timed), ref in zip(translate_talk(workload.model, talk), references, strict=False):
        if timed.delays:
            lat = instance_latency(SimulInstance(timed.text, timed.delays, (b - a) / 16, ref, timed.elapsed))
            gaps.append(lat["AL_CA"] - lat["AL"])
    return [Extra("AL_CA - AL, bundled talk", float(np.mean(gaps)) if gaps else None, "ms",
                  f"{workload.label}; mean over the {len(gaps)} segments with output")]
