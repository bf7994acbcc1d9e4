"""Shape and view ops. Ops marked view=True share storage with their input.

A view op's forward must be a pure gather of its first tensor argument (its
static args fixed): the dispatcher pushes an iota through it to learn which base
element each view element is (see dispatch.scatter_fn). Each view op also gets a
non-view `<name>_copy` twin where torch has one.
"""
from __future__ import annotations

import builtins
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtype as D
from .registry import OPS, function, method, op

# ------------------------------------------------------------------------------ helpers


def _infer_size(shape, numel):
    shape = list(shape)
    for i, s in enumerate(shape):
        if s < -1:
            raise RuntimeError(f"invalid shape dimension {s} at index {i} of shape {shape}")
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in shape if s != -1)
    if neg:
        if known == 0:
            if numel == 0:
                raise RuntimeError(
                    f"cannot reshape tensor of 0 elements into shape {shape} because the "
                    "unspecified dimension size -1 can be any value and is ambiguous")
            raise RuntimeError(f"shape '{shape}' is invalid for input of size {numel}")
        if numel % known:
            raise RuntimeError(f"shape '{shape}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{shape}' is invalid for input of size {numel}")
    return tuple(shape)


def _wrap(dim, ndim):
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def _dims(dims, ndim):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return tuple(_wrap(d, ndim) for d in dims)


def _reshape_grad(g, out, x, **kw):
    return (g.reshape(x.shape),)


def _call(d, tensors, statics):
    from .dispatch import _call as call
    return call(d, tuple(tensors), tuple(statics))


def view_op(schema, *, copy=True, **kw):
    """Declare a view op (dtype-preserving gather) plus its torch `<name>_copy` twin."""
    kw.setdefault("dtype", "none")
    kw.setdefault("saves", ())

    def deco(fwd):
        d = op(schema, view=True, **kw)(fwd)
        if copy:
            name = d.name + "_copy"
            cschema = schema.replace(d.name + "(", name + "(", 1)
            ckw = {k: v for k, v in kw.items() if k not in ("aliases", "method_aliases",
                                                            "function", "method", "node_name")}
            op(cschema, method=False, out=True, node_name=d.node_name, **ckw)(fwd)
        return d
    return deco


# ------------------------------------------------------------------------------ reshapes

@view_op("view(Tensor self, *SymInt[] size) -> Tensor", function=False, method=False,
         node_name="ViewBackward0", grad=_reshape_grad)
def _view(x, size):
    return x.reshape(_infer_size(size, x.size))


@method("view")
def view(self, *size):
    """x.view(*shape) is a reshape view; x.view(dtype) reinterprets the bits (a copy here)."""
    if len(size) == 1 and isinstance(size[0], D.dtype):
        return _call(OPS["_view_dtype"], (self,), (size[0].np,))
    from .dispatch import _varargs
    size = _varargs(size)
    if self._chain and not _is_viewable(self, _infer_size(tuple(size), self.numel())):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.")
    return _call(_view, (self,), (size,))


@op("_view_dtype(Tensor self, ScalarType dtype) -> Tensor", dtype="none", method=False,
    function=False)
