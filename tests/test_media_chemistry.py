"""Aqueous media, general cation-exchange stoichiometry and temperature, checked against hand
calculations and batch balances written out here (not the model's code).

References: the quadratic for [H+] of a sulfuric acid / metal sulfate liquor follows from
[H+] + [HSO4-] = H_T, [HSO4-] + [SO4 2-] = S, K_a2 = [H+][SO4 2-]/[HSO4-] (any textbook of aqueous
equilibria, e.g. Butler, Ionic Equilibrium, 1998, ch. 3); K_a2 = 10^-1.99 mol/L at 25 C (Smith & Martell,
Critical Stability Constants vol. 4) with Delta H = -21.93 kJ/mol (Wagman et al. 1982 formation
enthalpies of HSO4- and SO4 2-); van 't Hoff: d ln K / d(1/T) = -Delta H / R.
"""
from __future__ import annotations

import copy
import math
import subprocess
import sys

import numpy as np
import pytest
import yaml

import sx_model

R = 8.314462618
KA2_25 = 10 ** -1.99


def _ka2(t_kelvin):
    return KA2_25 * math.exp(21930.0 / R * (1 / t_kelvin - 1 / 298.15))


def _h_sulfate(h_total, sulfate, ka2):
    """[H+] (mol/L) from H_T = h + S h/(h + K) (water negligible): h^2 + (K + S - H_T) h - H_T K = 0."""
    b = ka2 + sulfate - h_total
    return 0.5 * (-b + math.sqrt(b * b + 4 * h_total * ka2))


def _contact(model, feed, organic=None, stages=1, oa=1.0, temperature=None, components=("Nd",),
             extra_feeds=None):
    """A config mapping of a small battery (one stage: a batch contact at O/A = oa)."""
    sections = {"extraction": {"stages": stages}}
    if temperature is not None:
        sections["extraction"]["temperature"] = temperature
    streams = {"organic": {"flow": f"{oa} L/min", **(organic or {})},
               "feed": {"flow": "1 L/min", **feed}}
    streams.update(extra_feeds or {})
    return {"name": "contact", "components": list(components), "equilibrium": model,
            "sections": sections, "streams": streams}


def _solve(config):
    cascade = sx_model.load_config(config)
    return cascade, sx_model.solve(cascade)


INERT_SULFATE = {"model": "mass_action", "medium": "sulfate", "log10_k": {"Nd": -30.0},
                 "extractant": {"concentration": "0.5 mol/L"}}


@pytest.mark.parametrize("t_c", [25.0, 50.0])
def test_sulfate_liquor_without_extraction_gives_the_hand_computed_ph(t_c):
    config = _contact(INERT_SULFATE, {"concentration": {"Nd": "0.02 mol/L"}, "acid": "0.2 mol/L"},
                      stages=3, temperature=f"{t_c} degC")
    _, result = _solve(config)
    sulfate = (0.2 + 3 * 0.02) / 2             # electroneutral: metal sulfate + sulfuric acid
    h = _h_sulfate(0.2, sulfate, _ka2(t_c + 273.15))
    np.testing.assert_allclose(result.stage_data["ph"], -math.log10(h), atol=1e-9)
    data = result.stage_data
    # species in every stage: K_a2 holds, sulfate and protons are conserved
    np.testing.assert_allclose(data["bisulfate_mol_per_m3"] + data["sulfate_ion_mol_per_m3"], 1e3 * sulfate,
                               rtol=1e-12)
    np.testing.assert_allclose(data["proton_mol_per_m3"] * data["sulfate_ion_mol_per_m3"],
                               1e3 * _ka2(t_c + 273.15) * data["bisulfate_mol_per_m3"], rtol=1e-10)


