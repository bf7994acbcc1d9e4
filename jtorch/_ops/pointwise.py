"""Pointwise math, comparison, logical and bitwise ops.

Forwards run on arrays already cast to the op's compute dtype (see the `dtype=`
category). Dtype rejections that torch makes per kernel ("not implemented for
'Bool'") are raised while tracing, so they cost nothing once compiled.
Explicit `grad=` rules follow torch's conventions: complex grads are
`g * conj(f'(z))`, and kinks take torch's choice (abs'(0) = 0, maximum splits
ties in half, clamp passes the gradient on its boundary).
"""
from __future__ import annotations

import builtins
import math

import jax
import jax.numpy as jnp
import jax.scipy.special as jss
import numpy as np

from .. import _dtype as D
from .registry import FUNCTIONS, METHODS, OPS, function, method, op

_c = jnp.conj
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


# ------------------------------------------------------------------------------ helpers

def _tname(a):
    return D.type_name(D.from_np(a.dtype))


def _kind(a):
    """'b' bool, 'i' integral (incl. uint8), 'f' floating, 'c' complex."""
    k = jnp.dtype(a.dtype).kind
    return "i" if k == "u" else k


def _reject(kernel, a, kinds):
    """torch's per-kernel dtype error, raised at trace time."""
    if a is not None and hasattr(a, "dtype") and _kind(a) in kinds:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{_tname(a)}\'')


def _is_complex(a):
    return _kind(a) == "c"


def _zeros_grad(g, out, *inputs, **kw):
    """Piecewise-constant ops: torch returns zero gradients (not None)."""
    return tuple(None if x is None else jnp.zeros(x.shape, g.dtype) for x in inputs)


def _sgn(x):
    """torch.sgn: x/|x| for complex (0 at 0), sign for reals."""
    if _is_complex(x):
        a = jnp.abs(x)
        return jnp.where(a == 0, 0, x / jnp.where(a == 0, 1, a)).astype(x.dtype)
    return jnp.sign(x)


def _replace(name, wrapper_for):
    """Swap the generated torch.name / Tensor.name / Tensor.name_ for checking wrappers."""
    for table, key in ((FUNCTIONS, name), (METHODS, name), (METHODS, name + "_")):
        fn = table.get(key)
        if fn is not None:
            w = wrapper_for(fn)
            w.__name__ = w.__qualname__ = key
            w.__doc__ = fn.__doc__
            table[key] = w


def _is_tensor(v):
    from .._tensor import Tensor
    return isinstance(v, Tensor)


def _concrete(v):
    return _is_tensor(v) and not isinstance(v._value, jax.core.Tracer)


def _integral(v):
    if _is_tensor(v):
        return v.dtype._category <= 1
    return isinstance(v, (int, np.integer)) and not isinstance(v, float)


def _zero_division_check(fn):
    """Integer division by zero is an error in torch (checked eagerly; skipped under jit)."""
    def w(input, other, *args, **kwargs):
        if _integral(input) and _integral(other):
            if (_concrete(other) and bool(np.any(np.asarray(other._value) == 0))) or \
                    (not _is_tensor(other) and other == 0):
                raise RuntimeError("ZeroDivisionError")
        return fn(input, other, *args, **kwargs)
    return w


# ------------------------------------------------------------------------------ arithmetic

@op("add(Tensor input, Tensor other, *, Tensor? alpha=None) -> Tensor", inplace=True, out=True,
    saves=("alpha",), grad=lambda g, out, x, y, alpha: (g, g if alpha is None else g * _c(alpha)))
def add(x, y, alpha=None):
    """alpha is a tensor input (not a jit key) so changing learning rates never recompile."""
    return x + y if alpha is None else x + y * alpha


@op("sub(Tensor input, Tensor other, *, Tensor? alpha=None) -> Tensor", inplace=True, out=True,
    aliases=("subtract",), saves=("alpha",),
    grad=lambda g, out, x, y, alpha: (g, -g if alpha is None else -g * _c(alpha)))
def sub(x, y, alpha=None):
    if x.dtype == jnp.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    return x - y if alpha is None else x - y * alpha


@op("rsub(Tensor input, Tensor other, *, Tensor? alpha=None) -> Tensor", method=False,
    saves=("alpha",),
    grad=lambda g, out, x, y, alpha: (-g if alpha is None else -g * _c(alpha), g))
def rsub(x, y, alpha=None):
    if x.dtype == jnp.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not "
                           "supported. If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")
    return y - x if alpha is None else y - x * alpha


@op("mul(Tensor input, Tensor other) -> Tensor", inplace=True, out=True, aliases=("multiply",),
    saves={"input": ("other",), "other": ("input",)}, grad=lambda g, out, x, y: (g * _c(y), g * _c(x)))
def mul(x, y):
    return x * y


def _div_grad(g, out, x, y):
    return g / _c(y), -g * _c(x / (y * y))


@op("div(Tensor input, Tensor other) -> Tensor", dtype="float", function=False, method=False,
    grad=_div_grad, node_name="DivBackward0")
def _div(x, y):
    return x / y


def _trunc_div(x, y):
    if _kind(x) in "bi":
        if _kind(x) == "b":
            x, y = x.astype(jnp.int64), y.astype(jnp.int64)
            return jax.lax.div(x, y).astype(jnp.bool_)
        return jax.lax.div(x, y)
    return jnp.trunc(x / y)


@op("div.mode(Tensor input, Tensor other, str rounding_mode) -> Tensor", function=False,
    method=False, grad=_zeros_grad, saves=(), node_name="DivBackward0")
