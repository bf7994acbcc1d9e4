"""QConfig: which observer classes watch a module's activations and weights."""
from __future__ import annotations

from collections import namedtuple

from ...nn.modules.module import Module
from .observer import (
    HistogramObserver, PlaceholderObserver, default_dynamic_quant_observer, default_observer,
    default_per_channel_weight_observer, default_weight_observer,
)

__all__ = ["QConfig", "QConfigDynamic", "default_qconfig", "default_per_channel_qconfig",
           "default_dynamic_qconfig", "per_channel_dynamic_qconfig", "float16_dynamic_qconfig",
           "get_default_qconfig", "get_default_qat_qconfig", "qconfig_equals"]


class QConfig(namedtuple("QConfig", ["activation", "weight"])):
    """Observer *classes* (or `with_args` partials) for activations and weights."""

    __slots__ = ()

    def __new__(cls, activation, weight):
        if isinstance(activation, Module) or isinstance(weight, Module):
            raise ValueError("QConfig received observer instance, please pass observer class "
                             "instead. Use MyObserver.with_args(x=1) to override arguments to "
                             "constructor if needed")
        return super().__new__(cls, activation, weight)


class QConfigDynamic(namedtuple("QConfigDynamic", ["activation", "weight"])):
    """Deprecated twin of QConfig for dynamic quantization."""

    __slots__ = ()

    def __new__(cls, activation=None, weight=None):
        if isinstance(weight, Module):
            raise ValueError("QConfigDynamic received observer instance, please pass observer "
                             "class instead. Use MyObserver.with_args(x=1) to override "
                             "arguments to constructor if needed")
        return super().__new__(cls, activation, weight)


default_qconfig = QConfig(activation=default_observer, weight=default_weight_observer)
default_per_channel_qconfig = QConfig(activation=default_observer,
                                      weight=default_per_channel_weight_observer)
default_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer,
                                  weight=default_weight_observer)
per_channel_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer,
                                      weight=default_per_channel_weight_observer)


def _f16():
    from ... import _dtype as D
    return D.float16


float16_dynamic_qconfig = QConfig(
    activation=PlaceholderObserver.with_args(dtype=_f16(), is_dynamic=True),
    weight=PlaceholderObserver.with_args(dtype=_f16()))


def get_default_qconfig(backend="x86", version=0):
    """The default post-training qconfig of a backend ('x86', 'fbgemm', 'qnnpack', 'onednn')."""
    supported = ["fbgemm", "x86", "qnnpack", "onednn"]
    if backend not in supported:
        raise AssertionError("backend: " + str(backend)
                             + f" not supported. backend must be one of {supported}")
    if version != 0:
        raise AssertionError("Version number: " + str(version)
                             + " in get_default_qconfig is not supported. Version number must "
                             "be 0")
    if backend in ("fbgemm", "x86"):
        return QConfig(activation=HistogramObserver.with_args(reduce_range=True),
                       weight=default_per_channel_weight_observer)
    if backend == "qnnpack":
        return QConfig(activation=HistogramObserver.with_args(reduce_range=False),
                       weight=default_weight_observer)
    return QConfig(activation=HistogramObserver.with_args(reduce_range=False),
                   weight=default_per_channel_weight_observer)


def get_default_qat_qconfig(backend="x86", version=1):
    from ..._errors import missing
    raise missing("torch.ao.quantization.get_default_qat_qconfig (quantization-aware training)")


def _partial_key(obs):
    p = getattr(obs, "p", None)
    if p is None:
        return obs
    return (p.func, p.args, tuple(sorted(p.keywords.items(), key=lambda kv: kv[0])))


def qconfig_equals(q1, q2):
    """Whether two qconfigs name the same observers with the same arguments."""
    if q1 is None or q2 is None:
        return q1 == q2
    return (_partial_key(q1.activation) == _partial_key(q2.activation)
            and _partial_key(q1.weight) == _partial_key(q2.weight))


def _activation_is_memoryless(qconfig):
    return False


def _assert_valid_qconfig(qconfig, mod):
    """torch refuses per-channel weight observers on ConvTranspose."""
    return

