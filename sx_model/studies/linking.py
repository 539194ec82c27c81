"""Reagents of several configs against a baseline: what linking cascades saves.

A linked train (a cascade's loaded organic used as the next cascade's organic feed, or a liquor passed
between cascades) is compared with the unlinked train it replaces: both are solved, their products are
set side by side (matched by name, each checked against purity targets), and the acid fed and the
saponification base of every cascade and of the whole train are reported with the change against the
first config (the baseline). ``sx-model compare BASELINE OTHER --reagents`` prints it;
``configs/flowsheets/prnd_unlinked.yaml`` and ``prnd_linked.yaml`` are the worked pair
(docs/theory.md, section 7.8).

Acid is what the liquors bring (their free acid, H+ mol/h, the figure every result reports as
``acid_fed_mol_per_h``); base is the saponification base of the fresh organic (mol/h as NaOH or NH3).
Both are the results' own accounting, summed over the cascades of a flowsheet.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError


@dataclass
class ReagentUse:
    """Reagents and products of one solved config."""

    label: str
    converged: bool
    mass_balance_error: float
    acid_mol_per_h: float
    base_mol_per_h: float
    by_cascade: dict                       # cascade -> {"acid_mol_per_h", "base_mol_per_h"}
    products: dict                         # product -> {"purity", "recovery", "flow_m3_per_s", "key"}
    targets_met: dict = field(default_factory=dict)     # product -> bool

    def to_dict(self) -> dict:
        return {"label": self.label, "converged": self.converged, "mass_balance_error": self.mass_balance_error,
                "acid_fed_mol_per_h": self.acid_mol_per_h, "saponification_base_mol_per_h": self.base_mol_per_h,
                "cascades": self.by_cascade, "products": self.products, "targets_met": self.targets_met}


@dataclass
class ReagentComparison:
    """Configs solved side by side, the first the baseline (see module docstring)."""

    uses: list
    targets: dict
    results: list = field(repr=False, default_factory=list)

    @property
    def baseline(self) -> ReagentUse:
        return self.uses[0]

    def saving(self, use: ReagentUse) -> dict:
        """Acid and base saved by ``use`` against the baseline [mol/h] and as fractions of the baseline's."""
        base = self.baseline
        acid = base.acid_mol_per_h - use.acid_mol_per_h
        sap = base.base_mol_per_h - use.base_mol_per_h
        return {"acid_mol_per_h": acid, "acid_fraction": acid / base.acid_mol_per_h if base.acid_mol_per_h else None,
                "base_mol_per_h": sap, "base_fraction": sap / base.base_mol_per_h if base.base_mol_per_h else None}

    @property
    def same_products(self) -> bool:
        """Every config has the baseline's keyed products and meets every target."""
        names = {n for n, p in self.baseline.products.items() if p["key"]}
        return all(names <= set(u.products) and all(u.targets_met.values()) for u in self.uses)

    def to_dict(self) -> dict:
        return {"baseline": self.baseline.label, "targets": self.targets, "same_products": self.same_products,
                "configs": {u.label: u.to_dict() for u in self.uses},
                "saving": {u.label: self.saving(u) for u in self.uses[1:]}}

    def rows(self) -> list:
        out = []
        for u in self.uses:
            for name, part in u.by_cascade.items():
                out.append({"config": u.label, "cascade": name, "acid_fed_mol_per_h": part["acid_mol_per_h"],
                            "saponification_base_mol_per_h": part["base_mol_per_h"]})
            out.append({"config": u.label, "cascade": "total", "acid_fed_mol_per_h": u.acid_mol_per_h,
                        "saponification_base_mol_per_h": u.base_mol_per_h})
        return out

    def to_csv(self) -> str:
        from ..results import tidy_csv

        return tidy_csv(self.rows())

    def table(self) -> str:
        lines = [f"reagents against {self.baseline.label} (acid fed as H+, saponification base)", "",
                 f"{'config':<28} {'cascade':<14} {'acid mol/h':>12} {'base mol/h':>12}"]
        for r in self.rows():
            lines.append(f"{r['config']:<28} {r['cascade']:<14} {r['acid_fed_mol_per_h']:>12.5g} "
                         f"{r['saponification_base_mol_per_h']:>12.5g}")
        lines += ["", f"{'config':<28} {'product':<22} {'purity':>10} {'recovery':>10} {'target':>8}"]
        for u in self.uses:
            for name, p in u.products.items():
                if not p["key"]:
                    continue
                target = self.targets.get(name)
                mark = "-" if target is None else ("met" if u.targets_met[name] else "MISSED")
                lines.append(f"{u.label:<28} {name:<22} {100 * p['purity']:>9.4f}% {100 * p['recovery']:>9.4f}% "
                             f"{mark:>8}")
        lines.append("")
        for u in self.uses:
            lines.append(f"{u.label}: converged {u.converged}, mass-balance closure {u.mass_balance_error:.2e}")
        for u in self.uses[1:]:
            s = self.saving(u)
            lines.append(f"{u.label} saves {s['acid_mol_per_h']:.5g} mol/h acid ({_pct(s['acid_fraction'])}) and "
                         f"{s['base_mol_per_h']:.5g} mol/h base ({_pct(s['base_fraction'])}) against "
                         f"{self.baseline.label}")
        lines.append(f"same products (every keyed product of {self.baseline.label} present"
                     + (", every target met" if self.targets else "") + f"): {self.same_products}")
        return "\n".join(lines)