def _div_mode(x, y, rounding_mode):
    _reject("div_" + rounding_mode + "_cpu", x, "c")
    if rounding_mode == "trunc":
        return _trunc_div(x, y)
    return jnp.floor_divide(x, y) if _kind(x) != "b" else \
        jnp.floor_divide(x.astype(jnp.int64), y.astype(jnp.int64)).astype(jnp.bool_)


def _div_call(input, other, rounding_mode, out=None, inplace=False):
    from .dispatch import _call, _call_inplace
    if rounding_mode is None:
        d, statics = _div, ()
    elif rounding_mode in ("trunc", "floor"):
        if _integral(input) and _integral(other) and (
                (not _is_tensor(other) and other == 0) or
                (_concrete(other) and bool(np.any(np.asarray(other._value) == 0)))):
            raise RuntimeError("ZeroDivisionError")
        d, statics = _div_mode, (rounding_mode,)
    else:
        raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")
    if inplace:
        return _call_inplace(d, (input, other), statics)
    return _call(d, (input, other), statics, out)


@function("div", method=True, aliases=("divide",))
def div(input, other, *, rounding_mode=None, out=None):
    return _div_call(input, other, rounding_mode, out)


@function("true_divide", method=True)
def true_divide(input, other, *, out=None):
    return _div_call(input, other, None, out)


@method("div_", aliases=("divide_",))
def div_(self, other, *, rounding_mode=None):
    return _div_call(self, other, rounding_mode, inplace=True)


@method("__rdiv__")
def __rdiv__(self, other):
    return _div_call(other, self, None)


@method("true_divide_")
def true_divide_(self, other):
    return _div_call(self, other, None, inplace=True)


@op("floor_divide(Tensor input, Tensor other) -> Tensor", inplace=True, out=True,
    grad=_zeros_grad, saves=())
def floor_divide(x, y):
    _reject("div_floor_cpu", x, "c")
    if _kind(x) == "b":
        return jnp.floor_divide(x.astype(jnp.int64), y.astype(jnp.int64)).astype(jnp.bool_)
    return jnp.floor_divide(x, y)


@op("remainder(Tensor input, Tensor other) -> Tensor", inplace=True, out=True,
    grad=lambda g, out, x, y: (g, -g * jnp.floor_divide(x, y)))
def remainder(x, y):
    _reject("remainder_cpu", x, "c")
    if _kind(x) == "b":
        return jnp.remainder(x.astype(jnp.int64), y.astype(jnp.int64)).astype(jnp.bool_)
    if _kind(x) == "f":
        m = jnp.fmod(x, y)
        return jnp.where((m != 0) & ((m < 0) != (y < 0)), m + y, m)
    return jnp.remainder(x, y)


@op("fmod(Tensor input, Tensor other) -> Tensor", inplace=True, out=True,
    grad=lambda g, out, x, y: (g, -g * jnp.trunc(x / y)))
def fmod(x, y):
    _reject("fmod_cpu", x, "c")
    if _kind(x) == "b":
        return jnp.fmod(x.astype(jnp.int64), y.astype(jnp.int64)).astype(jnp.bool_)
    return jnp.fmod(x, y)


for _n in ("floor_divide", "remainder", "fmod"):
    _replace(_n, _zero_division_check)


@op("neg(Tensor input) -> Tensor", dtype="none", inplace=True, out=True, aliases=("negative",),
    saves=(), grad=lambda g, out, x: (-g,))
def neg(x):
    if x.dtype == jnp.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return -x


@op("positive(Tensor input) -> Tensor", dtype="none", view=True, saves=(),
    grad=lambda g, out, x: (g,), node_name="AliasBackward0")
def positive(x):
    if x.dtype == jnp.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return x


# ------------------------------------------------------------------------------ pow

def _int_pow(x, y):
    """Integer powers; negative exponents give torch's 1, (-1)^n or 0 instead of garbage."""
    pos = jnp.power(x, jnp.where(y < 0, 0, y))
    odd = (y % 2) != 0
    neg = jnp.where(x == 1, 1, jnp.where(x == -1, jnp.where(odd, -1, 1), 0)).astype(x.dtype)
    return jnp.where(y < 0, neg, pos)


def _pow_grad(g, out, x, y):
    gx = jnp.where(y == 0, 0, g * _c(y * jnp.power(x, y - 1)))
    if _is_complex(x):
        gy = g * _c(out * jnp.log(x))
        gy = jnp.where(x == 0, 0, gy)
    else:
        gy = jnp.where((x == 0) & (y >= 0), 0, g * out * jnp.log(x))
    return gx, gy


@op("pow(Tensor input, Tensor exponent) -> Tensor", inplace=True, out=True, grad=_pow_grad)
def pow(x, y):  # noqa: A001 - torch's name
    if _kind(x) == "b":
        return _int_pow(x.astype(jnp.int64), y.astype(jnp.int64))
    if _kind(x) == "i":
        return _int_pow(x, y)
    return jnp.power(x, y)


def _pow_check(fn):
    def w(input, exponent, *args, **kwargs):
        if isinstance(exponent, (int, np.integer)) and not isinstance(exponent, bool) and \
                exponent < 0 and _is_tensor(input) and input.dtype._category <= 1:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return fn(input, exponent, *args, **kwargs)
    return w


_replace("pow", _pow_check)


@op("float_power(Tensor input, Tensor exponent) -> Tensor", out=True, grad=_pow_grad,
    dtype=lambda cd: D.complex128 if cd.is_complex else D.float64)
def float_power(x, y):
    return jnp.power(x, y)


