"""RNN, LSTM, GRU and their single-step cells.

Each layer and direction is one registered op running a `lax.scan` over the whole sequence
(jtorch/_ops/nn_conv_ops.py `_jt_rnn_layer`), so a layer costs one jitted call forward and
one backward. Packed sequences run on their padded form with per-column lengths.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ..._ops import nn_conv_ops as K
from ..._ops.dispatch import _call
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, _packed_to_padded, _padded_to_packed_data
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _dropout(x, p, training):
    if not training or p == 0:
        return x
    try:
        from .. import functional as F
        return F.dropout(x, p, training)
    except (ImportError, AttributeError):
        import jtorch
        keep = (jtorch.rand_like(x) >= p).to(x.dtype)
        return x * keep / (1 - p)


class RNNBase(Module):
    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first",
                     "dropout", "bidirectional", "proj_size"]

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, device=None,
                 dtype=None):
        import jtorch
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or
                isinstance(dropout, bool)):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: "
                            f"{type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        real_hidden = proj_size if proj_size > 0 else hidden_size
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_in = input_size if layer == 0 else real_hidden * num_directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih_l{}{}", (gate_size, layer_in)),
                          ("weight_hh_l{}{}", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih_l{}{}", (gate_size,)), ("bias_hh_l{}{}", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr_l{}{}", (proj_size, hidden_size))]
                names = []
                for fmt, shape in shapes:
                    name = fmt.format(layer, suffix)
                    setattr(self, name, Parameter(jtorch.empty(shape, device=device,
                                                               dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self):
        return [getattr(self, n, None) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, w) for w in ws] for ws in self._all_weights]

    def flatten_parameters(self):
        """cuDNN weight packing: nothing to do here."""

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    def __setstate__(self, state):
        super().__setstate__(state)
        if "proj_size" not in self.__dict__:
            self.proj_size = 0

    # ---------------------------------------------------------------- checks
    def check_input(self, input, batch_sizes):
        expected = 2 if batch_sizes is not None else 3
        if input.dim() != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.size(-1)}")

    def get_expected_hidden_size(self, input, batch_sizes):
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        dirs = 2 if self.bidirectional else 1
        h = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * dirs, mini_batch, h)

    def check_hidden_size(self, hx, expected, msg="Expected hidden size {}, got {}"):
        if tuple(hx.size()) != tuple(expected):
            raise RuntimeError(msg.format(list(expected), list(hx.size())))

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        return hx.index_select(1, permutation)

    # ---------------------------------------------------------------- the stack
    def _run_stack(self, x, hx, cx, lengths):
        """x: (T, B, F) time-major. Returns output (T, B, H*dirs), h_n, c_n."""
        import jtorch
        dirs = 2 if self.bidirectional else 1
        per = len(self._flat_weights_names) // (self.num_layers * dirs)
        weights = self._flat_weights
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                idx = layer * dirs + d
                ws = weights[idx * per:(idx + 1) * per]
                w_ih, w_hh = ws[0], ws[1]
                b_ih, b_hh = (ws[2], ws[3]) if self.bias else (None, None)
                w_hr = ws[-1] if self.proj_size > 0 else None
                out, h, c = _call(K._jt_rnn_layer,
                                  (x, hx[idx], None if cx is None else cx[idx], w_ih, w_hh,
                                   b_ih, b_hh, w_hr, lengths), (self.mode, d == 1))
                outs.append(out)
                hs.append(h)
                cs.append(c)
            x = outs[0] if dirs == 1 else jtorch.cat(outs, -1)
            if layer < self.num_layers - 1:
                x = _dropout(x, self.dropout, self.training)
        h_n = jtorch.stack(hs, 0)
        c_n = jtorch.stack(cs, 0) if cx is not None else None
        return x, h_n, c_n

    def _forward(self, input, hx, is_lstm):
        import jtorch
        name = type(self).__name__
        packed = isinstance(input, PackedSequence)
        dirs = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        batch_dim = 0 if self.batch_first else 1
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            self.check_input(data, batch_sizes)
            x, lens = _packed_to_padded(input)
            lengths = jtorch.tensor(lens, dtype=jtorch.long)
            batch = int(batch_sizes[0])
            is_batched = True
            dtype = data.dtype
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D "
                                 f"tensor instead")
            is_batched = input.dim() == 3
            if not is_batched:
                input = input.unsqueeze(batch_dim)
                if hx is not None:
                    if is_lstm:
                        if hx[0].dim() != 2 or hx[1].dim() != 2:
                            raise RuntimeError(f"For unbatched 2-D input, hx and cx should also "
                                               f"be 2-D but got ({hx[0].dim()}-D, "
                                               f"{hx[1].dim()}-D) tensors")
                        hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
                    else:
                        if hx.dim() != 2:
                            raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D "
                                               f"but got {hx.dim()}-D tensor")
                        hx = hx.unsqueeze(1)
            elif hx is not None:
                if is_lstm and (hx[0].dim() != 3 or hx[1].dim() != 3):
                    raise RuntimeError(f"For batched 3-D input, hx and cx should also be 3-D "
                                       f"but got ({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
                if not is_lstm and hx.dim() != 3:
                    raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got "
                                       f"{hx.dim()}-D tensor")
            self.check_input(input, None)
            batch_sizes = sorted_indices = unsorted_indices = None
            x = input.transpose(0, 1) if self.batch_first else input
            lengths = None
            batch = x.shape[1]
            dtype = input.dtype
        dev = x.device
        if hx is None:
            h0 = jtorch.zeros((self.num_layers * dirs, batch, real_hidden), dtype=dtype,
                              device=dev)
            c0 = jtorch.zeros((self.num_layers * dirs, batch, self.hidden_size), dtype=dtype,
                              device=dev) if is_lstm else None
        elif is_lstm:
            h0 = self.permute_hidden(hx[0], sorted_indices)
            c0 = self.permute_hidden(hx[1], sorted_indices)
            exp = (self.num_layers * dirs, batch, real_hidden)
            self.check_hidden_size(h0, exp, "Expected hidden[0] size {}, got {}")
            self.check_hidden_size(c0, exp[:2] + (self.hidden_size,),
                                   "Expected hidden[1] size {}, got {}")
        else:
            h0 = self.permute_hidden(hx, sorted_indices)
            c0 = None
            self.check_hidden_size(h0, (self.num_layers * dirs, batch, real_hidden))
        out, h_n, c_n = self._run_stack(x, h0, c0, lengths)
        if packed:
            bs = np.asarray(batch_sizes.tolist(), np.int64)
            output = PackedSequence(_padded_to_packed_data(out, bs), batch_sizes,
                                    sorted_indices, unsorted_indices)
        else:
            output = out.transpose(0, 1) if self.batch_first else out
            if not is_batched:
                output = output.squeeze(batch_dim)
        h_n = self.permute_hidden(h_n, unsorted_indices)
        if is_lstm:
            c_n = self.permute_hidden(c_n, unsorted_indices)
            if not is_batched:
                h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
            return output, (h_n, c_n)
        if not is_batched:
            h_n = h_n.squeeze(1)
        return output, h_n

    def forward(self, input, hx=None):
        return self._forward(input, hx, self.mode == "LSTM")


class RNN(RNNBase):
    """Elman RNN with tanh or relu."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             f"or 'relu'.")
        super().__init__(mode, *args, **kwargs)


