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
    from .errors import ConfigError, ConvergenceError, SxModelError

    try:
        handler = {"run": _cmd_run, "validate": _cmd_validate, "design": _cmd_design,
                   "sweep": _cmd_sweep, "curve": _cmd_curve, "compare": _cmd_compare,
                   "optimize": _cmd_optimize, "pareto": _cmd_optimize,
                   "systems": _cmd_systems}[args.command]
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
    except ValueError as exc:     # theory.InfeasibleDesign: the targets cannot be met
        print(f"sx-model: infeasible: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sx-model: interrupted", file=sys.stderr)
        return 130


def _cmd_systems(args) -> int:
    import json

    from . import systems

    chosen = systems.all_systems()
    if args.system:
        picked = systems.get(args.system, "system")
        chosen = {picked.key: picked}
    rows = {}
    for key, system in chosen.items():
        cov = system.coverage()
        entry = {"name": system.name, "extractant": system.extractant, "ph_validity": list(system.ph_validity),
                 "log10_k": {el: system.log_k(el)[0] for el in cov["log_k"]},
                 "log10_k_tags": cov["tags"], "reference": cov["reference"],
                 "ph_correlation": cov["ph_correlation"]}
        if args.system:
            entry["log10_k_sources"] = {el: system.log_k(el)[1] for el in cov["log_k"]}
            entry["ph_correlation_entries"] = {el: system.ph_correlation(el)[0] for el in cov["ph_correlation"]}
        rows[key] = entry
    if args.format == "json":
        print(json.dumps(rows, indent=2, default=str))
        return 0
    for key, entry in rows.items():
        ref = entry["reference"]
        ref_text = (f"log10 K_{ref['element']} = {ref['value']} ({ref.get('source')}, {ref.get('tag')})"
                    if ref else "no reference constant (give log10_k or separation_factors + reference)")
        tags = {}
        for el, tag in entry["log10_k_tags"].items():
            tags.setdefault(tag or "-", []).append(el)
        print(f"{key}: {entry['name']}")
        print(f"  pH validity {entry['ph_validity'][0]:g}..{entry['ph_validity'][1]:g}; {ref_text}")
        print(f"  mass_action constants for {len(entry['log10_k'])} elements: "
              + "; ".join(f"{tag}: {' '.join(els)}" for tag, els in tags.items()))
        if entry["ph_correlation"]:
            print(f"  ph_correlation for: {' '.join(entry['ph_correlation'])}")
        if args.system:
            for el, value in entry["log10_k"].items():
                print(f"    {el:<3} log10 K = {value:8.3f}   {entry['log10_k_sources'][el]}")
            for el, corr in entry["ph_correlation_entries"].items():
                print(f"    {el:<3} log10 D = {corr['slope']:g} pH + {corr['intercept']:g}")
    return 0


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


def _targets(args, config_path):
    from .cascade_design import Targets, _Problem, parse_target
    from .config import read_yaml

    problem = _Problem(read_yaml(config_path))
    given = {}
    for text in args.target:
        name, purity, recovery = parse_target(text)
        if name not in (problem.organic_name, problem.raffinate_name):
            from .errors import ConfigError

            raise ConfigError("--target", f"{name!r} is not a product of this cascade; expected "
                                          f"{problem.organic_name} or {problem.raffinate_name}")
        given[name] = (purity, recovery)
    pa, ra = given.get(problem.organic_name, (0.99, None))
    pb, rb = given.get(problem.raffinate_name, (0.99, None))
    return Targets(pa, pb, ra, rb)


def _cmd_design(args) -> int:
    import json

    from .cascade_design import design

    _check_output_targets(args)
    targets = _targets(args, args.config)
    result = design(args.config, targets)
    files = {"design.json": json.dumps(result.to_dict(), indent=2, default=float) + "\n",
             "design.csv": result.to_csv(), "design.yaml": result.to_yaml()}
    _emit_named(args, files, "design.json", "design.csv", result.table)
    if args.write:
        write_files(os.path.dirname(os.path.abspath(args.write)),
                    {os.path.basename(args.write): result.to_yaml()})
    return 0 if result.met else 1


