"""torch.nn.functional on jtorch.

Thin wrappers with torch's Python signatures: argument checks (torch's exception types and
messages) happen here, then each functional is one registered op from
jtorch/_ops/nn_ops.py, i.e. one jitted call. Data-dependent checks (targets or indices
out of range) run eagerly on CPU-resident, concrete tensors only, so accelerator and
traced code never stalls on a host sync.
"""
from __future__ import annotations

import math
import warnings

import jax
import numpy as np

import jtorch as _jt
from .. import _dtype as D
from .._ops import nn_ops as O
from .._ops.dispatch import _call
from .._ops.random_ops import _seed
from .._tensor import Tensor

__all__ = [
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_",
    "celu", "celu_", "gelu", "silu", "mish", "softplus", "softsign", "softshrink", "hardshrink",
    "tanhshrink", "hardtanh", "hardtanh_", "hardsigmoid", "hardswish", "sigmoid", "tanh",
    "logsigmoid", "prelu", "rrelu", "rrelu_", "glu", "threshold", "threshold_", "softmin",
    "softmax", "log_softmax", "gumbel_softmax", "linear", "bilinear", "dropout", "dropout1d",
    "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout", "embedding",
    "embedding_bag", "one_hot", "pad", "normalize", "cosine_similarity", "pairwise_distance",
    "pdist", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
    "kl_div", "poisson_nll_loss", "gaussian_nll_loss", "ctc_loss", "margin_ranking_loss",
    "hinge_embedding_loss", "cosine_embedding_loss", "multilabel_margin_loss",
    "multilabel_soft_margin_loss", "soft_margin_loss", "multi_margin_loss",
    "triplet_margin_loss", "triplet_margin_with_distance_loss", "scaled_dot_product_attention",
    "multi_head_attention_forward", "linear_cross_entropy",
]


# ------------------------------------------------------------------------------ helpers

def _inplace(input, result, name):
    return input._inplace_assign(result, name)


def _host(t):
    """t's values as numpy when it is concrete and on the CPU (cheap to check), else None."""
    if not isinstance(t, Tensor):
        return None
    v = t._value
    if isinstance(v, jax.core.Tracer):
        return None
    try:
        if any(d.platform != "cpu" for d in v.devices()):
            return None
    except Exception:
        return None
    return np.asarray(v)


_REDUCTIONS = ("none", "mean", "sum")


def _legacy_reduction(size_average, reduce, emit_warning=True):
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{ret}' instead.", stacklevel=3)
    return ret


def _reduction(size_average, reduce, reduction, allowed=_REDUCTIONS):
    if size_average is not None or reduce is not None:
        return _legacy_reduction(size_average, reduce)
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use "
                      "reduction='mean' instead.", stacklevel=3)
        return "mean"
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _num(v):
    """A Python number, or a 0-d tensor's value (for argument checks)."""
    return v.item() if isinstance(v, Tensor) else v


def _dt_name(t):
    return D.type_name(t.dtype)


def _not_differentiable(fn, arg, t):
    """torch refuses inputs its kernel has no derivative for."""
    if isinstance(t, Tensor) and t.requires_grad and _jt.is_grad_enabled():
        raise RuntimeError(f"The function '{fn}' is not differentiable with respect to argument "
                           f"'{arg}'. This input cannot have requires_grad True.")


# ------------------------------------------------------------------------------ activations

def relu(input, inplace=False):
    return _jt.relu_(input) if inplace else _jt.relu(input)


