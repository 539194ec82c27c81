"""Batch contacts and ``sx-model fit``.

References nobody here wrote: the cascade solver on one-stage cascades (a batch contact is a one-stage
cascade with O/A = organic/aqueous flow), the three conservation laws written out independently of the
package (metal, protons through water and bisulfate, extractant), ordinary least squares by
``numpy.polyfit`` for the slope analysis, and the binomial distribution of interval coverage.
"""
import copy
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

import sx_model
from sx_model.batch import batch_contact
from sx_model.config.models import read_model
from sx_model.studies.fit import apply, fit, parameters, parse_data, read_equilibrium
from conftest import ROOT

KW = 1e-14                  # water, mol^2/L^2 (the package's K_w, written here independently)
LOOP = ROOT / "configs" / "lacepn_p507_loop.yaml"
DATA = ROOT / "configs" / "nd_p507_shakeout.csv"


def one_stage(components, equilibrium, feed, organic, ratio=1.5, temperature=None):
    """A one-stage cascade config: feed at 1 L/min, organic at ``ratio`` L/min."""
    section = {"stages": 1}
    if temperature:
        section["temperature"] = temperature
    streams = {"organic": {"flow": f"{ratio} L/min", **organic}, "feed": {"flow": "1 L/min", **feed}}
    return {"name": "batch", "components": components, "equilibrium": equilibrium,
            "sections": {"extraction": section}, "streams": streams,
            "products": {"raffinate": {"key": [components[0]]}, "loaded_organic": {"key": [components[-1]]}}}


P507 = {"model": "mass_action", "system": "p507_chloride", "reference": {"element": "Nd", "log10_k": -1.6},
        "extractant": {"concentration": "1.2 mol/L", "saponification": 0.25}}
CASES = {
    "p507 chloride, saponified": one_stage(["La", "Nd"], P507, {"acid": "0.05 mol/L",
                                            "concentration": {"La": "0.3 mol/L", "Nd": "0.1 mol/L"}}, {}),
    "p507 at 45 degC with enthalpies, loaded organic": one_stage(
        ["Pr", "Nd"], {**P507, "enthalpy": {"Pr": "-12 kJ/mol", "Nd": "-25 kJ/mol"}},
        {"ph": 1.5, "concentration": {"Pr": "0.05 mol/L", "Nd": "0.15 mol/L"}},
        {"concentration": {"Nd": "0.02 mol/L"}}, ratio=0.8, temperature="45 degC"),
    "Zn and Cu, D2EHPA pH correlations in sulfate": one_stage(
        ["Cu", "Zn"], {"model": "ph_correlation", "system": "d2ehpa_chloride", "medium": "sulfate",
                       "stoichiometry": {"Zn": {"extractant": 1.5, "protons": 2}},
                       "extractant": {"concentration": "0.6 mol/L", "saponification": 0.1}},
        {"ph": 2.5, "sulfate": "0.4 mol/L", "concentration": {"Cu": "2 g/L", "Zn": "5 g/L"}}, {}, ratio=1.0),
    "Cu, monomer hydroxyoxime in sulfate": one_stage(
        ["Cu"], {"model": "mass_action", "medium": "sulfate", "log10_k": {"Cu": 0.3},
                 "stoichiometry": {"Cu": {"extractant": 2, "protons": 2}},
                 "extractant": {"concentration": "0.5 mol/L", "association": "monomer"}},
        {"acid": "0.02 mol/L", "concentration": {"Cu": "3 g/L"}}, {}, ratio=1.2),
    "Nd taking chloride along (p = 2 of z = 3)": one_stage(
        ["Nd"], {"model": "mass_action", "log10_k": {"Nd": -1.0},
                 "stoichiometry": {"Nd": {"extractant": 3, "protons": 2}},
                 "extractant": {"concentration": "1.0 mol/L"}},
        {"acid": "0.1 mol/L", "concentration": {"Nd": "0.05 mol/L"}}, {}, ratio=1.0),
    "separation factors (no acidity)": one_stage(
        ["Pr", "Nd"], {"model": "separation_factor", "separation_factors": {"Pr": 1.0, "Nd": 1.5},
                       "capacity": "0.18 mol/L"}, {"concentration": {"Pr": "0.1 mol/L", "Nd": "0.2 mol/L"}}, {}),
    "constant D": one_stage(["Cu"], {"model": "constant_d", "distribution": {"Cu": 2.4}},
                            {"concentration": {"Cu": "1 g/L"}}, {}),
}


