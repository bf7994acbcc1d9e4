"""torch.amp: automatic mixed precision (autocast regions and gradient scaling)."""
from .autocast_mode import (  # noqa: F401
    autocast, custom_bwd, custom_fwd, is_autocast_available,
)
from .grad_scaler import GradScaler, OptState  # noqa: F401

__all__ = ["autocast", "custom_bwd", "custom_fwd", "is_autocast_available", "GradScaler"]
