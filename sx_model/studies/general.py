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

import numpy as np

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
#: Rounds of adding stages without the worst margin rising by STALL_GAIN after which the targets are
#: declared out of reach (an operating limit more stages cannot cure, a purity the chemistry caps).
STALL_ROUNDS = 3
STALL_GAIN = 1e-6
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
    robust: dict = field(default_factory=dict)       # path -> relative margin the targets hold over
    limits: dict = field(default_factory=dict)       # operating limits kept (see operating_limits)
    decisions: dict = field(default_factory=dict)    # what was chosen (Decisions.to_dict)
    strip: dict = field(default_factory=dict)        # the strip liquor chosen (least_strip_acid), if any

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
                "robust": self.robust, "limits": self.limits, "decisions": self.decisions,
                "strip": self.strip, "history": self.history, "window": self.window}

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
                 f"{self.worst_margin:+.3g})",
                 "operating limits kept: " + _limits_text(self.limits)]
        if self.decisions and len(self.decisions.get("chosen", [])) > 1:
            lines.append("chosen: " + ", ".join(self.decisions["chosen"]))
        if self.strip:
            lines.append(_strip_text(self.strip))
        if self.robust:
            lines.append("robust: the targets hold with " + ", ".join(
                f"{k} within +-{100 * v:g} %" for k, v in self.robust.items()) + " (corners of the box checked)")
        for name, p in self.products.items():
            lines.append(f"  {name}: purity {p['purity']:.6f}, recovery {p['recovery']:.6f}")
        lines += window_lines(self.window)
        return "\n".join(lines)


#: Operating limits every design by simulation keeps by default: the organic loading as a fraction of
#: capacity (the models' own guard), and the O/A of each section (mixer-settler practice).
DEFAULT_LIMITS = {"loading": 0.95, "oa": (0.1, 10.0), "ph": None}
#: Score given below zero to a setting outside a limit (besides its violation) [-].
LIMIT_PENALTY = 1e-3


def operating_limits(cascade=None, limits=None) -> dict:
    """The limits a design keeps: :data:`DEFAULT_LIMITS` updated by ``limits`` (``loading``: largest
    loading fraction of a stage; ``oa``: (low, high) O/A of every section; ``ph``: (low, high) equilibrium
    pH of every extraction and scrub stage, or None); ConfigError on a bad value."""
    out = dict(DEFAULT_LIMITS)
    for name, value in dict(limits or {}).items():
        if name not in out:
            raise ConfigError("--limit", f"unknown limit {name!r}; expected one of {', '.join(out)}")
        if name == "loading":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise ConfigError("--limit", f"loading={value!r}; expected a fraction of capacity in (0, 1]")
            out[name] = float(value)
        elif value is None:
            out[name] = None
        else:
            low, high = (float(v) for v in value)
            if not (math.isfinite(low) and math.isfinite(high) and low < high) or (name == "oa" and low <= 0):
                raise ConfigError("--limit", f"{name}={low:g}:{high:g}; expected low < high"
                                  + (" and O/A above 0" if name == "oa" else ""))
            out[name] = (low, high)
    return out


def limit_violation(result, cascade, limits) -> float:
    """How far a solved cascade is outside its operating limits (0: within them): the loading excess
    as a fraction, the O/A excess in decades, the pH excess in pH units (the largest of them)."""
    worst = 0.0
    load = result.stage_data.get("loading_fraction")
    if load is not None and limits.get("loading") is not None and cascade.model.internal_count:
        worst = max(worst, float(np.max(load)) - limits["loading"])
    if limits.get("oa") is not None:
        low, high = limits["oa"]
        for sec in cascade.circuit.sections:
            aq, org = result.aqueous_flow[sec.first], result.organic_flow[sec.first]
            if aq > 0 and org > 0:
                ratio = org / aq
                worst = max(worst, math.log10(low / ratio), math.log10(ratio / high))
    ph = result.stage_data.get("ph")
    if ph is not None and limits.get("ph") is not None:
        low, high = limits["ph"]
        checked = np.ones(ph.size, dtype=bool)
        strip = cascade.circuit.section("strip")
        if strip is not None:
            checked[strip.first:strip.first + strip.stages] = False
        if checked.any():
            worst = max(worst, float(np.max(low - ph[checked])), float(np.max(ph[checked] - high)))
    return max(worst, 0.0)


