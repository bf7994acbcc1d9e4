"""Indexing: Tensor.__getitem__/__setitem__, gather/scatter, index_*, masked_*, nonzero.

Basic indexing (ints, slices, None, ...) is one view op, `_index_basic`, whose static
argument is the normalized index; tensor (advanced) indices then go through `_index`
(aten.index semantics: a copy). torch applies ints as selects before advanced
indexing, so ints never separate advanced indices when placing the result dims.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtype as D
from .._tensor import wrap
from ..autograd import grad_mode as _grad_mode
from .registry import function, method, op
from .views import _wrap

# ------------------------------------------------------------------------------ helpers


def _tensor_cls():
    from .._tensor import Tensor
    return Tensor


def _wrap_arr(a):
    from .._tensor import wrap
    return wrap(jnp.asarray(a))


def _as_tensor(v, dtype=None):
    if isinstance(v, _tensor_cls()):
        return v
    from .._creation import tensor
    return tensor(v, dtype=dtype)


def _call(d, tensors, statics=()):
    from .dispatch import _call as call
    return call(d, tuple(tensors), tuple(statics))


def _call_inplace(d, tensors, statics=()):
    from .dispatch import _call_inplace as call
    return call(d, tuple(tensors), tuple(statics))


def _concrete(t):
    """The index's numpy value, or None while traced (then bounds go unchecked)."""
    v = t._value
    if isinstance(v, jax.core.Tracer):
        return None
    return np.asarray(v)


def _check_index_bounds(t, size, dim):
    v = _concrete(t)
    if v is None or v.size == 0:
        return
    bad = v[(v >= size) | (v < -size)]
    if bad.size:
        raise IndexError(f"index {bad.flat[0]} is out of bounds for dimension {dim} with size "
                         f"{size}")


def _is_int_dtype(dt):
    return jnp.issubdtype(dt, jnp.integer)


def _check_int_index(idx, name):
    if not _is_int_dtype(idx.dtype):
        raise RuntimeError(f"{name}(): Expected dtype int64 for index")


# ------------------------------------------------------------------------------ basic index

def _basic_tuple(spec):
    out = []
    for e in spec:
        if e[0] == "i":
            out.append(e[1])
        elif e[0] == "s":
            out.append(slice(e[1], e[2], e[3]))
        else:
            out.append(None)
    return tuple(out)


def _index_basic_grad(g, out, x, spec):
    idx = tuple(i for i in _basic_tuple(spec) if i is not None)
    shape = jax.eval_shape(lambda a: a[idx], jax.ShapeDtypeStruct(x.shape, g.dtype)).shape
    return (jnp.zeros(x.shape, g.dtype).at[idx].add(g.reshape(shape)),)


@op("_index_basic(Tensor self, Any spec) -> Tensor", dtype="none", view=True, method=False,
    function=False, saves=(), node_name="SliceBackward0", grad=_index_basic_grad)
def _index_basic(x, spec):
    return x[_basic_tuple(spec)]


def _slice_spec(s, n):
    if s.step is not None:
        step = int(s.step)
        if step == 0:
            raise ValueError("slice step cannot be zero")
        if step < 0:
            raise ValueError("step must be greater than zero")
    start, stop, step = slice(None if s.start is None else int(s.start),
                              None if s.stop is None else int(s.stop),
                              None if s.step is None else int(s.step)).indices(n)
    return ("s", start, max(stop, start), step)


def _src_dims(spec):
    """The source dim each spec entry addresses (None for new axes)."""
    out, d = [], 0
    for e in spec:
        if e[0] == "n":
            out.append(None)
        else:
            out.append(d)
            d += 1
    return out


def _is_full(e, spec, shape):
    d = _src_dims(spec)[len(spec) - 1] if e is spec[-1] else None
    return e[0] == "s" and d is not None and e[1:] == (0, shape[d], 1)


def indices_only_full(spec, shape):
    return all(e[0] == "s" and d is not None and e[1:] == (0, shape[d], 1)
               for e, d in zip(spec, _src_dims(spec)))


