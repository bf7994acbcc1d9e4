"""The backward engine: a topological walk over Nodes from the roots.

Gradients are arrays, or Tensors when create_graph=True (so the backward pass is
itself recorded on the tape and can be differentiated again).
"""
from __future__ import annotations

from collections import deque

import jax
import jax.numpy as jnp

from . import grad_mode
from .graph import AccumulateGrad

_add = jax.jit(jnp.add)


def _edge(t):
    """(node, output_nr) where gradient for tensor t enters the graph."""
    if t.grad_fn is not None:
        return t.grad_fn, t._output_nr
    if t.requires_grad:
        return t._grad_accumulator(), 0
    return None, 0


def _sum(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, jax.Array) or not hasattr(a, "_value"):
        return _add(a, b)
    return a + b


def _to_tensor(g):
    from .._tensor import Tensor, wrap
    return g if isinstance(g, Tensor) or g is None else wrap(g)


def _to_grad(g, create_graph):
    if g is None:
        return None
    from .._tensor import Tensor
    if create_graph:
        return g if isinstance(g, Tensor) else _to_tensor(g)
    return g._value if isinstance(g, Tensor) else g


def run_backward(roots, root_grads, *, retain_graph=False, create_graph=False, inputs=None,
                 accumulate=True, allow_unused=False):
    """Runs backward from `roots`; returns the grads of `inputs` when accumulate=False."""
    edges, grads0 = [], []
    for i, (t, g) in enumerate(zip(roots, root_grads)):
        node, nr = _edge(t)
        if node is None:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               "have a grad_fn")
        edges.append((node, nr))
        grads0.append(_to_grad(g, create_graph))

    targets = {}
    if inputs is not None:
        for i, t in enumerate(inputs):
            node, nr = _edge(t)
            if node is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            targets.setdefault((node, nr), []).append(i)

    deps, needed = _dependencies([n for n, _ in edges], targets if inputs is not None else None)
    buffers = {}
    for (node, nr), g in zip(edges, grads0):
        buf = buffers.setdefault(node, {})
        buf[nr] = _sum(buf.get(nr), g)

    captured = [None] * (len(inputs) if inputs is not None else 0)
    ready = deque(n for n in dict.fromkeys(n for n, _ in edges) if deps.get(n, 0) == 0)
    with grad_mode.set_grad_enabled(create_graph):
        while ready:
            node = ready.popleft()
            grads = buffers.pop(node, {})
            _run_tensor_hooks(node, grads, create_graph)
            for (nr, g) in grads.items():
                for i in targets.get((node, nr), ()):
                    captured[i] = g
            out = _run_node(node, grads, retain_graph, create_graph, accumulate, targets, inputs)
            for (nxt, nr), g in zip(node.next_functions, out):
                if nxt is None:
                    continue
                if needed is not None and nxt not in needed:
                    continue
                if g is not None:
                    buf = buffers.setdefault(nxt, {})
                    buf[nr] = _sum(buf.get(nr), g)
                deps[nxt] -= 1
                if deps[nxt] == 0:
                    ready.append(nxt)

    if inputs is None or accumulate:
        return None
    result = []
    for i, g in enumerate(captured):
        if g is None and not allow_unused:
            raise RuntimeError("One of the differentiated Tensors appears to not have been used "
                               "in the graph. Set allow_unused=True if this is the desired "
                               "behavior.")
        result.append(_to_tensor(g) if g is not None else None)
    return result


def _dependencies(starts, targets):
    """In-degree of each node reachable from starts; with targets, the nodes that lead there."""
    deps, seen, order = {}, set(starts), list(starts)
    stack = list(starts)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                order.append(nxt)
                stack.append(nxt)
    if targets is None:
        return deps, None
    target_nodes = {n for n, _ in targets}
    needed = set()  # nodes from which a target is reachable: a fixed point over `order`
    changed = True
    while changed:
        changed = False
        for node in order:
            if node in needed:
                continue
            if node in target_nodes or any(n in needed for n, _ in node.next_functions if n):
                needed.add(node)
                changed = True
    # dependencies only count edges between needed nodes
    deps = {}
    for node in order:
        if node not in needed:
            continue
        for nxt, _ in node.next_functions:
            if nxt is not None and nxt in needed:
                deps[nxt] = deps.get(nxt, 0) + 1
    return deps, needed


def _run_tensor_hooks(node, grads, create_graph):
    if node._tensor_hooks:
        for nr, hooks in node._tensor_hooks.items():
            if nr not in grads or grads[nr] is None:
                continue
            for hook in list(hooks.values()):
                res = hook(_to_tensor(grads[nr]))
                if res is not None:
                    grads[nr] = _to_grad(res, create_graph)
    if node._retained:
        for nr, ref in node._retained.items():
            t = ref()
            if t is not None and grads.get(nr) is not None:
                g = _to_tensor(grads[nr])
                t.grad = g if create_graph else g.detach()


def _run_node(node, grads, retain_graph, create_graph, accumulate, targets, inputs):
    if isinstance(node, AccumulateGrad):
        g = grads.get(0)
        var = node.variable()
        if accumulate and g is not None and var is not None and (
                inputs is None or (node, 0) in targets):
            var._accumulate_grad(g, create_graph)
            if node._hooks:
                for hook in list(node._hooks.values()):
                    hook(var)
        return ()
    n_out = len(node.out_meta)
    glist = [grads.get(i) for i in range(n_out)]
    if node._pre_hooks:
        for hook in list(node._pre_hooks.values()):
            res = hook(tuple(_to_tensor(g) for g in glist))
            if res is not None:
                glist = [_to_grad(g, create_graph) for g in res]
    node.check_saved()
    if all(g is None for g in glist):
        out = [None] * len(node.next_functions)
    elif create_graph:
        out = node.graph(glist)
    else:
        out = node.fast(glist)
    if node._hooks:
        for hook in list(node._hooks.values()):
            res = hook(tuple(_to_tensor(g) for g in out), tuple(_to_tensor(g) for g in glist))
            if res is not None:
                out = [_to_grad(g, create_graph) for g in res]
    if not retain_graph:
        node.release()
    return out
