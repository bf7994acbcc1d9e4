"""torch.compiler: controls for jtorch.compile, plus jtorch's gradient-accumulation
transform (`accumulate_grad`, a jtorch extension: torch has no counterpart)."""
from __future__ import annotations

from ._compile import compile  # noqa: F401
from ._compile.accumulate import accumulate_grad  # noqa: F401

__all__ = ["compile", "is_compiling", "accumulate_grad"]


def is_compiling():
    """True while jtorch.compile is tracing the function (its Python runs only then)."""
    from . import _tensor
    return _tensor._TRACK is not None