@method("float_power_")
def float_power_(self, exponent):
    want = D.complex128 if (self.is_complex() or (_is_tensor(exponent) and exponent.is_complex())
                            or isinstance(exponent, builtins.complex)) else D.float64
    if self.dtype is not want:
        raise RuntimeError(f"the base given to float_power_ has dtype {D.type_name(self.dtype)} "
                           f"but the operation's result requires dtype {D.type_name(want)}")
    from .dispatch import _call_inplace
    return _call_inplace(float_power, (self, exponent), ())


@op("square(Tensor input) -> Tensor", inplace=True, out=True,
    dtype=lambda cd: D.int64 if cd is D.bool else cd,
    grad=lambda g, out, x: (2 * g * _c(x),))
def square(x):
    return x * x


# ------------------------------------------------------------------------------ unary float ops

def _unary(name, fn, grad=None, saves=None, *, dtype="float", complex_ok=True, kernel=None,
           aliases=(), inplace=True, reject=""):
    """Declare `name(Tensor input) -> Tensor` with in-place and out= variants."""
    kernel = kernel or f"{name}_cpu"
    bad = reject + ("" if complex_ok else "c")

    def fwd(x):
        _reject(kernel, x, bad)
        return fn(x)
    fwd.__name__ = name
    return op(f"{name}(Tensor input) -> Tensor", dtype=dtype, grad=grad, saves=saves,
              inplace=inplace, out=True, aliases=aliases)(fwd)


def _res(rule):
    """A rule reading only the result."""
    return dict(grad=rule, saves=("result",))


_unary("exp", jnp.exp, **_res(lambda g, out, x: (g * _c(out),)))
_unary("tanh", jnp.tanh, **_res(lambda g, out, x: (g * _c(1 - out * out),)))
_unary("sin", jnp.sin, lambda g, out, x: (g * _c(jnp.cos(x)),), ("input",))
_unary("cos", jnp.cos, lambda g, out, x: (-g * _c(jnp.sin(x)),), ("input",))
_unary("tan", jnp.tan, **_res(lambda g, out, x: (g * _c(1 + out * out),)))
_unary("asin", jnp.arcsin, aliases=("arcsin",))
_unary("acos", jnp.arccos, aliases=("arccos",))
_unary("atan", jnp.arctan, aliases=("arctan",))
_unary("sinh", jnp.sinh)
_unary("cosh", jnp.cosh)
_unary("asinh", jnp.arcsinh, aliases=("arcsinh",))
_unary("acosh", jnp.arccosh, aliases=("arccosh",))
_unary("atanh", jnp.arctanh, aliases=("arctanh",))
_unary("log", jnp.log, lambda g, out, x: (g / _c(x),), ("input",))
_unary("log2", jnp.log2, lambda g, out, x: (g / _c(x * _LN2),), ("input",))
_unary("log10", jnp.log10, lambda g, out, x: (g / _c(x * _LN10),), ("input",))
_unary("log1p", jnp.log1p, lambda g, out, x: (g / _c(1 + x),), ("input",))
_unary("expm1", jnp.expm1, **_res(lambda g, out, x: (g * _c(out + 1),)))
_unary("exp2", jnp.exp2, **_res(lambda g, out, x: (g * _c(out * _LN2),)))
_unary("sqrt", jnp.sqrt, **_res(lambda g, out, x: (g / (2 * _c(out)),)))
_unary("rsqrt", lambda x: 1 / jnp.sqrt(x),  # torch's CPU rsqrt is 1/sqrt, bit for bit
       **_res(lambda g, out, x: (-0.5 * g * _c(out * out * out),)))
_unary("reciprocal", lambda x: 1 / x, **_res(lambda g, out, x: (-g * _c(out * out),)))
_unary("sigmoid", lambda x: jax.nn.sigmoid(x) if not _is_complex(x) else 1 / (1 + jnp.exp(-x)),
       **_res(lambda g, out, x: (g * _c(out * (1 - out)),)))
_unary("sinc", jnp.sinc)
_unary("erf", jax.scipy.special.erf, complex_ok=False, kernel="erf_vml_cpu", saves=("input",),
       grad=lambda g, out, x: (g * (2 / math.sqrt(math.pi)) * jnp.exp(-x * x),))
_unary("erfc", jax.scipy.special.erfc, complex_ok=False, kernel="erfc_vml_cpu",
       saves=("input",),
       grad=lambda g, out, x: (-g * (2 / math.sqrt(math.pi)) * jnp.exp(-x * x),))
_unary("erfinv", jax.scipy.special.erfinv, complex_ok=False, kernel="erfinv_vml_cpu",
       **_res(lambda g, out, x: (g * (math.sqrt(math.pi) / 2) * jnp.exp(out * out),)))
_unary("lgamma", jax.lax.lgamma, complex_ok=False, kernel="lgamma_vml_cpu",
       saves=("input",), grad=lambda g, out, x: (g * jax.lax.digamma(x),))


def _digamma(x):
    # torch: poles at 0 give -inf/+inf by the sign of zero; JAX gives nan there
    return jnp.where(x == 0, jnp.copysign(jnp.inf, -x).astype(x.dtype), jax.lax.digamma(x))


def _cot_derivative(n, x):
    """d^n/dx^n cot(pi x), by nested forward-mode derivatives (n is static)."""
    f = lambda t: jnp.cos(math.pi * t) / jnp.sin(math.pi * t)  # noqa: E731
    for _ in range(n):
        f = (lambda h: lambda t: jax.jvp(h, (t,), (jnp.ones_like(t),))[1])(f)
    return f(x - jnp.round(x))  # cot has period 1: reduce first to keep precision


def _polygamma(n, x):
    """polygamma via JAX for x > 0 and the reflection formula below (JAX drifts there)."""
    if n == 0:
        return _digamma(x)
    neg = x < 0
    xr = jnp.where(neg, 1 - x, x)
    pos = jss.polygamma(n, xr)
    refl = -math.pi * _cot_derivative(n, jnp.where(neg, x, 0.5)) + (-1) ** n * pos
    return jnp.where(neg, refl, pos).astype(x.dtype)


