"""Statically quantized modules (torch.ao.nn.quantized): quint8 activations in and out,
int8 weights, int32 accumulation, fbgemm's requantization (see `_kernels`)."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .... import _dtype as D
from ...._errors import missing
from ...._tensor import Tensor
from ....nn.modules.module import Module
from ... import _quantized as Q
from . import _kernels as K

__all__ = ["Quantize", "DeQuantize", "Linear", "LinearPackedParams", "Conv1d", "Conv2d",
           "Conv3d", "Dropout"]


def _quantize_weight(float_wt, observer):
    """A float weight quantized with the qparams its observer chose (per tensor/channel)."""
    wt_scale, wt_zp = observer.calculate_qparams()
    if observer.qscheme in (Q.per_tensor_symmetric, Q.per_tensor_affine):
        return Q.quantize_per_tensor(float_wt, float(wt_scale.item()), int(wt_zp.item()),
                                     Q.qint8)
    if observer.qscheme in (Q.per_channel_symmetric, Q.per_channel_affine):
        return Q.quantize_per_channel(float_wt, wt_scale, wt_zp, observer.ch_axis, Q.qint8)
    raise ValueError(f"Unexpected qscheme {observer.qscheme}")


def _check_qtensor(x, who):
    if not isinstance(x, Q.QTensor):
        raise NotImplementedError(
            f"Could not run 'quantized::{who}' with arguments from the 'CPU' backend: the "
            "input must be a quantized tensor (put a QuantStub before this module)")
    if x._axis is not None or x.dtype is not Q.quint8:
        raise RuntimeError(f"quantized::{who} expects a per-tensor quint8 input")


def _w_scales(wq):
    """Per output channel float32 weight scales (a per-tensor scale is repeated)."""
    n = wq.shape[0]
    if wq._axis is None:
        return np.full(n, np.float32(wq._scale), np.float32)
    return wq._scale.astype(np.float32)


def _requant_consts(x, wq, out_scale):
    """fbgemm's act_times_w_scale = s_x * s_w and multiplier = that / s_out, in float32."""
    aws = (np.float32(x._scale) * _w_scales(wq)).astype(np.float32)
    mult = (aws / np.float32(out_scale)).astype(np.float32)
    return jnp.asarray(aws), jnp.asarray(mult)


def _float_module_check(cls, mod):
    float_types = cls._FLOAT_MODULES
    if type(mod) not in float_types:
        raise AssertionError(f" nnq.{cls.__name__}.from_float only works for "
                             f"{float_types[0].__name__} but got:{type(mod)}")
    if not hasattr(mod, "qconfig"):
        raise AssertionError("Input float module must have qconfig defined.")


class Quantize(Module):
    """Float in, quint8/qint8 out, with the qparams its observer chose."""

    def __init__(self, scale, zero_point, dtype, factory_kwargs=None):
        super().__init__()
        import jtorch
        self.register_buffer("scale", jtorch.tensor([float(scale)]))
        self.register_buffer("zero_point", jtorch.tensor([int(zero_point)], dtype=D.int64))
        self.dtype = dtype

    def forward(self, X):
        return Q.quantize_per_tensor(X, float(self.scale.item()), int(self.zero_point.item()),
                                     self.dtype)

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        if not hasattr(mod, "activation_post_process"):
            raise AssertionError("Input float module must have activation_post_process")
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        return Quantize(float(scale.item()), int(zero_point.item()),
                        mod.activation_post_process.dtype)

    def extra_repr(self):
        return f"scale={self.scale}, zero_point={self.zero_point}, dtype={self.dtype}"


class DeQuantize(Module):
    """Quantized in, float out."""

    def forward(self, Xq):
        return Xq.dequantize()

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        return DeQuantize()


