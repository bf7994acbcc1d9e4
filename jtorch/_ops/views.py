"""Shape and view ops. Ops marked view=True share storage with their input."""
from __future__ import annotations

import math

import jax.numpy as jnp

from .registry import method, op


def _infer_size(shape, numel):
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in shape if s != -1)
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def _view_grad(g, out, x, **kw):
    return (g.reshape(x.shape),)


@op("view(Tensor self, *SymInt[] size) -> Tensor", dtype="none", function=False, view=True,
    saves=(), node_name="ViewBackward0", grad=lambda g, out, x, size: (g.reshape(x.shape),))
def view(x, size):
    return x.reshape(_infer_size(size, x.size))


@op("reshape(Tensor input, *SymInt[] shape) -> Tensor", dtype="none", view=True, saves=(),
    node_name="ViewBackward0", grad=lambda g, out, x, shape: (g.reshape(x.shape),))
def reshape(x, shape):
    return x.reshape(_infer_size(shape, x.size))


def _wrap(dim, ndim):
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


@op("transpose(Tensor input, int dim0, int dim1) -> Tensor", dtype="none", view=True,
    saves=(), aliases=("swapaxes", "swapdims"),
    grad=lambda g, out, x, dim0, dim1: (jnp.swapaxes(g, dim0, dim1) if x.ndim else g,))
def transpose(x, dim0, dim1):
    if x.ndim == 0:
        _wrap(dim0, 0), _wrap(dim1, 0)
        return x
    return jnp.swapaxes(x, _wrap(dim0, x.ndim), _wrap(dim1, x.ndim))