class AcidSearch:
    """Full solves of a cascade at chosen stage counts and one continuous input (default the scrub
    acid), remembered, with the input set for the largest worst margin to the targets."""

    def __init__(self, cascade, targets, adjust=None, executor=None, robust=None, limits=None,
                 decide=None, strip_target=None, optimize=False):
        from .decisions import SPLIT, decisions
        from .design import check_robust
        from .sensitivity import continuous_inputs

        check_targets(cascade, targets)
        self.robust = check_robust(cascade, robust)
        self.limits = operating_limits(cascade, limits)
        sections = {s.name: s.stages for s in cascade.circuit.sections}
        if "extraction" not in sections or "scrub" not in sections:
            raise ConfigError("sections", "design by simulation adjusts an extraction and a scrub section; "
                                          f"this cascade has {', '.join(sections)}")
        self.decisions = decisions(cascade, decide, strip_target=strip_target, optimize=optimize)
        if self.decisions.split is not None:
            if adjust is not None and adjust != self.decisions.split:
                raise ConfigError("--decide", f"adjust={adjust!r} and the split decision "
                                              f"{self.decisions.split!r} disagree; expected one of them")
            adjust = self.decisions.split
        inlets = {i.name: i for i in cascade.circuit.inlets}
        if adjust is None:
            adjust = ("streams.scrub.acid" if "scrub" in inlets and inlets["scrub"].acid > 0
                      else "streams.organic.flow")
        _, [(nominal, unit)], [apply] = continuous_inputs(cascade, [adjust])
        if nominal <= 0:
            raise ConfigError(adjust, f"{nominal:g} {unit}: design by simulation scales this input; expected "
                                      "a value above zero to start from")
        self.bounds = self.decisions.split_range or (0.0, math.inf)
        if adjust == SPLIT["saponification"]:
            self.bounds = (self.bounds[0], min(self.bounds[1], 1.0))
        nominal = min(max(nominal, self.bounds[0]), self.bounds[1])
        self.cascade, self.targets, self.adjust = cascade, targets, adjust
        self.nominal, self.unit, self._apply = nominal, unit, apply
        self.sections = sections
        self.executor = executor or SerialExecutor()
        self.solves = 0
        self.memo = {}
        # settings of the strip inputs applied on top of the cascade (path -> SI value), see set_strip
        self.strip = {}
        self._strip_apply = {}
        for path in self.decisions.strip:
            (_, [(_, strip_unit)], [strip_apply]) = continuous_inputs(cascade, [path])
            self._strip_apply[path] = (strip_apply, strip_unit)

    def set_strip(self, settings: dict):
        """Apply these strip inputs (config path -> value [SI]) to every cascade evaluated from now on."""
        self.strip = dict(settings)

    def apply(self, stages, value):
        """The cascade at ``stages`` with the adjusted input at ``value`` [SI] (and the strip settings)."""
        edited = self.cascade.replace(stages=stages)
        for path, x in sorted(self.strip.items()):
            apply, unit = self._strip_apply[path]
            edited = apply(edited, f"{x!r} {unit}" if unit else x)
        return self._apply(edited, f"{value!r} {self.unit}" if self.unit else value)

    def evaluate(self, stages, value):
        """(worst margin, result or None) at ``stages`` and ``value`` (-inf where it fails)."""
        key = (tuple(sorted(stages.items())), round(value, 12), tuple(sorted(self.strip.items())))
        if key in self.memo:
            return self.memo[key]
        if not self.bounds[0] <= value <= self.bounds[1]:
            self.memo[key] = (-math.inf, None)         # outside the decision's range: not tried
            return self.memo[key]
        self.solves += 1
        try:
            edited = self.apply(stages, value)
        except ConfigError:
            self.memo[key] = (-math.inf, None)
            return self.memo[key]
        outcome = self.executor.solve(edited)
        if isinstance(outcome, SxModelError):
            self.memo[key] = (-math.inf, None)
            return self.memo[key]
        score = margin(outcome, self.targets)
        if self.decisions.strip_target is not None:
            from .decisions import stripped_fraction

            score = min(score, stripped_fraction(outcome, edited) - self.decisions.strip_target)
        violation = limit_violation(outcome, edited, self.limits)
        if violation > 0:
            # outside an operating limit: infeasible, and the less outside the better
            score = min(score, 0.0) - LIMIT_PENALTY * (1.0 + violation)
        from .design import robust_corners

        for corner in robust_corners(edited, self.robust):
            self.solves += 1
            result = None if corner is None else self.executor.solve(corner)
            if result is None or isinstance(result, SxModelError):
                score = min(score, -1.0)
            else:
                score = min(score, margin(result, self.targets))
        self.memo[key] = (score, outcome)
        return self.memo[key]

    def best_setting(self, stages, centre, factors=WIDE, enough=None):
        """(value, worst margin, result) with the input set for the largest worst margin: a scan of
        ``factors`` x ``centre``, then golden-section search around the best point. With ``enough``,
        the search stops at the first value whose worst margin reaches it (a feasibility check)."""
        low, high = self.bounds
        grid = list(dict.fromkeys(min(max(centre * f, low), high)
                                  for f in sorted(factors, key=lambda f: abs(f - 1.0))))
        scores = []
        for v in grid:
            scores.append(self.evaluate(stages, v)[0])
            if enough is not None and scores[-1] >= enough:
                return v, scores[-1], self.evaluate(stages, v)[1]
        order = sorted(range(len(grid)), key=lambda i: grid[i])
        grid, scores = [grid[i] for i in order], [scores[i] for i in order]
        k = max(range(len(grid)), key=lambda i: scores[i])
        lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
        ratio = (math.sqrt(5) - 1) / 2
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        fa, fb = self.evaluate(stages, a)[0], self.evaluate(stages, b)[0]
        for _ in range(GOLDEN_STEPS):
            if enough is not None and max(fa, fb) >= enough:
                break
            if fa >= fb:
                hi, b, fb = b, a, fa
                a = hi - ratio * (hi - lo)
                fa = self.evaluate(stages, a)[0]
            else:
                lo, a, fa = a, b, fb
                b = lo + ratio * (hi - lo)
                fb = self.evaluate(stages, b)[0]
        candidates = [(scores[k], grid[k]), (fa, a), (fb, b)]
        score, value = max(candidates)
        return value, score, self.evaluate(stages, value)[1]


