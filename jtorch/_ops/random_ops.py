"""Random sampling: rand/randn/randint/randperm/normal/bernoulli/multinomial/poisson,
their _like variants and the in-place Tensor samplers (uniform_, normal_, random_, ...).

Every sampler is an op whose tensor inputs include the generator's per-draw seed
array (see jtorch/_random.py), so the forward is jitted once per shape/dtype and
a new draw never recompiles. In-place samplers take `self` as an input too: the
result then carries torch's zero-gradient node (UniformBackward0, ...) and goes
through `_inplace_assign` (views, version counter, leaf errors).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import _creation
from .. import _dtype as D
from .. import _random
from .._random import key_from
from .._tensor import Tensor, wrap
from .creation_ops import _dt, _jdev, _size
from .dispatch import _call
from .registry import function, method, op

for _n in ("manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state"):
    function(_n)(getattr(_random, _n))
function("Generator")(_random.Generator)
function("default_generator")(_random.default_generator)


# ------------------------------------------------------------------------------ samplers

def _real(dt):
    return {jnp.dtype(jnp.complex64): jnp.float32,
            jnp.dtype(jnp.complex128): jnp.float64}.get(jnp.dtype(dt), dt)


def _sample_uniform(key, shape, dt, lo, hi):
    if jnp.issubdtype(dt, jnp.complexfloating):
        r = _real(dt)
        k1, k2 = jax.random.split(key)
        re = jax.random.uniform(k1, shape, r)
        im = jax.random.uniform(k2, shape, r)
        return jax.lax.complex(re * (hi - lo).real + lo.real, im * (hi - lo).real + lo.real) \
            if lo is not None else jax.lax.complex(re, im)
    cdt = jnp.float32 if dt in (jnp.float16, jnp.bfloat16) else dt
    u = jax.random.uniform(key, shape, cdt)
    if lo is not None:
        lo, hi = lo.astype(cdt), hi.astype(cdt)
        u = jnp.minimum(u * (hi - lo) + lo, jnp.maximum(jnp.nextafter(hi, lo), lo))
    return u.astype(dt)


def _sample_normal(key, shape, dt, mean=None, std=None):
    if jnp.issubdtype(dt, jnp.complexfloating):
        z = jax.random.normal(key, shape, dt)   # real/imag parts each N(0, 1/2), as torch
    else:
        cdt = jnp.float32 if dt in (jnp.float16, jnp.bfloat16) else dt
        z = jax.random.normal(key, shape, cdt)
    if mean is not None:
        z = z * std.astype(z.dtype) + mean.astype(z.dtype)
    return z.astype(dt)


def _sample_int(key, shape, dt, lo, hi):
    """lo + bits mod (hi - lo) on 64 random bits: bias <= span / 2**64, and far cheaper to
    compile than jax.random.randint."""
    lo, hi = lo.astype(jnp.int64), hi.astype(jnp.int64)
    span = (hi - lo).astype(jnp.uint64)
    bits = jax.random.bits(key, shape, jnp.uint64)
    return (lo + (bits % span).astype(jnp.int64)).astype(dt)


# ------------------------------------------------------------------------------ op declarations

@op("_rand(Tensor seed, int[] size, ScalarType dtype) -> Tensor", dtype="none",
    method=False, function=False)
def _rand_op(seed, size, dtype):
    return _sample_uniform(key_from(seed), size, dtype, None, None)


@op("_randn(Tensor seed, int[] size, ScalarType dtype) -> Tensor", dtype="none",
    method=False, function=False)
def _randn_op(seed, size, dtype):
    return _sample_normal(key_from(seed), size, dtype)


@op("_randint(Tensor seed, Tensor low, Tensor high, int[] size, ScalarType dtype) -> Tensor",
    dtype="none", method=False, function=False)
def _randint_op(seed, low, high, size, dtype):
    return _sample_int(key_from(seed), size, dtype, low, high)


@op("_randperm(Tensor seed, int n, ScalarType dtype) -> Tensor", dtype="none", method=False,
    function=False)
def _randperm_op(seed, n, dtype):
    return jax.random.permutation(key_from(seed), n).astype(dtype)


@op("_normal_ff(Tensor seed, Tensor mean, Tensor std, int[] size, ScalarType dtype) -> Tensor",
    dtype="none", method=False, function=False)
def _normal_ff_op(seed, mean, std, size, dtype):
    return _sample_normal(key_from(seed), size, dtype, mean, std)


@op("_normal_tt(Tensor mean, Tensor std, Tensor seed, ScalarType dtype) -> Tensor",
    dtype="none", method=False, function=False, differentiable=("mean", "std"),
    node_name="NormalBackward3")
def _normal_tt_op(mean, std, seed, dtype):
    # torch's derivative for normal(Tensor, Tensor) is zero for both (no reparameterisation)
    mean, std = jax.lax.stop_gradient(mean), jax.lax.stop_gradient(std)
    shape = jnp.broadcast_shapes(mean.shape, std.shape)
    z = _sample_normal(key_from(seed), shape, dtype)
    return (z * std.astype(dtype) + mean.astype(dtype)).astype(dtype)


@op("_bernoulli(Tensor self, Tensor seed, Tensor? p=None) -> Tensor", dtype="none",
    method=False, function=False, differentiable=("self",), node_name="BernoulliBackward0")
def _bernoulli_op(x, seed, p=None):
    prob = jax.lax.stop_gradient(x if p is None else p)
    cdt = jnp.float64 if prob.dtype == jnp.float64 else jnp.float32
    u = jax.random.uniform(key_from(seed), x.shape, cdt)
    return (u < prob.astype(cdt)).astype(x.dtype)


_BERNOULLI_ = op("_bernoulli_(Tensor self, Tensor seed, Tensor? p=None) -> Tensor",
                 dtype="none", method=False, function=False, differentiable=("self",),
                 node_name="BernoulliBackward2")(_bernoulli_op.fwd)


@op("_multinomial(Tensor self, Tensor seed, int num_samples, bool replacement) -> Tensor",
    dtype="none", method=False, function=False)
def _multinomial_op(x, seed, num_samples, replacement):
    key = key_from(seed)
    logits = jnp.log(x.astype(jnp.float64 if x.dtype == jnp.float64 else jnp.float32))
    batch = x.shape[:-1]
    if replacement:
        s = jax.random.categorical(key, logits, axis=-1, shape=(num_samples,) + batch)
        return jnp.moveaxis(s, 0, -1).astype(jnp.int64)
    g = jax.random.gumbel(key, x.shape, logits.dtype)   # Gumbel top-k: no repeats
    return jax.lax.top_k(logits + g, num_samples)[1].astype(jnp.int64)


@op("_poisson(Tensor self, Tensor seed) -> Tensor", dtype="none", method=False,
    function=False, differentiable=("self",), node_name="PoissonBackward0")
def _poisson_op(x, seed):
    lam = jax.lax.stop_gradient(x)
    return jax.random.poisson(key_from(seed), lam, x.shape, jnp.int64).astype(x.dtype)


def _inplace_op(name, node, sample, nparams):
    params = ", ".join(f"Tensor a{i}" for i in range(nparams))
    schema = f"_{name}(Tensor self, Tensor seed{', ' if params else ''}{params}) -> Tensor"

    def fwd(x, seed, *args):
        return sample(key_from(seed), x.shape, x.dtype, *args)
    return op(schema, dtype="none", method=False, function=False, differentiable=("self",),
              node_name=node)(fwd)


def _s_exponential(key, shape, dt, lambd):
    cdt = _calc(dt)
    return (jax.random.exponential(key, shape, cdt) / lambd.astype(cdt)).astype(dt)


def _s_geometric(key, shape, dt, p):
    u = jax.random.uniform(key, shape, jnp.float64, minval=jnp.finfo(jnp.float64).tiny)
    return (jnp.floor(jnp.log(u) / jnp.log1p(-p.astype(jnp.float64))) + 1).astype(dt)


def _s_log_normal(key, shape, dt, mean, std):
    cdt = _calc(dt)
    z = jax.random.normal(key, shape, cdt)
    return jnp.exp(z * std.astype(cdt) + mean.astype(cdt)).astype(dt)


def _s_cauchy(key, shape, dt, median, sigma):
    cdt = _calc(dt)
    return (jax.random.cauchy(key, shape, cdt) * sigma.astype(cdt) +
            median.astype(cdt)).astype(dt)


def _s_random(key, shape, dt, lo, hi):
    return _sample_int(key, shape, dt, lo, hi)


def _calc(dt):
    return jnp.float32 if dt in (jnp.float16, jnp.bfloat16) else dt


_UNIFORM_ = _inplace_op("uniform_", "UniformBackward0", _sample_uniform, 2)
_NORMAL_ = _inplace_op("normal_", "NormalBackward0", _sample_normal, 2)
_RANDOM_ = _inplace_op("random_", "RandomBackward2", _s_random, 2)
_EXPONENTIAL_ = _inplace_op("exponential_", "ExponentialBackward0", _s_exponential, 1)
_GEOMETRIC_ = _inplace_op("geometric_", "GeometricBackward0", _s_geometric, 1)
_LOG_NORMAL_ = _inplace_op("log_normal_", "LogNormalBackward0", _s_log_normal, 2)
_CAUCHY_ = _inplace_op("cauchy_", "CauchyBackward0", _s_cauchy, 2)


# ------------------------------------------------------------------------------ helpers

def _seed(generator, device=None):
    g = _random.default_generator if generator is None else generator
    if not isinstance(g, _random.Generator):
        raise TypeError(f"generator must be a torch.Generator, not {type(g).__name__}")
    if generator is not None:
        from ..func import random_op_hook  # vmap's randomness= rules cover explicit generators
        random_op_hook(g)
    arr = g._draw()
    dev = _jdev(device)
    if dev is not None:
        arr = jax.device_put(arr, dev)
    return wrap(arr)


def _arr(v, dt=None):
    """A Python number -> a 0-d Tensor for a Tensor parameter (no recompiles)."""
    if isinstance(v, Tensor):
        return v
    return wrap(np.asarray(v, dt))


def _finish(res, requires_grad, out):
    _creation.set_requires_grad(res, requires_grad)
    if out is not None:
        out._assign_out(res)
        return out
    return res


def _need_float(dt, kernel):
    if dt._category < 2:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.type_name(dt)}'")


def _num(v):
    if isinstance(v, Tensor):
        return v.item()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _fmt(v):
    return f"{v:g}" if isinstance(v, float) else str(v)


def _concrete(t):
    return not isinstance(t._value, jax.core.Tracer)


# ------------------------------------------------------------------------------ factories

@function()
def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None,
         requires_grad=False, pin_memory=False, **kw):
    shape = _size("rand", size, kw.pop("size", None))
    dt = _dt(dtype, out)
    _need_float(dt, "check_uniform_bounds")
    res = _call(_rand_op, (_seed(generator, device),), (shape, dt.np))
    return _finish(res, requires_grad, out)


@function()
def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad=False, pin_memory=False, **kw):
    shape = _size("randn", size, kw.pop("size", None))
    dt = _dt(dtype, out)
    _need_float(dt, "normal_kernel_cpu")
    res = _call(_randn_op, (_seed(generator, device),), (shape, dt.np))
    return _finish(res, requires_grad, out)


_INT_NAMES = {"uint8": "unsigned char", "int8": "signed char", "int16": "short",
              "int32": "int", "int64": "long"}


def _check_int_range(lo, hi, dt, name="random_"):
    """torch's random_/randint bound checks, in the target dtype."""
    if lo >= hi:
        raise RuntimeError(f"{name} expects 'from' to be less than 'to', but got "
                           f"from={lo} >= to={hi}")
    if dt._category == 1:
        info = np.iinfo(dt.np)
        tname = _INT_NAMES[dt.name]
        if not info.min <= lo <= info.max:
            raise RuntimeError(f"from is out of bounds for {tname}")
        if not info.min <= hi - 1 <= info.max:
            raise RuntimeError(f"to - 1 is out of bounds for {tname}")


