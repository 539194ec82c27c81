"""``sx-model sensitivity CONFIG [--input PATH ...]``: derivatives of the products and cost with respect
to the inputs, from the converged Jacobian (implicit function theorem)."""
from __future__ import annotations

from . import output

FILES = {"sensitivity.json": "sensitivity.json", "sensitivity.csv": "sensitivity.csv"}


def main(args) -> int:
    from ..studies.sensitivity import sensitivity

    outputs, paths = output.plan(args, FILES, inputs=[args.config])
    cascade = output.load(args.config)
    sens = sensitivity(cascade, args.input or None)
    if args.plot and args.output and args.output not in sens.outputs:
        from ..errors import ConfigError

        raise ConfigError("--output", f"{args.output!r}; expected one of {', '.join(sens.outputs)}")
    files = {"sensitivity.json": output.dumps(sens.to_dict()), "sensitivity.csv": sens.to_csv()}
    extra = {"plot": output.figure_writer(sens.tornado(args.output))} if args.plot else {}
    output.finish(args, outputs, paths, files, "sensitivity.json", "sensitivity.csv", sens.table, extra)
    return 0
