"""jtorch.save / jtorch.load: checkpoints in PyTorch's own file format, without torch.

The format (torch >= 1.6) is a stored (uncompressed) zip archive::

    <archive>/data.pkl                 the object, pickled (protocol 2); tensors are
                                       GLOBAL torch._utils._rebuild_tensor_v2 REDUCE calls
                                       whose storage argument is a persistent id
                                       ('storage', torch.FloatStorage, key, location, numel)
    <archive>/.format_version          b"1"
    <archive>/.storage_alignment       b"64"  (storage records start 64-byte aligned)
    <archive>/byteorder                b"little"
    <archive>/data/<key>               a storage's raw bytes, native order
    <archive>/version                  b"3\\n"
    <archive>/.data/serialization_id   40 digits

Writing names torch's globals (``torch.FloatStorage``, ``torch._utils._rebuild_tensor_v2``)
without importing torch: a pure-Python Pickler whose ``save_global`` emits GLOBAL opcodes
for small stand-in objects. Reading maps those names to jtorch equivalents; with
``weights_only=True`` (the default) only torch's allow-list of globals is admitted and the
pickle's risky opcodes (REDUCE, BUILD, NEWOBJ, APPEND, SETITEM) are checked, so a crafted
pickle is refused before anything it names is called.

Storage sharing. Saving: tensors over the same jtorch storage cell (``t._st``) are written
as one storage; a view's storage offset and strides are recovered from its index map into
the root (``dispatch.scatter_fn``) when that map is an affine strided pattern with
non-negative strides, otherwise the view is written as its own (contiguous) storage.
Loading: tensors built from one storage (and one dtype) become jtorch views of one root -
the tensor that spans the whole storage contiguously if there is one, else a hidden 1-D
tensor over the storage - so writes through one are seen by the others, as in torch.
Tensors that require grad (parameters) are loaded as independent copies instead, because a
view of a leaf that requires grad would not itself be a leaf.

The legacy (pre-1.6, non-zip) format is read and, with
``_use_new_zipfile_serialization=False``, written.
"""
from __future__ import annotations

import _compat_pickle
import codecs
import collections
import contextlib
import contextvars
import hashlib
import importlib
import io
import os
import pickle
import re
import struct
import sys
import tempfile
import zipfile

import jax
import numpy as np

from . import _device
from . import _dtype as D
from ._tensor import Size, Tensor, wrap

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals",
           "safe_globals", "DEFAULT_PROTOCOL"]

DEFAULT_PROTOCOL = 2
_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_LEGACY_PROTOCOL = 1001
_ALIGN = 64
_STORAGE_NAMES = {
    "bool": "BoolStorage", "uint8": "ByteStorage", "int8": "CharStorage",
    "int16": "ShortStorage", "int32": "IntStorage", "int64": "LongStorage",
    "float16": "HalfStorage", "bfloat16": "BFloat16Storage", "float32": "FloatStorage",
    "float64": "DoubleStorage", "complex64": "ComplexFloatStorage",
    "complex128": "ComplexDoubleStorage",
}
# torch dtypes jtorch has no array type for: allowed in a checkpoint, refused when used
_MISSING_DTYPES = (
    ["qint8", "qint32", "quint8", "quint4x2", "quint2x4", "uint16", "uint32", "uint64",
     "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
     "float4_e2m1fn_x2", "complex32", "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16"]
    + [f"uint{i}" for i in range(1, 8)] + [f"int{i}" for i in range(1, 8)])
_Q_STORAGES = {"QInt8Storage": "qint8", "QInt32Storage": "qint32", "QUInt8Storage": "quint8",
               "QUInt4x2Storage": "quint4x2", "QUInt2x4Storage": "quint2x4"}


# ===================================================================== torch's names

class _Frozen:
    """Stand-ins live in module globals: a pickle must not be able to BUILD into them."""
    __slots__ = ()

    def __setstate__(self, state):
        raise pickle.UnpicklingError(f"Can not build {self!r}")


class _TorchGlobal(_Frozen):
    """A torch global written to a pickle by name (GLOBAL module name)."""
    __slots__ = ("module", "name")

    def __init__(self, module, name):
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "name", name)

    def __call__(self, *args, **kwargs):  # pickle's save_reduce wants a callable
        raise TypeError(f"{self!r} only names a torch global inside a checkpoint")

    def __repr__(self):
        return f"<torch global {self.module}.{self.name}>"


class _StorageType(_Frozen):
    """torch.FloatStorage & co. on the loading side: just the dtype they carry."""
    __slots__ = ("name", "dtype")

    def __init__(self, name, dtype):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "dtype", dtype)

    def __repr__(self):
        return f"StorageType(dtype={self.dtype})"


class _MissingDtype(_Frozen):
    """A torch dtype jtorch lacks: loading it is fine until a tensor needs it."""
    __slots__ = ("name",)

    def __init__(self, name):
        object.__setattr__(self, "name", name)

    def __repr__(self):
        return "torch." + self.name


class _Unsupported(_Frozen):
    """An allow-listed torch global jtorch cannot build (sparse, quantized, ...)."""
    __slots__ = ("name",)

    def __init__(self, name):
        object.__setattr__(self, "name", name)

    def __call__(self, *args, **kwargs):
        raise NotImplementedError(f"jtorch.load: the checkpoint needs {self.name}, which jtorch "
                                  "does not support")

    def __repr__(self):
        return self.name


_G_REBUILD_V2 = _TorchGlobal("torch._utils", "_rebuild_tensor_v2")
_G_REBUILD_PARAM = _TorchGlobal("torch._utils", "_rebuild_parameter")
_G_REBUILD_PARAM_STATE = _TorchGlobal("torch._utils", "_rebuild_parameter_with_state")
_G_FROM_TYPE_V2 = _TorchGlobal("torch._tensor", "_rebuild_from_type_v2")
_G_TENSOR = _TorchGlobal("torch", "Tensor")
_G_SIZE = _TorchGlobal("torch", "Size")
_G_DEVICE = _TorchGlobal("torch", "device")
_G_STORAGE = {d: _TorchGlobal("torch", s) for d, s in _STORAGE_NAMES.items()}