_unary("digamma", _digamma, complex_ok=False, kernel="digamma", saves=("input",),
       grad=lambda g, out, x: (g * _polygamma(1, x),))


@op("polygamma(Tensor input, int n) -> Tensor", dtype="float", function=False, inplace=True,
    saves=("input",), grad=lambda g, out, x, n: (g * _polygamma(n + 1, x),))
def polygamma(x, n):
    _reject("polygamma", x, "c")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return _polygamma(n, x)


@function("polygamma")
def polygamma_fn(n, input, *, out=None):
    """torch.polygamma(n, input): n comes first, unlike Tensor.polygamma(n)."""
    from .dispatch import _call
    return _call(polygamma, (input,), (n,), out)


@op("mvlgamma(Tensor input, int p) -> Tensor", dtype="float", inplace=True, out=True)
def mvlgamma(x, p):
    _reject("mvlgamma", x, "c")
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    i = jnp.arange(p, dtype=x.dtype)
    terms = jax.lax.lgamma(x[..., None] - i / 2)
    return jnp.sum(terms, axis=-1) + jnp.asarray(p * (p - 1) / 4 * math.log(math.pi), x.dtype)

_unary("i0", jss.i0, complex_ok=False, kernel="i0_vml_cpu", saves=("input",),
       grad=lambda g, out, x: (g * jss.i1(x),))


def _deg(name, factor):
    def fn(x):
        if _is_complex(x):
            raise RuntimeError(f"{name} is not supported for complex tensors.")
        return x * jnp.asarray(factor, x.dtype)
    _unary(name, fn, grad=lambda g, out, x: (g * factor,), saves=())


_deg("deg2rad", math.pi / 180)
_deg("rad2deg", 180 / math.pi)


def _angle(x):
    if _is_complex(x):
        return jnp.angle(x)
    return jnp.where(jnp.isnan(x), x, jnp.where(x < 0, jnp.asarray(math.pi, x.dtype), 0)
                     ).astype(x.dtype)


_unary("angle", _angle, inplace=False)


def _logit_grad(g, out, x, eps=None):
    """torch: no gradient outside [eps, 1 - eps] when eps is given."""
    gx = g / (x * (1 - x))
    if eps is not None:
        return (jnp.where((x < eps) | (x > 1 - eps), 0, gx),)
    return (jnp.where((x < 0) | (x > 1), jnp.nan, gx),)


@op("logit(Tensor input, float? eps=None) -> Tensor", dtype="float", inplace=True, out=True,
    saves=("input",), grad=_logit_grad)
def logit(x, eps=None):
    _reject("logit_cpu", x, "c")
    if eps is not None:
        x = jnp.clip(x, eps, 1 - eps)
    return jnp.log(x / (1 - x))


# ------------------------------------------------------------------------------ unary, dtype-keeping

def _int_identity(kernel, fn):
    """Rounding ops: integers pass through, bool and complex are rejected."""
    def f(x):
        _reject(kernel, x, "b")
        if _is_complex(x):
            raise NotImplementedError(f"{kernel.split('_')[0]} is not supported for complex "
                                      "inputs")
        return x if _kind(x) == "i" else fn(x)
    return f


for _n, _f in (("ceil", jnp.ceil), ("floor", jnp.floor), ("trunc", jnp.trunc)):
    _unary(_n, _int_identity(f"{_n}_vml_cpu", _f), dtype="none", grad=_zeros_grad, saves=())
_unary("fix", _int_identity("trunc_vml_cpu", jnp.trunc), dtype="none", grad=_zeros_grad,
       saves=())


@op("round(Tensor input, *, int decimals=0) -> Tensor", dtype="none", inplace=True, out=True,
    grad=_zeros_grad, saves=())
def round(x, decimals=0):  # noqa: A001 - torch's name
    _reject("round_vml_cpu", x, "bc")
    if _kind(x) == "i":
        if decimals:
            raise RuntimeError("round_cpu not implemented for integral inputs with decimals")
        return x
    if decimals == 0:
        return jnp.round(x)
    p = jnp.asarray(10.0 ** builtins.abs(decimals), x.dtype)
    return jnp.round(x / p) * p if decimals < 0 else jnp.round(x * p) / p


@op("frac(Tensor input) -> Tensor", dtype="none", inplace=True, out=True, saves=(),
    grad=lambda g, out, x: (g,))
def frac(x):
    _reject("frac_cpu", x, "bic")
    return x - jnp.trunc(x)


@op("abs(Tensor input) -> Tensor", dtype="none", inplace=True, out=True, aliases=("absolute",),
    saves=("input",), grad=lambda g, out, x: (g * _sgn(x),))
def abs(x):  # noqa: A001 - torch's name
    _reject("abs_cpu", x, "b")
    return jnp.abs(x)


@op("sign(Tensor input) -> Tensor", dtype="none", inplace=True, out=True, grad=_zeros_grad,
    saves=())
def sign(x):
    if _is_complex(x):
        raise NotImplementedError("Unlike NumPy, torch.sign is not intended to support complex "
                                  "numbers. Please use torch.sgn instead.")
    if _kind(x) == "b":
        return x
    return jnp.where(jnp.isnan(x), 0, jnp.sign(x)).astype(x.dtype) if _kind(x) == "f" \
        else jnp.sign(x)


@op("sgn(Tensor input) -> Tensor", dtype="none", inplace=True, out=True)
def sgn(x):
    if _kind(x) == "b":
        return x
    if _is_complex(x):
        return _sgn(x)
    return jnp.where(jnp.isnan(x), 0, jnp.sign(x)).astype(x.dtype) if _kind(x) == "f" \
        else jnp.sign(x)


