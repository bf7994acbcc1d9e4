"""Quantized tensors: the dtypes `quint8`/`qint8`/`qint32`, the `qscheme` objects and a
minimal quantized Tensor (integer array + scale/zero_point).

Why a separate wrapper: jtorch's ops compute on one jax array per tensor, and feeding them
the integer representation would silently give wrong numbers. A quantized tensor therefore
refuses generic ops (torch's "QuantizedCPU backend" NotImplementedError) and offers only
what quantized models need: the q_* accessors, `dequantize`, `int_repr` and shape-only
views (reshape/view/flatten). The quantized nn modules read its fields directly.

Numerics follow fbgemm's `Quantize`: q = clamp(rint(x * (1/scale) + zero_point)) in float32
(round half to even); dequantize is (q - zero_point) * scale in float32.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, Size, _init_as, wrap

__all__ = ["quint8", "qint8", "qint32", "qscheme", "per_tensor_affine", "per_channel_affine",
           "per_tensor_symmetric", "per_channel_symmetric", "per_channel_affine_float_qparams",
           "quantize_per_tensor", "quantize_per_channel", "QTensor"]


class _QDtype(D.dtype):
    """A quantized torch dtype: stored as its underlying integer type."""

    __slots__ = ()

    def __init__(self, name, np_dtype, qmin, qmax):
        super().__init__(name, np_dtype, 1, 1)
        self.is_signed = qmin < 0

    def __reduce__(self):
        return (_qdtype_by_name, (self.name,))


quint8 = _QDtype("quint8", np.uint8, 0, 255)
qint8 = _QDtype("qint8", np.int8, -128, 127)
qint32 = _QDtype("qint32", np.int32, -2 ** 31, 2 ** 31 - 1)
_QDTYPES = {"quint8": quint8, "qint8": qint8, "qint32": qint32}
_QRANGE = {"quint8": (0, 255), "qint8": (-128, 127), "qint32": (-2 ** 31, 2 ** 31 - 1)}


def _qdtype_by_name(name):
    return _QDTYPES[name]


def qrange(dt):
    """(qmin, qmax) of a quantized dtype."""
    return _QRANGE[dt.name]


def is_qdtype(dt):
    return isinstance(dt, _QDtype)


class qscheme:
    """torch.qscheme: how a quantized tensor maps integers back to floats."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "torch." + self.name

    def __reduce__(self):
        return (_qscheme_by_name, (self.name,))


per_tensor_affine = qscheme("per_tensor_affine")
per_channel_affine = qscheme("per_channel_affine")
per_tensor_symmetric = qscheme("per_tensor_symmetric")
per_channel_symmetric = qscheme("per_channel_symmetric")
per_channel_affine_float_qparams = qscheme("per_channel_affine_float_qparams")
_QSCHEMES = {s.name: s for s in (per_tensor_affine, per_channel_affine, per_tensor_symmetric,
                                 per_channel_symmetric, per_channel_affine_float_qparams)}


def _qscheme_by_name(name):
    return _QSCHEMES[name]


# ----------------------------------------------------------------------------- kernels

@functools.partial(jax.jit, static_argnames=("qmin", "qmax", "np_dt"))
def _quantize(x, inv_scale, zero_point, *, qmin, qmax, np_dt):
    """fbgemm's Quantize: rint(x * (1/scale) + zp) in float32, then clamp."""
    v = jnp.rint(x.astype(jnp.float32) * inv_scale + zero_point.astype(jnp.float32))
    return jnp.clip(v, qmin, qmax).astype(np_dt)


@jax.jit
def _dequantize(q, scale, zero_point):
    """(q - zp) * scale in the scale's precision (float32 per tensor, double per channel,
    as ATen's kernels), rounded to float32."""
    return ((q.astype(jnp.int32) - zero_point).astype(scale.dtype) * scale).astype(jnp.float32)


def _f32(v):
    return np.float32(v)


