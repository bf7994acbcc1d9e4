"""A custom autograd.Function under function transforms: torch.func on torch against
jtorch.func on jtorch, on the same Functions. Several backward/jvp rules are deliberately
not the true derivative, so agreeing with torch proves the user's rule was used (and not
JAX differentiating the forward's code). Also: raw JAX transforms over jtorch code, and
the tape path under jax.jit."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from _autograd_oracle import same
from jtorch.interop import from_jax_array, to_jax_array

_CACHE = {}


def fns(t):
    """The same Function classes written against torch or jtorch (one set per module)."""
    if t in _CACHE:
        return _CACHE[t]
    F = t.autograd.Function
    log = []

    class Twice(F):
        """Identity whose backward doubles: the true derivative would be 1."""
        @staticmethod
        def forward(x):
            return x.clone()

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    class Scale(F):
        """x * k * y with a static k kept as a ctx attribute; backward is off by 10 on x
        and gives no gradient for y."""
        @staticmethod
        def forward(x, k, y):
            return x * k * y

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, k, y = inputs
            ctx.k = k
            ctx.save_for_backward(x, y)
            log.append(("needs", tuple(ctx.needs_input_grad)))

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return 10 * g * ctx.k * y, None, None

    class Split(F):
        """Two tensor outputs and a Python one; the second output is marked
        non-differentiable; missing grads arrive as None."""
        @staticmethod
        def forward(x):
            return x * 2, x + 1, 7

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.set_materialize_grads(False)
            ctx.mark_non_differentiable(output[1])
            ctx.x = inputs[0]          # a tensor kept as a plain attribute

        @staticmethod
        def backward(ctx, ga, gb, gc):
            log.append(("split", ga is None, gb is None, gc is None))
            return ga * 3 + ctx.x

    class Cube(F):
        """x ** 3 with backward 3 x^2 g (true) and a jvp that is deliberately 5 x t."""
        generate_vmap_rule = True

        @staticmethod
        def forward(x):
            return x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])
            ctx.save_for_forward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x * x * g

        @staticmethod
        def jvp(ctx, t):
            x, = ctx.saved_tensors
            return 5 * x * t

    class Sq(F):
        """x * x with backward 3 x g (not 2 x g), batched by generate_vmap_rule."""
        generate_vmap_rule = True

        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * g * x

    class SqVjp(Sq):
        """The same through the `vjp` alias."""
        backward = F.backward

        @staticmethod
        def vjp(ctx, g):
            x, = ctx.saved_tensors
            return 4 * g * x

    class Old(F):
        """ctx-first style (no setup_context): torch.func refuses it."""
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * g * x

    class Once(F):
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        @t.autograd.function.once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * g * x

    class Pair(F):
        """Two tensor inputs, a static float, two outputs; jvp off by 7 on the first."""
        generate_vmap_rule = True

        @staticmethod
        def forward(x, y, k):
            return x * y * k, x + y

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, y, k = inputs
            ctx.save_for_forward(x, y)
            ctx.k = k

        @staticmethod
        def jvp(ctx, tx, ty, tk):
            x, y = ctx.saved_tensors
            return 7 * (tx * y + x * ty), tx - ty

        @staticmethod
        def backward(ctx, a, b):
            return a, b, None

    class Gather(F):
        """An integer index input and an integer output; backward off by 10."""
        @staticmethod
        def forward(x, idx, n):
            return x[idx] * n, idx + 1

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, idx, n = inputs
            ctx.save_for_backward(idx)
            ctx.n, ctx.shape = n, x.shape

        @staticmethod
        def backward(ctx, g, gi):
            idx, = ctx.saved_tensors
            out = t.zeros(ctx.shape, dtype=g.dtype)
            return out.index_add(0, idx, g * ctx.n * 10), None, None

    class CSq(F):
        """z * z on complex values, backward 3 g conj(z) (torch's convention)."""
        @staticmethod
        def forward(z):
            return z * z

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            z, = ctx.saved_tensors
            return g * 3 * z.conj()

    class OwnVmap(F):
        """A hand-written vmap rule (deliberately off by +-100) and a backward off by 3."""
        @staticmethod
        def forward(x, k):
            return x * k, x.sum()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g, gs):
            return g * ctx.k * 3 + gs, None

        @staticmethod
        def vmap(info, in_dims, x, k):
            log.append(("vmap", info.batch_size, info.randomness, in_dims))
            x = x.movedim(in_dims[0], 0)
            a, _ = OwnVmap.apply(x, k)
            return (a + 100, x.sum(1) - 100), (0, 0)

    ns = dict(locals())
    _CACHE[t] = ns
    return ns


