"""Generated cascades across models, sizes and flows: every one converges (or is refused as
infeasible before solving, or, right on the material-balance edge, is reported fast as not determined
by its inputs), closes its balances, and solves fast.

Separation-factor group splits (2-16 components, adjacent separation factors 1.2-3) are sized by the
theory of countercurrent extraction: E'_M = sqrt(beta) in the scrub section and S - W = f'_A (the
extractable share of the feed), i.e. right on the material-balance edge where the split is set by the
flows, then moved off it by a random factor on S of 0.7-1.3. Mass-action closed loops come from the
generator of ``benchmarks/bench_mass_action.py``; constant-D batteries get random Murphree efficiencies.
The default run holds 300 cascades of 10-120 stages; ``pytest -m slow`` adds 2000 of 10-1000 stages.
On the default cases the separation-factor answers are also compared with the solver's former strategy
order (no stage-count continuation for these models) to 1e-9.
"""
import math
import os
import sys
import time

import numpy as np
import pytest

import sx_model
from conftest import ROOT
from sx_model.errors import IllPosedCascade
from sx_model.solvers import steady

sys.path.insert(0, os.fspath(ROOT / "benchmarks"))
from bench_mass_action import loop_config  # noqa: E402

SERIES = ["La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Y", "Sc"]
FORMER = sx_model.SteadyOptions(strategies=("warm newton", "newton", "stage continuation", "homotopy",
                                            "pseudo-transient"))
TIME_LIMIT = 10.0


def separation_factor_case(rng, max_stages):
    c = int(rng.integers(2, 17))
    comps = list(rng.choice(SERIES, size=c, replace=False))
    step = float(rng.uniform(1.2, 3.0))
    betas = {el: step ** k for k, el in enumerate(comps)}
    cut = int(rng.integers(1, c))                     # light | heavy
    feed = rng.uniform(0.2, 1.0, size=c)
    feed = [float(x) for x in feed / feed.sum()]
    f_a = sum(feed[cut:])                              # extractable share (organic product)
    beta = step                                        # key pair: adjacent across the cut
    w = f_a / (math.sqrt(beta) - 1.0)
    off = float(rng.uniform(0.7, 1.3))
    # on the edge two times in three; off it, the organic product share stays below the metal fed
    s = w + f_a if rng.integers(3) else min(max((w + f_a) * off, w + 0.02), w + 0.98)
    total = int(rng.integers(10, max_stages + 1))
    n = max(1, int(total * rng.uniform(0.3, 0.7)))
    m = max(1, total - n)
    capacity, feed_mol_l, feed_flow, scrub_flow = 0.18, 1.0, 2.0, 2.0
    feed_mol = feed_mol_l * feed_flow
    return {
        "name": f"generated sf {n}+{m} x {c}", "components": comps,
        "equilibrium": {"model": "separation_factor", "separation_factors": betas,
                        "capacity": f"{capacity} mol/L"},
        "sections": {"extraction": {"stages": n}, "scrub": {"stages": m}},
        "streams": {"organic": {"flow": f"{s * feed_mol / capacity!r} L/min"},
                    "feed": {"flow": f"{feed_flow} L/min",
                             "concentration": {el: f"{feed_mol_l * x!r} mol/L" for el, x in zip(comps, feed)}},
                    "scrub": {"flow": f"{scrub_flow} L/min", "acid": f"{3 * w * feed_mol / scrub_flow!r} mol/L"}},
        "products": {"raffinate": {"key": comps[:cut]}, "loaded_organic": {"key": comps[cut:]}},
    }


def mass_action_case(rng, max_stages):
    c = int(rng.integers(2, 17))
    comps = list(rng.choice(SERIES, size=c, replace=False))
    total = int(rng.integers(10, max_stages + 1))
    total = min(total, 60)        # closed loops solve along the pseudo-transient path: kept small here
    e = max(1, int(0.4 * total))
    return loop_config(comps, e, e, max(1, total - 2 * e))


def constant_d_case(rng, max_stages):
    c = int(rng.integers(1, 6))
    comps = list(rng.choice(SERIES, size=c, replace=False))
    n = int(rng.integers(1, max_stages + 1))
    config = {"name": "generated constant D", "components": comps,
              "equilibrium": {"model": "constant_d",
                              "distribution": {el: float(10 ** rng.uniform(-2, 2)) for el in comps}},
              "sections": {"extraction": {"stages": n, "efficiency": float(rng.uniform(0.3, 1.0))}},
              "streams": {"organic": {"flow": f"{rng.uniform(0.5, 5):.4g} L/min"},
                          "feed": {"flow": "2 L/min", "concentration": {el: "0.1 mol/L" for el in comps}}}}
    return config


KINDS = (separation_factor_case, separation_factor_case, mass_action_case, constant_d_case)


