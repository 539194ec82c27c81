"""Bad input through the command line, as a user sees it.

Every case starts from ``configs/prnd_p507.yaml``, breaks one thing and checks the bad-input contract
(README.md, exit codes): exit code 2, exactly one line on stderr that names the offending config key,
quotes the offending value (where there is one) and says what was expected, no traceback, nothing
on stdout and no output file written.
"""
import copy
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

from sx_model.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
BASE_PATH = ROOT / "configs" / "prnd_p507.yaml"
TOTAL_STAGES = 44   # 20 extraction + 24 scrub in the base config


@pytest.fixture(scope="module")
def base_text():
    return BASE_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def base_config(base_text):
    return yaml.safe_load(base_text)


# --------------------------------------------------------------------------------------------------
# helpers

_MISSING = object()


def _set(data, path, value):
    """Set (or, with value=_MISSING, delete) the entry at ``path`` (a tuple of keys)."""
    node = data
    for part in path[:-1]:
        node = node[part]
    if value is _MISSING:
        del node[path[-1]]
    else:
        node[path[-1]] = value


def write_config(tmp_path, base, path, value, name="bad.yaml"):
    data = copy.deepcopy(base)
    _set(data, path, value)
    target = tmp_path / name
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


def mentions(line, value):
    """True if ``value`` appears in ``line`` as a whole token (so '0' does not match inside '20')."""
    return re.search(r"(?<![\w.])" + re.escape(value) + r"(?![\w])", line) is not None