def _parse_index(self, index):
    """Split an index into a basic spec (a view) and advanced indices on its result."""
    T = _tensor_cls()
    if not isinstance(index, tuple):
        index = (index,)
    entries = []
    for e in index:
        if isinstance(e, (list, np.ndarray)) or (
                isinstance(e, tuple) and False):
            e = _as_tensor(e)
            if e.dtype is D.float32 and e.numel() == 0:
                e = e.long()
        if isinstance(e, T) and e.ndim == 0 and e.dtype._category == 1 \
                and _concrete(e) is not None:
            e = int(e.item())
        elif isinstance(e, T) and e.ndim == 0 and e.dtype is D.bool \
                and _concrete(e) is not None:
            e = bool(e.item())
        elif isinstance(e, np.generic):
            e = e.item()
        entries.append(e)
    shape = tuple(self.shape)
    ndim = len(shape)
    consumed = 0
    for e in entries:
        if e is None or e is Ellipsis or isinstance(e, bool):
            continue
        if isinstance(e, int) or isinstance(e, slice):
            consumed += 1
        elif isinstance(e, T):
            if e.dtype is D.bool or e.dtype is D.uint8:
                consumed += e.ndim
            elif e.dtype._category == 1:
                consumed += 1
            else:
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
        else:
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                             "byte Variables are valid indices (got "
                             f"{type(e).__name__})")
    if consumed > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    spec, adv = [], {}
    dim = out = 0
    seen_ellipsis = False
    for e in entries:
        if e is Ellipsis:
            if not seen_ellipsis:
                for _ in range(ndim - consumed):
                    spec.append(("s", 0, shape[dim], 1))
                    dim, out = dim + 1, out + 1
                seen_ellipsis = True
        elif e is None:
            spec.append(("n",))
            out += 1
        elif isinstance(e, bool):
            spec.append(("n",))
            adv[out] = _wrap_arr(np.zeros((1 if e else 0,), np.int64))
            out += 1
        elif isinstance(e, int):
            n = shape[dim]
            if not -n <= e < n:
                raise IndexError(f"index {e} is out of bounds for dimension {dim} with size {n}")
            spec.append(("i", e % n))
            dim += 1
        elif isinstance(e, slice):
            spec.append(_slice_spec(e, shape[dim]))
            dim, out = dim + 1, out + 1
        elif e.dtype is D.bool or e.dtype is D.uint8:
            k = e.ndim
            for j in range(k):
                if e.shape[j] != shape[dim + j]:
                    raise IndexError(f"The shape of the mask {list(e.shape)} at index {j} does "
                                     f"not match the shape of the indexed tensor "
                                     f"{list(shape)} at index {dim + j}")
            m = _concrete(e)
            if m is None:
                raise NotImplementedError("boolean-mask indexing of a traced tensor (its "
                                          "result shape depends on the data)")
            for j, nz in enumerate(np.nonzero(m)):
                spec.append(("s", 0, shape[dim + j], 1))
                adv[out + j] = _wrap_arr(nz.astype(np.int64))
            dim, out = dim + k, out + k
        else:
            _check_index_bounds(e, shape[dim], dim)
            spec.append(("s", 0, shape[dim], 1))
            adv[out] = e
            dim, out = dim + 1, out + 1
    # full slices change nothing: drop trailing ones, and the whole view when only they
    # precede advanced indices
    if indices_only_full(spec, shape):
        if adv:
            spec = []
    while spec and adv == {} and _is_full(spec[-1], spec, shape):
        spec.pop()
    indices = None
    if adv:
        indices = [adv.get(i) for i in range(max(adv) + 1)]
    return tuple(spec), indices


_DYNAMIC: dict = {}


def _dynamic_basic(x, spec):
    """`x[spec]` with the integers as traced arguments: one compile per index *structure*.

    Python-int indices (`x[i]`, `x[i:i + n]`) would otherwise compile once per value. Only
    the forward value comes from here; the result is still a view whose chain holds the
    concrete spec (so writes and refreshes stay exact)."""
    key, args = [], []
    for e in spec:
        if e[0] == "i":
            key.append(("i",))
            args.append(e[1])
        elif e[0] == "s" and e[3] == 1:
            key.append(("s", e[2] - e[1]))
            args.append(e[1])
        else:
            key.append(e)
    key = (tuple(key), tuple(x.shape), x.dtype)
    fn = _DYNAMIC.get(key)
    if fn is None:
        fn = _DYNAMIC[key] = jax.jit(functools.partial(_dynamic_index, key[0]))
    return fn(x, *[np.int64(a) for a in args])


def _dynamic_index(structure, x, *args):
    it, dim = iter(args), 0
    for e in structure:
        if e[0] == "i":
            x = jax.lax.dynamic_index_in_dim(x, next(it), axis=dim, keepdims=False)
        elif e[0] == "s" and len(e) == 2:
            x = jax.lax.dynamic_slice_in_dim(x, next(it), e[1], axis=dim)
            dim += 1
        elif e[0] == "s":
            x = jax.lax.slice_in_dim(x, e[1], e[2], e[3], axis=dim)
            dim += 1
        else:  # None: a new axis here
            x = jnp.expand_dims(x, dim)
            dim += 1
    return x


def _basic_view(self, spec):
    if spec and not (self._rg and _grad_mode.STATE.grad_enabled):
        out = wrap(_dynamic_basic(self._value, spec))
        out._set_view_of(self, (_index_basic, (spec,), -1))
        return out
    return _call(_index_basic, (self,), (spec,))


@method("__getitem__")
def getitem(self, index):
    spec, indices = _parse_index(self, index)
    v = _basic_view(self, spec) if (spec or indices is None) else self
    if indices is None:
        return v
    return _call(_INDEX, (v, indices))


@method("__setitem__")
def setitem(self, index, value):
    spec, indices = _parse_index(self, index)
    v = _basic_view(self, spec) if spec else self
    if indices is None:
        v.copy_(value)
        return
    value = _as_tensor(value, self.dtype if not isinstance(value, _tensor_cls()) else None)
    if value.dtype is not self.dtype:
        value = value.to(self.dtype)
    _call_inplace(index_put, (v, indices, value), (False,))


# ------------------------------------------------------------------------------ advanced index

def _adv_tuple(indices):
    return tuple(slice(None) if i is None else i for i in indices)


def _index_grad(g, out, x, indices):
    return (jnp.zeros(x.shape, g.dtype).at[_adv_tuple(indices)].add(g), [None] * len(indices))


@op("index.Tensor(Tensor self, Tensor?[] indices) -> Tensor", dtype="none", method=False,
    function=False, saves=("indices",), node_name="IndexBackward0", grad=_index_grad)
def _INDEX(x, indices):
    return x[_adv_tuple(indices)]


