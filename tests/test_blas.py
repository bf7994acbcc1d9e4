"""The matmul family against real torch: values, dtypes, gradients and error messages."""
import math

import numpy as np
import pytest
import torch

import jtorch

RNG = np.random.default_rng(0)


def arr(*shape, dtype=np.float32):
    a = RNG.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * RNG.standard_normal(shape)
    return a.astype(dtype)


def same(t, j, rtol=1e-4, atol=1e-5):
    """A torch result and a jtorch result agree in shape, dtype and values."""
    if isinstance(t, (tuple, list)):
        assert len(t) == len(j)
        for a, b in zip(t, j):
            same(a, b, rtol, atol)
        return
    assert tuple(j.shape) == tuple(t.shape)
    assert str(j.dtype) == str(t.dtype)
    np.testing.assert_allclose(np.asarray(j.detach().numpy()), t.detach().resolve_conj().numpy(),
                               rtol=rtol, atol=atol)


def run_both(fn, arrays, grad=True, rtol=1e-4, atol=1e-5):
    """fn(lib, *tensors) on torch and jtorch; compares outputs and, if grad, VJPs."""
    ts = [torch.tensor(a, requires_grad=grad and a.dtype.kind in "fc") for a in arrays]
    js = [jtorch.tensor(a, requires_grad=grad and a.dtype.kind in "fc") for a in arrays]
    rt, rj = fn(torch, *ts), fn(jtorch, *js)
    same(rt, rj, rtol, atol)
    if not grad:
        return
    outs_t = [rt] if isinstance(rt, torch.Tensor) else list(rt)
    outs_j = [rj] if not isinstance(rj, (tuple, list)) else list(rj)
    keep = [i for i, o in enumerate(outs_t) if o.requires_grad]
    outs_t, outs_j = [outs_t[i] for i in keep], [outs_j[i] for i in keep]
    cots = [arr(*o.shape, dtype=o.detach().resolve_conj().numpy().dtype) for o in outs_t]
    leaves = [i for i, t in enumerate(ts) if t.requires_grad]
    gt = torch.autograd.grad(outs_t, [ts[i] for i in leaves], [torch.tensor(c) for c in cots],
                             allow_unused=True)
    gj = jtorch.autograd.grad(outs_j, [js[i] for i in leaves],
                              [jtorch.tensor(c) for c in cots], allow_unused=True)
    for a, b in zip(gt, gj):
        if a is None:
            assert b is None or not np.asarray(b.numpy()).any()
        else:
            same(a, b, rtol, 10 * atol)


def raises_same(fn):
    """torch and jtorch raise the same exception type with the same message."""
    with pytest.raises(Exception) as et:
        fn(torch)
    with pytest.raises(Exception) as ej:
        fn(jtorch)
    tt, tj = type(et.value), type(ej.value)    # torch._C._LinAlgError ~ jtorch's LinAlgError
    assert tj.__name__.lstrip("_") == tt.__name__.lstrip("_"), (tj, tt)
    assert isinstance(ej.value, next(c for c in tt.__mro__ if c.__module__ == "builtins"))
    assert str(ej.value) == str(et.value)


MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                 ((5, 2, 3), (3,)), ((3,), (5, 3, 4)), ((5, 2, 3), (3, 4)),
                 ((2, 3), (5, 3, 4)), ((5, 1, 2, 3), (4, 3, 2))]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_ranks_and_grads(sa, sb):
    run_both(lambda T, a, b: T.matmul(a, b), [arr(*sa), arr(*sb)])


def test_matmul_operator_out_and_dtypes():
    a, b = arr(2, 3), arr(3, 4)
    run_both(lambda T, x, y: x @ y, [a, b])
    ja, jb = jtorch.tensor(a), jtorch.tensor(b)
    out = jtorch.tensor(np.zeros((2, 4), np.float32))
    r = jtorch.matmul(ja, jb, out=out)
    assert r is out
    same(torch.tensor(a) @ torch.tensor(b), out)
    run_both(lambda T, x, y: T.matmul(x, y), [a.astype(np.float64), b.astype(np.float64)])
    ia, ib = RNG.integers(-5, 5, (2, 3)), RNG.integers(-5, 5, (3, 4))
    run_both(lambda T, x, y: T.matmul(x, y), [ia, ib], grad=False)


