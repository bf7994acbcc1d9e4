"""torch.nn.Module, containers, Parameter/Buffer, Linear/Bilinear/LazyLinear and
nn.utils, checked against real torch (same code on both libraries)."""
import copy
import pickle
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch

import jtorch
import jtorch.nn  # noqa: F401  (the lead adds `from . import nn` to jtorch/__init__)

LIBS = (torch, jtorch)


def j_from_t(t):
    return jtorch.tensor(t.detach().numpy())


def load_from_torch(jm, tm):
    return jm.load_state_dict({k: j_from_t(v) for k, v in tm.state_dict().items()})


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a.detach().numpy()), b.detach().numpy(), rtol=tol,
                               atol=tol)


def same_error(fn):
    """Run fn(lib) on torch and jtorch: same exception type and message."""
    res = []
    for lib in LIBS:
        with pytest.raises(Exception) as ei:
            fn(lib)
        res.append(ei)
    t, j = res
    assert type(j.value) is type(t.value), (t.value, j.value)
    assert str(j.value).replace("jtorch", "torch") == str(t.value), (str(t.value), str(j.value))


def both(fn):
    return fn(torch), fn(jtorch)


# ------------------------------------------------------------------ a shared toy model
def make_net(lib):
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 4)
            self.register_buffer("running", lib.zeros(4))
            self.register_buffer("tmp", lib.ones(2), persistent=False)
            self.scale = nn.Parameter(lib.ones(()))

        def forward(self, x):
            return self.fc(x) * self.scale + self.running

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.layers = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])
            self.head = nn.Sequential(OrderedDict(act=nn.Identity(), out=nn.Linear(4, 2)))
            self.d = nn.ModuleDict({"b": nn.Linear(2, 2), "a": nn.Identity()})

        def forward(self, x):
            x = self.block(x)
            for l in self.layers:
                x = l(x)
            return self.d["b"](self.head(x))

    return Net()


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    tn = make_net(torch)
    jn = make_net(jtorch)
    load_from_torch(jn, tn)
    return tn, jn


def test_repr_and_orders(nets):
    tn, jn = nets
    assert repr(jn) == repr(tn)
    assert list(jn.state_dict()) == list(tn.state_dict())
    assert [n for n, _ in jn.named_parameters()] == [n for n, _ in tn.named_parameters()]
    assert [n for n, _ in jn.named_buffers()] == [n for n, _ in tn.named_buffers()]
    assert [n for n, _ in jn.named_modules()] == [n for n, _ in tn.named_modules()]
    assert [n for n, _ in jn.named_modules(prefix="m")] == \
        [n for n, _ in tn.named_modules(prefix="m")]
    assert [n for n, _ in jn.named_children()] == [n for n, _ in tn.named_children()]
    assert [n for n, _ in jn.named_parameters(prefix="p", recurse=False)] == \
        [n for n, _ in tn.named_parameters(prefix="p", recurse=False)]
    assert list(jn.state_dict()._metadata) == list(tn.state_dict()._metadata)
    assert {"block", "layers", "head", "d", "forward", "training"} <= set(dir(jn))
    assert set(dir(tn.block)) - set(dir(jn.block)) <= {"T_destination",
                                                        "_maybe_warn_non_full_backward_hook"}


def test_forward_and_grads_match(nets):
    tn, jn = nets
    x = np.random.RandomState(0).randn(5, 3).astype(np.float32)
    ty = tn(torch.tensor(x))
    jy = jn(jtorch.tensor(x))
    close(jy, ty)
    ty.square().sum().backward()
    jy.square().sum().backward()
    for (n, tp), (_, jp) in zip(tn.named_parameters(), jn.named_parameters()):
        close(jp.grad, tp.grad, 1e-4)
    tn.zero_grad()
    jn.zero_grad()
    assert all(p.grad is None for p in jn.parameters())


