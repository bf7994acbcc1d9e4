"""A custom autograd.Function under JAX transforms: one `jax.custom_vjp` (reverse mode)
or `jax.custom_jvp` (forward mode) per call.

Inside jtorch.func transforms, and inside jax.grad/vjp/jacrev/jvp/vmap run over jtorch
code, the tape does not see the computation: JAX differentiates the traced program. If
`Function.apply` just ran the forward there, JAX would differentiate the forward's code
and the user's backward would be ignored. So `apply` wraps the forward in a JAX rule
whose derivative is the user's backward (custom_vjp) or jvp (custom_jvp):

* the forward runs with a real FunctionCtx; tensors it saves (save_for_backward, or a
  Tensor stored as a ctx attribute) travel as custom_vjp residuals, so the backward
  sees values from the right trace; the ctx's Python attributes stay on a Python-side
  copy of the ctx;
* `needs_input_grad` comes from JAX's `perturbed` bits (symbolic_zeros=True), and
  outputs nobody differentiates arrive as zeros (or None without materialize_grads);
* under jtorch.func transforms torch's own rules apply: setup_context is required, and
  under vmap the Function needs generate_vmap_rule=True (JAX then batches the rule) or
  its own `vmap` staticmethod (run as a jax.custom_batching.custom_vmap rule when the
  vmap is the innermost transform; below a differentiating one JAX batches the rule);
* a once_differentiable backward's result is a constant to outer transforms (torch.func
  gives zero higher derivatives there, unlike the eager tape's error).

Which rule is taken depends on the innermost differentiating JAX trace of the inputs:
`LinearizeTracer` (jax.grad/vjp/jacrev) -> custom_vjp, `JVPTracer` (jax.jvp/jacfwd)
-> custom_jvp. Plain jax.jit tracers keep the tape path (backward() inside a traced
function already honours the user's backward).

Limits: jtorch.func.linearize looks like vjp to this routing (both trace with
LinearizeTracer) and so meets JAX's "can't apply forward-mode autodiff (jvp) to a
custom_vjp function"; a Function called under jax.jit *inside* jax.grad sees jit tracers
and takes the tape path, so JAX differentiates its forward there.
"""
from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
import numpy as np
from jax._src.interpreters import ad as _ad
from jax._src.interpreters import batching as _batching
from jax.custom_derivatives import SymbolicZero

from . import grad_mode

_float0 = jax.dtypes.float0

NEEDS_SETUP = ("In order to use an autograd.Function with functorch transforms (vmap, grad, "
               "jvp, jacrev, ...), it must override the setup_context staticmethod. For more "
               "details, please see https://pytorch.org/docs/main/notes/extending.func.html")


def _vmap_msg(name):
    return (f"You tried to vmap over {name}, but it does not have vmap support. Please "
            "override and implement the vmap staticmethod or set generate_vmap_rule=True. "
            "For more details, please see "
            "https://pytorch.org/docs/main/notes/extending.func.html")


# ------------------------------------------------------------------------------ routing

class _Kinds:
    """What the JAX traces under the inputs do: the innermost differentiating mode
    ('rev' or 'fwd', None), whether any forward-mode trace is involved, and whether
    any value is batched."""
    __slots__ = ("first", "forward", "batched", "top_batch")

    def __init__(self):
        self.first = None
        self.forward = False
        self.batched = False
        self.top_batch = False   # some input's innermost trace is a vmap


def _walk(x, k):
    first = None
    if isinstance(x, _batching.BatchTracer):
        k.top_batch = True
    while isinstance(x, jax.core.Tracer):
        if isinstance(x, _ad.LinearizeTracer):
            first = first or "rev"
            x = x.primal
        elif isinstance(x, _ad.JVPTracer):
            first = first or "fwd"
            k.forward = True
            _walk(x.tangent, k)   # jacfwd batches the tangents, not the primals
            x = x.primal
        elif isinstance(x, _batching.BatchTracer):
            k.batched = True
            x = x.val
        else:              # jit's tracer (or an unknown one): the tape handles it
            break
    if first == "fwd" or (first and k.first is None):
        k.first = first    # a forward-mode input wins: custom_vjp cannot run under jvp


def route(cls, args):
    """None when the tape handles this call: no input is a tracer of a differentiating
    or batching transform (concrete inputs: nothing for JAX to differentiate; jit's
    tracers: the tape runs traced); else (kinds, whether a jtorch.func transform runs)."""
    from .._tensor import Tensor
    k = None
    for a in args:
        if isinstance(a, Tensor):
            v = a._value
            if isinstance(v, jax.core.Tracer):
                k = k or _Kinds()
                _walk(v, k)
    if k is None or not (k.first or k.batched):
        return None
    if cls.__module__.startswith("jtorch."):
        return None        # jtorch's own Functions (module backward hooks) are tape-only
    from ..func._core import transform_depth
    return k, transform_depth() > 0