def relu_(input):
    return _jt.relu_(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    res = _call(O.hardtanh, (input, min_val, max_val), ())
    return _inplace(input, res, "hardtanh_") if inplace else res


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    res = _call(O.leaky_relu, (input, negative_slope), ())
    return _inplace(input, res, "leaky_relu_") if inplace else res


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


def _elu(input, alpha, scale, input_scale, inplace, name):
    res = _call(O.elu, (input, alpha, scale, input_scale), ())
    return _inplace(input, res, name + "_") if inplace else res


def elu(input, alpha=1.0, inplace=False):
    return _elu(input, alpha, 1.0, 1.0, inplace, "elu")


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    return _elu(input, _SELU_ALPHA, _SELU_SCALE, 1.0, inplace, "selu")


def selu_(input):
    return selu(input, True)


def celu(input, alpha=1.0, inplace=False):
    if _num(alpha) == 0:
        raise RuntimeError("ZeroDivisionError")
    return _elu(input, alpha, 1.0, 1.0 / _num(alpha), inplace, "celu")


def celu_(input, alpha=1.0):
    return celu(input, alpha, True)


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _call(O.gelu, (input,), (approximate,))


def silu(input, inplace=False):
    res = _call(O.silu, (input,), ())
    return _inplace(input, res, "silu_") if inplace else res


def mish(input, inplace=False):
    res = _call(O.mish, (input,), ())
    return _inplace(input, res, "mish_") if inplace else res


def softplus(input, beta=1.0, threshold=20.0):
    return _call(O.softplus, (input, beta, threshold), ())


def softsign(input):
    return _call(O.softsign, (input,), ())


def tanhshrink(input):
    return _call(O.tanhshrink, (input,), ())


def _check_lambd(input, lambd):
    lam = _num(lambd)
    if lam < 0:
        big = {"Double": "1.79769e+308", "Half": "65504", "BFloat16": "3.38953e+38"}.get(
            _dt_name(input), "3.40282e+38")
        raise RuntimeError(f"lambda must be in range [0, {big}] for input dtype "
                           f"{_dt_name(input)}, but found {lam:g}")


def softshrink(input, lambd=0.5):
    _check_lambd(input, lambd)
    return _call(O.softshrink, (input, lambd), ())


def hardshrink(input, lambd=0.5):
    return _call(O.hardshrink, (input, lambd), ())


def hardsigmoid(input, inplace=False):
    res = _call(O.hardsigmoid, (input,), ())
    return _inplace(input, res, "hardsigmoid_") if inplace else res


def hardswish(input, inplace=False):
    res = _call(O.hardswish, (input,), ())
    return _inplace(input, res, "hardswish_") if inplace else res


def sigmoid(input):
    return _jt.sigmoid(input)


def tanh(input):
    return _jt.tanh(input)


def logsigmoid(input):
    return _call(O.log_sigmoid, (input,), ())


def threshold(input, threshold, value, inplace=False):
    res = _call(O.threshold, (input, threshold, value), ())
    return _inplace(input, res, "threshold_") if inplace else res


def threshold_(input, threshold, value):
    return globals()["threshold"](input, threshold, value, True)


def glu(input, dim=-1):
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    return _call(O.glu, (input,), (dim,))


def prelu(input, weight):
    if input.dim() == 0 and weight.numel() != 1:
        raise RuntimeError("Not allow zero-dim input tensor.")
    channels = input.shape[1] if input.dim() >= 2 else 1
    if weight.numel() != 1 and weight.numel() != channels:
        raise RuntimeError("Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {weight.numel()} and channel size = "
                           f"{channels}.")
    return _call(O.prelu, (input, weight), ())


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    if training:
        res = _call(O._rrelu, (input, _seed(None)), (float(lower), float(upper)))
    else:
        res = _call(O.leaky_relu, (input, (lower + upper) / 2), ())
    return _inplace(input, res, "rrelu_") if inplace else res


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, True)


