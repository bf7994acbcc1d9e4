"""jtorch.save / jtorch.load against real torch.save / torch.load (both directions)."""
import argparse
import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

import jtorch
from jtorch import serialization as S

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
          "float64", "complex64", "complex128"]


def _np(t):
    """Values of a torch or jtorch tensor as numpy (bfloat16 widened to float32)."""
    if isinstance(t, torch.Tensor):
        t = t.detach()
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    a = np.asarray(t._value)
    return a.astype(np.float32) if a.dtype.name == "bfloat16" else a


def _same(j, t):
    assert isinstance(j, jtorch.Tensor) and isinstance(t, torch.Tensor)
    assert j.dtype.name == str(t.dtype).replace("torch.", "")
    assert tuple(j.shape) == tuple(t.shape)
    assert j.requires_grad == t.requires_grad
    np.testing.assert_array_equal(_np(j), _np(t))


def _torch_sample(name, shape=(2, 3)):
    g = torch.Generator().manual_seed(0)
    dt = getattr(torch, name)
    if name == "bool":
        return torch.rand(shape, generator=g) > 0.5
    if dt.is_floating_point or dt.is_complex:
        return (torch.randn(shape, generator=g, dtype=torch.float64) * 10).to(dt)
    return torch.randint(0, 100, shape, generator=g).to(dt)


def _bytes(obj, saver=torch.save, **kw):
    buf = io.BytesIO()
    saver(obj, buf, **kw)
    return buf.getvalue()


# ------------------------------------------------------------------ torch -> jtorch

def test_torch_to_jtorch_every_dtype():
    sd = {}
    for name in DTYPES:
        x = _torch_sample(name)
        sd[name] = x
        sd[name + "_t"] = x.t()                  # non-contiguous
        sd[name + "_0d"] = x[1, 2].clone()       # 0-d
        sd[name + "_empty"] = x[:0]
    got = jtorch.load(io.BytesIO(_bytes(sd)))
    assert got.keys() == sd.keys()
    for k in sd:
        _same(got[k], sd[k])


def test_jtorch_to_torch_every_dtype():
    src = {}
    for name in DTYPES:
        x = jtorch.from_numpy(_np(_torch_sample(name))).to(getattr(jtorch, name))
        src[name] = x
        src[name + "_t"] = x.t()
        src[name + "_0d"] = jtorch.tensor(3, dtype=getattr(jtorch, name))
        src[name + "_empty"] = jtorch.zeros((0, 3), dtype=getattr(jtorch, name))
    got = torch.load(io.BytesIO(_bytes(src, jtorch.save)), weights_only=True)
    for k, j in src.items():
        _same(j, got[k])
    assert got["float32_t"].stride() == (1, 3)  # the transpose kept its storage layout


def test_state_dict_and_parameters_from_torch():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    sd = model.state_dict()
    got = jtorch.load(io.BytesIO(_bytes(sd)))
    assert isinstance(got, collections.OrderedDict) and list(got) == list(sd)
    for k in sd:
        _same(got[k], sd[k])
    params = {"w": model[0].weight, "b": model[0].bias}
    got = jtorch.load(io.BytesIO(_bytes(params)))
    for k in params:
        _same(got[k], params[k])
        assert got[k].is_leaf


def test_optimizer_state_dict_round_trip():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    got = jtorch.load(io.BytesIO(_bytes(sd)))
    assert got["param_groups"] == [dict(g) for g in sd["param_groups"]]
    for i, st in sd["state"].items():
        for k, v in st.items():
            _same(got["state"][i][k], v)
    back = torch.load(io.BytesIO(_bytes(got, jtorch.save)), weights_only=True)
    opt2 = torch.optim.Adam(torch.nn.Linear(3, 2).parameters(), lr=0.5)
    opt2.load_state_dict(back)
    assert opt2.param_groups[0]["lr"] == 0.1
    for i, st in sd["state"].items():
        for k, v in st.items():
            torch.testing.assert_close(opt2.state_dict()["state"][i][k], v)


