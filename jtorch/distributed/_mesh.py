"""The collectives' engine: one jitted SPMD computation over a 1-D mesh holding one
device per process (JAX's multi-controller runtime moves the data, with gloo on CPU
and NCCL on GPU).

Every rank contributes its local array as one row of a global (world, *shape) array
sharded over the mesh; a reduction over that axis with a replicated (or row-sharded)
output is the collective. Several tensors go through one call (DDP's bucket).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

_AXIS = "ranks"


class WorldMesh:
    """The mesh of the default group: device k belongs to process (rank) k."""

    def __init__(self):
        n = jax.process_count()
        self.devices = [jax.local_devices(process_index=p)[0] for p in range(n)]
        self.device = jax.local_devices()[0]
        self.mesh = Mesh(np.array(self.devices), (_AXIS,))
        self.rows = NamedSharding(self.mesh, P(_AXIS))
        self.replicated = NamedSharding(self.mesh, P())
        self.size = n

    # ------------------------------------------------------------------ plumbing
    def _global(self, a):
        """This rank's array as its row of a (world, *shape) global array."""
        local = jax.device_put(jnp.asarray(a)[None], self.device)
        return jax.make_array_from_single_device_arrays(
            (self.size,) + tuple(local.shape[1:]), self.rows, [local])

    @staticmethod
    def _local(a):
        return a.addressable_shards[0].data

    def run(self, kind, arrays, **statics):
        """Apply collective `kind` to a list of local arrays; returns local results."""
        if self.size == 1:   # same shapes, no mesh: a one-process group needs no runtime
            return [_KINDS[kind](jnp.asarray(a)[None], **statics) for a in arrays]
        fn = self._compiled(kind, tuple(sorted(statics.items())))
        outs = fn(tuple(self._global(a) for a in arrays))
        return [self._local(o) for o in outs]

    @functools.lru_cache(maxsize=None)  # noqa: B019 - one mesh per process group
    def _compiled(self, kind, statics):
        body = _KINDS[kind]
        out = self.rows if kind == "reduce_scatter" else self.replicated
        kw = dict(statics)
        return jax.jit(lambda xs: tuple(body(x, **kw) for x in xs), out_shardings=out)

    def barrier(self):
        self.run("all_reduce", [np.zeros((), np.int32)], op="sum")[0].block_until_ready()


def _reduce(x, op):
    """Reduce the leading (rank) axis."""
    if op == "sum":
        return jnp.sum(x, 0, dtype=x.dtype)
    if op == "avg":
        s = jnp.sum(x, 0, dtype=x.dtype)
        if jnp.issubdtype(x.dtype, jnp.inexact):
            return s / x.shape[0]
        return jax.lax.div(s, jnp.asarray(x.shape[0], s.dtype))   # truncates, as NCCL
    if op == "product":
        return jnp.prod(x, 0, dtype=x.dtype)
    if op == "min":
        return jnp.min(x, 0)
    if op == "max":
        return jnp.max(x, 0)
    if op == "band":
        return functools.reduce(jnp.bitwise_and, list(x))
    if op == "bor":
        return functools.reduce(jnp.bitwise_or, list(x))
    if op == "bxor":
        return functools.reduce(jnp.bitwise_xor, list(x))
    raise NotImplementedError(f"jtorch.distributed: ReduceOp {op} is not implemented")


_KINDS = {
    "all_reduce": _reduce,
    "all_gather": lambda x: x,
    "broadcast": lambda x, src: x[src],
    # x: (world, world, *chunk), rank r's row holding its world chunks; the reduction is
    # row-sharded on output, so rank k keeps the reduction of everyone's chunk k
    "reduce_scatter": _reduce,
}
