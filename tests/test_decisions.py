"""Decision variables of designs by simulation beyond stages and scrub acid (strip liquor, feed stage,
saponification, scrub flow): the designed closed loop re-runs to its targets, and on small cases whose
optimum is found here by brute force (a grid over the new variable, solved point by point with
``sx_model.solve`` and judged by the test's own arithmetic) the search lands within one grid step.
Bad decisions on the command line are one line, exit 2."""
import json
import math

import numpy as np
import pytest

import sx_model
from conftest import ROOT
from sx_model.cli import main
from sx_model.config.edits import variable
from sx_model.studies.general import AcidSearch, WIDE, curve_by_simulation, design_by_simulation
from sx_model.studies.window import margin, meets

LOOP = ROOT / "configs" / "lacepn_p507_loop.yaml"
PRND = ROOT / "configs" / "prnd_p507.yaml"
TARGETS = {"raffinate": (0.99, None), "strip_liquor": (0.98, None)}
STRIP_TARGET = 0.999
OA = (0.1, 10.0)                  # the default O/A limit of designs by simulation


def stripped(result, cascade):
    """Metal taken off the organic in the strip section / metal the organic brings into it."""
    strip = cascade.circuit.section("strip")
    into = result.organic[strip.first - 1].sum() * result.organic_flow[strip.first - 1]
    out = result.organic[strip.last].sum() * result.organic_flow[strip.last]
    return 1.0 - out / into


def acceptable(result, cascade):
    """Targets, strip target, loading and O/A limits, checked here from the solved profile."""
    if not (result.converged and meets(result, TARGETS) and stripped(result, cascade) >= STRIP_TARGET):
        return False
    if np.max(result.stage_data["loading_fraction"]) > 0.95:
        return False
    for sec in cascade.circuit.sections:
        ratio = result.organic_flow[sec.first] / result.aqueous_flow[sec.first]
        if not OA[0] <= ratio <= OA[1]:
            return False
    return True


@pytest.fixture(scope="module")
def designed():
    return design_by_simulation(sx_model.load_config(LOOP), TARGETS, decide=["strip.acid", "feed.stage"])


def test_the_designed_loop_with_its_strip_acid_and_feed_stage_re_runs_to_its_targets(designed):
    assert designed.met and designed.strip["met_in_range"]
    cascade = sx_model.load_config(json.loads(json.dumps(designed.config, default=str)))
    again = sx_model.solve(cascade)
    assert again.converged and again.mass_balance_error <= 1e-9
    assert acceptable(again, cascade)
    # least acid: far below the config's 6 mol/L x 3 L/min, which strips to 1e-20
    assert designed.strip["acid_mol_per_s"] < 0.5 * designed.strip["config_acid_mol_per_s"]
    assert "strip liquor:" in designed.table() and "feed.stage" in designed.table()
    assert designed.to_dict()["decisions"]["chosen"] == ["stages", "strip.acid", "feed.stage"]


def test_the_strip_acid_is_the_least_on_a_brute_force_grid(designed):
    """Strip acid from 0.8 to 1.25 times the chosen one in steps of 1 %: the smallest grid value that
    strips 99.9 % with the targets and limits held lies within one step above the chosen acid."""
    cascade = designed.cascade
    chosen = designed.strip["streams.strip.acid"]
    apply = variable("streams.strip.acid", cascade)
    step = 0.01 * chosen
    grid = chosen * np.arange(0.80, 1.2501, 0.01)
    first, previous = None, None
    for acid in grid[::-1]:                           # from above: warm starts stay on the stripped side
        edited = apply(cascade, f"{float(acid)!r} mol/m**3")
        result = sx_model.solve(edited, initial=previous)
        previous = result
        if acceptable(result, edited):
            first = float(acid)
        else:
            break
    assert first is not None
    assert chosen <= first + 1e-9 * chosen and first - chosen <= step * (1 + 1e-9)


def test_the_feed_stage_of_a_curve_is_the_best_split_by_brute_force():
    """Pr/Nd (separation factors), 30 stages: every split n = 1..29, each with the scrub acid on a grid
    of +-12 % in 1 % steps; the curve's split is within one stage of the best split found so."""
    cascade = sx_model.load_config(PRND)
    targets = {"raffinate": (0.99, None), "loaded_organic": (0.99, None)}
    curve = curve_by_simulation(cascade, targets, [30], decide=["feed.stage"])
    apply = variable("streams.scrub.acid", cascade)
    acid0 = 4000.0
    best_n, best = None, -math.inf
    for n in range(1, 30):
        at_n = cascade.replace(stages={"extraction": n, "scrub": 30 - n})
        previous = None
        for factor in np.arange(0.88, 1.1201, 0.01):
            try:
                result = sx_model.solve(apply(at_n, f"{float(acid0 * factor)!r} mol/m**3"), initial=previous)
            except (sx_model.ConvergenceError, sx_model.ConfigError):     # no steady state / refused
                continue
            previous = result
            score = margin(result, targets)
            if score > best:
                best_n, best = n, score
    assert abs(curve.extraction_stages[0] - best_n) <= 1
    assert curve.worst_margins[0] >= best - 1e-3
    assert curve.feed_stage and "best split" in curve.table()


