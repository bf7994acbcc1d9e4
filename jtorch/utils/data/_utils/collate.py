"""default_collate / default_convert: samples → batches, torch's rules.

Tensors stack (one op); numpy arrays stack in numpy and become one tensor; Python
floats → float64, ints → int64, bools → bool tensors; strings stay lists; mappings,
namedtuples and sequences recurse (a tuple of fields collates to a *list*, as in torch).
"""
from __future__ import annotations

import collections.abc
import copy
import re

import numpy as np

from ...._tensor import Tensor

np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
    "found {}")

default_convert_err_msg_format = default_collate_err_msg_format


def _jt():
    import jtorch
    return jtorch


# True in a forked DataLoader worker: JAX must not run there (see worker.py), so leaves
# collate to _HostArray — a numpy array that unpickles as a jtorch Tensor in the parent.
HOST_ONLY = False


class _HostArray:
    def __init__(self, array):
        self.array = array

    def __reduce__(self):
        from ...._tensor import _rebuild
        return (_rebuild, (self.array, False))


def _as_tensor_np(arr):
    return _HostArray(arr) if HOST_ONLY else _jt().from_numpy(arr)


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def default_convert(data):
    """numpy arrays/scalars → tensors, recursing into containers (no batching)."""
    jt = _jt()
    if isinstance(data, jt.Tensor):
        return data
    if isinstance(data, np.ndarray) or isinstance(data, np.generic) and not isinstance(
            data, (np.str_, np.bytes_)):
        if isinstance(data, np.ndarray) and np_str_obj_array_pattern.search(data.dtype.str):
            return data
        return jt.as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update({k: default_convert(data[k]) for k in data})
                return clone
            return type(data)({k: default_convert(data[k]) for k in data})
        except TypeError:
            return {k: default_convert(data[k]) for k in data}
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def collate_tensor_fn(batch, *, collate_fn_map=None):
    jt = _jt()
    return jt.stack(list(batch), 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    for i, b in enumerate(batch):
        if b.shape != elem.shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(elem.shape)} at entry 0 and {list(b.shape)} at entry {i}")
    return _as_tensor_np(np.stack(batch))


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    return _as_tensor_np(np.asarray(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    if HOST_ONLY:
        return _HostArray(np.asarray(batch, dtype=np.float64))
    jt = _jt()
    return jt.tensor(batch, dtype=jt.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    if HOST_ONLY:
        return _HostArray(np.asarray(batch, dtype=bool if all(
            isinstance(b, bool) for b in batch) else np.int64))
    return _jt().tensor(batch)


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


def collate(batch, *, collate_fn_map=None):
    """Collate `batch` using `collate_fn_map` ({type or tuple of types: fn}) for leaves."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for key in collate_fn_map:
            if isinstance(elem, key):
                return collate_fn_map[key](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update({k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map)
                              for k in elem})
                return clone
            return elem_type({k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map)
                              for k in elem})
        except TypeError:
            return {k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map)
                    for k in elem}
    if _is_namedtuple(elem):
        return elem_type(*(collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        it = iter(batch)
        elem_size = len(next(it))
        if not all(len(e) == elem_size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [collate(s, collate_fn_map=collate_fn_map) for s in transposed]
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, s in enumerate(transposed):
                    clone[i] = collate(s, collate_fn_map=collate_fn_map)
                return clone
            return elem_type([collate(s, collate_fn_map=collate_fn_map) for s in transposed])
        except TypeError:
            return [collate(s, collate_fn_map=collate_fn_map) for s in transposed]
    raise TypeError(default_collate_err_msg_format.format(elem_type))


default_collate_fn_map = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch):
    """torch's default_collate: stack samples into batched tensors, keeping structure."""
    return collate(batch, collate_fn_map=default_collate_fn_map)
