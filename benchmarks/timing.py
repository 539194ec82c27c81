"""Shared timing helper of the benchmarks."""
from __future__ import annotations

import statistics
import time


def median_time(func, repeats):
    """Median wall time [s] of ``repeats`` calls of ``func()``, after one untimed call."""
    func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