def test_saponification_as_the_split_input_is_the_best_on_a_grid():
    """The loop at 5 + 10 stages: saponification 0.26..0.38 in steps of 0.005; the search's setting is
    within one step of the grid's largest worst margin and at least as good."""
    cascade = sx_model.load_config(LOOP)
    stages = {"extraction": 5, "scrub": 10}
    search = AcidSearch(cascade, TARGETS, decide=["saponification"])
    value, score, _ = search.best_setting(stages, search.nominal, WIDE)
    apply = variable("equilibrium.extractant.saponification", cascade)
    at = cascade.replace(stages=stages)
    grid = np.arange(0.26, 0.3801, 0.005)
    scores, previous = [], None
    for s in grid:
        previous = sx_model.solve(apply(at, float(s)), initial=previous)
        scores.append(margin(previous, TARGETS))
    k = int(np.argmax(scores))
    assert abs(value - grid[k]) <= 0.005 + 1e-12
    assert score >= scores[k] - 1e-9


@pytest.mark.slow
def test_scrub_flow_as_the_split_input_designs_a_loop_that_meets_its_targets():
    """The scrub flow is set for the largest worst margin at the designed stages: the designed cascade
    carries that flow, meets the targets, and its margin is at least that at either end of the range
    (where the search would have stopped had it not looked inside)."""
    design = sx_model.design(LOOP, {"raffinate": 0.99, "strip_liquor": 0.98}, decide=["scrub.flow=1:4 L/min"])
    assert design.met and design.adjust == "streams.scrub.flow"
    scrub = next(i for i in design.cascade.circuit.inlets if i.name == "scrub")
    assert scrub.flow == pytest.approx(design.value, rel=1e-12)
    chosen = sx_model.solve(design.cascade)
    assert meets(chosen, TARGETS)
    apply = variable("streams.scrub.flow", design.cascade)
    for end in ("1 L/min", "4 L/min"):
        assert margin(chosen, TARGETS) >= margin(sx_model.solve(apply(design.cascade, end)), TARGETS) - 1e-9


@pytest.mark.slow
def test_strip_acid_and_flow_together_use_less_acid_than_either_alone():
    cascade = sx_model.load_config(LOOP)
    both = design_by_simulation(cascade, TARGETS, decide=["strip.acid", "strip.flow"])
    acid = design_by_simulation(cascade, TARGETS, decide=["strip.acid"])
    assert both.met and acid.met
    assert both.strip["acid_mol_per_s"] <= acid.strip["acid_mol_per_s"] * (1 + 1e-3)
    final = both.cascade
    assert acceptable(sx_model.solve(final), final)


@pytest.mark.slow
def test_optimize_passes_the_decisions_to_every_design(tmp_path):
    code = main(["optimize", str(LOOP), "--target", "raffinate=0.95", "--target", "strip_liquor=0.95",
                 "--decide", "strip.acid", "--decide", "saponification", "--workers", "1",
                 "--write", str(tmp_path / "best.yaml"), "--format", "json"])
    assert code == 0
    cascade = sx_model.load_config(tmp_path / "best.yaml")
    result = sx_model.solve(cascade)
    assert meets(result, {"raffinate": (0.95, None), "strip_liquor": (0.95, None)})
    assert stripped(result, cascade) >= STRIP_TARGET


@pytest.mark.parametrize("args, needle", [
    (["--decide", "nope"], "unknown decision 'nope'"),
    (["--decide", "strip.acid=6:0.5 mol/L"], "reversed"),
    (["--decide", "strip.acid=1e-9:6 mol/L"], "four decades"),
    (["--decide", "strip.acid=inf:6 mol/L"], "not finite"),
    (["--decide", "saponification=0.2:1.5"], "above 1"),
    (["--decide", "strip.flow=-1:2 L/min"], "greater than zero"),
    (["--decide", "scrub.flow=0:2 L/min"], "greater than zero"),
    (["--decide", "feed.stage=1:3"], "takes no range"),
    (["--decide", "strip.acid", "--decide", "strip.acid"], "given twice"),
    (["--decide", "scrub.acid", "--decide", "saponification"], "both set the split"),
    (["--decide", "strip.acid=x:1"], "not a number"),
    (["--strip-target", "1.5"], "--strip-target"),
    (["--strip-target", "0"], "--strip-target"),
])
def test_bad_decisions_are_one_line_exit_2(tmp_path, capsys, args, needle):
    code = main(["design", str(LOOP), "--target", "raffinate=0.99", "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command, config, args, needle", [
    ("design", PRND, ["--decide", "feed.stage"], "separation_factor"),
    ("design", PRND.parent / "lace_prnd_p507.yaml", ["--decide", "strip.acid"], "separation_factor"),
    ("optimize", LOOP, ["--decide", "organic.flow"], "grid of organic flows"),
    ("curve", LOOP, ["--stages", "8", "--decide", "strip.acid"], "no strip liquor"),
])
def test_decisions_a_command_or_cascade_cannot_take_are_refused(capsys, command, config, args, needle):
    code = main([command, str(config), "--target", "raffinate=0.95", *args])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_a_model_without_saponification_cannot_decide_it():
    with pytest.raises(sx_model.ConfigError, match="has no saponification"):
        design_by_simulation(sx_model.load_config(PRND), {"raffinate": (0.99, None)}, decide=["saponification"])


def test_python_refuses_decisions_with_theory_targets():
    with pytest.raises(sx_model.ConfigError, match="decide"):
        sx_model.design(PRND, sx_model.Targets(0.99, 0.99), decide=["feed.stage"])
