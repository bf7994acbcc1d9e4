"""Constant/Zero/Reflection/Replication/Circular padding modules over nn.functional.pad."""
from __future__ import annotations

from .. import _functional_conv as F
from .module import Module

__all__ = [f"{kind}Pad{n}d" for kind in ("Constant", "Zero", "Reflection", "Replication",
                                          "Circular") for n in (1, 2, 3)]


def _ntuple(v, n):
    return tuple(v) if isinstance(v, (list, tuple)) else (v,) * n


class _PadNd(Module):
    __constants__ = ["padding"]
    _mode = "constant"
    _nd = 1

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._nd)

    def forward(self, input):
        return F._pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    __constants__ = ["padding", "value"]

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F._pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


_g = globals()
for _n in (1, 2, 3):
    for _kind, _base, _mode in (("Constant", _ConstantPadNd, "constant"),
                                ("Zero", _ZeroPadNd, "constant"),
                                ("Reflection", _PadNd, "reflect"),
                                ("Replication", _PadNd, "replicate"),
                                ("Circular", _PadNd, "circular")):
        _name = f"{_kind}Pad{_n}d"
        _g[_name] = type(_name, (_base,), {"_nd": _n, "_mode": _mode, "__module__": __name__,
                                           "__qualname__": _name})
del _g, _n, _kind, _base, _mode, _name
