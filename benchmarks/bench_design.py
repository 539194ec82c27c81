"""Benchmarks of sweeps, design and cost optimisation on the Pr/Nd config.

Run: python benchmarks/bench_design.py [--quick]. Reports the time of a 100-point stage-count sweep
with warm starts (each point started from its neighbour, resampled onto the new stage count) against
the same sweep with cold starts (baseline, same run), the end-to-end time of a 99.9 %/99.9 % design,
and the time, solve count and solves per second of the cost optimisation (which also traces the Pareto
front).
"""
from __future__ import annotations

import argparse
import copy
import pathlib
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main(argv=None):
    import sx_model
    from sx_model.config import read_yaml

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 points instead of 100")
    parser.add_argument("--parallel-only", action="store_true",
                        help="only the 200-point sweep on 2 processes against the serial run")
    parser.add_argument("--repeats", type=int, default=7, help="alternated runs of the parallel sweep (7)")
    args = parser.parse_args(argv)
    config = read_yaml(ROOT / "configs" / "prnd_p507.yaml")
    if args.parallel_only:
        sx_model.solve(sx_model.load_config(config))
        parallel_sweep(config, list(range(10, 210)), args.repeats)
        return
    counts = list(range(10, 10 + (20 if args.quick else 100)))
    sx_model.solve(sx_model.load_config(config))          # imports and caches outside the timing

    start = time.perf_counter()
    warm = sx_model.sweep(config, {"sections.scrub.stages": counts}, progress=False)
    t_warm = time.perf_counter() - start

    start = time.perf_counter()
    cold_failures = 0
    base = sx_model.load_config(config)
    for m in counts:
        try:
            sx_model.solve(base.replace(stages={"scrub": m}))
        except sx_model.ConvergenceError:
            cold_failures += 1
    t_cold = time.perf_counter() - start

    start = time.perf_counter()
    result = sx_model.design(config, sx_model.Targets(0.999, 0.999))
    t_design = time.perf_counter() - start

    start = time.perf_counter()
    best = sx_model.optimize(config, sx_model.Targets(0.999, 0.999))
    t_opt = time.perf_counter() - start

    n = len(counts)
    print(f"{n}-point scrub-stage sweep (m = {counts[0]}..{counts[-1]}), Pr/Nd config")
    print(f"  warm starts : {t_warm:.3f} s total, {1e3 * t_warm / n:.2f} ms/point, "
          f"{len(warm.failed)} failed")
    print(f"  cold starts : {t_cold:.3f} s total, {1e3 * t_cold / n:.2f} ms/point, {cold_failures} failed "
          f"(baseline)")
    print(f"  ratio cold/warm: {t_cold / t_warm:.2f}")
    print(f"design Pr/Nd 99.9 %/99.9 %: {t_design:.3f} s, {result.solves} solves, met {result.met}, "
          f"n = {result.final['extraction_stages']}, m = {result.final['scrub_stages']}")
    print(f"optimize (= pareto) Pr/Nd 99.9 %/99.9 %: {t_opt:.3f} s, {best.solves} solves, "
          f"{best.solves / t_opt:.0f} solves/s; cheapest n = {best.best.n}, m = {best.best.m}, "
          f"{best.best.usd_per_kg:.4f} USD/kg; {len(best.front)} designs on the front")
    parallel_sweep(config, list(range(10, 210)), args.repeats)


def parallel_sweep(config, counts, repeats=7):
    """A 200-point sweep on 2 local processes against the serial run in the same process: the whole
    ``sx_model.sweep`` call each time (reading the config, starting the processes, collecting the
    results), alternated, median of ``repeats`` each."""
    import os
    import statistics

    import sx_model
    from sx_model.studies.executors import ProcessExecutor

    vary = {"sections.scrub.stages": counts}
    serial, pool = [], []
    load = os.getloadavg()[0]
    for _ in range(repeats):
        start = time.perf_counter()
        sx_model.sweep(config, vary, progress=False)
        serial.append(time.perf_counter() - start)
        start = time.perf_counter()
        sx_model.sweep(config, vary, progress=False, executor=ProcessExecutor(workers=2))
        pool.append(time.perf_counter() - start)
    t_serial, t_pool = statistics.median(serial), statistics.median(pool)
    print(f"{len(counts)}-point sweep (median of {repeats}), serial {t_serial:.3f} s, 2 processes {t_pool:.3f} s "
          f"(including their start-up): {t_serial / t_pool:.2f}x; 1-minute load {load:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after")
    print("  serial runs     " + " ".join(f"{t:.3f}" for t in serial))
    print("  2 processes     " + " ".join(f"{t:.3f}" for t in pool))


if __name__ == "__main__":
    main()
