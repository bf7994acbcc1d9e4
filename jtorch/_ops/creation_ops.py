"""Factory functions: zeros/ones/full/empty (+_like, new_*), arange/range/linspace/logspace,
eye, tril/triu_indices, fill_/zero_ (complex/polar live in pointwise.py).

Factories have no tensor inputs, so they build their result directly (jnp constants or
host numpy for the sequence generators) instead of going through the jitted op path.
Sizes are accepted as varargs or one sequence, as torch does.
"""
from __future__ import annotations

import builtins
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .. import _creation
from .. import _device
from .. import _tensor_str
from .. import _dtype as D
from .._tensor import Tensor, wrap
from .registry import function, method, op

for _f in (_creation.tensor, _creation.as_tensor, _creation.asarray, _creation.from_numpy,
           _creation.scalar_tensor):
    function()(_f)
function("set_printoptions")(_tensor_str.set_printoptions)
function("get_printoptions")(_tensor_str.get_printoptions)


# ------------------------------------------------------------------------------ helpers

def _size(name, args, size=None):
    """(2, 3) / ((2, 3),) / size=(2, 3) -> (2, 3), with torch's errors."""
    if size is not None:
        if args:
            raise TypeError(f"{name}() received an invalid combination of arguments - got "
                            "both positional sizes and size=")
        args = (size,)
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    elif len(args) == 1 and isinstance(args[0], Tensor) and args[0].ndim == 1:
        args = tuple(args[0].tolist())
    out = []
    for i, a in enumerate(args):
        if isinstance(a, bool) or not isinstance(a, (int, np.integer, Tensor)):
            raise TypeError(f"{name}(): argument 'size' failed to unpack the object at pos "
                            f"{i + 1} with error \"type must be tuple of ints,but got "
                            f"{type(a).__name__}\"")
        out.append(a.__index__() if isinstance(a, Tensor) else int(a))
    if any(s < 0 for s in out):
        if name == "zeros":
            raise RuntimeError("zeros: Dimension size must be non-negative.")
        raise RuntimeError(f"Trying to create tensor with negative dimension "
                           f"{min(out)}: {out}")
    return tuple(out)


def _jdev(device):
    """The JAX device to create on, or None for JAX's default placement."""
    if device is None and not _device._default_device:
        return None
    return _device.jax_device(device)


def _finish(arr, requires_grad=False, out=None):
    t = wrap(arr)
    _creation.set_requires_grad(t, requires_grad)
    if out is not None:
        out._assign_out(t)
        return out
    return t


def _dt(dtype, out=None, default=None):
    if dtype is not None:
        return D.to_dtype(dtype)
    if out is not None:
        return out.dtype
    return default or D.get_default_dtype()


def _const(shape, value, dt, device):
    return jnp.full(shape, value, dt.np, device=_jdev(device))


def _like_device(x, device):
    if device is not None:
        return _jdev(device)
    v = x._value
    if isinstance(v, jax.core.Tracer):
        return None
    return next(iter(v.devices()))


def _scalar_value(v):
    """A Python number from a fill value (0-d tensors and numpy scalars included)."""
    if isinstance(v, Tensor):
        return v.item()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _fill_array(value, dt, shape, dev, name="full"):
    """A constant of dtype dt; torch's overflow check for integer targets."""
    v = _creation.cast_checked(np.asarray(value), dt, type_name=_C_NAMES.get(dt.name))
    return jnp.full(shape, v, dt.np, device=dev)


_C_NAMES = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int",
            "int64": "int64_t", "float32": "float", "float64": "double", "bool": "bool"}


# ------------------------------------------------------------------------------ zeros & co

def _factory(name, value):
    def f(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False, memory_format=None, names=None, **kw):
        shape = _size(name, size, kw.pop("size", None))
        if kw:
            raise TypeError(f"{name}() got an unexpected keyword argument '{next(iter(kw))}'")
        dt = _dt(dtype, out)
        return _finish(_const(shape, value, dt, device), requires_grad, out)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"torch.{name}(*size, dtype=None, device=None, requires_grad=False)"
    return function(name)(f)


zeros = _factory("zeros", 0)
ones = _factory("ones", 1)
empty = _factory("empty", 0)   # uninitialised memory in torch; zeros here


