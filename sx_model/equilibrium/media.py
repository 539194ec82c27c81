"""Aqueous media: how the free acid of a liquor is held, and so how pH follows from the proton balance.

The acidity-driven models keep one conserved quantity per stage, the *proton total* of the aqueous

    H_T = [H+] + [HSO4-] - [OH-]          (sulfate)        H_T = [H+] - [OH-]     (chloride, nitrate)

(every dissociable proton the liquor holds; negative when it carries free base). Extracting a metal ion
releases p protons into the aqueous and stripping one consumes p, so H_T + sum_i p_i x_i is not changed
by mass transfer: it is an aqueous tracer whose stage concentrations follow from the aqueous flows
alone. The medium turns H_T back into [H+] and the species of its anion:

- ``chloride`` and ``nitrate``: strong monoprotic acids, fully dissociated (the two differ only in the
  reagent and salt they imply, and in which constants apply to them).
- ``sulfate``: H2SO4 is fully dissociated to HSO4-, which dissociates further,
  HSO4- = H+ + SO4 2-, K_a2 = [H+][SO4 2-]/[HSO4-] (concentrations in mol/L, no activity
  coefficients). Total sulfate S = [HSO4-] + [SO4 2-] is a second aqueous tracer (sulfate never enters
  the organic in cation exchange), so [HSO4-] = S [H+]/([H+] + K_a2).

K_a2 at 25 C and its temperature dependence (van 't Hoff with the standard reaction enthalpy) are in
:data:`SULFATE_KA2`. Water: [H+][OH-] = K_w (:data:`sx_model.constants.KW`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..constants import (H2SO4, HCL, HNO3, KW, NA2SO4, NACL, NANO3, NH4_2SO4, NH4CL, NH4NO3,
                         PER_LITRE)

#: Gas constant [J/(mol K)] (CODATA 2018, exact).
GAS_CONSTANT = 8.314462618
#: Reference temperature of tabulated constants [K] (25 C).
T_STANDARD = 298.15

#: HSO4- = H+ + SO4 2- at infinite dilution: log10 K_a2 = -1.99 at 25 C, reaction enthalpy
#: -21.93 kJ/mol (from the standard enthalpies of formation of HSO4-(aq), -887.34 kJ/mol, and SO4 2-(aq),
#: -909.27 kJ/mol, in Wagman et al., The NBS tables of chemical thermodynamic properties, J. Phys. Chem.
#: Ref. Data 11, Suppl. 2 (1982)); the K_a2 value as tabulated by Smith & Martell, Critical Stability
#: Constants vol. 4 (1976). The dissociation is exothermic, so K_a2 falls as the liquor warms.
SULFATE_KA2 = {"log10_k": -1.99, "enthalpy_j_per_mol": -21930.0, "temperature_k": T_STANDARD,
               "source": "log10 K_a2 = -1.99 at 25 C (Smith & Martell, Critical Stability Constants "
                         "vol. 4, 1976); Delta H = -21.93 kJ/mol from the formation enthalpies of "
                         "Wagman et al., J. Phys. Chem. Ref. Data 11 Suppl. 2 (1982)"}

#: Reagents each medium implies: the acid (kg per mol of H+ it supplies) and the sodium / ammonium salt
#: saponification leaves in the raffinate (kg per mol of cation); molar masses in sx_model.constants.
MEDIUM_REAGENTS = {
    "chloride": {"acid": "HCl", "acid_kg_per_mol_h": HCL,
                 "salt": {"NaOH": ("NaCl", NACL), "NH3": ("NH4Cl", NH4CL)}},
    "sulfate": {"acid": "H2SO4", "acid_kg_per_mol_h": 0.5 * H2SO4,
                "salt": {"NaOH": ("Na2SO4", 0.5 * NA2SO4), "NH3": ("(NH4)2SO4", 0.5 * NH4_2SO4)}},
    "nitrate": {"acid": "HNO3", "acid_kg_per_mol_h": HNO3,
                "salt": {"NaOH": ("NaNO3", NANO3), "NH3": ("NH4NO3", NH4NO3)}},
}
MEDIA = tuple(MEDIUM_REAGENTS)

#: log10 K_a2(T) of Clegg, Rard & Pitzer, J. Chem. Soc. Faraday Trans. 90 (1994) 1875, eq. 21
#: (infinite dilution, fitted from 273.15 to 328.15 K; T in K): a + b ln T + c T^2 + d T + e / T. It
#: carries the large heat capacity of the dissociation that a constant enthalpy leaves out (at 50 C it
#: gives -2.33 against -2.29 from -1.99 and -21.93 kJ/mol).
CLEGG_1994 = {"a": 562.69486, "b": -102.5154, "c": -1.117033e-4, "d": 0.2477538, "e": -13273.75,
              "range_k": (273.15, 328.15)}
KA2_FUNCTIONS = ("van_t_hoff", "clegg1994")


def clegg_log10_ka2(temperature):
    """log10 K_a2 [mol/kg ~ mol/L] of :data:`CLEGG_1994` at ``temperature`` [K]."""
    t = np.asarray(temperature, dtype=float)
    c = CLEGG_1994
    return c["a"] + c["b"] * np.log(t) + c["c"] * t * t + c["d"] * t + c["e"] / t


def van_t_hoff(log10_k: float, enthalpy: float, t_ref: float, temperature):
    """log10 K at ``temperature`` [K] from log10 K at ``t_ref`` and the reaction enthalpy [J/mol]:
    ln K(T) = ln K(T_ref) - (Delta H / R) (1/T - 1/T_ref)."""
    shift = -enthalpy / (GAS_CONSTANT * math.log(10.0)) * (1.0 / np.asarray(temperature, dtype=float)
                                                           - 1.0 / t_ref)
    return log10_k + shift


@dataclass(frozen=True)
class Medium:
    """An aqueous medium (see module docstring).

    Parameters
    ----------
    name : str
        ``chloride``, ``sulfate`` or ``nitrate``.
    log10_ka2 : float
        For sulfate: log10 of K_a2 [mol/L] at ``ka2_temperature``.
    ka2_enthalpy : float
        For sulfate: Delta H of HSO4- = H+ + SO4 2- [J/mol] (van 't Hoff); 0 holds K_a2 constant.
    ka2_temperature : float
        Temperature at which ``log10_ka2`` applies [K].
    ka2_function : str
        ``van_t_hoff`` (``log10_ka2`` and ``ka2_enthalpy``) or ``clegg1994`` (:data:`CLEGG_1994`).
    """

    name: str = "chloride"
    log10_ka2: float = SULFATE_KA2["log10_k"]
    ka2_enthalpy: float = SULFATE_KA2["enthalpy_j_per_mol"]
    ka2_temperature: float = SULFATE_KA2["temperature_k"]
    ka2_function: str = "van_t_hoff"

    @property
    def speciated(self) -> bool:
        """True when the anion holds protons (sulfate)."""
        return self.name == "sulfate"

    @property
    def reagents(self) -> dict:
        return MEDIUM_REAGENTS[self.name]

    def parameters(self) -> dict:
        return {"name": self.name, "log10_ka2": self.log10_ka2, "ka2_enthalpy": self.ka2_enthalpy,
                "ka2_temperature": self.ka2_temperature, "ka2_function": self.ka2_function}

    def ka2(self, temperature) -> np.ndarray:
        """K_a2 [mol/m^3] at ``temperature`` [K] (any shape)."""
        if self.ka2_function == "clegg1994":
            return PER_LITRE * 10.0 ** clegg_log10_ka2(temperature)
        return PER_LITRE * 10.0 ** van_t_hoff(self.log10_ka2, self.ka2_enthalpy, self.ka2_temperature,
                                              temperature)

    # -- the proton total as a function of [H+] -------------------------------------------------------
    def proton_total(self, h, sulfate=None, ka2=None):
        """H_T [mol/m^3] and dH_T/d ln[H+] at free [H+] ``h`` [mol/m^3]; ``sulfate`` (total, mol/m^3) and
        ``ka2`` [mol/m^3] broadcast with ``h`` (sulfate medium only)."""
        h = np.asarray(h, dtype=float)
        total = h - KW / h
        slope = h + KW / h
        if self.speciated:
            held = sulfate * h / (h + ka2)
            total = total + held
            slope = slope + held * ka2 / (h + ka2)
        return total, slope

    def free_proton(self, proton_total, sulfate=None, ka2=None):
        """Free [H+] [mol/m^3] that holds the proton total ``proton_total`` [mol/m^3] (vectorised).

        Chloride / nitrate in closed form; sulfate by Newton in ln [H+] inside a bracket (H_T is
        increasing in [H+]; the bracket comes from 0 <= [HSO4-] <= S)."""
        g = np.asarray(proton_total, dtype=float)
        if not self.speciated:
            return _strong(g)
        s = np.broadcast_to(np.asarray(sulfate, dtype=float), g.shape)
        k = np.broadcast_to(np.asarray(ka2, dtype=float), g.shape)
        lo, hi = np.log(_strong(g - s)), np.log(_strong(g))
        u = hi.copy()
        for _ in range(100):
            h = np.exp(u)
            total, slope = self.proton_total(h, s, k)
            f = total - g
            hi = np.where(f > 0, u, hi)
            lo = np.where(f <= 0, u, lo)
            new = u - f / slope
            outside = ~((new > lo) & (new < hi))
            new = np.where(outside, 0.5 * (lo + hi), new)
            if np.all(np.abs(new - u) < 1e-14 * np.maximum(1.0, np.abs(u))):
                u = new
                break
            u = new
        return np.exp(u)

    def species(self, h, sulfate=None, ka2=None) -> dict:
        """Anion species [mol/m^3] at free [H+] ``h``: ``bisulfate`` and ``sulfate`` (sulfate medium)."""
        if not self.speciated:
            return {}
        held = sulfate * h / (h + ka2)
        return {"bisulfate_mol_per_m3": held, "sulfate_ion_mol_per_m3": sulfate - held}

    # -- streams ----------------------------------------------------------------------------------
    def stream_sulfate(self, acid, metal_charge):
        """Total sulfate [mol/m^3] of a liquor of metal sulfates and sulfuric acid, from electroneutrality:
        2 S = H_T + sum z c (the acid counted as protons, the metals as charge)."""
        return 0.5 * (acid + metal_charge)

    def acid_at_ph(self, ph, metal_charge, temperature, sulfate=None):
        """Proton total [mol/m^3] of a liquor at ``ph`` (free [H+]) and ``temperature`` [K]; for sulfate with
        total sulfate ``sulfate`` [mol/m^3], or (None) sulfate from electroneutrality with the metals."""
        h = PER_LITRE * 10.0 ** (-float(ph))
        base = h - KW / h
        if not self.speciated:
            return base
        k = float(self.ka2(temperature))
        share = h / (h + k)                       # fraction of the sulfate held as HSO4-
        if sulfate is not None:
            return base + sulfate * share
        # H_T = base + S share with S = (H_T + charge)/2: linear in H_T
        return (base + 0.5 * metal_charge * share) / (1.0 - 0.5 * share)

    def ph_of(self, acid, sulfate=None, temperature=T_STANDARD) -> float:
        """pH (free [H+], mol/L) of a liquor of proton total ``acid`` [mol/m^3] at ``temperature``."""
        k = self.ka2(temperature) if self.speciated else None
        h = float(self.free_proton(np.array([acid]), sulfate, k)[0])
        return -math.log10(h / PER_LITRE)


def _strong(g):
    """[H+] from [H+] - K_w/[H+] = g (a strong acid or base of net concentration g), stable for any sign."""
    g = np.asarray(g, dtype=float)
    root = np.sqrt(g * g + 4.0 * KW)
    return np.where(g > 0, 0.5 * (g + root), 2.0 * KW / (root - np.minimum(g, 0.0)))


CHLORIDE = Medium("chloride")
