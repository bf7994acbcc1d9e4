"""A repeated backward pass runs as ONE compiled program instead of one per node.

An eager training loop builds the same graph every step. The engine walks it node by
node, launching each node's jitted backward separately; on CPU each launch costs tens of
microseconds. Here the walk is planned in Python (the same order the engine uses, the
same summation order), keyed by the graph's structure, and the second time a structure
is seen the whole walk is traced into one jitted function of (root grads, saved arrays)
-> leaf grads. Only plain graphs qualify: every node a registered op's rule or vjp node
(or a leaf accumulator), no hooks, no retain_grad, no create_graph, no `inputs=`, not
under tracing; anything else takes the engine's node-by-node path unchanged.
"""
from __future__ import annotations

import functools
from collections import Counter
from heapq import heappop, heappush
from itertools import chain

import jax
import jax.numpy as jnp

from .. import _lazy
from .graph import AccumulateGrad

ENABLED = True
_SEEN = {}     # structure key -> times seen (a graph is fused from its second occurrence)
_FUSED = {}    # structure key -> jitted whole backward
_BOTH = {}     # (backward key, pending forward key) -> jitted forward and backward
_MAX_KEYS = 256
_FAST_KINDS = None


def _kinds():
    global _FAST_KINDS
    if _FAST_KINDS is None:
        from .._ops.dispatch import _RuleFast, _VjpFast
        _FAST_KINDS = {_RuleFast: "rule", _VjpFast: "vjp"}
    return _FAST_KINDS


@functools.cache
def _engine_accumulate():
    """engine._accumulate, bound on first use (engine imports this module)."""
    from .engine import _accumulate
    return _accumulate


def _n_out(node):
    return len(node.out_meta) or 1


def try_run(starts, root_slots, root_grads, deps, retain_graph, root_tensors=()):
    """Runs the backward fused if the graph qualifies; returns False to decline."""
    if not ENABLED:
        return False
    for g in root_grads:
        if not isinstance(g, jax.Array) or isinstance(g, jax.core.Tracer):
            return False
    kinds = _kinds()
    deps = dict(deps)
    heap = [(n.seq, n) for n in starts if deps.get(n, 0) == 0]
    heap.sort()
    order, index, plan, residuals = [], {}, [], []
    while heap:
        node = heappop(heap)[1]
        if node._tensor_hooks is not None or node._retained is not None \
                or node._pre_hooks or node._hooks:
            return False
        index[node] = len(order)
        order.append(node)
        if type(node) is AccumulateGrad:
            plan.append(("acc", None, None, 1))
            residuals.append(None)
            continue
        kind = kinds.get(type(node.fast))
        if kind is None or node.released:
            return False
        if node.saved or node.saved_out is not None:
            try:
                node.check_saved()
            except RuntimeError:
                return False  # the engine raises torch's error at the right moment
        fast = node.fast
        plan.append((kind, fast.bwd, node.next_functions, _n_out(node)))
        residuals.append((fast.arrays, fast.outs) if kind == "rule" else fast.vjp_fn)
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            d = deps[nxt] - 1
            deps[nxt] = d
            if d == 0:
                heappush(heap, (nxt.seq, nxt))
    steps = tuple((k, bwd, None if nf is None else tuple(
        None if n is None else (index[n], nr) for n, nr in nf), n_out)
        for k, bwd, nf, n_out in plan)
    leaves, treedef = jax.tree_util.tree_flatten(residuals)
    roots = tuple((index[n], nr) for n, nr in root_slots)
    key = (steps, roots, treedef)
    try:
        fn = _FUSED.get(key)
    except TypeError:  # something unhashable in a residual's static structure
        return False
    if fn is None:
        seen = _SEEN.get(key, 0) + 1
        if seen < 2:
            if len(_SEEN) > 4 * _MAX_KEYS:
                _SEEN.clear()
            _SEEN[key] = seen
            return False
        if len(_FUSED) > _MAX_KEYS:
            _FUSED.clear()
        fn = _FUSED[key] = jax.jit(_whole_backward(steps, roots, treedef))
    del residuals   # its saved-array lists would count as holders of the forward values
    if not retain_graph:
        # released first, so forward values only this graph held are not program outputs
        for node in order:
            if node.saved or node.saved_out is not None or node.graph is not None:
                node.release()
    grads = _run(fn, key, steps, roots, treedef, root_grads, leaves, root_tensors)
    accumulate = _engine_accumulate()
    for node, (kind, *_), g in zip(order, plan, grads):
        if kind == "acc" and g is not None:
            accumulate(node, g, False)
    return True


def _run(fn, key, steps, roots, treedef, root_grads, leaves, root_tensors):
    """The backward program; when the forward ops it reads are still pending (see _lazy),
    forward and backward run as one program (from the second time this pair is seen),
    which returns only the forward values something outside it still references."""
    if not _lazy.ACTIVE:
        return fn(list(root_grads), leaves)
    lazy = _lazy.LazyArray
    wanted = [a for a in leaves if type(a) is lazy and a.value is None]
    if not wanted:
        return fn(list(root_grads), _lazy.resolve(leaves))
    asked = [r for r in (t._raw for t in root_tensors) if type(r) is lazy and r.value is None]
    # the references this function itself holds are no reason to return a value
    held = Counter(map(id, chain(leaves, wanted)))
    p = _lazy.Pending(_lazy.pending(wanted + asked), asked, held)
    src, conc = [], []
    for a in leaves:
        if type(a) is lazy:
            if a.value is None:
                src.append(p.position(a))
                continue
            a = a.value
        src.append((-1, len(conc)))
        conc.append(a)
    ckey = (key, p.key, tuple(src))
    both = _BOTH.get(ckey)
    if both is None:
        seen = _SEEN.get(ckey, 0) + 1
        if seen < 2 or p.mixed:
            _SEEN[ckey] = seen
            _lazy.force(wanted + asked)
            return fn(list(root_grads), _lazy.resolve(leaves))
        if len(_BOTH) > _MAX_KEYS:
            _BOTH.clear()
        both = _BOTH[ckey] = jax.jit(_forward_and_backward(
            p.key[0], p.key[2], tuple(src), _whole_backward(steps, roots, treedef)))
    values, grads = both(list(root_grads), p.leaves, conc)
    p.finish(values)
    return grads


def _forward_and_backward(fwd_struct, selected, src, backward):
    forward = _lazy.program(fwd_struct)

    def run(root_grads, fwd_leaves, conc):
        vals = forward(fwd_leaves)
        grads = backward(root_grads, [conc[j] if i < 0 else vals[i][j] for i, j in src])
        return [vals[i][j] for i, j in selected], grads
    return run


def _whole_backward(steps, roots, treedef):
    def run(root_grads, leaves):
        res = jax.tree_util.tree_unflatten(treedef, leaves)
        bufs = [[None] * n_out for *_, n_out in steps]
        for (i, nr), g in zip(roots, root_grads):
            prev = bufs[i][nr]
            bufs[i][nr] = g if prev is None else jnp.add(prev, g)
        acc = []
        for i, (kind, bwd, edges, _) in enumerate(steps):
            glist = bufs[i]
            bufs[i] = None
            if kind == "acc":
                acc.append(glist[0])
                continue
            acc.append(None)
            if all(g is None for g in glist):
                continue
            outs = bwd(glist, *res[i]) if kind == "rule" else bwd(res[i], glist)
            for e, g in zip(edges, outs):
                if e is None or g is None:
                    continue
                j, nr = e
                prev = bufs[j][nr]
                bufs[j][nr] = g if prev is None else jnp.add(prev, g)
        return acc
    return run
