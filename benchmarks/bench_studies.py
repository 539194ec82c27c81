"""Benchmarks of the uncertainty and sensitivity studies on the Pr/Nd config.

Run: python benchmarks/bench_studies.py [--quick]. Reports

- Monte Carlo: the 1000-sample study of configs/prnd_p507_uncertain.yaml on one process and on two
  (ratio serial / parallel, same run), and that both give identical samples;
- sensitivity: derivatives of every output with respect to every default input from the converged
  Jacobian, against central finite differences of full re-solves of the same inputs (baseline, same
  run): time ratio and the largest relative difference.
"""
from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main(argv=None):
    import sx_model
    from sx_model.config import load_uncertainty
    from sx_model.config.edits import variable
    from sx_model.results import key_outputs
    from sx_model.studies.executors import ProcessExecutor
    from sx_model.studies.sensitivity import sensitivity
    from sx_model.studies.uncertainty import uncertainty

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 samples instead of 1000")
    args = parser.parse_args(argv)
    samples = 200 if args.quick else 1000
    cascade, spec = load_uncertainty(ROOT / "configs" / "prnd_p507_uncertain.yaml")
    sx_model.solve(cascade)                               # imports and caches outside the timing

    start = time.perf_counter()
    serial = uncertainty(cascade, spec, samples=samples, progress=False)
    t_serial = time.perf_counter() - start
    start = time.perf_counter()
    parallel = uncertainty(cascade, spec, samples=samples, executor=ProcessExecutor(workers=2, warm=False),
                           progress=False)
    t_parallel = time.perf_counter() - start
    same = np.array_equal(serial.samples, parallel.samples, equal_nan=True)
    p, se, _ = serial.probability()
    print(f"Monte Carlo, {samples} samples (Latin hypercube), Pr/Nd:")
    print(f"  one process : {t_serial:.2f} s ({1e3 * t_serial / samples:.2f} ms/sample), "
          f"{int(serial.ok.sum())} solved; P(targets met) = {p:.3f} +- {se:.3f}")
    print(f"  two processes: {t_parallel:.2f} s; ratio {t_serial / t_parallel:.2f}x; identical samples: {same}")

    base = sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml")
    result = sx_model.solve(base)
    repeats = 5
    start = time.perf_counter()
    for _ in range(repeats):
        sens = sensitivity(base, result=result)
    t_ift = (time.perf_counter() - start) / repeats
    start = time.perf_counter()
    fd = np.zeros_like(sens.derivative)
    for j, path in enumerate(sens.inputs):
        value, unit = sens.values[j], sens.units[j]
        h = 1e-6 * abs(value)
        apply = variable(path, base)
        text = (lambda v: f"{v!r} {unit}") if unit else (lambda v: v)
        up = np.array(key_outputs(sx_model.solve(apply(base, text(value + h))))[1])
        down = np.array(key_outputs(sx_model.solve(apply(base, text(value - h))))[1])
        fd[:, j] = (up - down) / (2 * h)
    t_fd = time.perf_counter() - start
    scale = np.abs(fd) + 1e-12 * np.abs(np.array(sens.output_values))[:, None] / (1e-6 * np.abs(sens.values))
    worst = float(np.max(np.abs(sens.derivative - fd) / scale))
    print(f"sensitivity, {len(sens.outputs)} outputs x {len(sens.inputs)} inputs, Pr/Nd:")
    print(f"  implicit function theorem: {1e3 * t_ift:.1f} ms; central differences of full solves "
          f"(baseline): {1e3 * t_fd:.1f} ms; ratio {t_fd / t_ift:.1f}x; largest relative difference {worst:.1e}")


if __name__ == "__main__":
    main()