@function()
def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad=False, pin_memory=False, names=None):
    """dtype from the fill value when not given: bool -> bool, int -> int64, float ->
    default float, complex -> default complex."""
    shape = _size("full", (size,))
    if dtype is None and out is None:
        dt = fill_value.dtype if isinstance(fill_value, Tensor) else \
            D.scalar_dtype(_scalar_value(fill_value) if not isinstance(fill_value, np.generic)
                           else fill_value.item())
    else:
        dt = _dt(dtype, out)
    arr = _fill_array(_scalar_value(fill_value), dt, shape, _jdev(device))
    return _finish(arr, requires_grad, out)


@function()
def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False):
    """Strides are accepted and ignored: jtorch tensors are always contiguous."""
    shape = _size("empty_strided", (size,))
    return _finish(_const(shape, 0, _dt(dtype), device), requires_grad)


@function()
def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None,
                   requires_grad=False, pin_memory=False):
    shape = _size("empty_permuted", (size,))
    if sorted(physical_layout) != list(range(len(shape))):
        raise RuntimeError("Dimension order must be a permutation of 0..ndim-1")
    return _finish(_const(shape, 0, _dt(dtype), device), requires_grad)


def _like_factory(name, value):
    def f(input, *, dtype=None, layout=None, device=None, requires_grad=False,
          memory_format=None, pin_memory=False):
        dt = _dt(dtype, default=input.dtype)
        arr = jnp.full(tuple(input.shape), value, dt.np, device=_like_device(input, device))
        return _finish(arr, requires_grad)
    f.__name__ = f.__qualname__ = name
    return function(name)(f)


zeros_like = _like_factory("zeros_like", 0)
ones_like = _like_factory("ones_like", 1)
empty_like = _like_factory("empty_like", 0)


@function()
def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None, pin_memory=False):
    dt = _dt(dtype, default=input.dtype)
    arr = _fill_array(_scalar_value(fill_value), dt, tuple(input.shape),
                      _like_device(input, device))
    return _finish(arr, requires_grad)


# ------------------------------------------------------------------------------ new_*

def _new_factory(name, value):
    def f(self, *size, dtype=None, device=None, requires_grad=False, layout=None,
          pin_memory=False, **kw):
        shape = _size(name, size, kw.pop("size", None))
        dt = _dt(dtype, default=self.dtype)
        arr = jnp.full(shape, value, dt.np, device=_like_device(self, device))
        return _finish(arr, requires_grad)
    f.__name__ = f.__qualname__ = name
    return method(name)(f)


new_zeros = _new_factory("new_zeros", 0)
new_ones = _new_factory("new_ones", 1)
new_empty = _new_factory("new_empty", 0)


@method()
def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False,
             layout=None, pin_memory=False):
    dt = _dt(dtype, default=self.dtype)
    arr = _fill_array(_scalar_value(fill_value), dt, _size("new_full", (size,)),
                      _like_device(self, device))
    return _finish(arr, requires_grad)


@method()
def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False,
                      layout=None, pin_memory=False):
    return new_empty(self, size, dtype=dtype, device=device, requires_grad=requires_grad)