def check(cls, setup, kinds, in_func):
    """torch.func's requirements on a Function (only inside jtorch.func transforms; raw
    JAX transforms over jtorch code take any Function)."""
    from .function import Function
    if in_func:
        if not setup:
            raise RuntimeError(NEEDS_SETUP)
        if kinds.batched and not cls.generate_vmap_rule and cls.vmap is Function.vmap:
            raise RuntimeError(_vmap_msg(cls.__name__))
    # torch.func needs jvp under any forward-mode level (hessian included); under raw
    # JAX only where the custom_vjp itself would meet jvp
    if (kinds.forward if in_func else kinds.first == "fwd") and cls.jvp is Function.jvp:
        Function.jvp(None)   # raises torch's "must implement the jvp function" error


# ------------------------------------------------------------------------------ running

class _Call:
    """One apply: the arguments and what the traced forward told us (Python-side)."""

    def __init__(self, cls, args, setup):
        from .._tensor import Tensor
        self.cls, self.args, self.setup = cls, args, setup
        self.name = cls._backward_cls.__name__
        self.tpos = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        self.in_meta = tuple((tuple(args[p].shape), args[p]._value.dtype) for p in self.tpos)
        self.ctx = None          # the forward's ctx, its tensors taken out
        self.template = None     # the forward's outputs (tensor slots filled per call)
        self.is_tuple = False
        self.out_meta = ()       # per tensor output: (shape, dtype, differentiable)
        self.saved = ()          # per saved slot: is it None
        self.attrs = ()          # (name, kind) of tensor-valued ctx attributes

    def forward(self, arrays, needs):
        """The user's forward on Tensors around `arrays`: (ctx, outputs tuple)."""
        from .._tensor import wrap
        from .function import FunctionCtx
        a = list(self.args)
        for p, v in zip(self.tpos, arrays):
            a[p] = wrap(v)
        a = tuple(a)
        ctx = FunctionCtx()
        ctx.needs_input_grad = needs
        with grad_mode.no_grad():
            if self.setup:
                out = self.cls.forward(*a)
                self.cls.setup_context(ctx, a, out)
            else:
                out = self.cls.forward(ctx, *a)
        if ctx.dirty_tensors:
            raise NotImplementedError("jtorch: ctx.mark_dirty in a custom autograd.Function "
                                      "under jtorch.func or JAX transforms")
        self.is_tuple = isinstance(out, tuple)
        outs = out if self.is_tuple else (out,)
        self._note_outputs(ctx, outs)
        return ctx, outs

    def _note_outputs(self, ctx, outs):
        from .._tensor import Tensor
        nondiff = {id(t) for t in ctx.non_differentiable}
        self.template = tuple(None if isinstance(o, Tensor) else o for o in outs)
        self.out_meta = tuple((tuple(o.shape), o._value.dtype,
                               id(o) not in nondiff and _inexact(o._value.dtype))
                              for o in outs if isinstance(o, Tensor))

    def out_arrays(self, outs):
        from .._tensor import Tensor
        return tuple(o._value for o in outs if isinstance(o, Tensor))

    def results(self, arrays):
        """The apply's return value: Tensors around `arrays` in the forward's structure."""
        from .._tensor import wrap
        it = iter(arrays)
        res = tuple(wrap(next(it)) if o is None else o for o in self.template)
        return res if self.is_tuple else res[0]

    # residuals --------------------------------------------------------------------

    def pack(self, ctx):
        """Take the ctx's tensors out as residual arrays; keep the rest of the ctx."""
        from .._tensor import Tensor
        saved = tuple(ctx.to_save)
        res = [t._value for t in saved if t is not None]
        attrs = []
        for name in ("to_save", "non_differentiable", "dirty_tensors", "saved_for_forward"):
            ctx.__dict__.pop(name, None)   # bookkeeping holding this trace's tensors
        for name, v in list(vars(ctx).items()):
            if isinstance(v, Tensor):
                attrs.append((name, None))
                res.append(v._value)
            elif isinstance(v, (tuple, list)) and any(isinstance(e, Tensor) for e in v):
                kinds = tuple(isinstance(e, Tensor) for e in v)
                attrs.append((name, (type(v), kinds, tuple(None if t else e
                                                           for e, t in zip(v, kinds)))))
                res.extend(e._value for e in v if isinstance(e, Tensor))
            else:
                continue
            delattr(ctx, name)
        self.saved = tuple(t is None for t in saved)
        self.attrs = tuple(attrs)
        self.ctx = ctx
        return tuple(res)

    def unpack(self, res):
        """A fresh copy of the forward's ctx with its tensors rebuilt from `res`."""
        from .._tensor import wrap
        ctx = copy.copy(self.ctx)
        it = iter(res)
        ctx.to_save = tuple(None if none else wrap(next(it)) for none in self.saved)
        for name, spec in self.attrs:
            if spec is None:
                setattr(ctx, name, wrap(next(it)))
            else:
                typ, kinds, rest = spec
                setattr(ctx, name, typ(wrap(next(it)) if t else e for e, t in zip(rest, kinds)))
        return ctx

    # backward ---------------------------------------------------------------------

    def backward(self, ctx, cts):
        """The user's backward on the output cotangents: a cotangent per input array."""
        from .._tensor import Tensor, wrap
        from .function import _conform
        bw = self.cls.backward
        # once_differentiable: torch.func sees the backward's result as a constant
        once = getattr(bw, "_once_differentiable", False)
        live = [not (not diff or isinstance(ct, SymbolicZero) or ct is None
                     or ct.dtype == _float0) for ct, (_, _, diff) in zip(cts, self.out_meta)]
        if not any(live):   # no gradient reaches the node: torch does not call backward
            return tuple(None for _ in self.tpos)
        grads, it = [], iter(zip(cts, self.out_meta, live))
        for o in self.template:
            if o is not None:           # a non-tensor output
                grads.append(None)
                continue
            ct, (shape, dt, _), ok = next(it)
            if ok:
                grads.append(wrap(_conj(ct)))   # torch's complex convention is JAX's conj
            else:
                grads.append(wrap(jnp.zeros(shape, dt)) if ctx.materialize_grads else None)
        with grad_mode.no_grad():
            r = bw(ctx, *grads)
        if not isinstance(r, tuple):
            r = (r,)
        n = len(self.args)
        if len(r) != n:
            if len(r) > n and all(g is None for g in r[n:]):
                r = r[:n]
            else:
                raise RuntimeError(f"function {self.name} returned an incorrect number of "
                                   f"gradients (expected {n}, got {len(r)})")
        out = []
        for k, (pos, (shape, dt)) in enumerate(zip(self.tpos, self.in_meta)):
            g = r[pos]
            if g is None or not _inexact(dt):
                out.append(None)
                continue
            if not isinstance(g, Tensor):
                raise TypeError(f"function {self.name} returned a gradient different than "
                                f"None at position {pos + 1}, but the corresponding forward "
                                "input was not a Variable")
            v = _conform(g, shape, dt, self.name, k)._value
            v = _conj(v)
            out.append(jax.lax.stop_gradient(v) if once else v)
        # inputs that are not differentiable (non-tensor args) have no slot
        return tuple(out)

    # jvp --------------------------------------------------------------------------

    def jvp(self, ctx, outs, tangents):
        """The user's jvp: a tangent array per tensor output."""
        from .._tensor import Tensor, wrap
        targs = [None] * len(self.args)
        for p, t in zip(self.tpos, tangents):
            if isinstance(t, SymbolicZero) or t is None or t.dtype == _float0:
                continue
            targs[p] = wrap(t)
        # in jvp, torch's ctx.saved_tensors are those of save_for_forward
        ctx.to_save = tuple(ctx.__dict__.get("saved_for_forward", ()))
        with grad_mode.no_grad():
            r = self.cls.jvp(ctx, *targs)
        if not isinstance(r, tuple):
            r = (r,)
        tensor_outs = [i for i, o in enumerate(outs) if isinstance(o, Tensor)]
        if len(r) == len(outs):
            r = tuple(r[i] for i in tensor_outs)
        elif len(r) != len(tensor_outs):
            raise RuntimeError(f"{self.cls.__name__}.jvp returned {len(r)} tangents but the "
                               f"forward returned {len(outs)} outputs")
        res = []
        for k, (g, (shape, dt, diff)) in enumerate(zip(r, self.out_meta)):
            if not _inexact(dt):
                res.append(np.zeros(shape, _float0))
            elif g is None or not diff:
                res.append(jnp.zeros(shape, dt))
            else:
                if not isinstance(g, Tensor):
                    raise TypeError(f"{self.cls.__name__}.jvp must return Tensors or None, "
                                    f"got {type(g).__name__}")
                if tuple(g.shape) != shape:
                    raise RuntimeError(f"{self.cls.__name__}.jvp returned a tangent of shape "
                                       f"{list(g.shape)} for output {k} of shape {list(shape)}")
                res.append(g._value.astype(dt))
        return tuple(res)


