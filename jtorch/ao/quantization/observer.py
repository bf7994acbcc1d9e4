"""Observers: modules that watch float tensors during calibration and choose a scale and
zero_point (torch.ao.quantization.observer).

Statistics are small (a min/max, a per-channel min/max, a 2048-bin histogram), so they
are kept as jtorch buffers and updated on the host in float32 numpy, step for step in
torch's order, so the chosen qparams equal torch's bit for bit.
"""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from ... import _dtype as D
from ..._tensor import Tensor
from ...nn.modules.module import Module
from .. import _quantized as Q

__all__ = ["ObserverBase", "UniformQuantizationObserverBase", "MinMaxObserver",
           "MovingAverageMinMaxObserver", "PerChannelMinMaxObserver",
           "MovingAveragePerChannelMinMaxObserver", "HistogramObserver", "PlaceholderObserver",
           "NoopObserver", "default_observer", "default_weight_observer",
           "default_per_channel_weight_observer", "default_histogram_observer",
           "default_dynamic_quant_observer", "default_placeholder_observer",
           "get_observer_state_dict", "load_observer_state_dict"]

_EPS = float(np.finfo(np.float32).eps)


def _t(arr):
    import jtorch
    return jtorch.from_numpy(np.array(arr))


def _np(t):
    return np.asarray(t.detach().numpy())


class _PartialWrapper:
    """What `Observer.with_args(...)` returns: a constructor with bound keyword arguments."""

    def __init__(self, p):
        self.p = p
        self.callable_args = {}

    def __call__(self, *args, **keywords):
        for k, fn in self.callable_args.items():
            keywords[k] = fn()
        return self.p(*args, **keywords)

    def __repr__(self):
        return self.p.__repr__() + self.callable_args.__repr__()

    def with_args(self, **kwargs):
        return _with_args(self, **kwargs)

    def with_callable_args(self, **kwargs):
        r = _PartialWrapper(functools.partial(self.p))
        r.callable_args = {**self.callable_args, **kwargs}
        return r


def _with_args(cls_or_self, **kwargs):
    """Bind constructor arguments: `MinMaxObserver.with_args(dtype=torch.qint8)()`."""
    r = _PartialWrapper(functools.partial(cls_or_self, **kwargs))
    return r


def _with_callable_args(cls_or_self, **kwargs):
    r = _PartialWrapper(functools.partial(cls_or_self))
    return r.with_callable_args(**kwargs)


def calculate_qmin_qmax(quant_min, quant_max, has_customized_qrange, dtype, reduce_range):
    """torch's quantization range for a dtype (halved by reduce_range)."""
    if has_customized_qrange:
        if dtype in (Q.qint32, D.int32):
            initial = (0, 2 ** 32 - 1)
        else:
            initial = (0, 255)
        custom_min, custom_max = quant_min, quant_max
        if custom_min is not None and custom_max is not None:
            initial = (custom_min, custom_max)
        qrange_len = initial[1] - initial[0] + 1
        if dtype in (Q.qint8, D.int8):
            if not 0 < qrange_len <= 256:
                raise AssertionError("quantization range should be positive and not exceed "
                                     "the maximum bit range (=256).")
        elif dtype in (Q.qint32, D.int32):
            if not 0 < qrange_len <= 2 ** 32:
                raise AssertionError("quantization range should be positive and not exceed "
                                     "the maximum bit range (=4294967296).")
        if reduce_range:
            quant_min, quant_max = quant_min // 2, quant_max // 2
        return quant_min, quant_max
    if dtype in (Q.qint8, D.int8):
        return (-64, 63) if reduce_range else (-128, 127)
    if dtype in (Q.quint8, D.uint8):
        return (0, 127) if reduce_range else (0, 255)
    if dtype in (Q.qint32, D.int32):
        return -2 ** 31, 2 ** 31 - 1
    raise NotImplementedError(f"observers for dtype {dtype!r} are not implemented in jtorch")