def x3(t):
    return t.tensor([1., 2., 3.])


def X(t):
    return t.tensor([[1., 2., 3.], [-1., 0.5, 2.]])


# ------------------------------------------------------------------------------ reverse mode

def test_grad_uses_custom_backward():
    same(lambda t: t.func.grad(lambda x: fns(t)["Twice"].apply(x).sum())(x3(t)))
    same(lambda t: t.func.grad(lambda x: (fns(t)["Twice"].apply(x) * x).sum())(x3(t)))


def test_grad_multiple_inputs_static_arg_and_none_grad():
    def f(t):
        log = fns(t)["log"]
        log.clear()
        S = fns(t)["Scale"]
        y = t.tensor([2., -1., 0.5])
        g = t.func.grad(lambda x, y: S.apply(x, 3, y).sum(), argnums=(0, 1))(x3(t), y)
        g0 = t.func.grad(lambda x, y: S.apply(x, 3, y).sum())(x3(t), y)
        # torch.func also runs setup_context once at the outer (non-differentiating)
        # level; compare the differentiating calls
        return g, g0, [e for e in log if any(e[1])]
    same(f)


def test_vjp_tuple_outputs_nondifferentiable_and_unmaterialized():
    def f(t):
        log = fns(t)["log"]
        log.clear()
        Sp = fns(t)["Split"]
        out, fn = t.func.vjp(lambda x: Sp.apply(x)[:2], x3(t))
        ct = (t.tensor([1., 1., 2.]), t.tensor([5., 5., 5.]))
        g = fn(ct)
        g1 = t.func.grad(lambda x: Sp.apply(x)[0].sum())(x3(t))
        g2 = t.func.grad(lambda x: (Sp.apply(x)[0] * Sp.apply(x)[1]).sum())(x3(t))
        return out, g, g1, g2, list(log)
    same(f)


def test_jacrev_and_vmap_of_grad():
    same(lambda t: t.func.jacrev(fns(t)["Sq"].apply)(x3(t)))
    same(lambda t: t.func.jacrev(fns(t)["Twice"].apply)(x3(t)))
    same(lambda t: t.func.vmap(t.func.grad(lambda x: fns(t)["Sq"].apply(x).sum()))(X(t)))
    same(lambda t: t.func.grad(lambda x: t.func.vmap(fns(t)["Sq"].apply)(x).sum())(X(t)))


def test_double_backward_through_user_backward():
    """grad of grad differentiates the user's backward code (3 g x -> 3)."""
    same(lambda t: t.func.grad(lambda x: t.func.grad(
        lambda y: fns(t)["Sq"].apply(y).sum())(x).sum())(x3(t)))
    same(lambda t: t.func.grad(lambda x: t.func.grad(
        lambda y: fns(t)["Once"].apply(y).sum())(x).sum())(x3(t)))
    same(lambda t: t.func.grad(lambda x: fns(t)["Once"].apply(x).sum())(x3(t)))


def test_outer_tape_through_transform():
    """An input requiring grad outside, and a captured leaf, reach the tape through the
    transform; the second derivative goes through the user's backward."""
    def f(t):
        Sq = fns(t)["Sq"]
        x = x3(t).requires_grad_()
        w = t.tensor([1., 2., -1.], requires_grad=True)
        g = t.func.grad(lambda x: Sq.apply(x * w).sum())(x)
        (g * t.tensor([1., 2., 3.])).sum().backward()
        return g, x.grad, w.grad
    same(f)