def generated(seed, max_stages):
    rng = np.random.default_rng(seed)
    kind = KINDS[seed % len(KINDS)]
    return kind.__name__, kind(rng, max_stages)


def on_edge(config):
    """Whether a generated separation-factor cascade sits right on the material-balance edge
    (S - W = f'_A to round-off)."""
    if config["equilibrium"]["model"] != "separation_factor":
        return False
    scrub = config["streams"]["scrub"]
    organic = float(config["streams"]["organic"]["flow"].split()[0])
    acid = float(scrub["acid"].split()[0])
    s, w = organic * 0.18 / 2.0, acid * 2.0 / 3.0 / 2.0
    heavy = config["products"]["loaded_organic"]["key"]
    f_a = sum(float(config["streams"]["feed"]["concentration"][el].split()[0]) for el in heavy)
    return math.isclose(s - w, f_a, rel_tol=1e-9)


def check(seed, max_stages, compare=False):
    kind, config = generated(seed, max_stages)
    start = time.perf_counter()
    cascade = sx_model.load_config(config)      # every generated cascade is feasible as specified
    try:
        result = sx_model.solve(cascade)
    except IllPosedCascade as exc:
        # only right on the edge may a cascade be reported as not determined by its inputs, and fast
        elapsed = time.perf_counter() - start
        assert on_edge(config), str(exc)
        assert exc.diagnostics["edge"]["stages_moved"] > 0
        assert elapsed < TIME_LIMIT, f"{config['name']}: {elapsed:.1f} s to report the edge"
        return "ill-posed"
    elapsed = time.perf_counter() - start
    assert result.converged and result.mass_balance_error <= 1e-9
    assert elapsed < TIME_LIMIT, f"{config['name']}: {elapsed:.1f} s"
    # only a cascade right on the balance edge may be warned of it (short ones on the edge, whose
    # products are not pure, stay further from it than the warning's 1e-5 and are not)
    if any("material-balance edge" in w for w in result.warnings):
        assert on_edge(config), (config["name"], result.warnings)
    if compare and kind == "separation_factor_case":
        former = sx_model.solve(cascade, options=FORMER)
        scale = result.aqueous.max()
        np.testing.assert_allclose(result.aqueous, former.aqueous, rtol=1e-9, atol=1e-9 * scale)
    return result.method


@pytest.mark.parametrize("seed", range(300))
def test_generated_cascade_converges(seed):
    check(seed, max_stages=120, compare=seed % 4 in (0, 1) and seed < 60)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1000, 3000))
def test_generated_cascade_converges_large(seed):
    check(seed, max_stages=1000)


def test_the_generator_reaches_the_material_balance_edge():
    edge = sum(on_edge(generated(seed, 120)[1]) for seed in range(0, 100, 4))
    assert edge >= 10


def edge_case():
    """Seed 2208 of the large set, every section halved twice (50 + 109 stages, 4 components): right
    on the edge, the organic flow changed by 1e-6 of itself on either side moves the front between the
    sections by tens of stages; Newton stalls at a scaled residual of 2e-7 and the fallbacks used to
    spend 7 s (35 s at full size) before failing."""
    _, config = generated(2208, 1000)
    config["sections"] = {"extraction": {"stages": 54}, "scrub": {"stages": 109}}
    return config


def test_a_cascade_on_the_edge_is_reported_fast_as_not_determined():
    config = edge_case()
    assert on_edge(config)
    cascade = sx_model.load_config(config)
    start = time.perf_counter()
    with pytest.raises(IllPosedCascade) as info:
        sx_model.solve(cascade)
    assert time.perf_counter() - start < TIME_LIMIT
    edge = info.value.diagnostics["edge"]
    assert edge["stages_moved"] >= 10 and edge["largest_change"] > 0.5
    # the front moves inside the cascade by tens of stages while the products change only by what the
    # balance moves between them: extra organic delta S carries delta S / f'_A of the other group
    # (S / f'_A = 2.5 here), so within a few times the flow change
    for low, high in edge["purities"].values():
        assert abs(low - high) < 5 * edge["flow_change"]
    assert "\n" not in str(info.value) and "material-balance edge" in str(info.value)


@pytest.mark.parametrize("off", [0.999, 1.001])
def test_the_same_cascade_off_the_edge_converges(off):
    config = edge_case()
    flow, unit = config["streams"]["organic"]["flow"].split()
    config["streams"]["organic"]["flow"] = f"{float(flow) * off!r} {unit}"
    result = sx_model.solve(sx_model.load_config(config))
    assert result.converged and result.mass_balance_error <= 1e-9


