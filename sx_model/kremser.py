"""Kremser closed forms for countercurrent cascades with a constant distribution ratio.

Kremser, A., Natl. Petroleum News 22(21) (1930) 42-49; Souders and Brown, Ind. Eng. Chem. 24 (1932) 519;
in the form of Seader, Henley and Roper, Separation Process Principles, 3rd ed. (Wiley, 2011), eq. (5-48).
"""
from __future__ import annotations

import numpy as np


def fraction_unextracted(extraction_factor, stages):
    """Fraction of solute left in the raffinate of an N-stage countercurrent cascade.

    phi = (E - 1) / (E^(N+1) - 1), with the limit 1 / (N + 1) at E = 1; solute-free solvent.

    Parameters
    ----------
    extraction_factor : float or array
        E = D Q_org / Q_aq [-], > 0.
    stages : int or array
        Number of equilibrium stages N [-], >= 0.

    Returns
    -------
    float or numpy.ndarray
        Fraction unextracted [-].

    Examples
    --------
    >>> round(float(fraction_unextracted(2.4, 5)), 5)
    0.00736
    """
    e = np.asarray(extraction_factor, dtype=float)
    n = np.asarray(stages, dtype=float)
    if np.any(e <= 0):
        raise ValueError("extraction factor must be > 0")
    if np.any(n < 0):
        raise ValueError("stage count must be >= 0")
    near_one = np.abs(e - 1.0) < 1e-9
    safe = np.where(near_one, 2.0, e)
    # (E - 1)/(E^(N+1) - 1) written with expm1/log for accuracy near E = 1 and for large N
    log_e = np.log(safe)
    general = np.expm1(log_e) / np.expm1((n + 1.0) * log_e)
    out = np.where(near_one, 1.0 / (n + 1.0), general)
    return out if out.ndim else float(out)


def stages_for_fraction(extraction_factor, fraction):
    """Number of stages (real-valued) that leaves ``fraction`` of the solute unextracted.

    Inverse of :func:`fraction_unextracted`: N = ln((E - 1)/phi + 1) / ln E - 1  [-].
    """
    e = float(extraction_factor)
    phi = float(fraction)
    if not 0 < phi < 1:
        raise ValueError("fraction must be between 0 and 1")
    if abs(e - 1.0) < 1e-12:
        return 1.0 / phi - 1.0
    return float(np.log((e - 1.0) / phi + 1.0) / np.log(e) - 1.0)
