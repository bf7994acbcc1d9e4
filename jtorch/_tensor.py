"""The Tensor facade: a jax.Array plus torch's autograd and storage metadata.

Arrays are immutable, so mutation is modelled with a shared `_Storage` cell: a
root tensor's value is `storage.arr`; a view remembers the chain of view ops that
produced it and recomputes itself when the storage generation moves. Writing to a
view scatters into the storage, so base and views see each other's changes.
Methods are generated from the op registry and attached in `jtorch/__init__`.
"""
from __future__ import annotations

import builtins

import jax
import jax.numpy as jnp
import numpy as np

from . import _device
from . import _dtype as D
from ._lazy import LazyArray
from .autograd import grad_mode
from .autograd.graph import AccumulateGrad, Node

_STATE = grad_mode.STATE
_BY_NP = D._BY_NP
# Set by jtorch.compile while it traces a function: told about every `.grad` access and
# every in-place storage write, so the trace knows what state it read and wrote.
_TRACK = None


class _Storage:
    __slots__ = ("_v", "gen", "grad_gen", "__weakref__")

    def __init__(self, arr):
        self._v = arr       # a jax array, or a pending op's LazyArray (see _lazy)
        self.gen = 0        # bumped on every write
        self.grad_gen = -1  # generation of the last write recorded by autograd

    @property
    def arr(self):
        v = self._v
        if type(v) is LazyArray:
            v = self._v = v.get()
        return v

    @arr.setter
    def arr(self, v):
        self._v = v


class Size(tuple):
    """torch.Size: a tuple of ints that prints as torch.Size([...])."""

    def __repr__(self):
        return f"torch.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))