# ===================================================================== saving

class _StorageTable:
    """The storages a save writes: one per jtorch storage cell, keys '0', '1', ..."""

    def __init__(self):
        self.by_cell = {}   # id(storage cell) -> _StorageRef
        self.refs = []

    def ref_for(self, cell, arr):
        r = self.by_cell.get(id(cell))
        if r is None:
            r = self.by_cell[id(cell)] = self.new(arr)
            r.cell = cell  # keep the cell alive so its id stays unique during the save
        return r

    def new(self, arr):
        r = _StorageRef(str(len(self.refs)), arr)
        self.refs.append(r)
        return r


class _StorageRef:
    __slots__ = ("key", "arr", "cell", "_pid")

    def __init__(self, key, arr):
        self.key, self.arr, self.cell, self._pid = key, arr, None, None

    def pid(self, legacy):
        if self._pid is None:
            d = D._BY_NP[self.arr.dtype]
            loc = _location(self.arr)
            self._pid = ("storage", _G_STORAGE[d.name], self.key, loc, int(self.arr.size))
            if legacy:
                self._pid += (None,)
        return self._pid

    def host(self):
        """The storage's bytes: the root array, C-contiguous, as uint8."""
        a = np.ascontiguousarray(np.asarray(self.arr)).reshape(-1)
        return a.view(np.uint8)


class _TensorData:
    """A parameter's `.data`, pickled as a plain tensor that does not require grad."""
    __slots__ = ("t",)

    def __init__(self, t):
        self.t = t


def _location(arr):
    try:
        dev = next(iter(arr.devices()))
    except Exception:  # noqa: BLE001 - numpy arrays and the like live on the CPU
        return "cpu"
    return str(_device.from_jax(dev))


def _contiguous_strides(shape):
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(strides))


def _affine(idx):
    """(offset, strides) if the index map idx[i0, i1, ..] == offset + sum(i_k * stride_k)."""
    shape = idx.shape
    strides = list(_contiguous_strides(shape))
    if idx.size == 0:
        return 0, tuple(strides)
    offset = int(idx.reshape(-1)[0])
    expect = np.full(shape, offset, dtype=np.int64)
    for k, n in enumerate(shape):
        if n > 1:
            at = [0] * len(shape)
            at[k] = 1
            strides[k] = int(idx[tuple(at)]) - offset
            if strides[k] < 0:
                return None
            step = [1] * len(shape)
            step[k] = n
            expect = expect + (np.arange(n, dtype=np.int64) * strides[k]).reshape(step)
    if not np.array_equal(expect, idx):
        return None
    return offset, tuple(strides)


def _layout(t):
    """(root array, offset, strides) of t inside its storage cell, or None if not strided."""
    root = t._st.arr
    if not t._chain:
        return root, 0, _contiguous_strides(root.shape)
    if t._value.dtype != root.dtype:
        return None
    from ._ops.dispatch import scatter_fn
    idx = np.asarray(scatter_fn(t._chain, tuple(root.shape))[1]).reshape(tuple(t.shape))
    lay = _affine(idx)
    return None if lay is None else (root, lay[0], lay[1])


def _is_jtorch_parameter(t):
    cls = type(t)
    return cls.__name__ == "Parameter" and cls.__module__.startswith("jtorch.nn")


class _TorchPickler(pickle._Pickler):
    """Pickles jtorch objects under torch's names; tensors' storages become persistent ids."""

    def __init__(self, file, protocol, table, legacy=False):
        super().__init__(file, protocol)
        self.table, self.legacy = table, legacy

    def persistent_id(self, obj):
        if type(obj) is _StorageRef:
            return obj.pid(self.legacy)
        return None

    def save_global(self, obj, name=None):
        t = type(obj)
        if t is _TorchGlobal:
            module, name = obj.module, obj.name
        elif t is D.dtype:
            module, name = "torch", obj.name
        else:
            return super().save_global(obj, name)
        if self.proto >= 4:
            self.save(module)
            self.save(name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode("utf-8"))
        self.memoize(obj)

    def reducer_override(self, obj):
        t = type(obj)
        if t is _TorchGlobal or t is D.dtype:
            return "torch"  # a str means "save as global": handled by save_global above
        if t is _device.device:
            return (_G_DEVICE, (obj.type,) if obj.index is None else (obj.type, obj.index))
        if t is Size:
            return (_G_SIZE, (tuple(obj),))
        if t is _TensorData:
            return (_G_REBUILD_V2, self._tensor_args(obj.t, False))
        if isinstance(obj, Tensor):
            return self._reduce_tensor(obj)
        return NotImplemented

    def _reduce_tensor(self, t):
        state = dict(t.__dict__)
        if _is_jtorch_parameter(t):
            if state:
                return (_G_REBUILD_PARAM_STATE,
                        (_TensorData(t), t.requires_grad, collections.OrderedDict(), state))
            return (_G_REBUILD_PARAM, (_TensorData(t), t.requires_grad, collections.OrderedDict()))
        args = self._tensor_args(t, t.requires_grad)
        if state:
            return (_G_FROM_TYPE_V2, (_G_REBUILD_V2, _G_TENSOR, args, state))
        return (_G_REBUILD_V2, args)

    def _tensor_args(self, t, requires_grad):
        lay = _layout(t)
        if lay is None:  # not a strided view of its root: its own contiguous storage
            arr = t._value
            ref, offset, strides = self.table.new(arr), 0, _contiguous_strides(arr.shape)
        else:
            root, offset, strides = lay
            ref = self.table.ref_for(t._st, root)
        return (ref, offset, tuple(t.shape), strides, bool(requires_grad),
                collections.OrderedDict())


