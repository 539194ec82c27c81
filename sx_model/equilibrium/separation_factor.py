"""Separation-factor model of the theory of countercurrent extraction (Xu Guangxian, 1970s).

The organic leaving a stage is loaded to its REE capacity and its composition is split by separation
factors beta_i: y_i / sum(y) = beta_i x_i / sum_k beta_k x_k (Xu Guangxian et al., "Theory of
countercurrent extraction", Chinese J. Rare Earths / Xu, Rare Earths, 2nd ed., Metallurgical Industry
Press, Beijing, 1995, vol. 1). Acid entering a stage with an aqueous inlet (the scrub liquor) strips REE
from the organic at 3 H+ per REE and is all consumed, so that stage's organic leaves loaded to
capacity - acid / (3 Q_org).

So that the organic "takes all it can get" where the aqueous holds too little REE to saturate it, the
saturation is written as a high-affinity competitive Langmuir isotherm,

    y_i = L_j beta_i x_i / (c_half + sum_k beta_k x_k)        (beta normalised to max 1),

which is the saturated-organic model above wherever sum(beta x) >> c_half, and depletes the aqueous
smoothly (no negative or made-up amounts) where it is not. ``c_half`` (config ``half_loading``, default
1e-6 mol/L, an assumption of this implementation) is the aqueous concentration of the most extractable
component at which the organic is half loaded. At liquor strengths of 0.01-1 mol/L the organic is then
saturated to better than 1e-4 relative, so the model reproduces the saturated-organic theory, and
product purities near 99.99 % are not limited by the loading deficit.
"""
from __future__ import annotations

import numpy as np

from ..constants import BASES, PROTONS_PER_REE
from ..errors import ConfigError
from .base import EquilibriumModel

#: Default half-loading concentration [mol/m^3] (1e-6 mol/L); an assumption, see module docstring.
DEFAULT_HALF_LOADING = 1e-3


