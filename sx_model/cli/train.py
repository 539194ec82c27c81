"""``sx-model train FEED --products La,Ce,...``: a train of cascades designed for product purities."""
from __future__ import annotations

from . import output

FILES = {"train.json": "train.json", "train.csv": "train.csv", "train.yaml": "train.yaml"}


def purities(args):
    """``--purity 0.999`` and ``--purity NAME=0.9999`` -> (default, {name: purity})."""
    from ..errors import ConfigError

    default, named = 0.999, {}
    for text in args.purity or []:
        name, _, value = text.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            raise ConfigError("--purity", f"{text!r}; expected a purity such as 0.999 or NAME=0.9999") from None
        if not 0 < number < 1:
            raise ConfigError("--purity", f"{text!r}; expected a purity strictly between 0 and 1")
        if name.strip():
            named[name.strip()] = number
        else:
            default = number
    return default, named


def main(args) -> int:
    from ..config.train import read_train_feed
    from ..studies.train import design_train, parse_products

    outputs, paths = output.plan(args, FILES, inputs=[args.config])
    default, named = purities(args)
    feed = read_train_feed(args.config)
    parse_products(args.products, feed, default, named)          # bad products refused before any work
    result = design_train(feed, args.products, purity=default, purities=named, optimise=not args.no_optimise)
    text = result.to_yaml()
    files = {"train.json": output.dumps(result.to_dict()), "train.csv": result.to_csv(), "train.yaml": text}
    extra = {"write": text}
    if args.plot:
        extra["plot"] = output.figure_writer(result.plot())
    output.finish(args, outputs, paths, files, "train.json", "train.csv", result.table, extra)
    if not result.met:
        import sys

        print("sx-model: targets not met by the whole train after the tightening rounds (see the table)",
              file=sys.stderr)
        return 1
    return 0
