"""torch.amp on jtorch, against real torch: autocast state and API, the CPU cast policy
(output dtypes and values of an op sweep under cpu autocast), the CUDA policy (against
torch's published lists in autocast_mode.h, CUDA being unavailable to torch here),
GradScaler (scale trajectory, skipped steps, growth, state_dict, errors) and a GradScaler
step traced by jax.jit."""
import pickle
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jtorch
import jtorch.amp
from jtorch.amp import autocast_mode as jam

LIBS = (torch, jtorch)


def _np(t):
    """float64 (or complex) numpy copy of a torch or jtorch tensor."""
    t = t.detach()
    return np.asarray((t if t.is_complex() else t.double()).numpy())


def _dt(t):
    return str(t.dtype).replace("torch.", "")


# ------------------------------------------------------------------------------ state / API

@pytest.mark.parametrize("lib", LIBS, ids=["torch", "jtorch"])
def test_autocast_state_nesting_and_decorator(lib):
    seen = []
    assert lib.amp.is_autocast_available("cpu")
    with lib.autocast("cpu"):
        seen.append((lib.is_autocast_enabled("cpu"), lib.get_autocast_dtype("cpu")))
        with lib.autocast("cpu", enabled=False):
            seen.append((lib.is_autocast_enabled("cpu"), lib.get_autocast_dtype("cpu")))
        with lib.autocast("cpu", dtype=lib.float16):
            seen.append((lib.is_autocast_enabled("cpu"), lib.get_autocast_dtype("cpu")))
        seen.append((lib.is_autocast_enabled("cpu"), lib.get_autocast_dtype("cpu")))
    seen.append((lib.is_autocast_enabled("cpu"), lib.get_autocast_dtype("cpu")))

    @lib.autocast("cpu")
    def f(a):
        return lib.is_autocast_enabled("cpu"), lib.mm(a, a).dtype
    seen.append(f(lib.ones(2, 2)))
    seen.append((lib.is_autocast_enabled(), lib.get_autocast_dtype("cuda")))
    names = [(e, str(d).replace("torch.", "")) for e, d in seen]
    assert names == [(True, "bfloat16"), (False, "bfloat16"), (True, "float16"),
                     (True, "bfloat16"), (False, "bfloat16"), (True, "bfloat16"),
                     (False, "float16")]


def test_state_functions_match_torch():
    for lib in LIBS:
        lib.set_autocast_enabled("cpu", True)
        try:
            assert lib.is_autocast_enabled("cpu")
            with pytest.raises(TypeError, match="must be bool, not str"):
                lib.set_autocast_enabled("cpu")
        finally:
            lib.set_autocast_enabled("cpu", False)
        assert not lib.is_autocast_enabled("cpu")
        assert lib.is_autocast_cache_enabled()


def test_current_state_is_a_hashable_guard_key():
    s0 = jam.current_state()
    hash(s0)
    with jtorch.autocast("cpu"):
        s1 = jam.current_state()
        with jtorch.autocast("cpu", dtype=jtorch.float16):
            s2 = jam.current_state()
        with jtorch.autocast("cpu", enabled=False):
            s3 = jam.current_state()
    assert len({s0, s1, s2}) == 3 and s3 == s0
    assert jam.current_state() == s0