def test_complex_matmul_grad_convention():
    run_both(lambda T, a, b: T.matmul(a, b), [arr(2, 3, dtype=np.complex64),
                                               arr(3, dtype=np.complex64)])
    run_both(lambda T, a, b: T.mm(a, b), [arr(2, 3, dtype=np.complex64),
                                           arr(3, 2, dtype=np.complex64)])


def test_products():
    run_both(lambda T, a, b: T.mm(a, b), [arr(2, 3), arr(3, 4)])
    run_both(lambda T, a, b: T.bmm(a, b), [arr(2, 2, 3), arr(2, 3, 4)])
    run_both(lambda T, a, b: T.mv(a, b), [arr(2, 3), arr(3)])
    run_both(lambda T, a, b: T.dot(a, b), [arr(3), arr(3)])
    run_both(lambda T, a, b: a.vdot(b), [arr(3, dtype=np.complex64), arr(3, dtype=np.complex64)])
    run_both(lambda T, a, b: T.inner(a, b), [arr(2, 3), arr(4, 3)])
    run_both(lambda T, a, b: T.outer(a, b), [arr(2), arr(3)])
    run_both(lambda T, a, b: T.ger(a, b), [arr(2), arr(3)])
    run_both(lambda T, a, b: T.kron(a, b), [arr(2, 3), arr(3, 2, 2)])
    run_both(lambda T, a, b: T.outer(a, b), [arr(2), arr(3, dtype=np.float64)])  # promotes


def test_add_products():
    run_both(lambda T, c, a, b: T.addmm(c, a, b, beta=0.5, alpha=2), [arr(4), arr(2, 3),
                                                                      arr(3, 4)])
    run_both(lambda T, c, a, b: T.addmv(c, a, b, beta=0.5, alpha=2), [arr(2), arr(2, 3), arr(3)])
    run_both(lambda T, c, a, b: T.addr(c, a, b, beta=0.5, alpha=2), [arr(2, 3), arr(2), arr(3)])
    run_both(lambda T, c, a, b: T.baddbmm(c, a, b, beta=0.5, alpha=2),
             [arr(1, 4), arr(2, 2, 3), arr(2, 3, 4)])
    run_both(lambda T, c, a, b: T.addbmm(c, a, b, beta=0.5, alpha=2),
             [arr(2, 4), arr(2, 2, 3), arr(2, 3, 4)])
    nan = np.full((2, 4), np.nan, np.float32)   # beta=0 ignores input, even nan
    run_both(lambda T, c, a, b: T.addmm(c, a, b, beta=0), [nan, arr(2, 3), arr(3, 4)])
    run_both(lambda T, c, a, b: c.addmm(a, b), [arr(2, 4), arr(2, 3), arr(3, 4)], grad=False)


def test_addmm_inplace():
    c, a, b = arr(2, 4), arr(2, 3), arr(3, 4)
    tc, jc = torch.tensor(c), jtorch.tensor(c)
    tc.addmm_(torch.tensor(a), torch.tensor(b), alpha=3)
    r = jc.addmm_(jtorch.tensor(a), jtorch.tensor(b), alpha=3)
    assert r is jc
    same(tc, jc)


def test_einsum_forms():
    a, b = arr(2, 2, 3), arr(3, 4)
    run_both(lambda T, x, y: T.einsum("bij,jk->bik", x, y), [a, b])
    run_both(lambda T, x, y: T.einsum("bij, jk", [x, y]), [a, b])
    run_both(lambda T, x, y: T.einsum(x, [0, 1, 2], y, [2, 3], [0, 1, 3]), [a, b])
    run_both(lambda T, x, y: T.einsum("...ij,...jk", x, y), [a, arr(1, 3, 4)])
    run_both(lambda T, x: T.einsum("ii->i", x), [arr(3, 3)])
    run_both(lambda T, x: T.einsum("ij->", x), [arr(3, 3)])
    run_both(lambda T, x, y: T.einsum("ij,jk->ik", x, y), [arr(2, 3), arr(1, 3)])  # broadcast


