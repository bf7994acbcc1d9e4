"""The backward engine: a walk over Nodes from the roots, newest node first.

Gradients are arrays, or Tensors when create_graph=True (so the backward pass is
itself recorded on the tape and can be differentiated again). Each node's buffer
is a list with one slot per node output; a node runs once all the nodes that feed
it have run (in-degree counting), like torch's engine.
"""
from __future__ import annotations

from heapq import heappop, heappush

import jax
import jax.numpy as jnp

from . import _fused_backward, anomaly_mode, grad_mode
from .graph import AccumulateGrad

_add = jax.jit(jnp.add)
_ANOMALY = anomaly_mode.STATE


def _edge(t):
    """(node, output_nr) where gradient for tensor t enters the graph."""
    if t.grad_fn is not None:
        return t.grad_fn, t._output_nr
    if t._rg:
        return t._grad_accumulator(), 0
    return None, 0


def _sum(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, jax.Array) and isinstance(b, jax.Array):
        return _add(a, b)
    return _to_tensor(a) + _to_tensor(b)


def _to_tensor(g):
    from .._tensor import Tensor, wrap
    return g if g is None or isinstance(g, Tensor) else wrap(g)


def _to_grad(g, create_graph):
    """Engine representation of a gradient: an array, or a Tensor under create_graph."""
    if g is None:
        return None
    from .._tensor import Tensor, wrap
    if create_graph:
        return g if isinstance(g, Tensor) else wrap(g)
    return g._value if isinstance(g, Tensor) else g


def _n_out(node):
    return len(node.out_meta) or 1


def run_backward(roots, root_grads, *, retain_graph=False, create_graph=False, inputs=None,
                 accumulate=True, allow_unused=False):
    """Runs backward from `roots`; returns the grads of `inputs` when accumulate=False."""
    buffers = {}
    starts = []
    root_slots, root_arrays = [], []
    for i, (t, g) in enumerate(zip(roots, root_grads)):
        node, nr = _edge(t)
        if node is None:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               "have a grad_fn")
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * _n_out(node)
            starts.append(node)
        g = _to_grad(g, create_graph)
        root_slots.append((node, nr))
        root_arrays.append(g)
        buf[nr] = _sum(buf[nr], g)

    targets = None
    if inputs is not None:
        targets = {}
        for i, t in enumerate(inputs):
            node, nr = _edge(t)
            if node is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            targets.setdefault(node, []).append((nr, i))
    deps, needed = _plan(starts, targets)
    if targets is None and accumulate and not create_graph and not _ANOMALY.enabled \
            and _fused_backward.try_run(starts, root_slots, root_arrays, deps,
                                                 retain_graph, roots):
        return None  # a graph seen before ran as one compiled program
    captured = [None] * len(inputs) if inputs is not None else None

    heap = [(n.seq, n) for n in starts if deps.get(n, 0) == 0 and
            (needed is None or n in needed)]
    heap.sort()
    anomaly = _ANOMALY.enabled
    check_nan = anomaly and _ANOMALY.check_nan
    with grad_mode.set_grad_enabled(create_graph):
        while heap:
            node = heappop(heap)[1]
            glist = buffers.pop(node, None)
            if glist is None:
                glist = [None] * _n_out(node)
            if node._tensor_hooks is not None or node._retained is not None:
                if anomaly:
                    _anomaly_guard(node, _run_tensor_hooks, node, glist, create_graph)
                else:
                    _run_tensor_hooks(node, glist, create_graph)
            if targets is not None:
                tg = targets.get(node)
                if tg is not None:
                    for nr, i in tg:
                        g = glist[nr]
                        if accumulate and g is not None and not isinstance(node, AccumulateGrad):
                            inputs[i]._accumulate_grad(g, create_graph)
                        captured[i] = g
                    if not _executes(node, needed, accumulate):
                        continue
            if type(node) is AccumulateGrad:
                if accumulate:
                    _accumulate(node, glist[0], create_graph)
                continue
            if anomaly:
                out = _anomaly_guard(node, _run_node, node, glist, create_graph, check_nan)
            elif node._pre_hooks or node._hooks or create_graph:
                out = _run_node(node, glist, create_graph, False)
            else:  # the hot path, inlined
                if node.released or node.saved or node.saved_out is not None:
                    node.check_saved()
                for g in glist:
                    if g is not None:
                        out = node.fast(glist)
                        break
                else:
                    out = [None] * len(node.next_functions)
            if not retain_graph and (node.saved or node.saved_out is not None
                                     or node.graph is not None):
                node.release()
            for (nxt, nr), g in zip(node.next_functions, out):
                if nxt is None or (needed is not None and nxt not in needed):
                    continue
                if g is not None:
                    buf = buffers.get(nxt)
                    if buf is None:
                        buf = buffers[nxt] = [None] * _n_out(nxt)
                    prev = buf[nr]
                    buf[nr] = g if prev is None else _sum(prev, g)
                d = deps[nxt] - 1
                deps[nxt] = d
                if d == 0:
                    heappush(heap, (nxt.seq, nxt))

    if accumulate or inputs is None:
        return None
    result = []
    for i, g in enumerate(captured):
        if g is None and not allow_unused:
            raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been "
                               "used in the graph. Set allow_unused=True if this is the desired "
                               "behavior.")
        result.append(_to_tensor(g))
    return result


