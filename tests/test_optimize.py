"""Cost-optimal design of the Pr/Nd cascade: interior optimum, re-run, no cheaper neighbour."""
import json

import pytest
import yaml

import sx_model
from sx_model import Targets
from sx_model.studies import TwoProductProblem
from sx_model.cli import main


@pytest.fixture(scope="module")
def best(root_module):
    return sx_model.optimize(root_module / "configs" / "prnd_p507.yaml", Targets(0.999, 0.999))


@pytest.fixture(scope="module")
def root_module():
    import pathlib

    return pathlib.Path(__file__).resolve().parents[1]


def test_cheapest_lies_strictly_inside_stage_range(best):
    stages = [c.stages for c in best.candidates]
    assert min(stages) < best.best.stages < max(stages)
    # fewer stages cost more (reflux), more stages cost more (capital): both ends dearer
    cheapest_at = {}
    for c in best.candidates:
        cheapest_at[c.stages] = min(cheapest_at.get(c.stages, float("inf")), c.usd_per_kg)
    assert cheapest_at[min(stages)] > best.best.usd_per_kg
    assert cheapest_at[max(stages)] > best.best.usd_per_kg


def test_optimum_meets_targets_on_rerun(best):
    result = sx_model.solve(sx_model.load_config(best.config))
    assert result.products["loaded_organic"].purity >= 0.999
    assert result.products["raffinate"].purity >= 0.999
    assert result.cost.per_kg_product == pytest.approx(best.best.usd_per_kg, rel=1e-9)


def test_no_cheaper_feasible_neighbour(best):
    b = best.best
    product = b.s - b.w
    for n, m, w in [(b.n + 1, b.m, b.w), (b.n - 1, b.m, b.w), (b.n, b.m + 1, b.w), (b.n, b.m - 1, b.w),
                    (b.n, b.m, 1.05 * b.w), (b.n, b.m, 0.95 * b.w)]:
        problem = TwoProductProblem(sx_model.load_config(best.config))
        result = sx_model.solve(problem.build(n, m, w + product, w))
        meets = (result.products["loaded_organic"].purity >= 0.999
                 and result.products["raffinate"].purity >= 0.999)
        if meets:
            assert result.cost.per_kg_product >= b.usd_per_kg - 1e-9, (n, m, w)


def test_pareto_front_is_monotone(best):
    front = best.front
    assert all(a.stages < b.stages and a.usd_per_kg > b.usd_per_kg for a, b in zip(front, front[1:]))
    assert best.best in front


def test_optimize_cli(root_module, tmp_path, capsys):
    out = tmp_path / "best.yaml"
    plot = tmp_path / "front.png"
    code = main(["optimize", str(root_module / "configs" / "prnd_p507.yaml"), "--target",
                 "loaded_organic=0.999", "--target", "raffinate=0.999", "--write", str(out),
                 "--plot", str(plot), "--format", "json", "--max-stages", "80"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["best"]["total_stages"] <= 80
    assert yaml.safe_load(out.read_text())["sections"]["extraction"]["stages"] == \
        data["best"]["extraction_stages"]
    assert plot.read_bytes()[:4] == b"\x89PNG"
