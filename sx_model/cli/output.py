"""Output of the command line: every file a command writes goes through :class:`Outputs`.

The contract:

- every destination (``--out DIR``, ``--write FILE``, ``--plot FILE``) is checked before any work is
  done: its directory must exist (``--out`` may be created) and be writable, it must not be a directory,
  never the input config, and an existing file is replaced only with ``--force``;
- files are rendered first, written to temporary files next to their targets and renamed into place at
  the end, all or nothing: a command that fails leaves nothing behind;
- files get the permissions the umask allows (like any other program's output);
- stdout is printed after the files are in place.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

from ..errors import ConfigError

PLOT_EXTENSIONS = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Outputs:
    """The files one command will write, checked up front and written all or nothing."""

    def __init__(self, args, inputs=()):
        self.force = bool(getattr(args, "force", False))
        self.inputs = {os.path.realpath(p) for p in inputs}
        self.targets = {}            # absolute path -> option that asked for it
        self.out_dir = None

    def _check_file(self, option, path):
        target = os.path.abspath(path)
        if os.path.isdir(target):
            raise ConfigError(option, f"{path!r} is a directory; expected a file name")
        directory = os.path.dirname(target)
        if not os.path.isdir(directory):
            raise ConfigError(option, f"{path!r}: directory {directory!r} does not exist")
        problem = _unwritable(directory)
        if problem:
            raise ConfigError(option, f"{path!r}: directory {directory!r} {problem}")
        if os.path.realpath(target) in self.inputs:
            raise ConfigError(option, f"{path!r} is the input config; expected another file name")
        if os.path.lexists(target) and not self.force:
            raise ConfigError(option, f"{path!r} exists; give --force to replace it")
        if target in self.targets:
            raise ConfigError(option, f"{path!r} is also the {self.targets[target]} file")
        self.targets[target] = option
        return target

    def file(self, option, path, extensions=None):
        """Plan one file; returns its absolute path."""
        if not path:
            raise ConfigError(option, "'' is empty; expected a file name")
        if extensions and os.path.splitext(path)[1].lower() not in extensions:
            raise ConfigError(option, f"{path!r}; expected a file name ending in {', '.join(extensions)}")
        return self._check_file(option, path)

    def directory(self, option, path, names):
        """Plan ``names`` inside directory ``path`` (created at the end if missing)."""
        if not path:
            raise ConfigError(option, "'' is empty; expected a directory name")
        if os.path.lexists(path) and not os.path.isdir(path):
            raise ConfigError(option, f"{path!r} exists and is not a directory")
        existing = os.path.abspath(path)
        while not os.path.isdir(existing):
            parent = os.path.dirname(existing)
            if parent == existing:
                break
            if os.path.lexists(parent) and not os.path.isdir(parent):
                raise ConfigError(option, f"{path!r}: {parent!r} is not a directory")
            existing = parent
        problem = _unwritable(existing)
        if problem:
            raise ConfigError(option, f"{path!r}: {existing!r} {problem}")
        self.out_dir = os.path.abspath(path)
        return {name: self._check_file(option, os.path.join(self.out_dir, name))
                if os.path.isdir(self.out_dir) else self._plan_new(option, os.path.join(self.out_dir, name))
                for name in names}

    def _plan_new(self, option, target):
        self.targets[target] = option
        return target

    def commit(self, contents: dict):
        """Write ``{absolute path: text or callable(path)}``; all files appear or none does."""
        created_dir = None
        if self.out_dir and not os.path.isdir(self.out_dir):
            try:
                os.makedirs(self.out_dir)
            except OSError as exc:
                raise ConfigError("--out", f"cannot create directory {self.out_dir!r}: "
                                           f"{exc.strerror or exc}") from None
            created_dir = self.out_dir
        done = []
        try:
            for target, content in contents.items():
                done.append((_write_temp(target, content), target))
            for tmp, target in done:
                os.replace(tmp, target)
        except BaseException as exc:
            for tmp, _ in done:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            if created_dir and not os.listdir(created_dir):
                os.rmdir(created_dir)
            if isinstance(exc, OSError):
                raise ConfigError(self.targets.get(target, "--out"),
                                  f"cannot write {target!r}: {exc.strerror or exc}") from None
            raise


def _unwritable(directory):
    """Why no file can be created in ``directory``, or None. Tried, not only asked: permissions miss
    read-only and special file systems (``/proc``, where even root cannot create files)."""
    if not os.access(directory, os.W_OK):
        return "is not writable"
    try:
        fd, probe = tempfile.mkstemp(prefix=".sx-model-probe.", dir=directory)
    except OSError as exc:
        return f"is not writable ({exc.strerror or exc})"
    os.close(fd)
    os.unlink(probe)
    return None


def _write_temp(target, content):
    """A temporary file next to ``target`` holding ``content`` (text, or a callable that writes a
    file at the path it is given); returns its path."""
    directory, name = os.path.split(target)
    suffix = os.path.splitext(name)[1]
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=suffix, dir=directory)
    try:
        if callable(content):
            os.close(fd)
            content(tmp)
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
        os.chmod(tmp, 0o666 & ~_umask())
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return tmp


def plan(args, names: dict, inputs=()):
    """Check every destination of a command before it works: ``names`` maps the files of ``--out``
    (name -> content key); returns (Outputs, {content key: absolute path})."""
    outputs = Outputs(args, inputs)
    paths = {}
    if getattr(args, "out", None) is not None:
        for name, path in outputs.directory("--out", args.out, list(names)).items():
            paths[names[name]] = path
    if getattr(args, "write", None) is not None:
        paths["write"] = outputs.file("--write", args.write, (".yaml", ".yml"))
    if getattr(args, "plot", None) is not None:
        paths["plot"] = outputs.file("--plot", args.plot, PLOT_EXTENSIONS)
    return outputs, paths


def figure_writer(fig):
    """A callable writing ``fig`` to the path it is given (format from the extension)."""
    def write(path):
        fig.savefig(path, format=os.path.splitext(path)[1].lstrip(".").lower() or "png")
    return write


def emit(args, files: dict, json_name: str, csv_name: str, table):
    """Print ``files[json_name]``, ``files[csv_name]`` or ``table()`` by ``--format``."""
    if args.format == "json":
        print(files[json_name], end="")
    elif args.format == "csv":
        print(files[csv_name], end="")
    else:
        print(table())


def finish(args, outputs, paths, files: dict, json_name, csv_name, table, extra=None):
    """Write the planned files (``--out``: ``files``; ``extra``: {content key: text or callable}),
    then print. The common ending of every command that produces results."""
    contents = {paths[name]: text for name, text in files.items() if name in paths}
    for key, content in (extra or {}).items():
        if key in paths:
            contents[paths[key]] = content
    outputs.commit(contents)
    emit(args, files, json_name, csv_name, table)


def interrupted(args, outputs, paths, files: dict, done: int, total: int) -> int:
    """Ctrl-C during a study: write the finished points (``--out`` files only; no plot of a partial
    study), say how far it got, exit 130."""
    contents = {paths[name]: text for name, text in files.items() if name in paths}
    outputs.commit(contents)
    where = f"; the finished points are in {args.out}" if contents else ""
    print(f"sx-model: interrupted after {done} of {total} points{where}", file=sys.stderr)
    return 130


def robust(args) -> dict:
    """``--robust PATH=MARGIN`` texts (margin as a fraction or in %) -> {path: fraction}."""
    import re

    out = {}
    for text in getattr(args, "robust", None) or []:
        path, _, margin = text.partition("=")
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%?)\s*", margin)
        if not path.strip() or not match:
            raise ConfigError("--robust", f"{text!r}; expected PATH=MARGIN such as streams.organic.flow=0.1%")
        value = float(match.group(1)) / (100.0 if match.group(2) else 1.0)
        if path.strip() in out:
            raise ConfigError("--robust", f"{path.strip()!r} is given twice; expected each input once")
        out[path.strip()] = value
    return out


def limits(args) -> dict:
    """``--limit NAME=VALUE`` texts -> {name: value} for :func:`sx_model.studies.general.operating_limits`
    (loading=F, oa=LOW:HIGH, ph=LOW:HIGH; the names and ranges are checked there)."""
    out = {}
    for text in getattr(args, "limit", None) or []:
        name, _, value = text.partition("=")
        name, value = name.strip(), value.strip()
        try:
            if name == "loading":
                parsed = float(value.rstrip("%")) / (100.0 if value.endswith("%") else 1.0)
            else:
                low, sep, high = value.partition(":")
                if not sep:
                    raise ValueError
                parsed = (float(low), float(high))
        except ValueError:
            raise ConfigError("--limit", f"{text!r}; expected loading=0.9, oa=LOW:HIGH or ph=LOW:HIGH") from None
        if name in out:
            raise ConfigError("--limit", f"{name!r} is given twice; expected each limit once")
        out[name] = parsed
    from ..studies.general import operating_limits

    operating_limits(None, out)         # names and ranges checked before any solve
    return out


def decide(args) -> dict:
    """``--decide`` and ``--strip-target`` -> keyword arguments of the designs by simulation (checked
    against the cascade there); {} when neither is given."""
    out = {}
    if getattr(args, "decide", None):
        out["decide"] = list(args.decide)
    if getattr(args, "strip_target", None) is not None:
        out["strip_target"] = args.strip_target
    return out


def refuse_for_theory(args, command):
    """Refuse the options of designs by simulation for a separation_factor cascade (shortcut theory)."""
    for option, given in (("--limit", getattr(args, "limit", None)), ("--decide", getattr(args, "decide", None)),
                          ("--strip-target", getattr(args, "strip_target", None))):
        if given:
            raise ConfigError(option, f"applies to {command} by simulation (models other than separation_factor, "
                                      "whose theory sets the stages, the split and the flows)")


def warn(messages):
    for message in messages:
        print(f"warning: {message}", file=sys.stderr)


def load(path):
    """The cascade of a config file (ConfigError on bad input)."""
    from ..config import load_config

    return load_config(path)


def targets(args, cascade):
    """``--target`` options -> Targets for the two products of ``cascade``."""
    from ..studies.problem import Targets, TwoProductProblem, parse_target

    problem = TwoProductProblem(cascade)
    given = {}
    for text in args.target:
        name, purity, recovery = parse_target(text)
        if name not in (problem.organic_name, problem.raffinate_name):
            raise ConfigError("--target", f"{name!r} is not a product of this cascade; expected "
                                          f"{problem.organic_name} or {problem.raffinate_name}")
        if name in given:
            raise ConfigError("--target", f"{name!r} is given twice; expected one target per product")
        given[name] = (purity, recovery)
    pa, ra = given.get(problem.organic_name, (0.99, None))
    pb, rb = given.get(problem.raffinate_name, (0.99, None))
    return Targets(pa, pb, ra, rb)


def target_pairs(args, cascade) -> dict:
    """``--target`` options -> {product: (purity, recovery or None)} for any keyed products."""
    from ..studies.problem import parse_target

    out = {}
    for text in args.target or []:
        name, purity, recovery = parse_target(text)
        if name not in cascade.product_keys:
            raise ConfigError("--target", f"no keyed product {name!r}; expected one of "
                                          f"{', '.join(cascade.product_keys)}")
        if name in out:
            raise ConfigError("--target", f"{name!r} is given twice; expected one target per product")
        out[name] = (purity, recovery)
    return out


def dumps(data) -> str:
    """Strict JSON text (no NaN or Infinity)."""
    from ..results import finite

    return json.dumps(finite(data), indent=2, allow_nan=False, default=float) + "\n"
