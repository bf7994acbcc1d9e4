"""The int8 compute of the quantized modules, as jitted JAX functions on arrays.

Integer products accumulate exactly in int32 (`preferred_element_type=int32`); the float
steps follow fbgemm's output stages so results match PyTorch's x86/fbgemm backend:

* static (`ReQuantizeOutput`): r = float(acc) + bias / (s_x * s_w); q = rint(r * (s_x * s_w
  / s_out)) + zp_out, clamped to [relu ? zp_out : 0, 255];
* dynamic (`ReQuantizeForFloat`): y = fma(float(acc), s_x * s_w, bias), with the activation's
  qparams chosen per call by `ChooseQuantizationParams` (fbgemm's rule, in double).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_SMALL_SCALE = np.float32(6.1e-5)


def _shifted(q, zp):
    """Integers minus their zero point, as int32 (exact: |q - zp| < 2^9)."""
    return q.astype(jnp.int32) - jnp.asarray(zp, jnp.int32)


def _matmul_acc(xs, wq):
    """(..., K) x (N, K) -> (..., N) int32."""
    return lax.dot_general(xs, wq.astype(jnp.int32), (((xs.ndim - 1,), (1,)), ((), ())),
                           preferred_element_type=jnp.int32)


def _requantize(acc, bias, act_w_scale, mult, out_zp, relu, ch_axis):
    shape = [1] * acc.ndim
    shape[ch_axis] = -1
    r = acc.astype(jnp.float32)
    if bias is not None:
        r = r + (bias.astype(jnp.float32) / act_w_scale).reshape(shape)
    ab = r * mult.reshape(shape)
    q = jnp.rint(ab).astype(jnp.int32) + out_zp
    return jnp.clip(q, out_zp if relu else 0, 255).astype(jnp.uint8)


@functools.partial(jax.jit, static_argnames=("relu",))
def qlinear(qx, x_zp, wq, bias, act_w_scale, mult, out_zp, *, relu):
    acc = _matmul_acc(_shifted(qx, x_zp), wq)
    return _requantize(acc, bias, act_w_scale, mult, out_zp, relu, acc.ndim - 1)


@functools.partial(jax.jit, static_argnames=("relu", "stride", "padding", "dilation",
                                              "groups"))
def qconv(qx, x_zp, wq, bias, act_w_scale, mult, out_zp, *, relu, stride, padding, dilation,
          groups):
    nd = qx.ndim - 2
    spatial = "DHW"[-nd:] if nd <= 3 else None
    dn = lax.conv_dimension_numbers(qx.shape, wq.shape,
                                    ("NC" + spatial, "OI" + spatial, "NC" + spatial))
    acc = lax.conv_general_dilated(
        _shifted(qx, x_zp), wq.astype(jnp.int32), window_strides=stride,
        padding=[(p, p) for p in padding], rhs_dilation=dilation, dimension_numbers=dn,
        feature_group_count=groups, preferred_element_type=jnp.int32)
    return _requantize(acc, bias, act_w_scale, mult, out_zp, relu, 1)


def choose_qparams(x_min, x_max, qmin, qmax, reduce_range):
    """fbgemm/ATen ChooseQuantizationParams (preserve_sparsity=False), traced: the range is
    widened to contain 0, scale computed in double, the zero point nudged from whichever end
    has the smaller error."""
    if reduce_range:
        qmin, qmax = qmin // 2, qmax // 2
    mn = jnp.minimum(x_min, 0.0).astype(jnp.float32)
    mx = jnp.maximum(x_max, 0.0).astype(jnp.float32)
    scale = (mx.astype(jnp.float64) - mn.astype(jnp.float64)) / (qmax - qmin)
    s32 = scale.astype(jnp.float32)
    bad = (s32 == 0) | jnp.isinf(jnp.float32(1) / s32)
    scale = jnp.where(bad, 0.1, scale)
    small = scale < _SMALL_SCALE
    org = scale
    scale = jnp.where(small, jnp.float64(_SMALL_SCALE), scale)
    amp = (_SMALL_SCALE / org.astype(jnp.float32)).astype(jnp.float32)
    span = jnp.float32(_SMALL_SCALE * (qmax - qmin))
    mn2 = jnp.where(mn == 0, mn, jnp.where(mx == 0, -span, mn * amp))
    mx2 = jnp.where(mn == 0, span, jnp.where(mx == 0, mx, mx * amp))
    mn = jnp.where(small, mn2, mn).astype(jnp.float64)
    mx = jnp.where(small, mx2, mx).astype(jnp.float64)
    zp_min = qmin - mn / scale
    zp_max = qmax - mx / scale
    err_min = abs(qmin) - jnp.abs(mn / scale)
    err_max = abs(qmax) - jnp.abs(mx / scale)
    init = jnp.where(err_min < err_max, zp_min, zp_max)
    zp = jnp.where(init < qmin, qmin, jnp.where(init > qmax, qmax, jnp.rint(init)))
    return scale.astype(jnp.float32), zp.astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("reduce_range", "relu"))
def dynamic_linear(x, wq, w_scale, bias, *, reduce_range, relu=False):
    """Float in, float out: quantize x per call to quint8, int8 matmul, dequantize."""
    x = x.astype(jnp.float32)
    s, zp = choose_qparams(jnp.min(x), jnp.max(x), 0, 255, reduce_range)
    inv = jnp.float32(1) / s
    qx = jnp.clip(jnp.rint(x * inv + zp.astype(jnp.float32)), 0, 255).astype(jnp.int32)
    acc = _matmul_acc(qx - zp, wq)
    mult = (s * w_scale).astype(jnp.float32)
    # fbgemm's AVX2 path is one fused multiply-add: acc * (s_x * s_w) + bias, rounded once
    y = acc.astype(jnp.float64) * mult.astype(jnp.float64)
    if bias is not None:
        y = y + bias.astype(jnp.float64)
    y = y.astype(jnp.float32)
    if relu:
        y = jnp.maximum(y, 0)
    return y


def _dequant_fma(q, scale, zp):
    """fbgemm's vector dequantize: fma(scale, q, -zp * scale), one rounding (exact in f64)."""
    s = jnp.asarray(scale, jnp.float32)
    pre = (-jnp.asarray(zp, jnp.float32) * s).astype(jnp.float32)
    return (q.astype(jnp.float64) * s.astype(jnp.float64)
            + pre.astype(jnp.float64)).astype(jnp.float32)


@functools.partial(jax.jit, static_argnames=("relu",))
def qadd(qa, sa, za, qb, sb, zb, out_scale, out_zp, *, relu):
    """quantized::add(_relu): dequantize both, add in float32, requantize."""
    c = _dequant_fma(qa, sa, za) + _dequant_fma(qb, sb, zb)
    if relu:
        c = jnp.maximum(c, jnp.float32(0))
    inv = jnp.float32(1) / jnp.asarray(out_scale, jnp.float32)
    q = jnp.rint(c * inv) + jnp.asarray(out_zp, jnp.float32)
    return jnp.clip(q, 0, 255).astype(jnp.uint8)