def contact_of(cascade):
    """The batch contact a one-stage cascade describes (inputs read from the loaded cascade, SI)."""
    circuit = cascade.circuit
    feed = next(i for i in circuit.inlets if i.name == "feed")
    org = next(i for i in circuit.inlets if i.name == "organic")
    return dict(aqueous=feed.concentration, acid=feed.acid, o_a=org.flow / feed.flow,
                organic=org.concentration, temperature=float(circuit.stage_temperature()[0]),
                sulfate=getattr(feed, "sulfate", None))


@pytest.mark.parametrize("case", sorted(CASES))
def test_batch_contact_is_the_one_stage_cascade(case):
    cascade = sx_model.load_config(CASES[case])
    full = sx_model.solve(cascade, options=sx_model.SteadyOptions(tol=1e-13))
    got = batch_contact(cascade.model, **contact_of(cascade))
    assert got.converged.all()
    scale = np.maximum(full.aqueous, full.organic).max()
    assert np.max(np.abs(got.aqueous - full.aqueous)) <= 1e-10 * scale
    assert np.max(np.abs(got.organic - full.organic)) <= 1e-10 * scale
    if "ph" in full.stage_data:
        assert abs(got.ph[0] - full.stage_data["ph"][0]) <= 1e-10


def test_prommis_case_as_a_batch_contact():
    """The dosage correlation of the PrOMMiS case (sulfate, 12 metals, loaded organic), one stage."""
    config = yaml.safe_load((ROOT / "configs" / "prommis_dehpa_sulfate.yaml").read_text())
    config["sections"]["extraction"]["stages"] = 1
    cascade = sx_model.load_config(config)
    full = sx_model.solve(cascade, options=sx_model.SteadyOptions(tol=1e-13))
    feed = next(i for i in cascade.circuit.inlets if i.phase == "aqueous")
    org = next(i for i in cascade.circuit.inlets if i.name == "organic")
    got = batch_contact(cascade, feed.concentration, acid=feed.acid, sulfate=feed.sulfate, o_a=org.flow / feed.flow,
                        organic=org.concentration, temperature=305.15)
    scale = np.maximum(full.aqueous, full.organic)
    assert np.all(np.abs(got.aqueous - full.aqueous) <= 1e-10 * scale + 1e-300)
    assert np.all(np.abs(got.organic - full.organic) <= 1e-10 * scale + 1e-300)
    assert abs(got.ph[0] - full.stage_data["ph"][0]) <= 1e-10


# -- the balances, written out independently --------------------------------------------------------

def _model(components, equilibrium):
    from sx_model.elements import element

    charges = tuple(element(c).charge for c in components)
    return read_model(equilibrium, components, ["extraction"], charges)


STOICHIOMETRY = {
    # name: (components, equilibrium, k, nu, p, medium)
    "dimer, nu = z (Nd, P507)": (["Nd"], {"model": "mass_action", "log10_k": {"Nd": -1.6},
                                          "extractant": {"concentration": "1.0 mol/L"}}, 2, [3], [3], "chloride"),
    "monomer, nu = p = 2 (Cu)": (["Cu"], {"model": "mass_action", "log10_k": {"Cu": 0.3}, "medium": "sulfate",
                                          "stoichiometry": {"Cu": {"extractant": 2, "protons": 2}},
                                          "extractant": {"concentration": "0.5 mol/L", "association": "monomer"}},
                                 1, [2], [2], "sulfate"),
    "fractional nu = 1.5 dimers, p = 2 (Zn)": (["Zn"], {"model": "mass_action", "log10_k": {"Zn": -2.26},
                                                         "medium": "sulfate",
                                                         "stoichiometry": {"Zn": {"extractant": 1.5, "protons": 2}},
                                                         "extractant": {"concentration": "0.6 mol/L"}},
                                               2, [1.5], [2], "sulfate"),
    "p < z in chloride (Nd with one Cl-)": (["La", "Nd"], {"model": "mass_action", "log10_k": {"La": -2.5, "Nd": -1.2},
                                                           "stoichiometry": {"Nd": {"extractant": 3, "protons": 2}},
                                                           "extractant": {"concentration": "1.0 mol/L"}},
                                            2, [3, 3], [3, 2], "chloride"),
}


