"""torch.cpu.amp: deprecated aliases of torch.amp for the CPU (each warns as torch does)."""
from __future__ import annotations

import warnings

from ..amp import autocast_mode as _am
from ..amp import grad_scaler as _gs

__all__ = ["autocast", "GradScaler"]


class autocast(_am.autocast):
    """See torch.autocast; ``torch.cpu.amp.autocast(args...)`` is deprecated."""

    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        warnings.warn("`torch.cpu.amp.autocast(args...)` is deprecated. Please use "
                      "`torch.amp.autocast('cpu', args...)` instead.", FutureWarning,
                      stacklevel=2)
        from .. import _dtype as D
        super().__init__("cpu", enabled=enabled, dtype=D.bfloat16 if dtype is None else dtype,
                         cache_enabled=cache_enabled)


class GradScaler(_gs.GradScaler):
    """See torch.amp.GradScaler; ``torch.cpu.amp.GradScaler(args...)`` is deprecated."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        warnings.warn("`torch.cpu.amp.GradScaler(args...)` is deprecated. Please use "
                      "`torch.amp.GradScaler('cpu', args...)` instead.", FutureWarning,
                      stacklevel=2)
        super().__init__("cpu", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval,
                         enabled=enabled)