def test_integer_and_complex_values():
    def f(t):
        G = fns(t)["Gather"]
        idx = t.tensor([0, 2, 2])
        x = x3(t)
        return (t.func.grad(lambda x: G.apply(x, idx, 2)[0].sum())(x),
                t.func.jacrev(lambda x: G.apply(x, idx, 2)[0])(x),
                t.func.grad(lambda x, k: G.apply(x, idx, k)[0].sum())(x, 3.0))
    same(f)

    def c(t):
        C = fns(t)["CSq"]
        z = t.tensor([1 + 2j, 3 - 1j])
        _, fn = t.func.vjp(C.apply, z)
        g = fn(t.tensor([1 + 1j, 2 + 0j]))[0]
        h = t.func.grad(lambda z: C.apply(z).abs().sum())(z)
        return t.view_as_real(g), t.view_as_real(h)
    same(c)


# ------------------------------------------------------------------------------ vmap

def test_vmap_needs_a_rule():
    same(lambda t: t.func.vmap(fns(t)["Sq"].apply)(X(t)))
    same(lambda t: t.func.vmap(fns(t)["Twice"].apply)(X(t)))          # no rule: error
    same(lambda t: t.func.vmap(fns(t)["Old"].apply)(X(t)))            # no setup_context
    same(lambda t: t.func.grad(lambda x: fns(t)["Old"].apply(x).sum())(x3(t)))
    same(lambda t: t.func.vmap(fns(t)["Sq"].apply, in_dims=1)(X(t)))


def test_vmap_staticmethod():
    def f(t):
        V, log = fns(t)["OwnVmap"], fns(t)["log"]
        log.clear()
        a = t.func.vmap(lambda x: V.apply(x, 2.0))(X(t))
        b = t.func.vmap(lambda x: V.apply(x, 2.0), in_dims=1, randomness="same")(X(t).T)
        g = t.func.grad(lambda x: t.func.vmap(lambda x: V.apply(x, 2.0)[0])(x).sum())(X(t))
        return a, b, g, list(log)
    same(f)
    # vmap over grad: torch batches the forward with the rule, JAX batches the custom
    # rule generically; the values agree
    same(lambda t: t.func.vmap(t.func.grad(lambda x: fns(t)["OwnVmap"].apply(x, 2.0)[1]))(
        X(t)))


# ------------------------------------------------------------------------------ forward mode

def test_jvp_uses_custom_jvp():
    ones = lambda t: t.tensor([1., -1., 2.])  # noqa: E731
    same(lambda t: t.func.jvp(fns(t)["Cube"].apply, (x3(t),), (ones(t),)))
    same(lambda t: t.func.jacfwd(fns(t)["Cube"].apply)(x3(t)))
    same(lambda t: t.func.jvp(fns(t)["Sq"].apply, (x3(t),), (ones(t),)))     # no jvp: error
    same(lambda t: t.func.jacfwd(fns(t)["Twice"].apply)(x3(t)))              # no vmap rule
    # forward over reverse differentiates the user's backward; torch wants jvp defined
    same(lambda t: t.func.hessian(lambda x: fns(t)["Cube"].apply(x).sum())(x3(t)))
    same(lambda t: t.func.hessian(lambda x: fns(t)["Sq"].apply(x).sum())(x3(t)))
    # reverse over forward differentiates the user's jvp
    same(lambda t: t.func.jacrev(t.func.jacfwd(
        lambda x: fns(t)["Cube"].apply(x).sum()))(x3(t)))
    same(lambda t: t.func.jvp(t.func.grad(lambda x: fns(t)["Cube"].apply(x).sum()),
                              (x3(t),), (ones(t),)))


def test_jvp_multiple_inputs_and_outputs():
    def f(t):
        P = fns(t)["Pair"]
        x, y = t.tensor([1., 2.]), t.tensor([3., -1.])
        return (t.func.jvp(lambda x, y: P.apply(x, y, 2.0), (x, y),
                           (t.ones(2), t.tensor([0.5, 2.]))),
                t.func.jacfwd(lambda x, y: P.apply(x, y, 2.0), argnums=(0, 1))(x, y),
                t.func.jvp(lambda x: P.apply(x, y, 2.0), (x,), (t.ones(2),)))
    same(f)