def _pct(x):
    return "-" if x is None else f"{100 * x:.2f} %"


def reagent_use(label, result, targets=None) -> ReagentUse:
    """The acid, base and products of one solved ``result`` (a flowsheet's by cascade)."""
    reagents = result.reagents or {}
    acid = float(reagents.get("acid_mol_per_h", 0.0))
    base = float(reagents.get("saponification_base_mol_per_h", 0.0))
    if result.cascades:
        by_cascade = {name: {"acid_mol_per_h": part["acid_fed_mol_per_h"],
                             "base_mol_per_h": part["saponification_base_mol_per_h"]}
                      for name, part in result.cascades.items()}
    else:
        by_cascade = {result.name: {"acid_mol_per_h": acid, "base_mol_per_h": base}}
    products = {name: {"purity": p.purity, "recovery": p.recovery, "flow_m3_per_s": p.flow_m3_per_s,
                       "key": list(p.key)} for name, p in result.products.items()}
    met = {}
    for name, purity in (targets or {}).items():
        p = result.products.get(name)
        met[name] = p is not None and p.purity is not None and p.purity >= purity
    return ReagentUse(label, bool(result.converged), float(result.mass_balance_error), acid, base, by_cascade,
                      products, met)


def compare_reagents(cascades, labels=None, targets=None, executor=None) -> ReagentComparison:
    """Solve ``cascades`` (the first is the baseline) and compare their reagents and products.

    ``targets`` maps product names (``CASCADE.PRODUCT`` in a flowsheet) to purities every config must
    reach; a name that no config has is refused (ConfigError)."""
    from .executors import SerialExecutor

    cascades = list(cascades)
    if len(cascades) < 2:
        raise ConfigError("configs", f"{len(cascades)} config(s); a comparison of reagents needs a baseline "
                                     "and at least one other config")
    labels = list(labels) if labels is not None else [c.name for c in cascades]
    targets = dict(targets or {})
    for name, purity in targets.items():
        if not 0.0 < purity < 1.0:
            raise ConfigError("--target", f"{name}={purity!r}; expected a purity strictly between 0 and 1")
    executor = executor or SerialExecutor()
    results = []
    for cascade in cascades:
        outcome = executor.solve(cascade)
        if isinstance(outcome, Exception):
            raise outcome
        results.append(outcome)
    for name in targets:
        missing = [lab for lab, r in zip(labels, results) if name not in r.products]
        if missing:
            raise ConfigError("--target", f"{name!r}: not a product of {missing[0]}; products: "
                                          f"{', '.join(results[labels.index(missing[0])].products)}")
    uses = [reagent_use(lab, r, targets) for lab, r in zip(labels, results)]
    return ReagentComparison(uses, targets, results)
