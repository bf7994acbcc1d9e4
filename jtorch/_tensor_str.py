"""Tensor printing in torch's format (placeholder; see issue work in progress)."""
from __future__ import annotations

import numpy as np


def tensor_repr(t):
    v = t._value
    arr = np.asarray(v)
    body = np.array2string(arr, separator=", ", prefix="tensor(")
    extras = []
    if t.dtype.name not in ("float32", "int64", "bool"):
        extras.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"
