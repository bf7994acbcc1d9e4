"""jtorch.utils.tensorboard.SummaryWriter against torch.utils.tensorboard: the same calls on
both, read back with TensorBoard's own EventAccumulator, must give the same records."""
import io
import os

import numpy as np
import pytest

import tensorboard  # noqa: F401,E402  (in the test extra: the reader these tests use)
import torch  # noqa: E402
import torch.utils.tensorboard as ttb  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

import jtorch  # noqa: E402
import jtorch.utils.tensorboard as jtb  # noqa: E402

GUIDE = {"images": 0, "tensors": 0, "histograms": 0, "scalars": 0}


def _acc(d):
    acc = EventAccumulator(str(d), size_guidance=GUIDE)
    acc.Reload()
    return acc


def _both(tmp_path, log):
    """Run `log(writer, lib)` with torch's writer and jtorch's; their accumulators."""
    out = []
    for name, lib, mod in (("torch", torch, ttb), ("jtorch", jtorch, jtb)):
        d = tmp_path / name
        with mod.SummaryWriter(str(d)) as w:
            log(w, lib)
        out.append(d)
    return out


def test_scalars_and_add_scalars(tmp_path):
    def log(w, lib):
        for i, v in enumerate([1.5, 0.25, -3.0]):
            w.add_scalar("loss", v if i else lib.tensor(v), i * 10)
        w.add_scalar("new", 2.5, 1, new_style=True)
        w.add_scalars("run", {"a": 1.0, "b": lib.tensor(2.0)}, 3)
    td, jd = _both(tmp_path, log)
    t, j = _acc(td), _acc(jd)
    assert j.Tags()["scalars"] == t.Tags()["scalars"] == ["loss"]
    assert [(e.step, e.value) for e in j.Scalars("loss")] == \
        [(e.step, e.value) for e in t.Scalars("loss")] == [(0, 1.5), (10, 0.25), (20, -3.0)]
    assert j.Tensors("new")[0].tensor_proto == t.Tensors("new")[0].tensor_proto
    assert j.SummaryMetadata("new") == t.SummaryMetadata("new")
    assert sorted(os.listdir(jd)) == sorted(os.listdir(td)) or \
        sorted(p for p in os.listdir(jd) if "run_" in p) == ["run_a", "run_b"]
    for sub, val in (("run_a", 1.0), ("run_b", 2.0)):
        acc = _acc(jd / sub)
        assert [(e.step, e.value) for e in acc.Scalars("run")] == [(3, val)]


@pytest.mark.parametrize("bins,max_bins", [("tensorflow", None), (10, None), ("auto", None),
                                           ("tensorflow", 40)])
def test_histogram(tmp_path, bins, max_bins):
    vals = np.random.RandomState(0).randn(200).astype(np.float32) * 3

    def log(w, lib):
        w.add_histogram("h", lib.tensor(vals), 7, bins=bins, max_bins=max_bins)
    td, jd = _both(tmp_path, log)
    t, j = _acc(td).Histograms("h")[0], _acc(jd).Histograms("h")[0]
    assert j.step == t.step == 7
    th, jh = t.histogram_value, j.histogram_value
    for f in ("min", "max", "num"):
        assert getattr(jh, f) == getattr(th, f)
    np.testing.assert_allclose([jh.sum, jh.sum_squares], [th.sum, th.sum_squares], rtol=1e-9)
    np.testing.assert_allclose(jh.bucket_limit, th.bucket_limit, rtol=1e-12)
    assert list(jh.bucket) == list(th.bucket)


def _pixels(img):
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(img.encoded_image_string)))


@pytest.mark.parametrize("shape,fmt,uint8", [((3, 5, 7), "CHW", False), ((5, 7, 3), "HWC", False),
                                              ((5, 7), "HW", False), ((1, 4, 6), "CHW", True),
                                              ((5, 7, 4), "HWC", True)])
def test_image(tmp_path, shape, fmt, uint8):
    rs = np.random.RandomState(1)
    arr = (rs.randint(0, 256, shape).astype(np.uint8) if uint8
           else rs.rand(*shape).astype(np.float32))

    def log(w, lib):
        w.add_image("img", lib.tensor(arr), 2, dataformats=fmt)
    td, jd = _both(tmp_path, log)
    t, j = _acc(td).Images("img")[0], _acc(jd).Images("img")[0]
    assert (j.step, j.width, j.height) == (t.step, t.width, t.height)
    tp, jp = _pixels(t), _pixels(j)
    assert jp.shape == tp.shape and jp.shape[:2] == (t.height, t.width)
    np.testing.assert_array_equal(jp, tp)