def _write_record(zf, name, data):
    """One stored zip record, its data 64-byte aligned (torch's mmap loading needs it)."""
    mv = memoryview(data).cast("B") if not isinstance(data, np.ndarray) else memoryview(data)
    size = mv.nbytes
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_STORED
    zi.file_size = size
    zip64 = size * 1.05 > zipfile.ZIP64_LIMIT
    header = 30 + len(name.encode("utf-8")) + (20 if zip64 else 0)
    pad = (-(zf.start_dir + header + 4)) % _ALIGN
    zi.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # 'FB' padding field, as torch
    with zf.open(zi, "w", force_zip64=zip64) as w:
        w.write(mv)


def _save_zip(obj, fh, archive, protocol, byteorder_record):
    table = _StorageTable()
    buf = io.BytesIO()
    _TorchPickler(buf, protocol, table).dump(obj)
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        _write_record(zf, f"{archive}/data.pkl", buf.getvalue())
        _write_record(zf, f"{archive}/.format_version", b"1")
        _write_record(zf, f"{archive}/.storage_alignment", str(_ALIGN).encode())
        if byteorder_record:
            _write_record(zf, f"{archive}/byteorder", sys.byteorder.encode())
        for ref in table.refs:
            _write_record(zf, f"{archive}/data/{ref.key}", ref.host())
        _write_record(zf, f"{archive}/version", b"3\n")
        h = hashlib.sha1(b"".join(struct.pack("<IQ", zi.CRC, zi.file_size)
                                  for zi in zf.infolist())).hexdigest()
        _write_record(zf, f"{archive}/.data/serialization_id",
                      f"{int(h, 16) % 10 ** 40:040d}".encode())


def _save_legacy(obj, fh, protocol):
    """torch's pre-1.6 layout: magic, protocol, sys info, the object, keys, then storages."""
    def dump(o):
        _TorchPickler(fh, protocol, table, legacy=True).dump(o)

    table = _StorageTable()
    dump(_LEGACY_MAGIC)
    dump(_LEGACY_PROTOCOL)
    dump({"protocol_version": _LEGACY_PROTOCOL, "little_endian": sys.byteorder == "little",
          "type_sizes": {"short": 2, "int": 4, "long": 4}})
    dump(obj)
    dump([r.key for r in table.refs])
    for r in table.refs:
        fh.write(struct.pack("<q" if sys.byteorder == "little" else ">q", int(r.arr.size)))
        fh.write(memoryview(r.host()))


def _atomic_write(path, write):
    """Write to a temporary file next to `path`, fsync, then rename over it."""
    path = os.path.realpath(os.fspath(path))
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        raise RuntimeError(f"Parent directory {parent} does not exist.")
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _is_path(f):
    return isinstance(f, (str, os.PathLike))


def save(obj, f, pickle_module=pickle, pickle_protocol=DEFAULT_PROTOCOL,
         _use_new_zipfile_serialization=True, _disable_byteorder_record=False):
    """torch.save: write `obj` in torch's checkpoint format (readable by torch.load).

    A path is written atomically (temporary file, fsync, rename): an interrupted save
    leaves the previous file intact. A file-like object is written directly.
    """
    if pickle_module is not pickle:
        raise NotImplementedError("jtorch.save: only the standard pickle module is supported "
                                  "as pickle_module")

    def write(fh, archive):
        if _use_new_zipfile_serialization:
            _save_zip(obj, fh, archive, pickle_protocol, not _disable_byteorder_record)
        else:
            _save_legacy(obj, fh, pickle_protocol)

    if _is_path(f):
        stem = os.path.splitext(os.path.basename(os.fspath(f)))[0] or "archive"
        _atomic_write(f, lambda fh: write(fh, stem))
    else:
        write(f, "archive")


# ===================================================================== loading

_CTX = contextvars.ContextVar("jtorch_load_ctx", default=None)


class _LoadedStorage:
    """A storage read from a checkpoint: raw bytes, a dtype, and where it is restored to."""

    def __init__(self, ctx, key, dtype, raw, device):
        self.ctx, self.key, self.dtype, self.raw, self.device = ctx, key, dtype, raw, device

    def typed(self, dtype):
        if isinstance(dtype, _MissingDtype) or dtype is None:
            raise NotImplementedError(f"jtorch.load: tensors of dtype {dtype} are not "
                                      "supported by jtorch")
        raw = self.raw
        n = raw.size // dtype.itemsize
        raw = raw[:n * dtype.itemsize]
        if self.ctx.byteorder != sys.byteorder and dtype.itemsize > 1:
            part = dtype.itemsize // 2 if dtype.is_complex else dtype.itemsize
            raw = np.ascontiguousarray(raw.reshape(-1, part)[:, ::-1]).reshape(-1)
        return raw.view(dtype.np)

    def nbytes(self):
        return int(self.raw.size)

    def size(self):
        return int(self.raw.size) // getattr(self.dtype, "itemsize", 1)

    def to(self, device):
        return _LoadedStorage(self.ctx, self.key, self.dtype, self.raw,
                              _device.to_device(device))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        return self.to(f"cuda:{device}" if isinstance(device, int) else (device or "cuda"))

    def _placed(self):
        """Resolve the storage's device (torch's error when CUDA is asked for and absent)."""
        dev = self.device
        dev = _device.to_device(_text(dev) if isinstance(dev, bytes) else dev)
        try:
            jdev = _device.jax_device(dev)
        except _device.CudaUnavailableError:
            raise RuntimeError(
                "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() "
                "is False. If you are running on a CPU-only machine, please use torch.load with "
                "map_location=torch.device('cpu') to map your storages to the CPU.") from None
        self.device, self.jax_device = dev, jdev
        return self

    def __repr__(self):
        return f"<jtorch loaded storage key={self.key} dtype={self.dtype} device={self.device}>"


