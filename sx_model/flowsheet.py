"""Flowsheets: several cascades, each with its own sections and chemistry, joined by streams and solved
as one system (one Newton over the whole train, no tearing).

A flowsheet is built into one :class:`~sx_model.cascade.Cascade`: the stages of the cascades are
numbered one after the other, their sections, inlets and outlets are renamed ``<cascade>.<name>``, and
each link (a product of one cascade that is a stream of another) becomes a stage-to-stage link of the
circuit, so the product's outflow enters the other cascade's stage with whatever flow and composition
the solve gives it. The equilibrium model is a :class:`Composite` of the cascades' own models, each
applied to its own stages. Everything downstream (network equations, solver, results) is the ordinary
machinery: aqueous tracers (chloride, proton totals, sulfate) travel through the links with the liquors.

Links:

- an aqueous product (raffinate, strip liquor, scrub outlet) into an aqueous stream of another cascade
  (its feed, scrub or strip liquor);
- an organic product (loaded or stripped organic) into an organic stream (its solvent or an organic
  feed): a cascade's loaded organic used as the extractant of the next.

Both ends must be end outlets and stream inlets of the same phase; the stream replaced by a link keeps
its place (stage) but takes the flow and composition that arrive. A link into an acidity-driven cascade
must come from a cascade with the same chemistry of protons (medium and protons per metal), and an
organic link from one with the same extractant, so that the quantities the tracers carry mean the same
on both sides. Cascades are not re-staged inside a flowsheet (the solver's coarse levels are skipped).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import numpy as np

from .circuit import AQUEOUS, ORGANIC, PHASES, Circuit
from .equilibrium.base import EquilibriumModel
from .errors import ConfigError


@dataclass(frozen=True)
class Part:
    """One cascade of a flowsheet inside the combined cascade."""

    name: str
    first: int                  # index of its first stage in the combined cascade
    stages: int
    model: EquilibriumModel
    solvent_inflow: float       # fresh organic fed to it (the ``organic`` stream, unless linked) [m^3/s]
    sections: tuple             # its own section name of each of its stages
    cost_parameters: dict | None = None     # its config's cost section (None: not costed)


class Composite(EquilibriumModel):
    """The equilibrium models of a flowsheet's cascades, each applied to its own stages.

    Each part's model is prepared on the whole flowsheet's conditions (so the aqueous tracers see every
    inlet of the train and travel through the links) with its own solvent stage and section names, and is
    evaluated with the concentrations of the other parts' stages set to zero; only its own rows are kept.
    Parts without internal unknowns get a trivial one (w = 0) when another part has them.
    """

    name = "flowsheet"

    def __init__(self, parts):
        self.parts = tuple(parts)
        self.components = self.parts[0].model.components
        self.internal_count = max(p.model.internal_count for p in self.parts)
        self.linear = all(p.model.linear for p in self.parts)

    def parameters(self):
        return {"parts": self.parts}

    def describe(self):
        return {"model": self.name, "cascades": {p.name: p.model.describe() for p in self.parts}}

    # -- helpers ---------------------------------------------------------------------------------
    def _rows(self, part):
        return slice(part.first, part.first + part.stages)

    def _masked(self, x, part):
        out = np.zeros_like(x)
        rows = self._rows(part)
        out[rows] = x[rows]
        return out

    # -- stage equations ---------------------------------------------------------------------------
    def _base_loads(self, conditions):
        """Saponification base [mol/s] each part puts into the aqueous at its solvent stage, (N,) each."""
        out = []
        for part in self.parts:
            load = np.zeros(len(conditions.section))
            sapon = getattr(part.model, "saponification", 0.0)
            if sapon and part.model.internal_count:
                load[part.first] = sapon * part.model.extractant * conditions.organic_flow[part.first]
            out.append(load)
        return out

    def prepare(self, conditions):
        prepared = []
        bases = self._base_loads(conditions)
        everyone = np.sum(bases, axis=0)
        for part, own_base in zip(self.parts, bases):
            names = list(conditions.section)
            names[self._rows(part)] = list(part.sections)
            acid = conditions.acid_inflow
            if not part.model.internal_count:
                # models without a proton balance use the acid fed to their own stages only
                acid = np.zeros_like(acid)
                acid[self._rows(part)] = conditions.acid_inflow[self._rows(part)]
            own = replace(conditions, section=tuple(names), solvent_stage=part.first,
                          solvent_inflow=part.solvent_inflow, metal_inflow=None, acid_inflow=acid,
                          extra_base=everyone - own_base)
            try:
                params = part.model.prepare(own)
            except ConfigError as exc:
                raise ConfigError(f"cascades.{part.name}.{exc.key}", exc.message) from None
            w0 = None
            if part.model.internal_count:
                zeros = np.zeros((len(conditions.section), len(self.components)))
                w0 = part.model.internal_start(zeros, params)
            prepared.append((params, w0))
        return prepared

    def _w(self, w, part, w0):
        """The part's internal unknowns over the whole train: its own rows from ``w``, the rest from its
        start (the part ignores those rows)."""
        m = part.model.internal_count
        full = w0.copy()
        rows = self._rows(part)
        full[rows] = w[rows, :m]
        return full

    def equilibrium(self, x, params):
        n, c = x.shape
        y, jac = np.zeros((n, c)), np.zeros((n, c, c))
        for part, (p, _) in zip(self.parts, params):
            rows = self._rows(part)
            with np.errstate(all="ignore"):
                y_p, j_p = part.model.equilibrium(self._masked(x, part), p)
            y[rows], jac[rows] = y_p[rows], j_p[rows]
        return y, jac

    def distribution(self, params):
        out = None
        for part, (p, _) in zip(self.parts, params):
            d = part.model.distribution(p)
            out = np.zeros_like(d) if out is None else out
            out[self._rows(part)] = d[self._rows(part)]
        return out

    def equilibrium_internal(self, x, w, params):
        n, c = x.shape
        m = self.internal_count
        y, dydx, dydw = np.zeros((n, c)), np.zeros((n, c, c)), np.zeros((n, c, m))
        for part, (p, w0) in zip(self.parts, params):
            rows = self._rows(part)
            xm = self._masked(x, part)
            with np.errstate(all="ignore"):
                if part.model.internal_count:
                    y_p, dx_p, dw_p = part.model.equilibrium_internal(xm, self._w(w, part, w0), p)
                    dydw[rows, :, :dw_p.shape[2]] = dw_p[rows]
                else:
                    y_p, dx_p = part.model.equilibrium(xm, p)
            y[rows], dydx[rows] = y_p[rows], dx_p[rows]
        return y, dydx, dydw

    def constraint(self, x, w, params):
        n, c = x.shape
        m = self.internal_count
        e, de_dx, de_dw = np.zeros((n, m)), np.zeros((n, m, c)), np.zeros((n, m, m))
        for part, (p, w0) in zip(self.parts, params):
            rows = self._rows(part)
            k = part.model.internal_count
            if k:
                e_p, dx_p, dw_p = part.model.constraint(self._masked(x, part), self._w(w, part, w0), p)
                e[rows, :k], de_dx[rows, :k], de_dw[rows, :k, :k] = e_p[rows], dx_p[rows], dw_p[rows]
            # unknowns a part does not have are held at zero: e = w
            for j in range(k, m):
                e[rows, j] = w[rows, j]
                de_dw[rows, j, j] = 1.0
        return e, de_dx, de_dw

    def internal_start(self, x, params):
        out = np.zeros((x.shape[0], self.internal_count))
        for part, (p, _) in zip(self.parts, params):
            if part.model.internal_count:
                rows = self._rows(part)
                out[rows, :part.model.internal_count] = part.model.internal_start(self._masked(x, part), p)[rows]
        return out

    def distribution_guess(self, x_reference, params):
        out = None
        for part, (p, _) in zip(self.parts, params):
            d = np.asarray(part.model.distribution_guess(x_reference, p), dtype=float)
            if out is None:
                out = np.zeros_like(d)
            out[self._rows(part)] = d[self._rows(part)]
        return out

    def admissible(self, x, params):
        out = x.copy()
        for part, (p, _) in zip(self.parts, params):
            rows = self._rows(part)
            out[rows] = part.model.admissible(self._masked(x, part), p)[rows]
        return out

    def continuation(self, params, fraction):
        out = []
        for part, (p, w0) in zip(self.parts, params):
            q = part.model.continuation(p, fraction)
            if q is None:
                return None
            out.append((q, w0))
        return out

    def saturation_loading(self, params):
        return None

    def failure_hint(self, x, y, params):
        hints = []
        for part, (p, _) in zip(self.parts, params):
            hint = part.model.failure_hint(self._masked(x, part), self._masked(y, part), p)
            if hint:
                hints.append(f" (cascade {part.name}){hint}")
        return "".join(hints)

    # -- outputs -----------------------------------------------------------------------------------
    def diagnostics(self, x, y, params):
        n = x.shape[0]
        out = {}
        for part, (p, _) in zip(self.parts, params):
            rows = self._rows(part)
            for key, values in part.model.diagnostics(self._masked(x, part), self._masked(y, part), p).items():
                out.setdefault(key, np.full(n, np.nan))[rows] = np.asarray(values)[rows]
        return out

    def reagent_flows(self, params):
        """The first part's reagent kinds with the base of all parts summed; ``parts`` holds each part's
        own accounting (the breakdown by cascade reads it)."""
        by_part = {part.name: part.model.reagent_flows(p) for part, (p, _) in zip(self.parts, params)}
        infos = [i for i in by_part.values() if i]
        if not infos:
            return None
        out = dict(infos[0])
        out["base_mol_per_s"] = sum(i.get("base_mol_per_s", 0.0) for i in infos)
        out["proton_balance"] = all(i.get("proton_balance") for i in infos) and len(infos) == len(self.parts)
        out["parts"] = by_part
        return out

    def operating_limits(self):
        limits = [part.model.operating_limits() for part in self.parts]
        out = {}
        loads = [lim["loading_fraction"] for lim in limits if "loading_fraction" in lim]
        if loads:
            out["loading_fraction"] = min(loads)
        admissible = [lim["ph_admissible"] for lim in limits if "ph_admissible" in lim]
        if admissible and len(admissible) == len(limits):
            out["ph_admissible"] = min(admissible)
        return out


@dataclass
class Node:
    """A cascade of a flowsheet, by name."""

    name: str
    cascade: object


@dataclass
class Link:
    """Product ``source`` of cascade ``source_cascade`` becomes stream ``target`` of ``target_cascade``."""

    source_cascade: str
    source: str
    target_cascade: str
    target: str
    key: str = "links"


@dataclass
class Flowsheet:
    """Cascades and the links between them (see module docstring)."""

    name: str
    nodes: list
    links: list = field(default_factory=list)

    def cascade(self):
        """The flowsheet as one :class:`~sx_model.cascade.Cascade` (ConfigError naming the link or cascade
        that cannot be joined)."""
        return combine(self)


def _check_link_chemistry(link, source, target, phase):
    """Links into acidity-driven cascades need the same proton chemistry (aqueous) or extractant (organic)
    on both sides."""
    ms, mt = source.model, target.model
    if not mt.internal_count:
        return
    if phase == AQUEOUS:
        same = (ms.internal_count and getattr(ms, "medium", None) == getattr(mt, "medium", None)
                and np.array_equal(getattr(ms, "protons", None), getattr(mt, "protons", None)))
        if not same:
            raise ConfigError(link.key, f"{link.source_cascade}.{link.source} -> {link.target_cascade}."
                                        f"{link.target}: an aqueous link into an acidity-driven cascade needs "
                                        "the same medium and protons per metal on both sides (the proton "
                                        "total the liquor carries means the same in both)")
    elif not (ms.internal_count and ms.extractant == mt.extractant and ms.association == mt.association
              and np.array_equal(ms.stoichiometry, mt.stoichiometry)):
        raise ConfigError(link.key, f"{link.source_cascade}.{link.source} -> {link.target_cascade}.{link.target}: "
                                    "an organic link into an acidity-driven cascade needs the same extractant "
                                    "(concentration, association, stoichiometry) on both sides")


def combine(sheet: Flowsheet):
    """One cascade of all the flowsheet's cascades, joined by its links (see module docstring)."""
    from .cascade import Cascade

    if not sheet.nodes:
        raise ConfigError("cascades", "a flowsheet needs at least one cascade")
    components = sheet.nodes[0].cascade.components
    for node in sheet.nodes[1:]:
        if tuple(node.cascade.components) != tuple(components):
            raise ConfigError(f"cascades.{node.name}", f"components {list(node.cascade.components)}; every "
                                                       f"cascade of a flowsheet models the same components "
                                                       f"({list(components)})")
    by_name = {node.name: node for node in sheet.nodes}
    offsets, first = {}, 0
    for node in sheet.nodes:
        offsets[node.name] = first
        first += node.cascade.stage_count
    total = first
    # which outlets leave through links, which inlets are replaced by them
    linked_out, linked_in = {}, {}
    for link in sheet.links:
        for cascade_name in (link.source_cascade, link.target_cascade):
            if cascade_name not in by_name:
                raise ConfigError(link.key, f"no cascade {cascade_name!r}; cascades: {', '.join(by_name)}")
        if link.source_cascade == link.target_cascade:
            raise ConfigError(link.key, f"{link.source_cascade}: a link joins two different cascades")
        source, target = by_name[link.source_cascade].cascade, by_name[link.target_cascade].cascade
        outlet = next((o for o in source.circuit.outlets if o.name == link.source), None)
        if outlet is None:
            raise ConfigError(link.key, f"{link.source_cascade} has no product {link.source!r}; products: "
                                        f"{', '.join(o.name for o in source.circuit.outlets)}")
        if outlet.fraction < 1.0:
            raise ConfigError(link.key, f"{link.source_cascade}.{link.source} is a side draw; links leave "
                                        "from end outlets only")
        inlet = next((i for i in target.circuit.inlets if i.name == link.target), None)
        if inlet is None:
            raise ConfigError(link.key, f"{link.target_cascade} has no stream {link.target!r}; streams: "
                                        f"{', '.join(i.name for i in target.circuit.inlets)}")
        if inlet.phase != outlet.phase:
            raise ConfigError(link.key, f"{link.source_cascade}.{link.source} is {outlet.phase} and "
                                        f"{link.target_cascade}.{link.target} is {inlet.phase}; a link joins "
                                        "streams of one phase")
        for table, key in ((linked_out, (link.source_cascade, link.source)),
                           (linked_in, (link.target_cascade, link.target))):
            if key in table:
                raise ConfigError(link.key, f"{key[0]}.{key[1]} is linked twice; a stream has one link")
        _check_link_chemistry(link, source, target, inlet.phase)
        linked_out[(link.source_cascade, link.source)] = (outlet, link)
        linked_in[(link.target_cascade, link.target)] = (inlet, link)
    sections, inlets, outlets, keys, warnings = [], [], [], {}, []
    links = {phase: np.full(total, -1, dtype=int) for phase in PHASES}
    anchors, parts = {}, []
    for node in sheet.nodes:
        cascade, off = node.cascade, offsets[node.name]
        circuit = cascade.circuit
        for sec in circuit.sections:
            sections.append(replace(sec, name=f"{node.name}.{sec.name}", first=sec.first + off))
        for phase in PHASES:
            own = circuit.links[phase]
            links[phase][off:off + circuit.stage_count] = np.where(own >= 0, own + off, -1)
        for phase, (stage, flow) in circuit.flow_anchors.items():
            if phase in anchors:
                raise ConfigError(f"cascades.{node.name}", "a second closed organic loop; a flowsheet may "
                                                           "have one cascade whose organic is recycled")
            anchors[phase] = (stage + off, flow)
        solvent = 0.0
        for inlet in circuit.inlets:
            if (node.name, inlet.name) in linked_in:
                continue
            if inlet.name == "organic":
                solvent += inlet.flow
            inlets.append(replace(inlet, name=f"{node.name}.{inlet.name}", stage=inlet.stage + off,
                                  anchor=None))
        for outlet in circuit.outlets:
            if (node.name, outlet.name) in linked_out:
                continue
            outlets.append(replace(outlet, name=f"{node.name}.{outlet.name}", stage=outlet.stage + off,
                                   role="", anchor=None))
        for product, key in cascade.product_keys.items():
            if (node.name, product) not in linked_out:
                keys[f"{node.name}.{product}"] = key
        warnings += [f"{node.name}: {w}" for w in cascade.warnings]
        names = tuple(circuit.sections[k].name for k in circuit.section_of_stage())
        parts.append(Part(node.name, off, circuit.stage_count, cascade.model, solvent, names,
                          cascade.cost_parameters))
    for (cascade_name, _), (outlet, link) in linked_out.items():
        inlet, _ = linked_in[(link.target_cascade, link.target)]
        source_stage = outlet.stage + offsets[cascade_name]
        if links[outlet.phase][source_stage] >= 0:
            raise ConfigError(link.key, f"{cascade_name}.{link.source}: that stage's {outlet.phase} outflow "
                                        "already goes on inside its cascade")
        links[outlet.phase][source_stage] = inlet.stage + offsets[link.target_cascade]
    _anchor_linked_loop(sheet, links, inlets, outlets, anchors, linked_in, offsets)
    first_circuit = sheet.nodes[0].cascade.circuit
    circuit = Circuit(components=tuple(components), sections=sections, inlets=inlets, outlets=outlets,
                      links=links, flow_anchors=anchors, charges=first_circuit.charges,
                      molar_masses=first_circuit.molar_masses, oxide_masses=first_circuit.oxide_masses,
                      layout_fixed=True)
    costed = [node.cascade.cost_parameters for node in sheet.nodes if node.cascade.cost_parameters is not None]
    combined = Cascade(name=sheet.name, circuit=circuit, model=Composite(parts), product_keys=keys,
                       warnings=warnings, starter=functools.partial(sequential_start, sheet),
                       cost_parameters=costed[0] if costed else None)
    combined.check()
    return combined


