"""Run the same scenario on torch and jtorch and compare outcomes (values or errors)."""
from __future__ import annotations

import numpy as np
import torch

import jtorch


def _norm(r):
    if isinstance(r, (torch.Tensor, jtorch.Tensor)):
        return ("T", tuple(r.shape), np.asarray(r.detach().tolist(), dtype=float))
    if isinstance(r, (tuple, list)):
        return tuple(_norm(x) for x in r)
    if isinstance(r, dict):
        return {k: _norm(v) for k, v in r.items()}
    return r


def outcome(fn, lib):
    try:
        return ("ok", _norm(fn(lib)))
    except Exception as e:  # noqa: BLE001 - the exception is the outcome
        return ("err", type(e).__name__, str(e))


def _eq(a, b, rtol, atol):
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    if isinstance(a, float) and isinstance(b, float):
        return np.isclose(a, b, rtol=rtol, atol=atol)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_eq(x, y, rtol, atol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_eq(a[k], b[k], rtol, atol) for k in a)
    return a == b


def same(fn, rtol=1e-5, atol=1e-6, msg_chars=None):
    """Assert fn(torch) and fn(jtorch) agree: values, or exception type and message."""
    t, j = outcome(fn, torch), outcome(fn, jtorch)
    if t[0] == "err" or j[0] == "err":
        assert t[0] == j[0] == "err", f"torch: {t}\njtorch: {j}"
        assert t[1] == j[1], f"torch: {t}\njtorch: {j}"
        n = msg_chars
        assert t[2][:n] == j[2][:n], f"torch: {t[2]}\njtorch: {j[2]}"
        return
    assert _eq(t[1], j[1], rtol, atol), f"torch: {t[1]}\njtorch: {j[1]}"
