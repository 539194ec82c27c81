"""Three-outlet cascades: where to draw the middle product.

A side draw takes a fixed fraction of one phase's outflow from one stage (a third outlet between the
raffinate and the organic side's product). :func:`choose_draw` solves the cascade with the draw at every
candidate stage and phase (a warm-started chain along the stages, through the executor) and picks the
one where the middle product is purest, or, with targets, where the worst margin to the targets of all
keyed products is largest (ties broken by the middle product's recovery). Every candidate is a full
solve; failed solves are reported, never chosen.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..circuit import AQUEOUS, ORGANIC, anchor_of
from ..errors import ConfigError, SxModelError
from .executors import SerialExecutor
from .window import check_targets, margin


@dataclass
class DrawResult:
    """Every candidate draw (phase, stage) with its products, and the chosen one."""

    name: str
    product: str
    rows: list              # dicts: phase, stage, score, purity and recovery of every keyed product
    best: dict
    cascade: object          # the cascade with the chosen draw
    converged: bool
    mass_balance_error: float
    targets: dict

    def to_dict(self):
        return {"name": self.name, "product": self.product, "best": self.best, "candidates": self.rows,
                "targets": {k: {"purity": p, "recovery": r} for k, (p, r) in self.targets.items()},
                "converged": self.converged, "mass_balance_error": self.mass_balance_error}

    def to_csv(self):
        from ..results import tidy_csv

        return tidy_csv(self.rows)

    def table(self):
        b = self.best
        basis = ("the largest worst margin to the targets" if self.targets
                 else f"the purest {self.product}")
        lines = [f"{self.name}: draw of {self.product} chosen for {basis}",
                 f"chosen: {b['phase']} of stage {b['stage']}: {self.product} purity {b[self.product + '_purity']:.6f}, "
                 f"recovery {b[self.product + '_recovery']:.6f} (converged {self.converged}, mass balance closed "
                 f"to {self.mass_balance_error:.1e})",
                 f"{'phase':<8} {'stage':>5} {'purity':>10} {'recovery':>10}"]
        for row in self.rows:
            mark = " *" if row is b else ""
            if row.get("failed"):
                lines.append(f"{row['phase']:<8} {row['stage']:>5}   solve failed: {row['failed']}")
            else:
                lines.append(f"{row['phase']:<8} {row['stage']:>5} {row[self.product + '_purity']:>10.6f} "
                             f"{row[self.product + '_recovery']:>10.6f}{mark}")
        return "\n".join(lines)

    def to_yaml(self):
        from ..config import dump_yaml

        return dump_yaml(self.cascade, f"{self.product} drawn from the {self.best['phase']} of stage "
                                       f"{self.best['stage']} (sx-model draw)")

    def plot(self, path=None):
        from ..plotting import plot_draw

        return plot_draw(self, path=path)


def moved_draw(cascade, product: str, phase: str, stage: int):
    """``cascade`` with side draw ``product`` taken from ``phase`` of the 0-based ``stage``."""
    circuit = cascade.circuit
    sections = {s.name: s for s in circuit.sections}
    outlets = [replace(o, phase=phase, stage=stage, anchor=anchor_of(sections, stage)) if o.name == product else o
               for o in circuit.outlets]
    out = replace(cascade, circuit=replace(circuit, outlets=outlets))
    out.warnings = list(cascade.warnings)
    return out


def choose_draw(cascade, product: str, *, targets: dict | None = None, phases=(AQUEOUS, ORGANIC),
                stages=None, executor=None) -> DrawResult:
    """The stage and phase of side draw ``product`` that give the purest middle product, or with
    ``targets`` (product -> (purity, recovery or None)) the largest worst margin to them (see module
    docstring). ``stages``: 1-based candidate stages (default all)."""
    outlet = next((o for o in cascade.circuit.outlets if o.name == product), None)
    if outlet is None:
        raise ConfigError("--product", f"{product!r}; expected one of the outlets "
                                       f"({', '.join(o.name for o in cascade.circuit.outlets)})")
    if outlet.fraction >= 1.0:
        raise ConfigError("--product", f"{product!r} is an end outlet; expected a side draw (a product with "
                                       "phase, stage and fraction)")
    if not cascade.product_keys.get(product):
        raise ConfigError("--product", f"{product!r} has no key components; expected a keyed side draw")
    for phase in phases:
        if phase not in (AQUEOUS, ORGANIC):
            raise ConfigError("--phase", f"{phase!r}; expected aqueous or organic")
    targets = dict(targets or {})
    if targets:
        check_targets(cascade, targets)
    n = cascade.stage_count
    stages = list(range(1, n + 1)) if stages is None else list(stages)
    for s in stages:
        if isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= n:
            raise ConfigError("--stages", f"{s!r}; expected stages from 1 to {n}")
    # a stage whose outflow of that phase leaves the cascade (an end outlet) has nothing to draw from
    links = cascade.circuit.links
    candidates = [(phase, s) for phase in phases for s in stages if links[phase][s - 1] >= 0]
    if not candidates:
        raise ConfigError("--stages", "no candidate stage: every one given is where that phase leaves the cascade")
    executor = executor or SerialExecutor()
    outcomes = list(executor.map([moved_draw(cascade, product, phase, s - 1) for phase, s in candidates]))
    rows, best, best_key, best_result = [], None, None, None
    for (phase, s), outcome in zip(candidates, outcomes):
        row = {"phase": phase, "stage": s}
        if isinstance(outcome, SxModelError):
            row["failed"] = str(outcome).split(";")[0]
            row["score"] = -math.inf
            rows.append(row)
            continue
        for name, p in outcome.products.items():
            if p.key:
                row[f"{name}_purity"], row[f"{name}_recovery"] = p.purity, p.recovery
        middle = outcome.products[product]
        row["score"] = margin(outcome, targets) if targets else middle.purity
        rows.append(row)
        key = (row["score"], middle.recovery)
        if best_key is None or key > best_key:
            best, best_key, best_result = row, key, outcome
    if best is None:
        raise SxModelError(f"no candidate draw of {product!r} solved")
    chosen = moved_draw(cascade, product, best["phase"], best["stage"] - 1)
    return DrawResult(name=cascade.name, product=product, rows=rows, best=best, cascade=chosen,
                      converged=bool(best_result.converged),
                      mass_balance_error=float(best_result.mass_balance_error), targets=targets)
