"""parameters_to_vector / vector_to_parameters."""
from __future__ import annotations

from ..._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_param_device(param, old):
    if old is None:
        return param.get_device() if param.device.type == "cuda" else -1
    warn = param.get_device() != old if param.device.type == "cuda" else old != -1
    if warn:
        raise TypeError("Found two parameters on different devices, this is currently not "
                        "supported.")
    return old


def parameters_to_vector(parameters):
    """Flatten and concatenate the parameters into one 1-D tensor."""
    import jtorch
    dev = None
    vec = []
    for p in parameters:
        dev = _check_param_device(p, dev)
        vec.append(p.reshape(-1))
    return jtorch.cat(vec)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of `vec` into the parameters' `.data`."""
    if not isinstance(vec, Tensor):
        from ..modules.module import _typename
        raise TypeError(f"expected torch.Tensor, but got: {_typename(vec)}")
    dev = None
    pointer = 0
    for p in parameters:
        dev = _check_param_device(p, dev)
        n = p.numel()
        p.data = vec[pointer:pointer + n].reshape(tuple(p.shape)).data
        pointer += n
