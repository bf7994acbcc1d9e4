"""jtorch.optim against real torch.optim: 50-step trajectories, state_dict layout, API rules."""
import warnings

import numpy as np
import pytest
import torch
from torch.optim.optimizer import required as torch_required

import jtorch
import jtorch.optim as jopt
from jtorch.optim.optimizer import TRACES

P0 = [np.array([0.5, -1.0, 2.0], np.float32),
      np.array([[1.0, -0.5], [0.25, 3.0]], np.float32)]
TARGET = [p - 3.0 for p in P0]  # far away: 50 steps never settle into round-off noise
WEIGHT = [np.array([1.0, 2.0, 0.5], np.float32), np.array([[0.7, 1.3], [2.0, 0.4]], np.float32)]


def _loss(lib, params):
    """A coupled quadratic, computed by each library's own ops and autograd."""
    total = 0
    for p, c, w in zip(params, TARGET, WEIGHT):
        total = total + (lib.tensor(w) * (p - lib.tensor(c)) ** 2).sum()
    return total + 0.1 * (params[0].sum() * params[1].mean())


def _pair(dtype=np.float32):
    tp = [torch.tensor(p.astype(dtype), requires_grad=True) for p in P0]
    jp = [jtorch.tensor(p.astype(dtype), requires_grad=True) for p in P0]
    return tp, jp


def _close(tp, jp, rtol=1e-5):
    """Relative to each tensor's scale: max|j - t| <= rtol * max(1, max|t|).

    (Elementwise relative error is meaningless where a coordinate crosses zero.)"""
    for t, j in zip(tp, jp):
        a, b = t.detach().numpy(), j.detach().numpy()
        assert a.dtype == b.dtype
        err = np.max(np.abs(a - b))
        assert err <= rtol * max(1.0, np.max(np.abs(a))), (err, a, b)


def _train(tp, jp, topt, jopt_, steps=50, rtol=1e-5):
    for _ in range(steps):
        for lib, ps, o in ((torch, tp, topt), (jtorch, jp, jopt_)):
            o.zero_grad()
            _loss(lib, ps).backward()
            o.step()
        _close(tp, jp, rtol)


CASES = [
    ("SGD", dict(lr=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9)),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.8, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.95), weight_decay=0.1, eps=1e-6)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, maximize=True, decoupled_weight_decay=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.2)),
    ("RMSprop", dict(lr=0.005)),
    ("RMSprop", dict(lr=0.005, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.002, momentum=0.8, centered=True, alpha=0.9)),
    ("RMSprop", dict(lr=0.002, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.05)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.05, eps=1e-3, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, maximize=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
]


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch(name, kw):
    tp, jp = _pair()
    topt = getattr(torch.optim, name)(tp, **kw)
    jo = getattr(jopt, name)(jp, **kw)
    _train(tp, jp, topt, jo)
    # state: same names, same values
    for t, j in zip(tp, jp):
        ts, js = topt.state[t], jo.state[j]
        assert list(ts) == list(js)
        for k in ts:
            np.testing.assert_allclose(js[k].numpy(), ts[k].numpy(), rtol=1e-4, atol=1e-6)
            assert str(js[k].dtype) == str(ts[k].dtype)


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.01, momentum=0.9)),
                                     ("Adam", dict(lr=0.01, amsgrad=True)),
                                     ("NAdam", dict(lr=0.01))])
def test_float64_params(name, kw):
    tp, jp = _pair(np.float64)
    _train(tp, jp, getattr(torch.optim, name)(tp, **kw), getattr(jopt, name)(jp, **kw),
           steps=10, rtol=1e-12)


def test_param_groups_and_skipped_params():
    tp, jp = _pair()
    mk = lambda lib, ps: [{"params": [ps[0]], "lr": 0.05, "betas": (0.5, 0.9)},  # noqa: E731
                          {"params": [ps[1]]}]
    topt = torch.optim.Adam(mk(torch, tp), lr=0.01)
    jo = jopt.Adam(mk(jtorch, jp), lr=0.01)
    assert [sorted(g) for g in jo.param_groups] == [sorted(g) for g in topt.param_groups]
    for _ in range(5):
        for lib, ps, o in ((torch, tp, topt), (jtorch, jp, jo)):
            o.zero_grad()
            (ps[0] ** 2).sum().backward()  # ps[1] gets no grad: skipped, no state
            o.step()
        _close(tp, jp)
    assert len(jo.state) == len(topt.state) == 1
    assert jp[1].grad is None and tp[1].grad is None


