"""The benchmark harness behind ``streammem bench TASK`` and ``streammem bench all``.

:mod:`~streammem.bench.harness` measures (streaming step at stream positions, full-context recompute,
equal-size peers, FLOPs against the machine's matmul rate) and writes one JSON; each task's adapter
(``streammem.bench.<task>``) only says how to build its workloads; :mod:`~streammem.bench.report` renders
the JSON as ``docs/benchmarks.md``. Importing this package is cheap (torch loads when a bench runs).
"""

from streammem.bench.harness import add_all_arguments, add_arguments, bench_all, bench_task

__all__ = ["add_all_arguments", "add_arguments", "bench_all", "bench_task"]
