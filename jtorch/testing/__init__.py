"""torch.testing: assert_close (torch's pairing rules, default tolerances and messages)
and make_tensor. Values are compared on the host in numpy, in the inputs' own dtype, so
the reported differences are the numbers torch prints."""
from __future__ import annotations

import collections.abc
import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor

__all__ = ["assert_close", "make_tensor", "assert_allclose"]

# dtype -> (rtol, atol); anything else (bool, integers) compares exactly.
_TOLS = {
    "float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7),
}


class _Mismatch(Exception):
    def __init__(self, kind, msg):
        super().__init__(msg)
        self.kind, self.msg = kind, msg


def _default_tols(*dtypes):
    tols = [_TOLS.get(d.name if hasattr(d, "name") else str(d), (0.0, 0.0)) for d in dtypes]
    return max(t[0] for t in tols), max(t[1] for t in tols)


def _resolve_tols(rtol, atol, *dtypes):
    if (rtol is None) ^ (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got "
                         f"no {'rtol' if rtol is None else 'atol'}.")
    if rtol is None:
        return _default_tols(*dtypes)
    return rtol, atol


def _fmt_msg(identifier, equality, extra, abs_diff, abs_idx, atol, rel_diff, rel_idx, rtol):
    def diff(kind, d, idx, tol):
        m = (f"{kind.title()} difference: {d}" if idx is None
             else f"Greatest {kind} difference: {d} at index {idx}")
        if tol > 0:
            m += f" (up to {tol} allowed)"
        return m + "\n"
    msg = f"{identifier} are not {'equal' if equality else 'close'}!\n\n"
    if extra:
        msg += extra.strip() + "\n"
    msg += diff("absolute", abs_diff, abs_idx, atol) + diff("relative", rel_diff, rel_idx, rtol)
    return msg.strip()


def _is_number(x):
    return isinstance(x, (int, float, complex, np.number, np.bool_)) and not isinstance(
        x, np.ndarray)


def _compare_numbers(a, e, rtol, atol, equal_nan, check_dtype):
    if isinstance(a, (bool, np.bool_)) and isinstance(e, (bool, np.bool_)):
        if bool(a) != bool(e):
            raise _Mismatch(AssertionError, f"Booleans mismatch: {bool(a)} is not {bool(e)}")
        return
    if check_dtype and type(a) is not type(e) and not (
            isinstance(a, np.generic) or isinstance(e, np.generic)):
        raise _Mismatch(AssertionError, f"The (d)types do not match: {type(a)} != {type(e)}.")
    a, e = (x.item() if isinstance(x, np.generic) else x for x in (a, e))
    kinds = {type(a), type(e)}
    dt = "complex128" if complex in kinds else "float64" if float in kinds else "int64"
    rtol, atol = _resolve_tols(rtol, atol, dt)
    if a == e or (equal_nan and _isnan(a) and _isnan(e)):
        return
    abs_diff = abs(a - e)
    if math.isfinite(abs_diff) and abs_diff <= atol + rtol * abs(e):
        return
    rel_diff = float("inf") if e == 0 else abs_diff / abs(e)
    raise _Mismatch(AssertionError, _fmt_msg(
        "Scalars", rtol == 0 and atol == 0, f"Expected {e} but got {a}.", abs_diff, None, atol,
        rel_diff, None, rtol))


def _isnan(x):
    return x != x


def _host(t):
    if isinstance(t, Tensor):
        return np.asarray(t.detach()._value), t.dtype
    return t, D.from_np(t.dtype)


