"""torch.nn.DataParallel: one process, the batch split across local devices.

Unlike torch (Python threads driving module replicas), the wrapped module runs as one
SPMD computation (see _spmd.py): inputs sharded along `dim` over a 1-D mesh of the
devices, parameters replicated, outputs gathered (replicated) and returned on
`output_device`; parameter gradients come back summed over the batch, on the
parameters' own device.

BatchNorm: the batch statistics are those of the whole batch (XLA reduces across the
shards, as SyncBatchNorm would), not torch's per-replica statistics, so DataParallel
trains exactly like the single-device module; running statistics are updated once
from the whole batch. Dropout and other random ops draw from the default generator
(one key per call). Module hooks inside the wrapped module are refused (they would
only run while the program is traced).
"""
from __future__ import annotations

import jax

from ..._device import device as _torch_device
from ..modules.module import Module
from ._spmd import DeviceMesh, spmd_call

__all__ = ["DataParallel", "data_parallel"]


def _platform(module):
    for t in list(module.parameters()) + list(module.buffers()):
        v = t._value
        if not isinstance(v, jax.core.Tracer):
            return next(iter(v.devices())).platform
    return jax.default_backend()


def _index(d):
    if isinstance(d, _torch_device):
        return d.index or 0
    if isinstance(d, str):
        return _torch_device(d).index or 0
    return int(d)


class DataParallel(Module):
    """DataParallel(module, device_ids=None, output_device=None, dim=0)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        local = jax.local_devices(backend=_platform(module))
        if device_ids is None:
            device_ids = list(range(len(local)))
        device_ids = [_index(d) for d in device_ids]
        for i in device_ids:
            if not 0 <= i < len(local):
                raise AssertionError(f"Invalid device id {i}: {len(local)} "
                                     f"{local[0].platform} device(s) are visible")
        if output_device is None:
            output_device = device_ids[0] if device_ids else 0
        self.dim = dim
        self.device_ids = device_ids
        self.output_device = _index(output_device)
        self._jax_devices = [local[i] for i in device_ids]
        self._out_device = local[self.output_device]
        self._mesh = DeviceMesh(self._jax_devices, dim) if len(device_ids) > 1 else None
        self._spmd_cache = {}

    def forward(self, *inputs, **kwargs):
        if self._mesh is None:
            return self.module(*inputs, **kwargs)
        return spmd_call(self, self.module, self._mesh,
                         jax.sharding.SingleDeviceSharding(self._out_device), inputs, kwargs)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_spmd_cache"] = {}
        return state


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0,
                  module_kwargs=None):
    """torch.nn.parallel.data_parallel: DataParallel's forward as a function."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    dp = DataParallel(module, device_ids, output_device, dim)
    return dp(*inputs, **(module_kwargs or {}))
