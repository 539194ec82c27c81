"""Batch (shake-out) contacts and fits: time per contact solved alone and in batches of 30 and 1000
(one vectorised Newton over all), and one least-squares fit of log10 K and the pH slope to the bundled
synthetic shake-out data (configs/nd_p507_shakeout.csv). Medians after one untimed call.

Run: python benchmarks/bench_fit.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import median_time  # noqa: E402


def main():
    import sx_model
    from sx_model.studies.fit import fit, parse_data, read_equilibrium

    cascade = sx_model.load_config({
        "components": ["La", "Nd"],
        "equilibrium": {"model": "mass_action", "system": "p507_chloride", "reference": {"element": "Nd", "log10_k": -1.6},
                        "extractant": {"concentration": "1.2 mol/L", "saponification": 0.05}},
        "sections": {"extraction": {"stages": 1}},
        "streams": {"organic": {"flow": "1 L/min"}, "feed": {"flow": "1 L/min", "concentration": {"Nd": "0.1 mol/L"}}}})
    model = cascade.model
    rng = np.random.default_rng(0)
    for n in (1, 30, 1000):
        x0 = rng.uniform(1.0, 200.0, (n, 2))
        acid = rng.uniform(50.0, 500.0, n)
        t = median_time(lambda: sx_model.batch_contact(model, x0, acid=acid), 7)
        print(f"{n:>5} contacts: {1e3 * t:8.2f} ms in all, {1e3 * t / n:.4f} ms per contact")
    loop = ROOT / "configs" / "lacepn_p507_loop.yaml"
    base, comps = read_equilibrium(loop)
    data = parse_data((ROOT / "configs" / "nd_p507_shakeout.csv").read_text(), comps)
    t = median_time(lambda: fit(base, data, ["equilibrium.log10_k.Nd", "equilibrium.ph_slope.Nd"]), 5)
    print(f"fit of log10 K and pH slope ({data.rows if hasattr(data, 'rows') else 'all'} rows): {1e3 * t:.1f} ms")


if __name__ == "__main__":
    main()
