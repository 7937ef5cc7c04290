"""Evaluation: pure metric functions (``functional``), mmengine accumulators (``metrics``), ``streammem score``.

Percent metrics are on a 0-100 scale everywhere, counts are integers, latencies are in seconds.
Submodules import their libraries (trackeval, jiwer, mmengine) themselves, so importing this package is cheap.
"""
