"""A solvable cascade: circuit + equilibrium model + product definitions (+ the config it came from)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .circuit import Circuit
from .equilibrium.base import EquilibriumModel, StageConditions


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
    config : dict
        The raw config mapping this cascade was built from (for sweeps and written designs); may be empty.
    warnings : list of str
        Operating-guard warnings found while building it (O/A out of range, ...).
    """

    name: str
    circuit: Circuit
    model: EquilibriumModel
    product_keys: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    cost_parameters: dict | None = None

    @property
    def components(self) -> tuple:
        return self.circuit.components

    @property
    def stage_count(self) -> int:
        return self.circuit.stage_count

    def conditions(self, flows=None) -> StageConditions:
        flows = flows or self.circuit.phase_flows()
        section_names = [s.name for s in self.circuit.sections]
        sections = tuple(section_names[k] for k in self.circuit.section_of_stage())
        circuit = self.circuit

        def tracer(load, _flows=flows):
            return circuit.aqueous_tracer(_flows, load)

        return StageConditions(section=sections, aqueous_flow=flows["aqueous"],
                               organic_flow=flows["organic"], acid_inflow=circuit.acid_inflow(),
                               metal_inflow=float(circuit.inlet_loads().sum()),
                               anion_inflow=circuit.anion_inflow(), tracer=tracer)

    def feed_totals(self) -> np.ndarray:
        """Total inflow of each component from all inlets [mol/s], shape (C,)."""
        return self.circuit.inlet_loads().sum(axis=0)
