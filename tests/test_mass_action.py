"""Acidity-driven chemistry (mass_action, ph_correlation), Murphree efficiency and the closed organic loop,
checked against limits and closed forms nobody here wrote:

- trace loading at a fixed acidity: D = K [(HA)2]^z / [H+]^z is a constant, so the cascade must be the
  constant-D cascade (itself checked against Kremser in test_kremser.py);
- high K with a saponified organic: the organic saturates and splits by K ratios, i.e. the
  separation-factor model of the theory of countercurrent extraction;
- single-stage batch: d log D / d pH = z at trace loading (the stoichiometry of the exchange reaction);
- Murphree efficiency with constant D: Kremser with the Lewis (1936) relation for the number of
  equivalent equilibrium stages, N_eq = N ln(1 + E (lambda - 1)) / ln(lambda) (W.K. Lewis, Ind. Eng.
  Chem. 28 (1936) 399; Seader, Henley and Roper, Separation Process Principles, section on stage
  efficiency), which is exact for straight equilibrium and operating lines.
"""
import copy
import math

import numpy as np
import pytest

import sx_model

LOG_K = {"La": -0.3, "Ce": 0.1, "Pr": 0.25, "Nd": 0.4}


def _limit_config(model):
    return {"name": "trace", "components": list(LOG_K), "equilibrium": model,
            "sections": {"extraction": {"stages": 8}, "scrub": {"stages": 6}},
            "streams": {"organic": {"flow": "1 L/min"},
                        "feed": {"flow": "1 L/min", "acid": "1 mol/L",
                                 "concentration": {k: "1e-12 mol/L" for k in LOG_K}},
                        "scrub": {"flow": "0.5 L/min", "acid": "1 mol/L"}},
            "products": {"raffinate": {"key": ["La", "Ce"]}, "loaded_organic": {"key": ["Pr", "Nd"]}}}


def test_trace_loading_at_fixed_acidity_is_the_constant_d_cascade():
    # 2 mol/L HA = 1 mol/L dimer, [H+] = 1 mol/L everywhere (both liquors 1 M HCl, metals at 1e-12 M):
    # D = K (1/1)^3 = K.
    mass_action = sx_model.solve(sx_model.load_config(_limit_config(
        {"model": "mass_action", "extractant": {"concentration": "2 mol/L"}, "log10_k": LOG_K})))
    constant = sx_model.solve(sx_model.load_config(_limit_config(
        {"model": "constant_d", "distribution": {k: 10 ** v for k, v in LOG_K.items()}})))
    np.testing.assert_allclose(mass_action.aqueous, constant.aqueous, rtol=1e-8)
    np.testing.assert_allclose(mass_action.organic, constant.organic, rtol=1e-8)
    np.testing.assert_allclose(mass_action.stage_data["ph"], 0.0, atol=1e-8)
    assert mass_action.converged and mass_action.mass_balance_error < 1e-9


def _extraction(model):
    return {"name": "saturating", "components": ["Pr", "Nd"], "equilibrium": model,
            "sections": {"extraction": {"stages": 10}},
            "streams": {"organic": {"flow": "10 L/min"},
                        "feed": {"flow": "2 L/min", "concentration": {"Pr": "0.5 mol/L", "Nd": "0.5 mol/L"}}},
            "products": {"raffinate": {"key": ["Pr"]}, "loaded_organic": {"key": ["Nd"]}}}


def test_high_k_with_saponified_extractant_approaches_the_separation_factor_model():
    # 0.6 mol/L HA = 0.3 mol/L dimer holds 0.1 mol/L REE(III); saponified 50 %, its Na+ (0.3 mol/L)
    # exchanges for exactly that loading. The metal fed (2 mol/min) exceeds the organic's capacity
    # (1 mol/min), so with K >> 1 every stage saturates and splits by K_Nd/K_Pr = 1.5.
    reference = sx_model.solve(sx_model.load_config(_extraction(
        {"model": "separation_factor", "separation_factors": {"Pr": 1.0, "Nd": 1.5}, "capacity": "0.1 mol/L"})))
    gaps = []
    for log_k in (0.0, 6.0):
        result = sx_model.solve(sx_model.load_config(_extraction(
            {"model": "mass_action", "extractant": {"concentration": "0.6 mol/L", "saponification": 0.5},
             "separation_factors": {"Pr": 1.0, "Nd": 1.5}, "reference": {"element": "Nd", "log10_k": log_k}})))
        gaps.append(np.max(np.abs(result.organic / reference.organic - 1.0)))
        assert result.stage_data["loading_fraction"].min() > 0.999
    # Stated tolerance 1e-5: the separation-factor model itself saturates only to c_half / sum(beta x),
    # about 3e-6 here (half_loading 1e-6 mol/L), so closer agreement is not expected.
    assert gaps[-1] < 1e-5
    assert gaps[-1] <= gaps[0] * 1.1


def _batch(metal, acid, concentration="1 mol/L", element="Nd", log_k=0.0):
    config = {"name": "batch", "components": [element],
              "equilibrium": {"model": "mass_action", "extractant": {"concentration": concentration},
                              "log10_k": {element: log_k}},
              "sections": {"extraction": {"stages": 1}},
              "streams": {"organic": {"flow": "1 L/min"},
                          "feed": {"flow": "1 L/min", "acid": acid, "concentration": {element: metal}}}}
    result = sx_model.solve(sx_model.load_config(config))
    d = result.organic[0, 0] / result.aqueous[0, 0]
    return math.log10(d), float(result.stage_data["ph"][0]), float(result.stage_data["loading_fraction"][0])


@pytest.mark.parametrize("element,charge", [("Nd", 3), ("Cu", 2)])
def test_batch_log_d_against_ph_has_slope_z_at_trace_loading(element, charge):
    points = [_batch("1e-9 mol/L", f"{acid} mol/L", element=element) for acid in (0.05, 0.1, 0.2, 0.4)]
    log_d, ph, loading = map(np.array, zip(*points))
    slope = np.polyfit(ph, log_d, 1)[0]
    assert slope == pytest.approx(charge, abs=1e-6)
    assert loading.max() < 1e-6


def test_batch_distribution_falls_with_loading():
    # at a fixed equilibrium acidity, D [H+]^3 = K [(HA)2]_free^3 falls as the organic loads
    conditional, loadings = [], []
    for metal in ("0.001 mol/L", "0.03 mol/L", "0.06 mol/L", "0.1 mol/L"):
        log_d, ph, loading = _batch(metal, "0.3 mol/L", concentration="0.6 mol/L", log_k=1.0)
        conditional.append(log_d + 3 * ph)       # log10(D [H+]^3) with [H+] in mol/L
        loadings.append(loading)
    assert np.all(np.diff(loadings) > 0)
    assert np.all(np.diff(conditional) < 0)
    # and the slope of log D against pH is below 3 once the organic is loaded
    hi = [_batch("0.1 mol/L", f"{a} mol/L", concentration="0.6 mol/L", log_k=1.0) for a in (0.3, 0.5)]
    slope = (hi[1][0] - hi[0][0]) / (hi[1][1] - hi[0][1])
    assert slope < 3 - 0.05


def test_ph_correlation_batch_follows_its_line():
    # log10 D = 2 pH - 3 for Zn at trace loading and pH set by 0.01-0.1 M acid
    config = {"name": "zn", "components": ["Zn"],
              "equilibrium": {"model": "ph_correlation", "extractant": {"concentration": "0.6 mol/L"},
                              "correlations": {"Zn": {"slope": 2, "intercept": -3}}},
              "sections": {"extraction": {"stages": 1}},
              "streams": {"organic": {"flow": "1 L/min"},
                          "feed": {"flow": "1 L/min", "acid": "0.02 mol/L",
                                   "concentration": {"Zn": "1e-9 mol/L"}}}}
    result = sx_model.solve(sx_model.load_config(config))
    ph = result.stage_data["ph"][0]
    assert ph == pytest.approx(-math.log10(0.02), abs=1e-6)
    d = result.organic[0, 0] / result.aqueous[0, 0]
    assert math.log10(d) == pytest.approx(2 * ph - 3, abs=1e-9)


LOOP = {
    "name": "loop", "components": ["La", "Ce", "Pr", "Nd"],
    "equilibrium": {"model": "mass_action",
                    "extractant": {"concentration": "1.5 mol/L", "saponification": 0.32, "base": "NaOH"},
                    "separation_factors": {"La": 1.0, "Ce": 5.0, "Pr": 10.0, "Nd": 15.0},
                    "reference": {"element": "Nd", "log10_k": -1.6}},
    "sections": {"extraction": {"stages": 15}, "scrub": {"stages": 15}, "strip": {"stages": 3}},
    "streams": {"organic": {"flow": "15 L/min", "recycle": True},
                "feed": {"flow": "2 L/min", "acid": "0.01 mol/L",
                         "concentration": {"La": "0.3 mol/L", "Ce": "0.5 mol/L", "Pr": "0.05 mol/L",
                                           "Nd": "0.15 mol/L"}},
                "scrub": {"flow": "2 L/min", "acid": "3.1 mol/L"},
                "strip": {"flow": "3 L/min", "acid": "1.5 mol/L"}},
    "products": {"raffinate": {"key": ["La", "Ce"]}, "strip_liquor": {"key": ["Pr", "Nd"]}},
}


@pytest.mark.parametrize("bleed", [0.0, 0.05])
def test_closed_organic_loop_balances_and_recycles_the_stripped_organic(bleed):
    config = copy.deepcopy(LOOP)
    if bleed:
        config["streams"]["organic"]["bleed"] = bleed
    cascade = sx_model.load_config(config)
    result = sx_model.solve(cascade)
    assert result.converged
    # total metal in = total metal out through raffinate, strip liquor (and bleed)
    assert result.mass_balance_error < 1e-9
    fed = cascade.feed_totals()
    out = sum(p.flow_m3_per_s * np.array([p.concentration_mol_per_m3[c] for c in cascade.components])
              for p in result.products.values())
    np.testing.assert_allclose(out, fed, rtol=1e-9)
    # the strip (1.5 M acid, 3 stages) leaves metal on the organic, so the loop carries it round
    stripped = result.organic[-1]
    assert stripped.max() > 1e-6 * result.organic.max()
    # stage 1 balance with the recycled organic entering at the stripped composition
    q_org = result.organic_flow
    raffinate_in = result.aqueous[1] * result.aqueous_flow[1]
    feed_in = (1 - bleed) * q_org[-1] * stripped
    out1 = result.aqueous[0] * result.aqueous_flow[0] + result.organic[0] * q_org[0]
    np.testing.assert_allclose(raffinate_in + feed_in, out1, rtol=1e-9)
    assert q_org[0] == pytest.approx(15e-3 / 60, rel=1e-12)
    if bleed:
        bleed_product = result.products["organic_bleed"]
        assert bleed_product.flow_m3_per_s == pytest.approx(bleed * 15e-3 / 60, rel=1e-12)
        np.testing.assert_allclose([bleed_product.concentration_mol_per_m3[c] for c in cascade.components],
                                   stripped, rtol=1e-14)
    assert "ph" in result.stage_data and result.reagents["base_mol_per_h"] > 0


@pytest.mark.parametrize("stages,d,oa,efficiency", [(3, 2.0, 1.0, 0.7), (5, 0.8, 1.5, 0.5),
                                                    (10, 3.0, 1.0, 0.9), (4, 1.0, 1.0, 0.6)])
def test_murphree_efficiency_matches_kremser_with_the_lewis_relation(stages, d, oa, efficiency):
    config = {"name": "murphree", "components": ["Cu"],
              "equilibrium": {"model": "constant_d", "distribution": {"Cu": d}},
              "sections": {"extraction": {"stages": stages, "efficiency": efficiency}},
              "streams": {"organic": {"flow": f"{oa} L/min"},
                          "feed": {"flow": "1 L/min", "concentration": {"Cu": "1 mol/L"}}},
              "products": {"raffinate": {"key": ["Cu"]}}}
    left = sx_model.solve(sx_model.load_config(config)).products["raffinate"].recovery
    lam = d * oa
    if abs(lam - 1.0) < 1e-12:
        expected = 1.0 / (stages * efficiency + 1.0)
    else:
        n_eq = stages * math.log(1.0 + efficiency * (lam - 1.0)) / math.log(lam)
        expected = (lam - 1.0) / (lam ** (n_eq + 1.0) - 1.0)
    assert left == pytest.approx(expected, rel=1e-10)


def test_murphree_efficiency_near_one_is_the_equilibrium_cascade_for_mass_action():
    config = copy.deepcopy(LOOP)
    ideal = sx_model.solve(sx_model.load_config(config))
    config["sections"]["scrub"]["efficiency"] = 1.0 - 1e-9
    near = sx_model.solve(sx_model.load_config(config))
    np.testing.assert_allclose(near.aqueous, ideal.aqueous, rtol=1e-6, atol=1e-12 * ideal.aqueous.max())
    config["sections"]["scrub"]["efficiency"] = 0.7
    lower = sx_model.solve(sx_model.load_config(config))
    assert lower.mass_balance_error < 1e-9
    # a less efficient scrub purifies the organic (hence the strip liquor) less
    assert lower.products["strip_liquor"].purity < ideal.products["strip_liquor"].purity


