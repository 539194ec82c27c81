"""Cascade design checked by simulation, and purity against stage count.

:func:`design` takes a separation-factor cascade config and purity (and recovery) targets for its
two products, computes the static design of the theory of countercurrent extraction
(:mod:`sx_model.theory`) on the key pair, builds that cascade, simulates it with the steady-state
solver and, where the simulated products miss the targets, adds stages to the section that purifies
the missing product (and trims the reflux where the material balance, not the stage count, is the
limit) until the targets are met; then removes stages while they stay met. :func:`curve` gives, for
each total stage count, the best split between the sections at the design flows.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from .config import RESERVED_STREAMS, build_cascade
from .errors import ConfigError, ConvergenceError
from .theory import InfeasibleDesign, mixed_extraction_ratios, shortcut_design

#: Scrub-acid strength used when the config's scrub stream gives none [mol/m^3] (4 mol/L HCl,
#: a common choice in REE plants; an assumption).
DEFAULT_SCRUB_ACID = 4000.0
#: Most simulate-and-adjust rounds before a design is declared infeasible [-].
MAX_ROUNDS = 60
#: Stage counts above which a section is declared infeasible [-].
MAX_SECTION_STAGES = 2000
L_PER_MIN = 1e-3 / 60.0       # m^3/s per L/min


@dataclass
class Targets:
    """Purity [-] and optional recovery [-] targets of the organic (A) and raffinate (B) products."""

    purity_a: float
    purity_b: float
    recovery_a: float | None = None
    recovery_b: float | None = None


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
    config: dict
    history: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.name, "key_pair": list(self.key_pair), "beta": self.beta,
                "targets": self.targets, "met": self.met, "solves": self.solves,
                "shortcut": self.shortcut, "shortcut_simulated": self.shortcut_simulated,
                "final": self.final, "final_simulated": self.final_simulated, "history": self.history}

    def to_yaml(self) -> str:
        import yaml

        header = (f"# Cascade designed by sx-model design: key pair {self.key_pair[0]}/{self.key_pair[1]}, "
                  f"beta {self.beta:.4g}.\n# Simulated purities: "
                  + ", ".join(f"{k} {v['purity']:.6f}" for k, v in self.final_simulated["products"].items())
                  + "\n")
        return header + yaml.safe_dump(self.config, sort_keys=False)

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
        return "\n".join(lines)


def parse_target(text: str):
    """``PRODUCT=purity[,recovery]`` -> (product, purity, recovery or None); ConfigError if malformed."""
    if "=" not in text:
        raise ConfigError("--target", f"{text!r}; expected PRODUCT=purity[,recovery] such as "
                                      "loaded_organic=0.999")
    name, _, values = text.partition("=")
    parts = values.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ConfigError("--target", f"{text!r}; purity and recovery must be numbers between 0 and 1") \
            from None
    if not 1 <= len(numbers) <= 2 or not all(0 < v < 1 for v in numbers):
        raise ConfigError("--target", f"{text!r}; expected PRODUCT=purity[,recovery] with values "
                                      "strictly between 0 and 1")
    return name.strip(), numbers[0], (numbers[1] if len(numbers) == 2 else None)


class _Problem:
    """The pieces of a config that a two-product design needs."""

    def __init__(self, config):
        self.config = copy.deepcopy(dict(config))
        cascade = build_cascade(self.config)
        if cascade.model.name != "separation_factor":
            raise ConfigError("equilibrium.model", f"design needs the separation_factor model, got "
                                                   f"{cascade.model.name!r}")
        if cascade.circuit.section("strip") is not None:
            raise ConfigError("sections.strip", "design covers extraction + scrub cascades")
        outlets = {o.name: o for o in cascade.circuit.outlets}
        organic = [o for o in outlets.values() if o.phase == "organic" and o.fraction == 1.0]
        aqueous = [o for o in outlets.values() if o.phase == "aqueous" and o.stage == 0]
        if len(organic) != 1 or len(aqueous) != 1:
            raise ConfigError("products", "design needs exactly one organic and one raffinate product")
        self.organic_name, self.raffinate_name = organic[0].name, aqueous[0].name
        comps = list(cascade.components)
        a_set = list(cascade.product_keys.get(self.organic_name, ()))
        b_set = list(cascade.product_keys.get(self.raffinate_name, ()))
        if not a_set or not b_set or sorted(a_set + b_set) != sorted(comps):
            raise ConfigError("products", f"the keys of {self.organic_name} and {self.raffinate_name} must "
                                          f"split the components ({', '.join(comps)}) between them")
        beta = dict(zip(comps, cascade.model.separation_factors))
        light_a = min(a_set, key=lambda c: beta[c])
        heavy_b = max(b_set, key=lambda c: beta[c])
        self.key_pair = (light_a, heavy_b)
        self.beta = beta[light_a] / beta[heavy_b]
        if self.beta <= 1:
            raise ConfigError("equilibrium.separation_factors",
                              f"the organic product's least extractable key {light_a} must be more "
                              f"extractable than the raffinate's most extractable key {heavy_b}")
        feeds = [name for name in self.config["streams"] if name not in RESERVED_STREAMS]
        if len(feeds) != 1:
            raise ConfigError("streams", "design needs exactly one feed stream")
        self.feed_name = feeds[0]
        feed = [i for i in cascade.circuit.inlets if i.name == self.feed_name][0]
        self.feed_phase = feed.phase
        self.feed_rate = float(feed.flow * feed.concentration.sum())          # mol/s REE
        self.feed_flow = feed.flow
        idx_a = [comps.index(c) for c in a_set]
        self.fraction_a = float(feed.concentration[idx_a].sum() / feed.concentration.sum())
        self.capacity = cascade.model.capacity
        scrub = self.config["streams"].get("scrub", {})
        acid = [i.acid for i in cascade.circuit.inlets if i.name == "scrub"]
        self.scrub_acid = acid[0] if acid and acid[0] > 0 else DEFAULT_SCRUB_ACID
        self.scrub_acid_text = scrub.get("acid", "4 mol/L")

    def build(self, n, m, s, w):
        """Config mapping for n extraction and m scrub stages at S and W (per mol feed)."""
        cfg = copy.deepcopy(self.config)
        cfg["sections"] = {"extraction": {"stages": int(n)}, "scrub": {"stages": int(m)}}
        organic = s * self.feed_rate / self.capacity
        scrub = 3.0 * w * self.feed_rate / self.scrub_acid
        cfg["streams"]["organic"] = {k: v for k, v in cfg["streams"]["organic"].items()
                                     if k != "flow"} | {"flow": f"{organic / L_PER_MIN:.8g} L/min"}
        cfg["streams"]["scrub"] = {"flow": f"{scrub / L_PER_MIN:.8g} L/min", "acid": self.scrub_acid_text}
        cfg["streams"][self.feed_name]["stage"] = int(n) if self.feed_phase == "aqueous" else int(n) + 1
        return cfg

    def figures(self, n, m, s, w):
        e_m, e_mp = mixed_extraction_ratios(s, w, self.feed_phase)
        return {"extraction_stages": int(n), "scrub_stages": int(m),
                "feed_stage": int(n) if self.feed_phase == "aqueous" else int(n) + 1,
                "s": s, "w": w, "e_m": e_m, "e_m_prime": e_mp,
                "organic_l_per_min": s * self.feed_rate / self.capacity / L_PER_MIN,
                "scrub_l_per_min": 3.0 * w * self.feed_rate / self.scrub_acid / L_PER_MIN,
                "feed_l_per_min": self.feed_flow / L_PER_MIN}


def _summary(result):
    return {"converged": result.converged, "mass_balance_error": result.mass_balance_error,
            "products": {k: {"purity": p.purity, "recovery": p.recovery}
                         for k, p in result.products.items()}}


def _required_purities(problem, targets: Targets):
    """Purities that also deliver the recovery targets (each recovery is set by the other product's
    purity through the material balance)."""
    pa, pb = targets.purity_a, targets.purity_b
    fa = problem.fraction_a
    for _ in range(20):
        product = (fa - (1 - pb)) / (pa - (1 - pb))
        new_pb, new_pa = pb, pa
        if targets.recovery_a is not None:        # A lost to the raffinate
            new_pb = max(pb, 1 - (1 - targets.recovery_a) * fa / max(1 - product, 1e-12))
        if targets.recovery_b is not None:        # B lost to the organic product
            new_pa = max(pa, 1 - (1 - targets.recovery_b) * (1 - fa) / max(product, 1e-12))
        if new_pa == pa and new_pb == pb:
            break
        pa, pb = min(new_pa, 1 - 1e-12), min(new_pb, 1 - 1e-12)
    return pa, pb


def _meets(summary, problem, targets: Targets):
    a = summary["products"][problem.organic_name]
    b = summary["products"][problem.raffinate_name]
    return (a["purity"] >= targets.purity_a and b["purity"] >= targets.purity_b
            and (targets.recovery_a is None or a["recovery"] >= targets.recovery_a)
            and (targets.recovery_b is None or b["recovery"] >= targets.recovery_b))


def design(config, targets: Targets, *, name=None) -> DesignResult:
    """Design a two-product cascade for ``targets`` and check it by simulation.

    Parameters
    ----------
    config : mapping or path
        A separation_factor cascade config (flows and stage counts in it are replaced).
    targets : Targets

    Raises
    ------
    ConfigError
        The config does not describe a two-product separation-factor cascade.
    InfeasibleDesign
        The targets cannot be met (shortcut infeasible, or the checked search hits its limits).
    """
    from .config import read_yaml
    from .solvers.steady import solve

    if not isinstance(config, dict):
        config = read_yaml(config)
    problem = _Problem(config)
    pa, pb = _required_purities(problem, targets)
    sc = shortcut_design(problem.beta, problem.fraction_a, pa, pb, problem.feed_phase)
    checker = _Checker(problem, targets, pa, pb)
    first = checker.simulate(sc.extraction_stages, sc.scrub_stages, sc.s, sc.w)
    if first is None:
        raise InfeasibleDesign("the shortcut design could not be simulated (solver failure)")
    n, m, s, w, current, met, history = checker.search(sc.extraction_stages, sc.scrub_stages, sc.s,
                                                        sc.w, move_reflux=True)
    solves = checker.solves
    final_config = problem.build(n, m, s, w)
    if name:
        final_config["name"] = name
    shortcut = sc.to_dict() | problem.figures(sc.extraction_stages, sc.scrub_stages, sc.s, sc.w)
    tgt = {problem.organic_name: {"purity": targets.purity_a, "recovery": targets.recovery_a},
           problem.raffinate_name: {"purity": targets.purity_b, "recovery": targets.recovery_b}}
    return DesignResult(name=config.get("name", "cascade"), key_pair=problem.key_pair,
                        beta=problem.beta, targets=tgt, shortcut=shortcut, shortcut_simulated=first,
                        final=problem.figures(n, m, s, w), final_simulated=current, met=met,
                        solves=solves, config=final_config, history=history)


class _Checker:
    """Simulate-and-adjust search for the stage counts that meet the targets at given flows."""

    def __init__(self, problem, targets, pa, pb):
        self.problem, self.targets, self.pa, self.pb = problem, targets, pa, pb
        self.solves = 0
        self.cache = {}
        self.previous = None

    def simulate(self, n, m, s, w, *, keep=False):
        from .solvers.steady import solve

        key = (n, m, round(s, 12), round(w, 12))
        if key not in self.cache:
            self.solves += 1
            try:
                result = solve(build_cascade(self.problem.build(n, m, s, w)), initial=self.previous)
            except (ConvergenceError, ConfigError):   # e.g. an organic that cannot be loaded
                self.cache[key] = None
            else:
                self.previous = result
                self.cache[key] = _summary(result)
                if keep:
                    self.cache[key]["result"] = result
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
            if _meets(current, problem, targets):
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
                w = w + 0.5 * excess_b_in_a if prod_a["purity"] < pa else w - 0.5 * excess_a_in_b
                current = self.simulate(n, m, s, w)
                if current is None:
                    raise InfeasibleDesign("adjusted design could not be simulated (solver failure)")
            else:
                return n, m, s, w, current, False, history
            history.append({"n": n, "m": m, "w": w,
                            **{k: v["purity"] for k, v in current["products"].items()}})
            if n > MAX_SECTION_STAGES or m > MAX_SECTION_STAGES:
                if move_reflux:
                    raise InfeasibleDesign(f"no design within {MAX_SECTION_STAGES} stages per section")
                return n, m, s, w, current, False, history
        met = _meets(current, problem, targets)
        if met:     # trim stages that are not needed
            for attr in ("n", "m"):
                while True:
                    nn, mm = (n - 1, m) if attr == "n" else (n, m - 1)
                    if min(nn, mm) < 1:
                        break
                    trial = self.simulate(nn, mm, s, w)
                    if trial is None or not _meets(trial, problem, targets):
                        break
                    n, m, current = nn, mm, trial
        return n, m, s, w, current, met, history


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

    def to_dict(self):
        return {"name": self.name, "total_stages": self.total_stages,
                "extraction_stages": self.extraction_stages, "scrub_stages": self.scrub_stages,
                "purity": self.purities, "recovery": self.recoveries, "meets_targets": self.meets,
                "flows": self.flows}

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
        from .plotting import plot_curve

        return plot_curve(self, path=path)


def curve(config, targets: Targets, totals) -> CurveResult:
    """For each total stage count N, the split n + m = N that best meets the targets.

    Flows are the checked design's (S, W from :func:`design`'s shortcut with the same targets); the
    split is found by bisection on n for the point where the two products' shortfalls (log impurity
    ratio against target) cross, which is where the worse of the two is smallest.
    """
    from .config import read_yaml
    from .solvers.steady import solve

    if not isinstance(config, dict):
        config = read_yaml(config)
    problem = _Problem(config)
    pa, pb = _required_purities(problem, targets)
    sc = shortcut_design(problem.beta, problem.fraction_a, pa, pb, problem.feed_phase)
    s, w = sc.s, sc.w
    out = {"n": [], "m": [], "meets": []}
    purities = {problem.organic_name: [], problem.raffinate_name: []}
    recoveries = {problem.organic_name: [], problem.raffinate_name: []}

    def margins(n, total):
        r = solve(build_cascade(problem.build(n, total - n, s, w)))
        a = r.products[problem.organic_name]
        b = r.products[problem.raffinate_name]
        short_a = math.log(max(1 - a.purity, 1e-300) / a.purity) - math.log((1 - pa) / pa)
        short_b = math.log(max(1 - b.purity, 1e-300) / b.purity) - math.log((1 - pb) / pb)
        return short_a, short_b, r

    for total in totals:
        total = int(total)
        if total < 2:
            raise ConfigError("--stages", f"total stage count {total}; expected at least 2")
        lo, hi = 1, total - 1
        best = None
        while lo <= hi:
            mid = (lo + hi) // 2
            sa, sb, r = margins(mid, total)
            worst = max(sa, sb)
            if best is None or worst < best[0]:
                best = (worst, mid, r)
            if sb > sa:        # raffinate worse: more extraction stages
                lo = mid + 1
            else:
                hi = mid - 1
        _, n, r = best
        out["n"].append(n)
        out["m"].append(total - n)
        summary = _summary(r)
        out["meets"].append(bool(_meets(summary, problem, targets)))
        for k in purities:
            purities[k].append(r.products[k].purity)
            recoveries[k].append(r.products[k].recovery)
    return CurveResult(name=config.get("name", "cascade"), total_stages=[int(t) for t in totals],
                       extraction_stages=out["n"], scrub_stages=out["m"], purities=purities,
                       recoveries=recoveries, meets=out["meets"], flows={"s": s, "w": w})
