"""torch.func: composable function transforms (grad, vjp, jvp, jacrev, jacfwd, hessian,
vmap, linearize) mapped onto JAX's transforms, plus functional_call and
stack_module_state.

Inputs are pytrees (tuples, lists, dicts) of Tensors. Each transform runs the user's
jtorch code on Tensors wrapping JAX tracers, so transforms nest freely (vmap of grad,
jacfwd of jacrev, ...). Results are plain Tensors; when an input requires grad in an
outer jtorch graph, results are connected to it (see _core.py for how and the limits).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from .._tensor import Tensor, wrap
from ..autograd import grad_mode
from ..nn.utils.stateless import functional_call as _stateless_call
from . import _core as C
from . import _pytree as P
from ._core import random_op_hook, transform_depth  # noqa: F401

__all__ = ["functional_call", "grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd",
           "hessian", "vmap", "linearize", "stack_module_state", "functionalize",
           "replace_all_batch_norm_modules_", "debug_unwrap"]


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """module(*args, **kwargs) with the given parameters/buffers swapped in."""
    return _stateless_call(module, parameter_and_buffer_dicts, args, kwargs,
                           tie_weights=tie_weights, strict=strict)


# ------------------------------------------------------------------------------ helpers

def _name(func):
    return getattr(func, "__name__", repr(func))


def _prep(args, kwargs):
    """Flatten (args, kwargs): leaves, spec, positions of the Tensor leaves, the Tensors."""
    leaves, spec = P.flatten((tuple(args), dict(kwargs)))
    tpos = [i for i, v in enumerate(leaves) if isinstance(v, Tensor)]
    return leaves, spec, tpos, [leaves[i] for i in tpos]


def _rebuild(leaves, spec, tpos, arrays, made=None):
    """(args, kwargs) with Tensors around `arrays`; the wrappers go to `made`."""
    cur = list(leaves)
    for i, a in zip(tpos, arrays):
        cur[i] = w = wrap(a)
        if made is not None:
            made.append(w)
    return P.unflatten(cur, spec)


def _mutated(made):
    """Indices and new values of the input wrappers func modified in place."""
    idx = [k for k, w in enumerate(made) if w._vc[0] != 0]
    return idx, [made[k]._value for k in idx]


def _write_back(tensors, idx, values):
    """In-place changes to inputs inside a transform land in the caller's tensors."""
    with grad_mode.no_grad():
        for k, v in zip(idx, values):
            tensors[k].copy_(v)


def _arg_ranges(spec):
    """Leaf index range of each positional argument."""
    ranges, start = [], 0
    for c in spec.children[0].children:
        ranges.append((start, start + c.num_leaves))
        start += c.num_leaves
    return ranges


def _argnums(argnums, n):
    def one(a):
        if not -n <= a < n:
            raise RuntimeError(f"Got argnum={a}, but only {n} positional inputs")
        return a % n
    if isinstance(argnums, int) and not isinstance(argnums, bool):
        return (one(argnums),)
    if isinstance(argnums, tuple) and all(isinstance(a, int) for a in argnums):
        if not argnums:
            raise RuntimeError("argnums must be non-empty")
        if len(set(argnums)) != len(argnums):
            raise RuntimeError(f"argnums elements must be unique, got {argnums}")
        return tuple(one(a) for a in argnums)
    raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")


def _diff_leaves(leaves, spec, tpos, args, nums, api=None):
    """Positions (into the Tensor list) of the leaves differentiated w.r.t., checked."""
    ranges = _arg_ranges(spec)
    pos, k = [], 0
    for n in nums:
        for i in range(*ranges[n]):
            v = leaves[i]
            if not isinstance(v, Tensor):
                raise ValueError(f"Thing passed to transform API must be Tensor, got {type(v)}")
            if v.dtype._category < 2:
                raise RuntimeError("only Tensors of floating point dtype can require gradients")
            if api is not None and v.is_complex():
                raise RuntimeError(f"{api}: Expected all inputs to be real but received complex "
                                   f"tensor at flattened input idx: {k}")
            pos.append(tpos.index(i))
            k += 1
    return pos


