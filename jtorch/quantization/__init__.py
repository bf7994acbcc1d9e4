"""torch.quantization: the older name of torch.ao.quantization (same objects)."""
from ..ao.quantization import *  # noqa: F401,F403
from ..ao.quantization import __all__  # noqa: F401
from ..ao.quantization import __getattr__  # noqa: F401
