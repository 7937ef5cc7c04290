"""The shared measurements of the benchmark harness, on cases whose answer is known."""

import numpy as np
import pytest
import torch

from streammem.bench.measure import (
    evaluate_fit,
    fit_polynomial,
    flops_of,
    latency_summary,
    peak_bytes_of,
    tensor_bytes,
    time_calls,
)


def test_fit_recovers_a_quadratic_and_extrapolates_it():
    xs = [1, 2, 5, 10, 20]
    fit = fit_polynomial(xs, [3 + 0.5 * x + 0.25 * x * x for x in xs])
    assert fit["coefficients"] == pytest.approx([3, 0.5, 0.25], rel=1e-6)
    assert evaluate_fit(fit, 10_000) == pytest.approx(3 + 5_000 + 25_000_000, rel=1e-6)
    assert fit["max_relative_residual"] < 1e-9 and fit["points"][0] == [1.0, 3.75]


def test_fit_keeps_coefficients_non_negative():
    fit = fit_polynomial([1, 2, 3, 4], [10.0, 9.0, 8.0, 7.0])  # falling: a negative slope is not allowed
    assert min(fit["coefficients"]) >= 0


def test_flops_of_a_matmul_is_two_m_n_k():
    a, b = torch.randn(8, 16), torch.randn(16, 4)
    assert flops_of(lambda: a @ b) == 2 * 8 * 16 * 4


def test_flops_count_the_fused_transformer_encoder_path():
    layer = torch.nn.TransformerEncoderLayer(32, 4, 64, 0.0, batch_first=True)
    encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    with torch.no_grad():
        flops = flops_of(lambda: encoder(torch.randn(1, 10, 32)))
    linear = 2 * 10 * (32 * 96 + 32 * 32 + 32 * 64 + 64 * 32)  # qkv, out, FFN per layer
    assert flops >= 2 * linear and torch.backends.mha.get_fastpath_enabled()


def test_peak_bytes_sees_a_temporary_freed_before_the_end():
    def work():
        big = torch.ones(1024, 1024)  # 4 MiB, gone when work returns
        return big.sum()

    assert 4 * 2**20 <= peak_bytes_of(work) < 5 * 2**20


def test_tensor_bytes_of_a_state_tuple():
    assert tensor_bytes((torch.zeros(3, 4), [torch.zeros(2, dtype=torch.int64)], "text")) == 48 + 16


def test_latency_summary_percentiles_in_milliseconds():
    summary = latency_summary(np.arange(1, 101) / 1000)
    assert summary["p50"] == pytest.approx(50.5) and summary["p99"] == pytest.approx(99.01)
    assert summary["samples"] == 100


def test_time_calls_stops_at_the_budget_but_times_once():
    calls = []
    times = time_calls(lambda: calls.append(1), warmup=2, repeats=5)
    assert len(times) == 5 and len(calls) == 7
    assert len(time_calls(lambda: sum(range(10**5)), warmup=0, repeats=50, budget=0.0)) == 1
