"""Autograd engine semantics against torch: backward/grad, accumulation, graph structure,
hooks, grad modes, errors, higher-order derivatives, functional API, gradcheck, anomaly."""
import warnings

import numpy as np
import pytest
import torch

import jtorch
from _autograd_oracle import same


def x0(t):
    return t.tensor([1., 2., 3.], requires_grad=True)


# ------------------------------------------------------------------ backward / grad basics

def test_backward_accumulates_in_place():
    def f(t):
        x = x0(t)
        (x * x).sum().backward()
        g0 = x.grad
        (x * x).sum().backward()
        return g0 is x.grad, x.grad
    same(f)


def test_backward_gradient_and_inputs():
    same(lambda t: (lambda x: ((x * 2).backward(t.tensor([1., 0., 2.])), x.grad)[1])(x0(t)))

    def inputs(t):
        x, z = x0(t), x0(t)
        (x * z).sum().backward(inputs=[x])
        return x.grad, z.grad is None
    same(inputs)

    def nonleaf_inputs(t):
        x = x0(t)
        y = x * 3
        (y * y).sum().backward(inputs=[y])
        return y.grad, x.grad is None
    same(nonleaf_inputs)

    def functional_backward(t):
        x = x0(t)
        t.autograd.backward([(x * x).sum()], [t.tensor(2.)])
        return x.grad
    same(functional_backward)


def test_backward_errors():
    same(lambda t: (x0(t) * 1).backward())
    same(lambda t: t.tensor([1., 2.]).sum().backward())
    same(lambda t: (x0(t) * 2).backward(t.tensor([1., 0.])))
    same(lambda t: (x0(t) * 2).backward(inputs=[]))
    same(lambda t: t.autograd.grad(x0(t) * x0(t), x0(t)))
    same(lambda t: t.tensor([1, 2]).requires_grad_())

    def not_used(t):
        x, z = x0(t), x0(t)
        t.autograd.grad((x * 2).sum(), [x, z])
    same(not_used)


def test_second_backward_only_errors_when_tensors_were_saved():
    def twice(op):
        def f(t):
            x = x0(t)
            y = op(x)
            y.sum().backward()
            y.sum().backward()
            return x.grad
        return f
    same(twice(lambda x: x + 1))          # AddBackward0 saves nothing
    same(twice(lambda x: x * x))          # MulBackward0 saves its inputs
    same(twice(lambda x: x.tanh()))       # saves its result

    def retained(t):
        x = x0(t)
        y = x.tanh()
        y.sum().backward(retain_graph=True)
        y.sum().backward()
        return x.grad
    same(retained)


def test_grad_allow_unused_and_materialize():
    def f(t):
        x, z = x0(t), x0(t)
        y = (x * 2).sum()
        a = t.autograd.grad(y, [x, z], allow_unused=True, retain_graph=True)
        b = t.autograd.grad(y, [x, z], materialize_grads=True)
        return a[0], a[1] is None, b[1]
    same(f)


def test_grad_does_not_touch_dot_grad():
    def f(t):
        x = x0(t)
        g, = t.autograd.grad((x * x).sum(), x)
        return g, x.grad is None, g.requires_grad, g.grad_fn is None
    same(f)


def test_grad_outputs():
    same(lambda t: t.autograd.grad((x0(t) * 2).sum(), x0(t)))  # a different leaf: unused

    def f(t):
        x = x0(t)
        return t.autograd.grad((x * 2).sum(), x, grad_outputs=t.tensor(3.))[0]
    same(f)

    def shared_node_roots(t):
        x = x0(t)
        y = x * x
        a, b = y * 2, y * 3
        return t.autograd.grad([a.sum(), b.sum()], x)[0]
    same(shared_node_roots)


# ------------------------------------------------------------------ higher order

@pytest.mark.parametrize("fn", ["cube", "tanh", "matmul"])
def test_higher_order(fn):
    def f(t):
        x = t.tensor([0.5, -1.0, 2.0], dtype=t.float64, requires_grad=True)
        w = t.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], dtype=t.float64)
        y = {"cube": lambda: (x * x * x).sum(),
             "tanh": lambda: x.tanh().sum(),
             "matmul": lambda: (w.matmul(x).tanh() * w.matmul(x)).sum()}[fn]()
        g, = t.autograd.grad(y, x, create_graph=True)
        g2, = t.autograd.grad(g.sum(), x, create_graph=True)
        g3, = t.autograd.grad(g2.sum(), x)
        return g, g2, g3, g.requires_grad, g3.requires_grad
    same(f)


