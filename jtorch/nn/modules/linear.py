"""Identity, Linear, Bilinear, LazyLinear."""
from __future__ import annotations

import math

from .. import init
from ..parameter import Parameter, UninitializedParameter
from .lazy import LazyModuleMixin
from .module import Module

__all__ = ["Bilinear", "Identity", "LazyLinear", "Linear"]

_IMPL = {}


def _functional(name, fallback):
    """nn.functional.<name> when it exists (resolved once), else our fallback."""
    f = _IMPL.get(name)
    if f is None:
        try:
            from .. import functional as F
            f = getattr(F, name)
        except (ImportError, AttributeError):
            f = fallback
        _IMPL[name] = f
    return f


def _fallback_linear(input, weight, bias=None):
    """y = x W^T + b with jtorch ops (addmm for the 2-D case: one fused call)."""
    import jtorch
    if bias is not None and input.dim() == 2:
        return jtorch.addmm(bias, input, weight.t())
    out = input.matmul(weight.t())
    return out if bias is None else out + bias


def _linear(input, weight, bias):
    from ..._ops import dispatch
    if input.dtype is not weight.dtype and not dispatch._autocast_on:  # autocast casts first
        from ..._dtype import type_name
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                           f"{type_name(input.dtype)} and {type_name(weight.dtype)}")
    return _functional("linear", _fallback_linear)(input, weight, bias)


def _c_name(dt):
    """ATen's C type names: float, double, c10::Half, long int, ..."""
    return {"float32": "float", "float64": "double", "float16": "c10::Half",
            "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int"}.get(dt.name, dt.name)


def _fallback_bilinear(x1, x2, weight, bias=None):
    import jtorch
    out = jtorch.einsum("...i,oij,...j->...o", x1, weight, x2)
    return out if bias is None else out + bias


def _bilinear(x1, x2, weight, bias):
    """torch's checks (dtype, ranks, batch dims, feature sizes), then the op."""
    ts = [("input1", x1), ("input2", x2), ("weight", weight)] + \
        ([("bias", bias)] if bias is not None else [])
    if len({t.dtype for _, t in ts}) > 1:
        names = ", ".join(f"{n}: {_c_name(t.dtype)}" for n, t in ts)
        raise RuntimeError(f"All tensors must have the same dtype, got {names}")
    if x1.dim() != x2.dim():
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {x1.dim()} and "
                           f"{x2.dim()}")
    for i in range(x1.dim() - 1):
        if x1.size(i) != x2.size(i):
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: "
                               f"got {x1.size(i)} and {x2.size(i)}")
    if x1.size(-1) != weight.size(1):
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{x1.size(-1)} but expected {weight.size(1)}")
    if x2.size(-1) != weight.size(2):
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{x2.size(-1)} but expected {weight.size(2)}")
    return _functional("bilinear", _fallback_bilinear)(x1, x2, weight, bias)


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x A^T + b."""

    __constants__ = ["in_features", "out_features"]

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        import jtorch
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(jtorch.empty((out_features, in_features), device=device,
                                             dtype=dtype))
        if bias:
            self.bias = Parameter(jtorch.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """torch's default: kaiming_uniform_(a=sqrt(5)) weight, U(-1/sqrt(fan_in), ...) bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return _linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class NonDynamicallyQuantizableLinear(Linear):
    pass


class Bilinear(Module):
    """y = x1^T A x2 + b."""

    __constants__ = ["in1_features", "in2_features", "out_features"]

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None):
        import jtorch
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(jtorch.empty((out_features, in1_features, in2_features),
                                             device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(jtorch.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.in1_features <= 0:
            raise ValueError(f"in1_features must be > 0, but got (in1_features="
                             f"{self.in1_features})")
        bound = 1 / math.sqrt(self.weight.size(1))
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return _bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class LazyLinear(LazyModuleMixin, Linear):
    """A Linear whose in_features is inferred from the first input."""

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input):
        from ...autograd.grad_mode import no_grad
        if self.has_uninitialized_params():
            with no_grad():
                self.in_features = input.shape[-1]
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()
        if self.in_features == 0:
            if input.shape[-1] != self.weight.shape[-1]:
                raise AssertionError(f"The in_features inferred from input: {input.shape[-1]} is "
                                     "not equal to in_features from self.weight: "
                                     f"{self.weight.shape[-1]}")
            self.in_features = input.shape[-1]

