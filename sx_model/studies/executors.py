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

:class:`ProcessExecutor` runs ``map`` on several local processes: the cascades are cut into
contiguous chunks (:func:`chunk_count`), and each worker solves a chunk in order with warm starts within
it, so each outcome is exactly what :class:`SerialExecutor` gives on that chunk (see
:meth:`ProcessExecutor.chunks`). :class:`DaskExecutor` does the same on a Dask distributed cluster
(the same chunking, counting the cluster's worker threads), so with k worker threads its outcomes are bit for bit
those of ``ProcessExecutor(workers=k)``. With ``warm=False`` every solve is cold and the outcomes do
not depend on the chunking at all. :func:`auto_executor` picks all local cores for batches large
enough to repay starting the processes.
"""
from __future__ import annotations

from ..errors import ConfigError, SxModelError


class _Closing:
    """Executors are context managers: ``with executor: ...`` releases what they hold (a cluster
    connection) at the end; local executors hold nothing."""

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SerialExecutor(_Closing):
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

    def run(self, func, arguments):
        """``func(*args)`` for each tuple of ``arguments``, in order (independent tasks of a study,
        e.g. one point of a curve each; ``func`` must be a module-level function for the parallel
        executors)."""
        return [func(*args) for args in arguments]


def _solve_chunk(payload):
    cascades, warm, options = payload
    return list(SerialExecutor(warm=warm, options=options).map(cascades))


#: The batch being mapped, inherited by forked workers (they build their own cascades from it).
_FORKED_BATCH = None


def _solve_range(payload):
    start, stop, warm, options = payload
    batch = _FORKED_BATCH
    return list(SerialExecutor(warm=warm, options=options).map(batch.at(i) for i in range(start, stop)))


def _ignore_interrupts():
    """Worker initializer: Ctrl-C is the parent's to handle (it stops the workers)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _forks():
    """Whether local pools fork: where there is fork, so that workers start without importing numpy
    and scipy again, but only while this process runs no other thread (a thread holding a lock at the
    fork, such as a Dask client's event loop, would leave the workers deadlocked)."""
    import multiprocessing
    import threading

    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _local_pool(processes, fork):
    """A multiprocessing pool of ``processes`` workers (forked or spawned), whose workers ignore
    Ctrl-C: the parent handles it and stops them. Forked workers see this process's memory as it is
    now."""
    import multiprocessing

    context = multiprocessing.get_context("fork" if fork else "spawn")
    return context.Pool(processes=processes, initializer=_ignore_interrupts)


def chunk_count(items: int, workers: int) -> int:
    """How many contiguous chunks a batch of ``items`` is cut into for ``workers`` workers: up to
    eight per worker (so that results and the progress bar come in as chunks finish, Ctrl-C keeps the
    finished ones and uneven solve times even out), none shorter than 32 solves (each chunk starts
    cold). The same for local processes and a Dask cluster, so both give the same outcomes for the
    same number of workers."""
    per_worker = min(8, max(1, items // (32 * max(1, workers))))
    return max(1, workers) * per_worker


def chunks(items, count):
    """``items`` cut into ``count`` contiguous chunks (sizes differing by at most 1; no empty ones)."""
    count = min(max(1, count), len(items)) or 1
    size, extra = divmod(len(items), count)
    out, start = [], 0
    for k in range(count):
        stop = start + size + (1 if k < extra else 0)
        out.append(items[start:stop])
        start = stop
    return [c for c in out if c]


class ProcessExecutor(_Closing):
    """Solve ``map`` batches on ``workers`` local processes (default: all cores).

    The batch is cut into contiguous chunks (:func:`chunk_count`: up to eight per worker), each solved in
    order with warm starts within it, so every outcome is bit for bit what
    ``SerialExecutor(warm=...).map(chunk)`` gives for its chunk; the first point of each chunk is a
    cold solve. Outcomes come back in order as the chunks finish. ``solve`` (one cascade, as the
    sequential searches of ``design`` and ``optimize`` need) runs in this process.
    """

    def __init__(self, workers: int | None = None, warm: bool = True, options=None):
        import os

        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.serial = SerialExecutor(warm=warm, options=options)
        self.warm, self.options = warm, options

    def solve(self, cascade):
        return self.serial.solve(cascade)

    def run(self, func, arguments):
        """``func(*args)`` for each tuple of ``arguments`` on the local processes, results in order
        (exceptions raised by a task are raised here)."""
        arguments = list(arguments)
        if self.workers == 1 or len(arguments) <= 1:
            return [func(*args) for args in arguments]
        pool = _local_pool(min(self.workers, len(arguments)), _forks())
        try:
            out = pool.starmap(func, arguments, chunksize=1)
            pool.close()
            return out
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()

    def chunks(self, items):
        """The contiguous chunks a batch is cut into (:func:`chunk_count`; sizes differing by at most 1)."""
        return chunks(items, chunk_count(len(items), self.workers))

    def map(self, cascades):
        """Outcomes in order. ``cascades`` may be a sized iterable (``len()``) that builds the cascades
        lazily: each chunk is then handed to a worker as soon as it is built, so the workers start
        while the rest are still being built. On Ctrl-C (or when the caller stops iterating) pending
        chunks are cancelled and the worker processes stopped."""
        if hasattr(cascades, "__len__"):
            count, source = len(cascades), iter(cascades)
        else:
            items = list(cascades)
            count, source = len(items), iter(items)
        sizes = [len(c) for c in chunks(list(range(count)), chunk_count(count, self.workers))]
        if len(sizes) <= 1:
            yield from self.serial.map(source)
            return
        import itertools
        import threading

        fork = _forks()
        # Forked workers inherit a batch that can build its own items (``at(i)``): they get index
        # ranges and build their cascades themselves, so the building is spread over the workers too
        # (set before the pool forks them).
        global _FORKED_BATCH
        by_index = fork and hasattr(cascades, "at")
        if by_index:
            _FORKED_BATCH = cascades
        pool = _local_pool(min(self.workers, len(sizes)), fork)
        # at most one task per worker in flight (a task waiting in the pipe would block the pool's
        # feeder thread, and terminate() on Ctrl-C would then wait on it forever); a worker that finishes
        # gets the next chunk at once, whichever chunk finished, and outcomes are yielded in order
        in_flight, done = {}, {}
        signal = threading.Event()
        finished = False

        def wake(_):
            signal.set()

        def collect():
            for k, result in list(in_flight.items()):
                if result.ready():
                    done[k] = result.get()
                    del in_flight[k]

        try:
            first, following = 0, 0
            for k, size in enumerate(sizes):
                if by_index:
                    task = (_solve_range, (first, first + size, self.warm, self.options))
                else:
                    task = (_solve_chunk, (list(itertools.islice(source, size)), self.warm, self.options))
                first += size
                while len(in_flight) >= self.workers:
                    signal.clear()          # before looking: a chunk finishing after the look wakes us
                    collect()
                    if len(in_flight) >= self.workers:
                        signal.wait(0.05)
                in_flight[k] = pool.apply_async(task[0], (task[1],), callback=wake, error_callback=wake)
                collect()
                while following in done:
                    yield from done.pop(following)
                    following += 1
            while following < len(sizes):
                signal.clear()
                collect()
                while following in done:
                    yield from done.pop(following)
                    following += 1
                if following < len(sizes) and following not in done:
                    signal.wait(0.05)
            finished = True
        finally:
            # normal end: let the workers finish; Ctrl-C or the caller stopped: stop them now
            if finished:
                pool.close()
            else:
                pool.terminate()
            pool.join()
            if by_index:
                _FORKED_BATCH = None


#: Smallest batch that :func:`auto_executor` runs on a process pool (below it, starting the processes
#: costs more than the cores save on typical solves of a few milliseconds).
AUTO_MIN_BATCH = 50


def auto_executor(count: int, warm: bool = True, options=None):
    """All local cores for a batch of ``count`` solves when there are several cores and the batch is
    at least :data:`AUTO_MIN_BATCH`, else the serial executor."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores > 1 and count >= AUTO_MIN_BATCH:
        return ProcessExecutor(workers=cores, warm=warm, options=options)
    return SerialExecutor(warm=warm, options=options)


class DaskExecutor(_Closing):
    """Solve ``map`` batches on a Dask distributed cluster.

    Parameters
    ----------
    scheduler : str or distributed.Client
        The scheduler's address (``tcp://10.0.0.5:8786``) or a connected client.
    warm : bool
        Warm starts within each chunk (default True).
    options : SteadyOptions, optional

    The batch is cut into contiguous chunks as for ``ProcessExecutor`` with one worker per worker
    thread of the cluster (counted at the time of ``map``), each solved in order on one worker; ``solve`` runs in this process. Needs the optional
    extra: ``pip install "sx-model[dask]"`` (or ``pip install "dask[distributed]"``).
    """

    def __init__(self, scheduler, warm: bool = True, options=None, timeout: float = 10.0):
        try:
            from distributed import Client
        except ImportError:
            raise ConfigError("--scheduler", "needs Dask distributed, which is not installed; install it "
                                             "with: pip install \"dask[distributed]\"") from None
        self.warm, self.options = warm, options
        self.serial = SerialExecutor(warm=warm, options=options)
        if isinstance(scheduler, Client):
            self.client, self._own = scheduler, False
        else:
            if not isinstance(scheduler, str) or not scheduler.strip():
                raise ConfigError("--scheduler", f"{scheduler!r}; expected an address such as "
                                                 "tcp://127.0.0.1:8786")
            try:
                self.client, self._own = Client(scheduler, timeout=timeout), True
            except (OSError, TimeoutError, ValueError) as exc:
                raise ConfigError("--scheduler", f"{scheduler!r}: cannot connect ({type(exc).__name__}: "
                                                 f"{' '.join(str(exc).split())[:120]}); expected the address "
                                                 "of a running Dask scheduler") from None

    def threads(self) -> int:
        info = self.client.scheduler_info()
        return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))

    def solve(self, cascade):
        return self.serial.solve(cascade)

    def run(self, func, arguments):
        """``func(*args)`` for each tuple of ``arguments`` on the cluster, results in order."""
        futures = [self.client.submit(func, *args, pure=False) for args in arguments]
        try:
            return [f.result() for f in futures]
        finally:
            for f in futures:
                f.cancel()

    def map(self, cascades):
        items = list(cascades)
        parts = chunks(items, chunk_count(len(items), self.threads()))
        futures = self.client.map(_solve_chunk, [(c, self.warm, self.options) for c in parts], pure=False)
        try:
            for future in futures:
                yield from future.result()
        finally:
            for future in futures:
                future.cancel()

    def close(self):
        if self._own:
            self.client.close()
