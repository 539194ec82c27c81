"""``sx-model run CONFIG``: solve the steady state and report products and stage profiles."""
from __future__ import annotations

from . import output


def main(args) -> int:
    from ..report import steady_table
    from ..solvers.steady import solve

    output.check_output_targets(args)
    result = solve(output.load(args.config))
    files = {"result.json": result.to_json(indent=2) + "\n", "profile.csv": result.to_csv(),
             "products.csv": result.products_csv()}
    output.emit(args, files, "result.json", "products.csv", lambda: steady_table(result))
    if args.plot:
        result.plot(path=args.plot)
    if args.format != "table":
        output.warn(result.warnings)
    return 0
