"""The matmul family: matmul, mm, bmm, addmm, baddbmm, einsum, outer, dot, tensordot, kron."""
from __future__ import annotations

import jax.numpy as jnp

from .registry import op


def _mm_grad(g, out, a, b):
    if a.ndim == 1 and b.ndim == 1:
        return g * b, g * a
    if a.ndim == 1:
        ga = jnp.matmul(b, g[..., None])[..., 0] if b.ndim == 2 else None
    return None


def _shape_str(s):
    return "x".join(str(d) for d in s)


@op("matmul(Tensor input, Tensor other) -> Tensor", out=True, broadcast=False)
def matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        if a.ndim == 2 and b.ndim == 2:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                               f"({_shape_str(a.shape)} and {_shape_str(b.shape)})")
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{b.shape[0] if b.ndim > 2 else 1}, {ka}] but got: "
                           f"[{b.shape[0] if b.ndim > 2 else 1}, {kb}].")
    return jnp.matmul(a, b)
