"""``sx-model validate CONFIG``: every check a run makes before solving, without solving."""
from __future__ import annotations

from . import output


def main(args) -> int:
    cascade = output.load(args.config)
    sections = ", ".join(f"{s.name} {s.stages}" for s in cascade.circuit.sections)
    print(f"{args.config}: valid ({cascade.name}; {cascade.stage_count} stages: {sections}; "
          f"components {', '.join(cascade.components)}; model {cascade.model.name})")
    output.warn(cascade.warnings)
    return 0
