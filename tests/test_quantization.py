"""jtorch.ao.quantization against real torch (x86/fbgemm backend) on the same float weights:
quantized tensors, observers' qparams, dynamic Linear/LSTM, fusion, static prepare/convert,
and accuracy of quantized digits classifiers."""
import re

import numpy as np
import pytest
import torch

import jtorch
import jtorch.ao._quantized as Q

# What the lead adds to jtorch/__init__.py's _LAZY_NAMES (name -> defining module); a no-op
# once it is there. The tests below then use the top-level names like torch code does.
_TOP_LEVEL = ["quint8", "qint8", "qint32", "qscheme", "per_tensor_affine", "per_channel_affine",
              "per_tensor_symmetric", "per_channel_symmetric",
              "per_channel_affine_float_qparams", "quantize_per_tensor",
              "quantize_per_channel", "dequantize"]
for _n in _TOP_LEVEL:
    jtorch._LAZY_NAMES.setdefault(_n, "jtorch.ao._quantized")

pytestmark = pytest.mark.filterwarnings("ignore")
torch.backends.quantized.engine = "x86"


def _np(t):
    return np.asarray(t.detach().numpy())


def _copy_state(src, dst):
    """Float state of a torch module into the same-shaped jtorch module."""
    dst.load_state_dict({k: jtorch.from_numpy(np.array(_np(v))) for k, v in
                         src.state_dict().items()})


def _both(fn):
    return fn(torch), fn(jtorch)


# ----------------------------------------------------------------------- quantized tensors

def test_top_level_names():
    for n in _TOP_LEVEL:
        assert getattr(jtorch, n) is getattr(Q, n)
    assert repr(jtorch.quint8) == "torch.quint8" and repr(jtorch.per_tensor_affine) == \
        "torch.per_tensor_affine"
    assert jtorch.quantization.quantize_dynamic is jtorch.ao.quantization.quantize_dynamic
    assert jtorch.nn.quantized.Linear is jtorch.ao.nn.quantized.Linear
    assert jtorch.nn.quantized.dynamic.LSTM is jtorch.ao.nn.quantized.dynamic.LSTM
    assert jtorch.nn.intrinsic.ConvReLU2d is jtorch.ao.nn.intrinsic.ConvReLU2d


@pytest.mark.parametrize("dtype,scale,zp", [("quint8", 0.0214854861, 3), ("qint8", 0.05, -4),
                                            ("qint32", 0.0371, 17)])
def test_quantize_per_tensor_bitexact(dtype, scale, zp):
    x = (np.random.RandomState(0).randn(4000) * 3).astype(np.float32)
    tq = torch.quantize_per_tensor(torch.from_numpy(x), scale, zp, getattr(torch, dtype))
    jq = jtorch.quantize_per_tensor(jtorch.from_numpy(x), scale, zp, getattr(jtorch, dtype))
    assert jq.is_quantized and jq.dtype is getattr(jtorch, dtype)
    assert jq.int_repr().dtype.name == tq.int_repr().dtype.__str__().split(".")[1]
    np.testing.assert_array_equal(_np(jq.int_repr()), _np(tq.int_repr()))
    np.testing.assert_array_equal(_np(jq.dequantize()), _np(tq.dequantize()))
    assert jq.q_scale() == tq.q_scale() and jq.q_zero_point() == tq.q_zero_point()
    assert jq.qscheme() is jtorch.per_tensor_affine


def test_quantize_per_channel_and_repr():
    x = np.random.RandomState(1).randn(3, 5).astype(np.float32)
    s, z = np.array([0.01, 0.02, 0.05]), np.array([0, 2, -3])
    tq = torch.quantize_per_channel(torch.from_numpy(x), torch.from_numpy(s),
                                    torch.from_numpy(z), 0, torch.qint8)
    jq = jtorch.quantize_per_channel(jtorch.from_numpy(x), jtorch.from_numpy(s),
                                     jtorch.from_numpy(z), 0, jtorch.qint8)
    np.testing.assert_array_equal(_np(jq.int_repr()), _np(tq.int_repr()))
    np.testing.assert_array_equal(_np(jq.dequantize()), _np(tq.dequantize()))
    np.testing.assert_array_equal(_np(jq.q_per_channel_scales()), _np(tq.q_per_channel_scales()))
    assert jq.q_per_channel_axis() == 0
    assert repr(jq) == repr(tq)
    small = torch.quantize_per_tensor(torch.tensor([1., 2.]), 0.1, 10, torch.quint8)
    assert repr(jtorch.quantize_per_tensor(jtorch.tensor([1., 2.]), 0.1, 10, jtorch.quint8)) \
        == repr(small)


