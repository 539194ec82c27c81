"""Operating windows and robust design.

The window's edges are checked against an independent fine scan of the same input by full solves; a
robust design (targets held for +-0.05 % of the organic flow and the scrub acid together) is re-run at the ends of
its margins and at Latin-hypercube samples inside them, and must meet its targets everywhere; a plain
design sits on its cliff and the report says so.
"""
import subprocess
import sys

import numpy as np
import pytest

import sx_model
from conftest import ROOT
from sx_model.config.edits import variable
from sx_model.studies.problem import Targets
from sx_model.studies.window import meets, operating_window, window_map

CONFIG = ROOT / "configs" / "prnd_p507.yaml"
TARGETS = {"raffinate": (0.99, None), "loaded_organic": (0.99, None)}


def solve_at(cascade, path, value, unit):
    return sx_model.solve(variable(path, cascade)(cascade, f"{value!r} {unit}"))


def test_window_edges_match_a_fine_scan_of_full_solves():
    cascade = sx_model.load_config(CONFIG)
    window = operating_window(cascade, TARGETS, ["streams.organic.flow"], tol=1e-5)
    w = window.windows[0]
    assert window.met_at_nominal and w.low is not None and w.high is not None
    # independent scan: 0.002 % steps outwards from the nominal flow until a target fails
    step = 2e-5
    for edge, sign in ((w.low, -1.0), (w.high, 1.0)):
        k = 1
        while meets(solve_at(cascade, w.path, w.nominal * (1 + sign * k * step), w.unit), TARGETS):
            k += 1
        last_ok = w.nominal * (1 + sign * (k - 1) * step)
        assert abs(edge - last_ok) <= 1.5 * step * w.nominal, (edge, last_ok)
        assert meets(solve_at(cascade, w.path, edge, w.unit), TARGETS)


def test_window_map_margin_sign_agrees_with_the_targets():
    cascade = sx_model.load_config(CONFIG)
    window = operating_window(cascade, TARGETS)
    grid = window_map(cascade, TARGETS, window, points=7)
    centre = grid["margin"][3, 3]         # the grid is centred on the window, which holds the nominal
    assert np.isfinite(grid["margin"]).all()
    assert (grid["margin"] < 0).any() and (grid["margin"] >= 0).any()
    result = sx_model.solve(cascade)
    assert meets(result, TARGETS) == (window.met_at_nominal is True)
    assert np.isfinite(centre)


def test_no_window_when_the_nominal_point_misses_the_targets():
    window = operating_window(sx_model.load_config(CONFIG), {"loaded_organic": (0.9999, None)})
    assert not window.met_at_nominal and "NOT met" in window.table()


def test_a_plain_design_sits_on_its_cliff_and_says_so():
    result = sx_model.design(CONFIG, Targets(purity_a=0.99, purity_b=0.99))
    assert result.met and result.window is not None
    assert result.window["nearest_cliff"]["relative_distance"] < 1e-3
    assert "distance to the cliff" in result.table()


MARGIN = 0.0005


def test_robust_design_meets_its_targets_across_its_margins():
    robust = {"streams.organic.flow": MARGIN, "streams.scrub.acid": MARGIN}
    result = sx_model.design(CONFIG, Targets(purity_a=0.99, purity_b=0.99), robust=robust)
    assert result.met and result.robust == robust
    cascade = sx_model.load_config(result.config)          # the written design, re-read
    targets = {"loaded_organic": (0.99, None), "raffinate": (0.99, None)}
    assert meets(sx_model.solve(cascade), targets)
    # the corners of the box, by edits of the written config
    import itertools

    ends = {}
    for path in robust:
        number, unit = result.config["streams"][path.split(".")[1]][path.split(".")[2]].split()
        ends[path] = (float(number), unit)
    for signs in itertools.product((-1, 1), repeat=len(ends)):
        corner = cascade
        for (path, (value, unit)), sign in zip(ends.items(), signs):
            corner = variable(path, corner)(corner, f"{value * (1 + sign * MARGIN)!r} {unit}")
        assert meets(sx_model.solve(corner), targets), signs
    # sampled perturbations of the stated size (both inputs at once, uniform within +-margin): all meet
    # (the stated probability of a worst-case design is 1)
    from sx_model.config.uncertainty import Spread, UncertaintySpec
    from sx_model.studies.uncertainty import uncertainty

    spreads = []
    for path in robust:
        stream, key = path.split(".")[1:]
        number, unit = result.config["streams"][stream][key].split()
        spreads.append(Spread(path, "uniform", MARGIN, True, float(number), unit))
    spec = UncertaintySpec(spreads=tuple(spreads), samples=40, seed=3, sampling="latin_hypercube",
                           targets=targets)
    study = uncertainty(cascade, spec, progress=False)
    assert study.probability()[0] == 1.0


