"""Tensor construction from Python data and numpy: torch.tensor, as_tensor, from_numpy."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import _device
from . import _dtype as D
from ._tensor import Tensor, wrap


def _infer_dtype(data):
    """torch.tensor's inference: bool < int64 < default float < default complex."""
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, (np.ndarray, np.generic)):
        return D.from_np(data.dtype)
    if isinstance(data, jax.Array):
        return D.from_np(data.dtype)
    if isinstance(data, (list, tuple)):
        best = None
        for x in data:
            d = _infer_dtype(x)
            if best is None or d._category > best._category or (
                    d._category == best._category and isinstance(x, (Tensor, np.ndarray))
                    and d is not best):
                best = d if best is None or d._category >= best._category else best
                if isinstance(x, (Tensor, np.ndarray)) and best is not None:
                    best = D.promote_types(best, d) if best is not d else d
        return best if best is not None else D.get_default_dtype()
    return D.scalar_dtype(data)


def _to_numpy(data, dt):
    if isinstance(data, Tensor):
        return np.asarray(data._value).astype(dt.np)
    if isinstance(data, (list, tuple)):
        if any(isinstance(x, Tensor) for x in data):
            return np.stack([_to_numpy(x, dt) for x in data]) if data else np.zeros((0,), dt.np)
    try:
        arr = np.asarray(data, dtype=dt.np)
    except OverflowError:
        raise RuntimeError(f"Overflow when unpacking long") from None
    except (ValueError, TypeError) as e:
        if isinstance(data, (list, tuple)):
            raise ValueError(f"expected sequence of equal-length sequences: {e}") from None
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'") from None
    return arr


def _place(arr, device):
    if device is None:
        return jnp.asarray(arr)
    return jax.device_put(arr, _device.jax_device(device))


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    dt = D.to_dtype(dtype) if dtype is not None else _infer_dtype(data)
    arr = data._value.astype(dt.np) if isinstance(data, Tensor) else _to_numpy(data, dt)
    t = wrap(_place(arr, device) if device is not None or not isinstance(arr, jax.Array)
             else arr)
    if requires_grad:
        t.requires_grad = True
    return t


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor):
        if (dtype is None or D.to_dtype(dtype) is data.dtype) and device is None:
            return data
        return data.to(dtype=dtype, device=device)
    if isinstance(data, np.ndarray) and dtype is None and device is None:
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    t = as_tensor(obj, dtype=dtype, device=device) if not copy else tensor(
        obj, dtype=dtype, device=device)
    if requires_grad:
        t.requires_grad_()
    return t


def from_numpy(ndarray):
    """Copies (JAX arrays are immutable): writes to the ndarray are not seen afterwards."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    D.from_np(ndarray.dtype)
    return wrap(jnp.asarray(ndarray))


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
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
        arr = jnp.asarray(_to_numpy(args[0], dt))
    elif all(isinstance(a, (int, np.integer)) for a in args):
        arr = jnp.zeros(tuple(int(a) for a in args), dt.np)
    else:
        raise TypeError(f"new() received an invalid combination of arguments - got "
                        f"({', '.join(type(a).__name__ for a in args)})")
    from ._tensor import _init_as
    t = _init_as(object.__new__(cls), arr)
    t._arr = arr
    if requires_grad:
        t.requires_grad = True
    return t
