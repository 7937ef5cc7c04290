"""Benchmark memory readings: the current resident set follows allocations; the peak never falls."""

import numpy as np

from streammem.resources import current_rss_mb, peak_rss_mb


def test_current_rss_grows_with_a_touched_allocation_and_peak_bounds_it():
    before = current_rss_mb()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, every page written
    during = current_rss_mb()
    assert during - before > 48
    assert peak_rss_mb() >= during - 1
    del block
    assert current_rss_mb() < during - 32  # freed: the current reading falls, unlike ru_maxrss
