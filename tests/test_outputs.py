"""Outputs people use: pandas frames and tidy CSVs that round-trip, strict JSON, plant units, oxide
concentrations on input, and the plausibility check that every result passes."""
import csv
import io
import json

import numpy as np
import pytest

import sx_model
from conftest import CONFIGS, ROOT
from sx_model.postprocess import check_plausible

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def prnd():
    return sx_model.solve(sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml"))


@pytest.fixture(scope="module")
def loop():
    return sx_model.solve(sx_model.load_config(ROOT / "configs" / "lacepn_p507_loop.yaml"))


@pytest.mark.parametrize("units", ["si", "plant"])
def test_profile_frame_and_csv_round_trip(loop, units):
    frame = loop.to_frame(units)
    back = pd.read_csv(io.StringIO(loop.to_csv(units)), index_col="stage")
    assert list(back.columns) == list(frame.columns)
    numeric = frame.select_dtypes("number").columns
    np.testing.assert_array_equal(back[numeric].to_numpy(), frame[numeric].to_numpy())
    assert len(frame) == loop.stages and "ph" in frame.columns


def test_profile_frame_holds_the_solved_numbers(prnd):
    frame = prnd.to_frame()
    np.testing.assert_array_equal(frame["aqueous_Nd_mol_per_m3"].to_numpy(), prnd.aqueous[:, 1])
    np.testing.assert_array_equal(frame["organic_flow_m3_per_s"].to_numpy(), prnd.organic_flow)


def test_plant_units_by_hand(prnd):
    frame = prnd.to_frame("plant")
    nd = prnd.molar_masses["Nd"]
    assert nd == pytest.approx(0.144242, rel=1e-5)        # CIAAW 2021, kg/mol
    np.testing.assert_allclose(frame["aqueous_Nd_g_per_L"].to_numpy(), prnd.aqueous[:, 1] * nd, rtol=1e-15)
    np.testing.assert_allclose(frame["organic_flow_L_per_min"].to_numpy(), prnd.organic_flow * 60000.0)
    products = prnd.products_frame("plant")
    organic = products.loc["loaded_organic"]
    assert organic["flow_L_per_min"] == pytest.approx(45.4, rel=1e-12)   # the config's organic flow
    conc = prnd.products["loaded_organic"].concentration_mol_per_m3
    reo = {c: conc[c] * prnd.oxide_masses[c] for c in conc}
    assert organic["reo_g_per_L"] == pytest.approx(sum(reo.values()), rel=1e-12)
    assert organic["purity_reo_mass"] == pytest.approx(reo["Nd"] / sum(reo.values()), rel=1e-12)


def test_products_csv_round_trip(prnd):
    back = pd.read_csv(io.StringIO(prnd.products_csv()), index_col="product")
    frame = prnd.products_frame()
    for column in ("purity", "recovery", "flow_m3_per_s", "oxide_kg_per_h", "x_Pr", "x_Nd"):
        np.testing.assert_array_equal(back[column].to_numpy(), frame[column].to_numpy())


def test_sweep_frame_and_csv_round_trip():
    result = sx_model.sweep(ROOT / "configs" / "prnd_p507.yaml",
                            {"streams.organic.flow": ["44 L/min", "45 L/min", "46 L/min"]}, progress=False)
    frame = result.to_frame()
    assert list(frame["streams.organic.flow [L/min]"]) == [44.0, 45.0, 46.0]
    back = pd.read_csv(io.StringIO(result.to_csv()))
    np.testing.assert_array_equal(back["loaded_organic_purity"].to_numpy(),
                                  frame["loaded_organic_purity"].to_numpy())


def test_json_normalize_flattens_the_result(prnd):
    data = json.loads(prnd.to_json())
    flat = pd.json_normalize(data)
    assert flat.loc[0, "products.loaded_organic.purity"] == prnd.products["loaded_organic"].purity


def test_json_is_strict_even_with_non_finite_numbers(prnd):
    import copy

    odd = copy.copy(prnd)
    odd.residual_norm = float("inf")
    text = odd.to_json()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert data["residual_norm"] is None


def test_oxide_concentrations_on_input():
    base = sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml").to_config()
    base["streams"]["feed"]["concentration"] = {"Nd": "116.6 g/L Nd2O3", "Pr": "0.25 mol/L"}
    feed = next(i for i in sx_model.load_config(base).circuit.inlets if i.name == "feed")
    # Nd2O3: 2 x 144.242 + 3 x 15.999 = 336.481 g/mol, i.e. 168.2405 g oxide per mol Nd
    assert feed.concentration[1] == pytest.approx(116.6 / 168.2405 * 1000, rel=1e-5)
    base["streams"]["feed"]["concentration"] = {"Nd": "116.6 mol/L Nd2O3"}
    with pytest.raises(sx_model.ConfigError, match="streams.feed.concentration.Nd"):
        sx_model.load_config(base)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_bundled_result_is_plausible(path):
    result = sx_model.solve(sx_model.load_config(path))
    cascade = sx_model.load_config(path)
    check_plausible(cascade, result.aqueous, result.organic, result.products, result.stage_data)


def test_implausible_states_are_refused(prnd):
    cascade = sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml")
    x, y = prnd.aqueous.copy(), prnd.organic.copy()
    x[3, 0] = -1.0
    with pytest.raises(sx_model.ConvergenceError, match="negative"):
        check_plausible(cascade, x, y, prnd.products, prnd.stage_data)
    x[3, 0] = np.nan
    with pytest.raises(sx_model.ConvergenceError, match="not finite"):
        check_plausible(cascade, x, y, prnd.products, prnd.stage_data)


def test_alkaline_or_overloaded_acidity_states_are_refused(loop):
    cascade = sx_model.load_config(ROOT / "configs" / "lacepn_p507_loop.yaml")
    data = dict(loop.stage_data)
    data["ph"] = data["ph"].copy()
    data["ph"][0] = 13.0
    with pytest.raises(sx_model.ConvergenceError, match="pH 13"):
        check_plausible(cascade, loop.aqueous, loop.organic, loop.products, data)
    data = dict(loop.stage_data)
    data["loading_fraction"] = data["loading_fraction"].copy()
    data["loading_fraction"][5] = 1.2
    with pytest.raises(sx_model.ConvergenceError, match="120 %"):
        check_plausible(cascade, loop.aqueous, loop.organic, loop.products, data)


def test_run_plant_units_from_the_command_line(capsys):
    from sx_model.cli import main

    assert main(["run", str(ROOT / "configs" / "prnd_p507.yaml"), "--units", "plant", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["product"] for r in rows} == {"raffinate", "loaded_organic"}
    assert float(next(r for r in rows if r["product"] == "loaded_organic")["flow_L_per_min"]) == \
        pytest.approx(45.4)