def test_ka2_falls_as_the_liquor_warms():
    from sx_model.equilibrium.media import Medium

    medium = Medium("sulfate")
    assert math.isclose(float(medium.ka2(298.15)), 1e3 * KA2_25, rel_tol=1e-14)
    assert math.isclose(float(medium.ka2(323.15)), 1e3 * _ka2(323.15), rel_tol=1e-12)
    assert medium.ka2(323.15) < medium.ka2(298.15)


@pytest.mark.parametrize("medium,ph", [("chloride", 2.0), ("nitrate", 1.3), ("sulfate", 1.5), ("sulfate", 2.5)])
def test_a_stream_given_by_its_ph_enters_at_that_ph(medium, ph):
    model = dict(INERT_SULFATE, medium=medium)
    config = _contact(model, {"concentration": {"Nd": "0.05 mol/L"}, "ph": ph}, stages=2, temperature="40 degC")
    cascade, result = _solve(config)
    np.testing.assert_allclose(result.stage_data["ph"], ph, atol=1e-9)
    if medium == "sulfate":                    # the acid it implies, by hand at 40 C
        h = 10 ** -ph
        share = h / (h + _ka2(313.15))
        acid = (h + 0.5 * 0.15 * share) / (1 - 0.5 * share)
        feed = next(i for i in cascade.circuit.inlets if i.name == "feed")
        assert math.isclose(feed.acid / 1e3, acid, rel_tol=1e-9)


def test_free_base_in_a_liquor_neutralises_acid():
    model = dict(INERT_SULFATE, medium="chloride")
    config = _contact(model, {"concentration": {"Nd": "0.01 mol/L"}, "acid": "0.02 mol/L"},
                      extra_feeds={"caustic": {"flow": "1 L/min", "stage": 1, "base": "0.01 mol/L",
                                               "concentration": {"Nd": "0 mol/L"}}})
    _, result = _solve(config)
    assert math.isclose(result.stage_data["ph"][0], -math.log10((0.02 - 0.01) / 2), abs_tol=1e-9)
    assert math.isclose(result.reagents["base_in_liquors_mol_per_h"], 0.01 * 60, rel_tol=1e-12)


STOICHIOMETRIES = {
    # name: (component, association, nu, p, log10 K, medium)
    "dimer, nu = p = z (P507 - Nd)": ("Nd", "dimer", 3.0, 3, -1.5, "chloride"),
    "monomer, nu = p = 2 (oxime - Cu)": ("Cu", "monomer", 2.0, 2, -1.0, "sulfate"),
    "fractional dimer, nu = 1.5, p = 2 (D2EHPA - Zn)": ("Zn", "dimer", 1.5, 2, -2.26, "sulfate"),
    "monomer, nu = 3, p = 3 (DEHPA counted as monomer - Nd)": ("Nd", "monomer", 3.0, 3, -2.0, "sulfate"),
    "ion pair, p < z (Nd with one chloride along)": ("Nd", "dimer", 3.0, 2, -1.0, "chloride"),
}


@pytest.mark.parametrize("case", list(STOICHIOMETRIES))
def test_batch_contact_balances_for_each_stoichiometry(case):
    comp, assoc, nu, p, log_k, medium = STOICHIOMETRIES[case]
    extractant = 0.6                           # mol/L as HA
    k = 2 if assoc == "dimer" else 1
    model = {"model": "mass_action", "medium": medium, "log10_k": {comp: log_k},
             "extractant": {"concentration": f"{extractant} mol/L", "association": assoc},
             "stoichiometry": {comp: {"extractant": nu, "protons": p}}}
    x0, acid0, oa = 0.05, 0.01, 1.5
    config = _contact(model, {"concentration": {comp: f"{x0} mol/L"}, "acid": f"{acid0} mol/L"},
                      oa=oa, components=(comp,))
    _, result = _solve(config)
    data = result.stage_data
    x, y = result.aqueous[0, 0] / 1e3, result.organic[0, 0] / 1e3          # mol/L
    assert 0.01 * x0 < x < 0.99 * x0                                       # a real partition
    # metal balance of the contact
    assert math.isclose(x + oa * y, x0, rel_tol=1e-12)
    # protons: p released per metal extracted
    h_total = data["acid_mol_per_m3"][0] / 1e3
    assert math.isclose(h_total, acid0 + p * (x0 - x), rel_tol=1e-10)
    # extractant: nu units of (HA)_k bound per metal in the organic
    free = data["free_extractant_mol_per_m3"][0] / 1e3
    assert math.isclose(free + nu * y, extractant / k, rel_tol=1e-12)
    # the law itself, D = K [(HA)_k]^nu / [H+]^p (mol/L), from the reported free extractant and pH
    h = 10 ** -data["ph"][0]
    assert math.isclose(y / x, 10 ** log_k * free ** nu / h ** p, rel_tol=1e-9)


