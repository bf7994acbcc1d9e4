"""The one call path every op takes: bind -> promote -> jitted forward -> tape node.

Forwards are jax.jit-compiled once per (op, static arguments, compute dtype) and
called with arrays only, so eager dispatch costs one cached jit call. When an
input requires grad, the op records a Node whose backward is either the op's
explicit rule (jitted) or the jitted vjp its forward returned.
"""
from __future__ import annotations

import contextlib
import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtype as D
from .. import _lazy
from ..autograd import grad_mode
from ..autograd.graph import Node
from .._tensor import Tensor, wrap
from .registry import REQUIRED, STATIC, T_LIST, OpDef
from .index_map import index_map

_STATE = grad_mode.STATE
_BY_NP = D._BY_NP
_float0 = jax.dtypes.float0


_INLINE = True


def _jit(fn):
    """Each op's compiled piece. Eagerly a cached executable; under an enclosing trace
    (jtorch.compile, jax.jit of user code) its equations are inlined, so the whole program
    is one flat jaxpr: less to trace, lower and compile than a nest of calls."""
    return jax.jit(fn, inline=_INLINE)


@contextlib.contextmanager
def op_calls_nested():
    """Within: each op call traces as its own nested call (one `jit` equation per op), as
    graph views (`SummaryWriter.add_graph`) need. Fresh caches; the inlining ones return."""
    global _INLINE
    from .registry import OPS
    saved = [(d, d.fwd_cache, d.bwd_cache) for d in OPS.values()]
    _INLINE = False
    for d, _, _ in saved:
        d.fwd_cache, d.bwd_cache = {}, {}
    try:
        yield
    finally:
        _INLINE = True
        for d, fwd, bwd in saved:
            d.fwd_cache, d.bwd_cache = fwd, bwd

# Autocast (jtorch.amp sets these): one global flag check per op call while it is off.
_autocast_on = False
_autocast_hook = None    # (op, tensor args, statics) -> tensor args cast per torch's policy
_autocast_bypass = None  # (fn, *args) -> fn(*args) with the hook off (in-place ops)
_quantized_hook = None   # (op, tensor args, statics) -> result, or NotImplemented


# ------------------------------------------------------------------------------ binding

def make_function(d: OpDef, name, is_method=False, inplace=False, with_out=False):
    """Generate a Python function with the op's exact signature (native arg binding)."""
    sig, call_t, call_s = [], [], []
    star_done = False
    for i, p in enumerate(d.params):
        pname = "self" if (is_method and i == 0) else p.name
        if p.varargs:
            sig.append("*" + pname)
            star_done = True
        elif p.kwonly and not star_done:
            sig.append("*")
            star_done = True
            sig.append(pname if p.default is REQUIRED else f"{pname}={p.default!r}")
        else:
            sig.append(pname if p.default is REQUIRED else f"{pname}={p.default!r}")
        expr = f"_varargs({pname})" if p.varargs else pname
        (call_s if p.kind == STATIC else call_t).append(expr)
    if with_out:
        if not star_done:
            sig.append("*")
        sig.append("out=None")
    out_expr = "out" if with_out else "None"
    fn = "_call_inplace" if inplace else "_call"
    src = (f"def {name}({', '.join(sig)}):\n"
           f"    return {fn}(_op, ({''.join(c + ', ' for c in call_t)}), "
           f"({''.join(c + ', ' for c in call_s)}), {out_expr})\n")
    ns = {"_op": d, "_call": _call, "_call_inplace": _call_inplace, "_varargs": _varargs}
    exec(src, ns)  # noqa: S102 - generated from our own schema strings
    f = ns[name]
    f.__qualname__ = name
    f.__doc__ = f"jtorch's torch.{d.name}; see PyTorch's documentation."
    f._op = d
    return f


def _varargs(v):
    if len(v) == 1 and isinstance(v[0], (tuple, list)):
        return tuple(v[0])
    if len(v) == 1 and v[0] is None:
        return None
    return v


def hashable(v):
    """Static arguments become jit cache keys: lists -> tuples, tensors -> Python values."""
    if isinstance(v, (list, tuple)):
        return tuple(hashable(x) for x in v)
    if isinstance(v, Tensor):
        return v.tolist()
    if isinstance(v, slice):
        return ("slice", hashable(v.start), hashable(v.stop), hashable(v.step))
    if isinstance(v, np.ndarray):
        return hashable(v.tolist())
    if isinstance(v, np.generic):
        return v.item()
    return v