def _softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmax", input.dim(), _stacklevel)
    return _jt.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim(), _stacklevel)
    return _jt.log_softmax(input, dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmin", input.dim(), _stacklevel)
    return _call(O.softmin, (input,), (dim, dtype))


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -_jt.empty_like(logits).exponential_().log()
    y = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y
    index = y.max(dim, keepdim=True)[1]
    y_hard = _jt.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y.detach() + y


# ------------------------------------------------------------------------------ linear

_C10_NAMES = {"Float": "float", "Double": "double", "Half": "c10::Half",
              "BFloat16": "c10::BFloat16", "Long": "long int", "Int": "int",
              "ComplexFloat": "c10::complex<float>", "ComplexDouble": "c10::complex<double>"}


from .._ops import dispatch as _dispatch  # noqa: E402


def linear(input, weight, bias=None):
    if input.dtype != weight.dtype and input.dim() >= 1 and weight.dim() == 2 \
            and not _dispatch._autocast_on:  # autocast casts both to one dtype first
        raise RuntimeError("expected m1 and m2 to have the same dtype, but got: "
                           f"{_C10_NAMES.get(_dt_name(input), _dt_name(input))} != "
                           f"{_C10_NAMES.get(_dt_name(weight), _dt_name(weight))}")
    return _call(O.linear, (input, weight, bias), ())


def bilinear(input1, input2, weight, bias=None):
    return _call(O.bilinear, (input1, input2, weight, bias), ())


# ------------------------------------------------------------------------------ dropout

def _dropout(input, p, training, inplace, feature_dims, alpha, name):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0 or input.numel() == 0:
        return input
    if p == 1:
        res = input * _jt.zeros((), dtype=input.dtype)
    else:
        res = _call(O._dropout, (input, _seed(None)), (float(p), feature_dims, alpha))
    return _inplace(input, res, name + "_") if inplace else res


def dropout(input, p=0.5, training=True, inplace=False):
    return _dropout(input, p, training, inplace, 0, False, "dropout")


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    return _dropout(input, p, training, inplace, 0, True, "alpha_dropout")


def dropout1d(input, p=0.5, training=True, inplace=False):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.dim()}D input. Note "
            "that dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
            "dimension, a channel dimension, and an optional batch dimension (i.e. 2D or 3D "
            "inputs).")
    return _dropout(input, p, training, inplace, 1, False, "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    nd = input.dim()
    if nd not in (3, 4):
        warnings.warn(f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated "
                      "and will result in an error in a future release. To retain the behavior "
                      "and silence this warning, please use dropout instead. Note that "
                      "dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 3D or 4D inputs).", stacklevel=2)
    if nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change "
                      "in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
                      "dropout behavior, please switch to using dropout1d instead.",
                      stacklevel=2)
    return _dropout(input, p, training, inplace, max(nd - 2, 0), False, "dropout2d")


def dropout3d(input, p=0.5, training=True, inplace=False):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    nd = input.dim()
    if nd not in (4, 5):
        warnings.warn(f"dropout3d: Received a {nd}-D input to dropout3d, which is deprecated "
                      "and will result in an error in a future release. To retain the behavior "
                      "and silence this warning, please use dropout instead. Note that "
                      "dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 4D or 5D inputs).", stacklevel=2)
    fd = 3 if nd in (4, 5) else max(nd - 2, 0)
    return _dropout(input, p, training, inplace, fd, False, "dropout3d")


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    return _dropout(input, p, training, inplace, max(input.dim() - 2, 0), True,
                    "feature_alpha_dropout")


# ------------------------------------------------------------------------------ embedding

def _check_indices(input, fn="embedding"):
    if input.dtype not in (D.int64, D.int32):
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the "
                           "following scalar types: Long, Int; but got "
                           f"{_tensor_type_name(input)} instead (while checking arguments for "
                           f"{fn})")


def _tensor_type_name(t):
    return {"Float": "torch.FloatTensor", "Double": "torch.DoubleTensor",
            "Half": "torch.HalfTensor", "BFloat16": "torch.BFloat16Tensor",
            "Bool": "torch.BoolTensor", "Byte": "torch.ByteTensor",
            "Char": "torch.CharTensor", "Short": "torch.ShortTensor"}.get(
        _dt_name(t), f"torch.{_dt_name(t)}Tensor")


def _check_range(idx, n):
    h = _host(idx)
    if h is not None and h.size and (h.min() < 0 or h.max() >= n):
        raise IndexError("index out of range in self")