def design_by_simulation(cascade, targets: dict, *, adjust: str | None = None, executor=None,
                         max_stages: int | None = None, robust=None, limits=None, decide=None,
                         strip_target=None) -> GeneralDesignResult:
    """Stage counts (extraction and scrub) and ``adjust`` (default: the scrub acid) that meet
    ``targets`` (product -> (purity, recovery or None)) for any model; see the module docstring.

    ``decide`` names further decision variables (:mod:`sx_model.studies.decisions`: the split input
    instead of ``adjust``, ``strip.acid`` / ``strip.flow`` for the least strip acid meeting
    ``strip_target``, ``feed.stage`` to move stages between extraction and scrub at a fixed total).

    With ``robust`` (dotted config path -> relative margin) every setting must meet the targets at the
    corners of that box of inputs too; ``limits`` (see :func:`operating_limits`) are kept throughout:
    a setting outside one counts as missing the targets.

    Raises InfeasibleDesign when the targets stay out of reach (stage limit or rounds)."""
    start = time.perf_counter()
    search = AcidSearch(cascade, targets, adjust, executor, robust=robust, limits=limits, decide=decide,
                        strip_target=strip_target)
    sections, adjust, unit = search.sections, search.adjust, search.unit
    most = min(MAX_SECTION_STAGES, max_stages or MAX_SECTION_STAGES)
    # which section purifies which product
    grows = {}
    for outlet in cascade.circuit.outlets:
        if outlet.name in targets:
            grows[outlet.name] = "extraction" if outlet.phase == AQUEOUS and outlet.stage == 0 else "scrub"
    history = []
    best_setting = search.best_setting
    stages = {"extraction": sections["extraction"], "scrub": sections["scrub"]}
    value = search.nominal
    best_score, stalled = -math.inf, 0
    for round_ in range(MAX_ROUNDS):
        value, score, result = best_setting(stages, value, WIDE if round_ == 0 else NARROW, enough=0.0)
        history.append({**{f"{k}_stages": v for k, v in stages.items()}, "value": value, "worst_margin": score})
        if result is not None and score >= 0:
            break
        stalled = stalled + 1 if score <= best_score + STALL_GAIN else 0
        best_score = max(best_score, score)
        if stalled >= STALL_ROUNDS:
            reason = ""
            if result is not None:
                violation = limit_violation(result, search.apply(stages, value), search.limits)
                if violation > 0:
                    reason = (f"; the best setting is outside the operating limits ({_limits_text(search.limits)}) "
                              f"by {violation:.3g}, which more stages do not cure")
            raise InfeasibleDesign(f"the targets are not met and {STALL_ROUNDS} rounds of adding stages "
                                   f"gained nothing (best worst margin {best_score:+.3g} at {stages}){reason}")
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
            t_value, t_score, t_result = best_setting(trial, value, NARROW, enough=0.0)
            history.append({**{f"{k}_stages": v for k, v in trial.items()}, "value": t_value,
                            "worst_margin": t_score})
            if t_result is not None and t_score >= 0:
                good, stages, value, score, result = mid, trial, t_value, t_score, t_result
            else:
                bad = mid
    if search.decisions.feed_stage:
        # the feed stage: stages moved between the sections at a fixed total, fewer in all while some
        # split of the smaller total still meets the targets
        stages, value, score, result = fewest_total_with_feed(search, stages, value, score, result, history)
    # the input at the final stage counts set for the largest worst margin (the bisection only asked
    # whether some setting meets the targets)
    f_value, f_score, f_result = best_setting(stages, value, NARROW)
    if f_result is not None and f_score >= score:
        value, score, result = f_value, f_score, f_result
    history.append({**{f"{k}_stages": v for k, v in stages.items()}, "value": value, "worst_margin": score})
    strip = {}
    if search.decisions.strip:
        strip = least_strip_acid(search, stages, value)
        score, result = search.evaluate(stages, value)
        history.append({**{f"{k}_stages": v for k, v in stages.items()}, "value": value, "worst_margin": score,
                        **{k: v for k, v in strip.items() if k.startswith("streams.")}})
    final = search.apply(stages, value)
    from .design import cliff_report

    window = cliff_report(final, {k: {"purity": p, "recovery": r} for k, (p, r) in targets.items()}) \
        if meets(result, targets) else None
    return GeneralDesignResult(
        name=cascade.name, model=cascade.model.name, targets=dict(targets), adjust=adjust, unit=unit,
        met=meets(result, targets), stages=dict(stages, **{k: v for k, v in sections.items() if k not in stages}),
        value=value, worst_margin=score,
        products={k: {"purity": p.purity, "recovery": p.recovery} for k, p in result.products.items() if p.key},
        converged=bool(result.converged), mass_balance_error=float(result.mass_balance_error),
        solves=search.solves, elapsed_s=time.perf_counter() - start, cascade=final, history=history,
        window=window, robust=dict(search.robust), limits=dict(search.limits),
        decisions=search.decisions.to_dict(), strip=strip)


