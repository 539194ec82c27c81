"""``sx-model compare A.yaml B.yaml [--vary KEY=SPEC]``: several configs side by side."""
from __future__ import annotations

import os

from ..errors import ConfigError
from . import output
from .sweep import report_failures, variables

FILES = {"compare.json": "compare.json", "compare.csv": "compare.csv"}


def _labels(paths):
    """Short unique labels: file names, or the paths where names repeat."""
    names = [os.path.basename(p) for p in paths]
    return [n if names.count(n) == 1 else p for n, p in zip(names, paths)]


def main(args) -> int:
    if args.plot and not args.vary:
        raise ConfigError("--plot", "compare draws curves; give --vary KEY=SPEC to compare over a range")
    reagents = getattr(args, "reagents", False)
    if getattr(args, "target", None) and not reagents:
        raise ConfigError("--target", "compare checks purity targets with --reagents; add --reagents")
    if reagents and args.vary:
        raise ConfigError("--reagents", "compares single runs; remove --vary")
    if reagents and len(args.configs) < 2:
        raise ConfigError("--reagents", f"{len(args.configs)} config; expected a baseline and at least one other")
    targets = {}
    if reagents:
        from ..studies.problem import parse_target

        for text in args.target:
            name, purity, recovery = parse_target(text)
            if recovery is not None:
                raise ConfigError("--target", f"{text!r}; compare --reagents checks purities only: "
                                              "PRODUCT=purity")
            targets[name] = purity
    outputs, paths = output.plan(args, FILES, inputs=args.configs)
    cascades = [(label, output.load(p)) for label, p in zip(_labels(args.configs), args.configs)]
    if reagents:
        from ..studies.linking import compare_reagents

        comparison = compare_reagents([c for _, c in cascades], labels=[lab for lab, _ in cascades],
                                      targets=targets)
        files = {"compare.json": output.dumps(comparison.to_dict()), "compare.csv": comparison.to_csv()}
        output.finish(args, outputs, paths, files, "compare.json", "compare.csv", comparison.table)
        return 0
    if args.vary:
        return _sweeps(args, outputs, paths, cascades)
    from ..solvers.steady import solve

    from ..results import tidy_csv

    rows, data = [], {}
    for label, cascade in cascades:
        result = solve(cascade)
        data[label] = result.to_dict()
        rows += [{"config": label, "stages": result.stages, "product": name, "purity": p.purity,
                  "recovery": p.recovery} for name, p in result.products.items()]
    lines = [f"{'config':<28} {'stages':>6} {'product':<18} {'purity':>12} {'recovery':>12}"]
    lines += [f"{r['config']:<28} {r['stages']:>6} {r['product']:<18} {_fmt(r['purity']):>12} "
              f"{_fmt(r['recovery']):>12}" for r in rows]
    files = {"compare.json": output.dumps(data), "compare.csv": tidy_csv(rows)}
    output.finish(args, outputs, paths, files, "compare.json", "compare.csv", lambda: "\n".join(lines))
    return 0


def _fmt(value):
    return "-" if value is None else f"{value:.8f}"


def _sweeps(args, outputs, paths, cascades):
    from ..studies import sweep

    prepared = [(label, cascade, variables(cascade, args.vary)) for label, cascade in cascades]
    sweeps = [(label, sweep(cascade, triples)) for label, cascade, triples in prepared]
    code = report_failures([s for _, s in sweeps])
    from ..results import tidy_csv

    csv_text = tidy_csv([{"config": label, **row} for label, s in sweeps for row in s.rows()])
    files = {"compare.json": output.dumps({label: s.to_dict() for label, s in sweeps}), "compare.csv": csv_text}
    table = lambda: "\n\n".join(s.table() for _, s in sweeps)  # noqa: E731
    if code:
        output.emit(args, files, "compare.json", "compare.csv", table)
        return code
    extra = {}
    if args.plot:
        from ..plotting import plot_sweep

        extra["plot"] = output.figure_writer(plot_sweep(sweeps))
    output.finish(args, outputs, paths, files, "compare.json", "compare.csv", table, extra)
    return 0
