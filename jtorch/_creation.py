"""Tensor construction from Python data and numpy: torch.tensor, as_tensor, from_numpy.

torch.tensor infers a dtype by promoting the element types of (nested) sequences:
bool < int64 < default float < default complex, with numpy scalars/arrays and tensors
contributing their own dtype. Values are converted on the host with numpy, checked for
torch's overflow errors, then placed on the requested device.
"""
from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from . import _device
from . import _dtype as D
from ._tensor import Tensor, wrap

_SEQ = (list, tuple, range)


def _infer_dtype(data):
    """torch.tensor's inference: promote_types over every leaf of the data."""
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, (np.ndarray, np.generic, jax.Array)):
        return D.from_np(data.dtype)
    if isinstance(data, (bool, int, float, complex)):
        return D.scalar_dtype(data)
    if isinstance(data, _SEQ):
        if len(data) == 0:
            return D.get_default_dtype()
        best = None
        for x in data:
            d = _infer_dtype(x)
            best = d if best is None else D.promote_types(best, d)
        return best
    if isinstance(data, str):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    raise RuntimeError(f"Could not infer dtype of {type(data).__name__}")


def _has_arrays(data):
    if isinstance(data, _SEQ):
        return any(_has_arrays(x) for x in data)
    return isinstance(data, (Tensor, np.ndarray, jax.Array))


def _leafify(data):
    """Nested data with tensors/arrays inside -> nested data numpy can stack."""
    if isinstance(data, Tensor):
        return np.asarray(data._value)
    if isinstance(data, jax.Array):
        return np.asarray(data)
    if isinstance(data, _SEQ):
        return [_leafify(x) for x in data]
    return data


def _shape_error(data):
    """torch's message for ragged nested sequences."""
    def walk(x, dim, shape):
        if not isinstance(x, _SEQ + (np.ndarray,)):
            return
        if dim == len(shape):
            shape.append(len(x))
        elif len(x) != shape[dim]:
            raise ValueError(f"expected sequence of length {shape[dim]} at dim {dim} "
                             f"(got {len(x)})")
        for y in x:
            walk(y, dim + 1, shape)
    walk(data, 0, [])
    return ValueError("expected sequence of equal-length sequences")


def _int_bounds(dt):
    info = np.iinfo(dt.np)
    if dt is D.uint8:   # torch accepts negative values down to -max and wraps them
        return -int(info.max), int(info.max)
    return int(info.min), int(info.max)


def cast_checked(arr, dt, type_name=None):
    """numpy array -> dt with torch's 'value cannot be converted ... without overflow'."""
    if dt._category == 1 and arr.dtype.kind in "iufb":
        lo, hi = _int_bounds(dt)
        if arr.size and arr.dtype.kind != "b":
            a = arr.astype(np.float64) if arr.dtype.kind == "f" else arr
            if (arr.dtype.kind == "f" and not np.all(np.isfinite(a))) or \
                    a.min() < lo or a.max() > hi:
                raise RuntimeError(f"value cannot be converted to type {type_name or dt.name} "
                                   "without overflow")
        if arr.dtype.kind == "u" and dt is not D.uint8:
            arr = arr.astype(np.int64)
    if arr.dtype.kind == "c" and dt is D.bool:
        return arr != 0
    if arr.dtype.kind == "c" and dt._category == 1:
        raise TypeError("'complex' object cannot be interpreted as an integer")
    if arr.dtype.kind == "c" and dt._category < 3:
        raise TypeError("must be real number, not complex")
    with np.errstate(over="ignore", invalid="ignore"):
        return arr.astype(dt.np, copy=False)


