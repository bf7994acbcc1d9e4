"""torch.nn.utils.parametrize / parametrizations, the legacy weight_norm / spectral_norm hooks
and nn.utils.fusion against real torch with identical weights."""
import collections
import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
import torch.nn.utils.parametrize as tP

import jtorch
import jtorch.nn.utils.parametrize as jP


def _pair(name, *args, seed=0, **kwargs):
    torch.manual_seed(seed)
    tm = getattr(torch.nn, name)(*args, **kwargs)
    jm = getattr(jtorch.nn, name)(*args, **kwargs)
    jm.load_state_dict({k: jtorch.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, jm


def _np(t):
    return t.detach().numpy()


def _close(j, t, tol=1e-5):
    np.testing.assert_allclose(_np(j), _np(t), rtol=tol, atol=tol)


def _same_state(tm, jm, tol=1e-5):
    tsd, jsd = tm.state_dict(), jm.state_dict()
    assert list(jsd) == list(tsd)
    for k in tsd:
        np.testing.assert_allclose(_np(jsd[k]), _np(tsd[k]), rtol=tol, atol=tol, err_msg=k)


def _forward_backward(tm, jm, shape, tol=1e-5):
    x = np.random.RandomState(1).rand(*shape).astype(np.float32)
    to, jo = tm(torch.tensor(x)), jm(jtorch.tensor(x))
    _close(jo, to, tol)
    (to ** 2).sum().backward()
    (jo ** 2).sum().backward()
    tnamed, jnamed = dict(tm.named_parameters()), dict(jm.named_parameters())
    assert list(jnamed) == list(tnamed)
    for k in tnamed:
        np.testing.assert_allclose(_np(jnamed[k].grad), _np(tnamed[k].grad), rtol=tol * 10,
                                   atol=tol * 10, err_msg=k)


def _same_error(fn_torch, fn_jtorch):
    with pytest.raises(Exception) as te:
        fn_torch()
    with pytest.raises(Exception) as je:
        fn_jtorch()
    assert type(je.value).__name__ == type(te.value).__name__
    # the only allowed difference: class paths name jtorch's module instead of torch's
    assert str(je.value).replace("jtorch.", "torch.") == str(te.value)


def _parametrizations(nn):
    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

        def right_inverse(self, A):
            return A.triu()

    class Double(nn.Module):
        def forward(self, X):
            return 2 * X

        def right_inverse(self, A):
            return A / 2

    class NoInverse(nn.Module):
        def forward(self, X):
            return X * 3

    class Split(nn.Module):  # two originals
        def forward(self, a, b):
            return a + b

        def right_inverse(self, W):
            return W * 0.25, W * 0.75

    class Shape(nn.Module):
        def forward(self, X):
            return X[:1]

    return Symmetric, Double, NoInverse, Split, Shape


# ------------------------------------------------------------------ parametrize
def test_register_chain_and_assign():
    tm, jm = _pair("Linear", 3, 3)
    for lib, P, m in ((torch, tP, tm), (jtorch, jP, jm)):
        Sym, Double, _, _, _ = _parametrizations(lib.nn)
        assert P.register_parametrization(m, "weight", Sym()) is m
        P.register_parametrization(m, "weight", Double())
    assert type(jm).__name__ == "ParametrizedLinear"
    assert jP.type_before_parametrizations(jm) is jtorch.nn.Linear
    assert isinstance(jm, jtorch.nn.Linear)
    assert jP.is_parametrized(jm) and jP.is_parametrized(jm, "weight")
    assert not jP.is_parametrized(jm, "bias")
    assert isinstance(jm.parametrizations.weight, jP.ParametrizationList)
    assert isinstance(jm.parametrizations.weight.original, jtorch.nn.Parameter)
    assert "weight" not in jm._parameters
    _same_state(tm, jm)
    _close(jm.weight, tm.weight)
    assert repr(jm) == repr(tm)
    _forward_backward(tm, jm, (2, 3))

    w = np.arange(9, dtype=np.float32).reshape(3, 3)
    tm.weight = torch.tensor(w)
    jm.weight = jtorch.tensor(w)  # runs the right inverses through the chain
    _same_state(tm, jm)
    # a second module class keeps its own properties
    assert not hasattr(jtorch.nn.Linear(2, 2).__class__, "weight")


def test_original_object_is_kept():
    _, jm = _pair("Linear", 2, 3)
    w = jm.weight
    Sym, *_ = _parametrizations(jtorch.nn)
    jP.register_parametrization(jm, "weight", Sym(), unsafe=True)
    assert jm.parametrizations.weight.original is w  # optimizers holding it stay valid


def test_multiple_originals_and_remove():
    tm, jm = _pair("Linear", 3, 2)
    for lib, P, m in ((torch, tP, tm), (jtorch, jP, jm)):
        _, _, _, Split, _ = _parametrizations(lib.nn)
        P.register_parametrization(m, "weight", Split())
    _same_state(tm, jm)
    assert list(dict(jm.named_parameters())) == ["bias", "parametrizations.weight.original0",
                                                 "parametrizations.weight.original1"]
    _forward_backward(tm, jm, (4, 3))
    _same_error(lambda: tP.remove_parametrizations(tm, "weight", leave_parametrized=False),
                lambda: jP.remove_parametrizations(jm, "weight", leave_parametrized=False))
    tP.remove_parametrizations(tm, "weight")
    jP.remove_parametrizations(jm, "weight")
    assert type(jm) is jtorch.nn.Linear and not hasattr(jm, "parametrizations")
    assert isinstance(jm.weight, jtorch.nn.Parameter)
    _same_state(tm, jm)


@pytest.mark.parametrize("leave", [True, False])
def test_remove_parametrizations(leave):
    tm, jm = _pair("Linear", 3, 3)
    for lib, P, m in ((torch, tP, tm), (jtorch, jP, jm)):
        _, Double, NoInverse, _, _ = _parametrizations(lib.nn)
        P.register_parametrization(m, "weight", Double())
        P.register_parametrization(m, "bias", NoInverse())
    _same_state(tm, jm)
    for P, m in ((tP, tm), (jP, jm)):
        P.remove_parametrizations(m, "weight", leave_parametrized=leave)
    assert type(jm).__name__ == "ParametrizedLinear"
    _same_state(tm, jm)
    for P, m in ((tP, tm), (jP, jm)):
        P.remove_parametrizations(m, "bias", leave_parametrized=leave)
    assert type(jm) is jtorch.nn.Linear
    _same_state(tm, jm)
    _same_error(lambda: tP.remove_parametrizations(tm, "weight"),
                lambda: jP.remove_parametrizations(jm, "weight"))


def test_buffer_parametrization_and_cached():
    tm, jm = _pair("BatchNorm1d", 3)
    for lib, P, m in ((torch, tP, tm), (jtorch, jP, jm)):
        _, Double, _, _, _ = _parametrizations(lib.nn)
        P.register_parametrization(m, "running_var", Double())
    _same_state(tm, jm)
    assert "parametrizations.running_var.original" in dict(jm.named_buffers())
    assert jm.weight is jm.weight
    with jP.cached():
        a = jm.running_var
        assert jm.running_var is a
        with jP.cached():
            assert jm.running_var is a
        assert jm.running_var is a
    assert jm.running_var is not a


def test_errors_match_torch():
    tm, jm = _pair("Linear", 3, 3)
    Ts, Js = _parametrizations(torch.nn), _parametrizations(jtorch.nn)
    _same_error(lambda: tP.register_parametrization(tm, "foo", Ts[1]()),
                lambda: jP.register_parametrization(jm, "foo", Js[1]()))
    _same_error(lambda: tP.register_parametrization(tm, "weight", Ts[4]()),
                lambda: jP.register_parametrization(jm, "weight", Js[4]()))
    assert type(jm) is jtorch.nn.Linear  # the failed registration left nothing behind
    tP.register_parametrization(tm, "weight", Ts[2]())
    jP.register_parametrization(jm, "weight", Js[2]())
    _same_error(lambda: tP.register_parametrization(tm, "weight", Ts[4]()),
                lambda: jP.register_parametrization(jm, "weight", Js[4]()))

    def assign(lib, m):
        m.weight = lib.ones(3, 3)
    _same_error(lambda: assign(torch, tm), lambda: assign(jtorch, jm))
    _same_error(lambda: pickle.dumps(tm), lambda: pickle.dumps(jm))
    # unsafe allows changing the shape
    tP.register_parametrization(tm, "bias", Ts[4](), unsafe=True)
    jP.register_parametrization(jm, "bias", Js[4](), unsafe=True)
    assert tuple(jm.bias.shape) == tuple(tm.bias.shape) == (1,)


def test_deepcopy_and_transfer():
    tm, jm = _pair("Linear", 3, 3)
    Js = _parametrizations(jtorch.nn)
    jP.register_parametrization(jm, "weight", Js[0]())
    cp = copy.deepcopy(jm)
    assert type(cp).__name__ == "ParametrizedLinear"
    _close(cp.weight, jm.weight)
    assert cp.parametrizations.weight.original is not jm.parametrizations.weight.original
    other = jtorch.nn.Linear(3, 3)
    jP.transfer_parametrizations_and_params(jm, other)
    assert jP.is_parametrized(other, "weight")
    _close(other.weight, jm.weight)


# ------------------------------------------------------------------ parametrizations
@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_parametrization(dim):
    tm, jm = _pair("Conv2d", 2, 3, 3)
    torch.nn.utils.parametrizations.weight_norm(tm, dim=dim)
    out = jtorch.nn.utils.parametrizations.weight_norm(jm, dim=dim)
    assert out is jm and type(jm).__name__ == "ParametrizedConv2d"
    _same_state(tm, jm)
    _forward_backward(tm, jm, (1, 2, 5, 5))


def test_weight_norm_loads_legacy_checkpoint():
    tm, jm = _pair("Linear", 4, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.nn.utils.weight_norm(tm)
    sd = {k: jtorch.tensor(_np(v)) for k, v in tm.state_dict().items()}
    jtorch.nn.utils.parametrizations.weight_norm(jm)
    jm.load_state_dict(sd)
    _close(jm.parametrizations.weight.original0, tm.weight_g)
    _close(jm.weight, tm.weight)


def _copy_uv(tsn, jsn, prefix="_"):
    with jtorch.no_grad():
        getattr(jsn, prefix + "u").copy_(jtorch.tensor(_np(getattr(tsn, prefix + "u"))))
        getattr(jsn, prefix + "v").copy_(jtorch.tensor(_np(getattr(tsn, prefix + "v"))))


@pytest.mark.parametrize("layer,args,shape", [
    ("Linear", (5, 4), (2, 5)),
    ("ConvTranspose2d", (3, 4, 2), (1, 3, 3, 3)),
])
def test_spectral_norm_parametrization(layer, args, shape):
    tm, jm = _pair(layer, *args)
    torch.nn.utils.parametrizations.spectral_norm(tm, n_power_iterations=2)
    jtorch.nn.utils.parametrizations.spectral_norm(jm, n_power_iterations=2)
    tsn, jsn = tm.parametrizations.weight[0], jm.parametrizations.weight[0]
    assert jsn.dim == tsn.dim
    assert list(jm.state_dict()) == list(tm.state_dict())
    _copy_uv(tsn, jsn)  # the initial vectors are random
    x = np.random.RandomState(2).rand(*shape).astype(np.float32)
    for _ in range(3):  # training mode: each forward advances the power iteration
        to, jo = tm(torch.tensor(x)), jm(jtorch.tensor(x))
        _close(jo, to)
    _same_state(tm, jm)
    (to ** 2).sum().backward()
    (jo ** 2).sum().backward()
    _close(jm.parametrizations.weight.original.grad, tm.parametrizations.weight.original.grad,
           1e-4)
    tm.eval()
    jm.eval()
    u_before = _np(jsn._u).copy()
    _close(jm(jtorch.tensor(x)), tm(torch.tensor(x)))
    np.testing.assert_array_equal(_np(jsn._u), u_before)  # eval: no update
    # the initial u/v already approximate the top singular vectors
    w = _np(jm.parametrizations.weight.original)
    w = np.moveaxis(w, jsn.dim, 0).reshape(w.shape[jsn.dim], -1)
    sigma = float(_np(jsn._u) @ w @ _np(jsn._v))
    np.testing.assert_allclose(sigma, np.linalg.svd(w, compute_uv=False)[0], rtol=1e-3)


def test_spectral_norm_of_a_vector():
    tm, jm = _pair("Linear", 3, 3)
    torch.nn.utils.parametrizations.spectral_norm(tm, "bias")
    jtorch.nn.utils.parametrizations.spectral_norm(jm, "bias")
    _same_state(tm, jm)
    _close(jm.bias, tm.bias)


def test_legacy_spectral_norm_upgrades_version0_checkpoint():
    # version-0 checkpoints stored the normalized `weight`; weight_v is solved from it
    tm, _ = _pair("Linear", 3, 4)
    torch.nn.utils.spectral_norm(tm)
    tm(torch.ones(1, 3))
    old = collections.OrderedDict((k, v) for k, v in tm.state_dict().items() if k != "weight_v")
    old["weight"] = tm.weight.detach()
    t2, j2 = _pair("Linear", 3, 4, seed=1)
    torch.nn.utils.spectral_norm(t2)
    jtorch.nn.utils.spectral_norm(j2)
    t2.load_state_dict(old)
    j2.load_state_dict(collections.OrderedDict((k, jtorch.tensor(_np(v))) for k, v in old.items()))
    _same_state(t2, j2, 1e-4)


def test_spectral_norm_errors():
    tm, jm = _pair("Linear", 3, 3)
    _same_error(lambda: torch.nn.utils.parametrizations.spectral_norm(tm, n_power_iterations=0),
                lambda: jtorch.nn.utils.parametrizations.spectral_norm(jm, n_power_iterations=0))
    _same_error(lambda: torch.nn.utils.parametrizations.spectral_norm(tm, dim=2),
                lambda: jtorch.nn.utils.parametrizations.spectral_norm(jm, dim=2))
    _same_error(lambda: torch.nn.utils.parametrizations.spectral_norm(tm, "nope"),
                lambda: jtorch.nn.utils.parametrizations.spectral_norm(jm, "nope"))


@pytest.mark.parametrize("shape,omap,triv", [
    ((4, 4), None, True), ((4, 4), "cayley", True), ((5, 3), "householder", True),
    ((3, 5), None, False), ((4, 4), "householder", False), ((5, 3), "matrix_exp", False),
    ((3, 5), "cayley", False),
])
def test_orthogonal(shape, omap, triv):
    tm, jm = _pair("Linear", shape[1], shape[0], bias=False)
    torch.nn.utils.parametrizations.orthogonal(tm, orthogonal_map=omap, use_trivialization=triv)
    jtorch.nn.utils.parametrizations.orthogonal(jm, orthogonal_map=omap, use_trivialization=triv)
    tsd = tm.state_dict()
    assert list(jm.state_dict()) == list(tsd)
    # same stored original (and base) -> same orthogonal weight
    jm.load_state_dict({k: jtorch.tensor(_np(v)) for k, v in tsd.items()})
    W = _np(jm.weight)
    gram = W @ W.T if shape[0] < shape[1] else W.T @ W
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-5)
    _close(jm.weight, tm.weight, 1e-5)
    _forward_backward(tm, jm, (2, shape[1]), 1e-5)


def test_orthogonal_assign_and_errors():
    tm, jm = _pair("Linear", 4, 4, bias=False)
    torch.nn.utils.parametrizations.orthogonal(tm, orthogonal_map="cayley")
    jtorch.nn.utils.parametrizations.orthogonal(jm, orthogonal_map="cayley")
    q = np.linalg.qr(np.random.RandomState(0).randn(4, 4))[0].astype(np.float32)
    tm.weight = torch.tensor(q)
    jm.weight = jtorch.tensor(q)
    _close(jm.weight, tm.weight)
    _close(jm.weight, jtorch.tensor(q))
    _same_state(tm, jm)
    t1, j1 = _pair("Linear", 3, 3)
    _same_error(lambda: torch.nn.utils.parametrizations.orthogonal(t1, "bias"),
                lambda: jtorch.nn.utils.parametrizations.orthogonal(j1, "bias"))
    _same_error(lambda: torch.nn.utils.parametrizations.orthogonal(t1, orthogonal_map="qr"),
                lambda: jtorch.nn.utils.parametrizations.orthogonal(j1, orthogonal_map="qr"))
    t2, j2 = _pair("Linear", 3, 3)
    torch.nn.utils.parametrizations.orthogonal(t2, use_trivialization=False)
    jtorch.nn.utils.parametrizations.orthogonal(j2, use_trivialization=False)

    def assign(lib, m):
        m.weight = lib.eye(3)
    _same_error(lambda: assign(torch, t2), lambda: assign(jtorch, j2))


# ------------------------------------------------------------------ legacy hooks
def test_legacy_weight_norm():
    tm, jm = _pair("Linear", 4, 3)
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        torch.nn.utils.weight_norm(tm, dim=None)
    with warnings.catch_warnings(record=True) as jw:
        warnings.simplefilter("always")
        assert jtorch.nn.utils.weight_norm(jm, dim=None) is jm
    assert [(w.category, str(w.message)) for w in jw] == [(w.category, str(w.message))
                                                          for w in tw]
    _same_state(tm, jm)
    assert jm.weight_g.dim() == 0
    _forward_backward(tm, jm, (2, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        _same_error(lambda: torch.nn.utils.weight_norm(tm, dim=None),
                    lambda: jtorch.nn.utils.weight_norm(jm, dim=None))
    torch.nn.utils.remove_weight_norm(tm)
    jtorch.nn.utils.remove_weight_norm(jm)
    _same_state(tm, jm)
    _same_error(lambda: torch.nn.utils.remove_weight_norm(tm),
                lambda: jtorch.nn.utils.remove_weight_norm(jm))


def test_legacy_weight_norm_conv_dim1():
    tm, jm = _pair("Conv1d", 2, 3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.nn.utils.weight_norm(tm, dim=1)
        jtorch.nn.utils.weight_norm(jm, dim=1)
    _same_state(tm, jm)
    assert tuple(jm.weight_g.shape) == (1, 2, 1)
    _forward_backward(tm, jm, (1, 2, 6))


def test_legacy_spectral_norm():
    tm, jm = _pair("Linear", 5, 4)
    torch.nn.utils.spectral_norm(tm, n_power_iterations=2)
    assert jtorch.nn.utils.spectral_norm(jm, n_power_iterations=2) is jm
    assert list(jm.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert list(jm.state_dict()) == list(tm.state_dict())
    assert jm.state_dict()._metadata[""]["spectral_norm"] == {"weight.version": 1}
    _copy_uv(tm, jm, "weight_")
    x = np.random.RandomState(2).rand(2, 5).astype(np.float32)
    for _ in range(3):
        to, jo = tm(torch.tensor(x)), jm(jtorch.tensor(x))
        _close(jo, to)
    _same_state(tm, jm)
    (to ** 2).sum().backward()
    (jo ** 2).sum().backward()
    _close(jm.weight_orig.grad, tm.weight_orig.grad, 1e-4)
    tm.eval()
    jm.eval()
    _close(jm(jtorch.tensor(x)), tm(torch.tensor(x)))
    _same_state(tm, jm)
    # round trip through state_dict (the version metadata keeps weight_v)
    _, jm2 = _pair("Linear", 5, 4, seed=1)
    jtorch.nn.utils.spectral_norm(jm2, n_power_iterations=2)
    jm2.load_state_dict(jm.state_dict())
    _same_state(tm, jm2)
    _same_error(lambda: torch.nn.utils.spectral_norm(tm), lambda: jtorch.nn.utils.spectral_norm(jm))
    torch.nn.utils.remove_spectral_norm(tm)
    jtorch.nn.utils.remove_spectral_norm(jm)
    _same_state(tm, jm)
    assert isinstance(jm.weight, jtorch.nn.Parameter) and not jm._forward_pre_hooks
    _same_error(lambda: torch.nn.utils.remove_spectral_norm(tm),
                lambda: jtorch.nn.utils.remove_spectral_norm(jm))


def test_utils_exports():
    names = ["weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm",
             "fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
             "fuse_linear_bn_weights", "parametrize", "parametrizations", "prune", "fusion"]
    for n in names:
        assert hasattr(jtorch.nn.utils, n), n
    for mod in ("parametrize", "parametrizations", "prune", "fusion"):
        tmod, jmod = getattr(torch.nn.utils, mod, None), getattr(jtorch.nn.utils, mod)
        if tmod is None:
            import importlib
            tmod = importlib.import_module(f"torch.nn.utils.{mod}")
        if hasattr(tmod, "__all__"):
            assert sorted(jmod.__all__) == sorted(tmod.__all__)
        else:  # torch's prune has no __all__: every public class/function it defines
            assert not hasattr(jmod, "__all__")
            public = [k for k, v in vars(tmod).items() if not k.startswith("_")
                      and getattr(v, "__module__", None) == tmod.__name__]
            assert public and all(hasattr(jmod, k) for k in public)


# ------------------------------------------------------------------ fusion
def _bn_pair(name, n, seed):
    tb, jb = _pair(name, n, seed=seed)
    rs = np.random.RandomState(seed)
    vals = {"running_mean": rs.randn(n), "running_var": rs.rand(n) + 0.5,
            "weight": rs.randn(n), "bias": rs.randn(n)}
    with torch.no_grad():
        for k, v in vals.items():
            getattr(tb, k).copy_(torch.tensor(v, dtype=torch.float32))
    jb.load_state_dict({k: jtorch.tensor(_np(v)) for k, v in tb.state_dict().items()})
    return tb.eval(), jb.eval()


@pytest.mark.parametrize("conv,bn,shape,transpose", [
    ("Conv2d", "BatchNorm2d", (2, 3, 5, 5), False),
    ("ConvTranspose2d", "BatchNorm2d", (1, 3, 4, 4), True),
])
def test_fuse_conv_bn(conv, bn, shape, transpose):
    tc, jc = _pair(conv, 3, 4, 3, bias=not transpose)
    tc.eval()
    jc.eval()
    tb, jb = _bn_pair(bn, 4, 3)
    tf = torch.nn.utils.fusion.fuse_conv_bn_eval(tc, tb, transpose=transpose)
    jf = jtorch.nn.utils.fuse_conv_bn_eval(jc, jb, transpose=transpose)
    assert jf is not jc and isinstance(jf.weight, jtorch.nn.Parameter)
    _same_state(tf, jf)
    x = np.random.RandomState(0).rand(*shape).astype(np.float32)
    _close(jf(jtorch.tensor(x)), tf(torch.tensor(x)))
    _close(jf(jtorch.tensor(x)), jb(jc(jtorch.tensor(x))))  # same as running both
    _same_error(lambda: torch.nn.utils.fusion.fuse_conv_bn_eval(tc.train(), tb),
                lambda: jtorch.nn.utils.fuse_conv_bn_eval(jc.train(), jb))


def test_fuse_linear_bn():
    tl, jl = _pair("Linear", 5, 4)
    tl.eval()
    jl.eval()
    tb, jb = _bn_pair("BatchNorm1d", 4, 5)
    tf = torch.nn.utils.fusion.fuse_linear_bn_eval(tl, tb)
    jf = jtorch.nn.utils.fuse_linear_bn_eval(jl, jb)
    _same_state(tf, jf)
    x = np.random.RandomState(0).rand(3, 5).astype(np.float32)
    _close(jf(jtorch.tensor(x)), tf(torch.tensor(x)))
    t3, j3 = _bn_pair("BatchNorm1d", 3, 5)
    _same_error(lambda: torch.nn.utils.fusion.fuse_linear_bn_eval(tl, t3),
                lambda: jtorch.nn.utils.fuse_linear_bn_eval(jl, j3))
    args = [np.random.RandomState(i).rand(4).astype(np.float32) + 0.1 for i in range(4)]
    w = np.random.RandomState(9).rand(4, 5).astype(np.float32)
    tw, tbias = torch.nn.utils.fusion.fuse_linear_bn_weights(
        torch.tensor(w), None, *map(torch.tensor, args[:2]), 1e-5, *map(torch.tensor, args[2:]))
    jw, jbias = jtorch.nn.utils.fuse_linear_bn_weights(
        jtorch.tensor(w), None, *map(jtorch.tensor, args[:2]), 1e-5, *map(jtorch.tensor, args[2:]))
    _close(jw, tw)
    _close(jbias, tbias)
    assert jw.requires_grad == tw.requires_grad and jbias.requires_grad == tbias.requires_grad