class ObserverBase(Module):
    """Base observer: `forward` records statistics, `calculate_qparams` picks qparams."""

    def __init__(self, dtype, is_dynamic=False):
        super().__init__()
        self.dtype = dtype
        self.is_dynamic = is_dynamic

    def forward(self, x):
        raise NotImplementedError

    def calculate_qparams(self, **kwargs):
        raise NotImplementedError

    with_args = classmethod(_with_args)
    with_callable_args = classmethod(_with_callable_args)


class UniformQuantizationObserverBase(ObserverBase):
    """Scale/zero_point from a min/max the way torch computes them (float32 tensor math)."""

    _version = 3

    def __init__(self, dtype=Q.quint8, qscheme=Q.per_tensor_affine, reduce_range=False,
                 quant_min=None, quant_max=None, factory_kwargs=None, eps=_EPS,
                 is_dynamic=False, **kwargs):
        super().__init__(dtype=dtype, is_dynamic=is_dynamic, **kwargs)
        self.qscheme = qscheme
        if reduce_range:
            warnings.warn("Please use quant_min and quant_max to specify the range for "
                          "observers.                     reduce_range will be deprecated in "
                          "a future release of PyTorch.", stacklevel=2)
        self.reduce_range = reduce_range
        self.register_buffer("eps", _t(np.array([eps], np.float32)))
        if qscheme not in (Q.per_tensor_affine, Q.per_tensor_symmetric, Q.per_channel_affine,
                           Q.per_channel_symmetric, Q.per_channel_affine_float_qparams):
            raise AssertionError("Default Observer only works for per_tensor_affine, "
                                 "per_tensor_symmetric, per_channel_affine, "
                                 "per_channel_symmetric and per_channel_float_qparams "
                                 "quantization scheme")
        if dtype not in (Q.qint8, Q.quint8, Q.qint32, D.int8, D.uint8, D.int32):
            raise NotImplementedError(f"observers for dtype {dtype!r} are not implemented in "
                                      "jtorch")
        self.has_customized_qrange = quant_min is not None and quant_max is not None
        if self.has_customized_qrange:
            if not quant_min <= 0 <= quant_max:
                raise AssertionError("Used-specified quantization range must include 0.")
            if quant_min >= quant_max:
                raise AssertionError("qmin must be strictly less than qmax for user-specified "
                                     "quantization range.")
        self.quant_min, self.quant_max = calculate_qmin_qmax(
            quant_min, quant_max, self.has_customized_qrange, dtype, reduce_range)

    def _calculate_qparams_np(self, min_val, max_val):
        """(scale float32 array, zero_point int array) from float32 min/max arrays."""
        min_val = np.asarray(min_val, np.float32)
        max_val = np.asarray(max_val, np.float32)
        if min_val.ndim == 0:
            valid = not (min_val == np.inf and max_val == -np.inf)
        else:
            valid = not np.all((min_val == np.inf) & (max_val == -np.inf))
        if not valid:
            warnings.warn("must run observer before calling calculate_qparams. Returning "
                          "default values.", stacklevel=3)
            return np.array([1.0], np.float32), np.array([0], np.int64)
        if np.any(min_val > max_val):
            raise AssertionError(f"min {min_val} should be less than max {max_val}")
        qmin, qmax = self.quant_min, self.quant_max
        eps = np.float32(_np(self.eps)[0])
        min_neg = np.minimum(min_val, np.float32(0))
        max_pos = np.maximum(max_val, np.float32(0))
        zp = np.zeros(min_neg.shape, np.int64)
        if self.qscheme in (Q.per_tensor_symmetric, Q.per_channel_symmetric):
            max_pos = np.maximum(-min_neg, max_pos)
            scale = (max_pos / np.float32((qmax - qmin) / 2)).astype(np.float32)
            scale = np.maximum(scale, eps)
            if self.dtype in (Q.quint8, D.uint8):
                zp = np.full(zp.shape, (qmin + qmax) // 2 if self.has_customized_qrange
                             else 128, np.int64)
        elif self.qscheme is Q.per_channel_affine_float_qparams:
            raise NotImplementedError("per_channel_affine_float_qparams (embedding weight "
                                      "quantization) is not implemented in jtorch")
        else:
            scale = ((max_pos - min_neg) / np.float32(qmax - qmin)).astype(np.float32)
            scale = np.maximum(scale, eps)
            zp = (qmin - np.rint((min_neg / scale).astype(np.float32))).astype(np.int32)
            zp = np.clip(zp, qmin, qmax).astype(np.int32)
        scale = np.atleast_1d(scale).astype(np.float32)
        zp = np.atleast_1d(zp)
        return scale, zp

    def _calculate_qparams(self, min_val, max_val):
        s, z = self._calculate_qparams_np(_np(min_val), _np(max_val))
        return _t(s), _t(z)

    def reset_min_max_vals(self):
        raise NotImplementedError("Cannot reset min/max values in the given observer.")


