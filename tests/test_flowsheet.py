"""Flowsheets: cascades joined by links and solved as one system.

References: the same cascades solved one after the other (each linked stream given the flow and
composition its source produced), and, for a recycle, an independent torn iteration (successive
substitution on the recycled stream until it stops changing) - the classical sequential-modular
method the one joined solve replaces.
"""
from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import yaml

import sx_model
from conftest import ROOT

CONFIGS = ROOT / "configs"
TRAIN = CONFIGS / "flowsheets" / "lace_then_la_ce.yaml"
LA_CE = yaml.safe_load((CONFIGS / "flowsheets" / "la_ce.yaml").read_text())
LOOP = yaml.safe_load((CONFIGS / "lacepn_p507_loop.yaml").read_text())

#: La | Ce with saponified P507 (mass action), fed in the flowsheet with the loop's raffinate.
LA_CE_MASS_ACTION = {
    "name": "La | Ce, saponified P507", "components": ["La", "Ce", "Pr", "Nd"],
    "equilibrium": {"model": "mass_action", "system": "p507_chloride",
                    "extractant": {"concentration": "1.5 mol/L", "saponification": 0.32, "base": "NaOH"},
                    "reference": {"element": "Nd", "log10_k": -1.6}},
    "sections": {"extraction": {"stages": 15}, "scrub": {"stages": 15}},
    "streams": {"organic": {"flow": "9.5 L/min"},
                "feed": {"flow": "4 L/min", "acid": "0.068 mol/L",
                         "concentration": {"La": "0.15 mol/L", "Ce": "0.249 mol/L", "Pr": "0.0000364 mol/L"}},
                "scrub": {"flow": "1 L/min", "acid": "1.5 mol/L"}},
    "products": {"raffinate": {"key": ["La"]}, "loaded_organic": {"key": ["Ce"]}}}


def _stream(product, acid=None):
    out = {"flow": f"{float(product.flow_m3_per_s)!r} m**3/s",
           "concentration": {k: f"{float(v)!r} mol/m**3" for k, v in product.concentration_mol_per_m3.items()
                             if v > 0}}
    if acid is not None:
        out["acid"] = f"{float(acid)!r} mol/m**3"
    return out


def _close(a, b, rtol=1e-9):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert np.max(np.abs(a - b)) <= rtol * max(np.max(np.abs(b)), 1e-300)


def test_a_train_solved_as_one_system_equals_the_cascades_solved_in_sequence():
    joined = sx_model.load_config(TRAIN)
    # one Newton over the whole train from the solver's own start (no sequential start)
    result = sx_model.solve(dataclasses.replace(joined, starter=None))
    assert result.converged and result.mass_balance_error < 1e-12 and "warm" not in result.method
    first = sx_model.solve(sx_model.load_config(CONFIGS / "lace_prnd_p507.yaml"))
    second_config = copy.deepcopy(LA_CE)
    second_config["streams"]["feed"] = _stream(first.products["raffinate"])
    second = sx_model.solve(sx_model.load_config(second_config))
    n = first.aqueous.shape[0]
    _close(result.aqueous[:n], first.aqueous)
    _close(result.aqueous[n:], second.aqueous)
    _close(result.organic[n:], second.organic)
    for name in ("raffinate", "loaded_organic"):
        assert abs(result.products[f"la_ce.{name}"].purity - second.products[name].purity) < 1e-12


def test_an_acidity_driven_train_carries_acid_and_base_through_the_link():
    """The closed P507 loop's raffinate (free acid, NaCl from saponification, La and Ce) feeds a La | Ce
    mass-action cascade: stage pH and concentrations equal the second cascade solved alone with the
    loop's raffinate as its feed (its acid given as the raffinate's proton total)."""
    sheet = {"name": "loop then La | Ce", "cascades": {"loop": {"config": LOOP}, "la_ce": {"config": LA_CE_MASS_ACTION}},
             "links": [{"from": "loop.raffinate", "to": "la_ce.feed"}]}
    result = sx_model.solve(sx_model.load_config(sheet))
    assert result.converged and result.mass_balance_error < 1e-12
    loop = sx_model.solve(sx_model.load_config(LOOP))
    alone = copy.deepcopy(LA_CE_MASS_ACTION)
    alone["streams"]["feed"] = _stream(loop.products["raffinate"], loop.stage_data["acid_mol_per_m3"][0])
    second = sx_model.solve(sx_model.load_config(alone))
    n = loop.aqueous.shape[0]
    _close(result.aqueous[n:], second.aqueous)
    np.testing.assert_allclose(result.stage_data["ph"][n:], second.stage_data["ph"], atol=1e-9)
    np.testing.assert_allclose(result.stage_data["ph"][:n], loop.stage_data["ph"], atol=1e-9)