# ------------------------------------------------------------------------------ dtypes

def _compute_dtype(d: OpDef, flat, positions):
    """torch's result type over the promoting inputs; 'float' ops lift integers."""
    rule = d.dtype
    if rule == "none":
        return None
    dims, zeros, scalars = [], [], []
    for i in positions:
        v = flat[i]
        if type(v) is Tensor or isinstance(v, Tensor):
            arr = v._raw
            (zeros if arr.ndim == 0 else dims).append(_BY_NP[arr.dtype])
        elif v is not None:
            scalars.append(v)
    if not scalars and not zeros and dims and all(x is dims[0] for x in dims):
        cd = dims[0]  # the common case: one dtype throughout
    else:
        cd = D.result_dtype(dims, zeros, scalars)
    if callable(rule):
        return rule(cd)
    if rule == "float" and cd._category < 2:
        cd = D.get_default_dtype()
    return cd


def _scalar_array(v, dt):
    if isinstance(v, (bool, int, float, complex, np.generic)):
        try:
            return np.asarray(v, dtype=dt.np)
        except OverflowError:
            raise RuntimeError(f"value cannot be converted to type {dt.name} without "
                               "overflow") from None
    raise TypeError(f"expected Tensor or number, got {type(v).__name__}")


# ------------------------------------------------------------------------------ calling

def _flatten(d: OpDef, targs):
    """Tensor args -> flat list (Tensor[] params expanded) and their structure."""
    flat, struct = [], []
    for v, p in zip(targs, d.tensor_params):
        if p.kind == T_LIST:
            if not isinstance(v, (list, tuple)):
                if isinstance(v, Tensor):
                    v = list(v.unbind(0))
                else:
                    raise TypeError(f"{d.name}(): argument '{p.name}' must be tuple of Tensors, "
                                    f"not {type(v).__name__}")
            struct.append(len(v))
            flat.extend(v)
        else:
            struct.append(-1)
            flat.append(v)
    return flat, tuple(struct)


def _unflatten(arrays, struct):
    if struct is None:
        return arrays
    out, i = [], 0
    for n in struct:
        if n < 0:
            out.append(arrays[i])
            i += 1
        else:
            out.append(list(arrays[i:i + n]))
            i += n
    return out


def _promote_positions(d: OpDef, struct, n_flat):
    """Flat positions of the params that take part in type promotion."""
    if d.promote is None and struct is None:
        return _RANGES[n_flat] if n_flat < len(_RANGES) else tuple(range(n_flat))
    return tuple(sorted(_param_positions(d, struct, [p.name for p in d.tensor_params]
                                         if d.promote is None else d.promote)))


_RANGES = [tuple(range(n)) for n in range(16)]


def _check_broadcast(flat):
    shapes = [v._raw.shape for v in flat if isinstance(v, Tensor)]
    if len(shapes) < 2:
        return
    first = shapes[0]
    if all(s == first for s in shapes):
        return
    ndim = max(len(s) for s in shapes)
    for k in range(1, ndim + 1):
        size = 1
        for s in shapes:
            n = s[-k] if k <= len(s) else 1
            if n != 1:
                if size != 1 and n != size:
                    raise RuntimeError(
                        f"The size of tensor a ({size}) must match the size of tensor b "
                        f"({n}) at non-singleton dimension {ndim - k}")
                size = n


def _call(d: OpDef, targs, statics, out=None):
    if _quantized_hook is not None:  # jtorch.ao installs it: ops on quantized tensors
        r = _quantized_hook(d, targs, statics)
        if r is not NotImplemented:
            return r
    if _autocast_on and out is None:  # torch autocasts functional overloads, never out=
        targs = _autocast_hook(d, targs, statics)
    if d.has_list:
        flat, struct = _flatten(d, targs)
    else:
        flat, struct = targs, None
    positions = _promote_positions(d, struct, len(flat))
    if d.broadcast:
        _check_broadcast(flat)
    cd = _compute_dtype(d, flat, positions)
    arrays = []
    need_grad = False
    for i, v in enumerate(flat):
        if isinstance(v, Tensor):
            arrays.append(v._raw)
            if v._rg:
                need_grad = True
        elif v is None:
            arrays.append(None)
        else:
            arrays.append(_scalar_array(v, cd if (cd is not None and i in positions)
                                        else D.scalar_dtype(v)))
    if statics:
        statics = tuple(_hashable_fast(s) for s in statics)
    key = (statics, cd, struct)
    if need_grad and _STATE.grad_enabled:
        result = _call_with_grad(d, flat, arrays, statics, cd, struct, key, positions)
    else:
        fn = d.fwd_cache.get(key)
        if fn is None:
            fn = d.fwd_cache[key] = _jit(_forward(d, statics, cd, struct, positions))
        if out is not None:
            result = _wrap_outputs(d, fn(*_lazy.resolve(arrays)), None)
        else:
            result = _wrap_outputs(d, _lazy.run_or_defer(fn, arrays, d.name), None)
        if d.view:
            _make_view(result, flat[0], d, statics)
    if out is not None:
        return _write_out(d, result, out)
    return result


