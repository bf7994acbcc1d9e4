"""The tape: one Node per differentiable op call, holding a derivative closure.

Closures capture whatever arrays flowed through the forward — concrete arrays when
eager, tracers under jax.jit — so the same engine runs inside a compiled step.
"""
from __future__ import annotations

import weakref

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward.")


class Node:
    """A backward function: grads of its outputs -> grads of its inputs.

    `fast(grads)` works on arrays; `graph(grads)` works on Tensors and records its own
    ops (used for create_graph=True). `saved` lists (tensor, version) pairs checked
    before running, so in-place changes to saved values raise torch's error.
    """

    __slots__ = ("next_functions", "fast", "graph", "saved", "_name", "out_meta",
                 "_pre_hooks", "_hooks", "_tensor_hooks", "_retained", "released",
                 "metadata", "__weakref__")

    def __init__(self, name, next_functions, fast, graph=None, saved=(), out_meta=()):
        self._name = name
        self.next_functions = next_functions
        self.fast = fast
        self.graph = graph
        self.saved = saved
        self.out_meta = out_meta  # (shape, jtorch dtype) per output, to materialize zeros
        self._pre_hooks = self._hooks = self._tensor_hooks = self._retained = None
        self.released = False
        self.metadata = {}

    def name(self):
        return self._name

    def __repr__(self):
        return f"<{self._name} object at {hex(id(self))}>"

    def register_hook(self, fn):
        if self._hooks is None:
            self._hooks = {}
        return _add_hook(self._hooks, fn)

    def register_prehook(self, fn):
        if self._pre_hooks is None:
            self._pre_hooks = {}
        return _add_hook(self._pre_hooks, fn)

    def _register_tensor_hook(self, nr, fn):
        if self._tensor_hooks is None:
            self._tensor_hooks = {}
        return _add_hook(self._tensor_hooks.setdefault(nr, {}), fn)

    def _retain(self, nr, tensor):
        if self._retained is None:
            self._retained = {}
        self._retained[nr] = weakref.ref(tensor)

    def check_saved(self):
        if self.released:
            raise RuntimeError(_FREED)
        for t, version in self.saved:
            if t._version != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: [{_type_str(t)} {list(t.shape)}], which is output "
                    f"0 of {t.grad_fn.name() if t.grad_fn else 'AccumulateGrad'}, is at version "
                    f"{t._version}; expected version {version} instead. Hint: enable anomaly "
                    "detection to find the operation that failed to compute its gradient, with "
                    "torch.autograd.set_detect_anomaly(True).")

    def release(self):
        if self.saved or self.graph is not None:
            self.released = True
            self.fast = self.graph = None
            self.saved = ()

    @property
    def _saved_tensors(self):
        return tuple(t for t, _ in self.saved)


class AccumulateGrad(Node):
    """The sink for a leaf: adds arriving gradients into `variable.grad`."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        super().__init__("AccumulateGrad", (), None)
        self.variable = variable


class RemovableHandle:
    _next_id = 0

    def __init__(self, hooks):
        self.hooks_dict_ref = weakref.ref(hooks)
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        hooks = self.hooks_dict_ref()
        if hooks is not None:
            hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _add_hook(hooks, fn):
    h = RemovableHandle(hooks)
    hooks[h.id] = fn
    return h


def _type_str(t):
    from .._dtype import type_name
    return f"torch.{type_name(t.dtype)}Tensor"
