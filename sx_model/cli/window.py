"""``sx-model window CONFIG --target ...``: the range of each input over which every target holds."""
from __future__ import annotations

import sys

from . import output

FILES = {"window.json": "window.json", "window.csv": "window.csv"}


def main(args) -> int:
    from ..studies.window import check_points, operating_window, window_map

    outputs, paths = output.plan(args, FILES, inputs=[args.config])
    cascade = output.load(args.config)
    targets = output.target_pairs(args, cascade)
    if args.plot:
        check_points(args.points)            # before the search, not after it
    result = operating_window(cascade, targets, args.input or None, span=args.span)
    if args.plot and result.met_at_nominal and len(result.windows) >= 2:
        window_map(cascade, targets, result, points=args.points)
    files = {"window.json": output.dumps(result.to_dict()), "window.csv": result.to_csv()}
    extra = {"plot": output.figure_writer(result.plot())} if args.plot else {}
    if not result.met_at_nominal:
        output.emit(args, files, "window.json", "window.csv", result.table)
        print("sx-model: the targets are not met at the nominal inputs", file=sys.stderr)
        return 1
    output.finish(args, outputs, paths, files, "window.json", "window.csv", result.table, extra)
    return 0
