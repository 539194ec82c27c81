"""Cascade design checked by simulation, and purity against stage count.

:func:`design` takes a separation-factor cascade and purity (and recovery) targets for its two
products, computes the static design of the theory of countercurrent extraction
(:mod:`sx_model.theory`) on the key pair, builds that cascade, simulates it with the steady-state
solver and, where the simulated products miss the targets, adds stages to the section that purifies
the missing product (and trims the reflux where the material balance, not the stage count, is the
limit) until the targets are met; then removes stages while they stay met. :func:`curve` gives, for
each total stage count, the best split between the sections at the design flows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import ConfigError, ConvergenceError, IllPosedCascade
from ..theory import InfeasibleDesign, mixed_extraction_ratios
from .executors import SerialExecutor
from .problem import Targets, TwoProductProblem

#: Most simulate-and-adjust rounds before a design is declared infeasible [-].
MAX_ROUNDS = 60
#: Stage counts above which a section is declared infeasible [-].
MAX_SECTION_STAGES = 2000
#: Robust design checks every corner of the box of margins up to this many inputs (2^k solves per
#: candidate), beyond it each input's two ends.
ROBUST_CORNERS_UP_TO = 4


@dataclass
class DesignResult:
    """A design: the shortcut figures, the simulated check, the final cascade and its config."""

    name: str
    key_pair: tuple
    beta: float
    targets: dict
    shortcut: dict
    shortcut_simulated: dict
    final: dict
    final_simulated: dict
    met: bool
    solves: int
    cascade: object
    history: list = field(default_factory=list)
    robust: dict = field(default_factory=dict)      # path -> relative margin the design holds
    window: dict | None = None                      # operating window of the final design

    @property
    def config(self) -> dict:
        """The checked design as a config mapping."""
        return self.cascade.to_config()

    def to_dict(self) -> dict:
        return {"name": self.name, "key_pair": list(self.key_pair), "beta": self.beta,
                "targets": self.targets, "met": self.met, "solves": self.solves,
                "shortcut": self.shortcut, "shortcut_simulated": self.shortcut_simulated,
                "final": self.final, "final_simulated": self.final_simulated, "history": self.history,
                "robust": self.robust, "window": self.window}

    def to_yaml(self) -> str:
        """The checked design as a YAML config with a comment header."""
        from ..config import dump_yaml

        header = (f"Cascade designed by sx-model design: key pair {self.key_pair[0]}/{self.key_pair[1]}, "
                  f"beta {self.beta:.4g}.\nSimulated purities: "
                  + ", ".join(f"{k} {v['purity']:.6f}" for k, v in self.final_simulated["products"].items()))
        return dump_yaml(self.cascade, header)

    def to_csv(self) -> str:
        rows = ["quantity,shortcut,final"]
        for key in ("extraction_stages", "scrub_stages", "feed_stage", "s", "w", "e_m", "e_m_prime",
                    "organic_l_per_min", "scrub_l_per_min", "feed_l_per_min"):
            rows.append(f"{key},{self.shortcut.get(key, '')},{self.final.get(key, '')}")
        for name in self.final_simulated["products"]:
            for q in ("purity", "recovery"):
                rows.append(f"{name}_{q},{self.shortcut_simulated['products'][name][q]},"
                            f"{self.final_simulated['products'][name][q]}")
        return "\n".join(rows) + "\n"

    def table(self) -> str:
        s, f = self.shortcut, self.final
        lines = [f"{self.name}: design for key pair {self.key_pair[0]}/{self.key_pair[1]} "
                 f"(beta {self.beta:.4g}); targets "
                 + ", ".join(f"{k} {v}" for k, v in self.targets.items()),
                 f"targets met: {self.met} ({self.solves} cascade solves)", "",
                 f"{'':<24}{'shortcut':>14}{'checked':>14}"]
        for label, key, fmt in (("extraction stages n", "extraction_stages", "d"),
                                ("scrub stages m", "scrub_stages", "d"),
                                ("feed stage", "feed_stage", "d"),
                                ("S (mol/mol feed)", "s", ".4f"), ("W (mol/mol feed)", "w", ".4f"),
                                ("E_M", "e_m", ".4f"), ("E'_M", "e_m_prime", ".4f"),
                                ("organic (L/min)", "organic_l_per_min", ".4g"),
                                ("scrub (L/min)", "scrub_l_per_min", ".4g"),
                                ("feed (L/min)", "feed_l_per_min", ".4g")):
            lines.append(f"{label:<24}{format(s[key], fmt):>14}{format(f[key], fmt):>14}")
        lines.append(f"{'S_min, W_min':<24}{s['s_min']:>14.4f}{s['w_min']:>14.4f}")
        lines.append(f"{'total-reflux stages':<24}{s['minimum_total_stages']:>14.2f}")
        for name in self.final_simulated["products"]:
            a = self.shortcut_simulated["products"][name]
            b = self.final_simulated["products"][name]
            lines.append(f"{name + ' purity':<24}{a['purity']:>14.6f}{b['purity']:>14.6f}")
            lines.append(f"{name + ' recovery':<24}{a['recovery']:>14.6f}{b['recovery']:>14.6f}")
        if self.robust:
            lines.append("purities and recoveries are the worst with " + ", ".join(
                f"{k} +-{v:.3g}" for k, v in self.robust.items()) + " (robust design)")
        lines += window_lines(self.window)
        return "\n".join(lines)


def window_lines(window) -> list:
    """Table lines saying how far a design is from its cliff."""
    if not window:
        return []
    lines = ["distance to the cliff (targets hold with one input changed, the others at the design):"]
    for w in window["inputs"]:
        low = "beyond search" if w["low_fraction"] is None else f"{w['low_fraction']:+.3%}"
        high = "beyond search" if w["high_fraction"] is None else f"{w['high_fraction']:+.3%}"
        lines.append(f"  {w['path']:<30} {low} .. {high}")
    cliff = window["nearest_cliff"]
    if cliff["relative_distance"] is not None:
        lines.append(f"  nearest cliff: {cliff['input']} changed by {cliff['relative_distance']:.3%}")
    return lines


def summary(result) -> dict:
    """Convergence, closure, purity and recovery of a result, as plain data."""
    return {"converged": result.converged, "mass_balance_error": result.mass_balance_error,
            "products": {k: {"purity": p.purity, "recovery": p.recovery}
                         for k, p in result.products.items()}}


def check_robust(cascade, robust) -> dict:
    """``robust`` (path -> relative margin) checked against ``cascade`` (ConfigError naming the input)."""
    from .sensitivity import continuous_inputs

    out = {}
    for path, fraction in dict(robust or {}).items():
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
            raise ConfigError("--robust", f"{path}={fraction!r}; expected a relative margin between 0 and 1 "
                                          "such as streams.organic.flow=0.1%")
        out[str(path)] = float(fraction)
    continuous_inputs(cascade, out)          # each a continuous input of the cascade
    return out


def design(cascade, targets: Targets, *, name=None, executor=None, robust=None) -> DesignResult:
    """Design a two-product cascade for ``targets`` and check it by simulation.

    Parameters
    ----------
    cascade : Cascade
        A separation_factor cascade (its flows and stage counts are replaced).
    targets : Targets
    executor : optional
        Solves the cascades (default: :class:`SerialExecutor`, warm-started from the previous one).
    robust : dict, optional
        Dotted config path -> relative margin: the design must meet the targets with each of these
        inputs anywhere in +-margin (checked at the corners of the box; see :class:`Checker`).

    Raises
    ------
    ConfigError
        The cascade is not a two-product separation-factor cascade.
    InfeasibleDesign
        The targets cannot be met (shortcut infeasible, or the checked search hits its limits).
    """
    problem = TwoProductProblem(cascade)
    pa, pb, sc = problem.shortcut(targets)
    if max(sc.extraction_stages, sc.scrub_stages) > MAX_SECTION_STAGES:
        raise InfeasibleDesign(f"the theory's design needs {sc.extraction_stages} + {sc.scrub_stages} stages "
                               f"for these targets (beta {problem.beta:.4g}); more than "
                               f"{MAX_SECTION_STAGES} stages per section are not searched")
    checker = Checker(problem, targets, pa, pb, executor=executor, robust=robust)
    first = checker.simulate(sc.extraction_stages, sc.scrub_stages, sc.s, sc.w)
    if first is None:
        raise InfeasibleDesign("the shortcut design could not be simulated (solver failure)")
    n, m, s, w, current, met, history = checker.search(sc.extraction_stages, sc.scrub_stages, sc.s,
                                                        sc.w, move_reflux=True)
    final = problem.build(n, m, s, w)
    if name:
        final = final.replace(name=name)
    shortcut = sc.to_dict() | problem.figures(sc.extraction_stages, sc.scrub_stages, sc.s, sc.w)
    tgt = {problem.organic_name: {"purity": targets.purity_a, "recovery": targets.recovery_a},
           problem.raffinate_name: {"purity": targets.purity_b, "recovery": targets.recovery_b}}
    window = cliff_report(final, tgt) if met else None
    return DesignResult(name=cascade.name, key_pair=problem.key_pair, beta=problem.beta, targets=tgt,
                        shortcut=shortcut, shortcut_simulated=first, final=problem.figures(n, m, s, w),
                        final_simulated=current, met=met, solves=checker.solves, cascade=final,
                        history=history, robust=checker.robust, window=window)


def cliff_report(cascade, targets) -> dict | None:
    """How far a design is from its cliff: the operating window of the organic flow and the scrub
    acid (plain data), or None if it cannot be computed."""
    from ..errors import SxModelError
    from .window import operating_window

    pairs = {k: (v["purity"], v["recovery"]) for k, v in targets.items()}
    try:
        return operating_window(cascade, pairs).to_dict()
    except SxModelError:
        return None


def robust_corners(cascade, robust) -> list:
    """``cascade`` at the corners of the box of robust margins ``robust`` (path -> relative margin):
    every input at -margin or +margin, 2^k cascades for k inputs, k <= ``ROBUST_CORNERS_UP_TO``; beyond
    that each input at both ends with the others nominal. Edits refused by the config's checks give
    None."""
    import itertools

    from .sensitivity import continuous_inputs

    if not robust:
        return []
    paths, values, applies = continuous_inputs(cascade, robust)
    edits = [(apply, value, unit, robust[path]) for path, (value, unit), apply in zip(paths, values, applies)]
    if len(edits) <= ROBUST_CORNERS_UP_TO:
        corners = list(itertools.product((-1.0, 1.0), repeat=len(edits)))
    else:
        corners = [tuple(sign if j == i else 0.0 for j in range(len(edits)))
                   for i in range(len(edits)) for sign in (-1.0, 1.0)]
    out = []
    for signs in corners:
        edited = cascade
        try:
            for (apply, value, unit, fraction), sign in zip(edits, signs):
                if sign:
                    changed = value * (1.0 + sign * fraction)
                    edited = apply(edited, f"{changed!r} {unit}" if unit else changed)
        except ConfigError:
            edited = None
        out.append(edited)
    return out


class Checker:
    """Simulate-and-adjust search for the stage counts that meet the targets at given flows.

    With ``robust`` (dotted config path -> relative margin, e.g. ``{"streams.organic.flow": 0.001}``)
    every cascade is also solved at the corners of the box of margins (all inputs changed together,
    each by -margin or +margin), and the summary holds the worst purity and recovery of each product
    over those solves (a solve that fails counts as purity and recovery 0): the search then looks for
    designs that meet the targets across the whole box, not just at the nominal point. (Purity and
    recovery move monotonically with flows and acid, so the corners bound the box.)
    """

    def __init__(self, problem, targets, pa, pb, executor=None, robust=None):
        self.problem, self.targets, self.pa, self.pb = problem, targets, pa, pb
        self.executor = executor or SerialExecutor()
        self.solves = 0
        self.cache = {}
        self.last_error = None
        self.robust = check_robust(problem.cascade, robust)

    def perturbed(self, cascade):
        """The cascades at the corners of the box of robust margins (:func:`robust_corners`)."""
        return robust_corners(cascade, self.robust)

    def worst_case(self, cascade, base):
        """``base`` summary with each product's purity and recovery replaced by their worst values
        over the robust perturbations of ``cascade``."""
        worst = {k: dict(v) for k, v in base["products"].items()}
        for edited in self.perturbed(cascade):
            result = None if edited is None else self.solve(edited)
            failed = result is None or isinstance(result, (ConvergenceError, ConfigError))
            for name, product in worst.items():
                for q in ("purity", "recovery"):
                    value = 0.0 if failed else getattr(result.products[name], q)
                    if value is not None and product[q] is not None:
                        product[q] = min(product[q], value)
        return dict(base, products=worst, robust={k: v for k, v in self.robust.items()})

    def solve(self, cascade):
        """Solve one cascade through the executor; the result, or the ConvergenceError or ConfigError
        it raised."""
        self.solves += 1
        return self.executor.solve(cascade)

    def simulate(self, n, m, s, w):
        """Summary of the cascade (n, m, S, W), or None where it cannot be solved (e.g. an organic
        that cannot be loaded)."""
        key = (n, m, round(s, 12), round(w, 12))
        if key not in self.cache:
            cascade = self.problem.build(n, m, s, w)
            result = self.solve(cascade)
            if isinstance(result, (ConvergenceError, ConfigError)):
                self.cache[key] = None
                self.last_error = result
            else:
                base = summary(result)
                self.cache[key] = self.worst_case(cascade, base) if self.robust else base
        return self.cache[key]

    def search(self, n, m, s, w, *, move_reflux):
        """From (n, m) at (S, W): add stages until the targets are met (moving W when stages stop
        helping, if ``move_reflux``), then remove stages while they stay met."""
        problem, targets, pa, pb = self.problem, self.targets, self.pa, self.pb
        current = self.simulate(n, m, s, w)
        if current is None:
            return n, m, s, w, None, False, []
        history = [{"n": n, "m": m, "w": w, **{k: v["purity"] for k, v in current["products"].items()}}]
        for _ in range(MAX_ROUNDS):
            if problem.meets(current["products"], targets):
                break
            prod_a = current["products"][problem.organic_name]
            prod_b = current["products"][problem.raffinate_name]
            e_m, e_mp = mixed_extraction_ratios(s, w, problem.feed_phase)
            grow_m = _stages_to_add(prod_a["purity"], pa, problem.beta / e_mp)
            grow_n = _stages_to_add(prod_b["purity"], pb, problem.beta * e_m)
            if grow_m == 0 and targets.recovery_b is not None and prod_b["recovery"] < targets.recovery_b:
                grow_m = 1
            if grow_n == 0 and targets.recovery_a is not None and prod_a["recovery"] < targets.recovery_a:
                grow_n = 1
            trial = self.simulate(n + grow_n, m + grow_m, s, w)
            if trial is not None and _impurity_falls(current, trial, problem, grow_n, grow_m):
                n, m, current = n + grow_n, m + grow_m, trial
            elif move_reflux:
                # Stages do not help: the split is limited by the material balance S - W. Move W by
                # half the misplaced amount (per mol feed) toward the product that misses its target
                # (half, because the other product's impurity rises in turn).
                excess_b_in_a = (1 - prod_a["purity"]) * (s - w)
                excess_a_in_b = (1 - prod_b["purity"]) * (1 - (s - w))
                new_w = w + 0.5 * excess_b_in_a if prod_a["purity"] < pa else w - 0.5 * excess_a_in_b
                trial = self.simulate(n, m, s, new_w)
                if trial is None:
                    if isinstance(self.last_error, IllPosedCascade):
                        # the reflux has reached the material-balance edge, where the profile is no
                        # longer set by the flows: the targets cannot be met by moving it further
                        return n, m, s, w, current, False, history
                    raise InfeasibleDesign(f"adjusted design could not be simulated ({self.last_error})")
                w, current = new_w, trial
            else:
                return n, m, s, w, current, False, history
            history.append({"n": n, "m": m, "w": w,
                            **{k: v["purity"] for k, v in current["products"].items()}})
            if n > MAX_SECTION_STAGES or m > MAX_SECTION_STAGES:
                if move_reflux:
                    raise InfeasibleDesign(f"no design within {MAX_SECTION_STAGES} stages per section")
                return n, m, s, w, current, False, history
        met = problem.meets(current["products"], targets)
        if met:
            n, m, current = self.trim(n, m, s, w, current)
        return n, m, s, w, current, met, history

    def trim(self, n, m, s, w, current):
        """Remove stages while the targets stay met."""
        for attr in ("n", "m"):
            while True:
                nn, mm = (n - 1, m) if attr == "n" else (n, m - 1)
                if min(nn, mm) < 1:
                    break
                trial = self.simulate(nn, mm, s, w)
                if trial is None or not self.problem.meets(trial["products"], self.targets):
                    break
                n, m, current = nn, mm, trial
        return n, m, current

def _stages_to_add(purity, target, factor):
    """Stages needed to bring an impurity ratio down to the target's at ``factor`` per stage."""
    if purity >= target:
        return 0
    have = (1 - purity) / max(purity, 1e-300)
    want = (1 - target) / target
    if factor <= 1.0:
        return 1
    return max(1, math.ceil(math.log(have / want) / math.log(factor)))


