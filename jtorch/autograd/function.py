"""torch.autograd.Function: a user-written forward/backward pair as one tape node.

`MyFn.apply(*args)` runs `forward` under no_grad, then (if an input requires grad)
gives the tensor outputs a `MyFnBackward` node. The node calls the user's `backward`
on Tensors: under no_grad normally, with grad mode on when create_graph=True (so a
backward written in jtorch ops is itself differentiable). Everything is Tensor-level
code with no host syncs, so it also runs when the values are JAX tracers.

`ctx` is a FunctionCtx (the user's namespace: save_for_backward, needs_input_grad,
mark_dirty, ...); the node forwards unknown attributes to it, so `y.grad_fn.k` and
`y.grad_fn.saved_tensors` work as in torch.

Under jtorch.func transforms and JAX's differentiating/batching transforms the tape
does not see the computation, so there `apply` goes through a jax.custom_vjp /
custom_jvp built from the user's backward / jvp instead (_custom_vjp.py).
"""
from __future__ import annotations

import functools
import inspect

import jax.numpy as jnp

from . import _custom_vjp as _CV
from . import grad_mode
from .graph import _FREED, Node, _modified_msg

_STATE = grad_mode.STATE


class FunctionCtx:
    """The `ctx` passed to forward/setup_context/backward."""

    _saved = ()
    _released = False
    to_save = ()
    dirty_tensors = ()
    non_differentiable = ()
    materialize_grads = True
    needs_input_grad = ()

    def save_for_backward(self, *tensors):
        from .._tensor import Tensor
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{i} is of type {type(t).__name__}")
        self.to_save = tensors

    def save_for_forward(self, *tensors):
        self.saved_for_forward = tensors

    def mark_dirty(self, *args):
        self.dirty_tensors = args

    def mark_non_differentiable(self, *args):
        self.non_differentiable = args

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        """The saved tensors, version-checked (torch's in-place error) and freed after
        a backward without retain_graph."""
        if self._released:
            raise RuntimeError(_FREED)
        if not self._saved:
            return tuple(self.to_save)
        for t, version in self._saved:
            if t is not None and t._vc[0] != version:
                fn = t.grad_fn
                from .graph import _short
                which = (f", which is output {t._output_nr} of {_short(fn.name())},"
                         if fn is not None else "")
                raise RuntimeError(_modified_msg(t.shape, t.dtype, which, t._vc[0], version))
        return tuple(t for t, _ in self._saved)

    saved_variables = saved_tensors


