"""The module call as one SPMD computation over a 1-D mesh of local devices.

`spmd_call` turns `module(*args, **kwargs)` into a pure function of (params, buffers,
inputs, generator key) run through `dispatch.apply_jax`: one tape node whose jitted
forward carries sharding constraints (inputs split along the batch dim, parameters and
buffers replicated, outputs replicated), so XLA partitions the work across the devices
and its VJP yields replicated, batch-summed parameter gradients. Eagerly, arrays are
moved onto the mesh first and results back to the caller's device, each move a small
differentiable node (its gradient goes back where the tensor came from).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P, SingleDeviceSharding

from ... import _random
from ..._ops.dispatch import apply_jax
from ..._tensor import Tensor, wrap
from ...autograd import grad_mode
from ...autograd.engine import _edge
from ...autograd.graph import Node
from ...func import _pytree as PT

_AXIS = "dp"
_DUMMY_KEY = np.zeros(2, np.uint32)


class DeviceMesh:
    """Shardings over a 1-D mesh of `devices` for splitting along `dim`."""

    def __init__(self, devices, dim):
        self.n = len(devices)
        self.mesh = Mesh(np.array(devices), (_AXIS,))
        self.replicated = NamedSharding(self.mesh, P())
        self.dim = dim

    def split(self, shape):
        """Batch-sharded along dim when it divides evenly, else replicated (same values
        either way: the sharding only decides where the work runs)."""
        d = self.dim if self.dim >= 0 else self.dim + len(shape)
        if 0 <= d < len(shape) and shape[d] % self.n == 0 and shape[d] > 0:
            return NamedSharding(self.mesh, P(*([None] * d), _AXIS))
        return self.replicated


# ------------------------------------------------------------------ differentiable moves

def move(v, sharding, committed=True):
    """`v` on `sharding`. Going from the mesh back to one device takes that device's
    replica (no copy); `committed=False` leaves the result uncommitted, like the
    caller's own arrays, so later jits (jtorch.compile too) may still place it."""
    out = None
    if isinstance(sharding, SingleDeviceSharding) and v.is_fully_replicated:
        dev = next(iter(sharding.device_set))
        out = next((sh.data for sh in v.addressable_shards if sh.device == dev), None)
    if out is None:
        out = jax.device_put(v, sharding)
    if not committed:
        out = _uncommitted(out)
    return out


def _uncommitted(a):
    try:
        from jax._src.array import ArrayImpl
        return ArrayImpl(a.aval, a.sharding, [a], committed=False)
    except Exception:   # noqa: BLE001 - a JAX without this constructor: stay committed
        return a


def _is_committed(v):
    return getattr(v, "_committed", True)


class _PlaceFast:
    __slots__ = ("src", "committed")

    def __init__(self, src, committed):
        self.src, self.committed = src, committed

    def __call__(self, gs):
        return (None if gs[0] is None else move(gs[0], self.src, self.committed),)


class _PlaceGraph:
    __slots__ = ("src", "committed")

    def __init__(self, src, committed):
        self.src, self.committed = src, committed

    def __call__(self, gs):
        return (None if gs[0] is None else place(gs[0], self.src, self.committed),)


def place(t, sharding, committed=True):
    """`t` on `sharding`; under autograd its gradient is moved back to t's placement."""
    v = t._value
    moved = move(v, sharding, committed)
    if not (grad_mode.STATE.grad_enabled and t._rg):
        return wrap(moved)
    src, was = v.sharding, _is_committed(v)
    node = Node("DataParallelPlaceBackward", (_edge(t),), _PlaceFast(src, was),
                _PlaceGraph(src, was), (), ((tuple(v.shape), v.dtype),))
    return wrap(moved, node, 0)


# ------------------------------------------------------------------ the pure function

class _Entry:
    """One traced signature's facts, learned at trace time."""

    def __init__(self):
        self.out_spec = None      # pytree spec of the module's output
        self.out_pos = None       # positions of Tensor leaves in the output
        self.out_static = None    # the output's non-Tensor leaves
        self.buf_written = ()     # indices of buffers the forward wrote in place
        self.uses_rng = None      # whether the default generator was drawn
        self.fn = None


def _make_fn(module, pnames, bnames, in_leaves, in_spec, in_pos, dmesh, entry):
    npar, nbuf, nin = len(pnames), len(bnames), len(in_pos)
    wsc = jax.lax.with_sharding_constraint

    def fn(*arrays):
        ps = [wsc(a, dmesh.replicated) for a in arrays[:npar]]
        bs = [wsc(a, dmesh.replicated) for a in arrays[npar:npar + nbuf]]
        xs = [wsc(a, dmesh.split(a.shape)) for a in arrays[npar + nbuf:npar + nbuf + nin]]
        key = arrays[-1]
        ptens = {n: wrap(a) for n, a in zip(pnames, ps)}
        btens = [wrap(a) for a in bs]
        values = dict(ptens)
        values.update(zip(bnames, btens))
        leaves = list(in_leaves)
        for i, a in zip(in_pos, xs):
            leaves[i] = wrap(a)
        args, kwargs = PT.unflatten(leaves, in_spec)
        g = _random.default_generator
        saved = (g._key, g._counter)
        g._key, g._counter = key, 0
        try:
            from ..utils.stateless import functional_call
            with grad_mode.no_grad():
                out = functional_call(module, values, tuple(args), kwargs)
            drawn = g._counter
        finally:
            g._key, g._counter = saved
        entry.uses_rng = bool(drawn)
        oleaves, entry.out_spec = PT.flatten(out)
        entry.out_pos = [i for i, v in enumerate(oleaves) if isinstance(v, Tensor)]
        entry.out_static = [None if isinstance(v, Tensor) else v for v in oleaves]
        entry.buf_written = [k for k, t in enumerate(btens) if t._vc[0] != 0]
        outs = [wsc(oleaves[i]._value, dmesh.replicated) for i in entry.out_pos]
        news = [_as_float(wsc(btens[k]._value, dmesh.replicated)) for k in entry.buf_written]
        return tuple(outs) + tuple(news)
    return fn


