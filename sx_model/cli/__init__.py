"""Command line: ``sx-model`` (also ``python -m sx_model``).

Thin by design: parse arguments, call the library, format the output. One module per command
(``sx_model/cli/<command>.py`` with ``main(args) -> exit code``); printing, file writing and exit codes
live in :mod:`sx_model.cli.output`. Exit codes: 0 success, 1 solver failure, infeasible targets or
every sweep point failed (with diagnostics on stderr), 2 bad input (one line on stderr naming the key),
3 an internal error (a bug: one line on stderr, please report it), 130 interrupted. A closed output pipe
(``sx-model run ... | head``) ends the command quietly.
"""
from __future__ import annotations

import argparse
import sys

#: Command -> module of sx_model.cli that runs it.
COMMANDS = {"run": "run", "validate": "validate", "design": "design", "sweep": "sweep", "curve": "curve",
            "compare": "compare", "optimize": "optimize", "pareto": "optimize", "systems": "systems",
            "sensitivity": "sensitivity", "uncertainty": "uncertainty", "window": "window", "draw": "draw",
            "mccabe-thiele": "mccabe_thiele", "fit": "fit", "train": "train"}

EXAMPLES = """examples:
  sx-model run configs/prnd_p507.yaml
  sx-model run configs/prnd_p507.yaml --format json --out results/ --plot profile.png
  sx-model validate configs/ree_group_split.yaml
  sx-model design configs/prnd_p507.yaml --target loaded_organic=0.999 --target raffinate=0.999
  sx-model sweep configs/prnd_p507.yaml --vary sections.scrub.stages=10:60:5 --plot sweep.png
  sx-model curve configs/prnd_p507.yaml --stages 30:90:10 --target loaded_organic=0.999
  sx-model compare configs/prnd_p507.yaml other.yaml --vary "streams.organic.flow=40:50:1 L/min"
  sx-model compare configs/flowsheets/prnd_unlinked.yaml configs/flowsheets/prnd_linked.yaml --reagents
  sx-model optimize configs/prnd_p507.yaml --target loaded_organic=0.999 --target raffinate=0.999
  sx-model pareto configs/prnd_p507.yaml --target loaded_organic=0.999 --target raffinate=0.999 --plot f.png
  sx-model sensitivity configs/prnd_p507.yaml --plot tornado.png
  sx-model window configs/prnd_p507.yaml --target loaded_organic=0.99 --target raffinate=0.99 --plot w.png
  sx-model uncertainty configs/prnd_p507_uncertain.yaml --samples 1000 --plot mc.png
  sx-model draw configs/three_outlet_cepr.yaml --product pr_middle --plot draw.png
  sx-model mccabe-thiele configs/kremser_example.yaml --target raffinate=0.01g/L --plot mt.png
  sx-model fit configs/lacepn_p507_loop.yaml configs/nd_p507_shakeout.csv --fit equilibrium.log10_k.Nd
  sx-model train configs/trains/light_ree_feed.yaml --products La,Ce,Pr,Nd --write train.yaml
"""


TWO_PRODUCTS = ("YAML config with two keyed products (separation_factor: shortcut theory checked by "
                "simulation; other models: by simulation)")
