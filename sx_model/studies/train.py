"""Trains of separation-factor cascades: the split sequence chosen by cost, each cascade designed and
checked by simulation, the whole train simulated as one flowsheet.

A feed of K products (each one element or a group of elements adjacent in the extraction order) is
split by K - 1 two-product cascades. Every cascade cuts a contiguous range of the products (in the
extraction order) between two neighbours: its raffinate (aqueous) holds the less extractable part and
goes on as the aqueous feed of the next cascade of that part; its loaded organic holds the more
extractable part and goes on as the organic feed of the next cascade (it enters at the first scrub
stage, as in linked cascades that pass loaded organic on without stripping it).

**Impurity budgets.** Metal of the other side that crosses a cut stays with the product next to the
cut: everything on the less extractable side of a cut is less extractable than what crossed, so every
later split sends it on with that neighbour. The impurity of product k therefore comes from its two
cuts only, whatever the sequence. Each product's budget, ``A_k (1 - P_k) / P_k`` times a margin, is
shared between its two cuts in proportion to 1 / ln(beta_cut) (the share that minimises the total stage
count lg(1/I_c) / lg(beta_c) at the theory's stage counts); an end product gives its whole budget to
its single cut. A cascade making cut c then has cut-side purity targets: its raffinate holds at most
the budget of the less extractable neighbour, its organic at most that of the more extractable one.

**Sequence by cost.** With the budgets fixed per cut, the cost of cutting a range (i..j) at c depends
only on (i, j, c) and the phase the range arrives in; the cheapest train is the dynamic programme
cost(i, j) = min_c [split(i, j, c) + cost(i, c) + cost(c + 1, j)] over O(K^3) candidate splits, each
costed in closed form: the theory's stage counts (:mod:`sx_model.theory`) at the reflux on a grid of
multiples of the minimum that costs least (:mod:`sx_model.cost`: stages, solvent, acid, base).

**Design and check.** The chosen cascades are designed from the top down, each on the product its
parent's checked design delivers: the theory's design at the chosen reflux, then the checked stage
search of :mod:`sx_model.studies.design` (stages added to the section that misses, reflux moved where
the material balance limits, stages trimmed); with ``optimise`` also at the neighbouring refluxes,
keeping the cheapest. The train is then solved as one flowsheet; a product that misses its purity has
the budgets of the cuts that over-deliver impurity cut, and those cascades and the ones below them
are designed again (``MAX_ROUNDS`` rounds).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ..circuit import AQUEOUS, ORGANIC
from ..constants import PROTONS_PER_REE
from ..errors import ConfigError, ConvergenceError
from ..theory import InfeasibleDesign, purification_factors
from .design import MAX_SECTION_STAGES, Checker
from .executors import SerialExecutor
from .optimize import REFLUX_MULTIPLES
from .problem import Targets, TwoProductProblem

#: Fraction of each product's impurity budget given to the cuts at the start [-] (the rest is
#: headroom for what the binary theory and the cut-by-cut checks do not see).
DEFAULT_MARGIN = 0.8
#: Rounds of tightening the cuts of products that miss their purity in the whole-train simulation.
MAX_ROUNDS = 4
#: A cut never lets more than this fraction of a side's metal across [-].
MAX_LEAK_FRACTION = 0.1
#: Refluxes tried around the chosen one when optimising a cascade (multiples of it) [-].
OPTIMISE_STEPS = (1 / 1.25, 1.25)


@dataclass(frozen=True)
class Product:
    """A product of the train: a name, its elements (adjacent in the extraction order), a purity."""

    name: str
    elements: tuple
    purity: float


def parse_products(spec, feed, purity=0.999, purities=None) -> list:
    """``La,Ce,Pr+Nd,heavy=Tb+Dy`` (or a list of such items) -> products in extraction order.

    Each item is an element or a group ``El+El+...``, optionally named ``NAME=...``; every feed
    component must be in exactly one product, and a group's elements must be adjacent in the
    extraction order. ``purities`` maps product names to purities that replace ``purity``.
    ConfigError (key ``--products`` or ``--purity``) on bad input."""
    from ..elements import elements

    items = spec.split(",") if isinstance(spec, str) else list(spec or [])
    items = [str(i).strip() for i in items]
    if not items or not any(items):
        raise ConfigError("--products", "empty; expected products such as La,Ce,Pr+Nd (an element or a "
                                        "group El+El, optionally named NAME=El+El)")
    known = elements()
    seen, names, products = {}, set(), []
    for text in items:
        name, _, body = text.rpartition("=")
        els = [e.strip() for e in body.split("+")]
        if not all(els):
            raise ConfigError("--products", f"{text!r}; expected an element or a group El+El+...")
        name = name.strip() or "+".join(els)
        if not name.replace("+", "").replace("_", "").replace("-", "").isalnum():
            raise ConfigError("--products", f"{text!r}: product name {name!r}; expected letters, digits, _ or -")
        for el in els:
            if el not in known:
                raise ConfigError("--products", f"{el!r} in {text!r} is not an element; expected symbols such "
                                                "as La, Ce, Y")
            if el not in feed.components:
                raise ConfigError("--products", f"{el} in {text!r} is not in the feed (feed components: "
                                                f"{', '.join(feed.components)})")
            if el in seen:
                raise ConfigError("--products", f"{el} is in two products ({seen[el]!r} and {text!r}); "
                                                "expected each element in one product")
            seen[el] = text
        if name in names:
            raise ConfigError("--products", f"product {name!r} given twice")
        names.add(name)
        products.append((name, tuple(sorted(els, key=feed.beta))))
    missing = [c for c in feed.components if c not in seen]
    if missing:
        raise ConfigError("--products", f"{', '.join(missing)} in the feed belong(s) to no product; expected "
                                        "every feed component in one product (add it, or join it to a group)")
    if len(products) < 2:
        raise ConfigError("--products", f"{items[0]!r} is one product; a train splits at least two")
    order = feed.order()
    products.sort(key=lambda p: feed.beta(p[1][0]))
    position = {el: k for k, el in enumerate(order)}
    for name, els in products:
        spots = sorted(position[e] for e in els)
        if spots[-1] - spots[0] != len(els) - 1:
            between = [order[k] for k in range(spots[0], spots[-1]) if order[k] not in els]
            raise ConfigError("--products", f"{name!r}: {', '.join(els)} are not adjacent in the extraction "
                                            f"order ({' < '.join(order)}; {between[0]} lies between); "
                                            "a train of two-product cascades makes groups of neighbours only")
    for a, b in zip(products, products[1:]):
        if feed.beta(b[1][0]) <= feed.beta(a[1][-1]):
            raise ConfigError("--products", f"{a[1][-1]} and {b[1][0]} have the same separation factor; "
                                            "they cannot be split (put them in one product)")
    targets = dict(purities or {})
    for key, value in list(targets.items()) + [("default", purity)]:
        if key != "default" and key not in names:
            raise ConfigError("--purity", f"{key}={value!r}: no product {key!r}; products: {', '.join(names)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise ConfigError("--purity", f"{key}={value!r}; expected a purity strictly between 0 and 1 "
                                          "such as 0.999")
    return [Product(name, els, float(targets.get(name, purity))) for name, els in products]


# -- closed-form cost of one split -----------------------------------------------------------------

def minimum_reflux(beta, product_fraction, phase, spare=0.0):
    """Least W (per mol feed) at which both sections purify (infinite stages). ``spare`` is the free
    capacity an organic feed brings (mol per mol feed), matched by as much more scrub acid."""
    f = product_fraction
    if phase == AQUEOUS:
        w_ext = (1.0 - beta * f) / (beta - 1.0)
        w_scr = f / (beta - 1.0)
    else:
        # beta S > W + spare with S = W + f - 1; beta (W + spare) > S + 1 + spare
        w_ext = (spare + beta * (1.0 - f)) / (beta - 1.0)
        w_scr = f / (beta - 1.0) - spare
    return max(w_ext, w_scr, 0.0)


def section_stages(beta, a, b, s, w, phase, spare=0.0):
    """Real (n, m) of the theory for S, W; InfeasibleDesign where a section does not purify."""
    if phase == AQUEOUS:
        e_m, e_mp = s / (w + 1.0), s / w
    else:
        e_m, e_mp = s / (w + spare), (s + 1.0 + spare) / (w + spare)
    from ..theory import stage_counts

    return stage_counts(beta, a, b, e_m, e_mp)


@dataclass
class SplitEstimate:
    """The theory's cheapest design of one split and its cost (closed form)."""

    beta: float
    feed_mol_per_s: float
    fraction_a: float
    purity_a: float
    purity_b: float
    phase: str
    n: int
    m: int
    s: float
    w: float
    multiple: float
    usd_per_year: float

    def to_dict(self):
        return dict(self.__dict__)