def _expand_index_list(self, indices):
    """Bool masks -> long indices; bounds checked; python values -> tensors."""
    out, dim = [], 0
    for i in indices:
        if i is None:
            out.append(None)
            dim += 1
            continue
        i = _as_tensor(i)
        if i.dtype is D.bool or i.dtype is D.uint8:
            m = _concrete(i)
            for j in range(i.ndim):
                if i.shape[j] != self.shape[dim + j]:
                    raise IndexError(f"The shape of the mask {list(i.shape)} at index {j} does "
                                     f"not match the shape of the indexed tensor "
                                     f"{list(self.shape)} at index {dim + j}")
            for nz in np.nonzero(m):
                out.append(_wrap_arr(nz.astype(np.int64)))
            dim += i.ndim
        else:
            if i.dtype._category != 1:
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
            if dim >= self.ndim:
                raise IndexError(f"too many indices for tensor of dimension {self.ndim} (got "
                                 f"{len(indices)})")
            _check_index_bounds(i, self.shape[dim], dim)
            out.append(i)
            dim += 1
    return out


@function("_index_tensor")
def index_tensor(input, indices):
    return _call(_INDEX, (input, _expand_index_list(input, indices)))


def _index_put_grad(g, out, x, indices, values, accumulate=False):
    idx = _adv_tuple(indices)
    gx = g if accumulate else g.at[idx].set(0)
    return (gx, [None] * len(indices), g[idx])  # summed to values' shape centrally


@op("index_put(Tensor self, Tensor?[] indices, Tensor values, bool accumulate=False) -> Tensor",
    dtype="none", method=False, function=False, saves=("indices",), grad=_index_put_grad,
    node_name="IndexPutBackward0")
def _index_put(x, indices, values, accumulate=False):
    idx = _adv_tuple(indices)
    shape = jax.eval_shape(lambda a: a[idx], x).shape
    try:
        jnp.broadcast_shapes(values.shape, shape)
    except ValueError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(values.shape)} cannot "
                           f"be broadcast to indexing result of shape {list(shape)}") from None
    values = values.astype(x.dtype)
    return x.at[idx].add(values) if accumulate else x.at[idx].set(values)


index_put = _index_put


def _index_put_args(self, indices, values):
    if not isinstance(values, _tensor_cls()):
        raise TypeError("index_put(): argument 'values' must be Tensor")
    if values.dtype is not self.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{D.type_name(self.dtype)} for the destination and "
                           f"{D.type_name(values.dtype)} for the source.")
    return _expand_index_list(self, list(indices))


@function("index_put", method=True)
def index_put_fn(input, indices, values, accumulate=False):
    return _call(_index_put, (input, _index_put_args(input, indices, values), values),
                 (accumulate,))


@function("index_put_", method=True)
def index_put_(input, indices, values, accumulate=False):
    return _call_inplace(_index_put, (input, _index_put_args(input, indices, values), values),
                         (accumulate,))


# ------------------------------------------------------------------------------ index_*

def _dim_index(x, dim, index, name):
    d = _wrap(dim, x.ndim)
    if index.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    return d


def _sel(d, idx):
    return (slice(None),) * d + (idx,)


def _index_select_grad(g, out, x, index, dim):
    if x.ndim == 0:
        return (g.reshape(()), None)
    d = _wrap(dim, x.ndim)
    g = g.reshape(x.shape[:d] + (-1,) + x.shape[d + 1:])
    return (jnp.zeros(x.shape, g.dtype).at[_sel(d, index.reshape(-1))].add(g), None)


@op("index_select(Tensor input, int dim, Tensor index) -> Tensor", dtype="none", out=True,
    saves=("index",), grad=_index_select_grad)
def _index_select(x, index, dim):
    if not _is_int_dtype(index.dtype):
        raise RuntimeError("index_select(): Expected dtype int32/int64 for index")
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if x.ndim == 0:
        _wrap(dim, 0)
        return x
    d = _wrap(dim, x.ndim)
    return jnp.take(x, index.reshape(-1), axis=d)


def _bounds_any(t, n, msg):
    v = _concrete(t)
    if v is not None and v.size and (v.max() >= n or v.min() < -n):
        raise IndexError(msg)


def _dim_size(x, dim):
    return x.shape[_wrap(dim, x.ndim)] if x.ndim else 1


@function("index_select", method=True)
def index_select(input, dim, index, *, out=None):
    index = _as_tensor(index)
    _bounds_any(index, _dim_size(input, dim), "index out of range in self")
    from .registry import OPS
    r = _call(_index_select, (input, index), (dim,))
    if out is not None:
        from .dispatch import _write_out
        return _write_out(_index_select, r, out)
    return r


def _index_op_check(x, d, index, src, name):
    if not _is_int_dtype(index.dtype):
        raise RuntimeError(f"{name}_(): Expected dtype int32/int64 for index")
    if src is not None and src.ndim and x.ndim and src.shape[d] != index.size:
        raise RuntimeError(f"{name}_(): Number of indices ({index.size}) should be equal to "
                           f"source.size(dim) ({src.shape[d]})")


@op("index_add(Tensor input, int dim, Tensor index, Tensor source, *, Scalar alpha=1) -> Tensor",
    dtype="none", inplace=True, out=True)
def index_add(x, index, source, dim, alpha=1):
    d = _wrap(dim, x.ndim)
    _index_op_check(x, d, index, source, "index_add")
    src = source.astype(x.dtype)
    if alpha != 1:
        src = src * jnp.asarray(alpha, x.dtype)
    if x.ndim == 0:
        return x + src.sum() if index.size else x
    return x.at[_sel(d, index.reshape(-1))].add(src.reshape(
        x.shape[:d] + (index.size,) + x.shape[d + 1:]))


