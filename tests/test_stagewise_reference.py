"""The production Newton solver against the stage-by-stage (Gauss-Seidel) reference.

The two share nothing but the circuit and the equilibrium model's ``organic``: the reference solves one
stage at a time with its own finite-difference flash and never forms the whole-circuit equations, so an
error in the Newton residual, its Jacobian, its scaling or its starting point shows up here.
"""
import numpy as np
import pytest

import sx_model
from sx_model.solvers.stagewise import solve_stagewise

# Tolerance. Newton stops at a scaled residual of 1e-12 and then takes one more full step, which puts
# the residual at round-off. The reference stops when one plain sweep changes no concentration by more
# than 1e-13 (relative); its remaining error is that times the amplification 1 / (1 - rho) of the
# slowest sweep mode, rho ~ 0.9997 per sweep in the high-reflux Pr/Nd cascade, so ~3e-10 at worst.
# Both are then well inside 1e-8. Concentrations below 1e-12 of the largest one are left out: Newton
# works in concentrations scaled by the largest inlet concentration, so its absolute error there is a
# few round-offs of the largest concentration, which is no longer a small relative error so far down.
RELATIVE = 1e-8
FLOOR = 1e-12

CAPACITY_MOL_PER_L = 0.18


def separation_factor_config(name, separation_factors, feed_mol_per_l, extraction, scrub,
                             organic_share, scrub_share, feed_flow=2.0, scrub_flow=1.5, side_draws=None):
    """A fractional-extraction cascade sized by the theory of countercurrent extraction.

    ``organic_share`` is S (REE carried by the saturated organic per mol of feed REE) and
    ``scrub_share`` is W (REE scrubbed back per mol of feed REE), from which the organic flow and the
    scrub acid follow (3 H+ strip one REE(III)).
    """
    components = list(separation_factors)
    feed_mol_per_min = feed_flow * sum(feed_mol_per_l.values())
    config = {
        "name": name,
        "components": components,
        "equilibrium": {"model": "separation_factor", "separation_factors": separation_factors,
                        "capacity": f"{CAPACITY_MOL_PER_L} mol/L"},
        "sections": {"extraction": {"stages": extraction}},
        "streams": {
            "organic": {"flow": f"{organic_share * feed_mol_per_min / CAPACITY_MOL_PER_L} L/min"},
            "feed": {"phase": "aqueous", "stage": extraction, "flow": f"{feed_flow} L/min",
                     "concentration": {k: f"{v} mol/L" for k, v in feed_mol_per_l.items()}},
        },
        "products": {"raffinate": {"key": components[:1]}, "loaded_organic": {"key": components[-1:]}},
    }
    if scrub:
        acid = 3.0 * scrub_share * feed_mol_per_min / scrub_flow
        config["sections"]["scrub"] = {"stages": scrub}
        config["streams"]["scrub"] = {"flow": f"{scrub_flow} L/min", "acid": f"{acid} mol/L"}
    config["products"].update(side_draws or {})
    return config


CE_PR_ND = {"Ce": 1.0, "Pr": 2.03, "Nd": 3.15}
CE_PR_ND_FEED = {"Ce": 0.44, "Pr": 0.18, "Nd": 0.37}

GENERATED = {
    # CePr/Nd split with extraction and scrub: trace Ce and Nd span six decades along the battery
    "ce_pr_nd_split": separation_factor_config("CePr/Nd split", CE_PR_ND, CE_PR_ND_FEED,
                                               extraction=12, scrub=16, organic_share=1.5,
                                               scrub_share=1.13),
    # extraction only, four components, organic short of the feed (60 % of the REE)
    "la_ce_pr_nd_extraction": separation_factor_config(
        "LaCePrNd extraction", {"La": 1.0, "Ce": 2.0, "Pr": 4.0, "Nd": 6.0},
        {"La": 0.3, "Ce": 0.4, "Pr": 0.1, "Nd": 0.2}, extraction=6, scrub=0, organic_share=0.6,
        scrub_share=0.0),
    # a third outlet: 20 % of the aqueous leaving scrub stage 9 drawn off (transfer fractions < 1)
    "side_draw": separation_factor_config(
        "CePr/Nd with a Pr-rich side draw", CE_PR_ND, CE_PR_ND_FEED, extraction=8, scrub=10,
        organic_share=1.6, scrub_share=1.2,
        side_draws={"pr_cut": {"phase": "aqueous", "stage": 9, "fraction": 0.2, "key": ["Pr"]}}),
}


