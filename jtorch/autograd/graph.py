"""The tape: one Node per differentiable op call, holding a derivative closure.

Closures capture whatever arrays flowed through the forward — concrete arrays when
eager, tracers under jax.jit — so the same engine runs inside a compiled step.
"""
from __future__ import annotations

import itertools
import re
import weakref

from .anomaly_mode import STATE as _ANOMALY, forward_stack as _forward_stack

_seq = itertools.count()

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward.")

_HINT = ("Hint: enable anomaly detection to find the operation that failed to compute its "
         "gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).")

# Nodes torch implements in C++ and names with their namespace.
_CPP_NAMES = {"AccumulateGrad": "torch::autograd::AccumulateGrad",
              "CopySlices": "torch::autograd::CopySlices",
              "GraphRoot": "torch::autograd::GraphRoot",
              "DelayedError": "torch::autograd::DelayedError"}


class Node:
    """A backward function: grads of its outputs -> grads of its inputs.

    `fast(grads)` works on arrays; `graph(grads)` works on Tensors and records its own
    ops (used for create_graph=True). `saved` lists (tensor, version) pairs checked
    before running, so in-place changes to saved values raise torch's error;
    `saved_out` does the same for saved outputs without holding them (no cycles).
    """

    __slots__ = ("next_functions", "fast", "graph", "saved", "_name", "out_meta",
                 "_pre_hooks", "_hooks", "_tensor_hooks", "_retained", "released",
                 "saved_out", "_metadata", "seq", "__weakref__")

    def __init__(self, name, next_functions, fast, graph=None, saved=(), out_meta=()):
        self._name = name
        self.next_functions = next_functions
        self.fast = fast
        self.graph = graph
        self.saved = saved
        self.out_meta = out_meta  # (shape, jtorch dtype) per output, to materialize zeros
        self._pre_hooks = self._hooks = self._tensor_hooks = self._retained = None
        self.saved_out = None
        self._metadata = None
        self.released = False
        self.seq = -next(_seq)  # the engine runs newer nodes first, as torch does
        if _ANOMALY.enabled:  # torch keeps the creating call's stack for its error report
            self.metadata["traceback_"] = _forward_stack()

    def name(self):
        return _CPP_NAMES.get(self._name, self._name)

    def __repr__(self):
        return f"<{self._name} object at {hex(id(self))}>"

    @property
    def metadata(self):
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def __call__(self, *grads):
        """grad_fn(*grad_outputs) -> grads of its inputs (as torch's Node.__call__)."""
        from .._tensor import Tensor, wrap
        self.check_saved()
        gl = [g._value if isinstance(g, Tensor) else g for g in grads]
        out = self.fast(gl)
        res = tuple(None if g is None else wrap(g) for g in out)
        return res[0] if len(res) == 1 else res

    # ------------------------------------------------------------------ hooks
    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) -> None or replacement grad_inputs."""
        if self._hooks is None:
            self._hooks = _Hooks()
        return _add_hook(self._hooks, fn)

    def register_prehook(self, fn):
        """fn(grad_outputs) -> None or replacement grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = _Hooks()
        return _add_hook(self._pre_hooks, fn)

    def _register_tensor_hook(self, nr, fn):
        if self._tensor_hooks is None:
            self._tensor_hooks = {}
        hooks = self._tensor_hooks.get(nr)
        if hooks is None:
            hooks = self._tensor_hooks[nr] = _Hooks()
        return _add_hook(hooks, fn)

    def _retain(self, nr, tensor):
        if self._retained is None:
            self._retained = {}
        self._retained[nr] = weakref.ref(tensor)

    # ------------------------------------------------------------------ saved values
    def save_output(self, tensor):
        """Version-check an output this node's backward reads (torch's saved result)."""
        rec = (tensor._vc, tensor._vc[0], tuple(tensor.shape), tensor.dtype, tensor._output_nr)
        self.saved_out = (rec,) if self.saved_out is None else self.saved_out + (rec,)

    def check_saved(self):
        if self.released:
            raise RuntimeError(_FREED)
        for t, version in self.saved:
            if t._vc[0] != version:
                fn = t.grad_fn
                which = (f", which is output {t._output_nr} of {_short(fn.name())},"
                         if fn is not None else "")
                raise RuntimeError(_modified_msg(t.shape, t.dtype, which, t._vc[0], version))
        if self.saved_out is not None:
            for vc, version, shape, dtype, nr in self.saved_out:
                if vc[0] != version:
                    which = f", which is output {nr} of {_short(self.name())},"
                    raise RuntimeError(_modified_msg(shape, dtype, which, vc[0], version))

    def _frees_on_release(self):
        """torch only errors on a second backward when the node saved tensors."""
        return bool(self.saved) or self.saved_out is not None or \
            getattr(self.fast, "outs", None) is not None

    def release(self):
        if self._frees_on_release():
            self.released = True
            self.fast = self.graph = None
            self.saved = ()

    @property
    def _saved_tensors(self):
        return tuple(t for t, _ in self.saved)


def _short(name):
    """torch names the producing op without its Backward suffix ("output 0 of Exp")."""
    return re.sub(r"Backward\d*$", "", name)


def _modified_msg(shape, dtype, which, now, expected):
    return ("one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{_type_str(dtype)} {list(shape)}]{which} is at version {now}; "
            f"expected version {expected} instead. {_HINT}")


class AccumulateGrad(Node):
    """The sink for a leaf: adds arriving gradients into `variable.grad`."""

    __slots__ = ("variable", "_post_hooks")

    def __init__(self, variable):
        super().__init__("AccumulateGrad", (), None)
        self.variable = variable
        self._post_hooks = None
        self.seq = -(1 << 62) - next(_seq)  # sinks run as soon as they are ready (unique: no ties)

    def _register_post_accumulate_hook(self, fn):
        if self._post_hooks is None:
            self._post_hooks = _Hooks()
        return _add_hook(self._post_hooks, fn)

    def __call__(self, *grads):
        raise NotImplementedError("calling an AccumulateGrad node directly")


class _Hooks(dict):
    """An ordered id -> hook table that handles can refer to weakly."""
    __slots__ = ("__weakref__",)


class RemovableHandle:
    """torch.utils.hooks.RemovableHandle: remove() unregisters the hook."""

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


def _type_str(dtype):
    from .._dtype import type_name
    return f"torch.{type_name(dtype)}Tensor"