KREMSER_A = {"name": "extraction", "components": ["Cu"],
             "equilibrium": {"model": "constant_d", "distribution": {"Cu": 2.0}},
             "sections": {"extraction": {"stages": 4}},
             "streams": {"organic": {"flow": "1 L/min"},
                         "feed": {"flow": "1 L/min", "concentration": {"Cu": "0.05 mol/L"}},
                         "returned": {"flow": "0.2 L/min", "stage": 4, "concentration": {"Cu": "0.01 mol/L"}}},
             "products": {"raffinate": {"key": ["Cu"]}, "loaded_organic": {"key": ["Cu"]}}}
KREMSER_B = {"name": "strip", "components": ["Cu"],
             "equilibrium": {"model": "constant_d", "distribution": {"Cu": 0.1}},
             "sections": {"extraction": {"stages": 3}},
             "streams": {"organic": {"flow": "1 L/min", "concentration": {"Cu": "0.04 mol/L"}},
                         "feed": {"flow": "0.2 L/min", "concentration": {"Cu": "0.001 mol/L"}}},
             "products": {"raffinate": {"key": ["Cu"]}, "loaded_organic": {"key": ["Cu"]}}}


def test_a_recycle_solved_at_once_equals_the_torn_iteration():
    """A's loaded organic is stripped in B and B's strip liquor returns to A (a recycle): the joined
    solve equals successive substitution on the returned stream, iterated to 1e-14."""
    sheet = {"name": "recycle", "cascades": {"a": {"config": KREMSER_A}, "b": {"config": KREMSER_B}},
             "links": [{"from": "a.loaded_organic", "to": "b.organic"}, {"from": "b.raffinate", "to": "a.returned"}]}
    joined = sx_model.solve(sx_model.load_config(sheet))
    assert joined.converged and joined.mass_balance_error < 1e-12
    returned = 0.01                                       # mol/L, torn stream
    for _ in range(200):
        a_config = copy.deepcopy(KREMSER_A)
        a_config["streams"]["returned"]["concentration"]["Cu"] = f"{returned!r} mol/L"
        a = sx_model.solve(sx_model.load_config(a_config))
        b_config = copy.deepcopy(KREMSER_B)
        b_config["streams"]["organic"] = _stream(a.products["loaded_organic"])
        b = sx_model.solve(sx_model.load_config(b_config))
        new = b.products["raffinate"].concentration_mol_per_m3["Cu"] / 1000.0
        if abs(new - returned) < 1e-14:
            break
        returned = new
    _close(joined.aqueous[:4], a.aqueous, rtol=1e-9)
    _close(joined.aqueous[4:], b.aqueous, rtol=1e-9)