def _hashable_fast(v):
    t = type(v)
    if t is int or t is bool or t is float or t is str or v is None:
        return v
    return hashable(v)


def _forward(d: OpDef, statics, cd, struct, positions):
    """The pure array function for one cache key (casting happens inside the jit)."""
    kw = {p.name: v for p, v in zip(d.static_params, statics)}
    cast = set(positions) if cd is not None else set()
    np_dt = cd.np if cd is not None else None
    fwd = d.fwd

    def f(*arrays):
        if cast:
            arrays = [a.astype(np_dt) if (i in cast and a is not None and a.dtype != np_dt)
                      else a for i, a in enumerate(arrays)]
        return fwd(*_unflatten(arrays, struct), **kw)
    return f


def _wrap_outputs(d, outs, grad_fn):
    if isinstance(outs, (tuple, list)):
        res = tuple(wrap(o, grad_fn, i) if grad_fn is not None and _is_diff_out(d, o, i)
                    else wrap(o) for i, o in enumerate(outs))
        return d.out_type(*res) if d.out_type is not None else (
            res if isinstance(outs, tuple) else list(res))
    if grad_fn is not None and _is_diff_out(d, outs, 0):
        return wrap(outs, grad_fn, 0)
    return wrap(outs)


def _is_diff_out(d, o, i):
    return o.dtype.kind in "fcV" and i not in d.nondiff_outputs  # V: bfloat16


# ------------------------------------------------------------------------------ autograd

def _diff_mask(d: OpDef, flat, struct):
    """Which flat inputs get gradients: inexact tensors that require grad (and, when the op
    restricts it, only its `differentiable` params)."""
    allowed = _param_positions(d, struct, d.differentiable) if d.differentiable else None
    return tuple(isinstance(v, Tensor) and v._rg and v._raw.dtype.kind in "fcV" and
                 (allowed is None or i in allowed) for i, v in enumerate(flat))


class _Plan:
    """Everything about a grad-recording call that depends only on its cache key."""
    __slots__ = ("bwd", "raw", "saved_idx", "keep_result", "fwd", "edge_pos", "graph_fns",
                 "forward", "mask", "out_meta", "op", "tuple_out")


def _edge_positions(d, struct, n_flat):
    """Flat inputs that get an autograd edge: torch gives none to keyword-only tensors."""
    kw = [p.name for p in d.tensor_params if p.kwonly]
    if not kw:
        return tuple(range(n_flat))
    skip = _param_positions(d, struct, kw)
    return tuple(i for i in range(n_flat) if i not in skip)