class _FunctionNode(Node):
    """The backward node of a custom Function (one subclass per Function, named
    `<Name>Backward`)."""

    __slots__ = ("ctx", "fn_cls", "tensor_pos", "in_meta", "n_args")

    def __init__(self, fn_cls, ctx, next_functions, tensor_pos, in_meta, n_args, out_meta):
        Node.__init__(self, type(self).__name__, next_functions, None, None, (), out_meta)
        self.ctx, self.fn_cls, self.tensor_pos = ctx, fn_cls, tensor_pos
        self.in_meta, self.n_args = in_meta, n_args

    # the engine calls node.fast / node.graph; as properties they create no cycle
    fast = property(lambda self: self._fast, lambda self, v: None)
    graph = property(lambda self: self._graph, lambda self, v: None)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, "ctx"), name)

    def __repr__(self):
        return f"<torch.autograd.function.{self._name} object at {hex(id(self))}>"

    def _frees_on_release(self):
        return bool(self.ctx._saved)

    def release(self):
        if self._frees_on_release():
            self.released = True
            self.ctx._released = True
            self.ctx._saved = ()
            self.ctx.to_save = ()

    def _fast(self, glist):
        return [None if g is None else g._value for g in self._run(glist, False)]

    def _graph(self, glist):
        return self._run(glist, True)

    def _run(self, glist, create_graph):
        from .._tensor import Tensor, wrap
        ctx = self.ctx
        grads = []
        for g, meta in zip(glist, self.out_meta):
            if g is None:
                if meta is not None and ctx.materialize_grads:
                    g = jnp.zeros(meta[0], meta[1])
            if g is not None and not isinstance(g, Tensor):
                g = wrap(g)
            grads.append(g)
        res = self.fn_cls.backward(ctx, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        n = self.n_args
        if len(res) != n:
            if len(res) > n and all(r is None for r in res[n:]):
                res = res[:n]
            else:
                raise RuntimeError(f"function {self._name} returned an incorrect number of "
                                   f"gradients (expected {n}, got {len(res)})")
        out = []
        for k, (pos, (shape, dt)) in enumerate(zip(self.tensor_pos, self.in_meta)):
            g = res[pos]
            if g is None or self.next_functions[k][0] is None:
                out.append(None)
                continue
            if not isinstance(g, Tensor):
                raise TypeError(f"function {self._name} returned a gradient different than "
                                f"None at position {pos + 1}, but the corresponding forward "
                                "input was not a Variable")
            g = _conform(g, shape, dt, self._name, k)
            out.append(g)
        return out


def _conform(g, shape, dt, name, k):
    """torch's validate_outputs: sum a broadcast gradient to the input's shape, cast."""
    if tuple(g.shape) != shape:
        gs = tuple(g.shape)
        lead = len(gs) - len(shape)
        ok = lead >= 0 and all(a == b or b == 1 for a, b in zip(gs[lead:], shape))
        if not ok:
            raise RuntimeError(f"Function {name} returned an invalid gradient at index {k} - "
                               f"got {list(gs)} but expected shape compatible with "
                               f"{list(shape)}")
        if lead:
            g = g.sum(tuple(range(lead)))
        dims = tuple(i for i, (a, b) in enumerate(zip(g.shape, shape)) if a != b)
        if dims:
            g = g.sum(dims, keepdim=True)
    if g._value.dtype != dt:
        from .. import _dtype as D
        g = g.to(D._BY_NP[jnp.dtype(dt)])
    return g


class _FunctionMeta(type):
    """Gives each Function subclass its own `<Name>Backward` node class."""

    def __init__(cls, name, bases, attrs):
        cls._backward_cls = type(name + "Backward", (_FunctionNode,), {"__slots__": ()})
        super().__init__(name, bases, attrs)


class Function(metaclass=_FunctionMeta):
    """Subclass with static `forward(ctx, *args)` (or `forward(*args)` plus
    `setup_context(ctx, inputs, output)`) and `backward(ctx, *grads)`; call `apply`."""

    def __init__(self, *args, **kwargs):
        import warnings
        warnings.warn(f"{type(self)} should not be instantiated. Methods on autograd functions "
                      "are all static, so you should invoke them on the class itself. "
                      "Instantiating an autograd function will raise an error in a future "
                      "version of PyTorch.", DeprecationWarning, stacklevel=2)

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is "
                           "deprecated. Please use new-style autograd function with static "
                           "forward method. (Example: "
                           "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @staticmethod
    def forward(*args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward "
                                  "mode AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")

    # torch.func.vmap: either set this (JAX batches the custom rule) or write `vmap`
    generate_vmap_rule = False

    @staticmethod
    def vmap(info, in_dims, *args):
        raise NotImplementedError("To use autograd.Function with vmap, you must either "
                                  "override the vmap staticmethod or set "
                                  "generate_vmap_rule=True.")

    @classmethod
    def _uses_setup_context(cls):
        return cls.setup_context is not Function.setup_context

    @classmethod
    def apply(cls, *args, **kwargs):
        from .._tensor import Tensor
        setup = cls._uses_setup_context()
        if kwargs:
            args = _bind(cls.forward, args, kwargs, skip_ctx=not setup)
        if cls.backward is Function.backward and cls.vjp is not Function.vjp:
            cls.backward = cls.vjp
        routed = _CV.route(cls, args)
        if routed is None:
            return cls._apply_tape(args, setup)
        kinds, in_func = routed
        _CV.check(cls, setup, kinds, in_func)
        outputs = _CV.apply(cls, args, setup, kinds, in_func)
        if _STATE.grad_enabled and any(isinstance(a, Tensor) and a._rg for a in args):
            # an input with tape history (e.g. a module's parameter captured inside a
            # jtorch.func transform): the outputs also get the tape node, from a forward
            # run at this level, so the transform can find and lift that input
            return cls._apply_tape(args, setup, outputs)
        return outputs

    @classmethod
    def _apply_tape(cls, args, setup, values=None):
        """The eager/jit path: forward under no_grad, one tape node for the outputs.
        With `values`, those (already computed) outputs get the node instead."""
        from .._tensor import Tensor
        tensor_pos = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        grad_on = _STATE.grad_enabled
        needs = tuple(grad_on and isinstance(a, Tensor) and a._rg for a in args)
        ctx = FunctionCtx()
        ctx.needs_input_grad = needs
        with grad_mode.no_grad():
            if setup:
                outputs = cls.forward(*args)
                cls.setup_context(ctx, args, outputs)
            else:
                outputs = cls.forward(ctx, *args)
        if not any(needs):
            return outputs if values is None else values
        # the node's edges are taken before dirty inputs are rebased onto it
        edges = tuple((_edge(args[p]) if needs[p] else (None, 0)) for p in tensor_pos)
        in_meta = tuple((tuple(args[p].shape), args[p]._value.dtype) for p in tensor_pos)
        is_tuple = isinstance(outputs, tuple)
        outs = outputs if is_tuple else (outputs,)
        out_meta = tuple((tuple(o.shape), o._value.dtype) if isinstance(o, Tensor) else None
                         for o in outs)
        node = cls._backward_cls(cls, ctx, edges, tensor_pos, in_meta, len(args), out_meta)
        if values is None:
            new_outs = _attach_outputs(node, ctx, args, outs)
        else:
            vals = values if is_tuple else (values,)
            new_outs = _attach_outputs(node, ctx, args, vals, outs)
        ctx._saved = tuple((t, None if t is None else t._vc[0]) for t in ctx.to_save)
        return new_outs if is_tuple else new_outs[0]


class InplaceFunction(Function):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace


def _edge(t):
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    return (t._grad_accumulator(), 0)


def _attach_outputs(node, ctx, args, outs, ref=None):
    """Make the differentiable tensor outputs outputs of `node` (torch's rules for
    dirty inputs, inputs returned as-is, and non-differentiable outputs). `ref`: the
    forward's own outputs when `outs` were computed elsewhere (the custom_vjp path)."""
    from .._tensor import Tensor
    input_ids = {id(a) for a in args if isinstance(a, Tensor)}
    dirty = {id(t) for t in ctx.dirty_tensors}
    nondiff = {id(t) for t in ctx.non_differentiable}
    for t in ctx.dirty_tensors:
        if id(t) not in input_ids:
            raise RuntimeError("mark_dirty only accepts input tensors, but argument isn't one")
        if t.grad_fn is None and t._rg:
            raise RuntimeError("a leaf Variable that requires grad has been used in an "
                               "in-place operation.")
        t._vc[0] += 1  # torch bumps dirty inputs once more when rebasing them
    res = []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            res.append(o)
            continue
        r = o if ref is None else ref[i]
        differentiable = id(r) not in nondiff and o.dtype._category >= 2
        if id(r) in dirty:
            if differentiable:
                o.grad_fn, o._output_nr, o._rg = node, i, True
            else:
                o.grad_fn, o._output_nr, o._rg = None, 0, False
        else:
            if id(o) in input_ids or o._rg or o.grad_fn is not None:
                o = o.detach()  # an alias sharing storage, with this node as history
            if differentiable:
                o.grad_fn, o._output_nr, o._rg = node, i, True
        res.append(o)
    return res


def _bind(fn, args, kwargs, skip_ctx):
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    if skip_ctx:
        sig = sig.replace(parameters=params[1:])
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    if any(p.kind in (p.VAR_KEYWORD, p.KEYWORD_ONLY) for p in sig.parameters.values()):
        raise NotImplementedError("torch.autograd.Function.apply with keyword-only forward "
                                  "parameters")
    return tuple(bound.args)


def once_differentiable(fn):
    """Runs backward under no_grad; differentiating its result again raises torch's error."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        from .._tensor import Tensor
        with grad_mode.no_grad():
            outputs = fn(ctx, *args)
        if not _STATE.grad_enabled:
            return outputs
        req = [a for a in args if isinstance(a, Tensor) and a._rg]
        if not req:
            return outputs
        edges = tuple(_edge(a) for a in req)
        err = Node("DelayedError", edges, _delayed_error, _delayed_error, (), (None,))
        tup = isinstance(outputs, tuple)
        res = []
        for o in (outputs if tup else (outputs,)):
            if isinstance(o, Tensor) and o.dtype._category >= 2:
                o = o.detach()
                o.grad_fn, o._output_nr, o._rg = err, 0, True
            res.append(o)
        return tuple(res) if tup else res[0]
    wrapper._once_differentiable = True
    return wrapper


def _delayed_error(glist):
    raise RuntimeError("trying to differentiate twice a function that was marked with "
                       "@once_differentiable")
