"""torch.nn.utils: gradient clipping, parameter <-> vector, stateless.functional_call."""
from .clip_grad import clip_grad_norm, clip_grad_norm_, clip_grad_value_  # noqa: F401
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from . import stateless, rnn  # noqa: F401


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    if name in ("prune", "parametrize", "parametrizations", "fusion"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    from ..._errors import missing
    raise missing(f"torch.nn.utils.{name}")
