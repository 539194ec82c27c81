"""Sweeps: many steady-state solves of one config with some values varied, warm-started in turn.

A point that fails (bad input or no convergence) is recorded as failed with its message and the sweep
goes on. Values are given per dotted config path, e.g. ``sections.extraction.stages=10:80:5`` or
``streams.organic.flow=40:50:2 L/min``; several ``--vary`` give the product grid.
"""
from __future__ import annotations

import copy
import itertools
import math
import re
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .config import RESERVED_STREAMS, build_cascade, read_yaml
from .errors import ConfigError, SxModelError

_RANGE = re.compile(r"^\s*([-+0-9.eE]+)\s*:\s*([-+0-9.eE]+)\s*(?::\s*([-+0-9.eE]+))?\s*(.*)$")


def parse_vary(text: str):
    """``PATH=SPEC`` -> (path, list of values). SPEC is ``start:stop[:step] [unit]`` (stop included)
    or a comma-separated list (``1.2,1.4,1.6`` or ``40 L/min,45 L/min``)."""
    if "=" not in text:
        raise ConfigError("--vary", f"{text!r}; expected KEY=SPEC such as sections.scrub.stages=10:40:5")
    path, _, spec = text.partition("=")
    path, spec = path.strip(), spec.strip()
    if not path or not spec:
        raise ConfigError("--vary", f"{text!r}; expected KEY=SPEC such as sections.scrub.stages=10:40:5")
    match = _RANGE.match(spec)
    if match:
        try:
            start, stop = float(match.group(1)), float(match.group(2))
            step = float(match.group(3)) if match.group(3) else 1.0
        except ValueError:
            raise ConfigError("--vary", f"{spec!r}; expected start:stop[:step] with numbers") from None
        if step <= 0 or stop < start:
            raise ConfigError("--vary", f"{spec!r}; expected start <= stop and a positive step")
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        # rounded to 12 significant digits: 0.28 + 1 x 0.02 is 0.30000000000000004 in binary
        numbers = [float(f"{start + k * step:.12g}") for k in range(count)]
        unit = match.group(4).strip()
        integral = all(float(v).is_integer() for v in (start, step))
        if unit:
            values = [f"{v:.10g} {unit}" for v in numbers]
        else:
            values = [int(round(v)) if integral else v for v in numbers]
    else:
        values = [_scalar(v.strip()) for v in spec.split(",") if v.strip()]
    if not values:
        raise ConfigError("--vary", f"{spec!r} gives no values")
    return path, values


def _scalar(text):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def set_path(config: dict, path: str, value):
    """Set a dotted path in a config mapping; the path must already exist up to its parent."""
    keys = path.split(".")
    node = config
    for depth, key in enumerate(keys[:-1]):
        if not isinstance(node, dict) or key not in node:
            raise ConfigError("--vary", f"{path!r}: no key {'.'.join(keys[:depth + 1])!r} in the config")
        node = node[key]
    if not isinstance(node, dict):
        raise ConfigError("--vary", f"{path!r}: {'.'.join(keys[:-1])!r} is not a mapping")
    node[keys[-1]] = value
    if path == "sections.extraction.stages":
        _follow_feed_stage(config, value)


def _follow_feed_stage(config, new_n):
    """Feeds placed at the last extraction stage (aqueous) or first scrub stage (organic) stay there."""
    old = config.setdefault("_sweep_extraction", None)
    for name, stream in config.get("streams", {}).items():
        if name in RESERVED_STREAMS or not isinstance(stream, dict) or "stage" not in stream:
            continue
        if old is None:
            continue
        phase = stream.get("phase", "aqueous")
        if phase == "aqueous" and stream["stage"] == old:
            stream["stage"] = new_n
        elif phase == "organic" and stream["stage"] == old + 1:
            stream["stage"] = new_n + 1
    config["_sweep_extraction"] = new_n


@dataclass
class SweepResult:
    """Results of a sweep: one row per point (values, status, product purities and recoveries)."""

    name: str
    paths: list
    points: list                      # list of dicts: values, ok, error, products, converged, ...
    elapsed_s: float = 0.0
    results: list = field(default_factory=list, repr=False)

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
                "failed": len(self.failed), "elapsed_s": self.elapsed_s}

    def to_csv(self):
        names = self.product_names()
        head = self.paths + ["ok", "converged", "mass_balance_error", "iterations"] + \
            [f"{k}_{q}" for k in names for q in ("purity", "recovery")] + ["error"]
        rows = [",".join(head)]
        for p in self.points:
            vals = [str(v) for v in p["values"]]
            if p["ok"]:
                vals += ["True", str(p["converged"]), repr(p["mass_balance_error"]), str(p["iterations"])]
                vals += [repr(p["products"][k][q]) for k in names for q in ("purity", "recovery")]
                vals += [""]
            else:
                vals += ["False", "", "", ""] + [""] * (2 * len(names)) + ['"' + p["error"].replace('"', "'") + '"']
            rows.append(",".join(vals))
        return "\n".join(rows) + "\n"

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
        from .plotting import plot_sweep

        return plot_sweep([(label or self.name, self)], path=path)


def sweep(config, vary, *, progress=None) -> SweepResult:
    """Solve ``config`` at every combination of the varied values.

    Parameters
    ----------
    config : mapping or path
    vary : list of (path, values) or dict path -> values
    progress : bool, optional
        Show a progress bar (tqdm, on stderr) for sweeps longer than a second; default: when stderr
        is a terminal.
    """
    from .solvers.steady import solve

    if not isinstance(config, dict):
        config = read_yaml(config)
    items = list(vary.items()) if isinstance(vary, dict) else list(vary)
    if not items:
        raise ConfigError("--vary", "nothing to vary; give at least one KEY=SPEC")
    paths = [p for p, _ in items]
    grid = list(itertools.product(*[v for _, v in items]))
    if progress is None:
        progress = sys.stderr.isatty()
    iterator = grid
    if progress:
        from tqdm import tqdm

        iterator = tqdm(grid, delay=1.0, desc="sweep", unit="solve", file=sys.stderr)
    base = copy.deepcopy(dict(config))
    if "sections.extraction.stages" in paths:
        base["_sweep_extraction"] = base["sections"]["extraction"]["stages"]
    points, results, previous = [], [], None
    start = time.perf_counter()
    for values in iterator:
        cfg = copy.deepcopy(base)
        point = {"values": list(values), "ok": False}
        try:
            for path, value in zip(paths, values):
                set_path(cfg, path, value)
            cfg.pop("_sweep_extraction", None)
            result = solve(build_cascade(cfg), initial=previous)
        except SxModelError as exc:
            point["error"] = str(exc)
            results.append(None)
        else:
            previous = result
            point.update(ok=True, converged=result.converged, iterations=result.iterations,
                         mass_balance_error=result.mass_balance_error,
                         products={k: {"purity": p.purity, "recovery": p.recovery}
                                   for k, p in result.products.items()})
            results.append(result)
        points.append(point)
    name = config.get("name", "cascade")
    return SweepResult(name=name, paths=paths, points=points, elapsed_s=time.perf_counter() - start,
                       results=results)