# ------------------------------------------------------------------------------ raw JAX

def _jfn(name, reduce=True):
    F = fns(jtorch)[name]

    def f(a):
        out = F.apply(from_jax_array(a))
        return to_jax_array(out.sum() if reduce else out)
    return f


def test_raw_jax_transforms_use_custom_rules():
    a = jnp.asarray([1., 2., 3.])
    np.testing.assert_allclose(jax.grad(_jfn("Twice"))(a), [2., 2., 2.])
    np.testing.assert_allclose(jax.grad(_jfn("Sq"))(a), [3., 6., 9.])
    np.testing.assert_allclose(jax.jacrev(_jfn("Sq", False))(a), np.diag([3., 6., 9.]))
    out, fn = jax.vjp(_jfn("Sq", False), a)
    np.testing.assert_allclose(fn(jnp.ones(3))[0], [3., 6., 9.])
    # ctx-first style is fine outside torch.func
    np.testing.assert_allclose(jax.grad(_jfn("Old"))(a), [3., 6., 9.])
    # forward mode takes the user's jvp; fwd-over-rev differentiates the backward
    _, tan = jax.jvp(_jfn("Cube", False), (a,), (jnp.ones(3),))
    np.testing.assert_allclose(tan, [5., 10., 15.])
    np.testing.assert_allclose(jax.hessian(_jfn("Cube"))(a), np.diag([6., 12., 18.]))
    np.testing.assert_allclose(jax.jit(jax.grad(_jfn("Sq")))(a), [3., 6., 9.])
    np.testing.assert_allclose(jax.vmap(jax.grad(_jfn("Sq")))(jnp.ones((2, 3))),
                               np.full((2, 3), 3.))
    with pytest.raises(NotImplementedError, match="must implement the jvp function"):
        jax.jvp(_jfn("Sq"), (a,), (jnp.ones(3),))
    # once_differentiable: zero second derivative, as under torch.func
    np.testing.assert_allclose(jax.grad(lambda a: jax.grad(_jfn("Once"))(a).sum())(a),
                               [0., 0., 0.])
    np.testing.assert_allclose(jax.grad(lambda a: jax.grad(_jfn("Sq"))(a).sum())(a),
                               [3., 3., 3.])


def test_vjp_alias():
    """`vjp` instead of `backward`: honoured by the tape and by JAX transforms (torch.func
    itself only calls `backward` and raises for such a Function; jtorch.func follows
    the alias like the eager tape)."""
    SqVjp = fns(jtorch)["SqVjp"]
    x = x3(jtorch).requires_grad_()
    SqVjp.apply(x).sum().backward()
    assert x.grad.tolist() == [4., 8., 12.]
    np.testing.assert_allclose(jax.grad(_jfn("SqVjp"))(jnp.asarray([1., 2., 3.])),
                               [4., 8., 12.])
    g = jtorch.func.grad(lambda x: SqVjp.apply(x).sum())(x3(jtorch))
    assert g.tolist() == [4., 8., 12.]


def test_jit_tape_honours_custom_backward():
    """Under jax.jit alone the tape runs on tracers (jtorch.compile's training step)."""
    Twice = fns(jtorch)["Twice"]

    def step(arr):
        x = from_jax_array(arr).requires_grad_()
        (Twice.apply(x) * 3).sum().backward()
        return to_jax_array(x.grad)

    out = jax.jit(step)(jnp.asarray([1., 2., 3.]))
    assert out.tolist() == [6., 6., 6.]


def test_eager_tape_unchanged():
    def f(t):
        x = x3(t).requires_grad_()
        y = fns(t)["Scale"].apply(x, 2, t.tensor([1., 2., 3.]))
        y.sum().backward()
        return x.grad, y.grad_fn.k
    same(f)
