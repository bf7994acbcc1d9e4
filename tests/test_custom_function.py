"""jtorch.autograd.Function against torch: ctx API, node naming, saved tensors, dirty and
non-differentiable outputs, materialize_grads, once_differentiable, double backward, jit."""
import jax
import pytest
import torch

import jtorch
from _autograd_oracle import same


def x0(t):
    return t.tensor([1., 2., 3.], requires_grad=True)


def _fns(t):
    """The same Function classes written against torch or jtorch."""
    F = t.autograd.Function
    ns = {}

    class Scale(F):
        @staticmethod
        def forward(ctx, x, k, y):
            ctx.k = k
            ctx.save_for_backward(x, y)
            ctx.nig = ctx.needs_input_grad
            return x * k * y, k

        @staticmethod
        def backward(ctx, g, gk):
            ctx.gk_is_none = gk is None
            x, y = ctx.saved_tensors
            return g * ctx.k * y, None, g * x * ctx.k

    class TooMany(F):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    class BadShape(F):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.sum().reshape(1, 1)

    class Broadcast(F):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return g.reshape(1, 1) * t.tensor([[1., 1., 1.]])

    class Ident(F):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    class Dirty(F):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    class Saver(F):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * x

    class Cube(F):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 3 * x * x

    class CubeSetup(F):
        @staticmethod
        def forward(x):
            return x * x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 3 * x * x

    class NonDiff(F):
        @staticmethod
        def forward(ctx, x):
            a, b = x * 2, x * 3
            ctx.mark_non_differentiable(b)
            return a, b

        @staticmethod
        def backward(ctx, ga, gb):
            return ga + gb

    class NoMaterialize(F):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            assert gb is None
            return ga * 2

    class Once(F):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @t.autograd.function.once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2 * g * x

    class KwScale(F):
        @staticmethod
        def forward(ctx, x, scale=2.0):
            ctx.scale = scale
            return x * scale

        @staticmethod
        def backward(ctx, g):
            return g * ctx.scale, None

    class ViewOut(F):
        @staticmethod
        def forward(ctx, x):
            return x.view(3, 1)

        @staticmethod
        def backward(ctx, g):
            return g.view(3)

    ns.update({k: v for k, v in locals().items() if isinstance(v, type)})
    return ns


FN = {torch: _fns(torch), jtorch: _fns(jtorch)}


def fn(t, name):
    return FN[t][name]


def test_forward_backward_and_ctx():
    def f(t):
        x, y = x0(t), t.tensor([3., 4., 5.])
        o, k = fn(t, "Scale").apply(x, 2., y)
        r = (o.grad_fn.name(), len(o.grad_fn.next_functions), o.grad_fn.next_functions[1],
             k, o.grad_fn.k, o.output_nr, o.requires_grad, o.grad_fn.nig, o.is_leaf)
        o.sum().backward()
        return r, x.grad, o.grad_fn.gk_is_none
    same(f)