def _padding_idx(padding_idx, weight):
    if padding_idx is None:
        return -1
    n = weight.size(0)
    if padding_idx > 0:
        assert padding_idx < n, "Padding_idx must be within num_embeddings"
    elif padding_idx < 0:
        assert padding_idx >= -n, "Padding_idx must be within num_embeddings"
        padding_idx = n + padding_idx
    return padding_idx


def _embedding_renorm_(weight, input, max_norm, norm_type):
    """torch.embedding_renorm_: rows used by `input` with norm > max_norm are scaled down."""
    with _jt.no_grad():
        rows = _jt.unique(input.reshape(-1))
        w = weight[rows]
        norms = _jt.linalg.vector_norm(w, norm_type, dim=1, keepdim=True)
        scale = _jt.where(norms > max_norm, max_norm / (norms + 1e-7),
                          _jt.ones((), dtype=w.dtype))
        weight[rows] = w * scale
    return weight


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    padding_idx = _padding_idx(padding_idx, weight)
    _check_indices(input)
    _check_range(input, weight.size(0))
    if max_norm is not None:
        _embedding_renorm_(weight, input, max_norm, norm_type)
    return _call(O.embedding, (weight, input), (padding_idx, bool(scale_grad_by_freq)))


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,
                  scale_grad_by_freq=False, mode="mean", sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    if weight.dtype == D.int64 and input.is_floating_point():
        warnings.warn("Argument order of nn.functional.embedding_bag was changed. Usage "
                      "`embedding_bag(weight, input, ...)` is deprecated, and should now be "
                      "`embedding_bag(input, weight, ...)`.", stacklevel=2)
        weight, input = input, weight
    if per_sample_weights is not None and input.shape != per_sample_weights.shape:
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) "
                         f"is not None, then it must have the same shape as the input "
                         f"({input.shape})")
    if weight.dim() != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight.dim()}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, but got {mode}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            "embedding_bag: per_sample_weights was not None. per_sample_weights is only "
            f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
            "GitHub.")
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences. However, found "
                             f"offsets of type {type(offsets).__name__}")
        b, n = input.shape
        offsets = _jt.arange(0, b * n, n, dtype=input.dtype)
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.dim()}")
    _check_indices(input, "embedding_bag")
    h = _host(offsets)
    if h is not None and h.size and h[0] != 0:
        raise RuntimeError("offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
                           f"has to start from position 0. However, got {h[0]}")
    _check_range(input, weight.size(0))
    padding_idx = _padding_idx(padding_idx, weight)
    if max_norm is not None:
        _embedding_renorm_(weight, input, max_norm, norm_type)
    offsets = offsets.to(input.dtype)
    return _call(O._embedding_bag, (weight, input, offsets, per_sample_weights),
                 (mode, padding_idx, bool(include_last_offset)))


def one_hot(tensor, num_classes=-1):
    if tensor.dtype != D.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    h = _host(tensor)
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.max().item()) + 1
    if h is not None and h.size:
        if h.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if h.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return _call(O.one_hot, (tensor,), (int(num_classes),))


# ------------------------------------------------------------------------------ padding

_PAD_SUPPORT = ("\nSupported combinations for non-constant padding:\n"
                "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
                "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
                "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def pad(input, pad, mode="constant", value=None):
    pad = tuple(int(p) for p in pad)
    nd = input.dim()
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) > 2 * nd:
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{nd}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode == "constant":
        for i in range(len(pad) // 2):
            n = input.shape[nd - 1 - i] + pad[2 * i] + pad[2 * i + 1]
            if n < 0:
                raise RuntimeError(
                    f"The input size {input.shape[nd - 1 - i]}, plus negative padding "
                    f"{pad[2 * i]} and {pad[2 * i + 1]} resulted in a negative output size, "
                    f"which is invalid. Check dimension {nd - 1 - i} of your input.")
        return _call(O._pad, (input, value), (pad, mode))
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    k = len(pad) // 2
    if not (1 <= k <= 3 and nd in (k + 1, k + 2)):
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {nd}D input "
                                  f"tensor.{_PAD_SUPPORT}")
    for i in range(k):
        d = nd - 1 - i
        n = input.shape[d]
        lo, hi = pad[2 * i], pad[2 * i + 1]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({lo}, {hi}) "
                               f"at dimension {d} of input {list(input.shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "replicate" and n == 0:
            raise RuntimeError("padding size is expected to be non-negative")
    return _call(O._pad, (input, None), (pad, mode))


