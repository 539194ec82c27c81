"""Bad chemistry input through the command line: extractant systems, saponification, acids, log K,
pH correlations, Murphree efficiency and the closed organic loop.

Every case starts from a small valid closed-loop ``mass_action`` config (BASE below), breaks one thing
and checks the bad-input contract (README.md, exit codes): exit code 2, exactly one line on stderr
starting ``sx-model: error:`` that names the offending config key (and quotes the value where there is
one), no traceback, nothing on stdout and, for ``run --out``, no file written. Also ``sx-model systems`` and
the chemistry part of ``run --format json``.
"""
import copy
import json

import pytest
import yaml

from test_bad_input import mentions, one_error_line, run_cli

BASE = yaml.safe_load("""
name: test loop
components: [La, Ce, Pr, Nd]
equilibrium:
  model: mass_action
  extractant: {concentration: 1.5 mol/L, saponification: 0.32, base: NaOH}
  separation_factors: {La: 1.0, Ce: 5.0, Pr: 10.0, Nd: 15.0}
  reference: {element: Nd, log10_k: -1.6}
sections: {extraction: {stages: 15}, scrub: {stages: 15}, strip: {stages: 6}}
streams:
  organic: {flow: 15 L/min, recycle: true, bleed: 0.01}
  feed: {flow: 2 L/min, acid: 0.01 mol/L, concentration: {La: 0.3 mol/L, Ce: 0.5 mol/L, Pr: 0.05 mol/L, Nd: 0.15 mol/L}}
  scrub: {flow: 2 L/min, acid: 3.1 mol/L}
  strip: {flow: 3 L/min, acid: 6 mol/L}
products:
  raffinate: {key: [La, Ce]}
  strip_liquor: {key: [Pr, Nd]}
""")
TOTAL_STAGES = 36
SYSTEM_KEYS = ("p507_chloride", "d2ehpa_chloride", "cyanex272_chloride", "naphthenic_acid_chloride")

# --------------------------------------------------------------------------------------------------
# helpers

_MISSING = object()


@pytest.fixture
def base(tmp_path):
    """A deep copy of the valid base config (the same config is also written to tmp_path/base.yaml)."""
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE, sort_keys=False), encoding="utf-8")
    return copy.deepcopy(BASE)


def mutate(data, changes):
    """Apply {path tuple: value} in order (value _MISSING deletes the entry); returns ``data``."""
    for path, value in changes.items():
        node = data
        for part in path[:-1]:
            node = node[part]
        if value is _MISSING:
            del node[path[-1]]
        else:
            node[path[-1]] = copy.deepcopy(value)   # params share nested values: never alias them
    return data


def write(tmp_path, data, name="bad.yaml"):
    target = tmp_path / name
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


def check_message(line, keys, value):
    for key in ([keys] if isinstance(keys, str) else keys):
        assert key in line, f"message does not name {key!r}: {line}"
    if value is not None:
        assert mentions(line, value), f"message does not quote the value {value!r}: {line}"


def assert_rejected(capsys, tmp_path, data, command, keys, value):
    config = write(tmp_path, data)
    args = [command, str(config)]
    out_dir = tmp_path / "results"
    if command == "run":
        out_dir.mkdir()
        args += ["--out", str(out_dir)]
    code, out, err = run_cli(capsys, args)
    line = one_error_line(err)
    assert code == 2, f"exit code {code}, stderr: {err}"
    assert out == ""
    if command == "run":
        assert list(out_dir.iterdir()) == [], "a file was written for a rejected config"
    check_message(line, keys, value)
    return line


# --------------------------------------------------------------------------------------------------
# one broken thing each: (changes, key(s) named, value quoted)

EQ = ("equilibrium",)
EXT = EQ + ("extractant",)
ORG = ("streams", "organic")
NO_BETA = {EQ + ("separation_factors",): _MISSING, EQ + ("reference",): _MISSING}
PH_CORR = {EQ + ("model",): "ph_correlation", **NO_BETA,
           EQ + ("correlations",): {"La": {"slope": 3.0, "intercept": -4.0},
                                    "Ce": {"slope": 3.0, "intercept": -3.3},
                                    "Pr": {"slope": 3.0, "intercept": -3.0},
                                    "Nd": {"slope": 3.0, "intercept": -2.8}}}