def _impurity_falls(before, after, problem, grow_n, grow_m):
    """True if the added stages reduced the impurity of the products they were added for (by 1 %;
    near a pinch or a material-balance limit they do not)."""
    ok = True
    if grow_m:
        a0 = 1 - before["products"][problem.organic_name]["purity"]
        a1 = 1 - after["products"][problem.organic_name]["purity"]
        ok &= a1 < 0.99 * a0
    if grow_n:
        b0 = 1 - before["products"][problem.raffinate_name]["purity"]
        b1 = 1 - after["products"][problem.raffinate_name]["purity"]
        ok &= b1 < 0.99 * b0
    return ok


@dataclass
class CurveResult:
    """Best purity of each product against total stage count, at the design flows."""

    name: str
    total_stages: list
    extraction_stages: list
    scrub_stages: list
    purities: dict
    recoveries: dict
    meets: list
    flows: dict
    targets: dict = field(default_factory=dict)

    def to_dict(self):
        return {"name": self.name, "total_stages": self.total_stages,
                "extraction_stages": self.extraction_stages, "scrub_stages": self.scrub_stages,
                "purity": self.purities, "recovery": self.recoveries, "meets_targets": self.meets,
                "flows": self.flows, "targets": self.targets}

    def to_csv(self):
        names = list(self.purities)
        rows = ["total_stages,extraction_stages,scrub_stages,meets_targets,"
                + ",".join(f"{k}_purity,{k}_recovery" for k in names)]
        for i, total in enumerate(self.total_stages):
            rows.append(f"{total},{self.extraction_stages[i]},{self.scrub_stages[i]},{self.meets[i]},"
                        + ",".join(f"{self.purities[k][i]!r},{self.recoveries[k][i]!r}" for k in names))
        return "\n".join(rows) + "\n"

    def table(self):
        names = list(self.purities)
        lines = [f"{self.name}: purity against total stage count (best split, design flows "
                 f"S = {self.flows['s']:.4f}, W = {self.flows['w']:.4f})",
                 f"{'N':>5} {'n':>5} {'m':>5} " + " ".join(f"{k + ' purity':>22}" for k in names)
                 + "  meets"]
        for i, total in enumerate(self.total_stages):
            lines.append(f"{total:>5} {self.extraction_stages[i]:>5} {self.scrub_stages[i]:>5} "
                         + " ".join(f"{self.purities[k][i]:>22.8f}" for k in names)
                         + f"  {self.meets[i]}")
        return "\n".join(lines)

    def plot(self, path=None):
        from ..plotting import plot_curve

        return plot_curve(self, path=path)