def _int_arg(v, what):
    v = _num(v)
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"randint(): argument '{what}' must be int, not {type(v).__name__}")
    if not -(1 << 63) <= v < (1 << 63):
        raise ValueError("Overflow when unpacking long long")
    return int(v)


@function()
def randint(*args, size=None, generator=None, out=None, dtype=None, layout=None, device=None,
            requires_grad=False, pin_memory=False, low=None, high=None):
    """randint(high, size) / randint(low, high, size); int64 unless dtype says otherwise."""
    args = list(args)
    if size is None and args:
        size = args.pop()
        if not isinstance(size, (tuple, list)):
            raise TypeError(f"randint(): argument 'size' (position {len(args) + 1}) must be "
                            f"tuple of ints, not {type(size).__name__}")
    if high is None:
        if not args:
            raise TypeError("randint() missing required argument 'high'")
        high = args.pop()
    if low is None:
        low = args.pop() if args else 0
    if args or size is None:
        raise TypeError("randint() received an invalid combination of arguments")
    shape = _size("randint", (), size)
    lo, hi = _int_arg(low, "low"), _int_arg(high, "high")
    dt = _dt(dtype, out, default=D.int64)
    _check_int_range(lo, hi, dt)
    res = _call(_randint_op, (_seed(generator, device), _arr(lo, np.int64),
                              _arr(hi, np.int64)), (shape, dt.np))
    return _finish(res, requires_grad, out)


