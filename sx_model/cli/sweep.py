"""``sx-model sweep CONFIG --vary KEY=SPEC ...``: solve a config over ranges of values."""
from __future__ import annotations

import sys

from ..errors import ConfigError
from . import output

FILES = {"sweep.json": "sweep.json", "sweep.csv": "sweep.csv"}


def variables(cascade, specs):
    """``--vary`` texts -> (label, values, apply) triples for :func:`sx_model.studies.sweep`; every
    value is applied once to ``cascade`` here, so a bad key, unit or value is refused (exit 2) before
    anything is solved."""
    from ..config.edits import parse_vary, variable
    from ..studies.sweep import MAX_POINTS

    parsed, seen, count = [], set(), 1
    for text in specs:
        path, values = parse_vary(text)
        if path in seen:
            raise ConfigError("--vary", f"{path!r} is given twice; expected each key once (a grid "
                                        "varies different keys)")
        seen.add(path)
        count *= len(values)
        parsed.append((path, values))
    if count > MAX_POINTS:       # before any value is checked: that alone takes long on a huge grid
        raise ConfigError("--vary", f"the grid has {count} points; expected at most {MAX_POINTS}")
    out = []
    for path, values in parsed:
        apply = variable(path, cascade)
        for value in values:
            apply(cascade, value)
        out.append((path, values, apply))
    return out


def executor(args, count: int, warm: bool = True):
    """The executor ``--workers`` / ``--scheduler`` ask for, for a batch of ``count`` solves: a Dask
    cluster, N local processes, or (default) all local cores for 50 solves or more."""
    import os

    from ..studies.executors import DaskExecutor, ProcessExecutor, SerialExecutor, auto_executor

    workers = getattr(args, "workers", None)
    scheduler = getattr(args, "scheduler", None)
    most = 4 * (os.cpu_count() or 1)
    if workers is not None and (not isinstance(workers, int) or not 1 <= workers <= most):
        raise ConfigError("--workers", f"{workers!r}; expected a whole number from 1 to {most}")
    if scheduler is not None:
        if workers is not None:
            raise ConfigError("--workers", "given with --scheduler; expected one of them (the cluster "
                                           "decides its workers)")
        return DaskExecutor(scheduler, warm=warm)
    if workers is None:
        return auto_executor(count, warm=warm)
    if workers == 1:
        return SerialExecutor(warm=warm)
    return ProcessExecutor(workers=workers, warm=warm)


def report_failures(results) -> int:
    """Exit code of a finished sweep: 0 if any point solved (failed points listed in a warning),
    1 if every point failed."""
    points = [p for result in results for p in result.points]
    failed = [p for p in points if not p["ok"]]
    if failed and len(failed) == len(points):
        print(f"sx-model: every point failed ({len(points)}); first: {failed[0]['error']}", file=sys.stderr)
        return 1
    if failed:
        output.warn([f"{len(failed)} of {len(points)} points failed; see the table"])
    return 0


def main(args) -> int:
    from ..studies import sweep

    outputs, paths = output.plan(args, FILES, inputs=[args.config])
    cascade = output.load(args.config)
    items = variables(cascade, args.vary)
    count = 1
    for _, values, _ in items:
        count *= len(values)
    with executor(args, count) as pool:
        result = sweep(cascade, items, executor=pool)
    if result.interrupted:
        return output.interrupted(args, outputs, paths, {"sweep.json": output.dumps(result.to_dict()),
                                                         "sweep.csv": result.to_csv()},
                                  len(result.points), count)
    code = report_failures([result])
    files = {"sweep.json": output.dumps(result.to_dict()), "sweep.csv": result.to_csv()}
    if code:
        output.emit(args, files, "sweep.json", "sweep.csv", result.table)
        return code
    extra = {"plot": output.figure_writer(result.plot())} if args.plot else {}
    output.finish(args, outputs, paths, files, "sweep.json", "sweep.csv", result.table, extra)
    return 0