def _structure(flat, spec, nums):
    """Per-argnum results: the argument's own structure, a tuple when argnums is one."""
    ranges = _arg_ranges(spec)
    res, k = [], 0
    for n in nums:
        m = ranges[n][1] - ranges[n][0]
        res.append(P.unflatten(flat[k:k + m], spec.children[0].children[n]))
        k += m
    return res


def _tensor_leaves(tree, what):
    leaves, spec = P.flatten(tree)
    for v in leaves:
        if not isinstance(v, Tensor):
            raise RuntimeError(f"Expected tensors, got unsupported type {type(v)}")
    return leaves, spec


def _split_aux(out, has_aux, api):
    if not has_aux:
        return out, ()
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if "
                           "has_aux is True")
    return out


# ------------------------------------------------------------------------------ grad

def grad_and_value(func, argnums=0, has_aux=False):
    """(gradient of func's scalar output w.r.t. args[argnums], output) [with aux]."""
    api = "grad_and_value(f)(*args)"

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args))
        leaves, spec, tpos, tensors = _prep(args, kwargs)
        dpos = _diff_leaves(leaves, spec, tpos, args, nums)
        info = {}

        def body(arrays):
            def pure(*d):
                a = list(arrays)
                for k, v in zip(dpos, d):
                    a[k] = v
                made = []
                fargs, fkw = _rebuild(leaves, spec, tpos, a, made)
                out, aux = _split_aux(C.call_user(func, fargs, fkw), has_aux, api)
                info["mut"], mut = _mutated(made)
                if not isinstance(out, Tensor):
                    raise RuntimeError(f"{api}: Expected f(*args) to return a Tensor, got "
                                       f"{type(out)}")
                if out.dim() != 0:
                    raise RuntimeError(f"{api}: Expected f(*args) to return a scalar Tensor, "
                                       f"got tensor with {out.dim()} dims. Maybe you wanted to "
                                       "use the vjp or jacrev APIs instead?")
                if not out.dtype.is_floating_point:
                    raise RuntimeError("grad can be implicitly created only for real scalar "
                                       f"outputs but got {out.dtype}")
                aux_l, info["aux"] = _tensor_leaves(aux, "aux")
                v = out._value
                return v, (v, [t._value for t in aux_l], mut)
            gs, (v, auxv, mut) = jax.grad(pure, argnums=tuple(range(len(dpos))), has_aux=True)(
                *[arrays[k] for k in dpos])
            return [C._conj(g) for g in gs] + [v] + list(auxv) + list(mut)

        outs = C.run("GradBackward", tensors, body)
        nm = len(info["mut"])
        if nm:
            _write_back(tensors, info["mut"], outs[-nm:])
            outs = outs[:-nm]
        nd = len(dpos)
        g = _structure(outs[:nd], spec, nums)
        g = g[0] if isinstance(argnums, int) else tuple(g)
        value = outs[nd]
        if has_aux:
            return g, (value, P.unflatten(outs[nd + 1:], info["aux"]))
        return g, value
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """Gradient of func's scalar output w.r.t. args[argnums] ((grad, aux) with has_aux)."""
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


# ------------------------------------------------------------------------------ vjp / jvp

