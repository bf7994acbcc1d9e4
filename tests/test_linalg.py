"""torch.linalg and the legacy top-level spellings against real torch.

Decompositions with a sign/phase gauge (svd, eigh, qr-free ones) are compared through
gauge-invariant functions of their outputs, as torch's own OpInfo tests do.
"""
import math

import numpy as np
import pytest
import torch

import jtorch
from test_blas import arr, raises_same, run_both, same

RNG = np.random.default_rng(1)


def spd(n=3, batch=()):
    a = RNG.standard_normal(batch + (n, n)).astype(np.float32)
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n, dtype=np.float32)).astype(np.float32)


def wellcond(n=3, batch=()):
    return (RNG.standard_normal(batch + (n, n)) + 3 * np.eye(n)).astype(np.float32)


@pytest.mark.parametrize("ord", [2, 1, 0, 3, 0.5, math.inf, -math.inf])
def test_vector_norm(ord):
    run_both(lambda T, x: T.linalg.vector_norm(x, ord), [arr(2, 3)])
    run_both(lambda T, x: T.linalg.vector_norm(x, ord, dim=1, keepdim=True), [arr(2, 3)])


def test_vector_norm_subgradient_at_zero_and_dtype():
    z = np.zeros((2, 3), np.float32)
    for o in (2, 1, 3, math.inf):
        run_both(lambda T, x: T.linalg.vector_norm(x, o, dim=1), [z])
    run_both(lambda T, x: T.linalg.vector_norm(x, dtype=T.float64), [arr(3)])
    run_both(lambda T, x: T.linalg.vector_norm(x), [arr(3, dtype=np.complex64)])
    run_both(lambda T, x: T.linalg.norm(x), [np.zeros(3, np.float32)])


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf])
def test_matrix_norm(ord):
    run_both(lambda T, x: T.linalg.matrix_norm(x, ord), [arr(2, 3, 4)])


def test_norm_dispatch():
    run_both(lambda T, x: T.linalg.norm(x), [arr(2, 3, 4)])
    run_both(lambda T, x: T.linalg.norm(x, "fro"), [arr(3, 4)])
    run_both(lambda T, x: T.linalg.norm(x, 1), [arr(3, 4)])
    run_both(lambda T, x: T.linalg.norm(x, 3, dim=0), [arr(3, 4)])
    run_both(lambda T, x: T.linalg.norm(x, dim=(0, 2), keepdim=True), [arr(2, 3, 4)])
    run_both(lambda T, x, y: T.linalg.vecdot(x, y), [arr(2, 3), arr(3)])
    run_both(lambda T, x: T.linalg.diagonal(x, offset=1), [arr(2, 3, 4)])


def test_inverse_solve_det():
    a = wellcond(3, (2,))
    run_both(lambda T, x: T.linalg.inv(x), [a])
    run_both(lambda T, x: T.inverse(x), [a[0]])
    run_both(lambda T, x: T.linalg.inv_ex(x), [a])
    run_both(lambda T, x, b: T.linalg.solve(x, b), [a, arr(2, 3)])         # batch of vectors
    run_both(lambda T, x, b: T.linalg.solve(x, b), [a, arr(3, 2)])         # broadcast B
    run_both(lambda T, x, b: T.linalg.solve(x, b, left=False), [a, arr(2, 4, 3)])
    run_both(lambda T, x, b: T.linalg.solve_ex(x, b), [a[0], arr(3)])
    run_both(lambda T, x: T.linalg.det(x), [a])
    run_both(lambda T, x: x.det(), [a])
    run_both(lambda T, x: T.linalg.slogdet(x), [a])
    run_both(lambda T, x: T.logdet(x), [spd(3)])
    run_both(lambda T, x: T.linalg.tensorinv(x, ind=1), [wellcond(4).reshape(4, 2, 2)])
    run_both(lambda T, x, b: T.linalg.tensorsolve(x, b), [wellcond(6).reshape(2, 3, 6),
                                                          arr(2, 3)])


