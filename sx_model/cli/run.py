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
        extra["plot"] = output.figure_writer(_figure(args.config, result))
    output.finish(args, outputs, paths, files, "result.json", "products.csv",
                  lambda: steady_table(result, units=units), extra)
    if args.format != "table":
        output.warn(result.warnings)
    return 0


def _figure(path, result):
    """A flowsheet's train diagram (cascades, links with their flows, products with purity and flow);
    a cascade's stage profiles."""
    import os

    from ..config.files import read_yaml
    from ..config.flowsheet import is_flowsheet

    data = read_yaml(path)
    if is_flowsheet(data):
        from ..plotting_train import plot_train

        return plot_train(result, data, base_dir=os.path.dirname(os.path.abspath(os.fspath(path))))
    return result.plot()
