"""Audit of the bundled data: every value carries its source and a tag.

The data files (``sx_model/data/extractants.yaml``, ``sx_model/data/elements.yaml``) are walked
entry by entry. A value is any number the package uses or shows: separation factors, adjacent-pair
factors, extraction constants, pH correlations, the default pH slope and extractant order of each
system, maximum loads, molar masses, pH windows, the association of the extractant. Each must name a
source that the file's ``sources`` table describes and a tag (measured / reference / derived /
estimated); an estimate must say how it was arrived at (its own note, or a source whose description
says that its values are estimates). A number at a place the audit does not know is an error too, so
a value added later without a source fails here.

Two checks go beyond bookkeeping: cumulative separation factors must equal the product of the
adjacent-pair factors they are built from (within the 1 % that rounding of the printed values
allows), and the default pH slope and extractant order each system states (with its source) must be
the ones a ``mass_action`` config naming the system actually gets.

The audit functions are also run on damaged copies of the data, to show that they catch what they
claim to catch.
"""
from __future__ import annotations

import copy
import json
import importlib.resources
import math

import pytest
import yaml

from sx_model.config import load_config
from sx_model.elements import element

TAGS = {"measured", "reference", "derived", "estimated"}

#: Per-element tables of a system: {element or pair: {value | slope/intercept, source, tag, ...}}.
TABLES = ("adjacent_pair_factors", "separation_factors", "log_k", "ph_correlation")
#: Single sourced values of a system: {value, source, tag, ...}.
SINGLE = ("log_k_reference", "log_d_ph_slope", "log_d_extractant_order", "series_mean_step", "max_load")
#: A bare value and the entry that gives its basis ({source, tag, note}).
BASIS = {"molar_mass_g_per_mol": "molar_mass_source", "ph_validity": "ph_validity_basis",
         "dimer": "dimer_basis"}
#: Descriptive keys (names, text) that carry no number.
TEXT = {"name", "extractant", "aliases", "medium", "reference_element", "conditions", "coverage_note",
        "y_position_note", "factor_check"}

#: The order of the rare earths along the series, for the adjacent-pair products (Y where it falls
#: for the organophosphorus acids, between Ho and Er).
SERIES = ("La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Y", "Er", "Tm", "Yb", "Lu")


def _load(name):
    return yaml.safe_load(importlib.resources.files("sx_model").joinpath(f"data/{name}").read_text("utf-8"))


@pytest.fixture(scope="module")
def extractants():
    return _load("extractants.yaml")


@pytest.fixture(scope="module")
def elements_data():
    return _load("elements.yaml")


def _is_estimate_explained(entry, sources):
    note = str(entry.get("note", "")).strip()
    return bool(note) or "estimat" in str(sources.get(entry.get("source"), "")).lower()


def _check_entry(where, entry, sources, needs_value=True):
    """Problems of one sourced entry (a list of one-line strings)."""
    if not isinstance(entry, dict):
        return [f"{where}: {entry!r} has no source and tag"]
    problems = []
    if needs_value and not any(k in entry for k in ("value", "slope", "intercept")):
        problems.append(f"{where}: no value")
    source, tag = entry.get("source"), entry.get("tag")
    if not source:
        problems.append(f"{where}: no source")
    elif source not in sources:
        problems.append(f"{where}: source {source!r} is not described in the sources table")
    if tag not in TAGS:
        problems.append(f"{where}: tag {tag!r}; expected one of {sorted(TAGS)}")
    if tag == "estimated" and not _is_estimate_explained(entry, sources):
        problems.append(f"{where}: estimated without a note saying how")
    return problems


def audit_extractants(data) -> list:
    """Every problem found in the extractant data (empty when every value is sourced and tagged)."""
    sources = data.get("sources") or {}
    problems = []
    for key, system in data["systems"].items():
        for name, raw in system.items():
            where = f"{key}.{name}"
            if name in TABLES:
                for item, entry in raw.items():
                    problems += _check_entry(f"{where}.{item}", entry, sources)
            elif name in SINGLE:
                problems += _check_entry(where, raw, sources)
            elif name in BASIS:
                basis = system.get(BASIS[name])
                if raw is None:                       # left empty on purpose: the basis says why
                    basis = basis if isinstance(basis, dict) and basis.get("note") else None
                problems += (_check_entry(f"{key}.{BASIS[name]}", basis, sources, needs_value=False)
                             if basis is not None else [f"{where}: no {BASIS[name]}"])
            elif name in BASIS.values() or name in TEXT:
                continue
            else:
                problems.append(f"{where}: unknown entry (a value the audit does not know, with no source)")
        reference = system.get("reference_element")
        for el, entry in (system.get("separation_factors") or {}).items():
            if isinstance(entry, dict) and entry.get("tag") == "reference":
                if el != reference or float(entry.get("value", math.nan)) != 1.0:
                    problems.append(f"{key}.separation_factors.{el}: tag reference only for the reference "
                                    f"element {reference} with value 1")
    cited = repr(data["systems"]) + repr(data.get("notes", ""))
    for source in sources:
        if source not in cited:
            problems.append(f"sources.{source}: described but never cited")
    return problems


