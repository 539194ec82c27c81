"""Trains of cascades (sx-model train): the written flowsheet meets its targets when re-run, the
dynamic programme's sequence equals brute-force enumeration of every sequence, per-cascade costs add up
to the train's, bad input exits 2 with one line.

References: brute-force enumeration of all binary split trees (an independent search over the same
closed-form split costs; 14 trees for 5 products, the Catalan number C4); the whole-train solve of the
written flowsheet by ``sx-model run`` (not the design's own simulations); cost.py's items summed over the
cascades against the train's own cost breakdown.
"""
from __future__ import annotations

import json

import pytest

from conftest import ROOT
from sx_model.cli import main
from sx_model.config.train import read_train_feed
from sx_model.studies.train import Planner, design_train, parse_products

LIGHT = ROOT / "configs" / "trains" / "light_ree_feed.yaml"
CLAY = ROOT / "configs" / "trains" / "ion_clay_feed.yaml"


def test_small_train_meets_targets_when_rerun(tmp_path, capsys):
    written, plot = tmp_path / "train.yaml", tmp_path / "train.png"
    code = main(["train", str(LIGHT), "--products", "La,Ce,Pr,Nd", "--purity", "0.999", "--purity", "Nd=0.9995",
                 "--write", str(written), "--plot", str(plot), "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0
    designed = json.loads(out)
    assert designed["met"] and designed["converged"]
    assert plot.stat().st_size > 1000
    assert main(["run", str(written), "--format", "json"]) == 0
    rerun = json.loads(capsys.readouterr().out)
    assert rerun["converged"] and rerun["mass_balance_error"] < 1e-9
    targets = {"La": 0.999, "Ce": 0.999, "Pr": 0.999, "Nd": 0.9995}
    for name, target in targets.items():
        outlet = designed["products"][name]["outlet"]
        purity = rerun["products"][outlet]["purity"]
        assert purity >= target, (name, purity)
        assert purity == pytest.approx(designed["products"][name]["purity"], abs=1e-9)
    # the cost per cascade (cost.py on each cascade's stages, liquors and base) adds up to the train's
    # items; solvent losses differ on purpose (each cascade loses organic with its own raffinate)
    parts = rerun["cascades"]
    assert len(parts) == 4                 # three cuts and the strip of the organic that goes on
    total = rerun["cost"]["items_usd_per_year"]
    for item in ("capital", "solvent_inventory", "acid", "base", "mixer_power", "labour"):
        summed = sum(p["cost"]["items_usd_per_year"][item] for p in parts.values())
        assert summed == pytest.approx(total[item], rel=1e-9), item


def _planner(feed, products, purities=None):
    feed = read_train_feed(feed)
    return Planner(feed, parse_products(products, feed, 0.999, purities))


@pytest.mark.parametrize("feed, products", [
    ({"system": "p507_chloride", "capacity": "0.18 mol/L",
      "feed": {"flow": "2 L/min", "concentration": {"La": "0.3 mol/L", "Ce": "0.5 mol/L", "Pr": "0.07 mol/L",
                                                    "Nd": "0.2 mol/L", "Sm": "0.04 mol/L"}}},
     "La,Ce,Pr,Nd,Sm"),
    (CLAY, "LaNd=La+Ce+Pr+Nd,SmGd=Sm+Eu+Gd,TbHo=Tb+Dy+Ho,Y,ErLu=Er+Tm+Yb+Lu"),
])
def test_sequence_equals_brute_force(feed, products):
    planner = _planner(feed, products, {"Y": 0.9999}) if "Y" in products.split(",") else _planner(feed, products)
    chosen = planner.plan()
    every = planner.enumerate()
    assert len(every) == 14                # C4: every binary tree over 5 products is feasible here
    cheapest = min(every, key=lambda s: s.cost())
    assert chosen.cost() == pytest.approx(cheapest.cost(), rel=1e-12)
    assert chosen.signature() == cheapest.signature()
    # and the choice matters: the sequences' costs differ
    assert max(s.cost() for s in every) > 1.05 * cheapest.cost()


def test_budgets_follow_the_cut_difficulty():
    """Each product's impurity budget is shared between its two cuts in proportion to 1 / ln(beta): the
    harder cut (Pr/Nd, beta 1.4 in the P507 data) gets more of Pr's budget than the easier one (Ce/Pr,
    beta 2)."""
    planner = _planner(LIGHT, "La,Ce,Pr,Nd")
    import importlib.resources
    import math

    import yaml

    pairs = yaml.safe_load(importlib.resources.files("sx_model").joinpath("data/extractants.yaml").read_text(
        "utf-8"))["systems"]["p507_chloride"]["adjacent_pair_factors"]
    beta_pr_ce, beta_nd_pr = pairs["Pr/Ce"]["value"], pairs["Nd/Pr"]["value"]
    assert beta_nd_pr < beta_pr_ce         # the premise: Pr/Nd is the harder cut
    pr_left, pr_right = planner.leak_left[1], planner.leak_right[2]
    assert pr_right / pr_left == pytest.approx(math.log(beta_pr_ce) / math.log(beta_nd_pr), rel=1e-12)
    budget = 0.8 * planner.amounts[2] * 0.001 / 0.999
    assert pr_left + pr_right == pytest.approx(budget, rel=1e-12)


@pytest.mark.parametrize("args, fragment", [
    (["--products", "La,Ce,Pr,Xx"], "'Xx'"),
    (["--products", "La,Ce,Pr,Nd,Sm"], "Sm"),
    (["--products", "La,La,Ce,Pr,Nd"], "La"),
    (["--products", "La,Ce,Pr,Nd", "--purity", "1.0"], "1.0"),
    (["--products", "La,Ce,Pr,Nd", "--purity", "Nd=1.2"], "Nd=1.2"),
    (["--products", ""], "empty"),
    (["--products", "La,Ce,Pr"], "Nd"),
    (["--products", "La+Pr,Ce,Nd"], "adjacent"),
    (["--products", "La,Ce,Pr,Nd", "--write", "/nonexistent-dir/train.yaml"], "/nonexistent-dir"),
])
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, args, fragment):
    code = main(["train", str(LIGHT), *args])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1 and fragment in lines[0], captured.err
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_bad_feed_file(capsys, tmp_path):
    feed = tmp_path / "feed.yaml"
    feed.write_text("system: p507_chloride\ncapacity: 0.18 mol/L\nfeed: {flow: 2 L/min, concentration: "
                    "{La: 0.3 mol/L, Qq: 0.2 mol/L}}\n")
    assert main(["train", str(feed), "--products", "La,Ce"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "feed.concentration" in err[0] and "Qq" in err[0]


@pytest.mark.slow
def test_fifteen_component_train():
    """The benchmark's case (benchmarks/bench_train.py): every product at its purity in the whole-train
    simulation."""
    purities = {e: 0.9999 for e in ("La", "Ce", "Pr", "Nd", "Y")}
    result = design_train(CLAY, "La,Ce,Pr,Nd,Sm,Eu,Gd,Tb,Dy,Ho,Y,Er,Tm,Yb,Lu", purities=purities)
    assert result.result.converged and result.result.mass_balance_error < 1e-9
    for name, p in result.product_figures().items():
        assert p["purity"] >= p["target_purity"], name


@pytest.mark.parametrize("command", ["run", "validate", "sweep"])
def test_a_feed_file_given_to_a_cascade_command_says_which_command_takes_it(command, capsys):
    """A train's feed file is not a cascade config: commands that read one refuse it in one line that
    names the file's kind and `sx-model train`, exit 2 (it used to say "unknown key 'system'")."""
    extra = ["--vary", "streams.feed.flow=1:2:0.5"] if command == "sweep" else []
    assert main([command, str(LIGHT), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train's feed file" in err[0] and "sx-model train" in err[0]