def _organic_cycles(successor):
    """The cycles of the organic links (each stage sends its organic to at most one stage), as lists
    of 0-based stages."""
    state = np.zeros(successor.size, dtype=int)          # 0 unseen, 1 on the current path, 2 done
    cycles = []
    for start in range(successor.size):
        path, j = [], start
        while j >= 0 and state[j] == 0:
            state[j] = 1
            path.append(j)
            j = int(successor[j])
        if j >= 0 and state[j] == 1:
            cycles.append(path[path.index(j):])
        for k in path:
            state[k] = 2
    return cycles


def _anchor_linked_loop(sheet, links, inlets, outlets, anchors, linked_in, offsets):
    """A closed organic loop made of links (a cascade's stripped organic returned to where another
    cascade's organic enters, the copper series-parallel plant) carries a circulating flow no inlet
    fixes: it is set by the flow of the organic stream that a link on the loop replaces (that stream
    keeps its place and gives the loop its flow). Loops with an outlet on them (a bleed) need none;
    a loop inside one cascade (``recycle: true``) has its own anchor."""
    drawn = {o.stage for o in outlets if o.phase == ORGANIC}
    fed = {i.stage: i for i in inlets if i.phase == ORGANIC}
    for cycle in _organic_cycles(links[ORGANIC]):
        on = set(cycle)
        if on & drawn:
            continue
        if ORGANIC in anchors and anchors[ORGANIC][0] in on:
            continue
        closing = []
        for (cascade_name, _), (inlet, link) in linked_in.items():
            stage = inlet.stage + offsets[cascade_name]
            if inlet.phase == ORGANIC and stage in on:
                source = next(j for j in cycle if links[ORGANIC][j] == stage)
                closing.append((link, source, inlet.flow))
        closing.sort(key=lambda c: [lk.key for lk in sheet.links].index(c[0].key))
        if not closing:
            continue            # a loop of a cascade's own links: check_flows reports what is wrong
        link, source, flow = closing[0]
        if ORGANIC in anchors:
            raise ConfigError(link.key, "a second closed organic loop; a flowsheet may have one (a "
                                        "cascade's recycle: true, or links returning the organic)")
        stray = sorted(j for j in on if j in fed)
        if stray:
            raise ConfigError(link.key, f"the closed organic loop through this link also takes the organic "
                                        f"stream {fed[stray[0]].name!r}; a loop without a bleed takes no "
                                        "fresh organic (link that stream too, or remove it)")
        for other, _, other_flow in closing[1:]:
            if abs(other_flow - flow) > 1e-9 * flow:
                raise ConfigError(other.key, f"{other.target_cascade}.{other.target} gives the closed "
                                             f"organic loop {other_flow:.6g} m^3/s and {link.target_cascade}."
                                             f"{link.target} {flow:.6g} m^3/s; a closed loop has one flow: "
                                             "give both streams the same flow")
        anchors[ORGANIC] = (source, flow)