def _view_dtype(x, dtype):
    src, dst = x.dtype.itemsize, jnp.dtype(dtype).itemsize
    if src == dst:
        return jax.lax.bitcast_convert_type(x, dtype)
    if x.ndim == 0:
        raise RuntimeError("self.dim() cannot be 0 to view "
                           f"{D.type_name(D.from_np(x.dtype))} as "
                           f"{D.type_name(D.from_np(dtype))} (different element sizes)")
    if src < dst:
        r = dst // src
        if x.shape[-1] % r:
            raise RuntimeError(f"self.size(-1) must be divisible by {r} to view "
                               f"{D.type_name(D.from_np(x.dtype))} as "
                               f"{D.type_name(D.from_np(dtype))} (different element sizes), "
                               f"but got {x.shape[-1]}")
        y = x.reshape(x.shape[:-1] + (x.shape[-1] // r, r))
        return jax.lax.bitcast_convert_type(y, dtype)
    y = jax.lax.bitcast_convert_type(x, dtype)
    return y.reshape(x.shape[:-1] + (x.shape[-1] * (src // dst),))


@view_op("reshape(Tensor input, *SymInt[] shape) -> Tensor", copy=False, function=False,
         method=False, node_name="ViewBackward0", grad=_reshape_grad)
def reshape(x, shape):
    return x.reshape(_infer_size(shape, x.size))


@op("_reshape_copy(Tensor input, SymInt[] shape) -> Tensor", dtype="none", method=False,
    function=False, saves=(), node_name="UnsafeViewBackward0", grad=_reshape_grad)
def _reshape_copy(x, shape):
    return x.reshape(_infer_size(shape, x.size))


def _strides(t):
    """torch's strides for t: contiguous for a root, else read off the view's index map."""
    shape = tuple(t.shape)
    if not t._chain:
        return _contiguous_strides(shape)
    key = ("strides", t._chain, tuple(t._st._v.shape))
    r = _OVERLAP.get(key)
    if r is None:
        from .dispatch import scatter_fn
        idx = scatter_fn(t._chain, tuple(t._st._v.shape))[1].reshape(shape)
        r = []
        for k, n in enumerate(shape):
            if n > 1 and idx.size:
                unit = [0] * len(shape)
                unit[k] = 1
                r.append(int(idx[tuple(unit)]) - int(idx[(0,) * len(shape)]))
            else:
                r.append(_contiguous_strides(shape)[k])
        r = _OVERLAP[key] = tuple(r)
    return r


def _contiguous_strides(shape):
    out, acc = [], 1
    for n in reversed(shape):
        out.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(out))


def _viewable(old, stride, new):
    """Can sizes `old` with `stride` be seen as `new` without copying (torch's rule)?

    Walk the old dims from the last, grouping runs that are contiguous with each other;
    each group must be covered exactly by a run of new dims.
    """
    if not old or math.prod(old) == 0:
        return True
    vd, base = len(new) - 1, stride[-1]
    tn = vn = 1
    for td in range(len(old) - 1, -1, -1):
        tn *= old[td]
        if td == 0 or (old[td - 1] != 1 and stride[td - 1] != tn * base):
            while vd >= 0 and (vn < tn or new[vd] == 1):
                vn *= new[vd]
                vd -= 1
            if vn != tn:
                return False
            if td > 0:
                base, tn, vn = stride[td - 1], 1, 1
    return vd == -1


def _is_viewable(t, shape):
    return not t._chain or _viewable(tuple(t.shape), _strides(t), shape)


@function("reshape")
@method("reshape")
def reshape_fn(input, *shape):
    from .dispatch import _varargs
    shape = _varargs(shape)
    if input._chain:
        new = _infer_size(tuple(shape), input.numel())
        if not _is_viewable(input, new):
            return _call(_reshape_copy, (input,), (tuple(shape),))
    return _call(reshape, (input,), (shape,))


@method("view_as")
def view_as(self, other):
    return _call(_view, (self,), (tuple(other.shape),))


@method("reshape_as")
def reshape_as(self, other):
    return reshape_fn(self, tuple(other.shape))


@function("flatten", method=True)
def flatten(input, start_dim=0, end_dim=-1):
    """A reshape: a view when torch's would be one, else a copy."""
    shape = jax.eval_shape(lambda a: _flatten.fwd(a, start_dim, end_dim),
                           jax.ShapeDtypeStruct(tuple(input.shape), jnp.float32)).shape
    if len(shape) == input.ndim and input.ndim:
        return _call(_flatten, (input,), (start_dim, end_dim))
    return reshape_fn(input, shape) if input._chain else _call(_flatten, (input,),
                                                               (start_dim, end_dim))


@view_op("_flatten(Tensor input, int start_dim=0, int end_dim=-1) -> Tensor", copy=False,
         node_name="ViewBackward0", grad=_reshape_grad, function=False, method=False)
def _flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        _wrap(start_dim, 0), _wrap(end_dim, 0)
        return x.reshape(1)
    s, e = _wrap(start_dim, x.ndim), _wrap(end_dim, x.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    return x.reshape(x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


@view_op("unflatten(Tensor input, int dim, SymInt[] sizes) -> Tensor", copy=False,
         node_name="ViewBackward0", grad=_reshape_grad)
def unflatten(x, dim, sizes):
    d = _wrap(dim, x.ndim)
    sizes = tuple(sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = x.shape[d]
    if -1 in sizes:
        new = _infer_size(sizes, n) if sizes.count(-1) == 1 and \
            math.prod(s for s in sizes if s != -1) and n % math.prod(
                s for s in sizes if s != -1) == 0 else None
        if new is None:
            raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to "
                               f"the size of dim {dim} ({n}) in the input tensor")
    elif math.prod(sizes) != n:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor")
    else:
        new = sizes
    return x.reshape(x.shape[:d] + new + x.shape[d + 1:])


@method("ravel")
@function("ravel")
def ravel(input):
    return reshape_fn(input, -1)


@view_op("squeeze(Tensor input, int[]? dim=None) -> Tensor", grad=_reshape_grad)
def squeeze(x, dim=None):
    if dim is None:
        return x.reshape(tuple(s for s in x.shape if s != 1))
    dims = set(_dims(dim, x.ndim)) if x.ndim else (_dims(dim, 0) and set())
    return x.reshape(tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1)))


@view_op("unsqueeze(Tensor input, int dim) -> Tensor", grad=_reshape_grad)
def unsqueeze(x, dim):
    d = _wrap(dim, x.ndim + 1)
    return jnp.expand_dims(x, d)


def _permute_grad(g, out, x, dims):
    return (jnp.transpose(g, np.argsort(_dims(dims, x.ndim))) if x.ndim else g,)


@view_op("permute(Tensor input, *int[] dims) -> Tensor", grad=_permute_grad)
def permute(x, dims):
    dims = tuple(dims)
    if len(dims) != x.ndim:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the "
            "length of the desired ordering of dimensions i.e. input.dim() = "
            f"{x.ndim} is not equal to len(dims) = {len(dims)}")
    dd = _dims(dims, x.ndim)
    if len(set(dd)) != len(dd):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return jnp.transpose(x, dd) if x.ndim else x


@view_op("transpose(Tensor input, int dim0, int dim1) -> Tensor", aliases=("swapaxes",
         "swapdims"),
         grad=lambda g, out, x, dim0, dim1: (jnp.swapaxes(g, dim0, dim1) if x.ndim else g,))
def transpose(x, dim0, dim1):
    if x.ndim == 0:
        _wrap(dim0, 0), _wrap(dim1, 0)
        return x
    return jnp.swapaxes(x, _wrap(dim0, x.ndim), _wrap(dim1, x.ndim))


@view_op("t(Tensor input) -> Tensor", grad=lambda g, out, x: (g.T,))
def t(x):
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return x.T


@view_op("_mT(Tensor input) -> Tensor", copy=False, method=False, function=False,
         node_name="TransposeBackward0", grad=lambda g, out, x: (jnp.swapaxes(g, -1, -2),))
def _mT(x):
    return jnp.swapaxes(x, -1, -2)


@op("_adjoint_copy(Tensor input) -> Tensor", dtype="none", method=False, function=False,
    saves=(), grad=lambda g, out, x: (jnp.conj(jnp.swapaxes(g, -1, -2)),))
def _adjoint_copy(x):
    return jnp.conj(jnp.swapaxes(x, -1, -2))


def _T(self):
    return _call(permute, (self,), (tuple(range(self.ndim - 1, -1, -1)),))


def _check_mT(self, name):
    if self.ndim < 2:
        raise RuntimeError(f"tensor.{name} is only supported on matrices or batches of "
                           f"matrices. Got {self.ndim}-D tensor.")


def _mTp(self):
    _check_mT(self, "mT")
    return _call(_mT, (self,), ())


def _mH(self, name="mH"):
    _check_mT(self, name)
    if self.dtype.is_complex:  # torch: a conj view; here a copy (no conj bit)
        return _call(_adjoint_copy, (self,), ())
    return _call(_mT, (self,), ())


def _H(self):
    if self.ndim not in (0, 2):
        extra = " For batches of matrices, consider using tensor.mH" if self.ndim > 2 else ""
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                           f"{self.ndim}-D tensor.{extra}")
    if self.ndim == 0:
        return _call(OPS["alias"], (self,), ()) if not self.dtype.is_complex else \
            _call(OPS["_conj_copy0"], (self,), ())
    return _mH(self, "H")


@op("_conj_copy0(Tensor input) -> Tensor", dtype="none", method=False, function=False,
    saves=(), grad=lambda g, out, x: (jnp.conj(g),))
def _conj_copy0(x):
    return jnp.conj(x)


@method("adjoint")
@function("adjoint")
def adjoint(input):
    return _mH(input)


def _install_properties():
    from .._tensor import Tensor
    Tensor.T = property(_T)
    Tensor.mT = property(_mTp)
    Tensor.H = property(_H)
    Tensor.mH = property(_mH)


@view_op("alias(Tensor input) -> Tensor", method=False, grad=lambda g, out, x: (g,))
def alias(x):
    return x


@view_op("movedim(Tensor input, int[1] source, int[1] destination) -> Tensor", copy=False,
         aliases=("moveaxis",))
def movedim(x, source, destination):
    src, dst = _dims(source, x.ndim), _dims(destination, x.ndim)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    if len(set(src)) != len(src):
        raise RuntimeError(f"movedim: repeated dim in `source` ({list(source)})")
    if len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({list(destination)})")
    return jnp.moveaxis(x, src, dst) if x.ndim else x


# ------------------------------------------------------------------------------ expand

def _expand_shape(shape, size):
    size = tuple(size)
    if len(size) < len(shape):
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(shape)}}}, size={list(size)}): "
                           f"the number of sizes provided ({len(size)}) must be greater or "
                           f"equal to the number of dimensions in the tensor ({len(shape)})")
    lead = len(size) - len(shape)
    out = []
    for i, s in enumerate(size):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a "
                                   "leading, non-existing dimension " + str(i))
            out.append(s)
            continue
        cur = shape[i - lead]
        if s == -1:
            out.append(cur)
        elif cur != s and cur != 1:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing "
                               f"size ({cur}) at non-singleton dimension {i}.  Target sizes: "
                               f"{list(size)}.  Tensor sizes: {list(shape)}")
        else:
            out.append(s)
    return tuple(out)