def _feed_split(search, total, n, value, enough=None):
    """(value, worst margin, result) at ``n`` extraction stages of ``total`` (the split input re-set)."""
    return search.best_setting({"extraction": n, "scrub": total - n}, value, NARROW, enough=enough)


def best_feed(search, total, n0, value, enough=None):
    """The feed stage at a fixed ``total``: a climb over the extraction stage count n (1..total-1) from
    ``n0`` towards the larger worst margin, the split input re-set at each n. Returns (n, value, worst
    margin, result); with ``enough``, stops at the first n whose worst margin reaches it."""
    n0 = min(max(1, n0), total - 1)
    tried = {}

    def at(n, centre):
        if n not in tried:
            tried[n] = _feed_split(search, total, n, centre, enough)
        return tried[n]

    best_n, best = n0, at(n0, value)
    if enough is not None and best[1] >= enough:
        return best_n, *best
    for step in (1, -1):
        n = best_n
        while 1 <= n + step <= total - 1:
            candidate = at(n + step, best[0])
            if candidate[1] > best[1]:
                n, best_n, best = n + step, n + step, candidate
                if enough is not None and best[1] >= enough:
                    return best_n, *best
            else:
                break
        if best_n != n0:
            break                     # climbed one way: the other side of n0 was worse already
    return best_n, *best


def fewest_total_with_feed(search, stages, value, score, result, history):
    """From stage counts that meet the targets: the feed stage at their total set for the largest worst
    margin, then one stage fewer in all (its feed stage searched) while the targets are still met."""
    total, n = stages["extraction"] + stages["scrub"], stages["extraction"]
    while total > 2:
        trial = total - 1
        t_n, t_value, t_score, t_result = best_feed(search, trial, round(n * trial / total), value, enough=0.0)
        history.append({"extraction_stages": t_n, "scrub_stages": trial - t_n, "value": t_value,
                        "worst_margin": t_score})
        if t_result is None or t_score < 0:
            break
        total, n, value, score, result = trial, t_n, t_value, t_score, t_result
    b_n, b_value, b_score, b_result = best_feed(search, total, n, value)
    if b_result is not None and b_score >= score:
        n, value, score, result = b_n, b_value, b_score, b_result
    history.append({"extraction_stages": n, "scrub_stages": total - n, "value": value, "worst_margin": score})
    return {"extraction": n, "scrub": total - n}, value, score, result


#: Relative width to which a strip search narrows an input [-].
STRIP_TOLERANCE = 1e-3
#: Strip flows tried (log-spaced over the range) before the golden-section search, when both the strip
#: acid and flow are chosen [-].
STRIP_FLOWS = 5
STRIP_GOLDEN_STEPS = 6


