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

:class:`ProcessExecutor` runs ``map`` on several local processes: :func:`plan` cuts the cascades into
contiguous chains (one per worker for warm starts, balanced by an estimate of each solve's cost), and
each worker solves a chain in order with warm starts within it, so each outcome is exactly what
:class:`SerialExecutor` gives on that chain (see :meth:`ProcessExecutor.chunks`); outcomes come back as
they are solved (``map_indexed`` gives them with their index). :class:`DaskExecutor` does the same on a
Dask distributed cluster (the same cut, counting the cluster's worker threads), so with k worker
threads its outcomes are bit for bit those of ``ProcessExecutor(workers=k)``. With ``warm=False`` every
solve is cold and the outcomes do not depend on the cut at all. :func:`auto_executor` picks all local
cores for batches large enough to repay starting the processes.
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


#: Estimated cost of a solve, relative to its fixed part, grows by one for every this many stages x
#: components (an estimate from the 200-point Pr/Nd scrub-stage sweep, 10-209 scrub stages, on a
#: quiet 2-core machine: building and warm-solving a point takes about 2.7 ms plus 1.6 us per stage
#: and component; see benchmarks/README.md). Estimates only decide where a batch is cut, never what a
#: solve gives.
SIZE_SCALE = 1700.0
#: A cold solve (the first of each chain) costs up to this many warm solves more (estimate from the
#: same sweep: 3.7-4.0 more from 130 stages on) ...
COLD_EXTRA = 4.0
#: ... and less on short cascades: COLD_SLOPE times the size part of its weight (0.3 more at 30
#: stages, 2.6 at 80 in the same sweep; the model gives 1.1 and 2.8).
COLD_SLOPE = 30.0
#: Shortest chain of warm-started solves a warm batch is cut into (each chain starts cold).
MIN_CHAIN = 32
#: Chains per worker for warm batches (each chain starts with a cold solve, which costs several warm
#: ones, so one per worker).
CHAINS_PER_WORKER = 1
#: Chunks per worker for cold batches (every solve starts cold, so many small chunks cost nothing and
#: even out uneven solve times), none shorter than :data:`MIN_COLD_CHUNK`.
COLD_CHUNKS_PER_WORKER = 16
MIN_COLD_CHUNK = 4


def solve_weight(cascade) -> float:
    """Estimated cost of a warm solve of ``cascade`` relative to the fixed part of a solve (1 for a very
    small cascade), from its size alone; an item that is already an error costs nothing, one of
    unknown size 1."""
    if isinstance(cascade, BaseException):
        return 0.0
    try:
        return weight_of_size(int(cascade.stage_count), len(cascade.components))
    except (AttributeError, TypeError, ValueError):
        return 1.0


def weight_of_size(stages: int, components: int) -> float:
    """:func:`solve_weight` of a cascade with ``stages`` stages and ``components`` components."""
    return 1.0 + stages * components / SIZE_SCALE


def cold_extra(weight: float) -> float:
    """Estimated extra cost of solving cold (the first point of a chain) an item of ``weight``."""
    return 0.0 if weight <= 0.0 else min(COLD_EXTRA, COLD_SLOPE * max(0.0, weight - 1.0))


def plan(weights, workers: int, warm: bool = True):
    """How a batch is cut for ``workers`` workers: a list of contiguous ``(start, stop)`` index ranges
    covering it in order. A warm batch is cut into :data:`CHAINS_PER_WORKER` chains per worker (at
    least one per worker, none shorter than :data:`MIN_CHAIN` solves when the batch is long enough),
    each solved in order with warm starts; a cold batch into up to :data:`COLD_CHUNKS_PER_WORKER`
    chunks per worker. The cut makes the most costly chain as cheap as it can be, by the estimated
    costs: ``weights`` (e.g. :func:`solve_weight` of each item) plus, for warm batches, the cold start
    of each chain (:func:`cold_extra`). It depends only on the weights and the number of workers (never
    on timing), and is the same for local processes and a Dask cluster."""
    import bisect

    weights = [max(0.0, float(w)) for w in weights]
    n, workers = len(weights), max(1, int(workers))
    if n == 0:
        return []
    if warm:
        count = workers * max(1, min(CHAINS_PER_WORKER, n // (MIN_CHAIN * workers)))
    else:
        count = workers * max(1, min(COLD_CHUNKS_PER_WORKER, n // (MIN_COLD_CHUNK * workers)))
    count = min(count, n)
    if sum(weights) <= 0.0:                  # nothing to go by (all errors): cut by count
        weights = [1.0] * n
    head = [cold_extra(w) if warm else 0.0 for w in weights]
    prefix = [0.0]
    for w in weights:
        prefix.append(prefix[-1] + w)

    def cut(limit):
        """Chains filled greedily up to ``limit`` (each at least one item), or None if more than
        ``count`` are needed."""
        out, start = [], 0
        while start < n:
            if len(out) == count:
                return None
            stop = bisect.bisect_right(prefix, prefix[start] + limit - head[start], lo=start + 1) - 1
            stop = max(stop, start + 1)
            out.append((start, stop))
            start = stop
        return out

    low = max(weights[i] + head[i] for i in range(n))              # no chain is cheaper than its dearest item
    high = prefix[n] + max(head)
    best = cut(high)
    for _ in range(60):                      # bisection on the cost of the dearest chain
        if high - low <= 1e-9 * high:
            break
        middle = (low + high) / 2.0
        ranges = cut(middle)
        if ranges is None:
            low = middle
        else:
            high, best = middle, ranges
    return best


def batch_weights(cascades, items=None):
    """The weights :func:`plan` cuts a batch by: the batch's own estimate when it offers one
    (``weights()``, e.g. a sweep computing stage counts from its grid without building the cascades),
    else :func:`solve_weight` of each of ``items`` (the built batch)."""
    if hasattr(cascades, "weights"):
        return list(cascades.weights())
    return [solve_weight(c) for c in items]


#: Seconds a worker collects outcomes before sending them to the parent (and at the end of a chunk).
SEND_EVERY = 0.05
#: Longest message [bytes] sent to a worker that is still busy with a chunk (index ranges always are
#: short; a chunk of cascades may not be): well under the buffer of a local pipe.
PIPE_WAITING = 32768


def _worker(conn, batch, warm, options, close):
    """A local worker: receives chunks ``(chunk, start, stop, cascades)`` (``cascades`` None: build them
    with ``batch.at``), solves each in order with warm starts, and sends back ``(chunk, offset,
    outcomes, last)`` every :data:`SEND_EVERY` seconds and at the end of the chunk; ``None`` ends it.
    An unexpected exception is sent as ``("error", exception)``."""
    import signal
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is the parent's: it stops the workers
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    for other in close:                                # the other ends of the pipes (fork only)
        other.close()
    try:
        while True:
            task = conn.recv()
            if task is None:
                return
            chunk, start, stop, cascades = task
            if cascades is None:
                cascades = (batch.at(i) for i in range(start, stop))
            solver = SerialExecutor(warm=warm, options=options)
            pending, offset, last = [], 0, time.perf_counter()
            for outcome in solver.map(cascades):
                pending.append(outcome)
                now = time.perf_counter()
                if now - last >= SEND_EVERY and offset + len(pending) < stop - start:
                    conn.send((chunk, offset, pending, False))
                    offset, pending, last = offset + len(pending), [], now
            conn.send((chunk, offset, pending, True))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return
    except BaseException as exc:                       # a bug: the parent raises it
        try:
            conn.send(("error", exc))
        except Exception:
            import traceback

            conn.send(("error", RuntimeError("a worker process failed:\n" + traceback.format_exc())))


class _Items:
    """A built batch as forked workers read it (``at(i)``)."""

    def __init__(self, items):
        self.items = items

    def at(self, index):
        return self.items[index]


class _Workers:
    """Local worker processes, each with its own pipe; chunks go out one or two at a time per worker
    (the second waits in the pipe, so a worker goes on to its next chunk without waiting for the
    parent), outcomes come back as they are solved."""

    def __init__(self, count, fork, batch, warm, options):
        import multiprocessing
        import signal

        context = multiprocessing.get_context("fork" if fork else "spawn")
        pipes = [context.Pipe() for _ in range(count)]
        self.conns = [parent for parent, _ in pipes]
        self.processes, self.released = [], False
        # SIGINT blocked while starting them: a Ctrl-C at that moment is the parent's alone
        # (each worker ignores it before unblocking it)
        mask = getattr(signal, "pthread_sigmask", None)
        old = mask(signal.SIG_BLOCK, {signal.SIGINT}) if mask else None
        try:
            for parent, child in pipes:
                # a forked worker closes its copies of the other pipes' ends, so that the end of any
                # process is seen (EOF) by the one at the other end
                close = [c for pair in pipes for c in pair if c is not child] if fork else []
                p = context.Process(target=_worker, args=(child, batch if fork else None, warm, options, close),
                                    daemon=True)
                p.start()
                self.processes.append(p)
        except BaseException:
            self.stop()
            raise
        finally:
            if mask:
                mask(signal.SIG_SETMASK, old)
            for _, child in pipes:
                child.close()

    def release(self):
        """No more chunks: each worker ends once it has finished those it has (the end message waits
        in its pipe behind them)."""
        if not self.released:
            self.released = True
            for conn in self.conns:
                try:
                    conn.send(None)
                except OSError:
                    pass

    def stop(self, wait=False):
        """Normal end (``wait``): the workers have been released and end by themselves (they are not
        waited for: multiprocessing reaps them when it next starts or lists processes); else stop them
        now."""
        if wait:
            self.release()
        for conn in self.conns:
            try:
                conn.close()
            except OSError:
                pass
        for p in self.processes:
            if wait:
                p.join(0)
            else:
                p.terminate()
        if not wait:
            for p in self.processes:
                p.join()


class ProcessExecutor(_Closing):
    """Solve ``map`` batches on ``workers`` local processes (default: all cores).

    The batch is cut into contiguous chains by :func:`plan` (one per worker for warm batches, balanced
    by the estimated cost of each solve), each solved in order with warm starts within it, so every
    outcome is bit for bit what ``SerialExecutor(warm=...).map(chain)`` gives for its chain; the first
    point of each chain is a cold solve. Workers send outcomes back as they solve them (every
    :data:`SEND_EVERY` seconds), so progress and an interrupted batch see them at once. ``solve`` (one
    cascade, as the sequential searches of ``design`` and ``optimize`` need) runs in this process.
    """

    def __init__(self, workers: int | None = None, warm: bool = True, options=None):
        import os

        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.serial = SerialExecutor(warm=warm, options=options)
        self.warm, self.options = warm, options

    #: Whether this process is one of the ``workers`` (it solves chunks between reading the others'
    #: outcomes, so ``workers=2`` starts one more process, not two).
    own_share = True

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

    def plan(self, cascades):
        """The ``(start, stop)`` ranges a batch is cut into (:func:`plan`)."""
        items = None if hasattr(cascades, "weights") else list(cascades)
        return plan(batch_weights(cascades, items), self.workers, self.warm)

    def chunks(self, items):
        """The chains a built batch is cut into (:meth:`plan`), as lists of its items."""
        items = list(items)
        return [items[a:b] for a, b in self.plan(items)]

    def map(self, cascades):
        """Outcomes in order (see :meth:`map_indexed`)."""
        done, following = {}, 0
        for index, outcome in self.map_indexed(cascades):
            done[index] = outcome
            while following in done:
                yield done.pop(following)
                following += 1

    def map_indexed(self, cascades):
        """``(index, outcome)`` pairs as the workers solve them: each chain's in order, the chains side by
        side. ``cascades`` may be a sized batch that builds its items lazily (``len()``; ``at(i)`` and
        ``weights()`` optional): forked workers then build their own items from index ranges. On
        Ctrl-C (or when the caller stops iterating) the worker processes are stopped at once."""
        by_index = hasattr(cascades, "__len__") and hasattr(cascades, "at") and hasattr(cascades, "weights")
        # a sized batch of cold solves is built as it is handed out (the cut does not change what cold
        # solves give, so it need not be weighed first): the workers start while it is being built
        stream = not self.warm and not by_index and hasattr(cascades, "__len__")
        fork = _forks()
        if by_index or stream:
            count, items = len(cascades), None
        else:
            items = list(cascades)
            count = len(items)
        ranges = plan([1.0] * count if stream else batch_weights(cascades, items), self.workers, self.warm)
        if len(ranges) <= 1:
            source = (cascades.at(i) for i in range(count)) if by_index else (items if items is not None
                                                                               else cascades)
            yield from enumerate(self.serial.map(source))
            return
        import itertools
        from multiprocessing.connection import wait
        from multiprocessing.reduction import ForkingPickler

        if by_index and not fork:
            items = [cascades.at(i) for i in range(count)]
        source = iter(cascades) if stream else None
        # forked workers see the batch in their memory: they get index ranges (and build the items of
        # a lazy batch themselves); spawned ones, and those of a streamed batch, get the items
        lazy = fork and not stream
        here = 1 if self.own_share else 0               # this process solves chunks too
        workers = _Workers(min(self.workers, len(ranges)) - here, fork,
                           (cascades if items is None else _Items(items)) if lazy else None, self.warm,
                           self.options)
        finished = False
        try:
            queue = list(enumerate(ranges))[::-1]       # next chunk last
            load = {conn: 0 for conn in workers.conns}  # chunks sent and not finished
            held = {}                                   # a long chunk waiting for its worker to be idle

            def items_of(a, b):
                """The items of a chunk (a streamed batch is read in order, as the chunks are taken)."""
                if stream:
                    return list(itertools.islice(source, b - a))
                return items[a:b]

            def give(conn):
                """Send ``conn`` its next chunk; False if it is held back until the worker is idle."""
                if conn in held:
                    data = held.pop(conn)
                else:
                    chunk, (a, b) = queue.pop()
                    data = ForkingPickler.dumps((chunk, a, b, None if lazy else items_of(a, b)))
                # one chunk waits in the pipe behind the one being solved only if it is short: a long
                # message into a busy worker's pipe could block both sides
                if load[conn] and len(data) > PIPE_WAITING:
                    held[conn] = data
                    return False
                conn.send_bytes(data)
                load[conn] += 1
                if not queue and not held:     # the last chunk is out: the workers end after theirs
                    workers.release()
                return True

            def own_chunk():
                """The next chunk, solved here: (index, outcome) pairs."""
                chunk, (a, b) = queue.pop()
                todo = (cascades.at(i) for i in range(a, b)) if items is None and not stream else items_of(a, b)
                if not queue and not held:
                    workers.release()
                return enumerate(SerialExecutor(warm=self.warm, options=self.options).map(todo), a)

            own = own_chunk() if here else None         # the first chunk is this process's
            # one chunk each, then one more waiting in the pipe, so that a worker goes on at once
            most = 2
            for depth in range(1, most + 1):
                for conn in workers.conns:
                    if (queue or conn in held) and load[conn] < depth:
                        give(conn)
            remaining = count
            while remaining:
                busy = [c for c in workers.conns if load[c]]
                if own is None and here and queue:
                    own = own_chunk()
                if own is None and not busy:
                    raise RuntimeError(f"{remaining} outcomes missing and no chunk in progress")
                # while solving here, only look at the pipes between solves
                for conn in (wait(busy, 0 if own is not None else None) if busy else []):
                    try:
                        message = conn.recv()
                    except (EOFError, OSError):
                        codes = [p.exitcode for p in workers.processes if p.exitcode not in (None, 0)]
                        raise RuntimeError(f"a worker process stopped unexpectedly (exit code "
                                           f"{codes[0] if codes else 'unknown'})") from None
                    if message[0] == "error":
                        raise message[1]
                    chunk, offset, outcomes, last = message
                    if last:
                        load[conn] -= 1
                        while (queue or conn in held) and load[conn] < most and give(conn):
                            pass
                    first = ranges[chunk][0] + offset
                    remaining -= len(outcomes)
                    for k, outcome in enumerate(outcomes):
                        yield first + k, outcome
                if own is not None:
                    pair = next(own, None)
                    if pair is None:
                        own = None
                    else:
                        remaining -= 1
                        yield pair
            finished = True
        finally:
            workers.stop(wait=finished)


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
        parts = [items[a:b] for a, b in plan(batch_weights(cascades, items), self.threads(), self.warm)]
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