def pair_product_mismatches(data, tolerance=0.01) -> list:
    """Cumulative separation factors that differ from the product of the adjacent pairs."""
    problems = []
    for key, system in data["systems"].items():
        pairs, cumulative = system.get("adjacent_pair_factors"), system.get("separation_factors")
        if not pairs or not cumulative:
            continue
        present = [el for el in SERIES if el in cumulative]
        product = float(cumulative[present[0]]["value"])
        for lighter, heavier in zip(present, present[1:]):
            product *= float(pairs[f"{heavier}/{lighter}"]["value"])
            given = float(cumulative[heavier]["value"])
            if abs(given / product - 1.0) > tolerance:
                problems.append(f"{key}.separation_factors.{heavier} = {given:g}, product of the adjacent "
                                f"pairs {product:g}")
    return problems


# --------------------------------------------------------------------------------------------------

def test_every_extractant_value_has_source_and_tag(extractants):
    problems = audit_extractants(extractants)
    assert not problems, "\n".join(problems)


def test_every_element_value_has_source_and_tag(elements_data):
    sources = elements_data["sources"]
    problems = []
    for symbol, entry in elements_data["elements"].items():
        problems += _check_entry(f"elements.{symbol}", entry, sources, needs_value=False)
        if "molar_mass" not in entry or "charge" not in entry:
            problems.append(f"elements.{symbol}: molar_mass and charge expected")
    assert not problems, "\n".join(problems)


def test_sulfate_ka2_constant_names_its_source():
    from sx_model.equilibrium.media import SULFATE_KA2

    assert "Smith & Martell" in SULFATE_KA2["source"] and "Wagman" in SULFATE_KA2["source"]


def test_cumulative_factors_are_the_products_of_the_adjacent_pairs(extractants):
    assert not pair_product_mismatches(extractants)
    # the check reaches the systems that have both tables
    both = [k for k, s in extractants["systems"].items()
            if s.get("adjacent_pair_factors") and s.get("separation_factors")]
    assert set(both) >= {"p507_chloride", "d2ehpa_chloride"}


@pytest.mark.parametrize("damage, expected", [
    (lambda d: d["systems"]["p507_chloride"]["separation_factors"]["Nd"].pop("source"),
     "p507_chloride.separation_factors.Nd: no source"),
    (lambda d: d["systems"]["d2ehpa_chloride"]["log_k_reference"].update(tag="guess"),
     "d2ehpa_chloride.log_k_reference: tag 'guess'"),
    (lambda d: d["systems"]["cyanex272_chloride"]["separation_factors"].update(Nd={"value": 0.01}),
     "cyanex272_chloride.separation_factors.Nd: no source"),
    (lambda d: d["systems"]["p507_chloride"]["adjacent_pair_factors"]["Eu/Sm"].update(source="nobody"),
     "source 'nobody' is not described"),
    (lambda d: d["systems"]["p507_chloride"]["adjacent_pair_factors"]["Eu/Sm"].update(
        source="wu2007", tag="estimated"),
     "Eu/Sm: estimated without a note"),
    (lambda d: d["systems"]["naphthenic_acid_chloride"].update(ph_slope_apparent=2.4),
     "naphthenic_acid_chloride.ph_slope_apparent: unknown entry"),
    (lambda d: d["systems"]["p507_chloride"].pop("molar_mass_source"),
     "p507_chloride.molar_mass_g_per_mol: no molar_mass_source"),
    (lambda d: d["systems"]["lix84i_sulfate"].pop("dimer_basis"),
     "lix84i_sulfate.dimer: no dimer_basis"),
    (lambda d: d["systems"]["p507_chloride"]["separation_factors"]["Ce"].update(tag="reference"),
     "p507_chloride.separation_factors.Ce: tag reference only"),
    (lambda d: d["sources"].update(unused_paper="A paper nobody cites"),
     "sources.unused_paper: described but never cited"),
])
def test_the_audit_catches_damaged_data(extractants, damage, expected):
    damaged = copy.deepcopy(extractants)
    damage(damaged)
    problems = audit_extractants(damaged)
    assert any(expected in p for p in problems), problems


def test_the_product_check_catches_an_edited_factor(extractants):
    damaged = copy.deepcopy(extractants)
    damaged["systems"]["p507_chloride"]["adjacent_pair_factors"]["Tb/Gd"]["value"] = 2.0
    problems = pair_product_mismatches(damaged)
    assert problems and "p507_chloride.separation_factors.Tb" in problems[0], problems


