"""torch.nn.functional's convolution, pooling, normalization and resampling functions.

Each function checks its arguments with torch's messages, normalises int/tuple
arguments, then makes one call to a registered op (jtorch/_ops/nn_conv_ops.py).
Re-exported by jtorch.nn.functional via `from ._functional_conv import *`.
"""
from __future__ import annotations

import math
import numbers
import warnings

import jax

from .._ops import nn_conv_ops as K
from .._ops.dispatch import _call
from .._tensor import Tensor, wrap
from ..autograd.grad_mode import no_grad

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
    "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
    "avg_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices", "max_unpool1d",
    "max_unpool2d", "max_unpool3d", "fractional_max_pool2d", "fractional_max_pool3d",
    "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices",
    "batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm",
    "local_response_norm", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear",
    "grid_sample", "affine_grid", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle",
    "native_channel_shuffle", "unfold", "fold",
]


def _run(opdef, tensors, statics):
    return _call(opdef, tuple(tensors), tuple(statics))


def _tuple(v, n, name="value"):
    """int or sequence -> n-tuple (torch's _single/_pair/_triple)."""
    if isinstance(v, Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        if len(v) == 1 and n > 1:
            return tuple(int(v[0]) for _ in range(n))
        return tuple(int(x) for x in v)
    return (int(v),) * n


def _sizes(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


# ------------------------------------------------------------------------------ convolution

def _check_conv_arg(name, v, nd):
    if len(v) != nd:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {nd} "
                           f"values to match the convolution dimensions, but got "
                           f"{name}={list(v)}")


def _conv(input, weight, bias, stride, padding, dilation, groups, nd, transposed,
          output_padding=0):
    name = f"conv_transpose{nd}d" if transposed else f"conv{nd}d"
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{name}, but got input of size: {_sizes(input.shape)}")
    if weight.dim() != nd + 2:
        raise RuntimeError(f"weight should have at least three dimensions" if weight.dim() < 3
                           else f"expected stride to be a single integer value or a list of "
                           f"{weight.dim() - 2} values to match the convolution dimensions, "
                           f"but got stride={list(_tuple(stride, nd))}")
    stride, dilation = _tuple(stride, nd), _tuple(dilation, nd)
    _check_conv_arg("stride", stride, nd)
    _check_conv_arg("dilation", dilation, nd)
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    batched = input.dim() == nd + 2
    ishape = tuple(input.shape) if batched else (1,) + tuple(input.shape)
    wshape = tuple(weight.shape)
    k = wshape[2:]
    cin = ishape[1]
    if transposed:
        if cin != wshape[0]:
            raise RuntimeError(f"Given transposed=1, weight of size {_sizes(wshape)}, expected "
                               f"input{_sizes(ishape)} to have {wshape[0]} channels, but got "
                               f"{cin} channels instead")
        cout = wshape[1] * groups
    else:
        if cin != wshape[1] * groups:
            raise RuntimeError(f"Given groups={groups}, weight of size {_sizes(wshape)}, "
                               f"expected input{_sizes(ishape)} to have {wshape[1] * groups} "
                               f"channels, but got {cin} channels instead")
        cout = wshape[0]
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != cout):
        raise RuntimeError(f"Given weight of size {_sizes(wshape)}, expected bias to be "
                           f"1-dimensional with {cout} elements, but got bias of size "
                           f"{_sizes(bias.shape)} instead")
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0,) * (2 * nd)
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = []
            for i in range(nd):
                total = dilation[i] * (k[i] - 1)
                pads += [total // 2, total - total // 2]
            pads = tuple(pads)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        p = _tuple(padding, nd)
        _check_conv_arg("padding", p, nd)
        if any(x < 0 for x in p):
            raise RuntimeError("negative padding is not supported")
        pads = tuple(x for v in p for x in (v, v))
    op_ = (0,) * nd
    if transposed:
        op_ = _tuple(output_padding, nd)
        if any(o >= max(s, d) for o, s, d in zip(op_, stride, dilation)):
            hw = ["height", "width"] if nd == 2 else (["width"] if nd == 1 else
                                                      ["depth", "height", "width"])
            parts = " ".join(f"output_padding_{n}: {o}" for n, o in zip(hw, op_)) + " " + \
                " ".join(f"stride_{n}: {s}" for n, s in zip(hw, stride)) + " " + \
                " ".join(f"dilation_{n}: {d}" for n, d in zip(hw, dilation))
            raise RuntimeError(f"output padding must be smaller than either stride or "
                               f"dilation, but got {parts}")
    else:
        padded = [ishape[2 + i] + pads[2 * i] + pads[2 * i + 1] for i in range(nd)]
        eff = [dilation[i] * (k[i] - 1) + 1 for i in range(nd)]
        if any(pv < e for pv, e in zip(padded, eff)):
            raise RuntimeError(
                f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
                f"Kernel size: ({' x '.join(map(str, eff))}). Kernel size can't be greater "
                f"than actual input size")
    return _run(K._jt_conv, (input, weight, bias),
                (stride, pads, dilation, int(groups), transposed, op_))


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, False)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, False)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3, False)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, True, output_padding)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, True, output_padding)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3, True, output_padding)


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
                groups):
    """torch.convolution (aten's generic entry point)."""
    nd = weight.dim() - 2
    return _conv(input, weight, bias, stride, padding, dilation, groups, nd, transposed,
                 output_padding)


