"""Adversarial suite for the command line: hostile files, values, options and destinations, every command.

Each case runs ``python -m sx_model ...`` as a subprocess in a fresh temporary directory (so tracebacks,
hangs and real exit codes are seen) and checks the contract of README.md and sx_model/cli/__init__.py:

- no "Traceback" on stderr, finished within :data:`TIMEOUT` seconds, never exit 3 (internal error);
- the exit code the contract gives (0 success; 1 solver failure, infeasible targets, every sweep point
  failed or design targets not met; 2 bad input);
- exit 2: exactly one stderr line, starting "sx-model: error:" (and naming the key where one is given);
- a failing command leaves nothing behind: the temporary directory (and any --out directory) is the same
  afterwards, file by file, including hidden temporary files; no command leaves hidden files;
- ``--format json`` with exit 0: stdout is strict JSON (no NaN or Infinity).

Cases are hand-written and generated (hostile values over config keys, commands over hostile files and
bad destinations, ...); positive controls at the end make sure the suite cannot pass by everything failing.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import pathlib
import stat
import subprocess
import sys
import time

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
TIMEOUT = 10          # seconds per command, start-up (about 0.5 s) included
BASE = yaml.safe_load((CONFIGS / "prnd_p507.yaml").read_text(encoding="utf-8"))       # 44 stages
LOOP = yaml.safe_load((CONFIGS / "lacepn_p507_loop.yaml").read_text(encoding="utf-8"))  # mass_action
KREMSER = yaml.safe_load((CONFIGS / "kremser_example.yaml").read_text(encoding="utf-8"))  # constant_d
GOOD = "good.yaml"    # every case directory holds a copy of configs/prnd_p507.yaml under this name
TARGETS = ["--target", "loaded_organic=0.999", "--target", "raffinate=0.999"]
HARD_TARGETS = ["--target", "loaded_organic=0.999999999", "--target", "raffinate=0.999999999"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
#: Every command that reads a config, with valid options around it.
COMMANDS = {
    "run": lambda c: ["run", c],
    "validate": lambda c: ["validate", c],
    "design": lambda c: ["design", c, *TARGETS],
    "sweep": lambda c: ["sweep", c, "--vary", "sections.scrub.stages=20:24:2"],
    "curve": lambda c: ["curve", c, "--stages", "40:44:2", *TARGETS],
    "compare": lambda c: ["compare", c, GOOD],
    "optimize": lambda c: ["optimize", c, *TARGETS],
    "pareto": lambda c: ["pareto", c, *TARGETS],
}
#: The commands that write files, and the file each writes first into --out.
OUT_COMMANDS = {
    "run": (["run", GOOD], "result.json"),
    "design": (["design", GOOD, *TARGETS], "design.json"),
    "sweep": (["sweep", GOOD, "--vary", "sections.scrub.stages=20:24:2"], "sweep.json"),
    "curve": (["curve", GOOD, "--stages", "40:44:2", *TARGETS], "curve.json"),
    "compare": (["compare", GOOD, "other.yaml", "--vary", "sections.scrub.stages=20:24:2"], "compare.json"),
    "optimize": (["optimize", GOOD, *TARGETS], "optimize.json"),
    "pareto": (["pareto", GOOD, *TARGETS], "pareto.json"),
}
PLOT_COMMANDS = ("run", "sweep", "curve", "compare", "optimize", "pareto")


# --------------------------------------------------------------------------------------------------
# running a case and checking the contract

def _no_constant(text):
    raise ValueError(f"not strict JSON: {text}")


def _env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SX_MODEL_")}
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + paths)
    env["MPLBACKEND"] = "Agg"
    env.update(extra or {})
    return env


def snapshot(directory):
    """{relative path: what it is} for everything under ``directory`` (hidden files included; regular
    files by content hash and mode, never opening pipes or devices)."""
    out = {}
    directory = str(directory)
    for base, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(base, name)
            rel = os.path.relpath(path, directory)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    out[rel] = ("file", hashlib.sha256(handle.read()).hexdigest(), stat.S_IMODE(info.st_mode))
            else:
                out[rel] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode))
    return out


def sx(cwd, *args, env=None, umask=None):
    """Run ``python -m sx_model ARGS`` in ``cwd``; fail the test on a hang."""
    cmd = [sys.executable, "-m", "sx_model", *[str(a) for a in args]]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=TIMEOUT, env=_env(env),
                              stdin=subprocess.DEVNULL,
                              preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hang: sx-model {' '.join(map(str, args))[:300]} did not finish in {TIMEOUT} s")
    proc.elapsed = time.monotonic() - start
    proc.out = proc.stdout.decode("utf-8", "replace")
    proc.err = proc.stderr.decode("utf-8", "replace")
    return proc


def check(proc, expect, *, cwd, before, key=None, outside=(), args=()):
    """The contract (module docstring) for one finished command; ``expect`` is a set of exit codes."""
    err, code = proc.err, proc.returncode
    assert "Traceback" not in err, err
    assert code != 3, f"internal error (exit 3): {err}"
    assert code in expect, f"exit {code}, expected {sorted(expect)}; stderr:\n{err[:2000]}"
    assert proc.elapsed < TIMEOUT
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err[:2000]}"
        assert lines[0].startswith("sx-model: error:"), lines[0]
        if key is not None:
            assert key in lines[0], f"error does not name {key!r}: {lines[0][:500]}"
    after = snapshot(cwd)
    hidden = [p for p in set(after) - set(before)
              if any(part.startswith(".") for part in pathlib.PurePath(p).parts)]
    assert not hidden, f"hidden files left behind: {hidden}"
    if code != 0:
        added = sorted(set(after) - set(before))
        changed = sorted(p for p in before if after.get(p) != before[p])
        assert not added and not changed, f"failing command left {added} and changed {changed}"
        for path in outside:
            assert not os.path.lexists(path), f"failing command left {path}"
    if code == 0 and "json" in [a for i, a in enumerate(args) if i and args[i - 1] == "--format"]:
        json.loads(proc.out, parse_constant=_no_constant)
    return proc


def case(tmp_path, args, expect, *, key=None, env=None, umask=None, outside=()):
    """Run one command in ``tmp_path`` (which gets good.yaml first) and check the contract."""
    good = tmp_path / GOOD
    if not good.exists():
        good.write_text((CONFIGS / "prnd_p507.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    before = snapshot(tmp_path)
    proc = sx(tmp_path, *args, env=env, umask=umask)
    return check(proc, set(expect), cwd=tmp_path, before=before, key=key, outside=outside,
                 args=[str(a) for a in args])


def write_config(tmp_path, data, name="c.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return name


_DELETE = object()


def edited(base, path, value):
    """A deep copy of ``base`` with the dotted ``path`` set to ``value`` (or deleted)."""
    data = copy.deepcopy(base)
    keys = path.split(".") if path else []
    node = data
    for k in keys[:-1]:
        node = node[k]
    if not keys:
        return value
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return data


def _id(value, width=24):
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


# --------------------------------------------------------------------------------------------------
# hostile files, for every command that reads a config

def _alias_bomb():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


BASE_TEXT = (CONFIGS / "prnd_p507.yaml").read_text(encoding="utf-8")

HOSTILE_FILES = {
    "broken_yaml": b"components: [Pr, Nd\nsections: {extraction: {stages: 20}\n",
    "alias_bomb": _alias_bomb().encode(),
    "alias_bomb_in_config": (BASE_TEXT + "notes:\n" + "".join("  " + line + "\n" for line in
                                                              _alias_bomb().splitlines())).encode(),
    "duplicate_top_key": (BASE_TEXT + "sections:\n  extraction: {stages: 5}\n").encode(),
    "duplicate_nested_key": BASE_TEXT.replace("flow: 2 L/min,", "flow: 2 L/min, flow: 3 L/min,").encode(),
    "deep_list_100000": b"[" * 100_000 + b"]" * 100_000,
    "deep_mapping_100000": b"{a: " * 100_000 + b"}" * 100_000,
    "deep_51": ("".join("  " * k + f"k{k}:\n" for k in range(51)) + "  " * 51 + "x: 1\n").encode(),
    "non_utf8": b"name: \xff\xfe\xfa broken\n" + BASE_TEXT.encode(),
    "utf16": BASE_TEXT.encode("utf-16"),
    "nul_bytes": b"name: a\x00b\n" + BASE_TEXT.encode(),
    "empty": b"",
    "comments_only": b"# nothing here\n",
    "null_document": b"null\n",
    "top_list": b"- components\n- sections\n",
    "top_scalar": b"42\n",
    "two_documents": (BASE_TEXT + "---\n" + BASE_TEXT).encode(),
    "python_tag": b"!!python/object/apply:os.system ['echo pwned > pwned.txt']\n",
    "unknown_tag": BASE_TEXT.replace("name: Pr/Nd", "name: !custom Pr/Nd").encode(),
    "list_key": b"? [a, b]\n: 1\n",
    "recursive_alias": b"a: &a [*a]\n",
    "undefined_alias": BASE_TEXT.replace("stages: 20}", "stages: *nothing}", 1).encode(),
    "size_2MB": (BASE_TEXT + "#" * 2_000_000 + "\n").encode(),
}
#: The hostile files every command is run on (the rest go through run).
CORE_FILES = ("broken_yaml", "alias_bomb")
#: Things that are not regular files: (id, setup(tmp_path) -> config argument).
SPECIAL_PATHS = {
    "missing": lambda t: "missing.yaml",
    "directory": lambda t: (t / "dir.yaml").mkdir() or "dir.yaml",
    "fifo": lambda t: os.mkfifo(t / "fifo.yaml") or "fifo.yaml",
    "dev_zero": lambda t: "/dev/zero",
    "dev_stdin": lambda t: "/dev/stdin",
    "dash": lambda t: "-",
    "symlink_to_dev_zero": lambda t: (t / "zero.yaml").symlink_to("/dev/zero") or "zero.yaml",
    "symlink_loop": lambda t: (t / "loop.yaml").symlink_to(t / "loop.yaml") or "loop.yaml",
    "long_name": lambda t: "x" * 5000 + ".yaml",
    "empty_name": lambda t: "",
}
CORE_SPECIAL = ("fifo",)


def _file_cases():
    for name in HOSTILE_FILES:
        for command in COMMANDS if name in CORE_FILES else ("run",):
            yield pytest.param(command, name, id=f"{command}-{name}")
    for name in SPECIAL_PATHS:
        for command in COMMANDS if name in CORE_SPECIAL else ("run",):
            yield pytest.param(command, name, id=f"{command}-{name}")


@pytest.mark.parametrize("command,hostile", list(_file_cases()))
def test_hostile_file(tmp_path, command, hostile):
    if hostile in HOSTILE_FILES:
        (tmp_path / "c.yaml").write_bytes(HOSTILE_FILES[hostile])
        config = "c.yaml"
    else:
        config = SPECIAL_PATHS[hostile](tmp_path)
    proc = case(tmp_path, COMMANDS[command](config) + ([] if command == "validate" else ["--out", "res"]), {2})
    assert not (tmp_path / "pwned.txt").exists()
    assert not proc.out.strip() or command == "compare"


def test_yaml_with_newline_in_file_name(tmp_path):
    """The file name goes into the message: still one line."""
    (tmp_path / "a\nb.yaml").write_bytes(HOSTILE_FILES["broken_yaml"])
    case(tmp_path, ["validate", "a\nb.yaml"], {2})


def test_unicode_line_separator_in_key(tmp_path):
    data = edited(BASE, "bogus\u2028key", 1)
    case(tmp_path, ["validate", write_config(tmp_path, data)], {2}, key="bogus")


def test_newline_in_unknown_key(tmp_path):
    data = edited(BASE, "streams.feed.bogus\nkey", 1)
    case(tmp_path, ["run", write_config(tmp_path, data)], {2}, key="streams.feed.bogus")


# --------------------------------------------------------------------------------------------------
# hostile values in every kind of config slot (through validate, which makes every check run makes)

TYPE_HOSTILE = [None, ["2 L/min"], {}, True, 7]


def _unit_hostile(unit, zero_ok):
    """(value, expected exit codes) for a quantity slot whose unit is ``unit`` (zero may leave a
    cascade that cannot run: refused then)."""
    zero = {0, 2} if zero_ok else {2}
    return [
        ("9**9**9 " + unit, {2}), ("9**9**9", {2}), ("1e400 " + unit, {2}),
        ("1e-400 " + unit, zero), ("-2 " + unit, {2}), ("0 " + unit, zero), ("2 furlongs", {2}),
        (unit, {2}), ("x" * 100_000, {2}), ("2 " + unit + " Nd2O3", {2}), ("nan " + unit, {2}),
        ("2 " + unit + "**99", {2}), ("2 (" + unit, {2}),
        ("\u0662 " + unit, {2}), ("2 " + unit + "\n3", {2}), ("1e300 k" + unit, {0, 1, 2}), ("2", {2}),
    ]


#: The hostile unit strings tried on the other quantity slots (the whole list on the first).
SHORT_UNIT_HOSTILE = {"streams.scrub.acid": ("9**9**9 ", "-2 ", "0 ", "furlongs"),
                      "streams.feed.concentration.Nd": ("1e400 ", "Nd2O3", "x" * 100, "0 ")}


QUANTITY_SLOTS = {                       # path: (unit, zero allowed); the first gets every hostile value
    "streams.feed.flow": ("L/min", False),
    "streams.scrub.acid": ("mol/L", True),
    "streams.feed.concentration.Nd": ("mol/L", True),
}
OTHER_QUANTITY_SLOTS = ("equilibrium.capacity", "streams.organic.flow", "cost.acid_price")
INTEGER_HOSTILE = {
    "sections.scrub.stages": [True, 0, -1, 10**6, 10**20, 2.5, "20", None, {}, 5000],
    "sections.extraction.stages": [0, 2.5, None, 5000],
    "streams.feed.stage": [True, 0, 45, 2.5, "20"],
}
NUMBER_HOSTILE = {
    "equilibrium.separation_factors.Nd": [0, -1, 1e300, float("nan"), float("inf"), None, [], True,
                                          "1.5 mol/L", "1e400"],
    "sections.extraction.efficiency": [0, 1.5, float("nan"), "x"],
    "cost.scale_exponent": [2, None],
}
MAPPING_SLOTS = {                        # path: None allowed (an empty mapping)
    "equilibrium": False, "sections.extraction": False, "streams": False, "streams.feed": False,
    "streams.feed.concentration": False, "products": True, "products.raffinate": True, "cost": True,
}
TEXT_HOSTILE = {
    "name": [None, 7, []],
    "equilibrium.model": ["nope", None, "SEPARATION_FACTOR", "constant_d"],
    "streams.feed.phase": ["solid", 7, "organic"],
    "components": ["Pr, Nd", [], ["Pr", "Xx"], ["Pr", "Pr"], ["Pr", "Nd", "Na"], ["Pr", "Nd", "Cu"],
                   ["Pr", "Nd", "La"], ["x" * 100_000]],
    "products.raffinate.key": [["Xx"], [7], {"a": 1}, "Xx", [["Pr"]]],
}
#: Paths at which an unknown key "bogus" is added (the error must name path.bogus).
UNKNOWN_KEY_PATHS = ("", "equilibrium", "sections", "sections.extraction", "sections.scrub", "streams",
                     "streams.organic", "streams.feed", "streams.scrub", "streams.feed.concentration",
                     "equilibrium.separation_factors", "products", "products.raffinate", "cost")


def _value_cases():
    """(path, value, expected exit codes, key the error must name or None)."""
    for k, (path, (unit, zero_ok)) in enumerate(QUANTITY_SLOTS.items()):
        for value, expect in _unit_hostile(unit, zero_ok):
            if k == 0 or (isinstance(value, str) and any(w in value[:120] for w in SHORT_UNIT_HOSTILE[path])):
                # the scrub-acid check names the streams (acid against organic capacity)
                yield path, value, expect, None if 0 in expect or "acid" in path else path
    for path in list(QUANTITY_SLOTS)[:1]:
        for value in TYPE_HOSTILE:
            yield path, value, {2}, path
    for path in OTHER_QUANTITY_SLOTS:
        for value in (None, []):
            yield path, value, {2}, path
    for path, values in INTEGER_HOSTILE.items():
        for value in values:
            # scrub 0 drops the section (its stream is then refused); 5000 is refused on the total
            named = not (value in (0, 5000) and path != "streams.feed.stage")
            yield path, value, {2}, path if named else None
    for path, values in NUMBER_HOSTILE.items():
        for value in values:
            yield path, value, {2}, path
    for path, none_ok in MAPPING_SLOTS.items():
        for value in ([], None) + (("abc",) if path in ("equilibrium", "streams", "products") else ()):
            yield path, value, {0} if value is None and none_ok else {2}, None
    for path, values in TEXT_HOSTILE.items():
        for value in values:
            yield path, value, {2}, None


@pytest.mark.parametrize("path,value,expect,key", [pytest.param(*c, id=f"{c[0]}={_id(c[1])}")
                                                    for c in _value_cases()])
def test_hostile_value(tmp_path, path, value, expect, key):
    data = edited(BASE, path, value)
    case(tmp_path, ["validate", write_config(tmp_path, data)], expect, key=key)


@pytest.mark.parametrize("path", UNKNOWN_KEY_PATHS, ids=lambda p: p or "top")
def test_unknown_key(tmp_path, path):
    data = copy.deepcopy(BASE)
    node = data
    for k in path.split(".") if path else []:
        node = node[k]
    node["bogus"] = 1
    full = f"{path}.bogus" if path else "bogus"
    config = write_config(tmp_path, data)
    case(tmp_path, ["validate", config] if path else ["run", config, "--out", "res"], {2}, key=full)


MISSING_KEYS = ("components", "equilibrium", "equilibrium.model", "equilibrium.capacity", "sections",
                "sections.extraction", "sections.extraction.stages", "streams", "streams.organic",
                "streams.organic.flow", "streams.feed.flow", "streams.feed.concentration", "streams.scrub")


@pytest.mark.parametrize("path", MISSING_KEYS)
def test_missing_key(tmp_path, path):
    case(tmp_path, ["validate", write_config(tmp_path, edited(BASE, path, _DELETE))], {2})


#: Other models' slots: (base, dotted path, value, expected exit codes).
MODEL_CASES = [
    ("loop", "equilibrium.log10_k", {"Nd": 1e6}, {2}),
    ("loop", "equilibrium.log10_k", {"Xx": 1}, {2}),
    ("loop", "equilibrium.separation_factors", {"Nd": 0}, {2}),
    ("loop", "equilibrium.separation_factors", {"Nd": -1}, {2}),
    ("loop", "equilibrium.separation_factors", {"Nd": 1e300}, {2}),
    ("loop", "equilibrium.extractant.saponification", 1.5, {2}),
    ("loop", "equilibrium.extractant.saponification", -0.1, {2}),
    ("loop", "equilibrium.extractant.base", "KOH", {2}),
    ("loop", "equilibrium.extractant.concentration", "0 mol/L", {2}),
    ("loop", "equilibrium.extractant", None, {2}),
    ("loop", "equilibrium.system", "nope", {2}),
    ("loop", "equilibrium.reference.element", "Xx", {2}),
    ("loop", "equilibrium.reference.log10_k", 1e6, {2}),
    ("loop", "equilibrium.ph_validity", [3, 1], {2}),
    ("loop", "equilibrium.ph_validity", "x", {2}),
    ("loop", "streams.organic.recycle", "yes", {2}),
    ("loop", "streams.organic.bleed", 1.0, {2}),
    ("loop", "streams.organic.bleed", -0.1, {2}),
    ("kremser", "equilibrium.distribution.Cu", -1, {2}),
    ("kremser", "equilibrium.distribution.Cu", 1e300, {2}),
    ("kremser", "equilibrium.distribution_by_section", {"nosuch": {"Cu": 1}}, {2}),
    ("kremser", "equilibrium.distribution_by_section", {"extraction": {"Cu": "x"}}, {2}),
    ("base", "sections.strip", {"stages": 4}, {2}),                 # separation_factor has no strip
]


@pytest.mark.parametrize("base,path,value,expect", MODEL_CASES,
                         ids=[f"{b}-{p}={_id(v, 16)}" for b, p, v, _ in MODEL_CASES])
def test_model_value(tmp_path, base, path, value, expect):
    data = edited({"loop": LOOP, "kremser": KREMSER, "base": BASE}[base], path, value)
    case(tmp_path, ["validate", write_config(tmp_path, data)], expect)


def test_sodium_in_separation_factor_config(tmp_path):
    data = edited(BASE, "components", ["Pr", "Nd", "Na"])
    data["equilibrium"]["separation_factors"]["Na"] = 1.0
    case(tmp_path, ["run", write_config(tmp_path, data)], {2}, key="components")


# --------------------------------------------------------------------------------------------------
# physically impossible cascades, through run (refused as bad input, or a reported solver failure)

def _loop_saponified():
    data = edited(LOOP, "equilibrium.extractant.saponification", 1.0)
    return edited(data, "streams.organic.flow", "1000 L/min")


def _organic_feed_above_capacity():
    data = edited(BASE, "streams.feed.phase", "organic")
    return edited(data, "streams.feed.concentration", {"Pr": "0.5 mol/L", "Nd": "1.5 mol/L"})


def _loop_without_strip_acid():
    data = edited(LOOP, "streams.strip.acid", "0 mol/L")
    return edited(data, "streams.organic.bleed", _DELETE)


#: name: (config, expected exit codes). What can be told before solving is refused as bad input
#: (load_config's promise); the rest is solved, or reported as a solver failure.
PHYSICAL = {
    "scrub_acid_400": (lambda: edited(BASE, "streams.scrub.acid", "400 mol/L"), {2}),
    "organic_cannot_be_loaded": (lambda: edited(BASE, "streams.organic.flow", "1e6 L/min"), {2}),
    "organic_trickle": (lambda: edited(BASE, "streams.organic.flow", "1e-9 L/min"), {2}),
    "saponification_1_large_organic": (_loop_saponified, {2}),
    "feed_zero_concentration": (lambda: edited(BASE, "streams.feed.concentration",
                                               {"Pr": "0 mol/L", "Nd": "0 mol/L"}), {2}),
    "organic_feed_above_capacity": (_organic_feed_above_capacity, {2}),
    "closed_loop_without_strip_acid": (_loop_without_strip_acid, {2}),
    "feed_flow_tiny": (lambda: edited(BASE, "streams.feed.flow", "1e-12 L/min"), {2}),
    "scrub_flow_huge": (lambda: edited(BASE, "streams.scrub.flow", "1e9 L/min"), {2}),
    "capacity_tiny": (lambda: edited(BASE, "equilibrium.capacity", "1e-12 mol/L"), {2}),
    "equal_separation_factors": (lambda: edited(BASE, "equilibrium.separation_factors",
                                                {"Pr": 1.0, "Nd": 1.0}), {0}),     # no separation, valid
    "feed_at_last_stage": (lambda: edited(BASE, "streams.feed.stage", 44), {0}),
    "side_draws_over_1": (lambda: edited(BASE, "products", {
        "raffinate": {"key": ["Pr"]}, "loaded_organic": {"key": ["Nd"]},
        "a": {"phase": "aqueous", "stage": 30, "fraction": 0.6, "key": ["Nd"]},
        "b": {"phase": "aqueous", "stage": 30, "fraction": 0.6, "key": ["Nd"]}}), {2}),
    "concentration_1e300": (lambda: edited(BASE, "streams.feed.concentration.Nd", "1e300 mol/L"), {1, 2}),
}


@pytest.mark.parametrize("name", PHYSICAL)
def test_physically_impossible(tmp_path, name):
    make, expect = PHYSICAL[name]
    config = write_config(tmp_path, make())
    case(tmp_path, ["run", config, "--format", "json", "--out", "res"], expect)


# --------------------------------------------------------------------------------------------------
# bad destinations, for every command that writes files

def _taken(t):
    (t / "taken").write_text("keep me\n")


OUT_DESTINATIONS = {                    # id: (setup, --out value, outside paths)
    "existing_file": (_taken, "taken", ()),
    "proc": (None, "/proc/sx-adversarial/out", ("/proc/sx-adversarial",)),
    "under_a_file": (_taken, "taken/sub", ()),
    "input_config": (None, GOOD, ()),
    "existing_results": (None, "res", ()),      # setup per command: res/<first file> exists
    "read_only": (None, "ro/sub", ()),
}


@pytest.mark.parametrize("command", OUT_COMMANDS)
@pytest.mark.parametrize("dest", OUT_DESTINATIONS)
def test_bad_out(tmp_path, command, dest):
    setup, value, outside = OUT_DESTINATIONS[dest]
    args, first = OUT_COMMANDS[command]
    if dest == "read_only":
        if IS_ROOT:
            pytest.skip("root ignores directory permissions")
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o500)
    if dest == "existing_results":
        (tmp_path / "res").mkdir()
        (tmp_path / "res" / first).write_text("old\n")
    if setup:
        setup(tmp_path)
    (tmp_path / "other.yaml").write_text(BASE_TEXT)
    try:
        case(tmp_path, [*args, "--out", value], {2}, key="--out", outside=outside)
    finally:
        if dest == "read_only":
            (tmp_path / "ro").chmod(0o700)


PLOT_DESTINATIONS = {                   # id: (setup, --plot value)
    "bad_extension": (None, "p.txt"),
    "missing_directory": (None, "nodir/p.png"),
    "onto_directory": (lambda t: (t / "d.png").mkdir(), "d.png"),
    "existing_file": (lambda t: (t / "p.png").write_bytes(b"old"), "p.png"),
    "proc": (None, "/proc/sx-adversarial.png"),
    "under_a_file": (_taken, "taken/p.png"),
    "empty": (None, ""),
}


#: The --plot destinations tried on every command with --plot (the rest on run).
PLOT_EVERYWHERE = ("bad_extension", "onto_directory", "proc", "empty")


@pytest.mark.parametrize("command,dest", [(c, d) for d in PLOT_DESTINATIONS for c in PLOT_COMMANDS
                                          if d in PLOT_EVERYWHERE or c == "run"])
def test_bad_plot(tmp_path, command, dest):
    setup, value = PLOT_DESTINATIONS[dest]
    if setup:
        setup(tmp_path)
    (tmp_path / "other.yaml").write_text(BASE_TEXT)
    args, _ = OUT_COMMANDS[command]
    case(tmp_path, [*args, "--plot", value, "--out", "res"], {2}, key="--plot",
         outside=("/proc/sx-adversarial.png",))


@pytest.mark.parametrize("option,value", [("--out", "/proc/sx-adversarial/out"), ("--out", "taken/sub"),
                                          ("--plot", "/proc/sx-adversarial.png"), ("--plot", "taken/p.png"),
                                          ("--write", "/proc/sx-adversarial.yaml"),
                                          ("--write", "taken/w.yaml")])
def test_destination_checked_before_work(tmp_path, option, value):
    """Unreachable targets: the work would fail (exit 1), but the destination is refused first (exit 2)."""
    _taken(tmp_path)
    case(tmp_path, ["optimize", GOOD, *HARD_TARGETS, option, value], {2}, key=option,
         outside=("/proc/sx-adversarial", "/proc/sx-adversarial.png", "/proc/sx-adversarial.yaml"))


@pytest.mark.parametrize("command", ["design", "optimize"])
@pytest.mark.parametrize("dest", ["input", "input_symlink", "input_other_spelling", "existing", "bad_extension",
                                  "missing_directory", "onto_directory", "same_as_out", "empty"])
def test_bad_write(tmp_path, command, dest):
    args = [command, GOOD, *TARGETS]
    force = ["--force"]
    if dest == "input":
        value = GOOD
    elif dest == "input_symlink":
        (tmp_path / "link.yaml").symlink_to(GOOD)
        value = "link.yaml"
    elif dest == "input_other_spelling":
        (tmp_path / "sub").mkdir()
        value = "./sub/../" + GOOD
    elif dest == "existing":
        (tmp_path / "taken.yaml").write_text("keep: me\n")
        value, force = "taken.yaml", []
    elif dest == "bad_extension":
        value = "d.txt"
    elif dest == "missing_directory":
        value = "nodir/d.yaml"
    elif dest == "onto_directory":
        (tmp_path / "d.yaml").mkdir()
        value = "d.yaml"
    elif dest == "same_as_out":
        (tmp_path / "o").mkdir()
        value, force = f"o/{command}.json", ["--out", "o"]
        if command == "design":
            value = "o/design.yaml"
    else:
        value = ""
    case(tmp_path, [*args, "--write", value, *force], {2}, key="--write")


def test_input_config_named_like_an_out_file(tmp_path):
    """A config called result.json in the --out directory: never overwritten, even with --force."""
    (tmp_path / "result.json").write_text(BASE_TEXT)
    case(tmp_path, ["run", "result.json", "--out", ".", "--force"], {2}, key="--out")


def test_input_config_named_like_the_plot(tmp_path):
    (tmp_path / "p.png").write_text(BASE_TEXT)
    case(tmp_path, ["run", "p.png", "--plot", "p.png", "--force"], {2}, key="--plot")


def test_second_compare_config_as_plot(tmp_path):
    (tmp_path / "b.svg").write_text(BASE_TEXT)
    case(tmp_path, ["compare", GOOD, "b.svg", "--vary", "sections.scrub.stages=20:22:2", "--plot", "b.svg",
                    "--force"], {2}, key="--plot")


def test_plot_and_out_file_collide(tmp_path):
    (tmp_path / "res").mkdir()
    case(tmp_path, ["sweep", GOOD, "--vary", "sections.scrub.stages=20:22:2", "--out", "res", "--plot",
                    "res/sweep.json"], {2}, key="--plot")


def test_empty_out(tmp_path):
    case(tmp_path, ["run", GOOD, "--out", ""], {2}, key="--out")


# --------------------------------------------------------------------------------------------------
# sweep, curve, targets, --max-stages

SWEEP_CASES = [
    (["--vary", "sections.scrub.stages=1:1000000000000"], {2}),
    (["--vary", "sections.scrub.stages=20:22", "--vary", "sections.scrub.stages=30:32"], {2}),
    (["--vary", "nosuch=1:3"], {2}),
    (["--vary", "sections.strip.stages=1:2"], {2}),
    (["--vary", "streams.organic.flow=40:50:5 furlongs"], {2}),
    (["--vary", "streams.organic.flow=40:50:5"], {2}),
    (["--vary", "streams.organic.flow=0:10:5 L/min"], {2}),
    (["--vary", "sections.scrub.stages"], {2}),
    (["--vary", "sections.scrub.stages=1e400:1e400"], {2}),
    (["--vary", "sections.scrub.stages="], {2}),
    (["--vary", "sections.scrub.stages=a,b"], {2}),
    (["--vary", "sections.scrub.stages=-5:5"], {2}),
    (["--vary", "sections.scrub.stages=30:20"], {2}),
    (["--vary", "sections.scrub.stages=6000"], {2}),
    (["--vary", "name=1,2"], {2}),
    (["--vary", "equilibrium.separation_factors.Nd=1:1e300:1e299"], {2}),
    (["--vary", "streams.scrub.acid=400 mol/L,4 mol/L"], {2}),
    (["--vary", "streams.organic.flow=1:100000 L/min", "--vary", "streams.scrub.flow=1:100000 L/min"], {2}),
    (["--vary", "sections.scrub.stages=1:1000", "--vary", "sections.extraction.stages=1:1000",
      "--vary", "streams.organic.flow=40:41 L/min"], {2}),
    (["--vary", "streams.scrub.acid=40:400:60 mol/L"], {2}),    # every value refused as load_config would
]


@pytest.mark.parametrize("extra,expect", SWEEP_CASES, ids=[" ".join(a[1::2])[:60] for a, _ in SWEEP_CASES])
def test_sweep_hostile(tmp_path, extra, expect):
    case(tmp_path, ["sweep", GOOD, *extra, "--format", "json", "--out", "res"], expect)


CURVE_STAGES = ["abc", "30:30000", "1:3", "", "30:90:0", "-5:5", "1e400:1e400", "2.5", "5001", "1",
                "30:40:2.5", "30,abc", "0", str(10**30)]


@pytest.mark.parametrize("spec", CURVE_STAGES)
def test_curve_stages(tmp_path, spec):
    case(tmp_path, ["curve", GOOD, "--stages", spec, *TARGETS, "--out", "res"], {2}, key="--stages")


def test_curve_at_stage_limit_finishes(tmp_path):
    """The largest total stage count allowed (5000, 625 + 4375 at the best split) solves in seconds
    (stage-count continuation carried into the pinch) and meets both targets."""
    proc = case(tmp_path, ["curve", GOOD, "--stages", "5000", *TARGETS], {0})
    row = proc.out.strip().splitlines()[-1].split()
    assert row[:3] == ["5000", "625", "4375"] and row[-1] == "True"


BAD_TARGETS = [">1", "0", "a=b", "unknown=0.99", "loaded_organic=1", "loaded_organic=nan",
               "loaded_organic=0.9,0.9,0.9", "stripped_organic=0.99"]
QUICK_TARGETS = [">1", "unknown=0.99"]


def _target_cases():
    for text in BAD_TARGETS:
        yield pytest.param("design", [text], id=f"design-{text}")
    for command in ("curve", "optimize", "pareto"):
        for text in QUICK_TARGETS:
            yield pytest.param(command, [text], id=f"{command}-{text}")
    for command in ("design", "optimize"):
        yield pytest.param(command, ["loaded_organic=0.99", "loaded_organic=0.999"], id=f"{command}-twice")


@pytest.mark.parametrize("command,texts", list(_target_cases()))
def test_bad_target(tmp_path, command, texts):
    extra = ["--stages", "40:44:2"] if command == "curve" else []
    targets = [x for t in texts for x in ("--target", t)]
    case(tmp_path, [command, GOOD, *extra, *targets, "--out", "res"], {2}, key="--target")


def _max_stages_cases():
    for command in ("optimize", "pareto"):
        for value in ("1", str(10**9), "0", "-5", "abc", "2.5", str(10**30), ""):
            yield command, value
    for value in ("1", str(10**9)):
        yield "design", value        # no such option for design: a usage error


@pytest.mark.parametrize("command,value", list(_max_stages_cases()))
def test_bad_max_stages(tmp_path, command, value):
    case(tmp_path, [command, GOOD, *TARGETS, "--max-stages", value, "--out", "res"], {2}, key="--max-stages")


@pytest.mark.parametrize("command", ["optimize", "pareto"])
def test_max_stages_too_few_is_infeasible(tmp_path, command):
    case(tmp_path, [command, GOOD, *TARGETS, "--max-stages", "2", "--out", "res", "--format", "json"], {1})


def test_unreachable_targets_exit_1_and_write_nothing(tmp_path):
    case(tmp_path, ["optimize", GOOD, *HARD_TARGETS, "--out", "res", "--write", "w.yaml", "--plot", "p.png"], {1})


@pytest.mark.parametrize("config,command", [("kremser_example.yaml", "design"),
                                            ("lacepn_p507_loop.yaml", "design"),
                                            ("kremser_example.yaml", "optimize"),
                                            ("lacepn_p507_loop.yaml", "curve")])
def test_design_needs_two_product_separation_factor(tmp_path, config, command):
    (tmp_path / config).write_text((CONFIGS / config).read_text())
    extra = ["--stages", "40:44:2"] if command == "curve" else []
    case(tmp_path, [command, config, *extra, *TARGETS], {2})


# --------------------------------------------------------------------------------------------------
# compare, systems, usage errors

def test_compare_plot_without_vary(tmp_path):
    case(tmp_path, ["compare", GOOD, GOOD, "--plot", "c.png", "--out", "res"], {2}, key="--plot")


@pytest.mark.parametrize("second", ["missing.yaml", "broken.yaml", "kremser_example.yaml"])
def test_compare_with_a_bad_second_config(tmp_path, second):
    (tmp_path / "broken.yaml").write_bytes(HOSTILE_FILES["broken_yaml"])
    (tmp_path / "kremser_example.yaml").write_text((CONFIGS / "kremser_example.yaml").read_text())
    # kremser has no scrub section: varying its scrub stages is a bad key for that config
    case(tmp_path, ["compare", GOOD, second, "--vary", "sections.scrub.stages=20:22:2", "--out", "res",
                    "--format", "json"], {2})


@pytest.mark.parametrize("name", ["nope", "", "x" * 100_000, "p507_chloride\nx", "../../etc/passwd"])
def test_systems_unknown(tmp_path, name):
    case(tmp_path, ["systems", name], {2})


USAGE = [[], ["nope"], ["run"], ["run", GOOD, "--format", "xml"], ["run", GOOD, "--units", "imperial"],
         ["run", GOOD, "extra\nargument"], ["systems", "--format", "csv"], ["sweep", GOOD], ["design", GOOD],
         ["compare"], ["validate", GOOD, "--out", "res"], ["design", GOOD, *TARGETS, "--plot", "p.png"],
         ["run", GOOD, "--out"], ["run", GOOD, "--force", "--force", "--units"]]


@pytest.mark.parametrize("args", USAGE, ids=lambda a: " ".join(a)[:40] or "nothing")
def test_usage_error(tmp_path, args):
    case(tmp_path, args, {2})


# --------------------------------------------------------------------------------------------------
# environment overrides

ENV_CASES = [
    ({"SX_MODEL_MAX_STAGES": "abc"}, "SX_MODEL_MAX_STAGES"),
    ({"SX_MODEL_MAX_STAGES": "0"}, "SX_MODEL_MAX_STAGES"),
    ({"SX_MODEL_MAX_STAGES": "-3"}, "SX_MODEL_MAX_STAGES"),
    ({"SX_MODEL_MAX_STAGES": ""}, "SX_MODEL_MAX_STAGES"),
    ({"SX_MODEL_MAX_STAGES": "10"}, "SX_MODEL_MAX_STAGES"),
    ({"SX_MODEL_MAX_CONFIG_BYTES": "10"}, None),
    ({"SX_MODEL_MAX_CONFIG_BYTES": "1e6"}, "SX_MODEL_MAX_CONFIG_BYTES"),
    ({"SX_MODEL_MAX_YAML_DEPTH": "2"}, None),
    ({"SX_MODEL_MAX_YAML_NODES": "5"}, None),
]


@pytest.mark.parametrize("env,key", ENV_CASES, ids=lambda x: _id(x, 40) if isinstance(x, dict) else str(x))
def test_env_override(tmp_path, env, key):
    case(tmp_path, ["run", GOOD, "--out", "res"], {2}, key=key, env=env)


@pytest.mark.parametrize("command", ["curve", "optimize", "sweep"])
def test_env_override_bad_max_stages_per_command(tmp_path, command):
    args = {"curve": ["curve", GOOD, "--stages", "40:44:2", *TARGETS], "optimize": ["optimize", GOOD, *TARGETS],
            "sweep": ["sweep", GOOD, "--vary", "sections.scrub.stages=20:22:2"]}[command]
    case(tmp_path, args, {2}, key="SX_MODEL_MAX_STAGES", env={"SX_MODEL_MAX_STAGES": "many"})


def test_deep_nesting_with_raised_depth_limit(tmp_path):
    (tmp_path / "c.yaml").write_bytes(HOSTILE_FILES["deep_list_100000"])
    case(tmp_path, ["validate", "c.yaml"], {2}, env={"SX_MODEL_MAX_YAML_DEPTH": str(10**9)})


# --------------------------------------------------------------------------------------------------
# closed pipes and stdout

PIPED = {
    "run": f"run {GOOD}", "validate": f"validate {GOOD}",
    "design": f"design {GOOD} " + " ".join(TARGETS), "sweep": f"sweep {GOOD} --vary sections.scrub.stages=20:24:2",
    "curve": f"curve {GOOD} --stages 40:44:2 " + " ".join(TARGETS),
    "compare": f"compare {GOOD} {GOOD} --format json",
    "optimize": f"optimize {GOOD} " + " ".join(TARGETS), "pareto": f"pareto {GOOD} " + " ".join(TARGETS),
    "systems": "systems p507_chloride --format json",
}


def _shell(tmp_path, line):
    (tmp_path / GOOD).write_text(BASE_TEXT)
    before = snapshot(tmp_path)
    start = time.monotonic()
    try:
        proc = subprocess.run(["bash", "-c", line + "; echo ${PIPESTATUS[0]} > .status"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=TIMEOUT, env=_env())
    except subprocess.TimeoutExpired:
        pytest.fail(f"hang: {line}")
    assert time.monotonic() - start < TIMEOUT
    status = int((tmp_path / ".status").read_text())
    (tmp_path / ".status").unlink()
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr, proc.stderr
    assert snapshot(tmp_path) == before
    return status, proc


def test_run_through_head(tmp_path):
    status, proc = _shell(tmp_path, f"{sys.executable} -m sx_model run {GOOD} | head -1")
    assert status == 0
    assert proc.stdout.count("\n") == 1


@pytest.mark.parametrize("name", PIPED)
def test_closed_pipe(tmp_path, name):
    """The reader is gone before the command writes (``| true``): quiet, exit 0."""
    status, proc = _shell(tmp_path, f"{sys.executable} -m sx_model {PIPED[name]} | true")
    assert status == 0, proc.stderr
    assert not proc.stderr.strip() or "warning" in proc.stderr


@pytest.mark.parametrize("name", ["run", "validate", "systems"])
def test_stdout_full(tmp_path, name):
    """A full disk on stdout is a bad destination, not an internal error: one line, exit 2."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    status, proc = _shell(tmp_path, f"{sys.executable} -m sx_model {PIPED[name]} > /dev/full")
    assert status == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sx-model: error:"), proc.stderr


