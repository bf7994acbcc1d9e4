"""torch.nn.functional's ops: activations, linear, dropout, embedding, padding, distances,
losses and attention.

Each functional is one registered op (one jitted call per static-args key); the public
wrappers with torch's Python signatures live in jtorch/nn/functional.py and call these
through `dispatch._call`. Hot ops (gelu, silu, linear, dropout, embedding, ...) have
explicit grad rules; the rest use the generic jitted vjp. Scalars that user code may
vary per call (slopes, bounds, margins) are `Tensor` params so they never recompile.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._random import key_from
from .pointwise import _c, _is_complex, _kind, _reject
from .registry import FUNCTIONS, METHODS, function, op

_SQRT1_2 = 1 / math.sqrt(2.0)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1 / math.sqrt(2.0 * math.pi)


def nnop(schema, **kw):
    """An internal op (no torch.X / Tensor.X surface): called from nn.functional. Named
    'nn.<name>' so it never clashes with a torch.<name> op declared by another family."""
    kw.setdefault("method", False)
    kw.setdefault("function", False)
    return op("nn." + schema, **kw)


def _as(v, x):
    """A scalar param array in x's dtype."""
    return v.astype(x.dtype) if v is not None else v


def _reduce(loss, reduction):
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss


def _floating(kernel, x):
    _reject(kernel, x, "bic")


# ------------------------------------------------------------------------------ activations

@nnop("hardtanh(Tensor input, Tensor min_val, Tensor max_val) -> Tensor", dtype="none",
      saves=("input", "min_val", "max_val"),
      grad=lambda g, out, x, lo, hi: (jnp.where((x > _as(lo, x)) & (x < _as(hi, x)), g, 0),))
def hardtanh(x, lo, hi):
    if _is_complex(x):
        raise NotImplementedError("clamp is not supported for complex types")
    if _kind(x) == "b":
        raise RuntimeError("Boolean inputs not supported for hardtanh")
    return jnp.minimum(jnp.maximum(x, _as(lo, x)), _as(hi, x))


@nnop("leaky_relu(Tensor input, Tensor negative_slope) -> Tensor", dtype="none",
      saves=("input", "negative_slope"),
      grad=lambda g, out, x, s: (jnp.where(x > 0, g, g * _as(s, x)),))
def leaky_relu(x, s):
    _reject("leaky_relu_cpu", x, "bic")
    return jnp.where(x > 0, x, x * _as(s, x))


def _elu_grad(g, out, x, alpha, scale, input_scale):
    a, s, i = _as(alpha, x), _as(scale, x), _as(input_scale, x)
    return (jnp.where(x > 0, g * s, g * i * a * s * jnp.exp(x * i)),)


@nnop("elu(Tensor input, Tensor alpha, Tensor scale, Tensor input_scale) -> Tensor",
      dtype="none", saves=("input", "alpha", "scale", "input_scale"), grad=_elu_grad)
def elu(x, alpha, scale, input_scale):
    _reject("elu_cpu", x, "bic")
    a, s, i = _as(alpha, x), _as(scale, x), _as(input_scale, x)
    return jnp.where(x > 0, x * s, jnp.expm1(x * i) * a * s)


def _gelu_grad(g, out, x, approximate):
    if approximate == "tanh":
        inner = _SQRT_2_PI * (x + 0.044715 * x ** 3)
        t = jnp.tanh(inner)
        d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_PI * (1 + 3 * 0.044715 * x * x)
    else:
        cdf = 0.5 * (1 + jax.scipy.special.erf(x * _SQRT1_2))
        d = cdf + x * _INV_SQRT_2PI * jnp.exp(-0.5 * x * x)
    return (g * d,)


@nnop("gelu(Tensor input, str approximate='none') -> Tensor", dtype="none", saves=("input",),
      grad=_gelu_grad)
