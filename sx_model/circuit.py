"""The cascade as a generic battery of equilibrium stages: sections, inlets, links and outlets.

Stages are numbered along the organic flow: the fresh solvent enters stage 1 and the feed liquor's
raffinate leaves it (``docs/theory.md``); inside the engine they are 0-based, in everything a user sees
they are 1-based. Each stage has one aqueous and one organic outflow; an
outflow goes on to another stage (``links``), leaves as a product (an outlet), or both (a side draw takes
a fixed fraction of the outflow). Nothing here assumes the two-outlet case.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

AQUEOUS = "aqueous"
ORGANIC = "organic"
PHASES = (AQUEOUS, ORGANIC)


@dataclass(frozen=True)
class Section:
    """A run of consecutive stages.

    Attributes
    ----------
    name : str
        ``extraction``, ``scrub``, ``wash`` or ``strip``.
    first : int
        0-based index of the first stage of the section.
    stages : int
        Number of stages [-].
    efficiency : float
        Murphree efficiency (organic phase) of its stages [-].
    temperature : float
        Temperature of its stages [K].
    mixer_o_a : float or None
        O/A held in the mixers by recycling settled aqueous (or organic) of the same stage back to its
        mixer [-]; None: the mixers run at the advance O/A. An internal recycle leaves the steady-state
        balances of equilibrium stages unchanged (the recycled phase leaves the stage as it enters it);
        it sets the phase ratio the mixers see, which is what the O/A guard checks.
    """

    name: str
    first: int
    stages: int
    efficiency: float = 1.0
    temperature: float = 298.15
    mixer_o_a: float | None = None

    @property
    def last(self) -> int:
        return self.first + self.stages - 1


@dataclass
class Inlet:
    """A stream entering one stage.

    Attributes
    ----------
    name : str
    phase : str
        ``aqueous`` or ``organic``.
    stage : int
        0-based stage index.
    flow : float
        Volumetric flow [m^3/s].
    concentration : numpy.ndarray
        Concentration of each component [mol/m^3].
    acid : float
        Free acid as its proton total [mol/m^3]: [H+] (+ [HSO4-] in sulfate) - [OH-]; negative for a
        liquor that carries free base.
    sulfate : float or None
        Total sulfate [mol/m^3] of an aqueous stream in sulfate medium; None: from electroneutrality
        (metal sulfates and sulfuric acid).
    anchor : tuple or None
        Where the inlet sits in the layout, kept when stage counts change: ``(section, "first")``,
        ``(section, "last")`` or ``(section, offset)`` (0-based offset from the section's first stage).
    explicit : bool
        True when the config placed it with ``stage:`` (written back that way).
    """

    name: str
    phase: str
    stage: int
    flow: float
    concentration: np.ndarray
    acid: float = 0.0
    anchor: tuple | None = None
    explicit: bool = False
    sulfate: float | None = None


@dataclass
class Outlet:
    """A product stream: a fraction of one phase's outflow from one stage.

    Attributes
    ----------
    name : str
    phase : str
    stage : int
        0-based stage index.
    fraction : float
        Fraction of the stage's outflow of that phase taken here [-]; 1 for an end outlet.
    role : str
        For an end outlet of the cascade, its default name (``raffinate``, ``loaded_organic``,
        ``wash_liquor``, ``strip_liquor``, ``stripped_organic``, ``organic_bleed``); "" for a side draw.
    anchor : tuple or None
        As for :class:`Inlet`.
    """

    name: str
    phase: str
    stage: int
    fraction: float = 1.0
    role: str = ""
    anchor: tuple | None = None


@dataclass
class Circuit:
    """Topology and inlets of a cascade.

    Attributes
    ----------
    components : tuple of str
    sections : list of Section
    inlets : list of Inlet
    outlets : list of Outlet
    links : dict
        ``links[phase][j]`` is the 0-based stage that receives the outflow of ``phase`` from stage ``j``
        (what is left of it after side draws), or -1 where that outflow leaves the cascade entirely
        (through the outlets at ``j``).
    flow_anchors : dict
        ``{phase: (stage, flow)}``: the outflow [m^3/s] of ``phase`` from that 0-based stage, for closed
        loops whose circulating flow no inlet fixes (a recycle without bleed).
    charges : tuple of int
        Ionic charge z of each component [-] (component data travel with the circuit so that models,
        solvers and results never read the element tables).
    molar_masses : tuple of float
        [kg/mol] of each component.
    oxide_masses : tuple of float
        Mass of oxide per mole of metal [kg/mol] of each component (REO reporting).
    layout_fixed : bool
        True for a joined flowsheet, whose links are not a countercurrent battery's and which is not
        re-staged (:meth:`restaged` refuses).
    """

    components: tuple
    sections: list
    inlets: list = field(default_factory=list)
    outlets: list = field(default_factory=list)
    links: dict = field(default_factory=dict)
    flow_anchors: dict = field(default_factory=dict)
    charges: tuple = ()
    molar_masses: tuple = ()
    oxide_masses: tuple = ()
    layout_fixed: bool = False

    @property
    def stage_count(self) -> int:
        return sum(s.stages for s in self.sections)

    @property
    def component_count(self) -> int:
        return len(self.components)

    def section(self, name: str):
        for sec in self.sections:
            if sec.name == name:
                return sec
        return None

    def section_of_stage(self) -> np.ndarray:
        """Index into ``sections`` of every stage, shape (N,)."""
        out = np.empty(self.stage_count, dtype=int)
        for k, sec in enumerate(self.sections):
            out[sec.first:sec.first + sec.stages] = k
        return out

    def draw_fractions(self) -> dict:
        """Fraction of each stage's outflow that leaves through outlets, per phase, shape (N,)."""
        n = self.stage_count
        drawn = {p: np.zeros(n) for p in PHASES}
        for outlet in self.outlets:
            drawn[outlet.phase][outlet.stage] += outlet.fraction
        return drawn

    def transfer_matrix(self, phase: str):
        """Sparse matrix T with T[k, j] = fraction of stage j's outflow of ``phase`` entering stage k."""
        import scipy.sparse as sp

        n = self.stage_count
        drawn = self.draw_fractions()[phase]
        src = np.flatnonzero(self.links[phase] >= 0)
        dst = self.links[phase][src]
        return sp.csr_matrix((1.0 - drawn[src], (dst, src)), shape=(n, n))

    def inlet_flow(self, phase: str) -> np.ndarray:
        """Volumetric inflow of ``phase`` from outside the cascade into each stage [m^3/s], shape (N,)."""
        q = np.zeros(self.stage_count)
        for inlet in self.inlets:
            if inlet.phase == phase:
                q[inlet.stage] += inlet.flow
        return q

    def phase_flows(self) -> dict:
        """Volumetric outflow of each phase from each stage [m^3/s] (phases immiscible, volumes kept).

        Solves F = q + T F for each phase, which also covers recycle loops with a bleed; a closed loop
        (no bleed) has its circulating flow fixed by ``flow_anchors``, whose row replaces that stage's
        balance.
        """
        # Computed once per distinct layout and inlet flows (cascade edits, checks, warnings and the
        # solver all ask for them; the key is cheap next to the sparse solve).
        key = (tuple((i.phase, i.stage, i.flow) for i in self.inlets),
               tuple((o.phase, o.stage, o.fraction) for o in self.outlets),
               tuple(self.links[p].tobytes() for p in PHASES), tuple(sorted(self.flow_anchors.items())),
               self.stage_count)
        cached = getattr(self, "_flows_cache", None)
        if cached is not None and cached[0] == key:
            return {p: v.copy() for p, v in cached[1].items()}
        flows = self._solve_phase_flows()
        self._flows_cache = (key, {p: v.copy() for p, v in flows.items()})
        return flows

    def _solve_phase_flows(self) -> dict:
        import scipy.sparse as sp
        import scipy.sparse.linalg as spla

        n = self.stage_count
        flows = {}
        for phase in PHASES:
            matrix = sp.identity(n, format="csc") - self.transfer_matrix(phase).tocsc()
            q = self.inlet_flow(phase)
            if phase in self.flow_anchors:
                stage, flow = self.flow_anchors[phase]
                keep = np.ones(n)
                keep[stage] = 0.0
                pin = np.zeros(n)
                pin[stage] = 1.0
                matrix = (sp.diags(keep) @ matrix + sp.diags(pin)).tocsc()
                q = q.copy()
                q[stage] = flow
            flows[phase] = np.atleast_1d(spla.spsolve(matrix, q)) if n > 1 else q / matrix.toarray()[0, 0]
        return flows

    def efficiency(self) -> np.ndarray:
        """Murphree efficiency (organic phase) of each stage [-], shape (N,)."""
        out = np.ones(self.stage_count)
        for sec in self.sections:
            out[sec.first:sec.first + sec.stages] = sec.efficiency
        return out

    def anion_inflow(self) -> np.ndarray:
        """Anion (chloride) charge fed with the aqueous inlets into each stage [mol/s], shape (N,):
        free acid plus the charge of the dissolved metal chlorides (electroneutral liquors)."""
        charges = np.asarray(self.charges, dtype=float)
        out = np.zeros(self.stage_count)
        for inlet in self.inlets:
            if inlet.phase == AQUEOUS:
                out[inlet.stage] += inlet.flow * (inlet.acid + float(charges @ inlet.concentration))
        return out

    def aqueous_tracer(self, flows, load) -> np.ndarray:
        """Concentration [mol/m^3] in each stage's aqueous of a species that never enters the organic,
        fed at ``load`` [mol/s] per stage: solves F_aq c = load + T_aq F_aq c."""
        import scipy.sparse as sp
        import scipy.sparse.linalg as spla

        f = flows[AQUEOUS]
        matrix = (sp.diags(f) - self.transfer_matrix(AQUEOUS) @ sp.diags(f)).tocsc()
        if self.stage_count == 1:
            return np.atleast_1d(load / f)
        return np.atleast_1d(spla.spsolve(matrix, load))

    def inlet_loads(self) -> np.ndarray:
        """Component inflow into each stage from outside [mol/s], shape (N, C)."""
        loads = np.zeros((self.stage_count, self.component_count))
        for inlet in self.inlets:
            loads[inlet.stage] += inlet.flow * inlet.concentration
        return loads

    def stage_temperature(self) -> np.ndarray:
        """Temperature of each stage [K], shape (N,)."""
        out = np.full(self.stage_count, 298.15)
        for sec in self.sections:
            out[sec.first:sec.first + sec.stages] = sec.temperature
        return out

    def aqueous_metal_inflow(self) -> np.ndarray:
        """Metal fed with aqueous inlets into each stage [mol/s], shape (N, C)."""
        loads = np.zeros((self.stage_count, self.component_count))
        for inlet in self.inlets:
            if inlet.phase == AQUEOUS:
                loads[inlet.stage] += inlet.flow * inlet.concentration
        return loads

    def sulfate_inflow(self) -> np.ndarray:
        """Total sulfate fed with aqueous inlets into each stage [mol/s], shape (N,): the stream's own
        value, else electroneutrality of metal sulfates and sulfuric acid (2 S = acid + sum z c)."""
        charges = np.asarray(self.charges, dtype=float)
        out = np.zeros(self.stage_count)
        for inlet in self.inlets:
            if inlet.phase == AQUEOUS:
                s = inlet.sulfate
                if s is None:
                    s = 0.5 * (inlet.acid + float(charges @ inlet.concentration))
                out[inlet.stage] += inlet.flow * s
        return out

    def acid_inflow(self) -> np.ndarray:
        """Free acid (H+) entering each stage with inlets [mol/s], shape (N,)."""
        acid = np.zeros(self.stage_count)
        for inlet in self.inlets:
            acid[inlet.stage] += inlet.flow * inlet.acid
        return acid

    def reachable(self) -> np.ndarray:
        """Boolean (N, C): whether component i can reach stage j from any inlet that carries it."""
        from scipy.sparse.csgraph import breadth_first_order
        import scipy.sparse as sp

        n, c = self.stage_count, self.component_count
        src, dst = [], []
        for phase in PHASES:
            links = self.links[phase]
            ok = links >= 0
            src.append(np.flatnonzero(ok))
            dst.append(links[ok])
        # one extra node feeding every stage that receives a component from an inlet
        graph_src, graph_dst = np.concatenate(src), np.concatenate(dst)
        reach = np.zeros((n, c), dtype=bool)
        for i in range(c):
            fed = sorted({inlet.stage for inlet in self.inlets if inlet.concentration[i] > 0})
            if not fed:
                continue
            rows = np.concatenate([graph_src, np.full(len(fed), n)])
            cols = np.concatenate([graph_dst, fed])
            graph = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n + 1, n + 1))
            order = breadth_first_order(graph, n, directed=True, return_predecessors=False)
            reach[order[order < n], i] = True
        return reach


    # -- layout edits ----------------------------------------------------------------------------
    @property
    def recycle(self) -> bool:
        """True when the organic leaving the last stage returns to stage 1 (closed solvent loop)."""
        return bool(self.links[ORGANIC][self.stage_count - 1] == 0)

    def restaged(self, counts: dict) -> "Circuit":
        """The same battery with other stage counts per section (``{section name: stages}``).

        Inlets and outlets keep their anchors (a feed at the last extraction stage stays there, a
        side draw keeps its offset within its section, clipped to the section); links are rebuilt as a
        countercurrent battery with the strip section's aqueous leaving at its first stage and the
        solvent loop closed again where it was.
        """
        if self.layout_fixed:
            from .errors import ConfigError

            raise ConfigError("sections", "the stage counts of a joined flowsheet are changed in its "
                                          "cascades' configs, not on the flowsheet")
        sections, first = [], 0
        for sec in self.sections:
            stages = int(counts.get(sec.name, sec.stages))
            if stages < 1:
                raise ValueError(f"section {sec.name!r}: {stages} stages; expected at least 1")
            sections.append(replace(sec, first=first, stages=stages))
            first += stages
        unknown = set(counts) - {s.name for s in self.sections}
        if unknown:
            raise ValueError(f"no section {sorted(unknown)[0]!r} in this cascade")
        by_name = {s.name: s for s in sections}
        inlets = [replace(i, stage=anchored_stage(by_name, i.anchor, i.stage)) for i in self.inlets]
        outlets = [replace(o, stage=anchored_stage(by_name, o.anchor, o.stage)) for o in self.outlets]
        links = countercurrent_links(first, aqueous_breaks(by_name))
        if self.recycle:
            links[ORGANIC][first - 1] = 0
        return replace(self, sections=sections, inlets=inlets, outlets=outlets, links=links)