@pytest.mark.parametrize("case", sorted(STOICHIOMETRY))
def test_batch_balances_for_every_stoichiometry(case):
    comps, eq, k, nu, p, medium = STOICHIOMETRY[case]
    model = _model(comps, eq)
    rng = np.random.default_rng(3)
    n = 60
    x0 = rng.uniform(1.0, 60.0, (n, len(comps)))                         # mol/m^3
    acid = rng.uniform(5.0, 400.0, n)
    o_a = rng.uniform(0.3, 3.0, n)
    y0 = np.zeros((n, len(comps)))
    y0[::3, 0] = rng.uniform(0.0, 5.0, len(y0[::3]))                    # some organics come loaded
    temp = rng.uniform(288.0, 333.0, n)
    res = batch_contact(model, x0, acid=acid, o_a=o_a, organic=y0, temperature=temp)
    assert res.converged.all()
    x, y = res.aqueous, res.organic
    # metal
    total = x0 + o_a[:, None] * y0
    assert np.max(np.abs(x + o_a[:, None] * y - total) / total) < 1e-12
    # protons: H_T(h) + sum p x conserved; H_T = h - Kw/h (+ HSO4- = S h / (h + Ka2) in sulfate)
    h = 10.0 ** -res.ph                                                   # mol/L
    ht = h - KW / h
    ht0 = acid / 1000.0
    if medium == "sulfate":
        s = 0.5 * (ht0 + x0 @ np.asarray(model.charges, float) / 1000.0)  # metal sulfates + sulfuric acid
        ka2 = 10 ** (-1.99 - (-21930.0) / (8.314462618 * math.log(10)) * (1 / temp - 1 / 298.15))
        ht = ht + s * h / (h + ka2)
    before = ht0 + x0 @ np.asarray(p, float) / 1000.0
    after = ht + x @ np.asarray(p, float) / 1000.0
    assert np.max(np.abs(after - before) / np.maximum(np.abs(before), 1e-6)) < 1e-12
    # extractant and mass action: D = K [(HA)_k]^nu / [H+]^p with the free extractant from its balance
    free = (model.extractant / k - y @ np.asarray(nu, float)) / 1000.0  # mol/L
    assert np.all(free > 0)
    logk = np.array([eq["log10_k"][c] for c in comps])
    expected = logk + np.outer(np.log10(free), nu) - np.outer(np.log10(h), p)
    assert np.max(np.abs(np.log10(res.distribution) - expected)) < 1e-12 * 10  # 1e-11 in log10 = 2e-11 rel
    assert np.max(res.mass_balance_error) < 1e-12


def test_many_contacts_at_once_equal_one_at_a_time():
    """Contacts solved together (one vectorised Newton) give what each gives alone (timing of both in
    benchmarks/bench_fit.py)."""
    model = _model(["La", "Nd"], {"model": "mass_action", "system": "p507_chloride",
                                  "reference": {"element": "Nd", "log10_k": -1.6},
                                  "extractant": {"concentration": "1.2 mol/L", "saponification": 0.05}})
    rng = np.random.default_rng(0)
    n = 40
    x0 = rng.uniform(1.0, 200.0, (n, 2))
    acid = rng.uniform(50.0, 500.0, n)
    together = batch_contact(model, x0, acid=acid)
    assert together.converged.all()
    for i in range(0, n, 7):
        alone = batch_contact(model, x0[i:i + 1], acid=acid[i:i + 1])
        np.testing.assert_allclose(alone.aqueous[0], together.aqueous[i], rtol=1e-10)
        np.testing.assert_allclose(alone.organic[0], together.organic[i], rtol=1e-10)


def test_batch_contact_refuses_bad_inputs():
    model = _model(["Nd"], STOICHIOMETRY["dimer, nu = z (Nd, P507)"][1])
    for kwargs, key in ((dict(aqueous=[-1.0]), "aqueous"), (dict(aqueous=[1.0], o_a=0.0), "o_a"),
                        (dict(aqueous=[1.0], organic=[400.0]), "organic"),
                        (dict(aqueous=[1.0], acid=0.0, saponification=0.9), "saponification")):
        with pytest.raises(sx_model.ConfigError, match=key):
            batch_contact(model, **kwargs)


# -- fits -------------------------------------------------------------------------------------------