# --------------------------------------------------------------------------------------------------
# overwriting with --force, umask

@pytest.mark.parametrize("command", ["design", "optimize"])
def test_write_force_replaces(tmp_path, command):
    (tmp_path / "taken.yaml").write_text("keep: me\n")
    case(tmp_path, [command, GOOD, *TARGETS, "--write", "taken.yaml", "--force"], {0})
    written = yaml.safe_load((tmp_path / "taken.yaml").read_text())
    assert "keep" not in written and "components" in written
    case(tmp_path, ["validate", "taken.yaml"], {0})


def test_write_without_force_leaves_file(tmp_path):
    (tmp_path / "taken.yaml").write_text("keep: me\n")
    case(tmp_path, ["design", GOOD, *TARGETS, "--write", "taken.yaml"], {2}, key="--write")
    assert (tmp_path / "taken.yaml").read_text() == "keep: me\n"


def test_out_force_replaces_existing_results(tmp_path):
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "result.json").write_text("old\n")
    case(tmp_path, ["run", GOOD, "--out", "res", "--force"], {0})
    json.loads((tmp_path / "res" / "result.json").read_text(), parse_constant=_no_constant)


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600)])
def test_umask_honoured(tmp_path, umask, mode):
    case(tmp_path, ["run", GOOD, "--out", "res", "--plot", "p.png"], {0}, umask=umask)
    written = sorted((tmp_path / "res").iterdir()) + [tmp_path / "p.png"]
    assert {p.name for p in written} == {"result.json", "profile.csv", "products.csv", "p.png"}
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == mode, path
    assert stat.S_IMODE((tmp_path / "res").stat().st_mode) == 0o777 & ~umask