def split_cost(n, m, s, w, feed_mol, phase, feed_flow, capacity, acid, p, spare=0.0):
    """Annual cost [USD/yr] of a two-product cascade from its flows (cost.py's model)."""
    from ..cost import cascade_cost

    organic = s * feed_mol / capacity
    scrub = PROTONS_PER_REE * (w + spare) * feed_mol / acid
    if phase == AQUEOUS:
        aq_ext, org_scr = scrub + feed_flow, organic
    else:
        aq_ext, org_scr = scrub, organic + feed_flow
    aq = [aq_ext] * n + [scrub] * m
    org = [organic] * n + [org_scr] * m
    return cascade_cost(aq, org, PROTONS_PER_REE * (w + spare) * feed_mol, PROTONS_PER_REE * s * feed_mol,
                        1.0, p).total_per_year


def shortcut_split(beta, feed_mol, fraction_a, purity_a, purity_b, phase, feed_flow, capacity, acid, p,
                   multiples=REFLUX_MULTIPLES, spare=0.0):
    """The cheapest of the theory's designs over refluxes ``multiples`` x W_min; None if none is
    feasible within ``MAX_SECTION_STAGES`` per section."""
    from ..theory import organic_product_fraction

    try:
        a, b = purification_factors(purity_a, purity_b, fraction_a)
    except InfeasibleDesign:
        return None
    f = organic_product_fraction(purity_a, purity_b, fraction_a)
    w_min = minimum_reflux(beta, f, phase, spare)
    base = w_min if w_min > 0 else f / (beta - 1.0)
    best = None
    for k in multiples:
        staged = _staged(k * base, f, phase, beta, a, b, spare)
        if staged is None:
            continue
        s, w, n, m = staged
        cost = split_cost(n, m, s, w, feed_mol, phase, feed_flow, capacity, acid, p, spare)
        if best is None or cost < best.usd_per_year:
            best = SplitEstimate(beta, feed_mol, fraction_a, purity_a, purity_b, phase, n, m, s, w, k, cost)
    return best