def test_backward_create_graph_then_backward_of_grad():
    def f(t):
        x = t.tensor(2., requires_grad=True)
        (x * x * x).backward(create_graph=True)
        g = x.grad
        x.grad = None
        g.backward()
        return g, x.grad
    same(f)


# ------------------------------------------------------------------ graph structure

def _walk(n):
    return [n.name(), *[None if m is None else (_walk(m), i) for m, i in n.next_functions]]


def test_grad_fn_names_and_next_functions():
    def f(t):
        x = x0(t)
        y = x * 2
        z = (y + x).tanh().exp().sum()
        return (y.is_leaf, x.is_leaf, y.grad_fn.name(), z.grad_fn.name(),
                y.grad_fn.next_functions[0][0].name(), x.grad_fn is None,
                (y - x).grad_fn.name(), (-x).grad_fn.name())
    same(f)

    def tree(t):
        x = x0(t)
        return _walk(((x * x).tanh() * x.exp()).sum().grad_fn)
    same(tree)


def test_node_call_and_metadata():
    x = jtorch.tensor([1., 2.], requires_grad=True)
    y = x * 3
    g = y.grad_fn(jtorch.tensor([1., 1.]))
    g = g[0] if isinstance(g, tuple) else g
    assert g.tolist() == [3., 3.]
    assert y.grad_fn.metadata == {} and isinstance(y.grad_fn, jtorch.autograd.graph.Node)


def test_requires_grad_detach_leaf_flags():
    def f(t):
        x = x0(t)
        y = x * 2
        d = y.detach()
        y2 = x * 2
        y2.detach_()
        return (d.requires_grad, d.is_leaf, d.grad_fn is None, y2.requires_grad, y2.is_leaf,
                x.detach().requires_grad_().requires_grad)
    same(f)
    same(lambda t: (x0(t) * 2).requires_grad_(False))

    def detach_shares(t):
        x = x0(t)
        d = x.detach()
        d.add_(1)
        return x, x._version, d._version
    same(detach_shares)


def test_retain_grad():
    def f(t):
        x = x0(t)
        y = x * 3
        y.retain_grad()
        z = (y * y).sum()
        z.backward(retain_graph=True)
        g1 = y.grad
        z.backward()
        return g1, y.grad, y.retains_grad, x.retains_grad
    same(f)

    def with_grad(t):
        x = x0(t)
        y = x * 3
        y.retain_grad()
        t.autograd.grad((y * y).sum(), x)
        return y.grad

    same(with_grad)

    def hook_then_retain(t):
        x = x0(t)
        y = x * 3
        y.retain_grad()
        y.register_hook(lambda g: g * 2)  # retain_grad sees the hooked gradient
        (y * y).sum().backward()
        return y.grad, x.grad
    same(hook_then_retain)


# ------------------------------------------------------------------ hooks

def test_tensor_hooks():
    def leaf(t):
        x = x0(t)
        h = x.register_hook(lambda g: g * 10)
        (x * 2).sum().backward()
        a = x.grad.clone()
        h.remove()
        x.grad = None
        (x * 2).sum().backward()
        return a, x.grad
    same(leaf)

    def nonleaf(t):
        x = x0(t)
        y = x * 2
        y.register_hook(lambda g: g + 1)
        (y * y).sum().backward()
        return x.grad
    same(nonleaf)

    def observe(t):
        x = x0(t)
        seen = []
        a, b = x * 2, x * 3
        a.register_hook(lambda g: seen.append(("a", g.tolist())))
        b.register_hook(lambda g: seen.append(("b", g.tolist())))
        (a.sum() + b.sum()).backward()
        return seen
    same(observe)
    same(lambda t: t.tensor([1.]).register_hook(lambda g: g))


def test_post_accumulate_grad_hook():
    def f(t):
        x = x0(t)
        seen = []
        x.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
        (x * 2).sum().backward()
        t.autograd.grad((x * 2).sum(), x)  # grad() does not accumulate: no call
        return seen
    same(f)
    same(lambda t: (x0(t) * 2).register_post_accumulate_grad_hook(lambda p: None))