@function()
def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad=False, pin_memory=False):
    n = _int_arg(n, "n")
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    dt = _dt(dtype, out, default=D.int64)
    res = _call(_randperm_op, (_seed(generator, device),), (n, dt.np))
    return _finish(res, requires_grad, out)


def _like(name, sampler_call):
    def f(input, *args, dtype=None, layout=None, device=None, requires_grad=False,
          memory_format=None, pin_memory=False, generator=None, **kw):
        dt = _dt(dtype, default=input.dtype)
        dev = device if device is not None else (
            None if isinstance(input._value, jax.core.Tracer) else input.device)
        res = sampler_call(tuple(input.shape), dt, dev, generator, *args, **kw)
        return _finish(res, requires_grad, None)
    f.__name__ = f.__qualname__ = name
    return function(name)(f)


def _rand_like_call(shape, dt, dev, generator):
    return rand(shape, dtype=dt, device=dev, generator=generator)


def _randn_like_call(shape, dt, dev, generator):
    return randn(shape, dtype=dt, device=dev, generator=generator)


def _randint_like_call(shape, dt, dev, generator, *args, low=None, high=None):
    if high is None:
        if not args:
            raise TypeError("randint_like() missing required argument 'high'")
        high = args[-1]
        args = args[:-1]
    if low is None:
        low = args[0] if args else 0
    return randint(low, high, shape, dtype=dt, device=dev, generator=generator)


