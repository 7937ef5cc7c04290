"""Process memory for benchmarks: the resident set now (not the peak), so growth along a stream shows."""

from __future__ import annotations

import os
import resource

__all__ = ["current_rss_mb", "peak_rss_mb"]


def current_rss_mb() -> float:
    """Resident set size of this process now, in MiB (Linux ``/proc/self/statm``; elsewhere the peak)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