def _call_with_grad(d, flat, arrays, statics, cd, struct, key, positions):
    mask = _diff_mask(d, flat, struct)
    if not any(mask):
        fn = d.fwd_cache.get(key)
        if fn is None:
            fn = d.fwd_cache[key] = _jit(_forward(d, statics, cd, struct, positions))
        res = _wrap_outputs(d, _lazy.run_or_defer(fn, arrays, d.name), None)
        if d.view:
            _make_view(res, flat[0], d, statics)
        return res
    in_meta = tuple((a.shape, a.dtype) if a is not None else None for a in arrays)
    pkey = (key, mask, in_meta)
    plan = d.bwd_cache.get(pkey)
    if d.grad is not None:
        fn = d.fwd_cache.get(key)
        if fn is None:
            fn = d.fwd_cache[key] = _jit(_forward(d, statics, cd, struct, positions))
        outs = _lazy.run_or_defer(fn, arrays, d.name)
        if plan is None:
            plan = d.bwd_cache[pkey] = _new_plan(d, struct, len(flat), mask, _out_meta(outs))
            plan.raw = _rule_backward(d, statics, cd, struct, mask, in_meta, plan.out_meta,
                                      positions, plan.edge_pos)
            plan.bwd = _jit(plan.raw)
            plan.saved_idx = _saved_positions(d, struct, mask)
            plan.keep_result = d.saves is None or "result" in d.saves
        idx = plan.saved_idx
        keep = arrays if idx is None else [a if i in idx else None for i, a in enumerate(arrays)]
        fast = _RuleFast(plan.bwd, keep, outs if plan.keep_result else None)
        saved = _saved_versions(flat, idx)
    else:
        if plan is None:
            plan = d.bwd_cache[pkey] = _new_plan(d, struct, len(flat), mask, None)
            plan.fwd = _vjp_forward(d, statics, cd, struct, mask, positions)
            plan.forward = _forward(d, statics, cd, struct, positions)
        outs, vjp_fn, aux = _lazy.run_or_defer(plan.fwd, arrays, d.name)
        if aux is not None:  # its flags steer Python: computed now
            aux = _lazy.resolve_tree(aux)
        outs = _merge_aux(outs, aux)
        if plan.bwd is None:
            plan.out_meta = _out_meta(outs)
            plan.tuple_out = isinstance(outs, (tuple, list))
            plan.bwd = _vjp_backward(d, mask, plan.out_meta, plan.edge_pos, plan.tuple_out)
        fast = _VjpFast(plan.bwd, vjp_fn)
        saved = _saved_versions(flat, None)
    edges = tuple(((v.grad_fn, v._output_nr) if v.grad_fn is not None
                   else (v._grad_accumulator(), 0)) if mask[i] else (None, 0)
                  for i, v in ((i, flat[i]) for i in plan.edge_pos))
    node = Node(d.node_name, edges, fast, None, saved, plan.out_meta)
    graph = _GraphBackward(plan, flat, fast, arrays)
    node.graph = graph
    res = _wrap_outputs(d, outs, node)
    if plan.keep_result and d.saves is not None and "result" in d.saves:
        graph.outputs = _remember_outputs(node, res)
    if d.view:
        _make_view(res, flat[0], d, statics)
    return res


def _new_plan(d, struct, n_flat, mask, out_meta):
    plan = _Plan()
    plan.bwd = plan.raw = plan.fwd = plan.forward = None
    plan.keep_result = False
    plan.op = d
    plan.tuple_out = False
    plan.edge_pos = _edge_positions(d, struct, n_flat)
    plan.graph_fns = {}
    plan.mask = mask
    plan.out_meta = out_meta
    return plan


def _remember_outputs(node, res):
    """Saved results: version-checked, and weakly held for double backward (no cycles)."""
    import weakref
    outs = res if isinstance(res, tuple) else (res,)
    refs = []
    for r in outs:
        if r.grad_fn is node:
            node.save_output(r)
        refs.append(weakref.ref(r))
    return refs


def _merge_aux(outs, aux):
    """The vjp forward returns differentiable outputs and the rest (aux) separately."""
    if aux is None:
        return outs
    diff_outs, order = outs, aux[1]
    merged, di, ai = [], 0, 0
    for is_diff in order:
        if is_diff:
            merged.append(diff_outs[di])
            di += 1
        else:
            merged.append(aux[0][ai])
            ai += 1
    return tuple(merged)


def _out_meta(outs):
    if isinstance(outs, (tuple, list)):
        return tuple((tuple(o.shape), o.dtype) for o in outs)
    return ((tuple(outs.shape), outs.dtype),)


def _param_positions(d, struct, names):
    """Flat input positions belonging to the named tensor params."""
    names = set(names)
    pos, i = set(), 0
    for k, p in enumerate(d.tensor_params):
        n = 1 if struct is None or struct[k] < 0 else struct[k]
        if p.name in names:
            pos.update(range(i, i + n))
        i += n
    return pos


def _saved_positions(d, struct, mask=None):
    """Inputs the rule reads. `saves` may map a param to the params whose gradient needs
    it (mul: `input` is needed only when `other` requires grad), as torch saves lazily."""
    saves = d.saves
    if saves is None:
        return None
    if isinstance(saves, dict):
        needing = set()
        for name, consumers in saves.items():
            if name == "result" or any(i in _param_positions(d, struct, consumers) and mask[i]
                                       for i in range(len(mask))):
                needing.add(name)
        saves = tuple(needing)
    return _param_positions(d, struct, saves)