class MinMaxObserver(UniformQuantizationObserverBase):
    """Running min/max of everything observed."""

    def __init__(self, dtype=Q.quint8, qscheme=Q.per_tensor_affine, reduce_range=False,
                 quant_min=None, quant_max=None, factory_kwargs=None, eps=_EPS,
                 is_dynamic=False, **kwargs):
        if qscheme not in (Q.per_tensor_affine, Q.per_tensor_symmetric):
            raise NotImplementedError("MinMaxObserver's qscheme only support "
                                      "torch.per_tensor_symmetric                     and "
                                      "torch.per_tensor_affine.")
        if is_dynamic:
            raise NotImplementedError("MinMaxObserver doesn't support dynamic quantization")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max,
                         factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic,
                         **kwargs)
        self.register_buffer("min_val", _t(np.float32(np.inf)))
        self.register_buffer("max_val", _t(np.float32(-np.inf)))

    def _update(self, cur_min, cur_max):
        self.min_val = _t(np.minimum(cur_min, _np(self.min_val)).astype(np.float32))
        self.max_val = _t(np.maximum(cur_max, _np(self.max_val)).astype(np.float32))

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = _np(x_orig).astype(np.float32)
        self._update(x.min(), x.max())
        return x_orig

    def calculate_qparams(self):
        return self._calculate_qparams(self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={float(_np(self.min_val))}, max_val={float(_np(self.max_val))}"

    def reset_min_max_vals(self):
        self.min_val = _t(np.float32(np.inf))
        self.max_val = _t(np.float32(-np.inf))


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Exponential moving average of each batch's min/max (averaging_constant=0.01)."""

    def __init__(self, averaging_constant=0.01, dtype=Q.quint8, qscheme=Q.per_tensor_affine,
                 reduce_range=False, quant_min=None, quant_max=None, eps=_EPS,
                 is_dynamic=False, **kwargs):
        if qscheme not in (Q.per_tensor_affine, Q.per_tensor_symmetric):
            raise NotImplementedError(f"MovingAverageMinMaxObserver's qscheme only support "
                                      f"torch.per_tensor_symmetric and torch.per_tensor_affine."
                                      f" but got: {qscheme}")
        self.averaging_constant = averaging_constant
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max, eps=eps,
                         is_dynamic=is_dynamic, **kwargs)

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = _np(x_orig).astype(np.float32)
        cmin, cmax = x.min(), x.max()
        mn, mx = _np(self.min_val), _np(self.max_val)
        if mn == np.inf and mx == -np.inf:
            mn, mx = cmin, cmax
        else:
            c = np.float32(self.averaging_constant)
            mn = mn + c * (cmin - mn)
            mx = mx + c * (cmax - mx)
        self.min_val = _t(np.float32(mn))
        self.max_val = _t(np.float32(mx))
        return x_orig


