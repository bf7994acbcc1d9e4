"""torch.nn.quantized: the older name of torch.ao.nn.quantized (same classes)."""
from ...ao.nn.quantized import *  # noqa: F401,F403
from ...ao.nn.quantized import __all__, __getattr__  # noqa: F401
from . import dynamic  # noqa: F401,E402