def _messages(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn()
    return out, [(x.category.__name__, str(x.message)) for x in w]


@pytest.mark.parametrize("make", [
    lambda lib: lib.autocast("cpu", dtype=lib.float32),
    lambda lib: lib.autocast("cpu", dtype=lib.float64),
    lambda lib: lib.autocast("cuda"),      # CUDA is unavailable to both here
    lambda lib: lib.cuda.amp.autocast(),
    lambda lib: lib.cpu.amp.autocast(),
    lambda lib: lib.amp.GradScaler(),
    lambda lib: lib.cuda.amp.GradScaler(),
    lambda lib: lib.cpu.amp.GradScaler(),
])
def test_warnings_and_disabling_match_torch(make):
    (t_obj, t_w), (j_obj, j_w) = _messages(lambda: make(torch)), _messages(lambda: make(jtorch))
    assert j_w == t_w
    t_en = t_obj.is_enabled() if hasattr(t_obj, "is_enabled") else t_obj._enabled
    j_en = j_obj.is_enabled() if hasattr(j_obj, "is_enabled") else j_obj._enabled
    assert j_en == t_en


def _err(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - comparing torch's exception with ours
        return type(e).__name__, str(e)
    return None


@pytest.mark.parametrize("fn", [
    lambda lib: lib.autocast(1),
    lambda lib: lib.autocast("foo"),
    lambda lib: lib.autocast("cpu")(3),
    lambda lib: lib.get_autocast_dtype("foo"),
    lambda lib: lib.amp.custom_fwd(lambda ctx: None, device_type=1),
])
def test_errors_match_torch(fn):
    assert _err(lambda: fn(jtorch)) == _err(lambda: fn(torch))


# ------------------------------------------------------------------------------ CPU policy

def _cases(lib, x, v, b3, img, img3, seq, tgt, w3):
    F = lib.nn.functional
    return {
        "mm": lambda: lib.mm(x, x), "matmul": lambda: x @ x, "bmm": lambda: lib.bmm(b3, b3),
        "addmm": lambda: lib.addmm(x, x, x), "addmv": lambda: lib.addmv(v, x, v),
        "mv": lambda: lib.mv(x, v), "dot": lambda: lib.dot(v, v),
        "einsum": lambda: lib.einsum("ij,jk->ik", x, x),
        "baddbmm": lambda: lib.baddbmm(b3, b3, b3), "linear": lambda: F.linear(x, x, v),
        "conv1d": lambda: F.conv1d(seq, w3[:3, :2]),
        "conv2d": lambda: F.conv2d(img, w3[:3, :2, :, None].expand(3, 2, 3, 3)),
        "conv_t1d": lambda: F.conv_transpose1d(seq, w3[:2, :3]),
        "prelu": lambda: F.prelu(x, v[:1]), "vecdot": lambda: lib.linalg.vecdot(x, x),
        "multi_dot": lambda: lib.linalg.multi_dot([x, x, x]),
        "sdpa": lambda: F.scaled_dot_product_attention(b3, b3, b3),
        "tensordot": lambda: lib.tensordot(x, x, dims=1), "inner": lambda: lib.inner(x, x),
        "outer": lambda: lib.outer(v, v),
        "softmax": lambda: lib.softmax(x, 1), "log_softmax": lambda: F.log_softmax(x, 1),
        "sum": lambda: x.sum(), "mean": lambda: x.mean(), "prod": lambda: x.prod(1),
        "cumsum": lambda: x.cumsum(0), "norm": lambda: x.norm(), "exp": lambda: x.exp(),
        "log": lambda: x.log(), "pow": lambda: x.pow(2), "tan": lambda: x.tan(),
        "layer_norm": lambda: F.layer_norm(x, (4,)), "group_norm": lambda: F.group_norm(img, 2),
        "softplus": lambda: F.softplus(x), "gelu": lambda: F.gelu(x), "relu": lambda: F.relu(x),
        "mse": lambda: F.mse_loss(x, x * 2), "l1": lambda: F.l1_loss(x, x * 2),
        "ce": lambda: F.cross_entropy(x, tgt), "nll": lambda: F.nll_loss(x, tgt),
        "bce_logits": lambda: F.binary_cross_entropy_with_logits(x, x / 4),
        "bce": lambda: F.binary_cross_entropy(x / 4, x / 5),
        "smooth_l1": lambda: F.smooth_l1_loss(x, x * 2), "huber": lambda: F.huber_loss(x, x * 2),
        "cos_sim": lambda: F.cosine_similarity(x, x), "cdist": lambda: lib.cdist(x, x),
        "logsumexp": lambda: x.logsumexp(1), "cat_f64": lambda: lib.cat([x, x.double()]),
        "cat_f32": lambda: lib.cat([x, x.float()]), "stack": lambda: lib.stack([x, x.float()]),
        "addcmul": lambda: lib.addcmul(x, x, x), "atan2": lambda: lib.atan2(x, x),
        "index_copy": lambda: x.index_copy(0, tgt, x.float()),
        "max_pool2d": lambda: F.max_pool2d(img, 2), "avg_pool2d": lambda: F.avg_pool2d(img, 2),
        "max_pool3d": lambda: F.max_pool3d(img3, 2), "avg_pool3d": lambda: F.avg_pool3d(img3, 2),
        "adaptive_avg3d": lambda: F.adaptive_avg_pool3d(img3, 2),
        "adaptive_avg2d": lambda: F.adaptive_avg_pool2d(img, 2),
        "interp": lambda: F.interpolate(img, scale_factor=2, mode="bilinear"),
        "pad_reflect": lambda: F.pad(img, (1, 1, 1, 1), mode="reflect"),
        "pad_replicate": lambda: F.pad(img, (1, 1, 1, 1), mode="replicate"),
        "pad_const": lambda: F.pad(img, (1, 1)), "trace": lambda: x.trace(),
        "fft": lambda: lib.fft.rfft(x.float()), "embedding": lambda: F.embedding(tgt, x),
        "add": lambda: x + 1, "var": lambda: x.var(), "sqrt": lambda: x.sqrt(),
        "mm_f64": lambda: lib.mm(x.double(), x.double()),
        "softmax_f64": lambda: lib.softmax(x.double(), 1),
        "softmax_dtype": lambda: lib.softmax(x, 1, dtype=lib.float64),
        "mm_int": lambda: lib.mm(tgt.reshape(2, 2), tgt.reshape(2, 2)),
        "sum_int": lambda: tgt.sum(),
    }


def _inputs(lib, dt):
    rng = np.random.RandomState(0)

    def t(*shape):
        return lib.tensor(rng.rand(*shape).astype(np.float32) + 0.5).to(getattr(lib, dt))
    return dict(x=t(4, 4), v=t(4), b3=t(2, 4, 4), img=t(1, 2, 5, 5), img3=t(1, 2, 4, 4, 4),
                seq=t(1, 2, 6), w3=t(3, 3, 3), tgt=lib.tensor([0, 1, 2, 3]))


@pytest.mark.parametrize("fast,inp", [("bfloat16", "float32"), ("bfloat16", "bfloat16"),
                                      ("float16", "float32")])
def test_cpu_policy_op_sweep_matches_torch(fast, inp):
    """Output dtypes (exactly) and values (to the autocast dtype's precision) of ~70 ops."""
    res = {}
    for lib in LIBS:
        cases = _cases(lib, **_inputs(lib, inp))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autocast("cpu", dtype=getattr(lib, fast)):
                res[lib] = {k: f() for k, f in cases.items()}
    bad = []
    for k, t_out in res[torch].items():
        j_out = res[jtorch][k]
        if _dt(j_out) != _dt(t_out):
            bad.append((k, _dt(t_out), _dt(j_out)))
            continue
        a, b = _np(t_out), _np(j_out)
        if not np.allclose(b, a, rtol=3e-2, atol=3e-2):
            bad.append((k, "values", float(np.max(np.abs(a - b)))))
    assert not bad


def test_outputs_of_modules_and_autograd_match_torch():
    """A conv + linear net under cpu autocast: output dtype, values and float32 grads."""
    rng = np.random.RandomState(1)
    x = rng.randn(2, 3, 6, 6).astype(np.float32)
    w1 = (rng.randn(4, 3, 3, 3) * 0.3).astype(np.float32)
    w2 = (rng.randn(5, 64) * 0.3).astype(np.float32)
    out = {}
    for lib in LIBS:
        conv = lib.nn.Conv2d(3, 4, 3)
        fc = lib.nn.Linear(64, 5)
        with lib.no_grad():
            conv.weight.copy_(lib.tensor(w1))
            conv.bias.zero_()
            fc.weight.copy_(lib.tensor(w2))
            fc.bias.zero_()
        with lib.autocast("cpu"):
            h = lib.relu(conv(lib.tensor(x)))
            y = fc(h.flatten(1))
            loss = lib.nn.functional.cross_entropy(y, lib.tensor([1, 3]))
        loss.backward()
        out[lib] = (h, y, loss, conv.weight.grad, fc.weight.grad)
    for t, j in zip(out[torch], out[jtorch]):
        assert _dt(j) == _dt(t)
        np.testing.assert_allclose(_np(j), _np(t), rtol=3e-2, atol=3e-2)


def test_inplace_and_out_variants_are_not_autocast():
    for lib in LIBS:
        a = lib.ones(3, 3)
        out = lib.empty(3, 3)
        with lib.autocast("cpu"):
            r = lib.mm(a, a, out=out)
            a.exp_()
            s = a.sum()
        assert (_dt(r), _dt(a), _dt(s)) == ("float32", "float32", "float32")


def test_autocast_disabled_region_inside_enabled():
    for lib in LIBS:
        a = lib.ones(2, 2)
        with lib.autocast("cpu"):
            b = lib.mm(a, a)
            with lib.autocast("cpu", enabled=False):
                c = lib.mm(b.float(), a)
            d = lib.mm(c, a)
        assert [_dt(t) for t in (b, c, d)] == ["bfloat16", "float32", "bfloat16"]


# ------------------------------------------------------------------------------ CUDA policy

@pytest.fixture
def fake_cuda(monkeypatch):
    """jtorch's CUDA autocast policy on CPU arrays: tensors count as being on 'cuda'."""
    monkeypatch.setattr(jam, "_device_type_of", lambda t: "cuda")
    jam.set_autocast_enabled("cuda", True)
    yield
    jam.set_autocast_enabled("cuda", False)


# torch's AT_FORALL_LOWER_PRECISION_FP / AT_FORALL_FP32 / AT_FORALL_FP32_SET_OPT_DTYPE /
# AT_FORALL_PROMOTE (aten/src/ATen/autocast_mode.h), for ops reachable in jtorch
_CUDA_EXPECT = {
    # lower precision: float32 inputs -> float16
    "mm": (lambda j, x, h: j.mm(x, x), "float16"),
    "matmul": (lambda j, x, h: x @ x, "float16"),
    "addmm": (lambda j, x, h: j.addmm(x, x, x), "float16"),
    "addmv": (lambda j, x, h: j.addmv(x[0], x, x[0]), "float16"),
    "addr": (lambda j, x, h: j.addr(x, x[0], x[0]), "float16"),
    "mv": (lambda j, x, h: j.mv(x, x[0]), "float16"),
    "einsum": (lambda j, x, h: j.einsum("ij,jk", x, x), "float16"),
    "linear": (lambda j, x, h: j.nn.functional.linear(x, x), "float16"),
    "conv1d": (lambda j, x, h: j.nn.functional.conv1d(x[None], x[:, :, None]), "float16"),
    "prelu": (lambda j, x, h: j.nn.functional.prelu(x, x[0, :1]), "float16"),
    "bmm": (lambda j, x, h: j.bmm(x[None], x[None]), "float16"),
    "baddbmm": (lambda j, x, h: j.baddbmm(x[None], x[None], x[None]), "float16"),
    "multi_dot": (lambda j, x, h: j.linalg.multi_dot([x, x]), "float16"),
    "vecdot": (lambda j, x, h: j.linalg.vecdot(x, x), "float16"),
    "sdpa": (lambda j, x, h: j.nn.functional.scaled_dot_product_attention(
        x[None], x[None], x[None]), "float16"),
    # fp32: float16 inputs -> float32
    "exp": (lambda j, x, h: h.exp(), "float32"),
    "log": (lambda j, x, h: h.log(), "float32"),
    "pow": (lambda j, x, h: h.pow(2), "float32"),
    "rsqrt": (lambda j, x, h: h.rsqrt(), "float32"),
    "layer_norm": (lambda j, x, h: j.nn.functional.layer_norm(h, (4,)), "float32"),
    "softplus": (lambda j, x, h: j.nn.functional.softplus(h), "float32"),
    "mse_loss": (lambda j, x, h: j.nn.functional.mse_loss(h, h), "float32"),
    "cdist": (lambda j, x, h: j.cdist(h, h), "float32"),
    "logsumexp": (lambda j, x, h: h.logsumexp(0), "float32"),
    "cross_entropy": (lambda j, x, h: j.nn.functional.cross_entropy(
        h, j.tensor([0, 1, 2, 3])), "float32"),
    "interpolate": (lambda j, x, h: j.nn.functional.interpolate(
        h[None, None], scale_factor=2, mode="bilinear"), "float32"),
    # fp32_set_opt_dtype: float16 input -> float32 unless dtype= is given
    "softmax": (lambda j, x, h: j.softmax(h, 0), "float32"),
    "sum": (lambda j, x, h: h.sum(), "float32"),
    "sum_dtype": (lambda j, x, h: h.sum(dtype=j.float16), "float16"),
    "cumsum": (lambda j, x, h: h.cumsum(0), "float32"),
    "vector_norm": (lambda j, x, h: j.linalg.vector_norm(h), "float32"),
    "norm": (lambda j, x, h: h.norm(), "float32"),
    # promote: widest of the inputs
    "addcmul_mixed": (lambda j, x, h: j.addcmul(h, h, x), "float32"),
    "addcmul_half": (lambda j, x, h: j.addcmul(h, h, h), "float16"),
    "dot": (lambda j, x, h: j.dot(h[0], x[0]), "float32"),
    "atan2": (lambda j, x, h: j.atan2(h, x), "float32"),
    "tensordot": (lambda j, x, h: j.tensordot(h, h, dims=1), "float16"),
    # not listed: inputs' dtype
    "relu": (lambda j, x, h: j.relu(h), "float16"),
    "mean": (lambda j, x, h: h.mean(), "float16"),
    "cat": (lambda j, x, h: j.cat([h, h]), "float16"),
    # float64 is never cast
    "mm_f64": (lambda j, x, h: j.mm(x.double(), x.double()), "float64"),
    "exp_f64": (lambda j, x, h: x.double().exp(), "float64"),
}


@pytest.mark.parametrize("name", sorted(_CUDA_EXPECT))
def test_cuda_policy_against_torch_lists(fake_cuda, name):
    fn, want = _CUDA_EXPECT[name]
    x = jtorch.rand(4, 4) + 0.5
    h = x.half()
    with jtorch.autocast("cpu", enabled=False):
        assert _dt(fn(jtorch, x, h)) == want


def test_cuda_policy_errors(fake_cuda):
    x = jtorch.rand(4, 4)
    with pytest.raises(RuntimeError, match="binary_cross_entropy and torch.nn.BCELoss are "
                                           "unsafe to autocast"):
        jtorch.nn.functional.binary_cross_entropy(x.sigmoid(), x)
    with pytest.raises(RuntimeError, match="Unexpected floating ScalarType in "
                                           "at::autocast::prioritize"):
        jtorch.addcmul(x.bfloat16(), x.half(), x.half())  # bf16 under a float16 autocast


def test_weight_cast_cache_is_dropped_on_exit():
    w = jtorch.ones(2, 2, requires_grad=True)
    with jtorch.autocast("cpu"):
        a = jtorch.mm(w, w)
        b = jtorch.mm(w, w)
        assert len(jam._STATE.cache) == 1
    assert not jam._STATE.cache
    (a.float().sum() + b.float().sum()).backward()
    np.testing.assert_allclose(np.asarray(w.grad._value), np.full((2, 2), 8.0))


# ------------------------------------------------------------------------------ custom fns

def test_custom_fwd_bwd_match_torch():
    res = {}
    for lib in LIBS:
        class MyMM(lib.autograd.Function):
            @staticmethod
            @lib.amp.custom_fwd(device_type="cpu", cast_inputs=lib.float32)
            def forward(ctx, a, b):
                ctx.save_for_backward(a, b)
                return a.mm(b), lib.is_autocast_enabled("cpu")

            @staticmethod
            @lib.amp.custom_bwd(device_type="cpu")
            def backward(ctx, g, _):
                a, b = ctx.saved_tensors
                assert not lib.is_autocast_enabled("cpu")
                return g.mm(b.t()), a.t().mm(g)

        a = lib.ones(2, 2, requires_grad=True)
        with lib.autocast("cpu"):
            out, inside = MyMM.apply(a.bfloat16(), a)
        out.sum().backward()
        res[lib] = (_dt(out), inside, _dt(a.grad))
    assert res[jtorch] == res[torch] == ("float32", False, "float32")


# ------------------------------------------------------------------------------ GradScaler

def _mlp(lib, seed=0):
    rng = np.random.RandomState(seed)
    m = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.ReLU(), lib.nn.Linear(8, 2))
    with lib.no_grad():
        m[0].weight.copy_(lib.tensor((rng.randn(8, 4) * 0.5).astype(np.float32)))
        m[0].bias.zero_()
        m[2].weight.copy_(lib.tensor((rng.randn(2, 8) * 0.5).astype(np.float32)))
        m[2].bias.zero_()
    return m


def _train(lib, steps, poison=(), autocast=True, opt="sgd", **scaler_kw):
    rng = np.random.RandomState(3)
    x = lib.tensor(rng.randn(16, 4).astype(np.float32))
    y = lib.tensor(rng.randn(16, 2).astype(np.float32))
    m = _mlp(lib)
    o = (lib.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) if opt == "sgd"
         else lib.optim.Adam(m.parameters(), lr=0.01))
    sc = lib.amp.GradScaler("cpu", **scaler_kw)
    log = []
    for i in range(steps):
        o.zero_grad()
        with lib.autocast("cpu", enabled=autocast):
            loss = lib.nn.functional.mse_loss(m(x), y)
        sc.scale(loss).backward()
        if i in poison:
            with lib.no_grad():
                m[0].weight.grad.fill_(float("inf") if i % 2 else float("nan"))
        sc.step(o)
        sc.update()
        log.append((float(loss.detach().float()), sc.get_scale(), sc._get_growth_tracker(),
                    _np(m[0].weight).copy()))
    return log, sc, o


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_mlp_autocast_gradscaler_trajectory_matches_torch(opt):
    kw = dict(init_scale=2.0 ** 10, growth_interval=2)
    t_log, t_sc, _ = _train(torch, 7, poison=(2, 5), opt=opt, **kw)
    j_log, j_sc, _ = _train(jtorch, 7, poison=(2, 5), opt=opt, **kw)
    assert [r[1:3] for r in j_log] == [r[1:3] for r in t_log]   # scale and tracker, exactly
    for (tl, _, _, tw), (jl, _, _, jw) in zip(t_log, j_log):
        np.testing.assert_allclose(jl, tl, rtol=2e-2)
        np.testing.assert_allclose(jw, tw, rtol=2e-2, atol=2e-2)
    # the poisoned steps changed nothing
    np.testing.assert_array_equal(j_log[2][3], j_log[1][3])
    np.testing.assert_array_equal(j_log[5][3], j_log[4][3])
    assert j_sc.state_dict() == t_sc.state_dict()


