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
import sx_model.studies.general
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


def test_cli_refuses_a_bad_robust_margin_for_a_loop(tmp_path):
    run = subprocess.run([sys.executable, "-m", "sx_model", "optimize", str(LOOP), "--target", "raffinate=0.95",
                          "--target", "strip_liquor=0.95", "--robust", "streams.organic.flow=100%"],
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


def test_a_loading_limit_is_kept_by_the_design(tmp_path):
    design = sx_model.studies.general.design_by_simulation(
        sx_model.load_config(LOOP), {"raffinate": (0.99, None), "strip_liquor": (0.98, None)},
        limits={"loading": 0.9})
    again = sx_model.solve(design.cascade)
    assert design.met and meets(again, {"raffinate": (0.99, None), "strip_liquor": (0.98, None)})
    assert np.max(again.stage_data["loading_fraction"]) <= 0.9
    assert "loading <= 90 % of capacity" in design.table()


def test_limit_violation_measures_each_limit():
    from sx_model.studies.general import limit_violation, operating_limits

    cascade = sx_model.load_config(LOOP)
    result = sx_model.solve(cascade)
    load = float(np.max(result.stage_data["loading_fraction"]))
    assert limit_violation(result, cascade, operating_limits(None, {"loading": load + 0.01})) == 0.0
    assert math.isclose(limit_violation(result, cascade, operating_limits(None, {"loading": load - 0.01})),
                        0.01, rel_tol=1e-9)
    ph = result.stage_data["ph"]
    strip = cascade.circuit.section("strip")
    low = float(np.min(ph[:strip.first]))
    assert math.isclose(limit_violation(result, cascade, operating_limits(None, {"ph": (low + 0.1, 14)})), 0.1,
                        rel_tol=1e-9)
    oa = result.organic_flow[0] / result.aqueous_flow[0]
    assert limit_violation(result, cascade, operating_limits(None, {"oa": (oa * 10, oa * 100)})) >= 1.0 - 1e-12


@pytest.mark.parametrize("limit, needle", [("loading=1.5", "loading"), ("oa=5:1", "low < high"),
                                           ("ph=abc", "expected loading"), ("temperature=1:2", "unknown limit")])
def test_cli_bad_limits_are_one_line_exit_2(tmp_path, limit, needle):
    run = subprocess.run([sys.executable, "-m", "sx_model", "design", str(LOOP), "--target", "raffinate=0.99",
                          "--target", "strip_liquor=0.98", "--limit", limit],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and needle in run.stderr and len(run.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_an_impossible_ph_limit_is_reported_as_infeasible(tmp_path):
    run = subprocess.run([sys.executable, "-m", "sx_model", "design", str(LOOP), "--target", "raffinate=0.99",
                          "--target", "strip_liquor=0.98", "--limit", "ph=0.5:4"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert run.returncode == 1 and "operating limits" in run.stderr


@pytest.mark.slow
def test_robust_loop_design_holds_across_its_margin():
    design = sx_model.studies.general.design_by_simulation(
        sx_model.load_config(LOOP), {"raffinate": (0.99, None), "strip_liquor": (0.98, None)},
        robust={"streams.organic.flow": 0.005})
    apply = variable("streams.organic.flow", design.cascade)
    nominal = sx_model.solve(design.cascade)
    base = design.cascade.to_config()["streams"]["organic"]["flow"]
    value = float(base.split()[0])
    for factor in np.linspace(0.995, 1.005, 9):
        result = sx_model.solve(apply(design.cascade, f"{float(value * factor)!r} m**3/s"), initial=nominal)
        assert meets(result, {"raffinate": (0.99, None), "strip_liquor": (0.98, None)}), factor