rand_like = _like("rand_like", _rand_like_call)
randn_like = _like("randn_like", _randn_like_call)
randint_like = _like("randint_like", _randint_like_call)


# ------------------------------------------------------------------------------ normal

_NORMAL_SIG = (
    "normal() received an invalid combination of arguments - got ({}), but expected one of:\n"
    " * (Tensor mean, Tensor std, *, torch.Generator generator = None, Tensor out = None)\n"
    " * (Tensor mean, float std = 1, *, torch.Generator generator = None, Tensor out = None)\n"
    " * (float mean, Tensor std, *, torch.Generator generator = None, Tensor out = None)\n"
    " * (float mean, float std, tuple of ints size, *, torch.Generator generator = None, "
    "Tensor out = None, torch.dtype dtype = None, torch.layout layout = None, torch.device "
    "device = None, bool pin_memory = False, bool requires_grad = False)\n")


def _check_std_tensor(std):
    if _concrete(std) and std.numel() and bool(jnp.any(std._value < 0)):
        raise RuntimeError("normal expects all elements of std >= 0.0")


@function()
def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, pin_memory=False, requires_grad=False):
    """The four torch overloads: (T, T), (T, float), (float, T), (float, float, size)."""
    mt, st = isinstance(mean, Tensor), isinstance(std, Tensor)
    if size is not None and (mt or st) or size is None and not (mt or st):
        got = ", ".join(type(a).__name__ if not isinstance(a, Tensor) else "Tensor"
                        for a in (mean, std, size) if a is not None)
        raise TypeError(_NORMAL_SIG.format(got))
    if not (mt or st):
        m, s = float(_num(mean)), float(_num(std))
        if s < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(s)}")
        dt = _dt(dtype, out)
        _need_float(dt, "normal_kernel_cpu")
        res = _call(_normal_ff_op, (_seed(generator, device), _arr(m), _arr(s)),
                    (_size("normal", (), size), dt.np))
        return _finish(res, requires_grad, out)
    if mt and not st:
        s = float(_num(std))
        if s < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(s)}")
        dt = mean.dtype
        std = _arr(s)
    elif st and not mt:
        _check_std_tensor(std)
        dt = std.dtype
        mean = _arr(float(_num(mean)))
    else:
        _check_std_tensor(std)
        dt = mean.dtype
        _broadcast_check(mean, std)
    _need_float(dt, "normal_kernel_cpu")
    res = _call(_normal_tt_op, (mean, std, _seed(generator)), (dt.np,))
    if out is not None:
        out._assign_out(res)
        return out
    return res