def _to_numpy(data, dt):
    if isinstance(data, Tensor):
        return np.asarray(data._value)
    if isinstance(data, np.ndarray):
        return data
    if _has_arrays(data):
        data = _leafify(data)
    if isinstance(data, range):
        data = list(data)
    try:
        arr = np.asarray(data)
    except OverflowError:
        raise ValueError("Overflow when unpacking long long") from None
    except ValueError:
        if isinstance(data, _SEQ):
            raise _shape_error(data) from None
        raise
    if arr.dtype == object or arr.dtype.kind in "USV":
        if isinstance(data, _SEQ) and arr.dtype == object:
            _shape_error(data)
            if any(isinstance(x, int) and not isinstance(x, bool) for x in _flat(data)):
                raise ValueError("Overflow when unpacking long long")
        bad = next((x for x in _flat(data) if not isinstance(
            x, (bool, int, float, complex, np.generic))), data)
        raise TypeError(f"new(): invalid data type '{type(bad).__name__}'")
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8:
        raise ValueError("Overflow when unpacking long long")
    return arr


def _flat(data):
    if isinstance(data, _SEQ):
        for x in data:
            yield from _flat(x)
    else:
        yield data


def place(arr, device):
    """Put a host/device array on torch `device` (None: the default device)."""
    if device is None and not _device._default_device:
        return jnp.asarray(arr)
    return jax.device_put(arr, _device.jax_device(device))


def set_requires_grad(t, requires_grad):
    if requires_grad:
        if t.dtype._category < 2:
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        t._rg = True
    return t


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """torch.tensor: always a new leaf tensor holding a copy of `data`."""
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.detach().clone() or sourceTensor.detach().clone()"
                      ".requires_grad_(True), rather than torch.tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
        dt = D.to_dtype(dtype) if dtype is not None else data.dtype
        v = data._value
        arr = v.astype(dt.np) if v.dtype != dt.np else jnp.array(v, copy=True)
        t = wrap(place(arr, device) if device is not None else arr)
        return set_requires_grad(t, requires_grad)
    dt = D.to_dtype(dtype) if dtype is not None else _infer_dtype(data)
    arr = cast_checked(_to_numpy(data, dt), dt)
    return set_requires_grad(wrap(place(arr, device)), requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Shares `data` when it already is a tensor of the right dtype/device."""
    if isinstance(data, Tensor):
        if (dtype is None or D.to_dtype(dtype) is data.dtype) and device is None:
            return data
        return data.to(dtype=dtype, device=device)
    if isinstance(data, np.ndarray) and dtype is None and device is None:
        return from_numpy(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tensor(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    if copy:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = tensor(obj, dtype=dtype, device=device)
    else:
        t = as_tensor(obj, dtype=dtype, device=device)
    if requires_grad:
        t.requires_grad_()
    return t


def from_numpy(ndarray):
    """Copies (JAX arrays are immutable): writes to the ndarray are not seen afterwards."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    D.from_np(ndarray.dtype)
    return wrap(jnp.asarray(ndarray))


def scalar_tensor(s, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False):
    if isinstance(s, Tensor):
        s = s.item()
    return tensor(s, dtype=dtype or D.get_default_dtype(), device=device,
                  requires_grad=requires_grad)


def legacy_tensor_new(cls, *args, dtype=None, device=None, requires_grad=False):
    """torch.Tensor(...) / subclass construction: data, a size, or nothing."""
    from . import _ops  # noqa: F401
    dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
    if len(args) == 1 and isinstance(args[0], Tensor):
        arr = args[0]._value
    elif len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray)) and not (
            isinstance(args[0], tuple) and all(isinstance(a, int) for a in args[0])
            and type(args[0]).__name__ == "Size"):
        arr = jnp.asarray(cast_checked(_to_numpy(args[0], dt), dt))
    elif all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
        if any(a < 0 for a in args):
            raise RuntimeError(f"Trying to create tensor with negative dimension "
                               f"{min(args)}: {list(args)}")
        arr = jnp.zeros(tuple(int(a) for a in args), dt.np)
    else:
        raise TypeError(f"new() received an invalid combination of arguments - got "
                        f"({', '.join(type(a).__name__ for a in args)})")
    if device is not None:
        arr = place(arr, device)
    from ._tensor import _init_as
    t = _init_as(object.__new__(cls), arr)
    t._arr = arr
    if requires_grad:
        t.requires_grad = True
    return t
