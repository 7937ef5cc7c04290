"""Benchmark adapter of ``anomaly`` (MemMC-MAE): one video frame per step (every complementary-mask pass,
the temporal score window); peer ``nn.TransformerEncoder`` of the encoder's size (ViT block: pre-norm, GELU)."""

from __future__ import annotations

import functools

import torch
from torch import nn

from streammem.bench.harness import Options, Peer, Recompute, Workload, weights_label

RECOMPUTE = ("the model's encoder blocks, full attention over the visible patch tokens of every frame of the "
             "history (one masking pass per frame), re-run at each frame; decoder and scoring left out (a lower "
             "bound)")


def _workload(model, label: str, config: str, opts: Options) -> Workload:
    model = model.to(opts.device)
    gen = torch.Generator().manual_seed(0)
    size = (1, model.in_chans, model.image_size, model.image_size)
    frames = [torch.randint(0, 256, size, dtype=torch.uint8, generator=gen).to(opts.device) for _ in range(8)]
    return Workload(
        label=label, config=config, model=model, initial_state=lambda: model.initial_state(1),
        step=lambda state, i: model.step(frames[i % len(frames)], state)[1],
        what=f"{int(model.score_keep.shape[0])} masked-autoencoder passes (encoder, multi-level decoder), error map, "
        "blur, temporal score window",
    )


def _size(model) -> str:
    c = model.config
    return f"{c.depth} blocks, d={c.embed_dim}, {c.image_size} px, patch {c.patch_size}"


def stream(opts: Options) -> Workload:
    from streammem.tasks.anomaly import load_model

    model, _ = load_model(opts.weights)
    return _workload(model, f"MemMC-MAE tiny, {weights_label(opts.weights)} ({_size(model)})", "tiny", opts)


@functools.lru_cache(maxsize=2)
def _random(config: str, device: torch.device):
    from streammem.models.memmc_mae import build

    return build(config).eval().to(device)


def paper(opts: Options) -> Workload:
    model = _random("paper", opts.device)
    return _workload(model, f"MemMC-MAE paper, random weights ({_size(model)})", "paper", opts)


def _encode(blocks, x: torch.Tensor) -> torch.Tensor:
    for block in blocks:
        x, _ = block(x)
    return x


def recompute(workload: Workload, n: int) -> Recompute:
    model = workload.model
    x = torch.randn(1, n * model.num_keep, model.config.embed_dim, device=workload.device)
    blocks = model.blocks
    return Recompute(run=lambda: _encode(blocks, x), tokens=x.shape[1], history_bytes=x.numel() * x.element_size())


def peers(config: str, opts: Options) -> list[Peer]:
    model = _random(config, opts.device)
    c = model.config
    passes = int(model.score_keep.shape[0])
    x = torch.randn(passes, model.num_keep, c.embed_dim, generator=torch.Generator().manual_seed(0)).to(opts.device)
    layer = nn.TransformerEncoderLayer(c.embed_dim, c.num_heads, int(c.embed_dim * c.mlp_ratio), 0.0,
                                       activation="gelu", batch_first=True, norm_first=True)
    peer = nn.TransformerEncoder(layer, c.depth, enable_nested_tensor=False).eval().to(opts.device)
    blocks = model.blocks
    return [Peer(f"encoder blocks, one frame ({_size(model)}; {passes} passes x {model.num_keep} visible tokens, "
                 f"{c.memory_slots if c.memory == 'attention' else 0} memory slots)",
                 f"nn.TransformerEncoder, {c.depth} layers, same width/heads/MLP, same tokens",
                 lambda: _encode(blocks, x), lambda: peer(x))]
