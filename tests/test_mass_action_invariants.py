"""Invariants over randomly generated acidity-driven loops (hypothesis).

A generated extraction + scrub + strip loop with saponified extractant either solves, with mass-balance
closure of at most 1e-9, free + complexed extractant equal to the total in every stage, the charge
balance holding in every stage and the proton balance closing over the whole loop; or it raises
ConvergenceError, or (more base than the chloride reaching stage 1) ConfigError before solving: some
generated loops have no acidic steady state. Never a result that breaks a balance.
"""
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sx_model
from sx_model.constants import KW
from test_invariants import constant_d_cascades, separation_factor_cascades

REE = ["La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Y"]


@st.composite
def loops(draw):
    c = draw(st.integers(1, 4))
    comps = draw(st.lists(st.sampled_from(REE), min_size=c, max_size=c, unique=True))
    log_k = draw(st.lists(st.floats(-3.0, 0.5), min_size=c, max_size=c))
    conc = draw(st.lists(st.floats(0.01, 0.5), min_size=c, max_size=c))
    n, m, k = draw(st.integers(1, 8)), draw(st.integers(1, 8)), draw(st.integers(1, 4))
    return {
        "name": "generated loop", "components": comps,
        "equilibrium": {"model": "mass_action",
                        "extractant": {"concentration": f"{draw(st.floats(0.3, 1.5))} mol/L",
                                       "saponification": draw(st.floats(0.0, 0.4))},
                        "log10_k": dict(zip(comps, log_k))},
        "sections": {"extraction": {"stages": n}, "scrub": {"stages": m}, "strip": {"stages": k}},
        "streams": {"organic": {"flow": f"{draw(st.floats(1.0, 8.0))} L/min", "recycle": True,
                                "bleed": draw(st.sampled_from([0.0, 0.02]))},
                    "feed": {"flow": "2 L/min", "acid": f"{draw(st.floats(0.001, 0.5))} mol/L",
                             "concentration": {el: f"{x} mol/L" for el, x in zip(comps, conc)}},
                    "scrub": {"flow": "1 L/min", "acid": f"{draw(st.floats(0.0, 3.0))} mol/L"},
                    "strip": {"flow": "1 L/min", "acid": f"{draw(st.floats(2.0, 6.0))} mol/L"}},
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loops())
def test_generated_loops_balance_or_fail_loudly(config):
    try:
        cascade = sx_model.load_config(config)
        result = sx_model.solve(cascade)
    except sx_model.ConvergenceError as exc:
        assert exc.residual_norm > 0 and exc.worst_stage >= 1
        return
    except sx_model.ConfigError as exc:
        # more saponification base than the chloride reaching stage 1: refused before solving
        assert exc.key == "equilibrium.extractant.saponification"
        return
    assert result.converged and result.mass_balance_error <= 1e-9
    z = np.array([3.0] * len(cascade.components))
    data = result.stage_data
    total = 0.5 * float(config["equilibrium"]["extractant"]["concentration"].split()[0]) * 1000.0
    np.testing.assert_allclose(data["free_extractant_mol_per_m3"] + result.organic @ z, total, rtol=1e-9)
    # charge balance per stage: [H+] - Kw/[H+] = net chloride - sum z x
    from sx_model.solvers.equations import Network

    params = cascade.model.prepare(Network(cascade).conditions)
    h = data["proton_mol_per_m3"]
    lhs = h - KW / h
    rhs = params["net_anion"] - result.aqueous @ z
    np.testing.assert_allclose(lhs, rhs, atol=1e-9 * max(1.0, float(np.max(np.abs(params["net_anion"])))))
    # proton balance over the loop
    acid_in = sum(i.flow * i.acid for i in cascade.circuit.inlets if i.phase == "aqueous")
    base = result.reagents["base_mol_per_h"] / 3600.0
    h_out = sum(p.flow_m3_per_s * h[p.stage - 1] for p in result.products.values() if p.phase == "aqueous")
    org_out = sum(p.flow_m3_per_s * z @ np.array(list(p.concentration_mol_per_m3.values()))
                  for p in result.products.values() if p.phase == "organic")
    scale = max(acid_in, base, 1e-12)
    assert math.isclose(h_out, acid_in - base + org_out, rel_tol=1e-8, abs_tol=1e-9 * scale)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_generated_cascades_with_murphree_efficiency_close_the_balance(data):
    """Any model, any section efficiencies in (0, 1]: the solve closes the balance or fails loudly,
    and organic concentrations stay between what enters a stage and its equilibrium value."""
    config = data.draw(st.one_of(separation_factor_cascades(max_components=3, max_stages=15),
                                 constant_d_cascades()))
    for body in config["sections"].values():
        body["efficiency"] = data.draw(st.floats(0.05, 1.0))
    try:
        cascade = sx_model.load_config(config)
        result = sx_model.solve(cascade)
    except sx_model.ConvergenceError as exc:
        assert exc.residual_norm > 0
        return
    assert result.mass_balance_error <= 1e-9
    assert np.all(np.isfinite(result.organic)) and np.all(result.organic >= 0)
    assert np.all(result.aqueous >= 0)
