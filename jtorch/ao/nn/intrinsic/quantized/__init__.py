"""torch.ao.nn.intrinsic.quantized: quantized fused modules (the ReLU is the requantize
clamp at the output zero point)."""
from ...quantized import modules as _nnq
from .. import ConvReLU1d as _FConvReLU1d, ConvReLU2d as _FConvReLU2d
from .. import ConvReLU3d as _FConvReLU3d, LinearReLU as _FLinearReLU

__all__ = ["LinearReLU", "ConvReLU1d", "ConvReLU2d", "ConvReLU3d"]


class LinearReLU(_nnq.Linear):
    """Quantized Linear + ReLU in one kernel."""
    _FLOAT_MODULES = (_FLinearReLU,)
    _RELU = True

    def _get_name(self):
        return "QuantizedLinearReLU"


class ConvReLU1d(_nnq.Conv1d):
    """Quantized Conv1d + ReLU in one kernel."""
    _FLOAT_MODULES = (_FConvReLU1d,)
    _RELU, _NAME = True, "QuantizedConvReLU1d"


class ConvReLU2d(_nnq.Conv2d):
    """Quantized Conv2d + ReLU in one kernel."""
    _FLOAT_MODULES = (_FConvReLU2d,)
    _RELU, _NAME = True, "QuantizedConvReLU2d"


class ConvReLU3d(_nnq.Conv3d):
    """Quantized Conv3d + ReLU in one kernel."""
    _FLOAT_MODULES = (_FConvReLU3d,)
    _RELU, _NAME = True, "QuantizedConvReLU3d"