def least_strip_acid(search, stages, value) -> dict:
    """The strip inputs of ``search.decisions`` set for the least acid fed with the strip liquor (flow x
    acid) at which the targets, the strip target and the limits all still hold, the other inputs fixed
    at ``stages`` and ``value``: with one input chosen, a bisection on it (more acid, or more liquor of
    the same acid, strips more); with both, the least acid at each of :data:`STRIP_FLOWS` flows across
    the range, then a golden-section search on the flow. The search starts above the stoichiometric
    acid of the metal entering the strip section and keeps the strip flow within the O/A limit. Sets
    the inputs on ``search`` and returns a record of the choice; where no setting in the ranges holds,
    the config's strip liquor is kept (``met_in_range`` False)."""
    from .sensitivity import _input_value

    acid_path, flow_path = "streams.strip.acid", "streams.strip.flow"
    search.set_strip({})
    base = {p: _input_value(search.cascade, p)[0] for p in (acid_path, flow_path)}
    ranges = dict(search.decisions.strip)
    start = search.solves
    _, now = search.evaluate(stages, value)
    strip = search.apply(stages, value).circuit.section("strip")
    # Acid below the stoichiometric need of the metal the organic brings into the strip section cannot
    # strip the target fraction of it (less stripping only brings more metal round the loop), so it is
    # not tried: below it the loop has no steady state and a solve fails slowly.
    charges = getattr(search.cascade.model, "charges", None)
    charges = np.full(now.organic.shape[1], 3.0) if charges is None else np.asarray(charges, float)
    need = search.decisions.strip_target * float(now.organic[strip.first - 1] @ charges) \
        * float(now.organic_flow[strip.first - 1])
    # the strip flow kept within the O/A limit of the strip section
    if flow_path in ranges and search.limits.get("oa") is not None:
        organic = float(now.organic_flow[strip.first])
        low, high = ranges[flow_path]
        ranges[flow_path] = (max(low, organic / search.limits["oa"][1]), min(high, organic / search.limits["oa"][0]))

    def holds(settings):
        search.set_strip(settings)
        return search.evaluate(stages, value)[0] >= 0

    def least(path, fixed):
        """Smallest value of ``path`` in its range that holds (bisection in log), or None."""
        other = fixed.get(flow_path if path == acid_path else acid_path,
                          base[flow_path if path == acid_path else acid_path])
        low, high = ranges[path]
        low = max(low, need / other)
        if not low < high or not holds({**fixed, path: high}):
            return None
        while high / low > 1 + STRIP_TOLERANCE:
            mid = math.sqrt(low * high)
            if holds({**fixed, path: mid}):
                high = mid
            else:
                low = mid
        return high

    chosen = None
    if flow_path not in ranges:                 # the acid at the config's flow
        acid = least(acid_path, {})
        chosen = None if acid is None else {acid_path: acid}
    elif acid_path not in ranges:               # the flow at the config's acid
        flow = least(flow_path, {})
        chosen = None if flow is None else {flow_path: flow}
    else:                                       # both: the least acid at each flow, then the flow
        def rate(log_flow):
            flow = math.exp(log_flow)
            acid = least(acid_path, {flow_path: flow})
            return (math.inf, None) if acid is None else (flow * acid, {flow_path: flow, acid_path: acid})

        low, high = (math.log(x) for x in ranges[flow_path])
        grid = [low + (high - low) * k / (STRIP_FLOWS - 1) for k in range(STRIP_FLOWS)]
        rates = [rate(x) for x in grid]
        k = min(range(len(grid)), key=lambda i: rates[i][0])
        if math.isfinite(rates[k][0]):
            lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
            ratio = (math.sqrt(5) - 1) / 2
            a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
            fa, fb = rate(a), rate(b)
            best = min([rates[k], fa, fb], key=lambda r: r[0])
            for _ in range(STRIP_GOLDEN_STEPS):
                if fa[0] <= fb[0]:
                    hi, b, fb = b, a, fa
                    a = hi - ratio * (hi - lo)
                    fa = rate(a)
                else:
                    lo, a, fa = a, b, fb
                    b = lo + ratio * (hi - lo)
                    fb = rate(b)
                best = min([best, fa, fb], key=lambda r: r[0])
            chosen = best[1]
    met = chosen is not None
    search.set_strip(chosen if met else {})
    settings = {**base, **(chosen or {})}
    score, result = search.evaluate(stages, value)
    from .decisions import stripped_fraction

    fraction = stripped_fraction(result, search.apply(stages, value)) if result is not None else math.nan
    return {acid_path: settings[acid_path], flow_path: settings[flow_path],
            "acid_mol_per_s": settings[acid_path] * settings[flow_path],
            "config_acid_mol_per_s": base[acid_path] * base[flow_path],
            "stripped_fraction": fraction, "strip_target": search.decisions.strip_target,
            "met_in_range": met, "solves": search.solves - start}


# -- cost-optimal designs and curves for any model ---------------------------------------------------

#: Organic flows tried by :func:`optimize_by_simulation`, as multiples of the config's [-].
FLOW_MULTIPLES = (0.85, 1.0, 1.15, 1.3, 1.5)
#: Where the cheapest design is at an end of the grid, the grid is extended past it by this factor,
#: at most this many times.
EXTEND_FACTOR = 0.85
GRID_EXTENSIONS = 4


@dataclass
class GeneralCandidate:
    """One design by simulation at one organic flow, costed."""

    multiple: float
    organic_flow: float          # [m^3/s]
    met: bool
    stages: dict
    value: float                 # the adjusted input [SI]
    usd_per_kg: float
    usd_per_year: float
    purities: dict
    recoveries: dict
    solves: int
    note: str = ""
    strip: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.stages.values())

    def to_dict(self):
        return {"organic_flow_multiple": self.multiple, "organic_flow_m3_per_s": self.organic_flow,
                "met": self.met, "stages": self.stages, "total_stages": self.total,
                "adjusted_input": self.value, "usd_per_kg": self.usd_per_kg,
                "usd_per_year": self.usd_per_year, "purity": self.purities, "recovery": self.recoveries,
                "solves": self.solves, "note": self.note, "strip": self.strip}