def _executes(node, needed, accumulate):
    """A target runs only if it leads to another target (or is a leaf being accumulated)."""
    if type(node) is AccumulateGrad:
        return accumulate
    return any(n is not None and n in needed for n, _ in node.next_functions)


def _plan(starts, targets):
    """In-degree of every node reachable from `starts`; with targets, the set of nodes
    from which some target is reachable (only those run)."""
    deps = {}
    if targets is None:
        stack = list(starts)
        seen = set(starts)
        while stack:
            for nxt, _ in stack.pop().next_functions:
                if nxt is None:
                    continue
                if nxt in seen:
                    deps[nxt] = deps.get(nxt, 0) + 1
                else:
                    deps[nxt] = 1
                    seen.add(nxt)
                    stack.append(nxt)
        return deps, None
    # post-order DFS: children finish before parents, so `needed` is one pass
    needed = set()
    seen = set()
    for s in starts:
        if s in seen:
            continue
        seen.add(s)
        stack = [(s, iter(s.next_functions))]
        while stack:
            node, it = stack[-1]
            for nxt, _ in it:
                if nxt is None:
                    continue
                deps[nxt] = deps.get(nxt, 0) + 1
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, iter(nxt.next_functions)))
                    break
            else:
                stack.pop()
                if node in targets or any(n is not None and n in needed
                                          for n, _ in node.next_functions):
                    needed.add(node)
    return deps, needed


def _run_tensor_hooks(node, glist, create_graph):
    """Tensor hooks (may replace the gradient), then retain_grad (always last)."""
    if node._tensor_hooks:
        for nr, hooks in node._tensor_hooks.items():
            if glist[nr] is None:
                continue
            for hook in tuple(hooks.values()):
                res = hook(_to_tensor(glist[nr]))
                if res is not None:
                    glist[nr] = _to_grad(res, create_graph)
    if node._retained:
        for nr, ref in node._retained.items():
            t = ref()
            g = glist[nr]
            if t is None or g is None:
                continue
            g = _to_tensor(g)
            if not create_graph:
                g = g.detach()
            if t._grad is None:
                t._grad = g
            else:
                t._grad = t._grad + g


def _accumulate(node, g, create_graph):
    var = node.variable()
    if g is None or var is None:
        return
    var._accumulate_grad(g, create_graph)
    if node._post_hooks:
        for hook in tuple(node._post_hooks.values()):
            hook(var)


def _run_node(node, glist, create_graph, check_nan):
    if node._pre_hooks:
        for hook in tuple(node._pre_hooks.values()):
            res = hook(tuple(_to_tensor(g) for g in glist))
            if res is not None:
                glist = _check_hook_result(hook, res, len(glist), create_graph)
    if node.released or node.saved or node.saved_out is not None:
        node.check_saved()
    for g in glist:
        if g is not None:
            out = node.graph(glist) if create_graph else node.fast(glist)
            break
    else:
        out = [None] * len(node.next_functions)
    if node._hooks:
        for hook in tuple(node._hooks.values()):
            res = hook(tuple(_to_tensor(g) for g in out), tuple(_to_tensor(g) for g in glist))
            if res is not None:
                out = _check_hook_result(hook, res, len(out), create_graph)
    if check_nan:
        for i, g in enumerate(out):
            if g is not None and bool(jnp.isnan(_to_grad(g, False)).any()):
                raise RuntimeError(f"Function '{node.name()}' returned nan values in its "
                                   f"{i}th output.")
    return out


def _anomaly_guard(node, fn, *args):
    """Anomaly mode: an error while running `node` (its hooks or its backward) first warns
    with the node's forward stack, then propagates."""
    try:
        return fn(*args)
    except Exception:
        anomaly_mode.report_error(node)
        raise


def _check_hook_result(hook, res, n, create_graph):
    if not isinstance(res, (tuple, list)):
        res = (res,)
    if len(res) != n:
        name = getattr(hook, "__name__", repr(hook))
        raise RuntimeError(f"hook '{name}' has returned an incorrect number of values (got "
                           f"{len(res)}, but expected {n})")
    return [_to_grad(g, create_graph) for g in res]
