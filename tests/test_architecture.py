"""The layers import one way, cascades round-trip through configs, and the solver's seams work.

Layers (see docs/architecture.md): the equilibrium models know nothing of YAML, pint or the config
layer; the solvers nothing of the config layer, YAML, the command line or matplotlib.
"""
import ast
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import sx_model
from conftest import CONFIGS, ROOT

PACKAGE = ROOT / "sx_model"
FORBIDDEN = {
    "equilibrium": {"pint", "yaml", "sx_model.config", "sx_model.elements", "sx_model.cli",
                    "matplotlib", "sx_model.studies"},
    "solvers": {"pint", "yaml", "sx_model.config", "sx_model.elements", "sx_model.cli", "matplotlib",
                "sx_model.studies", "sx_model.plotting"},
    "studies": {"pint", "sx_model.cli", "sx_model.config.units"},
}


def _imports(path: pathlib.Path):
    """Absolute module names imported anywhere in ``path`` (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_does_not_import_what_it_must_not(layer):
    bad = []
    for path in sorted((PACKAGE / layer).glob("*.py")):
        for module in _imports(path):
            if any(module == f or module.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.name}: {module}")
    assert bad == []


def test_the_import_check_would_catch_a_forbidden_import(tmp_path):
    fake = ROOT / "sx_model" / "equilibrium" / "_probe_for_test.py"
    fake.write_text("from ..config import checks\nimport yaml\n")
    try:
        found = list(_imports(fake))
    finally:
        fake.unlink()
    assert "sx_model.config" in found and "yaml" in found


def test_solving_a_built_cascade_loads_neither_yaml_nor_pint():
    code = ("import sys, numpy as np\n"
            "from sx_model.cascade import Cascade\n"
            "from sx_model.circuit import Circuit, Section, Inlet, Outlet, countercurrent_links\n"
            "from sx_model.equilibrium.constant_d import ConstantD\n"
            "from sx_model.solvers.steady import solve\n"
            "c = Circuit(('Cu',), [Section('extraction', 0, 4)],\n"
            "            [Inlet('feed', 'aqueous', 3, 1e-3, np.array([10.0])),\n"
            "             Inlet('organic', 'organic', 0, 1e-3, np.array([0.0]))],\n"
            "            [Outlet('raffinate', 'aqueous', 0), Outlet('loaded_organic', 'organic', 3)],\n"
            "            countercurrent_links(4), charges=(2,), molar_masses=(0.0635,), oxide_masses=(0.0795,))\n"
            "r = solve(Cascade('cu', c, ConstantD(('Cu',), [2.0])))\n"
            "print(r.converged, 'yaml' in sys.modules, 'pint' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.split()
    assert out == ["True", "False", "False"]


def _same_cascade(a, b):
    ca, cb = a.circuit, b.circuit
    assert a.name == b.name and a.product_keys == b.product_keys
    assert ca.components == cb.components and ca.sections == cb.sections
    assert [(i.name, i.phase, i.stage, i.anchor) for i in ca.inlets] == \
        [(i.name, i.phase, i.stage, i.anchor) for i in cb.inlets]
    for i, j in zip(ca.inlets, cb.inlets):
        assert i.flow == pytest.approx(j.flow, rel=1e-15) and i.acid == pytest.approx(j.acid, rel=1e-15)
        np.testing.assert_allclose(i.concentration, j.concentration, rtol=1e-15)
    assert [(o.name, o.phase, o.stage, o.role) for o in ca.outlets] == \
        [(o.name, o.phase, o.stage, o.role) for o in cb.outlets]
    np.testing.assert_allclose([o.fraction for o in ca.outlets], [o.fraction for o in cb.outlets], rtol=1e-15)
    for phase in ca.links:
        np.testing.assert_array_equal(ca.links[phase], cb.links[phase])
    assert ca.flow_anchors.keys() == cb.flow_anchors.keys()
    pa, pb = a.model.parameters(), b.model.parameters()
    for key in set(pa) - {"sources", "system"}:
        if isinstance(pa[key], (list, tuple)) and pa[key] and isinstance(pa[key][0], float):
            np.testing.assert_allclose(pa[key], pb[key], rtol=1e-12, atol=1e-14)
        else:
            assert pa[key] == pb[key], key
    assert (a.cost_parameters is None) == (b.cost_parameters is None)
    if a.cost_parameters:
        for key, value in a.cost_parameters.items():
            assert b.cost_parameters[key] == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_to_config_round_trip(path):
    cascade = sx_model.load_config(path)
    again = sx_model.load_config(cascade.to_config())
    _same_cascade(cascade, again)
    _same_cascade(again, sx_model.load_config(again.to_config()))
    # and it solves to the same state
    a, b = sx_model.solve(cascade), sx_model.solve(again)
    np.testing.assert_allclose(a.aqueous, b.aqueous, rtol=1e-9, atol=1e-12 * a.aqueous.max())


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_round_trip_through_yaml_text(path):
    import yaml

    cascade = sx_model.load_config(path)
    _same_cascade(cascade, sx_model.load_config(yaml.safe_load(sx_model.config.dump_yaml(cascade, "x"))))


def test_replace_stages_keeps_the_feed_at_the_junction_and_matches_a_config_edit():
    base = sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml")
    edited = base.replace(stages={"extraction": 12, "scrub": 30})
    config = base.to_config()
    config["sections"]["extraction"]["stages"] = 12
    config["sections"]["scrub"]["stages"] = 30
    config["streams"]["feed"]["stage"] = 12     # the config places the feed explicitly at stage 20 of 20
    _same_cascade(edited, sx_model.load_config(config))
    feed = next(i for i in edited.circuit.inlets if i.name == "feed")
    assert feed.stage == 11          # last extraction stage (0-based)
    assert edited.stage_count == 42 and base.stage_count == 44    # the original is untouched


def test_replace_flows_acid_and_model_parameters():
    base = sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml")
    edited = base.replace(flows={"organic": 1e-3}, acid={"scrub": 3000.0}, capacity=150.0)
    organic = next(i for i in edited.circuit.inlets if i.name == "organic")
    scrub = next(i for i in edited.circuit.inlets if i.name == "scrub")
    assert organic.flow == 1e-3 and scrub.acid == 3000.0 and edited.model.capacity == 150.0
    assert base.model.capacity != 150.0
    with pytest.raises(TypeError):
        base.replace(no_such_parameter=1.0)
    with pytest.raises(sx_model.ConfigError):
        base.replace(flows={"no_such_stream": 1.0})


def test_replace_circulating_flow_of_a_closed_loop():
    base = sx_model.load_config(ROOT / "configs" / "lacepn_p507_loop.yaml")
    flow = base.circuit.flow_anchors["organic"][1]
    edited = base.replace(flows={"organic": 1.1 * flow})
    assert edited.circuit.flow_anchors["organic"][1] == pytest.approx(1.1 * flow)
    assert edited.circuit.recycle and edited.circuit.links["organic"][-1] == 0


def test_coarsened_halves_every_section_and_keeps_the_loop():
    base = sx_model.load_config(ROOT / "configs" / "lacepn_p507_loop.yaml")
    coarse = base.coarsened()
    assert coarse.stages() == {k: (v + 1) // 2 for k, v in base.stages().items()}
    assert coarse.circuit.recycle
    strip = coarse.circuit.section("strip")
    liquor = next(o for o in coarse.circuit.outlets if o.role == "strip_liquor")
    assert liquor.stage == strip.first


def test_failed_solve_carries_best_iterate_and_diagnostics():
    cascade = sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml")
    options = sx_model.SteadyOptions(max_iter=1, strategies=("newton",))
    with pytest.raises(sx_model.ConvergenceError) as info:
        sx_model.solve(cascade, options=options)
    exc = info.value
    assert exc.best_iterate["aqueous"].shape == (cascade.stage_count, 2)
    assert np.all(np.isfinite(exc.best_iterate["organic"]))
    assert exc.diagnostics["strategies"] == ["newton"]
    assert exc.diagnostics["residual_norm"] == pytest.approx(exc.residual_norm)


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="unknown strategy"):
        sx_model.SteadyOptions(strategies=("magic",))


def test_each_strategy_alone_reaches_the_same_answer():
    cascade = sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml")
    reference = sx_model.solve(cascade)
    for strategy in ("newton", "homotopy", "pseudo-transient"):
        result = sx_model.solve(cascade, options=sx_model.SteadyOptions(strategies=(strategy,)))
        np.testing.assert_allclose(result.aqueous, reference.aqueous, rtol=1e-8,
                                   atol=1e-12 * reference.aqueous.max())


def test_every_model_has_a_config_reader_and_writer():
    from sx_model.config.models import SPECS
    from sx_model.equilibrium import REGISTRY

    assert set(SPECS) == set(REGISTRY)


def test_one_molar_mass_of_hcl():
    out = subprocess.run(["grep", "-rnE", r"0\.0364[56]", str(PACKAGE)], capture_output=True, text=True).stdout
    assert len(out.strip().splitlines()) == 1 and "constants.py" in out


def test_docs_do_not_cite_files_outside_the_repository():
    names = ("DESIGN" + ".md", "FIELD" + ".md", "STYLE" + ".md", "../" + "shared")
    for path in list(PACKAGE.rglob("*.py")) + list((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"] \
            + list((ROOT / "configs").glob("*.yaml")) + list((ROOT / "benchmarks").glob("*")):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not any(n in text for n in names), path


def test_architecture_doc_lists_every_package_module():
    text = (ROOT / "docs" / "architecture.md").read_text()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if path.name != "__init__.py" and not path.name.startswith("_"):
            assert str(rel.with_suffix("")).replace("/", ".").split(".")[-1] in text, rel