def test_quantized_tensor_refuses_float_ops():
    q = jtorch.quantize_per_tensor(jtorch.ones(2, 3), 0.1, 0, jtorch.quint8)
    with pytest.raises(NotImplementedError, match="QuantizedCPU"):
        q + 1
    assert q.flatten().shape == (6,) and q.reshape(3, 2).q_scale() == 0.1
    with pytest.raises(RuntimeError, match="Float"):
        jtorch.quantize_per_tensor(jtorch.ones(2, dtype=jtorch.int64), 0.1, 0, jtorch.quint8)


# ----------------------------------------------------------------------------- observers

def _batches():
    rng = np.random.RandomState(1)
    out = [rng.randn(64, 30).astype(np.float32) * (1 + i * 0.5) + i * 0.3 for i in range(3)]
    out.append(np.maximum(rng.randn(64, 30).astype(np.float32) * 4, 0))
    return out


@pytest.mark.parametrize("name,kwargs", [
    ("MinMaxObserver", {}),
    ("MinMaxObserver", {"dtype": "qint8", "qscheme": "per_tensor_symmetric"}),
    ("MinMaxObserver", {"quant_min": 0, "quant_max": 127}),
    ("MovingAverageMinMaxObserver", {}),
    ("PerChannelMinMaxObserver", {"ch_axis": 1}),
    ("PerChannelMinMaxObserver", {"dtype": "qint8", "qscheme": "per_channel_symmetric"}),
    ("HistogramObserver", {"reduce_range": True}),
    ("HistogramObserver", {}),
])
def test_observer_qparams_equal_torch(name, kwargs):
    def make(T):
        kw = {k: getattr(T, v) if isinstance(v, str) else v for k, v in kwargs.items()}
        return getattr(T.ao.quantization, name)(**kw)
    to, jo = _both(make)
    for b in _batches():
        to(torch.from_numpy(b))
        jo(jtorch.from_numpy(b))
    (ts, tz), (js, jz) = to.calculate_qparams(), jo.calculate_qparams()
    np.testing.assert_array_equal(_np(js), _np(ts))
    np.testing.assert_array_equal(_np(jz), _np(tz))
    assert str(jz.dtype) == str(tz.dtype) and tuple(js.shape) == tuple(ts.shape)


def test_observer_and_qconfig_errors():
    aq = jtorch.ao.quantization
    with pytest.raises(NotImplementedError, match="HistogramObserver"):
        aq.HistogramObserver(qscheme=jtorch.per_channel_affine)
    with pytest.raises(AssertionError, match="not supported"):
        aq.get_default_qconfig("tpu")
    with pytest.raises(ValueError, match="observer instance"):
        aq.QConfig(activation=aq.MinMaxObserver(), weight=aq.default_weight_observer)
    qc = aq.get_default_qconfig("fbgemm")
    assert isinstance(qc.activation(), aq.HistogramObserver)
    assert qc.activation().quant_max == 127 and qc.weight().qscheme is jtorch.per_channel_symmetric


# ------------------------------------------------------------------------------ dynamic

def _mlp(T, hidden=32):
    nn = T.nn
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


@pytest.mark.parametrize("per_channel", [False, True])
def test_quantize_dynamic_linear_bitexact(per_channel):
    tm, jm = _both(_mlp)
    _copy_state(tm, jm)

    def spec(T):
        aq = T.ao.quantization
        return {T.nn.Linear: aq.per_channel_dynamic_qconfig} if per_channel \
            else {T.nn.Linear}
    tq = torch.ao.quantization.quantize_dynamic(tm, spec(torch), dtype=torch.qint8)
    jq = jtorch.ao.quantization.quantize_dynamic(jm, spec(jtorch), dtype=jtorch.qint8)
    assert type(jm[0]) is jtorch.nn.Linear  # inplace=False
    assert isinstance(jq[0], jtorch.ao.nn.quantized.dynamic.Linear)
    assert repr(jq) == repr(tq)
    assert list(jq.state_dict()) == list(tq.state_dict())
    np.testing.assert_array_equal(_np(jq[0].weight().int_repr()),
                                  _np(tq[0].weight().int_repr()))
    x = (np.random.RandomState(2).rand(50, 64) * 2).astype(np.float32)
    np.testing.assert_array_equal(_np(jq(jtorch.from_numpy(x))), _np(tq(torch.from_numpy(x))))


