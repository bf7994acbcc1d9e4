"""torch.nn.modules: the Module base class and the layers built on it (torch's file names)."""
from . import (
    activation, batchnorm, channelshuffle, container, conv, distance, dropout, flatten, fold,
    instancenorm, lazy, linear, loss, module, normalization, padding, pixelshuffle, pooling, rnn,
    sparse, transformer, upsampling,
)
from .module import Module  # noqa: F401
from .container import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .lazy import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .batchnorm import *  # noqa: F401,F403
from .channelshuffle import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .flatten import *  # noqa: F401,F403
from .fold import *  # noqa: F401,F403
from .instancenorm import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .pixelshuffle import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .upsampling import *  # noqa: F401,F403

__all__ = ["Module"]
for _m in (container, linear, lazy, activation, batchnorm, channelshuffle, conv, distance,
           dropout, flatten, fold, instancenorm, loss, normalization, padding, pixelshuffle,
           pooling, rnn, sparse, transformer, upsampling):
    __all__ += [n for n in _m.__all__ if n not in __all__]
del _m
