"""``sx-model draw CONFIG --product NAME``: the stage and phase of a side draw (three-outlet cascade)."""
from __future__ import annotations

from . import output

FILES = {"draw.json": "draw.json", "draw.csv": "draw.csv"}


def main(args) -> int:
    from ..studies.draw import choose_draw
    from .sweep import executor

    outputs, paths = output.plan(args, FILES, inputs=[args.config])
    cascade = output.load(args.config)
    targets = output.target_pairs(args, cascade) if args.target else None
    phases = (args.phase,) if args.phase else ("aqueous", "organic")
    with executor(args, len(phases) * cascade.stage_count) as pool:
        result = choose_draw(cascade, args.product, targets=targets, phases=phases, executor=pool)
    files = {"draw.json": output.dumps(result.to_dict()), "draw.csv": result.to_csv()}
    extra = {}
    if args.plot:
        extra["plot"] = output.figure_writer(result.plot())
    if getattr(args, "write", None):
        extra["write"] = result.to_yaml()
    output.finish(args, outputs, paths, files, "draw.json", "draw.csv", result.table, extra)
    return 0
