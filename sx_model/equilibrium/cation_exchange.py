"""Cation exchange by an acidic extractant: the ``mass_action``, ``ph_correlation`` and
``dosage_correlation`` models.

Chemistry (acidic organophosphorus extractants and hydroxyoximes; Peppard et al., J. Inorg. Nucl.
Chem. 4 (1957) 334; Kubota et al., Solvent Extr. Ion Exch. 11 (1993) 437). In general form, per metal i

    M^z+ + nu (HA)_k(org) = complex(org) + p H+

with k the association of the extractant in the diluent (k = 2: the dimer (HA)2 of the
organophosphorus acids in aliphatic diluents; k = 1: a monomer, e.g. hydroxyoximes, or an extractant
counted per HA), nu the (HA)_k units bound per metal ion and p the protons released (p = z for pure
cation exchange; p < z where the complex takes anions along, chloride and nitrate media only). All the
models here are one law,

    log10 D_i = b_i(T) + (a_i + m_i phi) pH + n_i log10 phi,        phi = kappa [(HA)_k]_free

with pH = -log10 [H+] (mol/L) and phi the free extractant on the scale the constants were measured on:

- ``mass_action``: D = K [(HA)_k]^nu / [H+]^p, i.e. a = p, n = nu, m = 0, b = log10 K, phi in mol/L.
  ``ph_slope`` and ``extractant_order`` replace a and n by apparent (fitted) values for non-ideal systems.
- ``ph_correlation``: log10 D = a pH + b (+ n log10 of phi over its value where it was measured).
- ``dosage_correlation``: log10 D = (m0 + m1 dos) pH + B0 + B1 log10(dos), dos = free extractant in
  volume percent (the form of the PrOMMiS rare-earth correlations; see docs/theory.md), and constant D
  for metals whose extraction the correlation does not cover.

b_i(T) = b_i(T_ref) - Delta H_i / (R ln 10) (1/T - 1/T_ref) (van 't Hoff, enthalpy per metal, 0 by
default). Per stage, given the aqueous metal concentrations x leaving it:

- Free extractant from the extractant balance [(HA)_k]_free + sum_i nu_i y_i = c_HA / k: loading lowers
  the free extractant for every metal. Solved per stage by a safeguarded Newton iteration in
  ln [(HA)_k]_free.
- [H+] from the proton balance: H_T + sum_i p_i x_i is an aqueous tracer (every metal ion extracted
  releases p H+ into the aqueous, every one stripped consumes p), so its stage values follow from the
  aqueous flows alone; the medium (:mod:`sx_model.equilibrium.media`) turns the proton total H_T into
  [H+] (and [HSO4-], [SO4 2-] in sulfate liquors). In chloride with p = z this is the charge balance.
- Saponification: a fraction ``saponification`` of the extractant enters as its Na+ (or NH4+) salt; the
  cation is exchanged before any proton (K_Na << K_M), all in the stage where the organic enters
  (stage 1). It then travels with the aqueous (to the raffinate) as the salt of the medium's anion.

The equilibrium pH of every stage is an output (``diagnostics``), with the organic loading as a fraction
of capacity, the free extractant and the anion species.
"""
from __future__ import annotations

import math

import numpy as np

from ..constants import BASES, PER_LITRE
from ..errors import ConfigError
from .base import EquilibriumModel
from .media import CHLORIDE, GAS_CONSTANT, T_STANDARD, Medium

#: Smallest [H+] an iterate may imply [mol/m^3] (pH 10), see CationExchange.admissible.
ADMISSIBLE_PROTON = 1e-7
LN10 = math.log(10.0)
LN_PER_LITRE = math.log(PER_LITRE)
#: Organic loading above which a stage is flagged [-] (fraction of capacity).
LOADING_LIMIT = 0.95
#: Convergence of the per-stage free-extractant Newton iteration (change of ln f) [-].
FREE_TOL = 1e-13
FREE_MAX_ITER = 200
#: Smallest free extractant, as a fraction of the total [-] (see _free_extractant).
FREE_FLOOR = 1e-200
#: A negative extractant order (a correlation whose D rises as the free extractant falls) is held at
#: the free extractant of this fraction of the total [-]: below it the law would let the organic take
#: up metal without bound, far outside the data behind any correlation.
NEGATIVE_ORDER_FLOOR = 1e-3
#: Grid points in ln f (from the total down to NEGATIVE_ORDER_FLOOR of it) that bracket the free
#: extractant where the balance need not be monotone [-].
BRACKET_POINTS = 29