def gelu(x, approximate="none"):
    _reject("GeluKernelImpl", x, "bic")
    if approximate == "tanh":
        return 0.5 * x * (1 + jnp.tanh(_SQRT_2_PI * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + jax.scipy.special.erf(x * _SQRT1_2))


def _silu_grad(g, out, x):
    s = jax.nn.sigmoid(x) if not _is_complex(x) else 1 / (1 + jnp.exp(-x))
    return (g * _c(s * (1 + x * (1 - s))),)


@nnop("silu(Tensor input) -> Tensor", dtype="none", saves=("input",), grad=_silu_grad)
def silu(x):
    _reject("silu_cpu", x, "bi")
    if _is_complex(x):
        return x / (1 + jnp.exp(-x))
    return x * jax.nn.sigmoid(x)


def _mish_grad(g, out, x):
    sp = jax.nn.softplus(x)
    t = jnp.tanh(sp)
    return (g * (t + x * jax.nn.sigmoid(x) * (1 - t * t)),)


@nnop("mish(Tensor input) -> Tensor", dtype="none", saves=("input",), grad=_mish_grad)
def mish(x):
    _reject("mish_cpu", x, "bic")
    return x * jnp.tanh(jax.nn.softplus(x))


def _softplus_grad(g, out, x, beta, threshold):
    xb = x * _as(beta, x)
    return (jnp.where(xb > _as(threshold, x), g, g * jax.nn.sigmoid(xb)),)


@nnop("softplus(Tensor input, Tensor beta, Tensor threshold) -> Tensor", dtype="none",
      saves=("input", "beta", "threshold"), grad=_softplus_grad)
def softplus(x, beta, threshold):
    _reject("softplus_cpu", x, "bic")
    b = _as(beta, x)
    xb = x * b
    return jnp.where(xb > _as(threshold, x), x, jax.nn.softplus(xb) / b)


@nnop("softsign(Tensor input) -> Tensor", dtype="float")
def softsign(x):
    return x / (1 + jnp.abs(x))


@nnop("tanhshrink(Tensor input) -> Tensor", dtype="float")
def tanhshrink(x):
    return x - jnp.tanh(x)


@nnop("softshrink(Tensor input, Tensor lambd) -> Tensor", dtype="none", saves=("input", "lambd"),
      grad=lambda g, out, x, lam: (jnp.where(jnp.abs(x) > _as(lam, x), g, 0),))
def softshrink(x, lam):
    _reject("softshrink_check", x, "bic")
    lam = _as(lam, x)
    return jnp.where(x > lam, x - lam, jnp.where(x < -lam, x + lam, jnp.zeros((), x.dtype)))


@nnop("hardshrink(Tensor input, Tensor lambd) -> Tensor", dtype="none", saves=("input", "lambd"),
      grad=lambda g, out, x, lam: (jnp.where((x >= -_as(lam, x)) & (x <= _as(lam, x)), 0, g),))
def hardshrink(x, lam):
    _reject("hardshrink_cpu", x, "bic")
    lam = _as(lam, x)
    return jnp.where((x >= -lam) & (x <= lam), jnp.zeros((), x.dtype), x)


@nnop("hardsigmoid(Tensor input) -> Tensor", dtype="none", saves=("input",),
      grad=lambda g, out, x: (jnp.where((x > -3) & (x < 3), g / 6, 0),))
def hardsigmoid(x):
    _reject("hardsigmoid_cpu", x, "bic")
    return jnp.minimum(jnp.maximum(x + 3, 0), 6) / 6


@nnop("hardswish(Tensor input) -> Tensor", dtype="none", saves=("input",),
      grad=lambda g, out, x: (jnp.where(x <= -3, 0, jnp.where(x < 3, g * (x / 3 + 0.5), g)),))
def hardswish(x):
    _reject("hardswish_cpu", x, "bic")
    return x * jnp.minimum(jnp.maximum(x + 3, 0), 6) / 6


@nnop("log_sigmoid(Tensor input) -> Tensor", dtype="none", saves=("input",),
      grad=lambda g, out, x: (g * jax.nn.sigmoid(-x),))
def log_sigmoid(x):
    _reject("log_sigmoid_cpu", x, "bic")
    return jax.nn.log_sigmoid(x)


@nnop("threshold(Tensor input, Tensor threshold, Tensor value) -> Tensor", dtype="none",
      saves=("input", "threshold"),
      grad=lambda g, out, x, th, v: (jnp.where(x <= _as(th, x), 0, g),))
def threshold(x, th, v):
    if _is_complex(x):
        raise NotImplementedError('"threshold_cpu" not implemented for \'ComplexFloat\'')
    return jnp.where(x <= _as(th, x), _as(v, x), x)


@nnop("glu(Tensor input, int dim=-1) -> Tensor", dtype="none")
def glu(x, dim=-1):
    _reject("glu_cpu", x, "bic")
    if x.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    ax = dim % x.ndim
    n = x.shape[ax]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {ax} is size {n}")
    a, b = jnp.split(x, 2, axis=ax)
    return a * jax.nn.sigmoid(b)


def _prelu_w(x, w):
    if w.size == 1 or x.ndim < 2:
        return w.reshape(()) if w.size == 1 else w
    return w.reshape((-1,) + (1,) * (x.ndim - 2))


@nnop("prelu(Tensor input, Tensor weight) -> Tensor", dtype="promote", broadcast=False)
def prelu(x, w):
    _reject("prelu_cpu", x, "bi")
    return jnp.where(x > 0, x, _prelu_w(x, w) * x)


@nnop("_rrelu(Tensor input, Tensor seed, float lower, float upper) -> Tensor", dtype="none",
      differentiable=("input",))
def _rrelu(x, seed, lower, upper):
    """Training-mode rrelu: a U(lower, upper) slope per negative element."""
    a = jax.random.uniform(key_from(seed), x.shape, x.dtype, lower, upper)
    return jnp.where(x >= 0, x, x * jax.lax.stop_gradient(a))


@nnop("softmin(Tensor input, int dim, ScalarType? dtype=None) -> Tensor", dtype="none",
      saves=("result",),
      grad=lambda g, out, x, dim, dtype=None: (-out * (g - jnp.sum(g * out, axis=dim % max(
          out.ndim, 1), keepdims=True)) if out.ndim else g * 0,))
def softmin(x, dim, dtype=None):
    if dtype is not None:
        from .. import _dtype as D
        x = x.astype(D.to_dtype(dtype).np)
    _reject("softmax_lastdim_kernel_impl", x, "bic")
    if x.ndim == 0:
        return jnp.ones_like(x)
    return jax.nn.softmax(-x, axis=dim % x.ndim)


# ------------------------------------------------------------------------------ linear

def _mm_error(x, w):
    rows = int(np.prod(x.shape[:-1])) if x.ndim > 1 else 1
    wt = (w.shape[1], w.shape[0]) if w.ndim == 2 else (w.shape[0],)
    return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{x.shape[-1]} and "
                        f"{'x'.join(map(str, wt))})")


def _linear_fwd(x, w, b):
    if x.ndim == 0 or w.ndim == 0 or w.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {w.ndim}D"
                           if w.ndim > 2 else "both arguments to linear need to be at least 1D,"
                           f" but they are {x.ndim}D and {w.ndim}D")
    if x.shape[-1] != w.shape[-1]:
        if x.ndim == 1 and w.ndim == 2:
            raise RuntimeError(f"size mismatch, got input ({x.shape[0]}), mat ({w.shape[0]}x"
                               f"{w.shape[1]}), vec ({x.shape[0]})")
        raise _mm_error(x, w)
    out = jnp.matmul(x, w.T) if w.ndim == 2 else jnp.matmul(x, w)
    return out if b is None else out + b