def test_node_hooks():
    def f(t):
        x = x0(t)
        y = x * 2
        z = y.sum()
        log = []
        z.grad_fn.register_prehook(lambda go: log.append(("pre", [g.tolist() for g in go])))
        y.grad_fn.register_hook(lambda gi, go: log.append(
            ("post", [None if g is None else g.tolist() for g in gi], [g.tolist() for g in go])))
        z.backward()
        return log
    same(f)

    def replace(t):
        x = x0(t)
        w = t.tensor([1., 1., 1.])
        y = x * w
        y.grad_fn.register_hook(lambda gi, go: (gi[0] * 0 + 5, None))
        y.sum().backward()
        return x.grad
    same(replace)

    def wrong_count(t):
        x = x0(t)
        y = x * 2
        y.grad_fn.register_hook(lambda gi, go: (gi[0],))
        y.sum().backward()
    same(wrong_count)

    def removed(t):
        x = x0(t)
        y = x * 2
        h = y.grad_fn.register_prehook(lambda go: (go[0] * 100,))
        h.remove()
        y.sum().backward()
        return x.grad
    same(removed)


# ------------------------------------------------------------------ grad modes

def test_grad_modes():
    def f(t):
        @t.no_grad()
        def nog(x):
            return (x * 2).requires_grad

        @t.enable_grad()
        def eng(x):
            return (x * 2).requires_grad

        x = x0(t)
        with t.no_grad():
            r = eng(x)
            with t.enable_grad():
                inner = (x * 2).requires_grad
            outer = (x * 2).requires_grad
        t.set_grad_enabled(False)
        a = t.is_grad_enabled()
        t.set_grad_enabled(True)
        with t.set_grad_enabled(False):
            b = (x * 2).requires_grad
        with t.inference_mode():
            c = (x * 2).requires_grad, t.is_inference_mode_enabled(), t.is_grad_enabled()
        with t.inference_mode(False):
            d = (x * 2).requires_grad
        return nog(x), r, inner, outer, a, b, c, d, t.is_grad_enabled()
    same(f)


def test_no_grad_inplace_on_leaf_and_versions():
    def f(t):
        x = x0(t)
        v0 = x._version
        with t.no_grad():
            x.add_(1)
            x.mul_(2)
        return v0, x._version, x.requires_grad, x.is_leaf, x
    same(f)
    same(lambda t: x0(t).add_(1))


# ------------------------------------------------------------------ functional

AF_CASES = {
    "jac": lambda t, x, y, w: t.autograd.functional.jacobian(lambda a: (a * a * a).tanh(), x),
    "jac_tuple": lambda t, x, y, w: t.autograd.functional.jacobian(
        lambda a, b: ((a * a).sum() * b, a.exp()), (x, y)),
    "jac_out_tuple": lambda t, x, y, w: t.autograd.functional.jacobian(
        lambda a: (a * 2, a.sum()), x),
    "jac_unused": lambda t, x, y, w: t.autograd.functional.jacobian(lambda a, b: a * 2, (x, y)),
    "jac_strict": lambda t, x, y, w: t.autograd.functional.jacobian(
        lambda a, b: a * 2, (x, y), strict=True),
    "jac_create_graph": lambda t, x, y, w: t.autograd.functional.jacobian(
        lambda a: (a * a * a).tanh(), x, create_graph=True).requires_grad,
    "jac_bad_out": lambda t, x, y, w: t.autograd.functional.jacobian(lambda a: [a], x),
    "jac_bad_in": lambda t, x, y, w: t.autograd.functional.jacobian(lambda a: a, [x]),
    "hess": lambda t, x, y, w: t.autograd.functional.hessian(
        lambda a: w.matmul(a).tanh().sum(), x),
    "hess_tuple": lambda t, x, y, w: t.autograd.functional.hessian(
        lambda a, b: (a * a * b.sum()).sum(), (x, y)),
    "hess_bad": lambda t, x, y, w: t.autograd.functional.hessian(lambda a: a * 2, x),
    "vjp": lambda t, x, y, w: t.autograd.functional.vjp(
        lambda a: (a * a * a).tanh(), x, t.tensor([1., 2., 3.], dtype=t.float64)),
    "vjp_scalar": lambda t, x, y, w: t.autograd.functional.vjp(
        lambda a: w.matmul(a).tanh().sum(), x),
    "vjp_none_bad": lambda t, x, y, w: t.autograd.functional.vjp(lambda a: a * 2, x),
    "vjp_bad_v": lambda t, x, y, w: t.autograd.functional.vjp(
        lambda a: a * 2, x, t.tensor([1., 2.], dtype=t.float64)),
    "jvp": lambda t, x, y, w: t.autograd.functional.jvp(
        lambda a: (a * a * a).tanh(), x, t.tensor([1., 2., 3.], dtype=t.float64)),
    "jvp_tuple": lambda t, x, y, w: t.autograd.functional.jvp(
        lambda a, b: ((a * a).sum() * b, a.exp()), (x, y),
        (t.tensor([1., 2., 3.], dtype=t.float64), t.tensor([[1., 0.], [0., 1.]],
                                                            dtype=t.float64))),
    "hvp": lambda t, x, y, w: t.autograd.functional.hvp(
        lambda a: w.matmul(a).tanh().sum(), x, t.tensor([1., 2., 3.], dtype=t.float64)),
    "vhp_tuple": lambda t, x, y, w: t.autograd.functional.vhp(
        lambda a, b: (a * a * b.sum()).sum(), (x, y),
        (t.tensor([1., 2., 3.], dtype=t.float64), t.tensor([[1., 0.], [0., 1.]],
                                                            dtype=t.float64))),
}