def test_float32_training_matches_torch_exactly_in_scale_and_closely_in_params():
    kw = dict(init_scale=3.0, growth_factor=3.0, backoff_factor=0.25, growth_interval=3)
    t_log, _, _ = _train(torch, 8, poison=(4,), autocast=False, **kw)
    j_log, _, _ = _train(jtorch, 8, poison=(4,), autocast=False, **kw)
    assert [r[1:3] for r in j_log] == [r[1:3] for r in t_log]
    for t, j in zip(t_log, j_log):
        np.testing.assert_allclose(j[3], t[3], rtol=1e-5, atol=1e-6)


def test_growth_stops_at_overflow_and_new_scale():
    for lib in LIBS:
        sc = lib.amp.GradScaler("cpu", init_scale=2.0 ** 127, growth_interval=1)
        p = lib.nn.Parameter(lib.ones(2))
        o = lib.optim.SGD([p], lr=0.1)
        sc.scale(p.sum()).backward()
        sc.step(o)
        sc.update()
        assert sc.get_scale() == 2.0 ** 127          # 2**128 is inf in float32: no growth
        sc.update(new_scale=4.0)
        assert sc.get_scale() == 4.0
        sc.update(new_scale=lib.tensor(8.0))
        assert sc.get_scale() == 8.0


