"""Cation exchange by an acidic extractant: the ``mass_action`` and ``ph_correlation`` models.

Chemistry (acidic organophosphorus extractants, dimeric (HA)2 in aliphatic diluents; Peppard et al.,
J. Inorg. Nucl. Chem. 4 (1957) 334; Kubota et al., Solvent Extr. Ion Exch. 11 (1993) 437):

    M^z+ + z (HA)2(org) = M(A(HA))z(org) + z H+,    D_M = K_M [(HA)2]^z / [H+]^z

with [(HA)2] the *free* dimer and concentrations in mol/L (K dimensionless). Both models here are the
one form

    log10 D_i = b_i - a_i log10[H+] + n_i log10 [(HA)2]_free          (concentrations in mol/L)

``mass_action``: a_i = n_i = z_i, b_i = log10 K_i. ``ph_correlation``: log10 D_i = a_i pH + b_i'
(+ n_i log10 of the free extractant relative to the concentration the correlation was measured at).

Per stage, given the aqueous metal concentrations x leaving it:

- Free extractant from the extractant balance: every complex holds z_i dimers, so
  [(HA)2]_free + sum_i z_i y_i = c_(HA)2 (the dimer concentration of the organic); loading lowers the
  free extractant for every metal. Solved per stage by Newton in ln [(HA)2]_free (monotone from above).
- Protons from the charge balance of the aqueous: chloride does not enter the organic, so it is a tracer
  whose stage concentrations follow from the aqueous flows alone. With g = [Cl-] - [Na+] - sum z_i x_i,
  electroneutrality [H+] + sum z_i x_i + [Na+] = [Cl-] + [OH-] and [H+][OH-] = K_w give
  [H+] = (g + sqrt(g^2 + 4 K_w)) / 2. This is the proton balance: every metal ion extracted releases
  z H+ into the aqueous (its charge leaves, the chloride stays), every one stripped consumes z H+.
- Saponification: a fraction ``saponification`` of the extractant enters as its Na+ (or NH4+) salt; the
  cation is exchanged before any proton (K_Na << K_M), all in the stage where the organic enters
  (stage 1). It then travels with the aqueous (to the raffinate) as the chloride salt.

The equilibrium pH of every stage is an output (``diagnostics``), with the organic loading as a fraction
of capacity and the free extractant.
"""
from __future__ import annotations

import math

import numpy as np

from ..constants import BASES, KW, PER_LITRE
from ..errors import ConfigError
from .base import EquilibriumModel

#: Smallest [H+] an iterate may imply [mol/m^3] (pH 10), see CationExchange.admissible.
ADMISSIBLE_PROTON = 1e-7
LN10 = math.log(10.0)
#: Organic loading above which a stage is flagged [-] (fraction of capacity).
LOADING_LIMIT = 0.95
#: Convergence of the per-stage free-extractant Newton iteration (change of ln f) [-].
FREE_TOL = 1e-13
FREE_MAX_ITER = 200
#: Smallest free extractant, as a fraction of the total [-] (see _free_extractant).
FREE_FLOOR = 1e-200