def test_cli_runs_a_flowsheet(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sx_model", "run", str(TRAIN), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    import json

    data = json.loads(done.stdout)
    assert data["converged"] is True and set(data["products"]) >= {"la_ce.raffinate", "la_ce.loaded_organic"}


def _sheet(**changes):
    sheet = {"name": "t", "cascades": {"a": {"config": copy.deepcopy(KREMSER_A)}, "b": {"config": copy.deepcopy(KREMSER_B)}},
             "links": [{"from": "a.loaded_organic", "to": "b.organic"}]}
    sheet.update(changes)
    return sheet


BAD = [
    (_sheet(links=[{"from": "c.raffinate", "to": "b.organic"}]), "links[0]", "no cascade"),
    (_sheet(links=[{"from": "a.nothing", "to": "b.organic"}]), "links[0]", "no product"),
    (_sheet(links=[{"from": "a.loaded_organic", "to": "b.nothing"}]), "links[0]", "no stream"),
    (_sheet(links=[{"from": "a.raffinate", "to": "b.organic"}]), "links[0]", "one phase"),
    (_sheet(links=[{"from": "a.loaded_organic", "to": "a.returned"}]), "links[0]", "two different"),
    (_sheet(links=[{"from": "a.loaded_organic", "to": "b.organic"}, {"from": "a.loaded_organic", "to": "b.organic"}]),
     "links[1]", "linked twice"),
    (_sheet(links=[{"from": "a-loaded", "to": "b.organic"}]), "links[0].from", "CASCADE.PRODUCT"),
    (_sheet(links="a->b"), "links", "expected a list"),
    (_sheet(cascades={}), "cascades", "empty"),
    (_sheet(cascades={"a": {"config": "missing.yaml"}}), "cascades.a.config", "not a file"),
    (_sheet(cascades={"a.b": {"config": copy.deepcopy(KREMSER_A)}}), "cascades.a.b", "without dots"),
    (_sheet(cascades={"a": {"config": copy.deepcopy(KREMSER_A)},
                      "b": {"config": {**copy.deepcopy(KREMSER_B), "components": ["Cu", "Ni"],
                                       "equilibrium": {"model": "constant_d", "distribution": {"Cu": 0.1, "Ni": 0.1}}}}}),
     "cascades.b", "same components"),
    (_sheet(cascades={"a": {"config": {**copy.deepcopy(KREMSER_A), "sections": "x"}}}), "cascades.a.sections",
     "mapping"),
    (_sheet(extra=1), "extra", "unknown key"),
]


@pytest.mark.parametrize("sheet, key, needle", BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_bad_flowsheets_name_the_key(sheet, key, needle):
    with pytest.raises(sx_model.ConfigError) as info:
        sx_model.load_config(sheet)
    assert info.value.key == key and needle in str(info.value), str(info.value)


def test_a_link_between_different_proton_chemistries_is_refused():
    other = copy.deepcopy(LA_CE_MASS_ACTION)
    other["equilibrium"]["medium"] = "nitrate"
    sheet = {"cascades": {"loop": {"config": LOOP}, "la_ce": {"config": other}},
             "links": [{"from": "loop.raffinate", "to": "la_ce.feed"}]}
    with pytest.raises(sx_model.ConfigError) as info:
        sx_model.load_config(sheet)
    assert info.value.key == "links[0]" and "same medium" in str(info.value)


def test_a_flowsheet_is_not_restaged_or_written_as_one_config():
    joined = sx_model.load_config(TRAIN)
    with pytest.raises(sx_model.ConfigError):
        joined.replace(stages={"lace.extraction": 10})
    with pytest.raises(sx_model.ConfigError):
        joined.to_config()


def test_bad_flowsheet_from_the_cli_is_one_line_exit_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_sheet(links=[{"from": "a.raffinate", "to": "b.organic"}])))
    done = subprocess.run([sys.executable, "-m", "sx_model", "run", str(path)], capture_output=True, text=True)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "links[0]" in done.stderr


def test_a_flowsheet_naming_itself_is_refused_not_recursed(tmp_path):
    path = tmp_path / "self.yaml"
    path.write_text("cascades:\n  a: {config: self.yaml}\n")
    done = subprocess.run([sys.executable, "-m", "sx_model", "validate", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "do not nest" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    with pytest.raises(sx_model.ConfigError):
        sx_model.load_config({"cascades": {"a": {"config": {"cascades": {}}}}})


def test_reagents_are_broken_down_by_cascade():
    sheet = {"name": "loop then La | Ce", "cascades": {"loop": {"config": LOOP}, "la_ce": {"config": LA_CE_MASS_ACTION}},
             "links": [{"from": "loop.raffinate", "to": "la_ce.feed"}]}
    cascade = sx_model.load_config(sheet)
    result = sx_model.solve(cascade)
    parts = result.to_dict()["cascades"]
    assert set(parts) == {"loop", "la_ce"}
    # acid: the cascade's own liquors (loop: feed 2 L/min x 0.01 + scrub 2 x 3.12 + strip 3 x 6 mol/L;
    # la_ce: scrub 1 x 1.5 mol/L; its feed is the link), in mol/h
    assert parts["loop"]["acid_fed_mol_per_h"] == pytest.approx(60 * (2 * 0.01 + 2 * 3.12 + 3 * 6.0), rel=1e-12)
    assert parts["la_ce"]["acid_fed_mol_per_h"] == pytest.approx(60 * 1 * 1.5, rel=1e-12)
    # base: saponification 0.32 of 1.5 mol/L P507 in the organic entering la_ce's first stage
    organic = result.organic_flow[cascade.model.parts[1].first] * 60000.0       # L/min
    assert parts["la_ce"]["saponification_base_mol_per_h"] == pytest.approx(60 * 0.32 * 1.5 * organic, rel=1e-12)
    total = sum(p["saponification_base_mol_per_h"] for p in parts.values())
    assert total == pytest.approx(result.reagents["base_mol_per_h"], rel=1e-12)
    assert parts["la_ce"]["products"]["raffinate"]["purity"] == result.products["la_ce.raffinate"].purity
