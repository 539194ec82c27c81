"""``sx-model design CONFIG --target ...``: design by the theory, checked by simulation."""
from __future__ import annotations

from . import output


def main(args) -> int:
    from ..studies import design

    output.check_output_targets(args)
    cascade = output.load(args.config)
    result = design(cascade, output.targets(args, cascade))
    text = result.to_yaml()
    files = {"design.json": output.dumps(result.to_dict()), "design.csv": result.to_csv(), "design.yaml": text}
    output.emit(args, files, "design.json", "design.csv", result.table)
    if args.write:
        output.write_file(args.write, text)
    return 0 if result.met else 1