def test_sgd_without_momentum_keeps_no_state():
    tp, jp = _pair()
    topt, jo = torch.optim.SGD(tp, lr=0.1), jopt.SGD(jp, lr=0.1)
    _train(tp, jp, topt, jo, steps=2)
    assert jo.state_dict()["state"] == topt.state_dict()["state"] == {}


def _layout(sd):
    return ({k: [(n, tuple(v.shape), str(v.dtype)) if hasattr(v, "shape") else (n, v)
                 for n, v in s.items()] for k, s in sd["state"].items()},
            [list(g.items()) for g in sd["param_groups"]])


@pytest.mark.parametrize("name,kw", [("SGD", dict(momentum=0.9)), ("Adam", dict(amsgrad=True)),
                                     ("AdamW", {}), ("RMSprop", dict(momentum=0.1,
                                                                     centered=True)),
                                     ("Adagrad", {}), ("Adadelta", {}), ("Adamax", {}),
                                     ("NAdam", {}), ("RAdam", {})])
def test_state_dict_layout_and_round_trip(name, kw):
    tp, jp = _pair()
    topt = getattr(torch.optim, name)([{"params": [tp[0]]}, {"params": [tp[1]], "lr": 0.02}],
                                      **kw)
    jo = getattr(jopt, name)([{"params": [jp[0]]}, {"params": [jp[1]], "lr": 0.02}], **kw)
    _train(tp, jp, topt, jo, steps=3)
    tsd, jsd = topt.state_dict(), jo.state_dict()
    assert _layout(jsd) == _layout(tsd)
    # round trip into a fresh optimizer on the same params: continuing matches torch
    jo2 = getattr(jopt, name)([{"params": [jp[0]]}, {"params": [jp[1]], "lr": 0.5}], **kw)
    jo2.load_state_dict(jsd)
    assert jo2.param_groups[1]["lr"] == 0.02
    assert _layout(jo2.state_dict()) == _layout(tsd)
    _train(tp, jp, topt, jo2, steps=3)


def test_load_torch_state_dict():
    """A state_dict from real torch (tensors converted) resumes the same trajectory."""
    tp, jp = _pair()
    topt = torch.optim.Adam(tp, lr=0.01, amsgrad=True)
    for _ in range(3):
        topt.zero_grad()
        _loss(torch, tp).backward()
        topt.step()
    for t, j in zip(tp, jp):
        with jtorch.no_grad():
            j.copy_(jtorch.tensor(t.detach().numpy()))
    sd = topt.state_dict()
    jsd = {"state": {i: {k: jtorch.tensor(v.numpy()) for k, v in s.items()}
                     for i, s in sd["state"].items()},
           "param_groups": sd["param_groups"]}
    jo = jopt.Adam(jp, lr=0.5)
    jo.load_state_dict(jsd)
    _train(tp, jp, topt, jo, steps=5)


