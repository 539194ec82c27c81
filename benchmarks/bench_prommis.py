"""The PrOMMiS steady SX case (configs/prommis_dehpa_sulfate.yaml): how long sx_model takes.

Figures:

1. in process, load + solve and solve alone (median of 21 after one untimed call), against a baseline
   in the same run:
   the independent dense solve of PrOMMiS's own equations (scipy.optimize.root, hybr, from the feed
   composition; the formulation of tests/test_prommis_parity.py);
2. the whole `sx-model run CONFIG` as a new process (wall, median of 5), as a user runs it from the
   shell, and the same with `python -c pass` (the interpreter alone) for scale;
3. the ratio to 5.5 s, the wall time PrOMMiS 1.1 needs for this case on this class of machine (a figure
   given to the project, not measured here: PrOMMiS and its IPOPT binaries are not installed).

Run: python benchmarks/bench_prommis.py
"""
from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import median_time  # noqa: E402
CONFIG = ROOT / "configs" / "prommis_dehpa_sulfate.yaml"
PROMMIS_WALL_S = 5.5
sys.path.insert(0, str(ROOT / "tests"))


def _wall(command, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    import sx_model
    from test_prommis_parity import _independent_prommis_solve

    def ours():
        result = sx_model.solve(sx_model.load_config(CONFIG))
        assert result.converged

    cascade = sx_model.load_config(CONFIG)
    in_process = median_time(ours, 21)
    solve_only = median_time(lambda: sx_model.solve(cascade), 21)
    dense = median_time(_independent_prommis_solve, 5)
    exe = shutil.which("sx-model") or str(Path(sys.executable).with_name("sx-model"))
    cold = _wall([exe, "run", str(CONFIG)])
    interpreter = _wall([sys.executable, "-c", "pass"])
    imports = _wall([sys.executable, "-c", "import sx_model.cli.run, sx_model.solvers.steady, "
                                          "sx_model.config.units as u; u.registry()"])
    print(f"in process, load + solve          {1e3 * in_process:8.1f} ms")
    print(f"in process, solve only            {1e3 * solve_only:8.1f} ms")
    print(f"dense hybr on PrOMMiS's equations {1e3 * dense:8.1f} ms   (solve only / hybr: "
          f"{solve_only / dense:.2f})")
    print(f"sx-model run, new process (wall)  {1e3 * cold:8.1f} ms   ({PROMMIS_WALL_S / cold:.1f}x faster than "
          f"PrOMMiS's {PROMMIS_WALL_S} s)")
    print(f"  of which imports (numpy, scipy, pint, yaml, sx_model) {1e3 * imports:.0f} ms, "
          f"python alone {1e3 * interpreter:.0f} ms")
    print(f"in process vs PrOMMiS's {PROMMIS_WALL_S} s: {PROMMIS_WALL_S / in_process:.0f}x")


if __name__ == "__main__":
    main()