def synthetic(model, truth_paths, truth, n, sd, rng, loading=5.0):
    """CSV text of ``n`` Nd shake-out tests drawn from constants ``truth`` with N(0, sd) noise in log10 D."""
    true_model = apply(model, parameters(model, truth_paths), truth)
    acid = np.linspace(20.0, 900.0, n)
    x0 = np.zeros((n, len(model.components)))
    nd = model.components.index("Nd")
    x0[:, nd] = loading
    res = batch_contact(true_model, x0, acid=acid, o_a=1.0, saponification=0.0)
    logd = np.log10(res.distribution[:, nd]) + rng.normal(0.0, sd, n)
    rows = ["Nd_aq0 [mmol/L],acid0 [mmol/L],o_a,saponification,D_Nd"]
    rows += [f"{loading!r},{float(a)!r},1,0,{float(10 ** v)!r}" for a, v in zip(acid, logd)]
    return "\n".join(rows) + "\n"


def coverage(draws, seed):
    model, comps = read_equilibrium(LOOP)
    paths = ["equilibrium.log10_k.Nd", "equilibrium.ph_slope.Nd"]
    truth = np.array([-1.3, 2.7])
    rng = np.random.default_rng(seed)
    inside = np.zeros(2, int)
    for _ in range(draws):
        data = parse_data(synthetic(model, paths, truth, 12, 0.05, rng), comps)
        result = fit(model, data, paths)
        inside += (result.ci_low <= truth) & (truth <= result.ci_high)
    return inside


def test_interval_coverage_fast():
    """40 synthetic data sets (12 tests, N(0, 0.05) in log10 D) from known constants: each 95 % interval
    holds the true value in about 95 % of the draws. Under a correct interval the count is
    Binomial(40, 0.95): P(count <= 32) = 7e-4, so 33..40 is accepted (too wide cannot be told from 40
    draws: P(40) = 0.13; the slow test bounds it). Intervals from z instead of t, or without the residual
    variance, or from a wrong Jacobian, fall far below."""
    inside = coverage(40, seed=11)
    assert np.all(inside >= 33), inside


@pytest.mark.slow
def test_interval_coverage_200_draws():
    """As the fast test with 200 draws: Binomial(200, 0.95) gives P(count <= 179) = 1.2e-3 and
    P(count >= 199) = 4e-4, so 180..198 is accepted (both too narrow and too wide intervals fail)."""
    inside = coverage(200, seed=12)
    assert np.all((inside >= 180) & (inside <= 198)), inside


def test_slope_analysis_is_ordinary_least_squares():
    """Slope analysis at trace loading (no published (pH, D) data set with typeable values was available
    to us, so the closed form is reproduced instead): for a mass-action system at trace loading
    log10 D = log10 K + p pH + nu log10 [(HA)_k], so fitting log10 K and the apparent slope p to log10 D
    alone is an ordinary least-squares line through (pH, log10 D), computed here by numpy.polyfit with
    the pH of each test worked out from its acid alone ([H+] - Kw/[H+] = acid); the intercept less
    nu log10 [(HA)_k] is log10 K."""
    model, comps = read_equilibrium(LOOP)
    paths = ["equilibrium.log10_k.Nd", "equilibrium.ph_slope.Nd"]
    rng = np.random.default_rng(5)
    acid = np.array([0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5])      # mol/L
    logd = -0.2 - 2.8 * np.log10(acid) + rng.normal(0.0, 0.1, acid.size)      # "measured", scattered
    text = "Nd_aq0 [mol/L],acid0 [mol/L],o_a,saponification,D_Nd\n" + "".join(
        f"1e-15,{float(a)!r},1,0,{float(10 ** d)!r}\n" for a, d in zip(acid, logd))
    result = fit(model, parse_data(text, comps), paths)
    h = 0.5 * (acid + np.sqrt(acid ** 2 + 4 * KW))
    slope, intercept = np.polyfit(-np.log10(h), logd, 1)
    dimer = model.extractant / 2 / 1000.0                                    # mol/L of (HA)2, nu = 3
    assert result.estimate[1] == pytest.approx(slope, abs=1e-7)
    assert result.estimate[0] == pytest.approx(intercept - 3 * math.log10(dimer), abs=1e-7)
    # and its standard errors are those of the OLS line (polyfit's covariance is scaled the same way)
    _, cov = np.polyfit(-np.log10(h), logd, 1, cov=True)
    assert result.standard_error[1] == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-5)