def _compare_tensors(actual, expected, rtol, atol, equal_nan, check_device, check_dtype):
    if isinstance(actual, Tensor) != isinstance(expected, Tensor):
        raise _Mismatch(TypeError, "No comparison pair was able to handle inputs of type "
                                   f"{type(actual)} and {type(expected)}.")
    a, adt = _host(actual)
    e, edt = _host(expected)

    def attr(name, x, y):
        if x != y:
            raise _Mismatch(AssertionError, f"The values for attribute '{name}' do not match: "
                                            f"{x} != {y}.")
    from .._tensor import Size
    attr("shape", Size(a.shape), Size(e.shape))
    if check_device and isinstance(actual, Tensor):
        attr("device", actual.device, expected.device)
    if check_dtype:
        attr("dtype", adt, edt)
    rtol, atol = _resolve_tols(rtol, atol, adt, edt)
    if adt is not edt:
        common = D.promote_types(adt, edt)
        a, e = a.astype(common.np), e.astype(common.np)
    if a.size == 0:
        return
    exact = a.dtype.kind in "biu"
    with np.errstate(all="ignore"):
        if exact:
            matches = a == e
        else:
            af, ef = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64), \
                e.astype(np.complex128 if e.dtype.kind == "c" else np.float64)
            err = np.abs(af - ef)
            matches = (af == ef) | (np.isfinite(err) & (err <= atol + rtol * np.abs(ef)))
            if equal_nan:
                matches |= np.isnan(af) & np.isnan(ef)
    if matches.all():
        return
    identifier = "Tensor-likes"
    if a.ndim == 0:
        av, ev = a.item(), e.item()
        with np.errstate(all="ignore"):
            abs_diff = abs(av - ev)
            rel_diff = float("inf") if ev == 0 else abs_diff / abs(ev)
        raise _Mismatch(AssertionError, _fmt_msg(
            "Scalars", rtol == 0 and atol == 0, f"Expected {ev} but got {av}.", abs_diff, None,
            atol, rel_diff, None, rtol))
    n = matches.size
    bad = n - int(matches.sum())
    extra = f"Mismatched elements: {bad} / {n} ({bad / n:.1%})"
    fa, fe, fm = a.reshape(-1), e.reshape(-1), matches.reshape(-1)
    if exact:
        fa, fe = fa.astype(np.int64), fe.astype(np.int64)
    with np.errstate(all="ignore"):
        abs_d = np.abs(fa - fe)
        abs_d[fm] = 0
        rel_d = abs_d / np.abs(fe)
        if exact:
            rel_d = (abs_d.astype(np.float64) / np.abs(fe)).astype(D.get_default_dtype().np)
        rel_d[fm] = 0
    ia, ir = _nanargmax(abs_d), _nanargmax(rel_d)
    raise _Mismatch(AssertionError, _fmt_msg(
        identifier, rtol == 0 and atol == 0, extra, abs_d[ia].item(),
        tuple(int(i) for i in np.unravel_index(ia, a.shape)), atol, rel_d[ir].item(),
        tuple(int(i) for i in np.unravel_index(ir, a.shape)), rtol))


def _nanargmax(x):
    nan = np.isnan(x) if x.dtype.kind in "fc" else None
    if nan is not None and nan.any():
        return int(np.argmax(nan))
    return int(np.argmax(x))


