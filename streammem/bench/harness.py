"""One benchmark for every task: what each run measures, in what order, and the JSON it writes.

For a task, its adapter (``streammem.bench.<task>``) hands over a :class:`Workload` (the streaming step with
its shipped weights, and the same at paper size), a :class:`Recompute` (the same network without its
memory, attending over the whole history) and its equal-size :class:`Peer` comparisons, every model and
input on the run's device (``Options.device``: the CPU, or a CUDA GPU). One run then measures, on that device:

1. **stream**: the streaming step at each stream position (100, 1,000, 10,000 by default): latency
   p50/p95/p99 over ``repeats`` consecutive steps, state bytes, process RSS, peak bytes of one step;
2. **recompute**: the full-context recompute at growing history lengths until a time or memory cap, a
   stated least-squares fit through the measured points for the lengths beyond it, and the speed and
   memory ratios against the streaming step at the last position (on CUDA: GPU memory, and the cap never
   above the GPU's free memory);
3. **peers**: our blocks against equal-size reference implementations on the same input, time and FLOPs;
4. **efficiency**: FLOPs per step (``torch.utils.flop_counter``) over the step's time, as a fraction of
   the dense fp32 matmul rate measured on the same device in the same run; below 30 %, on the CPU, the
   profiler's top operators (a GPU run records none).

An adapter's functions: ``stream(opts)`` and ``paper(opts)`` (workloads on ``opts.device``),
``recompute(workload, n)`` (on the workload's device), ``peers(config, opts)``, optionally ``extras(workload, opts)``.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "TASK_KEYS",
    "Extra",
    "Options",
    "Peer",
    "Recompute",
    "Workload",
    "add_arguments",
    "add_all_arguments",
    "bench_all",
    "bench_task",
    "measure_task",
    "median_ms",
    "weights_label",
]

DEFAULT_POSITIONS = (100, 1_000, 10_000)
QUICK_POSITIONS = (3, 6)
# History lengths tried for the recompute, smallest first, until the cap (then a fit takes over).
LADDER = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
EFFICIENCY_FLOOR = 0.30  # below this fraction of the matmul rate the profiler's top operators are recorded
FLAT_TOLERANCE = 0.10  # latency and state at the last position within 10 % of the first
CALL_BUDGET = 5.0  # seconds of timed calls per peer or paper-size measurement (fewer repeats when slower)
RECOMPUTE_TARGET = 10.0  # the streaming step at least this many times faster and smaller than recompute

# The keys every task's result carries (tests/bench checks them after a quick run).
TASK_KEYS = {
    "": ("workload", "stream", "recompute", "ratios", "peers", "efficiency", "extras", "targets", "wall_seconds",
         "worst_operators"),
    "workload": ("label", "config", "step", "parameters", "seconds_per_step"),
    "stream": ("positions", "paired", "steps_run", "seconds"),
    "stream.paired": ("first_position", "last_position", "blocks", "first_ms", "last_ms"),
    "stream.positions[]": ("position", "first_timed_step", "latency_ms", "state_bytes", "step_peak_bytes", "rss_mb"),
    "recompute": ("what", "tokens_per_step", "measured", "stopped", "fit_ms", "fit_peak_bytes", "at_positions"),
    "recompute.at_positions[]": ("n", "ms", "peak_bytes", "history_bytes", "measured"),
    "ratios": ("position", "speed", "memory", "ours_ms", "ours_bytes", "recompute_ms", "recompute_bytes",
               "extrapolated"),
    "peers[]": ("label", "scope", "config", "peer", "ours_ms", "peer_ms", "ours_flops", "peer_flops",
                "time_ratio", "time_per_flop_ratio", "max_abs_diff"),
    "extras[]": ("name", "value", "unit", "what"),
    "efficiency[]": ("config", "label", "flops_per_step", "ms_p50", "achieved_fraction", "top_operators",
                     "real_time_factor"),
    "targets": ("flat_latency", "flat_state", "recompute_speed", "recompute_memory"),
}


@dataclass
class Workload:
    """A streaming step ready to run: ``state = step(state, i)`` consumes the stream's ``i``-th input."""

    label: str
    config: str
    model: Any
    initial_state: Callable[[], Any]
    step: Callable[[Any, int], Any]
    what: str  # what one step includes (front end, encoder, memory, heads ...)
    seconds_per_step: float | None = None  # audio per step: latency / this is the real-time factor

    @property
    def parameters(self) -> int:
        return int(sum(p.numel() for p in self.model.parameters()))

    @property
    def device(self) -> Any:
        """Where the model lives, and so where the recompute's inputs go."""
        return next(self.model.parameters()).device


