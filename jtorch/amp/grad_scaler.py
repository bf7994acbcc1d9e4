"""torch.amp.GradScaler: dynamic loss scaling without a device-to-host sync.

All scaler state lives in jtorch Tensors on the scaler (`_scale` float32, `_growth_tracker`
int32, and one float32 found_inf per optimizer and device), updated in place by jitted
array code. A step with inf/nan gradients is skipped by the optimizer's own
`_step_unless(found_inf)` (it discards the update on device), so the whole
scale -> backward -> unscale -> step -> update cycle also runs inside a jax.jit-traced
training step. Only get_scale(), state_dict() and optimizers without `_step_unless`
(LBFGS, custom Python optimizers) read values back to the host, as torch does.
"""
from __future__ import annotations

import inspect
import warnings
from collections import abc, defaultdict
from enum import Enum

import jax
import jax.numpy as jnp

from .. import _dtype as D
from .._device import gpu_devices
from .._tensor import Tensor, wrap
from ..autograd import grad_mode

__all__ = ["OptState", "GradScaler"]


class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state():
    return {"stage": OptState.READY, "found_inf_per_device": {}}


@jax.jit
def _unscale_arrays(grads, inv_scale, found_inf):
    """torch._amp_foreach_non_finite_check_and_unscale_: grads * inv_scale (in float32 for
    half types) and found_inf = 1 if any gradient holds an inf or nan."""
    bad = jnp.zeros((), jnp.bool_)
    out = []
    for g in grads:
        bad = bad | ~jnp.all(jnp.isfinite(g))
        if g.dtype in (jnp.float16, jnp.bfloat16):
            out.append((g.astype(jnp.float32) * inv_scale).astype(g.dtype))
        else:
            out.append(g * inv_scale.astype(g.dtype))
    return out, jnp.where(bad, jnp.ones((), found_inf.dtype), found_inf)


@jax.jit
def _inv_scale(scale):
    """The reciprocal in float64, rounded to float32 (torch's recipe)."""
    return (1.0 / scale.astype(jnp.float64)).astype(jnp.float32)


@jax.jit
def _update_scale(scale, tracker, found_inf, growth_factor, backoff_factor, growth_interval):
    """torch._amp_update_scale_: back off on inf/nan, grow after growth_interval clean steps
    (only to a finite value); factors multiply in float64 and round to float32."""
    s64 = scale.astype(jnp.float64)
    found = found_inf != 0
    successful = tracker + 1
    grow = successful == growth_interval
    grown = (s64 * growth_factor).astype(jnp.float32)
    backed = (s64 * backoff_factor).astype(jnp.float32)
    new_scale = jnp.where(found, backed,
                          jnp.where(grow & jnp.isfinite(grown), grown, scale))
    new_tracker = jnp.where(found | grow, jnp.zeros_like(tracker), successful)
    return new_scale.astype(scale.dtype), new_tracker.astype(tracker.dtype)


def _skips_on_device(optimizer):
    """True when the optimizer's step is the fused one that honours `_step_unless`."""
    step_unless = getattr(optimizer, "_step_unless", None)
    if step_unless is None:
        return False
    from ..optim.optimizer import _FusedOptimizer
    return isinstance(optimizer, _FusedOptimizer) and type(optimizer).step is _FusedOptimizer.step


