"""Sensitivities from the converged Jacobian (implicit function theorem) against independent references:
the closed-form Kremser derivative, and central finite differences of full re-solves on three configs
(a separation-factor cascade, a saponified mass-action closed loop, a constant-D battery with a Murphree
efficiency below 1)."""
import math
import subprocess
import sys

import numpy as np
import pytest

import sx_model
from conftest import ROOT
from sx_model.config.edits import variable
from sx_model.errors import ConfigError
from sx_model.studies.sensitivity import default_inputs, sensitivity

CONFIGS = ROOT / "configs"


def outputs(result):
    values = []
    for product in result.products.values():
        if product.key:
            values += [product.purity, product.recovery]
    if result.cost is not None:
        values.append(result.cost.per_kg_product)
    return np.array(values)


def central_difference(cascade, path, value, unit, h):
    apply = variable(path, cascade)
    text = (lambda v: f"{v!r} {unit}") if unit else (lambda v: v)
    up = sx_model.solve(apply(cascade, text(value + h)))
    down = sx_model.solve(apply(cascade, text(value - h)))
    return (outputs(up) - outputs(down)) / (2 * h)


def test_kremser_elasticity_matches_the_closed_form():
    # Kremser: fraction left in the raffinate phi = (E - 1) / (E^(N+1) - 1) with E = D O/A; so
    # d ln(phi) / d ln(D) = E / (E - 1) - (N + 1) E^(N+1) / (E^(N+1) - 1).
    cascade = sx_model.load_config(CONFIGS / "kremser_example.yaml")
    sens = sensitivity(cascade, ["equilibrium.distribution.Cu", "streams.organic.flow"])
    e, n = 2.4, 5
    expected = e / (e - 1) - (n + 1) * e ** (n + 1) / (e ** (n + 1) - 1)
    row = sens.outputs.index("raffinate.recovery")
    assert sens.elasticity[row, 0] == pytest.approx(expected, rel=1e-7)
    assert sens.elasticity[row, 1] == pytest.approx(expected, rel=1e-7)   # E depends on D O/A alike


def murphree_battery():
    return {"name": "constant D, Murphree 0.7", "components": ["Cu", "Ni"],
            "equilibrium": {"model": "constant_d", "distribution": {"Cu": 3.0, "Ni": 0.4}},
            "sections": {"extraction": {"stages": 6, "efficiency": 0.7}},
            "streams": {"organic": {"flow": "1.5 L/min"},
                        "feed": {"flow": "2 L/min", "concentration": {"Cu": "0.2 mol/L", "Ni": "0.1 mol/L"}}},
            "products": {"raffinate": {"key": ["Ni"]}, "loaded_organic": {"key": ["Cu"]}}}


CASES = [
    ("prnd_p507.yaml", ["streams.organic.flow", "streams.scrub.acid", "equilibrium.separation_factors.Nd",
                        "equilibrium.capacity", "streams.feed.concentration.Pr"]),
    ("lacepn_p507_loop.yaml", ["streams.organic.flow", "equilibrium.extractant.saponification",
                               "equilibrium.log10_k.Ce", "streams.scrub.acid", "streams.feed.flow"]),
    ("murphree", ["sections.extraction.efficiency", "equilibrium.distribution.Cu", "streams.organic.flow",
                  "streams.feed.concentration.Ni"]),
]


@pytest.mark.parametrize("name, inputs", CASES, ids=[c[0] for c in CASES])
def test_sensitivities_agree_with_central_differences_of_full_solves(name, inputs):
    cascade = sx_model.load_config(murphree_battery() if name == "murphree" else CONFIGS / name)
    sens = sensitivity(cascade, inputs)
    assert sens.converged and sens.mass_balance_error <= 1e-9
    g = np.abs(np.array(sens.output_values))
    for j, path in enumerate(inputs):
        value, unit = sens.values[j], sens.units[j]
        h = 1e-6 * abs(value)
        reference = central_difference(cascade, path, value, unit, h)
        # the re-solves are exact to ~1e-12 of each output: below that the difference is noise
        noise = 1e-12 * g / h
        error = np.abs(sens.derivative[:, j] - reference)
        assert np.all(error <= 1e-5 * np.abs(reference) + noise), (path, sens.derivative[:, j], reference)


def test_an_input_at_its_bound_gets_a_one_sided_difference():
    config = murphree_battery()
    config["sections"]["extraction"]["efficiency"] = 1.0 - 1e-7     # efficiency cannot exceed 1
    cascade = sx_model.load_config(config)
    sens = sensitivity(cascade, ["sections.extraction.efficiency"], step=1e-6)
    assert sens.method == ["backward"]
    value = sens.values[0]
    reference = (outputs(sx_model.solve(cascade)) - outputs(sx_model.solve(
        variable("sections.extraction.efficiency", cascade)(cascade, value - 1e-6 * value)))) / (1e-6 * value)
    np.testing.assert_allclose(sens.derivative[:, 0], reference, rtol=1e-4)


def test_default_inputs_are_the_continuous_ones():
    cascade = sx_model.load_config(CONFIGS / "prnd_p507.yaml")
    inputs = default_inputs(cascade)
    assert "streams.organic.flow" in inputs and "equilibrium.separation_factors.Nd" in inputs
    assert not any(p.endswith(("stages", "stage")) for p in inputs)
    assert not any(p.startswith(("cost", "products")) for p in inputs)


@pytest.mark.parametrize("path, message", [
    ("sections.scrub.stages", "whole number"),
    ("streams.nope.flow", "no such key"),
    ("name", "expected a numeric input"),
])
def test_bad_inputs_are_refused(path, message):
    cascade = sx_model.load_config(CONFIGS / "prnd_p507.yaml")
    with pytest.raises(ConfigError, match=message):
        sensitivity(cascade, [path])


def test_an_input_named_twice_is_refused():
    cascade = sx_model.load_config(CONFIGS / "prnd_p507.yaml")
    with pytest.raises(ConfigError, match="twice"):
        sensitivity(cascade, ["streams.organic.flow", "streams.organic.flow"])


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "sx_model", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_cli_writes_table_csv_json_and_a_tornado_chart(tmp_path):
    run = cli("sensitivity", CONFIGS / "prnd_p507.yaml", "--out", tmp_path / "out", "--plot", tmp_path / "t.png",
              "--output", "raffinate.purity", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "elasticity" in run.stdout and "streams.organic.flow" in run.stdout
    assert (tmp_path / "t.png").stat().st_size > 1000
    import json
    data = json.loads((tmp_path / "out" / "sensitivity.json").read_text())
    assert data["converged"] is True and data["mass_balance_error"] <= 1e-9
    header = (tmp_path / "out" / "sensitivity.csv").read_text().splitlines()[0]
    assert header.startswith("output,output_value,input")


@pytest.mark.parametrize("args, needle", [
    (["--input", "sections.scrub.stages"], "whole number"),
    (["--input", "streams.organic.nope"], "no such key"),
    (["--plot", "t.png", "--output", "nope"], "--output"),
    (["--plot", "/proc/nope/t.png"], "--plot"),
])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, needle):
    run = cli("sensitivity", CONFIGS / "prnd_p507.yaml", *args, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and needle in run.stderr
    assert list(tmp_path.iterdir()) == []
