"""Cost-optimal designs and purity-against-stages curves by simulation for models without a shortcut
theory (a saponified mass-action closed loop): the cheapest design re-runs to its targets and its cost,
it is the cheapest of the grid, the front is non-dominated, and each curve point's scrub acid is at least
as good as an independent scan of the acid."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

import sx_model
from conftest import ROOT
from sx_model.config.edits import variable
from sx_model.studies.general import curve_by_simulation, optimize_by_simulation
from sx_model.studies.window import margin, meets

LOOP = ROOT / "configs" / "lacepn_p507_loop.yaml"
TARGETS = {"raffinate": (0.95, None), "strip_liquor": (0.95, None)}


@pytest.fixture(scope="module")
def optimized():
    return optimize_by_simulation(sx_model.load_config(LOOP), TARGETS, multiples=(0.9, 1.1), extensions=0)


def test_the_cheapest_loop_design_re_runs_to_its_targets_and_cost(optimized):
    assert optimized.model == "mass_action" and optimized.best.met
    again = sx_model.solve(sx_model.load_config(json.loads(json.dumps(optimized.config, default=str))))
    assert again.converged and again.mass_balance_error <= 1e-9 and meets(again, TARGETS)
    assert math.isclose(again.cost.per_kg_product, optimized.best.usd_per_kg, rel_tol=1e-9)


def test_cheapest_of_the_grid_and_a_non_dominated_front(optimized):
    met = [c for c in optimized.candidates if c.met]
    assert optimized.best.usd_per_kg == min(c.usd_per_kg for c in met)
    for c in optimized.front:
        assert not any(o.total <= c.total and o.usd_per_kg < c.usd_per_kg and o is not c for o in met)
    assert "cheapest" in optimized.table() and optimized.to_csv().count("\n") == len(optimized.candidates) + 1


def test_curve_points_are_at_least_as_good_as_a_scan_of_the_scrub_acid():
    cascade = sx_model.load_config(LOOP)
    curve = curve_by_simulation(cascade, TARGETS, [8, 14])
    assert curve.model == "mass_action" and len(curve.total_stages) == 2
    for i, total in enumerate(curve.total_stages):
        stages = {"extraction": curve.extraction_stages[i], "scrub": curve.scrub_stages[i]}
        edited = cascade.replace(stages=stages)
        apply = variable("streams.scrub.acid", edited)
        scan = []
        for acid in curve.values[i] * np.linspace(0.9, 1.1, 11):
            result = sx_model.solve(apply(edited, f"{float(acid)!r} mol/m**3"))
            scan.append(margin(result, TARGETS))
        assert curve.worst_margins[i] >= max(scan) - 1e-9
    assert curve.meets[1]                      # 14 stages reach 95 % / 95 %


def test_cli_optimize_and_curve_on_a_loop(tmp_path):
    run = subprocess.run([sys.executable, "-m", "sx_model", "curve", str(LOOP), "--stages", "8,12",
                          "--target", "raffinate=0.95", "--target", "strip_liquor=0.95", "--format", "json",
                          "--plot", str(tmp_path / "c.png"), "--workers", "1"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["model"] == "mass_action" and data["total_stages"] == [8, 12]
    assert (tmp_path / "c.png").stat().st_size > 0


def test_cli_refuses_robust_optimisation_of_a_loop(tmp_path):
    run = subprocess.run([sys.executable, "-m", "sx_model", "optimize", str(LOOP), "--target", "raffinate=0.95",
                          "--target", "strip_liquor=0.95", "--robust", "streams.organic.flow=1%"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and "--robust" in run.stderr and len(run.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_cli_optimize_writes_the_cheapest_loop_that_runs(tmp_path):
    run = subprocess.run([sys.executable, "-m", "sx_model", "optimize", str(LOOP), "--target", "raffinate=0.95",
                          "--target", "strip_liquor=0.95", "--write", str(tmp_path / "best.yaml"),
                          "--plot", str(tmp_path / "front.png")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=1200)
    assert run.returncode == 0, run.stderr
    again = sx_model.solve(sx_model.load_config(tmp_path / "best.yaml"))
    assert meets(again, TARGETS)
