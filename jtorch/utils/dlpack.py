"""torch.utils.dlpack: zero-copy exchange with numpy, real PyTorch, CuPy, ... via DLPack.

A Tensor exports the buffer of the jax.Array that holds its value, and `from_dlpack`
wraps the producer's buffer in a jax.Array, so both directions share memory when XLA can
use the buffer as is. What is zero-copy (checked in tests/test_interop.py):

* Tensor -> numpy / torch: always (the consumer sees the jax buffer; numpy marks it
  read-only). jtorch never writes into a buffer: in-place ops on the Tensor swap in a
  new array, so consumers keep the values from the moment of export.
* numpy / torch -> Tensor: when the buffer is dense and 64-byte aligned (XLA's CPU
  requirement). torch's CPU allocator aligns to 64 bytes; numpy only guarantees 16 for
  small arrays, so small numpy arrays and offset slices are often copied by JAX.
  Strided (non-compact) producers are copied through numpy on CPU. A shared buffer
  written later by its producer shows through the Tensor.
"""
from __future__ import annotations

import ctypes
import enum

import jax
import jax.numpy as jnp
import numpy as np

from .._tensor import Tensor, wrap

__all__ = ["DLDeviceType", "from_dlpack", "to_dlpack"]


class DLDeviceType(enum.IntEnum):
    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLOpenCL = 4
    kDLVulkan = 7
    kDLMetal = 8
    kDLVPI = 9
    kDLROCM = 10
    kDLROCMHost = 11
    kDLExtDev = 12
    kDLCUDAManaged = 13
    kDLOneAPI = 14
    kDLWebGPU = 15
    kDLHexagon = 16
    kDLMAIA = 17


def _exportable(t):
    if t._rg:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    v = t._value
    if isinstance(v, jax.core.Tracer):
        from .._tensor import _traced_error
        raise _traced_error("__dlpack__()")
    return v


def _tensor_dlpack(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    """DLPack export of this tensor's buffer (the Python array API protocol)."""
    kw = {}
    if max_version is not None:
        kw["max_version"] = max_version
    if dl_device is not None:
        kw["dl_device"] = dl_device
    if copy is not None:
        kw["copy"] = copy
    return _exportable(self).__dlpack__(stream=stream, **kw)


def _tensor_dlpack_device(self):
    dev_type, dev_id = self._value.__dlpack_device__()
    return DLDeviceType(int(dev_type)), int(dev_id)


Tensor.__dlpack__ = _tensor_dlpack
Tensor.__dlpack_device__ = _tensor_dlpack_device


def to_dlpack(tensor):
    """A DLPack capsule for `tensor`'s buffer (consumable once)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dlpack(): argument 'tensor' must be Tensor, not "
                        f"{type(tensor).__name__}")
    return tensor._value.__dlpack__()


# ------------------------------------------------------------------------------ capsules

class _CapsuleSource:
    """Presents a bare DLPack capsule through the __dlpack__ protocol JAX consumes."""

    def __init__(self, capsule):
        self._capsule = capsule
        self._device = _capsule_device(capsule)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        if self._capsule is None:
            raise RuntimeError(_CONSUMED)
        cap, self._capsule = self._capsule, None
        return cap

    def __dlpack_device__(self):
        return self._device


_CONSUMED = ("from_dlpack received an invalid capsule. Note that DLTensor capsules can be "
             "consumed only once, so you might have already constructed a tensor from it once.")


def _capsule_device(capsule):
    """(device_type, device_id) read from the DLTensor inside a capsule."""
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    api.PyCapsule_IsValid.restype = ctypes.c_int
    api.PyCapsule_IsValid.argtypes = [ctypes.py_object, ctypes.c_char_p]
    name = api.PyCapsule_GetName(capsule)
    if name not in (b"dltensor", b"dltensor_versioned") or not api.PyCapsule_IsValid(capsule,
                                                                                      name):
        raise RuntimeError(_CONSUMED)
    ptr = api.PyCapsule_GetPointer(capsule, name)
    # DLTensor starts the unversioned struct; the versioned one has version (8 bytes),
    # manager_ctx, deleter and flags (8 each) before it. DLTensor = {void* data; DLDevice}.
    offset = 0 if name == b"dltensor" else 32
    dev = (ctypes.c_int32 * 2).from_address(ptr + offset + ctypes.sizeof(ctypes.c_void_p))
    return DLDeviceType(dev[0]), int(dev[1])


def from_dlpack(ext_tensor, *, device=None, copy=None):
    """A Tensor sharing memory with `ext_tensor` (an object with __dlpack__, or a capsule).

    copy=True always copies; copy=False raises BufferError where sharing is impossible.
    """
    if type(ext_tensor).__name__ == "PyCapsule":
        ext_tensor = _CapsuleSource(ext_tensor)
    elif not hasattr(ext_tensor, "__dlpack__"):
        raise RuntimeError(_CONSUMED)
    if isinstance(ext_tensor, Tensor):
        arr = ext_tensor._value
        return wrap(jnp.array(arr, copy=True) if copy else arr)
    jdev = None
    if device is not None:
        from .._device import device as _dev
        d = _dev(device) if not isinstance(device, _dev) else device
        if d.type != "cpu":
            raise NotImplementedError(f"from_dlpack(device={device!r}): only CPU targets are "
                                      "supported by jtorch")
        jdev = jax.local_devices(backend="cpu")[0]
    try:
        arr = jax.dlpack.from_dlpack(ext_tensor, device=jdev, copy=False if copy is False
                                     else None)
        if copy:  # jax may still alias the producer on CPU: copy explicitly
            arr = jnp.array(arr, copy=True)
    except Exception as e:  # noqa: BLE001 - XLA refuses strided buffers
        if "striding" not in str(e) or copy is False:
            if copy is False:
                raise BufferError(f"from_dlpack(copy=False): cannot share this buffer "
                                  f"({e})") from e
            raise
        arr = jnp.array(np.from_dlpack(ext_tensor), copy=True)
    return wrap(arr)
