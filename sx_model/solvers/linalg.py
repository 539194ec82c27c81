"""Factorisation of the cascade Jacobians: a banded LU with a low-rank correction, or SuperLU.

Stage-major unknowns make the Jacobian of a battery banded: a stage couples only to its neighbours, so
every entry lies within about two stage blocks of the diagonal. What breaks the band is a handful of
long-range couplings: the stripped organic returned from the last strip stage to stage 1, a link between
two cascades of a flowsheet. Those entries sit in a few rows (the receiving stage's balances) and are
treated as a low-rank correction,

    J = B + E_R C E_K^T,     J^-1 b = B^-1 b - Z S^-1 C E_K^T B^-1 b,   Z = B^-1 E_R,  S = I + C E_K^T Z,

with B (the band) factored by LAPACK's banded LU (``dgbtrf``, partial pivoting) and the r x r
capacitance matrix S (r = number of rows with long-range entries) by a dense LU. This costs a fraction of
a general sparse LU of the same matrix (about a quarter for 1000 stages x 17 unknowns per stage, measured
in ``benchmarks/bench_scaling.py``). Where the structure does not suit it (a wide band, many long-range
rows, a singular band or an ill-conditioned capacitance matrix) the factorisation falls back to SuperLU,
so the answer never depends on the choice beyond round-off.

:func:`factor` is the one entry point; its result has ``solve(rhs)`` for a vector or a matrix of
right-hand sides, as SuperLU's has.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse.linalg as spla
from scipy.linalg import lapack

#: Entries further than this many columns from the diagonal, in units of the widest near coupling a
#: plain battery has, are long-range (handled by the low-rank correction) [-].
_NEAR_FACTOR = 4
#: At most this many rows may carry long-range entries for the banded path [-].
MAX_CORNER_ROWS = 64
#: Below this size SuperLU is used as it is (the banded path's set-up does not pay) [unknowns].
MIN_BANDED_SIZE = 400
#: Capacitance matrices with a condition number above this fall back to SuperLU [-].
MAX_CAPACITANCE_CONDITION = 1e10


def superlu(jac):
    """SuperLU of ``jac`` (CSC) in its natural column order (the stage-major order is already banded;
    COLAMD is about twice as slow here)."""
    return spla.splu(jac, permc_spec="NATURAL")


def factor(jac):
    """Factorisation of the square sparse matrix ``jac`` with ``solve(rhs)``.

    Raises RuntimeError for an exactly singular matrix (as SuperLU does).
    """
    plan = _plan(jac)
    if plan is not None:
        banded = _BandedFactor.build(plan, jac.data)
        if banded is not None:
            return banded
    return superlu(jac.tocsc())


class _Plan:
    """Where each stored entry of a sparsity pattern goes in the banded layout (computed once per
    pattern)."""

    def __init__(self, indices, indptr, n):
        rows = indices.astype(np.int64)
        cols = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        offset = cols - rows
        self.indices, self.indptr, self.n = indices, indptr, n
        # the widest coupling of the first stage rows is what a plain battery has everywhere
        self.valid = False
        if offset.size == 0:
            return
        near_width = int(np.percentile(np.abs(offset), 99.0)) + 1
        limit = _NEAR_FACTOR * near_width
        far = np.abs(offset) > limit
        near = ~far
        self.kl = int(max(-offset[near].min(), 0))
        self.ku = int(max(offset[near].max(), 0))
        far_rows = np.unique(rows[far])
        if far_rows.size > MAX_CORNER_ROWS or self.kl + self.ku > n // 4:
            return
        self.far = np.flatnonzero(far)
        # LAPACK band storage with kl extra rows for the pivoting fill: ab[kl + ku + i - j, j] = A[i, j],
        # in Fortran order (so that LAPACK works on it in place)
        self.ab_rows = 2 * self.kl + self.ku + 1
        flat = cols * self.ab_rows + (self.kl + self.ku + rows - cols)
        flat[far] = self.ab_rows * n          # long-range entries land in one spare slot past the band
        self.flat = flat
        self.corner_rows = far_rows
        self.corner_cols = np.unique(cols[far])
        self.far_r = np.searchsorted(self.corner_rows, rows[far])
        self.far_c = np.searchsorted(self.corner_cols, cols[far])
        self.valid = True

    def matches(self, jac):
        return (jac.shape == (self.n, self.n) and jac.indptr.size == self.indptr.size
                and (jac.indices is self.indices or np.array_equal(jac.indices, self.indices))
                and (jac.indptr is self.indptr or np.array_equal(jac.indptr, self.indptr)))


_PLANS: list = []     # the last few patterns seen (a solve alternates between a few sizes)


def _plan(jac):
    if jac.format != "csc":
        jac = jac.tocsc()
    n = jac.shape[0]
    if n < MIN_BANDED_SIZE or jac.shape[0] != jac.shape[1]:
        return None
    if not jac.has_canonical_format:      # duplicates would have to be summed
        return None
    for plan in _PLANS:
        if plan.matches(jac):
            return plan if plan.valid else None
    plan = _Plan(jac.indices, jac.indptr, n)
    _PLANS.insert(0, plan)
    del _PLANS[8:]
    return plan if plan.valid else None


class _BandedFactor:
    """Banded LU of the near entries plus the capacitance matrix of the long-range ones."""

    @classmethod
    def build(cls, plan, data):
        self = cls()
        n, kl, ku = plan.n, plan.kl, plan.ku
        ab = np.zeros(plan.ab_rows * n + 1)
        ab[plan.flat] = data
        ab = ab[:-1].reshape((plan.ab_rows, n), order="F")
        lub, piv, info = lapack.dgbtrf(ab, kl, ku, overwrite_ab=1)
        if info != 0:                   # singular band (the full matrix may not be): let SuperLU decide
            return None
        self.lub, self.piv, self.kl, self.ku, self.n = lub, piv, kl, ku, n
        self.rank = plan.corner_rows.size
        if self.rank:
            corner = np.zeros((self.rank, plan.corner_cols.size))
            corner[plan.far_r, plan.far_c] = data[plan.far]
            unit = np.zeros((n, self.rank), order="F")
            unit[plan.corner_rows, np.arange(self.rank)] = 1.0
            z = self._band_solve(unit)                                   # B^-1 E_R, (n, r)
            cap = np.eye(self.rank) + corner @ z[plan.corner_cols]       # I + C E_K^T Z
            if not np.all(np.isfinite(cap)) or np.linalg.cond(cap) > MAX_CAPACITANCE_CONDITION:
                return None
            self.corner, self.z, self.cols = corner, z, plan.corner_cols
            self.cap = sla.lu_factor(cap, check_finite=False)
        return self

    def _band_solve(self, rhs):
        out, info = lapack.dgbtrs(self.lub, self.kl, self.ku, rhs, self.piv)
        if info != 0:
            raise RuntimeError("banded solve failed")
        return out

    def solve(self, rhs):
        rhs = np.asarray(rhs, dtype=float)
        y = self._band_solve(rhs)
        if self.rank:
            coupling = self.corner @ y[self.cols]
            y = y - self.z @ sla.lu_solve(self.cap, coupling, check_finite=False)
        return y
