"""torch dtypes over JAX dtypes, and torch's type-promotion rules.

JAX promotes differently from torch (weak types, uint8+int8 -> int16 agree, but
bool/int/float lattices and scalar handling differ), so promotion is computed
here, once, and dispatch casts inputs before calling jnp.
"""
from __future__ import annotations

import builtins

import jax.numpy as jnp
import numpy as np

__all__ = [
    "dtype", "promote_types", "result_type", "can_cast", "get_default_dtype",
    "set_default_dtype",
]


class dtype:
    """A torch dtype: a name plus the numpy/JAX dtype that stores it."""

    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_complex", "is_signed",
                 "_category", "_rank")

    def __init__(self, name, np_dtype, category, rank):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == 2
        self.is_complex = category == 3
        self.is_signed = name not in ("uint8", "bool")
        self._category = category  # 0 bool, 1 integral, 2 floating, 3 complex
        self._rank = rank

    def __repr__(self):
        return "torch." + self.name

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_real(self):
        return {"complex64": float32, "complex128": float64}.get(self.name, self)

    def to_complex(self):
        return {"float64": complex128}.get(self.name, complex64 if self._category == 2 else self)


bool = dtype("bool", np.bool_, 0, 0)  # noqa: A001 - torch's name
uint8 = dtype("uint8", np.uint8, 1, 1)
int8 = dtype("int8", np.int8, 1, 1)
int16 = dtype("int16", np.int16, 1, 2)
int32 = dtype("int32", np.int32, 1, 3)
int64 = dtype("int64", np.int64, 1, 4)
float16 = dtype("float16", np.float16, 2, 1)
bfloat16 = dtype("bfloat16", jnp.bfloat16, 2, 1)
float32 = dtype("float32", np.float32, 2, 2)
float64 = dtype("float64", np.float64, 2, 3)
complex64 = dtype("complex64", np.complex64, 3, 2)
complex128 = dtype("complex128", np.complex128, 3, 3)

ALL = (bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64,
       complex64, complex128)
half, float, double, short, int, long = (float16, float32, float64, int16, int32,  # noqa: A001
                                         int64)
cfloat, cdouble = complex64, complex128
ALIASES = {
    "half": float16, "float": float32, "double": float64, "short": int16, "int": int32,
    "long": int64, "cfloat": complex64, "cdouble": complex128,
}
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update(ALIASES)
_BY_NP = {d.np: d for d in ALL}


def _by_name(name):
    return _BY_NAME[name]


def from_np(np_dtype) -> dtype:
    """The torch dtype for a numpy/JAX dtype; uint16/32/64 have no torch twin here."""
    d = _BY_NP.get(np.dtype(np_dtype))
    if d is None:
        raise TypeError(f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only "
                        "supported types are: float64, float32, float16, complex64, "
                        "complex128, int64, int32, int16, int8, uint8, and bool.")
    return d


def to_dtype(d) -> dtype:
    """Accept a jtorch dtype, a numpy dtype, a Python type or a name."""
    if isinstance(d, dtype):
        return d
    if d is builtins.float:
        return get_default_dtype()
    if d is builtins.int:
        return int64
    if d is builtins.bool:
        return bool
    if d is builtins.complex:
        return _default_complex()
    if isinstance(d, str):
        return _BY_NAME[d.replace("torch.", "")]
    return from_np(d)


# --- promotion -----------------------------------------------------------------------

def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the smallest dtype both can be cast to, torch's lattice."""
    if a is b:
        return a
    ca, cb = a._category, b._category
    if ca < cb or (ca == cb and a._rank < b._rank):
        a, b, ca, cb = b, a, cb, ca  # a is now the "bigger" one
    if cb == 0:
        return a
    if ca == 1:  # both integral
        if b is uint8 or a is uint8:
            other = a if b is uint8 else b
            return int16 if other is int8 else other
        return a
    if ca == 2:
        if cb == 1:
            return a
        if a._rank == b._rank:  # float16 vs bfloat16
            return float32
        return a
    # a is complex
    if cb == 3:
        return a
    if cb == 2 and b is float64:
        return complex128
    return a


_default_dtype = [float32]


def get_default_dtype() -> dtype:
    return _default_dtype[0]


def set_default_dtype(d) -> None:
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _default_dtype[0] = d


def _default_complex() -> dtype:
    return complex128 if _default_dtype[0] is float64 else complex64


def scalar_dtype(x) -> dtype:
    """The dtype torch gives a Python number wrapped as a tensor."""
    if isinstance(x, builtins.bool):
        return bool
    if isinstance(x, builtins.int):
        return int64
    if isinstance(x, builtins.float):
        return get_default_dtype()
    if isinstance(x, builtins.complex):
        return _default_complex()
    if isinstance(x, np.generic):
        return from_np(x.dtype)
    raise TypeError(f"unsupported scalar type {type(x).__name__}")


def _combine(higher, lower):
    """torch's combine_categories: a lower priority class only wins on category."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.is_complex:
        return higher
    if lower.is_complex:
        return higher.to_complex() if higher.is_floating_point else lower
    if higher.is_floating_point:
        return higher
    if higher is bool or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def _promote_opt(a, b):
    return b if a is None else promote_types(a, b)


def result_dtype(dim_dtypes, zero_dtypes, scalars) -> dtype:
    """torch's ResultTypeState: dimensioned tensors > zero-dim tensors > Python scalars."""
    dim = zero = wrapped = None
    for d in dim_dtypes:
        dim = _promote_opt(dim, d)
    for d in zero_dtypes:
        zero = _promote_opt(zero, d)
    for s in scalars:
        wrapped = _promote_opt(wrapped, scalar_dtype(s))
    return _combine(dim, _combine(zero, wrapped))


def result_type(tensor1, tensor2) -> dtype:
    """torch.result_type for any mix of tensors and Python scalars."""
    from ._tensor import Tensor
    dims, zeros, scalars = [], [], []
    for t in (tensor1, tensor2):
        if isinstance(t, Tensor):
            (zeros if t.ndim == 0 else dims).append(t.dtype)
        else:
            scalars.append(t)
    return result_dtype(dims, zeros, scalars)


def can_cast(from_, to) -> builtins.bool:
    """torch.can_cast: no complex->real, float->integral or non-bool->bool casts."""
    if from_.is_complex and not to.is_complex:
        return False
    if from_.is_floating_point and to._category < 2:
        return False
    if from_ is not bool and to is bool:
        return False
    return True


def type_name(d: dtype) -> str:
    """The ScalarType name torch uses in error messages ('Float', 'Long', ...)."""
    return {
        "bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
        "int64": "Long", "float16": "Half", "bfloat16": "BFloat16", "float32": "Float",
        "float64": "Double", "complex64": "ComplexFloat", "complex128": "ComplexDouble",
    }[d.name]