def test_quantize_dynamic_lstm():
    def make(T):
        T.manual_seed(0)
        return T.nn.Sequential(T.nn.LSTM(6, 8, num_layers=2, batch_first=True,
                                         bidirectional=True))
    tm, jm = _both(make)
    _copy_state(tm, jm)
    tq = torch.ao.quantization.quantize_dynamic(tm, {torch.nn.LSTM}, dtype=torch.qint8)
    jq = jtorch.ao.quantization.quantize_dynamic(jm, {jtorch.nn.LSTM}, dtype=jtorch.qint8)
    assert repr(jq) == repr(tq)
    x = np.random.RandomState(3).randn(3, 5, 6).astype(np.float32)
    (to, (th, tc)), (jo, (jh, jc)) = tq[0](torch.from_numpy(x)), jq[0](jtorch.from_numpy(x))
    # gates differ from torch's only by float sigmoid/tanh rounding: well within one step
    # of the int8 quantization noise
    np.testing.assert_allclose(_np(jo), _np(to), atol=2e-3)
    np.testing.assert_allclose(_np(jh), _np(th), atol=2e-3)
    np.testing.assert_allclose(_np(jc), _np(tc), atol=4e-3)
    fo = _np(tm[0](torch.from_numpy(x))[0])
    assert np.abs(_np(jo) - fo).max() < 0.05  # and close to the float LSTM


# --------------------------------------------------------------------------------- static

def _cnn(T):
    nn, aq = T.nn, T.ao.quantization

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant = aq.QuantStub()
            self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
            self.bn1 = nn.BatchNorm2d(8)
            self.relu1 = nn.ReLU()
            self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
            self.bn2 = nn.BatchNorm2d(16)
            self.relu2 = nn.ReLU()
            self.fc1 = nn.Linear(16 * 4 * 4, 32)
            self.relu3 = nn.ReLU()
            self.fc2 = nn.Linear(32, 10)
            self.dequant = aq.DeQuantStub()

        def forward(self, x):
            x = self.quant(x)
            x = self.relu1(self.bn1(self.conv1(x)))
            x = self.relu2(self.bn2(self.conv2(x)))
            x = x.flatten(1)
            x = self.relu3(self.fc1(x))
            return self.dequant(self.fc2(x))
    return Net()


