"""The banded factorisation with a low-rank correction against an independent dense LU (numpy)."""
import numpy as np
import pytest
import scipy.sparse as sp

from sx_model.solvers import linalg


def _battery(stages, block, corner_rows=0, seed=0):
    """A block-tridiagonal, diagonally dominant matrix with ``corner_rows`` rows of the first block
    coupled to the last block (a recycle)."""
    rng = np.random.default_rng(seed)
    n = stages * block
    rows, cols, vals = [], [], []
    for s in range(stages):
        for t in (s - 1, s, s + 1):
            if 0 <= t < stages:
                b = rng.normal(size=(block, block)) + (4.0 * block * np.eye(block) if t == s else 0.0)
                r, c = np.meshgrid(np.arange(block) + s * block, np.arange(block) + t * block, indexing="ij")
                rows.append(r.ravel()); cols.append(c.ravel()); vals.append(b.ravel())
    if corner_rows:
        b = rng.normal(size=(corner_rows, block))
        r, c = np.meshgrid(np.arange(corner_rows), np.arange(block) + (stages - 1) * block, indexing="ij")
        rows.append(r.ravel()); cols.append(c.ravel()); vals.append(b.ravel())
    return sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


@pytest.mark.parametrize("corner", [0, 3, 12])
def test_banded_with_corner_matches_dense_solve(corner):
    jac = _battery(60, 12, corner_rows=corner)
    lu = linalg.factor(jac)
    assert isinstance(lu, linalg._BandedFactor)
    assert lu.rank == corner
    rhs = np.random.default_rng(1).normal(size=(jac.shape[0], 3))
    dense = np.linalg.solve(jac.toarray(), rhs)
    assert np.allclose(lu.solve(rhs), dense, rtol=1e-10, atol=1e-12)
    assert np.allclose(lu.solve(rhs[:, 0]), dense[:, 0], rtol=1e-10, atol=1e-12)


def test_pattern_reused_with_new_values():
    a = _battery(50, 10, corner_rows=4, seed=2)
    b = a.copy()
    b.data = b.data * np.random.default_rng(3).uniform(0.5, 1.5, size=b.data.size)
    rhs = np.ones(a.shape[0])
    for m in (a, b, a):
        assert np.allclose(linalg.factor(m).solve(rhs), np.linalg.solve(m.toarray(), rhs), rtol=1e-10)


def test_singular_band_falls_back_to_superlu():
    # a block cyclic shift: each stage's rows take the next stage's unknowns, the last stage's rows
    # take stage 1's (a long-range coupling). The band alone is singular (its last rows are empty);
    # the whole matrix is a permutation, perfectly conditioned.
    stages, block = 45, 10
    n = stages * block
    rows = np.arange(n)
    cols = (rows + block) % n
    jac = sp.csc_matrix((np.full(n, 2.0), (rows, cols)), shape=(n, n))
    rhs = np.arange(n, dtype=float)
    lu = linalg.factor(jac)
    assert not isinstance(lu, linalg._BandedFactor)
    assert np.allclose(lu.solve(rhs), np.linalg.solve(jac.toarray(), rhs), rtol=1e-12)


def test_exactly_singular_matrix_raises_runtime_error():
    jac = _battery(45, 10).tolil()
    jac[5, :] = 0.0
    with pytest.raises(RuntimeError):
        linalg.factor(jac.tocsc())


def test_many_long_range_rows_use_superlu():
    jac = _battery(40, 12).tolil()
    for i in range(0, 480, 6):                    # 80 rows coupled to far stages
        jac[i, (i + 240) % 480] = 0.5
    jac = jac.tocsc()
    lu = linalg.factor(jac)
    assert not isinstance(lu, linalg._BandedFactor)
    rhs = np.ones(jac.shape[0])
    assert np.allclose(lu.solve(rhs), np.linalg.solve(jac.toarray(), rhs), rtol=1e-10)