def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn[, aux]); vjp_fn(cotangents) -> tuple of grads per primal."""
    api = "vjp(f, *primals)"
    pleaves, pspec = P.flatten(primals)
    for v in pleaves:
        if not isinstance(v, Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(v)}")
    info = {}

    def pure(*arrs):
        fargs = P.unflatten([wrap(a) for a in arrs], pspec)
        out, aux = _split_aux(C.call_user(func, fargs, {}), has_aux, api)
        ol, info["out"] = _tensor_leaves(out, "output")
        al, info["aux"] = _tensor_leaves(aux, "aux")
        return [o._value for o in ol], [a._value for a in al]

    C._S.depth += 1
    try:
        outs, fn, auxv = jax.vjp(pure, *[t._value for t in pleaves], has_aux=True)
    finally:
        C._S.depth -= 1
    out_spec = info["out"]
    metas = [(o.shape, o.dtype) for o in outs]

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        cl, cspec = P.flatten(cotangents)
        if cspec != out_spec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree "
                               f"structure of outputs to the function. cotangents: "
                               f"{P.spec_pprint(cspec)}, primal output: {P.spec_pprint(out_spec)}")
        cts = []
        for i, (c, (shape, dt)) in enumerate(zip(cl, metas)):
            if tuple(c.shape) != tuple(shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                                   f"{c.shape} and output[{i}] has a shape of "
                                   f"torch.Size({list(shape)}).")
            cts.append(C._conj(c._value.astype(dt)))
        gs = fn(cts)
        return P.unflatten([wrap(C._conj(g)) for g in gs], pspec)

    res = P.unflatten([wrap(o) for o in outs], out_spec)
    if has_aux:
        return res, vjp_fn, P.unflatten([wrap(a) for a in auxv], info["aux"])
    return res, vjp_fn


def _check_primals_tangents(primals, tangents, api):
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{api}: Expected primals to be a tuple. E.g. it should be valid to "
                           "call f(*primals).")
    pl, ps = P.flatten(primals)
    tl, ts = P.flatten(tangents)
    if ps != ts:
        raise RuntimeError(f"{api}: Expected primals and tangents to have the same python "
                           "structure. For example, if primals is a tuple of 3 tensors, tangents "
                           f"also must be. Got primals with structure {P.spec_str(ps)} and "
                           f"tangents with structure {P.spec_str(ts)}")
    for p, t in zip(pl, tl):
        for v in (p, t):
            if not isinstance(v, Tensor):
                raise ValueError(f"Thing passed to transform API must be Tensor, got {type(v)}")
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError("Trying to set a forward gradient that has a different size than "
                               "that of the original Tensor, this is not supported. Tensor is of "
                               f"size {list(p.shape)} while the given forward gradient is of "
                               f"size {list(t.shape)}.")
    return pl, ps, tl


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), the Jacobian-vector product with tangents)[ + aux]."""
    api = "jvp(f, primals, tangents)"
    pl, ps, tl = _check_primals_tangents(primals, tangents, api)
    n = len(pl)
    info = {}

    def body(arrays):
        def pure(*arrs):
            out, aux = _split_aux(C.call_user(func, P.unflatten([wrap(a) for a in arrs], ps),
                                              {}), has_aux, api)
            ol, info["out"] = _tensor_leaves(out, "output")
            al, info["aux"] = _tensor_leaves(aux, "aux")
            return [o._value for o in ol], [a._value for a in al]
        prim = arrays[:n]
        tang = [t.astype(p.dtype) for p, t in zip(prim, arrays[n:])]
        outs, touts, auxv = jax.jvp(pure, prim, tang, has_aux=True)
        return list(outs) + list(touts) + list(auxv)

    res = C.run("JvpBackward", pl + tl, body)
    no = info["out"].num_leaves
    out = P.unflatten(res[:no], info["out"])
    tout = P.unflatten(res[no:2 * no], info["out"])
    if has_aux:
        return out, tout, P.unflatten(res[2 * no:], info["aux"])
    return out, tout


