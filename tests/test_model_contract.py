"""Contract suite run against every registered equilibrium model.

Each model must: give finite, positive organic concentrations for positive aqueous ones; ship an analytic
Jacobian d ln y / d ln x that matches central finite differences; and conserve mass when used in a
single-stage batch contact (checked through the engine).
"""
import numpy as np
import pytest

import sx_model
from sx_model.config.models import read_model
from sx_model.elements import element
from sx_model.equilibrium import REGISTRY, StageConditions, model_class

COMPONENTS = ("La", "Ce", "Pr", "Nd")

# One example configuration per model; adding a model to the registry without adding it here fails
# test_every_model_has_an_example.
EXAMPLES = {
    "constant_d": {"model": "constant_d", "distribution": {"La": 0.2, "Ce": 0.9, "Pr": 2.0, "Nd": 3.1},
                   "distribution_by_section": {"scrub": {"Nd": 1.5}}},
    "separation_factor": {"model": "separation_factor",
                          "separation_factors": {"La": 1.0, "Ce": 5.0, "Pr": 10.0, "Nd": 15.0},
                          "capacity": "0.18 mol/L"},
    "mass_action": {"model": "mass_action",
                    "extractant": {"concentration": "1.0 mol/L", "saponification": 0.3, "base": "NaOH"},
                    "separation_factors": {"La": 1.0, "Ce": 5.0, "Pr": 10.0, "Nd": 15.0},
                    "reference": {"element": "Nd", "log10_k": -1.5}},
    "ph_correlation": {"model": "ph_correlation",
                       "extractant": {"concentration": "0.6 mol/L"},
                       "correlations": {"La": {"slope": 3, "intercept": -6.0},
                                        "Ce": {"slope": 3, "intercept": -5.3, "extractant_order": 3},
                                        "Pr": {"slope": 2.5, "intercept": -4.0},
                                        "Nd": {"slope": 3, "intercept": -4.5, "extractant_order": 3,
                                               "at": "1 mol/L"}}},
    # the PrOMMiS correlation form (Ce and Nd with its negative dosage exponents b1), 30 vol% DEHPA
    "dosage_correlation": {"model": "dosage_correlation",
                           "extractant": {"volume_percent": 30, "molar_mass": "322.431 g/mol",
                                          "density": "975.8 g/L", "association": "monomer"},
                           "correlations": {"La": {"m0": 0.54, "m1": 0.0, "b0": -1.93, "b1": 0.0},
                                            "Ce": {"m0": 0.30916, "m1": 0.04816, "b0": -1.66021, "b1": -0.38599},
                                            "Pr": {"distribution": 0.09},
                                            "Nd": {"m0": 0.31183, "m1": 0.03763, "b0": -1.62372,
                                                   "b1": -0.38096}}},
    # a tabulated isotherm of La in mol/L (curved, saturating at 0.3 mol/L), constant D for the rest
    "isotherm": {"model": "isotherm", "key": "La", "unit": "mol/L",
                 "points": [[0.005, 0.05], [0.02, 0.15], [0.05, 0.22], [0.1, 0.26], [0.3, 0.29],
                            [1.0, 0.3]],
                 "distribution": {"Ce": 0.9, "Pr": 2.0, "Nd": 0.0}},
}