# ------------------------------------------------------------------------------ pooling

def _pool_check(input, nd, kernel, stride, padding, dilation, ceil_mode, name):
    if input.dim() not in (nd + 1, nd + 2) or input.numel() == 0 and input.dim() == nd + 1:
        if nd == 1:
            raise RuntimeError(f"{name}() Expected 2D or 3D input tensor, but got "
                               f"{_sizes(input.shape)}")
        raise RuntimeError(f"non-empty {nd + 1}D or {nd + 2}D (batch mode) tensor expected for "
                           f"input")
    for k, s, p, d in zip(kernel, stride, padding, dilation):
        if k <= 0:
            raise RuntimeError(f"{name}(): kernel_size must be greater than zero, but got "
                               f"{list(kernel)}" if nd > 1 else
                               f"{name}() kernel_size must be greater than zero, but got {k}")
        if s <= 0:
            raise RuntimeError(f"stride should be greater than zero, but got stride={s}")
        if d <= 0:
            raise RuntimeError(f"dilation should be greater than zero, but got dilation={d}")
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
    spatial = tuple(input.shape[-nd:])
    outs = [K.pool_out_size(spatial[i], kernel[i], stride[i], padding[i], dilation[i], ceil_mode)
            for i in range(nd)]
    if any(o <= 0 for o in outs):
        c = input.shape[-nd - 1]
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, (c,) + spatial))}). "
                           f"Calculated output size: ({'x'.join(map(str, [c] + outs))}). "
                           f"Output size is too small")


def _pool_args(nd, kernel_size, stride, padding, dilation=1):
    k = _tuple(kernel_size, nd)
    s = k if (stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0)) \
        else _tuple(stride, nd)
    return k, s, _tuple(padding, nd), _tuple(dilation, nd)


def _max_pool(input, nd, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    k, s, p, d = _pool_args(nd, kernel_size, stride, padding, dilation)
    _pool_check(input, nd, k, s, p, d, ceil_mode, f"max_pool{nd}d")
    if return_indices or any(v != 1 for v in d):   # XLA has no dilated max-window vjp
        res = tuple(_run(K._jt_max_pool_with_indices, (input,), (k, s, p, d, bool(ceil_mode))))
        return res if return_indices else res[0]
    return _run(K._jt_max_pool, (input,), (k, s, p, d, bool(ceil_mode)))


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode, True)


