"""jtorch.onnx.export: the ONNX file passes onnx.checker and onnxruntime reproduces the
module (and real torch on the same weights) within 1e-5, at the export batch size and at
another one through dynamic_axes."""
import io
import os
import subprocess
import sys

import numpy as np
import pytest
import torch as real_torch

import jtorch as torch
from jtorch import nn

import onnx  # noqa: E402  (in the test extra)
import onnxruntime as ort  # noqa: E402


def _export(model, args, **kw):
    f = io.BytesIO()
    torch.onnx.export(model, args, f, **kw)
    proto = onnx.load_from_string(f.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    sess = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    return proto, sess


def _run(sess, *arrays):
    feeds = {i.name: np.asarray(a) for i, a in zip(sess.get_inputs(), arrays)}
    return sess.run(None, feeds)


def _real(jmodel, tmodel):
    tmodel.load_state_dict({k: real_torch.from_numpy(np.array(v.numpy()))
                            for k, v in jmodel.state_dict().items()})
    return tmodel.eval()


def test_mlp_dynamic_batch_matches_torch():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.Linear(16, 16), nn.Tanh(),
                      nn.Linear(16, 3), nn.LogSoftmax(-1))
    t = _real(m, real_torch.nn.Sequential(
        real_torch.nn.Linear(6, 16), real_torch.nn.GELU(), real_torch.nn.Linear(16, 16),
        real_torch.nn.Tanh(), real_torch.nn.Linear(16, 3), real_torch.nn.LogSoftmax(-1)))
    proto, sess = _export(m, (torch.randn(2, 6),), input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    assert [i.name for i in proto.graph.initializer if not i.name.startswith("/")] == \
        list(m.state_dict())
    assert [i.name for i in proto.graph.input] == ["x"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 6
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    for n in (2, 5):
        x = np.random.RandomState(n).randn(n, 6).astype(np.float32)
        (y,) = _run(sess, x)
        assert y.shape == (n, 3)
        np.testing.assert_allclose(y, m(torch.from_numpy(x)).detach().numpy(), atol=1e-5)
        np.testing.assert_allclose(y, t(real_torch.from_numpy(x)).detach().numpy(), atol=1e-5)


def _cnn(mod):
    return mod.Sequential(
        mod.Conv2d(3, 8, 3, padding=1), mod.BatchNorm2d(8), mod.ReLU(), mod.MaxPool2d(2),
        mod.Conv2d(8, 8, 3, stride=2, padding=1, groups=2), mod.BatchNorm2d(8), mod.ReLU(),
        mod.AvgPool2d(2), mod.AdaptiveAvgPool2d(1), mod.Flatten(), mod.Linear(8, 4))


def test_cnn_batchnorm_eval_dynamic_batch_matches_torch():
    torch.manual_seed(1)
    m = _cnn(nn)
    for _ in range(2):  # move the running stats away from their initial values
        m(torch.randn(4, 3, 12, 12) * 2 + 1)
    t = _real(m, _cnn(real_torch.nn))
    assert m.training
    proto, sess = _export(m, (torch.randn(2, 3, 12, 12),), input_names=["img"],
                          dynamic_axes={"img": [0]})
    assert m.training and all(c.training for c in m.modules())  # mode restored
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "img_dynamic_axes_1"
    names = {i.name for i in proto.graph.initializer}
    assert {"1.running_mean", "1.running_var", "0.weight", "10.bias"} <= names
    assert "1.num_batches_tracked" not in names  # unused in eval mode
    m.eval()
    for n in (2, 5):
        x = np.random.RandomState(n).randn(n, 3, 12, 12).astype(np.float32)
        (y,) = _run(sess, x)
        np.testing.assert_allclose(y, m(torch.from_numpy(x)).detach().numpy(), atol=1e-5)
        np.testing.assert_allclose(y, t(real_torch.from_numpy(x)).detach().numpy(), atol=1e-5)


def _encoder():
    torch.manual_seed(2)
    layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True)
    return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)


