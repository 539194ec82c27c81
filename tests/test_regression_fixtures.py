"""Behaviour kept: every bundled config reproduces the results stored in ``tests/fixtures/results``.

The fixtures are the JSON results (``sx-model run CONFIG --format json``) written before the package was
restructured into config / model / solver / study layers; purities, recoveries, outlet and stage
concentrations, flows and reagent figures must agree to 1e-9 relative.
"""
import json
import math

import pytest

import sx_model
from conftest import CONFIGS, ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "results"
RTOL = 1e-9
#: absolute floor [mol/m^3] below which concentrations count as zero (1e-9 relative of 1e-3 mol/m^3)
ATOL = 1e-12


def _close(a, b, path):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for k, (p, q) in enumerate(zip(a, b)):
            _close(p, q, f"{path}[{k}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None, path
        assert math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, path


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_bundled_config_reproduces_stored_result(path):
    stored = json.loads((FIXTURES / f"{path.stem}.json").read_text())
    now = json.loads(sx_model.solve(sx_model.load_config(path)).to_json())
    assert now["converged"] is True
    assert now["mass_balance_error"] < 1e-9
    for name, product in stored["products"].items():
        got = now["products"][name]
        for field in ("purity", "recovery", "flow_m3_per_s", "concentration_mol_per_m3", "composition",
                      "metal_kg_per_h", "oxide_kg_per_h", "stage", "phase"):
            _close(product[field], got[field], f"products.{name}.{field}")
    for field in ("aqueous_mol_per_m3", "organic_mol_per_m3", "aqueous_flow_m3_per_s",
                  "organic_flow_m3_per_s"):
        _close(stored["profiles"][field], now["profiles"][field], f"profiles.{field}")
    for k, value in stored["reagents"].items():
        if isinstance(value, (int, float, dict)):
            _close(value, now["reagents"][k], f"reagents.{k}")
    assert stored["warnings"] == now["warnings"]
    assert stored["sections"] == now["sections"]


def test_every_bundled_config_has_a_fixture():
    assert {p.stem for p in CONFIGS} == {p.stem for p in FIXTURES.glob("*.json")}
