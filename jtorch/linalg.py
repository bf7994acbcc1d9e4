"""torch.linalg: functions are declared in jtorch/_ops/linalg.py (namespace='linalg')."""
from ._errors import missing as _missing
from ._ops.registry import NAMESPACES as _NS

globals().update(_NS.get("linalg", {}))


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise _missing(f"torch.linalg.{name}")