@op("signbit(Tensor input) -> Tensor", dtype="none", out=True)
def signbit(x):
    if _is_complex(x):
        raise NotImplementedError("signbit is not implemented for complex tensors.")
    if _kind(x) == "b":
        return jnp.zeros(x.shape, jnp.bool_)
    return jnp.signbit(x) if _kind(x) == "f" else x < 0


@op("relu(Tensor input) -> Tensor", dtype="none", inplace=True, saves=("result",),
    grad=lambda g, out, x: (jnp.where(out > 0, g, 0),))
def relu(x):
    if _kind(x) == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    if _is_complex(x):
        raise NotImplementedError("clamp is not supported for complex types")
    return jnp.maximum(x, jnp.zeros((), x.dtype))


@op("nan_to_num(Tensor input, float? nan=0.0, float? posinf=None, float? neginf=None) -> Tensor",
    dtype="none", inplace=True, out=True, saves=("input",),
    grad=lambda g, out, x, nan, posinf, neginf: (jnp.where(jnp.isfinite(x), g, 0),))
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    if _is_complex(x):
        return jax.lax.complex(nan_to_num.fwd(x.real, nan, posinf, neginf),
                               nan_to_num.fwd(x.imag, nan, posinf, neginf))
    if _kind(x) != "f":
        return x
    info = jnp.finfo(x.dtype)
    x = jnp.where(jnp.isnan(x), jnp.asarray(0.0 if nan is None else nan, x.dtype), x)
    x = jnp.where(x == jnp.inf, jnp.asarray(info.max if posinf is None else posinf, x.dtype), x)
    return jnp.where(x == -jnp.inf, jnp.asarray(info.min if neginf is None else neginf, x.dtype),
                     x)


# ------------------------------------------------------------------------------ complex views

@op("conj(Tensor input) -> Tensor", dtype="none", saves=(), grad=lambda g, out, x: (_c(g),))
def conj(x):
    return jnp.conj(x) if _is_complex(x) else x


@op("conj_physical(Tensor input) -> Tensor", dtype="none", inplace=True, out=True, saves=(),
    grad=lambda g, out, x: (_c(g),))
def conj_physical(x):
    return jnp.conj(x) if _is_complex(x) else x


@op("resolve_conj(Tensor input) -> Tensor", dtype="none", view=True, saves=(),
    grad=lambda g, out, x: (g,))
def resolve_conj(x):
    return x


@op("resolve_neg(Tensor input) -> Tensor", dtype="none", view=True, saves=(),
    grad=lambda g, out, x: (g,))
def resolve_neg(x):
    return x


@method("is_conj")
def is_conj(self):
    return False


@method("is_neg")
def is_neg(self):
    return False


# real/imag are copies, not views: writes through them do not reach the complex base.
@op("real(Tensor input) -> Tensor", dtype="none", method=False, saves=(),
    grad=lambda g, out, x: (g if not _is_complex(x) else g.astype(x.dtype),))
def real(x):
    return x.real if _is_complex(x) else x


@op("imag(Tensor input) -> Tensor", dtype="none", method=False, saves=(),
    grad=lambda g, out, x: (g.astype(x.dtype) * 1j,))
def imag(x):
    if not _is_complex(x):
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return x.imag


@op("complex(Tensor real, Tensor imag) -> Tensor", dtype="none", method=False, out=True,
    saves=(), grad=lambda g, out, re, im: (jnp.real(g), jnp.imag(g)))
def complex(re, im):  # noqa: A001 - torch's name
    if _kind(re) != "f" or _kind(im) != "f":
        raise RuntimeError("Expected both inputs to be Half, Float or Double tensors but got "
                           f"{_tname(re)} and {_tname(im)}")
    if re.dtype != im.dtype:
        raise RuntimeError(f"Expected object of scalar type {_tname(re)} but got scalar type "
                           f"{_tname(im)} for second argument")
    return jax.lax.complex(*jnp.broadcast_arrays(re, im))


def _polar_grad(g, out, r, theta):
    u = out / jnp.where(r == 0, 1, r)
    u = jnp.where(r == 0, jnp.exp(1j * theta), u)
    return jnp.real(g * _c(u)), jnp.real(g * _c(1j * out))


@op("polar(Tensor abs, Tensor angle) -> Tensor", dtype="none", method=False, out=True,
    grad=_polar_grad)
def polar(r, theta):
    complex.fwd(r, theta)  # same dtype checks as torch.complex
    r, theta = jnp.broadcast_arrays(r, theta)
    return jax.lax.complex(r * jnp.cos(theta), r * jnp.sin(theta))


def _install_real_imag():
    """Tensor.real / Tensor.imag are properties in torch (settable for complex tensors)."""
    from .._tensor import Tensor, wrap

    def setter(which):
        def set_part(self, value):
            cur = self._value
            v = jnp.broadcast_to(jnp.asarray(value._value if _is_tensor(value) else value,
                                             cur.real.dtype), cur.shape)
            new = jax.lax.complex(v, cur.imag) if which == "real" else \
                jax.lax.complex(cur.real, v)
            self.copy_(wrap(new))
        return set_part

    Tensor.real = property(lambda self: FUNCTIONS["real"](self), setter("real"))
    Tensor.imag = property(lambda self: FUNCTIONS["imag"](self), setter("imag"))


_install_real_imag()


# ------------------------------------------------------------------------------ binary float ops