def test_parameters_map_onto_the_model_arrays():
    """Applying the starting values gives back the model; each path moves its own array entry."""
    for comps, eq, paths in (
            (["Zn", "Cu"], {"model": "ph_correlation", "system": "d2ehpa_chloride", "medium": "sulfate",
                            "extractant": {"concentration": "0.9 mol/L"}},
             ["equilibrium.correlations.Zn.slope", "equilibrium.correlations.Zn.intercept",
              "equilibrium.correlations.Zn.extractant_order", "equilibrium.enthalpy.Cu"]),
            (["Nd"], {"model": "dosage_correlation", "medium": "sulfate",
                      "extractant": {"volume_percent": 5, "molar_mass": "322.4 g/mol", "density": "975.8 g/L",
                                     "association": "monomer"},
                      "correlations": {"Nd": {"m0": 0.31, "m1": 0.037, "b0": -1.6, "b1": -0.38}}},
             ["equilibrium.correlations.Nd.m0", "equilibrium.correlations.Nd.m1",
              "equilibrium.correlations.Nd.b0", "equilibrium.correlations.Nd.b1"])):
        model = _model(comps, eq)
        params = parameters(model, paths)
        start = [p.start for p in params]
        same = apply(model, params, start)
        for name in ("intercept", "ph_slope", "extractant_order", "dosage_slope", "enthalpy"):
            assert np.allclose(getattr(same, name), getattr(model, name), rtol=0, atol=1e-14)
        # a correlation's intercept is log10 D at pH 0 at the config's extractant: re-read from a config
        if model.name == "ph_correlation":
            moved = apply(model, params, [2.5, -3.5, 1.2, -15.0])
            edited = copy.deepcopy(eq)
            edited["correlations"] = {"Zn": {"slope": 2.5, "intercept": -3.5, "extractant_order": 1.2}}
            edited["enthalpy"] = {"Cu": "-15 kJ/mol"}
            again = _model(comps, edited)
            for name in ("intercept", "ph_slope", "extractant_order", "enthalpy"):
                assert np.allclose(getattr(moved, name), getattr(again, name), rtol=1e-14, atol=1e-12)


def test_fit_recovers_constants_and_writes_a_system_a_config_can_name(tmp_path):
    out = tmp_path / "nd_fitted.yaml"
    plot = tmp_path / "res.png"
    done = run("fit", str(LOOP), str(DATA), "--fit", "equilibrium.log10_k.Nd", "--format", "json",
               "--system-out", str(out), "--plot", str(plot), "--holdout", "0.3", "--seed", "2")
    assert done.returncode == 0, done.stderr
    import json

    result = json.loads(done.stdout)
    est = result["parameters"][0]
    assert est["ci95_low"] < est["estimate"] < est["ci95_high"]
    assert abs(est["estimate"] - (-1.3)) < 0.1                 # the data were drawn from -1.3
    assert result["holdout"]["rows"] == 4 and plot.stat().st_size > 1000
    entry = yaml.safe_load(out.read_text())
    assert entry["nd_fitted"]["log_k"]["Nd"]["tag"] == "fitted"
    assert entry["nd_fitted"]["log_k"]["Nd"]["source"].startswith("fitted to nd_p507_shakeout.csv on ")
    # a config next to the file names it by a relative path
    config = yaml.safe_load(LOOP.read_text())
    config["equilibrium"] = {"model": "mass_action", "system": "nd_fitted.yaml",
                             "extractant": config["equilibrium"]["extractant"]}
    (tmp_path / "uses_fit.yaml").write_text(yaml.safe_dump(config))
    model, _ = read_equilibrium(tmp_path / "uses_fit.yaml")
    assert model.intercept[3] == pytest.approx(est["estimate"], abs=1e-12)
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        cascade = sx_model.load_config("uses_fit.yaml")
    finally:
        os.chdir(cwd)
    assert cascade.model.intercept[3] == pytest.approx(est["estimate"], abs=1e-12)


def test_a_fitted_slope_travels_through_the_system_file(tmp_path):
    """log10 K and the apparent slope fitted together, written as a system, named by a config in
    another directory (found next to the config, whatever the working directory)."""
    out = tmp_path / "nd_slope.yaml"
    done = run("fit", str(LOOP), str(DATA), "--fit", "equilibrium.log10_k.Nd", "--fit", "equilibrium.ph_slope.Nd",
               "--format", "json", "--system-out", str(out))
    assert done.returncode == 0, done.stderr
    import json

    est = {p["path"]: p["estimate"] for p in json.loads(done.stdout)["parameters"]}
    assert abs(est["equilibrium.ph_slope.Nd"] - 2.7) < 0.2          # the data were drawn from 2.7
    entry = yaml.safe_load(out.read_text())["nd_slope"]
    assert entry["ph_slope"]["Nd"]["tag"] == "fitted"
    config = yaml.safe_load(LOOP.read_text())
    config["equilibrium"] = {"model": "mass_action", "system": "nd_slope.yaml",
                             "extractant": config["equilibrium"]["extractant"]}
    (tmp_path / "uses_fit.yaml").write_text(yaml.safe_dump(config))
    cascade = sx_model.load_config(tmp_path / "uses_fit.yaml")      # working directory elsewhere
    nd = cascade.components.index("Nd")
    assert cascade.model.ph_slope[nd] == pytest.approx(est["equilibrium.ph_slope.Nd"], abs=1e-12)
    assert cascade.model.intercept[nd] == pytest.approx(est["equilibrium.log10_k.Nd"], abs=1e-12)


