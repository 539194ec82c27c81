"""Physical constants and reagent molar masses: the one place they are defined.

Molar masses are from the CIAAW 2021 standard atomic weights (H 1.008, N 14.007, O 15.999, Na 22.990,
S 32.06, Cl 35.45), summed over each formula and given in kg/mol.
"""
from __future__ import annotations

#: Ionic product of water at 25 C [(mol/m^3)^2] (K_w = 1.0e-14 mol^2/L^2; CRC Handbook of Chemistry and
#: Physics, "Ionization constant of water").
KW = 1.0e-8
#: mol/m^3 per mol/L.
PER_LITRE = 1000.0
#: s per h.
SECONDS_PER_HOUR = 3600.0
#: Protons released (or consumed) per trivalent rare-earth ion exchanged by an acidic extractant [-].
PROTONS_PER_REE = 3.0

#: Reagent molar masses [kg/mol] (CIAAW 2021 atomic weights, see module docstring).
HCL = 0.036458            # H 1.008 + Cl 35.45
NAOH = 0.039997           # Na 22.990 + O 15.999 + H 1.008
NH3 = 0.017031            # N 14.007 + 3 H 1.008
NACL = 0.05844            # Na 22.990 + Cl 35.45
NH4CL = 0.053491          # N 14.007 + 4 H 1.008 + Cl 35.45
H2SO4 = 0.098072          # 2 H 1.008 + S 32.06 + 4 O 15.999
HNO3 = 0.063012           # H 1.008 + N 14.007 + 3 O 15.999
NA2SO4 = 0.142036         # 2 Na 22.990 + S 32.06 + 4 O 15.999
NH4_2SO4 = 0.132134       # 2 N 14.007 + 8 H 1.008 + S 32.06 + 4 O 15.999
NANO3 = 0.084994          # Na 22.990 + N 14.007 + 3 O 15.999
NH4NO3 = 0.080042         # 2 N 14.007 + 4 H 1.008 + 3 O 15.999

#: Bases accepted for saponification: the cation left in the aqueous, the molar mass of the base and of
#: its chloride salt [kg/mol].
BASES = {"NaOH": {"cation": "Na+", "base_kg_per_mol": NAOH, "salt": "NaCl", "salt_kg_per_mol": NACL},
         "NH3": {"cation": "NH4+", "base_kg_per_mol": NH3, "salt": "NH4Cl", "salt_kg_per_mol": NH4CL}}
