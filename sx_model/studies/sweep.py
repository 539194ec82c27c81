"""Sweeps: many steady-state solves of one cascade with some inputs varied, warm-started in turn.

A point that fails (bad input or no convergence) is recorded as failed with its message and the sweep
goes on. Each varied input is a ``(label, values, apply)`` triple, ``apply(cascade, value)`` giving the
edited cascade (:func:`sx_model.config.edits.variable` makes them from dotted config paths such as
``sections.extraction.stages`` or ``streams.organic.flow``); several give the product grid.
"""
from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, SxModelError
from .executors import SerialExecutor

#: Most points one sweep may have [-] (a guard against grids that would run for days).
MAX_POINTS = 1_000_000


@dataclass
class SweepResult:
    """Results of a sweep: one row per point (values, status, product purities and recoveries)."""

    name: str
    paths: list
    points: list                      # list of dicts: values, ok, error, products, converged, ...
    elapsed_s: float = 0.0
    results: list = field(default_factory=list, repr=False)
    interrupted: bool = False          # stopped by Ctrl-C: ``points`` holds the finished ones
    indices: list = field(default_factory=list, repr=False)   # grid index of each point (all of them
    #                                  unless interrupted: then the finished ones, in grid order)

    @property
    def failed(self):
        return [p for p in self.points if not p["ok"]]

    def product_names(self):
        for p in self.points:
            if p["ok"]:
                return list(p["products"])
        return []

    def series(self, product, quantity="purity"):
        """Values of ``quantity`` for ``product`` at every point (NaN where the point failed)."""
        return np.array([p["products"][product][quantity] if p["ok"] and
                         p["products"][product][quantity] is not None else np.nan
                         for p in self.points])

    def to_dict(self):
        return {"name": self.name, "vary": self.paths, "points": self.points,
                "failed": len(self.failed), "elapsed_s": self.elapsed_s, "interrupted": self.interrupted}

    def value_columns(self):
        """Per varied path: (column name, numbers or texts). Values written with a unit
        (``"40 L/min"``) become numbers in a column named ``path [unit]``."""
        out = []
        for k, path in enumerate(self.paths):
            values = [p["values"][k] for p in self.points]
            split = [_number_and_unit(v) for v in values]
            units = {u for _, u in split}
            if len(units) == 1 and all(n is not None for n, _ in split) and units != {""}:
                out.append((f"{path} [{units.pop()}]", [n for n, _ in split]))
            else:
                out.append((path, values))
        return out

    def rows(self):
        """One plain-data row per point (values, status, purity and recovery of every product)."""
        names = self.product_names()
        columns = self.value_columns()
        rows = []
        for i, p in enumerate(self.points):
            row = {name: values[i] for name, values in columns}
            row.update(ok=p["ok"], converged=p.get("converged"), mass_balance_error=p.get("mass_balance_error"),
                       iterations=p.get("iterations"))
            for k in names:
                for q in ("purity", "recovery"):
                    row[f"{k}_{q}"] = p["products"][k][q] if p["ok"] else None
            row["error"] = p.get("error", "")
            rows.append(row)
        return rows

    def to_csv(self):
        """Tidy CSV: one header, one row per point, plain numbers (see :meth:`rows`)."""
        from ..results import tidy_csv

        return tidy_csv(self.rows())

    def to_frame(self):
        """The rows as a pandas DataFrame (pandas is an optional extra: ``pip install sx_model[tables]``)."""
        from ..results import _pandas

        return _pandas().DataFrame(self.rows())

    def table(self):
        names = self.product_names()
        width = max(12, *(len(p) for p in self.paths))
        lines = [f"{self.name}: sweep of {', '.join(self.paths)} ({len(self.points)} points, "
                 f"{len(self.failed)} failed, {self.elapsed_s:.2f} s)",
                 " ".join(f"{p[-width:]:>{width}}" for p in self.paths) + " "
                 + " ".join(f"{k + ' purity':>24} {k + ' recovery':>24}" for k in names)]
        for p in self.points:
            row = " ".join(f"{str(v):>{width}}" for v in p["values"]) + " "
            if p["ok"]:
                row += " ".join(f"{p['products'][k]['purity']:>24.8f} {p['products'][k]['recovery']:>24.8f}"
                                if p["products"][k]["purity"] is not None else f"{'-':>24} {'-':>24}"
                                for k in names)
            else:
                row += f"FAILED: {p['error']}"
            lines.append(row)
        return "\n".join(lines)

    def plot(self, path=None, ax=None, label=None):
        from ..plotting import plot_sweep

        return plot_sweep([(label or self.name, self)], path=path)