def linearize(func, *primals):
    """(func(*primals), jvp_fn) with jvp_fn(*tangents) the linearized function."""
    pl, ps = P.flatten(primals)
    for v in pl:
        if not isinstance(v, Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(v)}")
    info = {}

    def pure(*arrs):
        out = C.call_user(func, P.unflatten([wrap(a) for a in arrs], ps), {})
        ol, info["out"] = _tensor_leaves(out, "output")
        return [o._value for o in ol]

    C._S.depth += 1
    try:
        outs, f_jvp = jax.linearize(pure, *[t._value for t in pl])
    finally:
        C._S.depth -= 1

    def jvp_fn(*tangents):
        _check_primals_tangents(primals, tangents, "linearize")
        tl, _ = P.flatten(tangents)
        touts = f_jvp(*[t._value.astype(p._value.dtype) for p, t in zip(pl, tl)])
        return P.unflatten([wrap(t) for t in touts], info["out"])

    return P.unflatten([wrap(o) for o in outs], info["out"]), jvp_fn


# ------------------------------------------------------------------------------ jacobians

def _jac(api, jax_jac, func, argnums, has_aux, randomness=None):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args))
        leaves, spec, tpos, tensors = _prep(args, kwargs)
        dpos = _diff_leaves(leaves, spec, tpos, args, nums, api=api)
        info = {}

        def body(arrays):
            def pure(*d):
                a = list(arrays)
                for k, v in zip(dpos, d):
                    a[k] = v
                made = []
                fargs, fkw = _rebuild(leaves, spec, tpos, a, made)
                with C.random_scope(*_jac_random(randomness, api)):
                    out, aux = _split_aux(C.call_user(func, fargs, fkw), has_aux,
                                          f"{api}(f, ...)(*args)")
                info["mut"], mut = _mutated(made)
                ol, info["out"] = _tensor_leaves(out, "output")
                for i, o in enumerate(ol):
                    if o.is_complex():
                        raise RuntimeError(f"{api}: Expected all outputs to be real but received "
                                           f"complex tensor at flattened input idx: {i}")
                al, info["aux"] = _tensor_leaves(aux, "aux")
                return [o._value for o in ol], ([t._value for t in al], mut)
            jac, (auxv, mut) = jax_jac(pure, argnums=tuple(range(len(dpos))), has_aux=True)(
                *[arrays[k] for k in dpos])
            return [j for per_out in jac for j in per_out] + list(auxv) + list(mut)

        outs = C.run(f"{api.capitalize()}Backward", tensors, body)
        nm = len(info["mut"])
        if nm:
            _write_back(tensors, info["mut"], outs[-nm:])
            outs = outs[:-nm]
        nd, no = len(dpos), info["out"].num_leaves
        per_out = []
        for o in range(no):
            g = _structure(outs[o * nd:(o + 1) * nd], spec, nums)
            per_out.append(g[0] if isinstance(argnums, int) else tuple(g))
        jac = P.unflatten(per_out, info["out"])
        if has_aux:
            return jac, P.unflatten(outs[no * nd:], info["aux"])
        return jac
    return wrapper


def _jac_random(randomness, api):
    if randomness is None or randomness == "same":
        return ("same",)
    if randomness == "error":
        return ("error",)
    return ("error", None, NotImplementedError(
        f"jtorch.func.{api}(randomness='different'): random operations inside are not "
        "supported; use randomness='same'"))


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """Jacobian of func w.r.t. args[argnums] by reverse mode."""
    _check_chunk(chunk_size, "jacrev")
    return _jac("jacrev", jax.jacrev, func, argnums, has_aux)


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """Jacobian of func w.r.t. args[argnums] by forward mode."""
    C.check_randomness(randomness)
    return _jac("jacfwd", jax.jacfwd, func, argnums, has_aux, randomness)


def hessian(func, argnums=0):
    """jacfwd(jacrev(func, argnums), argnums), as torch defines it."""
    return jacfwd(jacrev(func, argnums), argnums)


def _check_chunk(chunk_size, api):
    if chunk_size is not None and not (isinstance(chunk_size, int) and chunk_size > 0):
        raise ValueError(f"{api}: `chunk_size` should be greater than 0.")


# ------------------------------------------------------------------------------ vmap