# ------------------------------------------------------------------------------ distances

def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    res = _call(O.normalize, (input,), (float(p), int(dim), float(eps)))
    if out is not None:
        out.copy_(res)
        return out
    return res


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    return _call(O.cosine_similarity, (x1, x2), (int(dim), float(eps)))


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return _call(O.pairwise_distance, (x1, x2), (float(p), float(eps), bool(keepdim)))


def pdist(input, p=2):
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    return _call(O.pdist, (input,), (float(p),))


# ------------------------------------------------------------------------------ class losses

def _check_nll(input, target, weight, ignore_index, n_cls):
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    if input.dim() != 1 and (target.dim() == 0 or input.shape[0] != target.shape[0]):
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0] if target.dim() else 1}).")
    if target.dtype not in (D.int64, D.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{_dt_name(target)}")
    if input.dim() > 2:
        want = [input.shape[0], *input.shape[2:]]
        if list(target.shape) != want:
            raise RuntimeError(f"Expected target size {want}, got {list(target.shape)}")
    elif input.dim() == 2 and target.dim() != 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    elif input.dim() == 1 and target.dim() > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if weight is not None and weight.numel() != n_cls:
        raise RuntimeError(f"weight tensor should be defined either for all {n_cls} classes or "
                           f"no classes but got weight tensor of shape: {list(weight.shape)}")
    h = _host(target)
    if h is not None and h.size:
        bad = (h != ignore_index) & ((h < 0) | (h >= n_cls))
        if bad.any():
            raise IndexError(f"Target {h[bad].flat[0]} is out of bounds.")


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    n_cls = input.shape[1] if input.dim() >= 2 else (input.shape[0] if input.dim() else 0)
    _check_nll(input, target, weight, ignore_index, n_cls)
    _not_differentiable("nll_loss_forward", "weight", weight)
    return _call(O.nll_loss, (input, target, weight), (reduction, int(ignore_index)))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    n_cls = input.shape[1] if input.dim() >= 2 else (input.shape[0] if input.dim() else 0)
    if target.is_floating_point() and tuple(target.shape) == tuple(input.shape):
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        if weight is not None and weight.numel() != n_cls:
            raise RuntimeError(f"weight tensor should be defined either for all {n_cls} "
                               f"classes or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
    else:
        _check_nll(input, target, weight, ignore_index, n_cls)
        _not_differentiable("nll_loss_forward", "weight", weight)
    return _call(O.cross_entropy, (input, target, weight),
                 (reduction, int(ignore_index), float(label_smoothing)))


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None,
                         reduction="mean", ignore_index=None, label_smoothing=0.0,
                         options=None):
    """cross_entropy(linear(input, W, b), target), unchunked (the same numbers as torch's
    reference path). A weight of shape (C, d1, ..., dk, in) gives K-dimensional logits."""
    out_shape = tuple(linear_weight.shape[:-1])
    w2 = linear_weight.reshape(-1, linear_weight.shape[-1])
    b2 = None if linear_bias is None else linear_bias.reshape(-1)
    logits = linear(input, w2, b2)
    if len(out_shape) > 1:
        logits = logits.reshape(*input.shape[:-1], *out_shape)
    return cross_entropy(logits, target, weight, ignore_index=-100 if ignore_index is None
                         else ignore_index, reduction=reduction,
                         label_smoothing=label_smoothing)


def _same_size(input, target):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({_size_repr(target)}) that is different to the "
                      f"input size ({_size_repr(input)}). This will likely lead to incorrect "
                      "results due to broadcasting. Please ensure they have the same size.",
                      stacklevel=3)