def test_scale_nested_outputs_and_unscale_with_clipping_match_torch():
    res = {}
    for lib in LIBS:
        sc = lib.amp.GradScaler("cpu", init_scale=8.0)
        a, b = lib.ones(2), lib.full((3,), 2.0)
        out = sc.scale([a, (b, [a])])
        p = lib.nn.Parameter(lib.tensor([1.0, -2.0, 3.0]))
        o = lib.optim.SGD([p], lr=1.0)
        sc.scale((p * p).sum()).backward()
        sc.unscale_(o)
        g = _np(p.grad).copy()
        lib.nn.utils.clip_grad_norm_([p], 1.0)
        sc.step(o)
        sc.update()
        res[lib] = (type(out).__name__, type(out[1]).__name__, _np(out[1][1][0]).tolist(),
                    _np(out[1][0]).tolist(), g.tolist(), _np(p).round(5).tolist())
    assert res[jtorch] == res[torch]


@pytest.mark.parametrize("script", [
    "sc.unscale_(o); sc.unscale_(o)",
    "sc.step(o); sc.unscale_(o)",
    "sc.step(o); sc.step(o)",
    "sc.step(o, closure=lambda: None)",
    "sc2.update()",
    "sc2.step(o)",
    "sc2.unscale_(o)",
    "sc.update(); sc.update()",
    "sc.scale(3)",
    "q = lib.nn.Parameter(lib.ones(2).half()); q.sum().backward(); "
    "sc.unscale_(lib.optim.SGD([q], lr=0.1))",
    "lib.amp.GradScaler('cpu', growth_factor=1.0)",
    "lib.amp.GradScaler('cpu', backoff_factor=1.0)",
    "sc.load_state_dict({})",
    "sc.update(new_scale=lib.ones(2))",
    "pickle.dumps(sc)",
])
def test_scaler_errors_match_torch(script):
    def run(lib):
        p = lib.nn.Parameter(lib.ones(2))
        o = lib.optim.SGD([p], lr=0.1)
        sc = lib.amp.GradScaler("cpu")
        sc2 = lib.amp.GradScaler("cpu")
        sc.scale(p.sum()).backward()
        exec(script, {"sc": sc, "sc2": sc2, "o": o, "p": p, "lib": lib, "pickle": pickle})
    assert _err(lambda: run(jtorch)) == _err(lambda: run(torch))


