"""Benchmarks of sx_model against baselines measured in the same run, against the project's performance
targets: >= 30x faster than hybr on Pr/Nd and faster than the stage-wise reference, < 5 ms per warm
60 x 3 solve, < 1 s at 1000 x 16, within 5x of bare tridiagonal solves for constant D, CLI --help
< 0.3 s and run < 1.5 s.

Usage (from the repository root):

    PYTHONPATH=. python benchmarks/run.py                 # full run, a few minutes
    PYTHONPATH=. python benchmarks/run.py --quick         # smaller cases, fewer repeats (smoke check)
    python benchmarks/run.py --out results.json           # after `pip install -e .`

Every in-process time is the median of repeated calls (time.perf_counter) after one untimed call, so
imports, caches and first-call costs are excluded. Ratios are always against a baseline timed in the
same run on the same machine. See benchmarks/README.md for what each case measures.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
try:
    import sx_model
except ImportError:   # not installed and no PYTHONPATH: use the checkout this file lives in
    sys.path.insert(0, str(ROOT))
    import sx_model

import scipy
import scipy.optimize

sys.path.insert(0, str(HERE))
import thomas  # noqa: E402  (benchmarks/thomas.py)

from sx_model.solvers.stagewise import solve_stagewise  # noqa: E402
from sx_model.solvers.steady import newton_system  # noqa: E402

#: Concentrations below this fraction of the largest one are left out of agreement figures: the
#: production solver works in concentrations scaled by the largest inlet concentration, so far below
#: that its error is a few round-offs of the largest concentration, not a small relative error.
AGREEMENT_FLOOR = 1e-12

REE16 = ["La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Y", "Sc"]


# ----------------------------------------------------------------------------------------------------
# generated cascades


def separation_factor_config(name, separation_factors, feed_mol_per_l, extraction, scrub,
                             organic_share, scrub_share, *, feed_flow=2.0, scrub_flow=2.0,
                             capacity=0.18, keys=None):
    """Fractional-extraction cascade sized by the theory of countercurrent extraction.

    ``organic_share`` S and ``scrub_share`` W are mol of REE per mol of feed REE carried by the saturated
    organic and scrubbed back by the scrub acid (3 H+ per REE). Flows [L/min], concentrations [mol/L].
    """
    components = list(separation_factors)
    feed_mol_per_min = feed_flow * sum(feed_mol_per_l.values())
    light, heavy = keys or (components[:1], components[-1:])
    config = {
        "name": name,
        "components": components,
        "equilibrium": {"model": "separation_factor", "separation_factors": separation_factors,
                        "capacity": f"{capacity} mol/L"},
        "sections": {"extraction": {"stages": extraction}},
        "streams": {
            "organic": {"flow": f"{organic_share * feed_mol_per_min / capacity} L/min"},
            "feed": {"phase": "aqueous", "stage": extraction, "flow": f"{feed_flow} L/min",
                     "concentration": {k: f"{v} mol/L" for k, v in feed_mol_per_l.items()}},
        },
        "products": {"raffinate": {"key": list(light)}, "loaded_organic": {"key": list(heavy)}},
    }
    if scrub:
        acid = 3.0 * scrub_share * feed_mol_per_min / scrub_flow
        config["sections"]["scrub"] = {"stages": scrub}
        config["streams"]["scrub"] = {"flow": f"{scrub_flow} L/min", "acid": f"{acid} mol/L"}
    return config


def ce_pr_nd_60():
    """60 stages (26 + 34) x 3 components: CePr/Nd with P507, S = 1.5, W = 1.13 per mol of feed."""
    return separation_factor_config(
        "CePr/Nd, 26 + 34 stages", {"Ce": 1.0, "Pr": 2.03, "Nd": 3.15},
        {"Ce": 0.44, "Pr": 0.18, "Nd": 0.37}, 26, 34, 1.5, 1.13,
        keys=(["Ce", "Pr"], ["Nd"]))


def ree16(extraction, scrub):
    """16 components split in the middle (La-Tb | Dy-Sc), adjacent separation factor 1.6.

    Key pair Tb/Dy, beta = 1.6; E'_M = sqrt(beta) in the scrub and S - W = 0.5 (the heavy half of an
    equimolar feed) give W = 1.887, S = 2.387 (E_M = 0.83, beta E_M = 1.32 > 1).
    """
    betas = {k: 1.6 ** i for i, k in enumerate(REE16)}
    return separation_factor_config(
        f"16 REE group split, {extraction} + {scrub} stages", betas, {k: 1.0 / 16 for k in REE16},
        extraction, scrub, 2.387, 1.887, keys=(REE16[:8], REE16[8:]))


def la_ce_pr_nd_30():
    """30 stages (15 + 15) x 4 components: LaCe/PrNd, S = 1.2, W = 0.95 (size where hybr finishes)."""
    return separation_factor_config(
        "LaCe/PrNd, 15 + 15 stages", {"La": 1.0, "Ce": 2.0, "Pr": 4.06, "Nd": 6.3},
        {"La": 0.25, "Ce": 0.5, "Pr": 0.06, "Nd": 0.19}, 15, 15, 1.2, 0.95,
        keys=(["La", "Ce"], ["Pr", "Nd"]))


def constant_d_1000():
    """500 + 500 stages x 4 components with constant D (O/A 1 in extraction, 2 in scrub); D near 0.5
    keeps every profile within a few decades, so agreement can be checked on every stage."""
    comps = ["Cu", "Ni", "Co", "Zn"]
    return {
        "name": "constant D, 500 + 500 stages",
        "components": comps,
        "equilibrium": {"model": "constant_d",
                        "distribution": {"Cu": 0.52, "Ni": 0.507, "Co": 0.493, "Zn": 0.48}},
        "sections": {"extraction": {"stages": 500}, "scrub": {"stages": 500}},
        "streams": {"organic": {"flow": "2 L/min"},
                    "feed": {"phase": "aqueous", "stage": 500, "flow": "1 L/min",
                             "concentration": {k: "5 g/L" for k in comps}},
                    "scrub": {"flow": "1 L/min"}},
        "products": {"raffinate": {"key": ["Zn"]}, "loaded_organic": {"key": ["Cu"]}},
    }


def neighbour(config, factor=1.01):
    """The same cascade with the feed flow changed by ``factor`` (what a sweep step looks like)."""
    import copy

    other = copy.deepcopy(config)
    flow, unit = other["streams"]["feed"]["flow"].split(" ", 1)
    other["streams"]["feed"]["flow"] = f"{float(flow) * factor} {unit}"
    return other


# ----------------------------------------------------------------------------------------------------
# measuring


def median_time(fn, repeats, warmup=1):
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` untimed calls [s]."""
    value = None
    for _ in range(warmup):
        value = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def timed_solve(fn, repeats, label):
    """Like :func:`median_time` for calls of ``sx_model.solve``, but a solver failure is a result too.

    Returns ``(seconds, result, record)``: ``record`` holds the time, the method and iterations, or,
    when the solve raised, the error and the time the failing call took (``result`` is then None).
    """
    from sx_model.errors import SxModelError

    start = time.perf_counter()
    try:
        seconds, result = median_time(fn, repeats)
    except SxModelError as exc:
        failed = time.perf_counter() - start
        print(f"    {label}: FAILED after {failed:.2f} s: {exc}", file=sys.stderr, flush=True)
        return None, None, {"time_s": None, "error": f"{type(exc).__name__}: {exc}",
                            "time_to_failure_s": failed}
    print(f"    {label}: {seconds * 1e3:.2f} ms ({result.method}, {result.iterations} it)",
          file=sys.stderr, flush=True)
    return seconds, result, {"time_s": seconds, "method": result.method, "iterations": result.iterations}