def _avg_pool(input, nd, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    k, s, p, d = _pool_args(nd, kernel_size, stride, padding)
    if nd == 1 and input.dim() not in (2, 3):
        raise RuntimeError(f"avg_pool1d() Expected 2D or 3D input tensor, but got "
                           f"{_sizes(input.shape)}") if input.dim() > 0 else \
            IndexError("Dimension out of range (expected to be in range of [-1, 0], but got -2)")
    if nd > 1 and input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"non-empty {nd + 1}D or {nd + 2}D (batch mode) tensor expected for "
                           f"input")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    _pool_check(input, nd, k, s, p, d, ceil_mode, f"avg_pool{nd}d")
    return _run(K._jt_avg_pool, (input,), (k, s, p, bool(ceil_mode), bool(count_include_pad),
                                           divisor_override))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    return _avg_pool(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_pool(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_pool(input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _lp_pool(input, nd, norm_type, kernel_size, stride, ceil_mode):
    """torch's definition: (sum over the window of x^p)^(1/p), via avg_pool * window size."""
    import jtorch
    k = _tuple(kernel_size, nd)
    if stride is not None:
        out = _avg_pool(input.pow(norm_type), nd, k, stride, 0, ceil_mode, True, None)
    else:
        out = _avg_pool(input.pow(norm_type), nd, k, None, 0, ceil_mode, True, None)
    return (jtorch.sign(out) * jtorch.relu(jtorch.abs(out))).mul(math.prod(k)) \
        .pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(input, 1, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(input, 2, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(input, 3, norm_type, kernel_size, stride, ceil_mode)


def _adaptive_size(input, nd, output_size, name):
    if input.dim() not in (nd + 1, nd + 2):
        if nd == 1:
            raise RuntimeError(f"{name}(): Expected 2D or 3D tensor, but got "
                               f"{_sizes(input.shape)}")
        raise RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got "
                           f"{_sizes(input.shape)}")
    if isinstance(output_size, Tensor):
        output_size = output_size.tolist()
    if not isinstance(output_size, (list, tuple)):
        output_size = (output_size,) * nd
    elif len(output_size) == 1 and nd > 1:
        output_size = tuple(output_size) * nd
    if len(output_size) != nd:
        raise RuntimeError(f"{name}: output_size must be {nd}")
    spatial = input.shape[-nd:]
    out = tuple(int(spatial[i]) if o is None else int(o) for i, o in enumerate(output_size))
    for i in range(input.dim() - nd, input.dim()):
        if input.shape[i] == 0 and i >= input.dim() - nd - (1 if input.dim() == nd + 2 else 0):
            if i >= input.dim() - nd:
                raise RuntimeError(f"{name}(): Expected input to have non-zero size for "
                                   f"non-batch dimensions, but input has sizes "
                                   f"{_sizes(input.shape)} with dimension {i} being empty")
    return out


def _adaptive_avg(input, nd, output_size):
    out = _adaptive_size(input, nd, output_size, f"adaptive_avg_pool{nd}d")
    return _run(K._jt_adaptive_avg_pool, (input,), (out,))


def adaptive_avg_pool1d(input, output_size):
    return _adaptive_avg(input, 1, output_size)


def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg(input, 2, output_size)


def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg(input, 3, output_size)


def _adaptive_max(input, nd, output_size, return_indices):
    out = _adaptive_size(input, nd, output_size, f"adaptive_max_pool{nd}d")
    res = _run(K._jt_adaptive_max_pool, (input,), (out,))
    return tuple(res) if return_indices else res[0]


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max(input, 1, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max(input, 2, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max(input, 3, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max(input, 1, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max(input, 2, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max(input, 3, output_size, True)


def _unpool_output_size(input, nd, kernel_size, stride, padding, output_size):
    spatial = input.shape[-nd:]
    default = [(spatial[i] - 1) * stride[i] + kernel_size[i] - 2 * padding[i]
               for i in range(nd)]
    if output_size is None:
        return tuple(default)
    output_size = list(output_size.tolist() if isinstance(output_size, Tensor) else output_size)
    if len(output_size) == nd + 2:
        output_size = output_size[2:]
    elif len(output_size) == nd + 1 and input.dim() == nd + 1:
        output_size = output_size[1:]
    if len(output_size) != nd:
        raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} "
                         f"elements, but it has a length of '{len(output_size)}'")
    for i in range(nd):
        lo = default[i] - stride[i]
        hi = default[i] + stride[i]
        if not lo < output_size[i] < hi:
            raise ValueError(f'invalid output_size "{output_size}" (dim {i} must be between '
                             f'{lo} and {hi})')
    return tuple(int(v) for v in output_size)


def _max_unpool(input, indices, nd, kernel_size, stride, padding, output_size):
    k, s, p, _ = _pool_args(nd, kernel_size, stride, padding)
    out = _unpool_output_size(input, nd, k, s, p, output_size)
    if indices.shape != input.shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({_sizes(input.shape)}) but got indices tensor with shape: "
                           f"{_sizes(indices.shape)}")
    n = math.prod(out)
    if indices.numel() and not isinstance(indices._value, jax.core.Tracer):
        bad = (indices >= n) | (indices < 0)
        if bool(bad.any()):
            v = int(indices[bad].reshape(-1)[0].item())
            raise RuntimeError(f"Found an invalid max index: {v} (output volumes are of size "
                               f"{'x'.join(map(str, out))})")
    return _run(K._jt_max_unpool, (input, indices), (out,))


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(input, indices, 1, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(input, indices, 2, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(input, indices, 3, kernel_size, stride, padding, output_size)


def _fractional(input, nd, kernel_size, output_size, output_ratio, return_indices,
                _random_samples):
    import jtorch
    name = f"fractional_max_pool{nd}d"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got: "
                           f"{_sizes(input.shape)}")
    k = _tuple(kernel_size, nd)
    spatial = tuple(input.shape[-nd:])
    if output_size is None:
        ratio = _tuple_f(output_ratio, nd)
        out = tuple(int(spatial[i] * ratio[i]) for i in range(nd))
    else:
        out = _tuple(output_size, nd)
    for i in range(nd):
        if out[i] + k[i] - 1 > spatial[i]:
            raise RuntimeError(f"{name}(): pool size {k[i]} and output size {out[i]} are too "
                               f"large for input size {spatial[i]}")
    unbatched = input.dim() == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    if _random_samples is None:
        _random_samples = jtorch.rand((x.shape[0], x.shape[1], nd), dtype=input.dtype,
                                      device=input.device)
    res = _run(K._jt_fractional_max_pool, (x, _random_samples), (k, out))
    out_t, idx = res[0], res[1]
    if unbatched:
        out_t, idx = out_t.squeeze(0), idx.squeeze(0)
    return (out_t, idx) if return_indices else out_t


def _tuple_f(v, n):
    return tuple(float(x) for x in v) if isinstance(v, (list, tuple)) else (float(v),) * n


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    return _fractional(input, 2, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    return _fractional(input, 3, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return _fractional(input, 2, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return _fractional(input, 3, kernel_size, output_size, output_ratio, True, _random_samples)


# ------------------------------------------------------------------------------ normalization

def _snapshot(t):
    """The running stats' current value as a fresh tensor, so writing the updated stats
    back does not trip the version check of the graph that read them."""
    return None if t is None else wrap(t._value)


def _momentum(momentum):
    return 0.0 if momentum is None else momentum


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    """Normalizes over (N, *spatial); in training, updates running stats in place."""
    if input.dim() < 2 and input.numel() == 0:
        return input.clone()
    c = input.shape[1]
    if training:
        size = math.prod(input.shape) // max(c, 1)
        if size == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {input.shape!r}")
    elif running_mean is None:
        raise RuntimeError("running_mean must be defined in evaluation mode")
    elif running_var is None:
        raise RuntimeError("running_var must be defined in evaluation mode")
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    out, new_mean, new_var = _run(
        K._jt_batch_norm, (input, weight, bias, _snapshot(running_mean), _snapshot(running_var),
                           float(_momentum(momentum))), (bool(training), float(eps)))
    if training and running_mean is not None:
        with no_grad():
            running_mean._write(new_mean._value)
            running_var._write(new_var._value)
    return out


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-05):
    if use_input_stats:
        if math.prod(input.shape[2:]) == 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input "
                             f"size {input.shape!r}")
    elif running_mean is None or running_var is None:
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    c = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    out, new_mean, new_var = _run(
        K._jt_instance_norm, (input, weight, bias, _snapshot(running_mean),
                              _snapshot(running_var),
                              float(_momentum(momentum))), (bool(use_input_stats), float(eps)))
    if use_input_stats and running_mean is not None:
        with no_grad():
            running_mean._write(new_mean._value)
            running_var._write(new_var._value)
    return out


def _check_normalized(input, normalized_shape, weight=None, bias=None):
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    n = len(normalized_shape)
    if n == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != normalized_shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {_sizes(t.shape)} and normalized_shape = "
                               f"{_sizes(normalized_shape)}")
    if input.dim() < n or tuple(input.shape[-n:]) != normalized_shape:
        raise RuntimeError(f"Given normalized_shape={_sizes(normalized_shape)}, expected input "
                           f"with shape [*, {', '.join(map(str, normalized_shape))}], but got "
                           f"input of size{_sizes(input.shape)}")
    return normalized_shape


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    shape = _check_normalized(input, normalized_shape, weight, bias)
    return _run(K.layer_norm, (input, weight, bias), (shape, float(eps), True))


def rms_norm(input, normalized_shape, weight=None, eps=None):
    shape = _check_normalized(input, normalized_shape, weight)
    return _run(K.rms_norm, (input, weight), (shape, None if eps is None else float(eps)))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.dim()}")
    c = input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {_sizes(input.shape)} and "
                           f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape "
                               f"{_sizes(t.shape)} and input of shape {_sizes(input.shape)}")
    return _run(K.group_norm, (input, weight, bias), (int(num_groups), float(eps), True))


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    if input.dim() < 3:
        raise ValueError("Expected 3D or higher dimensionality" + " " * 26 +   # torch's spacing
                         f"input (got {input.dim()} dimensions)")
    if input.numel() == 0:
        return input
    return _run(K._jt_local_response_norm, (input,),
                (int(size), float(alpha), float(beta), float(k)))


# ------------------------------------------------------------------------------ resampling

_MODES_ND = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    nd = input.dim() - 2
    if nd < 1 or nd > 3 or mode not in ("nearest", "area", "nearest-exact", "linear",
                                        "bilinear", "bicubic", "trilinear"):
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for "
            f"the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
            f"nearest-exact (got {mode})")
    if mode in _MODES_ND and _MODES_ND[mode] != nd:
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs "
                                  f"{_MODES_ND[mode] + 2}D input")
    if antialias:
        raise NotImplementedError("jtorch.nn.functional.interpolate: antialias=True is not "
                                  "implemented")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    spatial = tuple(input.shape[2:])
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != nd:
                raise ValueError(f"Input and output must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of "
                                 f"{list(spatial)} and output size of {list(size)}. Please "
                                 f"provide input tensor in (N, C, d1, d2, ...,dK) format and "
                                 f"output size in (o1, o2, ...,oK) format.")
            out = tuple(int(s) for s in size)
        else:
            out = (int(size),) * nd
        scales = (None,) * nd
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != nd:
                raise ValueError(f"Input and scale_factor must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of "
                                 f"{list(spatial)} and scale_factor of shape "
                                 f"{list(scale_factor)}. Please provide input tensor in (N, C, "
                                 f"d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) "
                                 f"format.")
            sf = tuple(float(s) for s in scale_factor)
        else:
            sf = (float(scale_factor),) * nd
        out = tuple(int(math.floor(float(spatial[i]) * sf[i])) for i in range(nd))
        scales = (None,) * nd if recompute_scale_factor else sf
    else:
        raise ValueError("either size or scale_factor should be defined")
    if mode == "area":
        return adaptive_avg_pool1d(input, out) if nd == 1 else _adaptive_avg(input, nd, out)
    if any(o <= 0 for o in out) or any(s <= 0 for s in spatial):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({', '.join(map(str, spatial))}) and output "
                           f"({', '.join(map(str, out))})" if nd > 1 else
                           f"Input and output sizes should be greater than 0, but got input "
                           f"(W: {spatial[0]}) and output (W: {out[0]})")
    return _run(K._jt_upsample, (input,), (out, scales, mode, bool(align_corners)))


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def _warn_align(align_corners):
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to "
                      "align_corners=False since 1.3.0. Please specify align_corners=True if "
                      "the old behavior is desired. See the documentation of grid_sample for "
                      "details.", stacklevel=3)
        return False
    return bool(align_corners)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    align_corners = _warn_align(align_corners)
    if input.dtype != grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but "
                           f"input has {input.dtype} and grid has {grid.dtype}")
    if input.dim() not in (4, 5) or grid.dim() != input.dim():
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number "
                           f"of dimensions, but got input with sizes {_sizes(input.shape)} and "
                           f"grid with sizes {_sizes(grid.shape)}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {_sizes(input.shape)} and grid with sizes "
                           f"{_sizes(grid.shape)}")
    nd = input.dim() - 2
    if grid.shape[-1] != nd:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {nd} in last dimension, "
                           f"but got grid with sizes {_sizes(grid.shape)}")
    if mode == "bicubic" and nd != 2:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    return _run(K._jt_grid_sample, (input, grid), (mode, padding_mode, align_corners))


