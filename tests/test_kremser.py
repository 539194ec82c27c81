"""Constant-D cascades against the Kremser closed form and the textbook example.

Reference: Seader, Henley and Roper, Separation Process Principles, 3rd ed. (Wiley, 2011), Example 5.1:
extraction factor E = 2.4, fraction of solute unextracted 0.294 (1 stage), 0.109 (2 stages) and
0.00736 (5 stages), quoted there to three significant figures.
"""
import numpy as np
import pytest

import sx_model
from sx_model.kremser import fraction_unextracted, stages_for_fraction


def kremser_config(stages, extraction_factor, oa=1.0):
    return {
        "name": f"Kremser N={stages}",
        "components": ["Cu"],
        "equilibrium": {"model": "constant_d", "distribution": {"Cu": extraction_factor / oa}},
        "sections": {"extraction": {"stages": stages}},
        "streams": {
            "organic": {"flow": f"{oa} L/min"},
            "feed": {"phase": "aqueous", "stage": stages, "flow": "1 L/min",
                     "concentration": {"Cu": "2 g/L"}},
        },
        "products": {"raffinate": {"key": ["Cu"]}, "loaded_organic": {"key": ["Cu"]}},
    }


def unextracted(stages, extraction_factor, oa=1.0):
    result = sx_model.solve(sx_model.load_config(kremser_config(stages, extraction_factor, oa)))
    return result.products["raffinate"].recovery, result


@pytest.mark.parametrize("stages, expected", [(1, 0.294), (2, 0.109), (5, 0.00736)])
def test_seader_example_5_1(stages, expected):
    phi, result = unextracted(stages, 2.4)
    # The book rounds to three significant figures: allow half a unit in the third figure.
    assert phi == pytest.approx(expected, abs=0.5 * 10 ** (np.floor(np.log10(expected)) - 2))
    assert result.converged and result.mass_balance_error < 1e-12


@pytest.mark.parametrize("extraction_factor", [0.3, 0.9, 1.0, 1.2, 2.4, 5.0])
@pytest.mark.parametrize("oa", [0.5, 1.0, 3.0])
def test_closed_form_n_1_to_100(extraction_factor, oa):
    for stages in [1, 2, 3, 5, 8, 13, 20, 35, 50, 75, 100]:
        phi, _ = unextracted(stages, extraction_factor, oa)
        exact = fraction_unextracted(extraction_factor, stages)
        # 1e-10 relative: one sparse LU of a well-conditioned tridiagonal system
        assert phi == pytest.approx(exact, rel=1e-10), (stages, extraction_factor)


def test_closed_form_function_limits():
    assert fraction_unextracted(1.0, 4) == pytest.approx(0.2)
    assert fraction_unextracted(1.0 + 1e-12, 4) == pytest.approx(0.2, rel=1e-9)
    assert fraction_unextracted(2.4, 0) == pytest.approx(1.0)
    # direct formula, E far from 1
    assert fraction_unextracted(3.0, 3) == pytest.approx(2.0 / 80.0)


def test_stages_for_fraction_inverts():
    for e in (0.8, 1.0, 2.4):
        for n in (1, 4, 17):
            phi = fraction_unextracted(e, n)
            assert stages_for_fraction(e, phi) == pytest.approx(n, rel=1e-9)


def test_bundled_kremser_config(root):
    result = sx_model.solve(sx_model.load_config(root / "configs" / "kremser_example.yaml"))
    assert result.products["raffinate"].recovery == pytest.approx(fraction_unextracted(2.4, 5), rel=1e-10)