@pytest.mark.parametrize("shape,fmt", [((10, 1, 4, 6), "NCHW"), ((3, 4, 6, 3), "NHWC")])
def test_images_grid(tmp_path, shape, fmt):
    arr = np.random.RandomState(2).rand(*shape).astype(np.float32)

    def log(w, lib):
        w.add_images("imgs", lib.tensor(arr), 0, dataformats=fmt)
    td, jd = _both(tmp_path, log)
    t, j = _acc(td).Images("imgs")[0], _acc(jd).Images("imgs")[0]
    assert (j.width, j.height) == (t.width, t.height)
    np.testing.assert_array_equal(_pixels(j), _pixels(t))


def test_image_bad_format(tmp_path):
    with jtb.SummaryWriter(str(tmp_path)) as w, pytest.raises(AssertionError):
        w.add_image("img", jtorch.zeros(3, 4), dataformats="CHW")


def test_text(tmp_path):
    def log(w, lib):
        w.add_text("notes", "hello **world** é", 4)
    td, jd = _both(tmp_path, log)
    t, j = _acc(td), _acc(jd)
    assert j.Tags()["tensors"] == t.Tags()["tensors"] == ["notes/text_summary"]
    te, je = t.Tensors("notes/text_summary")[0], j.Tensors("notes/text_summary")[0]
    assert je.step == te.step == 4 and je.tensor_proto == te.tensor_proto
    assert j.SummaryMetadata("notes/text_summary") == t.SummaryMetadata("notes/text_summary")


def test_hparams(tmp_path):
    def log(w, lib):
        w.add_hparams({"lr": 0.1, "bs": 16, "opt": "sgd", "nesterov": True,
                       "wd": lib.tensor([0.5])},
                      {"hparam/acc": 0.75}, hparam_domain_discrete={"opt": ["sgd", "adam"]},
                      run_name="trial")
    td, jd = _both(tmp_path, log)
    t, j = _acc(td / "trial"), _acc(jd / "trial")
    tc, jc = t.PluginTagToContent("hparams"), j.PluginTagToContent("hparams")
    assert sorted(jc) == sorted(tc) == ["_hparams_/experiment", "_hparams_/session_end_info",
                                        "_hparams_/session_start_info"]
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
    for tag in tc:
        assert HParamsPluginData.FromString(jc[tag]) == HParamsPluginData.FromString(tc[tag]), tag
    assert [e.value for e in j.Scalars("hparam/acc")] == [0.75]


def test_hparams_bad_value(tmp_path):
    with jtb.SummaryWriter(str(tmp_path)) as w, pytest.raises(ValueError, match="value should"):
        w.add_hparams({"x": [1, 2]}, {"m": 1.0})


class _Block:
    """A residual block on `lib`: nested modules, a method call and an add."""

    @staticmethod
    def build(lib):
        nn = lib.nn

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.act = nn.Tanh()

            def forward(self, x):
                return x + self.act(self.fc(x)).relu()

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.inp = nn.Linear(3, 4)
                self.block = Block()
                self.out = nn.Linear(4, 2)

            def forward(self, x):
                return self.out(self.block(self.inp(x)))
        return Net()


def _ops(g, prefix):
    """[(scope, op, [(scope, op) of op inputs])] in file order, for the `prefix`:: nodes."""
    by_name = {n.name: n for n in g.node}

    def label(name):
        n = by_name[name.split(":")[0]]
        return (n.name.rpartition("/")[0], n.op.split("::")[1]) if "::" in n.op and \
            n.op.startswith(prefix) else None
    out = []
    for n in g.node:
        if n.op.startswith(prefix + "::"):
            ins = [label(i) for i in n.input]
            out.append((n.name.rpartition("/")[0], n.op.split("::")[1],
                        [i for i in ins if i is not None]))
    return out