def sweep(cascade, vary, *, executor=None, progress=None) -> SweepResult:
    """Solve ``cascade`` at every combination of the varied values.

    Parameters
    ----------
    cascade : Cascade
    vary : list of (label, values, apply)
        ``apply(cascade, value) -> cascade`` edits one input (see module docstring).
    executor : optional
        Where the solves run (default :class:`SerialExecutor`: in order, warm-started).
    progress : bool, optional
        Show a progress bar (tqdm, on stderr) for sweeps longer than a second; default: when stderr
        is a terminal.
    """
    items = list(vary)
    if not items:
        raise ConfigError("--vary", "nothing to vary; give at least one KEY=SPEC")
    paths = [label for label, _, _ in items]
    count = int(np.prod([len(values) for _, values, _ in items], dtype=float))
    if count > MAX_POINTS:
        raise ConfigError("--vary", f"the grid has {count} points; expected at most {MAX_POINTS}")
    grid = list(itertools.product(*[values for _, values, _ in items]))
    executor = executor or SerialExecutor()
    start = time.perf_counter()
    batch = _Batch(cascade, items, grid)
    # outcomes as they are solved, with their grid index (several processes solve several chains of
    # the grid side by side); an executor offering only ``map`` gives them in order
    indexed = getattr(executor, "map_indexed", None)
    outcomes = indexed(batch) if indexed is not None else enumerate(executor.map(batch))
    if progress is None:
        progress = sys.stderr.isatty()
    if progress:
        from tqdm import tqdm

        outcomes = tqdm(outcomes, total=len(grid), delay=1.0, desc="sweep", unit="solve", file=sys.stderr)
    finished = {}
    interrupted = False
    try:
        for index, outcome in outcomes:
            point = {"values": list(grid[index]), "ok": False}
            if isinstance(outcome, Exception):
                point["error"] = str(outcome)
                outcome = None
            else:
                point.update(ok=True, converged=outcome.converged, iterations=outcome.iterations,
                             mass_balance_error=outcome.mass_balance_error,
                             products={k: {"purity": p.purity, "recovery": p.recovery}
                                       for k, p in outcome.products.items()})
            finished[index] = (point, outcome)
    except KeyboardInterrupt:          # Ctrl-C: keep the finished points
        interrupted = True
    finally:
        close = getattr(outcomes, "close", None)
        if close:
            close()
    # in grid order; after Ctrl-C, the points finished (on several processes not only the first ones)
    order = sorted(finished)
    return SweepResult(name=cascade.name, paths=paths, points=[finished[i][0] for i in order],
                       elapsed_s=time.perf_counter() - start, results=[finished[i][1] for i in order],
                       interrupted=interrupted, indices=order)


class _Batch:
    """The edited cascades of a sweep, built as they are taken (sized, so that an executor can hand
    out chunks before the whole batch is built)."""

    def __init__(self, cascade, items, grid):
        self.cascade, self.items, self.grid = cascade, items, grid

    def __len__(self):
        return len(self.grid)

    def __iter__(self):
        return (_edited(self.cascade, self.items, values) for values in self.grid)

    def at(self, index):
        """The cascade (or the error its values raise) of grid point ``index``."""
        return _edited(self.cascade, self.items, self.grid[index])

    def weights(self):
        """Estimated relative cost of each point's solve (:func:`~sx_model.studies.executors.solve_weight`
        of its cascade), from the grid without building the cascades: only stage counts change a
        cascade's size. A value that is not a stage count weighs as the unedited cascade."""
        from .executors import weight_of_size

        stages = self.cascade.stages()
        components = len(self.cascade.components)
        changes = []             # per varied input: the section whose stage count it sets, or None
        for label, _, _ in self.items:
            keys = str(label).split(".")
            changes.append(keys[1] if len(keys) == 3 and keys[0] == "sections" and keys[2] == "stages"
                           and keys[1] in stages else None)
        out = []
        for values in self.grid:
            total = self.cascade.stage_count
            for section, value in zip(changes, values):
                if section is not None:
                    try:
                        total += int(value) - stages[section]
                    except (TypeError, ValueError):
                        pass
            out.append(weight_of_size(max(total, 1), components))
        return out


def _edited(cascade, items, values):
    """The cascade at one grid point, or the ConfigError its values raise."""
    try:
        for (_, _, apply), value in zip(items, values):
            cascade = apply(cascade, value)
    except SxModelError as exc:
        return exc
    return cascade


def _number_and_unit(value):
    """(number, unit text) of a sweep value: 12 -> (12, ""), "40 L/min" -> (40.0, "L/min"),
    anything else -> (None, "")."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value, ""
    head, _, unit = str(value).strip().partition(" ")
    try:
        return float(head), unit.strip()
    except ValueError:
        return None, ""