def _linear_grad(g, out, x, w, b):
    if x.ndim >= 2 and w.ndim == 2:
        g2 = g.reshape(-1, g.shape[-1])
        gx = jnp.matmul(g, _c(w))
        # the generic dot: transposing g (late, on the critical path) for the fast one
        # costs more than it saves (blas.t_matmul; compiled W1 8% slower)
        gw = jnp.matmul(g2.T, _c(x.reshape(-1, x.shape[-1])))
        gb = None if b is None else g
        return gx, gw, gb
    args = [x, w] + ([b] if b is not None else [])
    _, vjp = jax.vjp(lambda x_, w_, *bb: _linear_fwd(x_, w_, bb[0] if bb else None), *args)
    grads = vjp(g)
    return grads[0], grads[1], grads[2] if b is not None else None


@nnop("linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor", dtype="promote",
      broadcast=False, grad=_linear_grad)
def linear(x, w, b=None):
    return _linear_fwd(x, w, b)


@nnop("bilinear(Tensor input1, Tensor input2, Tensor weight, Tensor? bias=None) -> Tensor",
      dtype="promote", broadcast=False)
def bilinear(x1, x2, w, b=None):
    if x1.ndim != x2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {x1.ndim} and "
                           f"{x2.ndim}")
    for i in range(x1.ndim - 1):
        if x1.shape[i] != x2.shape[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match: got "
                               f"{x1.shape[i]} and {x2.shape[i]}")
    if x1.shape[-1] != w.shape[1]:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{x1.shape[-1]} but expected {w.shape[1]}")
    if x2.shape[-1] != w.shape[2]:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{x2.shape[-1]} but expected {w.shape[2]}")
    out = jnp.einsum("...i,oij,...j->...o", x1, w, x2)
    return out if b is None else out + b


# ------------------------------------------------------------------------------ dropout

_ALPHA = 1.7580993408473766   # selu's -alpha * scale


def _dropout_noise(x, seed, p, feature_dims, alpha):
    """(multiplier, offset) of torch's dropout: out = x * multiplier + offset."""
    shape = x.shape[:x.ndim - feature_dims] + (1,) * feature_dims if feature_dims else x.shape
    keep = jax.random.bernoulli(key_from(seed), 1.0 - p, shape).astype(x.dtype)
    if alpha:
        a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
        return keep * jnp.asarray(a, x.dtype), (keep - 1) * jnp.asarray(_ALPHA * a, x.dtype) \
            + jnp.asarray(_ALPHA * a * p, x.dtype)
    return keep / jnp.asarray(1.0 - p, x.dtype), None


def _dropout_grad(g, out, x, seed, p, feature_dims, alpha):
    mult, _ = _dropout_noise(jax.ShapeDtypeStruct(x.shape, g.dtype), seed, p, feature_dims,
                             alpha)
    return g * mult, None


@nnop("_dropout(Tensor input, Tensor seed, float p, int feature_dims, bool alpha) -> Tensor",
      dtype="none", differentiable=("input",), saves=("seed",), grad=_dropout_grad,
      node_name="MulBackward0")
def _dropout(x, seed, p, feature_dims, alpha):
    """The mask is re-derived from the seed in backward, so nothing mask-sized is kept."""
    mult, off = _dropout_noise(x, seed, p, feature_dims, alpha)
    return x * mult if off is None else x * mult + off


# ------------------------------------------------------------------------------ embedding

def _embedding_grad(g, out, w, idx, padding_idx, scale_grad_by_freq):
    n = w.shape[0]
    flat = idx.reshape(-1)
    gg = g.reshape(flat.shape[0], -1)
    if padding_idx >= 0:
        gg = jnp.where((flat == padding_idx)[:, None], 0, gg)
    if scale_grad_by_freq:
        counts = jnp.zeros((n,), g.dtype).at[flat].add(1)
        gg = gg / counts[flat][:, None]
    gw = jnp.zeros((n, gg.shape[1]), g.dtype).at[flat].add(gg)
    return gw.reshape(w.shape), None


@nnop("embedding(Tensor weight, Tensor indices, int padding_idx=-1, "
      "bool scale_grad_by_freq=False) -> Tensor", dtype="none", differentiable=("weight",),
      saves=("indices",), grad=_embedding_grad)
def embedding(w, idx, padding_idx=-1, scale_grad_by_freq=False):
    return w[idx]


@nnop("_embedding_bag(Tensor weight, Tensor input, Tensor offsets, Tensor? per_sample_weights, "
      "str mode, int padding_idx, bool include_last_offset) -> Tensor", dtype="none",
      differentiable=("weight", "per_sample_weights"))
def _embedding_bag(w, idx, offsets, psw, mode, padding_idx, include_last_offset):
    n = idx.shape[0]
    nb = offsets.shape[0] - (1 if include_last_offset else 0)
    seg = jnp.searchsorted(offsets, jnp.arange(n, dtype=offsets.dtype), side="right") - 1
    if include_last_offset:
        seg = jnp.where(jnp.arange(n) >= offsets[-1], nb, seg)
    rows = w[idx]
    if psw is not None:
        rows = rows * psw.astype(rows.dtype)[:, None]
    valid = (idx != padding_idx) if padding_idx >= 0 else jnp.ones((n,), bool)
    seg = jnp.where(valid, seg, nb)   # padding rows fall out of every bag
    if mode == "max":
        res = jax.ops.segment_max(rows, seg, nb + 1)[:nb]
        cnt = jax.ops.segment_sum(valid.astype(jnp.int32), seg, nb + 1)[:nb]
        return jnp.where((cnt > 0)[:, None], res, 0).astype(w.dtype)
    s = jax.ops.segment_sum(rows, seg, nb + 1)[:nb]
    if mode == "mean":
        cnt = jax.ops.segment_sum(valid.astype(w.dtype), seg, nb + 1)[:nb]
        s = s / jnp.maximum(cnt, 1)[:, None]
    return s