@pytest.mark.parametrize("make", ["sequential", "nested"])
def test_graph_matches_torch(tmp_path, make):
    graphs = {}
    for name, lib, mod in (("torch", torch, ttb), ("jtorch", jtorch, jtb)):
        lib.manual_seed(0)
        nn = lib.nn
        m = (nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)) if make == "sequential"
             else _Block.build(lib))
        with mod.SummaryWriter(str(tmp_path / name)) as w:
            w.add_graph(m, lib.randn(5, 3))
        acc = _acc(tmp_path / name)
        assert acc.Tags()["graph"]
        graphs[name] = acc.Graph()
    t_ops, j_ops = _ops(graphs["torch"], "aten"), _ops(graphs["jtorch"], "jtorch")
    assert j_ops == t_ops and len(j_ops) >= 3
    g = graphs["jtorch"]
    by_name = {n.name: n for n in g.node}
    # parameters sit under their module's scope and feed its op
    root = "Sequential" if make == "sequential" else "Net"
    first = f"{root}/Linear[0]" if make == "sequential" else f"{root}/Linear[inp]"
    assert by_name[f"{first}/weight"].op == "Parameter"
    lin = next(n for n in g.node if n.name.startswith(first + "/linear"))
    assert list(lin.input) == ["input/input.0", f"{first}/weight", f"{first}/bias"]
    # every input names an existing node; the output is reached from the input
    for n in g.node:
        for i in n.input:
            assert i.split(":")[0] in by_name
    seen, todo = set(), ["output/output.0"]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(i.split(":")[0] for i in by_name[name].input)
    assert "input/input.0" in seen
    shape = by_name["output/output.0"].attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shape.dim] == [5, 2]


def test_graph_of_a_function(tmp_path):
    """A plain callable traces too; operators and methods are named by their jtorch op."""
    def f(x):
        return (jtorch.sigmoid(x) * 2 / x.sum()).view(3, 1)
    with jtb.SummaryWriter(str(tmp_path)) as w:
        w.add_graph(f, (jtorch.ones(3),))
    ops = [n.op for n in _acc(tmp_path).Graph().node]
    assert ops == ["IO Node", "jtorch::sigmoid", "jtorch::mul", "jtorch::sum", "jtorch::div",
                   "jtorch::view", "IO Node"]


def test_graph_non_jtorch_calls_show_primitives():
    import jax
    import jax.numpy as jnp
    from jtorch.utils.tensorboard._graph import _graph_def
    jx = jax.make_jaxpr(lambda a: jax.jit(jnp.sin)(a) * 2)(jnp.ones(3)).jaxpr
    g = _graph_def(jx, [], {"": "f"}, 1)
    assert [(n.name, n.op, list(n.input)) for n in g.node] == [
        ("input/input.0", "IO Node", []), ("f/sin_0", "sin", ["input/input.0"]),
        ("f/mul_1", "mul", ["f/sin_0"]), ("output/output.0", "IO Node", ["f/mul_1"])]


def test_default_logdir_comment_suffix_purge(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = jtb.SummaryWriter(comment="_exp", filename_suffix=".v1", purge_step=5)
    w.add_scalar("x", 1.0, 5)
    w.close()
    (run,) = os.listdir(tmp_path / "runs")
    assert run.endswith("_exp") and run == w.get_logdir().split(os.sep)[-1]
    (f,) = os.listdir(tmp_path / "runs" / run)
    assert f.startswith("events.out.tfevents.") and f.endswith(".v1")
    acc = _acc(tmp_path / "runs" / run)
    assert [(e.step, e.value) for e in acc.Scalars("x")] == [(5, 1.0)]
    # closed writers reopen on the next record, as torch's do
    w.add_scalar("x", 2.0, 6)
    w.flush()
    w.close()


def test_flush_writes_before_close(tmp_path):
    w = jtb.SummaryWriter(str(tmp_path), flush_secs=1000)
    w.add_scalar("a", 3.0, 1)
    w.flush()
    assert [e.value for e in _acc(tmp_path).Scalars("a")] == [3.0]
    w.close()


def test_missing_api_raises(tmp_path):
    with jtb.SummaryWriter(str(tmp_path)) as w, pytest.raises(NotImplementedError,
                                                              match="add_audio"):
        w.add_audio("a", jtorch.zeros(10))


def test_missing_tensorboard_names_the_package(monkeypatch):
    import importlib
    import sys
    for name in [m for m in sys.modules if m.startswith("jtorch.utils.tensorboard")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        importlib.import_module("jtorch.utils.tensorboard")
