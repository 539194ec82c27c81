"""Cost-optimal cascades and cost against stage count (Pareto front).

The product split S - W is fixed by the targets (material balance), so a design is set by the reflux
W (S follows) and the integer stage counts n, m. For each reflux on a grid of multiples of the minimum
reflux, the checked stage search of :mod:`sx_model.studies.design` finds the fewest stages that meet
the targets by simulation (stage counts are integers throughout: nothing is rounded from a relaxed
optimum); each such design is costed (:mod:`sx_model.cost`). The cheapest is refined on W by a
golden-section search and then by a neighbour check (one stage more or less in a section, flows
+/- 5 %), moving to any cheaper neighbour that meets the targets. Fewer stages need more reflux
(acid, base, solvent), more stages more capital: the grid traces that trade-off, the Pareto front.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..theory import (InfeasibleDesign, minimum_reflux, mixed_extraction_ratios, organic_product_fraction,
                      purification_factors, stage_counts)
from .design import MAX_SECTION_STAGES, Checker, cliff_report, summary, window_lines
from .problem import Targets, TwoProductProblem

#: Reflux grid, multiples of the minimum reflux W_min [-].
REFLUX_MULTIPLES = (1.05, 1.1, 1.2, 1.35, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0)
#: Relative flow change of the neighbour check [-].
FLOW_STEP = 0.05


@dataclass
class Candidate:
    """One checked design and its cost."""

    n: int
    m: int
    s: float
    w: float
    usd_per_kg: float
    usd_per_year: float
    purities: dict
    recoveries: dict
    breakdown: dict = field(default_factory=dict)

    @property
    def stages(self):
        return self.n + self.m

    def to_dict(self):
        return {"extraction_stages": self.n, "scrub_stages": self.m, "total_stages": self.stages,
                "s": self.s, "w": self.w, "usd_per_kg": self.usd_per_kg,
                "usd_per_year": self.usd_per_year, "purity": self.purities,
                "recovery": self.recoveries, "cost_breakdown": self.breakdown}


@dataclass
class OptimizeResult:
    """The cheapest design, the runners-up, the Pareto front of cost against stage count."""

    name: str
    best: Candidate
    candidates: list
    front: list
    solves: int
    neighbours_checked: list
    cascade: object  # the cheapest design
    elapsed_s: float = 0.0
    robust: dict = field(default_factory=dict)      # path -> relative margin every candidate holds
    window: dict | None = None                      # operating window of the cheapest design

    @property
    def config(self) -> dict:
        """The cheapest design as a config mapping."""
        return self.cascade.to_config()

    def runners_up(self, count=3):
        others = sorted((c for c in self.candidates if c is not self.best), key=lambda c: c.usd_per_kg)
        return others[:count]

    def to_dict(self):
        return {"name": self.name, "best": self.best.to_dict(),
                "runners_up": [c.to_dict() for c in self.runners_up()],
                "pareto_front": [c.to_dict() for c in self.front],
                "candidates": [c.to_dict() for c in self.candidates], "solves": self.solves,
                "solves_per_second": self.solves / self.elapsed_s if self.elapsed_s else None,
                "neighbours_checked": self.neighbours_checked, "elapsed_s": self.elapsed_s,
                "robust": self.robust, "window": self.window}

    def to_csv(self):
        rows = ["total_stages,extraction_stages,scrub_stages,s,w,usd_per_kg,usd_per_year,on_front,best"]
        for c in sorted(self.candidates, key=lambda c: (c.stages, c.usd_per_kg)):
            rows.append(f"{c.stages},{c.n},{c.m},{c.s!r},{c.w!r},{c.usd_per_kg!r},{c.usd_per_year!r},"
                        f"{c in self.front},{c is self.best}")
        return "\n".join(rows) + "\n"

    def table(self):
        b = self.best
        lines = [f"{self.name}: cheapest design meeting the targets ({self.solves} cascade solves, "
                 f"{self.elapsed_s:.1f} s)",
                 f"  n = {b.n}, m = {b.m} ({b.stages} stages), S = {b.s:.4f}, W = {b.w:.4f} per mol feed",
                 f"  {b.usd_per_kg:.4f} USD/kg oxide product, {b.usd_per_year:,.0f} USD/yr",
                 "  purity: " + ", ".join(f"{k} {v:.6f}" for k, v in b.purities.items())]
        if self.robust:
            lines.append("  every candidate meets the targets with " + ", ".join(
                f"{k} +-{v:.3g}" for k, v in self.robust.items()) + " (robust design)")
        lines += window_lines(self.window) + ["", "runners-up:"]
        for c in self.runners_up():
            lines.append(f"  n = {c.n:>4}, m = {c.m:>4}, W = {c.w:.4f}: {c.usd_per_kg:.4f} USD/kg")
        lines += ["", "Pareto front (cost per kg against total stages):",
                  f"{'stages':>8} {'n':>5} {'m':>5} {'W':>9} {'USD/kg':>10}"]
        for c in self.front:
            mark = "  <- chosen" if c is self.best else ""
            lines.append(f"{c.stages:>8} {c.n:>5} {c.m:>5} {c.w:>9.4f} {c.usd_per_kg:>10.4f}{mark}")
        return "\n".join(lines)

    def plot(self, path=None):
        from ..plotting import plot_pareto

        return plot_pareto(self, path=path)


class _Search:
    """Checked designs along the reflux, each costed, remembered by (n, m, W)."""

    def __init__(self, cascade, targets, max_stages, executor, robust=None):
        from ..cost import default_parameters

        if cascade.cost_parameters is None:
            cascade = cascade.replace(cost_parameters=default_parameters())
        self.problem = problem = TwoProductProblem(cascade)
        self.targets, self.max_stages = targets, max_stages
        self.pa, self.pb = problem.required_purities(targets)
        self.product = organic_product_fraction(self.pa, self.pb, problem.fraction_a)
        w_min, _ = minimum_reflux(problem.beta, self.product, problem.feed_phase)
        self.w_min = w_min if w_min > 0 else self.product / (problem.beta - 1.0)
        self.checker = Checker(problem, targets, self.pa, self.pb, executor=executor, robust=robust)
        self.evaluated = {}

    def s_of(self, w):
        return w + self.product if self.problem.feed_phase == "aqueous" else w + self.product - 1.0

    def evaluate(self, w):
        """Checked design at reflux W (S = W + f'_A); None where the targets cannot be met."""
        problem, s = self.problem, self.s_of(w)
        a, b = purification_factors(self.pa, self.pb, problem.fraction_a)
        try:
            n_real, m_real = stage_counts(problem.beta, a, b, *mixed_extraction_ratios(s, w, problem.feed_phase))
        except InfeasibleDesign:
            return None
        most = min(MAX_SECTION_STAGES, self.max_stages or MAX_SECTION_STAGES)
        if max(n_real, m_real) > most or (self.max_stages is not None and n_real + m_real > self.max_stages):
            return None     # more stages than will be searched: not a candidate
        # (robust designs may trim the reflux: where the window is set by the material balance, more
        # stages alone cannot centre it)
        n, m, s, w, _, met, _ = self.checker.search(max(1, math.ceil(n_real)), max(1, math.ceil(m_real)),
                                                    s, w, move_reflux=bool(self.checker.robust))
        if not met or (self.max_stages is not None and n + m > self.max_stages):
            return None
        return self.cost_of(n, m, w, s)

    def cost_of(self, n, m, w, s=None):
        """The costed design (n, m, W) if it meets the targets, else None (S = W + f'_A unless given)."""
        s = self.s_of(w) if s is None else s
        key = (n, m, round(w, 10), round(s, 10))
        if key not in self.evaluated:
            cascade = self.problem.build(n, m, s, w)
            result = self.checker.solve(cascade)
            if isinstance(result, Exception):
                raise result
            cand = None
            products = result.products
            if self.checker.robust:      # worst case over the robust margins decides
                products = self.checker.worst_case(cascade, summary(result))["products"]
            if (self.problem.meets(products, self.targets) and result.cost is not None
                    and math.isfinite(result.cost.per_kg_product)):
                cand = Candidate(n, m, s, w, result.cost.per_kg_product, result.cost.total_per_year,
                                 {k: p.purity for k, p in result.products.items()},
                                 {k: p.recovery for k, p in result.products.items()}, dict(result.cost.items))
            self.evaluated[key] = cand
        return self.evaluated[key]

    def golden(self, best, reflux_multiples, candidates):
        """Golden-section refinement of W between the grid neighbours of the best point."""
        ws = sorted(k * self.w_min for k in reflux_multiples)
        i = min(range(len(ws)), key=lambda k: abs(ws[k] - best.w))
        lo, hi = ws[max(i - 1, 0)], ws[min(i + 1, len(ws) - 1)]
        ratio = (math.sqrt(5) - 1) / 2
        for _ in range(6):
            w1, w2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
            c1, c2 = self.evaluate(w1), self.evaluate(w2)
            candidates.extend(c for c in (c1, c2) if c is not None)
            if (c1.usd_per_kg if c1 else math.inf) <= (c2.usd_per_kg if c2 else math.inf):
                hi = w2
            else:
                lo = w1
        return min(candidates, key=lambda c: c.usd_per_kg)

    def neighbours(self, best, candidates):
        """Move to any cheaper design one stage more or less per section, or W (and S) +/- 5 %."""
        checked = []
        for _ in range(20):
            moved = False
            for n, m, w in ((best.n + 1, best.m, best.w), (best.n - 1, best.m, best.w),
                            (best.n, best.m + 1, best.w), (best.n, best.m - 1, best.w),
                            (best.n, best.m, best.w * (1 + FLOW_STEP)),
                            (best.n, best.m, best.w * (1 - FLOW_STEP))):
                if min(n, m) < 1 or (self.max_stages is not None and n + m > self.max_stages):
                    continue
                cand = self.cost_of(n, m, w)
                checked.append({"n": n, "m": m, "w": w, "meets": cand is not None,
                                "usd_per_kg": cand.usd_per_kg if cand else None})
                if cand is not None:
                    candidates.append(cand)
                    if cand.usd_per_kg < best.usd_per_kg - 1e-12:
                        best, moved = cand, True
                        break
            if not moved:
                break
        return best, checked


def optimize(cascade, targets: Targets, *, max_stages=None, reflux_multiples=REFLUX_MULTIPLES,
             executor=None, robust=None) -> OptimizeResult:
    """Cheapest cascade (stage counts, reflux, flows) that meets ``targets`` by simulation.

    Uses the cascade's cost parameters (the defaults of :mod:`sx_model.cost` if it has none). With
    ``robust`` (path -> relative margin) a design counts only if it meets the targets with each named
    input at both ends of its margin (see :class:`~sx_model.studies.design.Checker`); the report gives
    the cheapest design's distance to its cliff either way.
    """
    import time

    start = time.perf_counter()
    search = _Search(cascade, targets, max_stages, executor, robust)
    candidates = [c for c in (search.evaluate(k * search.w_min) for k in reflux_multiples) if c is not None]
    if not candidates:
        raise InfeasibleDesign("no reflux on the grid gives a design that meets the targets within "
                               + (f"{max_stages} stages" if max_stages else
                                  f"{MAX_SECTION_STAGES} stages per section"))
    best = search.golden(min(candidates, key=lambda c: c.usd_per_kg), reflux_multiples, candidates)
    best, checked = search.neighbours(best, candidates)
    unique = {(c.n, c.m, round(c.w, 10), round(c.s, 10)): c for c in candidates}
    best = unique[(best.n, best.m, round(best.w, 10), round(best.s, 10))]
    candidates = list(unique.values())
    chosen = search.problem.build(best.n, best.m, best.s, best.w)
    problem = search.problem
    window = cliff_report(chosen, {problem.organic_name: {"purity": targets.purity_a, "recovery": targets.recovery_a},
                                   problem.raffinate_name: {"purity": targets.purity_b,
                                                            "recovery": targets.recovery_b}})
    return OptimizeResult(name=cascade.name, best=best, candidates=candidates, front=_pareto(candidates),
                          solves=search.checker.solves, neighbours_checked=checked[-6:], cascade=chosen,
                          elapsed_s=time.perf_counter() - start, robust=search.checker.robust, window=window)


def _pareto(candidates):
    """Designs not beaten on both total stages and cost per kg, sorted by stage count."""
    front = []
    for c in sorted(candidates, key=lambda c: (c.stages, c.usd_per_kg)):
        if not front or c.usd_per_kg < front[-1].usd_per_kg - 1e-12:
            front.append(c)
    return front


def pareto(cascade, targets: Targets, *, max_stages=None, executor=None, robust=None):
    """Cost per kg against total stage count: the Pareto front of :func:`optimize`'s designs."""
    return optimize(cascade, targets, max_stages=max_stages, executor=executor, robust=robust)
