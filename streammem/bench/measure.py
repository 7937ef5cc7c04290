"""The measurements every task's benchmark shares: latency percentiles, tensor bytes, FLOPs, the device's
dense matmul rate, the profiler's top operators, and a stated least-squares fit for costs too large to run.

Every timing and memory figure is taken on one device: the CPU, or a CUDA GPU, whose work runs asynchronously
(:func:`timed` waits for it before reading the clock) and whose memory has its own allocator statistics
(:func:`peak_bytes_of` reads them). Nothing here knows a task; :mod:`streammem.bench.harness` combines these
on each task's adapter.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils._pytree import tree_leaves

__all__ = [
    "achieved_fraction",
    "evaluate_fit",
    "fit_polynomial",
    "flops_of",
    "latency_summary",
    "machine",
    "matmul_rate",
    "peak_bytes_of",
    "synchronize",
    "tensor_bytes",
    "time_calls",
    "timed",
    "top_operators",
]

CPU = torch.device("cpu")


def machine(threads: int, device: torch.device = CPU) -> dict[str, Any]:
    """What a figure depends on: the device measured (its name: the CPU model or the GPU's), torch version,
    CPU model and cores, threads, date (UTC), load at the start."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    row = {
        "device": str(device),
        "device_name": cpu,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "threads": threads,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }
    if device.type == "cuda":
        row.update(device_name=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
                   device_memory_bytes=torch.cuda.get_device_properties(device).total_memory)
    return row


def tensor_bytes(obj: Any) -> int:
    """Bytes held by the tensors in ``obj`` (a state NamedTuple, a list, a tensor)."""
    return int(sum(t.numel() * t.element_size() for t in tree_leaves(obj) if isinstance(t, torch.Tensor)))


def synchronize(device: torch.device) -> None:
    """Wait until the work queued on ``device`` is done (CUDA kernels run after the call that queued them
    returns); the CPU has nothing queued."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device = CPU) -> float:
    """Seconds of one ``fn()`` including the work it queued on ``device`` (and none queued before it)."""
    synchronize(device)
    began = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - began


def time_calls(fn: Callable[[], Any], warmup: int, repeats: int, budget: float = float("inf"),
               device: torch.device = CPU) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn`` on ``device`` after ``warmup`` untimed ones; fewer calls
    (at least one) when they would take more than ``budget`` seconds in all (a paper-size step may take seconds)."""
    for _ in range(warmup):
        if timed(fn, device) > budget / 4:
            break
    times: list[float] = []
    while len(times) < repeats and (not times or sum(times) < budget):
        times.append(timed(fn, device))
    return times


def latency_summary(seconds: Iterable[float]) -> dict[str, float]:
    """p50 / p95 / p99 / mean in milliseconds (linear-interpolated percentiles, numpy's default)."""
    ms = np.asarray(list(seconds), dtype=np.float64) * 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "mean": float(ms.mean()), "samples": int(ms.size)}


@contextlib.contextmanager
def _quiet_profiler() -> Iterator[None]:
    """The profiler's C++ start/stop lines on stderr (file descriptor 2) go to /dev/null meanwhile."""
    os.environ.setdefault("KINETO_LOG_LEVEL", "5")  # read when the profiler first starts
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_bytes_of(fn: Callable[[], Any], device: torch.device = CPU) -> int:
    """Peak bytes allocated on ``device`` during one ``fn()`` and alive at the same time: tensors, results and
    every operator's buffers. What existed before the call (weights, inputs, the state) is not counted: add
    it yourself. On the CPU, the profiler's memory events summed in time order; on CUDA, the allocator's peak
    (``torch.cuda.max_memory_allocated``) over what was allocated before."""
    if device.type == "cuda":
        synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - before)
    from torch.profiler import ProfilerActivity, profile

    with _quiet_profiler(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]")
    live = peak = 0
    for _, change in events:
        live += change
        peak = max(peak, live)
    return int(peak)


class _TotalsOnly:
    """Stands in for FlopCounterMode's module tracker: one parent, no hooks."""

    parents = frozenset({"Global"})

    def __enter__(self) -> _TotalsOnly:
        return self

    def __exit__(self, *args: Any) -> None:
        return None