class LSTM(RNNBase):
    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


class RNNCellBase(Module):
    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        import jtorch
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(jtorch.empty((num_chunks * hidden_size, input_size),
                                                device=device, dtype=dtype))
        self.weight_hh = Parameter(jtorch.empty((num_chunks * hidden_size, hidden_size),
                                                device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(jtorch.empty(num_chunks * hidden_size, device=device,
                                                  dtype=dtype))
            self.bias_hh = Parameter(jtorch.empty(num_chunks * hidden_size, device=device,
                                                  dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _step(self, input, hx, mode, is_lstm):
        import jtorch
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D "
                             f"instead")
        h = hx[0] if (is_lstm and hx is not None) else hx
        if h is not None and h.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected hidden to be 1D or 2D, got {h.dim()}D instead")
        if input.size(-1) != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.size(-1)} "
                               f"expected {self.input_size}")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            z = jtorch.zeros((input.size(0), self.hidden_size), dtype=input.dtype,
                             device=input.device)
            hx = (z, z) if is_lstm else z
        elif not is_batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0)) if is_lstm else hx.unsqueeze(0)
        h0, c0 = (hx[0], hx[1]) if is_lstm else (hx, None)
        if h0.size(0) != input.size(0):
            raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden0 batch "
                               f"size {h0.size(0)}")
        h, c = _call(K._jt_rnn_cell, (input, h0, c0, self.weight_ih, self.weight_hh,
                                      self.bias_ih, self.bias_hh), (mode,))
        if not is_batched:
            h, c = h.squeeze(0), c.squeeze(0)
        return (h, c) if is_lstm else h


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device,
                         dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return self._step(input, hx, mode, False)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device,
                         dtype=dtype)

    def forward(self, input, hx=None):
        return self._step(input, hx, "LSTM", True)


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device,
                         dtype=dtype)

    def forward(self, input, hx=None):
        return self._step(input, hx, "GRU", False)
