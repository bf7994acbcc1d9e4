"""torch.autograd: backward/grad over the tape in graph.py, run by engine.py."""
from __future__ import annotations

from . import anomaly_mode, grad_mode, graph  # noqa: F401
from .anomaly_mode import detect_anomaly, set_detect_anomaly  # noqa: F401
from .grad_mode import (  # noqa: F401
    enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled,
)


def _as_list(x):
    if x is None:
        return None
    from .._tensor import Tensor
    if isinstance(x, Tensor):
        return [x]
    return list(x)


_ONES: dict = {}


def _ones(dtype):
    """The implicit scalar seed gradient (cached: arrays are immutable)."""
    g = _ONES.get(dtype)
    if g is None:
        import jax
        import numpy as np
        # a concrete array even when this first backward runs inside a trace (jtorch.compile);
        # from numpy, since jnp.ones would compile a program for it (~15 ms on a first call)
        with jax.ensure_compile_time_eval():
            g = _ONES[dtype] = jax.device_put(np.ones((), dtype))
    return g


def _make_grads(outputs, grad_outputs):
    from .._tensor import Tensor
    import jax.numpy as jnp
    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs is not None and i < len(grad_outputs) else None
        if g is None:
            if not out.requires_grad:
                raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                                   "have a grad_fn")
            if out._raw.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not out.dtype.is_floating_point and not out.dtype.is_complex:
                raise RuntimeError(f"grad can be implicitly created only for real scalar "
                                   f"outputs but got {out.dtype}")
            grads.append(_ones(out._raw.dtype) if out.ndim == 0 else
                         jnp.ones(out.shape, out._raw.dtype))
        elif isinstance(g, Tensor):
            if g.shape != out.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and "
                    f"output[{i}] has a shape of {out.shape}.")
            if g.dtype is not out.dtype:
                g = g.to(out.dtype)
            grads.append(g)
        else:
            raise TypeError(f"grad_outputs must be Tensors or None, got {type(g).__name__}")
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             grad_variables=None, inputs=None):
    """Accumulate d(tensors)/d(leaves) into the leaves' .grad."""
    from .engine import run_backward
    tensors = _as_list(tensors)
    grad_tensors = _as_list(grad_tensors if grad_tensors is not None else grad_variables)
    if retain_graph is None:
        retain_graph = create_graph
    inputs = _as_list(inputs)
    if inputs is not None and len(inputs) == 0:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    grads = _make_grads(tensors, grad_tensors)
    run_backward(tensors, grads, retain_graph=retain_graph, create_graph=create_graph,
                 inputs=inputs, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """d(outputs)/d(inputs), returned rather than accumulated."""
    import jax.numpy as jnp
    from .engine import run_backward
    from .._tensor import Tensor
    if is_grads_batched:
        from .._errors import missing
        raise missing("torch.autograd.grad(is_grads_batched=True)")
    single_input = isinstance(inputs, Tensor)
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    grad_outputs = _as_list(grad_outputs)
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    if retain_graph is None:
        retain_graph = create_graph
    if len(inputs) == 0:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grads = _make_grads(outputs, grad_outputs)
    res = run_backward(outputs, grads, retain_graph=retain_graph, create_graph=create_graph,
                       inputs=inputs, accumulate=False, allow_unused=allow_unused)
    if materialize_grads:
        from .._tensor import wrap
        res = [wrap(jnp.zeros(t.shape, t._value.dtype)) if g is None else g
               for g, t in zip(res, inputs)]
    return tuple(res)


from . import function, functional  # noqa: E402,F401
from .function import (  # noqa: E402,F401
    Function, FunctionCtx, InplaceFunction, once_differentiable,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402,F401


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    from .._errors import missing
    raise missing(f"torch.autograd.{name}")
