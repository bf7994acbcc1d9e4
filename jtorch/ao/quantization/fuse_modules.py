"""fuse_modules: replace [conv, bn, relu] / [linear, relu] runs by one fused module
(BatchNorm folded into the conv's weights, in eval mode), the rest by Identity."""
from __future__ import annotations

import copy

from ...nn.modules.activation import ReLU
from ...nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from ...nn.modules.conv import Conv1d, Conv2d, Conv3d
from ...nn.modules.linear import Identity, Linear
from ...nn.utils.fusion import fuse_linear_bn_eval
from ..nn import intrinsic as nni

__all__ = ["fuse_modules", "fuse_known_modules", "get_fuser_method", "fuse_conv_bn",
           "fuse_conv_bn_relu", "fuse_linear_bn"]

def fuse_conv_bn_eval(conv, bn):
    """Fold an eval BatchNorm into a copy of `conv`: w * g/sqrt(v+eps), (b-m) * g/sqrt(v+eps)
    + beta. The inverse std is 1/sqrt (two roundings, as torch's CPU rsqrt) so the folded
    weights, and hence the int8 weights and their scales, equal torch's bit for bit."""
    import jax.numpy as jnp

    from ...nn.parameter import Parameter
    from ..._tensor import wrap
    if conv.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")
    fused = copy.deepcopy(conv)
    w = conv.weight.detach()._value
    dt = w.dtype
    rm, rv = bn.running_mean._value, bn.running_var._value
    b = conv.bias.detach()._value if conv.bias is not None else jnp.zeros_like(rm)
    g = bn.weight.detach()._value if bn.weight is not None else jnp.ones_like(rm)
    beta = bn.bias.detach()._value if bn.bias is not None else jnp.zeros_like(rm)
    inv_std = 1 / jnp.sqrt(rv + jnp.asarray(bn.eps, rv.dtype))
    shape = (-1,) + (1,) * (w.ndim - 1)
    fw = (w * (g * inv_std).reshape(shape)).astype(dt)
    fb = ((b - rm) * inv_std * g + beta).astype(dt if conv.bias is None else b.dtype)
    fused.weight = Parameter(wrap(fw), conv.weight.requires_grad)
    fused.bias = Parameter(wrap(fb), conv.bias.requires_grad if conv.bias is not None
                           else False)
    return fused


_CONV_RELU = {Conv1d: nni.ConvReLU1d, Conv2d: nni.ConvReLU2d, Conv3d: nni.ConvReLU3d}


def fuse_conv_bn(is_qat, conv, bn):
    if conv.training != bn.training:
        raise AssertionError("Conv and BN both must be in the same mode (train or eval).")
    if is_qat:
        from ..._errors import missing
        raise missing("quantization-aware fusion (ConvBn modules for QAT)")
    return fuse_conv_bn_eval(conv, bn)


def fuse_conv_bn_relu(is_qat, conv, bn, relu):
    if not conv.training == bn.training == relu.training:
        raise AssertionError("Conv and BN both must be in the same mode (train or eval).")
    if is_qat:
        from ..._errors import missing
        raise missing("quantization-aware fusion (ConvBnReLU modules for QAT)")
    fused = _CONV_RELU.get(type(conv))
    if fused is None:
        raise NotImplementedError(f"Cannot fuse eval modules: {(conv, bn, relu)}")
    return fused(fuse_conv_bn_eval(conv, bn), relu)


def fuse_linear_bn(is_qat, linear, bn):
    if linear.training != bn.training:
        raise AssertionError("Linear and BN both must be in the same mode (train or eval).")
    if is_qat:
        from ..._errors import missing
        raise missing("quantization-aware fusion (LinearBn1d for QAT)")
    return fuse_linear_bn_eval(linear, bn)


def _wrap2(fused):
    def fuser(is_qat, m1, m2):
        return fused(m1, m2)
    return fuser


