"""A solvable cascade: circuit + equilibrium model + product definitions, edited as an object.

A :class:`Cascade` is plain data in SI floats. Studies change it with :meth:`Cascade.replace` (stage
counts, flows, acid, feed concentrations, model parameters) and :meth:`Cascade.coarsened`; nothing
here reads or writes YAML. :meth:`Cascade.to_config` gives back a config mapping that
:func:`sx_model.load_config` turns into the same cascade.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import replace as _replace

import numpy as np

from .circuit import AQUEOUS, ORGANIC, Circuit
from .equilibrium.base import EquilibriumModel, StageConditions
from .errors import ConfigError

#: O/A range outside which a warning is issued [-] (usual mixer-settler practice).
OA_RANGE = (0.1, 10.0)
#: Name of the fresh-solvent stream (the organic entering stage 1).
SOLVENT = "organic"


@dataclass
class Cascade:
    """Everything a solver needs, in SI floats.

    Attributes
    ----------
    name : str
    circuit : Circuit
    model : EquilibriumModel
    product_keys : dict
        Product (outlet) name -> tuple of key component names (may be empty).
    warnings : list of str
        Operating-guard warnings found while building it (O/A out of range, ...).
    cost_parameters : dict or None
        Cost model parameters (SI) when the cascade is to be costed, see :mod:`sx_model.cost`.
    starter : callable or None
        ``starter()`` -> an object with ``aqueous`` (N, C) [mol/m^3] the solver starts from when it is
        given no start (a flowsheet's cascades solved one after the other), or None; must pickle.
    """

    name: str
    circuit: Circuit
    model: EquilibriumModel
    product_keys: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    cost_parameters: dict | None = None
    starter: object = None

    @property
    def components(self) -> tuple:
        return self.circuit.components

    @property
    def stage_count(self) -> int:
        return self.circuit.stage_count

    def stages(self) -> dict:
        """Stage count of each section, ``{name: stages}``."""
        return {s.name: s.stages for s in self.circuit.sections}

    def conditions(self, flows=None) -> StageConditions:
        """What the model needs to know about the stages besides their concentrations."""
        flows = flows or self.circuit.phase_flows()
        section_names = [s.name for s in self.circuit.sections]
        sections = tuple(section_names[k] for k in self.circuit.section_of_stage())
        circuit = self.circuit

        def tracer(load, _flows=flows):
            return circuit.aqueous_tracer(_flows, load)

        solvent = sum(i.flow for i in circuit.inlets if i.name == SOLVENT)
        return StageConditions(section=sections, aqueous_flow=flows["aqueous"],
                               organic_flow=flows["organic"], acid_inflow=circuit.acid_inflow(),
                               metal_inflow=float(circuit.inlet_loads().sum()),
                               anion_inflow=circuit.anion_inflow(), tracer=tracer,
                               solvent_inflow=float(solvent), temperature=circuit.stage_temperature(),
                               aqueous_metal_inflow=circuit.aqueous_metal_inflow(),
                               sulfate_inflow=circuit.sulfate_inflow())

    def feed_totals(self) -> np.ndarray:
        """Total inflow of each component from all inlets [mol/s], shape (C,)."""
        return self.circuit.inlet_loads().sum(axis=0)

    # -- checks ----------------------------------------------------------------------------------
    def check(self):
        """Raise ConfigError where the inputs admit no steady state (a stage one phase does not pass,
        acid that strips more than the organic carries, ...); returns the phase flows."""
        flows = self.circuit.phase_flows()
        check_flows(self.circuit, flows)
        for inlet in self.circuit.inlets:
            used = self.model.capacity_used(inlet.concentration) if inlet.phase == ORGANIC else None
            if used is not None and used > 1.0 + 1e-9:
                raise ConfigError(f"streams.{inlet.name}.concentration",
                                  f"the organic {inlet.name} stream carries {100 * used:.4g} % of the "
                                  "extractant's capacity; expected at most 100 %")
        self.model.prepare(self.conditions(flows))
        return flows

    # -- editing ---------------------------------------------------------------------------------
    def replace(self, *, stages=None, flows=None, acid=None, concentrations=None, model=None,
                name=None, cost_parameters=None, **model_parameters) -> "Cascade":
        """A copy with some inputs changed (SI units throughout).

        Parameters
        ----------
        stages : dict, optional
            Section name -> stage count; feeds, products and the solvent loop keep their places.
        flows : dict, optional
            Stream name -> volumetric flow [m^3/s]. For a closed solvent loop, ``organic`` is the
            circulating flow (the make-up follows at the bleed fraction).
        acid : dict, optional
            Stream name -> free acid [mol/m^3].
        concentrations : dict, optional
            Stream name -> {component: concentration [mol/m^3]} (the components not named keep theirs).
        model : EquilibriumModel, optional
            A new equilibrium model (same components).
        **model_parameters
            Constructor arguments of the model to change, e.g. ``separation_factors=[...]``,
            ``capacity=...`` (see the model's ``parameters()``).
        """
        circuit = self.circuit.restaged(stages) if stages else self.circuit
        if flows or acid or concentrations:
            circuit = _edit_streams(circuit, flows or {}, acid or {}, concentrations or {})
        new_model = model if model is not None else self.model
        if model_parameters:
            new_model = new_model.with_parameters(**model_parameters)
        out = Cascade(name=self.name if name is None else name, circuit=circuit, model=new_model,
                      product_keys=dict(self.product_keys),
                      cost_parameters=self.cost_parameters if cost_parameters is None else cost_parameters,
                      starter=self.starter)
        out.warnings = operating_warnings(circuit)
        return out

    def coarsened(self) -> "Cascade":
        """The same cascade with every section halved (rounded up): stage-count continuation solves
        it first and starts the full cascade from its resampled profile."""
        return self.replace(stages={s.name: max(1, (s.stages + 1) // 2) for s in self.circuit.sections})

    def to_config(self) -> dict:
        """A config mapping (values with SI units) that :func:`sx_model.load_config` reads back into
        this cascade."""
        from .config.writer import to_config

        return to_config(self)


def _edit_streams(circuit: Circuit, flows: dict, acid: dict, concentrations: dict) -> Circuit:
    names = {i.name for i in circuit.inlets}
    loop = circuit.recycle
    for key, table in (("flows", flows), ("acid", acid), ("concentrations", concentrations)):
        for stream in table:
            if stream not in names and not (loop and stream == SOLVENT and key == "flows"):
                raise ConfigError(f"streams.{stream}", f"no stream {stream!r} in this cascade; streams: "
                                                       f"{', '.join(sorted(names))}")
    anchors = dict(circuit.flow_anchors)
    bleed = next((o.fraction for o in circuit.outlets if o.role == "organic_bleed"), 0.0)
    inlets = []
    for inlet in circuit.inlets:
        changes = {}
        if inlet.name in flows:
            changes["flow"] = float(flows[inlet.name])
            if loop and inlet.name == SOLVENT:
                changes["flow"] = bleed * float(flows[inlet.name])
        if inlet.name in acid:
            changes["acid"] = float(acid[inlet.name])
        if inlet.name in concentrations:
            conc = inlet.concentration.copy()
            for comp, value in concentrations[inlet.name].items():
                conc[circuit.components.index(comp)] = float(value)
            changes["concentration"] = conc
        inlets.append(_replace(inlet, **changes) if changes else inlet)
    if loop and SOLVENT in flows:
        anchors[ORGANIC] = (anchors[ORGANIC][0], float(flows[SOLVENT]))
    return _replace(circuit, inlets=inlets, flow_anchors=anchors)


def check_flows(circuit: Circuit, flows: dict):
    """ConfigError naming the stream to change where a stage has no flow of one phase through it."""
    for phase in (AQUEOUS, ORGANIC):
        low = np.flatnonzero(~(flows[phase] > 0))
        if low.size:
            j = int(low[0])
            sec = circuit.sections[circuit.section_of_stage()[j]].name
            hint = f"streams.{sec}.flow" if (phase == AQUEOUS and sec in ("scrub", "wash", "strip")) else "streams"
            raise ConfigError(hint, f"stage {j + 1} ({sec}) has no {phase} flow through it; "
                                    f"expected every stage to be passed by both phases")


def operating_warnings(circuit: Circuit) -> list:
    """O/A of each section outside :data:`OA_RANGE` (flows that cannot be computed warn nothing:
    :func:`check_flows` reports them)."""
    warnings = []
    try:
        flows = circuit.phase_flows()
    except Exception:   # a singular flow network; reported with a proper error by the checks
        return warnings
    for sec in circuit.sections:
        j = sec.first
        aq, org = flows[AQUEOUS][j], flows[ORGANIC][j]
        if aq > 0 and org > 0:
            if sec.mixer_o_a is not None:
                ratio = sec.mixer_o_a
                if not OA_RANGE[0] <= ratio <= OA_RANGE[1]:
                    warnings.append(f"O/A in the mixers of the {sec.name} section is {ratio:.3g} "
                                    f"(sections.{sec.name}.mixer_o_a), outside the usual "
                                    f"{OA_RANGE[0]:g}..{OA_RANGE[1]:g} of mixer-settlers")
                continue
            ratio = org / aq
            if not OA_RANGE[0] <= ratio <= OA_RANGE[1]:
                warnings.append(f"O/A in the {sec.name} section is {ratio:.3g}, outside the usual "
                                f"{OA_RANGE[0]:g}..{OA_RANGE[1]:g} of mixer-settlers (plants recycle "
                                f"settled phase to the mixers: sections.{sec.name}.mixer_o_a)")
    return warnings


def mixer_recycle(section, aqueous_flow, organic_flow) -> dict | None:
    """The internal recycle that holds ``section.mixer_o_a`` in a mixer whose advance flows are
    ``aqueous_flow`` and ``organic_flow`` [m^3/s]: the phase recycled and its flow, or None without a
    mixer O/A."""
    target = section.mixer_o_a
    if target is None or aqueous_flow <= 0 or organic_flow <= 0:
        return None
    advance = organic_flow / aqueous_flow
    if advance > target:            # too little aqueous in the mixer: recycle settled aqueous
        phase, flow = AQUEOUS, organic_flow / target - aqueous_flow
    else:                           # too little organic: recycle settled organic
        phase, flow = ORGANIC, target * aqueous_flow - organic_flow
    return {"advance_o_a": float(advance), "mixer_o_a": float(target), "recycled_phase": phase,
            "recycle_m3_per_s": float(flow)}