def test_torch_views_load_sharing_one_root():
    b = torch.arange(12.).reshape(3, 4)
    got = jtorch.load(io.BytesIO(_bytes({"a": b, "col": b[:, 1], "tt": b.t()})))
    a, col, tt = got["a"], got["col"], got["tt"]
    _same(col, b[:, 1])
    _same(tt, b.t())
    assert col._base is a and tt._base is a and a._base is None
    a[0, 1] = 100.0  # a write through the root is seen by its views, as in torch
    assert col.tolist() == [100.0, 5.0, 9.0] and tt[1, 0].item() == 100.0
    col[2] = -1.0
    assert a[2, 1].item() == -1.0

    # no tensor spans the storage: both rows become views of one hidden root
    got = jtorch.load(io.BytesIO(_bytes({"r0": b[0], "r2": b[2]})))
    r0, r2 = got["r0"], got["r2"]
    _same(r0, b[0])
    _same(r2, b[2])
    assert r0._base is r2._base and r0._base is not None
    r0[0] = 7.0
    assert r2.tolist() == [8.0, 9.0, 10.0, 11.0]


def test_tensors_requiring_grad_on_one_storage_load_as_leaves():
    w = torch.nn.Parameter(torch.ones(4))
    got = jtorch.load(io.BytesIO(_bytes({"w": w, "w2": w.detach()[1:].requires_grad_()})))
    assert got["w"].is_leaf and got["w"].requires_grad and got["w2"].requires_grad
    _same(got["w2"], w.detach()[1:].requires_grad_())


# ------------------------------------------------------------------ jtorch -> torch

def test_jtorch_views_save_as_one_storage():
    base = jtorch.arange(12.0).reshape(3, 4)
    src = {"base": base, "col": base[:, 1], "t": base.t(), "exp": base[0].expand(2, 4),
           "tied": base.detach()}
    got = torch.load(io.BytesIO(_bytes(src, jtorch.save)), weights_only=True)
    ptr = got["base"].untyped_storage().data_ptr()
    for k, j in src.items():
        _same(j, got[k])
        assert got[k].untyped_storage().data_ptr() == ptr, k
    assert (got["col"].storage_offset(), got["col"].stride()) == (1, (4,))
    assert got["t"].stride() == (1, 4) and got["exp"].stride() == (0, 1)
    got["base"][0, 1] = 50.0  # torch sees one storage
    assert got["col"][0].item() == 50.0 and got["tied"][0, 1].item() == 50.0

    # a view saved without its base still writes the whole storage, like torch
    alone = torch.load(io.BytesIO(_bytes(base[1], jtorch.save)), weights_only=True)
    assert alone.storage_offset() == 4 and alone.untyped_storage().nbytes() == 48
    _same(base[1], alone)


def test_view_of_other_dtype_gets_its_own_storage():
    c = jtorch.tensor([1 + 2j, 3 - 4j])
    src = {"c": c, "r": jtorch.view_as_real(c)}
    got = torch.load(io.BytesIO(_bytes(src, jtorch.save)), weights_only=True)
    for k in src:
        _same(src[k], got[k])


def test_jtorch_round_trip_containers_and_scalars():
    x = jtorch.tensor([1.5, 2.5], requires_grad=True)
    obj = {"t": x, "same": x, "nested": [(1, 2.5, "s", None, True), {"k": [x, 3 + 4j]}],
           "bytes": b"\x00\x01", "set": {1, 2}, "dt": jtorch.float16,
           "dev": jtorch.device("cpu"), "size": jtorch.Size([2, 3]), "big": 2 ** 70}
    for reader in (jtorch.load, lambda b: torch.load(b, weights_only=True)):
        got = reader(io.BytesIO(_bytes(obj, jtorch.save)))
        assert got["same"] is got["t"] and got["nested"][1]["k"][0] is got["t"]
        assert got["nested"][0] == (1, 2.5, "s", None, True) and got["nested"][1]["k"][1] == 3 + 4j
        assert got["bytes"] == b"\x00\x01" and got["set"] == {1, 2} and got["big"] == 2 ** 70
        assert str(got["dt"]) == "torch.float16" and str(got["dev"]) == "cpu"
        assert tuple(got["size"]) == (2, 3) and type(got["size"]).__name__ == "Size"
        assert got["t"].requires_grad and got["t"].tolist() == [1.5, 2.5]


def test_format_records_match_torch():
    names = zipfile.ZipFile(io.BytesIO(_bytes({"a": jtorch.ones(2)}, jtorch.save))).namelist()
    ref = zipfile.ZipFile(io.BytesIO(_bytes({"a": torch.ones(2)}))).namelist()
    assert names == ref


