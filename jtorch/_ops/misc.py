"""Conversions and copies: to/type/float/..., clone, copy_, contiguous."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import _device
from .. import _dtype as D
from .registry import method, op


@op("_to_copy(Tensor input, ScalarType dtype) -> Tensor", dtype="none", method=False,
    function=False, saves=(), node_name="ToCopyBackward0",
    grad=lambda g, out, x, dtype: (g,))
def _to_copy(x, dtype):
    if jnp.issubdtype(x.dtype, jnp.complexfloating) and not jnp.issubdtype(
            jnp.dtype(dtype), jnp.complexfloating):
        x = x.real
    return x.astype(dtype)


@op("clone(Tensor input, *, MemoryFormat? memory_format=None) -> Tensor", dtype="none",
    saves=(), grad=lambda g, out, x, memory_format: (g,))
def clone(x, memory_format=None):
    return jnp.array(x, copy=True)


@op("copy_(Tensor self, Tensor src, bool non_blocking=False) -> Tensor", dtype="none",
    method=False, function=False, saves=(), node_name="CopyBackwards",
    grad=lambda g, out, x, src, non_blocking: (jnp.zeros_like(g), g))
def _copy(x, src, non_blocking=False):
    if jnp.issubdtype(src.dtype, jnp.complexfloating) and not jnp.issubdtype(
            x.dtype, jnp.complexfloating):
        src = src.real
    return jnp.broadcast_to(src.astype(x.dtype), x.shape)


_COPY = _copy


@method("copy_")
def copy_(self, src, non_blocking=False):
    from .dispatch import _call
    from .._tensor import Tensor
    if not isinstance(src, Tensor):
        from .._creation import tensor
        src = tensor(src)
    try:
        jnp.broadcast_shapes(src.shape, self.shape)
        if jnp.broadcast_shapes(src.shape, self.shape) != tuple(self.shape):
            raise ValueError
    except ValueError:
        raise RuntimeError(f"The size of tensor a ({self.shape[-1] if self.ndim else 1}) must "
                           f"match the size of tensor b ({src.shape[-1] if src.ndim else 1}) "
                           f"at non-singleton dimension {max(self.ndim - 1, 0)}") from None
    res = _call(_COPY, (self, src), (non_blocking,))
    return self._inplace_assign(res, "copy_")


def _cast(self, dt):
    from .dispatch import _call
    if dt is self.dtype:
        return self
    return _call(_to_copy, (self,), (dt.np,))


def _parse_to(args, kwargs):
    from .._tensor import Tensor
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() received an invalid combination of arguments - got unexpected "
                        f"keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, D.dtype):
            dtype = a
        elif isinstance(a, (str, _device.device, int)) and not isinstance(a, bool):
            device = a
        elif isinstance(a, bool):
            continue
        elif a is not None:
            dtype = D.to_dtype(a)
    return (D.to_dtype(dtype) if dtype is not None else None), device, copy


@method("to")
def to(self, *args, **kwargs):
    dtype, device, copy = _parse_to(args, dict(kwargs))
    out = self if dtype is None else _cast(self, dtype)
    if device is not None:
        dev = _device.jax_device(device)
        v = out._value
        if not isinstance(v, jax.core.Tracer) and dev not in v.devices():
            from .._tensor import wrap
            moved = wrap(jax.device_put(v, dev))
            if out._rg:
                moved = _device_copy(out, moved)
            out = moved
    if copy and out is self:
        out = clone(self)
    return out


def _device_copy(src, moved):
    """A device move keeps autograd history: an identity node whose output lives there."""
    from .dispatch import _call
    from .._tensor import wrap
    res = _call(_to_copy, (src,), (src._value.dtype,))
    return wrap(moved._value, res.grad_fn, res._output_nr)


def _dtype_method(name, dt):
    def f(self, memory_format=None):
        return _cast(self, dt)
    f.__name__ = name
    method(name)(f)


for _n, _dt in [("float", D.float32), ("double", D.float64), ("half", D.float16),
                ("bfloat16", D.bfloat16), ("long", D.int64), ("int", D.int32),
                ("short", D.int16), ("char", D.int8), ("byte", D.uint8), ("bool", D.bool),
                ("cfloat", D.complex64), ("cdouble", D.complex128)]:
    _dtype_method(_n, _dt)


_TYPE_NAMES = {
    "torch.FloatTensor": D.float32, "torch.DoubleTensor": D.float64,
    "torch.HalfTensor": D.float16, "torch.BFloat16Tensor": D.bfloat16,
    "torch.LongTensor": D.int64, "torch.IntTensor": D.int32, "torch.ShortTensor": D.int16,
    "torch.CharTensor": D.int8, "torch.ByteTensor": D.uint8, "torch.BoolTensor": D.bool,
}


@method("type")
def type_(self, dtype=None, non_blocking=False, **kwargs):
    if dtype is None:
        name = D.type_name(self.dtype)
        return f"torch.{'cuda.' if self.is_cuda else ''}{name}Tensor"
    if isinstance(dtype, str):
        dtype = _TYPE_NAMES[dtype.replace("cuda.", "")]
    return _cast(self, D.to_dtype(dtype))


@method("type_as")
def type_as(self, other):
    return _cast(self, other.dtype)


@method("cpu")
def cpu(self, memory_format=None):
    return to(self, "cpu")


@method("cuda")
def cuda(self, device=None, non_blocking=False, memory_format=None):
    return to(self, _device.device("cuda", device if isinstance(device, int) else None)
              if not isinstance(device, (str, _device.device)) else device)


@method("is_contiguous")
def is_contiguous(self, memory_format=None):
    """Roots are dense row-major; a view is contiguous when its strides say so (torch's rule:
    size-1 dims don't matter)."""
    if not self._chain:
        return True
    from .views import _contiguous_strides, _strides
    expected = _contiguous_strides(tuple(self.shape))
    return all(n <= 1 or a == b for n, a, b in zip(self.shape, _strides(self), expected))


@method("contiguous")
def contiguous(self, memory_format=None):
    return self if is_contiguous(self) else self.clone()


@method("stride")
def stride(self, dim=None):
    from .views import _strides
    st = _strides(self)
    return st if dim is None else st[dim]


@method("storage_offset")
def storage_offset(self):
    if not self._chain or self.numel() == 0:
        return 0
    from .dispatch import scatter_fn
    return int(scatter_fn(self._chain, tuple(self._st._v.shape))[1].min())