def _saved_versions(flat, idx):
    return tuple((v, v._version) for i, v in enumerate(flat)
                 if isinstance(v, Tensor) and (idx is None or i in idx))


def _edge(t):
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    return (t._grad_accumulator(), 0)


def _materialize(gs, out_meta, zero_int=False):
    res = []
    for g, (shape, dt) in zip(gs, out_meta):
        if jnp.issubdtype(dt, jnp.inexact):
            res.append(jnp.zeros(shape, dt) if g is None else g.astype(dt))
        else:
            res.append(np.zeros(shape, _float0) if zero_int else None)
    return res


def reduce_to(g, shape):
    """Sum a broadcast gradient back to `shape` (leading dims and size-1 dims)."""
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, (a, b) in enumerate(zip(g.shape, shape)) if b == 1 and a != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def _unbroadcast(g, shape, dtype):
    if g is None:
        return None
    if g.shape != shape:
        g = reduce_to(g, shape)
        if g.shape != shape:
            g = jnp.broadcast_to(g, shape)
    if g.dtype != dtype:
        if not jnp.issubdtype(dtype, jnp.complexfloating) and \
                jnp.issubdtype(g.dtype, jnp.complexfloating):
            g = g.real
        g = g.astype(dtype)
    return g


def _rule_backward(d, statics, cd, struct, mask, in_meta, out_meta, positions, edge_pos):
    kw = {p.name: v for p, v in zip(d.static_params, statics)}
    rule = d.grad
    np_dt = cd.np if cd is not None else None
    cast = set(positions) if cd is not None else set()
    single = len(out_meta) == 1
    lazy = isinstance(d.saves, dict)

    def bwd(gs, arrays, outs):
        gs = _materialize(gs, out_meta)
        arrays = [_cast_or_meta(a, in_meta[i], np_dt if i in cast else None, lazy)
                  for i, a in enumerate(arrays)]
        if outs is None:
            outs = tuple(jax.ShapeDtypeStruct(s, dt) for s, dt in out_meta)
            outs = outs[0] if single else outs
        g = gs[0] if single else tuple(gs)
        grads = rule(g, outs, *_unflatten(arrays, struct), **kw)
        if not isinstance(grads, (tuple, list)):
            grads = (grads,)
        grads = _flatten_grads(grads, struct)
        return [(_unbroadcast(grads[i], in_meta[i][0], in_meta[i][1])
                 if mask[i] and grads[i] is not None else None) for i in edge_pos]
    return bwd


def _cast_or_meta(a, meta, np_dt, lazy=False):
    """Inputs a rule did not save arrive as shape/dtype stand-ins (x.shape still works).

    With lazy (dict) saves the rule also computes gradients nobody asked for; those read
    zeros and XLA drops them, since only the requested gradients are returned."""
    if a is None:
        if meta is None:
            return None
        dt = np_dt if np_dt is not None else meta[1]
        return jnp.zeros(meta[0], dt) if lazy else jax.ShapeDtypeStruct(meta[0], dt)
    if np_dt is not None and a.dtype != np_dt:
        return a.astype(np_dt)
    return a


def _flatten_grads(grads, struct):
    if struct is None:
        return list(grads)
    flat = []
    for gr, n in zip(grads, struct):
        if n < 0:
            flat.append(gr)
        else:
            flat.extend(gr if gr is not None else [None] * n)
    return flat


class _RuleFast:
    __slots__ = ("bwd", "arrays", "outs")

    def __init__(self, bwd, arrays, outs):
        self.bwd, self.arrays, self.outs = bwd, arrays, outs

    def __call__(self, gs):
        if not _lazy.ACTIVE:
            return self.bwd(gs, self.arrays, self.outs)
        return self.bwd(gs, *_lazy.resolve_tree((self.arrays, self.outs)))


def _masked_vjp(fn, args, mask, **kw):
    """jax.vjp of `fn` with respect to the args where `mask` is set; the rest held fixed."""
    def g(*dargs):
        it = iter(dargs)
        return fn(*[next(it) if m else a for a, m in zip(args, mask)])
    return jax.vjp(g, *[a for a, m in zip(args, mask) if m], **kw)