TARGET_HELP = ("PRODUCT=purity[,recovery], e.g. loaded_organic=0.999,0.99 (repeat per product; "
               "a product without a target gets purity 0.99)")


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr, exit 2 (the bad-input contract)."""

    def error(self, message):
        message = _one_line(message)
        self.exit(2, f"sx-model: error: {message} (see sx-model {self.prog.split()[-1]} --help)\n"
                  if " " in self.prog else f"sx-model: error: {message} (see sx-model --help)\n")


def _output_options(parser, plot_help=None):
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table",
                        help="what to print on stdout (default: table)")
    parser.add_argument("--out", metavar="DIR", help="also write the JSON and CSV files into DIR")
    if plot_help:
        parser.add_argument("--plot", metavar="FILE", help=plot_help + " (.png, .pdf, .svg, .jpg)")
    parser.add_argument("--force", action="store_true",
                        help="replace output files that exist (never the input config)")


def _command(sub, name, summary, example, config_help="YAML config file", plot_help=None, outputs=True):
    """One subcommand with its config argument and, with ``outputs``, the output options."""
    parser = sub.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".",
                            epilog=f"example: sx-model {name} {example}")
    parser.add_argument("config", help=config_help)
    if outputs:
        _output_options(parser, plot_help)
    return parser


def _targets_option(parser, required=True, max_stages=False):
    parser.add_argument("--target", action="append", required=required, default=None if required else [],
                        help=TARGET_HELP)
    if max_stages:
        parser.add_argument("--max-stages", type=int, metavar="N", help="largest total stage count allowed")


def _robust_option(parser):
    parser.add_argument("--robust", action="append", metavar="PATH=MARGIN",
                        help="robust design: targets must hold with this input anywhere within +-MARGIN "
                             "(a fraction or %%), e.g. streams.organic.flow=0.1%% (repeat per input)")


def _limit_option(parser):
    parser.add_argument("--limit", action="append", metavar="NAME=VALUE",
                        help="operating limit kept by designs by simulation (models other than "
                             "separation_factor): loading=0.9 (fraction of capacity, default 0.95), "
                             "oa=0.2:5 (O/A of every section, default 0.1:10), ph=1:4 (pH of extraction "
                             "and scrub stages, default none); repeat per limit")


def _decide_option(parser, strip=True):
    names = "scrub.acid, scrub.flow, organic.flow, saponification" + (", strip.acid, strip.flow" if strip else "")
    parser.add_argument("--decide", action="append", metavar="NAME[=LOW:HIGH]",
                        help="a further decision variable of a design by simulation (models other than "
                             f"separation_factor): {names} or feed.stage, optionally with the range "
                             "searched, e.g. strip.acid=0.5:6 mol/L (repeat per variable; see docs/theory.md)")
    if strip:
        parser.add_argument("--strip-target", type=float, metavar="FRACTION",
                            help="fraction of the metal entering the strip section that it must strip "
                                 "(default 0.999 when strip.acid or strip.flow is decided)")


def _parallel_options(parser):
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="solve on N local processes (contiguous chunks, warm starts within each); "
                             "default: all cores for 50 solves or more, else 1")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="solve on a Dask distributed cluster, e.g. tcp://10.0.0.5:8786 (needs "
                             "pip install \"dask[distributed]\")")


def _parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(
        prog="sx-model", description="Model multistage countercurrent solvent-extraction cascades.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"sx-model {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    example = "configs/prnd_p507.yaml"
    targets = "--target loaded_organic=0.999 --target raffinate=0.999"
    run = _command(sub, "run", "solve the steady state of a cascade config", f"{example} --format json",
                   plot_help="write stage profiles, key-group purity, pH and loading per stage to FILE")
    run.add_argument("--units", choices=("si", "plant"), default="si",
                     help="table and CSV units: si (mol/m^3, m^3/s) or plant (g/L of element, g/L REO, "
                          "m^3/h and L/min, purity on an REO mass basis); JSON stays SI")
    _command(sub, "validate", "check a config without solving it", example, outputs=False)
    des = _command(sub, "design", "design a cascade for target purities and check it by simulation",
                   f"{example} {targets} --write d.yaml",
                   "YAML config (separation_factor: shortcut theory checked by simulation; any other model: "
                   "stage counts and scrub acid found by simulation)")
    _targets_option(des)
    _robust_option(des)
    _limit_option(des)
    _decide_option(des)
    des.add_argument("--write", metavar="FILE", help="write the checked design as a YAML config")
    swp = _command(sub, "sweep", "solve a config over ranges of values",
                   f"{example} --vary sections.scrub.stages=10:60:5 --format csv",
                   plot_help="write purity and recovery of every product against the varied value")
    swp.add_argument("--vary", action="append", required=True, metavar="KEY=SPEC",
                     help="dotted config path and values: start:stop[:step] [unit] (stop included) or "
                          "a comma list; repeat for a grid")
    _parallel_options(swp)
    crv = _command(sub, "curve", "best purity against total stage count (best split, design flows)",
                   f"{example} --stages 30:90:10 {targets}", TWO_PRODUCTS,
                   "write impurity of each product against total stage count")
    crv.add_argument("--stages", required=True, metavar="SPEC", help="total stage counts, start:stop[:step]")
    _targets_option(crv, required=False)
    _limit_option(crv)
    _decide_option(crv, strip=False)
    _parallel_options(crv)
    for name, summary, extra in (("optimize", "cheapest cascade (stages, reflux, flows) meeting the targets",
                                  " --write best.yaml"),
                                 ("pareto", "cost per kg against total stage count (Pareto front)",
                                  " --plot front.png")):
        opt = _command(sub, name, summary, f"{example} {targets}{extra}", TWO_PRODUCTS + "; cost: optional",
                       "write cost per kg against total stages with the chosen design marked")
        _targets_option(opt, max_stages=True)
        _robust_option(opt)
        _limit_option(opt)
        _decide_option(opt)
        _parallel_options(opt)
        if name == "optimize":
            opt.add_argument("--write", metavar="FILE", help="write the cheapest design as a YAML config")
    sen = _command(sub, "sensitivity", "derivatives of product purity, recovery and cost with respect to the "
                   "inputs (implicit function theorem at the converged state)",
                   f"{example} --input streams.organic.flow --plot tornado.png",
                   plot_help="write a tornado chart of the elasticities of one output (--output)")
    sen.add_argument("--input", action="append", metavar="PATH",
                     help="dotted config path of a continuous input (repeat; default: every numeric input "
                          "of the chemistry, streams and sections)")
    sen.add_argument("--output", metavar="NAME",
                     help="output of the tornado chart, e.g. raffinate.purity (default: the first)")
    win = _command(sub, "window", "operating window: the range of each input (default: organic flow and scrub "
                   "acid) over which every target still holds, and the nearest cliff",
                   f"{example} {targets} --plot window.png",
                   plot_help="write a map of the worst margin to the targets over the first two inputs")
    _targets_option(win)
    win.add_argument("--input", action="append", metavar="PATH",
                     help="dotted config path of a continuous input (repeat; default: streams.organic.flow "
                          "and streams.scrub.acid)")
    win.add_argument("--span", type=float, default=0.2, metavar="FRACTION",
                     help="search each input up to this relative change (default 0.2: +-20 %%)")
    win.add_argument("--points", type=int, default=21, metavar="N",
                     help="grid points per axis of the --plot map (default 21)")
    drw = _command(sub, "draw", "three-outlet cascade: the stage and phase of a side draw that give the purest "
                   "middle product (or the largest margin to --target)",
                   "configs/three_outlet_cepr.yaml --product pr_middle --plot draw.png",
                   plot_help="write the middle product's purity and recovery against the draw stage")
    drw.add_argument("--product", required=True, metavar="NAME", help="the side-draw product to place")
    drw.add_argument("--phase", choices=("aqueous", "organic"), help="only this phase (default: both)")
    drw.add_argument("--write", metavar="FILE", help="write the config with the chosen draw")
    _targets_option(drw, required=False)
    _parallel_options(drw)
    unc = _command(sub, "uncertainty", "Monte Carlo over the input distributions of the config's uncertainty "
                   "section: purity, recovery and cost percentiles, probability of meeting the targets",
                   "configs/prnd_p507_uncertain.yaml --samples 1000 --plot mc.png",
                   "YAML config with an uncertainty section",
                   "write a histogram of one output (--output) and the inputs' rank correlations with it")
    unc.add_argument("--samples", type=int, metavar="N", help="number of samples (default: the config's, else 200)")
    unc.add_argument("--seed", type=int, metavar="S", help="random seed (default: the config's, else 0)")
    unc.add_argument("--sampling", choices=("latin_hypercube", "random"),
                     help="sampling design (default: the config's, else latin_hypercube)")
    _targets_option(unc, required=False)
    unc.add_argument("--output", metavar="NAME", help="output of the histogram, e.g. raffinate.purity")
    _parallel_options(unc)
    trn = _command(sub, "train", "design a train of separation-factor cascades splitting a feed into products "
                   "(sequence by cost, each cascade checked by simulation, the train simulated as one flowsheet)",
                   "configs/trains/light_ree_feed.yaml --products La,Ce,Pr,Nd --write train.yaml",
                   "feed file (feed, extractant system, capacity) or a separation_factor cascade config",
                   "write the train as a diagram: cascades, streams, flows and product purities")
    trn.add_argument("--products", required=True, metavar="LIST",
                     help="products in any order: elements or groups of neighbours in the extraction order, "
                          "e.g. La,Ce,Pr+Nd or La,Ce,didymium=Pr+Nd")
    trn.add_argument("--purity", action="append", metavar="[NAME=]P",
                     help="purity of every product (default 0.999), or NAME=P for one product (repeat)")
    trn.add_argument("--no-optimise", action="store_true",
                     help="design each cascade at the sequence's reflux only (no neighbouring refluxes)")
    trn.add_argument("--write", metavar="FILE", help="write the train as a flowsheet config (sx-model run reads it)")
    _compare_and_systems(sub)
    _mccabe_thiele(sub)
    _fit(sub)
    return parser


def _fit(sub):
    fit = _command(sub, "fit", "fit equilibrium constants to shake-out (batch) tests: estimates, standard "
                   "errors, confidence intervals, correlations, residuals, hold-out validation",
                   "configs/lacepn_p507_loop.yaml configs/nd_p507_shakeout.csv --fit equilibrium.log10_k.Nd",
                   "YAML config whose components and equilibrium section give the model and starting constants",
                   "write the residuals against pH and fitted against measured")
    fit.add_argument("data", help="CSV of shake-out tests, one per row, units in the header (docs/config.md)")
    fit.add_argument("--fit", action="append", required=True, metavar="PATH",
                     help="dotted config path of a constant to fit, e.g. equilibrium.log10_k.Nd (repeat)")
    fit.add_argument("--holdout", type=float, metavar="FRACTION",
                     help="leave this fraction of the rows out of the fit and report how well they are predicted")
    fit.add_argument("--seed", type=int, default=0, metavar="S", help="random seed of the hold-out rows (default 0)")
    fit.add_argument("--system-out", metavar="FILE",
                     help="write the fitted constants as an extractant system entry (YAML) a config can name")


def _mccabe_thiele(sub):
    mct = _command(sub, "mccabe-thiele", "McCabe-Thiele diagram of one section for one component: isotherm, "
                   "operating line, simulated stages, stages stepped for targets, pinch O/A",
                   "configs/kremser_example.yaml --target raffinate=0.01g/L --plot mt.png",
                   plot_help="write the McCabe-Thiele diagram")
    mct.add_argument("--section", choices=("extraction", "scrub", "wash", "strip"), default="extraction",
                     help="section to draw (default: extraction)")
    mct.add_argument("--component", metavar="EL", help="component (default: the only one, else the single "
                                                      "key of the section's outlet product)")
    mct.add_argument("--target", action="append", metavar="OUTLET=CONC",
                     help="outlet concentration to step to: aqueous|organic or the outlet's product name, "
                          "e.g. raffinate=0.05g/L or stripped_organic=0.2mmol/L (repeat per outlet)")
    mct.add_argument("--units", choices=("g/L", "mol/L"), default="g/L",
                     help="concentration unit of the table and plot (default g/L; JSON and CSV stay mol/m^3)")


def _compare_and_systems(sub):
    cmp_ = sub.add_parser("compare", help="overlay results of several configs",
                          epilog="example: sx-model compare a.yaml b.yaml "
                                 "--vary sections.scrub.stages=10:40:5 --plot compare.png")
    cmp_.add_argument("configs", nargs="+", help="YAML config files")
    cmp_.add_argument("--vary", action="append", default=[], metavar="KEY=SPEC",
                      help="sweep each config over these values (else: one run each)")
    cmp_.add_argument("--reagents", action="store_true",
                      help="acid and saponification base of each config, by cascade and in total, and "
                           "what each saves against the first (e.g. a linked train against the unlinked one)")
    cmp_.add_argument("--target", action="append", default=[], metavar="PRODUCT=PURITY",
                      help="with --reagents: a purity every config's product must reach (repeatable)")
    _output_options(cmp_, "overlay purity/recovery curves of all configs (needs --vary)")
    sysp = sub.add_parser("systems", help="list the extractant systems shipped with the package",
                          epilog="example: sx-model systems p507_chloride")
    sysp.add_argument("system", nargs="?", help="show one system's constants with their sources")
    sysp.add_argument("--format", choices=("table", "json"), default="table")


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    stdout = sys.stdout
    sys.stdout = _Stdout(stdout)
    try:
        code = _dispatch(args)
        sys.stdout.flush()          # here, not at exit: a failing write is reported like any other
        return code
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly, and keep Python from complaining at exit
        _discard(stdout)
        return 0
    except StdoutError as exc:
        # stdout cannot take the output (a full disk, ...): a bad destination, not a bug
        _discard(stdout)
        return _fail(f"error: stdout: cannot write the output: {exc}", 2)
    finally:
        sys.stdout = stdout


class StdoutError(Exception):
    """Writing to stdout failed (other than a closed pipe)."""


class _Stdout:
    """sys.stdout that reports a failing write as :class:`StdoutError` (a closed pipe stays a
    BrokenPipeError), so that it is not taken for an internal error."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        return self._guard(self._stream.write, text)

    def flush(self):
        return self._guard(self._stream.flush)

    @staticmethod
    def _guard(call, *args):
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc.strerror or str(exc)) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _discard(stream):
    """Point the stdout file descriptor at /dev/null and drop what is buffered, so that Python does
    not complain about it at exit."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _dispatch(args) -> int:
    import importlib

    from ..errors import ConfigError, ConvergenceError, SxModelError
    from ..theory import InfeasibleDesign

    try:
        return importlib.import_module(f"sx_model.cli.{COMMANDS[args.command]}").main(args)
    except ConfigError as exc:
        return _fail(f"error: {exc}", 2)
    except ConvergenceError as exc:
        return _fail(f"solver failure: {exc}", 1)
    except InfeasibleDesign as exc:
        return _fail(f"infeasible: {exc}", 1)
    except SxModelError as exc:
        return _fail(f"error: {exc}", 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except (BrokenPipeError, StdoutError):
        raise
    except (MemoryError, RecursionError) as exc:
        return _fail(f"internal error: {type(exc).__name__}: the input is too large for this machine", 3)
    except Exception as exc:   # a bug: one line, never a traceback
        text = " ".join(str(exc).split())[:300]
        return _fail(f"internal error: {type(exc).__name__}: {text} (please report this with the "
                     "config that caused it)", 3)


def _fail(message, code):
    print(f"sx-model: {_one_line(message)}", file=sys.stderr)
    return code


def _one_line(text):
    """``text`` with its line breaks written as ``\\n`` (a key or file name may hold one): the
    message stays one line."""
    return "\\n".join(str(text).splitlines())
