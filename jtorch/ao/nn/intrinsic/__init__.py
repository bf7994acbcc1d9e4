"""torch.ao.nn.intrinsic: float modules fused by `fuse_modules` (a Sequential of the parts),
which `convert` maps to one quantized kernel (e.g. conv + relu in one requantize)."""
import importlib as _importlib

from ....nn.modules.activation import ReLU
from ....nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from ....nn.modules.container import Sequential
from ....nn.modules.conv import Conv1d, Conv2d, Conv3d
from ....nn.modules.linear import Linear

__all__ = ["_FusedModule", "ConvReLU1d", "ConvReLU2d", "ConvReLU3d", "LinearReLU",
           "ConvBn1d", "ConvBn2d", "ConvBn3d", "ConvBnReLU1d", "ConvBnReLU2d", "ConvBnReLU3d",
           "BNReLU2d", "BNReLU3d", "LinearBn1d"]


class _FusedModule(Sequential):
    """Marks a Sequential whose parts are quantized as one unit."""


def _fused(name, doc, *types):
    def __init__(self, *mods):
        if len(mods) != len(types) or any(type(m) is not t for m, t in zip(mods, types)):
            raise AssertionError("Incorrect types for input modules"
                                 + "".join(str(type(m)) for m in mods))
        _FusedModule.__init__(self, *mods)
    return type(name, (_FusedModule,), {"__init__": __init__, "__doc__": doc,
                                        "__module__": __name__})


ConvReLU1d = _fused("ConvReLU1d", "Conv1d followed by ReLU.", Conv1d, ReLU)
ConvReLU2d = _fused("ConvReLU2d", "Conv2d followed by ReLU.", Conv2d, ReLU)
ConvReLU3d = _fused("ConvReLU3d", "Conv3d followed by ReLU.", Conv3d, ReLU)
LinearReLU = _fused("LinearReLU", "Linear followed by ReLU.", Linear, ReLU)
ConvBn1d = _fused("ConvBn1d", "Conv1d followed by BatchNorm1d (QAT).", Conv1d, BatchNorm1d)
ConvBn2d = _fused("ConvBn2d", "Conv2d followed by BatchNorm2d (QAT).", Conv2d, BatchNorm2d)
ConvBn3d = _fused("ConvBn3d", "Conv3d followed by BatchNorm3d (QAT).", Conv3d, BatchNorm3d)
ConvBnReLU1d = _fused("ConvBnReLU1d", "Conv1d, BatchNorm1d, ReLU (QAT).", Conv1d, BatchNorm1d,
                      ReLU)
ConvBnReLU2d = _fused("ConvBnReLU2d", "Conv2d, BatchNorm2d, ReLU (QAT).", Conv2d, BatchNorm2d,
                      ReLU)
ConvBnReLU3d = _fused("ConvBnReLU3d", "Conv3d, BatchNorm3d, ReLU (QAT).", Conv3d, BatchNorm3d,
                      ReLU)
BNReLU2d = _fused("BNReLU2d", "BatchNorm2d followed by ReLU.", BatchNorm2d, ReLU)
BNReLU3d = _fused("BNReLU3d", "BatchNorm3d followed by ReLU.", BatchNorm3d, ReLU)
LinearBn1d = _fused("LinearBn1d", "Linear followed by BatchNorm1d (QAT).", Linear, BatchNorm1d)


def __getattr__(name):
    if name in ("quantized",):
        return _importlib.import_module(f".{name}", __name__)
    if name.startswith("__"):
        raise AttributeError(name)
    from ...._errors import missing
    raise missing(f"torch.ao.nn.intrinsic.{name}")
