"""Benchmark adapter of ``asr`` (Conformer-NTM): 640 ms audio chunks; peers torchaudio Emformer and Conformer."""

from __future__ import annotations

import functools

import torch

from streammem.bench.harness import Extra, Options, Peer, Recompute, Workload, median_ms, weights_label

RECOMPUTE = ("the model's Conformer blocks, full attention over every encoder frame of the history (16 frames "
             "per chunk), re-run at each chunk; front end, subsampling, NTM and CTC head left out (a lower bound)")

# What was done about the worst operators of the paper-size step (rendered under its top-operator table).
WORST_OPERATORS = (
    "Under OpenMP's PASSIVE wait policy every one of the step's many small operations waited for a sleeping "
    "thread to wake; `streammem bench` keeps OpenMP's default policy.",
    "The rest is matrix products of one chunk's 16 encoder frames (`aten::addmm`) and the Conv2d subsampling: "
    "batch-1 streaming keeps the products small. The relative-position term projects only the distances a "
    "chunk sees, and the NTM's input term is one product per chunk; nothing else was changed.",
)


def _audio(samples: int, device: torch.device) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return [(0.1 * torch.randn(1, samples, generator=gen)).to(device) for _ in range(8)]


def _workload(model, label: str, config: str, opts: Options) -> Workload:
    model = model.to(opts.device)
    audio = _audio(model.chunk_samples, opts.device)
    return Workload(
        label=label, config=config, model=model, initial_state=lambda: model.initial_state(1),
        step=lambda state, i: model.step(audio[i % len(audio)], state)[1],
        what="log-Mel front end, causal Conv2d subsampling, Conformer blocks with a cached left context, "
        "NTM memory, CTC head",
        seconds_per_step=model.chunk_samples / 16000,
    )


def stream(opts: Options) -> Workload:
    from streammem.tasks.asr import _load_model

    model = _load_model(opts.weights)
    cfg = model.config
    return _workload(model, f"Conformer-NTM tiny, {weights_label(opts.weights)} ({cfg.num_blocks} blocks, "
                     f"d={cfg.d_model}), {model.chunk_samples / 16000:.2f} s chunks", "tiny", opts)


@functools.lru_cache(maxsize=2)
def _random(config: str, device: torch.device):
    from streammem.models import build_model

    return build_model("conformer_ntm", config).eval().to(device)


def paper(opts: Options) -> Workload:
    model = _random("paper", opts.device)
    cfg = model.config
    return _workload(model, f"Conformer-NTM paper, random weights ({cfg.num_blocks} blocks, d={cfg.d_model})",
                     "paper", opts)


def _run_blocks(blocks, x: torch.Tensor, keys: list, values: list, convs: list, mask: torch.Tensor) -> torch.Tensor:
    for i, block in enumerate(blocks):
        x, _, _, _ = block(x, keys[i], values[i], convs[i], mask)
    return x


def recompute(workload: Workload, n: int) -> Recompute:
    enc = workload.model.encoder
    d = enc.heads * enc.head_dim
    frames = n * enc.chunk
    x = torch.randn(1, frames, d, device=workload.device)
    empty = x.new_zeros(1, enc.heads, 0, enc.head_dim)
    conv = [x.new_zeros(1, d, enc.kernel - 1)] * len(enc.blocks)
    mask = torch.ones(1, 1, 1, dtype=torch.bool, device=x.device).expand(1, frames, frames)
    blocks = enc.blocks
    return Recompute(run=lambda: _run_blocks(blocks, x, [empty] * len(blocks), [empty] * len(blocks), conv, mask),
                     tokens=frames, history_bytes=x.numel() * x.element_size())


def peers(config: str, opts: Options) -> list[Peer]:
    import torchaudio

    device = opts.device
    model = _random(config, device)
    cfg, enc = model.config, model.encoder
    C, L, d, nb = cfg.chunk_frames, cfg.left_frames, cfg.d_model, cfg.num_blocks
    gen = torch.Generator().manual_seed(0)
    chunk = torch.randn(1, C, d, generator=gen).to(device)
    keys = [torch.randn(1, enc.heads, L, enc.head_dim, generator=gen).to(device) for _ in range(nb)]
    values = [torch.randn(1, enc.heads, L, enc.head_dim, generator=gen).to(device) for _ in range(nb)]
    convs = [torch.randn(1, d, enc.kernel - 1, generator=gen).to(device) for _ in range(nb)]
    mask = torch.ones(1, C, L + C, dtype=torch.bool, device=device)
    emformer = torchaudio.models.Emformer(d, cfg.num_heads, cfg.ffn_dim, nb, segment_length=C,
                                          left_context_length=L, right_context_length=0).eval().to(device)
    lengths = torch.tensor([C], device=device)
    em_state = None
    for _ in range(L // C + 1):  # a full left context, as our cache holds
        _, _, em_state = emformer.infer(chunk, lengths, em_state)
    conformer = torchaudio.models.Conformer(d, cfg.num_heads, cfg.ffn_dim, nb, cfg.kernel_size).eval().to(device)
    window = torch.randn(1, L + C, d, generator=gen).to(device)
    window_lengths = torch.tensor([L + C], device=device)
    audio = _audio(model.chunk_samples, device)[0]
    state = model.initial_state(1)
    for _ in range(L // C + 1):
        _, state = model.step(audio, state)
    blocks = enc.blocks
    ours = lambda: _run_blocks(blocks, chunk, keys, values, convs, mask)  # noqa: E731
    size = f"{nb} blocks, d={d}, {C}-frame chunk, {L}-frame left context"
    return [
        Peer(f"encoder blocks, one chunk ({size})", "torchaudio Emformer (same chunk and left context)", ours,
             lambda: emformer.infer(chunk, lengths, em_state)[0]),
        Peer(f"encoder blocks, one chunk ({size})", "torchaudio Conformer over left context + chunk (no cache)",
             ours, lambda: conformer(window, window_lengths)[0]),
        Peer("whole step: front end, subsampling, blocks, NTM, CTC (one chunk of audio)",
             "torchaudio Emformer blocks alone (already-subsampled input)", lambda: model.step(audio, state)[0],
             lambda: emformer.infer(chunk, lengths, em_state)[0], scope="whole step"),
    ]


def extras(workload: Workload, opts: Options) -> list[Extra]:
    """Real-time factor of the exported steps (TorchScript, and int8 TorchScript on the CPU) per measured config.
    int8 dynamic quantization has CPU kernels only: on another device its row has no value and says so."""
    from streammem.export import script
    from streammem.models.conformer_ntm.quantize import quantize_int8

    rows = []
    for config in opts.configs:
        model = workload.model if config == workload.config else _random(config, opts.device)
        audio = _audio(model.chunk_samples, opts.device)[0]
        seconds = model.chunk_samples / 16000
        on_cpu = opts.device.type == "cpu"
        steps = [("TorchScript", script(model))] + ([("int8 TorchScript", script(quantize_int8(model)))]
                                                    if on_cpu else [])
        for name, exported in steps:
            state = model.initial_state(1)
            for _ in range(model.left_frames // model.chunk_frames + 1):
                _, state = exported(audio, state)
            ms = median_ms(lambda f=exported, x=audio, s=state: f(x, s), opts)
            rows.append(Extra(f"{config} real-time factor, {name} step", ms / 1000 / seconds, "",
                              f"median ms per {seconds:.2f} s chunk / chunk length ({ms:.3g} ms)"))
        if not on_cpu:
            rows.append(Extra(f"{config} real-time factor, int8 TorchScript step", None, "",
                              f"not measured on {opts.device}: int8 dynamic quantization runs on the CPU only"))
    return rows
