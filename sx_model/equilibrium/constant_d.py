"""Constant distribution ratio: y_i = D_i x_i, with optional per-section values.

The model behind the Kremser equation (Kremser, Natl. Petroleum News 22 (1930) 42; Seader, Henley and
Roper, Separation Process Principles, 3rd ed., section 5.4).
"""
from __future__ import annotations

import numpy as np

from .base import EquilibriumModel


class ConstantD(EquilibriumModel):
    """Constant distribution ratio per component and section.

    Parameters
    ----------
    components : sequence of str
    distribution : sequence of float
        D_i of each component [-], >= 0.
    by_section : dict, optional
        Section name -> D of every component there, overriding ``distribution`` in that section.
    """

    name = "constant_d"
    linear = True

    def __init__(self, components, distribution, by_section=None):
        self.components = tuple(components)
        self.base = np.asarray(distribution, dtype=float)
        self.by_section = {k: np.asarray(val, dtype=float) for k, val in (by_section or {}).items()}

    def parameters(self):
        return {"components": self.components, "distribution": self.base.tolist(),
                "by_section": {k: val.tolist() for k, val in self.by_section.items()}}

    def prepare(self, conditions):
        n = len(conditions.section)
        table = np.tile(self.base, (n, 1))
        for j, name in enumerate(conditions.section):
            if name in self.by_section:
                table[j] = self.by_section[name]
        return table

    def distribution(self, params):
        return params

    def distribution_guess(self, x_reference, params):
        return np.maximum(params, 1e-12)

    def equilibrium(self, x, params):
        n, c = x.shape
        jac = params[:, :, None] * np.eye(c)[None, :, :]
        return params * x, jac

    def describe(self):
        out = {"model": self.name, "distribution": dict(zip(self.components, self.base.tolist()))}
        if self.by_section:
            out["distribution_by_section"] = {k: dict(zip(self.components, val.tolist()))
                                              for k, val in self.by_section.items()}
        return out
