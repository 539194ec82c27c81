"""Bare tridiagonal solves of a constant-D countercurrent cascade: the floor the linear fast path is
compared with.

For a plain battery with constant distribution ratios every component obeys its own tridiagonal system
(stage j receives aqueous from j+1 and organic from j-1):

    F_org,j-1 D_j-1 x_j-1 - (F_aq,j + F_org,j D_j) x_j + F_aq,j+1 x_j+1 = -q_j         [mol/s]

``tridiagonal_systems`` builds the three diagonals and right-hand sides from the circuit (outside the
timed region); ``thomas`` solves them with the Thomas algorithm (Gaussian elimination without pivoting,
fine here because the matrix is column diagonally dominant), one component after another in plain Python
floats; ``banded`` hands the same diagonals to LAPACK through ``scipy.linalg.solve_banded``.
"""
from __future__ import annotations

import numpy as np


def tridiagonal_systems(cascade):
    """Diagonals and right-hand sides of the constant-D cascade, one system per component.

    Returns ``(lower, diagonal, upper, rhs)``, each of shape (C, N): ``lower[i, j]`` multiplies
    x_(j-1), ``upper[i, j]`` multiplies x_(j+1) in row j (``lower[:, 0]`` and ``upper[:, -1]`` are 0).
    Raises ValueError if the circuit is not a plain tridiagonal battery.
    """
    circuit = cascade.circuit
    n = circuit.stage_count
    flows = circuit.phase_flows()
    params = cascade.model.prepare(cascade.conditions(flows))
    distribution = cascade.model.distribution(params)            # (N, C)
    aq = circuit.transfer_matrix("aqueous").tocoo()
    org = circuit.transfer_matrix("organic").tocoo()
    if np.any(aq.row != aq.col - 1) or np.any(org.row != org.col + 1):
        raise ValueError("not a plain countercurrent battery (side links or recycles)")
    c = circuit.component_count
    lower = np.zeros((c, n))
    upper = np.zeros((c, n))
    # organic from stage k = j - 1 enters j with flow T F_org,k and carries D_k x_k
    lower[:, org.row] = (org.data * flows["organic"][org.col])[None, :] * distribution[org.col].T
    # aqueous from stage k = j + 1 enters j with flow T F_aq,k
    upper[:, aq.row] = (aq.data * flows["aqueous"][aq.col])[None, :]
    diagonal = -(flows["aqueous"][None, :] + flows["organic"][None, :] * distribution.T)
    rhs = -circuit.inlet_loads().T
    return lower, diagonal, upper, rhs


def thomas(lower, diagonal, upper, rhs):
    """Thomas algorithm, component by component, in Python floats; returns x of shape (N, C)."""
    c, n = diagonal.shape
    out = np.empty((n, c))
    for i in range(c):
        a, b, d, r = lower[i].tolist(), diagonal[i].tolist(), upper[i].tolist(), rhs[i].tolist()
        cp = [0.0] * n
        rp = [0.0] * n
        cp[0] = d[0] / b[0]
        rp[0] = r[0] / b[0]
        for j in range(1, n):
            pivot = b[j] - a[j] * cp[j - 1]
            cp[j] = d[j] / pivot
            rp[j] = (r[j] - a[j] * rp[j - 1]) / pivot
        x = rp
        for j in range(n - 2, -1, -1):
            x[j] = rp[j] - cp[j] * x[j + 1]
        out[:, i] = x
    return out


def banded_form(lower, diagonal, upper):
    """The diagonals in LAPACK band storage, one (3, N) array per component."""
    bands = []
    for i in range(diagonal.shape[0]):
        ab = np.zeros((3, diagonal.shape[1]))
        ab[0, 1:] = upper[i, :-1]
        ab[1] = diagonal[i]
        ab[2, :-1] = lower[i, 1:]
        bands.append(ab)
    return bands


def banded(bands, rhs):
    """``scipy.linalg.solve_banded`` (LAPACK gbsv) for each component; returns x of shape (N, C)."""
    from scipy.linalg import solve_banded

    return np.column_stack([solve_banded((1, 1), ab, r, check_finite=False, overwrite_ab=False,
                                         overwrite_b=False) for ab, r in zip(bands, rhs)])
