"""torch.ao.nn.quantized: int8 modules produced by `convert` (and `dynamic` by
`quantize_dynamic`)."""
import importlib as _importlib

from .functional_modules import FloatFunctional, QFunctional  # noqa: F401
from .modules import (  # noqa: F401
    Conv1d, Conv2d, Conv3d, DeQuantize, Dropout, Linear, LinearPackedParams, Quantize,
)

__all__ = ["Conv1d", "Conv2d", "Conv3d", "DeQuantize", "Dropout", "FloatFunctional", "Linear",
           "QFunctional", "Quantize", "dynamic"]


def __getattr__(name):
    if name in ("dynamic", "modules"):
        return _importlib.import_module(f".{name}", __name__)
    if name.startswith("__"):
        raise AttributeError(name)
    from ...._errors import missing
    raise missing(f"torch.ao.nn.quantized.{name}")