def affine_grid(theta, size, align_corners=None):
    align_corners = _warn_align(align_corners)
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) == 4:
        if theta.dim() != 3 or tuple(theta.shape[-2:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{size}. Got {theta.shape!r}.")
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.dim() != 3 or tuple(theta.shape[-2:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{size}. Got {theta.shape!r}.")
        spatial = size[-3:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if min(spatial) == 1 and align_corners:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                      "grids when align_corners=True. This is not an issue for standard "
                      "use-cases.", stacklevel=2)
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"Expected size[0] ({size[0]}) to match theta batch {theta.shape[0]}")
    return _run(K._jt_affine_grid, (theta,), (size, align_corners))


# ------------------------------------------------------------------------------ rearrangement

def pixel_shuffle(input, upscale_factor):
    if input.dim() < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.dim()} dimension(s)")
    if upscale_factor <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got "
                           f"{upscale_factor}")
    c = input.shape[-3]
    if c % (upscale_factor * upscale_factor):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {upscale_factor * upscale_factor}")
    return _run(K.pixel_shuffle, (input,), (int(upscale_factor),))


def pixel_unshuffle(input, downscale_factor):
    if input.dim() < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.dim()} dimension(s)")
    if downscale_factor <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got "
                           f"{downscale_factor}")
    h, w = input.shape[-2], input.shape[-1]
    if h % downscale_factor:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by "
                           f"downscale_factor, but input.size(-2)={h} is not divisible by "
                           f"{downscale_factor}")
    if w % downscale_factor:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by "
                           f"downscale_factor, but input.size(-1)={w} is not divisible by "
                           f"{downscale_factor}")
    return _run(K.pixel_unshuffle, (input,), (int(downscale_factor),))


