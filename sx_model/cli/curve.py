"""``sx-model curve CONFIG --stages SPEC``: best purity against total stage count."""
from __future__ import annotations

from . import output


def main(args) -> int:
    from ..config.edits import parse_vary
    from ..studies import curve

    output.check_output_targets(args)
    _, totals = parse_vary(f"stages={args.stages}")
    cascade = output.load(args.config)
    result = curve(cascade, output.targets(args, cascade), totals)
    files = {"curve.json": output.dumps(result.to_dict()), "curve.csv": result.to_csv()}
    output.emit(args, files, "curve.json", "curve.csv", result.table)
    if args.plot:
        result.plot(path=args.plot)
    return 0