@nnop("one_hot(Tensor input, int num_classes) -> Tensor", dtype="none")
def one_hot(x, num_classes):
    return (x[..., None] == jnp.arange(num_classes, dtype=x.dtype)).astype(jnp.int64)


# ------------------------------------------------------------------------------ padding

def _pad_index(n, lo, hi, mode):
    j = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    if mode == "circular":
        return np.mod(j, n)
    period = 2 * (n - 1)   # reflect
    if period == 0:
        return np.zeros_like(j)
    j = np.mod(np.abs(j), period)
    return np.where(j > n - 1, period - j, j)


@nnop("_pad(Tensor input, int[] pad, str mode, Tensor? value=None) -> Tensor", dtype="none",
      differentiable=("input",))
def _pad(x, value=None, pad=(), mode="constant"):
    k = len(pad) // 2
    if mode == "constant":
        fill = jnp.zeros((), x.dtype) if value is None else value.astype(x.dtype)
        cfg = [(0, 0, 0)] * (x.ndim - k) + [(pad[2 * (x.ndim - 1 - d)],
                                            pad[2 * (x.ndim - 1 - d) + 1], 0)
                                           for d in range(x.ndim - k, x.ndim)]
        return jax.lax.pad(x, fill, cfg)
    for i in range(k):
        d = x.ndim - 1 - i
        x = jnp.take(x, _pad_index(x.shape[d], pad[2 * i], pad[2 * i + 1], mode), axis=d)
    return x


# ------------------------------------------------------------------------------ distances

def _safe_norm(x, p, axis, keepdims=False):
    """vector p-norm with torch's subgradients: 0 at a zero vector (not NaN), sign(0) = 0,
    and for p=+-inf every element tying the extreme gets the full gradient."""
    if p == 2:
        s = jnp.sum(_abs2(x), axis=axis, keepdims=keepdims)
        pos = s > 0
        return jnp.where(pos, jnp.sqrt(jnp.where(pos, s, 1)), 0)
    a = jnp.where(x == 0, jnp.zeros((), x.real.dtype), jnp.abs(x))
    if p in (math.inf, -math.inf):
        ext = (jnp.max if p > 0 else jnp.min)(jax.lax.stop_gradient(a), axis=axis,
                                                keepdims=True)
        ties = jnp.where(a == ext, a - jax.lax.stop_gradient(a), 0)
        out = ext + jnp.sum(ties, axis=axis, keepdims=True)
        return out if keepdims else jnp.squeeze(out, axis)
    if p == 0:
        return jnp.sum((a != 0).astype(a.dtype), axis=axis, keepdims=keepdims)
    if p == 1:
        return jnp.sum(a, axis=axis, keepdims=keepdims)
    pos_a = a > 0
    s = jnp.sum(jnp.where(pos_a, jnp.where(pos_a, a, 1) ** p, 0), axis=axis, keepdims=keepdims)
    pos = s > 0
    return jnp.where(pos, jnp.where(pos, s, 1) ** (1.0 / p), 0)


def _abs2(x):
    return (x * jnp.conj(x)).real if jnp.iscomplexobj(x) else x * x


@nnop("normalize(Tensor input, float p, int dim, float eps) -> Tensor", dtype="none")
def normalize(x, p, dim, eps):
    n = _safe_norm(x, p, dim % max(x.ndim, 1) if x.ndim else None, keepdims=True)
    return x / jnp.maximum(n, eps).astype(x.dtype)


@nnop("cosine_similarity(Tensor x1, Tensor x2, int dim=1, float eps=1e-08) -> Tensor",
      dtype="promote")
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    shape = jnp.broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = jnp.broadcast_to(x1, shape), jnp.broadcast_to(x2, shape)
    ax = dim % max(len(shape), 1)
    n1 = jnp.maximum(_safe_norm(x1, 2, ax, True), eps)
    n2 = jnp.maximum(_safe_norm(x2, 2, ax, True), eps)
    return jnp.sum((x1 / n1) * (x2 / n2), axis=ax)


@nnop("pairwise_distance(Tensor x1, Tensor x2, float p=2., float eps=1e-06, "
      "bool keepdim=False) -> Tensor", dtype="promote")
def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    nd = max(x1.ndim, x2.ndim)
    d = x1 - x2 + eps
    if nd == 0:
        return jnp.abs(d)
    return _safe_norm(d, p, nd - 1, keepdim)


@nnop("pdist(Tensor input, float p=2.) -> Tensor", dtype="none")
def pdist(x, p=2.0):
    if x.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {x.ndim}D")
    n = x.shape[0]
    i, j = np.triu_indices(n, 1)
    return _safe_norm(x[i] - x[j], p, 1)


# ------------------------------------------------------------------------------ losses

def _class_last(x, t=None):
    """(N, C, d1, ...) -> (N, d1, ..., C) so the class axis is last."""
    return jnp.moveaxis(x, 1, -1) if x.ndim >= 2 else x


def _nll_parts(logp, t, w, ignore_index):
    """Per-element -w[t] * logp[t] and the matching weights (0 where ignored)."""
    lp = _class_last(logp)
    valid = t != ignore_index
    ts = jnp.where(valid, t, 0)
    picked = jnp.take_along_axis(lp, ts[..., None], axis=-1)[..., 0]
    wt = jnp.ones_like(picked) if w is None else w.astype(lp.dtype)[ts]
    wt = jnp.where(valid, wt, 0)
    return -picked * wt, wt


