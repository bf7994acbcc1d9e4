"""torch.nn.Parameter / Buffer / Uninitialized{Parameter,Buffer}.

A Parameter is a jtorch.Tensor subclass built like torch's `_make_subclass`: it
aliases the data's storage cell and version counter (so `Parameter(t)` shares memory
with `t`), but is a fresh leaf with its own autograd state.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import _dtype as D
from .._tensor import Tensor

__all__ = ["Parameter", "UninitializedParameter", "is_lazy", "Buffer", "UninitializedBuffer",
           "UninitializedTensorMixin"]

_NEW = object.__new__


def _empty0(dtype=None, device=None):
    import jtorch
    return jtorch.empty(0, dtype=dtype, device=device)


def _alias_into(t, data, requires_grad):
    """Make `t` a new leaf sharing `data`'s storage and version counter."""
    d = data.detach()
    t._st, t._chain, t._seen, t._vc, t._arr = d._st, d._chain, d._seen, d._vc, d._arr
    t.grad_fn, t._output_nr, t._grad, t._acc = None, 0, None, None
    t._base_t, t._retains, t._rg = None, None, False
    if requires_grad:
        if d.dtype._category < 2:
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        t._rg = True
    return t


class Parameter(Tensor):
    """A Tensor that Module.__setattr__ registers as a parameter."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _empty0()
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): argument 'data' must be Tensor, not "
                            f"{type(data).__name__}")
        return _alias_into(_NEW(cls), data, requires_grad)

    def __init__(self, *args, **kwargs):
        pass

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.data.clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, proto):
        state = {k: v for k, v in self.__dict__.items()}
        if not state:
            return (_rebuild_parameter, (self.data, self.requires_grad, OrderedDict()))
        return (_rebuild_parameter_with_state,
                (self.data, self.requires_grad, OrderedDict(), state))


def _rebuild_parameter(data, requires_grad, backward_hooks):
    return Parameter(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    p = Parameter(data, requires_grad)
    p.__dict__.update(state)
    return p


class UninitializedTensorMixin:
    """A placeholder whose shape is decided later (`materialize`); using it in an op
    raises torch's ValueError."""

    def materialize(self, shape, device=None, dtype=None):
        import jtorch
        raw = self._st.arr
        if device is None:
            device = _raw_tensor(self).device
        if dtype is None:
            dtype = D._BY_NP[raw.dtype]
        new = jtorch.empty(shape, device=device, dtype=dtype)
        self._st, self._chain, self._arr, self._seen = new._st, (), None, 0
        self.__class__ = self.cls_to_become

    @property
    def _value(self):
        raise ValueError(
            f"Attempted to use an uninitialized parameter in an operation. This error happens "
            f"when you are using a `LazyModule` or explicitly manipulating "
            f"`torch.nn.parameter.{type(self).__name__}` objects. When using LazyModules Call "
            "`forward` with a dummy batch to initialize the parameters before calling torch "
            "functions")

    _raw = _value  # shape-only reads in dispatch raise the same error

    @property
    def shape(self):
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually "
            "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
            "initialized one. Call `forward` to initialize the parameters before accessing their "
            "attributes.")

    @property
    def dtype(self):
        return D._BY_NP[self._st.arr.dtype]

    @property
    def device(self):
        return _raw_tensor(self).device

    def size(self, dim=None):
        return _raw_tensor(self).size(dim)

    def dim(self):
        return self._st.arr.ndim

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def is_complex(self):
        return self.dtype.is_complex

    def share_memory_(self):
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call "
                           "`forward` to initialize the parameters before calling "
                           "`module.share_memory()`.")

    def __repr__(self):
        return f"<{self.__class__.__name__}>"

    def __reduce_ex__(self, proto):
        return (self.__class__, (self.requires_grad,))


def _raw_tensor(t):
    """The placeholder's empty array as a plain Tensor (for conversions)."""
    from .._tensor import wrap
    return wrap(t._st.arr)


def is_lazy(param):
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        data = _empty0(dtype, device)
        return _alias_into(_NEW(cls), data, requires_grad)

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.requires_grad, self.device, self.dtype)
        memo[id(self)] = result
        return result


class _BufferMeta(type):
    """isinstance(t, Buffer) holds for tensors made by Buffer(...) (marked `_is_buffer`)."""

    def __instancecheck__(cls, instance):
        if cls is Buffer and isinstance(instance, Tensor):
            d = getattr(instance, "__dict__", None)
            if d and d.get("_is_buffer", False):
                return True
        return type.__instancecheck__(cls, instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    """torch.nn.Buffer(data, persistent=True): a plain tensor marked for registration."""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = _empty0()
        t = data.detach()
        t._rg = data.requires_grad
        t.persistent = persistent
        t._is_buffer = True
        return t


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None, persistent=True):
        data = _empty0(dtype, device)
        ret = _alias_into(_NEW(cls), data, requires_grad)
        ret.persistent = persistent
        ret._is_buffer = True
        return ret

    def __init__(self, *args, **kwargs):
        pass