# -- the sequence ----------------------------------------------------------------------------------

@dataclass
class Step:
    """One cascade of the train: it cuts products first..last between ``cut`` and ``cut + 1``; its
    raffinate and organic go to the steps (or products, as indices) below it."""

    first: int
    last: int
    cut: int
    phase: str
    estimate: SplitEstimate
    raffinate: object      # Step or product index
    organic: object

    def steps(self):
        """This step and every step below it, top down."""
        out = [self]
        for child in (self.raffinate, self.organic):
            if isinstance(child, Step):
                out += child.steps()
        return out

    def cost(self) -> float:
        return sum(s.estimate.usd_per_year for s in self.steps())

    def signature(self):
        """The sequence as nested tuples of cuts (for comparing trees)."""
        def sig(node):
            return node if isinstance(node, int) else (node.cut, sig(node.raffinate), sig(node.organic))
        return sig(self)


class Planner:
    """Impurity budgets per cut and the closed-form cost of every split (see module docstring)."""

    def __init__(self, feed, products, cost_parameters=None, margin=DEFAULT_MARGIN):
        from ..cost import default_parameters

        self.feed, self.products = feed, list(products)
        self.p = cost_parameters or feed.cost_parameters or default_parameters()
        amounts = dict(zip(feed.components, feed.amounts))
        self.amounts = [sum(amounts[e] for e in prod.elements) for prod in self.products]
        self.total_concentration = float(feed.concentration.sum())
        k = len(self.products)
        self.cut_beta = [feed.beta(self.products[c + 1].elements[0]) / feed.beta(self.products[c].elements[-1])
                         for c in range(k - 1)]
        # impurity budget of each product, shared between its cuts in proportion to 1 / ln(beta)
        self.leak_right = [0.0] * (k - 1)     # metal of the more extractable side allowed in product c
        self.leak_left = [0.0] * (k - 1)      # metal of the less extractable side allowed in product c + 1
        for j, prod in enumerate(self.products):
            budget = margin * self.amounts[j] * (1.0 - prod.purity) / prod.purity
            weights = {}
            if j > 0:
                weights["left"] = 1.0 / math.log(self.cut_beta[j - 1])
            if j < k - 1:
                weights["right"] = 1.0 / math.log(self.cut_beta[j])
            total = sum(weights.values())
            if "left" in weights:
                self.leak_left[j - 1] = budget * weights["left"] / total
            if "right" in weights:
                self.leak_right[j] = budget * weights["right"] / total
        self._cache = {}

    def side_amounts(self, first, last, cut):
        return sum(self.amounts[first:cut + 1]), sum(self.amounts[cut + 1:last + 1])

    def cut_targets(self, left, right, cut):
        """(purity of the organic, purity of the raffinate) of a cut with ``left`` and ``right`` metal fed
        on either side [mol/s]."""
        leak_r = min(self.leak_right[cut], MAX_LEAK_FRACTION * right)
        leak_l = min(self.leak_left[cut], MAX_LEAK_FRACTION * left)
        return right / (right + leak_l), left / (left + leak_r)

    def split(self, first, last, cut):
        """Closed-form estimate of cutting products first..last at ``cut`` (None: infeasible), with the
        strip of its organic product when that goes on to another cascade."""
        key = (first, last, cut)
        if key not in self._cache:
            left, right = self.side_amounts(first, last, cut)
            total = left + right
            pa, pb = self.cut_targets(left, right, cut)
            flow = total / self.total_concentration
            if first == 0 and last == len(self.products) - 1:
                flow = self.feed.flow
            est = shortcut_split(self.cut_beta[cut], total, right / total, pa, pb, AQUEOUS, flow,
                                 self.feed.capacity, self.feed.scrub_acid, self.p)
            if est is not None and cut + 1 < last:
                est.usd_per_year += strip_cost(est.s * total / self.feed.capacity, right,
                                               self.total_concentration, self.p)
            self._cache[key] = est
        return self._cache[key]

    def plan(self) -> Step:
        """The cheapest sequence by dynamic programming over contiguous ranges."""
        best = {}
        k = len(self.products)
        for width in range(1, k):
            for first in range(0, k - width):
                last = first + width
                choice = None
                for cut in range(first, last):
                    est = self.split(first, last, cut)
                    if est is None:
                        continue
                    parts = [first if first == cut else best.get((first, cut)),
                             last if cut + 1 == last else best.get((cut + 1, last))]
                    if any(p is None for p in parts):
                        continue
                    cost = est.usd_per_year + sum(p.cost() for p in parts if isinstance(p, Step))
                    if choice is None or cost < choice[0]:
                        choice = (cost, Step(first, last, cut, AQUEOUS, est, parts[0], parts[1]))
                if choice is not None:
                    best[(first, last)] = choice[1]
        root = best.get((0, k - 1))
        if root is None:
            raise InfeasibleDesign("no sequence of splits is feasible within "
                                   f"{MAX_SECTION_STAGES} stages per section for these purities")
        return root

    def enumerate(self, first=None, last=None):
        """Every sequence of the range (all binary trees over its cuts), as Steps: the brute-force
        reference of :meth:`plan`."""
        first = 0 if first is None else first
        last = len(self.products) - 1 if last is None else last
        if first == last:
            return [first]
        out = []
        for cut in range(first, last):
            est = self.split(first, last, cut)
            if est is None:
                continue
            for left in self.enumerate(first, cut):
                for right in self.enumerate(cut + 1, last):
                    out.append(Step(first, last, cut, AQUEOUS, est, left, right))
        return out