def _nll_reduce(loss, wt, reduction):
    if reduction == "mean":
        return jnp.sum(loss) / jnp.sum(wt)
    return _reduce(loss, reduction)


@nnop("nll_loss(Tensor input, Tensor target, Tensor? weight, str reduction, int ignore_index)"
      " -> Tensor", dtype="none", differentiable=("input",))
def nll_loss(x, t, w, reduction, ignore_index):
    loss, wt = _nll_parts(x, t, w, ignore_index)
    return _nll_reduce(loss, wt, reduction)


def _log_softmax_c(x):
    return jax.nn.log_softmax(x, axis=1 if x.ndim >= 2 else 0)


def _cross_entropy_grad(g, out, x, t, w, reduction, ignore_index, label_smoothing):
    """d loss / d logits = coefficient * (softmax - target distribution): written out (the
    hottest loss) instead of tracing a jax.vjp of the forward."""
    cax = 1 if x.ndim >= 2 else 0
    n_cls = x.shape[cax]
    logp = _log_softmax_c(x)
    p = jnp.exp(logp)
    wshape = [1] * x.ndim
    wshape[cax] = n_cls
    wv = None if w is None else w.astype(x.dtype).reshape(wshape)

    def per_class(v):  # a per-element value broadcast over the class axis
        return jnp.expand_dims(v, cax) if x.ndim >= 2 else v
    ls = label_smoothing
    if jnp.issubdtype(t.dtype, jnp.floating):   # class probabilities
        tt = t.astype(x.dtype)
        if ls > 0:
            tt = tt * (1 - ls) + ls / n_cls
        a = tt if wv is None else tt * wv
        if reduction == "mean":
            d = g / (x.size / n_cls)
        else:
            d = per_class(g) if reduction == "none" else g
        gx = d * (p * jnp.sum(a, axis=cax, keepdims=True) - a)
        gt = -d * logp * (1 if wv is None else wv) * ((1 - ls) if ls > 0 else 1)
        return gx, gt.astype(t.dtype), None
    valid = t != ignore_index
    ts = jnp.where(valid, t, 0)
    onehot = jax.nn.one_hot(ts, n_cls, dtype=x.dtype, axis=cax)
    wt = jnp.ones(t.shape, x.dtype) if w is None else w.astype(x.dtype)[ts]
    wt = jnp.where(valid, wt, 0)
    if reduction == "mean":
        d_nll = g / jnp.sum(wt)
        d_smooth = g / (jnp.sum(wt) if w is not None else jnp.sum(valid))
    else:
        d_nll = d_smooth = g
    gx = per_class(jnp.where(valid, d_nll * wt, 0)) * (p - onehot)  # ignored: 0, as torch
    if ls > 0:
        wb = jnp.ones(wshape, x.dtype) if wv is None else wv
        gs = p * jnp.sum(wb, axis=cax, keepdims=True) - wb
        gx = (1 - ls) * gx + (ls / n_cls) * per_class(jnp.where(valid, d_smooth, 0)) * gs
    return gx, None, None


@nnop("cross_entropy(Tensor input, Tensor target, Tensor? weight, str reduction, "
      "int ignore_index, float label_smoothing) -> Tensor", dtype="none",
      differentiable=("input", "target"), grad=_cross_entropy_grad)
def cross_entropy(x, t, w, reduction, ignore_index, label_smoothing):
    logp = _log_softmax_c(x)
    cax = 1 if x.ndim >= 2 else 0
    n_cls = x.shape[cax]
    wshape = [1] * x.ndim
    wshape[cax] = n_cls
    wv = None if w is None else w.astype(x.dtype).reshape(wshape)
    if jnp.issubdtype(t.dtype, jnp.floating):   # class probabilities
        t = t.astype(x.dtype)
        if label_smoothing > 0:
            t = t * (1 - label_smoothing) + label_smoothing / n_cls
        loss = -(logp * t) if wv is None else -(logp * t * wv)
        loss = jnp.sum(loss, axis=cax)
        if reduction == "mean":
            return jnp.sum(loss) / (x.size / n_cls) if x.size else jnp.sum(loss) / 0.0
        return _reduce(loss, reduction)
    loss, wt = _nll_parts(logp, t, w, ignore_index)
    nll = _nll_reduce(loss, wt, reduction)
    if label_smoothing <= 0:
        return nll
    smooth = -jnp.sum(logp if wv is None else logp * wv, axis=cax)
    smooth = jnp.where(t != ignore_index, smooth, 0)
    if reduction == "mean":
        smooth = jnp.sum(smooth) / (jnp.sum(wt) if w is not None else
                                    jnp.sum(t != ignore_index))
    else:
        smooth = _reduce(smooth, reduction)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / n_cls)


def _bce_grad(g, out, x, t, w, reduction):
    if reduction == "mean":
        g = g / x.size
    if reduction != "none":
        g = jnp.broadcast_to(g, x.shape)
    ww = 1 if w is None else w
    gx = g * ww * (x - t) / jnp.maximum((1 - x) * x, 1e-12)
    gt = g * ww * (jnp.log1p(-x) - jnp.log(x))
    return gx, gt, None


@nnop("binary_cross_entropy(Tensor input, Tensor target, Tensor? weight, str reduction) -> "
      "Tensor", dtype="promote", broadcast=False, grad=_bce_grad,
      differentiable=("input", "target"))
def binary_cross_entropy(x, t, w, reduction):
    _reject("binary_cross_entropy", x, "bic")
    loss = -(t * jnp.maximum(jnp.log(x), -100) + (1 - t) * jnp.maximum(jnp.log1p(-x), -100))
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