def _cmd_sweep(args) -> int:
    import json

    from .sweeps import parse_vary, sweep

    _check_output_targets(args)
    vary = [parse_vary(v) for v in args.vary]
    from .config import load_config

    load_config(args.config)   # bad input fails here, before any point runs
    result = sweep(args.config, vary)
    files = {"sweep.json": json.dumps(result.to_dict(), indent=2) + "\n", "sweep.csv": result.to_csv()}
    _emit_named(args, files, "sweep.json", "sweep.csv", result.table)
    if args.plot:
        result.plot(path=args.plot)
    return 0


def _cmd_curve(args) -> int:
    import json

    from .cascade_design import curve
    from .sweeps import parse_vary

    _check_output_targets(args)
    _, totals = parse_vary(f"stages={args.stages}")
    result = curve(args.config, _targets(args, args.config), totals)
    files = {"curve.json": json.dumps(result.to_dict(), indent=2) + "\n", "curve.csv": result.to_csv()}
    _emit_named(args, files, "curve.json", "curve.csv", result.table)
    if args.plot:
        result.plot(path=args.plot)
    return 0


def _cmd_compare(args) -> int:
    import json

    from .config import load_config, read_yaml
    from .solvers.steady import solve
    from .sweeps import parse_vary, sweep

    _check_output_targets(args)
    vary = [parse_vary(v) for v in args.vary]
    for path in args.configs:
        load_config(path)
    if vary:
        sweeps = [(os.path.basename(p), sweep(read_yaml(p), vary)) for p in args.configs]
        data = {label: s.to_dict() for label, s in sweeps}
        csv_text = "".join(f"# {label}\n" + s.to_csv() for label, s in sweeps)
        table = lambda: "\n\n".join(s.table() for _, s in sweeps)  # noqa: E731
        files = {"compare.json": json.dumps(data, indent=2) + "\n", "compare.csv": csv_text}
        _emit_named(args, files, "compare.json", "compare.csv", table)
        if args.plot:
            from .plotting import plot_sweep

            plot_sweep(sweeps, path=args.plot)
        return 0
    rows, data = [], {}
    for path in args.configs:
        result = solve(load_config(path))
        data[os.path.basename(path)] = result.to_dict()
        for name, p in result.products.items():
            rows.append((os.path.basename(path), result.stages, name, p.purity, p.recovery))
    lines = [f"{'config':<28} {'stages':>6} {'product':<18} {'purity':>12} {'recovery':>12}"]
    csv_lines = ["config,stages,product,purity,recovery"]
    for cfg, n, name, pur, rec in rows:
        fmt = (lambda v: "-" if v is None else f"{v:.8f}")
        lines.append(f"{cfg:<28} {n:>6} {name:<18} {fmt(pur):>12} {fmt(rec):>12}")
        csv_lines.append(f"{cfg},{n},{name},{'' if pur is None else repr(pur)},"
                         f"{'' if rec is None else repr(rec)}")
    files = {"compare.json": json.dumps(data, indent=2) + "\n", "compare.csv": "\n".join(csv_lines) + "\n"}
    _emit_named(args, files, "compare.json", "compare.csv", lambda: "\n".join(lines))
    if args.plot:
        from .errors import ConfigError

        raise ConfigError("--plot", "compare draws curves; give --vary KEY=SPEC to compare over a range")
    return 0


def _emit_named(args, files, json_name, csv_name, table):
    if args.format == "json":
        print(files[json_name], end="")
    elif args.format == "csv":
        print(files[csv_name], end="")
    else:
        print(table())
    if getattr(args, "out", None):
        write_files(args.out, files)


def _cmd_optimize(args) -> int:
    import json

    import yaml

    from .optimize import optimize

    _check_output_targets(args)
    if args.max_stages is not None and args.max_stages < 2:
        from .errors import ConfigError

        raise ConfigError("--max-stages", f"{args.max_stages}; expected at least 2")
    result = optimize(args.config, _targets(args, args.config), max_stages=args.max_stages)
    files = {f"{args.command}.json": json.dumps(result.to_dict(), indent=2) + "\n",
             f"{args.command}.csv": result.to_csv()}
    _emit_named(args, files, f"{args.command}.json", f"{args.command}.csv", result.table)
    if getattr(args, "write", None):
        write_files(os.path.dirname(os.path.abspath(args.write)),
                    {os.path.basename(args.write): yaml.safe_dump(result.config, sort_keys=False)})
    if args.plot:
        result.plot(path=args.plot)
    return 0