def test_state_dict_round_trip_and_getters_match_torch():
    res = {}
    for lib in LIBS:
        sc = lib.amp.GradScaler("cpu", init_scale=16.0, growth_interval=5)
        before = sc.state_dict()
        p = lib.nn.Parameter(lib.ones(2))
        sc.scale(p.sum()).backward()
        sc.step(lib.optim.SGD([p], lr=0.1))
        sc.update()
        sd = sc.state_dict()
        sc2 = lib.amp.GradScaler("cpu")
        sc2.load_state_dict(sd)
        sc2.set_growth_factor(4.0)
        sc2.set_backoff_factor(0.125)
        sc2.set_growth_interval(7)
        sc3 = pickle.loads(pickle.dumps(sc))
        off = lib.amp.GradScaler("cpu", enabled=False)
        res[lib] = (before, sd, sc2.state_dict(), sc3.state_dict(), sc2.get_growth_factor(),
                    sc2.get_backoff_factor(), sc2.get_growth_interval(), sc2.is_enabled(),
                    off.state_dict(), off.get_scale(), off.is_enabled(),
                    off.scale(lib.ones(1)).tolist())
    assert res[jtorch] == res[torch]
    assert list(res[jtorch][1]) == ["scale", "growth_factor", "backoff_factor",
                                    "growth_interval", "_growth_tracker"]