def test_load_state_dict_errors():
    _, jp = _pair()
    jo = jopt.SGD(jp, lr=0.1)
    other = jopt.SGD([{"params": [jp[0]]}, {"params": [jp[1]]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        jo.load_state_dict(other.state_dict())
    small = jopt.SGD([jp[0]], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        jo.load_state_dict(small.state_dict())


def _raises_like(fn_t, fn_j):
    with pytest.raises(Exception) as et:
        fn_t()
    with pytest.raises(Exception) as ej:
        fn_j()
    assert type(ej.value) is type(et.value)
    assert str(ej.value) == str(et.value)


def test_add_param_group_checks():
    tp, jp = _pair()
    _raises_like(lambda: torch.optim.SGD([{"params": [tp[0]]}, {"params": [tp[0], tp[1]]}]),
                 lambda: jopt.SGD([{"params": [jp[0]]}, {"params": [jp[0], jp[1]]}]))
    _raises_like(lambda: torch.optim.SGD([tp[0], 1.0]), lambda: jopt.SGD([jp[0], 1.0]))
    _raises_like(lambda: torch.optim.SGD([]), lambda: jopt.SGD([]))
    _raises_like(lambda: torch.optim.SGD(tp[0]), lambda: jopt.SGD(jp[0]))
    _raises_like(lambda: torch.optim.SGD([{"params": {tp[0]}}]),
                 lambda: jopt.SGD([{"params": {jp[0]}}]))
    _raises_like(lambda: torch.optim.SGD([tp[0] * 2]), lambda: jopt.SGD([jp[0] * 2]))
    _raises_like(lambda: torch.optim.Optimizer(tp, {"lr": torch_required}),
                 lambda: jopt.Optimizer(jp, {"lr": jopt.optimizer.required}))
    with pytest.warns(UserWarning, match="duplicate parameters"):
        jopt.SGD([jp[0], jp[0]])
    o = jopt.Adam([jp[0]], lr=0.1)
    o.add_param_group({"params": jp[1], "lr": 0.3})
    assert o.param_groups[1]["lr"] == 0.3 and o.param_groups[1]["betas"] == (0.9, 0.999)


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=-1)), ("SGD", dict(momentum=-1)), ("SGD", dict(weight_decay=-1)),
    ("SGD", dict(nesterov=True)), ("SGD", dict(momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adam", dict(eps=-1)), ("Adam", dict(betas=(1.0, 0.9))), ("Adam", dict(betas=(0.9, -1))),
    ("AdamW", dict(weight_decay=-1)), ("RMSprop", dict(alpha=-1)),
    ("RMSprop", dict(momentum=-1)), ("Adagrad", dict(lr_decay=-1)),
    ("Adagrad", dict(initial_accumulator_value=-1)), ("Adadelta", dict(rho=2.0)),
    ("NAdam", dict(momentum_decay=-1)), ("RAdam", dict(lr=-0.5)), ("Adamax", dict(eps=-1)),
    ("SGD", dict(fused=True, foreach=True)),
])
def test_constructor_errors(name, kw):
    tp, jp = _pair()
    _raises_like(lambda: getattr(torch.optim, name)(tp, **kw),
                 lambda: getattr(jopt, name)(jp, **kw))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta",
                                  "Adamax", "NAdam", "RAdam", "LBFGS"])
def test_defaults_match_torch(name):
    tp, jp = _pair()
    t, j = getattr(torch.optim, name)(tp), getattr(jopt, name)(jp)
    assert list(j.defaults.items()) == list(t.defaults.items())
    assert repr(j) == repr(t)


def test_zero_grad_and_closure():
    tp, jp = _pair()
    o = jopt.SGD(jp, lr=0.1)
    _loss(jtorch, jp).backward()
    o.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in jp)
    o.zero_grad()
    assert all(p.grad is None for p in jp)

    def closure():
        o.zero_grad()
        loss = _loss(jtorch, jp)
        loss.backward()
        return loss

    with jtorch.no_grad():  # the closure still runs with grad enabled, as in torch
        loss = o.step(closure)
    tl = _loss(torch, tp)
    np.testing.assert_allclose(loss.item(), tl.item(), rtol=1e-6)


def test_step_is_in_place_and_compiled_once():
    _, jp = _pair()
    o = jopt.SGD(jp, lr=0.1, momentum=0.9)
    p = jp[0]
    v0 = p._version
    alias = p.detach()
    before = TRACES["SGD"]
    for i in range(4):
        o.param_groups[0]["lr"] = 0.1 / (i + 1)  # a scheduler's change: traced, no recompile
        o.param_groups[0]["momentum"] = 0.9 - 0.1 * i
        for q in jp:
            q.grad = jtorch.ones_like(q)
        o.step()
    assert TRACES["SGD"] - before <= 1
    assert p._version == v0 + 4
    np.testing.assert_array_equal(alias.numpy(), p.detach().numpy())  # storage shared