@dataclass
class Recompute:
    """The full-context recompute after ``n`` steps: ``run()`` once is one step's work; ``history_bytes`` the
    inputs it must keep (the whole history, which the streaming step folds into its fixed state)."""

    run: Callable[[], Any]
    tokens: int
    history_bytes: int


@dataclass
class Peer:
    """Our part and a reference implementation of equal size on the same input, like for like."""

    label: str
    peer: str
    ours: Callable[[], Any]
    theirs: Callable[[], Any]
    scope: str = "blocks"  # "blocks": the same layers on both sides; "whole step": ours is the whole pipeline
    same_output: bool = False  # both compute the same function: their largest difference is recorded


@dataclass
class Extra:
    """A task's own figure beside the shared ones (e.g. the exported step's real-time factor)."""

    name: str
    value: float | None
    unit: str
    what: str

    def row(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit, "what": self.what}


def _cpu() -> Any:
    import torch

    return torch.device("cpu")


@dataclass
class Options:
    """What a run measures, resolved from the command line (``--quick`` fills in small defaults), and on which
    device: every adapter puts its models and inputs on ``device``."""

    positions: tuple[int, ...]
    repeats: int
    warmup: int
    recompute_seconds: float
    recompute_memory_mb: float
    configs: tuple[str, ...]
    weights: Any = None
    quick: bool = False
    device: Any = field(default_factory=_cpu)  # a torch.device


def weights_label(weights: Any) -> str:
    """How a workload's label names its weights: the shipped ones, or the user's file."""
    from pathlib import Path

    return f"weights {Path(weights).name}" if weights else "shipped weights"