def _sum_to(g, shape):
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


@view_op("expand(Tensor self, *SymInt[] size, bool implicit=False) -> Tensor", function=False,
         grad=lambda g, out, x, size, implicit=False: (_sum_to(g, x.shape),))
def expand(x, size, implicit=False):
    return jnp.broadcast_to(x, _expand_shape(x.shape, size))


@method("expand_as")
def expand_as(self, other):
    return _call(expand, (self,), (tuple(other.shape), False))


@function("broadcast_to")
@method("broadcast_to")
def broadcast_to(input, size):
    return _call(expand, (input,), (tuple(size), False))


def broadcast_shapes(*shapes):
    """torch.broadcast_shapes: the broadcast of int/sequence shapes, without tensors."""
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for k, s in enumerate(shapes):
        for i, n in enumerate(s):
            j = ndim - len(s) + i
            if n < 0:
                raise RuntimeError("Trying to create tensor with negative dimension "
                                   f"{n}: {list(s)}")
            if out[j] == 1:
                out[j] = n
            elif n != 1 and n != out[j]:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {n} at {j - ndim}! "
                    f"Mismatching argument at index {k} had {tuple(s)}; but expected shape "
                    f"should be broadcastable to {out}")
    from .._tensor import Size
    return Size(out)


function("broadcast_shapes")(broadcast_shapes)


@function("broadcast_tensors")
def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = tuple(broadcast_shapes(*[t.shape for t in tensors]))
    return tuple(_call(expand, (t,), (shape, False)) for t in tensors)


# ------------------------------------------------------------------------------ slicing views

def _narrow_grad(g, out, x, dim, start, length):
    d = _wrap(dim, x.ndim)
    s = start + x.shape[d] if start < 0 else start
    pad = [(0, 0)] * x.ndim
    pad[d] = (s, x.shape[d] - s - length)
    return (jnp.pad(g, pad),)