#: Components below this fraction of a linked stream's metal are left out of the cascade it feeds when
#: the cascades are solved one after the other for a start [-].
START_TRACE_FRACTION = 1e-10


@dataclass
class _Start:
    aqueous: np.ndarray
    organic: np.ndarray


def sequential_start(sheet: Flowsheet):
    """A start for the joined solve: the cascades solved one after the other in the order of the links
    (each linked stream given the flow and composition its source produced; cascades in a recycle with
    their own streams), stacked. Returns None when a cascade does not solve on its own."""
    from .errors import SxModelError
    from .solvers.steady import solve

    by_name = {node.name: node.cascade for node in sheet.nodes}
    incoming = {node.name: [l for l in sheet.links if l.target_cascade == node.name] for node in sheet.nodes}
    results, pending = {}, [node.name for node in sheet.nodes]
    while pending:
        ready = [n for n in pending if all(l.source_cascade in results for l in incoming[n])]
        name = ready[0] if ready else pending[0]          # a recycle: start it with its own streams
        pending.remove(name)
        cascade = by_name[name]
        flows, conc, acid = {}, {}, {}
        for link in incoming[name]:
            source = results.get(link.source_cascade)
            if source is None:
                continue
            product = source.products[link.source]
            flows[link.target] = product.flow_m3_per_s
            # traces far below the stream's metal are left out of the start: the solver's closure check
            # is relative to each component's feed, which round-off swamps at such traces
            floor = START_TRACE_FRACTION * sum(product.concentration_mol_per_m3.values())
            conc[link.target] = {c: (x if x > floor else 0.0)
                                 for c, x in product.concentration_mol_per_m3.items()}
            proton_total = source.stage_data.get("acid_mol_per_m3")
            if product.phase == AQUEOUS and proton_total is not None:
                acid[link.target] = float(proton_total[product.stage - 1])
        try:
            edited = cascade.replace(flows=flows, concentrations=conc, acid=acid) if flows else cascade
            results[name] = solve(edited)
        except SxModelError:
            return None
    return _Start(np.vstack([results[n.name].aqueous for n in sheet.nodes]),
                  np.vstack([results[n.name].organic for n in sheet.nodes]))


