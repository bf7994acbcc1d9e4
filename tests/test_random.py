"""Random sampling: torch's API, determinism, distributions, dtypes and errors.

The streams differ from torch's (JAX threefry keys, not Mersenne Twister/Philox), so
values are checked statistically; shapes, dtypes, autograd nodes and errors exactly.
"""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jtorch
from jtorch import _random

N = 20000


def _meta(lib, expr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            r = eval(expr, {"torch": lib, "np": np, "N": N})
        except Exception as e:  # noqa: BLE001 - the exception is the result
            return f"{type(e).__name__}: {e}"
    if isinstance(r, lib.Tensor):
        gf = r.grad_fn
        name = None if gf is None else (type(gf).__name__ if lib is torch else gf.name())
        return (str(r.dtype), tuple(r.shape), name, r.requires_grad)
    return type(r).__name__


def _check(exprs):
    for expr in exprs.strip().split("\n"):
        expr = expr.strip()
        assert _meta(jtorch, expr) == _meta(torch, expr), expr


def test_shapes_dtypes_nodes_and_errors_match_torch():
    _check("""
        torch.rand(3)
        torch.rand((3,), dtype=torch.float64)
        torch.rand(size=(3,))
        torch.rand(3, dtype=torch.int64)
        torch.rand(3, dtype=torch.bool)
        torch.rand(3, dtype=torch.complex64)
        torch.rand(-1)
        torch.randn(3, requires_grad=True)
        torch.randn(3, dtype=torch.int64)
        torch.randint(10, (3,))
        torch.randint(low=2, high=5, size=(3,))
        torch.randint(high=5, size=(3,))
        torch.randint(5, 5, (3,))
        torch.randint(5, (3,), dtype=torch.float32)
        torch.randint(3, 5)
        torch.randint(0, 300, (3,), dtype=torch.uint8)
        torch.randint(-1, 3, (3,), dtype=torch.uint8)
        torch.randperm(3)
        torch.randperm(-1)
        torch.rand_like(torch.ones(3, dtype=torch.float64))
        torch.rand_like(torch.ones(3, dtype=torch.int64))
        torch.randn_like(torch.ones(3))
        torch.randint_like(torch.zeros(3), 5)
        torch.randint_like(torch.ones(3), 3, 9)
        torch.normal(torch.zeros(3), torch.ones(3, dtype=torch.float64))
        torch.normal(torch.zeros(3, dtype=torch.float64), torch.ones(3))
        torch.normal(torch.zeros(3), 1.)
        torch.normal(0., torch.ones(3))
        torch.normal(torch.zeros(2, 1), torch.ones(3))
        torch.normal(torch.zeros(2), torch.ones(3))
        torch.normal(torch.zeros(2, dtype=torch.int64), torch.ones(2))
        torch.normal(0., 1., (3,))
        torch.normal(0., -1., (2, 3))
        torch.normal(torch.zeros(2), -torch.ones(2))
        torch.normal(2, 3, size=(3,))
        torch.normal(mean=torch.zeros(3), std=torch.ones(3))
        torch.normal(torch.zeros(3, requires_grad=True), torch.ones(3, requires_grad=True))
        torch.normal(1., 2.)
        torch.bernoulli(torch.full((N,), 0.3, requires_grad=True))
        torch.bernoulli(torch.full((3,), 1.5))
        torch.bernoulli(torch.full((3,), 0.5), p=0.3)
        torch.bernoulli(torch.ones(2, dtype=torch.int64))
        torch.ones(3).bernoulli()
        torch.zeros(3).bernoulli_(torch.full((3,), 0.5))
        torch.zeros(3).bernoulli_(1.5)
        torch.zeros(3).uniform_(1, 0)
        torch.zeros(3).uniform_(1.5, 0.5)
        torch.zeros(3, dtype=torch.int64).uniform_()
        torch.zeros(3).exponential_(0)
        torch.zeros(3).exponential_(-1)
        torch.zeros(3, dtype=torch.int64).exponential_()
        torch.zeros(3).geometric_(0)
        torch.zeros(3, dtype=torch.int64).geometric_(0.5)
        torch.zeros(3).log_normal_(1, 0)
        torch.zeros(2, dtype=torch.int64).log_normal_()
        torch.zeros(3).cauchy_(0, 0)
        torch.zeros(2, dtype=torch.int64).cauchy_()
        torch.zeros(3).normal_(0, -1)
        torch.zeros(3, dtype=torch.int64).normal_()
        torch.zeros(3).random_(5, 2)
        torch.zeros(3).random_(-1)
        torch.zeros(3, dtype=torch.uint8).random_(0, 300)
        torch.zeros(3).random_(2**70)
        torch.multinomial(torch.tensor([1., 2.]), 3)
        torch.multinomial(torch.tensor([1., 0., 1.]), 2)
        torch.multinomial(torch.tensor([1., -1.]), 1)
        torch.multinomial(torch.tensor([0., 0.]), 1)
        torch.multinomial(torch.tensor([[1., 2., 3.]]), 2, True)
        torch.multinomial(torch.tensor(1.), 1)
        torch.multinomial(torch.ones(2, 2, 2), 1)
        torch.multinomial(torch.ones(2, dtype=torch.int64), 1)
        torch.multinomial(torch.ones(3), 0)
        torch.poisson(torch.full((N,), 3., requires_grad=True))
        torch.poisson(-torch.ones(3))
        torch.zeros(3, requires_grad=True).uniform_()
        (torch.zeros(3, requires_grad=True) * 2).uniform_()
        (torch.zeros(3, requires_grad=True) * 2).normal_()
        (torch.zeros(3, requires_grad=True) * 2).random_()
        (torch.zeros(3, requires_grad=True) * 2).bernoulli_()
        (torch.zeros(3, requires_grad=True) * 2).exponential_()
        torch.manual_seed(2**64)
        torch.manual_seed(-2**63 - 1)
        torch.Generator().set_state(torch.zeros(3))
        torch.Generator().set_state([1, 2])
    """)


def test_seeding_is_deterministic():
    jtorch.manual_seed(123)
    a = [jtorch.rand(5), jtorch.randn(3), jtorch.randint(0, 100, (4,)), jtorch.randperm(6)]
    jtorch.manual_seed(123)
    b = [jtorch.rand(5), jtorch.randn(3), jtorch.randint(0, 100, (4,)), jtorch.randperm(6)]
    for x, y in zip(a, b):
        assert x.tolist() == y.tolist()
    assert jtorch.rand(5).tolist() != a[0].tolist()
    assert jtorch.initial_seed() == 123
    assert jtorch.manual_seed(-1).initial_seed() == 2**64 - 1
    assert jtorch.manual_seed(1.5).initial_seed() == 1
    s = jtorch.seed()
    assert isinstance(s, int) and jtorch.initial_seed() == s


def test_generators_are_independent_and_restorable():
    g1, g2 = jtorch.Generator().manual_seed(7), jtorch.Generator().manual_seed(7)
    jtorch.rand(3)   # the default generator does not disturb g1/g2
    x = jtorch.rand(4, generator=g1)
    assert x.tolist() == jtorch.rand(4, generator=g2).tolist()
    state = g1.get_state()
    assert state.dtype == jtorch.uint8 and state.ndim == 1
    y = jtorch.randn(3, generator=g1)
    g1.set_state(state)
    assert jtorch.randn(3, generator=g1).tolist() == y.tolist()
    assert g1.initial_seed() == 7 and g1.device == jtorch.device("cpu")
    st = jtorch.get_rng_state()
    z = jtorch.rand(2)
    jtorch.set_rng_state(st)
    assert jtorch.rand(2).tolist() == z.tolist()
    import jtorch.random as jrandom
    with jrandom.fork_rng():
        w = jtorch.rand(2)
    assert jtorch.rand(2).tolist() == w.tolist()
    assert jtorch.default_generator is _random.default_generator


def test_continuous_distributions():
    jtorch.manual_seed(0)
    u = jtorch.rand(N).numpy()
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    z = jtorch.randn(N, dtype=jtorch.float64).numpy()
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    c = jtorch.randn(N, dtype=jtorch.complex64).numpy()
    assert abs(c.real.var() - 0.5) < 0.03 and abs(c.imag.var() - 0.5) < 0.03
    n = jtorch.normal(2., 3., (N,)).numpy()
    assert abs(n.mean() - 2) < 0.1 and abs(n.std() - 3) < 0.1
    m = jtorch.normal(jtorch.full((N,), -1.), jtorch.full((N,), 0.5)).numpy()
    assert abs(m.mean() + 1) < 0.02 and abs(m.std() - 0.5) < 0.02
    t = jtorch.empty(N)
    assert t.uniform_(-2, 3) is t
    t = t.numpy()
    assert t.min() >= -2 and t.max() < 3 and abs(t.mean() - 0.5) < 0.05
    e = jtorch.empty(N).exponential_(4.).numpy()
    assert e.min() >= 0 and abs(e.mean() - 0.25) < 0.01
    ln = jtorch.empty(N).log_normal_(0.5, 0.25).numpy()
    assert abs(np.log(ln).mean() - 0.5) < 0.01 and abs(np.log(ln).std() - 0.25) < 0.01
    ca = jtorch.empty(N).cauchy_(1., 2.).numpy()
    assert abs(np.median(ca) - 1) < 0.1
    nn = jtorch.empty(N, dtype=jtorch.float64).normal_(5, 2).numpy()
    assert abs(nn.mean() - 5) < 0.06 and abs(nn.std() - 2) < 0.06
    h = jtorch.rand(10, dtype=jtorch.bfloat16)
    assert h.dtype == jtorch.bfloat16


def test_discrete_distributions():
    jtorch.manual_seed(1)
    r = jtorch.randint(3, 10, (N,)).numpy()
    assert r.min() == 3 and r.max() == 9
    p = jtorch.randperm(50).numpy()
    assert sorted(p.tolist()) == list(range(50))
    b = jtorch.bernoulli(jtorch.full((N,), 0.3)).numpy()
    assert set(np.unique(b)) <= {0., 1.} and abs(b.mean() - 0.3) < 0.015
    b2 = jtorch.zeros(N, dtype=jtorch.int64).bernoulli_(0.8).numpy()
    assert abs(b2.mean() - 0.8) < 0.015
    g = jtorch.empty(N).geometric_(0.25).numpy()
    assert g.min() >= 1 and abs(g.mean() - 4) < 0.15
    po = jtorch.poisson(jtorch.full((N,), 3.)).numpy()
    assert abs(po.mean() - 3) < 0.06 and np.all(po == np.round(po))
    w = jtorch.tensor([1., 0., 3.])
    s = jtorch.multinomial(w, N, replacement=True).numpy()
    assert abs((s == 2).mean() - 0.75) < 0.015 and not (s == 1).any()
    s2 = jtorch.multinomial(jtorch.ones(4, 6), 6).numpy()
    assert all(sorted(row) == list(range(6)) for row in s2.tolist())
    for dt, lo, hi in [(jtorch.uint8, 0, 255), (jtorch.bool, 0, 1)]:
        v = jtorch.zeros(2000, dtype=dt).random_().numpy().astype(np.int64)
        assert v.min() >= lo and v.max() <= hi and v.max() > hi // 2
    f = jtorch.zeros(2000).random_().numpy()
    assert f.min() >= 0 and f.max() <= 2**24 and np.all(f == np.round(f))
    v = jtorch.zeros(2000).random_(-3, 4).numpy()
    assert v.min() == -3 and v.max() == 3


def test_inplace_samplers_semantics():
    base = jtorch.zeros(4, 3)
    base[1].uniform_(5, 6)
    vals = base.numpy()
    assert np.all(vals[1] >= 5) and np.all(vals[[0, 2, 3]] == 0)
    assert base._version == 1
    x = jtorch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.normal_()
    with jtorch.no_grad():
        x.normal_()
    # a sampled value carries no gradient to what it overwrote
    y = x * 2
    y.uniform_()
    (y.sum() + x.sum()).backward()
    assert x.grad.tolist() == [1., 1., 1.]


def test_sampler_gradients_are_zero_like_torch():
    """torch gives normal/bernoulli/poisson zero derivatives w.r.t. their parameters."""
    grads = []
    for lib in (torch, jtorch):
        mean = lib.tensor([0.5, -1.], requires_grad=True)
        std = lib.tensor([2., 0.5], requires_grad=True)
        p = lib.tensor([0.2, 0.7], requires_grad=True)
        out = lib.normal(mean, std) + lib.bernoulli(p) + lib.poisson(p)
        out.sum().backward()
        grads.append([mean.grad.tolist(), std.grad.tolist(), p.grad.tolist()])
    assert grads[0] == grads[1]


def test_works_inside_jit_with_traced_key():
    g = jtorch.Generator().manual_seed(3)

    def f(key):
        g._key = key
        return jtorch.rand(3, generator=g)._value + jtorch.randn(3, generator=g)._value

    k = jnp.asarray(_random._key_for(3))
    out = jax.jit(f)(k)
    g.manual_seed(3)
    expected = jtorch.rand(3, generator=g)._value + jtorch.randn(3, generator=g)._value
    np.testing.assert_allclose(np.asarray(out), np.asarray(expected), rtol=1e-6)