def test_tensordot_multidot_chain():
    run_both(lambda T, a, b: T.tensordot(a, b, dims=([1, 0], [0, 1])), [arr(2, 3, 4), arr(3, 2, 5)])
    run_both(lambda T, a, b: T.tensordot(a, b, 1), [arr(2, 3, 4), arr(4, 5)])
    run_both(lambda T, a, b: T.tensordot(a, b), [arr(2, 3, 4), arr(3, 4, 5)])
    run_both(lambda T, a, b, c: T.linalg.multi_dot([a, b, c]), [arr(3), arr(3, 4), arr(4)])
    run_both(lambda T, a, b, c: T.linalg.multi_dot([a, b, c]), [arr(2, 3), arr(3, 4), arr(4, 2)])
    a, b = arr(2, 3), arr(3, 3)
    expected = torch.tensor(a) @ torch.tensor(b)
    same(expected, jtorch.chain_matmul(jtorch.tensor(a), jtorch.tensor(b)))


def test_cross_trace_power():
    run_both(lambda T, a, b: T.linalg.cross(a, b), [arr(4, 3), arr(1, 3)])
    run_both(lambda T, a, b: T.cross(a, b, dim=0), [arr(3, 2), arr(3, 2)])
    run_both(lambda T, a: T.trace(a), [arr(3, 4)])
    run_both(lambda T, a: a.trace(), [RNG.integers(0, 5, (3, 3)).astype(np.int32)], grad=False)
    run_both(lambda T, a: T.matrix_power(a, 3), [arr(2, 3, 3)])
    run_both(lambda T, a: T.linalg.matrix_power(a, 0), [arr(3, 3)])
    a = arr(3, 3) + 3 * np.eye(3, dtype=np.float32)
    run_both(lambda T, x: T.linalg.matrix_power(x, -2), [a])


@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 3.0, math.inf])
def test_cdist(p):
    run_both(lambda T, a, b: T.cdist(a, b, p=p), [arr(2, 3, 4), arr(2, 5, 4)])


def test_cdist_zero_distance_grad():
    x = arr(3, 2)
    run_both(lambda T, a, b: T.cdist(a, b), [x, x.copy()])


ERRORS = [
    lambda T: T.matmul(T.ones(2, 3), T.ones(4, 5)),
    lambda T: T.matmul(T.tensor(1.0), T.ones(2, 2)),
    lambda T: T.matmul(T.ones(2, 3), T.ones(3, 4, dtype=T.float64)),
    lambda T: T.matmul(T.ones(3), T.ones(4)),
    lambda T: T.matmul(T.ones(3, 4), T.ones(5)),
    lambda T: T.matmul(T.ones(2, 3, 4), T.ones(3, 4, 6)),
    lambda T: T.matmul(T.ones(3, 4), T.ones(2, 5, 6)),
    lambda T: T.mm(T.ones(3), T.ones(3, 3)),
    lambda T: T.mm(T.ones(3, 3), T.ones(3)),
    lambda T: T.mm(T.ones(2, 2), T.ones(2, 2, dtype=T.int64)),
    lambda T: T.bmm(T.ones(3, 3), T.ones(3, 3, 3)),
    lambda T: T.bmm(T.ones(2, 3, 4), T.ones(2, 3, 3)),
    lambda T: T.mv(T.ones(2, 3), T.ones(4)),
    lambda T: T.dot(T.ones(2, 3), T.ones(3, 1)),
    lambda T: T.dot(T.ones(3), T.ones(3, dtype=T.float64)),
    lambda T: T.dot(T.ones(3), T.ones(4)),
    lambda T: T.inner(T.ones(3, 2), T.ones(3, 3)),
    lambda T: T.outer(T.ones(3, 2), T.ones(3)),
    lambda T: T.addmm(T.ones(4), T.ones(2, 3), T.ones(3, 3)),
    lambda T: T.einsum("ij,jk", T.ones(3, 2), T.ones(3, 2)),
    lambda T: T.einsum("ijk->ik", T.ones(2, 1)),
    lambda T: T.einsum("ij->ik", T.ones(2, 1)),
    lambda T: T.tensordot(T.ones(3, 2), T.ones(3, 2), 1),
    lambda T: T.linalg.multi_dot([T.ones(3)]),
    lambda T: T.linalg.cross(T.ones(3, 2), T.ones(3, 2)),
    lambda T: T.trace(T.ones(3)),
    lambda T: T.cdist(T.ones(2, 3), T.ones(2, 4)),
    lambda T: T.linalg.matrix_power(T.ones(2, 3), 2),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    raises_same(ERRORS[i])
