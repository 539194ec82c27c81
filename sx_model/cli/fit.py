"""``sx-model fit CONFIG DATA.csv --fit PATH [...]``: constants of the config's equilibrium model fitted to
shake-out tests (see :mod:`sx_model.studies.fit`)."""
from __future__ import annotations

import datetime
import os

from . import output

FILES = {"fit.json": "fit.json", "fit.csv": "fit.csv", "fit_residuals.csv": "fit_residuals.csv"}


def main(args) -> int:
    import yaml

    from ..errors import ConfigError
    from ..studies.fit import fit, read_data, read_equilibrium

    outputs, paths = output.plan(args, FILES, inputs=[args.config, args.data])
    if args.system_out is not None:
        paths["system"] = outputs.file("--system-out", args.system_out, (".yaml", ".yml"))
    if args.holdout is not None and not 0.0 < args.holdout < 1.0:
        raise ConfigError("--holdout", f"{args.holdout:g}; expected a fraction between 0 and 1")
    model, components = read_equilibrium(args.config)
    data = read_data(args.data, components, getattr(model, "medium", None) is not None
                     and model.medium.speciated)
    result = fit(model, data, args.fit, holdout=args.holdout or 0.0, seed=args.seed,
                 config_name=os.path.basename(args.config))
    files = {"fit.json": output.dumps(result.to_dict()), "fit.csv": result.to_csv(),
             "fit_residuals.csv": result.residuals_csv()}
    extra = {}
    if args.plot:
        extra["plot"] = output.figure_writer(result.plot())
    if args.system_out is not None:
        key = os.path.splitext(os.path.basename(args.system_out))[0]
        date = datetime.date.today().isoformat()
        entry = result.system_entry(key, f"fitted to {data.name} on {date}", date)
        header = (f"# Extractant system fitted by sx-model fit: {', '.join(result.names)} from {data.name} "
                  f"({result.observations} observations) on {date}.\n# A config names it with "
                  f"equilibrium.system: {os.path.basename(args.system_out)}\n")
        extra["system"] = header + yaml.safe_dump(entry, sort_keys=False, allow_unicode=True, width=100)
    output.finish(args, outputs, paths, files, "fit.json", "fit.csv", result.table, extra)
    missing = result.not_in_system() if args.system_out is not None else []
    if missing:
        output.warn([f"{', '.join(missing)}: a system entry carries log10 K and pH correlations only; put "
                     "the fitted value in the config's equilibrium section"])
    return 0