#: Strip cascades between a cut and the cascade its organic product feeds: stages, the distribution
#: ratio of every element in the strip acid, and the acid fed per REE stripped (assumptions: a strong
#: HCl strip of P507 idealised as a constant D; 10 % acid over the 3 H+ per REE exchanged).
STRIP_STAGES = 5
STRIP_D = 0.001
STRIP_ACID_PER_REE = 3.3
#: Largest O/A of a strip cascade [-]: its liquor is as strong in REE as the train's feed, or diluted to
#: keep O/A within the usual range of mixer-settlers.
STRIP_MAX_OA = 10.0


def strip_cost(organic_flow, metal, concentration, p):
    """Annual cost [USD/yr] of stripping ``metal`` [mol/s] from ``organic_flow`` [m^3/s] into a liquor of
    ``concentration`` [mol/m^3] (cost.py's model: stages, acid)."""
    from ..cost import cascade_cost

    liquor = max(metal / concentration, organic_flow / STRIP_MAX_OA)
    return cascade_cost([liquor] * STRIP_STAGES, [organic_flow] * STRIP_STAGES, STRIP_ACID_PER_REE * metal,
                        0.0, 1.0, p).total_per_year


# -- design of the chosen cascades ---------------------------------------------------------------

class _SplitProblem(TwoProductProblem):
    """A two-product problem whose organic feed brings free capacity ``spare`` (mol per mol feed): the
    scrub liquor carries as much more acid, so that S and W keep the theory's meaning."""

    def __init__(self, cascade, spare=0.0):
        super().__init__(cascade)
        self.spare = spare

    def flows(self, s, w):
        return {"organic": s * self.feed_rate / self.capacity,
                "scrub": PROTONS_PER_REE * (w + self.spare) * self.feed_rate / self.scrub_acid}


@dataclass
class DesignedStep:
    """A cascade of the train as designed and checked on its own feed."""

    name: str
    step: Step
    feed: tuple                 # (phase, flow m^3/s, concentration mol/m^3 by component)
    targets: dict               # cut-side purities the design meets
    n: int
    m: int
    s: float
    w: float
    spare: float
    usd_per_year: float
    met: bool
    solves: int
    cascade: object
    result: object              # its own simulation
    tried: list = field(default_factory=list)


def _name(products, step):
    def side(a, b):
        if a == b:
            return products[a].name
        return f"{products[a].name}-{products[b].name}"
    return (side(step.first, step.cut) + "_" + side(step.cut + 1, step.last)).replace("+", "")


def _mapping(feed, products, step, feed_stream, n, m, organic, scrub, planner):
    """A cascade config for ``step``: the feed's components and factors, n + m stages, its feed."""
    from ..config.models import si_text
    from ..equilibrium.separation_factor import DEFAULT_HALF_LOADING

    phase, flow, conc = feed_stream
    left = [e for prod in products[:step.cut + 1] for e in prod.elements]
    right = [e for prod in products[step.cut + 1:] for e in prod.elements]
    # the half-loading concentration refers to the most extractable component of the model; keep it
    # for the most extractable component this cascade handles (see sx_model.equilibrium.separation_factor)
    top = max(feed.beta(e) for prod in products[step.first:step.last + 1] for e in prod.elements)
    half = DEFAULT_HALF_LOADING * top / float(feed.separation_factors.max())
    out = {"name": f"{_name(products, step)}: {products[step.cut].elements[-1]}/"
                   f"{products[step.cut + 1].elements[0]} cut",
           "components": list(feed.components),
           "equilibrium": {"model": "separation_factor",
                           "separation_factors": {c: float(b) for c, b in zip(feed.components, feed.separation_factors)},
                           "capacity": si_text(feed.capacity, "mol/m**3"), "half_loading": si_text(half, "mol/m**3")},
           "sections": {"extraction": {"stages": int(n)}, "scrub": {"stages": int(m)}},
           "streams": {"organic": {"flow": si_text(organic, "m**3/s")},
                       "feed": {"phase": phase, "flow": si_text(flow, "m**3/s"),
                                "concentration": {c: si_text(max(float(x), 0.0), "mol/m**3")
                                                  for c, x in zip(feed.components, conc)}},
                       "scrub": {"flow": si_text(scrub, "m**3/s"), "acid": si_text(feed.scrub_acid, "mol/m**3")}},
           "products": {"raffinate": {"key": left}, "loaded_organic": {"key": right}}}
    return out


