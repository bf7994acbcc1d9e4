"""Pointwise, comparison, logical and bitwise ops: the same calls on torch and jtorch.

Values, dtypes, exception types and gradients (including torch's choices at kinks)
are compared against real torch. Inputs are tiny and share shapes to keep jit
compiles few.
"""
import numpy as np
import pytest
import torch

import jtorch

F = np.array([-2.5, -1.0, -0.0, 0.0, 0.3, 1.0, 2.5], np.float32)
POS = np.array([0.1, 0.5, 1.0, 2.0, 3.5, 7.0, 0.01], np.float32)
UNIT = np.array([-0.9, -0.5, 0.0, 0.2, 0.5, 0.7, 0.99], np.float32)
I = np.array([-3, -1, 0, 1, 2, 5, 7], np.int32)
B = np.array([True, False, True, True, False, False, True])


def both(*arrays, grad=False):
    t = [torch.tensor(a, requires_grad=grad) if isinstance(a, np.ndarray) else a for a in arrays]
    j = [jtorch.tensor(a, requires_grad=grad) if isinstance(a, np.ndarray) else a for a in arrays]
    return t, j


def check(expected, actual, rtol=1e-5, atol=1e-6):
    if isinstance(expected, (tuple, list)):
        assert len(expected) == len(actual)
        for e, a in zip(expected, actual):
            check(e, a, rtol, atol)
        return
    if isinstance(expected, torch.Tensor):
        assert isinstance(actual, jtorch.Tensor), type(actual)
        assert str(actual.dtype) == str(expected.dtype), (actual.dtype, expected.dtype)
        assert tuple(actual.shape) == tuple(expected.shape)
        np.testing.assert_allclose(actual.detach().numpy(), expected.detach().resolve_conj()
                                   .numpy(), rtol=rtol, atol=atol, equal_nan=True)
    else:
        assert type(actual) is type(expected) and actual == expected


def same(fn, *arrays, rtol=1e-5, atol=1e-6):
    """fn(lib, *tensors) on torch and on jtorch must agree."""
    (t, j) = both(*arrays)
    check(fn(torch, *t), fn(jtorch, *j), rtol, atol)


def same_error(fn, *arrays, match=None):
    t, j = both(*arrays)
    with pytest.raises(Exception) as te:
        fn(torch, *t)
    with pytest.raises(type(te.value), match=match) as je:
        fn(jtorch, *j)
    return te.value, je.value


def same_grad(fn, *arrays, rtol=1e-5, atol=1e-6, seed=0):
    """Forward values and the vjp with a random cotangent must agree."""
    t, j = both(*arrays, grad=True)
    to, jo = fn(torch, *t), fn(jtorch, *j)
    check(to, jo, rtol, atol)
    cot = np.random.default_rng(seed).standard_normal(tuple(to.shape)).astype(np.float32)
    tl = [x for x in t if isinstance(x, torch.Tensor)]
    jl = [x for x in j if isinstance(x, jtorch.Tensor)]
    tg = torch.autograd.grad(to, tl, torch.tensor(cot, dtype=to.dtype), allow_unused=True)
    jg = jtorch.autograd.grad(jo, jl, jtorch.tensor(cot, dtype=jo.dtype), allow_unused=True)
    for a, b in zip(tg, jg):
        if a is None:
            assert b is None or not np.any(b.numpy())
        else:
            check(a, b, rtol, atol)


# ------------------------------------------------------------------------------ unary

FLOAT_UNARY = {
    "F": "exp tanh sin cos tan atan sinh cosh asinh sigmoid erf erfc expm1 exp2 sinc "
       "deg2rad rad2deg angle abs neg ceil floor round trunc frac sign sgn square i0 "
       "reciprocal nan_to_num positive relu fix",
    "POS": "log log2 log10 log1p sqrt rsqrt lgamma digamma acosh",
    "UNIT": "asin acos atanh erfinv logit",
}


@pytest.mark.parametrize("name,data", [(n, d) for d, names in FLOAT_UNARY.items()
                                       for n in names.split()])
def test_unary_float(name, data):
    same(lambda lib, x: getattr(lib, name)(x), globals()[data], rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", "sin exp sqrt log1p sigmoid erf angle deg2rad abs neg floor "
                                  "round sign square".split())
def test_unary_int_dtypes(name):
    """float ops lift integers to float32; abs/neg/floor/... keep the integer dtype."""
    same(lambda lib, x: getattr(lib, name)(x), np.abs(I) + 1 if name in ("sqrt", "log1p")
         else I, rtol=2e-5)


