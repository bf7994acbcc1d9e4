"""Reductions: sum, mean, prod, max/min, var/std, norms, sorting, scans."""
from __future__ import annotations

import jax.numpy as jnp

from .. import _dtype as D
from .registry import op


def _dims(dim, ndim):
    if dim is None or dim == ():
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    n = max(ndim, 1)
    out = []
    for d in dims:
        if not -n <= d < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, "
                             f"{n - 1}], but got {d})")
        out.append(d % n)
    return tuple(out) if ndim else None


def _sum_dtype(d):
    """Integral/bool sums accumulate in int64, as torch does."""
    return D.int64 if d._category < 2 else d


def _expand_back(g, x, dim, keepdim):
    dims = _dims(dim, x.ndim)
    if not keepdim and dims is not None:
        g = jnp.expand_dims(g, dims)
    return jnp.broadcast_to(g, x.shape)


@op("sum(Tensor input, int[1]? dim=None, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
    dtype="none", out=True, saves=(),
    grad=lambda g, out, x, dim, keepdim, dtype: (_expand_back(g, x, dim, keepdim),))
def sum(x, dim=None, keepdim=False, dtype=None):  # noqa: A001
    if dtype is None:
        dtype = _sum_dtype(D.from_np(x.dtype)).np
    return jnp.sum(x, axis=_dims(dim, x.ndim), keepdims=keepdim, dtype=dtype)
