"""Cold and warm solves against cascade size, each as a ratio to the sparse-LU floor of the same run.

Cases (16 components): the separation-factor group split of ``run.py`` case 3 at Xu-optimum flows
(S - W equal to the extractable share of the feed: the material-balance edge), and the saponified
mass_action closed loop of ``bench_mass_action.py``, at 100, 300 and 1000 stages (3000 with --big).

- cold: ``sx_model.solve(cascade)``; warm: from the result of the same cascade with a 1 % smaller feed
  flow (one step of a sweep); both single runs after an untimed warm-up of the imports (the large cold
  solves take too long to repeat).
- LU floor: median time of one ``scipy.sparse.linalg.splu`` (natural column order, the best SuperLU
  ordering here) of the Jacobian at the solution; "x LU" is the solve time in units of that floor. The
  solver itself factors with LAPACK's banded LU plus a low-rank correction for recycles
  (``sx_model/solvers/linalg.py``); that time is reported beside it ("band").

    python benchmarks/bench_scaling.py [--big] [--sizes 100,300] [--out FILE.json] [--cpu]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

import sx_model  # noqa: E402
from bench_mass_action import SERIES, loop_config  # noqa: E402
from run import neighbour, ree16  # noqa: E402
from sx_model.solvers.linalg import factor, superlu  # noqa: E402
from sx_model.solvers.steady import newton_system  # noqa: E402


#: The clock: wall time by default; ``--cpu`` uses this process's CPU time (with one BLAS thread),
#: which other jobs on a shared machine disturb far less.
CLOCK = time.perf_counter


def lu_floor(cascade, result, repeats=5):
    system, u = newton_system(cascade, initial=result)
    _, jac = system.residual(u)
    medians = []
    for fn in (superlu, factor):
        times = []
        for _ in range(repeats):
            start = CLOCK()
            fn(jac)
            times.append(CLOCK() - start)
        medians.append(statistics.median(times))
    return medians[0], medians[1], jac.shape[0]


def timed(fn):
    start = CLOCK()
    try:
        out = fn()
    except sx_model.SxModelError as exc:
        return CLOCK() - start, None, str(exc)
    return CLOCK() - start, out, None


def case(label, config):
    cascade = sx_model.load_config(config)
    record = {"case": label, "stages": cascade.stage_count, "components": len(cascade.components)}
    cold_s, result, error = timed(lambda: sx_model.solve(cascade))
    record.update(cold_s=cold_s, cold_method=result.method if result else None,
                  cold_iterations=result.iterations if result else None, cold_error=error)
    if result is None:
        return record
    near = sx_model.solve(sx_model.load_config(neighbour(config)))
    warm_s, warm, error = timed(lambda: sx_model.solve(cascade, initial=near))
    record.update(warm_s=warm_s, warm_method=warm.method if warm else None,
                  warm_iterations=warm.iterations if warm else None, warm_error=error)
    record["lu_s"], record["band_s"], record["unknowns"] = lu_floor(cascade, result)
    return record


def configs(sizes):
    for n in sizes:
        yield f"separation_factor {n} x 16", ree16(n // 2, n - n // 2)
        yield f"mass_action loop {n} x 16", loop_config(SERIES, int(0.4 * n), int(0.4 * n), n - 2 * int(0.4 * n))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="also 3000 stages")
    parser.add_argument("--sizes", default=None, help="comma-separated stage counts (default 100,300,1000)")
    parser.add_argument("--out", help="write the records as JSON")
    parser.add_argument("--cpu", action="store_true",
                        help="time with this process's CPU time (set OPENBLAS_NUM_THREADS=1) instead of wall time")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.cpu else time.perf_counter
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [100, 300, 1000] + ([3000] if args.big else [])
    sx_model.solve(sx_model.load_config(ree16(10, 10)))        # imports outside the timing
    records = []
    print(f"{'case':<30} {'cold':>9} {'x LU':>7} {'method (iterations)':<44} {'warm':>9} {'x LU':>7} {'LU':>8} {'band':>8}")
    for label, config in configs(sizes):
        r = case(label, config)
        records.append(r)
        lu = r.get("lu_s")
        cold = f"{r['cold_s']:.3f} s" if r["cold_error"] is None else "FAILED"
        warm = f"{r['warm_s']:.3f} s" if r.get("warm_s") is not None and not r.get("warm_error") else "-"
        print(f"{label:<30} {cold:>9} {r['cold_s'] / lu if lu else float('nan'):>7.0f} "
              f"{str(r['cold_method']) + ' (' + str(r['cold_iterations']) + ')':<44} {warm:>9} "
              f"{r['warm_s'] / lu if lu and r.get('warm_s') else float('nan'):>7.1f} "
              f"{1e3 * lu if lu else float('nan'):>6.1f}ms {1e3 * r.get('band_s', float('nan')):>6.1f}ms", flush=True)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(records, handle, indent=2)


if __name__ == "__main__":
    main()