_DEFAULT_OP_LIST_TO_FUSER_METHOD = {
    (Conv1d, BatchNorm1d): fuse_conv_bn,
    (Conv1d, BatchNorm1d, ReLU): fuse_conv_bn_relu,
    (Conv2d, BatchNorm2d): fuse_conv_bn,
    (Conv2d, BatchNorm2d, ReLU): fuse_conv_bn_relu,
    (Conv3d, BatchNorm3d): fuse_conv_bn,
    (Conv3d, BatchNorm3d, ReLU): fuse_conv_bn_relu,
    (Conv1d, ReLU): _wrap2(nni.ConvReLU1d),
    (Conv2d, ReLU): _wrap2(nni.ConvReLU2d),
    (Conv3d, ReLU): _wrap2(nni.ConvReLU3d),
    (Linear, BatchNorm1d): fuse_linear_bn,
    (BatchNorm2d, ReLU): _wrap2(nni.BNReLU2d),
    (BatchNorm3d, ReLU): _wrap2(nni.BNReLU3d),
    (Linear, ReLU): _wrap2(nni.LinearReLU),
}


def get_fuser_method(op_list, additional_fuser_method_mapping=None):
    mapping = {**_DEFAULT_OP_LIST_TO_FUSER_METHOD, **(additional_fuser_method_mapping or {})}
    fuser = mapping.get(op_list)
    if fuser is None:
        raise AssertionError(f"did not find fuser method for: {op_list} ")
    return fuser


def fuse_known_modules(mod_list, is_qat, additional_fuser_method_mapping=None):
    """The fused module first, then Identity for each absorbed one; hooks move along."""
    types = tuple(type(m) for m in mod_list)
    mapping = {**_DEFAULT_OP_LIST_TO_FUSER_METHOD, **(additional_fuser_method_mapping or {})}
    fuser = mapping.get(types)
    if fuser is None:
        raise NotImplementedError(f"Cannot fuse modules: {types}")
    fused = fuser(is_qat, *mod_list)
    for hook in mod_list[0]._forward_pre_hooks.values():
        fused.register_forward_pre_hook(hook)
    mod_list[0]._forward_pre_hooks.clear()
    for hook in mod_list[-1]._forward_hooks.values():
        fused.register_forward_hook(hook)
    mod_list[-1]._forward_hooks.clear()
    new_mod = [fused]
    for _ in mod_list[1:]:
        ident = Identity()
        ident.training = mod_list[0].training
        new_mod.append(ident)
    return new_mod


def _get_module(model, name):
    for part in name.split("."):
        model = getattr(model, part)
    return model


def _set_module(model, name, new):
    *parents, last = name.split(".")
    for part in parents:
        model = getattr(model, part)
    setattr(model, last, new)


def _fuse_one(model, names, is_qat, fuser_func, custom):
    mods = [_get_module(model, n) for n in names]
    additional = custom.get("additional_fuser_method_mapping", {})
    new = fuser_func(mods, is_qat, additional)
    for n, m in zip(names, new):
        _set_module(model, n, m)


def _fuse_modules(model, modules_to_fuse, is_qat, inplace=False,
                  fuser_func=fuse_known_modules, fuse_custom_config_dict=None):
    if not inplace:
        model = copy.deepcopy(model)
    custom = fuse_custom_config_dict or {}
    if all(isinstance(n, str) for n in modules_to_fuse):
        _fuse_one(model, modules_to_fuse, is_qat, fuser_func, custom)
    else:
        for names in modules_to_fuse:
            _fuse_one(model, names, is_qat, fuser_func, custom)
    return model


def fuse_modules(model, modules_to_fuse, inplace=False, fuser_func=fuse_known_modules,
                 fuse_custom_config_dict=None):
    """Fuse lists of submodule names (eval mode): conv+bn(+relu), conv+relu, linear+relu,
    linear+bn, bn+relu."""
    return _fuse_modules(model, modules_to_fuse, is_qat=False, inplace=inplace,
                         fuser_func=fuser_func, fuse_custom_config_dict=fuse_custom_config_dict)
