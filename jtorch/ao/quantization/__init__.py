"""torch.ao.quantization on jtorch: eager-mode post-training quantization.

Dynamic (`quantize_dynamic`: Linear, LSTM) and static (`QuantStub`/`DeQuantStub`,
`fuse_modules`, `prepare`, calibrate, `convert`) quantization with PyTorch's x86/fbgemm
numerics: observers choose the same scale/zero_point as torch, int8 kernels accumulate in
int32 and requantize with fbgemm's rounding. Quantization-aware training (fake quant,
`prepare_qat`) and FX/PT2E graph mode are not implemented.
"""
from .. import _quantized  # noqa: F401  (the qdtypes; installs the dispatch hook)
from .fuse_modules import fuse_conv_bn, fuse_conv_bn_relu, fuse_known_modules  # noqa: F401
from .fuse_modules import fuse_linear_bn, fuse_modules, get_fuser_method  # noqa: F401
from .observer import (  # noqa: F401
    HistogramObserver, MinMaxObserver, MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver, NoopObserver, ObserverBase, PerChannelMinMaxObserver,
    PlaceholderObserver, UniformQuantizationObserverBase, default_dynamic_quant_observer,
    default_histogram_observer, default_observer, default_per_channel_weight_observer,
    default_placeholder_observer, default_weight_observer, get_observer_state_dict,
    load_observer_state_dict,
)
from .qconfig import (  # noqa: F401
    QConfig, QConfigDynamic, default_dynamic_qconfig, default_per_channel_qconfig,
    default_qconfig, float16_dynamic_qconfig, get_default_qat_qconfig, get_default_qconfig,
    per_channel_dynamic_qconfig, qconfig_equals,
)
from .quantization_mappings import (  # noqa: F401
    get_default_dynamic_quant_module_mappings, get_default_qconfig_propagation_list,
    get_default_static_quant_module_mappings, no_observer_set,
)
from .quantize import (  # noqa: F401
    add_quant_dequant, convert, prepare, prepare_qat, propagate_qconfig_, quantize,
    quantize_dynamic, quantize_qat, swap_module,
)
from .stubs import DeQuantStub, QuantStub, QuantWrapper  # noqa: F401

__all__ = [
    "DeQuantStub", "QuantStub", "QuantWrapper", "QConfig", "QConfigDynamic", "convert",
    "prepare", "quantize", "quantize_dynamic", "propagate_qconfig_", "swap_module",
    "add_quant_dequant", "fuse_modules", "fuse_known_modules", "get_fuser_method",
    "get_default_qconfig", "default_qconfig", "default_dynamic_qconfig",
    "default_per_channel_qconfig", "per_channel_dynamic_qconfig", "float16_dynamic_qconfig",
    "MinMaxObserver", "MovingAverageMinMaxObserver", "PerChannelMinMaxObserver",
    "MovingAveragePerChannelMinMaxObserver", "HistogramObserver", "PlaceholderObserver",
    "NoopObserver", "ObserverBase", "default_observer", "default_weight_observer",
    "default_per_channel_weight_observer", "default_histogram_observer",
    "default_dynamic_quant_observer", "get_default_static_quant_module_mappings",
    "get_default_dynamic_quant_module_mappings", "get_default_qconfig_propagation_list",
]


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    import importlib
    if name in ("observer", "qconfig", "quantize", "stubs", "fuse_modules",
                "quantization_mappings"):
        return importlib.import_module(f".{name}", __name__)
    from ..._errors import missing
    raise missing(f"torch.ao.quantization.{name}")

