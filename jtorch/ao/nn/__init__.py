"""torch.ao.nn: fused (`intrinsic`) and quantized module families."""
import importlib as _importlib


def __getattr__(name):
    if name in ("quantized", "intrinsic"):
        return _importlib.import_module(f".{name}", __name__)
    if name.startswith("__"):
        raise AttributeError(name)
    from ..._errors import missing
    raise missing(f"torch.ao.nn.{name}")