def relative_difference(reference, value, floor=AGREEMENT_FLOOR):
    """Largest |value - reference| / |reference| over entries above ``floor`` of the largest [-]."""
    reference = np.asarray(reference, dtype=float)
    value = np.asarray(value, dtype=float)
    big = np.abs(reference) > floor * np.abs(reference).max()
    return float(np.max(np.abs(value - reference)[big] / np.abs(reference)[big]))


def product_concentrations(cascade, aqueous, organic):
    """Concentrations of every outlet [mol/m^3], one array (C,) per outlet, from stage profiles."""
    return {o.name: (aqueous if o.phase == "aqueous" else organic)[o.stage]
            for o in cascade.circuit.outlets}


def result_products(cascade, result):
    return {name: np.array([p.concentration_mol_per_m3[k] for k in cascade.components])
            for name, p in result.products.items()}


def products_difference(reference, other):
    ref = np.concatenate([reference[k] for k in sorted(reference)])
    val = np.concatenate([other[k] for k in sorted(reference)])
    return relative_difference(ref, val)


def profiles_difference(result, aqueous, organic):
    ref = np.concatenate([result.aqueous.ravel(), result.organic.ravel()])
    return relative_difference(ref, np.concatenate([aqueous.ravel(), organic.ravel()]))


def _stage_balance_error(cascade, aqueous, organic):
    """Largest stage-balance error relative to the total inflow of the component [-]."""
    circuit = cascade.circuit
    flows = circuit.phase_flows()
    balance = circuit.inlet_loads().copy()
    for phase, conc in (("aqueous", aqueous), ("organic", organic)):
        balance += circuit.transfer_matrix(phase) @ (flows[phase][:, None] * conc)
        balance -= flows[phase][:, None] * conc
    scale = np.maximum(cascade.feed_totals(), 1e-300)
    return float(np.max(np.abs(balance) / scale))


