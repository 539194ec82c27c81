"""Executors: where a study's cascade solves run.

A study hands its cascades to an executor and gets back, for each, a
:class:`~sx_model.results.SteadyResult` or the :class:`~sx_model.errors.SxModelError` that the solve
raised (a failed point is data, not the end of the study). :class:`SerialExecutor` (the default) solves
in the calling process, each solve warm-started from the last converged one, which is what makes
sweeps along a range fast. A process pool or a distributed scheduler plugs in by offering the same
two methods:

``solve(cascade)``
    One cascade, now.
``map(cascades)``
    An iterable of cascades -> an iterator of outcomes in the same order.

:class:`ProcessExecutor` runs ``map`` on several local processes: the cascades are cut into one
contiguous chunk per worker, and each worker solves its chunk in order with warm starts within the
chunk, so each outcome is exactly what :class:`SerialExecutor` gives on that chunk (see
:meth:`ProcessExecutor.chunks`).
"""
from __future__ import annotations

from ..errors import SxModelError


class SerialExecutor:
    """Solve in this process, in order, warm-starting each solve from the previous converged result.

    Parameters
    ----------
    warm : bool
        Warm-start from the previous result (default True).
    options : SteadyOptions, optional
        Solver options for every solve.
    """

    def __init__(self, warm: bool = True, options=None):
        self.warm = warm
        self.options = options
        self.previous = None

    def solve(self, cascade):
        from ..solvers.steady import solve

        try:
            result = solve(cascade, initial=self.previous if self.warm else None, options=self.options)
        except SxModelError as exc:
            return exc
        self.previous = result
        return result

    def map(self, cascades):
        """Outcomes in order; an item that is already an error (inputs that could not be applied)
        is passed through."""
        for cascade in cascades:
            yield cascade if isinstance(cascade, SxModelError) else self.solve(cascade)


def _solve_chunk(payload):
    cascades, warm, options = payload
    return list(SerialExecutor(warm=warm, options=options).map(cascades))


class ProcessExecutor:
    """Solve ``map`` batches on ``workers`` local processes (default: all cores).

    Each worker gets one contiguous chunk of the batch and warm-starts within it, so every outcome is
    bit for bit what ``SerialExecutor(warm=...).map(chunk)`` gives for its chunk; the first point of
    each chunk is a cold solve. ``solve`` (one cascade, as the sequential searches of ``design`` and
    ``optimize`` need) runs in this process.
    """

    def __init__(self, workers: int | None = None, warm: bool = True, options=None):
        import os

        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.serial = SerialExecutor(warm=warm, options=options)
        self.warm, self.options = warm, options

    def solve(self, cascade):
        return self.serial.solve(cascade)

    def chunks(self, items):
        """The contiguous chunks a batch is cut into (one per worker, sizes differing by at most 1)."""
        count = min(self.workers, len(items)) or 1
        size, extra = divmod(len(items), count)
        out, start = [], 0
        for k in range(count):
            stop = start + size + (1 if k < extra else 0)
            out.append(items[start:stop])
            start = stop
        return [c for c in out if c]

    def map(self, cascades):
        items = list(cascades)
        chunks = self.chunks(items)
        if len(chunks) <= 1:
            yield from self.serial.map(items)
            return
        from concurrent.futures import ProcessPoolExecutor as Pool
        import multiprocessing

        # fork where there is one: workers start without importing numpy and scipy again
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with Pool(max_workers=len(chunks), mp_context=context) as pool:
            for outcomes in pool.map(_solve_chunk, [(c, self.warm, self.options) for c in chunks]):
                yield from outcomes
