"""Attach the generated surface: torch.X functions, Tensor methods, Python operators."""
from __future__ import annotations

from ._ops.registry import FUNCTIONS, METHODS
from ._tensor import Tensor

# Python operator -> (method name, reflected?)
_BINARY = {
    "add": "add", "sub": "sub", "mul": "mul", "truediv": "div", "floordiv": "floor_divide",
    "mod": "remainder", "pow": "pow", "matmul": "matmul", "and": "bitwise_and",
    "or": "bitwise_or", "xor": "bitwise_xor", "lshift": "bitwise_left_shift",
    "rshift": "bitwise_right_shift",
}
_COMPARE = {"eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge"}
_UNARY = {"neg": "neg", "pos": "positive", "abs": "abs", "invert": "bitwise_not"}


def _forward(name):
    def f(self, other):
        return METHODS[name](self, other)
    return f


def _reflected(name):
    def f(self, other):
        return FUNCTIONS[name](other, self)
    return f


def _inplace(name):
    def f(self, other):
        return METHODS[name + "_"](self, other)
    return f


def install(namespace):
    for name, fn in METHODS.items():
        if not hasattr(Tensor, name) or getattr(getattr(Tensor, name), "_op", None) is not None \
                or name not in Tensor.__dict__:
            setattr(Tensor, name, fn)
    for py, name in _BINARY.items():
        if name in METHODS:
            setattr(Tensor, f"__{py}__", _forward(name))
            setattr(Tensor, f"__r{py}__", _reflected(name))
        if name + "_" in METHODS:
            setattr(Tensor, f"__i{py}__", _inplace(name))
    for py, name in _COMPARE.items():
        if name in METHODS:
            setattr(Tensor, f"__{py}__", _forward(name))
    for py, name in _UNARY.items():
        if name in METHODS:
            setattr(Tensor, f"__{py}__", METHODS[name])
    for name, fn in FUNCTIONS.items():
        if name not in namespace or getattr(namespace[name], "_op", None) is not None:
            namespace[name] = fn