def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Map func over a dimension of its inputs (JAX's vmap; chunk_size only bounds memory in
    torch and is accepted)."""
    C.check_randomness(randomness)
    if chunk_size is not None and not (isinstance(chunk_size, int) and chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")
    name = _name(func)

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        return _vmap_call(func, name, in_dims, out_dims, randomness, args, kwargs)
    return wrapped


def _vmap_call(func, name, in_dims, out_dims, randomness, args, kwargs):
    if not args:
        raise ValueError(f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add inputs, "
                         "or you are trying to vmap over a function with no inputs. The latter is "
                         "unsupported.")
    where = f"vmap({name}, in_dims={in_dims}, ...)(<inputs>)"
    if not (isinstance(in_dims, (int, tuple)) and not isinstance(in_dims, bool)):
        raise ValueError(f"{where}: expected `in_dims` to be int or a (potentially nested) tuple "
                         f"matching the structure of inputs, got: {type(in_dims)}.")
    aleaves, aspec = P.flatten(tuple(args))
    dims = P.broadcast_prefix(in_dims, aspec) if isinstance(in_dims, tuple) else \
        [in_dims] * len(aleaves)
    if dims is None:
        raise ValueError(f"{where}: in_dims is not compatible with the structure of `inputs`. "
                         f"in_dims has structure {P.spec_str(P.flatten(in_dims)[1])} but inputs "
                         f"has structure {P.spec_str(aspec)}.")
    sizes, norm = [], []
    for v, d in zip(aleaves, dims):
        if d is None:
            norm.append(None)
            continue
        if not isinstance(d, int) or isinstance(d, bool):
            raise ValueError(f"{where}: in_dims must be int or None, got {type(d)}")
        if not isinstance(v, Tensor):
            raise ValueError(f"{where}: Got in_dim={d} for an input but the input is of type "
                             f"{type(v)}. We cannot vmap over non-Tensor arguments, please use "
                             "None as the respective in_dim")
        nd = v.dim()
        if not -nd <= d < nd:
            raise ValueError(f"{where}: Got in_dim={d} for some input, but that input is a Tensor "
                             f"of dimensionality {nd} so expected in_dim to satisfy -{nd} <= "
                             f"in_dim < {nd}.")
        norm.append(d % nd)
        sizes.append(v.shape[d % nd])
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError("vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    leaves, spec, tpos, tensors = _prep(args, kwargs)
    dim_of = dict(zip(range(len(aleaves)), norm))   # args' leaves come first in (args, kwargs)
    bpos = [k for k, i in enumerate(tpos) if dim_of.get(i) is not None]
    in_axes = [dim_of[tpos[k]] for k in bpos]
    batched_dim = dict(zip(bpos, in_axes))
    info = {}

    def body(arrays):
        keys = C.split_keys(randomness, sizes[0])

        def pure(batched, key):
            a = list(arrays)
            for k, v in zip(bpos, batched):
                a[k] = v
            made = []
            fargs, fkw = _rebuild(leaves, spec, tpos, a, made)
            with C.random_scope(randomness, key):
                out = C.call_user(func, fargs, fkw, differentiating=False)
            info["mut"], mut = _mutated(made)
            ol, ospec = P.flatten(out)
            for o in ol:
                if not isinstance(o, Tensor):
                    raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got "
                                     f"type {type(o)}. Did you mean to set out_dims= to None for "
                                     "output?")
            od = _out_dims(name, out_dims, ospec, ol)
            info["spec"] = ospec
            # modified inputs come back where they were mapped (or unmapped)
            info["dims"] = od = od + [batched_dim.get(k) for k in info["mut"]]
            vals = [o._value for o in ol] + mut
            mapped = [v for v, d in zip(vals, od) if d is not None]
            unmapped = [v for v, d in zip(vals, od) if d is None]
            return mapped, unmapped
        try:
            mapped, unmapped = jax.vmap(pure, in_axes=(in_axes, 0 if keys is not None else None),
                                        out_axes=(0, None))([arrays[k] for k in bpos], keys)
        except ValueError as e:
            if "out_axes" in str(e) and "None" in str(e):
                raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor "
                                 "when out_dim is None") from None
            raise
        it_m, it_u = iter(mapped), iter(unmapped)
        return [next(it_u) if d is None else jnp.moveaxis(next(it_m), 0, d)
                for d in info["dims"]]

    outs = C.run("VmapBackward", tensors, body)
    nm = len(info["mut"])
    if nm:
        _write_back(tensors, info["mut"], outs[-nm:])
        outs = outs[:-nm]
    return P.unflatten(outs, info["spec"])


def _out_dims(name, out_dims, ospec, ol):
    """Normalized out dim (or None) per output leaf, with torch's errors."""
    ok = out_dims is None or (isinstance(out_dims, int) and not isinstance(out_dims, bool))
    if ok:
        dims = [out_dims] * len(ol)
    else:
        dl, _ = P.flatten(out_dims)
        if not isinstance(out_dims, (tuple, list)) or \
                not all(d is None or isinstance(d, int) for d in dl):
            raise ValueError(f"vmap({name}, ..., out_dims={out_dims}): `out_dims` must be an int, "
                             "None or a python collection of ints representing where in the "
                             "outputs the vmapped dimension should appear.")
        dims = P.broadcast_prefix(out_dims, ospec)
        if dims is None:
            raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not "
                             "compatible with the structure of `outputs`. out_dims has structure "
                             f"{P.spec_str(P.flatten(out_dims)[1])} but outputs has structure "
                             f"{P.spec_str(ospec)}.")
    res = []
    for o, d in zip(ol, dims):
        if d is not None:
            nd = o.dim() + 1
            if not -nd <= d < nd:
                raise IndexError(f"Dimension out of range (expected to be in range of "
                                 f"[{-nd}, {nd - 1}], but got {d})")
            d %= nd
        res.append(d)
    return res