@nnop("binary_cross_entropy_with_logits(Tensor input, Tensor target, Tensor? weight, "
      "Tensor? pos_weight, str reduction) -> Tensor", dtype="promote", broadcast=False)
def binary_cross_entropy_with_logits(x, t, w, pw, reduction):
    sp = jax.nn.softplus(-x)   # log(1 + exp(-x))
    if pw is not None:
        loss = (1 - t) * x + (1 + (pw - 1) * t) * sp
    else:
        loss = (1 - t) * x + sp
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


def _weighted(loss, w, reduction):
    """mse/l1/huber with `weight`: mean divides by the weight total, as torch does."""
    if w is None:
        return _reduce(loss, reduction)
    loss = loss * w
    if reduction == "mean":
        return jnp.sum(loss) / jnp.sum(jnp.broadcast_to(w, loss.shape))
    return _reduce(loss, reduction)


@nnop("mse_loss(Tensor input, Tensor target, Tensor? weight, str reduction) -> Tensor",
      dtype="promote")
def mse_loss(x, t, w, reduction):
    d = x - t
    return _weighted(d * d, w, reduction)


@nnop("l1_loss(Tensor input, Tensor target, Tensor? weight, str reduction) -> Tensor",
      dtype="promote")
def l1_loss(x, t, w, reduction):
    return _weighted(jnp.abs(x - t), w, reduction)


@nnop("smooth_l1_loss(Tensor input, Tensor target, str reduction, float beta) -> Tensor",
      dtype="promote")
def smooth_l1_loss(x, t, reduction, beta):
    d = jnp.abs(x - t)
    if beta == 0:
        return _reduce(d, reduction)
    return _reduce(jnp.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta), reduction)


@nnop("huber_loss(Tensor input, Tensor target, Tensor? weight, str reduction, float delta) -> "
      "Tensor", dtype="promote")
def huber_loss(x, t, w, reduction, delta):
    d = jnp.abs(x - t)
    loss = jnp.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))
    return _reduce(loss if w is None else loss * w, reduction)   # mean: a plain mean here


@nnop("kl_div(Tensor input, Tensor target, str reduction, bool log_target) -> Tensor",
      dtype="promote")
def kl_div(x, t, reduction, log_target):
    if log_target:
        loss = jnp.exp(t) * (t - x)
    else:
        loss = jax.scipy.special.xlogy(t, t) - t * x
    if reduction == "batchmean":
        return jnp.sum(loss) / x.shape[0] if x.ndim else jnp.sum(loss)
    return _reduce(loss, reduction)


@nnop("poisson_nll_loss(Tensor input, Tensor target, bool log_input, bool full, float eps, "
      "str reduction) -> Tensor", dtype="promote")
def poisson_nll_loss(x, t, log_input, full, eps, reduction):
    loss = jnp.exp(x) - t * x if log_input else x - t * jnp.log(x + eps)
    if full:
        ts = jnp.where(t > 1, t, 2)
        st = ts * jnp.log(ts) - ts + 0.5 * jnp.log(2 * math.pi * ts)
        loss = loss + jnp.where(t > 1, st, 0)
    return _reduce(loss, reduction)


@nnop("gaussian_nll_loss(Tensor input, Tensor target, Tensor var, bool full, float eps, "
      "str reduction) -> Tensor", dtype="promote", broadcast=False)
