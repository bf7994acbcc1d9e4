"""torch.nn.modules: the Module base class and the layers built on it."""
from .module import Module  # noqa: F401
from .container import (  # noqa: F401
    Container, Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict,
)
from .linear import Identity, Linear, Bilinear, LazyLinear  # noqa: F401
from .lazy import LazyModuleMixin  # noqa: F401

__all__ = ["Module", "Container", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
           "ParameterDict", "Identity", "Linear", "Bilinear", "LazyLinear", "LazyModuleMixin"]
