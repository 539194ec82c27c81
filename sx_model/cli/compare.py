"""``sx-model compare A.yaml B.yaml [--vary KEY=SPEC]``: several configs side by side."""
from __future__ import annotations

import os

from ..errors import ConfigError
from . import output
from .sweep import variables


def main(args) -> int:
    output.check_output_targets(args)
    cascades = [(os.path.basename(p), output.load(p)) for p in args.configs]
    if args.vary:
        return _sweeps(args, cascades)
    if args.plot:
        raise ConfigError("--plot", "compare draws curves; give --vary KEY=SPEC to compare over a range")
    from ..solvers.steady import solve

    rows, data = [], {}
    for label, cascade in cascades:
        result = solve(cascade)
        data[label] = result.to_dict()
        rows += [(label, result.stages, name, p.purity, p.recovery) for name, p in result.products.items()]
    lines = [f"{'config':<28} {'stages':>6} {'product':<18} {'purity':>12} {'recovery':>12}"]
    csv_lines = ["config,stages,product,purity,recovery"]
    for cfg, n, name, pur, rec in rows:
        lines.append(f"{cfg:<28} {n:>6} {name:<18} {_fmt(pur):>12} {_fmt(rec):>12}")
        csv_lines.append(f"{cfg},{n},{name},{'' if pur is None else repr(pur)},{'' if rec is None else repr(rec)}")
    files = {"compare.json": output.dumps(data), "compare.csv": "\n".join(csv_lines) + "\n"}
    output.emit(args, files, "compare.json", "compare.csv", lambda: "\n".join(lines))
    return 0


def _fmt(value):
    return "-" if value is None else f"{value:.8f}"


def _sweeps(args, cascades):
    from ..studies import sweep

    prepared = [(label, cascade, variables(cascade, args.vary)) for label, cascade in cascades]
    sweeps = [(label, sweep(cascade, triples)) for label, cascade, triples in prepared]
    files = {"compare.json": output.dumps({label: s.to_dict() for label, s in sweeps}),
             "compare.csv": "".join(f"# {label}\n" + s.to_csv() for label, s in sweeps)}
    output.emit(args, files, "compare.json", "compare.csv", lambda: "\n\n".join(s.table() for _, s in sweeps))
    if args.plot:
        from ..plotting import plot_sweep

        plot_sweep(sweeps, path=args.plot)
    return 0