_FUSE = [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"], ["fc1", "relu3"]]


def _random_bn_stats(tm):
    rng = np.random.RandomState(5)
    with torch.no_grad():
        for bn in (tm.bn1, tm.bn2):
            n = bn.num_features
            bn.running_mean.copy_(torch.from_numpy(rng.randn(n).astype(np.float32) * 0.1))
            bn.running_var.copy_(torch.from_numpy(rng.rand(n).astype(np.float32) + 0.5))
            bn.weight.copy_(torch.from_numpy(rng.rand(n).astype(np.float32) + 0.5))


def _same_qparams(jq, tq, names):
    """Each layer's output scale/zero_point equals torch's: exactly where the observed float
    activations are identical (the input), else up to the float conv/matmul's last ulp."""
    for name in names:
        jmod, tmod = getattr(jq, name), getattr(tq, name)
        js, ts = float(jmod.scale), float(tmod.scale)
        if name in ("quant", "0"):
            assert js == ts, name
        else:
            assert abs(js - ts) <= 1e-5 * ts, (name, js, ts)
        assert int(jmod.zero_point) == int(tmod.zero_point), name


def _bitexact_with_torch_qparams(jq, tq, names, run):
    """Given torch's output scales (which can differ from ours by an ulp, see above), the
    int8 network computes exactly torch's numbers."""
    for name in names:
        getattr(jq, name).scale = float(getattr(tq, name).scale)
    jo, to = run(jq, jtorch), run(tq, torch)
    np.testing.assert_array_equal(jo, to)


def _close_quantized(jo, to, step):
    """Dequantized outputs agree: the same integers (up to an ulp-different scale) except
    rare one-step rounding flips."""
    diff = np.abs(jo - to)
    assert diff.max() <= step * 1.01 + 1e-6, diff.max()
    assert (diff > step / 2).mean() <= 0.1  # flips compound through the layers


def _static_pipeline(tm, jm, calib, backend="x86", fuse=_FUSE):
    tm.eval()
    jm.eval()
    tf = torch.ao.quantization.fuse_modules(tm, fuse)
    jf = jtorch.ao.quantization.fuse_modules(jm, fuse)
    tf.qconfig = torch.ao.quantization.get_default_qconfig(backend)
    jf.qconfig = jtorch.ao.quantization.get_default_qconfig(backend)
    tp = torch.ao.quantization.prepare(tf)
    jp = jtorch.ao.quantization.prepare(jf)
    for c in calib:
        tp(torch.from_numpy(c))
        jp(jtorch.from_numpy(c))
    return (tf, jf), (tp, jp), (torch.ao.quantization.convert(tp),
                                jtorch.ao.quantization.convert(jp))


def test_fuse_modules_matches_torch():
    tm, jm = _both(_cnn)
    _random_bn_stats(tm)
    _copy_state(tm, jm)
    tm.eval()
    jm.eval()
    tf = torch.ao.quantization.fuse_modules(tm, _FUSE)
    jf = jtorch.ao.quantization.fuse_modules(jm, _FUSE)
    assert repr(jf) == repr(tf)
    assert type(jf.conv1) is jtorch.ao.nn.intrinsic.ConvReLU2d
    assert type(jf.fc1) is jtorch.ao.nn.intrinsic.LinearReLU
    assert type(jm.conv1) is jtorch.nn.Conv2d  # inplace=False leaves the original
    for name in ("conv1", "conv2"):
        for p in ("weight", "bias"):
            np.testing.assert_array_equal(_np(getattr(getattr(jf, name)[0], p)),
                                          _np(getattr(getattr(tf, name)[0], p)))
    with pytest.raises(AssertionError, match="eval"):
        jtorch.ao.quantization.fuse_modules(_cnn(jtorch).train(), [["conv1", "bn1"]])
    with pytest.raises(NotImplementedError, match="Cannot fuse"):
        jtorch.ao.quantization.fuse_modules(jm, [["conv1", "fc1"]])


def test_static_quantization_matches_torch():
    tm, jm = _both(_cnn)
    _random_bn_stats(tm)
    _copy_state(tm, jm)
    rng = np.random.RandomState(6)
    calib = [rng.rand(16, 1, 8, 8).astype(np.float32) for _ in range(2)]
    (tf, jf), (tp, jp), (tq, jq) = _static_pipeline(tm, jm, calib)
    # observers attached where torch attaches them (the float convs feeding them may
    # differ from torch's by an ulp, so the recorded ranges are compared approximately)
    num = re.compile(r"(min_val|max_val)=[-0-9.e]+")
    assert num.sub(r"\1=_", repr(jp)) == num.sub(r"\1=_", repr(tp))
    assert type(jp.conv1.activation_post_process).__name__ == "HistogramObserver"
    assert type(jq.conv1) is jtorch.ao.nn.intrinsic.quantized.ConvReLU2d
    assert type(jq.fc1) is jtorch.ao.nn.intrinsic.quantized.LinearReLU
    assert type(jq.fc2) is jtorch.ao.nn.quantized.Linear
    assert type(jq.quant) is jtorch.ao.nn.quantized.Quantize
    assert list(jq.state_dict()) == list(tq.state_dict())
    _same_qparams(jq, tq, ("quant", "conv1", "conv2", "fc1", "fc2"))
    for name in ("conv1", "conv2", "fc1", "fc2"):
        w_j, w_t = getattr(jq, name).weight(), getattr(tq, name).weight()
        np.testing.assert_array_equal(_np(w_j.int_repr()), _np(w_t.int_repr()))
        np.testing.assert_array_equal(_np(w_j.q_per_channel_scales()),
                                      _np(w_t.q_per_channel_scales()))
    x = rng.rand(32, 1, 8, 8).astype(np.float32)
    _close_quantized(_np(jq(jtorch.from_numpy(x))), _np(tq(torch.from_numpy(x))),
                     float(tq.fc2.scale))
    _bitexact_with_torch_qparams(jq, tq, ("conv1", "conv2", "fc1", "fc2"),
                                 lambda m, T: _np(m(T.from_numpy(x))))
    # intermediate quantized tensors are bit-identical too
    jx, tx = jq.quant(jtorch.from_numpy(x)), tq.quant(torch.from_numpy(x))
    jy, ty = jq.conv1(jx), tq.conv1(tx)
    assert jy.dtype is jtorch.quint8 and jy.q_scale() == ty.q_scale()
    np.testing.assert_array_equal(_np(jy.int_repr()), _np(ty.int_repr()))


def test_static_default_qconfig_and_errors():
    def make(T):
        T.manual_seed(0)
        nn, aq = T.nn, T.ao.quantization
        return nn.Sequential(aq.QuantStub(), nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 3),
                             aq.DeQuantStub())
    tm, jm = _both(make)
    _copy_state(tm, jm)
    tm = torch.ao.quantization.fuse_modules(tm.eval(), [["1", "2"]])
    jm = jtorch.ao.quantization.fuse_modules(jm.eval(), [["1", "2"]])
    tm.qconfig = torch.ao.quantization.default_qconfig
    jm.qconfig = jtorch.ao.quantization.default_qconfig
    tp, jp = torch.ao.quantization.prepare(tm), jtorch.ao.quantization.prepare(jm)
    x = np.random.RandomState(7).randn(20, 12).astype(np.float32)
    tp(torch.from_numpy(x))
    jp(jtorch.from_numpy(x))
    tq, jq = torch.ao.quantization.convert(tp), jtorch.ao.quantization.convert(jp)
    # the float matmul feeding each observer may differ from torch's by an ulp
    num = re.compile(r"scale=[-0-9.e]+")
    assert num.sub("scale=_", repr(jq)) == num.sub("scale=_", repr(tq))
    _same_qparams(jq, tq, ("0", "1", "3"))
    _close_quantized(_np(jq(jtorch.from_numpy(x))), _np(tq(torch.from_numpy(x))),
                     float(tq[3].scale))
    _bitexact_with_torch_qparams(jq, tq, ("1", "3"), lambda m, T: _np(m(T.from_numpy(x))))
    with pytest.raises(NotImplementedError):
        jq[1](jtorch.from_numpy(x))  # a quantized Linear wants a quantized input
    # a float module jtorch cannot quantize yet fails loudly at convert
    bn = jtorch.nn.Sequential(jtorch.nn.BatchNorm2d(3)).eval()
    bn.qconfig = jtorch.ao.quantization.default_qconfig
    prepared = jtorch.ao.quantization.prepare(bn)
    prepared(jtorch.randn(2, 3, 4, 4))
    with pytest.raises(NotImplementedError, match="quantized.BatchNorm2d"):
        jtorch.ao.quantization.convert(prepared)