@view_op("narrow(Tensor input, int dim, SymInt start, SymInt length) -> Tensor",
         grad=_narrow_grad, copy=False)
def narrow(x, dim, start, length):
    if x.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _wrap(dim, x.ndim)
    n = x.shape[d]
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    s = start + n if start < 0 else start
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if s + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return jax.lax.slice_in_dim(x, s, s + length, axis=d)


def _select_grad(g, out, x, dim, index):
    d = _wrap(dim, x.ndim)
    return (jnp.zeros(x.shape, g.dtype).at[(slice(None),) * d + (index,)].set(g),)


@view_op("select(Tensor input, int dim, SymInt index) -> Tensor", grad=_select_grad)
def select(x, dim, index):
    if x.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _wrap(dim, x.ndim)
    n = x.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(x.shape)} at dimension {dim}")
    return jax.lax.index_in_dim(x, index % n, axis=d, keepdims=False)


@view_op("unbind(Tensor input, int dim=0) -> Tensor[]",
         grad=lambda g, out, x, dim: (jnp.stack(g if isinstance(g, (tuple, list)) else (g,),
                                                _wrap(dim, x.ndim)),))
def unbind(x, dim=0):
    if x.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = _wrap(dim, x.ndim)
    return tuple(jax.lax.index_in_dim(x, i, axis=d, keepdims=False) for i in range(x.shape[d]))


def _split_grad(g, out, x, dim, **kw):
    g = g if isinstance(g, (tuple, list)) else (g,)  # one output arrives unwrapped
    return (jnp.concatenate(g, _wrap(dim, x.ndim)),)


def _split_by_sizes(x, sizes, d):
    out, s = [], 0
    for n in sizes:
        out.append(jax.lax.slice_in_dim(x, s, s + n, axis=d))
        s += n
    return tuple(out)


def _split_sizes(n, split_size):
    if split_size < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size="
                           f"{split_size}")
    if split_size == 0:
        if n:
            raise RuntimeError("split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        return (0,)
    k = max(-(-n // split_size), 1)
    return tuple(split_size if i < k - 1 else n - split_size * (k - 1) for i in range(k))


@view_op("split(Tensor tensor, SymInt[1] split_size_or_sections, int dim=0) -> Tensor[]",
         grad=_split_grad, aliases=("unsafe_split",))
def split(x, split_size_or_sections, dim=0):
    if x.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = _wrap(dim, x.ndim)
    if isinstance(split_size_or_sections, int):
        return _split_by_sizes(x, _split_sizes(x.shape[d], split_size_or_sections), d)
    return split_with_sizes.fwd(x, split_size_or_sections, dim)


@view_op("split_with_sizes(Tensor input, SymInt[] split_sizes, int dim=0) -> Tensor[]",
         grad=_split_grad, aliases=("unsafe_split_with_sizes",))
def split_with_sizes(x, split_sizes, dim=0):
    d = _wrap(dim, x.ndim)
    sizes = tuple(split_sizes)
    if builtins.sum(sizes) != x.shape[d] or builtins.min(sizes, default=0) < 0:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to "
                           f"{x.shape[d]} (input tensor's size at dimension {dim}), but got "
                           f"split_sizes={list(sizes)}")
    return _split_by_sizes(x, sizes, d)


@view_op("chunk(Tensor input, int chunks, int dim=0) -> Tensor[]", copy=False,
         grad=_split_grad, aliases=("unsafe_chunk",))
def chunk(x, chunks, dim=0):
    if x.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _wrap(dim, x.ndim)
    n = x.shape[d]
    size = -(-n // chunks)
    if n == 0:
        return _split_by_sizes(x, (0,) * chunks, d)
    return _split_by_sizes(x, _split_sizes(n, size), d)


def _tensor_split_bounds(n, spec):
    if isinstance(spec, int):
        if spec <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {spec}")
        q, r = divmod(n, spec)
        bounds, s = [], 0
        for i in range(spec):
            e = s + q + (1 if i < r else 0)
            bounds.append((s, e))
            s = e
        return bounds
    bounds, s = [], 0
    for i in tuple(spec) + (n,):
        e = max(min(i if i >= 0 else i + n, n), 0)
        bounds.append((s, max(e, s)))
        s = max(e, s)
    return bounds


@view_op("tensor_split(Tensor input, SymInt[1] indices_or_sections, int dim=0) -> Tensor[]",
         copy=False, grad=_split_grad, function=False, method=False)
def _tensor_split(x, indices_or_sections, dim=0):
    if x.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = _wrap(dim, x.ndim)
    return tuple(jax.lax.slice_in_dim(x, s, e, axis=d)
                 for s, e in _tensor_split_bounds(x.shape[d], indices_or_sections))


@function("tensor_split", method=True)
def tensor_split(input, indices_or_sections=None, dim=0, *, sections=None, indices=None,
                 tensor_indices_or_sections=None):
    from .._tensor import Tensor
    spec = next(v for v in (indices_or_sections, sections, indices, tensor_indices_or_sections)
                if v is not None)
    if isinstance(spec, Tensor):
        if spec.dtype._category != 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to have "
                               f"integer dtype, but got {spec.dtype}")
        if spec.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a "
                               "zero-dimensional or one-dimensional tensor, but got a tensor "
                               f"with {spec.ndim} dims")
        spec = spec.tolist()
    return _call(_tensor_split, (input,), (spec, dim))


def _dsplit_like(name, dim, min_dim):
    def f(input, indices_or_sections):
        if input.ndim < min_dim:
            raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dim} "
                               f"dimension, but got a tensor with {input.ndim} dimensions!")
        d = 0 if (name == "hsplit" and input.ndim == 1) else dim
        if isinstance(indices_or_sections, int):
            n = input.shape[d]
            if indices_or_sections == 0 or n % indices_or_sections:
                raise RuntimeError(
                    f"torch.{name} attempted to split along dimension {d}, but the size of the "
                    f"dimension {n} is not divisible by the split_size {indices_or_sections}!")
        return tensor_split(input, indices_or_sections, d)
    f.__name__ = name
    function(name, method=True)(f)


