"""Running ordinary jtorch ops on quantized tensors, the way PyTorch's QuantizedCPU kernels
do for the ops whose result stays on the input's integer grid.

An op that only selects, moves or takes maxima of elements (views, reshape, flatten,
permute, indexing, max pooling, relu, ...) commutes with the affine map x = (q - zp) * s when
it is applied to the shifted integers q - zp: we run the ordinary float op on those integers
(exact in float32) and add zp back, keeping scale and zero point. `cat` requantizes every
input to the first one's qparams (torch's rule). Every other op raises torch's
"Could not run ... 'QuantizedCPU' backend" NotImplementedError.

`hook(op, tensor_args, statics)` is the entry point for the op dispatcher (see the report:
`jtorch._ops.dispatch` calls it when a quantized tensor is among the arguments); it returns
NotImplemented when no argument is quantized.
"""
from __future__ import annotations

import jax.numpy as jnp

from .._tensor import Tensor, wrap

# ops whose output elements are input elements (or maxima of them) of the first argument
_SELECT = {
    "relu", "reshape", "view", "_flatten", "unflatten", "squeeze", "unsqueeze", "permute",
    "transpose", "narrow", "select", "_index_basic", "index.Tensor", "index_select", "chunk",
    "split", "split_with_sizes", "tensor_split", "clone", "_reshape_copy", "view_copy",
    "squeeze_copy", "unsqueeze_copy", "permute_copy", "transpose_copy", "select_copy",
    "pixel_shuffle", "pixel_unshuffle", "_jt_max_pool", "_jt_max_pool_with_indices",
    "_jt_adaptive_max_pool", "expand", "repeat", "flip", "roll", "contiguous", "t",
    "movedim", "swapaxes", "swapdims", "unbind", "channel_shuffle",
}
# upsampling is a selection only in 'nearest' mode
_NEAREST = {"_jt_upsample"}


_QT = None  # the QTensor class, set by _quantized (which imports this module)


def _is_q(v):
    return type(v) is _QT


def _any_q(targs):
    """Cheap check run on every op once quantization is imported."""
    for v in targs:
        t = type(v)
        if t is _QT:
            return True
        if t is list or t is tuple:
            for w in v:
                if type(w) is _QT:
                    return True
    return False


def _unsupported(name):
    return NotImplementedError(
        f"Could not run 'aten::{name}' with arguments from the 'QuantizedCPU' backend. This "
        "could be because the operator doesn't exist for this backend (jtorch runs only "
        "selection/view/max-pool/relu/cat ops on quantized tensors; call .dequantize() "
        "first).")


def _shifted(q):
    if q._axis is not None:
        raise NotImplementedError("ops on per-channel quantized tensors are not implemented "
                                  "in jtorch (dequantize first)")
    return wrap((q._q.astype(jnp.int32) - q._zp).astype(jnp.float32))


def _requant_like(t, like):
    """Float tensor of shifted integers -> quantized tensor with `like`'s qparams."""
    from ._quantized import QTensor, qrange
    qmin, qmax = qrange(like._qdt)
    q = jnp.clip(jnp.rint(t._value) + like._zp, qmin, qmax).astype(like._qdt.np)
    return QTensor._make(q, like._qdt, like._scale, like._zp)


def _rewrap(res, like):
    if isinstance(res, Tensor):
        return _requant_like(res, like) if res.dtype.is_floating_point else res
    if isinstance(res, (tuple, list)):
        out = [_rewrap(r, like) for r in res]
        if hasattr(res, "_fields"):
            return type(res)(*out)
        return type(res)(out) if isinstance(res, list) else tuple(out)
    return res


def _cat(d, targs, statics, call):
    from ._quantized import QTensor, quantize_per_tensor
    tensors = list(targs[0])
    first = tensors[0]
    if not all(isinstance(t, QTensor) for t in tensors):
        raise _unsupported(d.name)
    same = all(t._qdt is first._qdt and t._scale == first._scale and t._zp == first._zp
               for t in tensors)
    if same:
        res = call(d, ([_shifted(t) for t in tensors], *targs[1:]), statics)
        return _requant_like(res, first)
    res = call(d, ([t.dequantize() for t in tensors], *targs[1:]), statics)
    return quantize_per_tensor(res, first._scale, first._zp, first._qdt)


def hook(d, targs, statics):
    """Run op `d` when quantized tensors are among `targs`; NotImplemented otherwise."""
    if not _any_q(targs):
        return NotImplemented
    from .._ops.dispatch import _call
    name = d.name
    if name in ("cat", "concat", "concatenate"):
        return _cat(d, targs, statics, _call)
    first = targs[0]
    selective = name in _SELECT or (name in _NEAREST and "nearest" in map(str, statics))
    if not selective or not _is_q(first) or any(_is_q(v) for v in targs[1:]):
        raise _unsupported(name)
    res = _call(d, (_shifted(first), *targs[1:]), statics)
    return _rewrap(res, first)