def _broadcast_check(a, b):
    sa, sb = tuple(a.shape), tuple(b.shape)
    n = max(len(sa), len(sb))
    pa, pb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    for d, (x, y) in enumerate(zip(pa, pb)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b "
                               f"({y}) at non-singleton dimension {d}")


# ------------------------------------------------------------------------------ bernoulli & co

def _check_p_tensor(p):
    if _concrete(p) and p.numel() and bool(jnp.any((p._value < 0) | (p._value > 1))):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  "
                           "(Could this error message be improved?  If so, please report an "
                           "enhancement request to PyTorch.)")


@function(method=True)
def bernoulli(input, p=None, *, generator=None, out=None):
    """bernoulli(input): input holds the probabilities; bernoulli(input, p): constant p."""
    if p is None:
        _need_float(input.dtype, "bernoulli_tensor_cpu_p_")
        _check_p_tensor(input)
        res = _call(_bernoulli_op, (input, _seed(generator), None), ())
    else:
        pv = _p_value(p)
        res = _call(_bernoulli_op, (input, _seed(generator), pv), ())
    if out is not None:
        out._assign_out(res)
        return out
    return res


def _p_value(p):
    if isinstance(p, Tensor):
        _check_p_tensor(p)
        return p
    p = float(_num(p))
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_fmt(p)}")
    return _arr(p)


@function(method=True)
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    if input.dtype._category != 2:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{D.type_name(input.dtype)}")
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > input.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    if _concrete(input):
        v = input._value
        if bool(jnp.any(~jnp.isfinite(v) | (v < 0))):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if bool(jnp.any(v.sum(-1) <= 0)):
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    res = _call(_multinomial_op, (input.detach(), _seed(generator)),
                (int(num_samples), bool(replacement)))
    if out is not None:
        out._assign_out(res)
        return out
    return res


@function()
def poisson(input, generator=None):
    _need_float(input.dtype, "poisson_cpu")
    if _concrete(input) and input.numel() and bool(jnp.any(input._value < 0)):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    return _call(_poisson_op, (input, _seed(generator)), ())


# ------------------------------------------------------------------------------ in-place

def _bind(name, args, kwargs, names, defaults):
    """Positional/keyword binding for params torch names 'from'/'to' (Python keywords)."""
    vals = list(defaults)
    if len(args) > len(names):
        raise TypeError(f"{name}() takes at most {len(names)} arguments ({len(args)} given)")
    for i, a in enumerate(args):
        vals[i] = a
    for k, v in kwargs.items():
        k2 = k.rstrip("_")
        if k2 not in names:
            raise TypeError(f"{name}() got an unexpected keyword argument '{k}'")
        vals[names.index(k2)] = v
    return vals


