"""torch.fft: functions are declared in jtorch/_ops/fft.py (namespace='fft')."""
from ._errors import missing as _missing
from ._ops.registry import NAMESPACES as _NS

globals().update(_NS.get("fft", {}))


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise _missing(f"torch.fft.{name}")
