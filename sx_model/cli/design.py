"""``sx-model design CONFIG --target ...``: design by the theory, checked by simulation."""
from __future__ import annotations

import sys

from . import output

FILES = {"design.json": "design.json", "design.csv": "design.csv", "design.yaml": "design.yaml"}


def main(args) -> int:
    from ..studies import design

    outputs, paths = output.plan(args, FILES, inputs=[args.config])
    cascade = output.load(args.config)
    if cascade.model.name != "separation_factor":
        # no shortcut theory for this model: stage counts and scrub acid found by simulation
        from ..studies.general import design_by_simulation

        result = design_by_simulation(cascade, output.target_pairs(args, cascade), robust=output.robust(args),
                                      limits=output.limits(args), **output.decide(args))
    else:
        output.refuse_for_theory(args, "designs")
        result = design(cascade, output.targets(args, cascade), robust=output.robust(args))
    text = result.to_yaml()
    files = {"design.json": output.dumps(result.to_dict()), "design.csv": result.to_csv(), "design.yaml": text}
    if not result.met:
        output.emit(args, files, "design.json", "design.csv", result.table)
        print("sx-model: targets not met: the checked search ended without a design that meets them "
              "(see the table); no files written", file=sys.stderr)
        return 1
    output.finish(args, outputs, paths, files, "design.json", "design.csv", result.table, {"write": text})
    return 0