def test_the_edge_report_is_one_line_from_the_command_line(tmp_path):
    import json
    import subprocess
    path = tmp_path / "edge.yaml"
    path.write_text(json.dumps(edge_case(), default=str))     # JSON is YAML
    run = subprocess.run([sys.executable, "-m", "sx_model", "run", str(path)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "not determined by its inputs" in lines[0] and "Traceback" not in run.stderr


def test_a_long_cascade_off_the_edge_passes_the_edge_check_and_solves():
    """Pr/Nd at the bundled flows, 125 + 375 stages, solved without stage-count continuation (which
    converges at once here): Newton from the substitution start does not converge, the edge check runs
    (its 1 % probes converge at once) and finds the organic product 1e-3 away from the balance edge,
    so the solve goes on (pseudo-transient) and converges; the answer is the one the default
    strategies find (Newton from the coarser cascade), an independent path."""
    base = sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml")
    cascade = base.replace(stages={"extraction": 125, "scrub": 375})
    ran = []
    original = steady.STRATEGIES["edge check"]
    steady.STRATEGIES["edge check"] = lambda run: ran.append(run.system.net.n) or original(run)
    try:
        result = sx_model.solve(cascade, options=sx_model.SteadyOptions(
            strategies=("newton", "edge check", "pseudo-transient")))
    finally:
        steady.STRATEGIES["edge check"] = original
    assert 500 in ran
    assert result.converged and result.mass_balance_error <= 1e-9
    assert result.method.startswith("pseudo-transient")
    without = sx_model.solve(cascade)
    assert without.method == "newton (from a coarser cascade)"
    scale = result.aqueous.max()
    np.testing.assert_allclose(result.aqueous, without.aqueous, rtol=1e-9, atol=1e-9 * scale)


def test_pinched_carry_over_extends_a_geometric_profile():
    """Closed form: in the pinch of a long section each component changes by the same factor from
    stage to stage, ln x_j = ln x_0 + j ln r. Carried over from m to M stages, a decaying component
    keeps its level at the abundant end and continues the same factor over the added stages, i.e. it
    is again ln x_0 + j ln r for j = 0..M-1; a growing one likewise from the other end; a flat one
    stays flat. (The relative-position resampling would halve every slope.)"""
    m, big = 40, 100
    j_m, j_big = np.arange(m), np.arange(big)
    block = np.stack([2.0 - 0.7 * j_m,                   # decays along the section (r = e^-0.7)
                      -30.0 + 0.4 * j_m,                 # grows along it
                      np.full(m, 1.5)], axis=1)          # a major component, flat
    out = steady._resample_section(block, big)
    np.testing.assert_allclose(out[:, 0], 2.0 - 0.7 * j_big, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[:, 1], -30.0 + 0.4 * (j_big - (big - m)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[:, 2], 1.5, rtol=0, atol=1e-15)
    # fewer stages, or pinched=False: the relative-position resampling (halved slope when doubled)
    plain = steady._resample_section(block, 2 * m, pinched=False)
    np.testing.assert_allclose(np.diff(plain[5:-5, 0]), -0.35, rtol=0, atol=1e-12)
    assert steady._resample_section(block, m // 2).shape == (m // 2, 3)


def test_saponified_loop_converges_by_newton_from_the_coarser_cascade():
    """The saponified mass-action loop of the benchmarks at 120 + 120 + 60 stages x 16: the coarser
    cascade's profile carried over into the pinch is close enough for Newton (it used to need the
    pseudo-transient path at every level); the answer is the pseudo-transient path's (an independent
    route) to 1e-9, and both close the balance."""
    cascade = sx_model.load_config(loop_config(SERIES, 120, 120, 60))
    result = sx_model.solve(cascade)
    assert result.method == "newton (from a coarser cascade)"
    walked = sx_model.solve(cascade, options=sx_model.SteadyOptions(strategies=("stage continuation",)))
    assert walked.method.startswith("pseudo-transient")
    assert result.mass_balance_error <= 1e-9 and walked.mass_balance_error <= 1e-9
    scale = result.aqueous.max()
    np.testing.assert_allclose(result.aqueous, walked.aqueous, rtol=1e-9, atol=1e-9 * scale)


def test_a_converged_cascade_on_the_edge_says_so():
    """Seed 1577 of the large set (62 + 54 stages, 5 components) is right on the edge and converges
    (Newton from the coarser cascade): the result carries a warning that it sits on the balance edge;
    the same cascade 0.1 % off the edge, and the bundled Pr/Nd design (1e-3 away), do not."""
    _, config = generated(1577, 1000)
    assert on_edge(config)
    result = sx_model.solve(sx_model.load_config(config))
    assert result.converged
    assert sum("material-balance edge" in w for w in result.warnings) == 1
    flow, unit = config["streams"]["organic"]["flow"].split()
    config["streams"]["organic"]["flow"] = f"{float(flow) * 0.999!r} {unit}"
    off = sx_model.solve(sx_model.load_config(config))
    assert not any("material-balance edge" in w for w in off.warnings)
    bundled = sx_model.solve(sx_model.load_config(ROOT / "configs" / "prnd_p507.yaml"))
    assert not any("material-balance edge" in w for w in bundled.warnings)