def design_step(planner, step, feed_stream, *, optimise=True, executor=None, name=None) -> DesignedStep:
    """Design the cascade of ``step`` on ``feed_stream`` and check it by simulation."""
    from ..config import load_config

    feed, products = planner.feed, planner.products
    phase, flow, conc = feed_stream
    executor = executor or SerialExecutor()
    comps = feed.components
    left_els = {e for prod in products[:step.cut + 1] for e in prod.elements}
    total = float(flow * sum(conc))
    left = float(flow * sum(x for c, x in zip(comps, conc) if c in left_els))
    right = total - left
    pa, pb = planner.cut_targets(left, right, step.cut)
    spare = 0.0
    if phase == ORGANIC:
        spare = max(flow * feed.capacity - total, 0.0) / total
    beta = planner.cut_beta[step.cut]
    est = shortcut_split(beta, total, right / total, pa, pb, phase, flow, feed.capacity, feed.scrub_acid,
                         planner.p, spare=spare)
    if est is None:
        raise InfeasibleDesign(f"cut {products[step.cut].name}/{products[step.cut + 1].name}: the theory has "
                               f"no design for purities {pa:.6g}/{pb:.6g} within {MAX_SECTION_STAGES} stages "
                               "per section")
    organic = est.s * total / feed.capacity
    scrub = PROTONS_PER_REE * (est.w + spare) * total / feed.scrub_acid
    cascade = load_config(_mapping(feed, products, step, feed_stream, est.n, est.m, organic, scrub, planner))
    cascade.cost_parameters = dict(planner.p)
    problem = _SplitProblem(cascade, spare)
    targets = Targets(purity_a=pa, purity_b=pb)
    checker = Checker(problem, targets, pa, pb, executor=executor)
    from ..theory import organic_product_fraction

    f = organic_product_fraction(pa, pb, right / total)
    a, b = purification_factors(pa, pb, right / total)
    multiples = [1.0] + (list(OPTIMISE_STEPS) if optimise else [])
    tried, best = [], None
    for k in multiples:
        staged = _staged(est.w * k, f, phase, beta, a, b, spare)
        if staged is None:
            continue
        s, w, n0, m0 = staged
        try:
            n, m, s2, w2, current, met, _ = checker.search(n0, m0, s, w, move_reflux=True)
        except InfeasibleDesign as exc:
            tried.append({"reflux_multiple": k, "n": n0, "m": m0, "s": s, "w": w, "met": False, "error": str(exc)})
            continue
        if current is None:
            tried.append({"reflux_multiple": k, "n": n0, "m": m0, "s": s, "w": w, "met": False,
                          "error": str(checker.last_error)})
            continue
        cost = split_cost(n, m, s2, w2, total, phase, flow, feed.capacity, feed.scrub_acid, planner.p, spare)
        tried.append({"reflux_multiple": k, "n": n, "m": m, "s": s2, "w": w2, "met": met, "usd_per_year": cost})
        if met and (best is None or cost < best[0]):
            best = (cost, n, m, s2, w2)
    if best is None:
        raise InfeasibleDesign(f"cut {products[step.cut].name}/{products[step.cut + 1].name}: no checked design "
                               f"meets the cut purities {pa:.6g} (organic) / {pb:.6g} (raffinate)"
                               + "".join(f"; {t['error']}" for t in tried if "error" in t)[:300])
    cost, n, m, s, w = best
    final = problem.build(n, m, s, w)
    result = executor.solve(final)
    if isinstance(result, (ConvergenceError, ConfigError)):
        raise result
    return DesignedStep(name=name or _name(products, step), step=step, feed=feed_stream,
                        targets={"loaded_organic": pa, "raffinate": pb}, n=n, m=m, s=s, w=w, spare=spare,
                        usd_per_year=cost, met=True, solves=checker.solves, cascade=final, result=result,
                        tried=tried)


# -- the whole train --------------------------------------------------------------------------------