# ------------------------------------------------------------------------------------------------ options
def _positions(text: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of stream positions") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"'{text}': positions are integers >= 1")
    return values


def _configs(text: str) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    if not values or not set(values) <= {"tiny", "paper"}:
        raise argparse.ArgumentTypeError(f"'{text}': configs are tiny and/or paper")
    return values


def _add_measure_arguments(parser: argparse.ArgumentParser) -> None:
    from streammem.tasks.common import positive_float, positive_int

    parser.add_argument("--positions", type=_positions, default=None,
                        help="stream positions where the step is timed (default 100,1000,10000; --quick 3,6)")
    parser.add_argument("--repeats", type=positive_int, default=None,
                        help="timed steps at each position, and timed calls of each other measurement "
                        "(default 30; --quick 3); percentiles and medians over them")
    parser.add_argument("--warmup", type=positive_int, default=None,
                        help="untimed calls before each timed measurement (default 2; --quick 1)")
    parser.add_argument("--recompute-seconds", type=positive_float, default=None,
                        help="time cap of the full-context recompute per task; longer histories are fitted "
                        "(default 15; --quick 2)")
    parser.add_argument("--recompute-memory-mb", type=positive_float, default=1536.0,
                        help="largest recompute run (MiB of live tensors on the device, predicted; on CUDA at most "
                        "the GPU memory free); larger ones are fitted (default 1536)")
    parser.add_argument("--configs", type=_configs, default=None,
                        help="model sizes of the peer and FLOP measurements: tiny (the shipped weights) and "
                        "paper (random weights) (default tiny,paper; --quick tiny)")
    parser.add_argument("--quick", action="store_true",
                        help="a few steps of everything (smoke test): positions 3,6, 3 repeats, tiny only")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``streammem bench TASK``."""
    from streammem.tasks.common import add_common_arguments

    _add_measure_arguments(parser)
    parser.add_argument("--weights", default=None,
                        help="weights of the streamed model (.safetensors; default: the shipped tiny weights)")
    add_common_arguments(parser, "bench", out_help="output folder for bench.json (default "
                         "runs/<task>/bench/threads<N>/), or the JSON file itself")


def add_all_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``streammem bench all``."""
    from pathlib import Path

    from streammem.tasks.common import add_common_arguments

    _add_measure_arguments(parser)
    parser.add_argument("--report", type=Path, default=None,
                        help="also write the Markdown report (as tools/bench_report.py renders it) to this file")
    add_common_arguments(parser, "bench", out_help="output folder for bench.json (default "
                         "runs/all/bench/threads<N>/), or the JSON file itself")


def _options(args: argparse.Namespace, device: Any) -> Options:
    quick = bool(getattr(args, "quick", False))
    pick = lambda value, full, small: value if value is not None else (small if quick else full)  # noqa: E731
    return Options(
        positions=pick(args.positions, DEFAULT_POSITIONS, QUICK_POSITIONS),
        repeats=pick(args.repeats, 30, 3),
        warmup=pick(args.warmup, 2, 1),
        recompute_seconds=pick(args.recompute_seconds, 15.0, 2.0),
        recompute_memory_mb=float(args.recompute_memory_mb),
        configs=pick(args.configs, ("tiny", "paper"), ("tiny",)),
        weights=getattr(args, "weights", None),
        quick=quick,
        device=device,
    )


# ---------------------------------------------------------------------------------------------- measuring
def _say(text: str) -> None:
    print(text, flush=True)


class _Stepper:
    """Runs a workload's step, keeping the state between calls."""

    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self.state = workload.initial_state()
        self.done = 0

    def __call__(self) -> None:
        self.state = self.workload.step(self.state, self.done)
        self.done += 1


def _stream(workload: Workload, opts: Options) -> dict[str, Any]:
    from streammem.bench.measure import latency_summary, peak_bytes_of, tensor_bytes, timed
    from streammem.resources import current_rss_mb

    stepper = _Stepper(workload)
    began = time.perf_counter()
    rows = []
    for position in opts.positions:
        while stepper.done < position - 1:
            stepper()
        first = stepper.done + 1
        times = [timed(stepper, opts.device) for _ in range(opts.repeats)]
        rows.append({
            "position": position, "first_timed_step": first, "latency_ms": latency_summary(times),
            "state_bytes": tensor_bytes(stepper.state), "step_peak_bytes": peak_bytes_of(stepper, opts.device),
            "rss_mb": current_rss_mb(),
        })
        _say(f"  step {first}..{first + opts.repeats - 1}: p50 {rows[-1]['latency_ms']['p50']:.2f} ms, state "
             f"{rows[-1]['state_bytes']:,} bytes, RSS {rows[-1]['rss_mb']:.0f} MiB")
    paired = _paired_latency(stepper, workload, opts)
    _say(f"  alternating blocks: p50 {paired['first_ms']['p50']:.2f} ms at step {paired['first_position']:,} (a fresh "
         f"stream), {paired['last_ms']['p50']:.2f} ms past step {paired['last_position']:,}")
    return {"positions": rows, "paired": paired, "steps_run": stepper.done, "seconds": time.perf_counter() - began}


PAIRED_BLOCKS = 10  # alternating blocks of the long stream and a fresh one (fewer when there are fewer repeats)
PAIRED_SAMPLES = 3  # each stream of the pair is timed over this many times the repeats of a position row


def _paired_latency(long: _Stepper, workload: Workload, opts: Options) -> dict[str, Any]:
    """The long stream's step (past the last position) against a fresh stream's step at the first position,
    timed in alternating blocks within the same minute, so a machine whose speed drifts between the two
    positions (other jobs, clock changes) does not pass for a step whose cost grows with the stream."""
    from streammem.bench.measure import latency_summary, timed

    fresh = _Stepper(workload)
    while fresh.done < opts.positions[0] - 1:
        fresh()
    blocks = min(PAIRED_BLOCKS, opts.repeats)  # short blocks, so drift within the minute falls on both alike
    block = PAIRED_SAMPLES * opts.repeats // blocks  # more samples than a row: the target's ratio rests on them
    late: list[float] = []
    early: list[float] = []
    last = long.done + 1
    for _ in range(blocks):
        late += [timed(long, opts.device) for _ in range(block)]
        early += [timed(fresh, opts.device) for _ in range(block)]
    return {"first_position": opts.positions[0], "last_position": last, "blocks": blocks,
            "first_ms": latency_summary(early), "last_ms": latency_summary(late)}


def _memory_cap(opts: Options) -> tuple[float, str]:
    """The recompute's memory cap in bytes and how to say it: ``--recompute-memory-mb``, on CUDA never above
    the GPU memory free at the start (a larger run would fail, not measure)."""
    import torch

    cap = opts.recompute_memory_mb * 2**20
    if opts.device.type == "cuda":
        free = float(torch.cuda.mem_get_info(opts.device)[0])
        if free < cap:
            return free, f"{free / 2**20:.0f} MiB (the GPU memory free)"
    return cap, f"{cap / 2**20:.0f} MiB"


def _recompute(adapter: Any, workload: Workload, opts: Options) -> dict[str, Any]:
    """Measure the recompute along :data:`LADDER` within the caps, then fit time and peak memory in n."""
    from streammem.bench.measure import evaluate_fit, fit_polynomial, peak_bytes_of, timed

    targets = opts.positions
    ladder = sorted({n for n in LADDER if n <= targets[-1]} | set(targets))
    measured: list[dict[str, Any]] = []
    spent, stopped = 0.0, None
    cap_bytes, cap_text = _memory_cap(opts)
    tokens_per_step = 0
    for n in ladder:
        if measured:
            last = measured[-1]
            grow = (n / last["n"]) ** 2  # attention: quadratic in the history, a safe guess for both
            if last["peak_bytes"] * grow > cap_bytes:
                stopped = {"n": n, "reason": f"predicted live tensors over {cap_text}"}
                break
            if spent + last["ms"] / 1000 * grow * 2 > opts.recompute_seconds:
                stopped = {"n": n, "reason": f"predicted time over the {opts.recompute_seconds:g} s cap"}
                break
        began = time.perf_counter()
        job = adapter.recompute(workload, n)
        tokens_per_step = job.tokens // n
        peak = peak_bytes_of(job.run, opts.device)  # also the warm-up call
        times = []
        while len(times) < opts.repeats and (not times or spent + time.perf_counter() - began
                                               < opts.recompute_seconds * 0.5):
            times.append(timed(job.run, opts.device))
        measured.append({"n": n, "tokens": job.tokens, "ms": 1000 * statistics.median(times), "calls": len(times),
                         "peak_bytes": peak, "history_bytes": job.history_bytes})
        del job
        spent += time.perf_counter() - began
        _say(f"  recompute n={n} ({measured[-1]['tokens']:,} tokens): {measured[-1]['ms']:.1f} ms, "
             f"{peak / 2**20:.1f} MiB live")
    ns = [m["n"] for m in measured]
    fit_ms = fit_polynomial(ns, [m["ms"] for m in measured])
    fit_bytes = fit_polynomial(ns, [m["peak_bytes"] for m in measured])
    bytes_per_step = measured[-1]["history_bytes"] / measured[-1]["n"]
    at = []
    for n in targets:
        hit = next((m for m in measured if m["n"] == n), None)
        at.append({
            "n": n, "measured": hit is not None,
            "ms": hit["ms"] if hit else evaluate_fit(fit_ms, n),
            "peak_bytes": hit["peak_bytes"] if hit else evaluate_fit(fit_bytes, n),
            "history_bytes": hit["history_bytes"] if hit else bytes_per_step * n,
        })
    return {"what": adapter.RECOMPUTE, "tokens_per_step": tokens_per_step, "measured": measured, "stopped": stopped,
            "seconds": spent, "fit_ms": fit_ms, "fit_peak_bytes": fit_bytes, "at_positions": at}


def _ratios(stream: dict[str, Any], recompute: dict[str, Any]) -> dict[str, Any]:
    ours = stream["positions"][-1]
    theirs = recompute["at_positions"][-1]
    ours_bytes = ours["state_bytes"] + ours["step_peak_bytes"]
    their_bytes = theirs["history_bytes"] + theirs["peak_bytes"]
    return {
        "position": ours["position"], "ours_ms": ours["latency_ms"]["p50"], "recompute_ms": theirs["ms"],
        "speed": theirs["ms"] / ours["latency_ms"]["p50"], "ours_bytes": ours_bytes, "recompute_bytes": their_bytes,
        "memory": their_bytes / ours_bytes, "extrapolated": not theirs["measured"],
    }


def median_ms(fn: Callable[[], Any], opts: Options) -> float:
    """Median milliseconds of ``fn()`` over the run's repeats, after its warm-up calls (time-capped)."""
    from streammem.bench.measure import time_calls

    return 1000 * statistics.median(time_calls(fn, opts.warmup, opts.repeats, CALL_BUDGET, opts.device))


def _peers(adapter: Any, opts: Options) -> list[dict[str, Any]]:
    import torch

    from streammem.bench.measure import flops_of

    rows = []
    for config in opts.configs:
        for peer in adapter.peers(config, opts):
            ours_ms, peer_ms = median_ms(peer.ours, opts), median_ms(peer.theirs, opts)
            ours_flops, peer_flops = flops_of(peer.ours), flops_of(peer.theirs)
            diff = None
            if peer.same_output:
                a, b = peer.ours(), peer.theirs()
                diff = float((a - b).abs().max()) if isinstance(a, torch.Tensor) else None
            per_flop = (ours_ms / ours_flops) / (peer_ms / peer_flops) if ours_flops and peer_flops else None
            rows.append({
                "label": peer.label, "scope": peer.scope, "config": config, "peer": peer.peer, "ours_ms": ours_ms,
                "peer_ms": peer_ms, "ours_flops": ours_flops, "peer_flops": peer_flops,
                "time_ratio": ours_ms / peer_ms, "time_per_flop_ratio": per_flop, "max_abs_diff": diff,
            })
            _say(f"  {config} {peer.label}: ours {ours_ms:.2f} ms vs {peer.peer} {peer_ms:.2f} ms")
    return rows


def _efficiency(adapter: Any, stream_workload: Workload, opts: Options, rate: float) -> list[dict[str, Any]]:
    from streammem.bench.measure import (
        achieved_fraction,
        flops_of,
        latency_summary,
        time_calls,
        top_operators,
    )

    rows = []
    for config in opts.configs:
        workload = stream_workload if config == stream_workload.config else adapter.paper(opts)
        stepper = _Stepper(workload)
        flops = flops_of(stepper)  # also the first warm-up call
        ms = latency_summary(time_calls(stepper, opts.warmup - 1, opts.repeats, CALL_BUDGET, opts.device))["p50"]
        fraction = achieved_fraction(flops, ms / 1000, rate)
        profile = fraction < EFFICIENCY_FLOOR and opts.device.type == "cpu"  # self CPU time: not a GPU's kernels
        top = top_operators(stepper, calls=1 if ms > 500 else 3) if profile else None
        rows.append({
            "config": config, "label": workload.label, "flops_per_step": flops, "ms_p50": ms,
            "achieved_fraction": fraction, "top_operators": top,
            "real_time_factor": ms / 1000 / workload.seconds_per_step if workload.seconds_per_step else None,
        })
        _say(f"  {config}: {flops / 1e6:.1f} MFLOP per step in {ms:.2f} ms = {100 * fraction:.1f} % of the matmul rate")
    return rows


def _targets(stream: dict[str, Any], ratios: dict[str, Any]) -> dict[str, Any]:
    first, last = stream["positions"][0], stream["positions"][-1]
    latency = stream["paired"]["last_ms"]["p50"] / stream["paired"]["first_ms"]["p50"]  # same minute, see above
    state = last["state_bytes"] / first["state_bytes"] if first["state_bytes"] else float("nan")
    return {
        "flat_latency": {"ratio": latency, "limit": 1 + FLAT_TOLERANCE, "met": latency <= 1 + FLAT_TOLERANCE},
        "flat_state": {"ratio": state, "limit": 1 + FLAT_TOLERANCE, "met": state <= 1 + FLAT_TOLERANCE},
        "recompute_speed": {"ratio": ratios["speed"], "limit": RECOMPUTE_TARGET,
                            "met": ratios["speed"] >= RECOMPUTE_TARGET},
        "recompute_memory": {"ratio": ratios["memory"], "limit": RECOMPUTE_TARGET,
                             "met": ratios["memory"] >= RECOMPUTE_TARGET},
    }


def measure_task(task: str, opts: Options, rate: float) -> dict[str, Any]:
    """Every measurement of one task (see the module docstring) as a JSON-ready dict."""
    import torch

    adapter = importlib.import_module(f"streammem.bench.{task}")
    began = time.perf_counter()
    with torch.no_grad():
        workload = adapter.stream(opts)
        _say(f"== {task}: {workload.label}")
        stream = _stream(workload, opts)
        recompute = _recompute(adapter, workload, opts)
        ratios = _ratios(stream, recompute)
        peers = _peers(adapter, opts)
        efficiency = _efficiency(adapter, workload, opts, rate)
        extras = [e.row() for e in adapter.extras(workload, opts)] if hasattr(adapter, "extras") else []
    _say(f"  at step {ratios['position']:,}: {ratios['speed']:.3g}x faster and {ratios['memory']:.3g}x less memory "
         "than the full-context recompute" + (" (fitted)" if ratios["extrapolated"] else ""))
    return {
        "workload": {"label": workload.label, "config": workload.config, "step": workload.what,
                     "parameters": workload.parameters, "seconds_per_step": workload.seconds_per_step},
        "stream": stream, "recompute": recompute, "ratios": ratios, "peers": peers, "efficiency": efficiency,
        "extras": extras, "targets": _targets(stream, ratios), "wall_seconds": time.perf_counter() - began,
        "worst_operators": list(getattr(adapter, "WORST_OPERATORS", ())),
    }


# -------------------------------------------------------------------------------------------------- verbs
def _header(args: argparse.Namespace, opts: Options) -> dict[str, Any]:
    from streammem.bench.measure import machine, matmul_rate

    host = machine(int(args.threads), opts.device)
    rate = matmul_rate(opts.device)
    where = f"{args.threads} thread(s)" if opts.device.type == "cpu" else f"{host['device']} ({host['device_name']})"
    _say(f"dense fp32 matmul: {rate['flops_per_second'] / 1e9:.1f} GFLOP/s on {where}")
    return {
        "command": " ".join(["streammem", *sys.argv[1:]]) if sys.argv and "streammem" in sys.argv[0] else None,
        "machine": host, "matmul": rate,
        "options": {"positions": list(opts.positions), "repeats": opts.repeats, "warmup": opts.warmup,
                    "recompute_seconds": opts.recompute_seconds, "recompute_memory_mb": opts.recompute_memory_mb,
                    "configs": list(opts.configs), "quick": opts.quick},
    }


def _start(args: argparse.Namespace, name: str, tasks: Sequence[str]):
    """Threads, outputs and the device every task in ``tasks`` benchmarks on (each task module's
    ``BENCH_DEVICES``), checked before any work: (run, device)."""
    from streammem.tasks import common

    modules = [importlib.import_module(f"streammem.tasks.{task}") for task in tasks]
    supported = [d for d in common.ALL_DEVICES if all(d in common.supported_devices(m, "bench") for m in modules)]
    device = common.resolve_device(args.device, supported, f"streammem bench {name}")
    return common.start(args, task=name, verb="bench", stem=f"threads{args.threads}"), device


def bench_task(task: str, args: argparse.Namespace) -> int:
    """``streammem bench TASK``: one task's measurements -> bench.json."""
    run, device = _start(args, task, [task])
    opts = _options(args, device)
    result = _header(args, opts)
    began = time.perf_counter()
    result["tasks"] = {task: measure_task(task, opts, result["matmul"]["flops_per_second"])}
    result["wall_seconds"] = time.perf_counter() - began
    run.write_main_json("bench.json", result)
    return run.finish()


def bench_all(args: argparse.Namespace, tasks: Sequence[str] | None = None) -> int:
    """``streammem bench all``: every task in one run -> one bench.json (and the report with ``--report``)."""
    from streammem.errors import atomic_output
    from streammem.tasks import TASKS

    tasks = tuple(tasks or TASKS)
    run, device = _start(args, "all", tasks)
    report = None
    if args.report is not None:  # checked before any work, like every output
        from streammem.tasks.common import Outputs

        report = Outputs.plan("all", "bench", "report", args.report, main_suffixes=(".md",)).path(args.report.name)
    opts = _options(args, device)
    result = _header(args, opts)
    began = time.perf_counter()
    result["tasks"] = {}
    for task in tasks:
        result["tasks"][task] = measure_task(task, opts, result["matmul"]["flops_per_second"])
    result["wall_seconds"] = time.perf_counter() - began
    path = run.write_main_json("bench.json", result)
    if report is not None:
        from streammem.bench.report import render
        from streammem.tasks.common import json_safe

        with atomic_output(report) as tmp:
            tmp.write_text(render(json_safe(result), source=str(path)))
        run.record(report)
    return run.finish()
