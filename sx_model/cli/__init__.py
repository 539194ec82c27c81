"""Command line: ``sx-model`` (also ``python -m sx_model``).

Thin by design: parse arguments, call the library, format the output. One module per command
(``sx_model/cli/<command>.py`` with ``main(args) -> exit code``); printing, file writing and exit codes
live in :mod:`sx_model.cli.output`. Exit codes: 0 success, 1 solver failure or targets not met (with
diagnostics on stderr), 2 bad input (one line on stderr naming the key).
"""
from __future__ import annotations

import argparse
import sys

#: Command -> module of sx_model.cli that runs it.
COMMANDS = {"run": "run", "validate": "validate", "design": "design", "sweep": "sweep", "curve": "curve",
            "compare": "compare", "optimize": "optimize", "pareto": "optimize", "systems": "systems"}

EXAMPLES = """examples:
  sx-model run configs/prnd_p507.yaml
  sx-model run configs/prnd_p507.yaml --format json --out results/ --plot profile.png
  sx-model validate configs/ree_group_split.yaml
  sx-model design configs/prnd_p507.yaml --target loaded_organic=0.999 --target raffinate=0.999
  sx-model sweep configs/prnd_p507.yaml --vary sections.scrub.stages=10:60:5 --plot sweep.png
  sx-model curve configs/prnd_p507.yaml --stages 30:90:10 --target loaded_organic=0.999
  sx-model compare configs/prnd_p507.yaml other.yaml --vary streams.organic.flow=40:50:1 L/min
  sx-model optimize configs/prnd_p507.yaml --target loaded_organic=0.999 --target raffinate=0.999
  sx-model pareto configs/prnd_p507.yaml --target loaded_organic=0.999 --target raffinate=0.999 --plot f.png
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sx-model", description="Model multistage countercurrent solvent-extraction cascades.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    from .. import __version__

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

    target_help = ("PRODUCT=purity[,recovery], e.g. loaded_organic=0.999,0.99 (repeat per product; "
                   "a product without a target gets purity 0.99)")
    des = sub.add_parser("design", help="design a cascade for target purities and check it by simulation",
                         epilog="example: sx-model design configs/prnd_p507.yaml "
                                "--target loaded_organic=0.999 --target raffinate=0.999 --write d.yaml")
    des.add_argument("config", help="YAML config (separation_factor model, two products)")
    des.add_argument("--target", action="append", required=True, help=target_help)
    des.add_argument("--write", metavar="FILE", help="write the checked design as a YAML config")
    output_options(des, "not used by design")

    swp = sub.add_parser("sweep", help="solve a config over ranges of values",
                         epilog="example: sx-model sweep configs/prnd_p507.yaml "
                                "--vary sections.scrub.stages=10:60:5 --format csv")
    swp.add_argument("config", help="YAML config file")
    swp.add_argument("--vary", action="append", required=True, metavar="KEY=SPEC",
                     help="dotted config path and values: start:stop[:step] [unit] (stop included) or "
                          "a comma list; repeat for a grid")
    output_options(swp, "write purity and recovery of every product against the varied value")

    crv = sub.add_parser("curve", help="best purity against total stage count (best split, design flows)",
                         epilog="example: sx-model curve configs/prnd_p507.yaml --stages 30:90:10 "
                                "--target loaded_organic=0.999 --target raffinate=0.999")
    crv.add_argument("config", help="YAML config (separation_factor model, two products)")
    crv.add_argument("--stages", required=True, metavar="SPEC", help="total stage counts, start:stop[:step]")
    crv.add_argument("--target", action="append", default=[], help=target_help)
    output_options(crv, "write impurity of each product against total stage count")

    opt = sub.add_parser("optimize", help="cheapest cascade (stages, reflux, flows) meeting the targets",
                         epilog="example: sx-model optimize configs/prnd_p507.yaml "
                                "--target loaded_organic=0.999 --target raffinate=0.999 --write best.yaml")
    opt.add_argument("config", help="YAML config (separation_factor model, two products; cost: optional)")
    opt.add_argument("--target", action="append", required=True, help=target_help)
    opt.add_argument("--max-stages", type=int, metavar="N", help="largest total stage count allowed")
    opt.add_argument("--write", metavar="FILE", help="write the cheapest design as a YAML config")
    output_options(opt, "write cost per kg against total stages with the chosen design marked")

    par = sub.add_parser("pareto", help="cost per kg against total stage count (Pareto front)",
                         epilog="example: sx-model pareto configs/prnd_p507.yaml "
                                "--target loaded_organic=0.999 --target raffinate=0.999 --plot front.png")
    par.add_argument("config", help="YAML config (separation_factor model, two products; cost: optional)")
    par.add_argument("--target", action="append", required=True, help=target_help)
    par.add_argument("--max-stages", type=int, metavar="N", help="largest total stage count allowed")
    output_options(par, "write cost per kg against total stages with the chosen design marked")

    cmp_ = sub.add_parser("compare", help="overlay results of several configs",
                          epilog="example: sx-model compare a.yaml b.yaml "
                                 "--vary sections.scrub.stages=10:40:5 --plot compare.png")
    cmp_.add_argument("configs", nargs="+", help="YAML config files")
    cmp_.add_argument("--vary", action="append", default=[], metavar="KEY=SPEC",
                      help="sweep each config over these values (else: one run each)")
    output_options(cmp_, "overlay purity/recovery curves of all configs")
    sysp = sub.add_parser("systems", help="list the extractant systems shipped with the package",
                          epilog="example: sx-model systems p507_chloride")
    sysp.add_argument("system", nargs="?", help="show one system's constants with their sources")
    sysp.add_argument("--format", choices=("table", "json"), default="table")
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    from ..errors import ConfigError, ConvergenceError, SxModelError

    try:
        import importlib

        module = importlib.import_module(f"sx_model.cli.{COMMANDS[args.command]}")
        return module.main(args)
    except ConfigError as exc:
        print(f"sx-model: error: {exc}", file=sys.stderr)
        return 2
    except ConvergenceError as exc:
        print(f"sx-model: solver failure: {exc}", file=sys.stderr)
        return 1
    except SxModelError as exc:
        print(f"sx-model: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:     # theory.InfeasibleDesign: the targets cannot be met
        print(f"sx-model: infeasible: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sx-model: interrupted", file=sys.stderr)
        return 130