class CationExchange(EquilibriumModel):
    """Common engine of ``mass_action`` and ``ph_correlation`` (see module docstring).

    Parameters
    ----------
    components : sequence of str
    charges : sequence of int
        z_i, the charge of each metal ion [-].
    intercept, ph_slope, extractant_order : sequence of float
        b_i, a_i, n_i of log10 D_i = b_i - a_i log10[H+] + n_i log10[(HA)2]_free (mol/L) [-].
    extractant : float
        Total extractant as monomer HA [mol/m^3] (the dimer concentration is half of it).
    saponification : float
        Fraction of the extractant entering as its Na+/NH4+ salt [-], 0..1.
    base : str
        ``NaOH`` or ``NH3``.
    ph_validity : (float, float)
        pH range in which the model's data apply (guard, not a limit of the solver).
    sources : dict
        Component -> where its constants come from (for results).
    """

    #: One internal unknown per stage: ln [H+] (mol/m^3), with the charge balance as its equation.
    internal_count = 1

    def __init__(self, components, charges, intercept, ph_slope, extractant_order, extractant,
                 saponification=0.0, base="NaOH", ph_validity=(0.0, 7.0), sources=None, system=None,
                 extractant_name=None):
        self.components = tuple(components)
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

    def parameters(self):
        return {"components": self.components, "charges": self.charges.tolist(),
                "intercept": self.intercept.tolist(), "ph_slope": self.ph_slope.tolist(),
                "extractant_order": self.extractant_order.tolist(), "extractant": self.extractant,
                "saponification": self.saponification, "base": self.base,
                "ph_validity": self.ph_validity, "sources": dict(self.sources), "system": self.system,
                "extractant_name": self.extractant_name}

    # -- stage parameters ------------------------------------------------------------------------
    def prepare(self, conditions):
        n = len(conditions.section)
        base_load = np.zeros(n)
        base_load[0] = self.saponification * self.extractant * conditions.organic_flow[0]
        anion = conditions.anion()
        base_anion = conditions.aqueous_tracer(base_load) if self.saponification > 0 else np.zeros(n)
        net = anion - base_anion
        if self.saponification > 0 and net[0] < 0:
            flow = conditions.aqueous_flow[0]
            raise ConfigError("equilibrium.extractant.saponification",
                              f"{self.saponification:g}: the base it brings ({base_load[0]:.4g} mol/s) "
                              f"exceeds the chloride leaving stage 1 ({anion[0] * flow:.4g} mol/s), so "
                              "the raffinate would be alkaline whatever is extracted; expected a lower "
                              "saponification or organic flow, or more acid in the liquors")
        dimer = np.full(n, 0.5 * self.extractant)
        # ln D_i = ln_d0_i - a_i ln h + n_i ln f  with h, f in mol/m^3:
        ln_d0 = LN10 * self.intercept + (self.ph_slope - self.extractant_order) * math.log(PER_LITRE)
        scale = max(float(np.max(np.abs(anion))), 1e-3)
        return {"net_anion": anion - base_anion, "anion": anion, "base_anion": base_anion,
                "dimer": dimer, "ln_d0": ln_d0, "a": self.ph_slope, "n": self.extractant_order,
                "z": self.charges, "base_flow": float(base_load[0]), "charge_scale": scale}

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
        g = params["net_anion"] - x @ params["z"]
        root = np.sqrt(g * g + 4.0 * KW)
        h = np.where(g > 0, 0.5 * (g + root), 2.0 * KW / (root - np.minimum(g, 0.0)))
        return h, h / root                      # [H+], d[H+]/dg

    def _free_extractant(self, x, d_fixed, params):
        """Free dimer f per stage from f + sum z_i x_i d_i f^n_i = c, by Newton in ln f."""
        z, order, total = params["z"], params["n"], params["dimer"]
        weight = x * d_fixed * z                                       # (N, C)
        # Start from an upper bound of the root (then Newton on the convex ln f problem descends
        # monotonically): f <= total, and f <= (total / sum of the weights of one order n)^(1/n).
        s = np.log(total)
        with np.errstate(divide="ignore"):
            for n_value in np.unique(order[order > 0]):
                group = weight[:, order == n_value].sum(axis=1)
                s = np.minimum(s, (np.log(total) - np.log(group)) / n_value)
        # Metals whose D does not depend on the free extractant (order 0, ph_correlation) can load the
        # organic beyond capacity; the free extractant is then held at a floor (the loading guard
        # reports it) instead of having no solution.
        floor = np.log(total) + np.log(FREE_FLOOR)
        s = np.maximum(s, floor)
        for _ in range(FREE_MAX_ITER):
            f = np.exp(s)
            terms = weight * np.exp(np.outer(s, order))                # z_i y_i
            phi = f + terms.sum(axis=1) - total
            dphi = f + terms @ order
            new = np.maximum(s - phi / dphi, floor)
            step = np.abs(new - s)
            s = new
            if np.all(step < FREE_TOL) or not np.all(np.isfinite(step)):
                break            # converged, or an overflowing trial point (rejected by the caller)
        return np.exp(s)

    def equilibrium(self, x, params):
        """y and dy/dx with [H+] eliminated through the charge balance (used for starting points;
        the solver keeps ln [H+] as an unknown, see :meth:`equilibrium_internal`)."""
        z = params["z"]
        h, dh_dg = self._protons(x, params)
        w = np.log(h)[:, None]
        y, dydx, dydw = self.equilibrium_internal(x, w, params)
        # d ln h / d x_k = -z_k (dh/dg) / h
        dlnh = -(dh_dg / h)[:, None] * z[None, :]
        return y, dydx + dydw[:, :, 0][:, :, None] * dlnh[:, None, :]

    def equilibrium_internal(self, x, w, params):
        z = params["z"]
        a_eff, order = params["a"], params["n"]
        ln_fixed = params["ln_d0"][None, :] - np.outer(w[:, 0], a_eff)
        d_fixed = np.exp(ln_fixed)
        if np.any(order):
            f = self._free_extractant(x, d_fixed, dict(params, n=order))
            dist = d_fixed * np.exp(np.outer(np.log(f), order))
        else:   # no extractant dependence: f only reported, kept positive for the (zero) terms below
            f = np.maximum(params["dimer"] - (x * d_fixed) @ z, FREE_FLOOR * params["dimer"])
            dist = d_fixed
        y = dist * x
        zy = z[None, :] * y
        dphi_df = 1.0 + (zy * order[None, :]).sum(axis=1) / f                 # (N,)
        # h fixed: d phi / d x_k = z_k D_k; x fixed: d phi / d ln h = -sum z_i a_i y_i
        df_dx = -(z[None, :] * dist) / dphi_df[:, None]                        # (N, C)
        df_dlnh = (zy * a_eff[None, :]).sum(axis=1) / dphi_df                  # (N,)
        rel = order[None, :] / f[:, None]                                      # n_i / f
        dydx = (y * rel)[:, :, None] * df_dx[:, None, :]
        idx = np.arange(x.shape[1])
        dydx[:, idx, idx] += dist
        dydw = (y * (rel * df_dlnh[:, None] - a_eff[None, :]))[:, :, None]
        return y, dydx, dydw

    def constraint(self, x, w, params):
        """Charge balance of the aqueous, [H+] - K_w/[H+] - (net anion - sum z x) = 0, over c_scale."""
        z, scale = params["z"], params["charge_scale"]
        h = np.exp(w[:, 0])
        g = params["net_anion"] - x @ z
        e = (h - KW / h - g) / scale
        de_dx = np.broadcast_to((z / scale)[None, None, :], (x.shape[0], 1, x.shape[1]))
        de_dw = ((h + KW / h) / scale)[:, None, None]
        return e[:, None], de_dx, de_dw

    def admissible(self, x, params):
        """x scaled down, stage by stage, so that the metal charge leaves at least [H+] = 1e-10 mol/L
        of the net chloride: metals hydrolyse and precipitate long before pH 10, which these models do
        not describe, so iterates beyond that (far from any solution) are pulled back."""
        charge = x @ params["z"]
        # charge balance: [H+] - K_w/[H+] = net anion - sum z x, at [H+] = ADMISSIBLE_PROTON
        room = np.maximum(params["net_anion"] - (ADMISSIBLE_PROTON - KW / ADMISSIBLE_PROTON), 0.0)
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
        ln = (params["ln_d0"][None, :] - np.outer(np.log(h), params["a"])
              + np.outer(np.log(params["dimer"]), params["n"]))
        return np.clip(ln, -60.0, 60.0)

    def distribution_guess(self, x_reference, params):
        return np.exp(self.trace_ln_distribution(params))

    # -- outputs ---------------------------------------------------------------------------------
    def diagnostics(self, x, y, params):
        """Per-stage pH, free extractant [mol/m^3] and organic loading as a fraction of capacity."""
        h, _ = self._protons(x, params)
        occupied = y @ params["z"]
        return {"ph": -np.log10(h / PER_LITRE),
                "proton_mol_per_m3": h,
                "free_extractant_mol_per_m3": np.maximum(params["dimer"] - occupied, 0.0),
                "loading_fraction": occupied / params["dimer"]}

    def reagent_flows(self, params) -> dict:
        """Base used for saponification [mol/s] and what it is."""
        info = BASES[self.base]
        return {"base": self.base, "base_mol_per_s": params["base_flow"],
                "base_kg_per_mol": info["base_kg_per_mol"], "salt": info["salt"],
                "salt_kg_per_mol": info["salt_kg_per_mol"], "proton_balance": True}

    def capacity_used(self, concentration):
        """Every complex holds z dimers: sum z_i y_i against the dimer concentration."""
        return float(self.charges @ np.asarray(concentration, dtype=float)) / (0.5 * self.extractant)

    def operating_limits(self):
        return {"loading_fraction": LOADING_LIMIT, "ph": self.ph_validity,
                "ph_admissible": -math.log10(ADMISSIBLE_PROTON / PER_LITRE)}

    def describe(self):
        out = {"model": self.name, "extractant": self.extractant_name,
               "extractant_mol_per_m3": self.extractant,
               "saponification": self.saponification, "base": self.base,
               "ph_validity": list(self.ph_validity)}
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