def _as_float(v):
    """Integer buffers (num_batches_tracked) leave the differentiable function bit-cast to
    a float of their width (apply_jax outputs carry gradients); `_from_float` undoes it."""
    if jnp.issubdtype(v.dtype, jnp.inexact):
        return v
    wide = v.dtype.itemsize > 4
    v = jax.lax.stop_gradient(v).astype(jnp.int64 if wide else jnp.int32)
    return jax.lax.bitcast_convert_type(v, jnp.float64 if wide else jnp.float32)


def _from_float(v, dtype):
    if v.dtype == dtype:
        return v
    wide = v.dtype.itemsize > 4
    return jax.lax.bitcast_convert_type(v, jnp.int64 if wide else jnp.int32).astype(dtype)


def _signature(module, pnames, bnames, in_leaves, in_pos, in_spec):
    statics = []
    pos = set(in_pos)
    for i, v in enumerate(in_leaves):
        if i not in pos:
            try:
                hash(v)
            except TypeError:
                from ..._errors import missing
                raise missing(f"DataParallel with a non-Tensor, unhashable input of type "
                              f"{type(v).__name__}") from None
            statics.append((i, v))
    flags = tuple(m.training for m in module.modules())
    return (id(module), tuple(pnames), tuple(bnames), tuple(statics), tuple(in_pos),
            repr(in_spec), flags)


_HOOK_TABLES = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                "_backward_pre_hooks")


def _refuse_hooks(module):
    """Hooks inside the traced forward would run once per compile, on tracers: refuse."""
    from ..modules.module import _any_global_hook
    hooked = _any_global_hook() or any(getattr(m, t, None) for m in module.modules()
                                       for t in _HOOK_TABLES)
    if hooked:
        from ..._errors import missing
        raise missing("DataParallel over several devices of a module with forward/backward "
                      "hooks (the module runs as one traced program)")


def spmd_call(owner, module, dmesh, out_sharding, args, kwargs):
    """module(*args, **kwargs) as one node sharded over `dmesh` (see the module doc)."""
    _refuse_hooks(module)
    params = list(module.named_parameters())
    buffers = [(n, b) for n, b in module.named_buffers() if b is not None]
    in_leaves, in_spec = PT.flatten((tuple(args), dict(kwargs)))
    in_pos = [i for i, v in enumerate(in_leaves) if isinstance(v, Tensor)]
    pnames = [n for n, _ in params]
    bnames = [n for n, _ in buffers]
    sig = _signature(module, pnames, bnames, in_leaves, in_pos, in_spec)
    entry = owner._spmd_cache.get(sig)
    if entry is None:
        entry = owner._spmd_cache[sig] = _Entry()
        static_leaves = [None if isinstance(v, Tensor) else v for v in in_leaves]
        entry.fn = _make_fn(module, pnames, bnames, static_leaves, in_spec, in_pos, dmesh,
                            entry)

    tensors = [p for _, p in params] + [b for _, b in buffers] + \
        [in_leaves[i] for i in in_pos]
    traced = any(isinstance(t._value, jax.core.Tracer) for t in tensors)
    committed = traced or any(_is_committed(in_leaves[i]._value) for i in in_pos)
    if not traced:   # eager: onto the mesh (differentiably), results come back below
        npb = len(params) + len(buffers)
        tensors = [place(t, dmesh.replicated) for t in tensors[:npb]] + \
            [place(t, dmesh.split(tuple(t.shape))) for t in tensors[npb:]]

    def call(key):
        return apply_jax(entry.fn, tensors + [wrap(key)], name="DataParallelBackward")

    known = entry.uses_rng
    outs = call(_draw_key() if known else _DUMMY_KEY)
    if known is None and entry.uses_rng:   # first call learned the module draws: redo
        outs = call(_draw_key())
    nout = len(entry.out_pos)
    results, news = list(outs[:nout]), outs[nout:]
    if not traced:
        results = [place(r, out_sharding, committed) for r in results]
    _write_buffers([buffers[k][1] for k in entry.buf_written], news, traced)
    leaves = list(entry.out_static)
    for i, r in zip(entry.out_pos, results):
        leaves[i] = r
    return PT.unflatten(leaves, entry.out_spec)


def _draw_key():
    """A fresh key for this call's random draws (one draw of the default generator)."""
    return np.asarray(_random.default_generator._draw()).astype(np.uint32)


def _write_buffers(bufs, news, traced):
    """Running statistics updated inside the SPMD forward land in the module's buffers."""
    with grad_mode.no_grad():
        for b, new in zip(bufs, news):
            v = _from_float(new._value, b._value.dtype)
            if not traced:
                v = move(v, b._value.sharding, _is_committed(b._value))
            b.copy_(wrap(v))