def _inexact(dt):
    return jnp.issubdtype(dt, jnp.inexact)


def _conj(x):
    return jnp.conj(x) if jnp.iscomplexobj(x) else x


def apply(cls, args, setup, kinds, in_func):
    """Run the Function through a custom_jvp (forward mode) or custom_vjp (or, when a
    jtorch.func.vmap is the innermost transform and the Function has its own `vmap`
    staticmethod, a custom_vmap calling it): returns its result in the forward's
    structure."""
    from .function import Function
    call = _Call(cls, args, setup)
    arrays = tuple(args[p]._value for p in call.tpos)
    if (in_func and kinds.top_batch and not cls.generate_vmap_rule
            and cls.vmap is not Function.vmap):
        return call.results(_vmap(call, arrays))
    return call.results(_jvp(call, arrays) if kinds.first == "fwd" else _vjp(call, arrays))


def _no_needs(call):
    return tuple(False for _ in call.args)


def _vjp(call, arrays):
    @jax.custom_vjp
    def f(*arrs):
        ctx, outs = call.forward(arrs, _no_needs(call))
        return call.out_arrays(outs)

    def fwd(*prims):
        needs = [False] * len(call.args)
        for p, pr in zip(call.tpos, prims):
            needs[p] = bool(pr.perturbed) and _inexact(pr.value.dtype)
        ctx, outs = call.forward(tuple(pr.value for pr in prims), tuple(needs))
        return call.out_arrays(outs), call.pack(ctx)

    def bwd(res, cts):
        return call.backward(call.unpack(res), cts)

    f.defvjp(fwd, bwd, symbolic_zeros=True)
    return f(*arrays)