def _size_repr(t):
    return f"torch.Size({list(t.shape)})"


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({_size_repr(target)}) that is different to the "
                         f"input size ({_size_repr(input)}) is deprecated. Please ensure they "
                         "have the same size.")
    h = _host(input)
    if h is not None and h.size and ((h < 0) | (h > 1)).any():
        raise RuntimeError("all elements of input should be between 0 and 1")
    _not_differentiable("binary_cross_entropy", "weight", weight)
    if weight is not None:
        weight = weight.expand(input.shape) if tuple(weight.shape) != tuple(input.shape) \
            else weight
    return _call(O.binary_cross_entropy, (input, target, weight), (reduction,))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({_size_repr(target)}) must be the same as input size "
                         f"({_size_repr(input)})")
    _not_differentiable("binary_cross_entropy_with_logits", "weight", weight)
    _not_differentiable("binary_cross_entropy_with_logits", "pos_weight", pos_weight)
    return _call(O.binary_cross_entropy_with_logits, (input, target, weight, pos_weight),
                 (reduction,))


def _pointwise_loss(d, input, target, weight, statics_after):
    _same_size(input, target)
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")
    return _call(d, (input, target, weight), statics_after)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction(size_average, reduce, reduction)
    return _pointwise_loss(O.mse_loss, input, target, weight, (reduction,))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction(size_average, reduce, reduction)
    return _pointwise_loss(O.l1_loss, input, target, weight, (reduction,))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _same_size(input, target)
    return _call(O.smooth_l1_loss, (input, target), (reduction, float(beta)))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    return _pointwise_loss(O.huber_loss, input, target, weight, (reduction, float(delta)))


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    elif reduction not in ("none", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return _call(O.kl_div, (input, target), (reduction, bool(log_target)))


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not a valid value for reduction")
    return _call(O.poisson_nll_loss, (input, target),
                 (bool(log_input), bool(full), float(eps), reduction))


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    if not isinstance(var, Tensor):
        var = _jt.full_like(input, float(var))
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    h = _host(var)
    if h is not None and (h < 0).any():
        raise ValueError("var has negative entry/entries")
    return _call(O.gaussian_nll_loss, (input, target, var), (bool(full), float(eps), reduction))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    reduction = _reduction(None, None, reduction)
    unbatched = log_probs.dim() == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        if targets.dim() == 1:
            targets = targets.unsqueeze(0)
    if not isinstance(input_lengths, Tensor):
        input_lengths = _jt.tensor(list(input_lengths) if isinstance(input_lengths, (list, tuple))
                                   else [input_lengths], dtype=_jt.int64)
    if not isinstance(target_lengths, Tensor):
        target_lengths = _jt.tensor(list(target_lengths)
                                    if isinstance(target_lengths, (list, tuple))
                                    else [target_lengths], dtype=_jt.int64)
    input_lengths = input_lengths.reshape(-1).long()
    target_lengths = target_lengths.reshape(-1).long()
    n = log_probs.shape[1]
    if targets.dim() == 1 and not unbatched:   # concatenated targets -> padded (N, S)
        tl = _host(target_lengths)
        if tl is None:
            raise NotImplementedError("ctc_loss with concatenated 1-D targets needs concrete "
                                      "target_lengths")
        s = int(tl.max()) if tl.size else 0
        starts = np.concatenate([[0], np.cumsum(tl)[:-1]]).astype(np.int64)
        idx = np.minimum(starts[:, None] + np.arange(max(s, 1))[None, :],
                         max(targets.numel() - 1, 0))
        targets = targets[_jt.from_numpy(idx)] if targets.numel() else \
            _jt.zeros((n, max(s, 1)), dtype=_jt.int64)
    h = _host(input_lengths)
    if h is not None and (h > log_probs.shape[0]).any():
        raise RuntimeError(f"Expected input_lengths to have value at most {log_probs.shape[0]},"
                           f" but got value {int(h.max())} (while checking arguments for "
                           "ctc_loss_cpu)")
    res = _call(O._ctc_loss, (log_probs, targets.long(), input_lengths, target_lengths),
                (int(blank), reduction, bool(zero_infinity)))
    if unbatched and reduction == "none":
        res = res.squeeze(0)
    return res


# ------------------------------------------------------------------------------ margin losses

def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {_size_repr(input1)}, input2: "
                           f"{_size_repr(input2)}, target: {_size_repr(target)} ")
    return _call(O.margin_ranking_loss, (input1, input2, target, margin), (reduction,))


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    return _call(O.hinge_embedding_loss, (input, target, margin), (reduction,))


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    _not_differentiable("soft_margin_loss", "target", target)
    return _call(O.soft_margin_loss, (input, target), (reduction,))


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    if input1.dim() != input2.dim():
        raise RuntimeError(f"cosine_embedding_loss : All input tensors should have same "
                           f"dimension but got sizes: input1: {list(input1.shape)}, input2: "
                           f"{list(input2.shape)}")
    if input1.dim() - 1 != target.dim():
        raise RuntimeError(f"{input1.dim()}D target tensor expects {input1.dim() - 1}D input "
                           f"tensors, but found inputs with sizes {list(input1.shape)} and "
                           f"{list(input2.shape)}.")
    return _call(O.cosine_embedding_loss, (input1, input2, target, margin), (reduction,))


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    return _call(O.multilabel_soft_margin_loss, (input, target, weight), (reduction,))


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    if input.dim() > 2 or tuple(input.shape) != tuple(target.shape):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    h = _host(target)
    n_cls = input.shape[-1] if input.dim() else 1
    if h is not None and h.size and ((h < -1) | (h >= n_cls)).any():
        raise RuntimeError("argument #2 'target' is out of range")
    return _call(O.multilabel_margin_loss, (input, target), (reduction,))


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    n_cls = input.shape[-1] if input.dim() else 1
    h = _host(target)
    if h is not None and h.size and ((h < 0) | (h >= n_cls)).any():
        raise RuntimeError("target out of range")
    _not_differentiable("multi_margin_loss", "weight", weight)
    return _call(O.multi_margin_loss, (input, target, margin, weight), (int(p), reduction))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    a, po, ne = anchor.dim(), positive.dim(), negative.dim()
    if not (a == po == ne):
        raise RuntimeError("The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a}D, positive {po}D, "
                           f"and negative {ne}D inputs")
    return _call(O.triplet_margin_loss, (anchor, positive, negative, margin),
                 (float(p), float(eps), bool(swap), reduction))


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, "
                         f"got {margin} instead")
    a, po, ne = anchor.dim(), positive.dim(), negative.dim()
    if not (a == po == ne):
        raise RuntimeError("The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a}D, positive {po}D, "
                           f"and negative {ne}D inputs")
    dist = distance_function if distance_function is not None else pairwise_distance
    dp = dist(anchor, positive)
    dn = dist(anchor, negative)
    if swap:
        dn = _jt.minimum(dn, dist(positive, negative))
    loss = _jt.clamp_min(margin + dp - dn, 0)
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    return loss


