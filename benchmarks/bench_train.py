"""Benchmark of sx-model train on a 15-product feed (La-Lu without Pm, plus Y; P507 in chloride).

Run: python benchmarks/bench_train.py. Designs the train that splits configs/trains/ion_clay_feed.yaml
into 15 single-element products (Y, La, Ce, Pr, Nd at 99.99 %, the others at 99.9 %): the sequence by
dynamic programming, every cascade designed and optimised (neighbouring refluxes) by simulation, the
whole train simulated as one flowsheet. Baselines in the same run: the closed-form sequence alone, and
the train designed without the optimisation; and the re-solve of the written flowsheet from its
sequential start (as ``sx-model run`` does).
"""
from __future__ import annotations

import pathlib
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
PRODUCTS = "La,Ce,Pr,Nd,Sm,Eu,Gd,Tb,Dy,Ho,Y,Er,Tm,Yb,Lu"
PURITIES = {e: 0.9999 for e in ("La", "Ce", "Pr", "Nd", "Y")}


def main():
    from sx_model.config.flowsheet import read_flowsheet
    from sx_model.config.train import read_train_feed
    from sx_model.solvers.steady import solve
    from sx_model.studies.train import Planner, design_train, parse_products

    feed = read_train_feed(ROOT / "configs" / "trains" / "ion_clay_feed.yaml")
    start = time.perf_counter()
    planner = Planner(feed, parse_products(PRODUCTS, feed, 0.999, PURITIES))
    root = planner.plan()
    t_plan = time.perf_counter() - start
    plain = design_train(feed, PRODUCTS, purities=PURITIES, optimise=False)
    best = design_train(feed, PRODUCTS, purities=PURITIES, optimise=True)
    start = time.perf_counter()
    rerun = solve(read_flowsheet(best.flowsheet).cascade())
    t_rerun = time.perf_counter() - start
    print(f"sequence (DP over {len(planner._cache)} splits): {t_plan * 1e3:.1f} ms")
    for label, r in (("designed, no optimisation", plain), ("designed and optimised", best)):
        stages = r.result.aqueous.shape[0]
        print(f"{label}: {r.elapsed_s:.1f} s, {r.solves} cascade solves, {stages} stages, "
              f"{r.result.cost.total_per_year:,.0f} USD/yr, rounds {len(r.rounds)}, met {r.met}, "
              f"converged {r.result.converged}, closure {r.result.mass_balance_error:.1e}")
    print(f"optimised / plain time: {best.elapsed_s / plain.elapsed_s:.2f}; cost ratio "
          f"{best.result.cost.total_per_year / plain.result.cost.total_per_year:.3f}")
    print(f"re-solve of the written flowsheet: {t_rerun:.2f} s ({rerun.method}, {rerun.iterations} iterations)")
    print(best.table())


if __name__ == "__main__":
    main()