class Dropout(Module):
    """Dropout on quantized tensors: the identity (quantized models run in eval mode)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return input

    def _get_name(self):
        return "QuantizedDropout"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return cls(mod.p, mod.inplace)


class LinearPackedParams(Module):
    """Holds (int8 weight, float bias); state_dict keys `dtype` and `_packed_params`."""

    _version = 3

    def __init__(self, dtype=Q.qint8):
        super().__init__()
        self.dtype = dtype
        self._packed_params = (None, None)

    def set_weight_bias(self, weight, bias):
        if self.dtype is not Q.qint8:
            raise missing(f"torch.ao.nn.quantized Linear with dtype {self.dtype}")
        self._packed_params = (weight, bias)

    def _weight_bias(self):
        return self._packed_params

    def forward(self, x):
        return x

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "dtype"] = self.dtype
        destination[prefix + "_packed_params"] = self._weight_bias()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        self.dtype = state_dict.pop(prefix + "dtype", self.dtype)
        packed = state_dict.pop(prefix + "_packed_params", None)
        if packed is not None:
            self.set_weight_bias(*packed)
        elif strict:
            missing_keys.append(prefix + "_packed_params")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys,
                                      unexpected_keys, error_msgs)

    def __repr__(self):
        return repr(self._weight_bias())


class Linear(Module):
    """Quantized Linear: y_q = requant(x_q W_q^T + b)."""

    _version = 3
    _FLOAT_MODULES = ()  # filled below (nn.Linear and its non-dynamic subclass)
    _RELU = False

    def __init__(self, in_features, out_features, bias_=True, dtype=Q.qint8):
        super().__init__()
        import jtorch
        self.in_features = in_features
        self.out_features = out_features
        if dtype is not Q.qint8:
            raise RuntimeError("Unsupported dtype specified for quantized Linear!")
        qweight = Q.quantize_per_tensor(jtorch.zeros(out_features, in_features), 1, 0, Q.qint8)
        bias = jtorch.zeros(out_features) if bias_ else None
        self._packed_params = LinearPackedParams(dtype)
        self._packed_params.set_weight_bias(qweight, bias)
        self.scale = 1.0
        self.zero_point = 0

    def _get_name(self):
        return "QuantizedLinear"

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"scale={self.scale}, zero_point={self.zero_point}, "
                f"qscheme={self.weight().qscheme()}")

    def __repr__(self):
        # torch hides the packed params child
        return f"{self._get_name()}({self.extra_repr()})"

    def _weight_bias(self):
        return self._packed_params._weight_bias()

    def weight(self):
        return self._weight_bias()[0]

    def bias(self):
        return self._weight_bias()[1]

    def set_weight_bias(self, w, b):
        self._packed_params.set_weight_bias(w, b)

    def forward(self, x):
        _check_qtensor(x, "linear_relu" if self._RELU else "linear")
        wq, b = self._weight_bias()
        aws, mult = _requant_consts(x, wq, self.scale)
        out = K.qlinear(x._q, np.int32(x._zp), wq._q,
                        None if b is None else b.detach()._value, aws, mult,
                        np.int32(self.zero_point), relu=self._RELU)
        return Q.QTensor._make(out, Q.quint8, self.scale, self.zero_point)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        import jtorch
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "scale"] = jtorch.tensor(self.scale)
        destination[prefix + "zero_point"] = jtorch.tensor(self.zero_point)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        for name, conv in (("scale", float), ("zero_point", int)):
            v = state_dict.pop(prefix + name, None)
            if v is not None:
                setattr(self, name, conv(v.item() if isinstance(v, Tensor) else v))
            elif strict:
                missing_keys.append(prefix + name)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys,
                                      unexpected_keys, error_msgs)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """From an observed float Linear (or fused LinearReLU)."""
        if hasattr(mod, "weight_fake_quant"):
            raise missing("converting quantization-aware-training modules (weight_fake_quant)")
        _float_module_check(cls, mod)
        if not hasattr(mod, "activation_post_process"):
            raise AssertionError("Input float module must have activation_post_process "
                                 "(run prepare and calibrate first)")
        activation_post_process = mod.activation_post_process
        from ...nn import intrinsic as nni
        if type(mod) is nni.LinearReLU:
            mod = mod[0]
        weight_post_process = mod.qconfig.weight()
        weight_post_process(mod.weight)
        dtype = weight_post_process.dtype
        act_scale, act_zp = activation_post_process.calculate_qparams()
        if dtype is not Q.qint8:
            raise AssertionError("Weight observer must have dtype torch.qint8")
        qweight = _quantize_weight(mod.weight.float(), weight_post_process)
        qlinear = cls(mod.in_features, mod.out_features, dtype=dtype)
        qlinear.set_weight_bias(qweight, mod.bias)
        qlinear.scale = float(act_scale.item())
        qlinear.zero_point = int(act_zp.item())
        return qlinear


def _ntuple(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


class _ConvNd(Module):
    """Quantized convolution (zeros padding); state_dict: weight, bias, scale, zero_point."""

    _NDIM = 2
    _RELU = False
    _FLOAT_MODULES = ()
    _NAME = "QuantizedConv2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__()
        import jtorch
        n = self._NDIM
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode != "zeros":
            raise missing(f"quantized convolution with padding_mode={padding_mode!r}")
        if isinstance(padding, str):
            raise missing(f"quantized convolution with padding={padding!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _ntuple(kernel_size, n)
        self.stride = _ntuple(stride, n)
        self.padding = _ntuple(padding, n)
        self.dilation = _ntuple(dilation, n)
        self.transposed = False
        self.output_padding = (0,) * n
        self.groups = groups
        self.padding_mode = padding_mode
        qweight = Q.quantize_per_tensor(
            jtorch.zeros(out_channels, in_channels // groups, *self.kernel_size), 1, 0, Q.qint8)
        self._wb = (qweight, jtorch.zeros(out_channels) if bias else None)
        self.scale = 1.0
        self.zero_point = 0

    def _get_name(self):
        return self._NAME

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, scale={self.scale}, zero_point={self.zero_point}")
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias() is None:
            s += ", bias=False"
        return s

    def set_weight_bias(self, w, b):
        self._wb = (w, b)

    def _weight_bias(self):
        return self._wb

    def weight(self):
        return self._wb[0]

    def bias(self):
        return self._wb[1]

    def forward(self, input):
        who = f"conv{self._NDIM}d" + ("_relu" if self._RELU else "")
        _check_qtensor(input, who)
        if input.dim() != self._NDIM + 2:
            raise ValueError(f"Input shape must be `(N, C, {'DHW'[-self._NDIM:]})`!"
                             if self._NDIM > 1 else "Input shape must be `(N, C, L)`!")
        wq, b = self._wb
        aws, mult = _requant_consts(input, wq, self.scale)
        out = K.qconv(input._q, np.int32(input._zp), wq._q,
                      None if b is None else b.detach()._value, aws, mult,
                      np.int32(self.zero_point), relu=self._RELU, stride=self.stride,
                      padding=self.padding, dilation=self.dilation, groups=self.groups)
        return Q.QTensor._make(out, Q.quint8, self.scale, self.zero_point)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        import jtorch
        super()._save_to_state_dict(destination, prefix, keep_vars)
        w, b = self._wb
        destination[prefix + "weight"] = w
        destination[prefix + "bias"] = b
        destination[prefix + "scale"] = jtorch.tensor(self.scale)
        destination[prefix + "zero_point"] = jtorch.tensor(self.zero_point)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        keys = ("weight", "bias", "scale", "zero_point")
        if all(prefix + k in state_dict for k in keys):
            w, b, s, z = (state_dict.pop(prefix + k) for k in keys)
            self.set_weight_bias(w, b)
            self.scale = float(s.item() if isinstance(s, Tensor) else s)
            self.zero_point = int(z.item() if isinstance(z, Tensor) else z)
        elif strict:
            missing_keys.extend(prefix + k for k in keys if prefix + k not in state_dict)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys,
                                      unexpected_keys, error_msgs)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """From an observed float conv (or fused ConvReLU)."""
        if hasattr(mod, "weight_fake_quant"):
            raise missing("converting quantization-aware-training modules (weight_fake_quant)")
        _float_module_check(cls, mod)
        act = getattr(mod, "activation_post_process", None)
        from ...nn import intrinsic as nni
        if isinstance(mod, nni._FusedModule):
            mod = mod[0]
        wpp = mod.qconfig.weight()
        wpp(mod.weight)
        if wpp.dtype is not Q.qint8:
            raise AssertionError("Weight observer must have a dtype of qint8")
        qweight = _quantize_weight(mod.weight.float(), wpp)
        qconv = cls(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride,
                    mod.padding, mod.dilation, mod.groups, mod.bias is not None,
                    mod.padding_mode)
        qconv.set_weight_bias(qweight, mod.bias)
        if act is None or act.dtype is D.float32:
            return qconv
        s, z = act.calculate_qparams()
        qconv.scale = float(s.item())
        qconv.zero_point = int(z.item())
        return qconv


class Conv1d(_ConvNd):
    _NDIM, _NAME = 1, "QuantizedConv1d"


class Conv2d(_ConvNd):
    _NDIM, _NAME = 2, "QuantizedConv2d"


class Conv3d(_ConvNd):
    _NDIM, _NAME = 3, "QuantizedConv3d"


def _bind_float_types():
    from ....nn.modules import conv as fconv
    from ....nn.modules import linear as flin
    Linear._FLOAT_MODULES = tuple(t for t in (flin.Linear, getattr(
        flin, "NonDynamicallyQuantizableLinear", None)) if t is not None)
    Conv1d._FLOAT_MODULES = (fconv.Conv1d,)
    Conv2d._FLOAT_MODULES = (fconv.Conv2d,)
    Conv3d._FLOAT_MODULES = (fconv.Conv3d,)


_bind_float_types()