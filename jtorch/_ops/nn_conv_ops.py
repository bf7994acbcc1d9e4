"""Convolution, pooling, normalization, resampling and recurrent kernels (torch.nn's heavy ops).

Each kernel is one registered op, so a conv / pool / norm / whole RNN layer is a single
jitted call; gradients come from the generic jitted vjp (always correct) unless a rule is
given. Shape arithmetic (output sizes, window index tables, interpolation weights) is
done in numpy at trace time from the static arguments, so it is free once compiled.
Argument checking with torch's messages lives in jtorch/nn/_functional_conv.py.
Private ops are named `_jt_*` and are not public functions.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .registry import function, op

HI = jax.lax.Precision.HIGHEST
_PRIVATE = dict(function=False, method=False, broadcast=False)


def _opmath(x):
    """torch computes reduced-precision floats in float32."""
    return x.astype(jnp.float32) if x.dtype in (jnp.float16, jnp.bfloat16) else x


def _np_float(x):
    return np.float64 if x.dtype == jnp.float64 else np.float32


# ------------------------------------------------------------------------------ convolution

_SPATIAL = {1: "H", 2: "HW", 3: "DHW"}


def _dn(nd):
    s = _SPATIAL[nd]
    return ("NC" + s, "OI" + s, "NC" + s)


def conv_forward(x, w, b, stride, padding, dilation, groups, transposed, output_padding):
    """padding holds (lo, hi) pairs per spatial dim; unbatched inputs get a batch dim here."""
    nd = w.ndim - 2
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = x[None]
    pads = [(padding[2 * i], padding[2 * i + 1]) for i in range(nd)]
    if not transposed:
        y = jax.lax.conv_general_dilated(
            x, w, tuple(stride), pads, rhs_dilation=tuple(dilation),
            dimension_numbers=_dn(nd), feature_group_count=groups, precision=HI)
    else:
        cin, cout_g = w.shape[0], w.shape[1]
        k = w.shape[2:]
        wt = w.reshape((groups, cin // groups, cout_g) + k)
        wt = jnp.swapaxes(wt, 1, 2).reshape((groups * cout_g, cin // groups) + k)
        wt = jnp.flip(wt, axis=tuple(range(2, 2 + nd)))
        tp = []
        for i in range(nd):
            e = dilation[i] * (k[i] - 1)
            tp.append((e - pads[i][0], e - pads[i][1] + output_padding[i]))
        y = jax.lax.conv_general_dilated(
            x, wt, (1,) * nd, tp, lhs_dilation=tuple(stride), rhs_dilation=tuple(dilation),
            dimension_numbers=_dn(nd), feature_group_count=groups, precision=HI)
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nd).astype(y.dtype)
    return y[0] if unbatched else y


@op("_jt_conv(Tensor input, Tensor weight, Tensor? bias, int[] stride, int[] padding, "
    "int[] dilation, int groups, bool transposed, int[] output_padding) -> Tensor",
    node_name="ConvolutionBackward0", **_PRIVATE)
def _jt_conv(x, w, b=None, stride=(), padding=(), dilation=(), groups=1, transposed=False,
             output_padding=()):
    return conv_forward(x, w, b, stride, padding, dilation, groups, transposed, output_padding)


# ------------------------------------------------------------------------------ pooling

def pool_out_size(size, k, s, p, d, ceil_mode):
    """torch's pooling_output_shape."""
    out = (size + 2 * p - d * (k - 1) - 1 + ((s - 1) if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _low(dtype):
    dtype = jnp.dtype(dtype)
    if dtype.kind == "f" or dtype == jnp.bfloat16:
        return -jnp.inf
    if dtype.kind == "b":
        return False
    return jnp.iinfo(dtype).min


def _pool_pads(shape, kernel, stride, padding, dilation, ceil_mode):
    nd = len(kernel)
    spatial = shape[-nd:]
    outs, pads = [], []
    for i in range(nd):
        o = pool_out_size(spatial[i], kernel[i], stride[i], padding[i], dilation[i], ceil_mode)
        need = (o - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1
        pads.append((padding[i], max(need - spatial[i] - padding[i], 0)))
        outs.append(o)
    return outs, pads


@op("_jt_max_pool(Tensor input, int[] kernel_size, int[] stride, int[] padding, int[] dilation, "
    "bool ceil_mode) -> Tensor", dtype="none", node_name="MaxPoolBackward0", **_PRIVATE)
def _jt_max_pool(x, kernel_size=(), stride=(), padding=(), dilation=(), ceil_mode=False):
    """reduce_window max over the last len(kernel_size) dims (no indices needed)."""
    nd = len(kernel_size)
    lead = x.ndim - nd
    outs, pads = _pool_pads(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    y = jax.lax.reduce_window(
        x, np.array(_low(x.dtype), x.dtype), jax.lax.max, (1,) * lead + tuple(kernel_size),
        (1,) * lead + tuple(stride), [(0, 0)] * lead + pads,
        window_dilation=(1,) * lead + tuple(dilation))
    return y[(Ellipsis,) + tuple(slice(0, o) for o in outs)]


def _windows(x, tables):
    """Gather windows: tables[i] is an (out_i, k_i) index array into axis -nd+i.
    Returns (..., *outs, K) with K = prod k_i."""
    nd = len(tables)
    lead = x.ndim - nd
    for i, t in enumerate(tables):
        x = jnp.take(x, jnp.asarray(t), axis=lead + 2 * i)   # (..., o_i, k_i, ...)
    outs = [t.shape[0] for t in tables]
    ks = [t.shape[1] for t in tables]
    perm = list(range(lead)) + [lead + 2 * i for i in range(nd)] + \
        [lead + 2 * i + 1 for i in range(nd)]
    x = jnp.transpose(x, perm)
    return x.reshape(x.shape[:lead] + tuple(outs) + (math.prod(ks),))


def _flat_positions(pos_tables, spatial):
    """(out..., K) table of flat per-plane positions from per-dim (out_i, k_i) positions."""
    nd = len(pos_tables)
    flat = np.zeros([t.shape[0] for t in pos_tables] + [t.shape[1] for t in pos_tables],
                    np.int64)
    mult = 1
    for i in reversed(range(nd)):
        t = pos_tables[i]
        shape = [1] * (2 * nd)
        shape[i], shape[nd + i] = t.shape
        flat = flat + t.reshape(shape) * mult
        mult *= spatial[i]
    outs = flat.shape[:nd]
    return flat.reshape(outs + (-1,))


def _max_with_indices(x, tables, pos_tables, spatial):
    win = _windows(x, tables)
    arg = jnp.argmax(win, axis=-1)
    if jnp.issubdtype(win.dtype, jnp.floating):  # torch: a NaN wins its window
        isn = jnp.isnan(win)
        arg = jnp.where(isn.any(-1), jnp.argmax(isn, axis=-1), arg)
    out = jnp.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    flat = jnp.asarray(_flat_positions(pos_tables, spatial))
    idx = jnp.take_along_axis(jnp.broadcast_to(flat, arg.shape + flat.shape[-1:]),
                              arg[..., None], axis=-1)[..., 0]
    return out, idx


@op("_jt_max_pool_with_indices(Tensor input, int[] kernel_size, int[] stride, int[] padding, "
    "int[] dilation, bool ceil_mode) -> (Tensor out, Tensor indices)", dtype="none",
    nondiff_outputs=(1,), node_name="MaxPoolWithIndicesBackward0", **_PRIVATE)
def _jt_max_pool_with_indices(x, kernel_size=(), stride=(), padding=(), dilation=(),
                              ceil_mode=False):
    nd = len(kernel_size)
    spatial = x.shape[-nd:]
    outs, pads = _pool_pads(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    xp = jnp.pad(x, [(0, 0)] * (x.ndim - nd) + pads, constant_values=_low(x.dtype))
    tables, pos = [], []
    for i in range(nd):
        t = (np.arange(outs[i])[:, None] * stride[i] +
             np.arange(kernel_size[i])[None, :] * dilation[i])
        tables.append(t)
        pos.append(t - padding[i])
    return _max_with_indices(xp, tables, pos, spatial)


def _avg_divisor(size, k, s, p, o, count_include_pad):
    start = np.arange(o) * s - p
    end = np.minimum(start + k, size + p)
    pool = end - start
    cs, ce = np.maximum(start, 0), np.minimum(end, size)
    return pool if count_include_pad else ce - cs


@op("_jt_avg_pool(Tensor input, int[] kernel_size, int[] stride, int[] padding, bool ceil_mode, "
    "bool count_include_pad, int? divisor_override) -> Tensor", dtype="none",
    node_name="AvgPoolBackward0", **_PRIVATE)
def _jt_avg_pool(x, kernel_size=(), stride=(), padding=(), ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
    nd = len(kernel_size)
    lead = x.ndim - nd
    ones = (1,) * nd
    outs, pads = _pool_pads(x.shape, kernel_size, stride, padding, ones, ceil_mode)
    xo = _opmath(x)
    y = jax.lax.reduce_window(xo, np.array(0, xo.dtype), jax.lax.add,
                              (1,) * lead + tuple(kernel_size), (1,) * lead + tuple(stride),
                              [(0, 0)] * lead + pads)
    y = y[(Ellipsis,) + tuple(slice(0, o) for o in outs)]
    if divisor_override:
        y = y / divisor_override
    else:
        div = np.ones((), np.float64)
        for i in range(nd):
            d = _avg_divisor(x.shape[lead + i], kernel_size[i], stride[i], padding[i], outs[i],
                             count_include_pad)
            div = np.multiply.outer(div, d)
        y = y / jnp.asarray(div, y.dtype)
    return y.astype(x.dtype)


def adaptive_ranges(size, out):
    start = (np.arange(out) * size) // out
    end = -((-(np.arange(out) + 1) * size) // out)
    return start, end


@op("_jt_adaptive_avg_pool(Tensor input, int[] output_size) -> Tensor", dtype="none",
    node_name="AdaptiveAvgPoolBackward0", **_PRIVATE)
def _jt_adaptive_avg_pool(x, output_size=()):
    """Separable: one (out, in) averaging matrix per spatial dim."""
    nd = len(output_size)
    y = _opmath(x)
    for i in range(nd):
        axis = x.ndim - nd + i
        size, out = x.shape[axis], output_size[i]
        start, end = adaptive_ranges(size, out)
        j = np.arange(size)
        m = ((j[None, :] >= start[:, None]) & (j[None, :] < end[:, None])).astype(np.float64)
        m = m / np.maximum(end - start, 1)[:, None]
        y = jnp.moveaxis(jnp.tensordot(y, jnp.asarray(m, y.dtype), axes=([axis], [1]),
                                       precision=HI), -1, axis)
    return y.astype(x.dtype)


@op("_jt_adaptive_max_pool(Tensor input, int[] output_size) -> (Tensor out, Tensor indices)",
    dtype="none", nondiff_outputs=(1,), node_name="AdaptiveMaxPoolBackward0", **_PRIVATE)
def _jt_adaptive_max_pool(x, output_size=()):
    nd = len(output_size)
    spatial = x.shape[-nd:]
    tables = []
    for i in range(nd):
        start, end = adaptive_ranges(spatial[i], output_size[i])
        kmax = int((end - start).max()) if output_size[i] else 1
        t = start[:, None] + np.arange(kmax)[None, :]
        tables.append(np.minimum(t, end[:, None] - 1))   # repeats of the last index are harmless
    return _max_with_indices(x, tables, tables, spatial)


def _max_unpool_grad(g, out, x, idx, output_size=()):
    """Every input element reads its gradient back from its index (duplicates included)."""
    nd = len(output_size)
    gf = g.reshape((-1, math.prod(output_size)))
    jf = idx.reshape((gf.shape[0], -1)).astype(jnp.int64)
    return jnp.take_along_axis(gf, jnp.clip(jf, 0, gf.shape[1] - 1), axis=1).reshape(x.shape), None


@op("_jt_fractional_max_pool(Tensor input, Tensor samples, int[] kernel_size, int[] output_size)"
    " -> (Tensor out, Tensor indices)", dtype="none", nondiff_outputs=(1,),
    differentiable=("input",), node_name="FractionalMaxPoolBackward0", **_PRIVATE)
def _jt_fractional_max_pool(x, u, kernel_size=(), output_size=()):
    """Windows start at torch's pseudo-random sequence, one per (plane, dim) from `samples`
    (whose last axis lists W, H for 2-D and T, H, W for 3-D, as torch's kernels read it)."""
    nd = len(kernel_size)
    n, c = x.shape[0], x.shape[1]
    sizes = x.shape[2:]
    u = u.astype(x.dtype)
    order = (1, 0) if nd == 2 else tuple(range(nd))
    starts = []
    for d in range(nd):
        sz, k, o = sizes[d], kernel_size[d], output_size[d]
        sample = u[:, :, order[d]][..., None]
        i = jnp.arange(o, dtype=x.dtype)
        if o > 1:
            alpha = jnp.asarray((sz - k) / (o - 1), x.dtype)
            seq = jnp.floor((i + sample) * alpha) - jnp.floor(sample * alpha)
        else:
            seq = jnp.zeros((n, c, o), x.dtype)
        seq = seq.astype(jnp.int64).at[..., o - 1].set(sz - k)
        starts.append(seq)                                   # (N, C, o)
    y = x
    pos = 0
    for d in range(nd):
        k, o = kernel_size[d], output_size[d]
        idx = (starts[d][..., None] + jnp.arange(k)).reshape(n, c, o * k)
        shape = [n, c] + [1] * nd
        shape[2 + d] = o * k
        idx = jnp.broadcast_to(idx.reshape(shape), y.shape[:2 + d] + (o * k,) + y.shape[3 + d:])
        y = jnp.take_along_axis(y, idx, axis=2 + d)
    # y: (N, C, o1*k1, ..., ); split into (o_d, k_d) and move the k's last
    y = y.reshape((n, c) + tuple(v for d in range(nd) for v in (output_size[d], kernel_size[d])))
    perm = (0, 1) + tuple(2 + 2 * d for d in range(nd)) + tuple(3 + 2 * d for d in range(nd))
    y = jnp.transpose(y, perm).reshape((n, c) + tuple(output_size) + (-1,))
    arg = jnp.argmax(y, axis=-1)
    isn = jnp.isnan(y)
    arg = jnp.where(isn.any(-1), jnp.argmax(isn, axis=-1), arg)
    out = jnp.take_along_axis(y, arg[..., None], axis=-1)[..., 0]
    ks = np.unravel_index(np.arange(math.prod(kernel_size)), kernel_size)
    for d in range(nd):
        jd = jnp.asarray(ks[d])[arg]                               # offset inside the window
        sh = [n, c] + [1] * nd
        sh[2 + d] = output_size[d]
        coord = starts[d].reshape(sh) + jd
        pos = pos * sizes[d] + coord
    return out, pos


@op("_jt_max_unpool(Tensor input, Tensor indices, int[] output_size) -> Tensor", dtype="none",
    differentiable=("input",), node_name="MaxUnpoolBackward0", grad=_max_unpool_grad,
    saves=("indices",), **_PRIVATE)
def _jt_max_unpool(x, idx, output_size=()):
    nd = len(output_size)
    lead = x.shape[:x.ndim - nd]
    n = math.prod(output_size)
    xf = x.reshape((-1, math.prod(x.shape[x.ndim - nd:])))
    jf = idx.reshape(xf.shape).astype(jnp.int64)
    rows = jnp.arange(xf.shape[0])[:, None]
    out = jnp.zeros((xf.shape[0], n), x.dtype).at[rows, jf].set(xf, mode="drop")
    return out.reshape(lead + tuple(output_size))


# ------------------------------------------------------------------------------ normalization

def _bshape(c, ndim):
    return (1, c) + (1,) * (ndim - 2)


@op("_jt_batch_norm(Tensor input, Tensor? weight, Tensor? bias, Tensor? running_mean, "
    "Tensor? running_var, Tensor momentum, bool training, float eps) -> "
    "(Tensor out, Tensor new_mean, Tensor new_var)", dtype="none",
    differentiable=("input", "weight", "bias"), node_name="NativeBatchNormBackward0",
    **_PRIVATE)
def _jt_batch_norm(x, w, b, rm, rv, momentum, training=True, eps=1e-5):
    """Returns the output and the updated running stats (written back by the caller)."""
    xo = _opmath(x)
    c = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))
    n = x.size // max(c, 1)
    if training:
        mean = xo.mean(axes)
        var = jnp.square(xo - mean.reshape(_bshape(c, x.ndim))).mean(axes)
    else:
        mean, var = rm.astype(xo.dtype), rv.astype(xo.dtype)
    inv = jax.lax.rsqrt(var + eps)
    y = (xo - mean.reshape(_bshape(c, x.ndim))) * inv.reshape(_bshape(c, x.ndim))
    if w is not None:
        y = y * w.astype(y.dtype).reshape(_bshape(c, x.ndim))
    if b is not None:
        y = y + b.astype(y.dtype).reshape(_bshape(c, x.ndim))
    if training and rm is not None:
        m = momentum.astype(rm.dtype)
        new_mean = ((1 - m) * rm + m * mean.astype(rm.dtype))
        unbiased = var * (n / max(n - 1, 1))
        new_var = ((1 - m) * rv + m * unbiased.astype(rv.dtype))
    else:
        new_mean, new_var = (rm, rv) if rm is not None else (mean, var)
    return y.astype(x.dtype), jax.lax.stop_gradient(new_mean), jax.lax.stop_gradient(new_var)


@op("_jt_instance_norm(Tensor input, Tensor? weight, Tensor? bias, Tensor? running_mean, "
    "Tensor? running_var, Tensor momentum, bool use_input_stats, float eps) -> "
    "(Tensor out, Tensor new_mean, Tensor new_var)", dtype="none",
    differentiable=("input", "weight", "bias"), node_name="NativeBatchNormBackward0",
    **_PRIVATE)
def _jt_instance_norm(x, w, b, rm, rv, momentum, use_input_stats=True, eps=1e-5):
    xo = _opmath(x)
    c = x.shape[1]
    axes = tuple(range(2, x.ndim))
    n = math.prod(x.shape[2:])
    if use_input_stats:
        mean = xo.mean(axes, keepdims=True)
        var = jnp.square(xo - mean).mean(axes, keepdims=True)
    else:
        mean = rm.astype(xo.dtype).reshape(_bshape(c, x.ndim))
        var = rv.astype(xo.dtype).reshape(_bshape(c, x.ndim))
    y = (xo - mean) * jax.lax.rsqrt(var + eps)
    if w is not None:
        y = y * w.astype(y.dtype).reshape(_bshape(c, x.ndim))
    if b is not None:
        y = y + b.astype(y.dtype).reshape(_bshape(c, x.ndim))
    if use_input_stats and rm is not None:
        m = momentum.astype(rm.dtype)
        bm = mean.reshape(x.shape[:2]).mean(0)
        bv = (var.reshape(x.shape[:2]) * (n / max(n - 1, 1))).mean(0)
        new_mean = (1 - m) * rm + m * bm.astype(rm.dtype)
        new_var = (1 - m) * rv + m * bv.astype(rv.dtype)
    else:
        z = jnp.zeros((c,), xo.dtype)
        new_mean, new_var = (rm, rv) if rm is not None else (z, z)
    return y.astype(x.dtype), jax.lax.stop_gradient(new_mean), jax.lax.stop_gradient(new_var)


@op("layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight=None, Tensor? bias=None,"
    " float eps=1e-05, bool cudnn_enable=True) -> Tensor", method=False, broadcast=False,
    node_name="NativeLayerNormBackward0")
def layer_norm(x, w=None, b=None, normalized_shape=(), eps=1e-5, cudnn_enable=True):
    xo = _opmath(x)
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mean = xo.mean(axes, keepdims=True)
    var = jnp.square(xo - mean).mean(axes, keepdims=True)
    y = (xo - mean) * jax.lax.rsqrt(var + eps)
    if w is not None:
        y = y * w.astype(y.dtype)
    if b is not None:
        y = y + b.astype(y.dtype)
    return y.astype(x.dtype)


@op("group_norm(Tensor input, int num_groups, Tensor? weight=None, Tensor? bias=None, "
    "float eps=1e-05, bool cudnn_enabled=True) -> Tensor", method=False, broadcast=False,
    node_name="NativeGroupNormBackward0")
def group_norm(x, w=None, b=None, num_groups=1, eps=1e-5, cudnn_enabled=True):
    xo = _opmath(x)
    n, c = x.shape[0], x.shape[1]
    g = xo.reshape((n, num_groups, (c // num_groups) * math.prod(x.shape[2:])))
    mean = g.mean(-1, keepdims=True)
    var = jnp.square(g - mean).mean(-1, keepdims=True)
    y = ((g - mean) * jax.lax.rsqrt(var + eps)).reshape(x.shape)
    if w is not None:
        y = y * w.astype(y.dtype).reshape(_bshape(c, x.ndim))
    if b is not None:
        y = y + b.astype(y.dtype).reshape(_bshape(c, x.ndim))
    return y.astype(x.dtype)


@op("rms_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight=None, float? eps=None) "
    "-> Tensor", method=False, broadcast=False, node_name="RmsNormBackward0")
def rms_norm(x, w=None, normalized_shape=(), eps=None):
    xo = _opmath(x)
    if eps is None:
        eps = float(jnp.finfo(x.dtype).eps)
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    y = xo * jax.lax.rsqrt(jnp.square(xo).mean(axes, keepdims=True) + eps)
    if w is not None:
        y = y * w.astype(y.dtype)
    return y.astype(x.dtype)


@op("_jt_local_response_norm(Tensor input, int size, float alpha, float beta, float k) -> Tensor",
    dtype="none", node_name="DivBackward0", **_PRIVATE)
def _jt_local_response_norm(x, size=1, alpha=1e-4, beta=0.75, k=1.0):
    sq = jnp.square(x)
    pads = [(0, 0)] * x.ndim
    pads[1] = (size // 2, (size - 1) // 2)
    win = [1] * x.ndim
    win[1] = size
    div = jax.lax.reduce_window(sq, np.array(0, x.dtype), jax.lax.add, tuple(win),
                                (1,) * x.ndim, pads) / size
    return x / (div * alpha + k) ** beta


# ------------------------------------------------------------------------------ resampling

def _lin_src(out, size, scale, align_corners, cubic, ft):
    """torch's area_pixel_compute_source_index for each output position."""
    dst = np.arange(out, dtype=ft)
    if align_corners:
        s = ft((size - 1) / (out - 1)) if out > 1 else ft(0)
        return dst * s
    s = ft(1.0 / scale) if (scale is not None and scale > 0) else ft(size / out)
    src = s * (dst + ft(0.5)) - ft(0.5)
    return src if cubic else np.maximum(src, ft(0))


def _nearest_idx(out, size, scale, exact, ft):
    if out == size:
        return np.arange(out)
    s = ft(1.0 / scale) if (scale is not None and scale > 0) else ft(size / out)
    dst = np.arange(out, dtype=ft)
    src = np.floor((dst + ft(0.5)) * s) if exact else np.floor(dst * s)
    return np.minimum(src.astype(np.int64), size - 1)


def _cubic_coeffs(t, A=-0.75):
    def c1(x):
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def c2(x):
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A
    return [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)]


def _resample_axis(y, axis, out, scale, mode, align_corners, ft):
    size = y.shape[axis]
    if mode in ("nearest", "nearest-exact"):
        return jnp.take(y, jnp.asarray(_nearest_idx(out, size, scale, mode == "nearest-exact",
                                                      ft)), axis=axis)
    shape = [1] * y.ndim
    shape[axis] = out
    if mode == "linear":
        src = _lin_src(out, size, scale, align_corners, False, ft)
        i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
        i1 = np.minimum(i0 + 1, size - 1)
        lam = (src - i0).astype(ft)
        a, b = jnp.take(y, jnp.asarray(i0), axis=axis), jnp.take(y, jnp.asarray(i1), axis=axis)
        lam = jnp.asarray(lam, y.dtype).reshape(shape)
        return a * (1 - lam) + b * lam
    # bicubic
    src = _lin_src(out, size, scale, align_corners, True, ft)
    i = np.floor(src).astype(np.int64)
    t = (src - i).astype(ft)
    res = 0
    for j, cf in enumerate(_cubic_coeffs(t)):
        ij = np.clip(i - 1 + j, 0, size - 1)
        res = res + jnp.take(y, jnp.asarray(ij), axis=axis) * \
            jnp.asarray(cf.astype(ft), y.dtype).reshape(shape)
    return res


@op("_jt_upsample(Tensor input, int[] output_size, float?[] scales, str mode, bool align_corners)"
    " -> Tensor", dtype="none", node_name="UpsampleBackward0", **_PRIVATE)
def _jt_upsample(x, output_size=(), scales=(), mode="nearest", align_corners=False):
    """Separable resampling over the trailing len(output_size) dims (area: adaptive avg)."""
    nd = len(output_size)
    if mode == "area":
        return _jt_adaptive_avg_pool.fwd(x, output_size=output_size)
    ft = _np_float(x)
    kind = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    y = x if kind in ("nearest", "nearest-exact") else _opmath(x)
    for i in range(nd):
        axis = x.ndim - nd + i
        if y.shape[axis] != output_size[i] or kind != "nearest":
            y = _resample_axis(y, axis, output_size[i], scales[i] if scales else None, kind,
                               align_corners, ft)
    return y.astype(x.dtype)


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _reflect(x, twice_low, twice_high):
    if twice_low == twice_high:
        return jnp.zeros_like(x)
    mn = twice_low / 2
    span = (twice_high - twice_low) / 2
    x = jnp.abs(x - mn)
    extra = jnp.fmod(x, span)
    flips = jnp.floor(x / span)
    return jnp.where(jnp.fmod(flips, 2) == 0, extra + mn, span - extra + mn)


def _apply_padding(coord, size, padding_mode, align_corners):
    if padding_mode == "border":
        return jnp.clip(coord, 0, size - 1)
    if padding_mode == "reflection":
        if align_corners:
            coord = _reflect(coord, 0, 2 * (size - 1))
        else:
            coord = _reflect(coord, -1, 2 * size - 1)
        return jnp.clip(coord, 0, size - 1)
    return coord


def _gather_nd(x, idxs, sizes):
    """x (N, C, *sizes); idxs: integer arrays (N, *out) per spatial dim; zero outside."""
    valid = True
    clipped = []
    for ix, s in zip(idxs, sizes):
        valid = valid & (ix >= 0) & (ix < s)
        clipped.append(jnp.clip(ix, 0, s - 1))
    n = x.shape[0]
    bidx = jnp.arange(n).reshape((n,) + (1,) * (idxs[0].ndim - 1))
    v = jnp.moveaxis(x, 1, -1)[(bidx,) + tuple(clipped)]       # (N, *out, C)
    v = jnp.where(valid[..., None], v, 0)
    return jnp.moveaxis(v, -1, 1)


@op("_jt_grid_sample(Tensor input, Tensor grid, str mode, str padding_mode, bool align_corners) "
    "-> Tensor", dtype="none", node_name="GridSampler2DBackward0", **_PRIVATE)
def _jt_grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
    xo, go = _opmath(x), _opmath(grid)
    nd = x.ndim - 2
    sizes = x.shape[2:]
    # grid's last dim is (x, y[, z]) = (W, H[, D]): reversed spatial order
    raw = [_unnormalize(go[..., nd - 1 - i], sizes[i], align_corners) for i in range(nd)]
    if mode == "bicubic":
        coords = raw
        base = [jnp.floor(c) for c in coords]
        ts = [c - b for c, b in zip(coords, base)]
        cw = [_cubic_coeffs(t) for t in ts]
        out = 0
        for a in range(4):
            for b in range(4):
                iy = base[0] - 1 + a
                ix = base[1] - 1 + b
                iy = _apply_padding(iy, sizes[0], padding_mode, align_corners)
                ix = _apply_padding(ix, sizes[1], padding_mode, align_corners)
                v = _gather_nd(xo, [iy.astype(jnp.int64), ix.astype(jnp.int64)], sizes)
                out = out + v * (cw[0][a] * cw[1][b])[:, None]
        return out.astype(x.dtype)
    coords = [_apply_padding(c, s, padding_mode, align_corners) for c, s in zip(raw, sizes)]
    if mode == "nearest":
        idx = [jnp.round(c).astype(jnp.int64) for c in coords]
        return _gather_nd(xo, idx, sizes).astype(x.dtype)
    lo = [jnp.floor(c) for c in coords]
    frac = [c - f for c, f in zip(coords, lo)]
    out = 0
    for corner in range(2 ** nd):
        bits = [(corner >> (nd - 1 - i)) & 1 for i in range(nd)]
        w = 1
        idx = []
        for i, bit in enumerate(bits):
            w = w * (frac[i] if bit else 1 - frac[i])
            idx.append((lo[i] + bit).astype(jnp.int64))
        out = out + _gather_nd(xo, idx, sizes) * w[:, None]
    return out.astype(x.dtype)


@op("_jt_affine_grid(Tensor theta, int[] size, bool align_corners) -> Tensor", dtype="none",
    node_name="AffineGridGeneratorBackward0", **_PRIVATE)
def _jt_affine_grid(theta, size=(), align_corners=False):
    spatial = size[2:]
    nd = len(spatial)
    t = _opmath(theta)

    def lin(n):
        if n <= 1:
            return np.zeros((n,))
        v = np.linspace(-1, 1, n)
        return v if align_corners else v * (n - 1) / n
    axes = [lin(s) for s in spatial]                      # D?, H, W order
    mesh = np.meshgrid(*axes, indexing="ij")
    base = np.stack([m for m in reversed(mesh)] + [np.ones(spatial)], axis=-1)  # (..., nd+1)
    base = jnp.asarray(base.reshape(-1, nd + 1), t.dtype)
    grid = jnp.einsum("pk,njk->npj", base, t, precision=HI)
    return grid.reshape((size[0],) + tuple(spatial) + (nd,)).astype(theta.dtype)


# ------------------------------------------------------------------------------ rearrangement

@op("pixel_shuffle(Tensor input, int upscale_factor) -> Tensor", dtype="none", method=False,
    broadcast=False)
def pixel_shuffle(x, upscale_factor=1):
    r = upscale_factor
    *lead, c, h, w = x.shape
    y = x.reshape(tuple(lead) + (c // (r * r), r, r, h, w))
    n = len(lead)
    y = jnp.transpose(y, tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2))
    return y.reshape(tuple(lead) + (c // (r * r), h * r, w * r))


@op("pixel_unshuffle(Tensor input, int downscale_factor) -> Tensor", dtype="none", method=False,
    broadcast=False)
def pixel_unshuffle(x, downscale_factor=1):
    r = downscale_factor
    *lead, c, h, w = x.shape
    n = len(lead)
    y = x.reshape(tuple(lead) + (c, h // r, r, w // r, r))
    y = jnp.transpose(y, tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3))
    return y.reshape(tuple(lead) + (c * r * r, h // r, w // r))


@op("channel_shuffle(Tensor input, SymInt groups) -> Tensor", dtype="none", method=False,
    broadcast=False, aliases=("native_channel_shuffle",))
def channel_shuffle(x, groups=1):
    n, c = x.shape[0], x.shape[1]
    y = x.reshape((n, groups, c // groups) + x.shape[2:])
    return jnp.swapaxes(y, 1, 2).reshape(x.shape)


def im2col(x, kernel_size, dilation, padding, stride):
    """(N, C, H, W) -> (N, C*kh*kw, L) with torch's channel-major column order."""
    n, c, h, w = x.shape
    xp = jnp.pad(x, [(0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])])
    tables = []
    for i, size in enumerate((h, w)):
        o = (size + 2 * padding[i] - dilation[i] * (kernel_size[i] - 1) - 1) // stride[i] + 1
        tables.append(np.arange(o)[:, None] * stride[i] +
                      np.arange(kernel_size[i])[None, :] * dilation[i])
    win = _windows(xp, tables)          # (N, C, oh, ow, kh*kw)
    oh, ow = tables[0].shape[0], tables[1].shape[0]
    win = jnp.moveaxis(win, -1, 2)      # (N, C, K, oh, ow)
    return win.reshape(n, c * win.shape[2], oh * ow)


@op("_jt_im2col(Tensor input, int[] kernel_size, int[] dilation, int[] padding, int[] stride) "
    "-> Tensor", dtype="none", node_name="Im2ColBackward0", **_PRIVATE)
def _jt_im2col(x, kernel_size=(), dilation=(), padding=(), stride=()):
    unb = x.ndim == 3
    y = im2col(x[None] if unb else x, kernel_size, dilation, padding, stride)
    return y[0] if unb else y


@op("_jt_col2im(Tensor input, int[] output_size, int[] kernel_size, int[] dilation, "
    "int[] padding, int[] stride) -> Tensor", dtype="none", node_name="Col2ImBackward0",
    **_PRIVATE)
def _jt_col2im(x, output_size=(), kernel_size=(), dilation=(), padding=(), stride=()):
    """fold is the transpose of unfold: summing overlapping patches back."""
    unb = x.ndim == 2
    cols = x[None] if unb else x
    k = kernel_size[0] * kernel_size[1]
    shape = (cols.shape[0], cols.shape[1] // k) + tuple(output_size)
    fn = jax.linear_transpose(
        lambda img: im2col(img, kernel_size, dilation, padding, stride),
        jax.ShapeDtypeStruct(shape, cols.dtype))
    (y,) = fn(cols)
    return y[0] if unb else y


@op("_jt_pad(Tensor input, int[] pad, str mode, Tensor? value) -> Tensor", dtype="none",
    node_name="PadBackward0", **_PRIVATE)
def _jt_pad(x, value=None, pad=(), mode="constant"):
    """Fallback used by the conv/padding modules when nn.functional.pad is unavailable.
    pad is torch's order: last dim first, (left, right) pairs; negative crops."""
    nd = len(pad) // 2
    widths = [(0, 0)] * (x.ndim - nd) + [(pad[2 * (nd - 1 - i)], pad[2 * (nd - 1 - i) + 1])
                                         for i in range(nd)]
    crop = tuple(slice(-lo if lo < 0 else None, hi if hi < 0 else None) for lo, hi in widths)
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if mode == "constant":
        cv = 0 if value is None else value.astype(x.dtype)
        y = jnp.pad(x, widths, constant_values=cv)
    else:
        y = jnp.pad(x, widths, mode={"reflect": "reflect", "replicate": "edge",
                                     "circular": "wrap"}[mode])
    return y[crop]


# ------------------------------------------------------------------------------ recurrent

def _cell(mode, x_proj, h, c, w_hh, b_hh, w_hr):
    """One step given the precomputed input projection x W_ih^T + b_ih."""
    hh = jnp.dot(h, w_hh.T, precision=HI)
    if b_hh is not None:
        hh = hh + b_hh
    if mode == "RNN_TANH":
        return jnp.tanh(x_proj + hh), c
    if mode == "RNN_RELU":
        return jax.nn.relu(x_proj + hh), c
    if mode == "LSTM":
        gi, gf, gg, go = jnp.split(x_proj + hh, 4, axis=-1)
        c2 = jax.nn.sigmoid(gf) * c + jax.nn.sigmoid(gi) * jnp.tanh(gg)
        h2 = jax.nn.sigmoid(go) * jnp.tanh(c2)
        if w_hr is not None:
            h2 = jnp.dot(h2, w_hr.T, precision=HI)
        return h2, c2
    # GRU
    xr, xz, xn = jnp.split(x_proj, 3, axis=-1)
    hr, hz, hn = jnp.split(hh, 3, axis=-1)
    r = jax.nn.sigmoid(xr + hr)
    z = jax.nn.sigmoid(xz + hz)
    n = jnp.tanh(xn + r * hn)
    return (1 - z) * n + z * h, c


def _reverse_within(x, lengths):
    """Reverse each batch column's first lengths[b] steps (x: (T, B, ...))."""
    t = x.shape[0]
    steps = jnp.arange(t)[:, None]
    src = jnp.where(steps < lengths[None, :], lengths[None, :] - 1 - steps, steps)
    return jnp.take_along_axis(x, src.reshape(src.shape + (1,) * (x.ndim - 2)), axis=0)


@op("_jt_rnn_layer(Tensor input, Tensor hx, Tensor? cx, Tensor w_ih, Tensor w_hh, Tensor? b_ih, "
    "Tensor? b_hh, Tensor? w_hr, Tensor? lengths, str mode, bool reverse) -> "
    "(Tensor output, Tensor h_n, Tensor c_n)", dtype="none", node_name="RnnLayerBackward0",
    differentiable=("input", "hx", "cx", "w_ih", "w_hh", "b_ih", "b_hh", "w_hr"), **_PRIVATE)
def _jt_rnn_layer(x, hx, cx, w_ih, w_hh, b_ih, b_hh, w_hr, lengths, mode="LSTM", reverse=False):
    """One layer, one direction over a (T, B, F) sequence as a single lax.scan.

    With `lengths` (packed sequences) steps past a column's length keep its state and
    output zeros; the reverse direction starts at each column's own last step.
    """
    proj = jnp.dot(x, w_ih.T, precision=HI)
    if b_ih is not None:
        proj = proj + b_ih
    T = x.shape[0]
    if lengths is not None:
        lengths = lengths.astype(jnp.int64)
        mask = (jnp.arange(T)[:, None] < lengths[None, :])[..., None]
        if reverse:
            proj = _reverse_within(proj, lengths)
    else:
        mask = None
        if reverse:
            proj = proj[::-1]
    c0 = cx if cx is not None else jnp.zeros((), hx.dtype)

    def step(carry, inp):
        h, c = carry
        if mask is None:
            xp = inp
        else:
            xp, m = inp
        h2, c2 = _cell(mode, xp, h, c, w_hh, b_hh, w_hr)
        if mask is not None:
            h2 = jnp.where(m, h2, h)
            c2 = jnp.where(m, c2, c) if cx is not None else c2
            return (h2, c2), jnp.where(m, h2, 0)
        return (h2, c2), h2
    (h, c), out = jax.lax.scan(step, (hx, c0), proj if mask is None else (proj, mask))
    if reverse:
        out = out[::-1] if lengths is None else _reverse_within(out, lengths)
    return out, h, (c if cx is not None else jnp.zeros_like(h))


@op("_jt_rnn_cell(Tensor input, Tensor hx, Tensor? cx, Tensor w_ih, Tensor w_hh, Tensor? b_ih, "
    "Tensor? b_hh, str mode) -> (Tensor h, Tensor c)", dtype="none", node_name="RnnCellBackward0",
    **_PRIVATE)
def _jt_rnn_cell(x, hx, cx, w_ih, w_hh, b_ih, b_hh, mode="LSTM"):
    proj = jnp.dot(x, w_ih.T, precision=HI)
    if b_ih is not None:
        proj = proj + b_ih
    c0 = cx if cx is not None else jnp.zeros((), hx.dtype)
    h, c = _cell(mode, proj, hx, c0, w_hh, b_hh, None)
    return h, (c if cx is not None else jnp.zeros_like(h))


# ------------------------------------------------------------------------------ torch.* entries

def _F():
    from ..nn import _functional_conv
    return _functional_conv


def _lazy(name, target=None):
    """torch.<name> forwarding to nn.functional's implementation (imported on first call)."""
    def f(*args, **kwargs):
        return getattr(_F(), target or name)(*args, **kwargs)
    f.__name__ = f.__qualname__ = name
    function(name)(f)


for _n in ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "convolution", "adaptive_avg_pool1d"):
    _lazy(_n)


def _stride(stride):
    return None if stride is None or (isinstance(stride, (list, tuple)) and not stride) \
        else stride


def _torch_max_pool(nd):
    def f(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
        return getattr(_F(), f"max_pool{nd}d")(input, kernel_size, _stride(stride), padding,
                                               dilation, ceil_mode)
    f.__name__ = f.__qualname__ = f"max_pool{nd}d"
    function()(f)


for _n in (1, 2, 3):
    _torch_max_pool(_n)


@function()
def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode=False):
    return _F().max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode,
                           True)


@function()
def avg_pool1d(input, kernel_size, stride=(), padding=0, ceil_mode=False,
               count_include_pad=True):
    return _F().avg_pool1d(input, kernel_size, _stride(stride), padding, ceil_mode,
                           count_include_pad)


@function()
def adaptive_max_pool1d(input, output_size):
    return _F().adaptive_max_pool1d(input, output_size, True)


@function()
def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
               cudnn_enabled):
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                           eps)


@function()
def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
                  eps, cudnn_enabled):
    return _F().instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                              momentum, eps)