def test_grad_mode_inside_forward_and_backward():
    seen = {}

    class Probe(jtorch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            seen["fwd"] = jtorch.is_grad_enabled()
            return x * 2

        @staticmethod
        def backward(ctx, g):
            seen["bwd"] = jtorch.is_grad_enabled()
            return g * 2

    x = jtorch.tensor([1.], requires_grad=True)
    Probe.apply(x).sum().backward()
    assert seen == {"fwd": False, "bwd": False}
    jtorch.autograd.grad(Probe.apply(x).sum(), x, create_graph=True)
    assert seen["bwd"] is True


def test_errors():
    same(lambda t: fn(t, "TooMany").apply(x0(t)).sum().backward())
    same(lambda t: fn(t, "BadShape").apply(x0(t)).sum().backward())
    same(lambda t: fn(t, "Dirty").apply(x0(t)))

    def freed(t):
        o = fn(t, "Saver").apply(x0(t) * 1)
        node = o.grad_fn
        o.sum().backward()
        node.saved_tensors
    same(freed)

    def twice(t):
        x, y = x0(t), t.tensor([3., 4., 5.])
        o, _ = fn(t, "Scale").apply(x, 2., y)
        o.sum().backward()
        o.sum().backward()
    same(twice)

    def modified(t):
        z = x0(t) * 1
        o = fn(t, "Saver").apply(z)
        z.add_(1)
        o.sum().backward()
    same(modified)


def test_grad_sum_to_input_shape():
    def f(t):
        x = x0(t)
        fn(t, "Broadcast").apply(x).backward()
        return x.grad
    same(f)


def test_input_returned_and_dirty():
    def ident(t):
        x = x0(t)
        o = fn(t, "Ident").apply(x)
        r = (o is x, o.grad_fn.name(), o.is_leaf)
        o.sum().backward()
        return r, x.grad
    same(ident)

    def dirty(t):
        x = x0(t)
        z = x * 1
        o = fn(t, "Dirty").apply(z)
        r = (o is z, z.grad_fn.name(), z._version, z)
        o.sum().backward()
        return r, x.grad
    same(dirty)


def test_setup_context_style_and_kwargs():
    def f(t):
        x = x0(t)
        y = fn(t, "CubeSetup").apply(x)
        y.sum().backward()
        x2 = x0(t)
        fn(t, "KwScale").apply(x2, scale=5.0).sum().backward()
        x3 = x0(t)
        fn(t, "KwScale").apply(x3).sum().backward()
        return x.grad, y.grad_fn.name(), x2.grad, x3.grad
    same(f)


def test_non_differentiable_and_materialize():
    def f(t):
        x = x0(t)
        a, b = fn(t, "NonDiff").apply(x)
        r = (a.requires_grad, b.requires_grad, b.grad_fn is None)
        a.sum().backward()
        x2 = x0(t)
        a2, _ = fn(t, "NoMaterialize").apply(x2)
        a2.sum().backward()
        return r, x.grad, x2.grad
    same(f)


def test_no_grad_and_no_requires_grad():
    def f(t):
        x = x0(t)
        with t.no_grad():
            o = fn(t, "Cube").apply(x)
        o2 = fn(t, "Cube").apply(t.tensor([1., 2.]))
        return o.requires_grad, o.grad_fn is None, o2.requires_grad, o2
    same(f)


def test_double_backward_through_user_backward():
    def f(t):
        x = t.tensor([0.5, -1.0, 2.0], dtype=t.float64, requires_grad=True)
        y = fn(t, "Cube").apply(x).sum()
        g, = t.autograd.grad(y, x, create_graph=True)
        g2, = t.autograd.grad(g.sum(), x, create_graph=True)
        g3, = t.autograd.grad(g2.sum(), x)
        return g, g2, g3, g.grad_fn.name()
    same(f)


def test_once_differentiable():
    def f(t):
        x = x0(t)
        o = fn(t, "Once").apply(x)
        o.sum().backward()
        return x.grad
    same(f)
    # differentiating through it again raises (the grad input requires grad here)
    x = jtorch.tensor([1., 2.], requires_grad=True)
    o = fn(jtorch, "Once").apply(x)
    v = jtorch.tensor([1., 1.], requires_grad=True)
    g, = jtorch.autograd.grad(o, x, v, create_graph=True)
    assert g.grad_fn.name() == "torch::autograd::DelayedError"
    with pytest.raises(RuntimeError, match="trying to differentiate twice a function that was "
                                           "marked with @once_differentiable"):
        g.sum().backward()


def test_view_output_and_node_type():
    def f(t):
        x = x0(t)
        o = fn(t, "ViewOut").apply(x)
        (o * o).sum().backward()
        return x.grad, tuple(o.shape), type(o.grad_fn).__name__
    same(f)
    o = fn(jtorch, "Saver").apply(x0(jtorch))
    assert isinstance(o.grad_fn, jtorch.autograd.graph.Node)
    assert "SaverBackward" in repr(o.grad_fn)


def test_gradcheck_custom_function():
    x = jtorch.tensor([0.5, -1.0, 2.0], dtype=jtorch.float64, requires_grad=True)
    assert jtorch.autograd.gradcheck(fn(jtorch, "Cube").apply, (x,))
    assert jtorch.autograd.gradgradcheck(fn(jtorch, "Cube").apply, (x,))


def test_under_jit():
    """The node closes over tensors only: the same Function runs on tracers."""
    Cube = fn(jtorch, "Cube")

    def step(arr):
        x = jtorch._tensor.wrap(arr).requires_grad_()
        Cube.apply(x).sum().backward()
        return x.grad._value

    out = jax.jit(step)(jax.numpy.asarray([1., 2., 3.]))
    assert out.tolist() == [3., 12., 27.]