def gaussian_nll_loss(x, t, var, full, eps, reduction):
    # torch clamps var in place under no_grad: the gradient passes through unclamped
    var = var + jax.lax.stop_gradient(jnp.maximum(var, eps) - var)
    loss = 0.5 * (jnp.log(var) + (x - t) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


@nnop("margin_ranking_loss(Tensor input1, Tensor input2, Tensor target, Tensor margin, "
      "str reduction) -> Tensor", dtype="promote", promote=("input1", "input2", "target"))
def margin_ranking_loss(x1, x2, t, margin, reduction):
    return _reduce(jnp.maximum(-t * (x1 - x2) + _as(margin, x1), 0), reduction)


@nnop("hinge_embedding_loss(Tensor input, Tensor target, Tensor margin, str reduction) -> "
      "Tensor", dtype="promote", promote=("input", "target"))
def hinge_embedding_loss(x, t, margin, reduction):
    m = jnp.maximum(_as(margin, x) - x, 0)
    out = jnp.where(t != 1, m, 0) + jnp.where(t != -1, x, 0)
    return _reduce(out, reduction)


@nnop("soft_margin_loss(Tensor input, Tensor target, str reduction) -> Tensor",
      dtype="promote")
def soft_margin_loss(x, t, reduction):
    return _reduce(jax.nn.softplus(-t * x), reduction)


@nnop("cosine_embedding_loss(Tensor input1, Tensor input2, Tensor target, Tensor margin, "
      "str reduction) -> Tensor", dtype="promote", promote=("input1", "input2"),
      broadcast=False)
def cosine_embedding_loss(x1, x2, t, margin, reduction):
    ax = x1.ndim - 1
    eps = 1e-12
    prod = jnp.sum(x1 * x2, axis=ax)
    m1 = jnp.sum(x1 * x1, axis=ax) + eps
    m2 = jnp.sum(x2 * x2, axis=ax) + eps
    cos = prod / jnp.sqrt(m1 * m2)
    out = jnp.where(t == 1, 1 - cos, 0) + jnp.where(t == -1, jnp.maximum(
        cos - _as(margin, cos), 0), 0)
    return _reduce(out, reduction)


@nnop("multilabel_soft_margin_loss(Tensor input, Tensor target, Tensor? weight, str reduction)"
      " -> Tensor", dtype="promote", broadcast=False)
def multilabel_soft_margin_loss(x, t, w, reduction):
    loss = -(t * jax.nn.log_sigmoid(x) + (1 - t) * jax.nn.log_sigmoid(-x))
    if w is not None:
        loss = loss * w
    ax = x.ndim - 1
    loss = jnp.sum(loss, axis=ax) / x.shape[ax]
    return _reduce(loss, reduction)


@nnop("multilabel_margin_loss(Tensor input, Tensor target, str reduction) -> Tensor",
      dtype="none", differentiable=("input",))
def multilabel_margin_loss(x, t, reduction):
    if x.ndim == 0:
        x, t = x.reshape(1), t.reshape(1)
    c = x.shape[-1]
    valid = jnp.cumprod((t != -1).astype(jnp.int32), axis=-1).astype(bool)  # before first -1
    ts = jnp.where(valid, t, 0)
    is_t = jnp.any((ts[..., :, None] == jnp.arange(c)) & valid[..., :, None], axis=-2)
    xt = jnp.take_along_axis(x, ts, axis=-1)               # (..., C): x at each target slot
    h = jnp.maximum(1 - xt[..., :, None] + x[..., None, :], 0)   # (..., j, i)
    h = jnp.where(valid[..., :, None] & ~is_t[..., None, :], h, 0)
    loss = jnp.sum(h, axis=(-1, -2)) / c
    return _reduce(loss, reduction)


@nnop("multi_margin_loss(Tensor input, Tensor target, int p, Tensor margin, Tensor? weight, "
      "str reduction) -> Tensor", dtype="none", differentiable=("input",))
def multi_margin_loss(x, t, margin, w, p, reduction):
    _reject("multi_margin_loss_cpu", x, "bic")
    x2 = x if x.ndim == 2 else x.reshape(1, -1)
    t2 = t.reshape(-1)
    c = x2.shape[1]
    xy = jnp.take_along_axis(x2, t2[:, None], axis=1)
    h = jnp.maximum(_as(margin, x) - xy + x2, 0)
    if p == 2:
        h = h * h
    if w is not None:
        h = h * w.astype(x.dtype)[t2][:, None]
    h = jnp.where(jnp.arange(c)[None, :] == t2[:, None], 0, h)
    loss = jnp.sum(h, axis=1) / c
    if x.ndim < 2:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


@nnop("triplet_margin_loss(Tensor anchor, Tensor positive, Tensor negative, Tensor margin, "
      "float p, float eps, bool swap, str reduction) -> Tensor", dtype="promote",
      promote=("anchor", "positive", "negative"), broadcast=False)
def triplet_margin_loss(a, pos, neg, margin, p, eps, swap, reduction):
    dp = pairwise_distance.fwd(a, pos, p, eps)
    dn = pairwise_distance.fwd(a, neg, p, eps)
    if swap:
        dn = jnp.minimum(dn, pairwise_distance.fwd(pos, neg, p, eps))
    return _reduce(jnp.maximum(_as(margin, dp) + dp - dn, 0), reduction)


# ------------------------------------------------------------------------------ CTC

def _lse(*xs):
    """logsumexp of a few arrays with finite gradients when every term is -inf."""
    m = xs[0]
    for v in xs[1:]:
        m = jnp.maximum(m, v)
    ms = jnp.where(jnp.isfinite(m), m, 0)
    s = sum(jnp.exp(v - ms) for v in xs)
    pos = s > 0
    return jnp.where(pos, jnp.log(jnp.where(pos, s, 1)) + ms, -jnp.inf)


def _ctc_nll(lp, targets, in_len, tg_len, blank):
    """Per-sample -log p(target | input), lp: (T, N, C), targets: (N, S)."""
    T, N, _ = lp.shape
    S = targets.shape[1]
    L = 2 * S + 1
    ext = jnp.full((N, L), blank, targets.dtype).at[:, 1::2].set(targets)
    prev2 = jnp.concatenate([jnp.full((N, 2), blank, ext.dtype), ext[:, :-2]], axis=1)
    skip = (ext != blank) & (ext != prev2)
    skip = skip.at[:, :2].set(False)
    pos = jnp.arange(L)
    valid_pos = pos[None, :] < (2 * tg_len[:, None] + 1)
    ninf = jnp.asarray(-jnp.inf, lp.dtype)
    emit0 = jnp.take_along_axis(lp[0], ext, axis=1)
    a0 = jnp.where((pos[None, :] < 2) & valid_pos, emit0, ninf)

    def step(alpha, inp):
        lpt, t = inp
        emit = jnp.take_along_axis(lpt, ext, axis=1)
        a1 = jnp.concatenate([jnp.full((N, 1), ninf), alpha[:, :-1]], axis=1)
        a2 = jnp.concatenate([jnp.full((N, 2), ninf), alpha[:, :-2]], axis=1)
        a2 = jnp.where(skip, a2, ninf)
        new = _lse(alpha, a1, a2) + emit
        new = jnp.where(valid_pos, new, ninf)
        return jnp.where((t < in_len)[:, None], new, alpha), None

    alpha, _ = jax.lax.scan(step, a0, (lp[1:], jnp.arange(1, T)))
    last = 2 * tg_len
    e1 = jnp.take_along_axis(alpha, last[:, None], axis=1)[:, 0]
    e2 = jnp.take_along_axis(alpha, jnp.maximum(last - 1, 0)[:, None], axis=1)[:, 0]
    e2 = jnp.where(tg_len > 0, e2, ninf)
    return -_lse(e1, e2)


def _ctc_forward(lp, targets, in_len, tg_len, blank, reduction, zero_infinity):
    nll = _ctc_nll(lp, targets, in_len, tg_len, blank)
    if zero_infinity:
        nll = jnp.where(jnp.isinf(nll), 0, nll)
    if reduction == "mean":
        return jnp.mean(nll / jnp.maximum(tg_len, 1).astype(nll.dtype))
    if reduction == "sum":
        return jnp.sum(nll)
    return nll


def _ctc_grad(g, out, lp, targets, in_len, tg_len, blank, reduction, zero_infinity):
    """torch's CTC gradient is exp(log_probs) - posterior (the softmax-input gradient), not
    the true derivative in log_probs; match it so results agree with torch exactly."""
    _, vjp = jax.vjp(lambda a: _ctc_forward(a, targets, in_len, tg_len, blank, reduction,
                                            zero_infinity), lp)
    (gl,) = vjp(g)
    T, N = lp.shape[0], lp.shape[1]
    if reduction == "mean":
        per = jnp.broadcast_to(g / N, (N,)) / jnp.maximum(tg_len, 1).astype(lp.dtype)
    else:
        per = jnp.broadcast_to(g, (N,))
    nll = _ctc_nll(lp, targets, in_len, tg_len, blank)
    if zero_infinity:
        per = jnp.where(jnp.isinf(nll), 0, per)
    live = (jnp.arange(T)[:, None] < in_len[None, :]).astype(lp.dtype) * per[None, :]
    return gl + jnp.exp(lp) * live[:, :, None], None, None, None


@nnop("_ctc_loss(Tensor log_probs, Tensor targets, Tensor input_lengths, Tensor target_lengths,"
      " int blank, str reduction, bool zero_infinity) -> Tensor", dtype="none",
      differentiable=("log_probs",), grad=_ctc_grad, node_name="CtcLossBackward0")
def _ctc_loss(lp, targets, in_len, tg_len, blank, reduction, zero_infinity):
    return _ctc_forward(lp, targets, in_len, tg_len, blank, reduction, zero_infinity)


# ------------------------------------------------------------------------------ attention

def _sdpa_fwd(q, k, v, mask, seed, dropout_p, is_causal, scale, enable_gqa):
    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]
    sc = 1 / math.sqrt(E) if scale is None else scale
    if enable_gqa and q.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        rep = q.shape[-3] // k.shape[-3]
        k = jnp.repeat(k, rep, axis=-3)
        v = jnp.repeat(v, rep, axis=-3)
    s = jnp.matmul(q, jnp.swapaxes(k, -1, -2)) * jnp.asarray(sc, q.dtype)
    if is_causal:
        s = jnp.where(jnp.tril(jnp.ones((L, S), bool)), s, -jnp.inf)
    if mask is not None:
        s = jnp.where(mask, s, -jnp.inf) if mask.dtype == jnp.bool_ else s + mask.astype(s.dtype)
    m = jnp.max(s, axis=-1, keepdims=True)
    m = jax.lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0))
    e = jnp.exp(s - m)
    den = jnp.sum(e, axis=-1, keepdims=True)
    p = e / jnp.where(den > 0, den, 1)        # fully masked rows give 0, as torch's math path
    if dropout_p > 0:
        keep = jax.random.bernoulli(key_from(seed), 1.0 - dropout_p, p.shape)
        p = jnp.where(keep, p / (1 - dropout_p), 0)
    return jnp.matmul(p, v)