class VmapInfo:
    """The `info` argument of a Function's vmap staticmethod."""
    __slots__ = ("batch_size", "randomness")

    def __init__(self, batch_size, randomness):
        self.batch_size, self.randomness = batch_size, randomness

    def __repr__(self):
        return f"VmapInfo(batch_size={self.batch_size}, randomness='{self.randomness}')"


def _vmap(call, arrays):
    """The user's vmap staticmethod as the batching rule of the forward."""
    from jax.custom_batching import custom_vmap

    from .._tensor import Tensor, wrap
    from ..func import _core
    # the rule gets batch axes at 0; torch's in_dims are where they were
    dims = [a.batch_dim if isinstance(a, _batching.BatchTracer) else None for a in arrays]
    modes = _core._S.random_modes
    randomness = modes[-1] if modes else "error"

    @custom_vmap
    def f(*arrs):
        ctx, outs = call.forward(arrs, _no_needs(call))
        return call.out_arrays(outs)

    @f.def_vmap
    def rule(axis_size, in_batched, *arrs):
        a = list(call.args)
        in_dims = [None] * len(a)
        for p, v, b, d in zip(call.tpos, arrs, in_batched, dims):
            if b:
                d = d if isinstance(d, int) else 0
                v = jnp.moveaxis(v, 0, d)
                in_dims[p] = d
            a[p] = wrap(v)
        out, out_dims = call.cls.vmap(VmapInfo(axis_size, randomness), tuple(in_dims), *a)
        outs = out if isinstance(out, tuple) else (out,)
        if not isinstance(out_dims, tuple):
            out_dims = (out_dims,) * len(outs)
        if len(out_dims) != len(outs):
            raise RuntimeError(f"{call.cls.__name__}.vmap returned {len(outs)} outputs but "
                               f"{len(out_dims)} out_dims")
        vals, batched = [], []
        for o, d in zip(outs, out_dims):
            if not isinstance(o, Tensor):
                continue
            if d is None:
                vals.append(o._value)
                batched.append(False)
            else:
                vals.append(jnp.moveaxis(o._value, d, 0))
                batched.append(True)
        return tuple(vals), tuple(batched)

    return f(*arrays)


def _jvp(call, arrays):
    needs = tuple(i in call.tpos and _inexact(call.args[i]._value.dtype)
                  for i in range(len(call.args)))

    @jax.custom_jvp
    def f(*arrs):
        ctx, outs = call.forward(arrs, _no_needs(call))
        return call.out_arrays(outs)

    @f.defjvp
    def f_jvp(primals, tangents):
        ctx, outs = call.forward(primals, needs)
        return call.out_arrays(outs), call.jvp(ctx, outs, tangents)

    return f(*arrays)