def test_singular_raises_linalgerror():
    assert issubclass(jtorch.linalg.LinAlgError, RuntimeError)
    raises_same(lambda T: T.linalg.inv(T.zeros(2, 2)))
    raises_same(lambda T: T.linalg.inv(T.ones(3, 3)))
    raises_same(lambda T: T.linalg.inv(T.stack([T.eye(2), T.zeros(2, 2)])))
    raises_same(lambda T: T.linalg.solve(T.zeros(2, 2), T.ones(2)))
    raises_same(lambda T: T.linalg.cholesky(-T.eye(3)))
    raises_same(lambda T: T.linalg.cholesky(T.tensor([[4.0, 2, 0], [2, -3, 1], [0, 1, 5]])))
    raises_same(lambda T: T.linalg.inv_ex(T.zeros(2, 2), check_errors=True))
    info = jtorch.linalg.inv_ex(jtorch.zeros(3, 3)).info
    assert info.dtype == jtorch.int32 and info.item() == 1
    c = jtorch.linalg.cholesky_ex(jtorch.tensor([[4.0, 2, 0], [2, -3, 1], [0, 1, 5]]))
    assert c.info.item() == 2


def test_cholesky_family():
    a = spd(3, (2,))
    run_both(lambda T, x: T.linalg.cholesky(x), [a])
    run_both(lambda T, x: T.linalg.cholesky(x, upper=True), [a])
    run_both(lambda T, x: T.cholesky(x), [a[0]])
    run_both(lambda T, x: T.linalg.cholesky_ex(x), [a], grad=False)
    L = np.linalg.cholesky(a[0]).astype(np.float32)
    run_both(lambda T, b, l: T.cholesky_solve(b, l), [arr(3, 2), L])
    run_both(lambda T, b, u: T.cholesky_solve(b, u, upper=True), [arr(3, 2), L.T.copy()])
    run_both(lambda T, l: T.cholesky_inverse(l), [L])


def test_qr_svd_eig():
    a = arr(4, 3)
    run_both(lambda T, x: T.linalg.qr(x), [a])
    run_both(lambda T, x: T.linalg.qr(x, mode="complete"), [a], grad=False)
    run_both(lambda T, x: T.linalg.qr(x, mode="r")[1], [a], grad=False)
    run_both(lambda T, x: T.qr(x), [a])
    # svd: singular values, plus U*U and V*V (invariant to the column-sign gauge)
    run_both(lambda T, x: [T.linalg.svd(x, full_matrices=False)[1],
                           T.linalg.svd(x, full_matrices=False)[0] ** 2], [a])
    run_both(lambda T, x: [T.linalg.svd(x)[1], T.linalg.svd(x)[2] ** 2], [a])
    run_both(lambda T, x: [T.svd(x)[1], T.svd(x)[2] ** 2], [a])
    run_both(lambda T, x: T.linalg.svdvals(x), [a])
    s = spd(3)
    run_both(lambda T, x: [T.linalg.eigh(x)[0], T.linalg.eigh(x)[1] ** 2], [s])
    run_both(lambda T, x: [T.linalg.eigh(x, UPLO="U")[0], T.linalg.eigh(x, UPLO="U")[1] ** 2],
             [s])
    run_both(lambda T, x: T.linalg.eigvalsh(x), [s])
    g = arr(3, 3)
    run_both(lambda T, x: T.linalg.eigvals(x), [g])
    run_both(lambda T, x: T.linalg.eig(x)[0], [g])


def test_pinv_lstsq_rank():
    a = arr(4, 3)
    run_both(lambda T, x: T.linalg.pinv(x), [a])
    run_both(lambda T, x: T.pinverse(x), [a])
    sing = arr(4, 2) @ arr(2, 3)                       # rank 2: torch's finite gradient
    run_both(lambda T, x: T.linalg.pinv(x), [sing.astype(np.float32)], atol=1e-4)
    run_both(lambda T, x: T.linalg.pinv(x, hermitian=True), [spd(3)])
    run_both(lambda T, x: T.linalg.matrix_rank(x), [sing.astype(np.float32)], grad=False)
    run_both(lambda T, x: T.linalg.matrix_rank(x, tol=0.5), [a], grad=False)
    run_both(lambda T, x, b: T.linalg.lstsq(x, b), [a, arr(4, 2)])
    run_both(lambda T, x, b: T.linalg.lstsq(x, b, driver="gelsd"), [a, arr(4, 2)])


def test_exp_cond_vander():
    run_both(lambda T, x: T.linalg.matrix_exp(x * 0.3), [arr(2, 3, 3)])
    run_both(lambda T, x: T.matrix_exp(x * 0.3), [arr(3, 3)])
    a = wellcond(3)
    for p in (None, 2, -2, 1, "fro", "nuc", math.inf):   # torch can't differentiate p=1 etc.
        run_both(lambda T, x: T.linalg.cond(x, p), [a], grad=p in (None, 2, -2), atol=1e-4)
    run_both(lambda T, x: T.linalg.vander(x), [arr(2, 3)])
    run_both(lambda T, x: T.linalg.vander(x, N=4), [np.arange(3)], grad=False)