def test_van_t_hoff_moves_the_extraction_constant():
    enthalpy = -25e3
    model = {"model": "mass_action", "log10_k": {"Nd": -1.5}, "enthalpy": {"Nd": "-25 kJ/mol"},
             "reference_temperature": "25 degC", "extractant": {"concentration": "0.6 mol/L"}}
    for t_c in (25.0, 55.0):
        config = _contact(model, {"concentration": {"Nd": "0.05 mol/L"}, "acid": "0.01 mol/L"},
                          temperature=f"{t_c} degC")
        _, result = _solve(config)
        data = result.stage_data
        d = result.organic[0, 0] / result.aqueous[0, 0]
        log_k = -1.5 - enthalpy / (R * math.log(10)) * (1 / (t_c + 273.15) - 1 / 298.15)
        free, h = data["free_extractant_mol_per_m3"][0] / 1e3, 10 ** -data["ph"][0]
        assert math.isclose(d, 10 ** log_k * free ** 3 / h ** 3, rel_tol=1e-9)


def test_separation_factors_follow_temperature_per_section():
    model = {"model": "separation_factor", "separation_factors": {"Pr": 1.0, "Nd": 1.5},
             "capacity": "0.18 mol/L", "enthalpy": {"Pr": "-10 kJ/mol", "Nd": "-15 kJ/mol"}}
    config = {"components": ["Pr", "Nd"], "equilibrium": model,
              "sections": {"extraction": {"stages": 5, "temperature": "45 degC"},
                           "scrub": {"stages": 5, "temperature": "25 degC"}},
              "streams": {"organic": {"flow": "10 L/min"},
                          "feed": {"flow": "2 L/min", "concentration": {"Pr": "0.5 mol/L", "Nd": "0.5 mol/L"}},
                          "scrub": {"flow": "1 L/min", "acid": "3 mol/L"}}}
    _, result = _solve(config)
    x, y = result.aqueous, result.organic
    beta = (y[:, 1] / y[:, 0]) / (x[:, 1] / x[:, 0])
    hot = 1.5 * math.exp(5e3 / R * (1 / 318.15 - 1 / 298.15))        # Delta H_Nd - Delta H_Pr = -5 kJ/mol
    np.testing.assert_allclose(beta[:5], hot, rtol=1e-9)
    np.testing.assert_allclose(beta[5:], 1.5, rtol=1e-9)


def test_constants_from_another_medium_are_flagged():
    model = {"model": "mass_action", "system": "p507_chloride", "medium": "sulfate",
             "extractant": {"concentration": "1.0 mol/L"}}
    config = _contact(model, {"concentration": {"Nd": "0.05 mol/L"}, "acid": "0.05 mol/L"})
    cascade = sx_model.load_config(config)
    assert any("measured in chloride" in w and "sulfate" in w for w in cascade.warnings)


BASE = _contact({"model": "mass_action", "log10_k": {"Nd": -1.5}, "extractant": {"concentration": "0.6 mol/L"}},
                {"concentration": {"Nd": "0.05 mol/L"}, "acid": "0.01 mol/L"})