@dataclass
class TrainResult:
    """A designed train: sequence, cascades, the whole-train simulation and the flowsheet config."""

    name: str
    products: list
    sequence: Step
    estimated_usd_per_year: float
    designed: dict                  # cascade name -> DesignedStep
    flowsheet: dict                 # the flowsheet config (cascades inline)
    result: object                  # SteadyResult of the whole train
    product_outlets: dict           # product name -> flowsheet product name
    strips: dict                    # cascade name -> name of the strip cascade of its organic product
    rounds: list
    elapsed_s: float
    solves: int

    @property
    def met(self) -> bool:
        return all(self.product_figures()[p.name]["met"] for p in self.products)

    def product_figures(self) -> dict:
        out = {}
        for prod in self.products:
            r = self.result.products[self.product_outlets[prod.name]]
            out[prod.name] = {"elements": list(prod.elements), "target_purity": prod.purity,
                              "purity": r.purity, "recovery": r.recovery, "met": r.purity >= prod.purity,
                              "outlet": self.product_outlets[prod.name], "oxide_kg_per_h": r.oxide_kg_per_h}
        return out

    def cascade_figures(self) -> dict:
        by = self.result.cascades or {}
        out = {}
        for name, d in self.designed.items():
            part = by.get(name, {})
            st = d.step
            out[name] = {"cut": f"{self.products[st.cut].name}/{self.products[st.cut + 1].name}",
                         "key_pair": [self.products[st.cut].elements[-1], self.products[st.cut + 1].elements[0]],
                         "beta": st.estimate.beta, "feed_phase": d.feed[0],
                         "extraction_stages": d.n, "scrub_stages": d.m, "s": d.s, "w": d.w,
                         "cut_purity_targets": d.targets,
                         "acid_fed_mol_per_h": part.get("acid_fed_mol_per_h"),
                         "saponification_base_mol_per_h": part.get("saponification_base_mol_per_h"),
                         "usd_per_year": part.get("cost", {}).get("total_usd_per_year", d.usd_per_year),
                         "solves": d.solves}
            if name in self.strips:
                strip = by.get(self.strips[name], {})
                out[name]["strip"] = {"cascade": self.strips[name], "stages": strip.get("stages"),
                                      "acid_fed_mol_per_h": strip.get("acid_fed_mol_per_h"),
                                      "usd_per_year": strip.get("cost", {}).get("total_usd_per_year")}
        return out

    def to_dict(self) -> dict:
        r = self.result
        return {"name": self.name, "met": self.met, "converged": r.converged,
                "mass_balance_error": r.mass_balance_error, "elapsed_s": self.elapsed_s, "solves": self.solves,
                "sequence": _describe(self.sequence, self.products),
                "estimated_usd_per_year": self.estimated_usd_per_year,
                "products": self.product_figures(), "cascades": self.cascade_figures(), "rounds": self.rounds,
                "cost": r.cost.to_dict() if r.cost is not None else None}

    def to_csv(self) -> str:
        rows = ["product,elements,target_purity,purity,recovery,met"]
        for name, p in self.product_figures().items():
            rows.append(f"{name},{'+'.join(p['elements'])},{p['target_purity']!r},{p['purity']!r},"
                        f"{p['recovery']!r},{p['met']}")
        return "\n".join(rows) + "\n"

    def to_yaml(self) -> str:
        import yaml

        header = (f"Train designed by sx-model train: {len(self.designed)} cascades, products "
                  + ", ".join(p.name for p in self.products) + ".\nWhole-train purities: "
                  + ", ".join(f"{k} {v['purity']:.6f}" for k, v in self.product_figures().items())
                  + ".\nFeeds of the later cascades are stand-ins (the product their parent delivers in its "
                    "own simulation);\nin the flowsheet the links replace them.")
        comment = "".join(f"# {line}\n" for line in header.splitlines())
        return comment + yaml.safe_dump(self.flowsheet, sort_keys=False)

    def table(self) -> str:
        r = self.result
        lines = [f"{self.name}: train of {len(self.designed)} cascades for {len(self.products)} products "
                 f"({self.elapsed_s:.1f} s, {self.solves} cascade solves)",
                 f"sequence: {_describe(self.sequence, self.products)}",
                 f"whole train: converged {r.converged}, mass balance closure {r.mass_balance_error:.2e}; "
                 f"targets met: {self.met}", "",
                 f"{'product':<12}{'target':>10}{'purity':>12}{'recovery':>12}  met  outlet"]
        for name, p in self.product_figures().items():
            lines.append(f"{name:<12}{p['target_purity']:>10.5f}{p['purity']:>12.6f}{p['recovery']:>12.6f}  "
                         f"{'yes' if p['met'] else 'NO ':<4} {p['outlet']}")
        lines += ["", f"{'cascade':<22}{'cut':>8}{'beta':>8}{'feed':>9}{'n':>5}{'m':>5}{'acid mol/h':>12}"
                      f"{'base mol/h':>12}{'USD/yr':>12}"]
        for name, c in self.cascade_figures().items():
            lines.append(f"{name:<22}{'/'.join(c['key_pair']):>8}{c['beta']:>8.3g}{c['feed_phase']:>9}"
                         f"{c['extraction_stages']:>5}{c['scrub_stages']:>5}{_num(c['acid_fed_mol_per_h']):>12}"
                         f"{_num(c['saponification_base_mol_per_h']):>12}{_num(c['usd_per_year']):>12}")
            strip = c.get("strip")
            if strip:
                lines.append(f"{'  + strip':<22}{'':>8}{'':>8}{'organic':>9}{strip['stages']:>5}{'':>5}"
                             f"{_num(strip['acid_fed_mol_per_h']):>12}{'0':>12}{_num(strip['usd_per_year']):>12}")
        if r.cost is not None:
            lines.append(f"train: {r.aqueous.shape[0]} stages, {r.cost.total_per_year:,.0f} USD/yr, "
                         f"{r.cost.per_kg_product:.3f} USD/kg oxide product; estimated by the theory for the "
                         f"sequence: {self.estimated_usd_per_year:,.0f} USD/yr")
        return "\n".join(lines)

    def plot(self, path=None):
        from ..plotting_train import plot_train

        return plot_train(self.result, self.flowsheet, path=path)