def test_optimizer_without_step_unless_uses_the_host_check():
    res = {}
    for lib in LIBS:
        p = lib.nn.Parameter(lib.tensor([1.0, 2.0]))
        o = lib.optim.LBFGS([p], lr=0.5, max_iter=2)
        sc = lib.amp.GradScaler("cpu", init_scale=4.0)
        vals = []
        for poison in (False, True, False):
            def closure():
                o.zero_grad()
                loss = (p * p).sum()
                loss.backward()
                return loss
            o.zero_grad()
            sc.scale((p * p).sum()).backward()
            if poison:
                with lib.no_grad():
                    p.grad.fill_(float("inf"))
            sc.step(o, closure)
            sc.update()
            vals.append((_np(p).round(5).tolist(), sc.get_scale()))
        res[lib] = vals
    assert res[jtorch] == res[torch]


# ------------------------------------------------------------------------------ under jax.jit

def _lifted_step(model, opt, scaler):
    """One autocast + GradScaler training step as a pure jax function of the state arrays
    (what jtorch.compile does automatically): state in, state out, traced once."""
    params = list(model.parameters())
    state = [t for p in params for t in opt.state[p].values() if isinstance(t, jtorch.Tensor)]
    tensors = params + state + [scaler._scale, scaler._growth_tracker]

    def pure(arrays, xa, ya):
        saved = [t._st.arr for t in tensors]
        for t, a in zip(tensors, arrays):
            t._st.arr = a
        try:
            opt.zero_grad()
            with jtorch.autocast("cpu"):
                loss = jtorch.nn.functional.mse_loss(model(_wrap(xa)), _wrap(ya))
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            out = [t._st.arr for t in tensors]
            opt.zero_grad()
            return out, loss._value.astype(jnp.float32)
        finally:
            for t, a in zip(tensors, saved):
                t._st.arr = a
    fn = jax.jit(pure)

    def step(x_arr, y_arr):
        new, loss = fn([t._st.arr for t in tensors], x_arr, y_arr)
        for t, a in zip(tensors, new):
            t._write(a)
        return float(loss)
    return step