class SeparationFactor(EquilibriumModel):
    """Saturated organic split by separation factors.

    Parameters
    ----------
    separation_factors : sequence of float
        beta_i relative to any reference [-], all > 0.
    capacity : float
        REE loading of the saturated organic [mol/m^3 of organic].
    half_loading : float
        c_half [mol/m^3], see module docstring.
    enthalpy : sequence of float or None
        Delta H_i of extraction [J/mol] per component: beta_i moves with temperature as
        ln beta_i(T) = ln beta_i(T_ref) - (Delta H_i - Delta H_ref)/R (1/T - 1/T_ref) (only differences
        matter; default 0, factors independent of temperature).
    reference_temperature : float
        Temperature at which the factors apply [K].
    """

    name = "separation_factor"

    def __init__(self, components, separation_factors, capacity, half_loading=DEFAULT_HALF_LOADING,
                 enthalpy=None, reference_temperature=298.15):
        self.components = tuple(components)
        self.separation_factors = np.asarray(separation_factors, dtype=float)
        self.capacity = float(capacity)
        self.half_loading = float(half_loading)
        self.enthalpy = (np.zeros(len(self.components)) if enthalpy is None
                         else np.asarray(enthalpy, dtype=float))
        self.reference_temperature = float(reference_temperature)
        self._beta = self.separation_factors / self.separation_factors.max()

    def parameters(self):
        return {"components": self.components, "separation_factors": self.separation_factors.tolist(),
                "capacity": self.capacity, "half_loading": self.half_loading,
                "enthalpy": self.enthalpy.tolist(), "reference_temperature": self.reference_temperature}

    def stage_factors(self, conditions) -> np.ndarray:
        """beta_i of every stage at its temperature, normalised to the largest at T_ref, shape (N, C)."""
        n = len(conditions.section)
        if not np.any(self.enthalpy):
            return np.broadcast_to(self._beta, (n, self._beta.size))
        from .media import GAS_CONSTANT

        inverse = 1.0 / conditions.stage_temperature() - 1.0 / self.reference_temperature
        return self._beta[None, :] * np.exp(-np.outer(inverse, self.enthalpy) / GAS_CONSTANT)

    def loading_target(self, conditions) -> np.ndarray:
        """Total REE loading of the organic leaving each stage [mol/m^3], shape (N,)."""
        stripped = conditions.acid_inflow / (PROTONS_PER_REE * conditions.organic_flow)
        return self.capacity - stripped

    def prepare(self, conditions):
        if np.any(conditions.acid_inflow < 0):
            j = int(np.flatnonzero(conditions.acid_inflow < 0)[0])
            raise ConfigError("streams", f"a liquor entering stage {j + 1} carries free base; the "
                                         "separation_factor model strips with acid only (use mass_action "
                                         "or ph_correlation for liquors with base)")
        target = self.loading_target(conditions)
        bad = np.flatnonzero(target <= 0)
        if bad.size:
            j = int(bad[0])
            acid = conditions.acid_inflow[j]
            carried = self.capacity * conditions.organic_flow[j]
            raise ConfigError("streams", f"acid fed to stage {j + 1} ({acid:.4g} mol/s H+) strips more "
                                         f"than the organic can carry ({PROTONS_PER_REE:g} x "
                                         f"{carried:.4g} mol/s REE); expected acid below 3 x capacity "
                                         f"x organic flow")
        acid_stages = np.flatnonzero(conditions.acid_inflow > 0)
        if acid_stages.size and conditions.metal_inflow is not None:
            j = int(acid_stages[-1])
            carried = target[j] * conditions.organic_flow[j]
            fed = float(conditions.metal_inflow)
            if carried > fed:
                raise ConfigError("streams.organic.flow",
                                  f"the organic leaving acid-fed stage {j + 1} would carry {carried:.4g} "
                                  f"mol/s of metal at capacity, more than the {fed:.4g} mol/s fed; the "
                                  "separation_factor model needs a loaded organic there: lower the organic "
                                  "flow or raise the scrub acid")
        return {"loading": target, "beta": self.stage_factors(conditions), "half": self.half_loading,
                "base_flow": PROTONS_PER_REE * self.capacity * conditions.solvent_inflow}

    def continuation(self, params, fraction):
        """An easier problem on a path to this one: separation factors beta^t and a half-loading
        concentration moved geometrically from the capacity (a gently saturating organic) to c_half;
        t = ``fraction`` in [0, 1]."""
        half = self.capacity ** (1.0 - fraction) * self.half_loading ** fraction
        return dict(params, beta=np.asarray(params["beta"]) ** fraction, half=half)

    def equilibrium(self, x, params):
        beta = params["beta"]
        loading = params["loading"][:, None]
        weighted = x * beta
        denom = params["half"] + weighted.sum(axis=1)
        scale = loading / denom[:, None]                      # (N, 1)
        y = scale * weighted
        n, c = x.shape
        # dy_i/dx_k = L beta_i delta_ik / d - L beta_i x_i beta_k / d^2
        jac = (scale[:, :, None] * beta[:, :, None] * np.eye(c)[None, :, :]
               - (y / denom[:, None])[:, :, None] * beta[:, None, :])
        return y, jac

    def saturation_loading(self, params):
        return params["loading"]

    def distribution_guess(self, x_reference, params):
        beta = params["beta"]
        s = beta @ np.asarray(x_reference, dtype=float)
        return params["loading"][:, None] * beta / (params["half"] + s)[:, None]

    def capacity_used(self, concentration):
        return float(np.sum(concentration)) / self.capacity

    def reagent_flows(self, params):
        """The saponification base the theory assumes: NaOH for the whole capacity of the fresh
        solvent, at 3 per REE (the organic enters fully saponified)."""
        info = BASES["NaOH"]
        return {"base": "NaOH", "base_mol_per_s": params["base_flow"],
                "base_kg_per_mol": info["base_kg_per_mol"], "salt": info["salt"],
                "salt_kg_per_mol": info["salt_kg_per_mol"], "proton_balance": False}

    def diagnostics(self, x, y, params):
        """Organic loading per stage as a fraction of capacity [-]."""
        return {"loading_fraction": y.sum(axis=1) / self.capacity}

    def describe(self):
        out = {"model": self.name,
               "separation_factors": dict(zip(self.components, self.separation_factors.tolist())),
               "capacity_mol_per_m3": self.capacity, "half_loading_mol_per_m3": self.half_loading}
        if np.any(self.enthalpy):
            out["enthalpy_j_per_mol"] = dict(zip(self.components, self.enthalpy.tolist()))
            out["reference_temperature_k"] = self.reference_temperature
        return out
