"""Parity with PrOMMiS's published steady solvent-extraction case (configs/prommis_dehpa_sulfate.yaml).

Reference: PrOMMiS 1.0 / 1.1 (https://github.com/prommis/prommis, BSD licence),
``src/prommis/solvent_extraction/tests/test_solvent_extraction_steady.py``,
``test_get_stream_table_contents``: the outlet stream table of ``solvent_extraction_steady.py`` (DEHPA
5 vol%, 3 stages, O/A 1 at 62.01 L/h), given there in kg/m^3 at full precision and written here in mg/L.
The same values (to 5 digits) are asserted by its ``test_solution``.

Two checks: every outlet against the published numbers (1e-6 relative), and every stage against an
independent solve of PrOMMiS's own formulation written out below (species balances with reaction
extents, PrOMMiS's stage numbering, scipy's dense root finder), 1e-9 relative.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import root

import sx_model

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "prommis_dehpa_sulfate.yaml"

#: PrOMMiS molar masses [g/mol] (its property packages), used to turn its mg/L into mol.
MW = {"H": 1.0, "HSO4": 97.0, "SO4": 96.0, "Sc": 44.946, "Y": 88.905, "La": 138.905, "Ce": 140.116,
      "Pr": 140.907, "Nd": 144.242, "Sm": 150.36, "Gd": 157.25, "Dy": 162.50, "Al": 26.982,
      "Ca": 40.078, "Fe": 55.845, "DEHPA": 322.431}

#: Published raffinate (aqueous outlet) [mg/L].
RAFFINATE = {"H": 39.513087794080776, "HSO4": 8023.222048810739, "SO4": 2056.3987970532893,
             "Sc": 2.7415124943096402e-03, "Y": 6.292748432495276e-06, "La": 0.9142143743736765,
             "Ce": 2.1095278998357163, "Pr": 0.2763100455024723, "Nd": 0.8809872254832235,
             "Sm": 0.08657862645327003, "Gd": 0.19245933405617006, "Dy": 1.1699115491985285e-03,
             "Al": 399.95007985144854, "Ca": 102.3360816022842, "Fe": 585.5947170037661}
#: Published loaded organic (organic outlet) [mg/L]; DEHPA is the free extractant.
LOADED = {"DEHPA": 46086.75988668226, "Al": 22.424932818551315, "Ca": 7.205945237715807,
          "Fe": 102.67128586923359, "Sc": 1.7632584875056905, "Y": 0.1240154972515675,
          "La": 0.07189062562632331, "Ce": 0.1677821001642839, "Pr": 0.0267270644975277,
          "Nd": 0.06517777451677624, "Sm": 0.01043838354672995, "Gd": 0.0659742359438299,
          "Dy": 0.045838096450801465}

#: The published raffinate Y is not converged to 1e-6: PrOMMiS's interior-point solve stops at a
#: scaled tolerance that leaves 7e-12 mg/L (1.1e-6 of 6.3e-6 mg/L, 6e-11 of the Y fed) on the wrong
#: side of the phase boundary; the independent solve below lands on our value, not the published one.
LOOSER = {("aqueous", "Y"): 2e-6}


@pytest.fixture(scope="module")
def solved():
    cascade = sx_model.load_config(CONFIG)
    return cascade, sx_model.solve(cascade)


def _outlets_mg_per_l(cascade, result):
    comps = list(cascade.components)
    data = result.stage_data
    aq = {c: result.aqueous[0, comps.index(c)] * MW[c] for c in comps}          # mol/m^3 x g/mol = mg/L
    aq["H"] = data["proton_mol_per_m3"][0] * MW["H"]
    aq["HSO4"] = data["bisulfate_mol_per_m3"][0] * MW["HSO4"]
    aq["SO4"] = data["sulfate_ion_mol_per_m3"][0] * MW["SO4"]
    org = {c: result.organic[-1, comps.index(c)] * MW[c] for c in comps}
    org["DEHPA"] = data["free_extractant_mol_per_m3"][-1] * MW["DEHPA"]
    return aq, org


def test_every_outlet_matches_the_published_case(solved):
    cascade, result = solved
    assert result.converged and result.mass_balance_error < 1e-12
    aq, org = _outlets_mg_per_l(cascade, result)
    for phase, got, ref in (("aqueous", aq, RAFFINATE), ("organic", org, LOADED)):
        for species, value in ref.items():
            tol = LOOSER.get((phase, species), 1e-6)
            assert math.isclose(got[species], value, rel_tol=tol), (phase, species, got[species], value)


def _independent_prommis_solve():
    """PrOMMiS's equations solved as PrOMMiS states them (stage 1 = aqueous feed in), all in mol/L."""
    metals = ["Sc", "Y", "La", "Ce", "Pr", "Nd", "Sm", "Gd", "Dy", "Al", "Ca", "Fe"]
    feed_mg = {"Sc": 0.032, "Y": 0.124, "La": 0.986, "Ce": 2.277, "Pr": 0.303, "Nd": 0.946, "Sm": 0.097,
               "Gd": 0.2584, "Dy": 0.047, "Al": 422.375, "Ca": 109.542, "Fe": 688.266}
    org_mg = {"Al": 1.267e-5, "Ca": 2.684e-5, "Fe": 2.873e-6, "Sc": 1.734, "Y": 2.179e-5, "La": 0.000105,
              "Ce": 0.00031, "Pr": 3.711e-5, "Nd": 0.000165, "Sm": 1.701e-5, "Gd": 3.357e-5, "Dy": 8.008e-6}
    corr = {"La": (0.54, 0, -1.93, 0), "Y": (1.63166, 0.15166, -2.12601, 0.26612), "Pr": (0.29, 0, -1.48, 0),
            "Ce": (0.30916, 0.04816, -1.66021, -0.38599), "Nd": (0.31183, 0.03763, -1.62372, -0.38096),
            "Sm": (0.81233, -0.02247, -2.12172, 0.17414), "Gd": (1.0225, 0.0195, -2.24143, 0.03065),
            "Dy": (1.70783, 0.06443, -2.42226, -0.02538)}
    constant = {"Sc": 632.4976, "Al": 0.0531, "Ca": 0.0658, "Fe": 0.1496}
    per_metal = np.array([2.0 if m == "Ca" else 3.0 for m in metals])      # DEHPA and H+ per metal
    x_feed = np.array([feed_mg[m] / MW[m] / 1e3 for m in metals])          # mol/L
    y_feed = np.array([org_mg[m] / MW[m] / 1e3 for m in metals])
    h_feed, hso4_feed, so4_feed = 10.75 / MW["H"] / 1e3, 1e4 / MW["HSO4"] / 1e3, 100 / MW["SO4"] / 1e3
    dehpa_feed = 48790.0 / MW["DEHPA"] / 1e3
    ka2 = 10 ** -1.99
    n_stage, m = 3, len(metals)

    def distribution(ph, dehpa):
        dos = dehpa * MW["DEHPA"] / 975.8 * 100.0                          # free DEHPA, vol %
        return np.array([constant[k] if k in constant else
                         10 ** ((corr[k][0] + corr[k][1] * dos) * ph + corr[k][2] + corr[k][3] * math.log10(dos))
                         for k in metals])

    def unpack(u):
        v = np.exp(u.reshape(n_stage, m + 4))
        return v[:, :m], v[:, m], v[:, m + 1], v[:, m + 2], v[:, m + 3]   # x, H, HSO4, SO4, DEHPA

    def residual(u):
        x, h, hso4, so4, dehpa = unpack(u)
        y = np.array([distribution(-math.log10(h[s]), dehpa[s]) * x[s] for s in range(n_stage)])
        out = []
        for s in range(n_stage):
            x_in = x_feed if s == 0 else x[s - 1]
            h_in, hso4_in, so4_in = ((h_feed, hso4_feed, so4_feed) if s == 0
                                     else (h[s - 1], hso4[s - 1], so4[s - 1]))
            y_in = y_feed if s == n_stage - 1 else y[s + 1]
            dehpa_in = dehpa_feed if s == n_stage - 1 else dehpa[s + 1]
            extent = x_in - x[s]                                           # equal flows: per litre
            out.extend((y_in + extent - y[s]) / (x_feed + y_feed))
            out.append((hso4_in + so4_in - hso4[s] - so4[s]) / (hso4_feed + so4_feed))
            out.append((h_in + hso4_in + per_metal @ extent - h[s] - hso4[s]) / (h_feed + hso4_feed))
            out.append((dehpa_in - per_metal @ extent - dehpa[s]) / dehpa_feed)
            out.append(math.log(h[s] * so4[s] / (ka2 * hso4[s])))
        return np.array(out)

    start = np.log(np.tile(np.concatenate([x_feed, [0.035, 0.08, 0.02, dehpa_feed]]), n_stage))
    sol = root(residual, start, method="hybr", options={"xtol": 1e-13})
    assert np.max(np.abs(residual(sol.x))) < 1e-12, sol.message
    x, h, hso4, so4, dehpa = unpack(sol.x)
    return metals, x, h, dehpa


