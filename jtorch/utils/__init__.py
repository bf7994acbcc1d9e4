"""torch.utils: the parts real training scripts touch (data loading, DLPack exchange)."""
from . import data  # noqa: F401
from . import dlpack  # noqa: F401  (also gives Tensor its __dlpack__ protocol methods)


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    from .._errors import missing
    raise missing(f"torch.utils.{name}")