def _vjp_forward(d, statics, cd, struct, mask, positions):
    f = _forward(d, statics, cd, struct, positions)

    def split(*full):  # differentiable outputs, and the rest as aux
        out = f(*full)
        if isinstance(out, (tuple, list)):
            flags = tuple(_is_diff_out(d, o, i) for i, o in enumerate(out))
            if not all(flags):
                return (tuple(o for o, fl in zip(out, flags) if fl),
                        (tuple(o for o, fl in zip(out, flags) if not fl), flags))
            return tuple(out), None
        return out, None

    def fv(*arrays):
        return _masked_vjp(split, arrays, mask, has_aux=True)
    return _jit(fv)


def _diff_flags(d, out_meta):
    """Which outputs carry gradient: inexact ones the op does not declare non-differentiable."""
    return tuple(jnp.issubdtype(dt, jnp.inexact) and i not in d.nondiff_outputs
                 for i, (_, dt) in enumerate(out_meta))


def _vjp_backward(d, mask, out_meta, edge_pos, tuple_out):
    single = not tuple_out
    diff_flags = _diff_flags(d, out_meta)

    def bwd(vjp_fn, gs):
        gs = _materialize(gs, out_meta)
        if single:
            ct = gs[0]
        else:
            ct = tuple(g for g, fl in zip(gs, diff_flags) if fl)
        grads = iter(vjp_fn(_conj_tree(ct)))
        full = [_conj(next(grads)) if m else None for m in mask]
        return [full[i] for i in edge_pos]
    return _jit(bwd)


def _conj(x):
    """torch's complex gradients are the conjugates of JAX's cotangents."""
    return jnp.conj(x) if x is not None and jnp.iscomplexobj(x) else x


def _conj_tree(ct):
    return tuple(_conj(c) for c in ct) if isinstance(ct, tuple) else _conj(ct)


class _VjpFast:
    __slots__ = ("bwd", "vjp_fn")

    def __init__(self, bwd, vjp_fn):
        self.bwd, self.vjp_fn = bwd, vjp_fn

    def __call__(self, gs):
        if not _lazy.ACTIVE:
            return self.bwd(self.vjp_fn, gs)
        return self.bwd(_lazy.resolve_tree(self.vjp_fn), gs)


class _GraphBackward:
    """Backward as recorded jtorch ops (create_graph=True), so it can be differentiated.

    Ops with a rule run that rule on Tensors holding exactly what it saved (so a grad
    that does not depend on the input does not require grad, as in torch); ops on the
    generic path recompute their vjp from the inputs. Either way the pure function is
    built once per plan and gradient pattern, so apply_jax's compile cache is reused.
    """

    __slots__ = ("plan", "inputs", "fast", "outputs", "arrays")

    def __init__(self, plan, flat, fast, arrays):
        self.plan, self.inputs, self.fast, self.outputs = plan, flat, fast, None
        self.arrays = arrays

    def __call__(self, gs):
        plan = self.plan
        g_pos = tuple(i for i, g in enumerate(gs) if g is not None)
        g_tensors = [gs[i] for i in g_pos]
        if plan.raw is not None:
            return self._rule(plan, g_pos, g_tensors)
        return self._recompute(plan, g_pos, g_tensors)

    def _as_tensor(self, v, arr):
        return v if isinstance(v, Tensor) else wrap(arr)

    def _rule(self, plan, g_pos, g_tensors):
        arrays = self.fast.arrays
        saved_pos = tuple(i for i, a in enumerate(arrays) if a is not None)
        out_refs = self.outputs
        outs = None
        if out_refs is not None:
            outs_arr = self.fast.outs
            outs_arr = outs_arr if isinstance(outs_arr, (tuple, list)) else (outs_arr,)
            outs = [r() if r() is not None else wrap(a) for r, a in zip(out_refs, outs_arr)]
        gkey = ("rule", g_pos, saved_pos, outs is not None)
        pure = plan.graph_fns.get(gkey)
        if pure is None:
            pure = plan.graph_fns[gkey] = _rule_pure(plan, g_pos, saved_pos, outs is not None,
                                                     len(arrays))
        tensors = [*g_tensors, *(self._as_tensor(self.inputs[i], arrays[i]) for i in saved_pos),
                   *(outs or ())]
        return list(apply_jax(pure, tensors, name=_double_name(self)))

    def _recompute(self, plan, g_pos, g_tensors):
        arrays = self.arrays
        present = tuple(i for i, a in enumerate(arrays) if a is not None)
        gkey = ("vjp", g_pos, present)
        pure = plan.graph_fns.get(gkey)
        if pure is None:
            pure = plan.graph_fns[gkey] = _vjp_pure(plan, g_pos, present, len(arrays))
        tensors = [*g_tensors, *(self._as_tensor(self.inputs[i], arrays[i]) for i in present)]
        return list(apply_jax(pure, tensors, name=_double_name(self)))