def test_unary_bool():
    for name in ("sin", "sign", "square", "logical_not", "bitwise_not", "isnan", "conj"):
        same(lambda lib, x: getattr(lib, name)(x), B)
    for name in ("abs", "floor", "round", "neg", "positive", "relu", "frac"):
        same_error(lambda lib, x: getattr(lib, name)(x), B)


def test_unary_complex_rejections():
    z = np.array([1 + 2j, -3j], np.complex64)
    same(lambda lib, x: lib.sgn(x), z)
    same(lambda lib, x: lib.abs(x), z)
    same(lambda lib, x: lib.angle(x), z)
    for name in ("sign", "floor", "erf", "signbit", "relu", "isposinf", "deg2rad"):
        same_error(lambda lib, x: getattr(lib, name)(x), z)


def test_special_values():
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0], np.float32)
    for name in ("sign", "isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit",
                 "isreal", "angle", "digamma", "sgn"):
        same(lambda lib, t: getattr(lib, name)(t), x)
    same(lambda lib, t: lib.nan_to_num(t), x)
    same(lambda lib, t: lib.nan_to_num(t, nan=1.5, posinf=9.0, neginf=-9.0), x)
    same(lambda lib, t: lib.logit(t, eps=0.1), UNIT)
    same(lambda lib, t: t.round(decimals=1), F * 3.33)
    same(lambda lib, t: lib.round(t, decimals=-1), F * 33.3)


def test_frexp_and_complex_parts():
    same(lambda lib, t: lib.frexp(t), F)
    same(lambda lib, t: tuple(lib.frexp(t)), POS)
    z = np.array([1 + 2j, -3j, 0.5], np.complex64)
    same(lambda lib, t: (t.real, t.imag, lib.real(t), lib.imag(t)), z)
    same(lambda lib, a, b: (lib.complex(a, b), lib.polar(a, b)), POS, F)
    same_error(lambda lib, t: t.imag, F, match="imag is not implemented for tensors with "
                                              "non-complex dtypes")
    same_error(lambda lib, t: lib.frexp(t), I)


# ------------------------------------------------------------------------------ binary

@pytest.mark.parametrize("name", "add sub mul div atan2 pow float_power remainder fmod "
                                  "floor_divide maximum minimum fmax fmin hypot copysign "
                                  "logaddexp logaddexp2 xlogy nextafter ldexp rsub".split())
def test_binary_float(name):
    same(lambda lib, a, b: getattr(lib, name)(a, b), POS, F[::-1].copy() + 0.25, rtol=2e-5)


@pytest.mark.parametrize("name", "add sub mul div pow remainder fmod floor_divide maximum "
                                  "minimum fmax fmin copysign xlogy atan2 gcd lcm bitwise_and "
                                  "bitwise_or bitwise_xor eq lt logical_and".split())
def test_binary_int(name):
    b = np.array([1, 2, -3, 4, 1, 3, 2], np.int32)
    same(lambda lib, x, y: getattr(lib, name)(x, y), I, b)