def _binary(name, fn, *, dtype="float", grad=None, saves=None, reject="", kernel=None,
            aliases=(), inplace=True, params="Tensor input, Tensor other"):
    kernel = kernel or f"{name}_cpu"

    def fwd(x, y):
        _reject(kernel, x, reject)
        _reject(kernel, y, reject)
        return fn(x, y)
    fwd.__name__ = name
    return op(f"{name}({params}) -> Tensor", dtype=dtype, grad=grad, saves=saves,
              inplace=inplace, out=True, aliases=aliases)(fwd)


_binary("igamma", jss.gammainc, reject="bic")
_binary("igammac", jss.gammaincc, reject="bic")
_binary("atan2", jnp.arctan2, reject="c", aliases=("arctan2",))
_binary("logaddexp", jnp.logaddexp, dtype="promote", reject="bi")
_binary("logaddexp2", jnp.logaddexp2, dtype="promote", reject="bic")
_binary("hypot", jnp.hypot, dtype="promote", reject="bic")
_binary("nextafter", jnp.nextafter, dtype="promote", reject="bic", saves=(),
        grad=lambda g, out, x, y: (g, jnp.zeros(y.shape, g.dtype)))
_binary("ldexp", lambda x, y: x * jnp.exp2(y), saves=("other", "result"),
        grad=lambda g, out, x, y: (g * _c(jnp.exp2(y)), g * _c(out * _LN2)))
_binary("copysign", jnp.copysign, reject="c", saves=("input", "result"),
        grad=lambda g, out, x, y: (jnp.where(x == 0, 0, g * out / jnp.where(x == 0, 1, x)),
                                   jnp.zeros(y.shape, g.dtype)))


def _xlogy(x, y):
    return jnp.where(jnp.isnan(y), y, jnp.where(x == 0, 0, x * jnp.log(jnp.where(x == 0, 1, y))))


_binary("xlogy", _xlogy, reject="c",
        grad=lambda g, out, x, y: (g * _xlogy((x != 0).astype(x.dtype), y), g * x / y))


def _heaviside(x, v):
    if x.dtype != v.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes")
    if _is_complex(x):
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    return jnp.where(x == 0, v, (x > 0).astype(x.dtype))


@op("heaviside(Tensor input, Tensor values) -> Tensor", dtype="none", inplace=True, out=True,
    broadcast=True)
def heaviside(x, v):
    return _heaviside(x, v)


def _max_grad(g, out, x, y):
    gx = jnp.where(x == y, g / 2, jnp.where(x < y, 0, g))
    gy = jnp.where(x == y, g / 2, jnp.where(x > y, 0, g))
    return gx, gy


def _min_grad(g, out, x, y):
    gx = jnp.where(x == y, g / 2, jnp.where(x > y, 0, g))
    gy = jnp.where(x == y, g / 2, jnp.where(x < y, 0, g))
    return gx, gy


def _fmax_grad(g, out, x, y):
    m = (x >= y) | jnp.isnan(y)
    return jnp.where(m, g, 0), jnp.where(m, 0, g)


def _fmin_grad(g, out, x, y):
    m = (x <= y) | jnp.isnan(y)
    return jnp.where(m, g, 0), jnp.where(m, 0, g)


def _no_complex_minmax(name, fn):
    def f(x, y):
        if _is_complex(x) or _is_complex(y):
            raise RuntimeError(f"{name} not implemented for complex tensors.")
        return fn(x, y)
    return f


_binary("maximum", _no_complex_minmax("maximum", jnp.maximum), dtype="promote", grad=_max_grad,
        inplace=False)
_binary("minimum", _no_complex_minmax("minimum", jnp.minimum), dtype="promote", grad=_min_grad,
        inplace=False)
_binary("fmax", _no_complex_minmax("fmax", jnp.fmax), dtype="promote", grad=_fmax_grad,
        inplace=False)
_binary("fmin", _no_complex_minmax("fmin", jnp.fmin), dtype="promote", grad=_fmin_grad,
        inplace=False)


def _gcd(x, y):
    return jnp.gcd(x, y)


_binary("gcd", _gcd, dtype="promote", reject="bfc")
_binary("lcm", jnp.lcm, dtype="promote", reject="bfc")


# ------------------------------------------------------------------------------ clamp / lerp / addc*

def _clamp_fwd(x, lo, hi):
    if _is_complex(x):
        raise NotImplementedError("clamp is not supported for complex types")
    if lo is None and hi is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if _kind(x) == "b":
        raise NotImplementedError("\"clamp_cpu\" not implemented for 'Bool'")
    if lo is not None:
        x = jnp.maximum(x, lo)
    if hi is not None:
        x = jnp.minimum(x, hi)
    return x


def _clamp_grad(g, out, x, lo, hi):
    """Gradient flows to x where lo <= x <= hi; to a tensor bound where it was the answer."""
    keep = jnp.ones(x.shape, bool)
    if lo is not None:
        keep = keep & (x >= lo)
    if hi is not None:
        keep = keep & (x <= hi)
    gx = jnp.where(keep, g, 0)
    glo = ghi = None
    if lo is not None:
        m = x < lo
        if hi is not None:
            m = m & (lo < hi)
        glo = jnp.where(m, g, 0)
    if hi is not None:
        m = x > hi
        if lo is not None:
            m = m | (hi < lo)
        ghi = jnp.where(m, g, 0)
    return gx, glo, ghi


@op("clamp(Tensor input, Tensor? min=None, Tensor? max=None) -> Tensor", inplace=True,
    out=True, aliases=("clip",), grad=_clamp_grad)
def clamp(x, min=None, max=None):  # noqa: A002 - torch's names
    return _clamp_fwd(x, min, max)


@op("clamp_min(Tensor input, Tensor min) -> Tensor", inplace=True, out=True,
    grad=lambda g, out, x, lo: _clamp_grad(g, out, x, lo, None)[:2])
