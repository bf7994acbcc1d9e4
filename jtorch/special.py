"""torch.special: functions are declared in jtorch/_ops/special.py (namespace='special')."""
from ._errors import missing as _missing
from ._ops.registry import NAMESPACES as _NS

globals().update(_NS.get("special", {}))


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise _missing(f"torch.special.{name}")