class Tensor:
    __slots__ = ("_st", "_chain", "_arr", "_seen", "_rg", "grad_fn", "_output_nr", "_grad",
                 "_vc", "_acc", "_base_t", "_retains", "_names", "__dict__", "__weakref__")

    __array_priority__ = 1000  # numpy defers to our reflected operators

    def __new__(cls, *args, **kwargs):
        from ._creation import legacy_tensor_new
        return legacy_tensor_new(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        pass

    # ---------------------------------------------------------------- storage / value
    @property
    def _value(self):
        if self._chain:
            if self._seen != self._st.gen:
                self._refresh()
            a = self._arr
            if type(a) is LazyArray:
                a = self._arr = a.get()
            return a
        return self._st.arr

    @property
    def _raw(self):
        """The value, or its pending stand-in (shape and dtype, no computation forced)."""
        if self._chain:
            if self._seen != self._st.gen:
                return self._value
            return self._arr
        return self._st._v

    def _refresh(self):
        from ._ops.dispatch import chain_fn
        st = self._st
        self._arr = chain_fn(self._chain)(st.arr)
        stale_grad = st.grad_gen > self._seen
        self._seen = st.gen
        if stale_grad and self._base_t is not None and self._base_t._rg \
                and self._base_t is not self:
            self._regraph_from_base()

    def _regraph_from_base(self):
        """After the base changed in-place under autograd, this view's history is
        view_chain(base's new history)."""
        from ._ops.dispatch import apply_jax, chain_fn
        fn = chain_fn(self._chain)
        tmp = apply_jax(_ChainTuple.get(fn), [self._base_t], name="AsStridedBackward0")[0]
        self.grad_fn, self._output_nr, self._rg = tmp.grad_fn, 0, True

    def _write(self, new):
        """Store `new` as this tensor's value, in place (bumps the version counter)."""
        st = self._st
        if _TRACK is not None:
            _TRACK.storage_write(st)
        if self._chain:
            from ._ops.dispatch import scatter_fn
            from ._ops.views import _has_overlap
            if type(new) is LazyArray:
                new = new.get()
            base_shape = tuple(st.arr.shape)
            if _has_overlap(self._chain, base_shape):
                raise RuntimeError(
                    "unsupported operation: more than one element of the written-to tensor "
                    "refers to a single memory location. Please clone() the tensor before "
                    "performing the operation.")
            fn, _ = scatter_fn(self._chain, base_shape)
            st.arr = fn(st.arr, new)
            st.gen += 1
            self._arr = new
            self._seen = st.gen
        else:
            if type(new) is LazyArray and self._rg and self.grad_fn is None:
                # a parameter's new value is computed now: every forward then starts from
                # concrete parameters, so a step runs the same fused program (the same
                # bits) however they were last written: loaded, updated by hand, or stepped
                new = new.get()
            st.arr = new
            st.gen += 1
        self._vc[0] += 1

    def _set_view_of(self, base, step):
        self._arr = self._st._v   # the view's own value (perhaps pending) until base changes
        self._st = base._st
        self._chain = base._chain + (step,)
        self._seen = base._st.gen
        self._vc = base._vc
        # the root tensor that owns autograd for this storage; None for views of detached
        # views (they share memory but never history)
        self._base_t = base._base_t if base._chain else base

    # ---------------------------------------------------------------- metadata
    @property
    def dtype(self):
        return _BY_NP[self._raw.dtype]

    @property
    def shape(self):
        return Size(self._raw.shape)

    def size(self, dim=None):
        shape = self._raw.shape
        if dim is None:
            return Size(shape)
        return shape[_wrap_dim(dim, len(shape))]

    @property
    def ndim(self):
        return self._raw.ndim

    def dim(self):
        return self._raw.ndim

    ndimension = dim

    def numel(self):
        return int(np.prod(self._raw.shape, dtype=np.int64))

    nelement = numel

    def element_size(self):
        return self.dtype.itemsize

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return self.numel() * self.dtype.itemsize

    @property
    def device(self):
        v = self._value
        if isinstance(v, jax.core.Tracer):
            return _device.to_device(None)
        try:
            return _device.from_jax(next(iter(v.devices())))
        except Exception:  # noqa: BLE001 - non-addressable arrays report the default
            return _device.to_device(None)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def is_cpu(self):
        return self.device.type == "cpu"

    is_sparse = False
    is_quantized = False
    is_meta = False
    is_mkldnn = False
    is_nested = False
    @property
    def layout(self):
        from ._formats import strided
        return strided

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def is_complex(self):
        return self.dtype.is_complex

    def is_signed(self):
        return self.dtype.is_signed

    def get_device(self):
        d = self.device
        return -1 if d.type == "cpu" else (d.index or 0)

    # ---------------------------------------------------------------- autograd metadata
    @property
    def requires_grad(self):
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value):
        if self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if value and self.dtype._category < 2:
            raise RuntimeError("only Tensors of floating point dtype can require "
                               "gradients")
        self._rg = bool(value)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def grad(self):
        if _TRACK is not None:
            _TRACK.grad_access(self, False)
        return self._grad

    @grad.setter
    def grad(self, value):
        if _TRACK is not None:
            _TRACK.grad_access(self, True)
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad "
                                f"of type {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError("assigned grad has data of a different size")
            if value.dtype is not self.dtype:
                raise RuntimeError("assigned grad has data of a different type")
        self._grad = value

    @property
    def _version(self):
        return self._vc[0]

    @property
    def _base(self):
        return self._base_t if self._chain else None

    def _is_view(self):
        return bool(self._chain)

    @property
    def output_nr(self):
        return self._output_nr

    @property
    def retains_grad(self):
        return bool(self._retains)

    def _grad_accumulator(self):
        acc = self._acc
        if acc is None:
            import weakref
            acc = self._acc = AccumulateGrad(weakref.ref(self))
        return acc

    def _accumulate_grad(self, g, create_graph):
        if _TRACK is not None:
            _TRACK.grad_access(self, False, accumulate=True)
        if isinstance(g, Tensor):
            g_t = g if create_graph else g.detach()
        else:
            if g.dtype != self._value.dtype:
                g = g.astype(self._value.dtype)
            g_t = wrap(g)
        if self._grad is None:
            self._grad = g_t
        elif create_graph or self._grad._rg:
            self._grad = self._grad + g_t
        else:
            from .autograd.engine import _add
            self._grad._write(_add(self._grad._value, g_t._value))

    def retain_grad(self):
        if self.grad_fn is None:
            if not self._rg:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if not self._retains:
            self._retains = True
            self.grad_fn._retain(self._output_nr, self)

    def register_hook(self, hook):
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                               "gradient")
        if self.grad_fn is not None:
            return self.grad_fn._register_tensor_hook(self._output_nr, hook)
        return self._grad_accumulator()._register_tensor_hook(0, hook)

    def register_post_accumulate_grad_hook(self, hook):
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        return self._grad_accumulator()._register_post_accumulate_hook(hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self):
        v = self._value
        if isinstance(v, jax.core.Tracer):
            from .func import transform_depth
            if transform_depth():  # inside jtorch.func transforms detach stops JAX's gradient
                return wrap(jax.lax.stop_gradient(v))
        t = wrap(v)
        t._st, t._chain, t._seen, t._vc = self._st, self._chain, self._seen, self._vc
        t._arr = self._value if self._chain else None
        return t

    def detach_(self):
        if self._chain and self._base_t is not None and self._base_t._rg:
            raise RuntimeError("Can't detach views in-place. Use detach() instead. If you are "
                               "using DistributedDataParallel (DDP) for training, and "
                               "gradient_as_bucket_view is set as True, gradients are views "
                               "of DDP buckets, and hence detach_() cannot be called on these "
                               "gradients. To fix this error, please refer to the "
                               "Optimizer.zero_grad() function in torch/optim/optimizer.py as "
                               "the solution.")
        self.grad_fn, self._rg, self._output_nr = None, False, 0
        return self

    @property
    def data(self):
        t = self.detach()
        t._vc = [0]  # torch: .data shares storage but not the version counter
        return t

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, not {type(value).__name__}")
        self._st = _Storage(value._value)
        self._chain = ()
        self._arr = None

    # ---------------------------------------------------------------- in-place plumbing
    def _check_inplace(self):
        if _STATE.grad_enabled:
            if self.grad_fn is None and self._rg:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            if self._chain and self._rg and self._base_t is not None \
                    and self._base_t.grad_fn is None and self._base_t._rg:
                raise RuntimeError("a view of a leaf Variable that requires grad is being used "
                                   "in an in-place operation.")

    def _inplace_assign(self, result, opname="copy_"):
        """Make `result` (computed out of place) this tensor's value and history."""
        self._check_inplace()
        if result.shape != self.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the "
                               f"broadcast shape {list(result.shape)}")
        rd, sd = result.dtype, self.dtype
        if rd is not sd:
            if not D.can_cast(rd, sd):
                raise RuntimeError(f"result type {D.type_name(rd)} can't be cast to the desired "
                                   f"output type {D.type_name(sd)}")
            result = result.to(sd)
        self._write(result._raw)
        if result.grad_fn is not None:
            node = result.grad_fn
            # the node closed over self's pre-write array, so (like torch, which saves the
            # original self) it does not version-check self afterwards
            node.saved = tuple((t, v) for t, v in node.saved if t is not self)
            self.grad_fn, self._output_nr, self._rg = node, result._output_nr, True
            if self._chain and self._base_t is not None:
                self._record_copy_slices()
            elif not self._chain:
                self._st.grad_gen = self._st.gen  # views of this base re-derive their history
        return self

    def _record_copy_slices(self):
        """The base's new history: its old values outside the view, ours inside."""
        from ._ops.dispatch import scatter_fn
        base = self._base_t
        st = self._st
        _, idx = scatter_fn(self._chain, tuple(st.arr.shape))
        base_edge = (base.grad_fn, base._output_nr) if base.grad_fn is not None else (
            (base._grad_accumulator(), 0) if base._rg else (None, 0))
        view_shape = tuple(self._arr.shape)
        fast = _CopySlicesFast.get(idx, tuple(st.arr.shape), view_shape)
        base_shape = tuple(st.arr.shape)
        node = Node("CopySlices", (base_edge, (self.grad_fn, self._output_nr)), fast, None, (),
                    ((base_shape, st.arr.dtype),))
        node.graph = _CopySlicesGraph(fast)
        base.grad_fn, base._output_nr, base._rg = node, 0, True
        st.grad_gen = st.gen

    def _assign_out(self, result, opname="op"):
        if _STATE.grad_enabled and (result._rg or self._rg):
            raise RuntimeError(f"{opname}(): functions with out=... arguments don't support "
                               "automatic differentiation, but one of the arguments requires "
                               "grad.")
        rd, sd = result.dtype, self.dtype
        if rd is not sd:
            if not D.can_cast(rd, sd):
                raise RuntimeError(f"result type {D.type_name(rd)} can't be cast to the desired "
                                   f"output type {D.type_name(sd)}")
            result = result.to(sd)
        if result.shape != self.shape:
            self._st = _Storage(result._value)
            self._chain = ()
            self._vc[0] += 1
        else:
            self._write(result._value)

    # ---------------------------------------------------------------- conversion
    def item(self):
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to "
                               "Scalar")
        v = self._value
        if isinstance(v, jax.core.Tracer):
            raise _traced_error("item()")
        return np.asarray(v).reshape(()).item()

    def tolist(self):
        v = self._value
        if isinstance(v, jax.core.Tracer):
            raise _traced_error("tolist()")
        return np.asarray(v).tolist()

    def numpy(self, *, force=False):
        if self._rg and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return np.asarray(self._value)

    def __array__(self, dtype=None, copy=None):
        a = np.asarray(self._value)
        return a.astype(dtype) if dtype is not None else a

    def __jax_array__(self):
        return self._value

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __index__(self):
        if self.dtype._category != 1 and self.dtype is not D.bool or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._value.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __hash__(self):
        return id(self)

    def __repr__(self, *, tensor_contents=None):
        from ._tensor_str import tensor_repr
        return tensor_repr(self)

    def __format__(self, spec):
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, proto):
        return (_rebuild, (np.asarray(self._value), self._rg))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        t = type(self).__new__(type(self)) if type(self) is not Tensor else None
        new = wrap(self._value) if t is None else _init_as(t, self._value)
        new._rg = self._rg
        if self._grad is not None:
            new._grad = wrap(self._grad._value)
        new.__dict__.update({k: v for k, v in self.__dict__.items()})
        memo[id(self)] = new
        return new

    def __dir__(self):
        return sorted(set(super().__dir__()))

    def __getattr__(self, name):
        # only reached when normal lookup fails: a torch Tensor API jtorch lacks
        if name.startswith("__"):
            raise AttributeError(name)
        from ._errors import missing
        raise missing(f"torch.Tensor.{name}")