def _num(x):
    return "-" if x is None else f"{x:,.4g}"


def _describe(node, products):
    if isinstance(node, int):
        return products[node].name
    return f"({_describe(node.raffinate, products)} | {_describe(node.organic, products)})"


#: Components below this fraction of a stream's metal are left out of the stand-alone design of the
#: cascade it feeds [-]: the solver's mass-balance check is relative to each component's feed, which
#: round-off of the other components' amounts swamps at such traces. The whole-train simulation keeps them.
TRACE_FRACTION = 1e-10


def _stream(product):
    conc = list(product.concentration_mol_per_m3.values())
    floor = TRACE_FRACTION * sum(conc)
    return (product.phase, product.flow_m3_per_s, [x if x > floor else 0.0 for x in conc])


def _strip_mapping(feed, name, stream, liquor_concentration):
    """A strip cascade (constant D in strong acid) for a loaded organic ``stream``: its liquor, as
    strong in REE as ``liquor_concentration``, feeds the next cascade."""
    from ..config.models import si_text

    _, flow, conc = stream
    metal = flow * sum(conc)
    liquor = max(metal / liquor_concentration, flow / STRIP_MAX_OA)
    zero = si_text(0.0, "mol/m**3")
    return {"name": f"{name}: strip of the loaded organic",
            "components": list(feed.components),
            "equilibrium": {"model": "constant_d", "distribution": {c: STRIP_D for c in feed.components}},
            "sections": {"extraction": {"stages": STRIP_STAGES}},
            "streams": {"organic": {"flow": si_text(flow, "m**3/s"),
                                    "concentration": {c: si_text(x, "mol/m**3") for c, x in zip(feed.components, conc)}},
                        "feed": {"phase": "aqueous", "flow": si_text(liquor, "m**3/s"),
                                 "acid": si_text(STRIP_ACID_PER_REE * metal / liquor, "mol/m**3"),
                                 "concentration": {c: zero for c in feed.components}}},
            "products": {"strip_liquor": {"key": [], "outlet": "raffinate"},
                         "stripped_organic": {"key": [], "outlet": "loaded_organic"}}}


def design_train(feed, products, *, purity=0.999, purities=None, optimise=True, executor=None,
                 margin=DEFAULT_MARGIN, max_rounds=MAX_ROUNDS, name=None) -> TrainResult:
    """Design a train of separation-factor cascades that splits ``feed`` into ``products``.

    Parameters
    ----------
    feed : TrainFeed, path or mapping
        A feed file or a separation-factor cascade config (:mod:`sx_model.config.train`).
    products : str or list
        ``"La,Ce,Pr+Nd"`` or ``["La", "Ce", "Pr+Nd"]`` (see :func:`parse_products`).
    purity, purities : float, dict
        Purity of every product, and per product name.
    optimise : bool
        Try the neighbouring refluxes of each cascade by simulation and keep the cheapest.

    Returns a :class:`TrainResult`; raises ConfigError on bad input, InfeasibleDesign when a cut cannot
    be designed, ConvergenceError when the whole train does not solve.
    """
    from ..config import load_config
    from ..config.flowsheet import read_flowsheet
    from ..config.train import TrainFeed, read_train_feed
    from ..solvers.steady import solve

    start = time.perf_counter()
    if not isinstance(feed, TrainFeed):
        feed = read_train_feed(feed)
    prods = parse_products(products, feed, purity, purities)
    planner = Planner(feed, prods, margin=margin)
    root = planner.plan()
    estimated = root.cost()
    executor = executor or SerialExecutor()
    designed, strips, solves, rounds = {}, {}, 0, []
    root_feed = (AQUEOUS, feed.flow, list(feed.concentration))

    def design_below(step, stream):
        nonlocal solves
        d = design_step(planner, step, stream, optimise=optimise, executor=executor)
        solves += d.solves + 1
        designed[d.name] = d
        if isinstance(step.raffinate, Step):
            design_below(step.raffinate, _stream(d.result.products["raffinate"]))
        if isinstance(step.organic, Step):
            name = f"{d.name}_strip"
            cascade = load_config(_strip_mapping(feed, name, _stream(d.result.products["loaded_organic"]),
                                                 planner.total_concentration))
            cascade.cost_parameters = dict(planner.p)
            result = solve(cascade)
            solves += 1
            strips[d.name] = (name, cascade, result)
            design_below(step.organic, _stream(result.products["strip_liquor"]))

    design_below(root, root_feed)
    for round_ in range(max_rounds + 1):
        sheet, outlets, start_profile = _flowsheet(feed, prods, root, designed, strips, name)
        result = solve(read_flowsheet(sheet).cascade(), initial=start_profile)
        solves += 1
        misses = _misses(prods, result, outlets, planner, feed)
        rounds.append({"round": round_, "purity": {p.name: result.products[outlets[p.name]].purity
                                                   for p in prods},
                       "tightened": [m[0] for m in misses]})
        if not misses or round_ == max_rounds:
            break
        redo = set()
        for _, cut, side, factor in misses:
            if side == "right":
                planner.leak_right[cut] *= factor
            else:
                planner.leak_left[cut] *= factor
            redo.add(cut)
        # design again every cascade making a tightened cut, and the cascades below it
        for step in root.steps():
            if step.cut in redo:
                old = designed[_name(prods, step)]
                for below in step.steps():
                    designed.pop(_name(prods, below), None)
                    strips.pop(_name(prods, below), None)
                design_below(step, old.feed)
                redo -= {s.cut for s in step.steps()}
    return TrainResult(name=name or feed.name, products=prods, sequence=root, estimated_usd_per_year=estimated,
                       designed={_name(prods, s): designed[_name(prods, s)] for s in root.steps()},
                       strips={k: v[0] for k, v in strips.items()},
                       flowsheet=sheet, result=result, product_outlets=outlets, rounds=rounds,
                       elapsed_s=time.perf_counter() - start, solves=solves)