def _wrap(a):
    from jtorch._tensor import wrap
    return wrap(a)


def test_gradscaler_step_under_jax_jit_matches_eager():
    rng = np.random.RandomState(5)
    xs = [rng.randn(16, 4).astype(np.float32) for _ in range(5)]
    xs[2][0, 0] = np.inf                       # this step's gradients overflow
    y = rng.randn(16, 2).astype(np.float32)
    runs = []
    for compiled in (False, True):
        m = _mlp(jtorch)
        o = jtorch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        sc = jtorch.amp.GradScaler("cpu", init_scale=2.0 ** 8, growth_interval=2)
        log, step = [], None
        for xa in xs:
            if step is not None:
                step(jnp.asarray(xa), jnp.asarray(y))
            else:                            # eager (step 0 creates the momentum buffers)
                o.zero_grad()
                with jtorch.autocast("cpu"):
                    out = jtorch.nn.functional.mse_loss(m(jtorch.tensor(xa)), jtorch.tensor(y))
                sc.scale(out).backward()
                sc.step(o)
                sc.update()
                if compiled:
                    step = _lifted_step(m, o, sc)
            log.append((sc.get_scale(), sc._get_growth_tracker(), _np(m[0].weight).copy()))
        runs.append(log)
    eager, jitted = runs
    assert [r[:2] for r in jitted] == [r[:2] for r in eager]
    assert [r[:2] for r in eager] == [(256.0, 1), (512.0, 0), (256.0, 0), (256.0, 1),
                                      (512.0, 0)]
    for e, j in zip(eager, jitted):  # XLA may fuse bfloat16 roundings away inside the jit
        np.testing.assert_allclose(j[2], e[2], rtol=1e-2, atol=1e-3)
    np.testing.assert_array_equal(jitted[2][2], jitted[1][2])   # skipped under jit too