class _LoadCtx:
    def __init__(self, map_location, read, byteorder="little"):
        self.map_location, self.read, self.byteorder = map_location, read, byteorder
        self.storages = {}
        self.built = []      # (tensor, storage, dtype, offset, size, stride)
        self.wrapped = set()  # ids of built tensors handed to a Parameter / subclass

    def storage(self, pid, weights_only):
        if type(pid) is not tuple or not pid:
            raise pickle.UnpicklingError(f"persistent_load id must be tuple or int, but got "
                                         f"{type(pid)}")
        tag = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if tag != "storage":
            if weights_only:
                raise pickle.UnpicklingError(f"Only persistent_load of storage is allowed, but "
                                             f"got {type(pid[0])}")
            raise NotImplementedError(f"jtorch.load: persistent id {tag!r} (legacy module "
                                      "source records) is not supported")
        if len(pid) not in (5, 6) or not isinstance(pid[1], _StorageType):
            raise pickle.UnpicklingError(f"jtorch.load: malformed storage record {pid!r}")
        stype, key, location = pid[1], _text(pid[2]), _text(pid[3])
        view = pid[5] if len(pid) == 6 else None
        st = self.storages.get(key)
        if st is None:
            if stype.dtype is None:
                raise NotImplementedError(f"jtorch.load: storage type torch.{stype.name} is "
                                          "not supported")
            raw = self.read(key)
            st = _LoadedStorage(self, key, stype.dtype, raw, None)
            st = self.storages[key] = self.restore(st, location)
        if view is not None:  # legacy storage view: (view_key, offset, size) in elements
            vkey, off, size = view
            vst = self.storages.get(vkey)
            if vst is None:
                isz = st.dtype.itemsize
                vst = _LoadedStorage(self, vkey, st.dtype, st.raw[off * isz:(off + size) * isz],
                                     st.device)._placed()
                self.storages[vkey] = vst
            return vst
        return st

    def restore(self, st, location):
        ml = self.map_location
        if callable(ml) and not isinstance(ml, (str, _device.device, dict)):
            res = ml(st, location)
            if isinstance(res, _LoadedStorage):
                return res._placed()
            target = location
        elif ml is None:
            target = location
        elif isinstance(ml, dict):
            target = ml.get(location, location)
        else:
            target = ml
        st.device = target
        return st._placed()


def _text(x):
    return x.decode("ascii") if isinstance(x, bytes) else str(x)


def _tensor_from_storage(storage, dtype, offset, size, stride):
    """A jtorch tensor holding storage[offset + sum(i_k * stride_k)] (bounds-checked)."""
    if not isinstance(storage, _LoadedStorage):
        raise pickle.UnpicklingError(f"jtorch.load: expected a storage, got {type(storage)}")
    flat = storage.typed(dtype)  # NotImplementedError for dtypes jtorch lacks
    offset = int(offset)
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    if len(size) != len(stride) or any(s < 0 for s in size) or any(s < 0 for s in stride) \
            or offset < 0:
        raise RuntimeError(f"jtorch.load: invalid tensor layout: size {list(size)}, stride "
                           f"{list(stride)}, storage offset {offset}")
    numel = int(np.prod(size, dtype=np.int64))
    if numel:
        need = offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
        if need > flat.size:
            isz = dtype.itemsize
            raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                               f"offset {offset}, and itemsize {isz} requiring a storage size of "
                               f"{need * isz} are out of bounds for storage of size "
                               f"{flat.size * isz}")
        view = np.lib.stride_tricks.as_strided(
            flat[offset:], size, tuple(s * dtype.itemsize for s in stride), writeable=False)
        arr = np.array(view, copy=True)
    else:
        arr = np.empty(size, dtype.np)
    t = wrap(jax.device_put(arr, storage.jax_device))
    storage.ctx.built.append((t, storage, dtype, offset, size, stride))
    return t


def _apply_metadata(t, metadata):
    if not metadata:
        return t
    extra = set(metadata) - {"conj", "neg"}
    if extra:
        raise NotImplementedError(f"jtorch.load: tensor metadata {sorted(extra)} is not "
                                  "supported")
    v = t._value
    if metadata.get("conj"):
        v = v.conj()
    if metadata.get("neg"):
        v = -v
    _mark_wrapped(t)
    return wrap(v)


