"""torch.nn.utils: gradient clipping, parameter <-> vector, stateless.functional_call,
conv/linear-BatchNorm fusion, weight/spectral norm (legacy hooks and parametrizations), pruning."""
from .clip_grad import clip_grad_norm, clip_grad_norm_, clip_grad_value_  # noqa: F401
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from .fusion import (  # noqa: F401
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    fuse_linear_bn_weights,
)
from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401
from .weight_norm import remove_weight_norm, weight_norm  # noqa: F401
from . import parametrizations, parametrize, stateless, rnn  # noqa: F401


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    if name in ("prune", "parametrize", "parametrizations", "fusion"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    from ..._errors import missing
    raise missing(f"torch.nn.utils.{name}")