def test_transformer_encoder_padding_mask_dynamic_batch_and_seq():
    enc = _encoder()
    x = torch.randn(2, 5, 16)
    pad = torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    proto, sess = _export(enc, (x, None, pad), input_names=["src", "pad"],
                          dynamic_axes={"src": {0: "batch", 1: "seq"},
                                        "pad": {0: "batch", 1: "seq"}})
    enc.eval()
    for b, s in ((2, 5), (5, 7), (3, 2)):
        xs = np.random.RandomState(b).randn(b, s, 16).astype(np.float32)
        ps = np.zeros((b, s), bool)
        ps[0, s // 2:] = True
        (y,) = _run(sess, xs, ps)
        with torch.no_grad():
            ref = enc(torch.from_numpy(xs), src_key_padding_mask=torch.from_numpy(ps))
        np.testing.assert_allclose(y, ref.numpy(), atol=1e-5)


class _Causal(nn.Module):
    """An encoder whose attention mask is built in forward (a constant in the graph)."""

    def __init__(self):
        super().__init__()
        self.enc = _encoder()

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        return self.enc(x, mask=mask)


def test_transformer_encoder_causal_mask_and_plain():
    m = _Causal()
    x = torch.randn(2, 6, 16)
    _, sess = _export(m, (x,), dynamic_axes={"x": {0: "batch"}})
    _, plain = _export(m.enc, (x,), dynamic_axes={"src": {0: "batch"}})
    m.eval()
    xs = np.random.RandomState(0).randn(5, 6, 16).astype(np.float32)
    with torch.no_grad():
        causal_ref = m(torch.from_numpy(xs)).numpy()
        plain_ref = m.enc(torch.from_numpy(xs)).numpy()
    np.testing.assert_allclose(_run(sess, xs)[0], causal_ref, atol=1e-5)
    np.testing.assert_allclose(_run(plain, xs)[0], plain_ref, atol=1e-5)
    assert np.abs(causal_ref - plain_ref).max() > 1e-3  # the mask matters


class _Tokens(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.norm = nn.LayerNorm(8)
        self.gru = nn.GRU(8, 6, batch_first=True)

    def forward(self, idx):
        out, h = self.gru(self.norm(self.emb(idx)))
        return out[:, -1] + h[0]


class _Indexing(nn.Module):
    def forward(self, x):
        y = torch.cat([x, x * 2], 1)[:, 1:5]
        y = nn.functional.pad(y, (1, 1)) + torch.clamp(x[:, :1], -0.5, 0.5)
        return (torch.softmax(y, -1).cumsum(-1), y.max(-1).values, y.argmax(-1),
                torch.where(y > 0, y, y.exp()))


@pytest.mark.parametrize("case", ["tokens", "indexing", "conv_transpose"])
def test_more_layers_dynamic_batch(case):
    torch.manual_seed(4)
    if case == "tokens":
        m, make = _Tokens(), lambda n: torch.randint(0, 10, (n, 5))
    elif case == "indexing":
        m, make = _Indexing(), lambda n: torch.randn(n, 4)
    else:
        m = nn.Sequential(nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, groups=2),
                          nn.ConvTranspose2d(2, 1, 4, stride=3, padding=2, output_padding=1))
        make = lambda n: torch.randn(n, 4, 3, 5)  # noqa: E731
    _, sess = _export(m, (make(2),), input_names=["x"], dynamic_axes={"x": {0: "b"}})
    for n in (2, 3):
        x = make(n)
        with torch.no_grad():
            ref = m(x)
        ref = ref if isinstance(ref, tuple) else (ref,)
        for got, want in zip(_run(sess, x.numpy()), ref):
            np.testing.assert_allclose(got, want.numpy(), atol=1e-5)


def test_onnx_program_save_verify_and_dynamo_false(tmp_path):
    torch.manual_seed(3)
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    x = torch.randn(2, 3)
    prog = torch.onnx.export(m, (x,), verify=True)
    assert isinstance(prog, torch.onnx.ONNXProgram)
    (y,) = prog(x)
    torch.testing.assert_close(y, m(x).detach(), atol=1e-6, rtol=1e-6)
    path = tmp_path / "m.onnx"
    prog.save(str(path))
    onnx.checker.check_model(str(path))
    assert torch.onnx.export(m, (x,), str(tmp_path / "n.onnx"), dynamo=False) is None
    assert (tmp_path / "n.onnx").stat().st_size > 0


def test_export_params_false_and_initializers_as_inputs():
    m = nn.Linear(3, 2)
    x = torch.randn(1, 3)
    p1, _ = _export(m, (x,), export_params=False)
    assert [i.name for i in p1.graph.input] == ["input", "weight", "bias"]
    assert not [i for i in p1.graph.initializer if not i.name.startswith("/")]
    p2, s2 = _export(m, (x,), keep_initializers_as_inputs=True)
    assert [i.name for i in p2.graph.input] == ["input", "weight", "bias"]
    (y,) = _run(s2, x.numpy(), m.weight.detach().numpy(), m.bias.detach().numpy())
    np.testing.assert_allclose(y, m(x).detach().numpy(), atol=1e-6)


def test_is_in_onnx_export():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(torch.onnx.is_in_onnx_export())
            return x * 2

    assert not torch.onnx.is_in_onnx_export()
    torch.onnx.export(Probe(), (torch.ones(2),))
    assert seen and all(seen)
    assert not torch.onnx.is_in_onnx_export()


def test_unsupported_options_and_data_dependent_code():
    m = nn.Linear(2, 2)
    x = torch.ones(1, 2)
    for kw, word in (({"dynamic_shapes": {}}, "dynamic_shapes"),
                     ({"training": torch.onnx.TrainingMode.TRAINING}, "TRAINING"),
                     ({"custom_opsets": {"x": 1}}, "custom_opsets"),
                     ({"opset_version": 9}, "opset_version"),
                     ({"export_modules_as_functions": True}, "export_modules_as_functions")):
        with pytest.raises(NotImplementedError, match=word):
            torch.onnx.export(m, (x,), **kw)

    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(NotImplementedError, match="value of a tensor"):
        torch.onnx.export(Branchy(), (x,))

    drop = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    with pytest.raises(NotImplementedError, match="random numbers"):
        torch.onnx.export(drop, (x,), training=torch.onnx.TrainingMode.PRESERVE)
    torch.onnx.export(drop, (x,))   # eval mode (the default): dropout is the identity
    assert drop.training

    class Sorts(nn.Module):
        def forward(self, x):
            return torch.sort(x).values

    with pytest.raises(NotImplementedError, match="primitive 'sort'"):
        torch.onnx.export(Sorts(), (x,))


def test_onnx_is_lazy_and_names_its_dependency():
    code = ("import sys, jtorch; jtorch.onnx; assert 'onnx' not in sys.modules; "
            "sys.modules['onnx'] = None\n"
            "try:\n    jtorch.onnx.export(jtorch.nn.Linear(1, 1), (jtorch.ones(1),))\n"
            "except ImportError as e:\n    assert 'pip install onnx' in str(e), e\n"
            "else:\n    raise SystemExit('no ImportError')\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=env, cwd=root)
    assert proc.returncode == 0, proc.stderr[-2000:]