@nnop("scaled_dot_product_attention(Tensor query, Tensor key, Tensor value, "
      "Tensor? attn_mask=None, Tensor? seed=None, float dropout_p=0., bool is_causal=False, "
      "float? scale=None, bool enable_gqa=False) -> Tensor", dtype="none",
      differentiable=("query", "key", "value", "attn_mask"))
def scaled_dot_product_attention(q, k, v, mask=None, seed=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    return _sdpa_fwd(q, k, v, mask, seed, dropout_p, is_causal, scale, enable_gqa)


# ------------------------------------------------------------------------------ torch.X aliases

def _alias(name, impl, method=False):
    """torch.<name> for functionals torch also exposes at top level (unless another family
    already declared it); resolved lazily since nn.functional imports jtorch."""
    if name in FUNCTIONS:
        return
    function(name, method=method and name not in METHODS)(impl)


def _F():
    from ..nn import functional
    return functional


_alias("pdist", lambda input, p=2: _F().pdist(input, p))
_alias("cosine_similarity", lambda x1, x2, dim=1, eps=1e-8: _F().cosine_similarity(x1, x2, dim,
                                                                                    eps))
_alias("pairwise_distance", lambda x1, x2, p=2.0, eps=1e-6, keepdim=False:
       _F().pairwise_distance(x1, x2, p, eps, keepdim))
_alias("prelu", lambda input, weight: _F().prelu(input, weight), method=True)
_alias("hardshrink", lambda input, lambd=0.5: _F().hardshrink(input, lambd), method=True)
_alias("selu", lambda input: _F().selu(input))
_alias("selu_", lambda input: _F().selu_(input))
_alias("celu", lambda input, alpha=1.0: _F().celu(input, alpha))
_alias("celu_", lambda input, alpha=1.0: _F().celu_(input, alpha))
_alias("rrelu", lambda input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None:
       _F().rrelu(input, lower, upper, training))
_alias("threshold", lambda input, threshold, value: _F().threshold(input, threshold, value))
_alias("threshold_", lambda input, threshold, value: _F().threshold_(input, threshold, value))
_alias("bilinear", lambda input1, input2, weight, bias=None: _F().bilinear(input1, input2,
                                                                           weight, bias))
_alias("dropout", lambda input, p, train: _F().dropout(input, p, train))
_alias("alpha_dropout", lambda input, p, train: _F().alpha_dropout(input, p, train))
_alias("feature_alpha_dropout", lambda input, p, train: _F().feature_alpha_dropout(input, p,
                                                                                   train))
_alias("feature_dropout", lambda input, p, train: _F()._dropout(
    input, p, train, False, max(input.dim() - 2, 0), False, "feature_dropout"))