def _set_rg(t, requires_grad):
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _tensor_from_storage(storage, storage.dtype, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    t = _tensor_from_storage(storage, storage.dtype, storage_offset, size, stride)
    return _set_rg(_apply_metadata(t, metadata), requires_grad)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    t = _tensor_from_storage(storage, dtype, storage_offset, size, stride)
    return _set_rg(_apply_metadata(t, metadata), requires_grad)


def _mark_wrapped(t):
    ctx = _CTX.get()
    if ctx is not None and isinstance(t, Tensor):
        ctx.wrapped.add(id(t))


def _make_parameter(data=None, requires_grad=True):
    """jtorch.nn.Parameter when it exists, else a tensor with requires_grad set."""
    if data is None:
        data = wrap(jax.numpy.zeros((0,), D.get_default_dtype().np))
    _mark_wrapped(data)
    try:
        Parameter = importlib.import_module("jtorch.nn").Parameter
    except (ImportError, AttributeError, NotImplementedError):
        Parameter = None
    if Parameter is not None:
        return Parameter(data, requires_grad)
    return _set_rg(data.detach(), requires_grad)


class _ParameterType(_Frozen):
    """torch.nn.parameter.Parameter as a global: called (REDUCE) or instantiated (NEWOBJ)."""
    __slots__ = ()

    def __new__(cls, data=None, requires_grad=True):
        return _make_parameter(data, requires_grad)


def _set_state(obj, state):
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
        for k, v in (slots or {}).items():
            setattr(obj, k, v)
    for k, v in (state or {}).items():
        setattr(obj, k, v)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    return _make_parameter(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    p = _make_parameter(data, requires_grad)
    _set_state(p, state)
    return p


def _rebuild_from_type_v2(func, new_type, args, state):
    ret = func(*args)
    if new_type is _ParameterType:
        ret = _make_parameter(ret, ret.requires_grad)
    elif new_type is not Tensor and type(ret) is not new_type:
        raise NotImplementedError(f"jtorch.load: tensor subclass {new_type!r} is not supported")
    if state:
        _mark_wrapped(ret)
        _set_state(ret, state)
    return ret


def _place_tensor(t, dtype, device, requires_grad):
    arr = t._value if isinstance(t, Tensor) else np.asarray(t)
    if isinstance(dtype, D.dtype):
        arr = arr.astype(dtype.np)
    st = _LoadedStorage(None, "", dtype, None, device)._placed()
    _mark_wrapped(t)
    return _set_rg(wrap(jax.device_put(arr, st.jax_device)), requires_grad)


def _rebuild_device_tensor_from_cpu_tensor(data, dtype, device, requires_grad):
    return _place_tensor(data, dtype, device, requires_grad)


def _rebuild_device_tensor_from_numpy(data, dtype, device, requires_grad):
    return _place_tensor(data, dtype, device, requires_grad)


def _get_layout(name):
    return _Unsupported(name)


_REBUILDERS = {
    "_rebuild_tensor": _rebuild_tensor,
    "_rebuild_tensor_v2": _rebuild_tensor_v2,
    "_rebuild_tensor_v3": _rebuild_tensor_v3,
    "_rebuild_parameter": _rebuild_parameter,
    "_rebuild_parameter_with_state": _rebuild_parameter_with_state,
    "_rebuild_device_tensor_from_cpu_tensor": _rebuild_device_tensor_from_cpu_tensor,
    "_rebuild_device_tensor_from_numpy": _rebuild_device_tensor_from_numpy,
}


def _torch_globals():
    """torch's weights_only allow-list, each name mapped to its jtorch equivalent."""
    g = {
        "collections.OrderedDict": collections.OrderedDict,
        "collections.Counter": collections.Counter,
        "torch.nn.parameter.Parameter": _ParameterType,
        "torch.serialization._get_layout": _get_layout,
        "torch.Size": Size,
        "torch.Tensor": Tensor,
        "torch.device": _device.device,
        "_codecs.encode": codecs.encode,
        "builtins.bytearray": bytearray,
        "builtins.set": set,
        "builtins.complex": complex,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    }
    for d in D.ALL:
        g["torch." + d.name] = d
    for name in _MISSING_DTYPES:
        g["torch." + name] = _MissingDtype(name)
    for dname, sname in _STORAGE_NAMES.items():
        g["torch." + sname] = g["torch.cuda." + sname] = _StorageType(sname, D._BY_NAME[dname])
    for sname, dname in _Q_STORAGES.items():
        g["torch." + sname] = _StorageType(sname, g["torch." + dname])
    g["torch.storage.UntypedStorage"] = _StorageType("UntypedStorage", D.uint8)
    g["torch.storage.TypedStorage"] = _StorageType("TypedStorage", None)
    for prefix in ("torch.", "torch.cuda.", "torch.sparse.", "torch.cuda.sparse."):
        for t in ("BFloat16", "Bool", "Byte", "Char", "Double", "Float", "Half", "Int", "Long",
                  "Short"):
            if "sparse" in prefix and t == "Bool":
                continue
            g[f"{prefix}{t}Tensor"] = _Unsupported(f"{prefix}{t}Tensor")
    for q in ("per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
              "per_channel_symmetric", "per_channel_affine_float_qparams"):
        g["torch." + q] = _Unsupported("torch." + q)
    for name in ("_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage",
                 "_rebuild_nested_tensor", "_rebuild_wrapper_subclass"):
        g["torch._utils." + name] = _Unsupported("torch._utils." + name)
    for name, fn in _REBUILDERS.items():
        g["torch._utils." + name] = fn
    return g


_ALLOWED = _torch_globals()
_ALLOWED_VALUES = {id(v) for v in _ALLOWED.values()}
_BLOCKED_MODULES = ("sys", "os", "posix", "nt")
_user_safe_globals: set = set()


# -------------------------------------------------------------- user allow-list

def add_safe_globals(safe_globals):
    """torch.serialization.add_safe_globals: let weights_only loads use these globals."""
    global _user_safe_globals
    _user_safe_globals = _user_safe_globals | set(safe_globals)


def get_safe_globals():
    return list(_user_safe_globals)


def clear_safe_globals():
    global _user_safe_globals
    _user_safe_globals = set()


class safe_globals:
    """Context manager: allow these globals within the block."""

    def __init__(self, globals_list):
        self.globals_list = globals_list

    def __enter__(self):
        add_safe_globals(self.globals_list)

    def __exit__(self, *exc):
        global _user_safe_globals
        _user_safe_globals = _user_safe_globals - set(self.globals_list)


def _user_allowed():
    rc = {}
    for entry in _user_safe_globals:
        if isinstance(entry, tuple):
            if len(entry) != 2:
                raise ValueError(f"Expected tuple of length 2 (global, str of callable full "
                                 f"path), but got tuple of length: {len(entry)}")
            obj, name = entry
            rc[name] = obj
        else:
            rc[f"{entry.__module__}.{entry.__qualname__}"] = entry
    return rc


# -------------------------------------------------------------- unpicklers

def _fix_name(module, name, proto):
    """Python 2 names (`__builtin__`, `copy_reg`, ...) as pickle's fix_imports maps them."""
    if proto < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
    return module, name


def _unsupported_global_message(full):
    if full.startswith("builtins."):
        full = full[len("builtins."):]
    return (f"Unsupported global: GLOBAL {full} was not an allowed global by default. Please "
            f"use `torch.serialization.add_safe_globals([{full}])` or the "
            f"`torch.serialization.safe_globals([{full}])` context manager to allowlist this "
            "global if you trust this class/function.")


_UNSAFE_MESSAGE = (
    "In PyTorch 2.6, we changed the default value of the `weights_only` argument in "
    "`torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` set to "
    "`False` will likely succeed, but it can result in arbitrary code execution. Do it only if "
    "you got the file from a trusted source.")
_DOCS_MESSAGE = (
    "\n\nCheck the documentation of torch.load to learn more about types accepted by default "
    "with weights_only https://pytorch.org/docs/stable/generated/torch.load.html.")


def _weights_only_message(message):
    """torch's wrapping of a refused weights_only load, same wording."""
    if re.search(r"GLOBAL (\S+) was not an allowed global by default.", message):
        out = ("Weights only load failed. This file can still be loaded, to do so you have two "
               "options, \033[1mdo those steps only if you trust the source of the "
               f"checkpoint\033[0m. \n\t(1) {_UNSAFE_MESSAGE}\n\t(2) Alternatively, to load "
               "with `weights_only=True` please check the recommended steps in the following "
               "error message.\n\tWeightsUnpickler error: " + message)
    else:
        out = f"Weights only load failed. {_UNSAFE_MESSAGE}\n"
        if not re.search(r"whose module (\S+) is blocked", message):
            out += ("Please file an issue with the following so that we can make "
                    "`weights_only=True` compatible with your use case: WeightsUnpickler "
                    "error: ")
        out += "\n\n" + message
    return out + _DOCS_MESSAGE


_UP = pickle._Unpickler
_DISPATCH_BASE = dict(_UP.dispatch)


class _JtorchUnpickler(_UP):
    """weights_only=False: any global, torch's names mapped to jtorch's."""
    weights_only = False
    dispatch = _DISPATCH_BASE

    def __init__(self, file, ctx, **kwargs):
        super().__init__(file, **kwargs)
        self.ctx = ctx

    def persistent_load(self, pid):
        return self.ctx.storage(pid, self.weights_only)

    def find_class(self, module, name):
        module, name = _fix_name(module, name, self.proto)
        full = f"{module}.{name}"
        obj = _ALLOWED.get(full)
        if obj is not None:
            return obj
        if module == "torch" or module.startswith("torch."):
            try:
                return getattr(importlib.import_module("jtorch" + module[5:]), name)
            except Exception:  # noqa: BLE001 - any failure means jtorch lacks it
                raise NotImplementedError(f"jtorch.load: the checkpoint needs {full}, which "
                                          "jtorch does not provide") from None
        return super().find_class(module, name)


def _refuse(msg):
    raise pickle.UnpicklingError(msg)


class _WeightsOnlyUnpickler(_JtorchUnpickler):
    """weights_only=True: torch's allow-list; risky opcodes only act on allowed objects."""
    weights_only = True
    dispatch = dict(_DISPATCH_BASE)

    def find_class(self, module, name):
        module, name = _fix_name(module, name, self.proto)
        full = f"{module}.{name}"
        if module in _BLOCKED_MODULES:
            _refuse(f"Trying to load unsupported GLOBAL {full} whose module {module} is "
                    "blocked.")
        obj = _ALLOWED.get(full)
        if obj is None:
            obj = _user_allowed().get(full)
        if obj is None:
            _refuse(_unsupported_global_message(full))
        return obj

    def _allowed(self, obj):
        return id(obj) in _ALLOWED_VALUES or any(obj is v for v in _user_allowed().values())

    def load_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        if not self._allowed(func):
            _refuse(f"Trying to call reduce for unrecognized function {func}")
        self.stack[-1] = func(*args)
    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        if not (isinstance(cls, type) and self._allowed(cls)):
            _refuse("Can only create new object for nn.Parameter or classes allowlisted via "
                    f"`add_safe_globals` but got {cls}")
        self.append(cls.__new__(cls, *args))
    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        if not (isinstance(cls, type) and self._allowed(cls)):
            _refuse("Can only create new object for nn.Parameter or classes allowlisted via "
                    f"`add_safe_globals` but got {cls}")
        self.append(cls.__new__(cls, *args, **kwargs))
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        t = type(inst)
        if t is collections.OrderedDict or t is collections.Counter:
            inst.__dict__.update(state)
        elif t in _user_allowed().values():
            _set_state(inst, state) if not hasattr(inst, "__setstate__") \
                else inst.__setstate__(state)
        else:
            _refuse("Can only build Tensor, Parameter, OrderedDict or types allowlisted via "
                    f"`add_safe_globals`, but got {t}")
    dispatch[pickle.BUILD[0]] = load_build

    def load_append(self):
        item = self.stack.pop()
        if type(self.stack[-1]) is not list:
            _refuse(f"Can only append to lists, but got {type(self.stack[-1])}")
        self.stack[-1].append(item)
    dispatch[pickle.APPEND[0]] = load_append

    def load_appends(self):
        items = self.pop_mark()
        if type(self.stack[-1]) is not list:
            _refuse(f"Can only extend lists, but got {type(self.stack[-1])}")
        self.stack[-1].extend(items)
    dispatch[pickle.APPENDS[0]] = load_appends

    def _check_setitem(self, opcode):
        if type(self.stack[-1]) not in (dict, collections.OrderedDict, collections.Counter):
            _refuse(f"Can only {opcode} for dict, collections.OrderedDict, "
                    f"collections.Counter, but got {type(self.stack[-1])}")

    def load_setitem(self):
        v = self.stack.pop()
        k = self.stack.pop()
        self._check_setitem("SETITEM")
        self.stack[-1][k] = v
    dispatch[pickle.SETITEM[0]] = load_setitem

    def load_setitems(self):
        items = self.pop_mark()
        self._check_setitem("SETITEMS")
        d = self.stack[-1]
        for i in range(0, len(items), 2):
            d[items[i]] = items[i + 1]
    dispatch[pickle.SETITEMS[0]] = load_setitems

    def load_additems(self):
        items = self.pop_mark()
        if type(self.stack[-1]) is not set:
            _refuse(f"Can only add items to sets, but got {type(self.stack[-1])}")
        self.stack[-1].update(items)
    dispatch[pickle.ADDITEMS[0]] = load_additems

    for _op in (pickle.INST, pickle.OBJ, pickle.EXT1, pickle.EXT2, pickle.EXT4):
        dispatch[_op[0]] = lambda self, _c=_op[0]: _refuse(f"Unsupported operand {_c}")
    del _op


# -------------------------------------------------------------- sharing after load

_SLOTS = [s for s in Tensor.__slots__ if s not in ("__dict__", "__weakref__")]


def _become(t, v):
    """Make tensor object `t` be the view `v` (same storage cell, chain, version counter)."""
    for s in _SLOTS:
        if hasattr(v, s):
            setattr(t, s, getattr(v, s))
        elif hasattr(t, s):
            delattr(t, s)


def _share_storages(ctx):
    """Tensors read from one storage become views of one root (see the module docstring)."""
    groups = collections.defaultdict(list)
    for rec in ctx.built:
        if id(rec[0]) not in ctx.wrapped:
            groups[(id(rec[1]), rec[2].name)].append(rec)
    from .autograd.grad_mode import no_grad
    for recs in groups.values():
        if len(recs) < 2 or any(r[0].requires_grad for r in recs):
            continue
        storage, dtype = recs[0][1], recs[0][2]
        flat = storage.typed(dtype)
        if flat.size == 0:
            continue
        root = None
        for t, _, _, offset, size, stride in recs:
            if offset == 0 and int(np.prod(size, dtype=np.int64)) == flat.size and all(
                    s == c for n, s, c in zip(size, stride, _contiguous_strides(size)) if n > 1):
                root = t
                break
        if root is None:
            root = wrap(jax.device_put(np.array(flat), storage.jax_device))
        with no_grad():
            for t, _, _, offset, size, stride in recs:
                if t is not root:
                    _become(t, root.as_strided(size, stride, offset))


# -------------------------------------------------------------- file plumbing

@contextlib.contextmanager
def _open_for_read(f):
    if _is_path(f):
        with open(f, "rb") as fh:
            yield fh
        return
    if not hasattr(f, "read"):
        raise TypeError(f"jtorch.load: expected a path or a file-like object, got {type(f)}")
    seekable = getattr(f, "seekable", lambda: False)()
    yield f if seekable else io.BytesIO(f.read())


def _is_zip(fh):
    pos = fh.tell()
    magic = fh.read(4)
    fh.seek(pos)
    return magic == b"PK\x03\x04"


def _data_offset(fh, zi):
    """Where a stored record's bytes start (its local header has its own extra field)."""
    fh.seek(zi.header_offset)
    head = fh.read(30)
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    return zi.header_offset + 30 + name_len + extra_len


def _load_zip(fh, path, map_location, weights_only, mmap, load_args):
    zf = zipfile.ZipFile(fh)
    names = zf.namelist()
    if not names:
        raise RuntimeError("PytorchStreamReader failed reading zip archive: empty archive")
    prefix = names[0].split("/")[0]
    if f"{prefix}/data.pkl" not in names:
        if f"{prefix}/constants.pkl" in names:
            raise NotImplementedError("jtorch.load: TorchScript archives (torch.jit.save) are "
                                      "not supported")
        raise RuntimeError("PytorchStreamReader failed locating file data.pkl: file not found")
    byteorder = "little"
    if f"{prefix}/byteorder" in names:
        byteorder = zf.read(f"{prefix}/byteorder").decode().strip()
    mm = np.memmap(path, dtype=np.uint8, mode="r") if mmap else None

    def read(key):
        name = f"{prefix}/data/{key}"
        try:
            zi = zf.getinfo(name)
        except KeyError:
            raise RuntimeError(f"PytorchStreamReader failed locating file data/{key}: file not "
                               "found") from None
        if mm is not None and zi.compress_type == zipfile.ZIP_STORED:
            start = _data_offset(fh, zi)
            return mm[start:start + zi.file_size]
        return np.frombuffer(zf.read(name), dtype=np.uint8)

    ctx = _LoadCtx(map_location, read, byteorder)
    return _unpickle(io.BytesIO(zf.read(f"{prefix}/data.pkl")), ctx, weights_only, load_args)


def _unpickle(fh, ctx, weights_only, load_args):
    cls = _WeightsOnlyUnpickler if weights_only else _JtorchUnpickler
    kwargs = {"encoding": load_args.get("encoding", "utf-8")} if weights_only else load_args
    token = _CTX.set(ctx)
    try:
        result = cls(fh, ctx, **kwargs).load()
    except KeyError as e:  # the pure-Python unpickler's word for an unknown opcode
        raise pickle.UnpicklingError(f"invalid load key, {e}.") from None
    finally:
        _CTX.reset(token)
    _share_storages(ctx)
    return result


class _Census(_UP):
    """A dry run over a pickle that only records its persistent ids: nothing it names is
    ever called (REDUCE/NEWOBJ/BUILD push or drop placeholders instead)."""
    dispatch = dict(_DISPATCH_BASE)

    def __init__(self, file, **kwargs):
        super().__init__(file, **kwargs)
        self.pids = []

    def persistent_load(self, pid):
        self.pids.append(pid)
        return _PLACEHOLDER

    def find_class(self, module, name):
        module, name = _fix_name(module, name, self.proto)
        return _ALLOWED.get(f"{module}.{name}", _PLACEHOLDER)

    def _instantiate(self, klass, args):
        self.append(_PLACEHOLDER)

    def load_reduce(self):
        self.stack.pop()
        self.stack[-1] = _PLACEHOLDER
    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_newobj(self):
        del self.stack[-2:]
        self.append(_PLACEHOLDER)
    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self):
        del self.stack[-3:]
        self.append(_PLACEHOLDER)
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def load_build(self):
        self.stack.pop()
    dispatch[pickle.BUILD[0]] = load_build

    def _into(self, kind, fill):
        if type(self.stack[-1]) is kind:
            fill(self.stack[-1])

    dispatch[pickle.APPEND[0]] = lambda self: (lambda v: self._into(list, lambda c: c.append(v)))(
        self.stack.pop())
    dispatch[pickle.APPENDS[0]] = lambda self: (lambda v: self._into(list, lambda c: c.extend(v)))(
        self.pop_mark())
    dispatch[pickle.ADDITEMS[0]] = lambda self: (lambda v: self._into(set, lambda c: c.update(v)))(
        self.pop_mark())

    def load_setitems(self):
        items = self.pop_mark()
        self._into(dict, lambda d: d.update(zip(items[::2], items[1::2])))
    dispatch[pickle.SETITEMS[0]] = load_setitems

    def load_setitem(self):
        v = self.stack.pop()
        k = self.stack.pop()
        self._into(dict, lambda d: d.__setitem__(k, v))
    dispatch[pickle.SETITEM[0]] = load_setitem


_PLACEHOLDER = _Unsupported("<placeholder>")


def _load_legacy(fh, map_location, weights_only, load_args):
    """torch's pre-1.6 stream: magic, protocol, sys info, the object pickle, the storage keys,
    then each storage as (int64 numel, bytes). The bytes come after the pickle that needs
    them, so a dry run of the pickle first learns each storage's dtype (hence its size)."""
    data = io.BytesIO(fh.read())
    pre = _LoadCtx(map_location, None)

    def small():
        return _unpickle(data, pre, weights_only, load_args)

    try:
        magic = small()
    except Exception:  # noqa: BLE001 - not a pickle at all
        magic = None
    if magic != _LEGACY_MAGIC:
        raise RuntimeError("Invalid magic number; corrupt file? (jtorch.load reads torch's zip "
                           "format and its legacy pickle format; the legacy tar format is not "
                           "supported)")
    if small() != _LEGACY_PROTOCOL:
        raise RuntimeError("Invalid protocol version in legacy checkpoint")
    sys_info = small()
    little = sys_info.get("little_endian", True) if isinstance(sys_info, dict) else True
    main_at = data.tell()
    census = _Census(data, encoding=load_args.get("encoding", "utf-8"))
    census.load()
    dtypes = {}
    for pid in census.pids:
        if isinstance(pid, tuple) and len(pid) == 6 and isinstance(pid[1], _StorageType):
            dtypes[str(pid[2])] = pid[1].dtype
    keys = small()
    if not isinstance(keys, list):
        raise pickle.UnpicklingError("jtorch.load: malformed legacy checkpoint (storage keys)")
    blobs = {}
    for key in keys:
        key = str(key)
        (numel,) = struct.unpack("<q" if little else ">q", data.read(8))
        dt = dtypes.get(key)
        if not isinstance(dt, D.dtype):
            raise NotImplementedError(f"jtorch.load: legacy storage {key} has unsupported "
                                      f"dtype {dt}")
        raw = np.frombuffer(data.read(numel * dt.itemsize), dtype=np.uint8)
        if raw.size != numel * dt.itemsize:
            raise RuntimeError("jtorch.load: legacy checkpoint is truncated")
        blobs[key] = raw
    end = data.tell()
    data.seek(main_at)

    def read(key):
        if key not in blobs:
            raise RuntimeError(f"jtorch.load: legacy checkpoint has no data for storage {key}")
        return blobs[key]

    ctx = _LoadCtx(map_location, read, "little" if little else "big")
    result = _unpickle(data, ctx, weights_only, load_args)
    data.seek(end)
    return result


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """torch.load: read a checkpoint written by torch.save (or jtorch.save).

    Tensors come back as jtorch tensors on the CPU (or the device `map_location` names).
    With weights_only=True (the default) only tensors, containers, numbers, strings and
    torch's allow-listed globals are admitted; anything else is refused, never run.
    """
    if weights_only is None:
        weights_only = pickle_module is None
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is "
                           "specified")
    if pickle_module is not None and pickle_module is not pickle:
        raise NotImplementedError("jtorch.load: only the standard pickle module is supported "
                                  "as pickle_module")
    if pickle_load_args and weights_only:
        import warnings
        warnings.warn("pickle_load_args only works if `weights_only=False`.", stacklevel=2)
    pickle_load_args.setdefault("encoding", "utf-8")
    with _open_for_read(f) as fh:
        try:
            if _is_zip(fh):
                if mmap and not _is_path(f):
                    raise ValueError("f must be a file path in order to use the mmap argument")
                return _load_zip(fh, f if mmap else None, map_location, weights_only, mmap,
                                 pickle_load_args)
            if mmap:
                raise RuntimeError(
                    "mmap can only be used with files saved with "
                    "`torch.save(_use_new_zipfile_serialization=True), please torch.save your "
                    "checkpoint with this option in order to use mmap.")
            return _load_legacy(fh, map_location, weights_only, pickle_load_args)
        except pickle.UnpicklingError as e:
            if weights_only:
                raise pickle.UnpicklingError(_weights_only_message(str(e))) from None
            raise