@pytest.mark.parametrize("case", sorted(AF_CASES))
def test_functional(case):
    def f(t):
        x = t.tensor([0.5, 1.0, -2.0], dtype=t.float64)
        y = t.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=t.float64)
        w = t.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], dtype=t.float64)
        return AF_CASES[case](t, x, y, w)
    same(f)


def test_functional_structure():
    x = jtorch.tensor([0.5, 1.0], dtype=jtorch.float64)
    j = jtorch.autograd.functional.jacobian(lambda a: a * 2, x)
    assert isinstance(j, jtorch.Tensor)
    j = jtorch.autograd.functional.jacobian(lambda a, b: (a, b), (x, x))
    assert isinstance(j, tuple) and isinstance(j[0], tuple) and len(j[0]) == 2
    h = jtorch.autograd.functional.hessian(lambda a, b: (a * b).sum(), (x, x))
    assert isinstance(h, tuple) and isinstance(h[1], tuple) and h[0][1].shape == (2, 2)


# ------------------------------------------------------------------ gradcheck

class _Wrong(jtorch.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2

    @staticmethod
    def backward(ctx, g):
        return g * 3


def test_gradcheck():
    for t in (torch, jtorch):
        x = t.tensor([0.5, 1.0, -2.0], dtype=t.float64, requires_grad=True)
        y = t.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=t.float64, requires_grad=True)
        assert t.autograd.gradcheck(lambda a: (a * a * a).tanh(), (x,))
        assert t.autograd.gradcheck(lambda a, b: ((a * a).sum() * b, a.exp()), (x, y))
        assert t.autograd.gradgradcheck(lambda a: (a * a * a).tanh(), (x,))
    same(lambda t: t.autograd.gradcheck(lambda a: a * 2, (t.tensor([1.], dtype=t.float64),)))
    x = jtorch.tensor([0.5, 1.0], dtype=jtorch.float64, requires_grad=True)
    with pytest.raises(jtorch.autograd.GradcheckError,
                       match="Jacobian mismatch for output 0 with respect to input 0"):
        jtorch.autograd.gradcheck(_Wrong.apply, (x,))
    from jtorch.autograd.gradcheck import GradcheckError
    assert issubclass(GradcheckError, RuntimeError)
    assert jtorch.autograd.gradcheck(_Wrong.apply, (x,), raise_exception=False) is False
    with pytest.warns(UserWarning, match="not a double precision"):
        jtorch.autograd.gradcheck(lambda a: a * 2, (jtorch.tensor([1.], requires_grad=True),),
                                  eps=1e-3, atol=1e-2)


# ------------------------------------------------------------------ anomaly mode

def test_anomaly_mode_api_and_nan():
    for t, enabled in ((torch, torch.is_anomaly_enabled),
                       (jtorch, jtorch.autograd.anomaly_mode.is_anomaly_enabled)):
        assert not enabled()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with t.autograd.detect_anomaly():
                assert enabled()
        t.autograd.set_detect_anomaly(True)
        assert enabled()
        t.autograd.set_detect_anomaly(False)
        with t.autograd.set_detect_anomaly(True):
            assert enabled()
        assert not enabled()

    class NanBack(jtorch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1

        @staticmethod
        def backward(ctx, g):
            return g * jtorch.tensor(float("nan"))

    x = jtorch.tensor([1., 2.], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with jtorch.autograd.detect_anomaly():
            with pytest.raises(RuntimeError, match="Function 'NanBackBackward' returned nan "
                                                   "values in its 0th output."):
                NanBack.apply(x).sum().backward()
    NanBack.apply(x).sum().backward()  # off: no check
    assert np.isnan(x.grad.tolist()).all()
