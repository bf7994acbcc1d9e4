"""torch.autocast: per-device autocast state, the context manager/decorator, custom_fwd/bwd.

The state is thread-local like torch's. Dispatch sees it through ONE module flag,
`dispatch._autocast_on` (true while any thread has autocast enabled on any device), so
ops pay a single global check when autocast is off. When the flag is set, dispatch calls
`_cast_args` (installed here as `dispatch._autocast_hook`), which applies torch's cast
policy for the op (tables in `_policy.py`) to its tensor arguments before binding, so the
casts are recorded by autograd and the op's outputs keep the cast dtype.
"""
from __future__ import annotations

import collections.abc
import functools
import threading
import warnings
import weakref

import jax
import numpy as np

from .. import _dtype as D
from .._device import gpu_devices
from .._errors import missing
from .._ops import dispatch as _dispatch
from .._tensor import Tensor
from . import _policy

__all__ = ["autocast_decorator", "autocast", "is_autocast_available", "custom_fwd",
           "custom_bwd"]

_SUPPORTED = ("cpu", "cuda")
# device types torch knows; any other string is torch's "Expected one of ..." error
_TORCH_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip",
                       "ve", "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                       "privateuseone")
# device types where torch has an autocast backend that jtorch does not
_UNBACKED = ("xpu", "hpu", "mps", "mtia", "maia", "xla", "privateuseone", "ipu")
_DEFAULT_DTYPE = {"cpu": D.bfloat16, "cuda": D.float16}


class _State(threading.local):
    def __init__(self):
        self.enabled = {"cpu": False, "cuda": False}
        self.dtype = dict(_DEFAULT_DTYPE)
        self.cache_enabled = True
        self.nesting = 0
        self.order = []   # enabled devices, most recently enabled last (for traced args)
        self.cache = {}


_STATE = _State()
_ACTIVE = set()           # threads with autocast enabled somewhere
_ACTIVE_LOCK = threading.Lock()


def _check_device_type(device_type):
    if not isinstance(device_type, str):
        raise TypeError(f"expected a device type string, got {type(device_type).__name__}")
    base = device_type.split(":")[0]
    if base not in _TORCH_DEVICE_TYPES:
        raise RuntimeError("Expected one of " + ", ".join(_TORCH_DEVICE_TYPES) +
                           f" device type at start of device string: {device_type}")
    return base


def _sync_flag():
    """Keep dispatch's one global flag equal to 'some thread has autocast on'."""
    st = _STATE
    me = threading.get_ident()
    with _ACTIVE_LOCK:
        if any(st.enabled.values()):
            _ACTIVE.add(me)
        else:
            _ACTIVE.discard(me)
        _dispatch._autocast_on = bool(_ACTIVE)


# ------------------------------------------------------------------------------ state API

def is_autocast_available(device_type: str) -> bool:
    """Whether jtorch can autocast on `device_type` ('cpu' and 'cuda')."""
    return _check_device_type(device_type) in _SUPPORTED


def is_autocast_enabled(device_type=None) -> bool:
    """torch.is_autocast_enabled: with no argument, the CUDA state (as torch)."""
    dev = "cuda" if device_type is None else _check_device_type(device_type)
    return _STATE.enabled.get(dev, False)


def set_autocast_enabled(device_type, enabled=None):
    """torch.set_autocast_enabled(device_type, enabled), or the legacy (enabled) for CUDA."""
    if enabled is None:
        if not isinstance(device_type, bool):
            raise TypeError("set_autocast_enabled(): argument 'enabled' (position 1) must be "
                            f"bool, not {type(device_type).__name__}")
        device_type, enabled = "cuda", device_type
    if not isinstance(enabled, bool):
        raise TypeError("set_autocast_enabled(): argument 'enabled' (position 2) must be bool, "
                        f"not {type(enabled).__name__}")
    dev = _check_device_type(device_type)
    if dev not in _SUPPORTED:
        if enabled:
            raise missing(f"torch.autocast on device_type '{dev}'")
        return
    st = _STATE
    st.enabled[dev] = enabled
    if dev in st.order:
        st.order.remove(dev)
    if enabled:
        st.order.append(dev)
    _sync_flag()


def get_autocast_dtype(device_type):
    dev = _check_device_type(device_type)
    if dev not in _SUPPORTED:
        raise missing(f"torch.autocast on device_type '{dev}'")
    return _STATE.dtype[dev]


def set_autocast_dtype(device_type, dtype):
    dev = _check_device_type(device_type)
    if dev not in _SUPPORTED:
        raise missing(f"torch.autocast on device_type '{dev}'")
    _STATE.dtype[dev] = D.to_dtype(dtype)


def is_autocast_cpu_enabled():
    return _STATE.enabled["cpu"]


def get_autocast_cpu_dtype():
    return _STATE.dtype["cpu"]


def get_autocast_gpu_dtype():
    return _STATE.dtype["cuda"]