def _with(path, value):
    config = copy.deepcopy(BASE)
    node = config
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    if value is None:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return config


BAD = [
    ("equilibrium.medium", "brine", "equilibrium.medium"),
    ("equilibrium.medium", {"name": "chloride", "log10_ka2": -2}, "equilibrium.medium.log10_ka2"),
    ("equilibrium.stoichiometry", {"Nd": {"protons": 4}}, "equilibrium.stoichiometry.Nd.protons"),
    ("equilibrium.stoichiometry", {"Nd": {"protons": 2.5}}, "equilibrium.stoichiometry.Nd.protons"),
    ("equilibrium.stoichiometry", {"Nd": {"extractant": 1, "protons": 3}}, "equilibrium.stoichiometry.Nd.protons"),
    ("equilibrium.stoichiometry", {"Nd": {"extractant": 0}}, "equilibrium.stoichiometry.Nd.extractant"),
    ("equilibrium.stoichiometry", {"Cu": {"extractant": 2}}, "equilibrium.stoichiometry.Cu"),
    ("equilibrium.extractant.association", "trimer", "equilibrium.extractant.association"),
    ("equilibrium.extractant.volume_percent", 120, "equilibrium.extractant.concentration"),
    ("equilibrium.enthalpy", {"Nd": "-20 kJ"}, "equilibrium.enthalpy.Nd"),
    ("equilibrium.enthalpy", {"Nd": "-900 kJ/mol"}, "equilibrium.enthalpy.Nd"),
    ("equilibrium.reference_temperature", "25", "equilibrium.reference_temperature"),
    ("sections.extraction.temperature", "150 degC", "sections.extraction.temperature"),
    ("sections.extraction.temperature", "-5 degC", "sections.extraction.temperature"),
    ("sections.extraction.temperature", 40, "sections.extraction.temperature"),
    ("streams.feed.base", "0.1 mol/L", "streams.feed.base"),
    ("streams.feed.ph", 15, "streams.feed.ph"),
    ("streams.feed.sulfate", "0.1 mol/L", "streams.feed.sulfate"),
    ("streams.organic.ph", 2, "streams.organic.ph"),
    ("equilibrium.ph_slope", {"Nd": -1}, "equilibrium.ph_slope.Nd"),
]


@pytest.mark.parametrize("path,value,key", BAD, ids=[f"{p}={v}" for p, v, _ in BAD])
def test_bad_chemistry_input_names_the_key(path, value, key):
    with pytest.raises(sx_model.ConfigError) as info:
        sx_model.load_config(_with(path, value))
    assert info.value.key == key, str(info.value)


def test_protons_below_the_charge_are_refused_in_sulfate():
    config = _with("equilibrium.medium", "sulfate")
    config["equilibrium"]["stoichiometry"] = {"Nd": {"protons": 2}}
    with pytest.raises(sx_model.ConfigError) as info:
        sx_model.load_config(config)
    assert info.value.key == "equilibrium.stoichiometry.Nd.protons"


def test_dosage_correlation_needs_molar_mass_and_density():
    config = _with("equilibrium", {"model": "dosage_correlation", "extractant": {"concentration": "0.15 mol/L"},
                                   "correlations": {"Nd": {"m0": 0.3, "m1": 0.04, "b0": -1.6, "b1": -0.38}}})
    with pytest.raises(sx_model.ConfigError) as info:
        sx_model.load_config(config)
    assert info.value.key == "equilibrium.extractant.molar_mass"


def test_base_is_refused_by_the_separation_factor_model():
    config = {"components": ["Pr", "Nd"],
              "equilibrium": {"model": "separation_factor", "separation_factors": {"Pr": 1.0, "Nd": 1.5},
                              "capacity": "0.18 mol/L"},
              "sections": {"extraction": {"stages": 3}},
              "streams": {"organic": {"flow": "10 L/min"},
                          "feed": {"flow": "2 L/min", "base": "0.1 mol/L",
                                   "concentration": {"Pr": "0.5 mol/L", "Nd": "0.5 mol/L"}}}}
    with pytest.raises(sx_model.ConfigError) as info:
        sx_model.load_config(config)
    assert info.value.key == "streams"