# --------------------------------------------------------------------------------------------------
# The stated default slope and order are the ones a config gets

REE_SYSTEMS = {"p507_chloride": ["La", "Nd", "Tb", "Lu"], "d2ehpa_chloride": ["Ce", "Sm", "Y", "Yb"],
               "cyanex272_chloride": ["Tb", "Ho", "Y", "Lu"], "naphthenic_acid_chloride": ["La", "Nd", "Y"]}
COPPER_SYSTEMS = ("lix84i_sulfate", "lix984n_sulfate", "lix860ni_sulfate", "acorga_m5640_sulfate")


def _model(system, components, extractant):
    cascade = load_config({
        "name": f"defaults of {system}", "components": components,
        "equilibrium": {"model": "mass_action", "system": system, "extractant": extractant},
        "sections": {"extraction": {"stages": 2}},
        "streams": {"organic": {"flow": "1 L/min"},
                    "feed": {"flow": "1 L/min", "acid": "0.1 mol/L",
                             "concentration": {c: "0.01 mol/L" for c in components}}},
    })
    return cascade.model


@pytest.mark.parametrize("system", sorted(REE_SYSTEMS))
def test_ree_system_defaults_are_the_stated_slope_and_order(extractants, system):
    data = extractants["systems"][system]
    model = _model(system, REE_SYSTEMS[system], {"concentration": "0.5 mol/L", "saponification": 0.0})
    assert model.ph_slope.tolist() == [data["log_d_ph_slope"]["value"]] * len(REE_SYSTEMS[system])
    assert model.extractant_order.tolist() == [data["log_d_extractant_order"]["value"]] * len(REE_SYSTEMS[system])
    # and both are the protons and (HA)2 units of the trivalent reaction the sources write
    assert model.ph_slope.tolist() == model.protons.tolist() == [3.0] * len(REE_SYSTEMS[system])
    assert model.association == (2 if data["dimer"] else 1)


@pytest.mark.parametrize("system", COPPER_SYSTEMS)
def test_copper_system_defaults_are_the_stated_slope_and_order(extractants, system):
    data = extractants["systems"][system]
    model = _model(system, ["Cu", "Fe"], {"volume_percent": 20})
    cu = model.components.index("Cu")
    assert model.ph_slope[cu] == data["log_d_ph_slope"]["value"] == element("Cu").charge
    assert model.extractant_order[cu] == data["log_d_extractant_order"]["value"]
    assert model.association == (2 if data["dimer"] else 1) == 1


# --------------------------------------------------------------------------------------------------
# What the command line shows and refuses

def test_systems_json_shows_the_default_slope_and_order_with_their_sources(capsys, extractants):
    from test_bad_input import run_cli

    code, out, err = run_cli(capsys, ["systems", "--format", "json"])
    assert code == 0, err
    shown = json.loads(out)
    for key, system in extractants["systems"].items():
        for field, entry in (("ph_slope", "log_d_ph_slope"), ("extractant_order", "log_d_extractant_order")):
            assert shown[key][field] == {"value": system[entry]["value"], "source": system[entry]["source"],
                                         "tag": system[entry]["tag"]}, (key, field)


def test_a_light_rare_earth_with_cyanex_272_is_refused_with_the_way_to_give_it(capsys, tmp_path):
    """No light-REE Cyanex 272 constant is bundled (no accessible primary source); the refusal names the
    key and says how to supply the constant, and the same config runs once it does."""
    from test_bad_input import mentions, one_error_line, run_cli

    config = {"name": "Pr/Nd with Cyanex 272", "components": ["Pr", "Nd"],
              "equilibrium": {"model": "mass_action", "system": "cyanex272_chloride",
                              "extractant": {"concentration": "0.6 mol/L", "saponification": 0.0}},
              "sections": {"extraction": {"stages": 3}},
              "streams": {"organic": {"flow": "1 L/min"},
                          "feed": {"flow": "1 L/min", "acid": "0.001 mol/L",
                                   "concentration": {"Pr": "0.01 mol/L", "Nd": "0.01 mol/L"}}}}
    path = tmp_path / "c272.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    code, out, err = run_cli(capsys, ["validate", str(path)])
    line = one_error_line(err)
    assert code == 2 and out == ""
    assert mentions(line, "equilibrium.log10_k.Pr") and "sx-model fit" in line and "Tb" in line, line
    # user-supplied constants (here placeholders of this test, not data) make it valid
    config["equilibrium"]["log10_k"] = {"Pr": -4.0, "Nd": -3.8}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    code, out, err = run_cli(capsys, ["validate", str(path)])
    assert code == 0, err