def _index_copy_grad(g, out, x, index, source, dim):
    if x.ndim == 0:
        return (g * (index.size == 0), None, g.reshape(source.shape) * (index.size != 0))
    d = _wrap(dim, x.ndim)
    sel = _sel(d, index.reshape(-1))
    return (g.at[sel].set(0), None, g[sel].reshape(source.shape))


@op("index_copy(Tensor input, int dim, Tensor index, Tensor source) -> Tensor", dtype="none",
    inplace=True, out=True, saves=("index",), grad=_index_copy_grad)
def index_copy(x, index, source, dim):
    d = _wrap(dim, x.ndim)
    _index_op_check(x, d, index, source, "index_copy")
    if x.ndim == 0:
        return source.astype(x.dtype).reshape(()) if index.size else x
    return x.at[_sel(d, index.reshape(-1))].set(source.astype(x.dtype).reshape(
        x.shape[:d] + (index.size,) + x.shape[d + 1:]))


@op("index_fill(Tensor input, int dim, Tensor index, Tensor value) -> Tensor", dtype="none",
    inplace=True)
def index_fill(x, index, value, dim):
    d = _wrap(dim, x.ndim)
    _index_op_check(x, d, index, None, "index_fill")
    if value.ndim:
        raise RuntimeError("index_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    v = value.astype(x.dtype)
    if x.ndim == 0:
        return v if index.size else x
    return x.at[_sel(d, index.reshape(-1))].set(v)


_IDENT = {"prod": 1, "amax": -np.inf, "amin": np.inf, "sum": 0, "mean": 0}


def _ident(dtype, reduce):
    v = _IDENT[reduce]
    if jnp.issubdtype(dtype, jnp.integer):
        info = jnp.iinfo(dtype)
        v = {np.inf: info.max, -np.inf: info.min}.get(v, v)
    elif dtype == jnp.bool_:
        v = {np.inf: True, -np.inf: False}.get(v, v)
    return jnp.asarray(v, dtype)


@jax.custom_vjp
def _scatter_prod(x, idx, src):
    """x.at[idx].multiply(src) with torch's gradient (JAX has none for repeated indices)."""
    return x.at[idx].multiply(src)


def _scatter_prod_fwd(x, idx, src):
    return x.at[idx].multiply(src), (x, idx, src)


def _scatter_prod_bwd(res, g):
    x, idx, src = res
    one = jnp.ones((), x.dtype)
    nzx, nzs = jnp.where(x == 0, one, x), jnp.where(src == 0, one, src)
    nz_prod = nzx.at[idx].multiply(nzs)  # product of the nonzero contributors
    zc = (x == 0).astype(jnp.int32).at[idx].add((src == 0).astype(jnp.int32))

    def others(v, nzv, p, z):  # product of the other contributors to v's target
        return jnp.where(v == 0, jnp.where(z == 1, p, 0), jnp.where(z == 0, p / nzv, 0))
    gx = g * others(x, nzx, nz_prod, zc)
    gs = g[idx] * others(src, nzs, nz_prod[idx], zc[idx])
    return gx, None, gs


_scatter_prod.defvjp(_scatter_prod_fwd, _scatter_prod_bwd)


def _scatter_reduce_at(x, idx, src, reduce, include_self):
    """x with src reduced into positions idx (a full index tuple)."""
    if not include_self:
        x = x.at[idx].set(_ident(x.dtype, reduce))
    ref = x.at[idx]
    if reduce in ("sum", "mean"):
        out = ref.add(src)
    elif reduce == "prod":
        out = _scatter_prod(x, idx, src)
    elif reduce == "amax":
        out = ref.max(src)
    elif reduce == "amin":
        out = ref.min(src)
    else:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    if reduce == "mean":
        cnt = jnp.zeros(x.shape, jnp.int64).at[idx].add(1)
        if include_self:
            cnt = cnt + 1
        cnt = jnp.maximum(cnt, 1).astype(x.dtype)
        out = out // cnt if jnp.issubdtype(x.dtype, jnp.integer) else out / cnt
    return out


@op("index_reduce(Tensor input, int dim, Tensor index, Tensor source, str reduce, *, "
    "bool include_self=True) -> Tensor", dtype="none", inplace=True, out=True)
def index_reduce(x, index, source, dim, reduce, include_self=True):
    d = _wrap(dim, x.ndim)
    _index_op_check(x, d, index, source, "index_reduce")
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    if x.ndim == 0:
        x1 = _scatter_reduce_at(x.reshape(1), (index.reshape(-1),),
                                source.astype(x.dtype).reshape(-1), reduce, include_self)
        return x1.reshape(())
    src = source.astype(x.dtype).reshape(x.shape[:d] + (index.size,) + x.shape[d + 1:])
    out = _scatter_reduce_at(jnp.moveaxis(x, d, 0), (index.reshape(-1),), jnp.moveaxis(src, d, 0),
                             reduce, include_self)
    return jnp.moveaxis(out, 0, d)


# ------------------------------------------------------------------------------ gather/scatter

def _gather_check(x, d, index, name, src=None):
    xn = max(x.ndim, 1)
    inn = max(index.ndim, 1)
    if not _is_int_dtype(index.dtype):
        raise RuntimeError(f"{name}(): Expected dtype int64 for index")
    if index.size == 0:
        return
    if inn != xn:
        raise RuntimeError("Index tensor must have the same number of dimensions as "
                           f"{'input' if name == 'gather' else 'self'} tensor")
    xs, ishape = x.shape or (1,), index.shape or (1,)
    for k in range(xn):
        if k != d and ishape[k] > xs[k]:
            if name == "gather":
                raise RuntimeError(f"Size does not match at dimension {k} expected index "
                                   f"{list(ishape)} to be no larger than self {list(xs)} apart "
                                   f"from dimension {d}")
            raise RuntimeError(f"Expected index {list(ishape)} to be no larger than self "
                               f"{list(xs)} apart from dimension {d}")
    if src is not None and src.ndim:
        ss = src.shape
        if src.ndim != xn:
            raise RuntimeError("Index tensor must have the same number of dimensions as src "
                               "tensor")
        for k in range(xn):
            if ishape[k] > ss[k]:
                raise RuntimeError(f"Expected index {list(ishape)} to be no larger than self "
                                   f"{list(xs)} apart from dimension {d} and to be no larger "
                                   f"size than src {list(ss)}")


def _full_index(index, d):
    """Index tuple addressing x[..., index[...], ...] along d, identity elsewhere."""
    return tuple(index if k == d else jax.lax.broadcasted_iota(jnp.int64, index.shape, k)
                 for k in range(index.ndim))


def _gather_grad(g, out, x, index, dim, sparse_grad=False):
    if x.ndim == 0:
        return (g.reshape(-1).sum().reshape(()) if index.size else jnp.zeros((), g.dtype), None)
    if index.size == 0:
        return (jnp.zeros(x.shape, g.dtype), None)
    d = _wrap(dim, x.ndim)
    return (jnp.zeros(x.shape, g.dtype).at[_full_index(index, d)].add(g), None)


@op("gather(Tensor input, int dim, Tensor index, *, bool sparse_grad=False) -> Tensor",
    dtype="none", out=True, saves=("index",), grad=_gather_grad)
def _gather(x, index, dim, sparse_grad=False):
    d = _wrap(dim, x.ndim)
    _gather_check(x, d, index, "gather")
    if x.ndim == 0:
        return jnp.broadcast_to(x, index.shape)
    if index.size == 0:
        return jnp.zeros(index.shape, x.dtype)
    return x[_full_index(index, d)]


def _bounds_dim(x, dim, index):
    n = _dim_size(x, dim)
    v = _concrete(index)
    bad = v[(v >= n) | (v < -n)] if v is not None and v.size else ()
    if len(bad):
        raise RuntimeError(f"index {bad.flat[0]} is out of bounds for dimension "
                           f"{_wrap(dim, x.ndim)} with size {n}")


@function("gather", method=True)
def gather(input, dim, index, *, sparse_grad=False, out=None):
    _bounds_dim(input, dim, index)
    r = _call(_gather, (input, index), (dim, sparse_grad))
    if out is not None:
        from .dispatch import _write_out
        return _write_out(_gather, r, out)
    return r


def _scatter_src(x, index, src):
    if src.ndim == 0:
        return jnp.broadcast_to(src.astype(x.dtype), index.shape)
    return src.astype(x.dtype)[tuple(slice(0, n) for n in index.shape)]


def _scatter_grad(g, out, x, index, src, dim, reduce=None):
    """torch's rule: every src element gets the gradient at its target, duplicates too."""
    if reduce == "multiply":
        raise RuntimeError("derivative for aten::scatter is not implemented")
    shape = x.shape or (1,)
    g1 = g.reshape(shape)
    ix = index.reshape(index.shape or (1,))
    if index.size == 0:
        return (g, None, jnp.zeros(src.shape, g.dtype))
    idx = _full_index(ix, _wrap(dim, len(shape)))
    gx = g1 if reduce == "add" else g1.at[idx].set(0)
    gs = g1[idx].sum().reshape(())  # a 0-d src (a number src never requires grad)
    if src.ndim:
        gs = jnp.zeros(src.shape, g.dtype).at[tuple(slice(0, n) for n in ix.shape)].set(g1[idx])
    return (gx.reshape(x.shape), None, gs)


@op("_scatter(Tensor input, int dim, Tensor index, Tensor src, *, str? reduce=None) -> Tensor",
    dtype="none", method=False, function=False, node_name="ScatterBackward0",
    saves=("index",), grad=_scatter_grad)
def _scatter(x, index, src, dim, reduce=None):
    d = _wrap(dim, x.ndim)
    _gather_check(x, d, index, "scatter", src)
    if index.size == 0:
        return x
    if x.ndim == 0:
        return _scatter.fwd(x.reshape(1), index.reshape(1), src.reshape(-1), 0, reduce).reshape(())
    idx, s = _full_index(index, d), _scatter_src(x, index, src)
    if reduce is None:
        return x.at[idx].set(s)
    if reduce == "add":
        return x.at[idx].add(s)
    if reduce == "multiply":
        return x.at[idx].multiply(s)
    raise RuntimeError(f"reduce argument must be either add or multiply. Got {reduce}")


def _scatter_args(input, dim, index, src, value):
    s = src if src is not None else value
    if s is None:
        raise TypeError("scatter() missing required argument 'src' or 'value'")
    if isinstance(s, _tensor_cls()) and s.ndim == 0 and src is not None and \
            s.dtype is not input.dtype:
        pass
    if isinstance(s, _tensor_cls()) and src is not None and s.dtype is not input.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    _bounds_dim(input, dim, index)
    return s


@function("scatter", method=True)
def scatter(input, dim, index, src=None, value=None, *, reduce=None, out=None):
    s = _scatter_args(input, dim, index, src, value)
    r = _call(_scatter, (input, index, s), (dim, reduce))
    if out is not None:
        from .dispatch import _write_out
        return _write_out(_scatter, r, out)
    return r


@method("scatter_")
def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
    s = _scatter_args(self, dim, index, src, value)
    return _call_inplace(_scatter, (self, index, s), (dim, reduce))


@op("_scatter_reduce(Tensor input, int dim, Tensor index, Tensor src, str reduce, *, "
    "bool include_self=True) -> Tensor", dtype="none", method=False, function=False,
    node_name="ScatterReduceBackward0")
def _scatter_reduce(x, index, src, dim, reduce, include_self=True):
    d = _wrap(dim, x.ndim)
    _gather_check(x, d, index, "scatter", src)
    if index.size == 0:
        return x
    if x.ndim == 0:
        return _scatter_reduce.fwd(x.reshape(1), index.reshape(1), src.reshape(-1), 0, reduce,
                               include_self).reshape(())
    return _scatter_reduce_at(x, _full_index(index, d), _scatter_src(x, index, src), reduce,
                              include_self)


def _def_scatter_reduce(name, reduce_fixed):
    def fn(input, dim, index, src, reduce=None, *, include_self=True, out=None):
        if src.dtype is not input.dtype:
            raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype")
        _bounds_dim(input, dim, index)
        r = _call(_scatter_reduce, (input, index, src), (dim, reduce_fixed or reduce,
                                                        include_self))
        if out is not None:
            from .dispatch import _write_out
            return _write_out(_scatter_reduce, r, out)
        return r

    def fn_(self, dim, index, src, reduce=None, *, include_self=True):
        if src.dtype is not self.dtype:
            raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype")
        _bounds_dim(self, dim, index)
        return _call_inplace(_scatter_reduce, (self, index, src),
                             (dim, reduce_fixed or reduce, include_self))
    function(name, method=True)(fn)
    method(name + "_")(fn_)


_def_scatter_reduce("scatter_reduce", None)
_def_scatter_reduce("scatter_add", "sum")


# ------------------------------------------------------------------------------ masked

def _mask_check(mask, name):
    if mask.dtype != jnp.bool_:
        raise RuntimeError(f"{name} only supports boolean masks, but got mask with dtype "
                           f"{D.from_np(mask.dtype).name if False else _long_name(mask.dtype)}")


def _long_name(dt):
    return {jnp.int64: "long int", jnp.int32: "int", jnp.uint8: "unsigned char",
            jnp.float32: "float", jnp.float64: "double"}.get(jnp.dtype(dt).type, str(dt))


def _masked_fill_grad(g, out, x, mask, value):
    return (jnp.where(mask, 0, g), None,
            jnp.where(mask, g, 0).sum().astype(g.dtype) if value.shape == () else None)


def _bcast_check(a, b):
    """torch's broadcast message, naming `a` first (masked_fill names the mask first)."""
    n = max(len(a), len(b))
    for k in range(1, n + 1):
        p = a[-k] if k <= len(a) else 1
        q = b[-k] if k <= len(b) else 1
        if p != q and p != 1 and q != 1:
            raise RuntimeError(f"The size of tensor a ({p}) must match the size of tensor b "
                               f"({q}) at non-singleton dimension {n - k}")


@op("masked_fill(Tensor input, Tensor mask, Tensor value) -> Tensor", dtype="none",
    broadcast=False, inplace=True, saves=("mask",), grad=_masked_fill_grad)
def masked_fill(x, mask, value):
    _mask_check(mask, "masked_fill_")
    _bcast_check(mask.shape, x.shape)
    if value.ndim:
        raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    return jnp.where(mask, value.astype(x.dtype), x)


@op("_masked_scatter(Tensor input, Tensor mask, Tensor source) -> Tensor", dtype="none",
    method=False, function=False, node_name="MaskedScatterBackward0")
def _masked_scatter(x, mask, source):
    _mask_check(mask, "masked_scatter_")
    shape = jnp.broadcast_shapes(x.shape, mask.shape)
    x, mask = jnp.broadcast_to(x, shape), jnp.broadcast_to(mask, shape)
    pos = jnp.cumsum(mask.reshape(-1)) - 1
    src = source.reshape(-1).astype(x.dtype)
    if src.size == 0:
        return x
    taken = src[jnp.clip(pos, 0, src.size - 1)].reshape(shape)
    return jnp.where(mask, taken, x)


def _masked_scatter_check(input, mask, source):
    if source.dtype is not input.dtype:
        raise RuntimeError("masked_scatter_: expected self and source to have same dtypes but "
                           f"got {D.type_name(input.dtype)} and {D.type_name(source.dtype)}")
    m = _concrete(mask)
    if m is not None and m.dtype == np.bool_:
        m = np.broadcast_to(m, np.broadcast_shapes(m.shape, tuple(input.shape)))
        if m.sum() > source.numel():
            raise RuntimeError("Number of elements of source < number of ones in mask")


@function("masked_scatter", method=True)
def masked_scatter(input, mask, source):
    _masked_scatter_check(input, mask, source)
    return _call(_masked_scatter, (input, mask, source))


@method("masked_scatter_")
def masked_scatter_(self, mask, source):
    _masked_scatter_check(self, mask, source)
    if jnp.broadcast_shapes(tuple(self.shape), tuple(mask.shape)) != tuple(self.shape):
        raise RuntimeError(f"masked_scatter_: expected mask to be broadcastable to self")
    return _call_inplace(_masked_scatter, (self, mask, source))


@function("masked_select", method=True)
def masked_select(input, mask, *, out=None):
    if mask.dtype is not D.bool:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    from .views import broadcast_tensors
    x, m = broadcast_tensors(input, mask)
    r = getitem(x, m) if x.ndim else _call(_INDEX, (x.reshape(1), _expand_index_list(
        x.reshape(1), [m.reshape(1)])))
    if out is not None:
        out._assign_out(r)
        return out
    return r


# ------------------------------------------------------------------------------ take / put

@op("_take(Tensor input, Tensor index) -> Tensor", dtype="none", method=False, function=False,
    saves=("index",), node_name="TakeBackward0",
    grad=lambda g, out, x, index: (jnp.zeros((x.size if hasattr(x, "size") and isinstance(
        x.size, int) else int(np.prod(x.shape)),), g.dtype).at[index.reshape(-1)].add(
            g.reshape(-1)).reshape(x.shape), None))
def _take(x, index):
    if not _is_int_dtype(index.dtype):
        raise RuntimeError("take(): Expected a long tensor for index, but got "
                           f"{D.type_name(D.from_np(index.dtype))}")
    return x.reshape(-1)[index]


@function("take", method=True)
def take(input, index, *, out=None):
    n = input.numel()
    v = _concrete(index)
    if v is not None and v.size and v.dtype.kind in "iu":
        bad = v[(v >= n) | (v < -n)]
        if bad.size:
            raise IndexError(f"out of range: tried to access index {bad.flat[0]} on a tensor of "
                             f"{n} elements.")
    r = _call(_take, (input, index))
    if out is not None:
        out._assign_out(r)
        return out
    return r


@op("_take_along_dim(Tensor input, Tensor indices, int? dim=None) -> Tensor", dtype="none",
    method=False, function=False, node_name="TakeAlongDimBackward0")
def _take_along_dim(x, indices, dim=None):
    if not _is_int_dtype(indices.dtype):
        raise RuntimeError("torch.take_along_dim(): dtype of indices should be int64 but got "
                           f"{D.type_name(D.from_np(indices.dtype))}")
    if dim is None:
        return x.reshape(-1)[indices.reshape(-1)]
    if x.ndim != indices.ndim:
        raise RuntimeError("torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {x.ndim} dimensions for input, and "
                           f"{indices.ndim} dimensions for indices")
    d = _wrap(dim, x.ndim)
    bs = list(jnp.broadcast_shapes(tuple(s for k, s in enumerate(x.shape) if k != d),
                                   tuple(s for k, s in enumerate(indices.shape) if k != d)))
    xs, is_ = list(bs), list(bs)
    xs.insert(d, x.shape[d])
    is_.insert(d, indices.shape[d])
    x, indices = jnp.broadcast_to(x, xs), jnp.broadcast_to(indices, is_)
    return x[_full_index(jnp.where(indices < 0, indices + x.shape[d], indices), d)]


@function("take_along_dim", method=True)
def take_along_dim(input, indices, dim=None, *, out=None):
    n = input.numel() if dim is None else _dim_size(input, dim)
    v = _concrete(indices)
    if v is not None and v.size and v.dtype.kind in "iu" and (v.max() >= n or v.min() < -n):
        bad = v.max() if v.max() >= n else v.min()
        raise IndexError(f"index {bad} is out of bounds for dimension "
                         f"{0 if dim is None else _wrap(dim, input.ndim)} with size {n}")
    r = _call(_take_along_dim, (input, indices), (dim,))
    if out is not None:
        out._assign_out(r)
        return out
    return r


def _put_grad(g, out, x, index, source, accumulate=False):
    flat, idx = g.reshape(-1), index.reshape(-1)
    gx = g if accumulate else flat.at[idx].set(0).reshape(g.shape)
    return (gx, None, flat[idx].reshape(source.shape))


@op("_put(Tensor input, Tensor index, Tensor source, bool accumulate=False) -> Tensor",
    dtype="none", method=False, function=False, node_name="PutBackward0", saves=("index",),
    grad=_put_grad)
def _put(x, index, source, accumulate=False):
    if not _is_int_dtype(index.dtype):
        raise RuntimeError("put_(): Expected a long tensor for index, but got "
                           f"{D.type_name(D.from_np(index.dtype))}")
    if index.size != source.size:
        raise RuntimeError(f"put_(): Expected source and index to have the same number of "
                           f"elements, but got source.numel() = {source.size}, index.numel() = "
                           f"{index.size}")
    flat, idx, src = x.reshape(-1), index.reshape(-1), source.reshape(-1).astype(x.dtype)
    out = flat.at[idx].add(src) if accumulate else flat.at[idx].set(src)
    return out.reshape(x.shape)


def _put_check(input, index, source):
    if source.dtype is not input.dtype:
        raise RuntimeError("put_(): self and source expected to have the same dtype, but got "
                           f"self.dtype = {D.type_name(input.dtype)} and source.dtype = "
                           f"{D.type_name(source.dtype)}")
    n = input.numel()
    v = _concrete(index)
    if v is not None and v.size and v.dtype.kind in "iu":
        bad = v[(v >= n) | (v < -n)]
        if bad.size:
            raise IndexError(f"out of range: tried to access index {bad.flat[0]} on a tensor of "
                             f"{n} elements.")


@function("put", method=True)
def put(input, index, source, accumulate=False):
    _put_check(input, index, source)
    return _call(_put, (input, index, source), (accumulate,))


@method("put_")
def put_(self, index, source, accumulate=False):
    _put_check(self, index, source)
    return _call_inplace(_put, (self, index, source), (accumulate,))


# ------------------------------------------------------------------------------ where / nonzero

@function("nonzero", method=True)
def nonzero(input, *, as_tuple=False, out=None):
    v = _concrete(input)
    if v is None:
        raise NotImplementedError("torch.nonzero on a traced tensor (its result shape depends "
                                  "on the data); use nonzero_static")
    nz = np.nonzero(v) if v.ndim else np.nonzero(v.reshape(1))
    if as_tuple:
        if v.ndim == 0:
            return (_wrap_arr(nz[0].astype(np.int64)),)
        return tuple(_wrap_arr(a.astype(np.int64)) for a in nz)
    r = _wrap_arr(np.stack(nz, 1).astype(np.int64).reshape(-1, v.ndim)) if v.ndim else \
        _wrap_arr(np.zeros((int(bool(v)), 0), np.int64))
    if out is not None:
        out._assign_out(r)
        return out
    return r


@function("argwhere", method=True)
def argwhere(input):
    return nonzero(input)


@op("nonzero_static(Tensor input, *, SymInt size, int fill_value=-1) -> Tensor", dtype="none",
    out=True)
def nonzero_static(x, size, fill_value=-1):
    if x.ndim == 0:
        x = x.reshape(1)
        nz = jnp.nonzero(x, size=size, fill_value=fill_value)
        return jnp.zeros((size, 0), jnp.int64)
    nz = jnp.nonzero(x, size=size, fill_value=fill_value)
    return jnp.stack(nz, 1).astype(jnp.int64)


# ------------------------------------------------------------------------------ *_scatter

def _embed(x, src, view):
    """x with `view(x)`'s elements replaced by src (the view's index map is an iota gather)."""
    iota = jnp.arange(x.size, dtype=jnp.int64).reshape(x.shape)
    idx = view(iota)
    if src.shape != idx.shape:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(idx.shape)}")
    return x.reshape(-1).at[idx.reshape(-1)].set(src.astype(x.dtype).reshape(-1)).reshape(x.shape)


