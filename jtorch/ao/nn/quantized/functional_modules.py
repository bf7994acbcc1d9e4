"""FloatFunctional / QFunctional: the eager-mode way to quantize tensor arithmetic (e.g. a
residual `add`): observed as float during calibration, a quantized kernel after convert."""
from __future__ import annotations

import numpy as np

from ...._errors import missing
from ....nn.modules.linear import Identity
from ....nn.modules.module import Module
from ... import _quantized as Q
from . import _kernels as K

__all__ = ["FloatFunctional", "QFunctional"]


class FloatFunctional(Module):
    """Float ops with an output observer slot (`activation_post_process`)."""

    def __init__(self):
        super().__init__()
        self.activation_post_process = Identity()

    def forward(self, x):
        raise RuntimeError("FloatFunctional is not intended to use the 'forward'. Please use "
                           "the underlying operation")

    def add(self, x, y):
        import jtorch
        return self.activation_post_process(jtorch.add(x, y))

    def add_scalar(self, x, y):
        import jtorch
        return jtorch.add(x, y)

    def mul(self, x, y):
        import jtorch
        return self.activation_post_process(jtorch.mul(x, y))

    def mul_scalar(self, x, y):
        import jtorch
        return jtorch.mul(x, y)

    def cat(self, x, dim=0):
        import jtorch
        return self.activation_post_process(jtorch.cat(x, dim=dim))

    def add_relu(self, x, y):
        import jtorch
        return self.activation_post_process(jtorch.relu(jtorch.add(x, y)))

    def matmul(self, x, y):
        import jtorch
        return self.activation_post_process(jtorch.matmul(x, y))


def _check(x, who):
    if not isinstance(x, Q.QTensor) or x._axis is not None or x.dtype is not Q.quint8:
        raise NotImplementedError(f"Could not run 'quantized::{who}' with these arguments: "
                                  "jtorch's QFunctional takes per-tensor quint8 tensors")


class QFunctional(Module):
    """Quantized counterpart of FloatFunctional (output scale/zero_point from calibration)."""

    def __init__(self):
        super().__init__()
        self.scale = 1.0
        self.zero_point = 0
        self.activation_post_process = Identity()

    def _get_name(self):
        return "QFunctional"

    def extra_repr(self):
        return f"scale={self.scale}, zero_point={self.zero_point}"

    def forward(self, x):
        raise RuntimeError("Functional is not intended to use the 'forward'. Please use the "
                           "underlying operation")

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
                setattr(self, name, conv(v.item()))
            elif strict:
                missing_keys.append(prefix + name)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys,
                                      unexpected_keys, error_msgs)

    def _add(self, x, y, relu):
        who = "add_relu" if relu else "add"
        _check(x, who)
        _check(y, who)
        out = K.qadd(x._q, np.float32(x._scale), np.int32(x._zp), y._q, np.float32(y._scale),
                     np.int32(y._zp), np.float32(self.scale), np.int32(self.zero_point),
                     relu=relu)
        return Q.QTensor._make(out, Q.quint8, self.scale, self.zero_point)

    def add(self, x, y):
        return self._add(x, y, False)

    def add_relu(self, x, y):
        return self._add(x, y, True)

    def cat(self, x, dim=0):
        import jtorch
        for t in x:
            _check(t, "cat")
        return Q.quantize_per_tensor(jtorch.cat([t.dequantize() for t in x], dim=dim),
                                     self.scale, self.zero_point, Q.quint8)

    def add_scalar(self, x, y):
        raise missing("torch.ao.nn.quantized.QFunctional.add_scalar")

    def mul(self, x, y):
        raise missing("torch.ao.nn.quantized.QFunctional.mul")

    def mul_scalar(self, x, y):
        raise missing("torch.ao.nn.quantized.QFunctional.mul_scalar")

    def matmul(self, x, y):
        raise missing("torch.ao.nn.quantized.QFunctional.matmul")

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        if type(mod) is not FloatFunctional:
            raise AssertionError("QFunctional.from_float expects an instance of "
                                 "FloatFunctional")
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        new = QFunctional()
        new.scale = float(scale.item())
        new.zero_point = int(zero_point.item())
        return new