def test_step_hooks():
    _, jp = _pair()
    o = jopt.SGD(jp, lr=0.1)
    calls = []
    h1 = o.register_step_pre_hook(lambda opt, args, kwargs: calls.append(("pre", opt is o)))
    h2 = o.register_step_post_hook(lambda opt, args, kwargs: calls.append(("post", opt is o)))
    hg = jopt.optimizer.register_optimizer_step_pre_hook(lambda *a: calls.append("global"))
    o.step()
    assert calls == ["global", ("pre", True), ("post", True)]
    for h in (h1, h2, hg):
        h.remove()
    o.step()
    assert len(calls) == 3
    seen = []
    o.register_state_dict_post_hook(lambda opt, sd: seen.append(sorted(sd)))
    o.state_dict()
    assert seen == [["param_groups", "state"]]


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("history_size", [2, 100])
def test_lbfgs_rosenbrock_float64(line_search_fn, history_size):
    """float64 makes round-off negligible, so every branch of the search must agree."""
    x0 = np.array([-1.5, 2.0, 0.5, -0.3])
    tx, jx = torch.tensor(x0, requires_grad=True), jtorch.tensor(x0, requires_grad=True)
    kw = dict(lr=1 if line_search_fn else 0.05, max_iter=6, history_size=history_size,
              line_search_fn=line_search_fn)
    to, jo = torch.optim.LBFGS([tx], **kw), jopt.LBFGS([jx], **kw)

    def rosen(x):
        return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()

    for _ in range(6):
        def ct():
            to.zero_grad()
            loss = rosen(tx)
            loss.backward()
            return loss

        def cj():
            jo.zero_grad()
            loss = rosen(jx)
            loss.backward()
            return loss

        lt, lj = to.step(ct), jo.step(cj)
        np.testing.assert_allclose(lj.item(), lt.item(), rtol=1e-10)
        np.testing.assert_allclose(jx.detach().numpy(), tx.detach().numpy(), rtol=1e-9)
    ts, js = to.state[tx], jo.state[jx]
    assert (js["func_evals"], js["n_iter"]) == (ts["func_evals"], ts["n_iter"])
    assert sorted(js) == sorted(ts)


def test_lbfgs_float32_quadratic():
    tp, jp = _pair()
    to = torch.optim.LBFGS(tp, lr=0.5, max_iter=4, line_search_fn="strong_wolfe")
    jo = jopt.LBFGS(jp, lr=0.5, max_iter=4, line_search_fn="strong_wolfe")
    for _ in range(3):
        def closure(lib, ps, o):
            def f():
                o.zero_grad()
                loss = _loss(lib, ps)
                loss.backward()
                return loss
            return f
        to.step(closure(torch, tp, to))
        jo.step(closure(jtorch, jp, jo))
        _close(tp, jp, rtol=1e-4)
    with pytest.raises(ValueError, match="per-parameter options"):
        jopt.LBFGS([{"params": [jp[0]]}, {"params": [jp[1]]}])


def test_no_warnings_in_plain_loop():
    _, jp = _pair()
    o = jopt.Adam(jp, lr=0.01, foreach=False, capturable=False, differentiable=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):
            o.zero_grad()
            _loss(jtorch, jp).backward()
            o.step()


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
@pytest.mark.parametrize("committed", [False, True])
def test_fresh_state_is_made_like_jnp_full_like(dtype, committed):
    """Optimizer state is filled on the host on CPU (no XLA program per new shape), and
    must come out as jnp.full_like would: values, dtype, shape, placement, commitment."""
    import jax
    import jax.numpy as jnp
    from jtorch.optim.optimizer import state_like
    with jax.enable_x64(dtype == "float64"):
        p = jnp.arange(6, dtype=dtype).reshape(2, 3)
        if committed:
            p = jax.device_put(p, jax.devices()[0])
        for fill in (0, 0.25):
            got, want = state_like(p, fill), jnp.full_like(p, fill)
            assert got.dtype == want.dtype and got.shape == want.shape
            assert got.committed == want.committed == committed
            assert got.sharding == want.sharding
            np.testing.assert_array_equal(np.asarray(got, np.float64),
                                          np.asarray(want, np.float64))