# -- the command line: bad input --------------------------------------------------------------------

def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sx_model", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


GOOD = DATA.read_text()
HEADER = "test,Nd_aq0 [mol/L],acid0 [mol/L],o_a,extractant [mol/L],saponification,temperature [degC],D_Nd,ph,sd_D_Nd,sd_ph"


def _edit(column, value, row=0):
    lines = GOOD.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("test,"))
    cols = lines[start].split(",")
    cells = lines[start + 1 + row].split(",")
    cells[cols.index(column)] = value
    lines[start + 1 + row] = ",".join(cells)
    return "\n".join(lines) + "\n"


def _header(old, new):
    return GOOD.replace(HEADER, HEADER.replace(old, new))


BAD = {
    "missing o_a column": (GOOD.replace(",o_a,", ",O_A_gone,"), [], "O_A_gone"),
    "missing acid column": (_header("acid0 [mol/L]", "note"), [], "acid0"),
    "bad unit": (_header("Nd_aq0 [mol/L]", "Nd_aq0 [mol/furlong]"), [], "Nd_aq0 [mol/furlong]"),
    "missing unit": (_header("Nd_aq0 [mol/L]", "Nd_aq0"), [], "Nd_aq0"),
    "unit on a ratio": (_header("o_a", "o_a [mol/L]"), [], "o_a [mol/L]"),
    "negative concentration": (_edit("Nd_aq0 [mol/L]", "-0.01", 2), [], "line 7, column 'Nd_aq0 [mol/L]'"),
    "O/A zero": (_edit("o_a", "0"), [], "line 5, column 'o_a'"),
    "pH outside -1..14": (_edit("ph", "15", 1), [], "line 6, column 'ph'"),
    "not a number": (_edit("D_Nd", "n/a", 3), [], "line 8, column 'D_Nd'"),
    "unknown element": (_header("D_Nd", "D_Xx"), [], "D_Xx"),
    "empty CSV": ("", [], "empty"),
    "header only": (HEADER + "\n", [], "no data rows"),
    "unknown --fit path": (GOOD, ["--fit", "equilibrium.log10_k.Qq"], "--fit"),
    "a --fit path of another model": (GOOD, ["--fit", "equilibrium.correlations.Nd.m0"], "--fit"),
    "more parameters than data": ("Nd_aq0 [mol/L],acid0 [mol/L],o_a,D_Nd\n0.01,0.1,1,0.5\n",
                                  ["--fit", "equilibrium.ph_slope.Nd"], "--fit"),
    "unwritable output": (GOOD, ["--system-out", "/proc/nd_fit.yaml"], "--system-out"),
    "output in a missing directory": (GOOD, ["--plot", "no/such/dir/res.png"], "--plot"),
    "hold-out of 1": (GOOD, ["--holdout", "1"], "--holdout"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_one_line(case, tmp_path):
    text, extra, needle = BAD[case]
    data = tmp_path / "tests.csv"
    data.write_text(text)
    out = tmp_path / "out"
    args = ["fit", str(LOOP), str(data), "--out", str(out)]
    if not any(a == "--fit" for a in extra):
        args += ["--fit", "equilibrium.log10_k.Nd"]
    done = run(*args, *extra, cwd=tmp_path)
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert needle in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tests.csv"]


def test_a_contact_that_does_not_converge_is_a_solver_failure(monkeypatch, capsys):
    import sx_model.batch as batch
    from sx_model.cli import main

    original = batch.batch_contact
    monkeypatch.setattr(batch, "batch_contact", lambda *a, **k: original(*a, **{**k, "max_iterations": 0}))
    code = main(["fit", str(LOOP), str(DATA), "--fit", "equilibrium.log10_k.Nd"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("sx-model: solver failure:") and "does not converge" in err and "line 5" in err