def unknowns_to_concentrations(cascade, system, u):
    """Stage concentrations (x, y) [mol/m^3] from the solver's unknown vector.

    ``system.unpack`` gives the solver's own variables (concentrations, or their logarithms in other
    versions of the solver); whichever reading closes the stage balances is the right one.
    """
    first, second = system.unpack(np.asarray(u, dtype=float))
    readings = [(np.asarray(first), np.asarray(second))]
    with np.errstate(over="ignore"):
        readings.append((np.exp(first), np.exp(second)))
    errors = [_stage_balance_error(cascade, x, y) if np.all(np.isfinite(x)) and np.all(np.isfinite(y))
              else np.inf for x, y in readings]
    return readings[int(np.argmin(errors))]


def hybr_baseline(cascade, result, repeats, xtol=None):
    """``scipy.optimize.root(method="hybr")`` on the solver's residuals from the solver's own start, with
    MINPACK's finite-difference dense Jacobian (no ``jac``). Returns a record."""
    system, u0 = newton_system(cascade)

    def residual(u):
        return system.residual(u, with_jacobian=False)[0]

    options = {} if xtol is None else {"xtol": xtol}

    def run():
        return scipy.optimize.root(residual, u0, method="hybr", options=options)

    seconds, sol = median_time(run, repeats)
    x, y = unknowns_to_concentrations(cascade, system, sol.x)
    return {"time_s": seconds, "success": bool(sol.success), "nfev": int(sol.nfev),
            "unknowns": int(u0.size), "xtol": xtol if xtol is not None else 1.49012e-08,
            "residual_max": float(np.max(np.abs(residual(sol.x)))),
            "products_max_rel_diff": products_difference(result_products(cascade, result),
                                                         product_concentrations(cascade, x, y)),
            "profiles_max_rel_diff": profiles_difference(result, x, y)}


# ----------------------------------------------------------------------------------------------------
# cases


def case_prnd(quick, plain=True):
    """Case 1: the bundled Pr/Nd config; Newton cold/warm against hybr and the stage-wise reference."""
    repeats = 5 if quick else 21
    cascade = sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml")
    cold, result, cold_record = timed_solve(lambda: sx_model.solve(cascade), repeats, "Pr/Nd cold")
    warm, _, warm_record = timed_solve(lambda: sx_model.solve(cascade, initial=result), repeats,
                                       "Pr/Nd warm")
    out = {"case": "prnd_p507", "stages": cascade.stage_count, "components": len(cascade.components),
           "solve_cold": cold_record, "solve_warm": warm_record}
    hybr = hybr_baseline(cascade, result, 3 if quick else 5)
    hybr["speedup_vs_cold"] = hybr["time_s"] / cold
    out["hybr"] = hybr
    tight = hybr_baseline(cascade, result, 3 if quick else 5, xtol=1e-13)
    tight["speedup_vs_cold"] = tight["time_s"] / cold
    out["hybr_tight"] = tight
    seconds, ref = median_time(lambda: solve_stagewise(cascade), 1 if quick else 3)
    out["stagewise"] = {"time_s": seconds, "sweeps": ref.sweeps, "converged": ref.converged,
                        "accelerated": True, "speedup_vs_cold": seconds / cold,
                        "products_max_rel_diff": products_difference(
                            result_products(cascade, result),
                            product_concentrations(cascade, ref.aqueous, ref.organic)),
                        "profiles_max_rel_diff": profiles_difference(result, ref.aqueous, ref.organic)}
    if plain and not quick:
        # the plain classical iteration is too slow to repeat: one timed run
        start = time.perf_counter()
        plain = solve_stagewise(cascade, accelerate=False)
        seconds = time.perf_counter() - start
        out["stagewise_plain"] = {
            "time_s": seconds, "sweeps": plain.sweeps, "converged": plain.converged,
            "accelerated": False, "speedup_vs_cold": seconds / cold, "single_run": True,
            "products_max_rel_diff": products_difference(
                result_products(cascade, result),
                product_concentrations(cascade, plain.aqueous, plain.organic)),
            "profiles_max_rel_diff": profiles_difference(result, plain.aqueous, plain.organic)}
    return out