def _assign(self, d, params, generator, name):
    res = _call(d, (self, _seed(generator), *params), ())
    return self._inplace_assign(res, name)


@method()
def uniform_(self, *args, generator=None, **kwargs):
    lo, hi = _bind("uniform_", args, kwargs, ("from", "to"), (0.0, 1.0))
    _need_float(self.dtype, "check_uniform_bounds")
    lo, hi = _num(lo), _num(hi)
    if lo > hi:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={_fmt(lo)} > to={_fmt(hi)}")
    return _assign(self, _UNIFORM_, (_arr(float(lo)), _arr(float(hi))), generator, "uniform_")


@method()
def normal_(self, mean=0.0, std=1.0, *, generator=None):
    _need_float(self.dtype, "normal_kernel_cpu")
    mean, std = float(_num(mean)), float(_num(std))
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
    return _assign(self, _NORMAL_, (_arr(mean), _arr(std)), generator, "normal_")


def _random_bounds(dt):
    """random_()'s default range: [0, 2**mantissa] for floats, [0, max] for integers."""
    if dt._category >= 2:
        digits = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}[dt.name]
        return 0, (1 << digits) + 1
    if dt is D.bool:
        return 0, 2
    return 0, int(np.iinfo(dt.np).max)


@method()
def random_(self, *args, generator=None, **kwargs):
    """random_() / random_(to) / random_(from, to); to=None means the dtype's maximum."""
    if self.dtype._category == 3:
        raise NotImplementedError("random_ is not implemented for complex tensors")
    if len(args) == 1 and not kwargs:
        lo, hi = 0, _int_arg(args[0], "to")
    else:
        lo, hi = _bind("random_", args, kwargs, ("from", "to"), (0, None))
        lo = _int_arg(lo, "from")
        hi = _random_bounds(self.dtype)[1] if hi is None else _int_arg(hi, "to")
    _check_int_range(lo, hi, self.dtype)
    return _assign(self, _RANDOM_, (_arr(lo, np.int64), _arr(hi, np.int64)), generator,
                   "random_")


@method()
def exponential_(self, lambd=1.0, *, generator=None):
    if self.dtype._category < 2:
        raise RuntimeError(f"Exponential distribution is a continuous probability "
                           f"distribution. dtype must be a floating point but you specified "
                           f"{D.type_name(self.dtype)}")
    lambd = float(_num(lambd))
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_fmt(lambd)}")
    return _assign(self, _EXPONENTIAL_, (_arr(lambd),), generator, "exponential_")


@method()
def geometric_(self, p, *, generator=None):
    p = float(_num(p))
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_fmt(p)}")
    return _assign(self, _GEOMETRIC_, (_arr(p),), generator, "geometric_")


@method()
def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    _need_float(self.dtype, "log_normal_cpu")
    mean, std = float(_num(mean)), float(_num(std))
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_fmt(std)}")
    return _assign(self, _LOG_NORMAL_, (_arr(mean), _arr(std)), generator, "log_normal_")


@method()
def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    if self.dtype._category < 2:
        raise RuntimeError("Cauchy distribution is a continuous probability distribution. "
                           f"dtype must be a floating point but you specified "
                           f"{_C_LONG.get(self.dtype.name, self.dtype.name)}")
    median, sigma = float(_num(median)), float(_num(sigma))
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_fmt(sigma)}")
    return _assign(self, _CAUCHY_, (_arr(median), _arr(sigma)), generator, "cauchy_")


_C_LONG = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
           "uint8": "unsigned char", "bool": "bool"}


@method()
def bernoulli_(self, p=0.5, *, generator=None):
    pv = _p_value(p)
    res = _call(_BERNOULLI_, (self, _seed(generator), pv), ())
    return self._inplace_assign(res, "bernoulli_")