def test_gradscaler_inside_jtorch_compile_matches_torch():
    """scale -> backward -> step -> update as one jtorch.compile'd step (state found on the
    scaler by the compiler), with a poisoned batch: same trajectory as eager torch."""
    rng = np.random.RandomState(7)
    xs = [rng.randn(16, 4).astype(np.float32) for _ in range(5)]
    xs[2][0, 0] = np.inf
    y = rng.randn(16, 2).astype(np.float32)
    logs = {}
    for lib in LIBS:
        m = _mlp(lib)
        o = lib.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        sc = lib.amp.GradScaler("cpu", init_scale=2.0 ** 8, growth_interval=2)

        def step(x, yy):
            o.zero_grad()
            loss = lib.nn.functional.mse_loss(m(x), yy)
            sc.scale(loss).backward()
            sc.step(o)
            sc.update()
            return loss.detach()
        run = lib.compile(step) if lib is jtorch else step
        logs[lib] = []
        for xa in xs:
            run(lib.tensor(xa), lib.tensor(y))
            logs[lib].append((sc.get_scale(), sc._get_growth_tracker(), _np(m[0].weight)))
    assert [r[:2] for r in logs[jtorch]] == [r[:2] for r in logs[torch]]
    for t, j in zip(logs[torch], logs[jtorch]):
        np.testing.assert_allclose(j[2], t[2], rtol=1e-5, atol=1e-6)