@pytest.mark.parametrize("bleed", [0.0, 0.05])
def test_proton_balance_closes_over_the_whole_loop(bleed):
    # H+ leaving with the aqueous products = acid fed - saponification base
    #   + sum z (metal leaving in organic products - metal entering with organic inlets)
    config = copy.deepcopy(LOOP)
    config["streams"]["organic"]["bleed"] = bleed
    cascade = sx_model.load_config(config)
    result = sx_model.solve(cascade)
    charges = np.array([3.0, 3.0, 3.0, 3.0])
    acid_in = sum(i.flow * i.acid for i in cascade.circuit.inlets if i.phase == "aqueous")
    base = result.reagents["base_mol_per_h"] / 3600.0
    h = result.stage_data["proton_mol_per_m3"]
    h_out = sum(p.flow_m3_per_s * h[p.stage - 1] for p in result.products.values() if p.phase == "aqueous")
    org_out = sum(p.flow_m3_per_s * charges @ np.array(list(p.concentration_mol_per_m3.values()))
                  for p in result.products.values() if p.phase == "organic")
    org_in = sum(i.flow * charges @ i.concentration for i in cascade.circuit.inlets if i.phase == "organic")
    assert h_out == pytest.approx(acid_in - base + org_out - org_in, rel=1e-9)
    # per stage: free + complexed extractant = total, and the pH is the charge balance's
    free = result.stage_data["free_extractant_mol_per_m3"]
    np.testing.assert_allclose(free + result.organic @ charges, 750.0, rtol=1e-12)


def _small_loop():
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
    from bench_mass_action import loop_config

    return loop_config(["Pr", "Nd"], 4, 4, 2)


def test_mass_action_loop_agrees_with_the_stagewise_reference():
    """An independent algorithm (stage-by-stage flashes, Gauss-Seidel sweeps) on a saponified loop."""
    from sx_model.solvers.stagewise import solve_stagewise

    cascade = sx_model.load_config(_small_loop())
    newton = sx_model.solve(cascade)
    reference = solve_stagewise(cascade)
    assert reference.converged
    np.testing.assert_allclose(reference.aqueous, newton.aqueous, rtol=1e-8, atol=1e-10 * newton.aqueous.max())
    np.testing.assert_allclose(reference.organic, newton.organic, rtol=1e-8, atol=1e-10 * newton.organic.max())


@pytest.mark.slow
def test_lacepn_loop_config_agrees_with_the_stagewise_reference():
    from sx_model.solvers.stagewise import solve_stagewise

    import os

    cascade = sx_model.load_config(os.path.join(os.path.dirname(__file__), "..", "configs",
                                                "lacepn_p507_loop.yaml"))
    newton = sx_model.solve(cascade)
    reference = solve_stagewise(cascade)
    assert reference.converged
    scale = newton.aqueous.max()
    np.testing.assert_allclose(reference.aqueous, newton.aqueous, rtol=1e-7, atol=1e-10 * scale)


def test_murphree_efficiency_works_for_the_separation_factor_model():
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "configs", "prnd_p507.yaml")
    config = sx_model.load_config(path).to_config()
    ideal = sx_model.solve(sx_model.load_config(config))
    config = copy.deepcopy(config)
    config["sections"]["scrub"]["efficiency"] = 0.8
    real = sx_model.solve(sx_model.load_config(config))
    assert real.mass_balance_error < 1e-9
    # a less efficient scrub section purifies the Nd product less
    assert real.products["loaded_organic"].purity < ideal.products["loaded_organic"].purity
    assert real.stage_data["loading_fraction"].max() <= 1.0 + 1e-12