def _eff(section, value):
    shown = f"'{value}'" if isinstance(value, str) else f"{value:g}"
    return pytest.param({("sections", section, "efficiency"): value},
                        f"sections.{section}.efficiency", shown, id=f"{section}-efficiency={value}")


CASES = [
    pytest.param({EQ + ("system",): "p999"}, "equilibrium.system", "'p999'", id="unknown-system"),
    pytest.param({EXT + ("saponification",): -0.1}, "equilibrium.extractant.saponification", "-0.1",
                 id="saponification-negative"),
    pytest.param({EXT + ("saponification",): 1.5}, "equilibrium.extractant.saponification", "1.5",
                 id="saponification-above-1"),
    pytest.param({EXT + ("base",): "KOH"}, "equilibrium.extractant.base", "'KOH'", id="base-KOH"),
    *[pytest.param({EXT + ("base",): value}, "equilibrium.extractant.base", None, id=f"base-{kind}")
      for kind, value in (("list", ["NaOH"]), ("mapping", {"NaOH": 1}))],
    pytest.param({EXT + ("concentration",): _MISSING}, "equilibrium.extractant.concentration", None,
                 id="extractant-concentration-missing"),
    pytest.param({EXT + ("concentration",): 1.5}, "equilibrium.extractant.concentration", "1.5",
                 id="extractant-concentration-bare-number"),
    pytest.param({EXT + ("concentration",): "-1.5 mol/L"}, "equilibrium.extractant.concentration",
                 "'-1.5 mol/L'", id="extractant-concentration-negative"),
    pytest.param({EQ + ("extractant",): _MISSING}, "equilibrium.extractant", None,
                 id="extractant-missing"),
    pytest.param({EXT + ("sapon",): 0.3}, "equilibrium.extractant.sapon", "'sapon'",
                 id="extractant-unknown-key"),
    *[pytest.param({("streams", s, "acid"): "-0.1 mol/L"}, f"streams.{s}.acid", "'-0.1 mol/L'",
                   id=f"{s}-acid-negative") for s in ("feed", "scrub", "strip")],
    pytest.param({**NO_BETA, EQ + ("log10_k",): {"La": -3, "Ce": -2.5, "Pr": -2}},
                 ["log10_k", "Nd"], None, id="log10_k-missing-for-Nd"),
    pytest.param({EQ + ("reference",): _MISSING}, "equilibrium.reference", None,
                 id="separation-factors-without-reference"),
    *[_eff(section, value) for section in ("scrub", "extraction") for value in (0, -0.5, 1.2, "high")],
    pytest.param({ORG + ("recycle",): "yes-please"}, "streams.organic.recycle", "'yes-please'",
                 id="recycle-not-bool"),
    pytest.param({ORG + ("bleed",): 1.0}, "streams.organic.bleed", "1", id="bleed-1"),
    pytest.param({ORG + ("bleed",): -0.1}, "streams.organic.bleed", "-0.1", id="bleed-negative"),
    pytest.param({ORG + ("bleed",): "lots"}, "streams.organic.bleed", "'lots'", id="bleed-text"),
    pytest.param({ORG + ("recycle",): _MISSING}, "streams.organic.bleed", None,
                 id="bleed-without-recycle"),
    pytest.param({ORG + ("recycle",): False}, "streams.organic.bleed", None, id="bleed-with-recycle-false"),
    pytest.param({("sections", "strip"): _MISSING, ("streams", "strip"): _MISSING,
                  ("products", "strip_liquor"): _MISSING},
                 "streams.organic.recycle", None, id="recycle-without-strip-section"),
    pytest.param({**PH_CORR, EQ + ("correlations", "Nd"): _MISSING}, "equilibrium.correlations.Nd", None,
                 id="ph-correlation-missing-Nd"),
    pytest.param({**PH_CORR, EQ + ("correlations", "La", "slope"): -1.0},
                 "equilibrium.correlations.La.slope", "-1", id="ph-correlation-negative-slope"),
    pytest.param({**PH_CORR, EQ + ("correlations", "La", "slope"): _MISSING},
                 "equilibrium.correlations.La.slope", None, id="ph-correlation-slope-missing"),
]