# ------------------------------------------------------------------------------ attention

def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(
            "Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{_dt_name(query).lower()} key.dtype: {_dt_name(key).lower()} and value.dtype: "
            f"{_dt_name(value).lower()} instead.")
    if attn_mask is not None and attn_mask.dtype != D.bool and attn_mask.dtype != query.dtype:
        raise RuntimeError(
            f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
            f"attn_mask.dtype: {_dt_name(attn_mask).lower()} and  query.dtype: "
            f"{_dt_name(query).lower()} instead.")
    if not enable_gqa and query.dim() >= 3 and key.dim() >= 3 and \
            query.shape[-3] != key.shape[-3] and key.shape[-3] != 1:
        raise RuntimeError(f"The size of tensor a ({query.shape[-3]}) must match the size of "
                           f"tensor b ({key.shape[-3]}) at non-singleton dimension 1")
    seed = _seed(None) if dropout_p > 0 else None
    return _call(O.scaled_dot_product_attention, (query, key, value, attn_mask, seed),
                 (float(dropout_p), bool(is_causal), None if scale is None else float(scale),
                  bool(enable_gqa)))


def _canonical_mask(mask, name, other=None, other_name="", target_type=None):
    """Boolean masks (True = masked out) -> additive float masks with -inf."""
    if mask is None:
        return None
    if mask.dtype == D.bool:
        return _jt.zeros(mask.shape, dtype=target_type).masked_fill(mask, float("-inf"))
    if not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """torch's reference multi-head attention (sequence-first layout)."""
    batched = query.dim() == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       target_type=query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", target_type=query.dtype)
        if key_padding_mask is not None:
            is_causal = False

    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        if key is value and query is key:
            q, k, v = linear(query, in_proj_weight, in_proj_bias).chunk(3, dim=-1)
        else:
            w_q, w_kv = in_proj_weight.split([embed_dim, 2 * embed_dim])
            b_q, b_kv = (None, None) if in_proj_bias is None else \
                in_proj_bias.split([embed_dim, 2 * embed_dim])
            q = linear(query, w_q, b_q)
            if key is value:
                k, v = linear(key, w_kv, b_kv).chunk(2, dim=-1)
            else:
                w_k, w_v = w_kv.chunk(2)
                b_k, b_v = (None, None) if b_kv is None else b_kv.chunk(2)
                k, v = linear(key, w_k, b_k), linear(value, w_v, b_v)
    else:
        b_q = b_k = b_v = None
        if in_proj_bias is not None:
            b_q, b_k, b_v = in_proj_bias.chunk(3)
        q = linear(query, q_proj_weight, b_q)
        k = linear(key, k_proj_weight, b_k)
        v = linear(value, v_proj_weight, b_v)

    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, "
                                   f"but should be {(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, "
                                   f"but should be {(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        k = _jt.cat([k, bias_k.repeat(1, bsz, 1)])
        v = _jt.cat([v, bias_v.repeat(1, bsz, 1)])
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_k is None \
        else static_k
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_v is None \
        else static_v

    if add_zero_attn:
        zshape = (bsz * num_heads, 1, head_dim)
        k = _jt.cat([k, _jt.zeros(zshape, dtype=k.dtype)], dim=1)
        v = _jt.cat([v, _jt.zeros(zshape, dtype=v.dtype)], dim=1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]

    if key_padding_mask is not None:
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1) \
            .reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm

    if not training:
        dropout_p = 0.0

    if need_weights:
        q_scaled = q * math.sqrt(1.0 / head_dim)
        if attn_mask is not None:
            w = _jt.baddbmm(attn_mask, q_scaled, k.transpose(-2, -1))
        else:
            w = _jt.bmm(q_scaled, k.transpose(-2, -1))
        w = softmax(w, dim=-1)
        if dropout_p > 0.0:
            w = dropout(w, p=dropout_p)
        out = _jt.bmm(w, v)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
        w = w.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            w = w.mean(dim=1)
        if not batched:
            out, w = out.squeeze(1), w.squeeze(0)
        return out, w
    if attn_mask is not None:
        if attn_mask.shape[0] == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    if not batched:
        out = out.squeeze(1)
    return out, None


# ------------------------------------------------------------------------------ conv family

try:  # conv / pool / norm / interpolate live in a sibling module owned separately
    from ._functional_conv import *  # noqa: F401,F403,E402
    from . import _functional_conv as _fc  # noqa: E402
    __all__ += [n for n in getattr(_fc, "__all__", ()) if n not in __all__]
except ImportError:
    pass


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    from .._errors import missing
    raise missing(f"torch.nn.functional.{name}")
