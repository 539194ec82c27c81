"""The interface every equilibrium model implements.

A model maps the aqueous concentrations leaving each stage to the equilibrium organic concentrations,
``y = f(x)``, stage by stage and vectorised over stages, and supplies the analytic Jacobian
``df/dx`` (C x C per stage). The steady-state and dynamic solvers only ever talk to this interface.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np


@dataclass(frozen=True)
class StageConditions:
    """What a model may need to know about the stages besides their concentrations.

    Attributes
    ----------
    section : tuple of str
        Section name of each stage, length N.
    aqueous_flow : numpy.ndarray
        Aqueous outflow of each stage [m^3/s], shape (N,).
    organic_flow : numpy.ndarray
        Organic outflow of each stage [m^3/s], shape (N,).
    acid_inflow : numpy.ndarray
        Free acid (H+) fed into each stage with inlet streams [mol/s], shape (N,).
    metal_inflow : float or None
        Total metal (all components) fed to the cascade [mol/s].
    anion_inflow : numpy.ndarray or None
        Anion (chloride) charge fed into each stage with aqueous inlets [mol/s], shape (N,): free acid
        plus sum z_i c_i of the dissolved metal salts.
    tracer : callable or None
        ``tracer(load)`` -> concentration [mol/m^3] of an aqueous-only species fed at ``load`` [mol/s]
        per stage, from the aqueous flows alone (a species that never enters the organic).
    """

    section: tuple
    aqueous_flow: np.ndarray
    organic_flow: np.ndarray
    acid_inflow: np.ndarray
    metal_inflow: float | None = None
    anion_inflow: np.ndarray | None = None
    tracer: object = None

    def aqueous_tracer(self, load) -> np.ndarray:
        """Stage concentrations [mol/m^3] of an aqueous-only species fed at ``load`` [mol/s], shape (N,)."""
        return self.tracer(np.asarray(load, dtype=float))

    def anion(self) -> np.ndarray:
        """Chloride (anion charge) concentration of the aqueous in each stage [mol/m^3], shape (N,)."""
        return self.aqueous_tracer(self.anion_inflow)


class EquilibriumModel:
    """Base class of equilibrium models.

    Subclasses set ``name`` and ``config_keys`` and implement :meth:`from_config`, :meth:`prepare`,
    :meth:`equilibrium` and :meth:`distribution_guess`. ``linear`` models (y = D x with D independent
    of the concentrations) also implement :meth:`distribution` and get the direct linear solve.
    """

    name: ClassVar[str] = ""
    linear: ClassVar[bool] = False
    #: Keys this model accepts in the ``equilibrium`` mapping (besides ``model``).
    config_keys: ClassVar[frozenset] = frozenset()

    components: tuple = ()
    #: Number of per-stage internal unknowns w (e.g. ln [H+]) solved together with the concentrations;
    #: models with internal unknowns implement :meth:`equilibrium_internal`, :meth:`constraint` and
    #: :meth:`internal_start`.
    internal_count: ClassVar[int] = 0

    @classmethod
    def from_config(cls, mapping, components, key: str, section_names) -> "EquilibriumModel":
        raise NotImplementedError

    def prepare(self, conditions: StageConditions):
        """Precompute stage parameters; returns an opaque object passed back to the other methods."""
        raise NotImplementedError

    def equilibrium(self, x: np.ndarray, params):
        """Equilibrium organic concentrations and their Jacobian.

        Parameters
        ----------
        x : numpy.ndarray
            Aqueous concentrations, shape (N, C), all >= 0 [mol/m^3].
        params
            What :meth:`prepare` returned.

        Returns
        -------
        y : numpy.ndarray
            Organic concentrations [mol/m^3], shape (N, C).
        jacobian : numpy.ndarray
            dy_i / dx_k [-], shape (N, C, C).
        """
        raise NotImplementedError

    def organic(self, x: np.ndarray, params) -> np.ndarray:
        """Equilibrium organic concentrations [mol/m^3], shape (N, C)."""
        return self.equilibrium(np.asarray(x, dtype=float), params)[0]

    def distribution_guess(self, x_reference: np.ndarray, params) -> np.ndarray:
        """Distribution ratios D [-], shape (N, C), for a linear starting profile."""
        raise NotImplementedError

    def saturation_loading(self, params):
        """Total organic loading [mol/m^3] per stage, shape (N,), if the model saturates the organic
        (used to build a starting point), else None."""
        return None

    def continuation(self, params, fraction: float):
        """Parameters of an easier problem on a path to the real one (fraction 1 = the real one).

        Used by the solver as a fallback homotopy; return None if the model has no such path.
        """
        return None

    def distribution(self, params) -> np.ndarray:
        """For linear models: the constant distribution ratios, shape (N, C) [-]."""
        raise NotImplementedError

    def equilibrium_internal(self, x, w, params):
        """y(x, w) [mol/m^3] (N, C), dy/dx (N, C, C) and dy/dw (N, C, m) for models with internal unknowns."""
        raise NotImplementedError

    def constraint(self, x, w, params):
        """Scaled residual of the internal equations e (N, m), de/dx (N, m, C), de/dw (N, m, m)."""
        raise NotImplementedError

    def internal_start(self, x, params):
        """Internal unknowns consistent with aqueous concentrations x, shape (N, m)."""
        raise NotImplementedError

    def diagnostics(self, x, y, params) -> dict:
        """Per-stage outputs beyond concentrations (e.g. ``ph``, ``loading_fraction``), arrays (N,)."""
        return {}

    def reagent_flows(self, params) -> dict | None:
        """Reagents the model itself implies (saponification base) [mol/s], or None."""
        return None

    def describe(self) -> dict:
        """Plain-data summary of the model for results."""
        return {"model": self.name}
