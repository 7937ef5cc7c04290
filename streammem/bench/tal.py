"""Benchmark adapter of ``tal`` (MATR): one clip feature per step, model only (the frame encoder apart);
peer ``nn.TransformerEncoder`` of equal width, heads and FFN."""

from __future__ import annotations

import torch
from torch import nn

from streammem.bench.harness import Options, Peer, Recompute, Workload, weights_label

RECOMPUTE = ("the model's segment encoder layers, full attention over every projected feature of the history "
             "(1 token per step), re-run at each step; decoders and heads left out (a lower bound)")

# What was done about the worst operators of the paper-size step (rendered under its top-operator table).
WORST_OPERATORS = (
    "The memory write was the worst operator: `aten::where` over every phase row of the queue (B x S rows, of "
    "which one per stream is written) after shifting all of them. The step now pushes into the written rows "
    "only (`MemoryQueue.write_rows`), which leaves one copy of the queue per step (`aten::copy_`): the step "
    "returns a new state and never changes the one it was given, so a caller may keep an old state.",
)


def _workload(model, label: str, config: str, opts: Options) -> Workload:
    model = model.to(opts.device)
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(64, 1, sum(model.feature_dims), generator=gen).to(opts.device)
    return Workload(
        label=label, config=config, model=model, initial_state=lambda: model.initial_state(1),
        step=lambda state, i: model.step(feats[i % len(feats)], state)[1],
        what="feature projection, segment encoder over the sliding window, end decoder, start decoder over the "
        "memory queue, heads, memory write (frame encoder not included)",
    )


def _size(model) -> str:
    c = model.config
    return f"d={c.d_model}, {c.encoder_layers}+2x{c.decoder_layers} layers, window {c.segment_len}"


def stream(opts: Options) -> Workload:
    from streammem.tasks.tal import load_model

    model, _ = load_model(opts.weights)
    return _workload(model, f"MATR tiny, {weights_label(opts.weights)} ({_size(model)})", "tiny", opts)


def paper(opts: Options) -> Workload:
    from streammem.models.matr import build

    model = build("paper").eval()
    return _workload(model, f"MATR paper, random weights ({_size(model)})", "paper", opts)


def _encode(layers, x: torch.Tensor) -> torch.Tensor:
    for layer in layers:
        x = layer(x)
    return x


def recompute(workload: Workload, n: int) -> Recompute:
    model = workload.model
    x = torch.randn(1, n, model.d_model, device=workload.device)
    layers = model.encoder
    return Recompute(run=lambda: _encode(layers, x), tokens=n, history_bytes=x.numel() * x.element_size())


def _peer_encoder(c, layers: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(c.d_model, c.encoder_heads, c.ffn_dim, c.dropout, activation="gelu",
                                       batch_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False).eval()


def peers(config: str, opts: Options) -> list[Peer]:
    from streammem.models.matr import build

    model = build(config).eval().to(opts.device)
    c = model.config
    gen = torch.Generator().manual_seed(0)
    window = torch.randn(1, c.segment_len, c.d_model, generator=gen).to(opts.device)
    tokens = torch.randn(1, c.segment_len + 1, c.d_model, generator=gen).to(opts.device)
    feats = torch.randn(1, sum(model.feature_dims), generator=gen).to(opts.device)
    state = model.initial_state(1)
    for _ in range(c.segment_len):
        _, state = model.step(feats, state)
    encoder = _peer_encoder(c, c.encoder_layers).to(opts.device)
    deep = _peer_encoder(c, c.encoder_layers + 2 * c.decoder_layers).to(opts.device)
    size = f"d={c.d_model}, {c.encoder_heads} heads, FFN {c.ffn_dim}, {c.segment_len + 1} tokens"
    return [
        Peer(f"segment encoder with flag token ({c.encoder_layers} layers, {size})",
             f"nn.TransformerEncoder, {c.encoder_layers} layers", lambda: model.encode(window)[0],
             lambda: encoder(tokens)),
        Peer(f"whole step: encoder + end/start decoders over memory + heads + write ({size})",
             f"nn.TransformerEncoder, {c.encoder_layers + 2 * c.decoder_layers} layers (as many as ours)",
             lambda: model.step(feats, state)[0].logits, lambda: deep(tokens), scope="whole step"),
    ]