# --------------------------------------------------------------------------------------------------
# positive controls: valid commands succeed and write what they should

@pytest.mark.parametrize("config", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_validate_bundled(tmp_path, config):
    proc = case(tmp_path, ["validate", str(CONFIGS / config)], {0})
    assert "valid" in proc.out


def test_run_json_and_out(tmp_path):
    proc = case(tmp_path, ["run", GOOD, "--format", "json", "--out", "res"], {0})
    data = json.loads(proc.out, parse_constant=_no_constant)
    assert data["converged"] is True
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == ["products.csv", "profile.csv", "result.json"]


def test_run_units_plant_csv(tmp_path):
    proc = case(tmp_path, ["run", str(CONFIGS / "lacepn_p507_loop.yaml"), "--units", "plant", "--format", "csv"],
                {0})
    assert proc.out.startswith("product,")


def test_design_write_reproduces(tmp_path):
    case(tmp_path, ["design", GOOD, *TARGETS, "--write", "d.yaml", "--out", "res", "--format", "json"], {0})
    assert {p.name for p in (tmp_path / "res").iterdir()} == {"design.json", "design.csv", "design.yaml"}
    proc = case(tmp_path, ["run", "d.yaml", "--format", "json"], {0})
    products = json.loads(proc.out, parse_constant=_no_constant)["products"]
    assert products["loaded_organic"]["purity"] >= 0.999 and products["raffinate"]["purity"] >= 0.999


def test_sweep_curve_compare_ok(tmp_path):
    (tmp_path / "other.yaml").write_text(BASE_TEXT)
    for args, first in OUT_COMMANDS.values():
        if args[0] in ("sweep", "curve", "compare"):
            case(tmp_path, [*args, "--format", "json", "--out", f"res_{args[0]}", "--plot", f"{args[0]}.svg"], {0})
            assert (tmp_path / f"res_{args[0]}" / first).is_file()
            assert (tmp_path / f"{args[0]}.svg").stat().st_size > 0


def test_optimize_and_pareto_ok(tmp_path):
    case(tmp_path, ["optimize", GOOD, *TARGETS, "--write", "cheap.yaml", "--format", "json"], {0})
    case(tmp_path, ["validate", "cheap.yaml"], {0})
    case(tmp_path, ["pareto", GOOD, *TARGETS, "--plot", "front.png", "--format", "csv"], {0})
    assert (tmp_path / "front.png").read_bytes()[:4] == b"\x89PNG"


def test_systems_ok(tmp_path):
    proc = case(tmp_path, ["systems", "--format", "json"], {0})
    assert "p507_chloride" in json.loads(proc.out, parse_constant=_no_constant)
    proc = case(tmp_path, ["systems", "P507_CHLORIDE"], {0})
    assert "log10 K" in proc.out


@pytest.mark.parametrize("command", ["sweep", "compare"])
def test_every_sweep_point_failing_is_exit_1(tmp_path, command):
    """Concentrations the solver cannot balance: every point fails, exit 1, the table (strict JSON here)
    on stdout and no file written."""
    configs = [GOOD] if command == "sweep" else [GOOD, GOOD]
    proc = case(tmp_path, [command, *configs, "--vary", "streams.feed.concentration.Nd=1e300 mol/L,2e300 mol/L",
                           "--format", "json", "--out", "res", "--plot", "p.png"], {1})
    assert "every point failed" in proc.err
    json.loads(proc.out, parse_constant=_no_constant)


def test_design_targets_not_met_is_exit_1(tmp_path):
    proc = case(tmp_path, ["design", GOOD, "--target", "loaded_organic=0.99999999999999", "--target",
                           "raffinate=0.99999999999999", "--write", "d.yaml", "--out", "res"], {1})
    assert "targets not met" in proc.err and proc.out.strip()


def test_optimize_hopeless_separation_finishes(tmp_path):
    # beta Nd/Pr 1.001: the theory needs about 10 000 stages per section; refused as infeasible at once
    data = edited(BASE, "equilibrium.separation_factors", {"Pr": 1.0, "Nd": 1.001})
    case(tmp_path, ["optimize", write_config(tmp_path, data), *TARGETS], {1})
