"""``sx-model curve CONFIG --stages SPEC``: best purity against total stage count."""
from __future__ import annotations

from ..errors import ConfigError
from . import output

FILES = {"curve.json": "curve.json", "curve.csv": "curve.csv"}
#: Most points on one curve [-].
MAX_POINTS = 500


def totals(spec, most_stages):
    """``--stages start:stop[:step]`` (or a comma list) -> total stage counts, each 2..most_stages."""
    from ..config.edits import parse_vary

    try:
        _, values = parse_vary(f"stages={spec}")
    except ConfigError as exc:
        raise ConfigError("--stages", exc.message) from None
    if len(values) > MAX_POINTS:
        raise ConfigError("--stages", f"{spec!r} gives {len(values)} stage counts; expected at most {MAX_POINTS}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= most_stages:
            raise ConfigError("--stages", f"{spec!r}: {value!r} is not a total stage count; expected whole "
                                          f"numbers from 2 to {most_stages}")
    return values


def main(args) -> int:
    from ..config.layout import max_stages
    from ..studies import curve

    outputs, paths = output.plan(args, FILES, inputs=[args.config])
    counts = totals(args.stages, max_stages())
    import math

    from .sweep import executor

    cascade = output.load(args.config)
    # each total is a bisection over its splits: about log2(total) solves
    solves = sum(max(1, math.ceil(math.log2(max(n, 2)))) for n in counts)
    if cascade.model.name != "separation_factor":
        # no shortcut theory: at each count the scrub acid is set by simulation (about 25 solves)
        from ..studies.general import curve_by_simulation

        with executor(args, 25 * len(counts), warm=False) as pool:
            result = curve_by_simulation(cascade, output.target_pairs(args, cascade), counts, executor=pool,
                                         limits=output.limits(args), **output.decide(args))
    else:
        output.refuse_for_theory(args, "curves")
        with executor(args, solves, warm=False) as pool:
            result = curve(cascade, output.targets(args, cascade), counts, executor=pool)
    files = {"curve.json": output.dumps(result.to_dict()), "curve.csv": result.to_csv()}
    extra = {"plot": output.figure_writer(result.plot())} if args.plot else {}
    output.finish(args, outputs, paths, files, "curve.json", "curve.csv", result.table, extra)
    return 0
