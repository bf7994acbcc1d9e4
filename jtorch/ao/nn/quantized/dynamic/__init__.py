"""torch.ao.nn.quantized.dynamic: float in, float out; int8 weights, activations quantized
to quint8 on every call (range chosen per call by fbgemm's rule, reduce_range=True)."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ....._errors import missing
from ....._tensor import Tensor, wrap
from .....nn.modules.module import Module
from .... import _quantized as Q
from .. import _kernels as K
from .. import modules as _nnq

__all__ = ["Linear", "LSTM"]


def _weight_observer(mod):
    from .....ao.quantization.qconfig import default_dynamic_qconfig
    qconfig = getattr(mod, "qconfig", None)
    return qconfig.weight if qconfig else default_dynamic_qconfig.weight


def _w_scale(wq):
    if wq._axis is None:
        return np.float32(wq._scale)
    return wq._scale.astype(np.float32)


class Linear(_nnq.Linear):
    """Dynamically quantized Linear (from `quantize_dynamic`)."""

    _version = 4

    def __init__(self, in_features, out_features, bias_=True, dtype=Q.qint8):
        if dtype is not Q.qint8:
            raise missing(f"dynamic quantized Linear with dtype {dtype!r} (only torch.qint8)")
        super().__init__(in_features, out_features, bias_, dtype=dtype)
        self.version = 4

    def _get_name(self):
        return "DynamicQuantizedLinear"

    def extra_repr(self):
        s = (f"in_features={self.in_features}, out_features={self.out_features}, "
             f"dtype={self._packed_params.dtype}")
        if self._packed_params.dtype is Q.qint8:
            s += f", qscheme={self.weight().qscheme()}"
        return s

    def forward(self, x):
        if isinstance(x, Q.QTensor):
            raise RuntimeError("quantized::linear_dynamic expects a float input, got a "
                               "quantized tensor")
        if not x.dtype.is_floating_point:
            raise RuntimeError("Input tensor for quantized::linear_dynamic must be float")
        if x.shape[-1] != self.in_features:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                               f"({int(np.prod(x.shape[:-1]))}x{x.shape[-1]} and "
                               f"{self.in_features}x{self.out_features})")
        wq, b = self._weight_bias()
        y = K.dynamic_linear(x._value, wq._q, _w_scale(wq),
                             None if b is None else b.detach()._value, reduce_range=True)
        return wrap(y.astype(x._value.dtype))

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        from .....nn.modules.linear import Linear as FLinear
        from ...intrinsic import LinearReLU
        if type(mod) not in (FLinear,) and not isinstance(mod, FLinear):
            if type(mod) is LinearReLU:
                raise missing("torch.ao.nn.intrinsic.quantized.dynamic.LinearReLU")
            raise AssertionError("nn.quantized.dynamic.Linear.from_float only works for "
                                 "nn.Linear")
        observer = _weight_observer(mod)()
        dtype = observer.dtype
        if dtype is not Q.qint8:
            raise missing(f"dynamic quantization with weight dtype {dtype!r} "
                          "(only torch.qint8)")
        observer(mod.weight)
        qweight = _nnq._quantize_weight(mod.weight.float(), observer)
        qlinear = cls(mod.in_features, mod.out_features, dtype=dtype)
        qlinear.set_weight_bias(qweight, mod.bias)
        return qlinear


# ----------------------------------------------------------------------------- LSTM

def _dyn(x, w):
    """One dynamic quantized linear on arrays (w = (int8 weight, scale, bias))."""
    wq, ws, b = w
    return K.dynamic_linear(x, wq, ws, b, reduce_range=True)


@functools.partial(jax.jit, static_argnames=("reverse",))
def _lstm_direction(x, h0, c0, w_ih, w_hh, *, reverse):
    """fbgemm's quantized LSTM layer: the input projection for the whole sequence at once
    (one activation range), then per step gates = linear_hh(h) + proj[t]."""
    proj = _dyn(x, w_ih)

    def step(carry, p):
        h, c = carry
        gates = _dyn(h, w_hh) + p
        i, f, g, o = jnp.split(gates, 4, axis=-1)
        i, f, g, o = jax.nn.sigmoid(i), jax.nn.sigmoid(f), jnp.tanh(g), jax.nn.sigmoid(o)
        c = f * c + i * g
        h = o * jnp.tanh(c)
        return (h, c), h

    (h, c), out = lax.scan(step, (h0, c0), proj, reverse=reverse)
    return out, h, c


class LSTM(Module):
    """Dynamically quantized LSTM (from `quantize_dynamic`): int8 gate matmuls, float
    cell math."""

    _FLOAT_MODULE = None

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=Q.qint8):
        super().__init__()
        self.mode = "LSTM"
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.dtype = dtype
        self.version = 2
        self.training = False
        self._weights = []  # per layer, per direction: (w_ih, b_ih, w_hh, b_hh)

    def _get_name(self):
        return "DynamicQuantizedLSTM"

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def _all_weights_flat(self):
        return self._weights

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        for i, w in enumerate(self._weights):
            destination[f"{prefix}_all_weight_values.{i}.param"] = w

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        n = self.num_layers * (2 if self.bidirectional else 1)
        keys = [f"{prefix}_all_weight_values.{i}.param" for i in range(n)]
        if all(k in state_dict for k in keys):
            self._weights = [tuple(state_dict.pop(k)) for k in keys]
        elif strict:
            missing_keys.extend(k for k in keys if k not in state_dict)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys,
                                      unexpected_keys, error_msgs)

    @staticmethod
    def _arrays(wq, b):
        return (wq._q, jnp.asarray(_w_scale(wq)), None if b is None else b.detach()._value)

    def forward(self, input, hx=None):
        if not isinstance(input, Tensor) or isinstance(input, Q.QTensor):
            raise missing("dynamic quantized LSTM on packed sequences or quantized inputs")
        x = input._value.astype(jnp.float32)
        batched = x.ndim == 3
        if not batched:
            x = x[:, None] if not self.batch_first else x[None]
        if self.batch_first:
            x = jnp.swapaxes(x, 0, 1)
        dirs = 2 if self.bidirectional else 1
        bsz = x.shape[1]
        if hx is None:
            z = jnp.zeros((self.num_layers * dirs, bsz, self.hidden_size), x.dtype)
            h0, c0 = z, z
        else:
            h0, c0 = (t._value.astype(jnp.float32) for t in hx)
            if not batched:
                h0, c0 = h0[:, None], c0[:, None]
        hs, cs = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                w_ih, b_ih, w_hh, b_hh = self._weights[k]
                out, h, c = _lstm_direction(layer_in, h0[k], c0[k], self._arrays(w_ih, b_ih),
                                            self._arrays(w_hh, b_hh), reverse=d == 1)
                outs.append(out)
                hs.append(h)
                cs.append(c)
            layer_in = outs[0] if dirs == 1 else jnp.concatenate(outs, axis=-1)
        out = layer_in
        if self.batch_first:
            out = jnp.swapaxes(out, 0, 1)
        h_n, c_n = jnp.stack(hs), jnp.stack(cs)
        if not batched:
            out = out[:, 0] if not self.batch_first else out[0]
            h_n, c_n = h_n[:, 0], c_n[:, 0]
        return wrap(out), (wrap(h_n), wrap(c_n))

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        from .....nn.modules.rnn import LSTM as FLSTM
        if type(mod) is not FLSTM:
            raise AssertionError("nn.quantized.dynamic.LSTM.from_float only works for nn.LSTM")
        if getattr(mod, "proj_size", 0):
            raise missing("dynamic quantized LSTM with proj_size")
        obs_ctor = _weight_observer(mod)
        dtype = obs_ctor().dtype
        if dtype is not Q.qint8:
            raise missing(f"dynamic quantized LSTM with weight dtype {dtype!r} "
                          "(only torch.qint8)")
        qmod = cls(mod.input_size, mod.hidden_size, mod.num_layers, mod.bias, mod.batch_first,
                   mod.dropout, mod.bidirectional, dtype)
        dirs = 2 if mod.bidirectional else 1
        weights = []
        for layer in range(mod.num_layers):
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                packed = []
                for kind in ("ih", "hh"):
                    w = getattr(mod, f"weight_{kind}{sfx}")
                    b = getattr(mod, f"bias_{kind}{sfx}", None) if mod.bias else None
                    obs = obs_ctor()
                    obs(w)
                    packed += [_nnq._quantize_weight(w.float(), obs), b]
                weights.append(tuple(packed))
        qmod._weights = weights
        return qmod