# ------------------------------------------------------------------- accuracy on digits

def _digits(images):
    from sklearn.datasets import load_digits
    d = load_digits()
    x = d.data.astype(np.float32) / 16.0
    if images:
        x = x.reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    perm = np.random.RandomState(0).permutation(len(x))
    tr, te = perm[:1400], perm[1400:]
    return x[tr], y[tr], x[te], y[te]


def _train_torch(model, x, y, steps, lr):
    """A few hundred steps of momentum SGD in torch (the float weights both sides share)."""
    rng = np.random.RandomState(0)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    params = list(model.parameters())
    bufs = [torch.zeros_like(p) for p in params]
    model.train()
    for _ in range(steps):
        idx = torch.from_numpy(rng.randint(0, len(x), 64))
        grads = torch.autograd.grad(
            torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]), params)
        with torch.no_grad():
            for p, g, b in zip(params, grads, bufs):
                b.mul_(0.9).add_(g)
                p.sub_(lr * b)
    return model.eval()


def _acc(logits, y):
    return float((logits.argmax(1) == y).mean())


def test_digits_mlp_dynamic_and_static_accuracy():
    x, y, xte, yte = _digits(images=False)

    def make(T):
        nn, aq = T.nn, T.ao.quantization
        return nn.Sequential(aq.QuantStub(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10),
                             aq.DeQuantStub())
    torch.manual_seed(0)
    tm, jm = _both(make)
    _train_torch(tm, x, y, steps=150, lr=0.05)
    _copy_state(tm, jm)
    jm.eval()
    float_acc = _acc(_np(tm(torch.from_numpy(xte))), yte)
    assert float_acc > 0.9
    tq = torch.ao.quantization.quantize_dynamic(tm, {torch.nn.Linear})
    jq = jtorch.ao.quantization.quantize_dynamic(jm, {jtorch.nn.Linear})
    to, jo = _np(tq(torch.from_numpy(xte))), _np(jq(jtorch.from_numpy(xte)))
    np.testing.assert_array_equal(jo, to)
    assert abs(_acc(jo, yte) - float_acc) <= 0.02
    (_, _), (_, _), (tq, jq) = _static_pipeline(tm, jm, [x[:256], x[256:512]],
                                                fuse=[["1", "2"]])
    _same_qparams(jq, tq, ("0", "1", "3"))
    to, jo = _np(tq(torch.from_numpy(xte))), _np(jq(jtorch.from_numpy(xte)))
    _close_quantized(jo, to, float(tq[3].scale))
    assert abs(_acc(jo, yte) - _acc(to, yte)) <= 0.01
    _bitexact_with_torch_qparams(jq, tq, ("1", "3"), lambda m, T: _np(m(T.from_numpy(xte))))
    assert abs(_acc(jo, yte) - float_acc) <= 0.03


