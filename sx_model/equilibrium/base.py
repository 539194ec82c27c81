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
    solvent_inflow : float
        Fresh solvent (the ``organic`` inlet) fed to the cascade [m^3/s].
    temperature : numpy.ndarray or None
        Temperature of each stage [K], shape (N,) (None: 25 C everywhere).
    aqueous_metal_inflow : numpy.ndarray or None
        Metal fed into each stage with aqueous inlets [mol/s], shape (N, C).
    sulfate_inflow : numpy.ndarray or None
        Total sulfate fed into each stage with aqueous inlets [mol/s], shape (N,).
    solvent_stage : int
        Stage where the fresh (or stripped) organic of the model's cascade enters (0 for a cascade; in
        a flowsheet, the first stage of that cascade).
    extra_base : numpy.ndarray or None
        Base [mol/s] put into the aqueous of each stage by other cascades' saponified organics (in a
        flowsheet), shape (N,): it travels with the liquors like the model's own.
    """

    section: tuple
    aqueous_flow: np.ndarray
    organic_flow: np.ndarray
    acid_inflow: np.ndarray
    metal_inflow: float | None = None
    anion_inflow: np.ndarray | None = None
    tracer: object = None
    solvent_inflow: float = 0.0
    temperature: np.ndarray | None = None
    aqueous_metal_inflow: np.ndarray | None = None
    sulfate_inflow: np.ndarray | None = None
    solvent_stage: int = 0
    extra_base: np.ndarray | None = None

    def stage_temperature(self) -> np.ndarray:
        """Temperature of each stage [K], shape (N,)."""
        if self.temperature is None:
            return np.full(len(self.section), 298.15)
        return np.asarray(self.temperature, dtype=float)

    def aqueous_tracer(self, load) -> np.ndarray:
        """Stage concentrations [mol/m^3] of an aqueous-only species fed at ``load`` [mol/s], shape (N,)."""
        return self.tracer(np.asarray(load, dtype=float))

    def anion(self) -> np.ndarray:
        """Chloride (anion charge) concentration of the aqueous in each stage [mol/m^3], shape (N,)."""
        return self.aqueous_tracer(self.anion_inflow)


class EquilibriumModel:
    """Base class of equilibrium models.

    A model is plain data in SI floats, built by its constructor; reading it from a config is the job
    of :mod:`sx_model.config.models`. Subclasses set ``name`` and implement :meth:`prepare`,
    :meth:`equilibrium`, :meth:`distribution_guess` and :meth:`parameters`. ``linear`` models (y = D x
    with D independent of the concentrations) also implement :meth:`distribution` and get the direct
    linear solve. Every other hook below is optional and has a default that means "nothing special".
    """

    name: ClassVar[str] = ""
    linear: ClassVar[bool] = False
    #: Number of per-stage internal unknowns w (e.g. ln [H+]) solved together with the concentrations;
    #: models with internal unknowns implement :meth:`equilibrium_internal`, :meth:`constraint` and
    #: :meth:`internal_start`.
    internal_count: ClassVar[int] = 0

    components: tuple = ()

    # -- identity ----------------------------------------------------------------------------------
    def parameters(self) -> dict:
        """The constructor arguments as plain data: ``type(self)(**self.parameters())`` is a copy."""
        raise NotImplementedError

    def with_parameters(self, **changes) -> "EquilibriumModel":
        """A copy with some constructor arguments changed (unknown names raise TypeError)."""
        params = self.parameters()
        unknown = set(changes) - set(params)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no parameter {sorted(unknown)[0]!r}; "
                            f"parameters: {', '.join(params)}")
        return type(self)(**(params | changes))

    def describe(self) -> dict:
        """Plain-data summary of the model for results."""
        return {"model": self.name}

    # -- stage equations ---------------------------------------------------------------------------
    def prepare(self, conditions: StageConditions):
        """Precompute stage parameters; returns an opaque object passed back to the other methods.

        Raises :class:`~sx_model.errors.ConfigError` where the inputs admit no steady state (this is
        also run when a config is loaded, so ``validate`` refuses what a solve would refuse).
        """
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

    # -- solver aids (optional) --------------------------------------------------------------------
    def saturation_loading(self, params):
        """Total organic loading [mol/m^3] per stage, shape (N,), if the model saturates the organic
        (used to build a starting point), else None."""
        return None

    def continuation(self, params, fraction: float):
        """Parameters of an easier problem on a path to the real one (fraction 1 = the real one).

        Used by the solver as a fallback homotopy; return None if the model has no such path.
        """
        return None

    def capacity_used(self, concentration) -> float | None:
        """Fraction of the organic's capacity that an organic of these metal concentrations
        [mol/m^3], shape (C,), occupies; None for models without a capacity."""
        return None

    def admissible(self, x, params):
        """``x`` moved into the region where the model is defined (default: unchanged)."""
        return x

    def failure_hint(self, x, y, params) -> str:
        """Why a failed solve may have no steady state, as text appended to the error (default: "")."""
        return ""

    # -- outputs (optional) ------------------------------------------------------------------------
    def diagnostics(self, x, y, params) -> dict:
        """Per-stage outputs beyond concentrations (e.g. ``ph``, ``loading_fraction``), arrays (N,)."""
        return {}

    def reagent_flows(self, params) -> dict | None:
        """Reagents the model implies, or None for none.

        Keys: ``base`` (``NaOH`` or ``NH3``), ``base_mol_per_s`` (saponification base [mol/s]),
        ``base_kg_per_mol``, ``salt``, ``salt_kg_per_mol`` and ``proton_balance`` (True when the model
        tracks the free acid of every stage, so acid consumed and acid leaving can be reported).
        """
        return None

    def operating_limits(self) -> dict:
        """Ranges outside which a solved state is flagged: ``loading_fraction`` (max of the organic
        loading as a fraction of capacity) and ``ph`` ((low, high) of the data behind the model); and
        ``ph_admissible``, the highest pH at which the model holds at all (a state beyond it is not a
        result). A missing key means no check."""
        return {}