def channel_shuffle(input, groups):
    if input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with sizes {_sizes(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    c = input.shape[1]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    return _run(K.channel_shuffle, (input,), (int(groups),))


native_channel_shuffle = channel_shuffle


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    if input.dim() not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported "
                                  f"(got {input.dim()}D)")
    k, d, p, s = (_tuple(v, 2) for v in (kernel_size, dilation, padding, stride))
    spatial = input.shape[-2:]
    outs = [(spatial[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
    if any(o <= 0 for o in outs):
        raise RuntimeError(f"Given input with spatial size ({spatial[0]}, {spatial[1]}), "
                           f"kernel_size=({k[0]}, {k[1]}), dilation=({d[0]}, {d[1]}), "
                           f"padding=({p[0]}, {p[1]}), calculated shape of the array of sliding "
                           f"blocks as ({outs[0]}, {outs[1]}), but its components must be at "
                           f"least one.")
    return _run(K._jt_im2col, (input,), (k, d, p, s))


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    if input.dim() not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input "
                                  f"Tensors are supported (got {input.dim()}D)")
    o, k, d, p, s = (_tuple(v, 2) for v in (output_size, kernel_size, dilation, padding, stride))
    ch = input.shape[-2]
    if ch % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={ch} and "
                           f"kernel_size=({k[0]}, {k[1]})")
    blocks = [(o[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
    if blocks[0] * blocks[1] != input.shape[-1]:
        raise RuntimeError(f"Given output_size=({o[0]}, {o[1]}), kernel_size=({k[0]}, {k[1]}), "
                           f"dilation=({d[0]}, {d[1]}), padding=({p[0]}, {p[1]}), "
                           f"stride=({s[0]}, {s[1]}), expected size of input's dimension 2 to "
                           f"match the calculated number of sliding blocks {blocks[0]} * "
                           f"{blocks[1]} = {blocks[0] * blocks[1]}, but got "
                           f"input.size(2)={input.shape[-1]}.")
    return _run(K._jt_col2im, (input,), (o, k, d, p, s))


# ------------------------------------------------------------------------------ padding helper

def _pad(input, pad, mode="constant", value=None):
    """nn.functional.pad when its owner provides it, else this module's fallback op."""
    try:
        from . import functional as F
        fn = getattr(F, "pad", None)
    except ImportError:
        fn = None
    if fn is not None:
        return fn(input, pad, mode=mode, value=value)
    return _run(K._jt_pad, (input, value), (tuple(int(p) for p in pad), mode))
