"""Gradient accumulation as a transform: K micro-batches of a step in one program.

`accumulate_grad(fn, micro_batches=K)(*args)` splits every tensor argument into K equal
chunks along dim 0 and calls `fn` (which runs forward and `loss.backward()`) on each,
so `.grad` adds up exactly as K eager `backward()` calls would (divide the loss by K
for the full batch's mean, as in torch). Eagerly it is that Python loop. Inside
`jtorch.compile` it is one `jax.lax.scan`: the grads, the state `fn` writes (BatchNorm
statistics, ...) and the RNG counters are the carry, so each micro-batch's activations
die with its iteration and peak memory does not grow with K.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import _tensor
from .._tensor import Tensor, wrap
from . import state as S
from .tracking import LiftedCounter


def accumulate_grad(fn, micro_batches):
    """Returns `run(*args, **kwargs)`: `fn` over K chunks of the tensor arguments; the
    K results are stacked along a new leading dim (tensors) or listed (other values)."""
    k = int(micro_batches)
    if k < 1:
        raise ValueError(f"micro_batches must be a positive integer, got {micro_batches}")

    def run(*args, **kwargs):
        leaves, treedef = jax.tree_util.tree_flatten((args, kwargs),
                                                     is_leaf=lambda x: isinstance(x, Tensor))
        for x in leaves:
            if isinstance(x, Tensor) and (x.ndim == 0 or x.shape[0] % k):
                raise ValueError(f"accumulate_grad: a tensor argument of shape "
                                 f"{tuple(x.shape)} cannot be split into {k} equal "
                                 "micro-batches along dim 0")
        if _tensor._TRACK is None:
            return _eager(fn, k, leaves, treedef)
        return _scanned(fn, k, leaves, treedef)

    run.__wrapped__ = fn
    return run


def _chunk(leaves, k, i):
    out = []
    for x in leaves:
        if isinstance(x, Tensor):
            n = x.shape[0] // k
            out.append(x[i * n:(i + 1) * n])
        else:
            out.append(x)
    return out


def _stack(results):
    first = results[0]
    if isinstance(first, Tensor):
        from .. import stack
        return stack(results)
    if isinstance(first, (tuple, list)):
        return type(first)(_stack([r[j] for r in results]) for j in range(len(first)))
    return list(results)


def _eager(fn, k, leaves, treedef):
    results = []
    for i in range(k):
        a, kw = jax.tree_util.tree_unflatten(treedef, _chunk(leaves, k, i))
        results.append(fn(*a, **kw))
    return _stack(results)


def _scanned(fn, k, leaves, treedef):
    """One lax.scan over the chunks; the carry is every array `fn` may update."""
    state = S.discover([fn] + [x for x in leaves if not isinstance(x, (Tensor,) + S._SCALARS)])
    storages = state.storages
    owners = state.grad_owners
    gens = state.generators
    # the grad carry: current grads, or zeros where none yet (presence restored after)
    had = [o._grad is not None for o in owners]
    g0 = [o._grad._value if h else jnp.zeros(o._st.arr.shape, o._st.arr.dtype)
          for o, h in zip(owners, had)]
    c0 = [jnp.asarray(g._counter).astype(jnp.int64) for g in gens]
    carry0 = ([st.arr for st in storages], g0, c0)
    xs = [jnp.reshape(x._value, (k, x.shape[0] // k) + tuple(x.shape[1:]))
          if isinstance(x, Tensor) else None for x in leaves]
    t_pos = [i for i, x in enumerate(xs) if x is not None]
    out_info = {}

    def body(carry, chunk):
        st_arrs, grads, counters = carry
        saved = [(st, st.arr) for st in storages]
        saved_g = [(o, o._grad) for o in owners]
        saved_c = [(g, g._counter) for g in gens]
        for st, a in zip(storages, st_arrs):
            st.arr = a
            st.gen += 1
        for o, g in zip(owners, grads):
            o._grad = wrap(g)
        entry_grads = [o._grad for o in owners]
        for gen, c in zip(gens, counters):
            gen._counter = LiftedCounter(c)
        try:
            call = list(leaves)
            for i, c in zip(t_pos, chunk):
                t = wrap(c)
                t._rg = leaves[i]._rg
                call[i] = t
            a, kw = jax.tree_util.tree_unflatten(treedef, call)
            out = fn(*a, **kw)
            o_leaves, o_tree = jax.tree_util.tree_flatten(
                out, is_leaf=lambda x: isinstance(x, Tensor))
            out_info["tree"] = o_tree
            out_info["spec"] = [isinstance(x, Tensor) for x in o_leaves]
            ys = [x._value for x in o_leaves if isinstance(x, Tensor)]
            out_info["const"] = [x for x in o_leaves if not isinstance(x, Tensor)]
            new_g = [o._grad._value if o._grad is not None else g
                     for o, g in zip(owners, grads)]
            out_info["touched"] = [o._grad is not e or o._grad._value is not g
                                   for o, e, g in zip(owners, entry_grads, grads)]
            out_info["draws"] = [g._counter.offset for g in gens]
            new_c = [c + n for c, n in zip(counters, out_info["draws"])]
            new_st = [st.arr for st in storages]
            return (new_st, new_g, new_c), ys
        finally:
            for st, a in saved:
                st.arr = a
                st.gen += 1
            for o, g in saved_g:
                o._grad = g
            for gen, c in saved_c:
                gen._counter = c

    (st_arrs, grads, counters), ys = jax.lax.scan(body, carry0, [xs[i] for i in t_pos])
    for st, a in zip(storages, st_arrs):
        if a is not st.arr:
            st.arr = a
            st.gen += 1
    for o, g, h, touched in zip(owners, grads, had, out_info["touched"]):
        if h:
            o._grad._write(g)
        elif touched:
            o._grad = wrap(g)
    for gen, n in zip(gens, out_info["draws"]):  # k draws of n keys each, counted on host
        gen._counter = gen._counter + k * n
    res, it, ct = [], iter(ys), iter(out_info["const"])
    for is_t in out_info["spec"]:
        res.append(wrap(next(it)) if is_t else [next(ct)] * k)
    return jax.tree_util.tree_unflatten(out_info["tree"], res)