def test_every_stage_matches_an_independent_solve_of_prommis_equations(solved):
    cascade, result = solved
    metals, x, h, dehpa = _independent_prommis_solve()
    order = [list(cascade.components).index(mm) for mm in metals]
    # PrOMMiS stage s (aqueous feed in at s = 1) is our stage 4 - s
    ours_x = result.aqueous[::-1][:, order] / 1e3
    np.testing.assert_allclose(ours_x, x, rtol=1e-9)
    np.testing.assert_allclose(result.stage_data["proton_mol_per_m3"][::-1] / 1e3, h, rtol=1e-9)
    np.testing.assert_allclose(result.stage_data["free_extractant_mol_per_m3"][::-1] / 1e3, dehpa, rtol=1e-9)
    # the published raffinate Y is the one outlet further from this solve than from ours (see LOOSER)
    assert abs(x[-1, metals.index("Y")] * MW["Y"] * 1e3 / RAFFINATE["Y"] - 1) > 1e-6


def test_proton_and_sulfate_balances_close_in_every_stage(solved):
    """Sulfate tracer and the proton total H+ + HSO4- + sum p x are conserved stage by stage."""
    cascade, result = solved
    data = result.stage_data
    sulfate = data["bisulfate_mol_per_m3"] + data["sulfate_ion_mol_per_m3"]
    feed = next(i for i in cascade.circuit.inlets if i.name == "feed")
    np.testing.assert_allclose(sulfate, feed.sulfate, rtol=1e-12)
    p = cascade.model.protons
    # proton total of the aqueous + protons given up by the metal it has lost, per stage
    h_total = data["proton_mol_per_m3"] + data["bisulfate_mol_per_m3"]
    np.testing.assert_allclose(h_total + result.aqueous @ p, feed.acid + feed.concentration @ p, rtol=1e-10)
    # Ka2 in every stage
    ka2 = 1e3 * 10 ** -1.99
    np.testing.assert_allclose(data["proton_mol_per_m3"] * data["sulfate_ion_mol_per_m3"],
                               ka2 * data["bisulfate_mol_per_m3"], rtol=1e-12)