def is_autocast_cache_enabled():
    return _STATE.cache_enabled


def set_autocast_cache_enabled(enabled):
    _STATE.cache_enabled = bool(enabled)


def clear_autocast_cache():
    _STATE.cache.clear()


def autocast_increment_nesting():
    _STATE.nesting += 1
    return _STATE.nesting


def autocast_decrement_nesting():
    _STATE.nesting -= 1
    return _STATE.nesting


def current_state():
    """The whole autocast state as a hashable tuple (a compile-cache guard key)."""
    st = _STATE
    return (tuple((dev, st.enabled[dev], st.dtype[dev].name) for dev in _SUPPORTED),
            tuple(st.order), st.cache_enabled)


# ------------------------------------------------------------------------------ autocast

def autocast_decorator(autocast_instance, func):
    @functools.wraps(func)
    def decorate_autocast(*args, **kwargs):
        with autocast_instance:
            return func(*args, **kwargs)
    return decorate_autocast


class autocast:
    """Context manager / decorator running its region in mixed precision (torch.autocast).

    Ops on torch's lower-precision list run in `dtype` (cuda: float16, cpu: bfloat16 by
    default), ops on the float32 list run in float32, and 'promote' ops run in the widest
    floating type among their inputs. Everything else runs in its inputs' types.
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        dev = _check_device_type(device_type)
        if dev in _UNBACKED:
            raise missing(f"torch.autocast on device_type '{dev}'")
        if dev not in _SUPPORTED:
            raise RuntimeError(f"User specified an unsupported autocast device_type '{dev}'")
        self.device = dev
        self.fast_dtype = get_autocast_dtype(dev) if dtype is None else D.to_dtype(dtype)
        self._cache_enabled = (is_autocast_cache_enabled() if cache_enabled is None
                               else cache_enabled)
        if enabled:
            if dev == "cuda":
                if not gpu_devices():
                    warnings.warn("CUDA is not available or torch_xla is imported. Disabling "
                                  "autocast.", stacklevel=2)
                    enabled = False
                elif self.fast_dtype is D.bfloat16:
                    from .. import cuda
                    if not cuda.is_bf16_supported():
                        raise RuntimeError("Current CUDA Device does not support bfloat16. "
                                           "Please switch dtype to float16.")
            elif self.fast_dtype not in (D.bfloat16, D.float16):
                name = dev.upper()
                warnings.warn(f"In {name} autocast, but the target dtype is not supported. "
                              f"Disabling autocast.\n{name} Autocast only supports dtypes of "
                              "torch.bfloat16, torch.float16 currently.", stacklevel=2)
                enabled = False
        self._enabled = enabled

    def __enter__(self):
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = is_autocast_enabled(self.device)
        self.prev_fastdtype = get_autocast_dtype(self.device)
        self.prev_order = list(_STATE.order)
        set_autocast_enabled(self.device, self._enabled)
        set_autocast_dtype(self.device, self.fast_dtype)
        autocast_increment_nesting()
        set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        set_autocast_enabled(self.device, self.prev)
        _STATE.order[:] = [d for d in self.prev_order if _STATE.enabled[d]]
        set_autocast_dtype(self.device, self.prev_fastdtype)
        set_autocast_cache_enabled(self.prev_cache_enabled)
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(
                f"autocast()(func) requires a callable, but got {type(func).__name__}. "
                "Did you mean to use autocast as a context manager? For example:\n"
                "    with torch.autocast(device_type=...):\n"
                "        output = model(input)")
        return autocast_decorator(self, func)


# ------------------------------------------------------------------------------ the hook

_F32 = D.float32
_F64 = D.float64


def _device_type_of(v):
    """'cpu'/'cuda' for a concrete array, None for a tracer (its device is not known)."""
    arr = v._value
    if isinstance(arr, jax.core.Tracer):
        return None
    if not gpu_devices():
        return "cpu"
    try:
        return "cpu" if next(iter(arr.devices())).platform == "cpu" else "cuda"
    except Exception:  # noqa: BLE001 - non-addressable arrays
        return None


def _tensors(targs):
    for v in targs:
        if isinstance(v, Tensor):
            yield v
        elif isinstance(v, (list, tuple)):
            for t in v:
                if isinstance(t, Tensor):
                    yield t


def _op_device(targs, st):
    """The autocast device whose policy applies: CUDA when any concrete tensor is on it,
    else the CPU (as torch's dispatch key); with only traced tensors, the most recently
    enabled device."""
    found = None
    for t in _tensors(targs):
        dev = _device_type_of(t)
        if dev == "cuda":
            return dev
        found = found or dev
    if found is not None:
        return found
    return st.order[-1] if st.order else None


def _eligible(t, dev):
    """torch's is_eligible: a floating, non-float64 tensor on the autocast device."""
    if not isinstance(t, Tensor):
        return False
    dt = t.dtype
    if not dt.is_floating_point or dt is _F64:
        return False
    d = _device_type_of(t)
    return d is None or d == dev


def _cast_one(t, to, dev, st):
    if not _eligible(t, dev) or t.dtype is to:
        return t
    lower = st.dtype[dev]
    cacheable = (to is lower and t.dtype is _F32 and st.cache_enabled and t.requires_grad
                 and t.is_leaf and not t._is_view())
    if cacheable:
        hit = st.cache.get(id(t))
        if hit is not None and hit[0]() is t:
            return hit[1]
    out = t.to(to)
    if cacheable and not isinstance(out._value, jax.core.Tracer):
        st.cache[id(t)] = (weakref.ref(t), out)
    return out


def _cast_all(targs, to, dev, st):
    res = []
    for v in targs:
        if isinstance(v, Tensor):
            v = _cast_one(v, to, dev, st)
        elif isinstance(v, (list, tuple)) and any(isinstance(t, Tensor) for t in v):
            v = type(v)(_cast_one(t, to, dev, st) for t in v)
        res.append(v)
    return tuple(res)


def _promote_type(targs, dev, lower):
    """torch's autocast prioritize(): float32 wins over the lower type; float64 is ignored."""
    cur = lower
    for t in _tensors(targs):
        if not _eligible(t, dev):
            continue
        nxt = t.dtype
        if cur is _F32 or nxt is _F32:
            cur = _F32
        elif cur is lower and nxt is lower:
            cur = lower
        else:
            raise RuntimeError("Unexpected floating ScalarType in at::autocast::prioritize")
    return cur


def _cast_args(d, targs, statics):
    """Dispatch's autocast hook: (op, tensor args, statics) -> tensor args cast per policy."""
    st = _STATE
    order = st.order
    if not order or not any(_policy.lookup(dv, d) is not None for dv in order):
        return targs  # the common case: an op no enabled device lists
    dev = _op_device(targs, st)
    if dev is None or not st.enabled.get(dev):
        return targs
    rule = _policy.lookup(dev, d)
    if rule is None:
        return targs
    kind = rule if isinstance(rule, str) else rule(targs, statics)
    if kind is None:
        return targs
    if kind == "lower":
        return _cast_all(targs, st.dtype[dev], dev, st)
    if kind == "fp32":
        return _cast_all(targs, _F32, dev, st)
    if kind == "fp32_opt":  # set_opt_dtype / append_dtype: only without an explicit dtype
        pos = _policy.dtype_position(d)
        if pos is not None and statics[pos] is not None:
            return targs
        if not _eligible(targs[0], dev):
            return targs
        return (_cast_one(targs[0], _F32, dev, st),) + tuple(targs[1:])
    if kind == "promote":
        return _cast_all(targs, _promote_type(targs, dev, st.dtype[dev]), dev, st)
    if kind == "banned":
        raise RuntimeError(_policy.BANNED_BCE)
    raise AssertionError(kind)


def _call_without_autocast(fn, *args):
    """Run fn with dispatch's autocast hook off (in-place ops are never autocast in torch)."""
    prev = _dispatch._autocast_on
    _dispatch._autocast_on = False
    try:
        return fn(*args)
    finally:
        _dispatch._autocast_on = prev


_dispatch._autocast_hook = _cast_args
_dispatch._autocast_bypass = _call_without_autocast


# ------------------------------------------------------------------------------ custom fns

def _cast(value, device_type, dtype):
    """torch's private name for the container cast (some code imports it)."""
    return _cast_value(value, device_type, dtype)


def _cast_value(value, device_type, dtype):
    """torch.amp.autocast_mode._cast: casts eligible tensors inside containers."""
    if isinstance(value, Tensor):
        ok = (value.is_floating_point() and value.device.type == device_type
              and value.dtype is not _F64)
        return value.to(dtype) if ok else value
    if isinstance(value, (str, bytes, np.ndarray)):
        return value
    if isinstance(value, collections.abc.Mapping):
        return {_cast_value(k, device_type, dtype): _cast_value(v, device_type, dtype)
                for k, v in value.items()}
    if isinstance(value, collections.abc.Iterable):
        it = (_cast_value(v, device_type, dtype) for v in value)
        return type(value)(it) if isinstance(value, (list, tuple)) else it
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorates a custom Function's forward: optionally casts inputs and disables autocast."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            args[0]._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        on = is_autocast_enabled(device_type)
        args[0]._fwd_used_autocast = False
        if on:
            with autocast(device_type=device_type, enabled=False):
                return fwd(*_cast_value(args, device_type, cast_inputs),
                           **_cast_value(kwargs, device_type, cast_inputs))
        return fwd(*args, **kwargs)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorates a custom Function's backward: runs it in the forward's autocast state."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        with autocast(device_type=device_type, enabled=args[0]._fwd_used_autocast,
                      dtype=args[0]._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd
