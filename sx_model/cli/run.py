"""``sx-model run CONFIG``: solve the steady state and report products and stage profiles."""
from __future__ import annotations

from . import output

FILES = {"result.json": "result.json", "profile.csv": "profile.csv", "products.csv": "products.csv"}


def main(args) -> int:
    from ..report import steady_table
    from ..solvers.steady import solve

    outputs, paths = output.plan(args, FILES, inputs=[args.config])
    result = solve(output.load(args.config))
    units = getattr(args, "units", "si")
    files = {"result.json": output.dumps(result.to_dict()), "profile.csv": result.to_csv(units=units),
             "products.csv": result.products_csv(units=units)}
    extra = {}
    if args.plot:
        extra["plot"] = output.figure_writer(result.plot())
    output.finish(args, outputs, paths, files, "result.json", "products.csv",
                  lambda: steady_table(result, units=units), extra)
    if args.format != "table":
        output.warn(result.warnings)
    return 0
