"""Eager-mode quantization workflow: propagate qconfigs, `prepare` (attach observers),
calibrate, `convert` (swap modules for quantized ones); `quantize_dynamic` in one call."""
from __future__ import annotations

import copy
import inspect
import itertools
import warnings

from ... import nn
from ..nn import intrinsic as nni
from ..nn import quantized as nnq
from .. import _quantized as Q
from .observer import ObserverBase
from .qconfig import default_dynamic_qconfig, float16_dynamic_qconfig
from .quantization_mappings import (
    get_default_dynamic_quant_module_mappings, get_default_qconfig_propagation_list,
    get_default_static_quant_module_mappings,
)
from .stubs import DeQuantStub

__all__ = ["propagate_qconfig_", "prepare", "convert", "quantize", "quantize_dynamic",
           "swap_module", "add_quant_dequant", "prepare_qat", "quantize_qat"]


def _is_activation_post_process(m):
    return isinstance(m, ObserverBase)


def _observer_forward_hook(self, input, output):
    """Run the module's output through its observer."""
    return self.activation_post_process(output)


def _propagate_qconfig_helper(module, qconfig_dict, qconfig_parent=None, prefix="",
                              prepare_custom_config_dict=None):
    module_qconfig = qconfig_dict.get(type(module), qconfig_parent)
    module_qconfig = qconfig_dict.get(prefix, module_qconfig)
    module_qconfig = getattr(module, "qconfig", module_qconfig)
    module.qconfig = module_qconfig
    for name, child in module.named_children():
        module_prefix = prefix + "." + name if prefix else name
        _propagate_qconfig_helper(child, qconfig_dict, module_qconfig, module_prefix)


def propagate_qconfig_(module, qconfig_dict=None, prepare_custom_config_dict=None):
    """Give every submodule a `qconfig`: its own, else by name/type in `qconfig_dict`,
    else its parent's."""
    if qconfig_dict is None:
        qconfig_dict = {}
    _propagate_qconfig_helper(module, qconfig_dict)


def _needs_observation(m):
    return hasattr(m, "qconfig") and m.qconfig is not None


def _insert_observer(m):
    if _needs_observation(m) and not isinstance(m, DeQuantStub):
        m.add_module("activation_post_process", m.qconfig.activation())
        m.register_forward_hook(_observer_forward_hook)


def _add_observer_(module, qconfig_propagation_list=None, non_leaf_module_list=None,
                   device=None, custom_module_class_mapping=None):
    """Attach an observer (and its forward hook) to each quantizable leaf with a qconfig."""
    if qconfig_propagation_list is None:
        qconfig_propagation_list = get_default_qconfig_propagation_list()
    for _, child in module.named_children():
        if type(child) is nn.Dropout:
            continue
        if isinstance(child, (nnq.FloatFunctional, nnq.QFunctional)):
            if _needs_observation(child):  # observed inside its ops, no hook
                child.activation_post_process = child.qconfig.activation()
        elif isinstance(child, nni._FusedModule):
            _insert_observer(child)
        elif non_leaf_module_list is not None and type(child) in non_leaf_module_list:
            _insert_observer(child)
        else:
            _add_observer_(child, qconfig_propagation_list, non_leaf_module_list, device,
                           custom_module_class_mapping)
    if (not list(module.children()) and not isinstance(module, nn.Sequential)
            and type(module) in qconfig_propagation_list):
        _insert_observer(module)


def prepare(model, inplace=False, allow_list=None, observer_non_leaf_module_list=None,
            prepare_custom_config_dict=None):
    """A copy of `model` (unless inplace) with observers attached per `.qconfig`."""
    if prepare_custom_config_dict:
        from ..._errors import missing
        raise missing("prepare(prepare_custom_config_dict=...) (custom observed modules)")
    if not inplace:
        model = copy.deepcopy(model)
    propagation_list = allow_list if allow_list is not None else \
        get_default_qconfig_propagation_list()
    propagate_qconfig_(model, qconfig_dict=None)
    if not any(getattr(m, "qconfig", None) for m in model.modules()):
        warnings.warn("None of the submodule got qconfig applied. Make sure you passed correct "
                      "configuration through `qconfig_dict` or by assigning the `.qconfig` "
                      "attribute directly on submodules", stacklevel=2)
    _add_observer_(model, propagation_list, observer_non_leaf_module_list)
    return model


def _remove_activation_post_process(module):
    if hasattr(module, "activation_post_process") and \
            _is_activation_post_process(module.activation_post_process):
        delattr(module, "activation_post_process")
    for hooks in (module._forward_hooks, module._forward_pre_hooks):
        for hid in [k for k, fn in hooks.items() if fn is _observer_forward_hook]:
            hooks.pop(hid)


def _remove_qconfig(module):
    for child in module.children():
        _remove_qconfig(child)
    if hasattr(module, "qconfig"):
        del module.qconfig
    _remove_activation_post_process(module)