def _compare_impl(actual, expected, path, opts):
    if actual is None or expected is None:
        if actual is not expected:
            raise _Mismatch(AssertionError, f"None mismatch: {actual} is not {expected}")
        return
    if isinstance(actual, (Tensor, np.ndarray)) or isinstance(expected, (Tensor, np.ndarray)):
        if not isinstance(actual, (Tensor, np.ndarray)) or \
                not isinstance(expected, (Tensor, np.ndarray)):
            raise _Mismatch(TypeError, "No comparison pair was able to handle inputs of type "
                                       f"{type(actual)} and {type(expected)}.")
        return _compare_tensors(actual, expected, **opts)
    if _is_number(actual) and _is_number(expected):
        o = {k: opts[k] for k in ("rtol", "atol", "equal_nan", "check_dtype")}
        return _compare_numbers(actual, expected, **o)
    seq = collections.abc.Sequence
    if isinstance(actual, seq) and isinstance(expected, seq) and not isinstance(
            actual, (str, bytes)) and not isinstance(expected, (str, bytes)):
        if len(actual) != len(expected):
            raise _Mismatch(AssertionError, f"The length of the sequences mismatch: "
                                            f"{len(actual)} != {len(expected)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, path + (i,), opts)
        return
    mp = collections.abc.Mapping
    if isinstance(actual, mp) and isinstance(expected, mp):
        ak, ek = set(actual.keys()), set(expected.keys())
        if ak != ek:
            missing, extra = sorted(ek - ak), sorted(ak - ek)
            raise _Mismatch(AssertionError, "The keys of the mappings do not match:\n"
                                            f"Missing keys in the actual mapping: {missing}\n"
                                            f"Additional keys in the actual mapping: {extra}")
        for k in actual:
            _compare(actual[k], expected[k], path + (k,), opts)
        return
    raise _Mismatch(TypeError, "No comparison pair was able to handle inputs of type "
                               f"{type(actual)} and {type(expected)}.")


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Raise AssertionError (torch's message) unless `actual` and `expected` are close:
    |actual - expected| <= atol + rtol * |expected| elementwise, with shape/device/dtype
    checks; recursing through sequences and mappings."""
    _resolve_tols(rtol, atol, "float64")    # validates that both or neither are given
    opts = dict(rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=check_device,
                check_dtype=check_dtype)
    path = ()
    try:
        _compare(actual, expected, path, opts)
    except _Mismatch as m:
        if m.kind is TypeError:
            raise TypeError(m.msg) from None
        if isinstance(msg, str):
            raise AssertionError(msg) from None
        text = msg(m.msg) if callable(msg) else m.msg
        raise AssertionError(text + _item_suffix(m)) from None


def _item_suffix(m):
    path = getattr(m, "path", ())
    if not path:
        return ""
    return "\n\nThe failure occurred for item " + "".join(f"[{p!r}]" for p in path)


def _compare(actual, expected, path, opts):
    """_compare_impl, recording on a mismatch the innermost item path where it happened."""
    try:
        _compare_impl(actual, expected, path, opts)
    except _Mismatch as m:
        if not hasattr(m, "path"):
            m.path = path
        raise


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """Deprecated torch API: assert_close without the dtype check."""
    if not isinstance(actual, Tensor):
        actual = np.asarray(actual)
    if not isinstance(expected, Tensor):
        expected = np.asarray(expected)
    if isinstance(actual, Tensor) != isinstance(expected, Tensor):
        from .. import _creation
        actual = _creation.as_tensor(actual) if not isinstance(actual, Tensor) else actual
        expected = _creation.as_tensor(expected) if not isinstance(expected, Tensor) \
            else expected
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_device=True, check_dtype=False, msg=msg or None)


# ---------------------------------------------------------------- make_tensor
def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False,
                noncontiguous=False, exclude_zero=False, memory_format=None):
    """A tensor of `shape` filled with values uniform in [low, high): integers default to
    [-9, 10) (unsigned/bool clamp to their range), floats and complex parts to [-9, 9)."""
    import jtorch
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    dtype = D.to_dtype(dtype)
    if dtype is D.bool:
        t = jtorch.randint(0, 2, shape, device=device).to(D.bool)
    elif dtype._category == 1:
        info = np.iinfo(dtype.np)
        lo, hi = _low_high(low, high, info.min, info.max, -9, 10, dtype)
        t = jtorch.randint(lo, hi, shape, device=device, dtype=dtype)
    elif dtype._category in (2, 3):
        finfo = np.finfo(dtype.np if dtype.name != "bfloat16" else np.float32)
        lo, hi = _low_high(low, high, -float(finfo.max), float(finfo.max), -9, 9, dtype)
        real = D.float32 if dtype.name == "complex64" else D.float64
        def uniform():
            return jtorch.rand(shape, dtype=real, device=device) * (hi - lo) + lo
        t = uniform() if dtype._category == 2 else jtorch.complex(uniform(), uniform())
        t = t.to(dtype)
    else:
        raise TypeError(f"The requested dtype '{dtype}' is not supported by "
                        "torch.testing.make_tensor(). To request support, file an issue at: "
                        "https://github.com/pytorch/pytorch/issues")
    if exclude_zero:
        repl = 1 if dtype._category < 2 else float(np.finfo(
            np.float32 if dtype.name == "bfloat16" else dtype.np).tiny)
        t = jtorch.where(t == 0, jtorch.tensor(repl, dtype=dtype, device=t.device), t)
    if dtype._category >= 2 and requires_grad:
        t.requires_grad_(True)
    elif requires_grad:
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           "gradients")
    return t


def _low_high(low, high, lowest, highest, default_low, default_high, dtype):
    for name, v in (("low", low), ("high", high)):
        if v is not None and isinstance(v, float) and math.isnan(v):
            raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and "
                             f"high={high}")
    lo = default_low if low is None else low
    hi = default_high if high is None else high
    if low is None:
        lo = max(lo, lowest)
    if high is None:
        hi = min(hi, highest + (1 if dtype._category == 1 else 0))
    if lo > hi:
        raise ValueError(f"`low` must be less than or equal to `high`, but got {lo} > {hi}")
    if dtype._category == 1:
        lo, hi = int(math.ceil(lo)), int(math.ceil(hi))
        if hi == lo:
            hi = lo + 1
    return lo, hi


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    from .._errors import missing
    raise missing(f"torch.testing.{name}")