@dataclass
class GeneralOptimizeResult:
    """The cheapest design by simulation over a grid of organic flows, and the Pareto front."""

    name: str
    model: str
    targets: dict
    adjust: str
    unit: str
    best: GeneralCandidate
    candidates: list
    front: list
    cascade: object
    solves: int
    elapsed_s: float
    converged: bool
    mass_balance_error: float
    at_grid_end: bool = False     # the cheapest design is at an end of the (extended) flow grid
    robust: dict = field(default_factory=dict)
    limits: dict = field(default_factory=dict)
    decisions: dict = field(default_factory=dict)

    @property
    def config(self) -> dict:
        return self.cascade.to_config()

    def to_dict(self):
        return {"name": self.name, "model": self.model, "adjusted_input": self.adjust, "unit": self.unit,
                "cheapest_at_grid_end": self.at_grid_end, "robust": self.robust, "limits": self.limits,
                "decisions": self.decisions,
                "targets": {k: {"purity": p, "recovery": r} for k, (p, r) in self.targets.items()},
                "best": self.best.to_dict(), "candidates": [c.to_dict() for c in self.candidates],
                "pareto_front": [c.to_dict() for c in self.front], "solves": self.solves,
                "elapsed_s": self.elapsed_s, "converged": self.converged,
                "mass_balance_error": self.mass_balance_error}

    def to_csv(self):
        from ..results import tidy_csv

        rows = []
        for c in self.candidates:
            row = {"organic_flow_multiple": c.multiple, "organic_flow_m3_per_s": c.organic_flow, "met": c.met,
                   **{f"{k}_stages": v for k, v in c.stages.items()}, "total_stages": c.total,
                   "adjusted_input": c.value, "usd_per_kg": c.usd_per_kg, "on_front": c in self.front}
            row.update({f"{k}_purity": v for k, v in c.purities.items()})
            rows.append(row)
        return tidy_csv(rows)

    def table(self):
        b = self.best
        lines = [f"{self.name}: cheapest design by simulation ({self.model} model), organic flow x "
                 f"{', '.join(f'{c.multiple:g}' for c in self.candidates)} of the config's; "
                 f"{self.solves} cascade solves, {self.elapsed_s:.1f} s; converged {self.converged}, mass "
                 f"balance closed to {self.mass_balance_error:.1e}",
                 f"cheapest: organic flow x {b.multiple:g} ({b.organic_flow * 60000:.4g} L/min), "
                 + ", ".join(f"{k} {v}" for k, v in b.stages.items())
                 + f" stages, {self.adjust} = {b.value:.6g} {self.unit}: {b.usd_per_kg:.4f} USD/kg"
                 + (" (at the end of the flow grid: a cheaper design may lie beyond it)"
                    if self.at_grid_end else ""),
                 "operating limits kept: " + _limits_text(self.limits)
                 + ("; robust over " + ", ".join(f"{k} +-{100 * v:g} %" for k, v in self.robust.items())
                    if self.robust else ""),
                 f"{'flow x':>7} {'stages':>7} {'USD/kg':>9}  purities"]
        if b.strip:
            lines.insert(2, _strip_text(b.strip))
        if len(self.decisions.get("chosen", [])) > 1:
            lines.insert(2, "chosen at each organic flow: " + ", ".join(self.decisions["chosen"]))
        for c in self.candidates:
            mark = " *" if c is b else ("  (front)" if c in self.front else "")
            if c.met:
                lines.append(f"{c.multiple:>7g} {c.total:>7} {c.usd_per_kg:>9.4f}  "
                             + ", ".join(f"{k} {v:.5f}" for k, v in c.purities.items()) + mark)
            else:
                lines.append(f"{c.multiple:>7g} {'-':>7} {'-':>9}  not met: {c.note}")
        return "\n".join(lines)

    def to_yaml(self):
        from ..config import dump_yaml

        return dump_yaml(self.cascade, f"Cheapest design found by sx-model optimize (simulation, {self.model} "
                                       f"model): {self.best.usd_per_kg:.4f} USD/kg")

    def plot(self, path=None):
        from ..plotting import plot_general_pareto

        return plot_general_pareto(self, path=path)


def _strip_text(strip):
    """One line on the strip liquor chosen by :func:`least_strip_acid`."""
    if not strip.get("met_in_range"):
        return ("strip liquor: no setting in the searched range meets the targets and the strip target; "
                "the config's is kept")
    return (f"strip liquor: {strip['streams.strip.flow'] * 60000:.4g} L/min of {strip['streams.strip.acid'] / 1000:.4g}"
            f" mol/L acid, {strip['acid_mol_per_s'] * 60:.4g} mol/min (config: "
            f"{strip['config_acid_mol_per_s'] * 60:.4g}); strips {strip['stripped_fraction']:.6f} of the "
            f"loaded metal (target {strip['strip_target']:g})")


def _limits_text(limits):
    parts = []
    if limits.get("loading") is not None:
        parts.append(f"loading <= {100 * limits['loading']:g} % of capacity")
    if limits.get("oa") is not None:
        parts.append(f"O/A {limits['oa'][0]:g}..{limits['oa'][1]:g}")
    if limits.get("ph") is not None:
        parts.append(f"pH {limits['ph'][0]:g}..{limits['ph'][1]:g} (extraction and scrub)")
    return ", ".join(parts) or "none"