def swap_module(mod, mapping, custom_module_class_mapping=None,
                use_precomputed_fake_quant=False):
    """The quantized replacement of `mod` per `mapping` (hooks carried over), or `mod`."""
    new_mod = mod
    if getattr(mod, "qconfig", None) is not None and type(mod) in mapping:
        qmod = mapping[type(mod)]
        sig = inspect.signature(qmod.from_float)
        if "use_precomputed_fake_quant" in sig.parameters:
            new_mod = qmod.from_float(mod, use_precomputed_fake_quant=use_precomputed_fake_quant)
        else:
            new_mod = qmod.from_float(mod)
        for hook in mod._forward_pre_hooks.values():
            new_mod.register_forward_pre_hook(hook)
        for hook in mod._forward_hooks.values():
            if hook is not _observer_forward_hook:
                new_mod.register_forward_hook(hook)
    return new_mod


def _convert(module, mapping=None, inplace=False, is_reference=False,
             convert_custom_config_dict=None, use_precomputed_fake_quant=False):
    if mapping is None:
        mapping = get_default_static_quant_module_mappings()
    if not inplace:
        module = copy.deepcopy(module)
    reassign = {}
    for name, mod in module.named_children():
        if not isinstance(mod, nni._FusedModule):
            _convert(mod, mapping, True, is_reference, convert_custom_config_dict,
                     use_precomputed_fake_quant)
        reassign[name] = swap_module(mod, mapping, None, use_precomputed_fake_quant)
    for key, value in reassign.items():
        module._modules[key] = value
    return module


def convert(module, mapping=None, inplace=False, remove_qconfig=True, is_reference=False,
            convert_custom_config_dict=None, use_precomputed_fake_quant=False):
    """Swap observed float modules for quantized ones (`from_float` reads the observers)."""
    if is_reference:
        from ..._errors import missing
        raise missing("convert(is_reference=True) (reference quantized modules)")
    if convert_custom_config_dict:
        from ..._errors import missing
        raise missing("convert(convert_custom_config_dict=...) (custom quantized modules)")
    if not inplace:
        module = copy.deepcopy(module)
    _convert(module, mapping, inplace=True, use_precomputed_fake_quant=use_precomputed_fake_quant)
    if remove_qconfig:
        _remove_qconfig(module)
    return module


def quantize(model, run_fn, run_args, mapping=None, inplace=False):
    """Post-training static quantization: prepare, `run_fn(model, *run_args)`, convert."""
    if mapping is None:
        mapping = get_default_static_quant_module_mappings()
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    prepare(model, inplace=True)
    run_fn(model, *run_args)
    convert(model, mapping, inplace=True)
    return model


def quantize_dynamic(model, qconfig_spec=None, dtype=Q.qint8, mapping=None, inplace=False):
    """Replace Linear/LSTM (or the types/names in `qconfig_spec`) by dynamically quantized
    versions: int8 weights now, activations quantized per call."""
    from ... import _dtype as D
    if qconfig_spec is None:
        if dtype is Q.qint8:
            qconfig_spec = {t: default_dynamic_qconfig for t in
                            (nn.Linear, nn.LSTM, nn.GRU, nn.LSTMCell, nn.RNNCell, nn.GRUCell)}
        elif dtype is D.float16:
            qconfig_spec = {t: float16_dynamic_qconfig for t in
                            (nn.Linear, nn.LSTM, nn.GRU, nn.LSTMCell, nn.RNNCell, nn.GRUCell)}
        elif dtype is Q.quint8:
            from ..._errors import missing
            raise missing("quantize_dynamic(dtype=torch.quint8) (embedding weight-only "
                          "quantization)")
        else:
            raise ValueError(f"Don't know how to quantize with default settings for {dtype}. "
                             "Provide full qconfig please")
    elif isinstance(qconfig_spec, set):
        if dtype is Q.qint8:
            default = default_dynamic_qconfig
        elif dtype is D.float16:
            default = float16_dynamic_qconfig
        else:
            raise RuntimeError("Unknown dtype specified for quantize_dynamic: ", str(dtype))
        qconfig_spec = dict(zip(qconfig_spec, itertools.repeat(default)))
    if mapping is None:
        mapping = get_default_dynamic_quant_module_mappings()
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    propagate_qconfig_(model, qconfig_spec)
    convert(model, mapping, inplace=True)
    return model


def add_quant_dequant(module):
    """Wrap each leaf that has a qconfig in QuantWrapper."""
    from .stubs import QuantWrapper
    if (not list(module.children()) and hasattr(module, "qconfig") and module.qconfig):
        return QuantWrapper(module)
    for name, child in module.named_children():
        module._modules[name] = add_quant_dequant(child)
    return module


def prepare_qat(model, mapping=None, inplace=False):
    from ..._errors import missing
    raise missing("torch.ao.quantization.prepare_qat (quantization-aware training)")


def quantize_qat(model, run_fn, run_args, inplace=False):
    from ..._errors import missing
    raise missing("torch.ao.quantization.quantize_qat (quantization-aware training)")