class CationExchange(EquilibriumModel):
    """Common engine of the cation-exchange models (see module docstring).

    Parameters
    ----------
    components : sequence of str
    charges : sequence of int
        z_i, the charge of each metal ion [-].
    intercept, ph_slope, extractant_order : sequence of float
        b_i, a_i, n_i of the law in the module docstring (b at ``reference_temperature``) [-].
    extractant : float
        Total extractant as monomer HA [mol/m^3].
    saponification : float
        Fraction of the extractant entering as its Na+/NH4+ salt [-], 0..1.
    base : str
        ``NaOH`` or ``NH3``.
    ph_validity : (float, float)
        pH range in which the model's data apply (guard, not a limit of the solver).
    sources : dict
        Component -> where its constants come from (for results).
    association : int
        k, HA units per extractant species in the diluent (2: dimer, 1: monomer).
    stoichiometry : sequence of float or None
        nu_i, (HA)_k units bound per metal ion (default z_i).
    protons : sequence of float or None
        p_i, H+ released per metal ion extracted (default z_i).
    dosage_slope : sequence of float or None
        m_i of the law (default 0).
    dosage_scale : float or None
        kappa: phi = kappa [(HA)_k]_free with the free extractant in mol/m^3 (default 1e-3: mol/L).
    enthalpy : sequence of float or None
        Delta H_i of extraction [J/mol] for van 't Hoff (default 0: no temperature dependence).
    reference_temperature : float
        Temperature at which the intercepts apply [K].
    medium : Medium or dict or None
        Aqueous medium (default chloride).
    molar_mass, density : float or None
        Of the extractant [kg/mol, kg/m^3], where known (for volume percents).
    """

    #: One internal unknown per stage: ln [H+] (mol/m^3), with the proton balance as its equation.
    internal_count = 1

    def __init__(self, components, charges, intercept, ph_slope, extractant_order, extractant,
                 saponification=0.0, base="NaOH", ph_validity=(0.0, 7.0), sources=None, system=None,
                 extractant_name=None, association=2, stoichiometry=None, protons=None,
                 dosage_slope=None, dosage_scale=None, enthalpy=None,
                 reference_temperature=T_STANDARD, medium=None, molar_mass=None, density=None,
                 volume_basis=None):
        self.components = tuple(components)
        c = len(self.components)
        self.charges = np.asarray(charges, dtype=float)
        self.intercept = np.asarray(intercept, dtype=float)
        self.ph_slope = np.asarray(ph_slope, dtype=float)
        self.extractant_order = np.asarray(extractant_order, dtype=float)
        self.extractant = float(extractant)
        self.saponification = float(saponification)
        self.base = base
        self.ph_validity = tuple(float(p) for p in ph_validity)
        self.sources = dict(sources or {})
        self.system = system
        self.extractant_name = extractant_name
        self.association = int(association)
        self.stoichiometry = (self.charges.copy() if stoichiometry is None
                              else np.asarray(stoichiometry, dtype=float))
        self.protons = self.charges.copy() if protons is None else np.asarray(protons, dtype=float)
        self.dosage_slope = np.zeros(c) if dosage_slope is None else np.asarray(dosage_slope, dtype=float)
        self.dosage_scale = 1.0 / PER_LITRE if dosage_scale is None else float(dosage_scale)
        self.enthalpy = np.zeros(c) if enthalpy is None else np.asarray(enthalpy, dtype=float)
        self.reference_temperature = float(reference_temperature)
        if isinstance(medium, dict):
            medium = Medium(**medium)
        self.medium = medium or CHLORIDE
        self.molar_mass = None if molar_mass is None else float(molar_mass)
        self.density = None if density is None else float(density)
        self.volume_basis = None if volume_basis is None else dict(volume_basis)

    @property
    def volume_percent(self):
        """Volume percent of reagent in the organic when the config gave it (``extractant:
        {volume_percent}``), else None; it follows the extractant concentration if that is edited."""
        if self.volume_basis is None:
            return None
        return self.volume_basis["percent_per_extractant"] * self.extractant

    def parameters(self):
        return {"components": self.components, "charges": self.charges.tolist(),
                "intercept": self.intercept.tolist(), "ph_slope": self.ph_slope.tolist(),
                "extractant_order": self.extractant_order.tolist(), "extractant": self.extractant,
                "saponification": self.saponification, "base": self.base,
                "ph_validity": self.ph_validity, "sources": dict(self.sources), "system": self.system,
                "extractant_name": self.extractant_name, "association": self.association,
                "stoichiometry": self.stoichiometry.tolist(), "protons": self.protons.tolist(),
                "dosage_slope": self.dosage_slope.tolist(), "dosage_scale": self.dosage_scale,
                "enthalpy": self.enthalpy.tolist(),
                "reference_temperature": self.reference_temperature,
                "medium": self.medium.parameters(), "molar_mass": self.molar_mass,
                "density": self.density, "volume_basis": self.volume_basis}

    @property
    def capacity(self) -> float:
        """Extractant species (HA)_k in the organic [mol/m^3]: c_HA / k."""
        return self.extractant / self.association

    # -- stage parameters ------------------------------------------------------------------------
    def prepare(self, conditions):
        n = len(conditions.section)
        first = conditions.solvent_stage
        base_load = np.zeros(n)
        base_load[first] = self.saponification * self.extractant * conditions.organic_flow[first]
        if conditions.aqueous_metal_inflow is not None:
            proton_load = conditions.acid_inflow + conditions.aqueous_metal_inflow @ self.protons
            total = conditions.aqueous_tracer(proton_load)
        else:
            total = conditions.anion()
        carried = base_load if conditions.extra_base is None else base_load + conditions.extra_base
        base_conc = conditions.aqueous_tracer(carried) if np.any(carried) else np.zeros(n)
        temperature = conditions.stage_temperature()
        medium = self.medium
        if medium.speciated:
            if conditions.sulfate_inflow is None:
                raise ConfigError("equilibrium.medium", "sulfate: the cascade gives no sulfate loads")
            sulfate = conditions.aqueous_tracer(conditions.sulfate_inflow)
            ka2 = medium.ka2(temperature)
        else:
            sulfate = ka2 = None
        net = total - base_conc
        if self.saponification > 0:
            floor, _ = medium.proton_total(np.array([ADMISSIBLE_PROTON]),
                                           None if sulfate is None else sulfate[first:first + 1],
                                           None if ka2 is None else ka2[first:first + 1])
            if net[first] < floor[0]:
                flow = conditions.aqueous_flow[first]
                raise ConfigError("equilibrium.extractant.saponification",
                                  f"{self.saponification:g}: the base it brings ({base_load[first]:.4g} mol/s) "
                                  f"exceeds the acid and metal salts leaving stage {first + 1} "
                                  f"({total[first] * flow:.4g} mol/s as H+), so the raffinate would be "
                                  "alkaline whatever is extracted; expected a lower saponification or "
                                  "organic flow, or more acid in the liquors")
        # ln D_i = ln_b_i + (a_i + m_i phi) q + n_i ln phi, q = ln10 pH = ln 1000 - ln h (h in mol/m^3)
        shift = -np.outer(1.0 / temperature - 1.0 / self.reference_temperature,
                          self.enthalpy) / GAS_CONSTANT            # ln K(T) - ln K(T_ref), (N, C)
        ln_b = LN10 * self.intercept[None, :] + shift
        scale = max(float(np.max(np.abs(total))), 1e-3)
        return {"net_anion": net, "anion": total, "base_anion": base_conc,
                "dimer": np.full(n, self.capacity), "ln_b": ln_b, "a": self.ph_slope,
                "n": self.extractant_order, "m": self.dosage_slope,
                "kappa": self.dosage_scale, "nu": self.stoichiometry, "p": self.protons,
                "z": self.charges, "base_flow": float(base_load[first]), "charge_scale": scale,
                "sulfate": sulfate, "ka2": ka2, "temperature": temperature}

    def continuation(self, params, fraction):
        """A path from an easy problem to this one: the extractant (and the saponification base with it)
        scaled by s = 1e-6 + (1 - 1e-6) t, t = ``fraction``. At t = 0 the organic extracts next to
        nothing and the aqueous is the mixed liquors; the organic then takes up metal gradually, the
        way a battery is brought on stream."""
        scale = 1e-6 + (1.0 - 1e-6) * float(fraction)
        out = dict(params)
        out["dimer"] = params["dimer"] * scale
        out["net_anion"] = params["anion"] - scale * params["base_anion"]
        return out

    # -- equilibrium -----------------------------------------------------------------------------
    def _protons(self, x, params):
        """Free [H+] per stage [mol/m^3] from the proton balance, and d ln[H+] / d(proton total)."""
        g = params["net_anion"] - x @ params["p"]
        h = self.medium.free_proton(g, params["sulfate"], params["ka2"])
        _, slope = self.medium.proton_total(h, params["sulfate"], params["ka2"])
        return h, 1.0 / slope

    def _log_terms(self, w, params):
        """c0 (N, C) and q (N,) of ln D = c0 + m kappa f q + n ln f (f the free (HA)_k, mol/m^3)."""
        q = LN_PER_LITRE - w[:, 0]
        c0 = params["ln_b"] + np.outer(q, params["a"]) + params["n"][None, :] * math.log(params["kappa"])
        return c0, q

    def _free_extractant(self, x, c0, q, params):
        """Free (HA)_k per stage, f + sum nu_i x_i D_i(f) = c (see module docstring), by Newton in ln f.

        With only positive orders and no dosage term the balance is increasing in ln f and Newton
        descends monotonically from an upper bound of the root. Otherwise (a negative order, or a
        dosage term) the balance may dip and rise again as f falls, so the largest root, the one reached
        from an unloaded organic, is bracketed first on a grid of ln f below the total, then found by
        Newton steps kept inside the bracket (bisection where a step leaves it)."""
        nu, order, slope, total = params["nu"], params["n"], params["m"], params["dimer"]
        weight = x * np.exp(c0) * nu                                   # (N, C)
        ln_total = np.log(total)
        floor = ln_total + np.log(FREE_FLOOR)
        mk = slope * params["kappa"]
        dosage = bool(np.any(slope)) or bool(np.any(order < 0))

        def balance(s):
            f = np.exp(s)
            with np.errstate(over="ignore", invalid="ignore"):
                expo, gain = self._order_terms(s, order, ln_total)
                if dosage:
                    fq = np.outer(f * q, mk)
                    expo, gain = expo + fq, gain + fq
                terms = weight * np.exp(expo)                           # nu_i y_i
                return f + terms.sum(axis=1) - total, f + (terms * gain).sum(axis=1)

        if not dosage:
            # an upper bound of the root: f <= total, and f <= (total / sum of the weights of one order
            # n)^(1/n); metals of order 0 can load the organic beyond capacity, and the free extractant
            # is then held at a floor (the loading guard reports it)
            s = ln_total.copy()
            with np.errstate(divide="ignore"):
                for n_value in np.unique(order[order > 0]):
                    group = weight[:, order == n_value].sum(axis=1)
                    s = np.minimum(s, (ln_total - np.log(group)) / n_value)
            s = np.maximum(s, floor)
            for _ in range(FREE_MAX_ITER):
                phi, dphi = balance(s)
                new = np.maximum(s - phi / dphi, floor)
                step = np.abs(new - s)
                s = new
                if np.all(step < FREE_TOL) or not np.all(np.isfinite(step)):
                    break        # converged, or an overflowing trial point (rejected by the caller)
            return np.exp(s)
        # bracket the largest root: the first grid point below the total where the balance is <= 0
        grid = ln_total[:, None] + np.linspace(0.0, math.log(NEGATIVE_ORDER_FLOOR), BRACKET_POINTS)[None, :]
        hi, lo = ln_total.copy(), floor.copy()
        found = np.zeros(ln_total.shape, dtype=bool)
        for k in range(BRACKET_POINTS):
            phi, _ = balance(grid[:, k])
            newly = ~found & (phi <= 0)
            lo = np.where(newly, grid[:, k], lo)
            found |= newly
            hi = np.where(~found, grid[:, k], hi)
            if np.all(found):
                break
        # below the grid the negative orders are held constant and the balance rises with f; where it
        # is still positive at the floor the organic is overloaded (held at the floor, as above)
        phi_floor, _ = balance(lo)
        s = np.where(found | (phi_floor <= 0), 0.5 * (lo + hi), floor)
        done = ~found & (phi_floor > 0)
        for _ in range(FREE_MAX_ITER):
            phi, dphi = balance(s)
            hi = np.where(phi > 0, s, hi)
            lo = np.where(phi <= 0, s, lo)
            with np.errstate(invalid="ignore", divide="ignore"):
                delta = phi / dphi
            new = s - delta
            bad = ~np.isfinite(new) | (new < lo) | (new > hi)
            new = np.where(bad, 0.5 * (lo + hi), new)
            new = np.where(done, floor, new)
            step = np.abs(new - s)
            s = new
            if np.all((step < FREE_TOL) | done) or np.all((hi - lo < FREE_TOL) | done):
                break
        return np.exp(s)

    @staticmethod
    def _order_terms(s, order, ln_total):
        """n_i ln f (N, C) and its derivative in ln f, with negative orders held below
        NEGATIVE_ORDER_FLOOR of the total (see there)."""
        expo = np.outer(s, order)
        gain = np.broadcast_to(order[None, :], expo.shape)
        negative = order < 0
        if np.any(negative):
            held = s < ln_total + math.log(NEGATIVE_ORDER_FLOOR)
            if np.any(held):
                floor = ln_total + math.log(NEGATIVE_ORDER_FLOOR)
                clamp = held[:, None] & negative[None, :]
                expo = np.where(clamp, np.outer(floor, order), expo)
                gain = np.where(clamp, 0.0, gain)
        return expo, gain

    def equilibrium(self, x, params):
        """y and dy/dx with [H+] eliminated through the proton balance (used for starting points;
        the solver keeps ln [H+] as an unknown, see :meth:`equilibrium_internal`)."""
        h, dlnh_dg = self._protons(x, params)
        w = np.log(h)[:, None]
        y, dydx, dydw = self.equilibrium_internal(x, w, params)
        dlnh = -dlnh_dg[:, None] * params["p"][None, :]                 # d ln h / d x_k
        return y, dydx + dydw[:, :, 0][:, :, None] * dlnh[:, None, :]

    def equilibrium_internal(self, x, w, params):
        nu, order, mk = params["nu"], params["n"], params["m"] * params["kappa"]
        c0, q = self._log_terms(w, params)
        if np.any(order) or np.any(mk):
            f = self._free_extractant(x, c0, q, params)
            fq = f * q
            expo, gain = self._order_terms(np.log(f), order, np.log(params["dimer"]))
            ln_dist = c0 + expo + np.outer(fq, mk)
            gain = gain + np.outer(fq, mk)                              # d ln D / d ln f
            slope_h = -(params["a"][None, :] + np.outer(f, mk))          # d ln D / d ln h
        else:   # no extractant dependence: f only reported, kept positive for the (zero) terms below
            ln_dist = c0
            f = np.maximum(params["dimer"] - (x * np.exp(c0)) @ nu, FREE_FLOOR * params["dimer"])
            gain = np.zeros_like(c0)
            slope_h = np.broadcast_to(-params["a"][None, :], c0.shape)
        dist = np.exp(ln_dist)
        y = dist * x
        nuy = nu[None, :] * y
        dphi_ds = f + (nuy * gain).sum(axis=1)                          # d phi / d ln f
        ds_dx = -(nu[None, :] * dist) / dphi_ds[:, None]                 # (N, C)
        ds_dlnh = -(nuy * slope_h).sum(axis=1) / dphi_ds                 # (N,)
        # an overloaded organic (no root: free extractant held at the floor) does not move with x or h
        held = f <= FREE_FLOOR * params["dimer"] * (1.0 + 1e-9)
        if np.any(held):
            ds_dx[held] = 0.0
            ds_dlnh = np.where(held, 0.0, ds_dlnh)
        yg = y * gain
        dydx = yg[:, :, None] * ds_dx[:, None, :]
        idx = np.arange(x.shape[1])
        dydx[:, idx, idx] += dist
        dydw = (y * slope_h + yg * ds_dlnh[:, None])[:, :, None]
        return y, dydx, dydw

    def constraint(self, x, w, params):
        """Proton balance of the aqueous, H_T([H+]) - (proton tracer - sum p x) = 0, over c_scale."""
        p, scale = params["p"], params["charge_scale"]
        h = np.exp(w[:, 0])
        total, slope = self.medium.proton_total(h, params["sulfate"], params["ka2"])
        g = params["net_anion"] - x @ p
        e = (total - g) / scale
        de_dx = np.broadcast_to((p / scale)[None, None, :], (x.shape[0], 1, x.shape[1]))
        de_dw = (slope / scale)[:, None, None]
        return e[:, None], de_dx, de_dw

    def admissible(self, x, params):
        """x scaled down, stage by stage, so that the metal leaves at least [H+] = 1e-10 mol/L of the
        proton balance: metals hydrolyse and precipitate long before pH 10, which these models do not
        describe, so iterates beyond that (far from any solution) are pulled back."""
        charge = x @ params["p"]
        floor, _ = self.medium.proton_total(np.full(charge.shape, ADMISSIBLE_PROTON), params["sulfate"],
                                            params["ka2"])
        room = np.maximum(params["net_anion"] - floor, 0.0)
        over = charge > room
        if not np.any(over):
            return x
        factor = np.where(over, room / np.maximum(charge, 1e-300), 1.0)
        return x * factor[:, None]

    def failure_hint(self, x, y, params):
        """Why a solve may have no steady state: stages pushed to the alkaline bound."""
        h, _ = self._protons(np.maximum(x, 0.0), params)
        alkaline = np.flatnonzero(h <= 10.0 * ADMISSIBLE_PROTON)
        if alkaline.size:
            return (f"; the best iterate runs stage {alkaline[0] + 1} alkaline (pH 9 or more): more base "
                    "(saponification) or less acid than the metal the organic takes up there can "
                    "balance, where the metals would precipitate; lower the saponification or the "
                    "organic flow, or raise the feed acidity")
        return ""

    def internal_start(self, x, params):
        h, _ = self._protons(np.maximum(x, 0.0), params)
        return np.log(h)[:, None]

    def trace_ln_distribution(self, params):
        """ln D at trace loading and the acidity of the liquors alone (no metal), shape (N, C)."""
        h, _ = self._protons(np.zeros((params["net_anion"].size, params["z"].size)), params)
        c0, q = self._log_terms(np.log(h)[:, None], params)
        f = params["dimer"]
        ln = c0 + np.outer(np.log(f), params["n"]) + np.outer(f * q, params["m"] * params["kappa"])
        return np.clip(ln, -60.0, 60.0)

    def distribution_guess(self, x_reference, params):
        return np.exp(self.trace_ln_distribution(params))

    # -- outputs ---------------------------------------------------------------------------------
    def diagnostics(self, x, y, params):
        """Per-stage pH, [H+] and the proton total, free extractant [mol/m^3 of (HA)_k], organic
        loading as a fraction of capacity, and the anion species of a sulfate liquor."""
        h, _ = self._protons(x, params)
        total, _ = self.medium.proton_total(h, params["sulfate"], params["ka2"])
        occupied = y @ params["nu"]
        free = np.maximum(params["dimer"] - occupied, 0.0)
        out = {"ph": -np.log10(h / PER_LITRE),
               "proton_mol_per_m3": h,
               "acid_mol_per_m3": total,
               "free_extractant_mol_per_m3": free,
               "loading_fraction": occupied / params["dimer"]}
        if np.any(params["m"]) or self.name == "dosage_correlation":
            out["extractant_dosage"] = params["kappa"] * free
        out.update(self.medium.species(h, params["sulfate"], params["ka2"]))
        return out

    def reagent_flows(self, params) -> dict:
        """Base used for saponification [mol/s] and what it is; the medium's acid and salt."""
        info = BASES[self.base]
        reagents = self.medium.reagents
        salt, salt_mass = reagents["salt"][self.base]
        return {"base": self.base, "base_mol_per_s": params["base_flow"],
                "base_kg_per_mol": info["base_kg_per_mol"], "salt": salt,
                "salt_kg_per_mol": salt_mass, "proton_balance": True,
                "acid": reagents["acid"], "acid_kg_per_mol": reagents["acid_kg_per_mol_h"]}

    def capacity_used(self, concentration):
        """Every complex holds nu_i extractant units: sum nu_i y_i against c_HA / k."""
        return float(self.stoichiometry @ np.asarray(concentration, dtype=float)) / self.capacity

    def operating_limits(self):
        return {"loading_fraction": LOADING_LIMIT, "ph": self.ph_validity,
                "ph_admissible": -math.log10(ADMISSIBLE_PROTON / PER_LITRE)}

    def describe(self):
        out = {"model": self.name, "extractant": self.extractant_name,
               "extractant_mol_per_m3": self.extractant,
               "association": self.association,
               "saponification": self.saponification, "base": self.base,
               "medium": self.medium.name,
               "ph_validity": list(self.ph_validity)}
        if not (np.array_equal(self.stoichiometry, self.charges)
                and np.array_equal(self.protons, self.charges)):
            out["stoichiometry"] = {c: {"extractant": float(e), "protons": float(p)}
                                    for c, e, p in zip(self.components, self.stoichiometry, self.protons)}
        if np.any(self.enthalpy):
            out["enthalpy_j_per_mol"] = dict(zip(self.components, self.enthalpy.tolist()))
            out["reference_temperature_k"] = self.reference_temperature
        if self.medium.speciated:
            out["log10_ka2"] = self.medium.log10_ka2
        if self.system:
            out["system"] = self.system
        return out


