"""Monte Carlo uncertainty: zero spread reproduces the deterministic result exactly; the estimated
probability of meeting a target converges to the exact one (Kremser closed form for a constant-D battery
with a normally distributed D); one process or two give identical samples; bad sections are refused."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import yaml
from scipy.optimize import brentq
from scipy.stats import norm

import sx_model
from conftest import ROOT
from sx_model.config import load_uncertainty
from sx_model.errors import ConfigError
from sx_model.results import key_outputs
from sx_model.studies.executors import ProcessExecutor
from sx_model.studies.uncertainty import draw, uncertainty

CONFIGS = ROOT / "configs"


def uncertain_prnd(**changes):
    data = yaml.safe_load((CONFIGS / "prnd_p507_uncertain.yaml").read_text())
    data["uncertainty"].update(changes)
    return data


def test_zero_spread_reproduces_the_deterministic_result_exactly():
    data = uncertain_prnd()
    for spec in data["uncertainty"]["inputs"].values():
        spec["sd"] = "0 %"
    cascade, spec = load_uncertainty(data)
    study = uncertainty(cascade, spec, samples=12, progress=False)
    nominal = np.array(key_outputs(sx_model.solve(sx_model.load_config(CONFIGS / "prnd_p507.yaml")))[1])
    assert study.ok.all()
    assert np.array_equal(study.samples, np.tile(nominal, (12, 1)))
    assert study.probability()[0] == 1.0         # the nominal design meets 0.99 / 0.99


def kremser_config(sd):
    return {"name": "Kremser, uncertain D", "components": ["Cu"],
            "equilibrium": {"model": "constant_d", "distribution": {"Cu": 2.4}},
            "sections": {"extraction": {"stages": 5}},
            "streams": {"organic": {"flow": "1 L/min"},
                        "feed": {"flow": "1 L/min", "concentration": {"Cu": "2 g/L"}}},
            "products": {"raffinate": {"key": ["Cu"]}, "loaded_organic": {"key": ["Cu"]}},
            "uncertainty": {"sampling": "random",
                            "inputs": {"equilibrium.distribution.Cu": {"distribution": "normal", "sd": sd}},
                            "targets": {"loaded_organic": "0.5,0.99"}}}


def test_probability_of_meeting_a_target_converges_to_the_kremser_value():
    # Kremser (Seader, Henley & Roper, Separation Process Principles, eq. for countercurrent cascades):
    # fraction not extracted = (E - 1) / (E^(N+1) - 1), E = D O/A (O/A = 1). Recovery >= 0.99 holds for
    # D >= D*, so P(meet) = 1 - Phi((D* - 2.4) / sd) exactly.
    n_stages, target = 5, 0.99
    d_star = brentq(lambda e: 1 - (e - 1) / (e ** (n_stages + 1) - 1) - target, 1.01, 10.0)
    sd = 0.1 * 2.4
    exact = 1 - norm.cdf((d_star - 2.4) / sd)
    errors = []
    for samples, seed in ((100, 3), (400, 4), (1600, 5)):
        cascade, spec = load_uncertainty(kremser_config("10 %"))
        study = uncertainty(cascade, spec, samples=samples, seed=seed, progress=False)
        p, se, (low, high) = study.probability()
        assert abs(p - exact) <= 4 * math.sqrt(exact * (1 - exact) / samples), (samples, p, exact)
        assert low <= exact <= high or abs(p - exact) <= 3 * se
        errors.append(abs(p - exact))
    assert errors[-1] < 0.03
    # and the sampled D really has the stated distribution
    assert np.std(study.values[:, 0], ddof=1) == pytest.approx(sd, rel=0.1)


def test_latin_hypercube_puts_one_sample_in_every_stratum():
    cascade, spec = load_uncertainty(kremser_config("10 %"))
    values = draw(spec.spreads, 50, seed=7, sampling="latin_hypercube")[:, 0]
    strata = np.floor(norm.cdf((values - 2.4) / 0.24) * 50).astype(int)
    assert sorted(strata) == list(range(50))


def test_same_seed_same_samples_other_seed_other_samples():
    cascade, spec = load_uncertainty(uncertain_prnd())
    a = draw(spec.spreads, 30, seed=1)
    assert np.array_equal(a, draw(spec.spreads, 30, seed=1))
    assert not np.array_equal(a, draw(spec.spreads, 30, seed=2))


def test_two_processes_give_exactly_the_samples_of_one():
    cascade, spec = load_uncertainty(uncertain_prnd())
    serial = uncertainty(cascade, spec, samples=40, progress=False)
    pool = ProcessExecutor(workers=2, warm=False)
    parallel = uncertainty(cascade, spec, samples=40, executor=pool, progress=False)
    assert np.array_equal(serial.samples, parallel.samples, equal_nan=True)
    assert np.array_equal(serial.values, parallel.values)


def test_impossible_samples_are_failed_and_do_not_meet_the_targets():
    data = uncertain_prnd()
    data["uncertainty"]["inputs"] = {"streams.scrub.flow": {"distribution": "normal", "sd": "80 %"}}
    cascade, spec = load_uncertainty(data)
    study = uncertainty(cascade, spec, samples=60, seed=2, progress=False)
    failed = ~study.ok
    assert failed.any() and study.ok.any()
    assert not study.meets()[failed].any()
    assert all(study.errors[i] for i in np.flatnonzero(failed))
    negative = study.values[:, 0] <= 0
    assert negative.any() and failed[negative].all()       # a negative flow is never solved


def test_statistics_and_rank_correlations_are_consistent():
    cascade, spec = load_uncertainty(uncertain_prnd())
    study = uncertainty(cascade, spec, samples=80, progress=False)
    stats = study.statistics()["raffinate.purity"]
    assert stats["p5"] <= stats["p50"] <= stats["p95"] and stats["min"] <= stats["mean"] <= stats["max"]
    rho = study.rank_correlations()
    # more scrub acid strips more Nd back: raffinate purity falls (as the sensitivity says too)
    assert rho[[s.path for s in study.spreads].index("streams.scrub.acid"),
               study.outputs.index("raffinate.purity")] < -0.3
    json.dumps(study.to_dict(), allow_nan=False)


def bad(**inputs_or_keys):
    data = uncertain_prnd()
    data["uncertainty"] = {"inputs": {"streams.organic.flow": {"distribution": "normal", "sd": "1 %"}}}
    data["uncertainty"].update(inputs_or_keys)
    return data


@pytest.mark.parametrize("data, needle", [
    (bad(inputs={"streams.organic.flow": {"distribution": "weibull", "sd": "1 %"}}), "weibull"),
    (bad(inputs={"streams.organic.flow": {"distribution": "normal", "sd": "-1 %"}}), "spread >= 0"),
    (bad(inputs={"streams.organic.flow": {"distribution": "normal", "sd": "0.5 mol/L"}}), "dimension"),
    (bad(inputs={"streams.organic.flow": {"distribution": "lognormal", "sd": "0.5 L/min"}}), "relative"),
    (bad(inputs={"streams.organic.flow": {"distribution": "uniform", "sd": "1 %"}}), "half_width"),
    (bad(inputs={"sections.scrub.stages": {"distribution": "normal", "sd": "1 %"}}), "whole number"),
    (bad(inputs={"streams.nope.flow": {"distribution": "normal", "sd": "1 %"}}), "no key"),
    (bad(inputs={}), "is empty"),
    (bad(samples=0), "samples"),
    (bad(samples=10 ** 9), "at most"),
    (bad(sampling="sobol"), "sobol"),
    (bad(targets={"nope": 0.9}), "no keyed product"),
    (bad(targets={"raffinate": 1.5}), "between 0 and 1"),
    (bad(extra=1), "extra"),
])
def test_bad_uncertainty_sections_are_refused_naming_the_key(data, needle):
    with pytest.raises(ConfigError, match=needle) as info:
        load_uncertainty(data)
    assert str(info.value).startswith("uncertainty")


def test_a_config_without_the_section_is_refused():
    with pytest.raises(ConfigError, match="no uncertainty section"):
        load_uncertainty(CONFIGS / "prnd_p507.yaml")


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "sx_model", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_cli_runs_writes_and_plots(tmp_path):
    run = cli("uncertainty", CONFIGS / "prnd_p507_uncertain.yaml", "--samples", "30", "--out", tmp_path / "o",
              "--plot", tmp_path / "mc.png", "--output", "raffinate.purity", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "probability of meeting every target" in run.stdout
    data = json.loads((tmp_path / "o" / "uncertainty.json").read_text())
    assert data["samples"] == 30 and data["mass_balance_error"] <= 1e-9
    assert (tmp_path / "mc.png").stat().st_size > 1000
    assert len((tmp_path / "o" / "uncertainty.csv").read_text().splitlines()) == 31


@pytest.mark.parametrize("args, needle", [
    (["--samples", "0"], "--samples"),
    (["--seed", "-1"], "--seed"),
    (["--target", "nope=0.9"], "nope"),
    (["--plot", "x.png", "--output", "nope"], "--output"),
    (["--workers", "0"], "--workers"),
    (["--out", "/proc/nope"], "--out"),
])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, needle):
    run = cli("uncertainty", CONFIGS / "prnd_p507_uncertain.yaml", "--samples", "3", *args, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and needle in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_a_config_without_the_section(tmp_path):
    run = cli("uncertainty", CONFIGS / "prnd_p507.yaml", cwd=tmp_path)
    assert run.returncode == 2 and "no uncertainty section" in run.stderr
