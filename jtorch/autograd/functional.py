"""torch.autograd.functional: jacobian, hessian, vjp, jvp, hvp, vhp on the tape.

Same signatures and output nesting as torch: a Tensor where torch gives a Tensor,
tuples following whether `inputs` / the function's outputs were tuples. The
jacobian takes one backward per output element (`vectorize` is accepted and only
changes speed in torch); jvp uses the double-backward trick.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp

from . import grad_mode


def _tensor_cls():
    from .._tensor import Tensor
    return Tensor


def _as_tuple(x, arg_name, fn_name):
    """(was_tuple, tuple of Tensors), with torch's TypeError for anything else."""
    Tensor = _tensor_cls()
    is_tuple = isinstance(x, tuple)
    if not is_tuple:
        x = (x,)
    for i, el in enumerate(x):
        if not isinstance(el, Tensor):
            if is_tuple:
                raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                                f"tuple of Tensors but the value at index {i} has type "
                                f"{type(el)}.")
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but the given {arg_name} has type {type(el)}.")
    return is_tuple, x


def _tuple_postprocess(res, flags):
    """Unwrap the one-element tuples torch does not return."""
    if isinstance(flags, tuple):
        outer, inner = flags
        if not inner:
            res = tuple(r[0] for r in res)
        if not outer:
            res = res[0]
        return res
    return res if flags else res[0]


def _preprocess(inputs, create_graph, need_graph):
    """Fresh leaves (or, under create_graph, views that keep the caller's graph)."""
    res = []
    for t in inputs:
        if create_graph and t.requires_grad:
            res.append(t.view(tuple(t.shape)))
        else:
            res.append(t.detach().requires_grad_(need_graph))
    return tuple(res)


def _postprocess(res, create_graph):
    if create_graph:
        return res
    return tuple(r.detach() if r is not None else None for r in res)


def _zeros_like(t):
    from .._tensor import wrap
    return wrap(jnp.zeros(tuple(t.shape), t._value.dtype))


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got "
                               f"{len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_o) in enumerate(zip(v, other)):
        if el_v.shape != el_o.shape:
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be {el_o.shape} but got "
                               f"{el_v.shape}.")


def _check_requires_grad(inputs, input_type, strict):
    if not strict:
        return
    for i, t in enumerate(inputs):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if not t.requires_grad:
            if input_type == "hessian":
                raise RuntimeError(f"The hessian of the user-provided function with respect to "
                                   f"input {i} is independent of the input. This is not allowed "
                                   "in strict mode.")
            if input_type == "jacobian":
                raise RuntimeError(f"While computing the hessian, found that the jacobian of the "
                                   f"user-provided function with respect to input {i} is "
                                   "independent of the input. This is not allowed in strict "
                                   "mode.")
            raise RuntimeError(f"Output {i} of the user-provided function does not require "
                               "gradients. The outputs must be computed in a differentiable "
                               "manner from the input when running in strict mode.")


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False):
    """autograd.grad over the outputs that require grad; None where nothing flows."""
    from . import grad as _grad
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    outs, gos = [], []
    for o, g in zip(outputs, grad_outputs):
        if o is not None and o.requires_grad:
            outs.append(o)
            gos.append(g)
    if not outs:
        return (None,) * len(inputs)
    return _grad(outs, inputs, gos, retain_graph=True, create_graph=create_graph,
                 allow_unused=True)


_STRICT_MSG = {
    "back": "The output of the user-provided function is independent of input {}. This is not "
            "allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {}. This "
                   "is not allowed in strict mode.",
}


def _fill_in_zeros(grads, refs, strict, stage):
    res = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_STRICT_MSG[stage].format(i))
            g = _zeros_like(ref)
        res.append(g)
    return tuple(res)


@functools.lru_cache(maxsize=None)
def _stacker(shape):
    def stack(*rows):
        return (jnp.stack(rows).reshape(shape),)
    return stack


def _stack(rows, shape, create_graph):
    """Stack per-output-element gradient rows into out.shape + in.shape (differentiably
    under create_graph)."""
    from .._tensor import wrap
    if not create_graph or not any(r.requires_grad for r in rows):
        return wrap(jnp.stack([r._value for r in rows]).reshape(shape))
    from .._ops.dispatch import apply_jax
    return apply_jax(_stacker(shape), list(rows), name="StackBackward0")[0]