# ------------------------------------------------------------------------------ modules

def stack_module_state(models):
    """(params, buffers): each model's tensors stacked along a new leading dim; stacked
    parameters are fresh leaves that require grad when the originals did."""
    import jtorch
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or not any(m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same "
                           "training/eval mode.")
    all_params = [dict(m.named_parameters()) for m in models]
    params = {}
    for k in all_params[0]:
        ts = [p[k] for p in all_params]
        rg = {t.requires_grad for t in ts}
        if len(rg) > 1:
            raise RuntimeError(f"Expected {k} from each model to have the same .requires_grad")
        params[k] = jtorch.stack([t.detach() for t in ts]).requires_grad_(rg.pop())
    all_bufs = [dict(m.named_buffers()) for m in models]
    buffers = {k: jtorch.stack([b[k] for b in all_bufs]) for k in all_bufs[0]}
    return params, buffers


def functionalize(func, *, remove="mutations"):
    """jtorch already runs every op functionally under JAX, so this is func itself."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError("functionalize(f, remove='mutations'): received invalid argument for "
                           f"remove={remove}. Valid options are:\n     remove='mutations': all "
                           "inplace and out= operators will be removed from the program, and "
                           "replaced with their out-of-place equivalents.\n     "
                           "remove='mutations_and_views': In addition to the above, all aliasing "
                           "operators {view} will be replaced with their non-aliasing "
                           "counterparts, {view}_copy.\n")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapped


def replace_all_batch_norm_modules_(root):
    """Stop every batch norm under root from tracking running stats (in place), so it
    can run under vmap; returns root."""
    for m in root.modules():
        if type(m).__name__ in _BATCH_NORMS and getattr(m, "track_running_stats", False):
            m.running_mean = None
            m.running_var = None
            m.num_batches_tracked = None
            m.track_running_stats = False
    return root


_BATCH_NORMS = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm1d",
                "LazyBatchNorm2d", "LazyBatchNorm3d", "_BatchNorm"}


def debug_unwrap(tensor, *, recurse=True):
    """Tensors here never carry transform wrappers, so this is the tensor itself."""
    return tensor