def case_sf60(quick):
    """Case 2: 60 stages x 3 components, separation-factor model; cold, warm, warm from a neighbour."""
    repeats = 7 if quick else 31
    config = ce_pr_nd_60()
    cascade = sx_model.load_config(config)
    _, result, cold = timed_solve(lambda: sx_model.solve(cascade), repeats, "60x3 cold")
    _, _, warm = timed_solve(lambda: sx_model.solve(cascade, initial=result), repeats, "60x3 warm")
    near = sx_model.load_config(neighbour(config))
    _, _, warm_near = timed_solve(lambda: sx_model.solve(near, initial=result), repeats,
                                  "60x3 warm from neighbour")
    return {"case": "sf60x3", "stages": cascade.stage_count, "components": len(cascade.components),
            "purity": {k: p.purity for k, p in result.products.items()} if result else None,
            "solve_cold": cold, "solve_warm": warm, "solve_warm_neighbour": warm_near}


def case_ree16(quick):
    """Case 3: 1000 stages x 16 components (quick: 100 + 100), plus hybr at 30 stages x 4 components."""
    extraction = scrub = 100 if quick else 500
    config = ree16(extraction, scrub)
    cascade = sx_model.load_config(config)
    _, result, cold = timed_solve(lambda: sx_model.solve(cascade), 1 if quick else 3,
                                  f"{cascade.stage_count}x16 cold")
    warm_near = None
    if result is not None:
        near = sx_model.load_config(neighbour(config))
        _, _, warm_near = timed_solve(lambda: sx_model.solve(near, initial=result), 1 if quick else 3,
                                      f"{cascade.stage_count}x16 warm from neighbour")
    out = {"case": f"ree16_{extraction + scrub}", "stages": cascade.stage_count,
           "components": len(cascade.components), "solve_cold": cold,
           "purity": {k: p.purity for k, p in result.products.items()} if result else None,
           "solve_warm_neighbour": warm_near}
    small = sx_model.load_config(la_ce_pr_nd_30())
    small_cold, small_result, _ = timed_solve(lambda: sx_model.solve(small), 5 if quick else 21, "30x4 cold")
    hybr = hybr_baseline(small, small_result, 3 if quick else 5)
    hybr["speedup_vs_cold"] = hybr["time_s"] / small_cold
    out["hybr_small"] = {"stages": small.stage_count, "components": len(small.components),
                         "solve_cold_s": small_cold, "method": small_result.method, **hybr}
    print(f"    30x4 hybr: {hybr['time_s'] * 1e3:.2f} ms", file=sys.stderr, flush=True)
    return out