def test_a_named_system_supplies_constants_and_config_values_override_them():
    from sx_model.config import systems

    base = {"name": "sys", "components": ["Pr", "Nd"],
            "equilibrium": {"model": "mass_action", "system": "P507",
                            "extractant": {"concentration": "1.5 mol/L", "saponification": 0.2}},
            "sections": {"extraction": {"stages": 3}},
            "streams": {"organic": {"flow": "1 L/min"},
                        "feed": {"flow": "1 L/min", "acid": "0.05 mol/L",
                                 "concentration": {"Pr": "0.05 mol/L", "Nd": "0.05 mol/L"}}}}
    model = sx_model.load_config(base).model
    p507 = systems.get("p507_chloride")
    ref = p507.data["log_k_reference"]
    beta = {el: p507.data["separation_factors"][el]["value"] for el in ("Pr", "Nd", ref["element"])}
    expected_nd = ref["value"] + math.log10(beta["Nd"] / beta[ref["element"]])
    assert model.intercept[1] == pytest.approx(expected_nd, abs=1e-12)
    assert model.intercept[1] - model.intercept[0] == pytest.approx(math.log10(beta["Nd"] / beta["Pr"]))
    override = copy.deepcopy(base)
    override["equilibrium"]["log10_k"] = {"Nd": -1.0}
    model = sx_model.load_config(override).model
    assert model.intercept[1] == -1.0 and model.intercept[0] == pytest.approx(
        ref["value"] + math.log10(beta["Pr"] / beta[ref["element"]]))
    assert sx_model.solve(sx_model.load_config(override)).converged


def test_ph_correlation_from_a_named_system():
    config = {"name": "impurities", "components": ["Zn", "Cu"],
              "equilibrium": {"model": "ph_correlation", "system": "d2ehpa_chloride",
                              "extractant": {"concentration": "0.6 mol/L"}},
              "sections": {"extraction": {"stages": 1}},
              "streams": {"organic": {"flow": "1 L/min"},
                          "feed": {"flow": "1 L/min", "acid": "0.01 mol/L",
                                   "concentration": {"Zn": "1e-9 mol/L", "Cu": "1e-9 mol/L"}}}}
    result = sx_model.solve(sx_model.load_config(config))
    d = result.organic[0] / result.aqueous[0]
    ph = result.stage_data["ph"][0]
    assert ph == pytest.approx(2.0, abs=1e-6)
    # Zn is extracted at lower pH than Cu by D2EHPA (pH50 order Zn < Cu); the correlations' own lines
    from sx_model.config import systems

    for el, value in zip(("Zn", "Cu"), d):
        entry, _ = systems.get("d2ehpa_chloride").ph_correlation(el)
        assert math.log10(value) == pytest.approx(entry["slope"] * ph + entry["intercept"], abs=1e-6)
    assert d[0] > d[1]


def test_more_base_than_chloride_is_a_config_error():
    # 0.45 x 1.5 mol/L x 20 L/min = 13.5 mol/min of NaOH, but feed + scrub bring only
    # 2 L/min x (3 x 1 mol/L + 0.01) + 2 L/min x 2 mol/L = 10.02 mol/min of chloride to the raffinate
    config = copy.deepcopy(LOOP)
    config["equilibrium"]["extractant"]["saponification"] = 0.45
    config["streams"]["organic"]["flow"] = "20 L/min"
    config["streams"]["scrub"]["acid"] = "2 mol/L"
    from sx_model.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        sx_model.solve(sx_model.load_config(config))
    assert info.value.key == "equilibrium.extractant.saponification"
    assert "0.45" in str(info.value)


def test_config_separation_factors_override_a_systems_on_its_scale():
    from sx_model.config import systems

    p507 = systems.get("p507_chloride")
    ref = p507.data["log_k_reference"]
    table = {el: e["value"] for el, e in p507.data["separation_factors"].items()}
    config = {"name": "override", "components": ["Pr", "Nd"],
              "equilibrium": {"model": "mass_action", "system": "p507_chloride",
                              "extractant": {"concentration": "1.5 mol/L"},
                              "separation_factors": {"Nd": 16.0}},
              "sections": {"extraction": {"stages": 2}},
              "streams": {"organic": {"flow": "1 L/min"},
                          "feed": {"flow": "1 L/min", "acid": "0.5 mol/L",
                                   "concentration": {"Pr": "0.01 mol/L", "Nd": "0.01 mol/L"}}}}
    model = sx_model.load_config(config).model
    scale = ref["value"] - math.log10(table[ref["element"]])
    assert model.intercept[1] == pytest.approx(scale + math.log10(16.0), abs=1e-12)     # overridden
    assert model.intercept[0] == pytest.approx(scale + math.log10(table["Pr"]), abs=1e-12)  # system's
    config["equilibrium"]["reference"] = {"element": "Nd", "log10_k": -1.0}
    model = sx_model.load_config(config).model
    assert model.intercept[1] == -1.0
    assert model.intercept[0] == pytest.approx(-1.0 + math.log10(table["Pr"] / 16.0), abs=1e-12)