class _ChainTuple:
    """Adapts a chain function to apply_jax's tuple-returning convention (cached)."""
    _cache: dict = {}

    @classmethod
    def get(cls, fn):
        f = cls._cache.get(fn)
        if f is None:
            def f(x):
                return (fn(x),)
            cls._cache[fn] = f
        return f


class _CopySlicesFast:
    _cache: dict = {}

    @classmethod
    def get(cls, idx, base_shape, view_shape):
        key = (idx.tobytes(), base_shape, view_shape)
        f = cls._cache.get(key)
        if f is None:
            def bwd(gs):
                g = gs[0]
                flat = g.reshape(-1)
                return [flat.at[idx].set(0).reshape(base_shape),
                        flat[idx].reshape(view_shape)]
            jb = jax.jit(bwd)
            f = cls._cache[key] = lambda gs: jb(gs)
            f.pure = bwd
        return f


class _CopySlicesGraph:
    def __init__(self, fast):
        self.fast = fast

    def __call__(self, gs):
        from ._ops.dispatch import apply_jax
        pure = self.fast.pure
        f = _ChainTuple._cache.get(pure)
        if f is None:
            def f(g):
                return tuple(pure([g]))
            _ChainTuple._cache[pure] = f
        return list(apply_jax(f, [gs[0]], name="CopySlicesBackward"))