def test_lu_family():
    a = arr(3, 3)
    run_both(lambda T, x: T.linalg.lu(x), [a])
    run_both(lambda T, x: T.linalg.lu(x), [arr(3, 5)])
    run_both(lambda T, x: T.linalg.lu_factor(x), [a])
    run_both(lambda T, x: T.linalg.lu_factor_ex(x), [a], grad=False)
    lu_t = torch.linalg.lu_factor(torch.tensor(a))
    lu_j = jtorch.linalg.lu_factor(jtorch.tensor(a))
    same(torch.lu_unpack(*lu_t), jtorch.lu_unpack(*lu_j))
    b = arr(3, 2)
    for left, adjoint in ((True, False), (True, True), (False, False), (False, True)):
        bb = b if left else b.T.copy()
        same(torch.linalg.lu_solve(*lu_t, torch.tensor(bb), left=left, adjoint=adjoint),
             jtorch.linalg.lu_solve(*lu_j, jtorch.tensor(bb), left=left, adjoint=adjoint))
    same(torch.lu_solve(torch.tensor(b), *lu_t), jtorch.lu_solve(jtorch.tensor(b), *lu_j))
    run_both(lambda T, x: T.lu(x), [a], grad=False)


def test_triangular_and_householder():
    t = np.triu(wellcond(3)).astype(np.float32)
    run_both(lambda T, x, b: T.linalg.solve_triangular(x, b, upper=True), [t, arr(3, 2)])
    run_both(lambda T, x, b: T.linalg.solve_triangular(x, b, upper=False, left=False,
                                                       unitriangular=True), [t.T.copy(), arr(2, 3)])
    run_both(lambda T, b, x: T.triangular_solve(b, x), [arr(3, 2), t])
    run_both(lambda T, b, x: T.triangular_solve(b, x, upper=True, transpose=True), [arr(3, 2), t])
    a = arr(4, 3)
    run_both(lambda T, x: T.geqrf(x), [a], grad=False)
    run_both(lambda T, x, tau: T.linalg.householder_product(x, tau), [a, arr(2)])
    run_both(lambda T, x, tau, c: T.ormqr(x, tau, c), [a, arr(3), arr(4, 2)])
    run_both(lambda T, x, tau, c: T.ormqr(x, tau, c, left=False, transpose=True),
             [a, arr(3), arr(2, 4)])


def test_float32_stays_float32():
    for fn in (lambda T, x: T.linalg.inv(x), lambda T, x: T.linalg.svdvals(x),
               lambda T, x: T.linalg.matrix_exp(x)):
        out = fn(jtorch, jtorch.tensor(wellcond(3)))
        assert out.dtype == jtorch.float32


ERRORS = [
    lambda T: T.linalg.inv(T.ones(2, 3)),
    lambda T: T.linalg.inv(T.ones(3)),
    lambda T: T.linalg.inv(T.ones(2, 2, dtype=T.int64)),
    lambda T: T.linalg.det(T.ones(2, 3)),
    lambda T: T.linalg.solve(T.eye(2), T.ones(3)),
    lambda T: T.linalg.solve(T.eye(2), T.ones(2, dtype=T.float64)),
    lambda T: T.linalg.vector_norm(T.ones(3, dtype=T.int64)),
    lambda T: T.linalg.vector_norm(T.ones(0), ord=float("inf")),
    lambda T: T.linalg.matrix_norm(T.ones(3)),
    lambda T: T.linalg.matrix_norm(T.ones(3, 3), ord=3),
    lambda T: T.linalg.norm(T.ones(3, 3, 3), ord=2),
    lambda T: T.linalg.eigh(T.ones(3, 3), UPLO="X"),
    lambda T: T.linalg.qr(T.ones(3, 3), mode="x"),
    lambda T: T.linalg.lu_factor(T.ones(2, 2)),
    lambda T: T.linalg.lu(T.ones(3, 3), pivot=False),
    lambda T: T.linalg.vecdot(T.ones(2, 3), T.ones(2, 3, dtype=T.float64)),
    lambda T: T.linalg.tensorinv(T.ones(4, 6), ind=1),
    lambda T: T.linalg.solve_triangular(T.ones(3, 3), T.ones(3), upper=True),
    lambda T: T.linalg.vander(T.ones(3, dtype=T.bool)),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    raises_same(ERRORS[i])