# a handful also through `run --out` (no file may be written)
RUN_IDS = {"unknown-system", "saponification-above-1", "base-KOH", "extractant-concentration-negative",
           "strip-acid-negative", "log10_k-missing-for-Nd", "scrub-efficiency=1.2", "bleed-1",
           "recycle-without-strip-section", "ph-correlation-missing-Nd"}


@pytest.mark.parametrize("changes, keys, value", CASES)
def test_validate_rejects(capsys, tmp_path, base, changes, keys, value):
    assert_rejected(capsys, tmp_path, mutate(base, changes), "validate", keys, value)


@pytest.mark.parametrize("changes, keys, value", [case for case in CASES if case.id in RUN_IDS])
def test_run_rejects_without_writing(capsys, tmp_path, base, changes, keys, value):
    assert_rejected(capsys, tmp_path, mutate(base, changes), "run", keys, value)


def test_run_ids_all_exist():
    assert RUN_IDS <= {case.id for case in CASES}


# --------------------------------------------------------------------------------------------------
# the valid base config and its variants

def test_base_config_validates(capsys, tmp_path, base):
    code, out, err = run_cli(capsys, ["validate", str(tmp_path / "base.yaml")])
    assert code == 0, err
    assert "valid" in out and f"{TOTAL_STAGES} stages" in out and "mass_action" in out


@pytest.mark.parametrize("changes", [
    pytest.param({EXT + ("base",): "NH3"}, id="base-NH3"),
    pytest.param({EXT + ("saponification",): 0}, id="saponification-0"),
    pytest.param({("sections", "scrub", "efficiency"): 1}, id="efficiency-1"),
    pytest.param({ORG + ("bleed",): 0}, id="bleed-0"),
    pytest.param(PH_CORR, id="ph-correlation-complete"),
])
def test_boundary_values_accepted(capsys, tmp_path, base, changes):
    config = write(tmp_path, mutate(base, changes), "ok.yaml")
    code, out, err = run_cli(capsys, ["validate", str(config)])
    assert code == 0, err
    assert "valid" in out


def test_run_json_chemistry(capsys, tmp_path, base):
    code, out, err = run_cli(capsys, ["run", str(tmp_path / "base.yaml"), "--format", "json"])
    assert code == 0, err
    data = json.loads(out)
    assert data["converged"] is True
    ph = data["ph"]
    assert isinstance(ph, list) and len(ph) == TOTAL_STAGES
    assert all(isinstance(p, float) for p in ph)
    reagents = data["reagents"]
    assert reagents["base_mol_per_h"] > 0
    assert reagents["acid_fed_mol_per_h"] > 0
    loading = data["profiles"]["loading_fraction"]
    assert len(loading) == TOTAL_STAGES
    assert all(0.0 <= f <= 1.0 for f in loading)


# --------------------------------------------------------------------------------------------------
# sx-model systems

def test_systems_lists_all(capsys):
    code, out, err = run_cli(capsys, ["systems"])
    assert code == 0, err
    for key in SYSTEM_KEYS:
        assert key in out, f"{key} not listed"


def test_systems_json_all(capsys):
    code, out, err = run_cli(capsys, ["systems", "--format", "json"])
    assert code == 0, err
    assert set(SYSTEM_KEYS) <= set(json.loads(out))


def test_systems_one_json(capsys):
    code, out, err = run_cli(capsys, ["systems", "p507_chloride", "--format", "json"])
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == ["p507_chloride"]
    assert data["p507_chloride"]["log10_k"], "no constants shown for p507_chloride"


def test_systems_unknown(capsys):
    code, out, err = run_cli(capsys, ["systems", "nope"])
    line = one_error_line(err)
    assert code == 2
    assert out == ""
    assert mentions(line, "'nope'"), line
    for key in SYSTEM_KEYS:
        assert key in line, f"valid system {key} not listed: {line}"
