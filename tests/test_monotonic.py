"""Purity rises monotonically with stage count at fixed flows.

Adding scrub stages at fixed flows can only further purify the organic product, and adding extraction
stages the raffinate (each added stage multiplies the impurity ratio by a factor above 1 in the
theory of countercurrent extraction). Checked over several bundled and generated cascades.
"""
import copy

import numpy as np
import pytest

import sx_model
from sx_model.config import read_yaml

CASES = ["prnd_p507.yaml", "lace_prnd_p507.yaml"]


def purities(config, section, counts):
    out = {"raffinate": [], "loaded_organic": []}
    previous = None
    for count in counts:
        cfg = copy.deepcopy(config)
        cfg["sections"][section]["stages"] = count
        n = cfg["sections"]["extraction"]["stages"]
        cfg["streams"]["feed"]["stage"] = n
        result = sx_model.solve(sx_model.load_config(cfg))
        assert result.converged and result.mass_balance_error < 1e-9
        for name in out:
            out[name].append(result.products[name].purity)
        previous = result
    assert previous is not None
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.parametrize("name", CASES)
def test_scrub_stages_raise_organic_purity(root, name):
    config = read_yaml(root / "configs" / name)
    p = purities(config, "scrub", range(2, 31, 2))
    # strictly increasing impurity reduction; 1e-13 allows for round-off at purities near 1
    assert np.all(np.diff(p["loaded_organic"]) > -1e-13)
    assert p["loaded_organic"][-1] > p["loaded_organic"][0]


@pytest.mark.parametrize("name", CASES)
def test_extraction_stages_raise_raffinate_purity(root, name):
    config = read_yaml(root / "configs" / name)
    p = purities(config, "extraction", range(3, 31, 3))
    assert np.all(np.diff(p["raffinate"]) > -1e-13)
    assert p["raffinate"][-1] > p["raffinate"][0]


@pytest.mark.parametrize("beta", [1.3, 2.0, 4.0])
def test_total_stage_count_raises_both_purities(beta):
    base = {
        "name": "monotone", "components": ["Pr", "Nd"],
        "equilibrium": {"model": "separation_factor", "separation_factors": {"Pr": 1.0, "Nd": beta},
                        "capacity": "0.2 mol/L"},
        "sections": {"extraction": {"stages": 4}, "scrub": {"stages": 4}},
        "streams": {"organic": {"flow": "20 L/min"},
                    "feed": {"flow": "2 L/min", "concentration": {"Pr": "0.4 mol/L", "Nd": "0.6 mol/L"}},
                    "scrub": {"flow": "2 L/min", "acid": f"{3 * (4.0 - 1.19) / 2:.6f} mol/L"}},
        "products": {"raffinate": {"key": ["Pr"]}, "loaded_organic": {"key": ["Nd"]}},
    }
    last = None
    for k in range(2, 40, 4):
        cfg = copy.deepcopy(base)
        cfg["sections"] = {"extraction": {"stages": k}, "scrub": {"stages": k}}
        cfg["streams"]["feed"]["stage"] = k
        r = sx_model.solve(sx_model.load_config(cfg))
        now = (r.products["raffinate"].purity, r.products["loaded_organic"].purity)
        if last is not None:
            assert now[0] >= last[0] - 1e-13 and now[1] >= last[1] - 1e-13
        last = now
