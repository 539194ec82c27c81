"""Equilibrium models behind one interface, found by name in a registry.

Adding a model is adding one module with an :class:`EquilibriumModel` subclass and one entry in
:data:`REGISTRY` (name -> "module:Class"); modules are imported only when the model is used.
"""
from __future__ import annotations

import importlib

from .base import EquilibriumModel, StageConditions

REGISTRY = {
    "constant_d": "sx_model.equilibrium.constant_d:ConstantD",
    "separation_factor": "sx_model.equilibrium.separation_factor:SeparationFactor",
    "mass_action": "sx_model.equilibrium.cation_exchange:MassAction",
    "ph_correlation": "sx_model.equilibrium.cation_exchange:PhCorrelation",
    "dosage_correlation": "sx_model.equilibrium.cation_exchange:DosageCorrelation",
    "isotherm": "sx_model.equilibrium.isotherm:Isotherm",
}


def model_class(name: str) -> type:
    """Return the model class registered under ``name``; KeyError lists the valid names."""
    try:
        module_name, class_name = REGISTRY[name].split(":")
    except KeyError:
        raise KeyError(f"unknown equilibrium model {name!r}; valid: {', '.join(REGISTRY)}") from None
    return getattr(importlib.import_module(module_name), class_name)


__all__ = ["EquilibriumModel", "StageConditions", "REGISTRY", "model_class"]
