"""Compare torch outputs with a target library's: shape, dtype (by name), values.

NaNs equal NaNs; integers and bools must match exactly.
"""

import numpy as np
import torch

# (rtol, atol) by output dtype; float32 is looser than torch.testing's
# (1.3e-6, 1e-5) because jtorch computes through XLA, not ATen.
FORWARD_TOL = {
    "float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5),
    "float32": (1e-4, 1e-5), "complex64": (1e-4, 1e-5),
    "float64": (1e-7, 1e-7), "complex128": (1e-7, 1e-7),
}
# Gradients are sums of products, so their absolute error grows a little.
GRAD_TOL = {**FORWARD_TOL, "float32": (1e-4, 1e-4), "complex64": (1e-4, 1e-4)}


def dtype_name(dtype):
    return str(dtype).rsplit(".", 1)[-1]


def to_numpy(t):
    """Values of a torch or target tensor as a numpy array numpy can compare."""
    if isinstance(t, torch.Tensor):
        t = t.detach().resolve_conj().resolve_neg()
        if t._is_zerotensor():  # autograd's lazy zeros have no storage
            t = torch.zeros(t.shape, dtype=t.dtype)
        if t.dtype in (torch.bfloat16, torch.float16):
            t = t.float()
        elif t.dtype == torch.complex32:
            t = t.to(torch.complex64)
        return t.numpy()
    t = t.detach() if hasattr(t, "detach") else t
    arr = np.asarray(t.numpy())
    return arr if arr.dtype.kind in "biufc" else arr.astype(np.float32)  # ml_dtypes bfloat16


def compare_values(exp, act, tol):
    """None if arrays match, else a short description of the mismatch."""
    if exp.dtype.kind in "biu" or act.dtype.kind in "biu":
        bad = int(np.sum(exp != act))
        return None if bad == 0 else f"{bad}/{exp.size} elements differ"
    rtol, atol = tol
    close = np.isclose(act, exp, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return None
    with np.errstate(invalid="ignore"):
        diff = np.nanmax(np.where(close, 0, np.abs(act.astype(np.complex128) - exp)))
    return f"{int((~close).sum())}/{exp.size} values differ (max abs diff {diff:.3g}, rtol={rtol}, atol={atol})"


def compare(expected, actual, lib, path="output", shape_only=False, tols=FORWARD_TOL):
    """First difference between torch's `expected` and the target's `actual`, or None."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, lib.Tensor):
            return f"{path}: expected a Tensor, got {type(actual).__name__}"
        if tuple(actual.shape) != tuple(expected.shape):
            return f"{path}: shape {tuple(actual.shape)} != torch {tuple(expected.shape)}"
        exp_dt, act_dt = dtype_name(expected.dtype), dtype_name(actual.dtype)
        if act_dt != exp_dt:
            return f"{path}: dtype {act_dt} != torch {exp_dt}"
        if shape_only:
            return None
        err = compare_values(to_numpy(expected), to_numpy(actual),
                             tols.get(exp_dt, (0, 0)))
        return f"{path}: {err}" if err else None
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)):
            return f"{path}: expected a sequence, got {type(actual).__name__}"
        if len(actual) != len(expected):
            return f"{path}: length {len(actual)} != torch {len(expected)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            err = compare(e, a, lib, f"{path}[{i}]", shape_only, tols)
            if err:
                return err
        return None
    if isinstance(expected, (bool, int, float, complex)):
        if isinstance(actual, lib.Tensor) or not isinstance(actual, (bool, int, float, complex, np.generic)):
            return f"{path}: expected a Python {type(expected).__name__}, got {type(actual).__name__}"
        if isinstance(expected, bool) or shape_only:
            ok = isinstance(expected, bool) == isinstance(actual, (bool, np.bool_)) and (shape_only or expected == actual)
        else:
            ok = bool(np.isclose(actual, expected, rtol=1e-4, atol=1e-5, equal_nan=True))
        return None if ok else f"{path}: {actual!r} != torch {expected!r}"
    if expected != actual:
        return f"{path}: {actual!r} != torch {expected!r}"
    return None
