"""Which float module becomes which quantized module (static and dynamic), and which
modules get observers. Float types jtorch cannot quantize yet map to a stand-in whose
`from_float` raises NotImplementedError naming torch's target class."""
from __future__ import annotations

from ... import nn
from ...nn.modules import linear as _flin
from ..nn import intrinsic as nni
from ..nn import quantized as nnq
from ..nn.intrinsic import quantized as nniq
from ..nn.quantized import dynamic as nnqd
from .stubs import DeQuantStub, QuantStub

__all__ = ["get_default_static_quant_module_mappings", "get_default_dynamic_quant_module_mappings",
           "get_default_qconfig_propagation_list", "no_observer_set",
           "get_quantized_operator", "DEFAULT_STATIC_QUANT_MODULE_MAPPINGS",
           "DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS"]


def _unsupported(torch_name):
    class _Missing:
        @staticmethod
        def from_float(mod, use_precomputed_fake_quant=False):
            from ..._errors import missing
            raise missing(torch_name)
    _Missing.__name__ = torch_name.rsplit(".", 1)[-1]
    _Missing.__qualname__ = _Missing.__name__
    return _Missing


_MISSING_STATIC = {
    "BatchNorm2d": "torch.ao.nn.quantized.BatchNorm2d",
    "BatchNorm3d": "torch.ao.nn.quantized.BatchNorm3d",
    "ConvTranspose1d": "torch.ao.nn.quantized.ConvTranspose1d",
    "ConvTranspose2d": "torch.ao.nn.quantized.ConvTranspose2d",
    "ConvTranspose3d": "torch.ao.nn.quantized.ConvTranspose3d",
    "ELU": "torch.ao.nn.quantized.ELU",
    "Embedding": "torch.ao.nn.quantized.Embedding",
    "EmbeddingBag": "torch.ao.nn.quantized.EmbeddingBag",
    "GroupNorm": "torch.ao.nn.quantized.GroupNorm",
    "Hardswish": "torch.ao.nn.quantized.Hardswish",
    "InstanceNorm1d": "torch.ao.nn.quantized.InstanceNorm1d",
    "InstanceNorm2d": "torch.ao.nn.quantized.InstanceNorm2d",
    "InstanceNorm3d": "torch.ao.nn.quantized.InstanceNorm3d",
    "LayerNorm": "torch.ao.nn.quantized.LayerNorm",
    "LeakyReLU": "torch.ao.nn.quantized.LeakyReLU",
    "ReLU6": "torch.ao.nn.quantized.ReLU6",
    "PReLU": "torch.ao.nn.quantized.PReLU",
}

DEFAULT_STATIC_QUANT_MODULE_MAPPINGS = {
    QuantStub: nnq.Quantize,
    DeQuantStub: nnq.DeQuantize,
    nn.Conv1d: nnq.Conv1d,
    nn.Conv2d: nnq.Conv2d,
    nn.Conv3d: nnq.Conv3d,
    nn.Dropout: nnq.Dropout,
    nn.Linear: nnq.Linear,
    nnq.FloatFunctional: nnq.QFunctional,
    nni.ConvReLU1d: nniq.ConvReLU1d,
    nni.ConvReLU2d: nniq.ConvReLU2d,
    nni.ConvReLU3d: nniq.ConvReLU3d,
    nni.LinearReLU: nniq.LinearReLU,
    nni.BNReLU2d: _unsupported("torch.ao.nn.intrinsic.quantized.BNReLU2d"),
    nni.BNReLU3d: _unsupported("torch.ao.nn.intrinsic.quantized.BNReLU3d"),
}
if hasattr(_flin, "NonDynamicallyQuantizableLinear"):
    DEFAULT_STATIC_QUANT_MODULE_MAPPINGS[_flin.NonDynamicallyQuantizableLinear] = nnq.Linear
for _name, _torch_name in _MISSING_STATIC.items():
    _cls = getattr(nn, _name, None)
    if _cls is not None:
        DEFAULT_STATIC_QUANT_MODULE_MAPPINGS[_cls] = _unsupported(_torch_name)

DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS = {
    nn.Linear: nnqd.Linear,
    nn.LSTM: nnqd.LSTM,
    nn.GRU: _unsupported("torch.ao.nn.quantized.dynamic.GRU"),
    nn.LSTMCell: _unsupported("torch.ao.nn.quantized.dynamic.LSTMCell"),
    nn.RNNCell: _unsupported("torch.ao.nn.quantized.dynamic.RNNCell"),
    nn.GRUCell: _unsupported("torch.ao.nn.quantized.dynamic.GRUCell"),
    nni.LinearReLU: _unsupported("torch.ao.nn.intrinsic.quantized.dynamic.LinearReLU"),
}
if hasattr(_flin, "NonDynamicallyQuantizableLinear"):
    DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS[_flin.NonDynamicallyQuantizableLinear] = nnqd.Linear
for _name in ("Embedding", "EmbeddingBag"):
    if hasattr(nn, _name):
        DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS[getattr(nn, _name)] = _unsupported(
            f"torch.ao.nn.quantized.{_name}")

_INCLUDE_QCONFIG_PROPAGATE_LIST = {nn.Sequential}


def get_default_static_quant_module_mappings():
    return dict(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS)


def get_default_dynamic_quant_module_mappings():
    return dict(DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS)


def get_default_qconfig_propagation_list():
    """Module types that receive a qconfig (and, as leaves, an observer)."""
    return (set(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS) | set(DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS)
            | _INCLUDE_QCONFIG_PROPAGATE_LIST)


def no_observer_set():
    return set()


def get_quantized_operator(float_op):
    from ..._errors import missing
    raise missing("torch.ao.quantization.get_quantized_operator")