def test_bad_chemistry_from_the_cli_is_one_line_exit_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_with("equilibrium.stoichiometry", {"Nd": {"protons": 4}})))
    proc = subprocess.run([sys.executable, "-m", "sx_model", "run", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "equilibrium.stoichiometry.Nd.protons" in lines[0] and "cannot balance" in lines[0]


def test_new_chemistry_keys_survive_a_round_trip():
    config = _contact({"model": "dosage_correlation", "medium": {"name": "sulfate", "log10_ka2": -2.0},
                       "extractant": {"volume_percent": 10, "molar_mass": "322.4 g/mol", "density": "975 g/L",
                                      "association": "monomer"},
                       "stoichiometry": {"Ca": {"extractant": 2, "protons": 2}},
                       "enthalpy": {"Nd": "-12 kJ/mol"},
                       "correlations": {"Nd": {"m0": 0.3, "m1": 0.04, "b0": -1.6, "b1": -0.38},
                                        "Ca": {"distribution": 0.07}}},
                      {"concentration": {"Nd": "0.001 mol/L", "Ca": "0.003 mol/L"}, "ph": 1.8,
                       "sulfate": "0.1 mol/L"},
                      components=("Nd", "Ca"), stages=3, temperature="35 degC")
    cascade = sx_model.load_config(config)
    again = sx_model.load_config(sx_model.config.to_config(cascade))
    a, b = sx_model.solve(cascade), sx_model.solve(again)
    np.testing.assert_allclose(a.aqueous, b.aqueous, rtol=1e-12)
    np.testing.assert_allclose(a.stage_data["ph"], b.stage_data["ph"], rtol=1e-12)


def test_the_clegg_ka2_function_agrees_with_the_nbs_enthalpy_and_moves_the_ph():
    """Clegg, Rard & Pitzer (1994) eq. 21 against the constant-enthalpy form from independent data:
    log10 K_a2 at 25 C within 0.02 of -1.99, and its van 't Hoff slope at 25 C within 5 % of the NBS
    -21.93 kJ/mol; a liquor at 50 C computed with it gives the hand-solved quadratic pH."""
    from sx_model.equilibrium.media import Medium, clegg_log10_ka2

    assert abs(float(clegg_log10_ka2(298.15)) + 1.99) < 0.02
    h = 1e-3
    slope = (clegg_log10_ka2(298.15 + h) - clegg_log10_ka2(298.15 - h)) / (1 / (298.15 + h) - 1 / (298.15 - h))
    enthalpy = -slope * R * math.log(10)
    assert abs(enthalpy / -21930.0 - 1) < 0.05
    model = dict(INERT_SULFATE, medium={"name": "sulfate", "ka2": "clegg1994"})
    config = _contact(model, {"concentration": {"Nd": "0.02 mol/L"}, "acid": "0.2 mol/L"}, temperature="50 degC")
    _, result = _solve(config)
    k = 10 ** float(clegg_log10_ka2(323.15))
    assert math.isclose(result.stage_data["ph"][0], -math.log10(_h_sulfate(0.2, 0.13, k)), abs_tol=1e-9)
    assert Medium("sulfate", ka2_function="clegg1994").ka2(323.15) < Medium("sulfate").ka2(323.15)
    with pytest.raises(sx_model.ConfigError) as info:
        sx_model.load_config(_contact(dict(INERT_SULFATE, medium={"name": "sulfate", "ka2": "clegg1994",
                                                                  "log10_ka2": -2}),
                                      {"concentration": {"Nd": "0.02 mol/L"}, "acid": "0.2 mol/L"}))
    assert info.value.key == "equilibrium.medium.log10_ka2"