def _design_point(cascade, targets, max_stages, multiple, robust=None, limits=None, decide=None,
                  strip_target=None):
    """One grid point of :func:`optimize_by_simulation` (module level: runs in worker processes)."""
    from ..errors import ConvergenceError
    from .sensitivity import continuous_inputs

    _, [(flow, unit)], [apply] = continuous_inputs(cascade, ["streams.organic.flow"])
    edited = apply(cascade, f"{flow * multiple!r} {unit}")
    try:
        design = design_by_simulation(edited, targets, max_stages=max_stages, robust=robust, limits=limits,
                                      decide=decide, strip_target=strip_target)
    except (InfeasibleDesign, ConfigError) as exc:
        return GeneralCandidate(multiple, flow * multiple, False, {}, math.nan, math.inf, math.inf, {}, {}, 0,
                                note=str(exc)), None
    try:
        result = SerialExecutor().solve(design.cascade)
        if isinstance(result, SxModelError):
            raise result
    except ConvergenceError as exc:
        return GeneralCandidate(multiple, flow * multiple, False, design.stages, design.value, math.inf,
                                math.inf, {}, {}, design.solves, note=f"design does not solve again: {exc}"), None
    keyed = {k: p for k, p in result.products.items() if p.key}
    met = meets(result, targets)
    return GeneralCandidate(multiple, flow * multiple, met, design.stages, design.value,
                            result.cost.per_kg_product if met else math.inf,
                            result.cost.total_per_year if met else math.inf,
                            {k: p.purity for k, p in keyed.items()}, {k: p.recovery for k, p in keyed.items()},
                            design.solves + 1, note="" if met else "targets missed on re-solve",
                            strip=design.strip), \
        (design.cascade, result)


def optimize_by_simulation(cascade, targets: dict, *, multiples=FLOW_MULTIPLES, executor=None,
                           max_stages: int | None = None, extensions: int = GRID_EXTENSIONS,
                           robust=None, limits=None, decide=None, strip_target=None) -> GeneralOptimizeResult:
    """Cheapest design of any model (stage counts, organic flow, scrub acid) meeting ``targets``.

    For each organic flow on a grid (``multiples`` of the config's), :func:`design_by_simulation` finds
    the fewest extraction and scrub stages and the scrub acid that meet the targets; each design is
    solved again and costed (the config's ``cost`` section, else the defaults of
    :mod:`sx_model.cost`). More organic (and the acid and base that go with it) buys fewer stages: the
    grid traces that trade-off (the Pareto front of cost against stage count) and the cheapest point is
    returned; where it lies at an end of the grid, the grid is extended past that end (by a factor
    0.85, up to 4 times) while designs get cheaper. Grid points are independent designs and run in
    parallel through ``executor.run``. ``decide`` and ``strip_target`` are passed to every design
    (:mod:`sx_model.studies.decisions`; a saponification named there is chosen afresh at each flow).
    Raises InfeasibleDesign when no grid point meets the targets."""
    from ..cost import default_parameters

    start = time.perf_counter()
    search = AcidSearch(cascade, targets, robust=robust, limits=limits, decide=decide,   # a design's checks,
                        strip_target=strip_target, optimize=True)                       # first
    decide = search.decisions
    if cascade.cost_parameters is None:
        cascade = cascade.replace(cost_parameters=default_parameters())
    executor = executor or SerialExecutor()
    multiples = sorted(float(m) for m in multiples)
    points = executor.run(_design_point, [(cascade, targets, max_stages, m, robust, limits, decide) for m in multiples])
    # the cheapest at an end of the grid: extend the grid past that end while it gets cheaper
    for _ in range(extensions):
        good = [c for c, _ in points if c.met]
        if not good:
            break
        best = min(good, key=lambda c: c.usd_per_kg)
        ends = [points[0][0], points[-1][0]]
        if best is ends[0]:
            new = best.multiple * EXTEND_FACTOR
            points = executor.run(_design_point, [(cascade, targets, max_stages, new, robust, limits, decide)]) + points
        elif best is ends[1]:
            new = best.multiple / EXTEND_FACTOR
            points = points + executor.run(_design_point, [(cascade, targets, max_stages, new, robust, limits, decide)])
        else:
            break
    candidates = [c for c, _ in points]
    good = [(c, found) for c, found in points if c.met and found is not None]
    if not good:
        raise InfeasibleDesign("no organic flow on the grid (x " + ", ".join(f"{m:g}" for m in multiples)
                               + ") gives a design that meets the targets: "
                               + "; ".join(f"x {c.multiple:g}: {c.note}" for c in candidates))
    best, (best_cascade, best_result) = min(good, key=lambda item: item[0].usd_per_kg)
    at_end = best is candidates[0] or best is candidates[-1]
    front = []
    for c in sorted((c for c, _ in good), key=lambda c: (c.total, c.usd_per_kg)):
        if not front or c.usd_per_kg < front[-1].usd_per_kg:
            front.append(c)
    return GeneralOptimizeResult(
        name=cascade.name, model=cascade.model.name, targets=dict(targets), adjust=search.adjust,
        unit=search.unit, best=best, candidates=candidates, front=front, cascade=best_cascade,
        solves=sum(c.solves for c in candidates), elapsed_s=time.perf_counter() - start,
        converged=bool(best_result.converged), mass_balance_error=float(best_result.mass_balance_error),
        at_grid_end=at_end, robust=dict(search.robust), limits=dict(search.limits),
        decisions=search.decisions.to_dict())


