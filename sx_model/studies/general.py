"""Design by simulation for any equilibrium model (mass-action closed loops, pH correlations, ...).

The theory of countercurrent extraction gives a shortcut design only for constant separation factors
(:func:`~sx_model.studies.design.design`). For every other model the design is found by simulation:

1. At the current stage counts, the continuous input that sets the split (default: the scrub acid,
   which decides how much of the less extractable group is scrubbed back) is set where the worst
   margin to the targets is largest: a scan over 0.5-1.5 times its value, then golden-section search
   around the best point (the worst margin rises to a peak where the two products' shortfalls cross).
2. If a target is still missed, stages are added to the section that purifies the product missing it
   (the extraction section for the aqueous product leaving stage 1, the scrub section for the organic
   side's product), about 20 % at a time, and step 1 is repeated.
3. Once the targets are met, stages are removed (one at a time per section, re-setting the input each
   time) while they stay met.

Every cascade is a full solve of the model, warm-started from the previous one. The result carries the
chosen stage counts and input, the products, the solves used and the distance to the cliff (the
operating window of the organic flow and the adjusted input).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ..circuit import AQUEOUS
from ..errors import ConfigError, SxModelError
from ..theory import InfeasibleDesign
from .executors import SerialExecutor
from .window import check_targets, margin, meets

#: Golden-section iterations on the adjusted input (interval shrinks by 0.618 each) [-].
GOLDEN_STEPS = 20
#: Scan of the adjusted input (factors of its current value): wide at first, narrow once set.
WIDE = (0.5, 0.75, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5)
NARROW = (0.98, 0.995, 1.0, 1.005, 1.02)
#: Rounds of adding stages before the targets are declared out of reach [-].
MAX_ROUNDS = 40
MAX_SECTION_STAGES = 2000


@dataclass
class GeneralDesignResult:
    name: str
    model: str
    targets: dict
    adjust: str
    unit: str
    met: bool
    stages: dict                 # section -> stage count
    value: float                 # adjusted input [SI]
    worst_margin: float
    products: dict               # product -> {purity, recovery}
    converged: bool
    mass_balance_error: float
    solves: int
    elapsed_s: float
    cascade: object
    history: list = field(default_factory=list)
    window: dict | None = None

    @property
    def config(self) -> dict:
        return self.cascade.to_config()

    def to_dict(self):
        return {"name": self.name, "model": self.model, "met": self.met, "solves": self.solves,
                "elapsed_s": self.elapsed_s,
                "targets": {k: {"purity": p, "recovery": r} for k, (p, r) in self.targets.items()},
                "adjusted_input": {"path": self.adjust, "value": self.value, "unit": self.unit},
                "stages": self.stages, "worst_margin": self.worst_margin, "products": self.products,
                "converged": self.converged, "mass_balance_error": self.mass_balance_error,
                "history": self.history, "window": self.window}

    def to_csv(self):
        from ..results import tidy_csv

        return tidy_csv(self.history)

    def to_yaml(self):
        from ..config import dump_yaml

        header = (f"Cascade designed by sx-model design (simulation, {self.model} model): "
                  + ", ".join(f"{k} {s} stages" for k, s in self.stages.items())
                  + f"; {self.adjust} = {self.value:.6g} {self.unit}.\nSimulated purities: "
                  + ", ".join(f"{k} {v['purity']:.6f}" for k, v in self.products.items()))
        return dump_yaml(self.cascade, header)

    def table(self):
        from .design import window_lines

        shown = ", ".join(f"{k} purity >= {p:g}" + (f", recovery >= {r:g}" if r is not None else "")
                          for k, (p, r) in self.targets.items())
        lines = [f"{self.name}: design by simulation ({self.model} model) for {shown}",
                 f"targets met: {self.met} ({self.solves} cascade solves, {self.elapsed_s:.1f} s); converged "
                 f"{self.converged}, mass balance closed to {self.mass_balance_error:.1e}",
                 "stages: " + ", ".join(f"{k} {s}" for k, s in self.stages.items()),
                 f"{self.adjust} = {self.value:.6g} {self.unit} (set for the largest worst margin, "
                 f"{self.worst_margin:+.3g})"]
        for name, p in self.products.items():
            lines.append(f"  {name}: purity {p['purity']:.6f}, recovery {p['recovery']:.6f}")
        lines += window_lines(self.window)
        return "\n".join(lines)


def design_by_simulation(cascade, targets: dict, *, adjust: str | None = None, executor=None,
                         max_stages: int | None = None) -> GeneralDesignResult:
    """Stage counts (extraction and scrub) and ``adjust`` (default: the scrub acid) that meet
    ``targets`` (product -> (purity, recovery or None)) for any model; see the module docstring.

    Raises InfeasibleDesign when the targets stay out of reach (stage limit or rounds)."""
    from .sensitivity import continuous_inputs

    start = time.perf_counter()
    check_targets(cascade, targets)
    sections = {s.name: s.stages for s in cascade.circuit.sections}
    if "extraction" not in sections or "scrub" not in sections:
        raise ConfigError("sections", "design by simulation adjusts an extraction and a scrub section; "
                                      f"this cascade has {', '.join(sections)}")
    inlets = {i.name: i for i in cascade.circuit.inlets}
    if adjust is None:
        adjust = "streams.scrub.acid" if "scrub" in inlets and inlets["scrub"].acid > 0 else "streams.organic.flow"
    _, [(nominal, unit)], [apply] = continuous_inputs(cascade, [adjust])
    if nominal <= 0:
        raise ConfigError(adjust, f"{nominal:g} {unit}: design by simulation scales this input; expected a "
                                  "value above zero to start from")
    most = min(MAX_SECTION_STAGES, max_stages or MAX_SECTION_STAGES)
    # which section purifies which product
    grows = {}
    for outlet in cascade.circuit.outlets:
        if outlet.name in targets:
            grows[outlet.name] = "extraction" if outlet.phase == AQUEOUS and outlet.stage == 0 else "scrub"
    executor = executor or SerialExecutor()
    solves = [0]
    history = []
    memo = {}

    def evaluate(stages, value):
        key = (tuple(sorted(stages.items())), round(value, 12))
        if key in memo:
            return memo[key]
        solves[0] += 1
        try:
            edited = apply(cascade.replace(stages=stages), f"{value!r} {unit}" if unit else value)
        except ConfigError:
            memo[key] = (-math.inf, None)
            return memo[key]
        outcome = executor.solve(edited)
        memo[key] = (-math.inf, None) if isinstance(outcome, SxModelError) else (margin(outcome, targets), outcome)
        return memo[key]

    def best_setting(stages, centre, factors=WIDE):
        grid = [centre * f for f in factors]
        scores = [evaluate(stages, v)[0] for v in grid]
        k = max(range(len(grid)), key=lambda i: scores[i])
        lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
        ratio = (math.sqrt(5) - 1) / 2
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        fa, fb = evaluate(stages, a)[0], evaluate(stages, b)[0]
        for _ in range(GOLDEN_STEPS):
            if fa >= fb:
                hi, b, fb = b, a, fa
                a = hi - ratio * (hi - lo)
                fa = evaluate(stages, a)[0]
            else:
                lo, a, fa = a, b, fb
                b = lo + ratio * (hi - lo)
                fb = evaluate(stages, b)[0]
        candidates = [(scores[k], grid[k]), (fa, a), (fb, b)]
        score, value = max(candidates)
        return value, score, evaluate(stages, value)[1]

    stages = {"extraction": sections["extraction"], "scrub": sections["scrub"]}
    value = nominal
    for round_ in range(MAX_ROUNDS):
        value, score, result = best_setting(stages, value, WIDE if round_ == 0 else NARROW)
        history.append({**{f"{k}_stages": v for k, v in stages.items()}, "value": value, "worst_margin": score})
        if result is not None and score >= 0:
            break
        missing = [p for p, (purity, recovery) in targets.items()
                   if result is None or result.products[p].purity < purity
                   or (recovery is not None and result.products[p].recovery < recovery)]
        grow = {grows[p] for p in missing} or {"extraction", "scrub"}
        for section in grow:
            stages[section] += max(1, round(0.2 * stages[section]))
        if max(stages.values()) > most:
            raise InfeasibleDesign(f"the targets are not met within {most} stages per section "
                                   f"(best worst margin {score:+.3g} at {stages})")
    else:
        raise InfeasibleDesign(f"the targets are not met after {MAX_ROUNDS} rounds of adding stages")
    # fewest stages per section that still meet the targets (bisection on each section's count)
    for section in ("extraction", "scrub"):
        good, bad = stages[section], 0
        while good - bad > 1:
            mid = (good + bad) // 2
            trial = dict(stages, **{section: mid})
            t_value, t_score, t_result = best_setting(trial, value, NARROW)
            history.append({**{f"{k}_stages": v for k, v in trial.items()}, "value": t_value,
                            "worst_margin": t_score})
            if t_result is not None and t_score >= 0:
                good, stages, value, score, result = mid, trial, t_value, t_score, t_result
            else:
                bad = mid
    final = apply(cascade.replace(stages=stages), f"{value!r} {unit}" if unit else value)
    from .design import cliff_report

    window = cliff_report(final, {k: {"purity": p, "recovery": r} for k, (p, r) in targets.items()}) \
        if meets(result, targets) else None
    return GeneralDesignResult(
        name=cascade.name, model=cascade.model.name, targets=dict(targets), adjust=adjust, unit=unit,
        met=meets(result, targets), stages=dict(stages, **{k: v for k, v in sections.items() if k not in stages}),
        value=value, worst_margin=score,
        products={k: {"purity": p.purity, "recovery": p.recovery} for k, p in result.products.items() if p.key},
        converged=bool(result.converged), mass_balance_error=float(result.mass_balance_error),
        solves=solves[0], elapsed_s=time.perf_counter() - start, cascade=final, history=history, window=window)