def _cases(root):
    return {"prnd_p507": root / "configs" / "prnd_p507.yaml",
            "kremser_example": root / "configs" / "kremser_example.yaml", **GENERATED}


# The Pr/Nd config costs the (accelerated) reference about 400 sweeps, a few seconds; the plain
# iteration would need minutes (slowest sweep mode rho ~ 0.9997).
CASE_IDS = ["prnd_p507", "kremser_example", *GENERATED]


@pytest.fixture(scope="module")
def solved():
    """Newton result and stage-wise reference of each case, computed once per module."""
    return {}


def _solve_both(root, case_id, cache):
    if case_id not in cache:
        cascade = sx_model.load_config(_cases(root)[case_id])
        cache[case_id] = (cascade, sx_model.solve(cascade), solve_stagewise(cascade))
    return cache[case_id]


def _relative_errors(reference, value, floor):
    big = np.abs(reference) > floor
    return np.abs(value - reference)[big] / np.abs(reference)[big]


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_stage_concentrations_agree(root, solved, case_id):
    cascade, newton, reference = _solve_both(root, case_id, solved)
    assert reference.converged, f"reference stopped at change {reference.change:.3g}"
    largest = max(newton.aqueous.max(), newton.organic.max())
    for phase, ours, theirs in (("aqueous", newton.aqueous, reference.aqueous),
                                ("organic", newton.organic, reference.organic)):
        assert ours.shape == theirs.shape == (cascade.stage_count, len(cascade.components))
        err = _relative_errors(theirs, ours, FLOOR * largest)
        assert err.size > 0
        assert err.max() <= RELATIVE, f"{phase}: worst relative difference {err.max():.3g}"


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_product_concentrations_agree(root, solved, case_id):
    cascade, newton, reference = _solve_both(root, case_id, solved)
    largest = max(newton.aqueous.max(), newton.organic.max())
    for outlet in cascade.circuit.outlets:
        profile = reference.aqueous if outlet.phase == "aqueous" else reference.organic
        expected = profile[outlet.stage]
        product = newton.products[outlet.name]
        got = np.array([product.concentration_mol_per_m3[k] for k in cascade.components])
        err = _relative_errors(expected, got, FLOOR * largest)
        assert err.size == 0 or err.max() <= RELATIVE, (outlet.name, err.max())


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_reference_closes_its_own_mass_balance(root, solved, case_id):
    """The reference on its own: what leaves through the outlets is what the inlets bring."""
    cascade, _, reference = _solve_both(root, case_id, solved)
    flows = cascade.circuit.phase_flows()
    out = np.zeros(len(cascade.components))
    for outlet in cascade.circuit.outlets:
        profile = reference.aqueous if outlet.phase == "aqueous" else reference.organic
        out += outlet.fraction * flows[outlet.phase][outlet.stage] * profile[outlet.stage]
    feed = cascade.feed_totals()
    # a sweep change below 1e-13 leaves the stage balances closed to about that, times the stage count
    np.testing.assert_allclose(out, feed, rtol=1e-10)


@pytest.mark.parametrize("case_id", ["kremser_example", "la_ce_pr_nd_extraction"])
def test_plain_and_accelerated_iterations_agree(root, solved, case_id):
    """Acceleration changes the path, not the fixed point: the plain classical sweeps give the same."""
    cascade, _, accelerated = _solve_both(root, case_id, solved)
    plain = solve_stagewise(cascade, accelerate=False)
    assert plain.converged
    largest = accelerated.aqueous.max()
    for ours, theirs in ((plain.aqueous, accelerated.aqueous), (plain.organic, accelerated.organic)):
        err = _relative_errors(theirs, ours, FLOOR * largest)
        assert err.max() <= RELATIVE


def test_kremser_reference_against_closed_form(root, solved):
    """The reference itself against Kremser (E = 2.4, 5 stages): fraction unextracted 0.00736."""
    cascade, _, reference = _solve_both(root, "kremser_example", solved)
    from sx_model.kremser import fraction_unextracted

    feed = cascade.circuit.inlets[[i.name for i in cascade.circuit.inlets].index("feed")]
    left = reference.aqueous[0, 0] / feed.concentration[0]   # O/A = 1: raffinate flow = feed flow
    assert left == pytest.approx(fraction_unextracted(2.4, 5), rel=1e-11)


def test_unconverged_reference_says_so(root):
    """Too few sweeps: the reference must report failure, not hand back an unconverged profile."""
    cascade = sx_model.load_config(root / "configs" / "prnd_p507.yaml")
    short = solve_stagewise(cascade, max_sweeps=10)
    assert not short.converged and short.sweeps == 10 and short.change > 1e-13