_dsplit_like("hsplit", 1, 1)
_dsplit_like("vsplit", 0, 2)
_dsplit_like("dsplit", 2, 3)


@view_op("diagonal(Tensor input, int offset=0, int dim1=0, int dim2=1) -> Tensor")
def diagonal(x, offset=0, dim1=0, dim2=1):
    a, b = _wrap(dim1, x.ndim), _wrap(dim2, x.ndim)
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return jnp.diagonal(x, offset, a, b)


@view_op("unfold(Tensor input, int dimension, int size, int step) -> Tensor", function=False)
def unfold(x, dimension, size, step):
    if x.ndim == 0:
        _wrap(dimension, 0)
        if size > 1:
            raise RuntimeError(f"maximum size for tensor at dimension 0 is 1 but size is {size}")
        return x.reshape(1)
    d = _wrap(dimension, x.ndim)
    n = x.shape[d]
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    count = (n - size) // step + 1
    idx = np.arange(count)[:, None] * step + np.arange(size)[None, :]
    return jnp.moveaxis(jnp.take(x, idx, axis=d), d + 1, -1)


@view_op("as_strided(Tensor input, SymInt[] size, SymInt[] stride, SymInt? storage_offset=None)"
         " -> Tensor")
def as_strided(x, size, stride, storage_offset=None):
    """Index math on the input's contiguous (row-major) layout."""
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape")
    off = storage_offset or 0
    idx = np.full(size, off, dtype=np.int64)
    for i, (n, s) in enumerate(zip(size, stride)):
        if s < 0:
            raise RuntimeError("as_strided: Negative strides are not supported at the moment, "
                               f"got strides: {list(stride)}")
        shp = [1] * len(size)
        shp[i] = n
        idx = idx + (np.arange(n) * s).reshape(shp)
    if idx.size and idx.max() >= x.size:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {off}, and itemsize {x.dtype.itemsize} requiring a storage "
                           f"size of {(idx.max() + 1) * x.dtype.itemsize} are out of bounds "
                           f"for storage of size {x.size * x.dtype.itemsize}")
    return x.reshape(-1)[idx]


op("narrow_copy(Tensor input, int dim, SymInt start, SymInt length) -> Tensor", dtype="none",
   out=True, saves=(), grad=_narrow_grad, node_name="NarrowBackward0")(narrow.fwd)


# ------------------------------------------------------------------------------ joining

def _cat_check(xs, dim):
    if not xs:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    live = [(i, x) for i, x in enumerate(xs) if not (x.ndim == 1 and x.shape[0] == 0)]
    for i, x in enumerate(xs):
        if x.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               "concatenated")
    if not live:
        return None, live
    ref_i, ref = live[0]
    d = _wrap(dim, ref.ndim)
    for i, x in live[1:]:
        if x.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} "
                               f"and {x.ndim}")
        for k in range(ref.ndim):
            if k != d and x.shape[k] != ref.shape[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                                   f"Expected size {ref.shape[k]} but got size {x.shape[k]} for "
                                   f"tensor number {i} in the list.")
    return d, live


def _cat_grad(g, out, xs, dim):
    d, live = _cat_check(xs, dim)
    grads, s = [None] * len(xs), 0
    for i, x in live:
        grads[i] = jax.lax.slice_in_dim(g, s, s + x.shape[d], axis=d)
        s += x.shape[d]
    return ([gr if gr is not None else jnp.zeros(x.shape, g.dtype)
             for gr, x in zip(grads, xs)],)


@op("cat(Tensor[] tensors, int dim=0) -> Tensor", broadcast=False, out=True,
    aliases=("concat",), saves=(), grad=_cat_grad, method=False)
def cat(xs, dim=0):
    d, live = _cat_check(xs, dim)
    if d is None:
        return xs[0]
    return jnp.concatenate([x for _, x in live], axis=d)


@function("concatenate")
def concatenate(tensors, axis=0, *, dim=None, out=None):
    return FUNCS_CAT(tensors, axis if dim is None else dim, out=out)


def _stack_check(xs, dim):
    if not xs:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, x in enumerate(xs[1:], 1):
        if x.shape != xs[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(xs[0].shape)} at entry 0 and {list(x.shape)} at entry "
                               f"{i}")
    return _wrap(dim, xs[0].ndim + 1)


@op("stack(Tensor[] tensors, int dim=0) -> Tensor", broadcast=False, out=True, method=False,
    saves=(), grad=lambda g, out, xs, dim: (list(jnp.unstack(g, axis=_stack_check(xs, dim))),))
def stack(xs, dim=0):
    return jnp.stack(xs, axis=_stack_check(xs, dim))