def make(name, stages=6):
    charges = [element(c).charge for c in COMPONENTS]
    model = read_model(EXAMPLES[name], COMPONENTS, ["extraction", "scrub"], charges)
    assert isinstance(model, model_class(name))
    sections = tuple(["extraction"] * (stages // 2) + ["scrub"] * (stages - stages // 2))
    acid = np.zeros(stages)
    acid[-1] = 1e-4
    anion = np.linspace(0.1, 0.3, stages)             # mol/s of chloride into each stage (1-3 mol/L)
    conditions = StageConditions(section=sections, aqueous_flow=np.full(stages, 1e-4),
                                 organic_flow=np.full(stages, 2e-4), acid_inflow=acid,
                                 anion_inflow=anion, tracer=lambda load: load / 1e-4)
    return model, model.prepare(conditions)


def sample_x(rng, stages):
    # aqueous concentrations over six orders of magnitude [mol/m^3]
    return 10 ** rng.uniform(-3, 3, size=(stages, len(COMPONENTS)))


def test_every_model_has_an_example():
    assert set(REGISTRY) == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_outputs_finite_and_positive(name):
    model, params = make(name)
    rng = np.random.default_rng(1)
    for _ in range(20):
        x = sample_x(rng, 6)
        y = model.organic(x, params)
        assert y.shape == x.shape
        assert np.all(np.isfinite(y)) and np.all(y >= 0)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_jacobian_matches_finite_differences(name):
    model, params = make(name)
    rng = np.random.default_rng(2)
    for _ in range(10):
        x = sample_x(rng, 6)
        _, jac = model.equilibrium(x, params)
        for k in range(x.shape[1]):
            h = 1e-6 * x[:, k]
            up, down = x.copy(), x.copy()
            up[:, k] += h
            down[:, k] -= h
            fd = (model.equilibrium(up, params)[0] - model.equilibrium(down, params)[0]) / (2 * h[:, None])
            # central differences with a relative step of 1e-6: truncation O(1e-12), rounding
            # O(1e-16 / 1e-6) relative to y / x
            scale = np.abs(model.organic(x, params)) / x[:, k:k + 1] + 1e-300
            np.testing.assert_allclose(jac[:, :, k] / scale, fd / scale, atol=1e-7)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_zero_aqueous_gives_zero_organic(name):
    model, params = make(name)
    x = np.zeros((6, 4))
    y, jac = model.equilibrium(x, params)
    assert np.all(y == 0) and np.all(np.isfinite(jac))


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_single_stage_batch_conserves_mass(name):
    config = {
        "name": "batch", "components": list(COMPONENTS), "equilibrium": EXAMPLES[name] | {},
        "sections": {"extraction": {"stages": 1}},
        "streams": {"organic": {"flow": "1 L/min"},
                    "feed": {"phase": "aqueous", "flow": "1 L/min",
                             "concentration": {"La": "0.1 mol/L", "Ce": "0.05 mol/L", "Pr": "20 g/L",
                                               "Nd": "0.02 mol/L"}}},
    }
    config["equilibrium"] = {k: v for k, v in config["equilibrium"].items() if k != "distribution_by_section"}
    config["streams"]["feed"]["acid"] = "0.5 mol/L"
    result = sx_model.solve(sx_model.load_config(config))
    assert result.mass_balance_error < 1e-12
    fed = np.array([100.0, 50.0, 20e3 / 140.90766, 20.0])  # mol/m^3, Pr from 20 g/L / M(Pr)
    out = (result.products["raffinate"].flow_m3_per_s * result.aqueous[0]
           + result.products["loaded_organic"].flow_m3_per_s * result.organic[0])
    np.testing.assert_allclose(out, fed * (1e-3 / 60), rtol=1e-12)


def test_separation_factor_limits():
    model, params = make("separation_factor")
    # composition ratio is beta-weighted exactly: y_i / y_k = beta_i x_i / (beta_k x_k)
    x = np.array([[10.0, 20.0, 30.0, 40.0]] * 6)
    y = model.organic(x, params)
    beta = np.array([1.0, 5.0, 10.0, 15.0])
    np.testing.assert_allclose(y[:, 1] / y[:, 0], beta[1] * x[:, 1] / (beta[0] * x[:, 0]), rtol=1e-13)
    # saturated: total loading is capacity (180 mol/m^3) times s / (c_half + s), s = sum(beta x) / max beta
    # = (10 + 100 + 300 + 600) / 15 = 67.33 mol/m^3, default c_half = 1e-3 mol/m^3 -> 179.99733
    s = 1010.0 / 15.0
    c_half = 1e-3
    np.testing.assert_allclose(y[:-1].sum(axis=1), 180.0 * s / (c_half + s), rtol=1e-13)
    # the acid-fed stage carries capacity - acid / (3 Q_org): 180 - 1e-4 / (3 * 2e-4) = 179.833...
    assert y[-1].sum() == pytest.approx((180.0 - 1e-4 / 6e-4) * s / (c_half + s), rel=1e-13)
    # dilute limit: linear, D_i = L beta_i / (max beta * c_half)
    # (sum(beta x) / c_half = 2e-6, so the linear limit holds to that)
    tiny = np.full((6, 4), 1e-9)
    d = model.organic(tiny, params) / tiny
    np.testing.assert_allclose(d[0], 180.0 * beta / 15.0 / c_half, rtol=1e-5)


def test_constant_d_section_override():
    model, params = make("constant_d")
    x = np.ones((6, 4))
    y = model.organic(x, params)
    assert y[0, 3] == pytest.approx(3.1) and y[-1, 3] == pytest.approx(1.5)


def test_separation_factor_rejects_unloadable_organic():
    # 8 L/min x 0.25 mol/L = 2 mol/min of capacity, the acid strips 0.375 mol/min: the organic leaving
    # the acid stage would carry 1.625 mol/min, but only 0.5 mol/min of metal is fed.
    config = {
        "name": "excess capacity", "components": ["La"],
        "equilibrium": {"model": "separation_factor", "separation_factors": {"La": 1.0},
                        "capacity": "0.25 mol/L"},
        "sections": {"extraction": {"stages": 3}, "scrub": {"stages": 20}},
        "streams": {"organic": {"flow": "8 L/min"},
                    "feed": {"flow": "0.5 L/min", "concentration": {"La": "1 mol/L"}},
                    "scrub": {"flow": "1 L/min", "acid": "1.125 mol/L"}},
    }
    from sx_model.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        sx_model.solve(sx_model.load_config(config))
    assert info.value.key == "streams.organic.flow"


INTERNAL = sorted(name for name in EXAMPLES if model_class(name).internal_count)


@pytest.mark.parametrize("name", INTERNAL)
def test_internal_derivatives_match_finite_differences(name):
    """Models with internal unknowns (ln [H+]): dy/dx, dy/dw and the constraint's derivatives."""
    model, params = make(name)
    rng = np.random.default_rng(3)
    for _ in range(5):
        x = sample_x(rng, 6)
        w = model.internal_start(x, params) + rng.uniform(-0.5, 0.5, size=(6, 1))
        y, dydx, dydw = model.equilibrium_internal(x, w, params)
        e, dedx, dedw = model.constraint(x, w, params)
        # step 1e-4 in ln [H+]: truncation ~1e-8 relative; the inner free-extractant solve stops at
        # 1e-13 in ln f, which a smaller step would amplify into the difference quotient
        h = 1e-4
        fd_w = (model.equilibrium_internal(x, w + h, params)[0]
                - model.equilibrium_internal(x, w - h, params)[0]) / (2 * h)
        np.testing.assert_allclose(dydw[:, :, 0], fd_w, rtol=1e-6, atol=1e-7 * np.abs(y).max())
        fd_ew = (model.constraint(x, w + h, params)[0] - model.constraint(x, w - h, params)[0]) / (2 * h)
        np.testing.assert_allclose(dedw[:, :, 0], fd_ew, rtol=1e-6)
        for k in range(x.shape[1]):
            step = 1e-6 * x[:, k]
            up, down = x.copy(), x.copy()
            up[:, k] += step
            down[:, k] -= step
            fd = (model.equilibrium_internal(up, w, params)[0]
                  - model.equilibrium_internal(down, w, params)[0]) / (2 * step[:, None])
            scale = np.abs(y) / x[:, k:k + 1] + 1e-300
            np.testing.assert_allclose(dydx[:, :, k] / scale, fd / scale, atol=1e-7)
            fd_e = (model.constraint(up, w, params)[0] - model.constraint(down, w, params)[0]) / step[:, None]
            np.testing.assert_allclose(dedx[:, :, k], fd_e / 2, rtol=1e-4)   # linear in x: only round-off


@pytest.mark.parametrize("name", INTERNAL)
def test_internal_form_agrees_with_eliminated_form(name):
    """With ln [H+] from the charge balance, the internal form gives the eliminated model's y."""
    model, params = make(name)
    x = sample_x(np.random.default_rng(4), 6)
    w = model.internal_start(x, params)
    y_int = model.equilibrium_internal(x, w, params)[0]
    np.testing.assert_allclose(y_int, model.organic(x, params), rtol=1e-12)
    np.testing.assert_allclose(model.constraint(x, w, params)[0], 0.0, atol=1e-10)  # round-off of sum z x