@op("select_scatter(Tensor input, Tensor src, int dim, SymInt index) -> Tensor", dtype="none",
    out=True)
def select_scatter(x, src, dim, index):
    from .views import select
    return _embed(x, src, lambda a: select.fwd(a, dim, index))


@op("slice_scatter(Tensor input, Tensor src, int dim=0, SymInt? start=None, SymInt? end=None, "
    "SymInt step=1) -> Tensor", dtype="none", out=True)
def slice_scatter(x, src, dim=0, start=None, end=None, step=1):
    d = _wrap(dim, x.ndim)
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    s = _slice_spec(slice(start, end, step), x.shape[d])
    return _embed(x, src, lambda a: jax.lax.slice_in_dim(a, s[1], s[2], s[3], axis=d))


@op("diagonal_scatter(Tensor input, Tensor src, int offset=0, int dim1=0, int dim2=1) -> Tensor",
    dtype="none", out=True)
def diagonal_scatter(x, src, offset=0, dim1=0, dim2=1):
    from .views import diagonal
    return _embed(x, src, lambda a: diagonal.fwd(a, offset, dim1, dim2))


# ------------------------------------------------------------------------------ search

def _search_dtype(out_int32):
    return jnp.int32 if out_int32 else jnp.int64


@op("_searchsorted(Tensor sorted_sequence, Tensor input, *, bool out_int32=False, "
    "bool right=False, Tensor? sorter=None) -> Tensor", dtype="none", method=False,
    function=False)