def _seq(tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return list(tensors[0])
    return list(tensors)


def _atleast(n):
    def one(t):
        if t.ndim >= n:
            return t
        shape = {(1, 0): (1,), (2, 0): (1, 1), (2, 1): (1, -1), (3, 0): (1, 1, 1),
                 (3, 1): (1, -1, 1), (3, 2): tuple(t.shape) + (1,)}[(n, t.ndim)]
        return _call(reshape, (t,), (shape,))

    def f(*tensors):
        from .._tensor import Tensor
        if len(tensors) == 1 and isinstance(tensors[0], Tensor):
            return one(tensors[0])
        return tuple(one(t) for t in _seq(tensors))
    f.__name__ = f"atleast_{n}d"
    function(f.__name__)(f)
    return f


atleast_1d, atleast_2d, atleast_3d = _atleast(1), _atleast(2), _atleast(3)


def _cat_out(ts, dim, out):
    return FUNCS_CAT(ts, dim, out=out)


@function("hstack")
def hstack(tensors, *, out=None):
    ts = atleast_1d(*tensors) if len(tensors) else ()
    ts = (ts,) if not isinstance(ts, tuple) else ts
    return _cat_out(ts, 0 if ts and ts[0].ndim == 1 else 1, out)


@function("vstack", aliases=("row_stack",))
def vstack(tensors, *, out=None):
    ts = atleast_2d(*tensors) if len(tensors) else ()
    ts = (ts,) if not isinstance(ts, tuple) else ts
    return _cat_out(ts, 0, out)


@function("dstack")
def dstack(tensors, *, out=None):
    ts = atleast_3d(*tensors) if len(tensors) else ()
    ts = (ts,) if not isinstance(ts, tuple) else ts
    return _cat_out(ts, 2, out)


@function("column_stack")
def column_stack(tensors, *, out=None):
    ts = [(_call(reshape, (t,), ((t.numel(), 1),)) if t.ndim <= 1 else t) for t in tensors]
    return _cat_out(ts, 1, out)


# ------------------------------------------------------------------------------ rearranging

@function("flip", method=True)
def flip_fn(input, *dims, out=None, **kw):
    """torch.flip(x, dims) and x.flip(*dims) / x.flip(dims=...)."""
    if "dims" in kw:
        dims = kw.pop("dims")
    if kw:
        raise TypeError(f"flip() got an unexpected keyword argument '{next(iter(kw))}'")
    from .dispatch import _call as call, _varargs
    return call(flip, (input,), (_varargs(tuple(dims)) if isinstance(dims, tuple) else dims,),
                out)


@op("flip(Tensor input, int[] dims) -> Tensor", dtype="none", function=False, method=False,
    saves=(),
    grad=lambda g, out, x, dims: (jnp.flip(g, _dims(dims, x.ndim)) if x.ndim else g,))
def flip(x, dims):
    dd = _dims(dims, x.ndim)
    if len(set(dd)) != len(dd):
        raise RuntimeError(f"dims has duplicates, original dims: {list(dims)}")
    return jnp.flip(x, dd) if x.ndim and dd else x + 0


@function("fliplr", method=True)
def fliplr(input):
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return _call(flip, (input,), ((1,),))


@function("flipud", method=True)
def flipud(input):
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return _call(flip, (input,), ((0,),))


@op("roll(Tensor input, SymInt[1] shifts, int[1] dims=[]) -> Tensor", dtype="none", saves=(),
    grad=lambda g, out, x, shifts, dims: (roll.fwd(g, _neg(shifts), dims),))
def roll(x, shifts, dims=()):
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if not dims:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                               "dims:0")
        return jnp.roll(x.reshape(-1), shifts[0]).reshape(x.shape)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                           f"{len(dims)}")
    return jnp.roll(x, shifts, _dims(dims, x.ndim))


def _neg(s):
    return -s if isinstance(s, int) else tuple(-v for v in s)


@op("rot90(Tensor input, int k=1, int[] dims=[0,1]) -> Tensor", dtype="none", saves=(),
    grad=lambda g, out, x, k, dims: (rot90.fwd(g, -k, dims),))
def rot90(x, k=1, dims=(0, 1)):
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if x.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {x.ndim}")
    a, b = _wrap(dims[0], x.ndim), _wrap(dims[1], x.ndim)
    if a == b:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {a} and "
                           f"dim1 = {b}")
    return jnp.rot90(x, k, (a, b))


def _repeat_grad(g, out, x, repeats):
    reps = tuple(repeats)
    lead = len(reps) - x.ndim
    shape = (1,) * lead + tuple(x.shape)
    inter = []
    for r, s in zip(reps, shape):
        inter += [r, s]
    g = g.reshape(inter).sum(axis=tuple(range(0, 2 * len(reps), 2)))
    return (g.reshape(x.shape),)


@op("repeat(Tensor self, *SymInt[] repeats) -> Tensor", dtype="none", function=False,
    saves=(), grad=_repeat_grad)
def repeat(x, repeats):
    reps = tuple(repeats)
    if len(reps) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    if any(r < 0 for r in reps):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(reps)}: "
                           f"{list(reps)}")
    x = x.reshape((1,) * (len(reps) - x.ndim) + x.shape)
    return jnp.tile(x, reps)


@function("tile", method=True)
def tile(input, dims, *more):
    dims = (dims,) + more if isinstance(dims, int) else tuple(dims)
    dims = (1,) * (input.ndim - len(dims)) + dims
    return _call(repeat, (input,), (dims,))


@op("_repeat_interleave(Tensor input, Tensor repeats, int? dim=None, *, "
    "SymInt? output_size=None) -> Tensor", dtype="none", method=False, function=False,
    differentiable=("input",))
def _repeat_interleave(x, repeats, dim=None, output_size=None):
    if dim is None:
        x, d = x.reshape(-1), 0
    else:
        d = _wrap(dim, x.ndim)
    repeats = repeats.reshape(-1)
    if repeats.shape[0] == 1:
        repeats = jnp.broadcast_to(repeats, (x.shape[d],))
    return jnp.repeat(x, repeats, axis=d, total_repeat_length=output_size)


@function("repeat_interleave", method=True)
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    from .._tensor import Tensor
    from .._creation import tensor
    if repeats is None:  # repeat_interleave(repeats): arange(n) repeated
        reps = input
        if reps.ndim > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        from .._tensor import wrap
        base = wrap(jnp.arange(reps.shape[0], dtype=jnp.int64))
        return repeat_interleave(base, reps, 0, output_size=output_size)
    if not isinstance(repeats, Tensor):
        repeats = tensor(repeats, dtype=D.int64)
    if repeats.ndim > 1:
        raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
    n = input.numel() if dim is None else input.shape[_wrap(dim, input.ndim)]
    if repeats.numel() != 1 and repeats.numel() != n:
        raise RuntimeError("repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {repeats.numel()} and input.size(0) = {n}")
    if output_size is None:
        r = np.asarray(repeats._value)
        if (r < 0).any():
            raise RuntimeError("repeats can not be negative")
        output_size = int(r.sum()) * (n if r.size == 1 else 1)
    return _call(_repeat_interleave, (input, repeats), (dim, output_size))


def _tri(fn):
    def f(x, diagonal=0):
        if x.ndim < 2:
            raise RuntimeError(f"{fn.__name__}: input tensor must have at least 2 dimensions")
        return fn(x, diagonal)
    return f


op("tril(Tensor input, int diagonal=0) -> Tensor", dtype="none", inplace=True, out=True,
   saves=(), grad=lambda g, out, x, diagonal: (jnp.tril(g, diagonal),))(_tri(jnp.tril))
op("triu(Tensor input, int diagonal=0) -> Tensor", dtype="none", inplace=True, out=True,
   saves=(), grad=lambda g, out, x, diagonal: (jnp.triu(g, diagonal),))(_tri(jnp.triu))


@op("diag(Tensor input, int diagonal=0) -> Tensor", dtype="none", out=True)
def diag(x, diagonal=0):
    if x.ndim not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D")
    return jnp.diag(x, diagonal)


@op("diag_embed(Tensor input, int offset=0, int dim1=-2, int dim2=-1) -> Tensor", dtype="none",
    out=True)
def diag_embed(x, offset=0, dim1=-2, dim2=-1):
    nd = x.ndim + 1
    a, b = _wrap(dim1, nd), _wrap(dim2, nd)
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = x.shape[-1] + abs(offset) if x.ndim else 1 + abs(offset)
    x = x.reshape(x.shape or (1,))
    m = jnp.zeros(x.shape[:-1] + (n, n), x.dtype)
    i = np.arange(x.shape[-1])
    r, c = (i, i + offset) if offset >= 0 else (i - offset, i)
    m = m.at[..., r, c].set(x)
    # m has the two new dims last; move them to (a, b)
    rest = [k for k in range(nd) if k not in (a, b)]
    perm = [0] * nd
    for src, dst in enumerate(rest + [a, b]):
        perm[dst] = src
    return jnp.transpose(m, perm)


@op("diagflat(Tensor input, int offset=0) -> Tensor", dtype="none")
def diagflat(x, offset=0):
    return jnp.diagflat(x, offset)


@op("_block_diag(Tensor[] tensors) -> Tensor", broadcast=False, method=False, function=False)
def _block_diag(xs):
    mats = []
    for i, x in enumerate(xs):
        if x.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {x.ndim} dimensions")
        mats.append(x.reshape((1, 1) if x.ndim == 0 else (1, -1) if x.ndim == 1 else x.shape))
    rows = builtins.sum(m.shape[0] for m in mats)
    cols = builtins.sum(m.shape[1] for m in mats)
    dt = mats[0].dtype if mats else jnp.float32
    out = jnp.zeros((rows, cols), dt)
    r = c = 0
    for m in mats:
        out = out.at[r:r + m.shape[0], c:c + m.shape[1]].set(m)
        r, c = r + m.shape[0], c + m.shape[1]
    return out


@function("block_diag")
def block_diag(*tensors):
    if not tensors:
        from .._tensor import wrap
        return wrap(jnp.zeros((1, 0), D.get_default_dtype().np))
    return _call(_block_diag, (list(tensors),), ())


@function("meshgrid")
def meshgrid(*tensors, indexing=None):
    ts = _seq(tensors)
    if not ts:
        raise RuntimeError("torch.meshgrid expects a non-empty TensorList")
    indexing = indexing or "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                         f"received: {indexing}")
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list "
                               f"but got: {t}")
        if t.dtype is not ts[0].dtype:
            raise RuntimeError("torch.meshgrid: Expected all tensors in the tensor list to have "
                               "the same dtype")
    swap = indexing == "xy" and len(ts) >= 2
    order = list(ts)
    if swap:
        order[0], order[1] = order[1], order[0]
    shape = tuple(t.numel() for t in order)
    outs = []
    for i, t in enumerate(order):
        s = [1] * len(order)
        s[i] = -1
        v = _call(reshape, (t,), (tuple(s),))
        outs.append(_call(expand, (v,), (shape, False)))
    if swap:
        outs[0], outs[1] = outs[1], outs[0]
    return tuple(outs)


@function("cartesian_prod")
def cartesian_prod(*tensors):
    ts = _seq(tensors)
    for t in ts:
        if t.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return FUNCS_STACK([_call(reshape, (g,), ((-1,),)) for g in grids], 1)


@function("combinations")
def combinations(input, r=2, with_replacement=False):
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        from .._tensor import wrap
        return wrap(jnp.zeros((0,), input._value.dtype))
    gen = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    idx = np.array(list(gen(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    from .._tensor import wrap
    from .indexing import _INDEX
    return _call(_INDEX, (input, [wrap(jnp.asarray(idx))]), ())


@op("constant_pad_nd(Tensor input, SymInt[] pad, Scalar value=0) -> Tensor", dtype="none")
def constant_pad_nd(x, pad, value=0):
    pad = tuple(pad)
    if len(pad) % 2:
        raise RuntimeError("Length of pad must be even but instead it equals " + str(len(pad)))
    if len(pad) // 2 > x.ndim:
        raise RuntimeError(f"Length of pad should be no more than twice the number of "
                           f"dimensions of the input. Pad length is {len(pad)} while the input "
                           f"has {x.ndim} dimensions.")
    cfg = [(0, 0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        cfg[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1], 0)
    for k, (lo, hi, _) in enumerate(cfg):
        if x.shape[k] + lo + hi < 0:
            raise RuntimeError(f"The input size {x.shape[k]}, plus negative padding {lo} and "
                               f"{hi} resulted in a negative output size, which is invalid. "
                               f"Check dimension {k} of your input.")
    return jax.lax.pad(x, jnp.asarray(value, x.dtype), cfg)


@op("sum_to_size(Tensor self, *SymInt[] size) -> Tensor", dtype="none", function=False,
    saves=(), grad=lambda g, out, x, size: (jnp.broadcast_to(g, x.shape),))
def sum_to_size(x, size):
    size = tuple(size)
    try:
        if jnp.broadcast_shapes(size, x.shape) != x.shape:
            raise ValueError
    except ValueError:
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size "
                           f"{{{list(x.shape)}}}.") from None
    return _sum_to(x, size)


@op("unravel_index(Tensor indices, int[] shape) -> Tensor[]", dtype="none",
    method=False)
def _unravel_index(idx, shape):
    if jnp.issubdtype(idx.dtype, jnp.floating) or idx.dtype == jnp.bool_:
        raise TypeError("expected 'indices' to be integer dtype, but got "
                        f"{D.from_np(idx.dtype)}")
    out, rem = [], idx.astype(jnp.int64)
    for s in reversed(tuple(shape)):
        out.append(rem % s)
        rem = rem // s
    return tuple(reversed(out))


@function("unravel_index")
def unravel_index(indices, shape):
    from .._tensor import Tensor
    from .._creation import tensor
    if not isinstance(indices, Tensor):
        indices = tensor(indices)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(s < 0 for s in shape):
        raise RuntimeError("'shape' cannot have negative values, but got "
                           f"{tuple(shape)}")
    n = math.prod(shape)
    iv = np.asarray(indices._value)
    if iv.dtype.kind in "iu" and iv.size and ((iv < -n).any() or (iv >= n).any()):
        raise RuntimeError(f"index {int(iv.max()) if (iv >= n).any() else int(iv.min())} is "
                           f"out of bounds for shape {list(shape)}" if False else
                           "'indices' must be in range [-shape.prod(), shape.prod())")
    return tuple(_call(_unravel_index, (indices,), (shape,)))


@op("view_as_real(Tensor input) -> Tensor", dtype="none", saves=(),
    grad=lambda g, out, x: (jax.lax.complex(g[..., 0], g[..., 1]),))
def view_as_real(x):
    """torch returns a view; jtorch returns a copy (a dtype-changing view is no gather)."""
    if not jnp.issubdtype(x.dtype, jnp.complexfloating):
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return jnp.stack([x.real, x.imag], axis=-1)


@op("view_as_complex(Tensor input) -> Tensor", dtype="none", saves=(),
    grad=lambda g, out, x: (jnp.stack([g.real, g.imag], -1),))
def view_as_complex(x):
    """A copy, as view_as_real (see there)."""
    if x.dtype not in (jnp.float32, jnp.float64, jnp.float16):
        raise RuntimeError("view_as_complex is only supported for float and double tensors, "
                           f"but got a tensor of scalar type: {D.type_name(D.from_np(x.dtype))}")
    if x.ndim == 0 or x.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    return jax.lax.complex(x[..., 0], x[..., 1])


from .registry import FUNCTIONS as _F  # noqa: E402

FUNCS_CAT = _F["cat"]
FUNCS_STACK = _F["stack"]
_install_properties()


# ------------------------------------------------------------------------------ overlap check

_OVERLAP: dict = {}


def _has_overlap(chain, base_shape):
    """Does a view's index map name some base element twice (an expanded view)?"""
    key = (chain, base_shape)
    r = _OVERLAP.get(key)
    if r is None:
        from .dispatch import scatter_fn
        _, idx = scatter_fn(chain, base_shape)
        r = _OVERLAP[key] = bool(np.unique(idx).size != idx.size)
    return r