class PerChannelMinMaxObserver(UniformQuantizationObserverBase):
    """Running min/max per slice along `ch_axis` (for per-channel weight quantization)."""

    def __init__(self, ch_axis=0, dtype=Q.quint8, qscheme=Q.per_channel_affine,
                 reduce_range=False, quant_min=None, quant_max=None, factory_kwargs=None,
                 eps=_EPS, is_dynamic=False, **kwargs):
        if qscheme not in (Q.per_channel_affine, Q.per_channel_symmetric,
                           Q.per_channel_affine_float_qparams):
            raise NotImplementedError("PerChannelMinMaxObserver's qscheme only support "
                                      "torch.per_channel_symmetric, "
                                      "torch.per_channel_affine and "
                                      "torch.per_channel_affine_float_qparams.")
        if is_dynamic:
            raise NotImplementedError("PerChannelMinMaxObserver doesn't support dynamic "
                                      "quantization")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max,
                         factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic,
                         **kwargs)
        self.ch_axis = ch_axis
        self.register_buffer("min_val", _t(np.zeros(0, np.float32)))
        self.register_buffer("max_val", _t(np.zeros(0, np.float32)))

    def _channel_minmax(self, x_orig):
        x = _np(x_orig).astype(np.float32)
        y = np.moveaxis(x, self.ch_axis, 0).reshape(x.shape[self.ch_axis], -1)
        return y.min(axis=1), y.max(axis=1)

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        cmin, cmax = self._channel_minmax(x_orig)
        mn, mx = _np(self.min_val), _np(self.max_val)
        if mn.size == 0 or mx.size == 0:
            mn, mx = cmin, cmax
        else:
            mn, mx = np.minimum(cmin, mn), np.maximum(cmax, mx)
        self.min_val = _t(mn.astype(np.float32))
        self.max_val = _t(mx.astype(np.float32))
        return x_orig

    def calculate_qparams(self):
        return self._calculate_qparams(self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"

    def reset_min_max_vals(self):
        self.min_val = _t(np.zeros(0, np.float32))
        self.max_val = _t(np.zeros(0, np.float32))


class MovingAveragePerChannelMinMaxObserver(PerChannelMinMaxObserver):
    """Per-channel moving-average min/max."""

    def __init__(self, averaging_constant=0.01, ch_axis=0, dtype=Q.quint8,
                 qscheme=Q.per_channel_affine, reduce_range=False, quant_min=None,
                 quant_max=None, eps=_EPS, is_dynamic=False, **kwargs):
        super().__init__(ch_axis=ch_axis, dtype=dtype, qscheme=qscheme,
                         reduce_range=reduce_range, quant_min=quant_min, quant_max=quant_max,
                         eps=eps, is_dynamic=is_dynamic, **kwargs)
        self.averaging_constant = averaging_constant

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        cmin, cmax = self._channel_minmax(x_orig)
        mn, mx = _np(self.min_val), _np(self.max_val)
        if mn.size == 0 or mx.size == 0:
            mn, mx = cmin, cmax
        else:
            c = np.float32(self.averaging_constant)
            mn = mn + c * (cmin - mn)
            mx = mx + c * (cmax - mx)
        self.min_val = _t(mn.astype(np.float32))
        self.max_val = _t(mx.astype(np.float32))
        return x_orig


# ------------------------------------------------------------------------- histogram

def _histc(x, bins, lo, hi):
    """torch.histc on CPU in float32: bin = (x - lo) * bins / (hi - lo), right edge closed."""
    lo, hi = np.float32(lo), np.float32(hi)
    if lo == hi:
        lo, hi = lo - np.float32(1), hi + np.float32(1)
    x = x[(x >= lo) & (x <= hi)]
    pos = ((x - lo) * np.float32(bins) / (hi - lo)).astype(np.int64)
    pos[pos == bins] = bins - 1
    return np.bincount(pos, minlength=bins).astype(np.float32)


def _div_floor(a, b):
    """torch.div(a, b, rounding_mode='floor') for float32 arrays by a positive scalar."""
    a = a.astype(np.float32)
    b = np.float32(b)
    mod = np.fmod(a, b)
    div = ((a - mod) / b).astype(np.float32)
    div = np.where((mod != 0) & ((mod < 0) != (b < 0)), div - np.float32(1), div)
    fl = np.floor(div)
    return np.where(div - fl > np.float32(0.5), fl + np.float32(1), fl).astype(np.float32)


def _linspace32(start, end, steps):
    """torch.linspace in float32: the first half counts up from start, the rest down from end."""
    start, end = np.float32(start), np.float32(end)
    step = np.float32((end - start) / np.float32(steps - 1))
    idx = np.arange(steps)
    half = steps // 2
    lo = start + step * idx[:half].astype(np.float32)
    hi = end - step * (steps - idx[half:] - 1).astype(np.float32)
    return np.concatenate([lo, hi]).astype(np.float32)


class HistogramObserver(UniformQuantizationObserverBase):
    """A running 2048-bin histogram; qparams from torch's L2-error min/max search
    (the fbgemm/x86 default activation observer)."""

    def __init__(self, bins=2048, dtype=Q.quint8, qscheme=Q.per_tensor_affine,
                 reduce_range=False, quant_min=None, quant_max=None, factory_kwargs=None,
                 eps=_EPS, is_dynamic=False, **kwargs):
        if qscheme not in (Q.per_tensor_affine, Q.per_tensor_symmetric):
            raise NotImplementedError("HistogramObserver's qscheme only support "
                                      "torch.per_tensor_symmetric                     and "
                                      "torch.per_tensor_affine.")
        if is_dynamic:
            raise NotImplementedError("HistogramObserver doesn't support dynamic quantization")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max,
                         factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic,
                         **kwargs)
        self.bins = bins
        self.register_buffer("histogram", _t(np.zeros(bins, np.float32)))
        self.register_buffer("min_val", _t(np.float32(np.inf)))
        self.register_buffer("max_val", _t(np.float32(-np.inf)))
        self.dst_nbins = 2 ** (8 if dtype in (Q.quint8, Q.qint8, D.int8, D.uint8) else 32)
        self.upsample_rate = 16

    def _get_norm(self, delta_begin, delta_end, density):
        norm = (delta_end * delta_end * delta_end - delta_begin * delta_begin * delta_begin) \
            / np.float32(3)
        return density * norm

    def _compute_quantization_error(self, hist, mn, mx, next_start_bin, next_end_bin):
        f32 = np.float32
        bin_width = (float(mx) - float(mn)) / self.bins
        dst_bin_width = bin_width * (next_end_bin - next_start_bin + 1) / self.dst_nbins
        if dst_bin_width == 0.0:
            return 0.0
        src_bin = np.arange(self.bins)
        src_bin_begin = ((src_bin - next_start_bin).astype(f32) * f32(bin_width)).astype(f32)
        src_bin_end = src_bin_begin + f32(bin_width)
        dbw = f32(dst_bin_width)
        dst_bin_of_begin = np.clip(_div_floor(src_bin_begin, dbw), 0, self.dst_nbins - 1)
        dst_bin_of_begin_center = (dst_bin_of_begin + f32(0.5)) * dbw
        dst_bin_of_end = np.clip(_div_floor(src_bin_end, dbw), 0, self.dst_nbins - 1)
        density = hist / f32(bin_width)
        norm = np.zeros(self.bins, f32)
        delta_begin = src_bin_begin - dst_bin_of_begin_center
        half = f32(dst_bin_width / 2)
        norm += self._get_norm(delta_begin, np.full(self.bins, half, f32), density)
        norm += (dst_bin_of_end - dst_bin_of_begin - f32(1)) * self._get_norm(
            -half, half, density)
        dst_bin_of_end_center = dst_bin_of_end * dbw + half
        delta_end = src_bin_end - dst_bin_of_end_center
        norm += self._get_norm(-half, delta_end, density)
        return float(norm.astype(f32).sum(dtype=f32))

    def _non_linear_param_search(self):
        hist = _np(self.histogram).astype(np.float32)
        mn, mx = np.float32(_np(self.min_val)), np.float32(_np(self.max_val))
        bin_width = np.float32((mx - mn) / np.float32(self.bins))
        total = float(hist.sum(dtype=np.float32))
        csum = np.cumsum(hist, dtype=np.float32)
        stepsize = 1e-5
        alpha, beta = 0.0, 1.0
        start_bin, end_bin = 0, self.bins - 1
        norm_min = math.inf
        while alpha < beta:
            next_alpha = alpha + stepsize
            next_beta = beta - stepsize
            lo_thr = np.float32(next_alpha * total)
            hi_thr = np.float32(next_beta * total)
            left, right = start_bin, end_bin
            while left < end_bin and csum[left] < lo_thr:
                left += 1
            while right > start_bin and csum[right] > hi_thr:
                right -= 1
            next_start_bin, next_end_bin = start_bin, end_bin
            if (left - start_bin) > (end_bin - right):
                next_start_bin = left
                alpha = next_alpha
            else:
                next_end_bin = right
                beta = next_beta
            if next_start_bin == start_bin and next_end_bin == end_bin:
                continue
            norm = self._compute_quantization_error(hist, mn, mx, next_start_bin, next_end_bin)
            if norm > norm_min:
                break
            norm_min = norm
            start_bin, end_bin = next_start_bin, next_end_bin
        new_min = np.float32(mn + bin_width * np.float32(start_bin))
        new_max = np.float32(mn + bin_width * np.float32(end_bin + 1))
        return new_min, new_max

    def _upscale_histogram(self, histogram, orig_min, orig_max, update_min, update_max):
        rate = self.upsample_rate
        histogram = (np.repeat(histogram, rate) / np.float32(rate)).astype(np.float32)
        bin_size = np.float32((orig_max - orig_min) / np.float32(self.bins * rate))
        mids = _linspace32(orig_min, orig_max, self.bins * rate + 1)[:-1] \
            + np.float32(0.5) * bin_size
        bounds = _linspace32(update_min, update_max, self.bins + 1)
        assign = np.searchsorted(bounds, mids, side="right") - 1
        assign = np.clip(assign, 0, self.bins - 1)
        out = np.zeros(self.bins, np.float32)
        np.add.at(out, assign, histogram)
        return out

    def _combine_histograms(self, orig_hist, orig_min, orig_max, update_hist, update_min,
                            update_max):
        if update_min == orig_min and update_max == orig_max:
            return orig_hist + update_hist
        if orig_min == orig_max:
            bin_value = orig_hist.sum(dtype=np.float32)
            moved = _histc(np.array([orig_min], np.float32), self.bins, update_min,
                           update_max) * bin_value
            return moved + update_hist
        return update_hist + self._upscale_histogram(orig_hist, orig_min, orig_max,
                                                     update_min, update_max)

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = _np(x_orig).astype(np.float32).ravel()
        x_min, x_max = x.min(), x.max()
        if x_min == -np.inf or x_max == np.inf:
            warnings.warn("torch.inf detected in input tensor, ignoring input", stacklevel=2)
            x = x[np.abs(x) != np.inf]
            if x.size == 0:
                return x_orig
            x_min, x_max = x.min(), x.max()
        cur_min, cur_max = np.float32(_np(self.min_val)), np.float32(_np(self.max_val))
        if cur_min == np.inf or cur_max == -np.inf:
            self.min_val, self.max_val = _t(np.float32(x_min)), _t(np.float32(x_max))
            self.histogram = _t(_histc(x, self.bins, x_min, x_max))
            return x_orig
        new_min, new_max = min(cur_min, x_min), max(cur_max, x_max)
        update = _histc(x, self.bins, new_min, new_max)
        hist = _np(self.histogram).astype(np.float32)
        if new_min == cur_min and new_max == cur_max:
            self.histogram = _t(hist + update)
        else:
            self.histogram = _t(self._combine_histograms(hist, cur_min, cur_max, update,
                                                         new_min, new_max))
            self.min_val, self.max_val = _t(np.float32(new_min)), _t(np.float32(new_max))
        return x_orig

    def extra_repr(self):
        return f"min_val={float(_np(self.min_val))}, max_val={float(_np(self.max_val))}"

    def calculate_qparams(self):
        mn, mx = _np(self.min_val), _np(self.max_val)
        if mn == np.inf and mx == -np.inf:
            warnings.warn("must run observer before calling calculate_qparams.                "
                          "                    Returning default scale and zero point ",
                          stacklevel=2)
            return _t(np.array([1.0], np.float32)), _t(np.array([0], np.int64))
        if self.bins != len(self.histogram):
            raise AssertionError("The number of bins in histogram should be equal to the "
                                 "number of bins supplied while making this observer")
        new_min, new_max = self._non_linear_param_search()
        s, z = self._calculate_qparams_np(new_min, new_max)
        return _t(s), _t(z)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # the buffers change size as data arrives; adopt the saved shapes before copying
        for name in ("min_val", "max_val", "histogram"):
            key = prefix + name
            if key in state_dict and isinstance(state_dict[key], Tensor):
                setattr(self, name, state_dict[key].detach().clone())
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)