def test_paths_and_mmap(tmp_path):
    p = tmp_path / "ckpt.pt"
    jtorch.save({"w": jtorch.arange(6.0).reshape(2, 3)}, p)           # PathLike
    got = torch.load(str(p), weights_only=True, mmap=True)             # needs aligned records
    assert got["w"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert zipfile.ZipFile(p).namelist()[0] == "ckpt/data.pkl"
    torch.save({"w": torch.arange(4)}, str(p))
    assert jtorch.load(str(p), mmap=True)["w"].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="file path"):
        jtorch.load(io.BytesIO(p.read_bytes()), mmap=True)
    with pytest.raises(RuntimeError, match="Parent directory"):
        jtorch.save(1, tmp_path / "missing" / "x.pt")


# ------------------------------------------------------------------ map_location

def _rewrite(raw, edit):
    """A copy of zip checkpoint `raw` with each record's bytes passed through edit(name, data)."""
    zin = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for n in zin.namelist():
            zout.writestr(n, edit(n, zin.read(n)))
    return out.getvalue()


def _cuda_file():
    """A checkpoint as a GPU machine writes it: the storage's location is 'cuda:0'."""
    return _rewrite(_bytes({"w": torch.arange(3.0)}), lambda n, d: d.replace(
        b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0") if n.endswith("data.pkl") else d)


@pytest.mark.parametrize("ml", ["cpu", jtorch.device("cpu"), {"cuda:0": "cpu"},
                                lambda storage, loc: storage])
def test_map_location_to_cpu(ml):
    got = jtorch.load(io.BytesIO(_cuda_file()), map_location=ml)
    assert got["w"].tolist() == [0.0, 1.0, 2.0] and got["w"].device.type == "cpu"


def test_cuda_location_without_map_location():
    if jtorch._device.gpu_devices():
        assert jtorch.load(io.BytesIO(_cuda_file()))["w"].device.type == "cuda"
        return
    with pytest.raises(RuntimeError) as ours:
        jtorch.load(io.BytesIO(_cuda_file()))
    with pytest.raises(RuntimeError) as theirs:
        torch.load(io.BytesIO(_cuda_file()), weights_only=True)
    assert str(ours.value) == str(theirs.value)


# ------------------------------------------------------------------ weights_only safety

def _with_pickle(payload):
    """A torch checkpoint whose data.pkl is replaced by `payload`."""
    return _rewrite(_bytes({"a": 1}), lambda n, d: payload if n.endswith("data.pkl") else d)


class _TouchViaOs:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


class _TouchViaOpen:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("evil", [_TouchViaOs, _TouchViaOpen])
def test_malicious_pickle_is_refused_not_run(tmp_path, evil):
    target = tmp_path / "pwned"
    data = _with_pickle(pickle.dumps({"x": evil(target)}, protocol=2))
    with pytest.raises(pickle.UnpicklingError) as ours:
        jtorch.load(io.BytesIO(data))
    assert not target.exists()
    with pytest.raises(pickle.UnpicklingError) as theirs:
        torch.load(io.BytesIO(data), weights_only=True)
    assert not target.exists()
    assert str(ours.value) == str(theirs.value)
    assert str(ours.value).startswith("Weights only load failed.")


def test_unlisted_class_refused_unless_allowlisted_or_unsafe():
    data = _bytes({"ns": argparse.Namespace(lr=0.1)})
    with pytest.raises(pickle.UnpicklingError) as ours:
        jtorch.load(io.BytesIO(data))
    with pytest.raises(pickle.UnpicklingError) as theirs:
        torch.load(io.BytesIO(data), weights_only=True)
    assert str(ours.value) == str(theirs.value)
    assert jtorch.load(io.BytesIO(data), weights_only=False)["ns"].lr == 0.1
    with S.safe_globals([argparse.Namespace]):
        assert jtorch.load(io.BytesIO(data))["ns"].lr == 0.1
    with pytest.raises(pickle.UnpicklingError):
        jtorch.load(io.BytesIO(data))


def test_crafted_opcodes_refused():
    # BUILD into an allow-listed stand-in (would tamper with jtorch's own globals)
    build = b"\x80\x02ctorch\nFloatStorage\n}X\x05\x00\x00\x00dtypeK\x01sb."
    # REDUCE / NEWOBJ on objects that are not allow-listed globals
    reduce_ = b"\x80\x02])R."
    newobj = b"\x80\x02ccollections\nOrderedDict\n)R)\x81."
    for payload in (build, reduce_, newobj):
        with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
            jtorch.load(io.BytesIO(_with_pickle(payload)))
    assert str(S._ALLOWED["torch.FloatStorage"].dtype) == "torch.float32"


def test_out_of_bounds_layout_and_missing_dtype():
    data = _rewrite(_bytes({"w": torch.arange(4.0)}), lambda n, d: d.replace(
        b"K\x00K\x04\x85", b"K\x03K\x04\x85"))
    with pytest.raises(RuntimeError, match="out of bounds"):
        jtorch.load(io.BytesIO(data))
    with pytest.raises(NotImplementedError, match="uint16"):
        jtorch.load(io.BytesIO(_bytes(torch.ones(2, dtype=torch.uint16))))


def test_conj_metadata_and_big_endian():
    x = torch.tensor([1 + 2j, 3 - 1j])
    _same(jtorch.load(io.BytesIO(_bytes(x.conj()))), x.conj().resolve_conj())

    def big(name, data):
        if name.endswith("byteorder"):
            return b"big"
        if "/data/" in name:  # swap each float32 / complex64 component
            return np.frombuffer(data, np.uint8).reshape(-1, 4)[:, ::-1].tobytes()
        return data

    data = _rewrite(_bytes({"w": torch.tensor([1.5, -2.0]), "c": x}), big)
    got = jtorch.load(io.BytesIO(data))
    theirs = torch.load(io.BytesIO(data), weights_only=True)
    _same(got["w"], theirs["w"])
    _same(got["c"], theirs["c"])
    _same(got["c"], x)


# ------------------------------------------------------------------ atomic saves

def test_save_is_atomic(tmp_path, monkeypatch):
    p = tmp_path / "model.pt"
    jtorch.save({"w": jtorch.ones(3)}, p)
    before = p.read_bytes()
    real = S._write_record

    def flaky(zf, name, data):
        if "/data/" in name:
            raise OSError("disk full")
        return real(zf, name, data)

    monkeypatch.setattr(S, "_write_record", flaky)
    with pytest.raises(OSError, match="disk full"):
        jtorch.save({"w": jtorch.zeros(5)}, p)
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.pt"]
    monkeypatch.setattr(S, "_write_record", real)
    jtorch.save({"w": jtorch.zeros(5)}, str(p))
    assert torch.load(p, weights_only=True)["w"].tolist() == [0.0] * 5
    assert sorted(os.listdir(tmp_path)) == ["model.pt"]


# ------------------------------------------------------------------ legacy format

def test_legacy_format_both_ways():
    b = torch.arange(6.0).reshape(2, 3)
    src = {"a": b, "v": b[:, 1], "i": torch.tensor([1, 2]), "h": torch.ones(2).half()}
    got = jtorch.load(io.BytesIO(_bytes(src, _use_new_zipfile_serialization=False)))
    for k in src:
        _same(got[k], src[k])
    assert got["v"]._base is got["a"]

    j = {"a": jtorch.arange(6.0).reshape(2, 3), "i": jtorch.tensor([1, 2])}
    j["v"] = j["a"][:, 1]
    data = _bytes(j, jtorch.save, _use_new_zipfile_serialization=False)
    theirs = torch.load(io.BytesIO(data), weights_only=True)
    for k in j:
        _same(j[k], theirs[k])
    assert theirs["v"].untyped_storage().data_ptr() == theirs["a"].untyped_storage().data_ptr()
    assert jtorch.load(io.BytesIO(data))["v"].tolist() == [1.0, 4.0]
    with pytest.raises(RuntimeError, match="magic number"):
        jtorch.load(io.BytesIO(b"not a checkpoint"))


# ------------------------------------------------------------------ parameters and attributes

class Parameter(jtorch.Tensor):
    """Stands in for jtorch.nn.Parameter (saved through torch._utils._rebuild_parameter)."""


Parameter.__module__ = "jtorch.nn.parameter"


def test_parameter_and_tensor_attributes_both_ways():
    p = jtorch._tensor._init_as(object.__new__(Parameter), jtorch.ones(2)._value)
    p.requires_grad_()
    t = jtorch.arange(3)
    t.tag = "buffer"
    got = torch.load(io.BytesIO(_bytes({"p": p, "t": t}, jtorch.save)), weights_only=True)
    assert isinstance(got["p"], torch.nn.Parameter) and got["p"].requires_grad
    assert got["p"].tolist() == [1.0, 1.0]
    assert got["t"].tag == "buffer" and got["t"].tolist() == [0, 1, 2]

    x = torch.arange(3)
    x.tag = "buffer"
    back = jtorch.load(io.BytesIO(_bytes({"x": x, "p": torch.nn.Parameter(torch.ones(2))})))
    assert back["x"].tag == "buffer" and back["x"].tolist() == [0, 1, 2]
    assert back["p"].requires_grad and back["p"].is_leaf
