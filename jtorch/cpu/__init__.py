"""torch.cpu: the CPU device module (device queries are trivial; `amp` holds the deprecated
autocast alias)."""
from __future__ import annotations

from . import amp  # noqa: F401

__all__ = ["amp", "current_device", "device_count", "is_available", "synchronize"]


def is_available():
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def synchronize(device=None):
    """Blocks until all CPU work is done (JAX dispatch is asynchronous)."""
    import jax
    for a in jax.live_arrays():
        try:
            a.block_until_ready()
        except Exception:  # noqa: BLE001 - deleted/donated buffers
            pass


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    from .._errors import missing
    raise missing(f"torch.cpu.{name}")