def test_robust_optimize_is_dearer_and_further_from_its_cliff():
    plain = sx_model.optimize(CONFIG, Targets(purity_a=0.99, purity_b=0.99))
    robust = sx_model.optimize(CONFIG, Targets(purity_a=0.99, purity_b=0.99),
                               robust={"streams.organic.flow": 0.0003})
    assert robust.best.usd_per_kg > plain.best.usd_per_kg
    far = robust.window["nearest_cliff"]["relative_distance"]
    near = plain.window["nearest_cliff"]["relative_distance"]
    assert far >= 0.0003 - 2e-5 and far > near


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "sx_model", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_cli_window_writes_table_and_map(tmp_path):
    run = cli("window", CONFIG, "--target", "loaded_organic=0.99", "--target", "raffinate=0.99",
              "--plot", tmp_path / "w.png", "--points", "5", "--out", tmp_path / "o", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "nearest cliff" in run.stdout and (tmp_path / "w.png").stat().st_size > 1000
    assert (tmp_path / "o" / "window.json").exists()


@pytest.mark.parametrize("command, args, needle", [
    ("window", ["--target", "nope=0.9"], "nope"),
    ("window", ["--target", "raffinate=0.99", "--span", "0"], "--span"),
    ("window", ["--target", "raffinate=0.99", "--input", "sections.scrub.stages"], "whole number"),
    ("window", ["--target", "raffinate=0.99", "--plot", "w.png", "--points", "1"], "--points"),
    ("window", ["--target", "raffinate=0.99", "--target", "raffinate=0.9"], "twice"),
    ("design", ["--target", "raffinate=0.99", "--robust", "streams.organic.flow"], "--robust"),
    ("design", ["--target", "raffinate=0.99", "--robust", "streams.organic.flow=150%"], "--robust"),
    ("design", ["--target", "raffinate=0.99", "--robust", "streams.nope.flow=1%"], "no such key"),
    ("optimize", ["--target", "raffinate=0.99", "--robust", "streams.organic.flow=-1%"], "--robust"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, command, args, needle):
    run = cli(command, CONFIG, *args, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and needle in run.stderr
    assert list(tmp_path.iterdir()) == []


ALIAS_BOMB = ("a: &a [1,2]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
              "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
              "f: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n")


@pytest.mark.parametrize("command, args", [
    ("window", ["--target", "raffinate=0.9"]),
    ("sensitivity", []),
    ("uncertainty", []),
])
def test_new_commands_refuse_an_alias_bomb_in_one_line(tmp_path, command, args):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    run = cli(command, bomb, *args, cwd=tmp_path)
    assert run.returncode == 2 and "YAML nodes" in run.stderr and len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("path", ["streams.organic.recycle", "equilibrium.extractant.base", "name"])
def test_sensitivity_refuses_inputs_that_are_not_numbers(tmp_path, path):
    run = cli("sensitivity", ROOT / "configs" / "lacepn_p507_loop.yaml", "--input", path, cwd=tmp_path)
    assert run.returncode == 2 and "expected a numeric input" in run.stderr


def test_a_window_wider_than_the_input_allows_stays_an_answer():
    # -1000 % of the scrub acid is negative (refused by the config's checks): counted as a missed target
    window = operating_window(sx_model.load_config(CONFIG), TARGETS, ["streams.scrub.acid"], span=10.0)
    w = window.windows[0]
    assert w.low is not None and w.low > 0 and w.high is not None
