"""Constant distribution ratio: y_i = D_i x_i, with optional per-section values.

The model behind the Kremser equation (Kremser, Natl. Petroleum News 22 (1930) 42; Seader, Henley and
Roper, Separation Process Principles, 3rd ed., section 5.4).
"""
from __future__ import annotations

import numpy as np

from .. import _validate as v
from ..errors import ConfigError
from .base import EquilibriumModel


class ConstantD(EquilibriumModel):
    """Constant distribution ratio per component and section.

    Config keys: ``distribution: {Cu: 2.4}`` [-] and optionally
    ``distribution_by_section: {strip: {Cu: 0.05}}`` overriding it in named sections.
    """

    name = "constant_d"
    linear = True
    config_keys = frozenset({"distribution", "distribution_by_section"})

    def __init__(self, components, distribution, by_section=None):
        self.components = tuple(components)
        self.base = np.asarray(distribution, dtype=float)
        self.by_section = {k: np.asarray(val, dtype=float) for k, val in (by_section or {}).items()}

    @classmethod
    def from_config(cls, mapping, components, key, section_names):
        def read_d(raw, sub):
            return v.number(raw, sub, minimum=0.0, what="a distribution ratio D >= 0 [-]")

        if "distribution" not in mapping:
            raise ConfigError(v.join(key, "distribution"), "required for model constant_d: a mapping "
                                                            "component -> distribution ratio D [-]")
        dist = v.component_values(mapping["distribution"], v.join(key, "distribution"), components,
                                  read=read_d)
        base = [dist[c] for c in components]
        by_section = {}
        raw = mapping.get("distribution_by_section") or {}
        sub = v.join(key, "distribution_by_section")
        for name, values in v.mapping(raw, sub).items():
            if name not in section_names:
                raise ConfigError(v.join(sub, name), f"no section {name!r} in this cascade; sections: "
                                                    f"{', '.join(section_names)}")
            given = v.component_values(values, v.join(sub, name), components, read=read_d,
                                       require_all=False)
            by_section[name] = [given.get(c, base[k]) for k, c in enumerate(components)]
        return cls(components, base, by_section)

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
