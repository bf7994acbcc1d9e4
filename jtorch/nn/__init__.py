"""torch.nn on jtorch: Module, Parameter, containers, layers, init and utils."""
from .parameter import (  # noqa: F401
    Parameter, Buffer, UninitializedParameter, UninitializedBuffer,
)
from .modules import *  # noqa: F401,F403
from .modules.module import (  # noqa: F401
    register_module_forward_pre_hook, register_module_forward_hook,
    register_module_full_backward_pre_hook, register_module_backward_hook,
    register_module_full_backward_hook, register_module_buffer_registration_hook,
    register_module_module_registration_hook, register_module_parameter_registration_hook,
)
from . import init, utils  # noqa: F401,E402
from . import parameter, modules  # noqa: F401,E402


def __getattr__(name):
    # `nn.functional` is a sibling module written separately; import it on first use
    import importlib
    if name in ("functional", "parallel", "quantized", "intrinsic"):
        return importlib.import_module(f".{name}", __name__)
    if name in ("DataParallel", "DistributedDataParallel"):
        return getattr(importlib.import_module(".parallel", __name__), name)
    if name.startswith("__"):
        raise AttributeError(name)
    from .._errors import missing
    raise missing(f"torch.nn.{name}")