def case_constant_d(quick):
    """Case 4: constant-D 1000 x 4; the linear fast path against bare tridiagonal solves."""
    repeats = 7 if quick else 31
    cascade = sx_model.load_config(constant_d_1000())
    solve_s, result = median_time(lambda: sx_model.solve(cascade), repeats)
    lower, diagonal, upper, rhs = thomas.tridiagonal_systems(cascade)
    bands = thomas.banded_form(lower, diagonal, upper)
    thomas_s, x_thomas = median_time(lambda: thomas.thomas(lower, diagonal, upper, rhs), repeats)
    banded_s, x_banded = median_time(lambda: thomas.banded(bands, rhs), repeats)
    return {"case": "constant_d_1000x4", "stages": cascade.stage_count,
            "components": len(cascade.components), "method": result.method, "solve_s": solve_s,
            "thomas_python_s": thomas_s, "solve_banded_s": banded_s,
            "ratio_vs_thomas": solve_s / thomas_s, "ratio_vs_solve_banded": solve_s / banded_s,
            "thomas_max_rel_diff": relative_difference(result.aqueous, x_thomas),
            "banded_max_rel_diff": relative_difference(result.aqueous, x_banded)}


def _cli_commands():
    """Ways to start the command line: the installed console script if there is one, and -m."""
    commands = {"python -m sx_model": [sys.executable, "-m", "sx_model"]}
    script = Path(sys.executable).with_name("sx-model")
    found = str(script) if script.exists() else shutil.which("sx-model")
    if found:
        commands["sx-model"] = [found]
    return commands