def curve(cascade, targets: Targets, totals, *, executor=None) -> CurveResult:
    """For each total stage count N, the split n + m = N that best meets the targets.

    Flows are the design's (S, W from :func:`design`'s shortcut with the same targets); the split is
    found by bisection on n for the point where the two products' shortfalls (log impurity ratio
    against target) cross, which is where the worse of the two is smallest.
    """
    problem = TwoProductProblem(cascade)
    pa, pb, sc = problem.shortcut(targets)
    executor = executor or SerialExecutor(warm=False)
    out = {"n": [], "m": [], "meets": []}
    names = (problem.organic_name, problem.raffinate_name)
    purities, recoveries = {k: [] for k in names}, {k: [] for k in names}
    totals = [int(t) for t in totals]
    for total in totals:
        if total < 2:
            raise ConfigError("--stages", f"total stage count {total}; expected at least 2")
    # every total is an independent task (a bisection over its splits, solved cold): an executor with
    # several workers runs them side by side, with the same outcome as one after the other
    if hasattr(executor, "run"):
        points = executor.run(_curve_point, [(problem, total, sc.s, sc.w, pa, pb) for total in totals])
    else:                # an executor offering only solve and map: one total after the other through it
        points = [_best_split(problem, executor, total, sc.s, sc.w, pa, pb) for total in totals]
    for total, (n, r) in zip(totals, points):
        out["n"].append(n)
        out["m"].append(total - n)
        out["meets"].append(bool(problem.meets(r.products, targets)))
        for k in names:
            purities[k].append(r.products[k].purity)
            recoveries[k].append(r.products[k].recovery)
    return CurveResult(name=cascade.name, total_stages=[int(t) for t in totals],
                       extraction_stages=out["n"], scrub_stages=out["m"], purities=purities,
                       recoveries=recoveries, meets=out["meets"], flows={"s": sc.s, "w": sc.w},
                       targets={problem.organic_name: {"purity": targets.purity_a, "recovery": targets.recovery_a},
                                problem.raffinate_name: {"purity": targets.purity_b,
                                                         "recovery": targets.recovery_b}})


def _curve_point(problem, total, s, w, pa, pb):
    """One point of a curve: (n, result) of the best split of ``total`` stages (cold solves)."""
    return _best_split(problem, SerialExecutor(warm=False), total, s, w, pa, pb)


def _best_split(problem, executor, total, s, w, pa, pb):
    """Bisection on the extraction stages n of a total: (n, result) with the smallest worse shortfall."""
    def margins(n):
        r = executor.solve(problem.build(n, total - n, s, w))
        if isinstance(r, Exception):
            raise r
        a, b = r.products[problem.organic_name], r.products[problem.raffinate_name]
        short_a = math.log(max(1 - a.purity, 1e-300) / a.purity) - math.log((1 - pa) / pa)
        short_b = math.log(max(1 - b.purity, 1e-300) / b.purity) - math.log((1 - pb) / pb)
        return short_a, short_b, r

    lo, hi, best = 1, total - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        sa, sb, r = margins(mid)
        if best is None or max(sa, sb) < best[0]:
            best = (max(sa, sb), mid, r)
        if sb > sa:        # raffinate worse: more extraction stages
            lo = mid + 1
        else:
            hi = mid - 1
    return best[1], best[2]
