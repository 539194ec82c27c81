"""Three-outlet cascades: the side draw placed where the middle product is purest. The choice is checked
against independent solves of the config with the draw moved there by a config edit."""
import copy
import subprocess
import sys

import numpy as np
import pytest
import yaml

import sx_model
from conftest import ROOT
from sx_model.studies.draw import choose_draw

CONFIG = ROOT / "configs" / "three_outlet_cepr.yaml"
BASE = yaml.safe_load(CONFIG.read_text())


def _purity(phase, stage):
    config = copy.deepcopy(BASE)
    config["products"]["pr_middle"].update(phase=phase, stage=stage)
    return sx_model.solve(sx_model.load_config(config)).products["pr_middle"].purity


@pytest.fixture(scope="module")
def chosen():
    return choose_draw(sx_model.load_config(CONFIG), "pr_middle", phases=("aqueous",), stages=range(2, 31))


def test_the_chosen_draw_is_the_purest_of_independent_solves(chosen):
    purities = {s: _purity("aqueous", s) for s in range(2, 31)}
    best = max(purities, key=purities.get)
    assert chosen.best["stage"] == best and chosen.best["phase"] == "aqueous"
    assert abs(chosen.best["pr_middle_purity"] - purities[best]) < 1e-12
    for row in chosen.rows:
        assert abs(row["pr_middle_purity"] - purities[row["stage"]]) < 1e-9


def test_the_written_design_reruns_to_the_chosen_purity(chosen):
    again = sx_model.solve(sx_model.load_config(yaml.safe_load(chosen.to_yaml())))
    assert abs(again.products["pr_middle"].purity - chosen.best["pr_middle_purity"]) < 1e-9
    assert again.converged and again.mass_balance_error < 1e-9


def test_targets_choose_the_largest_worst_margin():
    cascade = sx_model.load_config(CONFIG)
    targets = {"pr_middle": (0.5, None), "raffinate": (0.95, None), "loaded_organic": (0.95, None)}
    result = choose_draw(cascade, "pr_middle", targets=targets, phases=("aqueous",), stages=range(10, 30))
    scores = [r["score"] for r in result.rows]
    assert result.best["score"] == max(scores)
    assert result.best["score"] == pytest.approx(min(result.best["pr_middle_purity"] - 0.5,
                                                     result.best["raffinate_purity"] - 0.95,
                                                     result.best["loaded_organic_purity"] - 0.95))


def test_stages_an_end_outlet_leaves_are_not_candidates():
    result = choose_draw(sx_model.load_config(CONFIG), "pr_middle", phases=("aqueous", "organic"), stages=[1, 60])
    assert {(r["phase"], r["stage"]) for r in result.rows} == {("aqueous", 60), ("organic", 1)}


@pytest.mark.parametrize("args, needle", [
    (["--product", "nothing"], "--product"),
    (["--product", "raffinate"], "end outlet"),
    (["--product", "pr_middle", "--phase", "vapour"], "invalid choice"),
    (["--product", "pr_middle", "--target", "nothing=0.9"], "--target"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, args, needle):
    done = subprocess.run([sys.executable, "-m", "sx_model", "draw", str(CONFIG), *args], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and needle in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_cli_draw_writes_plot_and_config(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sx_model", "draw", str(CONFIG), "--product", "pr_middle",
                           "--phase", "aqueous", "--plot", str(tmp_path / "d.png"), "--write",
                           str(tmp_path / "d.yaml"), "--workers", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "d.png").stat().st_size > 1000
    again = sx_model.solve(sx_model.load_config(tmp_path / "d.yaml"))
    assert np.isfinite(again.products["pr_middle"].purity)
