"""torch.special: aliases of the pointwise ops plus special functions.

JAX supplies most functions (jax.scipy.special). Bessel functions of the first
and second kind and K0/K1 are written here: power series for small |x| and
Hankel's asymptotic expansion for large |x| (J, Y), and a trapezoid rule on
K's integral representation, all evaluated in float64 and cast back.
The orthogonal polynomials use their three-term recurrences up to max(n).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.scipy.special as jss
import numpy as np

from .pointwise import _reject
from .registry import FUNCTIONS, NAMESPACES, op

SPECIAL = NAMESPACES.setdefault("special", {})
_EULER = 0.5772156649015329

# torch.special names that are the top-level functions under another name
for _name, _target in {
    "erf": "erf", "erfc": "erfc", "erfinv": "erfinv", "expit": "sigmoid", "exp2": "exp2",
    "expm1": "expm1", "gammaln": "lgamma", "digamma": "digamma", "psi": "digamma",
    "polygamma": "polygamma", "multigammaln": "mvlgamma", "i0": "i0", "log1p": "log1p",
    "logit": "logit", "round": "round", "sinc": "sinc", "xlogy": "xlogy",
    "softmax": "softmax", "log_softmax": "log_softmax", "gammainc": "igamma",
    "gammaincc": "igammac", "logsumexp": "logsumexp",
}.items():
    if _target in FUNCTIONS:
        SPECIAL[_name] = FUNCTIONS[_target]


def _special(name, fn, *, params="Tensor input", grad=None, saves=None):
    """Declare torch.special.name as a float-category op (integers lift to float)."""
    def fwd(*arrays):
        for a in arrays:
            _reject(f"special_{name}_cpu", a, "c")
        return fn(*arrays)
    fwd.__name__ = name
    return op(f"special.{name}({params}) -> Tensor", dtype="float", method=False,
              namespace="special", out=True, grad=grad, saves=saves)(fwd)


def _f64(fn):
    """Evaluate in float64 (the series below need the headroom), return the input dtype."""
    def f(x, *rest):
        return fn(x.astype(jnp.float64), *rest).astype(x.dtype)
    return f


_special("entr", jss.entr)
_special("erfcx", jss.erfcx)
_special("i0e", jss.i0e)
_special("i1", jss.i1)
_special("i1e", jss.i1e)
_special("ndtr", jss.ndtr)
_special("ndtri", jss.ndtri)
_special("log_ndtr", jss.log_ndtr)
_special("xlog1py", lambda x, y: jnp.where(jnp.isnan(y), y, jss.xlog1py(x, y)),
         params="Tensor input, Tensor other")
_special("zeta", jss.zeta, params="Tensor input, Tensor other")
_special("modified_bessel_i0", jss.i0)
_special("modified_bessel_i1", jss.i1)
_special("spherical_bessel_j0",
         lambda x: jnp.where(x == 0, 1, jnp.sin(x) / jnp.where(x == 0, 1, x)).astype(x.dtype))


# ------------------------------------------------------------------------------ Bessel J, Y

def _hankel(n, x, terms=40):
    """Hankel's expansion: J_n, Y_n for large x > 0 (P, Q series in 1/x)."""
    mu = 4.0 * n * n

    def body(k, c):
        term, p, q = c
        kf = k.astype(x.dtype)
        term = term * (mu - (2 * kf - 1) ** 2) / (kf * 8.0 * x)
        sign = jnp.where((k // 2) % 2 == 0, 1.0, -1.0)
        odd = k % 2 == 1
        return term, jnp.where(odd, p, p + sign * term), jnp.where(odd, q + sign * term, q)
    one = jnp.ones_like(x)
    _, p, q = jax.lax.fori_loop(1, terms, body, (one, one, jnp.zeros_like(x)))
    w = x - (n / 2 + 0.25) * math.pi
    amp = jnp.sqrt(2 / (math.pi * x))
    return amp * (p * jnp.cos(w) - q * jnp.sin(w)), amp * (p * jnp.sin(w) + q * jnp.cos(w))


def _j_series(n, x, terms=40):
    h = x / 2
    first = h ** n / math.factorial(n)

    def body(k, c):
        term, total = c
        kf = k.astype(x.dtype)
        term = -term * h * h / (kf * (kf + n))
        return term, total + term
    return jax.lax.fori_loop(1, terms, body, (first, first))[1]


def _y_series(n, x, terms=40):
    """Y0/Y1 from their ascending series (with harmonic numbers)."""
    h = x / 2
    lg = jnp.log(h)
    zero = jnp.zeros_like(x)
    if n == 0:
        def body0(k, c):
            term, hk, total = c
            kf = k.astype(x.dtype)
            term = -term * h * h / (kf * kf)
            hk = hk + 1.0 / kf
            return term, hk, total - hk * term
        total = jax.lax.fori_loop(1, terms, body0, (jnp.ones_like(x), zero, zero))[2]
        return (2 / math.pi) * ((lg + _EULER) * _j_series(0, x) + total)

    def body1(k, c):  # term_k = (-1)^k h^(2k+1) / (k! (k+1)!), weight H_k + H_{k+1} - 2 gamma
        term, hk, hk1, total = c
        kf = k.astype(x.dtype)
        term = -term * h * h / (kf * (kf + 1))
        hk, hk1 = hk + 1.0 / kf, hk1 + 1.0 / (kf + 1)
        return term, hk, hk1, total + (hk + hk1 - 2 * _EULER) * term
    first = (1 - 2 * _EULER) * h
    total = jax.lax.fori_loop(1, terms, body1, (h, zero, zero + 1.0, first))[3]
    return (2 / math.pi) * lg * _j_series(1, x) - 2 / (math.pi * x) - total / math.pi


_SWITCH = 12.0  # series below, asymptotic expansion above


def _bessel_j(n):
    def f(x):
        a = jnp.abs(x)
        big = a > _SWITCH
        small = _j_series(n, jnp.where(big, 0.0, a))
        large = _hankel(n, jnp.where(big, a, _SWITCH + 1))[0]
        r = jnp.where(big, large, small)
        return r if n == 0 else jnp.sign(x) * r
    return _f64(f)


def _bessel_y(n):
    def f(x):
        big = x > _SWITCH
        small = _y_series(n, jnp.where(big | (x <= 0), 1.0, x))
        large = _hankel(n, jnp.where(big, x, _SWITCH + 1))[1]
        r = jnp.where(big, large, small)
        return jnp.where(x == 0, -jnp.inf, jnp.where(x < 0, jnp.nan, r))
    return _f64(f)


_special("bessel_j0", _bessel_j(0))
_special("bessel_j1", _bessel_j(1))
_special("bessel_y0", _bessel_y(0))
_special("bessel_y1", _bessel_y(1))


# ------------------------------------------------------------------------------ Bessel K

_T = np.arange(0, 20.0, 0.1)      # K_n(x) = int_0^inf exp(-x cosh t) cosh(n t) dt
_W = np.full(_T.shape, 0.1)
_W[0] = 0.05                       # trapezoid; the integrand is even in t -> spectral accuracy


def _k_scaled(n, x):
    """exp(x) K_n(x) for x > 0."""
    t = jnp.asarray(_T)
    e = jnp.exp(-x[..., None] * (jnp.cosh(t) - 1)) * jnp.cosh(n * t)
    return jnp.sum(e * jnp.asarray(_W), axis=-1)


def _bessel_k(n, scaled):
    def f(x):
        safe = jnp.where(x > 0, x, 1.0)
        r = _k_scaled(n, safe)
        if not scaled:
            r = r * jnp.exp(-safe)
        return jnp.where(x == 0, jnp.inf, jnp.where(x < 0, jnp.nan, r))
    return _f64(f)


_special("modified_bessel_k0", _bessel_k(0, False))
_special("modified_bessel_k1", _bessel_k(1, False))
_special("scaled_modified_bessel_k0", _bessel_k(0, True))
_special("scaled_modified_bessel_k1", _bessel_k(1, True))


def _airy_ai(x):
    raise NotImplementedError("torch.special.airy_ai is not implemented in jtorch")


_special("airy_ai", _airy_ai)


# ------------------------------------------------------------------------------ polynomials

def _recurrence(p0, p1, step):
    """P_n(x) by a three-term recurrence run to max(n); n is truncated to an integer."""
    def f(x, n):
        x, n = jnp.broadcast_arrays(x, n)
        if jnp.issubdtype(n.dtype, jnp.floating):
            n = jnp.trunc(n)
        n = n.astype(jnp.int64)
        a, b = p0(x), p1(x)
        res = jnp.where(n == 0, a, jnp.where(n == 1, b, jnp.zeros_like(x)))
        if x.size == 0:
            return res
        top = jnp.max(n)

        def body(c):
            k, prev, cur, res = c
            nxt = step(k, x, cur, prev)
            return k + 1, cur, nxt, jnp.where(n == k + 1, nxt, res)
        return jax.lax.while_loop(lambda c: c[0] < top, body, (jnp.int64(1), a, b, res))[3]
    return f


_POLY = {
    "chebyshev_polynomial_t": (lambda x: x, lambda k, x, c, p: 2 * x * c - p),
    "chebyshev_polynomial_u": (lambda x: 2 * x, lambda k, x, c, p: 2 * x * c - p),
    "chebyshev_polynomial_v": (lambda x: 2 * x - 1, lambda k, x, c, p: 2 * x * c - p),
    "chebyshev_polynomial_w": (lambda x: 2 * x + 1, lambda k, x, c, p: 2 * x * c - p),
    "hermite_polynomial_h": (lambda x: 2 * x, lambda k, x, c, p: 2 * x * c - 2 * k * p),
    "hermite_polynomial_he": (lambda x: x, lambda k, x, c, p: x * c - k * p),
    "laguerre_polynomial_l": (lambda x: 1 - x,
                              lambda k, x, c, p: ((2 * k + 1 - x) * c - k * p) / (k + 1)),
    "legendre_polynomial_p": (lambda x: x,
                              lambda k, x, c, p: ((2 * k + 1) * x * c - k * p) / (k + 1)),
}


def _declare_polys():
    for name, (p1, step) in _POLY.items():
        f = _recurrence(jnp.ones_like, p1, step)
        _special(name, f, params="Tensor input, Tensor n")
        if name.startswith("chebyshev"):
            g = (lambda f: lambda x, n: f(2 * x - 1, n))(f)
            _special("shifted_" + name, g, params="Tensor input, Tensor n")


_declare_polys()