def _searchsorted(seq, x, sorter=None, out_int32=False, right=False):
    side = "right" if right else "left"
    if sorter is not None:
        seq = jnp.take_along_axis(seq, sorter, axis=-1)
    dt = jnp.promote_types(seq.dtype, x.dtype)
    seq, x = seq.astype(dt), x.astype(dt)
    if seq.ndim <= 1:
        return jnp.searchsorted(seq, x, side=side).astype(_search_dtype(out_int32))
    if seq.shape[:-1] != x.shape[:-1]:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the "
                           "first N-1 dimensions of boundaries tensor and input value tensor "
                           f"must match, but we got boundaries tensor {list(seq.shape)} and "
                           f"input value tensor {list(x.shape)}")
    f = lambda s, v: jnp.searchsorted(s, v, side=side)  # noqa: E731
    for _ in range(seq.ndim - 1):
        f = jax.vmap(f)
    return f(seq, x).astype(_search_dtype(out_int32))


@function("searchsorted")
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None, out=None):
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    if not isinstance(input, _tensor_cls()):
        input = _as_tensor(input)
    r = _call(_searchsorted, (sorted_sequence, input, sorter), (out_int32, right))
    if out is not None:
        out._assign_out(r)
        return out
    return r


@function("bucketize")
def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    if boundaries.ndim != 1:
        raise RuntimeError("boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)