def test_digits_cnn_static_accuracy():
    x, y, xte, yte = _digits(images=True)
    torch.manual_seed(0)
    tm, jm = _both(_cnn)
    _train_torch(tm, x, y, steps=120, lr=0.05)
    _copy_state(tm, jm)
    float_acc = _acc(_np(tm(torch.from_numpy(xte))), yte)
    assert float_acc > 0.9
    (_, _), (_, _), (tq, jq) = _static_pipeline(tm, jm, [x[:200], x[200:400]])
    _same_qparams(jq, tq, ("quant", "conv1", "conv2", "fc1", "fc2"))
    to, jo = _np(tq(torch.from_numpy(xte))), _np(jq(jtorch.from_numpy(xte)))
    _close_quantized(jo, to, float(tq.fc2.scale))
    assert abs(_acc(jo, yte) - _acc(to, yte)) <= 0.01
    _bitexact_with_torch_qparams(jq, tq, ("conv1", "conv2", "fc1", "fc2"),
                                 lambda m, T: _np(m(T.from_numpy(xte))))
    assert abs(_acc(jo, yte) - float_acc) <= 0.03



# ------------------------------------------- ordinary ops on quantized tensors (_qdispatch)

def _q_pair(shape=(2, 3, 6, 6), seed=8):
    x = np.random.RandomState(seed).randn(*shape).astype(np.float32)
    return (torch.quantize_per_tensor(torch.from_numpy(x), 0.03, 70, torch.quint8),
            jtorch.quantize_per_tensor(jtorch.from_numpy(x), 0.03, 70, jtorch.quint8))


def _hook(name, targs, statics=()):
    from jtorch._ops.registry import OPS
    from jtorch.ao import _qdispatch
    return _qdispatch.hook(OPS[name], targs, statics)


def _same_q(jq, tq):
    assert jq.dtype is jtorch.quint8 and tuple(jq.shape) == tuple(tq.shape)
    assert jq.q_scale() == tq.q_scale() and jq.q_zero_point() == tq.q_zero_point()
    np.testing.assert_array_equal(_np(jq.int_repr()), _np(tq.int_repr()))


def test_qdispatch_selection_ops_match_torch():
    tq, jq = _q_pair()
    _same_q(_hook("relu", (jq,)), torch.relu(tq))
    _same_q(_hook("_jt_max_pool", (jq,), ((2, 2), (2, 2), (0, 0), (1, 1), False)),
            torch.nn.functional.max_pool2d(tq, 2))
    _same_q(_hook("_jt_max_pool", (jq,), ((3, 3), (2, 2), (1, 1), (1, 1), False)),
            torch.nn.functional.max_pool2d(tq, 3, 2, 1))
    _same_q(_hook("_flatten", (jq,), (1, -1)), torch.flatten(tq, 1))
    _same_q(_hook("permute", (jq,), ((0, 2, 3, 1),)), tq.permute(0, 2, 3, 1))
    tq2, jq2 = _q_pair(seed=9)
    _same_q(_hook("cat", ([jq, jq2],), (1,)), torch.cat([tq, tq2], 1))
    tq3 = torch.quantize_per_tensor(tq2.dequantize(), 0.05, 60, torch.quint8)
    jq3 = jtorch.quantize_per_tensor(jq2.dequantize(), 0.05, 60, jtorch.quint8)
    _same_q(_hook("cat", ([jq, jq3],), (0,)), torch.cat([tq, tq3], 0))  # requantized to the first
    assert _hook("relu", (jtorch.ones(2),)) is NotImplemented
    with pytest.raises(NotImplementedError, match="QuantizedCPU"):
        _hook("sigmoid", (jq,))


