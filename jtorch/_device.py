"""torch.device over JAX devices: 'cpu' is JAX's CPU, 'cuda:N' is JAX's N-th GPU."""
from __future__ import annotations

import functools

import jax


class CudaUnavailableError(RuntimeError, AssertionError):
    """torch's CUDA build raises RuntimeError, its CPU build AssertionError: be both."""


class device:
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002 - torch's signature
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int):
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments - got ({type!r})")
        if ":" in type:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was "
                                   f"passed explicitly: {type}")
            type, idx = type.split(":", 1)
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        if type == "gpu":
            type = "cuda"
        if type not in ("cpu", "cuda", "meta", "mps", "xla", "tpu"):
            raise RuntimeError(
                "Expected one of cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, "
                f"fpga, maia, xla, lazy, vulkan, mps, meta, hpu, mtia, privateuseone device type "
                f"at start of device string: {type}")
        self.type, self.index = type, index

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __enter__(self):
        _default_device.append(self)
        return self

    def __exit__(self, *exc):
        _default_device.pop()


_default_device: list[device] = []
CPU = device("cpu")


@functools.lru_cache(maxsize=None)
def gpu_devices():
    try:
        return tuple(jax.local_devices(backend="gpu"))  # this process's, under jax.distributed
    except RuntimeError:
        return ()


def to_device(d) -> device:
    if d is None:
        return _default_device[-1] if _default_device else CPU
    return d if isinstance(d, device) else device(d)


def jax_device(d):
    """The JAX device for a torch device; raises torch's error when CUDA is absent."""
    d = to_device(d)
    if d.type in ("cpu", "meta"):
        return jax.local_devices(backend="cpu")[0]
    if d.type in ("cuda", "xla", "tpu"):
        gpus = gpu_devices() if d.type == "cuda" else tuple(jax.local_devices())
        if not gpus:
            raise CudaUnavailableError(
                "Torch not compiled with CUDA enabled (jtorch: JAX sees no GPU)")
        idx = d.index or 0
        if idx >= len(gpus):
            raise RuntimeError(f"CUDA error: invalid device ordinal (device {idx} of {len(gpus)})")
        return gpus[idx]
    raise RuntimeError(f"jtorch has no backend for device type '{d.type}'")


def from_jax(dev) -> device:
    if dev.platform == "cpu":
        return CPU
    return device("cuda", dev.id if dev.platform == "gpu" else dev.id)