def _double_name(graph):
    return "BackwardBackward"


def _rule_pure(plan, g_pos, saved_pos, with_outs, n_flat):
    n_out = len(plan.out_meta)
    raw = plan.raw

    def pure(*args):
        k = len(g_pos)
        gl = [None] * n_out
        for p, v in zip(g_pos, args[:k]):
            gl[p] = v
        arrays = [None] * n_flat
        for p, v in zip(saved_pos, args[k:k + len(saved_pos)]):
            arrays[p] = v
        outs = None
        if with_outs:
            outs = tuple(args[k + len(saved_pos):])
            outs = outs[0] if n_out == 1 else outs
        return tuple(raw(gl, arrays, outs))
    return pure


def _vjp_pure(plan, g_pos, present, n_flat):
    f, mask, out_meta, d = plan.forward, plan.mask, plan.out_meta, plan.op
    single = not plan.tuple_out
    diff_flags = _diff_flags(d, out_meta)
    edge_pos = plan.edge_pos

    def pure(*args):
        k = len(g_pos)
        full = [None] * n_flat
        for p, v in zip(present, args[k:]):
            full[p] = v
        def diff_outputs(*xs):
            res = f(*xs)
            if isinstance(res, (tuple, list)):
                return tuple(o for o, fl in zip(res, diff_flags) if fl)
            return res
        _, vjp_fn = _masked_vjp(diff_outputs, full, mask)
        gl = [None] * len(out_meta)
        for p, v in zip(g_pos, args[:k]):
            gl[p] = v
        gl = _materialize(gl, out_meta)
        ct = gl[0] if single else tuple(g for g, fl in zip(gl, diff_flags) if fl)
        grads = iter(vjp_fn(_conj_tree(ct)))
        full_g = [_conj(next(grads)) if m else None for m in mask]
        return tuple(full_g[i] for i in edge_pos)
    return pure


# ------------------------------------------------------------------------------ generic

_APPLY_CACHE: dict = {}


def apply_jax(fn, tensors, name="JaxFunctionBackward"):
    """Apply a pure jax function of arrays to Tensors, with a recorded generic vjp.

    Used for create_graph backward passes, view regraphing and custom functions. `fn`
    returns a tuple of arrays or Nones; compiled once per (fn, grad mask, input shapes).
    """
    arrays = [t._value for t in tensors]
    need = _STATE.grad_enabled and any(t._rg for t in tensors)
    mask = tuple(need and t._rg and a.dtype.kind in "fcV" for t, a in zip(tensors, arrays))
    in_meta = tuple((a.shape, a.dtype) for a in arrays)
    key = (fn, mask, in_meta)
    entry = _APPLY_CACHE.get(key)
    if entry is None:
        entry = _APPLY_CACHE[key] = _ApplyEntry(fn, mask)
    if not any(mask):
        outs = entry.plain(*arrays)
        return tuple(None if o is None else wrap(o) for o in outs)
    outs_nn, vjp_fn = entry.fwd(*arrays)
    if entry.bwd is None:
        entry.bwd = _apply_backward(mask, _out_meta(outs_nn))
    edges = tuple(_edge(t) if m else (None, 0) for t, m in zip(tensors, mask))
    node = Node(name, edges, _VjpFast(entry.bwd, vjp_fn), None, (), _out_meta(outs_nn))
    node.graph = _ApplyGraph(fn, tensors, mask, node.out_meta)
    res, it = [], iter(range(len(outs_nn)))
    for is_none in entry.none_pos:
        if is_none:
            res.append(None)
        else:
            i = next(it)
            res.append(wrap(outs_nn[i], node, i))
    return tuple(res)


class _ApplyEntry:
    """Compiled pieces of one apply_jax signature; `none_pos` is learned while tracing."""

    def __init__(self, fn, mask):
        self.none_pos = []
        self.bwd = None
        self.plain = _jit(fn)
        none_pos = self.none_pos

        def present(*xs):
            outs = fn(*xs)
            none_pos[:] = [o is None for o in outs]
            return tuple(o for o in outs if o is not None)

        def fv(*arrs):
            return _masked_vjp(present, arrs, mask)
        self.fwd = _jit(fv)