def quantize_array(x, scale, zero_point, dt, axis=None):
    """The integer array for float array `x` (per-tensor, or per-channel along `axis`)."""
    qmin, qmax = qrange(dt)
    scale = np.asarray(scale, np.float32)
    zp = np.asarray(zero_point, np.int32)
    if axis is not None:
        shape = [1] * x.ndim
        shape[axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    inv = (np.float32(1) / scale).astype(np.float32)
    return _quantize(x, inv, zp, qmin=qmin, qmax=qmax, np_dt=dt.np)


class _NoStorage:
    """A quantized tensor has no float storage: code that reaches for it (torch.save, views,
    in-place writes) gets a clear NotImplementedError instead of wrong bytes."""

    __slots__ = ()

    def __getattr__(self, name):
        from .._errors import missing
        raise missing("storage of a quantized tensor (e.g. torch.save of a quantized model)")


_NO_STORAGE = _NoStorage()


class QTensor(Tensor):
    """A quantized tensor (`is_quantized` is True): integers plus quantization parameters."""

    __slots__ = ("_q", "_qdt", "_scale", "_zp", "_axis")

    def __new__(cls, *args, **kwargs):
        raise TypeError("quantized tensors are made by torch.quantize_per_tensor / "
                        "quantize_per_channel")

    @classmethod
    def _make(cls, q, dt, scale, zero_point, axis=None):
        t = _init_as(object.__new__(cls), None)
        t._st = _NO_STORAGE
        t._q, t._qdt, t._axis = q, dt, axis
        if axis is None:
            t._scale, t._zp = float(scale), int(zero_point)
        else:
            t._scale = np.asarray(scale, np.float64)
            t._zp = np.asarray(zero_point, np.int64)
        return t

    is_quantized = True

    @property
    def _value(self):
        raise NotImplementedError(
            "Could not run this operator with arguments from the 'QuantizedCPU' backend: "
            "jtorch supports quantized tensors only in the quantized nn modules and "
            "dequantize/int_repr/q_* accessors/reshape/view/flatten (call .dequantize() "
            "first)")

    # ------------------------------------------------------------------ metadata
    @property
    def dtype(self):
        return self._qdt

    @property
    def shape(self):
        return Size(self._q.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._q.shape)
        return self._q.shape[dim]

    @property
    def ndim(self):
        return self._q.ndim

    def dim(self):
        return self._q.ndim

    def numel(self):
        return int(np.prod(self._q.shape, dtype=np.int64))

    def __len__(self):
        if self._q.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._q.shape[0]

    @property
    def device(self):
        return self.int_repr().device

    # ------------------------------------------------------------------ accessors
    def qscheme(self):
        if self._axis is None:
            return per_tensor_affine
        return per_channel_affine

    def _need(self, per_channel, what):
        if (self._axis is not None) != per_channel:
            want = "kPerChannelAffine" if per_channel else "kPerTensorAffine"
            raise RuntimeError(f"Expected quantizer->qscheme() == {want} to be true, but got "
                               f"false.  ({what})")

    def q_scale(self):
        self._need(False, "q_scale")
        return self._scale

    def q_zero_point(self):
        self._need(False, "q_zero_point")
        return self._zp

    def q_per_channel_scales(self):
        self._need(True, "q_per_channel_scales")
        return wrap(jnp.asarray(self._scale))

    def q_per_channel_zero_points(self):
        self._need(True, "q_per_channel_zero_points")
        return wrap(jnp.asarray(self._zp))

    def q_per_channel_axis(self):
        self._need(True, "q_per_channel_axis")
        return self._axis

    def int_repr(self):
        return wrap(self._q)

    def _scale_zp_arrays(self):
        if self._axis is None:
            return np.float32(self._scale), np.int32(self._zp)
        shape = [1] * self._q.ndim
        shape[self._axis] = -1
        return (self._scale.astype(np.float64).reshape(shape),
                self._zp.astype(np.int32).reshape(shape))

    def dequantize(self):
        s, z = self._scale_zp_arrays()
        return wrap(_dequantize(self._q, s, z))

    # ------------------------------------------------------------------ shape-only views
    def _like(self, q):
        return QTensor._make(q, self._qdt, self._scale, self._zp, self._axis)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if self._axis is not None:
            raise NotImplementedError("reshape of a per-channel quantized tensor is not "
                                      "implemented in jtorch")
        return self._like(self._q.reshape(shape))

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        nd = max(self._q.ndim, 1)
        s, e = start_dim % nd, end_dim % nd
        shape = self._q.shape
        if self._q.ndim == 0:
            return self.reshape(1)
        new = shape[:s] + (int(np.prod(shape[s:e + 1], dtype=np.int64)),) + shape[e + 1:]
        return self.reshape(new)

    def contiguous(self, memory_format=None):
        return self

    def detach(self):
        return self

    def clone(self, memory_format=None):
        return self._like(self._q)

    @property
    def requires_grad(self):
        return False

    def __deepcopy__(self, memo):
        return self._like(self._q)

    def __reduce_ex__(self, proto):
        from .._errors import missing
        raise missing("pickling quantized tensors (torch.save of a quantized model)")

    def __hash__(self):
        return id(self)

    def _inplace_assign(self, result, name):
        """relu_ and friends on a quantized tensor (the op ran through _qdispatch)."""
        if not isinstance(result, QTensor) or result._qdt is not self._qdt or \
                tuple(result.shape) != tuple(self.shape):
            from ._qdispatch import _unsupported
            raise _unsupported(name)
        self._q, self._scale, self._zp, self._axis = (result._q, result._scale, result._zp,
                                                      result._axis)
        self._vc[0] += 1
        return self

    def __repr__(self):
        # torch's layout: the dequantized values, then size/dtype/qscheme/qparams suffixes
        from .._tensor_str import _add_suffixes, _tensor_str
        suffixes = [f"size={tuple(self.shape)}", f"dtype={self._qdt!r}",
                    f"quantization_scheme={self.qscheme()!r}"]
        if self._axis is None:
            suffixes += [f"scale={self._scale}", f"zero_point={self._zp}"]
        else:
            suffixes += [f"scale={self.q_per_channel_scales()!r}",
                         f"zero_point={self.q_per_channel_zero_points()!r}",
                         f"axis={self._axis}"]
        body = "tensor(" + _tensor_str(self.dequantize(), len("tensor("))
        return _add_suffixes(body, suffixes, len("tensor("))


def _as_float_array(t, what):
    if not isinstance(t, Tensor) or isinstance(t, QTensor):
        raise TypeError(f"{what}(): argument 'input' must be Tensor, not {type(t).__name__}")
    if not t.dtype.is_floating_point:
        raise RuntimeError(f"Quantize only works on Float Tensor, got {D.type_name(t.dtype)}"
                           if hasattr(D, "type_name") else
                           f"Quantize only works on Float Tensor, got {t.dtype}")
    return t._value


def _check_qdtype(dtype):
    if not is_qdtype(dtype):
        raise RuntimeError(f"Quantization is not supported for the dtype {dtype!r}: use "
                           "torch.quint8, torch.qint8 or torch.qint32")


def quantize_per_tensor(input, scale, zero_point, dtype):
    """torch.quantize_per_tensor for a float tensor (or a list of them)."""
    if isinstance(input, (list, tuple)):
        return [quantize_per_tensor(t, s, z, dtype) for t, s, z in
                zip(input, scale.tolist(), zero_point.tolist())]
    _check_qdtype(dtype)
    x = _as_float_array(input, "quantize_per_tensor")
    if isinstance(scale, Tensor):
        scale = float(scale.item())
    if isinstance(zero_point, Tensor):
        zero_point = int(zero_point.item())
    qmin, qmax = qrange(dtype)
    if not qmin <= zero_point <= qmax:
        raise RuntimeError("zero_point is out of range")
    q = quantize_array(x, scale, zero_point, dtype)
    return QTensor._make(q, dtype, _f32_double(scale), zero_point)


def _f32_double(s):
    """torch keeps a per-tensor scale as a double; the kernels read it as float32."""
    return float(s)


def quantize_per_channel(input, scales, zero_points, axis, dtype):
    """torch.quantize_per_channel (scales/zero_points are 1-D tensors along `axis`)."""
    _check_qdtype(dtype)
    x = _as_float_array(input, "quantize_per_channel")
    sc = np.asarray(scales._value, np.float64)
    zp = np.asarray(zero_points._value, np.int64)
    axis = axis % x.ndim
    if sc.shape != (x.shape[axis],) or zp.shape != (x.shape[axis],):
        raise RuntimeError(f"length of scales must equal to channel, expected {x.shape[axis]} "
                           f"got, {sc.shape[0] if sc.ndim else 1}")
    q = quantize_array(x, sc, zp, dtype, axis=axis)
    return QTensor._make(q, dtype, sc, zp, axis)


def dequantize(t):
    """torch.dequantize."""
    if isinstance(t, (list, tuple)):
        return [dequantize(x) for x in t]
    if not isinstance(t, QTensor):
        return t
    return t.dequantize()


def _install_dispatch_hook():
    """Let the op dispatcher route ops on quantized tensors to `_qdispatch.hook` (takes
    effect where jtorch._ops.dispatch declares `_quantized_hook`)."""
    from . import _qdispatch
    from .._ops import dispatch
    _qdispatch._QT = QTensor
    if hasattr(dispatch, "_quantized_hook"):
        dispatch._quantized_hook = _qdispatch.hook


_install_dispatch_hook()