class PlaceholderObserver(ObserverBase):
    """Records nothing: marks a dtype (dynamic quantization chooses qparams at run time)."""

    def __init__(self, dtype=D.float32, custom_op_name="", compute_dtype=None, quant_min=None,
                 quant_max=None, qscheme=None, eps=None, is_dynamic=False):
        super().__init__(dtype=dtype, is_dynamic=is_dynamic)
        if qscheme is None:
            qscheme = Q.per_tensor_affine
        if eps is None:
            eps = _EPS
        self.quant_min = quant_min
        self.quant_max = quant_max
        self.qscheme = qscheme
        self.eps = eps
        self.custom_op = custom_op_name
        if compute_dtype:
            is_dynamic = True
            warnings.warn("Please use `is_dynamic` instead of `compute_dtype`. `compute_dtype` "
                          "will be deprecated in a future release of PyTorch.", stacklevel=2)
        self.is_dynamic = is_dynamic

    def forward(self, x):
        return x

    def calculate_qparams(self):
        raise Exception(  # noqa: TRY002 - torch raises a bare Exception here
            "calculate_qparams should not be called for PlaceholderObserver")


class NoopObserver(ObserverBase):
    """Passes tensors through; used where a qconfig slot must be filled."""

    def __init__(self, dtype=D.float16, custom_op_name=""):
        super().__init__(dtype=dtype)
        self.dtype = dtype
        self.custom_op = custom_op_name

    def forward(self, x):
        return x

    def calculate_qparams(self):
        raise Exception("calculate_qparams should not be called for NoopObserver")  # noqa: TRY002


def get_observer_state_dict(mod):
    """The observer entries of a module's state_dict."""
    from collections import OrderedDict
    od = OrderedDict()
    for k, v in mod.state_dict().items():
        if "activation_post_process" in k:
            od[k] = v
    od._metadata = mod.state_dict()._metadata
    return od


def load_observer_state_dict(mod, obs_dict):
    mod.load_state_dict(obs_dict, strict=False)


default_observer = MinMaxObserver.with_args(quant_min=0, quant_max=127)
default_placeholder_observer = PlaceholderObserver
default_weight_observer = MinMaxObserver.with_args(dtype=Q.qint8,
                                                   qscheme=Q.per_tensor_symmetric)
default_histogram_observer = HistogramObserver.with_args(quant_min=0, quant_max=127)
default_per_channel_weight_observer = PerChannelMinMaxObserver.with_args(
    dtype=Q.qint8, qscheme=Q.per_channel_symmetric)
default_dynamic_quant_observer = PlaceholderObserver.with_args(
    dtype=Q.quint8, quant_min=0, quant_max=255, is_dynamic=True)