def test_promotion_and_wrapped_scalars():
    i64 = I.astype(np.int64)
    same(lambda lib, x: (x + 2, x + 2.5, x * True, x / 2, x // 2, x % 3, 2 ** x.abs(),
                         x ** 2, 2.5 - x, 1 - x, 7 // (x.abs() + 1), 5 % (x.abs() + 1)), i64)
    same(lambda lib, x, y: (x + y, x * y, lib.maximum(x, y), x == y), F, I)
    same(lambda lib, x, y: (x + y, lib.pow(x, y), x - y), F.astype(np.float16), F.astype(
        np.float64))
    same(lambda lib, x: (x + 1, x * 2, x > 0, x | True, x & False, x ^ True), B)
    same(lambda lib, x, y: (x + y, x * y), F, np.array(1.5, np.float64))  # 0-dim loses
    same(lambda lib, x: (lib.add(x, x, alpha=2), lib.sub(x, 1, alpha=0.5),
                         lib.rsub(x, 3), x.add(1.5, alpha=-1), 3 / x), POS)


def test_div_modes():
    a = np.array([7, -7, 7, -7, 0], np.int64)
    b = np.array([2, 2, -2, -2, 3], np.int64)
    for mode in (None, "trunc", "floor"):
        same(lambda lib, x, y: (lib.div(x, y, rounding_mode=mode), x.divide(y, rounding_mode=mode)),
             a, b)
        same(lambda lib, x, y: lib.div(x, y, rounding_mode=mode), F * 3, POS - 0.5)
    same(lambda lib, x, y: (lib.true_divide(x, y), x.__rdiv__(y) if hasattr(x, "__rdiv__")
                            else 0), a, b)
    same_error(lambda lib, x, y: lib.div(x, y, rounding_mode="bad"), a, b)
    same_error(lambda lib, x: lib.div(x, 0, rounding_mode="floor"), a, match="ZeroDivision")
    same_error(lambda lib, x, y: x // (y * 0), a, b, match="ZeroDivision")
    same_error(lambda lib, x: x % 0, a, match="ZeroDivision")


def test_pow_integer_rules():
    a = np.array([1, 2, -1, 0, 3, -1], np.int64)
    e = np.array([-1, -1, -3, -1, -2, -2], np.int64)
    same(lambda lib, x, y: lib.pow(x, y), a, e)
    same_error(lambda lib, x: x ** -1, a, match="Integers to negative integer powers are not "
                                               "allowed.")
    same_error(lambda lib, x: lib.pow(x, -2), a)
    same(lambda lib, x: (x ** 0.5, 2.0 ** x, x ** 0), np.abs(a))
    same_error(lambda lib, x: x.float().float_power_(2), F)
    same(lambda lib, x: lib.float_power(x, 2), I)


def test_dtype_errors():
    same_error(lambda lib, x, y: x & y, F, F)
    same_error(lambda lib, x: lib.bitwise_not(x), F)
    same_error(lambda lib, x, y: lib.gcd(x, y), F, F)
    same_error(lambda lib, x, y: lib.logaddexp(x, y), I, I)
    same_error(lambda lib, x, y: x - y, B, B, match="Subtraction, the `-` operator")
    same_error(lambda lib, x: -x, B)
    same_error(lambda lib, x, y: lib.heaviside(x, y), F, I)
    same_error(lambda lib, x, y: lib.isclose(x, y), F, I, match="Float did not match Int")
    same_error(lambda lib, x, y: x + y, F, F[:3], match="must match the size")
    same_error(lambda lib, x: lib.clamp(x), F, match="At least one of 'min' or 'max'")
    z = np.array([1j, 2], np.complex64)
    same_error(lambda lib, x: lib.maximum(x, x), z)
    same_error(lambda lib, x: x < x, z)


def test_bitwise_and_shifts():
    a = np.array([1, -8, 255, 3, 0, 7, -1], np.int64)
    s = np.array([0, 1, 3, 63, 64, 2, 1], np.int64)
    same(lambda lib, x, y: (x & y, x | y, x ^ y, ~x, x << y, x >> y), a, s)
    same(lambda lib, x: (3 & x, 3 | x, 3 ^ x, x << 2, x >> 1), a)
    u = np.array([1, 128, 255], np.uint8)
    same(lambda lib, x: (x << 1, x >> 3, ~x), u)
    same(lambda lib, x, y: (x & y, x | y, x ^ y, ~x), B, B[::-1].copy())


def test_comparisons_and_logical():
    for name in ("eq", "ne", "lt", "le", "gt", "ge", "greater", "less_equal", "not_equal",
                 "greater_equal", "less", "logical_and", "logical_or", "logical_xor"):
        same(lambda lib, x, y: getattr(lib, name)(x, y), F, F[::-1].copy())
    same(lambda lib, x, y: (x == 1, x != 0.0, x < 1, 0 < x, x >= y), F, I)
    same(lambda lib, x: (lib.logical_not(x), lib.logical_and(x, x - 1)), I)
    same(lambda lib, x, y: (lib.isclose(x, y), lib.isclose(x, y, rtol=0.5, atol=0.1),
                            lib.isclose(x, x, equal_nan=True)), F, F + 1e-7)
    same(lambda lib, x, y: (lib.allclose(x, y), lib.allclose(x, y + 1), x.allclose(y),
                            lib.equal(x, y), lib.equal(x, x), lib.equal(x, x[:2])), F, F + 0)
    same(lambda lib, x, y: (lib.isin(x, y), lib.isin(x, y, invert=True)), I, I[:3].copy())


def test_clamp_where_lerp_addc():
    lo = np.full(7, -1.0, np.float32)
    same(lambda lib, x, a: (lib.clamp(x, -1, 1), lib.clamp(x, min=a), lib.clip(x, max=0.5),
                            x.clamp(a, a + 2), lib.clamp_min(x, 0), lib.clamp_max(x, a)), F, lo)
    same(lambda lib, x: (lib.clamp(x, 0.5), lib.clamp(x, 0, 3)), I)
    c = F > 0
    same(lambda lib, x, y, c: (lib.where(c, x, y), x.where(c, 0.0), lib.where(c, 1, 2.5)),
         F, POS, c)
    same_error(lambda lib, x, y: lib.where(x, x, y), F, POS, match="where expected condition")
    same(lambda lib, x, y, w: (lib.lerp(x, y, 0.3), lib.lerp(x, y, w), lib.lerp(x, y, 0.8)),
         F, POS, UNIT)
    same(lambda lib, x, y, z: (lib.addcmul(x, y, z), lib.addcmul(x, y, z, value=0.5),
                               lib.addcdiv(x, y, z, value=-2), lib.addcdiv(x, y, z)), F, UNIT, POS)
    same(lambda lib, x, y: (lib.heaviside(x, y), lib.ldexp(x, lib.tensor([1, 2, 3, 0, 1, 2, -1]))),
         F, POS)


def test_inplace_and_out():
    def ops(lib, x, y):
        a = x.clone()
        a.add_(y, alpha=2).mul_(y).sub_(1).div_(2).clamp_(-3, 3).pow_(2).sqrt_()
        b = x.clone()
        b.abs_().neg_().exp_().sigmoid_().tanh_()
        b.div_(y, rounding_mode="floor")
        c = x.clone()
        c.lt_(y)
        o = lib.empty(7) if hasattr(lib, "empty") else lib.zeros(7)
        lib.mul(x, y, out=o)
        o2 = lib.tensor(np.zeros(7, np.float64))
        lib.add(x, y, out=o2)
        return a, b, c, o, o2, x.clone().floor_divide_(y), x.clone().remainder_(2)
    same(ops, F, POS)
    same_error(lambda lib, x: x.sqrt_(), I, match="result type Float can't be cast to the "
                                                "desired output type Int")
    same_error(lambda lib, x: x.float().float_power_(2), F, match="the base given to "
                                                                  "float_power_ has dtype Float")


def test_operators_and_reflected():
    same(lambda lib, x: (x + 1, 1 + x, x - 1, 1 - x, x * 2, 2 * x, x / 2, 2 / x, x ** 2,
                         2 ** x, x % 1.5, 5.5 % x, x // 0.7, 3 // x, -x, +x, abs(x)), POS)
    same(lambda lib, x: (x.__radd__(1), x.__rsub__(1), x.__rmul__(3), x.__rdiv__(2),
                         x.__rpow__(2), x.__rmod__(5)), POS)

    def iops(lib, x):
        x = x.clone()
        x += 1
        x -= 0.5
        x *= 2
        x /= 3
        x **= 2
        x %= 5
        x //= 0.5
        return x
    same(iops, F)


# ------------------------------------------------------------------------------ gradients

@pytest.mark.parametrize("name,data", [
    ("abs", F), ("relu", F), ("neg", F), ("exp", F), ("tanh", F), ("sigmoid", F),
    ("sin", F), ("cos", F), ("erf", F), ("square", F), ("sign", F), ("floor", F),
    ("log", POS), ("sqrt", POS), ("rsqrt", POS), ("reciprocal", POS), ("log1p", POS),
    ("expm1", F), ("exp2", F), ("tan", UNIT), ("erfinv", UNIT), ("lgamma", POS),
    ("digamma", POS), ("i0", F), ("frac", F), ("nan_to_num", F), ("logit", UNIT),
])
def test_unary_grads(name, data):
    same_grad(lambda lib, x: getattr(lib, name)(x), data, rtol=1e-4, atol=1e-5)


def test_kink_grads():
    """torch's conventions where the derivative is ambiguous."""
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 1.0, -3.0], np.float32)
    y = np.array([0.0, 0.0, 1.0, 1.0, 1.0, -1.0, np.nan], np.float32)
    same_grad(lambda lib, a: lib.abs(a), x)
    same_grad(lambda lib, a: lib.relu(a), x)
    same_grad(lambda lib, a: a.clamp(0.0, 1.0), x)
    same_grad(lambda lib, a: a.clamp(min=1.0), x)
    same_grad(lambda lib, a, b: lib.maximum(a, b), x, y)
    same_grad(lambda lib, a, b: lib.minimum(a, b), x, y)
    same_grad(lambda lib, a, b: lib.fmax(a, b), x, y)
    same_grad(lambda lib, a, b: lib.fmin(a, b), x, y)
    lo = np.array([0.0, 0.0, 0.0, 2.0, 0.0, 1.0, 0.0], np.float32)
    hi = np.array([1.0, 1.0, 0.2, 1.0, 3.0, 1.0, 1.0], np.float32)
    same_grad(lambda lib, a, b, c: lib.clamp(a, b, c), x, lo, hi)
    same_grad(lambda lib, a, b: lib.clamp_min(a, b), x, lo)
    same_grad(lambda lib, a, b: lib.clamp_max(a, b), x, hi)
    same_grad(lambda lib, a, b: lib.pow(a, b), np.abs(x), np.array([0, 2, 0, 1.5, 3, 0, 1],
                                                                     np.float32))
    same_grad(lambda lib, a: lib.sqrt(a), np.abs(x) + 0.5)


def test_binary_grads():
    a, b = F[::-1].copy() + 0.3, POS
    for fn in (lambda lib, x, y: x + y, lambda lib, x, y: lib.add(x, y, alpha=2.5),
               lambda lib, x, y: x - y, lambda lib, x, y: lib.sub(x, y, alpha=0.5),
               lambda lib, x, y: x * y, lambda lib, x, y: x / y, lambda lib, x, y: y ** x,
               lambda lib, x, y: x ** 2, lambda lib, x, y: 2 ** x, lambda lib, x, y: 1 / y,
               lambda lib, x, y: lib.rsub(x, y), lambda lib, x, y: lib.atan2(x, y),
               lambda lib, x, y: lib.remainder(x, y), lambda lib, x, y: lib.fmod(x, y),
               lambda lib, x, y: lib.xlogy(x, y), lambda lib, x, y: lib.hypot(x, y),
               lambda lib, x, y: lib.copysign(x, y - 1), lambda lib, x, y: lib.ldexp(x, y),
               lambda lib, x, y: lib.logaddexp(x, y), lambda lib, x, y: lib.lerp(x, y, 0.3),
               lambda lib, x, y: lib.addcmul(x, x, y, value=0.5),
               lambda lib, x, y: lib.addcdiv(x, x, y, value=2),
               lambda lib, x, y: lib.where(x > 0, x, y),
               lambda lib, x, y: lib.div(x, y, rounding_mode="floor"),
               lambda lib, x, y: lib.float_power(x, 2)):
        same_grad(fn, a, b, rtol=1e-4, atol=1e-5)


def test_broadcast_and_mixed_dtype_grads():
    m = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    v = np.array([0.5, -1.0, 2.0], np.float32)
    same_grad(lambda lib, x, y: x * y + y / (x + 1) - lib.maximum(x, y), m, v)
    same_grad(lambda lib, x, y: x * y.double(), m, v)


def test_complex_grads():
    """Explicit rules use torch's convention grad = g * conj(f'(z))."""
    z = np.array([1 + 2j, -0.5 + 0.3j, 2 - 1j], np.complex64)
    w = np.array([0.3 - 1j, 1 + 1j, -2 + 0.5j], np.complex64)
    for fn in (lambda lib, x, y: x * y, lambda lib, x, y: x / y, lambda lib, x, y: x + y * 2,
               lambda lib, x, y: lib.exp(x) * lib.sin(y), lambda lib, x, y: lib.sqrt(x) + y.tanh(),
               lambda lib, x, y: lib.reciprocal(x) * lib.log(y), lambda lib, x, y: x ** 2 - y.square()):
        t, j = both(z, w, grad=True)
        to, jo = fn(torch, *t), fn(jtorch, *j)
        tl, jl = to.abs().sum(), jo.abs().sum()
        check(torch.autograd.grad(tl, t), jtorch.autograd.grad(jl, j), 1e-4, 1e-5)


def test_softmax():
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    for dim in (0, 1, -1):
        same_grad(lambda lib, a: lib.softmax(a, dim), x)
        same_grad(lambda lib, a: lib.log_softmax(a, dim), x)
        same_grad(lambda lib, a: a.softmax(dim) * 2, x)
        same_grad(lambda lib, a: a.log_softmax(dim=dim, dtype=lib.float64), x)
    same(lambda lib, a: (lib.softmax(a, 0, dtype=lib.float32), a.log_softmax(0, lib.float64)),
         np.array([1, 2, 3]))
    same_error(lambda lib, a: lib.softmax(a, 2), x, match="Dimension out of range")
    same_error(lambda lib, a: lib.softmax(a, 0), np.array([1, 2, 3]))
    same(lambda lib, a: (lib.softmax(a, 0), lib.log_softmax(a, -1)), np.full((), 1.5, np.float32))
