"""Benchmark adapter of ``track`` (MeMOTR): one video frame per step at the config's input size; peer the
reference ``grid_sample`` formulation of multi-scale deformable attention (Deformable DETR)."""

from __future__ import annotations

import copy
import functools

import torch
import torch.nn.functional as F
from torch import nn

from streammem.bench.harness import Options, Peer, Recompute, Workload, weights_label

RECOMPUTE = ("an nn.TransformerEncoder of the tracker's encoder size (width, heads, FFN, layers; its deformable "
             "layers sample one frame's feature maps, so a dense encoder stands in), full attention over the "
             "encoder tokens of every frame of the history, re-run at each frame; backbone and decoder left out "
             "(a lower bound)")

# What was done about the worst operators of the paper-size step (rendered under its top-operator table).
WORST_OPERATORS = (
    "The weighted sum of the deformable samples (`aten::mul`, then `aten::sum`) multiplied each level's samples "
    "by a strided slice of the attention weights; the weights are now laid out level by level, each level "
    "contiguous, with bit-identical outputs (the deformable-attention peer row compares the core with the "
    "reference formulation).",
    "`aten::grid_sampler_2d` is PyTorch's bilinear sampler; the reference CUDA kernel fuses the sampling with "
    "the weighted sum, which plain PyTorch operators cannot.",
)


@functools.lru_cache(maxsize=2)
def _frames(image_size: tuple[int, int]) -> torch.Tensor:
    from streammem.tasks.track import synthetic_clip

    return synthetic_clip(8, image_size=image_size)


def _workload(model, label: str, config: str, opts: Options) -> Workload:
    model = model.to(opts.device)
    frames = _frames(tuple(model.cfg.image_size)).to(opts.device)
    return Workload(
        label=label, config=config, model=model, initial_state=lambda: model.initial_state(1),
        step=lambda state, i: model(frames[i % len(frames)].unsqueeze(0), state)[1],
        what="backbone, deformable encoder, decoder over detect and track queries, query updater (long-term "
        "memory), track bookkeeping",
    )


def _size(model) -> str:
    c = model.cfg
    h, w = _frames(tuple(c.image_size)).shape[-2:]
    return f"{c.backbone}, d={c.dim}, {c.enc_layers}+{c.dec_layers} layers, {w}x{h} frames"


def stream(opts: Options) -> Workload:
    from streammem.tasks.track import load_model

    model = load_model(opts.weights)
    return _workload(model, f"MeMOTR tiny, {weights_label(opts.weights)} ({_size(model)})", "tiny", opts)


@functools.lru_cache(maxsize=2)
def _random(config: str, device: torch.device):
    from streammem.models.memotr import build

    return build(config).eval().to(device)


def paper(opts: Options) -> Workload:
    model = _random("paper", opts.device)
    return _workload(model, f"MeMOTR paper, random weights ({_size(model)})", "paper", opts)


@functools.lru_cache(maxsize=4)
def _tokens_and_shapes(model) -> tuple[int, list[tuple[int, int]]]:
    """Encoder tokens per frame and the level shapes, from a copy on the meta device (shapes, no arithmetic)."""
    meta = copy.deepcopy(model).to("meta")
    memory, shapes = meta.encode(_frames(tuple(model.cfg.image_size))[:1].to("meta"))
    return int(memory.shape[1]), shapes


def recompute(workload: Workload, n: int) -> Recompute:
    c = workload.model.cfg
    per_frame, _ = _tokens_and_shapes(workload.model)
    layer = nn.TransformerEncoderLayer(c.dim, c.heads, c.ffn_dim, 0.0, batch_first=True)
    encoder = nn.TransformerEncoder(layer, c.enc_layers, enable_nested_tensor=False).eval().to(workload.device)
    x = torch.randn(1, n * per_frame, c.dim, device=workload.device)
    return Recompute(run=lambda: encoder(x), tokens=x.shape[1], history_bytes=x.numel() * x.element_size())


def reference_ms_deform_attn(value: torch.Tensor, shapes: list[tuple[int, int]], sampling_locations: torch.Tensor,
                             attention_weights: torch.Tensor) -> torch.Tensor:
    """``ms_deform_attn_core_pytorch`` of Deformable DETR (fundamentalvision/Deformable-DETR,
    models/ops/functions/ms_deform_attn_func.py): every level sampled, stacked, weighted and summed at once."""
    n, _, heads, dh = value.shape
    _, q, _, levels, points, _ = sampling_locations.shape
    value_list = value.split([h * w for h, w in shapes], dim=1)
    grids = 2 * sampling_locations - 1
    sampled = []
    for level, (h, w) in enumerate(shapes):
        v = value_list[level].flatten(2).transpose(1, 2).reshape(n * heads, dh, h, w)
        g = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)
        sampled.append(F.grid_sample(v, g, mode="bilinear", padding_mode="zeros", align_corners=False))
    weights = attention_weights.transpose(1, 2).reshape(n * heads, 1, q, levels * points)
    out = (torch.stack(sampled, dim=-2).flatten(-2) * weights).sum(-1).view(n, heads * dh, q)
    return out.transpose(1, 2).contiguous()


def peers(config: str, opts: Options) -> list[Peer]:
    from streammem.nn.deformable_attention import ms_deform_attn

    model = _random(config, opts.device)
    c = model.cfg
    tokens, shapes = _tokens_and_shapes(model)
    gen = torch.Generator().manual_seed(0)
    value = torch.randn(1, tokens, c.heads, c.dim // c.heads, generator=gen).to(opts.device)
    locations = torch.rand(1, tokens, c.heads, c.num_levels, c.num_points, 2, generator=gen).to(opts.device)
    weights = torch.softmax(torch.randn(1, tokens, c.heads, c.num_levels * c.num_points, generator=gen), -1)
    weights = weights.view(1, tokens, c.heads, c.num_levels, c.num_points).to(opts.device)
    return [Peer(f"deformable attention core, encoder self-attention ({_size(model)}; {tokens} queries, "
                 f"{c.heads} heads x {c.num_levels} levels x {c.num_points} points)",
                 "reference grid_sample formulation (Deformable DETR ms_deform_attn_core_pytorch)",
                 lambda: ms_deform_attn(value, shapes, locations, weights),
                 lambda: reference_ms_deform_attn(value, shapes, locations, weights), same_output=True)]
