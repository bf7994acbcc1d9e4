"""torch.utils: the parts real training scripts touch (data loading)."""
from . import data  # noqa: F401


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    from .._errors import missing
    raise missing(f"torch.utils.{name}")