def _apply_backward(mask, out_meta):
    def b(vjp, gs):
        gs = _materialize(gs, out_meta)
        grads = iter(vjp(_conj_tree(tuple(gs))))
        return [_conj(next(grads)) if m else None for m in mask]
    return _jit(b)


class _ApplyGraph:
    __slots__ = ("fn", "tensors", "mask", "out_meta")

    def __init__(self, fn, tensors, mask, out_meta):
        self.fn, self.tensors, self.mask, self.out_meta = fn, tensors, mask, out_meta

    def __call__(self, gs):
        fn, mask, out_meta = self.fn, self.mask, self.out_meta
        g_pos = [i for i, g in enumerate(gs) if g is not None]
        key = ("graph", fn, mask, out_meta, tuple(g_pos))
        pure = _APPLY_CACHE.get(key)
        if pure is None:
            def pure(*args):
                gvals, arrs = args[:len(g_pos)], args[len(g_pos):]
                _, vjp = _masked_vjp(lambda *xs: tuple(o for o in fn(*xs) if o is not None),
                                     arrs, mask)
                gl = [None] * len(out_meta)
                for p, v in zip(g_pos, gvals):
                    gl[p] = v
                grads = iter(vjp(_conj_tree(tuple(_materialize(gl, out_meta)))))
                return tuple(_conj(next(grads)) if m else None for m in mask)
            _APPLY_CACHE[key] = pure
        return list(apply_jax(pure, [*[gs[i] for i in g_pos], *self.tensors],
                              name="JaxFunctionBackwardBackward"))


# ------------------------------------------------------------------------------ in-place / out

def _call_inplace(d: OpDef, targs, statics, _out=None):
    self = targs[0]
    if _autocast_on:  # in-place variants are not autocast
        result = _autocast_bypass(_call, d, targs, statics)
    else:
        result = _call(d, targs, statics)
    if isinstance(result, tuple):
        result = result[0]
    return self._inplace_assign(result, d.name + "_")


def _write_out(d, result, out):
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"{d.name}(): argument 'out' must be tuple of {len(result)} Tensors")
        for o, r in zip(out, result):
            o._assign_out(r, d.name)
        return type(result)(*out) if hasattr(result, "_fields") else tuple(out)
    if not isinstance(out, Tensor):
        raise TypeError(f"{d.name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    out._assign_out(result, d.name)
    return out


# ------------------------------------------------------------------------------ views

def _make_view(result, base, d, statics):
    """Mark `result` as a view of `base`'s storage (its root), remembering how to redo it."""
    if not isinstance(base, Tensor):
        return
    results = result if isinstance(result, (tuple, list)) else (result,)
    for i, r in enumerate(results):
        r._set_view_of(base, (d, statics, i if isinstance(result, (tuple, list)) else -1))


_CHAIN_CACHE: dict = {}


def chain_fn(chain):
    """Jitted base-array -> view-array function for a chain of view steps."""
    fn = _CHAIN_CACHE.get(chain)
    if fn is None:
        steps = []
        for d, statics, idx in chain:
            kw = {p.name: v for p, v in zip(d.static_params, statics)}
            steps.append((d.fwd, kw, idx))

        def f(x):
            for fwd, kw, idx in steps:
                x = fwd(x, **kw)
                if idx >= 0:
                    x = x[idx]
            return x
        fn = _CHAIN_CACHE[chain] = _jit(f)
    return fn


def scatter_fn(chain, base_shape):
    """Jitted (base, new_view) -> new base: writes a view's values back into its base.

    Every view op is a gather, so pushing an iota through the chain tells which base
    element each view element is; the write-back is one scatter.
    """
    key = ("scatter", chain, base_shape)
    fn = _CHAIN_CACHE.get(key)
    if fn is None:
        idx = index_map(chain_fn(chain), base_shape)  # numpy on the host: no compile
        if idx is None:  # a view op outside index_map's primitives: run the chain
            iota = np.arange(math.prod(base_shape), dtype=np.int64).reshape(base_shape)
            with jax.ensure_compile_time_eval():  # concrete even inside an outer trace
                idx = np.asarray(chain_fn(chain)(iota))
        idx = idx.reshape(-1)

        def f(base, new):
            flat = base.reshape(-1).at[idx].set(jnp.broadcast_to(new, idx.shape[:0] + new.shape)
                                                .reshape(-1).astype(base.dtype))
            return flat.reshape(base_shape)
        fn = _CHAIN_CACHE[key] = (_jit(f), idx)
    return fn