def test_linear_bilinear_shapes_and_grads():
    torch.manual_seed(1)
    for shape in [(3,), (2, 3), (2, 2, 3)]:
        tl, jl = torch.nn.Linear(3, 4), jtorch.nn.Linear(3, 4)
        load_from_torch(jl, tl)
        x = np.random.randn(*shape).astype(np.float32)
        tx, jx = torch.tensor(x, requires_grad=True), jtorch.tensor(x, requires_grad=True)
        ty, jy = tl(tx), jl(jx)
        close(jy, ty)
        ty.sum().backward()
        jy.sum().backward()
        close(jx.grad, tx.grad)
        close(jl.weight.grad, tl.weight.grad)
    tb, jb = torch.nn.Bilinear(3, 2, 4), jtorch.nn.Bilinear(3, 2, 4)
    load_from_torch(jb, tb)
    a, b = np.random.randn(5, 3).astype(np.float32), np.random.randn(5, 2).astype(np.float32)
    ty, jy = tb(torch.tensor(a), torch.tensor(b)), jb(jtorch.tensor(a), jtorch.tensor(b))
    close(jy, ty)
    ty.sum().backward()
    jy.sum().backward()
    close(jb.weight.grad, tb.weight.grad)
    assert repr(jb) == repr(tb)
    same_error(lambda lib: lib.nn.Bilinear(3, 2, 4)(lib.ones(5, 3), lib.ones(4, 2)))
    same_error(lambda lib: lib.nn.Bilinear(3, 2, 4)(lib.ones(5, 3), lib.ones(5, 3)))
    same_error(lambda lib: lib.nn.Bilinear(3, 2, 4, bias=False)(
        lib.ones(5, 3, dtype=lib.float64), lib.ones(5, 2, dtype=lib.float64)))
    same_error(lambda lib: lib.nn.Linear(3, 4)(lib.ones(2, 5)))
    for shape in [(3,), (2, 3), (2, 2, 3)]:
        same_error(lambda lib: lib.nn.Linear(3, 4)(lib.ones(shape, dtype=lib.float64)))
    same_error(lambda lib: lib.nn.Linear(3, 4)(lib.ones(2, 3, dtype=lib.int64)))
    assert repr(jtorch.nn.Identity(3, x=1)) == "Identity()"


def test_linear_default_init_bounds():
    jtorch.manual_seed(0)
    l = jtorch.nn.Linear(50, 40)
    bound = 1 / np.sqrt(50)   # kaiming_uniform(a=sqrt(5)) gives the same bound as the bias
    w, b = l.weight.detach().numpy(), l.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.01
    l64 = jtorch.nn.Linear(2, 3, dtype=jtorch.float64)
    assert l64.weight.dtype is jtorch.float64 and l64.bias.dtype is jtorch.float64


# ------------------------------------------------------------------ registration rules
def test_setattr_errors():
    def base(lib):
        m = lib.nn.Module()
        m.w = lib.nn.Parameter(lib.ones(2))
        m.sub = lib.nn.Linear(1, 1)
        m.register_buffer("buf", lib.ones(1))
        return m

    def assign_tensor_to_param(lib):
        base(lib).w = lib.ones(2)

    def assign_int_to_module(lib):
        base(lib).sub = 3

    def assign_str_to_buffer(lib):
        base(lib).buf = "x"

    same_error(assign_tensor_to_param)
    same_error(assign_int_to_module)
    same_error(assign_str_to_buffer)
    same_error(lambda lib: base(lib).register_buffer("w", lib.ones(1)))
    same_error(lambda lib: base(lib).register_buffer("a.b", lib.ones(1)))
    same_error(lambda lib: base(lib).register_buffer("", lib.ones(1)))
    same_error(lambda lib: base(lib).register_buffer("z", [1]))
    same_error(lambda lib: base(lib).register_buffer(1, lib.ones(1)))
    same_error(lambda lib: base(lib).register_parameter("z", lib.ones(1)))
    same_error(lambda lib: base(lib).register_parameter("buf", lib.nn.Parameter(lib.ones(1))))
    same_error(lambda lib: base(lib).register_parameter("z", _nonleaf_param(lib)))
    same_error(lambda lib: base(lib).add_module("a.b", lib.nn.Identity()))
    same_error(lambda lib: base(lib).add_module("w", lib.nn.Identity()))
    same_error(lambda lib: base(lib).add_module("", lib.nn.Identity()))
    same_error(lambda lib: base(lib).missing_attr)
    same_error(lambda lib: base(lib).get_submodule("sub.nope"))
    same_error(lambda lib: base(lib).get_submodule("w"))
    same_error(lambda lib: base(lib).get_parameter("buf"))
    same_error(lambda lib: base(lib).get_buffer("w"))
    same_error(lambda lib: base(lib).train(1))
    same_error(lambda lib: lib.nn.Module()(1))

    class Early(jtorch.nn.Module):
        def __init__(self):
            self.w = jtorch.nn.Parameter(jtorch.ones(1))
    with pytest.raises(AttributeError, match="cannot assign parameters before"):
        Early()


def _nonleaf_param(lib):
    p = lib.nn.Parameter(lib.ones(1))
    q = p * 2
    q.__class__ = lib.nn.Parameter
    return q


