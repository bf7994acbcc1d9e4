"""Which base element each element of a view is, computed with numpy on the host.

A view's index map (push an iota of the base's shape through its chain of view ops) gives
torch's strides, storage offset and overlap, and the scatter that writes a view back
into its base. Running that chain as a jitted JAX program costs an XLA compile, 60-80 ms
on a CPU, for every new (chain, base shape): four of them were 0.27 s of a GPT's first
training step, for `q.view(...)` of a `split` and `att.transpose(1, 2).reshape(...)`.

View ops are shape bookkeeping, so the chain's jaxpr (traced, never compiled) is
evaluated here with numpy: reshape, transpose, slice, squeeze, broadcast, reverse,
static dynamic_slice and the scalar arithmetic around an index. A jaxpr with anything
else gives None and the caller runs the jitted chain as before.
"""
from __future__ import annotations

import jax
import numpy as np
from jax.extend import core as jcore


class _Unsupported(Exception):
    pass


def index_map(fn, base_shape):
    """fn(iota of base_shape) as an int64 numpy array, or None when fn's jaxpr uses a
    primitive this interpreter does not know."""
    spec = jax.ShapeDtypeStruct(tuple(base_shape), np.int64)
    try:
        closed = jax.make_jaxpr(fn)(spec)
        iota = np.arange(int(np.prod(base_shape, dtype=np.int64)), dtype=np.int64)
        out, = _eval(closed.jaxpr, closed.consts, [iota.reshape(base_shape)])
    except _Unsupported:
        return None
    return np.asarray(out, dtype=np.int64)


def _eval(jaxpr, consts, args):
    env = {}

    def read(v):
        return v.val if isinstance(v, jcore.Literal) else env[v]

    for v, x in zip(jaxpr.constvars, consts):
        env[v] = np.asarray(x)
    for v, x in zip(jaxpr.invars, args):
        env[v] = x
    for eqn in jaxpr.eqns:
        rule = _RULES.get(eqn.primitive.name)
        if rule is None:
            raise _Unsupported(eqn.primitive.name)
        outs = rule(*[read(v) for v in eqn.invars], **eqn.params)
        if not eqn.primitive.multiple_results:
            outs = [outs]
        for v, x in zip(eqn.outvars, outs):
            env[v] = np.asarray(x)
    return [read(v) for v in jaxpr.outvars]


def _reshape(x, *dyn, new_sizes, dimensions=None, **_):
    if dyn:
        raise _Unsupported("dynamic reshape")
    if dimensions is not None:
        x = np.transpose(x, dimensions)
    return np.reshape(x, new_sizes)


def _broadcast_in_dim(x, *dyn, shape, broadcast_dimensions, **_):
    if dyn:
        raise _Unsupported("dynamic broadcast")
    expanded = [1] * len(shape)
    for src, dst in enumerate(broadcast_dimensions):
        expanded[dst] = x.shape[src]
    return np.broadcast_to(np.reshape(x, expanded), shape)


def _slice(x, start_indices, limit_indices, strides=None):
    strides = strides or (1,) * x.ndim
    return x[tuple(slice(a, b, s) for a, b, s in zip(start_indices, limit_indices, strides))]


def _dynamic_slice(x, *starts, slice_sizes):
    if len(starts) != x.ndim:
        raise _Unsupported("dynamic_slice with dynamic sizes")
    idx = []
    for s, n, size in zip(starts, x.shape, slice_sizes):
        s = int(min(max(int(s), 0), n - size))  # lax clamps the start into range
        idx.append(slice(s, s + size))
    return x[tuple(idx)]


def _convert(x, new_dtype, **_):
    if not np.issubdtype(np.dtype(new_dtype), np.integer) and np.asarray(x).ndim:
        raise _Unsupported("an index map cast to a non-integer type")
    return np.asarray(x).astype(new_dtype)


def _inner(*args, jaxpr, **_):
    return _eval(jaxpr.jaxpr, jaxpr.consts, list(args))


def _gather(x, indices, *, dimension_numbers, slice_sizes, mode, fill_value=None, **_):
    """lax.gather with the index vector in the last dimension of `indices` (how jax
    lowers diagonal, unfold, as_strided): one numpy fancy-indexing read."""
    dn = dimension_numbers
    if dn.operand_batching_dims or dn.start_indices_batching_dims:
        raise _Unsupported("batched gather")
    indices = np.asarray(indices).astype(np.int64)
    batch_shape = indices.shape[:-1]
    kept = [d for d in range(x.ndim) if d not in dn.collapsed_slice_dims]
    out_rank = len(batch_shape) + len(kept)
    batch_pos = [p for p in range(out_rank) if p not in dn.offset_dims]
    index = []
    for d in range(x.ndim):
        start = np.zeros(batch_shape, np.int64)
        if d in dn.start_index_map:
            start = indices[..., list(dn.start_index_map).index(d)]
            hi = x.shape[d] - slice_sizes[d]
            if "FILL" in str(mode) and ((start < 0) | (start > hi)).any():
                raise _Unsupported("gather out of bounds")
            start = np.clip(start, 0, hi)
        shape = [1] * out_rank
        for p, n in zip(batch_pos, batch_shape):
            shape[p] = n
        ix = start.reshape(shape)
        if d in kept:
            shape = [1] * out_rank
            shape[dn.offset_dims[kept.index(d)]] = slice_sizes[d]
            ix = ix + np.arange(slice_sizes[d]).reshape(shape)
        index.append(ix)
    return x[tuple(index)]


def _iota(*dyn, dtype, shape, dimension, **_):
    if dyn:
        raise _Unsupported("dynamic iota")
    line = np.arange(shape[dimension], dtype=dtype)
    return np.broadcast_to(np.expand_dims(line, [d for d in range(len(shape)) if d != dimension]),
                           shape)


def _select_n(which, *cases):
    return np.choose(np.asarray(which).astype(np.int64), cases)


_RULES = {
    "reshape": _reshape,
    "transpose": lambda x, permutation: np.transpose(x, permutation),
    "slice": _slice,
    "squeeze": lambda x, dimensions: np.squeeze(x, tuple(dimensions)),
    "broadcast_in_dim": _broadcast_in_dim,
    "rev": lambda x, dimensions: np.flip(x, tuple(dimensions)) if dimensions else x,
    "dynamic_slice": _dynamic_slice,
    "convert_element_type": _convert,
    "copy": lambda x: x,
    "pjit": _inner,
    "jit": _inner,
    "closed_call": lambda *a, call_jaxpr, **_: _eval(call_jaxpr.jaxpr, call_jaxpr.consts, list(a)),
    # scalar arithmetic of an index (normalizing a negative one, clamping)
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "neg": np.negative,
    "max": np.maximum, "min": np.minimum,
    "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
    "eq": np.equal, "ne": np.not_equal,
    "select_n": _select_n,
    "gather": _gather,
    "iota": _iota,
    "concatenate": lambda *xs, dimension: np.concatenate(xs, dimension),
    "clamp": lambda lo, x, hi: np.clip(x, lo, hi),
}
