"""``sx-model optimize`` / ``pareto CONFIG --target ...``: cheapest cascade and cost against stages."""
from __future__ import annotations

from ..errors import ConfigError
from . import output


def main(args) -> int:
    from ..config import dump_yaml
    from ..config.layout import max_stages
    from ..studies import optimize

    name = args.command
    outputs, paths = output.plan(args, {f"{name}.json": f"{name}.json", f"{name}.csv": f"{name}.csv"},
                                 inputs=[args.config])
    most = max_stages()
    if args.max_stages is not None and not 2 <= args.max_stages <= most:
        raise ConfigError("--max-stages", f"{args.max_stages}; expected a whole number from 2 to {most}")
    cascade = output.load(args.config)
    if cascade.model.name != "separation_factor":
        # no shortcut theory for this model: designs by simulation at several organic flows, costed
        from ..studies.general import FLOW_MULTIPLES, optimize_by_simulation
        from .sweep import executor

        with executor(args, 60 * len(FLOW_MULTIPLES), warm=False) as pool:
            result = optimize_by_simulation(cascade, output.target_pairs(args, cascade),
                                            max_stages=args.max_stages, executor=pool,
                                            robust=output.robust(args), limits=output.limits(args),
                                            **output.decide(args))
    else:
        output.refuse_for_theory(args, "designs")
        result = optimize(cascade, output.targets(args, cascade), max_stages=args.max_stages,
                          robust=output.robust(args))
    files = {f"{name}.json": output.dumps(result.to_dict()), f"{name}.csv": result.to_csv()}
    extra = {}
    if getattr(args, "write", None):
        extra["write"] = dump_yaml(result.cascade, "Cheapest design found by sx-model optimize")
    if args.plot:
        extra["plot"] = output.figure_writer(result.plot())
    output.finish(args, outputs, paths, files, f"{name}.json", f"{name}.csv", result.table, extra)
    return 0