def flops_of(fn: Callable[[], Any]) -> int:
    """Floating-point operations of one ``fn()`` as ``torch.utils.flop_counter`` counts them (matmuls,
    convolutions, attention; element-wise ops, softmax, grid_sample and gathers count zero)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    # Totals only: the per-module tracker registers grad hooks that fail on a parameter passed as a module's
    # input under no_grad (MeMOTR's decoder), so every count goes to "Global".
    counter.mod_tracker = _TotalsOnly()
    # nn.TransformerEncoder's fused inference path is one operator the counter has no formula for: count
    # the same computation through its plain operators instead.
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with counter:
            fn()
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return int(counter.get_total_flops())


def matmul_rate(device: torch.device = CPU, size: int | None = None, warmup: int = 2,
                repeats: int = 20) -> dict[str, Any]:
    """The dense fp32 matmul rate of ``device`` (on the CPU: on the current torch threads), FLOP/s: the fastest
    of ``repeats`` products (the peak it reaches; a median would carry the load of other jobs on a shared
    machine). Matrices of 1024² on the CPU, 4096² on a GPU (a smaller product would time the launch). On
    CUDA the row records whether matmuls and cuDNN convolutions may use TF32 (faster than fp32, fewer bits)."""
    size = size or (1024 if device.type == "cpu" else 4096)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device)
    b = torch.randn(size, size, generator=gen).to(device)
    times = time_calls(lambda: torch.mm(a, b), warmup, repeats, device=device)
    row: dict[str, Any] = {"device": str(device), "dtype": "float32", "size": size, "repeats": repeats,
                           "fastest_seconds": min(times), "median_seconds": statistics.median(times),
                           "flops_per_second": 2.0 * size**3 / min(times)}
    if device.type == "cuda":
        row["allow_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
        row["cudnn_allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
    return row


def achieved_fraction(flops: float, seconds: float, peak_flops_per_second: float) -> float:
    """FLOPs per second of a step as a fraction of the dense matmul rate measured on the same device."""
    return float(flops / seconds / peak_flops_per_second) if seconds > 0 else float("nan")


def top_operators(fn: Callable[[], Any], calls: int = 2, limit: int = 8) -> list[dict[str, Any]]:
    """The operators taking the most self CPU time over ``calls`` runs of ``fn`` (torch.profiler), per call;
    ``fn`` should be warmed up already."""
    from torch.profiler import ProfilerActivity, profile

    with _quiet_profiler(), profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(calls):
            fn()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [
        {"operator": e.key, "self_ms_per_call": e.self_cpu_time_total / 1000.0 / calls,
         "share": e.self_cpu_time_total / total, "calls_per_step": e.count // calls}
        for e in events[:limit]
    ]


def fit_polynomial(xs: Iterable[float], ys: Iterable[float], degree: int = 2) -> dict[str, Any]:
    """y = c0 + c1 x + ... + cd x^d by least squares with non-negative coefficients (``scipy.optimize.nnls``),
    each point weighted by 1/y so small and large points count alike (relative error).

    Costs of attention grow as a polynomial in the history length with non-negative terms; the fit is
    stated with its points and its worst relative residual, so an extrapolation can be judged.
    """
    from scipy.optimize import nnls

    x = np.asarray(list(xs), dtype=np.float64)
    y = np.asarray(list(ys), dtype=np.float64)
    degree = min(degree, max(len(x) - 1, 0))
    design = np.stack([x**k for k in range(degree + 1)], axis=1)
    weight = 1.0 / np.maximum(np.abs(y), 1e-30)
    coefficients, _ = nnls(design * weight[:, None], y * weight)
    predicted = design @ coefficients
    residual = float(np.max(np.abs(predicted - y) * weight)) if len(x) else float("nan")
    return {
        "form": " + ".join(["c0"] + [f"c{k}*n" + (f"^{k}" if k > 1 else "") for k in range(1, degree + 1)]),
        "method": "least squares on the measured points, coefficients >= 0, relative error (scipy.optimize.nnls)",
        "coefficients": [float(c) for c in coefficients],
        "points": [[float(a), float(b)] for a, b in zip(x, y, strict=True)],
        "max_relative_residual": residual,
    }


def evaluate_fit(fit: dict[str, Any], x: float) -> float:
    """The fitted polynomial at ``x``."""
    return float(sum(c * x**k for k, c in enumerate(fit["coefficients"])))
