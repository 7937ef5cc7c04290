"""Benchmark adapter of ``anomaly`` (MemMC-MAE): one video frame per step (every complementary-mask pass,
the temporal score window); peer ``nn.TransformerEncoder`` of the encoder's size (ViT block: pre-norm, GELU)."""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from streammem.bench.harness import Peer, Recompute, Workload, weights_label

RECOMPUTE = ("the model's encoder blocks, full attention over the visible patch tokens of every frame of the "
             "history (one masking pass per frame), re-run at each frame; decoder and scoring left out (a lower "
             "bound)")


def _workload(model, label: str, config: str) -> Workload:
    gen = torch.Generator().manual_seed(0)
    size = (1, model.in_chans, model.image_size, model.image_size)
    frames = [torch.randint(0, 256, size, dtype=torch.uint8, generator=gen) for _ in range(8)]
    return Workload(
        label=label, config=config, model=model, initial_state=lambda: model.initial_state(1),
        step=lambda state, i: model.step(frames[i % len(frames)], state)[1],
        what=f"{int(model.score_keep.shape[0])} masked-autoencoder passes (encoder, multi-level decoder), error map, "
        "blur, temporal score window",
    )


def _size(model) -> str:
    c = model.config
    return f"{c.depth} blocks, d={c.embed_dim}, {c.image_size} px, patch {c.patch_size}"


def stream(weights: Any = None) -> Workload:
    from streammem.tasks.anomaly import load_model

    model, _ = load_model(weights)
    return _workload(model, f"MemMC-MAE tiny, {weights_label(weights)} ({_size(model)})", "tiny")


@functools.lru_cache(maxsize=2)
def _random(config: str):
    from streammem.models.memmc_mae import build

    return build(config).eval()


def paper() -> Workload:
    model = _random("paper")
    return _workload(model, f"MemMC-MAE paper, random weights ({_size(model)})", "paper")


def _encode(blocks, x: torch.Tensor) -> torch.Tensor:
    for block in blocks:
        x, _ = block(x)
    return x


def recompute(workload: Workload, n: int) -> Recompute:
    model = workload.model
    x = torch.randn(1, n * model.num_keep, model.config.embed_dim)
    blocks = model.blocks
    return Recompute(run=lambda: _encode(blocks, x), tokens=x.shape[1], history_bytes=x.numel() * x.element_size())


def peers(config: str) -> list[Peer]:
    model = _random(config)
    c = model.config
    passes = int(model.score_keep.shape[0])
    x = torch.randn(passes, model.num_keep, c.embed_dim, generator=torch.Generator().manual_seed(0))
    layer = nn.TransformerEncoderLayer(c.embed_dim, c.num_heads, int(c.embed_dim * c.mlp_ratio), 0.0,
                                       activation="gelu", batch_first=True, norm_first=True)
    peer = nn.TransformerEncoder(layer, c.depth, enable_nested_tensor=False).eval()
    blocks = model.blocks
    return [Peer(f"encoder blocks, one frame ({_size(model)}; {passes} passes x {model.num_keep} visible tokens, "
                 f"{c.memory_slots if c.memory == 'attention' else 0} memory slots)",
                 f"nn.TransformerEncoder, {c.depth} layers, same width/heads/MLP, same tokens",
                 lambda: _encode(blocks, x), lambda: peer(x))]
