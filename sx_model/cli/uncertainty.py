"""``sx-model uncertainty CONFIG [--samples N]``: Monte Carlo over the distributions of the config's
``uncertainty:`` section."""
from __future__ import annotations

from . import output

FILES = {"uncertainty.json": "uncertainty.json", "uncertainty.csv": "uncertainty.csv"}


def main(args) -> int:
    from ..config import load_uncertainty
    from ..errors import ConfigError
    from ..studies.uncertainty import uncertainty
    from .sweep import executor

    outputs, paths = output.plan(args, FILES, inputs=[args.config])
    cascade, spec = load_uncertainty(args.config)
    targets = output.target_pairs(args, cascade) if args.target else None
    samples = args.samples if args.samples is not None else (spec.samples or 200)
    with executor(args, samples if isinstance(samples, int) and samples > 0 else 1, warm=False) as pool:
        study = uncertainty(cascade, spec, samples=args.samples, seed=args.seed, sampling=args.sampling,
                            targets=targets, executor=pool)
    if study.interrupted:
        return output.interrupted(args, outputs, paths, {"uncertainty.json": output.dumps(study.to_dict()),
                                                         "uncertainty.csv": study.to_csv()},
                                  study.count, samples)
    if args.output and args.output not in study.outputs:
        raise ConfigError("--output", f"{args.output!r}; expected one of {', '.join(study.outputs)}")
    if not study.ok.any():
        first = next((e for e in study.errors if e), "")
        output.warn([f"every sample failed ({study.count}); first: {first}"])
        return 1
    if not study.ok.all():
        output.warn([f"{int((~study.ok).sum())} of {study.count} samples failed (counted as not meeting "
                     "the targets); see the CSV"])
    files = {"uncertainty.json": output.dumps(study.to_dict()), "uncertainty.csv": study.to_csv()}
    extra = {"plot": output.figure_writer(study.plot(args.output))} if args.plot else {}
    output.finish(args, outputs, paths, files, "uncertainty.json", "uncertainty.csv", study.table, extra)
    return 0