def clamp_min(x, min):  # noqa: A002
    return _clamp_fwd(x, min, None)


@op("clamp_max(Tensor input, Tensor max) -> Tensor", inplace=True, out=True,
    grad=lambda g, out, x, hi: (_clamp_grad(g, out, x, None, hi)[0],
                                _clamp_grad(g, out, x, None, hi)[2]))
def clamp_max(x, max):  # noqa: A002
    return _clamp_fwd(x, None, max)


@op("lerp(Tensor input, Tensor end, Tensor weight) -> Tensor", inplace=True, out=True,
    grad=lambda g, out, x, e, w: (g * _c(1 - w), g * _c(w), g * _c(e - x)))
def lerp(x, e, w):
    _reject("lerp_kernel_scalar", x, "bi")
    d = e - x
    return jnp.where(jnp.abs(w) < 0.5, x + w * d, e - d * (1 - w))


@op("addcmul(Tensor input, Tensor tensor1, Tensor tensor2, *, Tensor? value=None) -> Tensor",
    inplace=True, out=True,
    grad=lambda g, out, x, a, b, value: (
        g, g * _c(b if value is None else b * value), g * _c(a if value is None else a * value),
        None))
def addcmul(x, a, b, value=None):
    """value is a tensor input so per-step coefficients (optimizers) never recompile."""
    return x + a * b if value is None else x + value * a * b


@op("addcdiv(Tensor input, Tensor tensor1, Tensor tensor2, *, Tensor? value=None) -> Tensor",
    inplace=True, out=True,
    grad=lambda g, out, x, a, b, value: (
        g, g * _c((1 if value is None else value) / b),
        -g * _c((1 if value is None else value) * a / (b * b)), None))
def addcdiv(x, a, b, value=None):
    if _kind(a) in "bi" and _kind(b) in "bi":
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                           "future release addcdiv will perform a true division of tensor1 and "
                           "tensor2. The historic addcdiv behavior can be implemented as "
                           "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
                           "integer inputs and as (input + value * tensor1 / tensor2) for float "
                           "inputs. The future addcdiv behavior is just the latter "
                           "implementation: (input + value * tensor1 / tensor2), for all dtypes.")
    return x + a / b if value is None else x + value * a / b


def _named_outputs(d, names):
    """Give an op a torch.return_types result (registry's schema regex can't parse
    '-> (Tensor a, Tensor b)' yet)."""
    from .._namedtuple import return_type
    d.returns = tuple(names)
    d.out_type = return_type(d.name.split(".")[-1], d.returns)
    return d


@op("frexp(Tensor input)", dtype="none", out=True, nondiff_outputs=(1,))
def frexp(x):
    if _kind(x) != "f":
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    m, e = jnp.frexp(x)
    return m, e.astype(jnp.int32)


_named_outputs(frexp, ("mantissa", "exponent"))


# ------------------------------------------------------------------------------ where

@op("where(Tensor condition, Tensor input, Tensor other) -> Tensor", function=False,
    method=False, promote=("input", "other"), broadcast=True, saves=("condition",),
    grad=lambda g, out, c, x, y: (None, jnp.where(c, g, 0), jnp.where(c, 0, g)))
def _where(c, x, y):
    if c.dtype != jnp.bool_:
        raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {_tname(c)}")
    return jnp.where(c, x, y)


@function("where")
def where(condition, input=None, other=None, *, out=None):
    from .dispatch import _call
    if input is None and other is None:
        if "nonzero" not in FUNCTIONS:
            raise NotImplementedError("torch.where(condition) needs torch.nonzero")
        return FUNCTIONS["nonzero"](condition, as_tuple=True)
    return _call(_where, (condition, input, other), (), out)


@method("where")
def where_method(self, condition, other):
    from .dispatch import _call
    return _call(_where, (condition, self, other), ())


# ------------------------------------------------------------------------------ comparison

def _compare(name, fn, aliases=(), ordered=False):
    def fwd(x, y):
        if ordered and (_is_complex(x) or _is_complex(y)):
            raise NotImplementedError(f'"{name}_cpu" not implemented for \'{_tname(x)}\'')
        return fn(x, y)
    fwd.__name__ = name
    op(f"{name}(Tensor input, Tensor other) -> Tensor", dtype="compare", inplace=True,
       out=True, aliases=aliases)(fwd)


_compare("eq", jnp.equal)
_compare("ne", jnp.not_equal, aliases=("not_equal",))
_compare("lt", jnp.less, aliases=("less",), ordered=True)
_compare("le", jnp.less_equal, aliases=("less_equal",), ordered=True)
_compare("gt", jnp.greater, aliases=("greater",), ordered=True)
_compare("ge", jnp.greater_equal, aliases=("greater_equal",), ordered=True)


def _isclose(x, y, rtol, atol, equal_nan):
    if x.dtype != y.dtype:
        raise RuntimeError(f"{_tname(x)} did not match {_tname(y)}")
    if _kind(x) == "b":
        return x == y
    if _kind(x) == "i":
        x, y = x.astype(jnp.float64), y.astype(jnp.float64)
    close = x == y
    if equal_nan:
        close = close | (jnp.isnan(x) & jnp.isnan(y))
    if rtol == 0 and atol == 0:
        return close
    err = jnp.abs(x - y)
    allowed = atol + jnp.abs(rtol * y)
    return close | (jnp.isfinite(err) & (err <= allowed))


@op("isclose(Tensor input, Tensor other, float rtol=1e-05, float atol=1e-08, "
    "bool equal_nan=False) -> Tensor", dtype="none", broadcast=True)
