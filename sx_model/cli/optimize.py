"""``sx-model optimize`` / ``pareto CONFIG --target ...``: cheapest cascade and cost against stages."""
from __future__ import annotations

from ..errors import ConfigError
from . import output


def main(args) -> int:
    from ..config import dump_yaml
    from ..studies import optimize

    output.check_output_targets(args)
    if args.max_stages is not None and args.max_stages < 2:
        raise ConfigError("--max-stages", f"{args.max_stages}; expected at least 2")
    cascade = output.load(args.config)
    result = optimize(cascade, output.targets(args, cascade), max_stages=args.max_stages)
    name = args.command
    files = {f"{name}.json": output.dumps(result.to_dict()), f"{name}.csv": result.to_csv()}
    output.emit(args, files, f"{name}.json", f"{name}.csv", result.table)
    if getattr(args, "write", None):
        output.write_file(args.write, dump_yaml(result.cascade, "Cheapest design found by sx-model optimize"))
    if args.plot:
        result.plot(path=args.plot)
    return 0