def case_startup(quick):
    """Case 5: wall time of `--help` and of `run configs/prnd_p507.yaml` in fresh processes."""
    repeats = 3 if quick else 5
    env = dict(os.environ)
    package_parent = str(Path(sx_model.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    out = {"case": "startup", "repeats": repeats}
    for label, command in _cli_commands().items():
        for what, args in (("help", ["--help"]), ("run", ["run", "configs/prnd_p507.yaml"])):
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                done = subprocess.run(command + args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, check=False)
                times.append(time.perf_counter() - start)
                if done.returncode != 0:
                    raise RuntimeError(f"{label} {' '.join(args)} failed: {done.stderr.decode()[-500:]}")
            out[f"{label} {what}"] = statistics.median(times)
    return out


# ----------------------------------------------------------------------------------------------------
# report


def _commit():
    """Git commit of the checkout being measured, with "+modified" if the tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+modified" if dirty else "")


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return {"date": datetime.date.today().isoformat(), "commit": _commit(), "nproc": cores, "cpu": cpu,
            "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "scipy": scipy.__version__, "sx_model": sx_model.__version__,
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
            "load_average_1min_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def _ms(seconds):
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _check(ok):
    return "met" if ok else "MISSED"


def _solve_cells(record, label, target=None):
    """(measurement, time, target) cells of one solve record."""
    if record is None:
        return label + " (not run)", "", ""
    if record.get("error"):
        return (f"{label} FAILED ({record['error'].split(':')[0]})",
                f"fails after {_ms(record['time_to_failure_s'])}", target[0] + ": MISSED" if target else "")
    cells = (f"{label} ({record['method']}, {record['iterations']} it)", _ms(record["time_s"]))
    if target:
        return (*cells, f"{target[0]}: {_check(record['time_s'] < target[1])}")
    return (*cells, "")


def table(results, quick):
    """Rows (case, measurement, time, baseline, baseline time, ratio, target) as printed."""
    rows = []
    prnd = results["prnd"]
    name = "1 Pr/Nd 44x2"
    for key, label in (("solve_cold", "solve cold"), ("solve_warm", "solve warm (same case)")):
        what, seconds, _ = _solve_cells(prnd[key], label)
        rows.append((name, what, seconds, "", "", "", ""))
        name = ""
    for key, label in (("hybr", "hybr, FD Jacobian"), ("hybr_tight", "hybr, xtol 1e-13")):
        h = prnd[key]
        rows.append(("", "vs " + label, "", f"diff {h['products_max_rel_diff']:.1e}", _ms(h["time_s"]),
                     f"{h['speedup_vs_cold']:.1f}x faster", f">= 30x: {_check(h['speedup_vs_cold'] >= 30)}"))
    for key, label in (("stagewise", "stage-wise GS + Anderson"), ("stagewise_plain", "stage-wise GS, plain")):
        if key in prnd:
            st = prnd[key]
            ok = st["converged"] and st["speedup_vs_cold"] > 1 and st["profiles_max_rel_diff"] <= 1e-8
            rows.append(("", f"vs {label} ({st['sweeps']} sweeps)", "",
                         f"diff {st['profiles_max_rel_diff']:.1e}", _ms(st["time_s"]),
                         f"{st['speedup_vs_cold']:.0f}x faster", f"faster, 1e-8: {_check(ok)}"))
    sf = results["sf60"]
    name = "2 CePr/Nd 60x3"
    for key, label, target in (("solve_cold", "solve cold", None),
                               ("solve_warm", "solve warm (same case)", ("< 5 ms", 5e-3)),
                               ("solve_warm_neighbour", "solve warm (feed +1 %)", ("< 5 ms", 5e-3))):
        what, seconds, goal = _solve_cells(sf[key], label, target)
        rows.append((name, what, seconds, "", "", "", goal))
        name = ""
    big = results["ree16"]
    name = f"3 REE {big['stages']}x16"
    for key, label, target in (("solve_cold", "solve cold", None if quick else ("< 1 s", 1.0)),
                               ("solve_warm_neighbour", "solve warm (feed +1 %)", None)):
        what, seconds, goal = _solve_cells(big[key], label, target)
        rows.append((name, what, seconds, "", "", "", goal))
        name = ""
    h = big["hybr_small"]
    rows.append((f"3b {h['stages']}x{h['components']}", f"solve cold ({h['method']})", _ms(h["solve_cold_s"]),
                 f"hybr, diff {h['products_max_rel_diff']:.1e}", _ms(h["time_s"]),
                 f"{h['speedup_vs_cold']:.1f}x faster", f">= 30x: {_check(h['speedup_vs_cold'] >= 30)}"))
    cd = results["constant_d"]
    rows.append(("4 const D 1000x4", f"solve ({cd['method']} path)", _ms(cd["solve_s"]), "Thomas (Python)",
                 _ms(cd["thomas_python_s"]), f"{cd['ratio_vs_thomas']:.1f}x its time",
                 f"<= 5x: {_check(cd['ratio_vs_thomas'] <= 5)}"))
    rows.append(("", "", "", "solve_banded (LAPACK)", _ms(cd["solve_banded_s"]),
                 f"{cd['ratio_vs_solve_banded']:.1f}x its time",
                 f"<= 5x: {_check(cd['ratio_vs_solve_banded'] <= 5)}"))
    for key, value in results["startup"].items():
        if key.endswith(" help"):
            rows.append(("5 startup", key + " (wall)", _ms(value), "", "", "", f"< 0.3 s: {_check(value < 0.3)}"))
        elif key.endswith(" run"):
            rows.append(("5 startup", key + " prnd_p507 (wall)", _ms(value), "", "", "",
                         f"< 1.5 s: {_check(value < 1.5)}"))
    return rows


def format_table(rows):
    header = ("case", "measurement", "time", "baseline", "baseline time", "ratio", "target")
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    line = "  ".join("{:<%d}" % w for w in widths)
    out = [line.format(*header), line.format(*("-" * w for w in widths))]
    out += [line.format(*r) for r in rows]
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Benchmarks of sx_model against the project's performance targets.")
    parser.add_argument("--quick", action="store_true",
                        help="smaller cases and fewer repeats (smoke check; not comparable to targets)")
    parser.add_argument("--out", metavar="FILE.json", help="also write all figures to this JSON file")
    parser.add_argument("--no-plain", action="store_true",
                        help="skip the single run of the plain (unaccelerated) stage-wise iteration, "
                             "several minutes on the Pr/Nd case")
    args = parser.parse_args(argv)
    info = machine()
    print(f"sx_model {info['sx_model']} ({info['commit']}) | {info['date']} | {info['cpu']} | "
          f"nproc {info['nproc']} | Python {info['python']} numpy {info['numpy']} scipy {info['scipy']}"
          + (" | quick" if args.quick else ""), flush=True)
    results = {}
    for name, case in (("prnd", lambda quick: case_prnd(quick, plain=not args.no_plain)),
                       ("sf60", case_sf60), ("ree16", case_ree16), ("constant_d", case_constant_d),
                       ("startup", case_startup)):
        start = time.perf_counter()
        print(f"  {name} ...", file=sys.stderr, flush=True)
        results[name] = case(args.quick)
        print(f"  {name}: done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    rows = table(results, args.quick)
    print(format_table(rows))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump({"machine": info, "quick": args.quick, "results": results}, handle, indent=2)
            handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
