"""The two-product separation problem that design, curve and optimize work on, and its targets.

A :class:`TwoProductProblem` is read off a :class:`~sx_model.cascade.Cascade` (separation_factor model,
extraction + scrub, one feed, one organic and one raffinate product whose keys split the components).
:meth:`TwoProductProblem.build` gives the cascade with n extraction and m scrub stages at the scrub
ratios S and W of the theory (mol per mol of feed metal); the feed stays at the junction of the
sections, the flows are set from S and W.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..circuit import AQUEOUS, ORGANIC, feed_anchor
from ..constants import PROTONS_PER_REE
from ..equilibrium.separation_factor import SeparationFactor
from ..errors import ConfigError
from ..theory import mixed_extraction_ratios, shortcut_design

#: Scrub-acid strength used when the cascade's scrub liquor carries none [mol/m^3] (4 mol/L HCl,
#: a common choice in REE plants; an assumption).
DEFAULT_SCRUB_ACID = 4000.0
L_PER_MIN = 1e-3 / 60.0       # m^3/s per L/min
RESERVED = ("organic", "scrub", "wash", "strip")


@dataclass
class Targets:
    """Purity [-] and optional recovery [-] targets of the organic (A) and raffinate (B) products."""

    purity_a: float
    purity_b: float
    recovery_a: float | None = None
    recovery_b: float | None = None


def parse_target(text: str):
    """``PRODUCT=purity[,recovery]`` -> (product, purity, recovery or None); ConfigError if malformed."""
    if "=" not in text:
        raise ConfigError("--target", f"{text!r}; expected PRODUCT=purity[,recovery] such as "
                                      "loaded_organic=0.999")
    name, _, values = text.partition("=")
    try:
        numbers = [float(p) for p in values.split(",")]
    except ValueError:
        raise ConfigError("--target", f"{text!r}; purity and recovery must be numbers between 0 and 1") \
            from None
    if not 1 <= len(numbers) <= 2 or not all(0 < v < 1 for v in numbers):
        raise ConfigError("--target", f"{text!r}; expected PRODUCT=purity[,recovery] with values "
                                      "strictly between 0 and 1")
    return name.strip(), numbers[0], (numbers[1] if len(numbers) == 2 else None)


class TwoProductProblem:
    """The pieces of a cascade that a two-product design needs (see module docstring)."""

    def __init__(self, cascade):
        if not isinstance(cascade.model, SeparationFactor):
            raise ConfigError("equilibrium.model", f"design needs the separation_factor model, got "
                                                   f"{cascade.model.name!r}")
        circuit = cascade.circuit
        if circuit.section("strip") is not None:
            raise ConfigError("sections.strip", "design covers extraction + scrub cascades")
        if circuit.section("scrub") is None:
            raise ConfigError("sections.scrub", "design needs a scrub section (stages may be changed)")
        organic = [o for o in circuit.outlets if o.phase == ORGANIC and o.fraction == 1.0]
        aqueous = [o for o in circuit.outlets if o.phase == AQUEOUS and o.stage == 0]
        if len(organic) != 1 or len(aqueous) != 1:
            raise ConfigError("products", "design needs exactly one organic and one raffinate product")
        self.organic_name, self.raffinate_name = organic[0].name, aqueous[0].name
        self._key_pair(cascade)
        feeds = [i for i in circuit.inlets if i.name not in RESERVED]
        if len(feeds) != 1:
            raise ConfigError("streams", "design needs exactly one feed stream")
        feed = feeds[0]
        self.feed_name, self.feed_phase = feed.name, feed.phase
        self.feed_rate = float(feed.flow * feed.concentration.sum())          # mol/s REE
        self.feed_flow = feed.flow
        idx_a = [cascade.components.index(c) for c in self.a_set]
        self.fraction_a = float(feed.concentration[idx_a].sum() / feed.concentration.sum())
        self.capacity = cascade.model.capacity
        acid = [i.acid for i in circuit.inlets if i.name == "scrub"]
        self.scrub_acid = acid[0] if acid and acid[0] > 0 else DEFAULT_SCRUB_ACID
        # the feed goes to the junction of the sections whatever the stage counts
        sections = {s.name: s for s in circuit.sections}
        inlets = [replace(i, anchor=feed_anchor(sections, i.phase), explicit=False) if i is feed else i
                  for i in circuit.inlets]
        self.cascade = replace(cascade, circuit=replace(circuit, inlets=inlets))

    def _key_pair(self, cascade):
        comps = list(cascade.components)
        self.a_set = list(cascade.product_keys.get(self.organic_name, ()))
        self.b_set = list(cascade.product_keys.get(self.raffinate_name, ()))
        if not self.a_set or not self.b_set or sorted(self.a_set + self.b_set) != sorted(comps):
            raise ConfigError("products", f"the keys of {self.organic_name} and {self.raffinate_name} must "
                                          f"split the components ({', '.join(comps)}) between them")
        beta = dict(zip(comps, cascade.model.separation_factors))
        light_a = min(self.a_set, key=lambda c: beta[c])
        heavy_b = max(self.b_set, key=lambda c: beta[c])
        self.key_pair = (light_a, heavy_b)
        self.beta = beta[light_a] / beta[heavy_b]
        if self.beta <= 1:
            raise ConfigError("equilibrium.separation_factors",
                              f"the organic product's least extractable key {light_a} must be more "
                              f"extractable than the raffinate's most extractable key {heavy_b}")

    def flows(self, s, w) -> dict:
        """Organic and scrub flows [m^3/s] for S and W (mol per mol feed)."""
        return {"organic": s * self.feed_rate / self.capacity,
                "scrub": PROTONS_PER_REE * w * self.feed_rate / self.scrub_acid}

    def build(self, n, m, s, w):
        """The cascade with n extraction and m scrub stages at S and W (per mol feed)."""
        return self.cascade.replace(stages={"extraction": int(n), "scrub": int(m)}, flows=self.flows(s, w),
                                    acid={"scrub": self.scrub_acid})

    def figures(self, n, m, s, w) -> dict:
        e_m, e_mp = mixed_extraction_ratios(s, w, self.feed_phase)
        flows = self.flows(s, w)
        return {"extraction_stages": int(n), "scrub_stages": int(m),
                "feed_stage": int(n) if self.feed_phase == AQUEOUS else int(n) + 1,
                "s": s, "w": w, "e_m": e_m, "e_m_prime": e_mp,
                "organic_l_per_min": flows["organic"] / L_PER_MIN,
                "scrub_l_per_min": flows["scrub"] / L_PER_MIN,
                "feed_l_per_min": self.feed_flow / L_PER_MIN}

    def meets(self, products, targets: Targets) -> bool:
        """Whether products (name -> object or dict with purity and recovery) meet the targets."""
        def get(product, name):
            return product[name] if isinstance(product, dict) else getattr(product, name)

        a, b = products[self.organic_name], products[self.raffinate_name]
        return (get(a, "purity") >= targets.purity_a and get(b, "purity") >= targets.purity_b
                and (targets.recovery_a is None or get(a, "recovery") >= targets.recovery_a)
                and (targets.recovery_b is None or get(b, "recovery") >= targets.recovery_b))

    def shortcut(self, targets: Targets):
        """(purity A, purity B, shortcut design) for the targets: the purities that also deliver the
        recovery targets, and the theory's static design for them on the key pair."""
        pa, pb = self.required_purities(targets)
        return pa, pb, shortcut_design(self.beta, self.fraction_a, pa, pb, self.feed_phase)

    def required_purities(self, targets: Targets):
        """Purities that also deliver the recovery targets (each recovery is set by the other product's
        purity through the material balance)."""
        pa, pb = targets.purity_a, targets.purity_b
        fa = self.fraction_a
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