def _one_hot(out, j):
    from .._tensor import wrap
    n = max(out.numel(), 1)
    return wrap(jnp.zeros((n,), out._value.dtype).at[j].set(1).reshape(tuple(out.shape)))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """d func(inputs) / d inputs; entry [i][j] has shape outputs[i].shape + inputs[j].shape."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                         'Hint: If your function has more outputs than inputs, "forward-mode" '
                         'tends to be more performant. Otherwise, prefer to use '
                         '"reverse-mode".')
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError("torch.autograd.functional.jacobian: `strategy=\"forward-mode\"` "
                                  "requires `vectorize=True`.")
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _preprocess(inputs, create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        jac = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]
            for j in range(out.numel()):
                gs = _autograd_grad((out,), inputs, (_one_hot(out, j),), create_graph)
                for k, (g, inp) in enumerate(zip(gs, inputs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is "
                                               f"independent of input {k}. This is not allowed "
                                               "in strict mode.")
                        g = _zeros_like(inp)
                    rows[k].append(g)
            per_in = []
            for k, inp in enumerate(inputs):
                shape = tuple(out.shape) + tuple(inp.shape)
                if rows[k]:
                    per_in.append(_stack(rows[k], shape, create_graph))
                else:
                    from .._tensor import wrap
                    per_in.append(wrap(jnp.zeros(shape, inp._value.dtype)))
            jac.append(_postprocess(tuple(per_in), create_graph))
        return _tuple_postprocess(tuple(jac), (is_outputs_tuple, is_inputs_tuple))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar function: entry [i][j] has shape inputs[i] + inputs[j]."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def single_output(*inp):
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict)
        if is_out_tuple or not isinstance(out, _tensor_cls()):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should "
                               "contain a single element")
        return out.reshape(())

    def jac_func(*inp):
        jac = jacobian(single_output, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict,
                   vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J)."""
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _preprocess(inputs, create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _preprocess(v, create_graph, need_graph=False)
            _validate_v(v, outputs, is_outputs_tuple)
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        grads = _autograd_grad(outputs, inputs, v, create_graph)
        res = _fill_in_zeros(grads, inputs, strict, "back")
        outputs = _postprocess(outputs, create_graph)
        res = _postprocess(res, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(res, is_inputs_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v), by differentiating a vjp with respect to its cotangent."""
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _preprocess(inputs, create_graph, need_graph=True)
        if v is not None:
            _, v = _as_tuple(v, "v", "jvp")
            v = _preprocess(v, create_graph, need_graph=False)
            _validate_v(v, inputs, is_inputs_tuple)
        elif len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        cot = tuple(_zeros_like(o).requires_grad_(True) for o in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, cot, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
        if v is None:
            v = (_ones_like(inputs[0]),)
        res = _autograd_grad(grad_inputs, cot, v, create_graph)
        res = _fill_in_zeros(res, outputs, strict, "back_trick")
        outputs = _postprocess(outputs, create_graph)
        res = _postprocess(res, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(res, is_outputs_tuple)


def _ones_like(t):
    from .._tensor import wrap
    return wrap(jnp.ones(tuple(t.shape), t._value.dtype))


def _second_order(name, func, inputs, v, create_graph, strict):
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
        inputs = _preprocess(inputs, create_graph, need_graph=True)
        if v is not None:
            _, v = _as_tuple(v, "v", name)
            v = _preprocess(v, create_graph, need_graph=False)
            _validate_v(v, inputs, is_inputs_tuple)
        elif len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              name)
        _check_requires_grad(outputs, "outputs", strict)
        if is_outputs_tuple or not isinstance(outputs[0], _tensor_cls()):
            raise RuntimeError(f"The function given to {name} should return a single Tensor")
        if outputs[0].numel() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {name} should "
                               "contain a single element")
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        if v is None:
            v = (_ones_like(inputs[0]),)
        # H is symmetric for twice-differentiable functions, so H v == (v^T H)^T
        res = _autograd_grad(jac, inputs, v, create_graph)
        res = _fill_in_zeros(res, inputs, strict, "double_back")
        outputs = _postprocess(outputs, create_graph)
        res = _postprocess(res, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(res, is_inputs_tuple)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar function."""
    return _second_order("vhp", func, inputs, v, create_graph, strict)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar function."""
    return _second_order("hvp", func, inputs, v, create_graph, strict)