def one_error_line(err):
    """The single stderr line of a bad-input failure (asserting there is exactly one)."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected exactly one line on stderr, got {len(lines)}:\n{err}"
    line = lines[0]
    assert line.strip(), "stderr line is empty"
    assert err.endswith("\n")
    assert line.startswith("sx-model: error:"), line
    return line


def check_message(line, key, value, expected):
    if key is not None:
        assert key in line, f"message does not name the key {key!r}: {line}"
    if value is not None:
        assert mentions(line, value), f"message does not quote the value {value!r}: {line}"
    if expected is not None:
        for fragment in ([expected] if isinstance(expected, str) else expected):
            assert fragment in line, f"message does not say what was expected ({fragment!r}): {line}"


def run_cli(capsys, args):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_rejected_by_run(capsys, tmp_path, config, key, value, expected):
    out_dir = tmp_path / "results"
    out_dir.mkdir()
    code, out, err = run_cli(capsys, ["run", str(config), "--out", str(out_dir)])
    line = one_error_line(err)
    assert code == 2, f"exit code {code}, stderr: {err}"
    assert out == ""
    assert list(out_dir.iterdir()) == [], "a file was written for a rejected config"
    check_message(line, key, value, expected)
    return line


def assert_rejected_by_validate(capsys, config, key, value, expected):
    code, out, err = run_cli(capsys, ["validate", str(config)])
    line = one_error_line(err)
    assert code == 2, f"exit code {code}, stderr: {err}"
    assert out == ""
    check_message(line, key, value, expected)
    return line


# --------------------------------------------------------------------------------------------------
# one broken value each: (id, path in the config, new value, key named, value quoted, expected text)

FEED = ("streams", "feed")
SIDE_DRAW = {"phase": "aqueous", "stage": 10}

CASES = [
    pytest.param(("colour",), "red", "colour", "'colour'", ["valid keys", "streams"],
                 id="unknown-top-level-key"),
    pytest.param(FEED + ("temperature",), "25 degC", "streams.feed.temperature", "'temperature'",
                 ["valid keys", "flow"], id="unknown-key-in-stream"),
    pytest.param(("components",), ["Pr", "Xx"], "components[1]", "'Xx'", ["expected", "Nd"],
                 id="unknown-element-in-components"),
    pytest.param(FEED + ("concentration", "Xx"), "0.1 mol/L", "streams.feed.concentration.Xx", "'Xx'",
                 ["expected", "Pr, Nd"], id="unknown-element-in-concentration"),
    pytest.param(FEED + ("concentration", "La"), "0.1 mol/L", "streams.feed.concentration.La", "'La'",
                 "Pr, Nd", id="concentration-element-not-a-component"),
    pytest.param(FEED + ("flow",), "2 mol/L", "streams.feed.flow", "'2 mol/L'",
                 ["expected", "flow", "L/min"], id="flow-wrong-dimension"),
    pytest.param(FEED + ("flow",), 2, "streams.feed.flow", "2", ["no unit", "L/min"],
                 id="flow-bare-number"),
    pytest.param(FEED + ("flow",), "2", "streams.feed.flow", "'2'", ["no unit", "L/min"],
                 id="flow-numeric-string"),
    pytest.param(FEED + ("flow",), "-2 L/min", "streams.feed.flow", "'-2 L/min'", "greater than zero",
                 id="flow-negative"),
    pytest.param(FEED + ("flow",), "0 L/min", "streams.feed.flow", "'0 L/min'", "greater than zero",
                 id="flow-zero"),
    pytest.param(("streams", "organic", "flow"), "0 L/min", "streams.organic.flow", "'0 L/min'",
                 "greater than zero", id="organic-flow-zero"),
    pytest.param(FEED + ("stage",), 0, "streams.feed.stage", "0", f"1 to {TOTAL_STAGES}",
                 id="feed-stage-0"),
    pytest.param(FEED + ("stage",), TOTAL_STAGES + 1, "streams.feed.stage", str(TOTAL_STAGES + 1),
                 f"1 to {TOTAL_STAGES}", id="feed-stage-N+1"),
    pytest.param(("equilibrium", "separation_factors", "Nd"), 0, "equilibrium.separation_factors.Nd",
                 "0", "from 1e-12", id="separation-factor-zero"),
    pytest.param(("equilibrium", "separation_factors", "Nd"), -1.5, "equilibrium.separation_factors.Nd",
                 "-1.5", "from 1e-12", id="separation-factor-negative"),
    pytest.param(("equilibrium", "separation_factors", "Nd"), _MISSING,
                 "equilibrium.separation_factors.Nd", None, ["'Nd'", "Pr, Nd"],
                 id="separation-factor-missing"),
    pytest.param(("equilibrium", "capacity"), "0.18 L/min", "equilibrium.capacity", "'0.18 L/min'",
                 ["expected", "concentration"], id="capacity-wrong-dimension"),
    pytest.param(("streams", "scrub"), _MISSING, "streams.scrub", None, ["required", "sections.scrub"],
                 id="scrub-section-without-scrub-stream"),
    pytest.param(("sections", "extraction", "stages"), 2.5, "sections.extraction.stages", "2.5",
                 "whole number", id="stages-not-integer"),
    pytest.param(("sections", "extraction", "stages"), "twenty", "sections.extraction.stages",
                 "'twenty'", "whole number", id="stages-text"),
    pytest.param(("sections", "extraction", "stages"), 0, "sections.extraction.stages", "0",
                 ">= 1", id="zero-extraction-stages"),
    pytest.param(("products", "raffinate", "key"), ["La"], "products.raffinate.key", "'La'",
                 "Pr, Nd", id="product-key-not-a-component"),
]

SIDE_DRAW_FRACTIONS = [0, 1, 1.5, -0.2]


@pytest.mark.parametrize("path, value, key, quoted, expected", CASES)
def test_run_rejects(capsys, tmp_path, base_config, path, value, key, quoted, expected):
    config = write_config(tmp_path, base_config, path, value)
    assert_rejected_by_run(capsys, tmp_path, config, key, quoted, expected)


VALIDATE_IDS = {"unknown-top-level-key", "unknown-element-in-concentration", "flow-wrong-dimension",
                "flow-bare-number", "feed-stage-N+1", "separation-factor-missing",
                "scrub-section-without-scrub-stream", "product-key-not-a-component"}


@pytest.mark.parametrize("path, value, key, quoted, expected",
                         [case for case in CASES if case.id in VALIDATE_IDS])
def test_validate_rejects(capsys, tmp_path, base_config, path, value, key, quoted, expected):
    config = write_config(tmp_path, base_config, path, value)
    assert_rejected_by_validate(capsys, config, key, quoted, expected)


def test_unknown_equilibrium_model_lists_valid_ones(capsys, tmp_path, base_config):
    from sx_model.equilibrium import REGISTRY

    config = write_config(tmp_path, base_config, ("equilibrium", "model"), "langmuir")
    line = assert_rejected_by_run(capsys, tmp_path, config, "equilibrium.model", "'langmuir'", "expected")
    for name in REGISTRY:
        assert name in line, f"valid model {name!r} not listed: {line}"
    assert_rejected_by_validate(capsys, config, "equilibrium.model", "'langmuir'", list(REGISTRY))


@pytest.mark.parametrize("fraction", SIDE_DRAW_FRACTIONS, ids=lambda f: f"fraction={f}")
def test_side_draw_fraction_outside_open_unit_interval(capsys, tmp_path, base_config, fraction):
    config = write_config(tmp_path, base_config, ("products", "side"), dict(SIDE_DRAW, fraction=fraction))
    assert_rejected_by_run(capsys, tmp_path, config, "products.side.fraction", f"{fraction:g}",
                           "between 0 and 1")


@pytest.mark.parametrize("broken, unbalanced", [
    ("name: Pr/Nd split, P507 in chloride media", "name: Pr/Nd split: P507: in chloride media"),
    ("components: [Pr, Nd]", "components: [Pr, Nd"),
], ids=["mapping-value-in-scalar", "unclosed-bracket"])
def test_yaml_syntax_error_gives_line_number(capsys, tmp_path, base_text, broken, unbalanced):
    lines = base_text.splitlines()
    index = lines.index(broken)
    lines[index] = unbalanced
    config = tmp_path / "broken.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for command in ("run", "validate"):
        args = [command, str(config)]
        out_dir = tmp_path / f"out_{command}"
        if command == "run":
            out_dir.mkdir()
            args += ["--out", str(out_dir)]
        code, out, err = run_cli(capsys, args)
        line = one_error_line(err)
        assert code == 2 and out == ""
        assert "YAML" in line and str(config) in line
        # the parser reports the line where it noticed the problem: the broken line or the next one
        numbers = [int(n) for n in re.findall(r"\bline (\d+)", line)]
        assert numbers and numbers[0] in (index + 1, index + 2), line
        if command == "run":
            assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "validate"])
def test_config_file_missing(capsys, tmp_path, command):
    missing = tmp_path / "no_such_config.yaml"
    args = [command, str(missing)]
    out_dir = tmp_path / "results"
    if command == "run":
        out_dir.mkdir()
        args += ["--out", str(out_dir)]
    code, out, err = run_cli(capsys, args)
    line = one_error_line(err)
    assert code == 2 and out == ""
    assert str(missing) in line
    assert "cannot read" in line and "No such file" in line
    if command == "run":
        assert list(out_dir.iterdir()) == []


def test_valid_config_validates(capsys, tmp_path, base_config):
    config = tmp_path / "good.yaml"
    config.write_text(yaml.safe_dump(base_config, sort_keys=False), encoding="utf-8")
    code, out, err = run_cli(capsys, ["validate", str(config)])
    assert code == 0, err
    assert "valid" in out
    assert "Traceback" not in err


# --------------------------------------------------------------------------------------------------
# malformed quantity strings and values of the wrong type

@pytest.mark.parametrize("value", ["2 L/min)", "("])
def test_flow_unbalanced_parenthesis(capsys, tmp_path, base_config, value):
    config = write_config(tmp_path, base_config, FEED + ("flow",), value)
    assert_rejected_by_run(capsys, tmp_path, config, "streams.feed.flow", repr(value), "expected")


def test_flow_division_by_zero(capsys, tmp_path, base_config):
    config = write_config(tmp_path, base_config, FEED + ("flow",), "2 L / 0 min")
    assert_rejected_by_run(capsys, tmp_path, config, "streams.feed.flow", "'2 L / 0 min'", "expected")


def test_equilibrium_model_not_a_name(capsys, tmp_path, base_config):
    config = write_config(tmp_path, base_config, ("equilibrium", "model"), ["separation_factor"])
    assert_rejected_by_run(capsys, tmp_path, config, "equilibrium.model", None, "separation_factor")


def test_flow_unit_without_number(capsys, tmp_path, base_config):
    config = write_config(tmp_path, base_config, FEED + ("flow",), "L/min")
    assert_rejected_by_validate(capsys, config, "streams.feed.flow", "'L/min'", "number")


# --------------------------------------------------------------------------------------------------
# end to end through a real process: exit code and a clean one-line message, no traceback

def run_process(*args):
    return subprocess.run([sys.executable, "-m", "sx_model", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_process_wrong_dimension(tmp_path, base_config):
    config = write_config(tmp_path, base_config, FEED + ("flow",), "2 mol/L")
    out_dir = tmp_path / "results"     # does not exist: must not be created for a rejected config
    proc = run_process("run", str(config), "--out", str(out_dir))
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc.stderr)
    check_message(line, "streams.feed.flow", "'2 mol/L'", ["expected", "L/min"])
    assert proc.stdout == ""
    assert not out_dir.exists()


def test_process_yaml_syntax_error(tmp_path):
    config = tmp_path / "broken.yaml"
    config.write_text("components: [Pr, Nd\nequilibrium: {model: separation_factor}\n", encoding="utf-8")
    proc = run_process("run", str(config))
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc.stderr)
    assert "YAML" in line and re.search(r"\bline [12]\b", line), line
    assert proc.stdout == ""


def test_process_missing_file(tmp_path):
    proc = run_process("validate", str(tmp_path / "absent.yaml"))
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc.stderr)
    assert "absent.yaml" in line
    assert proc.stdout == ""


def test_process_unbalanced_parenthesis(tmp_path, base_config):
    config = write_config(tmp_path, base_config, FEED + ("flow",), "2 L/min)")
    proc = run_process("run", str(config))
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2
    one_error_line(proc.stderr)
