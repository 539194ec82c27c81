"""``sx-model sweep CONFIG --vary KEY=SPEC ...``: solve a config over ranges of values."""
from __future__ import annotations

from . import output


def variables(cascade, specs):
    """``--vary`` texts -> (label, values, apply) triples for :func:`sx_model.studies.sweep`."""
    from ..config.edits import parse_vary, variable

    out = []
    for text in specs:
        path, values = parse_vary(text)
        out.append((path, values, variable(path, cascade)))
    return out


def main(args) -> int:
    from ..studies import sweep

    output.check_output_targets(args)
    cascade = output.load(args.config)
    result = sweep(cascade, variables(cascade, args.vary))
    files = {"sweep.json": output.dumps(result.to_dict()), "sweep.csv": result.to_csv()}
    output.emit(args, files, "sweep.json", "sweep.csv", result.table)
    if args.plot:
        result.plot(path=args.plot)
    return 0
