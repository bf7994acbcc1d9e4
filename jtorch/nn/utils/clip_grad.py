"""clip_grad_norm_ / clip_grad_value_: one jitted computation over all gradients.

The total norm is torch's: the vector norm (order p) of the per-tensor p-norms. The
scaled/clamped gradients are written back in place (version counters bump).
"""
from __future__ import annotations

import functools
import math
import types
import warnings

import jax
import jax.numpy as jnp

from ..._tensor import Tensor, wrap
from ...autograd.grad_mode import no_grad

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_"]


def _vnorm(x, p):
    x = jnp.abs(x)
    if p == math.inf:
        return jnp.max(x, initial=0).astype(x.dtype)
    if p == -math.inf:
        return jnp.min(x, initial=jnp.inf).astype(x.dtype)
    if p == 0:
        return jnp.sum(x != 0).astype(x.dtype)
    if p == 1:
        return jnp.sum(x)
    if p == 2:
        return jnp.sqrt(jnp.sum(x * x))
    return jnp.sum(x ** p) ** (1.0 / p)


def _real_float(a):
    if jnp.issubdtype(a.dtype, jnp.complexfloating):
        return jnp.abs(a)
    return a if jnp.issubdtype(a.dtype, jnp.floating) else a.astype(jnp.float32)


@functools.partial(jax.jit, static_argnames=("p",))
def _total_norm(arrs, p):
    norms = [_vnorm(_real_float(a), p) for a in arrs]
    return _vnorm(jnp.stack(norms), p)


@jax.jit
def _scale(arrs, total, max_norm):
    coef = jnp.minimum(max_norm / (total + 1e-6), 1.0)
    return [a * coef.astype(a.dtype) for a in arrs]


@jax.jit
def _clamp(arrs, v):
    return [jnp.clip(a, (-v).astype(a.dtype), v.astype(a.dtype)) for a in arrs]


def _as_list(parameters):
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _get_total_norm(grads, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    norm_type = float(norm_type)
    if not grads:
        import jtorch
        return jtorch.tensor(0.0)
    total = wrap(_total_norm(tuple(g._value for g in grads), norm_type))
    if error_if_nonfinite and not bool(jnp.isfinite(total._value)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           "is non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    return total


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale the gradients so their total norm is at most `max_norm`; returns the norm."""
    is_gen = isinstance(parameters, types.GeneratorType)
    parameters = _as_list(parameters)
    if is_gen and not parameters:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                      stacklevel=2)
    with no_grad():
        grads = [p.grad for p in parameters if p.grad is not None]
        total = _get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
        if grads:
            new = _scale(tuple(g._value for g in grads), total._value, float(max_norm))
            for g, a in zip(grads, new):
                g._write(a)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient to [-clip_value, clip_value] in place."""
    parameters = _as_list(parameters)
    clip_value = float(clip_value)
    grads = [p.grad for p in parameters if p.grad is not None]
    if grads:
        new = _clamp(tuple(g._value for g in grads), jnp.asarray(clip_value))
        for g, a in zip(grads, new):
            g._write(a)