def _traced_error(what):
    from ._errors import TracedValueError
    return TracedValueError(
        f"Tensor.{what} needs a concrete value, but this tensor is being traced inside a "
        "compiled function (jax.jit). Why: the value is only known when the compiled program "
        "runs. Fix: keep the computation in tensor ops, or move the Python-side use out of the "
        "compiled region.")


def _init_as(t, arr):
    t._st = _Storage(arr)
    t._chain = ()
    t._arr = None
    t._seen = 0
    t._rg = False
    t.grad_fn = None
    t._output_nr = 0
    t._grad = None
    t._vc = [0]
    t._acc = None
    t._base_t = None
    t._retains = None
    return t


_new = object.__new__


def wrap(arr, grad_fn=None, output_nr=0):
    """The fast constructor: a Tensor around a jax array (no copy, no checks)."""
    t = _new(Tensor)
    t._st = _Storage(arr)
    t._chain = ()
    t._arr = arr if type(arr) is not LazyArray else None  # a view reads it (see _set_view_of)
    t._seen = 0
    t._rg = grad_fn is not None
    t.grad_fn = grad_fn
    t._output_nr = output_nr
    t._grad = None
    t._vc = [0]
    t._acc = None
    t._base_t = None
    t._retains = None
    return t


def _rebuild(arr, requires_grad):
    t = wrap(jnp.asarray(arr))
    t._rg = requires_grad
    return t


def _wrap_dim(dim, ndim):
    n = builtins.max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n