def isclose(x, y, rtol=1e-05, atol=1e-08, equal_nan=False):
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    return _isclose(x, y, rtol, atol, equal_nan)


@function("allclose", method=True)
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.all(np.asarray(isclose_fn(input, other, rtol, atol, equal_nan)._value)))


isclose_fn = FUNCTIONS["isclose"]


@function("equal", method=True)
def equal(input, other):
    """True when shapes match and every element is equal (a Python bool)."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    return bool(np.all(np.asarray(FUNCTIONS["eq"](input, other)._value)))


@op("isin(Tensor elements, Tensor test_elements, *, bool assume_unique=False, "
    "bool invert=False) -> Tensor", dtype="compare", broadcast=False, out=True)
def isin(x, t, assume_unique=False, invert=False):
    return jnp.isin(x, t, invert=invert)


def _pred(name, fn, complex_error=None):
    def fwd(x):
        if complex_error and _is_complex(x):
            raise RuntimeError(complex_error)
        return fn(x)
    fwd.__name__ = name
    op(f"{name}(Tensor input) -> Tensor", dtype="none",
       out=name in ("isposinf", "isneginf"))(fwd)


def _float_or(fn, default):
    def f(x):
        if _kind(x) in "fc":
            return fn(x)
        return jnp.full(x.shape, default, jnp.bool_)
    return f


_pred("isfinite", _float_or(jnp.isfinite, True))
_pred("isinf", _float_or(jnp.isinf, False))
_pred("isnan", _float_or(jnp.isnan, False))
_pred("isposinf", _float_or(jnp.isposinf, False), "isposinf does not support complex inputs.")
_pred("isneginf", _float_or(jnp.isneginf, False), "isneginf does not support complex inputs.")
_pred("isreal", lambda x: x.imag == 0 if _is_complex(x) else jnp.ones(x.shape, jnp.bool_))


# ------------------------------------------------------------------------------ logical / bitwise

def _truthy(x):
    return x if x.dtype == jnp.bool_ else x != 0


@op("logical_not(Tensor input) -> Tensor", dtype="none", inplace=True, out=True)
def logical_not(x):
    return ~_truthy(x)


def _logical(name, fn):
    def fwd(x, y):
        return fn(_truthy(x), _truthy(y))
    fwd.__name__ = name
    op(f"{name}(Tensor input, Tensor other) -> Tensor", dtype="compare", inplace=True,
       out=True)(fwd)


_logical("logical_and", jnp.logical_and)
_logical("logical_or", jnp.logical_or)
_logical("logical_xor", jnp.logical_xor)


@op("bitwise_not(Tensor input) -> Tensor", dtype="none", inplace=True, out=True)
def bitwise_not(x):
    _reject("bitwise_not_cpu", x, "fc")
    return ~x


def _shift(x, y, left):
    bits = jnp.iinfo(x.dtype).bits if _kind(x) == "i" else 8
    y = y.astype(x.dtype)
    over = (y < 0) | (y >= bits)
    ys = jnp.where(over, 0, y)
    if left:
        return jnp.where(over, 0, jnp.left_shift(x, ys)).astype(x.dtype)
    fill = jnp.where(x < 0, -1, 0).astype(x.dtype)
    return jnp.where(over, fill, jnp.right_shift(x, ys)).astype(x.dtype)


for _n, _k, _f in (("bitwise_and", "bitwise_and_cpu", jnp.bitwise_and),
                   ("bitwise_or", "bitwise_or_cpu", jnp.bitwise_or),
                   ("bitwise_xor", "bitwise_xor_cpu", jnp.bitwise_xor),
                   ("bitwise_left_shift", "lshift_cpu",
                    lambda x, y: _shift(x.astype(jnp.uint8) if x.dtype == jnp.bool_ else x,
                                        y, True)),
                   ("bitwise_right_shift", "rshift_cpu",
                    lambda x, y: _shift(x.astype(jnp.uint8) if x.dtype == jnp.bool_ else x,
                                        y, False))):
    _binary(_n, _f, dtype="promote", reject="fc", kernel=_k)


# ------------------------------------------------------------------------------ softmax

def _axis(dim, ndim):
    n = builtins.max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def _softmax_in(x, dim, dtype, kernel):
    if dtype is not None:
        x = x.astype(D.to_dtype(dtype).np)
    _reject(kernel, x, "bic")
    return x, _axis(dim, x.ndim)


def _softmax_grad(g, out, x, dim, dtype=None):
    ax = _axis(dim, out.ndim)
    if out.ndim == 0:
        return (g * 0,)
    return (out * (g - jnp.sum(g * out, axis=ax, keepdims=True)),)


def _log_softmax_grad(g, out, x, dim, dtype=None):
    ax = _axis(dim, out.ndim)
    if out.ndim == 0:
        return (g * 0,)
    return (g - jnp.exp(out) * jnp.sum(g, axis=ax, keepdims=True),)


@op("softmax(Tensor input, int dim, ScalarType? dtype=None) -> Tensor", dtype="none",
    saves=("result",), grad=_softmax_grad)
def softmax(x, dim, dtype=None):
    x, ax = _softmax_in(x, dim, dtype, "softmax_lastdim_kernel_impl")
    if x.ndim == 0:
        return jnp.ones_like(x)
    return jax.nn.softmax(x, axis=ax)


@op("log_softmax(Tensor input, int dim, ScalarType? dtype=None) -> Tensor", dtype="none",
    saves=("result",), grad=_log_softmax_grad)
def log_softmax(x, dim, dtype=None):
    x, ax = _softmax_in(x, dim, dtype, "log_softmax_lastdim_kernel_impl")
    if x.ndim == 0:
        return jnp.zeros_like(x)
    return jax.nn.log_softmax(x, axis=ax)