def test_unfused_relu_and_maxpool_through_dispatch():
    def make(T):
        T.manual_seed(0)
        nn, aq = T.nn, T.ao.quantization
        return nn.Sequential(aq.QuantStub(), nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 5), aq.DeQuantStub())
    tm, jm = _both(make)
    _copy_state(tm, jm)
    x = np.random.RandomState(10).rand(8, 1, 8, 8).astype(np.float32)
    for m, T in ((tm, torch), (jm, jtorch)):
        m.eval()
        m.qconfig = T.ao.quantization.default_qconfig
    tp, jp = torch.ao.quantization.prepare(tm), jtorch.ao.quantization.prepare(jm)
    tp(torch.from_numpy(x))
    jp(jtorch.from_numpy(x))
    tq, jq = torch.ao.quantization.convert(tp), jtorch.ao.quantization.convert(jp)
    _close_quantized(_np(jq(jtorch.from_numpy(x))), _np(tq(torch.from_numpy(x))),
                     float(tq[5].scale))


def test_quantized_model_copy_state_dict_roundtrip():
    import copy
    aq, nn = jtorch.ao.quantization, jtorch.nn
    m = nn.Sequential(aq.QuantStub(), nn.Conv2d(1, 4, 3), nn.ReLU(), aq.DeQuantStub()).eval()
    f = aq.fuse_modules(m, [["1", "2"]])
    f.qconfig = aq.get_default_qconfig("fbgemm")
    x = jtorch.randn(2, 1, 5, 5)
    p1, p2 = aq.prepare(f), aq.prepare(f)
    p1(x)
    p2(x * 3)
    q1, q2 = aq.convert(p1), aq.convert(p2)
    y = _np(q1(x))
    np.testing.assert_array_equal(_np(copy.deepcopy(q1)(x)), y)
    assert q2[1].scale != q1[1].scale
    assert str(q2.load_state_dict(q1.state_dict())) == "<All keys matched successfully>"
    np.testing.assert_array_equal(_np(q2(x)), y)
    with pytest.raises(NotImplementedError, match="quantized"):
        jtorch.save(q1.state_dict(), "/dev/null")
    with pytest.raises(RuntimeError, match="kPerTensorAffine"):
        q1[1].weight().q_scale()  # per-channel weight


def test_residual_add_with_float_functional():
    def make(T):
        T.manual_seed(0)
        nn, aq = T.nn, T.ao.quantization

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.quant = aq.QuantStub()
                self.conv1 = nn.Conv2d(3, 3, 3, padding=1)
                self.relu1 = nn.ReLU()
                self.conv2 = nn.Conv2d(3, 3, 3, padding=1)
                self.skip = T.ao.nn.quantized.FloatFunctional()
                self.dequant = aq.DeQuantStub()

            def forward(self, x):
                x = self.quant(x)
                y = self.conv2(self.relu1(self.conv1(x)))
                return self.dequant(self.skip.add_relu(x, y))
        return Block().eval()
    tm, jm = _both(make)
    _copy_state(tm, jm)
    rng = np.random.RandomState(11)
    calib = [rng.randn(4, 3, 6, 6).astype(np.float32) for _ in range(2)]
    (_, _), (tp, jp), (tq, jq) = _static_pipeline(tm, jm, calib, fuse=[["conv1", "relu1"]])
    assert type(jp.skip.activation_post_process).__name__ == "HistogramObserver"
    assert type(jq.skip) is jtorch.ao.nn.quantized.QFunctional
    num = re.compile(r"scale=[-0-9.e]+")
    assert num.sub("scale=_", repr(jq)) == num.sub("scale=_", repr(tq))
    _same_qparams(jq, tq, ("quant", "conv1", "conv2", "skip"))
    x = rng.randn(4, 3, 6, 6).astype(np.float32)
    _bitexact_with_torch_qparams(jq, tq, ("conv1", "conv2", "skip"),
                                 lambda m, T: _np(m(T.from_numpy(x))))