def _misses(products, result, outlets, planner, feed):
    """(product, cut, side, factor) for every side of a product that brings more impurity than its
    budget (or most of it), where the product misses its purity."""
    out = []
    order = {e: feed.beta(e) for e in feed.components}
    for k, prod in enumerate(products):
        r = result.products[outlets[prod.name]]
        if r.purity >= prod.purity:
            continue
        lo, hi = order[prod.elements[0]], order[prod.elements[-1]]
        flow = r.flow_m3_per_s
        lighter = flow * sum(x for c, x in r.concentration_mol_per_m3.items() if order[c] < lo)
        heavier = flow * sum(x for c, x in r.concentration_mol_per_m3.items() if order[c] > hi)
        own = flow * sum(r.concentration_mol_per_m3[e] for e in prod.elements)
        excess = (lighter + heavier) / (own * (1 - prod.purity) / prod.purity)
        for side, amount, cut in (("left", lighter, k - 1), ("right", heavier, k)):
            if cut < 0 or cut >= len(products) - 1 or amount <= 0:
                continue
            budget = planner.leak_left[cut] if side == "left" else planner.leak_right[cut]
            if amount > budget:
                out.append((prod.name, cut, side, max(0.8 * budget / amount, 0.05)))
            elif amount > 0.5 * (lighter + heavier):
                out.append((prod.name, cut, side, max(0.8 / excess, 0.05)))
    return out


@dataclass
class _Start:
    """A start for the whole-train solve: the cascades' own simulations stacked."""

    aqueous: object
    organic: object


def _flowsheet(feed, products, root, designed, strips, name):
    """The flowsheet config of the designed train (cascades inline), product -> outlet names, and the
    stacked profiles of the cascades' own simulations (a start for the joined solve)."""
    import numpy as np

    cascades, links, outlets, profiles = {}, [], {}, []
    for step in root.steps():
        d = designed[_name(products, step)]
        config = d.cascade.to_config()
        prods = {}
        for child, outlet in ((step.raffinate, "raffinate"), (step.organic, "loaded_organic")):
            if isinstance(child, Step):
                side = products[:step.cut + 1] if outlet == "raffinate" else products[step.cut + 1:]
                prods[outlet] = {"key": [e for p in side for e in p.elements]}
            else:
                prod = products[child]
                prods[prod.name] = {"key": list(prod.elements), "outlet": outlet}
                outlets[prod.name] = f"{d.name}.{prod.name}"
        config["products"] = prods
        cascades[d.name] = {"config": config}
        profiles.append(d.result)
        if isinstance(step.raffinate, Step):
            links.append({"from": f"{d.name}.raffinate", "to": f"{_name(products, step.raffinate)}.feed"})
        if isinstance(step.organic, Step):
            strip_name, strip, strip_result = strips[d.name]
            cascades[strip_name] = {"config": strip.to_config()}
            profiles.append(strip_result)
            links.append({"from": f"{d.name}.loaded_organic", "to": f"{strip_name}.organic"})
            links.append({"from": f"{strip_name}.strip_liquor", "to": f"{_name(products, step.organic)}.feed"})
    sheet = {"name": name or f"Train: {', '.join(p.name for p in products)}", "cascades": cascades,
             "links": links}
    start = _Start(np.vstack([r.aqueous for r in profiles]), np.vstack([r.organic for r in profiles]))
    return sheet, outlets, start


def _staged(w, f, phase, beta, a, b, spare):
    """(S, W, n, m) at scrub ratio ``w``: S from the balance of the feed phase, the theory's stage
    counts rounded up; None where the ratios are not positive, the split is infeasible or a section
    would exceed MAX_SECTION_STAGES."""
    s = w + f if phase == AQUEOUS else w + f - 1.0
    if s <= 0 or w <= 0:
        return None
    try:
        n_real, m_real = section_stages(beta, a, b, s, w, phase, spare)
    except InfeasibleDesign:
        return None
    n, m = max(1, math.ceil(n_real)), max(1, math.ceil(m_real))
    if max(n, m) > MAX_SECTION_STAGES:
        return None
    return s, w, n, m