class MassAction(CationExchange):
    """``mass_action``: D_i = K_i [(HA)2]_free^z_i / [H+]^z_i with the extractant and proton balances.

    Config (``equilibrium``): ``extractant: {concentration, saponification, base, name}``; the constants
    from ``system`` (package data, ``sx-model systems``), ``log10_k`` per component, or
    ``separation_factors`` with ``reference: {element, log10_k}`` (log10 K_i = log10 K_ref +
    log10(beta_i / beta_ref)); explicit values override the system's. ``ph_validity: [low, high]``.
    """

    name = "mass_action"

    def describe(self):
        out = super().describe()
        out["log10_k"] = dict(zip(self.components, self.intercept.tolist()))
        out["log10_k_source"] = self.sources
        return out


class PhCorrelation(CationExchange):
    """``ph_correlation``: log10 D_i = a_i pH + b_i (+ n_i log10 of the free extractant relative to the
    concentration ``at`` which the correlation was measured), with the proton and extractant balances.

    Config (``equilibrium``): ``extractant`` as for mass_action; ``correlations: {Fe: {slope: 3,
    intercept: -3.1, extractant_order: 0, at: 0.6 mol/L}}`` (``at`` = extractant as HA when measured,
    default the extractant concentration); entries may come from ``system``.
    """

    name = "ph_correlation"

    def describe(self):
        out = super().describe()
        out["correlations"] = {c: {"slope": float(a), "log10_d_at_ph0": float(b)}
                               for c, a, b in zip(self.components, self.ph_slope, self.intercept)}
        return out


class DosageCorrelation(CationExchange):
    """``dosage_correlation``: log10 D_i = (m0_i + m1_i dos) pH + B0_i + B1_i log10(dos), with dos the free
    extractant of the stage in volume percent (dos = c_free M / rho x 100 with the extractant's molar mass
    M and density rho), or a constant D_i for metals the correlation does not cover; with the proton and
    extractant balances (the extractant counted as monomer HA, ``stoichiometry`` HA per metal).

    This is the form of the rare-earth correlations of the PrOMMiS solvent-extraction model (DEHPA in
    kerosene against sulfate leach liquors); see docs/theory.md.

    Config (``equilibrium``): ``extractant: {concentration | volume_percent, molar_mass, density}``;
    ``correlations: {Nd: {m0: 0.31183, m1: 0.03763, b0: -1.62372, b1: -0.38096}, Al: {distribution:
    0.0531}}``.
    """

    name = "dosage_correlation"

    def describe(self):
        out = super().describe()
        out["correlations"] = {c: {"m0": float(a), "m1": float(m), "b0": float(b), "b1": float(n)}
                               for c, a, m, b, n in zip(self.components, self.ph_slope,
                                                        self.dosage_slope, self.intercept,
                                                        self.extractant_order)}
        return out
