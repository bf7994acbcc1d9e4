"""jtorch.func (grad, vjp, jvp, jacrev, jacfwd, hessian, vmap, linearize, functional_call,
stack_module_state) checked against torch.func: the same code on both libraries."""
import numpy as np
import pytest
import torch
import torch.func

import jtorch
import jtorch.func
import jtorch.nn  # noqa: F401

LIBS = (torch, jtorch)
FN = {torch: torch.func, jtorch: jtorch.func}
RNG = np.random.default_rng(0)
A = RNG.standard_normal((4, 3)).astype(np.float32)
B = RNG.standard_normal((4, 3)).astype(np.float32)
V = RNG.standard_normal(3).astype(np.float32)


def both(fn, *arrays):
    """fn(lib, func, *tensors) on torch and jtorch."""
    return [fn(lib, FN[lib], *[lib.tensor(a) for a in arrays]) for lib in LIBS]


def close(j, t, tol=1e-5):
    """Compare nested results leaf by leaf (shape, dtype, values)."""
    if isinstance(t, (tuple, list)):
        assert type(j) is type(t) and len(j) == len(t), (j, t)
        for a, b in zip(j, t):
            close(a, b, tol)
    elif isinstance(t, dict):
        assert list(j) == list(t)
        for k in t:
            close(j[k], t[k], tol)
    else:
        assert isinstance(j, jtorch.Tensor), type(j)
        assert tuple(j.shape) == tuple(t.shape), (j.shape, t.shape)
        assert str(j.dtype).replace("jtorch", "torch") == str(t.dtype)
        np.testing.assert_allclose(j.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


def check(fn, *arrays, tol=1e-5):
    t, j = both(fn, *arrays)
    close(j, t, tol)
    return j


def same_error(fn, *arrays):
    res = []
    for lib in LIBS:
        with pytest.raises(Exception) as ei:
            fn(lib, FN[lib], *[lib.tensor(a) for a in arrays])
        res.append(ei.value)
    t, j = res
    assert type(j) is type(t), (t, j)
    assert str(j).replace("jtorch", "torch") == str(t), (str(t), str(j))


# ------------------------------------------------------------------------------ grad

def test_grad_argnums_and_aux():
    check(lambda L, f, x: f.grad(lambda x: (x.sin() * x).sum())(x), V)
    check(lambda L, f, x, y: f.grad(lambda x, y: (x * y.exp()).sum(), argnums=1)(x, y), A, B)
    check(lambda L, f, x, y: f.grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(x, y), A, B)
    check(lambda L, f, x, y: f.grad(lambda x, y: (x * y).sum(), argnums=-1)(x, y), A, B)
    check(lambda L, f, x: f.grad(lambda x: ((x ** 2).sum(), {"c": x.cos()}), has_aux=True)(x),
          V)
    check(lambda L, f, x: f.grad_and_value(lambda x: (x ** 2).sum())(x), V)
    check(lambda L, f, x: f.grad_and_value(lambda x: ((x ** 2).sum(), x * 2), has_aux=True)(x),
          V)


def test_grad_pytree_inputs_and_kwargs():
    check(lambda L, f, x, y: f.grad(lambda d, s: (d["a"] * d["b"][0]).sum() * s)(
        {"a": x, "b": (y,)}, s=2.0), A, B)


def test_grad_nested_is_second_derivative():
    check(lambda L, f, x: f.grad(f.grad(lambda x: x.sin().sum() * x.sum()))(x.sum()), V)
    check(lambda L, f, x: f.grad(lambda x: f.grad(lambda y: (y ** 3).sum())(x).sum())(x), V)


def test_grad_complex_input_convention():
    z = (RNG.standard_normal(3) + 1j * RNG.standard_normal(3)).astype(np.complex64)
    check(lambda L, f, z: f.grad(lambda z: (z.abs() ** 2).sum())(z), z)
    check(lambda L, f, z: f.grad(lambda z: (z * z).real.sum())(z), z)


@pytest.mark.parametrize("call", [
    lambda L, f, x: f.grad(lambda x: x * 2)(x),
    lambda L, f, x: f.grad(lambda x: (x.sum(),))(x),
    lambda L, f, x: f.grad(lambda x: 3.0)(x),
    lambda L, f, x: f.grad(lambda x: x.sum(), argnums=1)(x),
    lambda L, f, x: f.grad(lambda x: x.sum(), argnums=())(x),
    lambda L, f, x: f.grad(lambda x: x.sum(), argnums=(0, 0))(x),
    lambda L, f, x: f.grad(lambda x: x.sum(), argnums=0.5)(x),
    lambda L, f, x: f.grad(lambda x: x.sum(), has_aux=True)(x),
    lambda L, f, x: f.grad(lambda x: (x.sum(), 1.5), has_aux=True)(x),
    lambda L, f, x: f.grad(lambda x: x.sum())(1.0),
    lambda L, f, x: f.grad(lambda x: x.sum())(L.arange(3)),
    lambda L, f, x: f.grad_and_value(lambda x: x * 2)(x),
])
def test_grad_errors(call):
    same_error(call, V)


def test_grad_connects_to_outer_graph():
    """An input that requires grad: grad's result is differentiable again via backward."""
    res = []
    for lib in LIBS:
        x = lib.tensor(V, requires_grad=True)
        g = FN[lib].grad(lambda x: (x ** 3).sum() + (x.sin() * x).sum())(x)
        assert g.requires_grad
        (g * lib.tensor(V)).sum().backward()
        res.append((g, x.grad))
    close(res[1], res[0])


def test_outer_graph_create_graph():
    res = []
    for lib in LIBS:
        x = lib.tensor(V, requires_grad=True)
        g = FN[lib].grad(lambda x: (x ** 4).sum())(x)
        (h,) = lib.autograd.grad(g.sum(), x, create_graph=True)
        (h2,) = lib.autograd.grad(h.sum(), x)
        res.append((g, h, h2))
    close(res[1], res[0], tol=1e-4)


def test_closed_over_parameters_get_gradients():
    """vmap(model)(x) with the module's own parameters: backward reaches them."""
    tm = torch.nn.Linear(3, 2)
    jm = jtorch.nn.Linear(3, 2)
    jm.load_state_dict({k: jtorch.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    outs = []
    for lib, m in ((torch, tm), (jtorch, jm)):
        y = FN[lib].vmap(m)(lib.tensor(A))
        assert y.requires_grad
        (y.tanh() * 2).sum().backward()
        outs.append((y, m.weight.grad, m.bias.grad))
    close(outs[1], outs[0])
    with jtorch.no_grad():
        assert not jtorch.func.vmap(jm)(jtorch.tensor(A)).requires_grad


def test_backward_through_captured_non_leaf_is_refused():
    w = jtorch.tensor(V, requires_grad=True) * 2
    y = jtorch.func.vmap(lambda x: x * w)(jtorch.tensor(A))
    close(y, torch.tensor(A) * torch.tensor(V) * 2)
    with pytest.raises(NotImplementedError, match="jtorch.func"):
        y.sum().backward()


# ------------------------------------------------------------------------------ vjp / jvp

def test_vjp():
    def run(L, f, x, y):
        out, fn = f.vjp(lambda x, y: (x * y, x.sin()), x, y)
        return out, fn((L.ones_like(x), y))
    check(run, A, B)

    def run_aux(L, f, x):
        out, fn, aux = f.vjp(lambda x: (x.exp(), {"n": x.norm()}), x, has_aux=True)
        return out, fn(L.ones(4, 3)), aux
    check(run_aux, A)


def test_vmap_of_vjp_fn_is_jacobian():
    def run(L, f, x):
        _, fn = f.vjp(lambda x: x.sin() * x.sum(), x)
        return f.vmap(fn)(L.eye(3))
    check(run, V)


@pytest.mark.parametrize("call", [
    lambda L, f, x: f.vjp(lambda x: x * 2, x)[1](L.ones(2)),
    lambda L, f, x: f.vjp(lambda x: x * 2, x)[1]((x,)),
])
def test_vjp_errors(call):
    same_error(call, V)


def test_jvp_and_linearize():
    check(lambda L, f, x, y: f.jvp(lambda x, y: (x * y).sin(), (x, y), (y, x)), A, B)
    check(lambda L, f, x, t: f.jvp(lambda x: (x.exp(), x.sum()), (x,), (t,), has_aux=True), A, B)

    def lin(L, f, x, t):
        out, fn = f.linearize(lambda x: x.sin() * x, x)
        return out, fn(t)
    check(lin, A, B)


@pytest.mark.parametrize("call", [
    lambda L, f, x: f.jvp(lambda x: x * 2, x, x),
    lambda L, f, x: f.jvp(lambda x: x * 2, (x,), (x, x)),
    lambda L, f, x: f.jvp(lambda x: x * 2, (x,), (L.ones(2),)),
    lambda L, f, x: f.jvp(lambda x: x * 2, (x,), x),
])
def test_jvp_errors(call):
    same_error(call, V)


# ------------------------------------------------------------------------------ jacobians

@pytest.mark.parametrize("api", ["jacrev", "jacfwd"])
def test_jacobians(api):
    check(lambda L, f, x: getattr(f, api)(lambda x: x.sin() * x.sum())(x), V)
    check(lambda L, f, x, y: getattr(f, api)(lambda x, y: (x @ y.T).tanh(), argnums=(0, 1))(x, y),
          A, B, tol=1e-4)
    check(lambda L, f, x: getattr(f, api)(lambda d: {"o": d["a"] * 2, "p": d["a"].sum()})(
        {"a": x}), V)
    check(lambda L, f, x: getattr(f, api)(lambda x: (x.exp(), x.cos()), has_aux=True)(x), V)


@pytest.mark.parametrize("call", [
    lambda L, f, x: f.jacrev(lambda x: x.sin(), argnums=1)(x),
    lambda L, f, x: f.jacrev(lambda x: x.sin())(x.to(L.complex64)),
    lambda L, f, x: f.jacfwd(lambda x: x.sin())(x.to(L.complex64)),
    lambda L, f, x: f.jacrev(lambda x: x.to(L.complex64))(x),
    lambda L, f, x: f.jacrev(lambda x: x)(L.arange(3)),
    lambda L, f, x: f.jacfwd(lambda x: x + L.rand(3))(x),
])
def test_jacobian_errors(call):
    same_error(call, V)


def test_hessian():
    check(lambda L, f, x: f.hessian(lambda x: (x ** 3).sum() + x.prod())(x), V, tol=1e-4)
    check(lambda L, f, x, y: f.hessian(lambda x, y: (x.sin() * y).sum(), argnums=(0, 1))(x, y),
          V, V * 2, tol=1e-4)


# ------------------------------------------------------------------------------ vmap

def test_vmap_in_dims_out_dims():
    check(lambda L, f, x: f.vmap(lambda x: x * 2)(x), A)
    check(lambda L, f, x: f.vmap(lambda x: x.sum())(x), A)
    check(lambda L, f, x, v: f.vmap(lambda x, v: x @ v, in_dims=(0, None))(x, v), A, V)
    check(lambda L, f, x, y: f.vmap(lambda x, y: x * y, in_dims=(1, -1))(x, y), A, B)
    check(lambda L, f, x: f.vmap(lambda x: x.cumsum(0), in_dims=1, out_dims=1)(x), A)
    check(lambda L, f, x: f.vmap(lambda x: (x, x.sum()), out_dims=(1, 0))(x), A)
    check(lambda L, f, x: f.vmap(lambda x: x[:, None] * 2, out_dims=-1)(x), A)
    check(lambda L, f, x, v: f.vmap(lambda x, v: (x * v, v.exp()), in_dims=(0, None),
                                    out_dims=(0, None))(x, v), A, V)
    check(lambda L, f, x, v: f.vmap(lambda x, v, scale: x * v * scale, in_dims=(0, None, None))(
        x, v, 3.0), A, V)
    check(lambda L, f, x: f.vmap(lambda x, *, s: x * s)(x, s=L.tensor(2.0)), A)


def test_vmap_nested_pytrees():
    check(lambda L, f, x, y: f.vmap(lambda d: d["a"] + d["b"][0], in_dims=({"a": 0, "b": (1,)},))(
        {"a": x, "b": (y.T,)}), A, B)
    check(lambda L, f, x, y: f.vmap(lambda p: {"s": p[0] * p[1]}, in_dims=((0, None),))(
        (x, y[0])), A, B)
    check(lambda L, f, x, y: f.vmap(lambda l: l[0] - l[1])([x, y]), A, B)


def test_nested_vmap():
    check(lambda L, f, x, y: f.vmap(f.vmap(lambda a, b: a * b, in_dims=(0, None)),
                                    in_dims=(None, 0))(x[:, 0], y[0]), A, B)
    check(lambda L, f, x: f.vmap(f.vmap(lambda a: a.exp().sum()))(x), A)


@pytest.mark.parametrize("call", [
    lambda L, f, x: f.vmap(lambda x: x * 2, in_dims=(0, 0))(x),
    lambda L, f, x: f.vmap(lambda x: x * 2, in_dims=1)(x[0]),
    lambda L, f, x: f.vmap(lambda x: x * 2, in_dims=None)(x),
    lambda L, f, x: f.vmap(lambda x: x * 2, in_dims=(None,))(x),
    lambda L, f, x: f.vmap(lambda x: x * 2, in_dims="a")(x),
    lambda L, f, x: f.vmap(lambda x, y: x * y)(x, L.ones(5)),
    lambda L, f, x: f.vmap(lambda x, y: x * y)(x, 2.0),
    lambda L, f, x: f.vmap(lambda x: 2.0)(x),
    lambda L, f, x: f.vmap(lambda x: (x, 2.0))(x),
    lambda L, f, x: f.vmap(lambda x: x, out_dims=2)(x),
    lambda L, f, x: f.vmap(lambda x: x, out_dims=(0, 0))(x),
    lambda L, f, x: f.vmap(lambda x: x, out_dims=None)(x),
    lambda L, f, x: f.vmap(lambda x: x, out_dims="a")(x),
    lambda L, f, x: f.vmap(lambda x: x, chunk_size=0)(x),
    lambda L, f, x: f.vmap(lambda x: x)(),
    lambda L, f, x: f.vmap(lambda x: x)(L.tensor(1.0)),
    lambda L, f, x: f.vmap(lambda d: d, in_dims=({"a": 0},))({"a": x, "b": x}),
    lambda L, f, x: f.vmap(lambda x: x + L.rand(()))(x),
    lambda L, f, x: f.vmap(lambda x: x + L.rand(()), randomness="foo")(x),
])
def test_vmap_errors(call):
    same_error(call, A)


def test_vmap_chunk_size_is_accepted():
    check(lambda L, f, x: f.vmap(lambda x: x.sin(), chunk_size=2)(x), A)


def test_vmap_randomness():
    x = jtorch.zeros(5, 3)
    jtorch.manual_seed(0)
    same = jtorch.func.vmap(lambda x: x + jtorch.rand(3), randomness="same")(x)
    assert (same == same[0]).all()
    diff = jtorch.func.vmap(lambda x: x + jtorch.rand(3), randomness="different")(x)
    assert len({tuple(r) for r in diff.tolist()}) == 5
    assert (diff >= 0).all() and (diff < 1).all()
    # deterministic under the seed, and the generator moves on afterwards
    jtorch.manual_seed(0)
    jtorch.func.vmap(lambda x: x + jtorch.rand(3), randomness="same")(x)
    again = jtorch.func.vmap(lambda x: x + jtorch.rand(3), randomness="different")(x)
    assert (again == diff).all()
    assert not (jtorch.rand(3) == diff[0]).all()
    # in-place samplers and dropout on batched inputs
    drop = jtorch.func.vmap(lambda x: jtorch.nn.functional.dropout(x, 0.5),
                            randomness="different")(jtorch.ones(6, 8))
    assert len({tuple(r) for r in drop.tolist()}) > 1
    drop = jtorch.func.vmap(lambda x: jtorch.nn.functional.dropout(x, 0.5),
                            randomness="same")(jtorch.ones(6, 8))
    assert (drop == drop[0]).all()
    nested = jtorch.func.vmap(jtorch.func.vmap(lambda x: x + jtorch.rand(()),
                                               randomness="different"),
                              randomness="different")(jtorch.zeros(2, 3))
    assert len(set(nested.flatten().tolist())) == 6


# ------------------------------------------------------------------------------ modules

def _mlp(lib):
    class MLP(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = lib.nn.Linear(3, 5), lib.nn.Linear(5, 2)
            self.register_buffer("shift", lib.ones(5) * 0.1)

        def forward(self, x):
            return self.fc2(lib.nn.functional.relu(self.fc1(x) + self.shift))
    return MLP()


def _load(jm, tm):
    jm.load_state_dict({k: jtorch.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return jm


def test_per_sample_gradients_recipe():
    tm = _mlp(torch)
    models = {torch: tm, jtorch: _load(_mlp(jtorch), tm)}
    y = np.array([0, 1, 1, 0])

    def run(L, f, x, y):
        model = models[L]
        params = {k: v.detach() for k, v in model.named_parameters()}
        buffers = {k: v.detach() for k, v in model.named_buffers()}

        def compute_loss(params, buffers, sample, target):
            pred = f.functional_call(model, (params, buffers), (sample.unsqueeze(0),))
            return L.nn.functional.cross_entropy(pred, target.unsqueeze(0))
        return f.vmap(f.grad(compute_loss), in_dims=(None, None, 0, 0))(params, buffers, x, y)
    check(run, A, y)


def test_model_ensembling_recipe():
    tms = [torch.nn.Linear(3, 2) for _ in range(4)]
    jms = [_load(jtorch.nn.Linear(3, 2), t) for t in tms]
    models = {torch: tms, jtorch: jms}

    def run(L, f, x):
        params, buffers = f.stack_module_state(models[L])
        assert params["weight"].shape == (4, 2, 3) and params["weight"].is_leaf
        assert params["weight"].requires_grad

        def fmodel(params, buffers, x):
            return f.functional_call(models[L][0], (params, buffers), (x,))
        same_batch = f.vmap(fmodel, in_dims=(0, 0, None))(params, buffers, x)
        per_model = f.vmap(fmodel)(params, buffers, x.reshape(4, 1, 3).expand(4, 2, 3))
        (same_batch ** 2).sum().backward()
        return same_batch, per_model, params["weight"].grad
    check(run, A)


def test_functional_call_and_stack_errors():
    tm = torch.nn.Linear(3, 2)
    jm = _load(jtorch.nn.Linear(3, 2), tm)

    def run(L, f, x, w):
        m = {torch: tm, jtorch: jm}[L]
        return (f.functional_call(m, {"weight": w}, x),
                f.functional_call(m, ({"weight": w}, {"bias": L.zeros(2)}), (x,)),
                f.jacrev(lambda w: f.functional_call(m, {"weight": w}, (x,)))(w))
    check(run, A, B[:2])
    same_error(lambda L, f: f.stack_module_state([]))

    def mixed(L, f):
        a, b = L.nn.Linear(2, 2), L.nn.Linear(2, 2)
        b.eval()
        return f.stack_module_state([a, b])
    same_error(mixed)

    def mixed_rg(L, f):
        a, b = L.nn.Linear(2, 2), L.nn.Linear(2, 2)
        b.weight.requires_grad_(False)
        return f.stack_module_state([a, b])
    same_error(mixed_rg)


def test_replace_all_batch_norm_modules_():
    def run(L, f, x):
        from importlib import import_module
        bn = import_module(L.__name__ + ".nn.modules.batchnorm").BatchNorm1d
        m = L.nn.Sequential(L.nn.Linear(3, 3), bn(3))
        f.replace_all_batch_norm_modules_(m)
        assert m[1].running_mean is None and not m[1].track_running_stats
        return m[1](x)
    check(run, A)


def test_grad_under_no_grad_and_grad_mode_inside():
    def run(L, f, x):
        seen = []

        def fn(x):
            seen.append(L.is_grad_enabled())
            return (x ** 3).sum()
        with L.no_grad():
            g = f.grad(fn)(x)
        assert seen == [True] and not g.requires_grad
        return g
    check(run, V)


def test_inplace_on_inputs_lands_in_caller_tensors():
    def run(L, f, x, y):
        r = f.vmap(lambda x: x.mul_(2))(x)
        f.vmap(lambda y: y.add_(1), in_dims=1)(y)
        z = L.ones(2)
        g = f.grad(lambda a, z: (z.add_(1) * a).sum())(L.tensor([1.0, 2.0]), z)
        return x, r, y, z, g
    check(run, A, B)