def anchor_of(sections: dict, stage: int) -> tuple:
    """The anchor of a 0-based stage: ``(section, "first" | "last" | offset)``."""
    for sec in sections.values():
        if sec.first <= stage <= sec.last:
            if stage == sec.last:
                return (sec.name, "last")
            if stage == sec.first:
                return (sec.name, "first")
            return (sec.name, stage - sec.first)
    raise ValueError(f"stage {stage + 1} is outside the cascade")


def anchored_stage(sections: dict, anchor, default: int) -> int:
    """0-based stage of an anchor in a layout (``default`` when there is no anchor)."""
    if anchor is None:
        return default
    name, where = anchor
    sec = sections[name]
    if where == "first":
        return sec.first
    if where == "last":
        return sec.last
    return sec.first + min(int(where), sec.stages - 1)


def feed_anchor(sections: dict, phase: str) -> tuple:
    """Where a feed goes by default: an aqueous feed into the last extraction stage, an organic feed
    into the stage after it (the first scrub stage), i.e. both at the junction of the sections."""
    if phase == AQUEOUS or len(sections) == 1:
        return ("extraction", "last")
    after = [s for s in sections.values() if s.first == sections["extraction"].last + 1]
    return (after[0].name, "first") if after else ("extraction", "last")


def aqueous_breaks(sections: dict) -> list:
    """0-based stages whose aqueous outflow leaves instead of flowing on to the previous stage: the
    first stage of a wash section (its wash liquor) and of a strip section (the strip liquor)."""
    return [sections[name].first for name in ("wash", "strip") if name in sections]


def countercurrent_links(n: int, aqueous_breaks=()) -> dict:
    """Links of a plain countercurrent battery: organic j -> j+1, aqueous j -> j-1.

    ``aqueous_breaks`` lists 0-based stages whose aqueous outflow leaves the cascade instead of flowing on
    (the first strip stage, whose aqueous outflow is the strip liquor).
    """
    organic = np.arange(1, n + 1)
    organic[-1] = -1
    aqueous = np.arange(-1, n - 1)
    for j in aqueous_breaks:
        aqueous[j] = -1
    return {ORGANIC: organic, AQUEOUS: aqueous}
