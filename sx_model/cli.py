"""Command line: ``sx-model`` (also ``python -m sx_model``).

Thin by design: parse arguments, call the library, format the output. Exit codes: 0 success,
1 solver failure (with diagnostics on stderr), 2 bad input (one line on stderr naming the key).
"""
from __future__ import annotations

import argparse
import os
import sys

EXAMPLES = """examples:
  sx-model run configs/prnd_p507.yaml
  sx-model run configs/prnd_p507.yaml --format json --out results/ --plot profile.png
  sx-model validate configs/ree_group_split.yaml
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sx-model", description="Model multistage countercurrent solvent-extraction cascades.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    from . import __version__

    parser.add_argument("--version", action="version", version=f"sx-model {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def output_options(p, plot_help):
        p.add_argument("--format", choices=("table", "json", "csv"), default="table",
                       help="what to print on stdout (default: table)")
        p.add_argument("--out", metavar="DIR", help="also write result.json and CSV files into DIR")
        p.add_argument("--plot", metavar="FILE", help=plot_help)

    run = sub.add_parser("run", help="solve the steady state of a cascade config",
                         description="Solve the steady state of a cascade and report products and "
                                     "stage profiles.",
                         epilog="example: sx-model run configs/prnd_p507.yaml --format json")
    run.add_argument("config", help="YAML config file")
    output_options(run, "write stage concentration profiles (log scale) to FILE (.png, .pdf, .svg)")

    validate = sub.add_parser("validate", help="check a config without solving it",
                              epilog="example: sx-model validate configs/prnd_p507.yaml")
    validate.add_argument("config", help="YAML config file")
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    from .errors import ConfigError, ConvergenceError, SxModelError

    try:
        handler = {"run": _cmd_run, "validate": _cmd_validate}[args.command]
        return handler(args)
    except ConfigError as exc:
        print(f"sx-model: error: {exc}", file=sys.stderr)
        return 2
    except ConvergenceError as exc:
        print(f"sx-model: solver failure: {exc}", file=sys.stderr)
        return 1
    except SxModelError as exc:
        print(f"sx-model: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sx-model: interrupted", file=sys.stderr)
        return 130


def _cmd_validate(args) -> int:
    from .config import load_config

    cascade = load_config(args.config)
    sections = ", ".join(f"{s.name} {s.stages}" for s in cascade.circuit.sections)
    print(f"{args.config}: valid ({cascade.name}; {cascade.stage_count} stages: {sections}; "
          f"components {', '.join(cascade.components)}; model {cascade.model.name})")
    for warning in cascade.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _cmd_run(args) -> int:
    from .config import load_config
    from .solvers.steady import solve

    _check_output_targets(args)
    cascade = load_config(args.config)
    result = solve(cascade)
    files = {"result.json": result.to_json(indent=2) + "\n", "profile.csv": result.to_csv(),
             "products.csv": result.products_csv()}
    _emit(args, result, files, table=lambda: _table(result))
    if args.plot:
        result.plot(path=args.plot)
    if args.format == "table":
        pass
    elif result.warnings:
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0


def _table(result):
    from .report import steady_table

    return steady_table(result)


def _check_output_targets(args):
    """Fail early (exit 2) on output paths that cannot be written, before any work is done."""
    from .errors import ConfigError

    if getattr(args, "out", None):
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise ConfigError("--out", f"{args.out!r} exists and is not a directory")
    if getattr(args, "plot", None):
        directory = os.path.dirname(os.path.abspath(args.plot))
        if not os.path.isdir(directory):
            raise ConfigError("--plot", f"directory {directory!r} does not exist")
        ext = os.path.splitext(args.plot)[1].lower()
        if ext not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
            raise ConfigError("--plot", f"{args.plot!r}; expected a file name ending in .png, .pdf, "
                                        ".svg or .jpg")


def _emit(args, result, files, table):
    """Print in the chosen format and write the output files whole (temp file + rename)."""
    if args.format == "json":
        print(files["result.json"], end="")
    elif args.format == "csv":
        print(files.get("products.csv", next(iter(files.values()))), end="")
    else:
        print(table())
    if getattr(args, "out", None):
        write_files(args.out, files)


def write_files(directory, files: dict):
    """Write each file atomically: a reader never sees a partly written file."""
    import tempfile

    os.makedirs(directory, exist_ok=True)
    for name, text in files.items():
        target = os.path.join(directory, name)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
