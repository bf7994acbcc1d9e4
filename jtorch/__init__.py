"""jtorch: PyTorch's API on JAX. `import jtorch as torch`.

Import order matters: dtypes and devices, then the Tensor facade, then the op
families (each registers its ops), then the generated surface is attached.
"""
from . import _cpu_runtime

_cpu_runtime.apply()  # malloc and XLA's CPU scheduler, before JAX starts its backend

import jax as _jax  # noqa: E402

_jax.config.update("jax_enable_x64", True)  # int64/float64 are real; defaults are kept here

__jtorch_version__ = "0.1.0"
__version__ = "2.13.0"  # the PyTorch API level jtorch mirrors; scripts compare against it

from ._dtype import (  # noqa: E402
    dtype, bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64,
    complex64, complex128, half, float, double, short, int, long, cfloat, cdouble,
    promote_types, result_type, can_cast, get_default_dtype, set_default_dtype,
)
from ._device import device  # noqa: E402
from ._formats import (  # noqa: E402,F401
    memory_format, layout, contiguous_format, preserve_format, channels_last, channels_last_3d,
    strided, sparse_coo,
)
from ._tensor import Tensor, Size  # noqa: E402
from .autograd.grad_mode import (  # noqa: E402
    no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled,
    is_inference_mode_enabled,
)
from . import _ops  # noqa: E402,F401  (registers every op family)
from ._ops import registry as _registry  # noqa: E402
from . import _surface  # noqa: E402

_surface.install(globals())

from . import autograd, linalg, fft, special, serialization, random, optim, nn  # noqa: E402,F401
from . import utils, cuda, backends, jit, testing, func  # noqa: E402,F401
from .serialization import save, load  # noqa: E402
from .autograd.anomaly_mode import (  # noqa: E402,F401
    is_anomaly_enabled, is_anomaly_check_nan_enabled, set_detect_anomaly,
)
from ._namedtuple import return_types  # noqa: E402,F401


# Subpackages imported on first use (they pull in optional dependencies or are rarely
# needed): `torch.amp`, `torch.onnx`, `torch.distributed`, ... resolve lazily.
_LAZY_SUBMODULES = {"amp", "ao", "quantization", "onnx", "distributed", "cpu", "interop",
                    "compiler"}
# Top-level names that live in a lazily imported submodule: name -> module.
_LAZY_NAMES = {
    "compile": "jtorch._compile",
    "autocast": "jtorch.amp",
    **{n: "jtorch.ao._quantized" for n in (
        "quint8", "qint8", "qint32", "qscheme", "per_tensor_affine", "per_channel_affine",
        "per_tensor_symmetric", "per_channel_symmetric", "per_channel_affine_float_qparams",
        "quantize_per_tensor", "quantize_per_channel", "dequantize")},
    **{n: "jtorch.amp.autocast_mode" for n in (
        "is_autocast_enabled", "set_autocast_enabled", "get_autocast_dtype",
        "set_autocast_dtype", "is_autocast_cache_enabled", "set_autocast_cache_enabled",
        "clear_autocast_cache", "autocast_increment_nesting", "autocast_decrement_nesting",
        "is_autocast_cpu_enabled", "get_autocast_cpu_dtype", "get_autocast_gpu_dtype")},
    "from_dlpack": "jtorch.utils.dlpack",
    "to_dlpack": "jtorch.utils.dlpack",
}


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    import importlib
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    from ._errors import missing
    raise missing(f"torch.{name}")
