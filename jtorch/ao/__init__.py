"""torch.ao: architecture optimization. jtorch has the eager-mode quantization workflow
(`torch.ao.quantization`) and the quantized modules (`torch.ao.nn`)."""
import importlib as _importlib


def __getattr__(name):
    if name in ("quantization", "nn"):
        return _importlib.import_module(f".{name}", __name__)
    if name.startswith("__"):
        raise AttributeError(name)
    from .._errors import missing
    raise missing(f"torch.ao.{name}")
