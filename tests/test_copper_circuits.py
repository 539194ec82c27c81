"""Copper circuits beyond a plain battery: the series-parallel plant (a flowsheet whose organic loop
is closed through links), checked against an independent torn iteration and by its balances."""
from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

import sx_model
from conftest import ROOT

M_CU = 63.546          # g/mol (IUPAC)
SERIES_PARALLEL = ROOT / "configs" / "flowsheets" / "copper_series_parallel.yaml"
SHEET = yaml.safe_load(SERIES_PARALLEL.read_text())


@pytest.fixture(scope="module")
def plant():
    cascade = sx_model.load_config(SERIES_PARALLEL)
    return cascade, sx_model.solve(cascade)


def _inlet(cascade, name):
    return next(i for i in cascade.circuit.inlets if i.name == name)


def test_series_parallel_equals_the_torn_loop():
    """Reference: the two cascades solved alone, the stripped organic torn and passed round the loop by
    successive substitution until it stops changing (the sequential-modular method), against the one
    joined solve (from the solver's own start, no sequential starter)."""
    joined = sx_model.load_config(SERIES_PARALLEL)
    result = sx_model.solve(dataclasses.replace(joined, starter=None))
    assert result.converged and result.mass_balance_error < 1e-9
    series_cfg = SHEET["cascades"]["series"]["config"]
    parallel_cfg = SHEET["cascades"]["parallel"]["config"]
    stripped = {"Cu": 0.0, "Fe": 0.0}
    for _ in range(200):
        p_cfg = copy.deepcopy(parallel_cfg)
        p_cfg["streams"]["organic"]["concentration"] = {k: f"{v!r} mol/m**3" for k, v in stripped.items()}
        par = sx_model.solve(sx_model.load_config(p_cfg))
        s_cfg = copy.deepcopy(series_cfg)
        loaded = par.products["loaded_organic"].concentration_mol_per_m3
        s_cfg["streams"]["organic"]["concentration"] = {k: f"{v!r} mol/m**3" for k, v in loaded.items()}
        ser = sx_model.solve(sx_model.load_config(s_cfg))
        new = ser.products["stripped_organic"].concentration_mol_per_m3
        change = max(abs(new[k] - stripped[k]) for k in new)
        stripped = dict(new)
        if change < 1e-11 * max(new.values()):
            break
    else:
        pytest.fail("the torn loop did not settle")
    np.testing.assert_allclose(result.aqueous[:3], ser.aqueous, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(result.organic[:3], ser.organic, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(result.aqueous[3:], par.aqueous, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(result.organic[3:], par.organic, rtol=1e-7, atol=1e-12)


def test_series_parallel_balances_close(plant):
    cascade, result = plant
    assert result.converged and result.mass_balance_error < 1e-9
    x, y, h = result.aqueous, result.organic, result.stage_data["acid_mol_per_m3"]
    qa, qo = result.aqueous_flow, result.organic_flow
    # stages: 0, 1 series extraction (organic 0 -> 1), 2 strip, 3 parallel; loop 3 -> 0 -> 1 -> 2 -> 3
    np.testing.assert_allclose(qo, 100 / 3600, rtol=1e-12)                 # the loop's flow everywhere
    feed_s, feed_p = _inlet(cascade, "series.feed"), _inlet(cascade, "parallel.feed")
    strip = _inlet(cascade, "series.strip")
    cu = 0
    fed = feed_s.flow * feed_s.concentration[cu]
    # copper over the series train: PLS + organic from the parallel stage = raffinate + loaded organic
    assert abs(fed + qo[3] * y[3, cu] - qa[0] * x[0, cu] - qo[1] * y[1, cu]) < 1e-9 * fed
    # over the parallel stage: PLS + stripped organic = raffinate + organic to the series train
    fed_p = feed_p.flow * feed_p.concentration[cu]
    assert abs(fed_p + qo[2] * y[2, cu] - qa[3] * x[3, cu] - qo[3] * y[3, cu]) < 1e-9 * fed_p
    # over the strip: loaded organic + spent electrolyte = stripped organic + advance electrolyte
    spent = strip.flow * strip.concentration[cu]
    assert abs(qo[1] * y[1, cu] + spent - qo[2] * y[2, cu] - qa[2] * x[2, cu]) < 1e-9 * spent
    # the organic loop: what both branches extract is what the strip delivers
    extracted = fed + fed_p - qa[0] * x[0, cu] - qa[3] * x[3, cu]
    assert qa[2] * x[2, cu] - spent == pytest.approx(extracted, rel=1e-9)
    # protons: each branch's raffinate carries its PLS acid + 2 H+ per Cu + 3 per Fe extracted, and the
    # strip consumes what both made
    made = 0.0
    for inlet, j in ((feed_s, 0), (feed_p, 3)):
        made_j = 2 * (inlet.flow * inlet.concentration[0] - qa[j] * x[j, 0]) \
            + 3 * (inlet.flow * inlet.concentration[1] - qa[j] * x[j, 1])
        assert qa[j] * h[j] - inlet.flow * inlet.acid == pytest.approx(made_j, rel=1e-9)
        made += made_j
    assert strip.flow * strip.acid - qa[2] * h[2] == pytest.approx(made, rel=1e-9)
    # extractant: total HR = free + 2 CuR2 + 3 FeR3 in every stage of the loop
    model = cascade.model.parts[0].model
    free = result.stage_data["free_extractant_mol_per_m3"] * model.association
    np.testing.assert_allclose(free + y @ model.stoichiometry, model.extractant, rtol=1e-9)


def test_series_parallel_summary(plant):
    cascade, result = plant
    m = result.metal_summary
    x, y = result.aqueous, result.organic
    raff = {name: result.products[name] for name in ("series.raffinate", "parallel.raffinate")}
    g = {name: p.concentration_mol_per_m3["Cu"] * M_CU / 1000 for name, p in raff.items()}
    assert m["raffinates_g_per_L"] == pytest.approx(g, rel=1e-12)
    flows = {name: p.flow_m3_per_s for name, p in raff.items()}
    mixed = sum(g[n] * flows[n] for n in g) / sum(flows.values())
    assert m["raffinate_g_per_L"] == pytest.approx(mixed, rel=1e-12)
    # loaded organic: leaves the series train's PLS stage (stage 2) for the strip; stripped: stage 3
    assert m["loaded_organic_stage"] == 2
    assert m["loaded_organic_g_per_L"] == pytest.approx(y[1, 0] * M_CU / 1000, rel=1e-12)
    assert m["stripped_organic_g_per_L"] == pytest.approx(y[2, 0] * M_CU / 1000, rel=1e-12)
    assert m["net_transfer_g_per_L"] == pytest.approx((y[1, 0] - y[2, 0]) * M_CU / 1000, rel=1e-12)
    # recovery over 200 m3/h of 3 g/L Cu
    assert m["recovery"] == pytest.approx(1 - mixed / 3.0, rel=1e-9)
    assert m["max_load_g_per_L"] == pytest.approx(25 * 0.51, rel=1e-4)
    # the plant as documented in its config header
    assert m["recovery"] == pytest.approx(0.817, abs=0.005)
    assert g["parallel.raffinate"] < g["series.raffinate"]      # the parallel stage meets barren organic


def test_series_parallel_from_the_command_line():
    done = subprocess.run([sys.executable, "-m", "sx_model", "run", str(SERIES_PARALLEL), "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["converged"] and set(data["metal_summary"]["raffinates_g_per_L"]) == {
        "series.raffinate", "parallel.raffinate"}
    table = subprocess.run([sys.executable, "-m", "sx_model", "run", str(SERIES_PARALLEL)],
                           capture_output=True, text=True, cwd=ROOT)
    assert table.returncode == 0 and "raffinates (g/L Cu): series.raffinate" in table.stdout


def _sheet_with(**changes):
    sheet = copy.deepcopy(SHEET)
    for path, value in changes.items():
        node = sheet
        *head, last = path.split("/")
        for part in head:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
    return sheet


@pytest.mark.parametrize("sheet, key, needle", [
    (_sheet_with(**{"cascades/parallel/config/streams/organic/flow": "90 m^3/h"}), "links[1]",
     "a closed loop has one flow"),
    (_sheet_with(**{"cascades/series/config/streams/fresh": {"phase": "organic", "stage": 1, "flow": "1 m^3/h",
                                                              "concentration": {"Cu": "0 g/L"}}}),
     "links[0]", "takes no fresh organic"),
])
def test_bad_series_parallel_loops_are_refused(sheet, key, needle):
    with pytest.raises(sx_model.ConfigError) as info:
        sx_model.load_config(sheet)
    assert info.value.key == key and needle in str(info.value), str(info.value)


# -- wash stage ---------------------------------------------------------------------------------------

WASH = ROOT / "configs" / "copper_wash.yaml"


@pytest.fixture(scope="module")
def washed():
    cascade = sx_model.load_config(WASH)
    return cascade, sx_model.solve(cascade)


def test_wash_balances_close(washed):
    """Stages: 1, 2 extraction, 3 wash, 4 strip, loop 4 -> 1. Copper and iron close over each section
    and over the loop, protons over each section, extractant in every stage."""
    cascade, result = washed
    assert result.converged and result.mass_balance_error < 1e-9
    x, y, h = result.aqueous, result.organic, result.stage_data["acid_mol_per_m3"]
    qa, qo = result.aqueous_flow, result.organic_flow
    feed, wash, strip = (_inlet(cascade, n) for n in ("feed", "wash", "strip"))
    assert [o.name for o in cascade.circuit.outlets] == ["raffinate", "wash_liquor", "strip_liquor"]
    for i in range(2):                                    # Cu, Fe
        fed = feed.flow * feed.concentration[i]
        extraction = fed + qo[3] * y[3, i] - qa[0] * x[0, i] - qo[1] * y[1, i]
        washing = qo[1] * y[1, i] + wash.flow * wash.concentration[i] - qo[2] * y[2, i] - qa[2] * x[2, i]
        stripping = qo[2] * y[2, i] + strip.flow * strip.concentration[i] - qo[3] * y[3, i] - qa[3] * x[3, i]
        scale = fed + strip.flow * strip.concentration[i]
        for name, value in (("extraction", extraction), ("wash", washing), ("strip", stripping)):
            assert abs(value) < 1e-9 * scale, (i, name, value)
        loop = fed + strip.flow * strip.concentration[i] - qa[0] * x[0, i] - qa[2] * x[2, i] - qa[3] * x[3, i]
        assert abs(loop) < 1e-9 * scale
    # protons: H_T + 2 Cu + 3 Fe of the aqueous is not changed by mass transfer in any stage
    p = np.array([2.0, 3.0])
    for inlet, j in ((feed, 0), (wash, 2), (strip, 3)):
        assert qa[j] * (h[j] + x[j] @ p) == pytest.approx(inlet.flow * (inlet.acid + inlet.concentration @ p),
                                                          rel=1e-9)
    model = cascade.model
    free = result.stage_data["free_extractant_mol_per_m3"] * model.association
    np.testing.assert_allclose(free + y @ model.stoichiometry, model.extractant, rtol=1e-9)


def test_wash_summary_and_what_it_changes(washed):
    cascade, result = washed
    m, x, y, qo = result.metal_summary, result.aqueous, result.organic, result.organic_flow
    w = m["wash"]["wash"]
    # Fe and Cu taken off the organic in the wash stage (stage 3), kg/h
    fe_in, fe_out = qo[1] * y[1, 1], qo[2] * y[2, 1]
    assert w["removed_kg_per_h"]["Fe"] == pytest.approx((fe_in - fe_out) * 55.845e-3 * 3600, rel=1e-9)
    assert w["removed_fraction"]["Fe"] == pytest.approx(1 - fe_out / fe_in, rel=1e-9)
    assert w["key_lost_kg_per_h"] == pytest.approx(result.products["wash_liquor"].metal_kg_per_h
                                                   * x[2, 0] * M_CU / (x[2] @ [M_CU, 55.845]), rel=1e-9)
    # loaded organic: leaves extraction stage 2, not the wash
    assert m["loaded_organic_stage"] == 2
    assert m["strip_feed_organic_composition_g_per_L"]["Fe"] == pytest.approx(y[2, 1] * 55.845e-3, rel=1e-9)
    # the documented figures: most of the Fe off, a fraction of a percent of the Cu lost
    assert w["removed_fraction"]["Fe"] > 0.9 and w["key_lost_fraction"] < 0.002
    # against the same plant without the wash: less Fe reaches the electrolyte
    plain = sx_model.solve(sx_model.load_config(ROOT / "configs" / "copper_2e1s.yaml"))
    fe_plain = plain.products["strip_liquor"].concentration_mol_per_m3["Fe"]
    fe_washed = result.products["strip_liquor"].concentration_mol_per_m3["Fe"]
    assert fe_washed < 0.2 * fe_plain


def test_wash_restages_and_writes_back(washed):
    cascade, _ = washed
    two = cascade.replace(stages={"wash": 2})
    assert [o.stage for o in two.circuit.outlets] == [0, 2, 4]          # wash liquor leaves stage 3
    assert two.circuit.links["aqueous"].tolist() == [-1, 0, -1, 2, -1]
    again = sx_model.load_config(cascade.to_config())
    assert again.circuit.links["aqueous"].tolist() == cascade.circuit.links["aqueous"].tolist()
    result = sx_model.solve(two)
    assert result.converged and result.metal_summary["wash"]["wash"]["removed_fraction"]["Fe"] > 0.99


def test_wash_mccabe_thiele():
    done = subprocess.run([sys.executable, "-m", "sx_model", "mccabe-thiele", str(WASH), "--section", "wash",
                           "--component", "Fe", "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["direction"] == "stripping"


@pytest.mark.parametrize("edit, key", [
    (lambda c: c["streams"].pop("wash"), "streams.wash"),
    (lambda c: c["streams"]["wash"].update(stage=2), "streams.wash.stage"),
    (lambda c: c["sections"].pop("wash"), "streams.wash"),
])
def test_bad_wash_input_is_refused(edit, key):
    config = yaml.safe_load(WASH.read_text())
    edit(config)
    with pytest.raises(sx_model.ConfigError) as info:
        sx_model.load_config(config)
    assert info.value.key == key, str(info.value)


def test_separation_factor_refuses_a_wash():
    config = yaml.safe_load((ROOT / "configs" / "prnd_p507.yaml").read_text())
    config["sections"]["wash"] = {"stages": 1}
    config["streams"]["wash"] = {"flow": "1 L/min", "acid": "0.1 mol/L"}
    with pytest.raises(sx_model.ConfigError) as info:
        sx_model.load_config(config)
    assert info.value.key == "sections.wash"


# -- bad input from the command line: exit 2, one line naming the key --------------------------------

def _copper_2e1s():
    return yaml.safe_load((ROOT / "configs" / "copper_2e1s.yaml").read_text())


def _isotherm_plant(**equilibrium):
    eq = {"model": "isotherm", "key": "Cu", "unit": "g/L",
          "points": [[0.1, 1.8], [0.5, 4.6], [1.0, 6.0], [2.0, 7.2], [4.0, 7.9]],
          "points_by_section": {"strip": [[30.0, 1.0], [45.0, 2.0], [60.0, 3.5]]}} | equilibrium
    return {"name": "isotherm plant", "components": ["Cu"], "equilibrium": eq,
            "sections": {"extraction": {"stages": 2}, "strip": {"stages": 1}},
            "streams": {"organic": {"flow": "1 L/min", "recycle": True},
                        "feed": {"flow": "1 L/min", "concentration": {"Cu": "3 g/L"}},
                        "strip": {"flow": "0.2 L/min", "concentration": {"Cu": "35 g/L"}}},
            "products": {"raffinate": {"key": ["Cu"]}, "strip_liquor": {"key": ["Cu"]}}}


def _with(config, path, value):
    node = config
    *head, last = path.split(".")
    for part in head:
        node = node[part]
    node[last] = value
    return config


BAD_COPPER = [
    (_isotherm_plant(points=[[0.1, 1.8], [0.5, 4.6], [0.4, 6.0]]), "equilibrium.points[2]", "increasing"),
    (_with(_copper_2e1s(), "equilibrium.extractant.volume_percent", 120), "equilibrium.extractant.volume_percent",
     "0 < x <= 100"),
    (_with(_copper_2e1s(), "equilibrium.extractant.volume_percent", 0), "equilibrium.extractant.volume_percent",
     "0 < x <= 100"),
    (_isotherm_plant(ph_range=[1.6, 2.0], operating_ph=2.4), "equilibrium.operating_ph", "2.4"),
    # spent electrolyte with too little acid: 35 g/L Cu at 0.3 mol/L H+ holds the organic above what
    # the PLS can load it to
    (_with(_copper_2e1s(), "streams.strip.acid", "0.3 mol/L"), "streams.strip", "cannot strip"),
    # an isotherm plant whose strip isotherm holds more copper than the extraction isotherm gives
    (_isotherm_plant(points_by_section={"strip": [[30.0, 8.0], [45.0, 9.0], [60.0, 9.5]]}), "streams.strip",
     "cannot strip"),
    (_with(_copper_2e1s(), "streams.strip.acid", "0 mol/L"), "streams.strip.acid", "closed organic loop"),
]


@pytest.mark.parametrize("config, key, needle", BAD_COPPER, ids=[f"{b[1]}:{k}" for k, b in enumerate(BAD_COPPER)])
def test_bad_copper_input_exits_2_with_one_line(tmp_path, config, key, needle):
    with pytest.raises(sx_model.ConfigError) as info:
        sx_model.load_config(config)
    assert info.value.key == key and needle in str(info.value), str(info.value)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "sx_model", "run", str(path), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and key in lines[0], done.stderr
    assert not out.exists() or not any(out.iterdir())                   # nothing partly written


def test_a_strip_liquor_that_strips_is_accepted():
    # the bundled plant's spent electrolyte (180 g/L H2SO4) and 1 mol/L H+: both strip, the second little
    for acid in ("3.6707 mol/L", "1 mol/L"):
        cascade = sx_model.load_config(_with(_copper_2e1s(), "streams.strip.acid", acid))
        assert sx_model.solve(cascade).metal_summary["net_transfer_g_per_L"] > 0


# -- O/A in the mixers (internal recycle) ------------------------------------------------------------

def test_mixer_o_a_reports_the_recycle_and_leaves_the_balances_alone(washed):
    """The wash (100 m3/h organic, 5 m3/h liquor) and the strip (100 and 20 m3/h) held at O/A 1 in the
    mixers need 100/1 - 5 = 95 and 100 - 20 = 80 m3/h of settled aqueous recycled; the steady state is
    the one without the recycle (an equilibrium stage's outflows do not depend on what circulates
    inside it), and only the advance-O/A warning goes."""
    cascade, result = washed
    sections = {s["name"]: s for s in result.sections}
    assert sections["wash"]["recycled_phase"] == "aqueous"
    assert sections["wash"]["recycle_m3_per_s"] * 3600 == pytest.approx(95.0, rel=1e-12)
    assert sections["wash"]["advance_o_a"] == pytest.approx(20.0, rel=1e-12)
    assert sections["strip"]["recycle_m3_per_s"] * 3600 == pytest.approx(80.0, rel=1e-12)
    assert "mixer_o_a" not in sections["extraction"]
    config = yaml.safe_load(WASH.read_text())
    for name in ("wash", "strip"):
        config["sections"][name].pop("mixer_o_a")
    plain = sx_model.solve(sx_model.load_config(config))
    np.testing.assert_allclose(plain.aqueous, result.aqueous, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(plain.organic, result.organic, rtol=1e-12, atol=1e-15)
    assert any("O/A in the wash section is 20" in w for w in plain.warnings)
    assert not any("O/A" in w for w in result.warnings)
    # written back and read again, the mixer ratios stay
    again = sx_model.load_config(sx_model.to_config(cascade))
    assert [s.mixer_o_a for s in again.circuit.sections] == [None, 1.0, 1.0]


def test_mixer_o_a_below_the_advance_recycles_organic():
    """Extraction at advance O/A 1 held at O/A 2 in the mixers: 2 x 100 - 100 = 100 m3/h of settled
    organic recycled; O/A 15 in the mixers is warned about."""
    config = yaml.safe_load(WASH.read_text())
    config["sections"]["extraction"]["mixer_o_a"] = 2
    result = sx_model.solve(sx_model.load_config(config))
    extraction = result.sections[0]
    assert extraction["recycled_phase"] == "organic"
    assert extraction["recycle_m3_per_s"] * 3600 == pytest.approx(100.0, rel=1e-12)
    config["sections"]["extraction"]["mixer_o_a"] = 15
    warned = sx_model.load_config(config).warnings
    assert any("mixers of the extraction section is 15" in w for w in warned)


@pytest.mark.parametrize("value", [0, -1, 1000, "abc", None, [1], "nan"])
def test_bad_mixer_o_a_exits_2_with_one_line(tmp_path, value):
    config = yaml.safe_load(WASH.read_text())
    config["sections"]["strip"]["mixer_o_a"] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    run = subprocess.run([sys.executable, "-m", "sx_model", "run", str(path), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "sections.strip.mixer_o_a" in lines[0] and "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()
