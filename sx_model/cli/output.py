"""Output of the command line: stdout in the chosen format, files written whole, early path checks."""
from __future__ import annotations

import os
import tempfile

from ..errors import ConfigError

PLOT_EXTENSIONS = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def check_output_targets(args):
    """Fail early (exit 2) on output paths that cannot be written, before any work is done."""
    out = getattr(args, "out", None)
    if out and os.path.exists(out) and not os.path.isdir(out):
        raise ConfigError("--out", f"{out!r} exists and is not a directory")
    for option in ("plot", "write"):
        path = getattr(args, option, None)
        if not path:
            continue
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise ConfigError(f"--{option}", f"directory {directory!r} does not exist")
        if option == "plot" and os.path.splitext(path)[1].lower() not in PLOT_EXTENSIONS:
            raise ConfigError("--plot", f"{path!r}; expected a file name ending in .png, .pdf, .svg or .jpg")


def emit(args, files: dict, json_name: str, csv_name: str, table):
    """Print ``files[json_name]``, ``files[csv_name]`` or ``table()`` by ``--format``; with ``--out``
    write every file into that directory."""
    if args.format == "json":
        print(files[json_name], end="")
    elif args.format == "csv":
        print(files[csv_name], end="")
    else:
        print(table())
    if getattr(args, "out", None):
        write_files(args.out, files)


def write_file(path, text: str):
    """Write one file atomically (temp file in the same directory, then rename)."""
    write_files(os.path.dirname(os.path.abspath(path)), {os.path.basename(path): text})


def write_files(directory, files: dict):
    """Write each file atomically: a reader never sees a partly written file; an error leaves no
    temp file behind and is reported as a ConfigError naming the directory."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise ConfigError("--out", f"cannot create directory {directory!r}: {exc.strerror or exc}") from None
    for name, text in files.items():
        target = os.path.join(directory, name)
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, target)
        except OSError as exc:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
            raise ConfigError("--out", f"cannot write {target!r}: {exc.strerror or exc}") from None
        except BaseException:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
            raise


def warn(messages):
    import sys

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
        given[name] = (purity, recovery)
    pa, ra = given.get(problem.organic_name, (0.99, None))
    pb, rb = given.get(problem.raffinate_name, (0.99, None))
    return Targets(pa, pb, ra, rb)


def dumps(data) -> str:
    import json

    return json.dumps(data, indent=2, default=float) + "\n"