@dataclass
class GeneralCurveResult:
    """Purity and recovery of each product against total stage count, the split kept in the config's
    proportion and the adjusted input (scrub acid) set for the largest worst margin at each count."""

    name: str
    model: str
    adjust: str
    unit: str
    total_stages: list
    extraction_stages: list
    scrub_stages: list
    values: list
    purities: dict
    recoveries: dict
    meets: list
    worst_margins: list
    targets: dict
    solves: int
    elapsed_s: float
    feed_stage: bool = False      # the split of each total searched (else the config's proportion)

    def to_dict(self):
        return {"name": self.name, "model": self.model, "adjusted_input": self.adjust, "unit": self.unit,
                "feed_stage_searched": self.feed_stage, "total_stages": self.total_stages, "extraction_stages": self.extraction_stages,
                "scrub_stages": self.scrub_stages, "adjusted_values": self.values, "purity": self.purities,
                "recovery": self.recoveries, "meets_targets": self.meets, "worst_margin": self.worst_margins,
                "targets": self.targets, "solves": self.solves, "elapsed_s": self.elapsed_s}

    def to_csv(self):
        from ..results import tidy_csv

        rows = []
        for i, total in enumerate(self.total_stages):
            row = {"total_stages": total, "extraction_stages": self.extraction_stages[i],
                   "scrub_stages": self.scrub_stages[i], "adjusted_input": self.values[i],
                   "meets_targets": self.meets[i], "worst_margin": self.worst_margins[i]}
            for k in self.purities:
                row[f"{k}_purity"], row[f"{k}_recovery"] = self.purities[k][i], self.recoveries[k][i]
            rows.append(row)
        return tidy_csv(rows)

    def table(self):
        names = list(self.purities)
        split = "best split (feed stage)" if self.feed_stage else "split in the config's proportion"
        lines = [f"{self.name}: purity against total stage count ({self.model} model; {split}, {self.adjust} set for the largest worst margin at each count; {self.solves} "
                 f"solves, {self.elapsed_s:.1f} s)",
                 f"{'N':>5} {'n':>5} {'m':>5} {self.unit or '-':>12} " + " ".join(f"{k + ' purity':>22}" for k in names)
                 + "  meets"]
        for i, total in enumerate(self.total_stages):
            lines.append(f"{total:>5} {self.extraction_stages[i]:>5} {self.scrub_stages[i]:>5} "
                         f"{self.values[i]:>12.6g} "
                         + " ".join(f"{self.purities[k][i]:>22.8f}" for k in names) + f"  {self.meets[i]}")
        return "\n".join(lines)

    def plot(self, path=None):
        from ..plotting import plot_curve

        return plot_curve(self, path=path)


def _curve_point(cascade, targets, stages, centre, limits=None, decide=None):
    """One total stage count of :func:`curve_by_simulation` (module level: runs in worker processes):
    (value, worst margin, result, solves, stages)."""
    search = AcidSearch(cascade, targets, limits=limits, decide=decide)
    value, score, result = search.best_setting(stages, centre, WIDE)
    if search.decisions.feed_stage:
        total = stages["extraction"] + stages["scrub"]
        n, value, score, result = best_feed(search, total, stages["extraction"], value)
        stages = {"extraction": n, "scrub": total - n}
    return value, score, result, search.solves, stages


def curve_by_simulation(cascade, targets: dict, totals, *, executor=None, limits=None,
                        decide=None) -> GeneralCurveResult:
    """Best purities at each total stage count in ``totals`` for any model: the extraction/scrub split in
    the config's proportion (at least one stage each; with ``feed.stage`` in ``decide``, the split with
    the largest worst margin, see :func:`best_feed`), the split input (the scrub acid, or organic flow,
    or the one named in ``decide``) set for the largest worst margin to ``targets``. Counts are
    independent and run in parallel through ``executor.run``."""
    start = time.perf_counter()
    search = AcidSearch(cascade, targets, limits=limits, decide=decide)
    if search.decisions.strip:
        raise ConfigError("--decide", "a curve sets no strip liquor; expected the split input or feed.stage")
    decide = search.decisions
    n0, m0 = search.sections["extraction"], search.sections["scrub"]
    splits = []
    for total in totals:
        n = min(max(1, round(total * n0 / (n0 + m0))), total - 1)
        splits.append({"extraction": n, "scrub": total - n})
    executor = executor or SerialExecutor()
    points = executor.run(_curve_point, [(cascade, targets, s, search.nominal, limits, decide) for s in splits])
    splits = [p[4] for p in points]
    names = [p for p in targets]
    purities = {k: [] for k in names}
    recoveries = {k: [] for k in names}
    for value, score, result, *_ in points:
        for k in names:
            purities[k].append(result.products[k].purity if result is not None else math.nan)
            recoveries[k].append(result.products[k].recovery if result is not None else math.nan)
    return GeneralCurveResult(
        name=cascade.name, model=cascade.model.name, adjust=search.adjust, unit=search.unit,
        total_stages=list(totals), extraction_stages=[s["extraction"] for s in splits],
        scrub_stages=[s["scrub"] for s in splits], values=[p[0] for p in points], purities=purities,
        recoveries=recoveries, meets=[p[2] is not None and p[1] >= 0 for p in points],
        worst_margins=[p[1] for p in points],
        targets={k: {"purity": p, "recovery": r} for k, (p, r) in targets.items()},
        solves=sum(p[3] for p in points), elapsed_s=time.perf_counter() - start,
        feed_stage=search.decisions.feed_stage)