class GradScaler:
    """Scales the loss so small float16 gradients do not underflow; unscales before the step,
    skips steps whose gradients overflowed and adapts the scale (torch.amp.GradScaler)."""

    _jtorch_compile_state = True  # jtorch.compile lifts the Tensors held in its __dict__

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0,
                 backoff_factor=0.5, growth_interval=2000, enabled=True):
        self._device = device
        self._enabled = enabled
        if self._device == "cuda":
            if enabled and not gpu_devices():
                warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available."
                              "  Disabling.", stacklevel=2)
                self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
            self._init_scale = init_scale
            self._scale = None
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker = None
            self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    # ------------------------------------------------------------------ internals
    def _check_scale_growth_tracker(self, funcname):
        fix = ("This may indicate your script did not use scaler.scale(loss or outputs) "
               "earlier in the iteration.")
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  " + fix)
        if self._growth_tracker is None:
            raise AssertionError(f"Attempted {funcname} but _growth_tracker is None.  " + fix)
        return self._scale, self._growth_tracker

    def _lazy_init_scale_growth_tracker(self, dev):
        if self._growth_tracker is not None:
            raise AssertionError("_growth_tracker initialized before _scale")
        from .._creation import tensor as _tensor
        self._scale = _tensor(float(self._init_scale), dtype=D.float32, device=dev)
        self._growth_tracker = _tensor(int(self._init_growth_tracker), dtype=D.int32, device=dev)

    # ------------------------------------------------------------------ scale
    def scale(self, outputs):
        """Multiplies a tensor (or an iterable of tensors, nested) by the scale factor."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init_scale_growth_tracker(outputs.device)
            return outputs * self._scale

        def apply_scale(val):
            if isinstance(val, Tensor):
                if self._scale is None:
                    self._lazy_init_scale_growth_tracker(val.device)
                return val * self._scale
            if isinstance(val, abc.Iterable):
                iterable = map(apply_scale, val)
                if isinstance(val, (list, tuple)):
                    return type(val)(iterable)
                return iterable
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")
        return apply_scale(outputs)

    # ------------------------------------------------------------------ unscale
    def _unscale_grads_(self, optimizer, inv_scale, found_inf, allow_fp16):
        """Unscales every grad in place; returns {device: found_inf Tensor}."""
        per_device = defaultdict(list)
        with grad_mode.no_grad():
            for group in optimizer.param_groups:
                for param in group["params"]:
                    if not isinstance(param, Tensor):
                        raise AssertionError(
                            f"expected param to be torch.Tensor, got {type(param).__name__}")
                    grad = param.grad
                    if grad is None:
                        continue
                    if (not allow_fp16) and grad.dtype is D.float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    per_device[grad.device].append(grad)
            result = {}
            for dev, grads in per_device.items():
                new, found = _unscale_arrays([g._value for g in grads], inv_scale._value,
                                             found_inf._value)
                for g, v in zip(grads, new):
                    g._write(v)
                result[dev] = wrap(found)
        return result

    def unscale_(self, optimizer):
        """Divides the optimizer's gradients by the scale (once per step; no host sync)."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        optimizer_state = self._per_optimizer_states[id(optimizer)]
        if optimizer_state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the "
                               "last update().")
        elif optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = wrap(_inv_scale(self._scale._value))
        found_inf = wrap(jnp.zeros((), jnp.float32))
        optimizer_state["found_inf_per_device"] = self._unscale_grads_(
            optimizer, inv_scale, found_inf, False)
        optimizer_state["stage"] = OptState.UNSCALED

    # ------------------------------------------------------------------ step
    def _maybe_opt_step(self, optimizer, optimizer_state, *args, **kwargs):
        found = list(optimizer_state["found_inf_per_device"].values())
        if _skips_on_device(optimizer):
            total = found[0]._value
            for f in found[1:]:
                total = total + f._value
            return optimizer._step_unless(total != 0, *args, **kwargs)
        if not sum(v.item() for v in found):  # host check: the optimizer cannot skip itself
            return optimizer.step(*args, **kwargs)
        return None

    def step(self, optimizer, *args, **kwargs):
        """unscale_(optimizer) unless already done, then optimizer.step() unless the gradients
        hold inf/nan (decided on device for jtorch's optimizers)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        self._check_scale_growth_tracker("step")
        optimizer_state = self._per_optimizer_states[id(optimizer)]
        if optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if getattr(optimizer, "_step_supports_amp_scaling", False):
            return self._step_amp_aware(optimizer, optimizer_state, *args, **kwargs)
        if optimizer_state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if len(optimizer_state["found_inf_per_device"]) == 0:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        retval = self._maybe_opt_step(optimizer, optimizer_state, *args, **kwargs)
        optimizer_state["stage"] = OptState.STEPPED
        return retval

    def _step_amp_aware(self, optimizer, optimizer_state, *args, **kwargs):
        """Optimizers with `_step_supports_amp_scaling` unscale and skip by themselves."""
        kwargs_ = kwargs
        has_kwarg = "grad_scaler" in inspect.signature(optimizer.step).parameters
        if has_kwarg:
            warnings.warn(
                "GradScaler is going to stop passing itself as a keyword argument to the passed "
                "optimizer. In the near future GradScaler registers `grad_scale: Tensor` and "
                "`found_inf: Tensor` to the passed optimizer and let the optimizer use them "
                "directly.", FutureWarning, stacklevel=3)
            kwargs_.update({"grad_scaler": self})
        else:
            if optimizer_state["stage"] is OptState.READY:
                self._check_inf_per_device(optimizer)
            scaler = self._scale
            found = list(optimizer_state["found_inf_per_device"].values())
            found_inf = found[0]
            for f in found[1:]:
                found_inf = found_inf + f
            optimizer.grad_scale = (getattr(optimizer, "grad_scale", None)
                                    if optimizer_state["stage"] == OptState.UNSCALED
                                    else scaler * getattr(optimizer, "grad_scale", 1))
            optimizer.found_inf = found_inf
        retval = optimizer.step(*args, **kwargs_)
        optimizer_state["stage"] = OptState.STEPPED
        if not has_kwarg:
            del optimizer.grad_scale
            del optimizer.found_inf
        return retval

    # ------------------------------------------------------------------ update
    def update(self, new_scale=None):
        """Backs the scale off after a skipped step, grows it after growth_interval clean ones
        (or sets it to `new_scale`); then readies every optimizer for the next iteration."""
        if not self._enabled:
            return
        _scale, _growth_tracker = self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                _scale._write(jnp.full((), new_scale, jnp.float32))
            else:
                reason = ("new_scale should be a float or a 1-element torch.cuda.FloatTensor or "
                          "torch.FloatTensor with requires_grad=False.")
                if new_scale.device.type != self._device:
                    raise AssertionError(reason)
                if new_scale.numel() != 1:
                    raise AssertionError(reason)
                if new_scale.requires_grad is True:
                    raise AssertionError(reason)
                _scale._write(new_scale._value.reshape(()).astype(jnp.float32))
        else:
            found_infs = [found_inf._value
                          for state in self._per_optimizer_states.values()
                          for found_inf in state["found_inf_per_device"].values()]
            if len(found_infs) == 0:
                raise AssertionError("No inf checks were recorded prior to update.")
            combined = found_infs[0]
            for f in found_infs[1:]:
                combined = combined + f
            s, t = _update_scale(_scale._value, _growth_tracker._value, combined,
                                 float(self._growth_factor), float(self._backoff_factor),
                                 int(self._growth_interval))
            _scale._write(s)
            _growth_tracker._write(t)
        self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    # ------------------------------------------------------------------ getters/setters
    def _get_scale_async(self):
        return self._scale

    def get_scale(self):
        """The current scale as a Python float (a host sync), or 1.0 when disabled."""
        if self._enabled:
            return self._init_scale if self._scale is None else float(self._scale.item())
        return 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def _get_growth_tracker(self):
        if self._enabled:
            return (self._init_growth_tracker if self._growth_tracker is None
                    else int(self._growth_tracker.item()))
        return 0

    def is_enabled(self):
        return self._enabled

    # ------------------------------------------------------------------ state
    def state_dict(self):
        """torch's five entries (scale, growth_factor, backoff_factor, growth_interval,
        _growth_tracker), or {} when disabled."""
        if self._enabled:
            return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                    "backoff_factor": self._backoff_factor,
                    "growth_interval": self._growth_interval,
                    "_growth_tracker": self._get_growth_tracker()}
        return {}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale._write(jnp.full((), state_dict["scale"], jnp.float32))
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._growth_tracker is not None:
            self._growth_tracker._write(jnp.full((), state_dict["_growth_tracker"], jnp.int32))

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise AssertionError("A GradScaler instance may only be pickled at the beginning "
                                     "of an iteration, or at the end after scaler.update().")
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def _check_inf_per_device(self, optimizer):
        _scale, _ = self._check_scale_growth_tracker("_check_inf_per_device")
        dummy_inv_scale = wrap(jnp.ones((), jnp.float32))
        found_inf = wrap(jnp.zeros((), jnp.float32))
        self._per_optimizer_states[id(optimizer)]["found_inf_per_device"] = (
            self._unscale_grads_(optimizer, dummy_inv_scale, found_inf, True))
        return self._per_optimizer_states[id(optimizer)]["found_inf_per_device"]

    def _found_inf_per_device(self, optimizer):
        return self._per_optimizer_states[id(optimizer)]["found_inf_per_device"]