def test_attribute_moves_between_kinds():
    for lib in LIBS:
        m = lib.nn.Module()
        m.x = lib.nn.Parameter(lib.ones(1))
        m.x = None                        # stays a parameter slot
        assert "x" in m._parameters and m.x is None
        del m.x
        m.x = lib.nn.Linear(1, 1)
        assert "x" in m._modules
        m.register_buffer("b", None)
        m.b = lib.zeros(2)                # assigning a tensor to a buffer name
        assert "b" in m._buffers
        m.b2 = lib.nn.Buffer(lib.ones(3), persistent=False)
        assert "b2" in m._buffers and "b2" not in m.state_dict()
        assert m.get_buffer("b2").shape == (3,)
        m.plain = 3
        assert m.__dict__["plain"] == 3
    assert isinstance(jtorch.nn.Buffer(jtorch.ones(1)), jtorch.nn.Buffer)
    assert not isinstance(jtorch.ones(1), jtorch.nn.Buffer)


def test_named_members_dedup_and_shared():
    def build(lib):
        lin = lib.nn.Linear(2, 2)
        return lib.nn.Sequential(lin, lin, lib.nn.Identity())
    t, j = both(build)
    for kw in ({}, {"remove_duplicate": False}):
        assert [n for n, _ in j.named_parameters(**kw)] == [n for n, _ in t.named_parameters(**kw)]
        assert [n for n, _ in j.named_modules(**kw)] == [n for n, _ in t.named_modules(**kw)]
    assert [n for n, _ in j.named_children()] == [n for n, _ in t.named_children()]
    assert list(j.state_dict()) == list(t.state_dict())


# ------------------------------------------------------------------ containers
def test_sequential_ops():
    def ops(lib):
        nn = lib.nn
        s = nn.Sequential(nn.Linear(2, 2), nn.Identity(), nn.Linear(2, 2, bias=False))
        out = [len(s), repr(s[1:]), repr(s[-1]), type(s[0:2]).__name__]
        s.append(nn.Identity())
        s.insert(1, nn.Linear(2, 2))
        s.extend([nn.Bilinear(2, 2, 2)])
        out.append(repr(s))
        p = s.pop(0)
        out.append(repr(p))
        del s[1:3]
        out.append(repr(s))
        s[0] = nn.Linear(2, 2, bias=False)
        out.append(repr(s + nn.Sequential(nn.Identity())))
        out.append(repr(s * 2))
        s += nn.Sequential(nn.Linear(2, 2))
        out.append(repr(s))
        out.append([type(m).__name__ for m in s])
        return out
    t, j = both(ops)
    assert j == t
    same_error(lambda lib: lib.nn.Sequential(lib.nn.Identity())[3])
    same_error(lambda lib: lib.nn.Sequential() + 1)
    same_error(lambda lib: lib.nn.Sequential(lib.nn.Identity()) * 0)
    same_error(lambda lib: lib.nn.Sequential(lib.nn.Identity()).insert(5, lib.nn.Identity()))


def test_modulelist_moduledict():
    def ops(lib):
        nn = lib.nn
        ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.Identity()])
        out = [repr(ml), repr(nn.ModuleList()), len(ml), repr(ml[1:3]), repr(ml[-1])]
        ml.insert(0, nn.Identity())
        ml.append(nn.Linear(2, 2, bias=False))
        ml.extend([nn.Identity()])
        out.append(repr(ml))
        ml.pop(1)
        del ml[0]
        out.append(repr(ml))
        out.append(repr(ml + nn.ModuleList([nn.Identity()])))
        md = nn.ModuleDict({"z": nn.Identity(), "a": nn.Linear(2, 2)})
        md["m"] = nn.Identity()
        md.update([("q", nn.Linear(2, 2, bias=False))])
        out += [list(md.keys()), "a" in md, len(md), repr(md)]
        md.pop("z")
        out.append(list(md))
        md.clear()
        out.append(len(md))
        return out
    t, j = both(ops)
    assert j == t
    same_error(lambda lib: lib.nn.ModuleList([lib.nn.Identity()])[2])
    same_error(lambda lib: lib.nn.ModuleList(3))
    same_error(lambda lib: lib.nn.ModuleDict([(1,)]))


def test_parameterlist_parameterdict():
    def ops(lib):
        nn = lib.nn
        pl = nn.ParameterList([nn.Parameter(lib.ones(2, 3)), lib.zeros(4)])
        pl.append(lib.ones(1, dtype=lib.float64))
        pl.append("notatensor")
        out = [repr(pl), len(pl), [type(p).__name__ for p in pl][:3],
               [n for n, _ in pl.named_parameters()], repr(pl[0:2])]
        pd = nn.ParameterDict({"b": lib.ones(2), "a": nn.Parameter(lib.zeros(3, 1))})
        pd["c"] = lib.ones(1, dtype=lib.float64)
        out += [repr(pd), list(pd.keys()), len(pd), "a" in pd,
                [n for n, _ in pd.named_parameters()]]
        out.append(pd.pop("b").shape)
        out.append(list((pd | nn.ParameterDict({"z": lib.ones(1)})).keys()))
        out.append(pd.get("nope", 5))
        out.append(pd.setdefault("d", lib.ones(2)).shape)
        k, _ = pd.popitem()
        out.append(k)
        return out
    t, j = both(ops)
    assert j == t
    same_error(lambda lib: lib.nn.ParameterList()(1))
    same_error(lambda lib: lib.nn.ParameterDict()[1])
    same_error(lambda lib: lib.nn.ParameterList(lib.ones(2)))


# ------------------------------------------------------------------ state dict
def test_load_state_dict_errors_and_results(nets):
    tn, jn = nets

    def mangled(lib, net):
        sd = net.state_dict()
        sd = OrderedDict((k, v) for k, v in sd.items() if k != "block.fc.bias")
        sd["block.extra"] = lib.ones(1)
        sd["layers.0.weight"] = lib.ones(3, 3)
        return sd

    for strict in (True, False):
        errs = []
        for lib, net in ((torch, tn), (jtorch, jn)):
            with pytest.raises(RuntimeError) as ei:
                net.load_state_dict(mangled(lib, net), strict=strict)
            errs.append(str(ei.value))
        assert errs[1] == errs[0]

    def no_size_issue(lib, net):
        sd = mangled(lib, net)
        del sd["layers.0.weight"]
        return sd
    rt = tn.load_state_dict(no_size_issue(torch, tn), strict=False)
    rj = jn.load_state_dict(no_size_issue(jtorch, jn), strict=False)
    assert rj == rt and repr(rj) == repr(rt)
    assert repr(jn.load_state_dict(jn.state_dict())) == "<All keys matched successfully>"
    same_error(lambda lib: lib.nn.Linear(1, 1).load_state_dict([1]))
    same_error(lambda lib: lib.nn.Linear(1, 1).load_state_dict({"weight": 3, "bias": lib.ones(1)}))


def test_load_state_dict_in_place_and_assign():
    l = jtorch.nn.Linear(2, 2)
    w = l.weight
    v0 = w._version
    l.load_state_dict({"weight": jtorch.ones(2, 2, dtype=jtorch.float64),
                       "bias": jtorch.zeros(2)})
    assert l.weight is w and w.dtype is jtorch.float32 and w._version == v0 + 1
    assert w.requires_grad and w.grad_fn is None
    np.testing.assert_array_equal(w.detach().numpy(), np.ones((2, 2)))
    new_w = jtorch.full((2, 2), 3.0)
    l.load_state_dict({"weight": new_w, "bias": jtorch.zeros(2)}, assign=True)
    assert isinstance(l.weight, jtorch.nn.Parameter) and l.weight.requires_grad
    assert l.weight is not w
    # scalar params accept a 1-element checkpoint, as torch does
    m = jtorch.nn.Module()
    m.s = jtorch.nn.Parameter(jtorch.tensor(1.0))
    m.load_state_dict({"s": jtorch.tensor([5.0])})
    assert m.s.item() == 5.0
    sd = l.state_dict(keep_vars=True)
    assert sd["weight"] is l.weight
    assert not l.state_dict()["weight"].requires_grad


def test_state_dict_hooks_and_extra_state():
    calls = {torch: [], jtorch: []}

    def run(lib):
        class M(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = lib.nn.Linear(1, 1)
                self.k = 3

            def get_extra_state(self):
                return {"k": self.k}

            def set_extra_state(self, state):
                self.k = state["k"]

        m = M()
        log = calls[lib]
        m.register_state_dict_pre_hook(lambda mod, prefix, keep: log.append(("pre", prefix)))
        m._register_state_dict_hook(lambda mod, sd, prefix, meta: log.append(("post", prefix)))
        m.register_load_state_dict_post_hook(
            lambda mod, inc: log.append(("load_post", list(inc.missing_keys))))
        m.register_load_state_dict_pre_hook(
            lambda mod, sd, prefix, *a: log.append(("load_pre", prefix)))
        sd = m.state_dict()
        sd["_extra_state"] = {"k": 7}
        m.load_state_dict(sd)
        return list(sd.keys()), m.k
    assert both(run)[0] == both(run)[1]
    assert calls[torch] == calls[jtorch]


# ------------------------------------------------------------------ conversion
def test_to_keeps_identity_and_converts():
    l = jtorch.nn.Linear(2, 3)
    l.register_buffer("steps", jtorch.zeros(1, dtype=jtorch.int64))
    w = l.weight
    l(jtorch.ones(1, 2)).sum().backward()
    assert l.to(jtorch.float64) is l
    assert l.weight is w and w.dtype is jtorch.float64 and w.grad.dtype is jtorch.float64
    assert l.steps.dtype is jtorch.int64
    l.float()
    assert w.dtype is jtorch.float32
    l.half()
    assert w.dtype is jtorch.float16
    l.to("cpu", dtype=jtorch.bfloat16)
    assert w.dtype is jtorch.bfloat16
    l.to(jtorch.zeros(1, dtype=jtorch.float64))
    assert w.dtype is jtorch.float64
    l.double().float()
    assert l.cpu() is l and w.dtype is jtorch.float32
    same_error(lambda lib: lib.nn.Linear(1, 1).to(lib.int32))
    with pytest.raises(NotImplementedError, match="compile"):
        l.compile()


def test_train_eval_requires_grad_apply():
    def run(lib):
        m = make_net(lib)
        m.eval()
        out = [mm.training for mm in m.modules()]
        m.train()
        out.append(all(mm.training for mm in m.modules()))
        m.requires_grad_(False)
        out.append([p.requires_grad for p in m.parameters()])
        names = []
        m.apply(lambda mod: names.append(type(mod).__name__))
        out.append(names)
        return out
    t, j = both(run)
    assert j == t


def test_zero_grad_set_to_none_false():
    l = jtorch.nn.Linear(2, 2)
    l(jtorch.ones(1, 2)).sum().backward()
    g = l.weight.grad
    l.zero_grad(set_to_none=False)
    assert l.weight.grad is g and float(g.abs().sum()) == 0.0


# ------------------------------------------------------------------ Parameter / copies
def test_parameter_semantics():
    t = jtorch.zeros(3)
    p = jtorch.nn.Parameter(t)
    assert isinstance(p, jtorch.Tensor) and p.requires_grad and p.is_leaf
    t.add_(1)   # shares storage and version counter with its source, as torch does
    assert p.tolist() == [1.0, 1.0, 1.0] and p._version == t._version == 1
    assert repr(p) == repr(torch.nn.Parameter(torch.ones(3)))
    assert repr(jtorch.nn.Parameter(jtorch.ones(2), requires_grad=False)) == \
        repr(torch.nn.Parameter(torch.ones(2), requires_grad=False))
    same_error(lambda lib: lib.nn.Parameter(lib.ones(2, dtype=lib.int64)))
    q = copy.deepcopy(p)
    assert type(q) is jtorch.nn.Parameter and q.requires_grad
    q.data.add_(1)
    assert p.tolist() == [1.0, 1.0, 1.0]
    e = jtorch.nn.Parameter()
    assert e.shape == (0,)
    r = pickle.loads(pickle.dumps(p))
    assert type(r) is jtorch.nn.Parameter and r.tolist() == p.tolist() and r.requires_grad


def test_module_deepcopy_and_pickle(nets):
    _, jn = nets
    c = copy.deepcopy(jn)
    assert repr(c) == repr(jn)
    for (n1, p1), (n2, p2) in zip(jn.named_parameters(), c.named_parameters()):
        assert n1 == n2 and p1 is not p2 and np.array_equal(p1.detach().numpy(),
                                                            p2.detach().numpy())
        assert type(p2) is jtorch.nn.Parameter
    seq = jtorch.nn.Sequential(jtorch.nn.Linear(3, 2), jtorch.nn.Identity())
    seq.register_buffer("b", jtorch.ones(1), persistent=False)
    r = pickle.loads(pickle.dumps(seq))
    x = jtorch.ones(2, 3)
    close(r(x), torch.tensor(seq(x).detach().numpy()))
    assert type(r[0].weight) is jtorch.nn.Parameter and r._non_persistent_buffers_set == {"b"}
    # shared parameters stay shared in the copy
    lin = jtorch.nn.Linear(2, 2)
    s = copy.deepcopy(jtorch.nn.Sequential(lin, lin))
    assert s[0].weight is s[1].weight


# ------------------------------------------------------------------ hooks
def _hook_log(lib):
    log = []
    m = lib.nn.Linear(2, 2)
    h1 = m.register_forward_pre_hook(lambda mod, args: log.append(("pre", len(args))))
    m.register_forward_pre_hook(lambda mod, args: log.append(("pre0",)), prepend=True)
    m.register_forward_pre_hook(
        lambda mod, args, kw: (log.append(("prekw", sorted(kw))) or None), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: log.append(("fwd", tuple(out.shape))))
    m.register_forward_hook(
        lambda mod, args, kw, out: log.append(("fwdkw", sorted(kw))), with_kwargs=True)
    h_double = m.register_forward_hook(lambda mod, args, out: out * 2)
    x = lib.ones(1, 2)
    y1 = m(x)
    h1.remove()
    h_double.remove()
    y2 = m(x)
    log.append(("ratio", round(float((y1 / y2).mean().detach()), 4)))
    # a pre-hook replacing the input
    m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    log.append(("zeroed", [round(v, 5) for v in m(x).tolist()[0]] ==
                [round(v, 5) for v in m.bias.tolist()]))
    return log


def test_forward_hooks_order_and_results():
    t, j = both(_hook_log)
    assert j == t


def test_forward_hook_always_call_and_errors():
    def run(lib):
        log = []

        class Bad(lib.nn.Module):
            def forward(self, x):
                raise ValueError("boom")
        m = Bad()
        m.register_forward_hook(lambda mod, a, out: log.append(("always", out)),
                                always_call=True)
        m.register_forward_hook(lambda mod, a, out: log.append("never"))
        with pytest.raises(ValueError):
            m(1)
        bad = lib.nn.Identity()
        bad.register_forward_pre_hook(lambda mod, a, kw: 5, with_kwargs=True)
        with pytest.raises(RuntimeError) as ei:
            bad(1)
        log.append(str(ei.value))
        return log
    t, j = both(run)
    assert j == t


def _backward_hook_run(lib, inputs_require_grad=True, pre_scale=None):
    log = []
    torch.manual_seed(0)
    m = lib.nn.Linear(3, 2)
    if lib is jtorch:
        tm = torch.nn.Linear(3, 2)
        torch.manual_seed(0)
        tm = torch.nn.Linear(3, 2)
        load_from_torch(m, tm)

    def full(mod, gin, gout):
        log.append(("full", [None if g is None else np.round(g.detach().numpy(), 4).tolist()
                             for g in gin],
                    [None if g is None else np.round(g.detach().numpy(), 4).tolist()
                     for g in gout]))

    def pre(mod, gout):
        log.append(("pre", len(gout)))
        if pre_scale is not None:
            return (gout[0] * pre_scale,)
    m.register_full_backward_pre_hook(pre)
    m.register_full_backward_hook(full)
    x = lib.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], requires_grad=inputs_require_grad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = m(x)
        (y * lib.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    log.append(("wgrad", np.round(m.weight.grad.numpy(), 4).tolist()))
    if inputs_require_grad:
        log.append(("xgrad", np.round(x.grad.numpy(), 4).tolist()))
    return log


@pytest.mark.parametrize("req,scale", [(True, None), (True, 2.0), (False, None)])
def test_full_backward_hooks_match_torch(req, scale):
    t = _backward_hook_run(torch, req, scale)
    j = _backward_hook_run(jtorch, req, scale)
    assert j == t


def test_backward_hook_replaces_grad_input_and_mixing_error():
    def run(lib):
        m = lib.nn.Identity()
        m.register_full_backward_hook(lambda mod, gin, gout: (gin[0] * 10,))
        x = lib.ones(2, requires_grad=True)
        m(x).sum().backward()
        return x.grad.tolist()
    t, j = both(run)
    assert j == t
    same_error(lambda lib: _mix(lib))


def _mix(lib):
    m = lib.nn.Identity()
    m.register_full_backward_hook(lambda *a: None)
    m.register_backward_hook(lambda *a: None)


def test_legacy_backward_hook_runs():
    def run(lib):
        seen = []
        m = lib.nn.Linear(2, 2)
        m.register_backward_hook(lambda mod, gin, gout: seen.append(len(gout)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m(lib.ones(1, 2, requires_grad=True)).sum().backward()
        return seen
    t, j = both(run)
    assert j == t


def test_global_forward_hook():
    log = []
    h = jtorch.nn.modules.module.register_module_forward_hook(
        lambda mod, a, out: log.append(type(mod).__name__))
    try:
        jtorch.nn.Sequential(jtorch.nn.Identity())(jtorch.ones(1))
    finally:
        h.remove()
    jtorch.nn.Identity()(jtorch.ones(1))
    assert log == ["Identity", "Sequential"]


# ------------------------------------------------------------------ lazy
def test_lazy_linear():
    m = jtorch.nn.LazyLinear(4)
    assert repr(m.weight) == "<UninitializedParameter>"
    assert m.has_uninitialized_params()
    y = m(jtorch.ones(2, 3))
    assert type(m) is jtorch.nn.Linear and m.in_features == 3
    assert y.shape == (2, 4) and m.weight.shape == (4, 3)
    assert type(m.weight) is jtorch.nn.Parameter
    assert repr(m) == repr(torch.nn.Linear(3, 4))
    # loading a checkpoint materializes the placeholders
    src = jtorch.nn.Linear(5, 4)
    lz = jtorch.nn.LazyLinear(4).double()
    lz.load_state_dict(src.state_dict())
    assert lz.weight.shape == (4, 5) and lz.weight.dtype is jtorch.float64
    y = lz(jtorch.ones(1, 5, dtype=jtorch.float64))
    close(y, torch.tensor(src(jtorch.ones(1, 5)).detach().numpy()).double())
    with pytest.raises(ValueError, match="uninitialized parameter"):
        jtorch.nn.LazyLinear(2).weight + 1


# ------------------------------------------------------------------ utils
def test_clip_grad_norm_and_value():
    rs = np.random.RandomState(0)
    shapes = [(3, 2), (4,), (1, 1)]
    for norm_type in (2.0, 1.0, float("inf"), 3.0):
        res = []
        for lib in LIBS:
            ps = [lib.nn.Parameter(lib.tensor(rs.randn(*s).astype(np.float32) * 0 + 1))
                  for s in shapes]
            for i, p in enumerate(ps):
                p.grad = lib.tensor(np.arange(p.numel(), dtype=np.float32).reshape(p.shape) + i)
            total = lib.nn.utils.clip_grad_norm_(ps, 1.5, norm_type=norm_type)
            res.append((float(total), [p.grad.numpy().copy() for p in ps]))
        assert abs(res[0][0] - res[1][0]) < 1e-4 * max(1, res[0][0])
        for a, b in zip(res[0][1], res[1][1]):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    p = jtorch.nn.Parameter(jtorch.ones(3))
    p.grad = jtorch.tensor([-5.0, 0.5, 9.0])
    jtorch.nn.utils.clip_grad_value_(p, 1.0)
    assert p.grad.tolist() == [-1.0, 0.5, 1.0]
    assert float(jtorch.nn.utils.clip_grad_norm_([], 1.0)) == 0.0
    p.grad = jtorch.tensor([float("nan"), 1.0, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        jtorch.nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


def test_parameters_vector_roundtrip():
    l = jtorch.nn.Linear(3, 2)
    v = jtorch.nn.utils.parameters_to_vector(l.parameters())
    assert v.shape == (8,)
    jtorch.nn.utils.vector_to_parameters(jtorch.arange(8.0), l.parameters())
    assert l.weight.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and l.bias.tolist() == [6.0, 7.0]
    same_error(lambda lib: lib.nn.utils.vector_to_parameters([1.0], []))


def test_functional_call():
    torch.manual_seed(0)
    tl = torch.nn.Linear(3, 2)
    jl = jtorch.nn.Linear(3, 2)
    load_from_torch(jl, tl)
    w = np.ones((2, 3), np.float32)
    x = np.arange(3, dtype=np.float32).reshape(1, 3)
    ty = torch.func.functional_call(tl, {"weight": torch.tensor(w)}, (torch.tensor(x),))
    jw = jtorch.tensor(w, requires_grad=True)
    jy = jtorch.nn.utils.stateless.functional_call(jl, {"weight": jw}, (jtorch.tensor(x),))
    close(jy, ty)
    assert isinstance(jl.weight, jtorch.nn.Parameter)      # restored afterwards
    jy.sum().backward()
    assert jw.grad.tolist() == [[0.0, 1.0, 2.0]] * 2
    same_error(lambda lib: (torch.func.functional_call if lib is torch else
                            jtorch.nn.utils.stateless.functional_call)(
        lib.nn.Linear(1, 1), {"weight": lib.ones(1, 1), "nope": lib.ones(1)}, (lib.ones(1),),
        strict=True))


def test_call_fast_path_overhead_is_small():
    """No hooks -> __call__ goes straight to forward (no per-call hook bookkeeping)."""
    calls = []

    class M(jtorch.nn.Module):
        def forward(self, x):
            calls.append(x)
            return x
    m = M()
    assert m(3) == 3 and calls == [3]
    assert m._call_impl is not None


def _nested_hook_run(lib):
    def fmt(g):
        return None if g is None else np.round(g.detach().numpy(), 4).tolist()
    log = []
    nn = lib.nn

    class Two(nn.Module):
        def forward(self, a, k, b):
            return a * 2, k, b.sum() * a
    seq = nn.Sequential(nn.Identity(), nn.Identity())
    two = Two()
    for name, m in [("seq", seq), ("id0", seq[0]), ("id1", seq[1]), ("two", two)]:
        m.register_full_backward_hook(lambda mod, gi, go, name=name: log.append(
            (name, "full", [fmt(g) for g in gi], [fmt(g) for g in go])))
        m.register_full_backward_pre_hook(lambda mod, go, name=name: log.append(
            (name, "pre", [fmt(g) for g in go])))
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([3.0, 4.0])
    o1, k, o3 = two(seq(x), 5, b)
    (o1.sum() + (o3 * 3).sum()).backward()
    log.append(fmt(x.grad))
    x2 = lib.tensor([1.0, 2.0], requires_grad=True)
    o1, k, o3 = two(x2, 5, b)          # one output unused: grad_output None there
    o1.sum().backward()
    log.append(fmt(x2.grad))
    return log


def test_full_backward_hooks_nested_and_multi_output():
    """Hook order through nested modules; non-tensor args/outputs as None; unused
    outputs' grad_output None; inputs that don't require grad get zeros (torch)."""
    t, j = both(_nested_hook_run)
    assert j == t


def test_state_dict_round_trips_through_checkpoints(tmp_path):
    tm = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 2))
    torch.save(tm.state_dict(), tmp_path / "t.pt")
    jm = jtorch.nn.Sequential(jtorch.nn.Linear(3, 2), jtorch.nn.Linear(2, 2))
    assert repr(jm.load_state_dict(jtorch.load(tmp_path / "t.pt"))) == \
        "<All keys matched successfully>"
    x = np.ones((1, 3), np.float32)
    close(jm(jtorch.tensor(x)), tm(torch.tensor(x)))
    jtorch.save(jm.state_dict(), tmp_path / "j.pt")
    tm2 = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 2))
    tm2.load_state_dict(torch.load(tmp_path / "j.pt"))
    close(jm(jtorch.tensor(x)), tm2(torch.tensor(x)))
    jtorch.save({"p": jm[0].weight}, tmp_path / "p.pt")
    assert type(torch.load(tmp_path / "p.pt")["p"]) is torch.nn.Parameter
    assert type(jtorch.load(tmp_path / "p.pt")["p"]) is jtorch.nn.Parameter


def test_parameter_of_a_view_shares_memory_and_nested_reprs():
    def run(lib):
        nn = lib.nn

        class E(nn.Module):
            def extra_repr(self):
                return "a=1\nb=2"

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.e = E()
                self.pl = nn.ParameterList([nn.Parameter(lib.ones(2, 2))])
                self.pd = nn.ParameterDict({"x": nn.Parameter(lib.ones(3))})
                self.ml = nn.ModuleList([nn.Sequential(nn.Identity()) for _ in range(3)])
                self.register_module("empty", None)
        out = [repr(M()), repr(nn.Sequential()), repr(nn.ModuleDict())]
        v = lib.zeros(4)
        pv = nn.Parameter(v[1:3])
        pv.data.add_(1)
        out += [v.tolist(), pv.is_leaf, pv._base is None]
        return out
    t, j = both(run)
    assert j == t


def test_functional_call_under_jax_jit_and_grad():
    """Modules (hooks included) run on traced values: functional_call + jax.jit/grad."""
    import jax
    import jax.numpy as jnp
    from jtorch._tensor import wrap
    m = jtorch.nn.Sequential(jtorch.nn.Linear(3, 4), jtorch.nn.Linear(4, 2))
    m[0].register_forward_hook(lambda mod, a, o: o * 2)
    params = {k: v._value for k, v in m.named_parameters()}

    def f(params, x):
        out = jtorch.nn.utils.stateless.functional_call(
            m, {k: wrap(v) for k, v in params.items()}, (wrap(x),))
        return out._value.sum()
    x = jnp.ones((5, 3), jnp.float32)
    np.testing.assert_allclose(jax.jit(f)(params, x), f(params, x), rtol=1e-6)
    g = jax.grad(f)(params, x)
    ref = m(jtorch.tensor(np.ones((5, 3), np.float32)))
    ref.sum().backward()
    np.testing.assert_allclose(g["0.weight"], m[0].weight.grad.numpy(), rtol=1e-5)


def test_training_steps_match_torch():
    import jtorch.optim
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
    jm = jtorch.nn.Sequential(jtorch.nn.Linear(3, 4), jtorch.nn.Linear(4, 1))
    load_from_torch(jm, tm)
    to = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    jo = jtorch.optim.SGD(jm.parameters(), lr=0.1, momentum=0.9)
    rs = np.random.RandomState(0)
    x, y = rs.randn(8, 3).astype(np.float32), rs.randn(8, 1).astype(np.float32)
    for _ in range(3):
        for m, o, lib in ((tm, to, torch), (jm, jo, jtorch)):
            o.zero_grad()
            ((m(lib.tensor(x)) - lib.tensor(y)) ** 2).mean().backward()
            o.step()
    for (n, tp), (_, jp) in zip(tm.named_parameters(), jm.named_parameters()):
        close(jp, tp, 1e-5)