def breakdown(cascade, flows, prods, reagent_info) -> dict | None:
    """Per cascade of a joined flowsheet: its stages, the acid fed to it with its own liquors, the base
    its saponified organic brings, and its products (purity, recovery); None for a plain cascade."""
    model = cascade.model
    if not isinstance(model, Composite):
        return None
    from .constants import SECONDS_PER_HOUR

    out = {}
    for part in model.parts:
        rows = range(part.first, part.first + part.stages)
        acid = sum(i.flow * max(i.acid, 0.0) for i in cascade.circuit.inlets
                   if i.phase == AQUEOUS and i.stage in rows)
        own = ((reagent_info or {}).get("parts") or {}).get(part.name) or {}
        base = own.get("base_mol_per_s", 0.0)          # the part's model's own accounting
        out[part.name] = {
            "stages": part.stages, "first_stage": part.first + 1,
            "acid_fed_mol_per_h": acid * SECONDS_PER_HOUR,
            "saponification_base_mol_per_h": base * SECONDS_PER_HOUR,
            "products": {name.split(".", 1)[1]: {"purity": p.purity, "recovery": p.recovery}
                         for name, p in prods.items() if name.startswith(part.name + ".")}}
        if part.cost_parameters is not None:
            # cost.py's model on the part's own stages, liquors and base; per kg of its keyed products
            from .cost import cascade_cost

            oxide = sum(p.oxide_kg_per_h for name, p in prods.items()
                        if name.startswith(part.name + ".") and p.key)
            cost = cascade_cost(np.asarray(flows["aqueous"])[part.first:part.first + part.stages],
                                np.asarray(flows["organic"])[part.first:part.first + part.stages], acid, base,
                                oxide, part.cost_parameters,
                                acid_kg_per_mol=(own or reagent_info or {}).get("acid_kg_per_mol"))
            out[part.name]["cost"] = cost.to_dict()
    return out