@method()
def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False, layout=None,
               pin_memory=False):
    """A copy of `data` with this tensor's dtype/device unless given."""
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.detach().clone() or sourceTensor.detach().clone()"
                      ".requires_grad_(True), rather than tensor.new_tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
    dt = _dt(dtype, default=self.dtype)
    dev = device if device is not None else (None if isinstance(self._value, jax.core.Tracer)
                                             else self.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = _creation.tensor(data, dtype=dt, device=dev)
    return _creation.set_requires_grad(t, requires_grad)


# ------------------------------------------------------------------------------ sequences

def _num(v, name):
    if isinstance(v, Tensor):
        if v.numel() != 1:
            raise RuntimeError(f"{name}(): expected a scalar, got a tensor of "
                               f"{v.numel()} elements")
        return v.item()
    if isinstance(v, np.generic):
        return v.item()
    if not isinstance(v, (bool, int, float, complex)):
        raise TypeError(f"{name}(): argument must be a number, not {type(v).__name__}")
    return v


def _is_float_arg(v):
    if isinstance(v, Tensor):
        return v.dtype._category >= 2
    if isinstance(v, np.generic):
        return np.issubdtype(v.dtype, np.inexact)
    return isinstance(v, (float, complex))


def _host_to(arr, dt, device, requires_grad, out):
    dev = _jdev(device)
    a = jnp.asarray(arr) if dev is None else jax.device_put(arr, dev)
    return _finish(a, requires_grad, out)


@function()
def arange(start=None, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad=False, pin_memory=False, **kw):
    """arange(end) / arange(start, end, step): int64 when every bound is integral, else
    the default float dtype; ceil((end - start) / step) elements."""
    if "end" in kw or "start" in kw:
        start, end = kw.pop("start", start), kw.pop("end", end)
    if kw:
        raise TypeError(f"arange() got an unexpected keyword argument '{next(iter(kw))}'")
    if end is None:
        start, end = 0, start
    if end is None:
        raise TypeError("arange() missing required argument 'end'")
    if start is None:
        start = 0
    args = (start, end, step)
    if dtype is None and out is not None:
        dt = out.dtype
    elif dtype is None:
        dt = D.get_default_dtype() if any(_is_float_arg(a) for a in args) else D.int64
    else:
        dt = D.to_dtype(dtype)
    s, e, st = (_num(a, "arange") for a in args)
    if dt._category == 1 or dt is D.bool:
        s, e, st = int(s), int(e), int(st)
    for v in (s, e):
        if not math.isfinite(v):
            raise RuntimeError(f"unsupported range: {s} -> {e}")
    if st == 0:
        raise RuntimeError("step must be nonzero")
    if (st > 0 and e < s) or (st < 0 and e > s):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if dt._category == 1:
        n = max(0, -((s - e) // st)) if st > 0 else max(0, -((e - s) // -st))
        arr = s + np.arange(n, dtype=np.int64) * st
    else:
        n = max(0, int(math.ceil((e - s) / st)))
        arr = np.float64(s) + np.arange(n, dtype=np.float64) * np.float64(st)
    return _host_to(_creation.cast_checked(arr, dt) if dt._category == 1 else
                    arr.astype(dt.np), dt, device, requires_grad, out)


@function("range")
def range_(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,  # noqa: A001
          requires_grad=False, pin_memory=False):
    """Deprecated torch.range: includes `end`; default dtype unless given."""
    warnings.warn("torch.range is deprecated and will be removed in a future release because "
                  "its behavior is inconsistent with Python's range builtin. Instead, use "
                  "torch.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    if end is None:
        start, end = 0, start
    dt = _dt(dtype, out)
    s, e, st = (_num(a, "range") for a in (start, end, step))
    if st == 0:
        raise RuntimeError("step must be nonzero")
    if (st > 0 and e < s) or (st < 0 and e > s):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = int(math.floor((e - s) / st)) + 1
    arr = np.float64(s) + np.arange(n, dtype=np.float64) * np.float64(st)
    return _host_to(arr.astype(dt.np), dt, device, requires_grad, out)


def _lin_values(s, e, steps, dt):
    """torch's symmetric linspace: start + i*step for the first half, end - (n-1-i)*step
    for the second (each a fused multiply-add, emulated in a wider type)."""
    if dt in (D.float64, D.complex128) or dt._category < 2:
        work, outt = (np.clongdouble, np.complex128) if dt.is_complex else \
            (np.longdouble, np.float64)
    elif dt.is_complex:
        work, outt = np.complex128, np.complex64
    else:   # float32/16/bf16 compute in float32, as torch does
        work, outt = np.float64, np.float32
    sw, ew = outt(s), outt(e)
    step = outt((ew - sw) / outt(max(steps - 1, 1))) if steps > 1 else outt(0)
    i = np.arange(steps)
    a = (work(sw) + i.astype(work) * work(step)).astype(outt)
    b = (work(ew) - (steps - 1 - i).astype(work) * work(step)).astype(outt)
    return np.where(i < max(steps // 2, 1), a, b)


def _lin_common(name, start, end, steps, dtype):
    if isinstance(steps, Tensor):
        steps = steps.item()
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool):
        raise TypeError(f"{name}(): argument 'steps' must be int, not {type(steps).__name__}")
    steps = int(steps)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    s, e = _num(start, name), _num(end, name)
    if dtype is not None:
        dt = D.to_dtype(dtype)
    elif any(isinstance(v, complex) for v in (s, e)) or any(
            isinstance(v, Tensor) and v.dtype.is_complex for v in (start, end)):
        dt = D._default_complex()
    else:
        dt = D.get_default_dtype()
    return s, e, steps, dt


@function()
def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False, pin_memory=False):
    dtype = dtype if dtype is not None else (out.dtype if out is not None else None)
    s, e, steps, dt = _lin_common("linspace", start, end, steps, dtype)
    vals = _lin_values(s, e, steps, dt)
    if dt._category == 1:
        vals = np.trunc(vals)
    return _host_to(vals.astype(dt.np), dt, device, requires_grad, out)


@function()
def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False, pin_memory=False):
    dtype = dtype if dtype is not None else (out.dtype if out is not None else None)
    s, e, steps, dt = _lin_common("logspace", start, end, steps, dtype)
    exps = _lin_values(s, e, steps, D.float64 if dt._category < 3 else D.complex128)
    with np.errstate(over="ignore"):
        vals = np.power(np.float64(base) if dt._category < 3 else complex(base), exps)
    if dt._category == 1:
        vals = np.trunc(vals)
    return _host_to(vals.astype(dt.np), dt, device, requires_grad, out)


@function()
def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False,
        pin_memory=False):
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    dt = _dt(dtype, out)
    arr = jnp.eye(int(n), int(n if m is None else m), dtype=dt.np, device=_jdev(device))
    return _finish(arr, requires_grad, out)


def _tri_indices(name, row, col, offset, dtype, device, lower):
    if row < 0 or col < 0:
        raise RuntimeError(f"{name} expects row and col to be non-negative, got "
                           f"row={row}, col={col}")
    dt = D.to_dtype(dtype)
    if dt not in (D.int32, D.int64):
        raise RuntimeError(f"\"{name}\" not implemented for '{D.type_name(dt)}'")
    mask = np.tri(row, col, offset, dtype=bool) if lower else ~np.tri(row, col, offset - 1,
                                                                       dtype=bool)
    idx = np.stack(np.nonzero(mask)).astype(dt.np)
    return _host_to(idx, dt, device, False, None)


@function()
def tril_indices(row, col, offset=0, *, dtype=D.int64, device=None, layout=None,
                 pin_memory=False):
    return _tri_indices("tril_indices", row, col, offset, dtype, device, True)


@function()
def triu_indices(row, col, offset=0, *, dtype=D.int64, device=None, layout=None,
                 pin_memory=False):
    return _tri_indices("triu_indices", row, col, offset, dtype, device, False)


# ------------------------------------------------------------------------------ fill_ / zero_

def _fill_grad(g, out, x, value):
    return jnp.zeros_like(g), jnp.sum(g)


@op("fill(Tensor self, Tensor value) -> Tensor", dtype="none", method=False,
    function=False, saves=(), node_name="FillBackward2", grad=_fill_grad)
def _fill(x, value):
    if value.ndim != 0:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value.ndim} dimensions.")
    if jnp.issubdtype(value.dtype, jnp.complexfloating) and not jnp.issubdtype(
            x.dtype, jnp.complexfloating):
        value = value.real
    return jnp.broadcast_to(value.astype(x.dtype), x.shape)


@op("zero(Tensor self) -> Tensor", dtype="none", method=False, function=False, saves=(),
    node_name="ZeroBackward0", grad=lambda g, out, x: (jnp.zeros_like(g),))
def _zero(x):
    return jnp.zeros_like(x)


def _fill_value(self, value):
    if isinstance(value, Tensor):
        return value
    v = _scalar_value(value)
    if isinstance(v, builtins.complex) and not self.dtype.is_complex:
        raise RuntimeError(f"value cannot be converted to type "
                           f"{_C_NAMES.get(self.dtype.name, self.dtype.name)} without overflow")
    dt = self.dtype
    return wrap(jnp.asarray(_creation.cast_checked(np.asarray(v), dt,
                                                   _C_NAMES.get(dt.name))))


@function("fill")
def fill(input, value):
    from .dispatch import _call
    return _call(_fill, (input, _fill_value(input, value)), ())


@method("fill_")
def fill_(self, value):
    from .dispatch import _call
    res = _call(_fill, (self, _fill_value(self, value)), ())
    return self._inplace_assign(res, "fill_")


@method("zero_")
def zero_(self):
    from .dispatch import _call
    return self._inplace_assign(_call(_zero, (self,), ()), "zero_")


function("zero_")(zero_)
function("fill_")(fill_)
