"""torch.fft (namespace 'fft').

dtype="float" lifts integer/bool inputs to the default float before transforming, so a
float32 (or int) input gives complex64 and float64 gives complex128, as in torch; JAX
would otherwise widen integers to 64-bit. Hermitian transforms are written with the
identities hfft(x) = irfft(conj(x)) and ihfft(x) = conj(rfft(x)) under the swapped
normalisation, as numpy does.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import _dtype as D
from . import dispatch
from .registry import function, op

_SWAP = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _torch_vjp(fwd):
    """Derivative rule in torch's convention for complex maps: conj(vjp(conj(g))).

    JAX's cotangents for complex outputs are the conjugates of torch's gradients, so
    the transforms declare this rule instead of relying on the generic fallback.
    """
    def rule(g, out, x, **statics):
        _, vjp = jax.vjp(lambda a: fwd(a, **statics), x)
        return (jnp.conj(vjp(jnp.conj(g))[0]),)
    return rule


def _norm(norm):
    norm = "backward" if norm is None else norm
    if norm not in _SWAP:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    return norm


def _dim(dim, ndim):
    if ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                         f"{ndim - 1}], but got {dim})")
    return dim % ndim


def _n(n):
    if n is not None and n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return n


def _real_only(name, x):
    if jnp.iscomplexobj(x):
        raise RuntimeError(f"{name} expects a real input tensor, but got "
                           f"{D.type_name(D.from_np(x.dtype))}")


def _to_complex(x):
    return x if jnp.iscomplexobj(x) else x.astype(jnp.result_type(x.dtype, jnp.complex64))


def _shape_dims(x, s, dim, default_all=True):
    """torch's (s, dim) rules: dim None -> last len(s) dims (or all); s=-1 keeps a size."""
    if dim is not None:
        dims = [dim] if isinstance(dim, int) else list(dim)
        dims = [_dim(d, x.ndim) for d in dims]
        if s is not None and len(s) != len(dims):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
    elif s is not None:
        if len(s) > x.ndim:
            raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has "
                               f"{x.ndim} dimensions.")
        dims = list(range(x.ndim - len(s), x.ndim))
    else:
        dims = list(range(x.ndim)) if default_all else []
    if len(set(dims)) != len(dims):
        raise RuntimeError("FFT dims must be unique")
    if s is not None:
        s = [x.shape[d] if n == -1 else _n(n) for n, d in zip(s, dims)]
    return (None if s is None else tuple(s)), tuple(dims)


# ------------------------------------------------------------------------------ 1-D

def _fft1(kind):
    def deco(fn):
        schema = (f"fft.{kind}(Tensor input, SymInt? n=None, int dim=-1, str? norm=None) "
                  "-> Tensor")
        return op(schema, dtype="float", namespace="fft", method=False, out=True,
                  broadcast=False, saves=("input",), grad=_torch_vjp(fn))(fn)
    return deco


@_fft1("fft")
def fft(x, n=None, dim=-1, norm=None):
    return jnp.fft.fft(_to_complex(x), _n(n), _dim(dim, x.ndim), _norm(norm))


@_fft1("ifft")
def ifft(x, n=None, dim=-1, norm=None):
    return jnp.fft.ifft(_to_complex(x), _n(n), _dim(dim, x.ndim), _norm(norm))


@_fft1("rfft")
def rfft(x, n=None, dim=-1, norm=None):
    _real_only("rfft", x)
    return jnp.fft.rfft(x, _n(n), _dim(dim, x.ndim), _norm(norm))


@_fft1("irfft")
def irfft(x, n=None, dim=-1, norm=None):
    d = _dim(dim, x.ndim)
    out_n = _n(2 * (x.shape[d] - 1) if n is None else n)
    if out_n < 1:
        raise RuntimeError(f"Invalid number of data points ({out_n}) specified")
    return jnp.fft.irfft(_to_complex(x), out_n, d, _norm(norm))


@_fft1("hfft")
def hfft(x, n=None, dim=-1, norm=None):
    d = _dim(dim, x.ndim)
    out_n = _n(2 * (x.shape[d] - 1) if n is None else n)
    if out_n < 1:
        raise RuntimeError(f"Invalid number of data points ({out_n}) specified")
    return jnp.fft.irfft(jnp.conj(_to_complex(x)), out_n, d, _SWAP[_norm(norm)])


@_fft1("ihfft")
def ihfft(x, n=None, dim=-1, norm=None):
    _real_only("ihfft", x)
    return jnp.conj(jnp.fft.rfft(x, _n(n), _dim(dim, x.ndim), _SWAP[_norm(norm)]))


# ------------------------------------------------------------------------------ n-D

def _fftn_op(kind, two):
    def deco(fn):
        dims = "int[1] dim=[-2,-1]" if two else "int[1]? dim=None"
        schema = (f"fft.{kind}(Tensor input, SymInt[1]? s=None, {dims}, str? norm=None) "
                  "-> Tensor")
        return op(schema, dtype="float", namespace="fft", method=False, out=True,
                  broadcast=False, saves=("input",), grad=_torch_vjp(fn))(fn)
    return deco


def _c2c(x, s, dim, norm, inverse):
    s, dims = _shape_dims(x, s, dim)
    f = jnp.fft.ifftn if inverse else jnp.fft.fftn
    x = _to_complex(x)
    if not dims:
        return x
    return f(x, s, dims, _norm(norm))


def _r2c(name, x, s, dim, norm, conj=False):
    _real_only(name, x)
    s, dims = _shape_dims(x, s, dim)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    out = jnp.fft.rfftn(x, s, dims, _SWAP[_norm(norm)] if conj else _norm(norm))
    return jnp.conj(out) if conj else out


def _c2r(name, x, s, dim, norm, conj=False):
    x = _to_complex(x)
    s_in = s
    s, dims = _shape_dims(x, s, dim)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    last = 2 * (x.shape[dims[-1]] - 1)
    if s is None:
        s = tuple(x.shape[d] for d in dims[:-1]) + (last,)
    elif s_in[-1] == -1:
        s = s[:-1] + (last,)
    if s[-1] < 1:
        raise RuntimeError(f"Invalid number of data points ({s[-1]}) specified")
    if conj:
        return jnp.fft.irfftn(jnp.conj(x), s, dims, _SWAP[_norm(norm)])
    return jnp.fft.irfftn(x, s, dims, _norm(norm))


@_fftn_op("fft2", True)
def fft2(x, s=None, dim=(-2, -1), norm=None):
    return _c2c(x, s, dim, norm, False)


@_fftn_op("ifft2", True)
def ifft2(x, s=None, dim=(-2, -1), norm=None):
    return _c2c(x, s, dim, norm, True)


@_fftn_op("fftn", False)
def fftn(x, s=None, dim=None, norm=None):
    return _c2c(x, s, dim, norm, False)


@_fftn_op("ifftn", False)
def ifftn(x, s=None, dim=None, norm=None):
    return _c2c(x, s, dim, norm, True)


@_fftn_op("rfft2", True)
def rfft2(x, s=None, dim=(-2, -1), norm=None):
    return _r2c("rfftn", x, s, dim, norm)


@_fftn_op("rfftn", False)
def rfftn(x, s=None, dim=None, norm=None):
    return _r2c("rfftn", x, s, dim, norm)


@_fftn_op("irfft2", True)
def irfft2(x, s=None, dim=(-2, -1), norm=None):
    return _c2r("irfftn", x, s, dim, norm)


@_fftn_op("irfftn", False)
def irfftn(x, s=None, dim=None, norm=None):
    return _c2r("irfftn", x, s, dim, norm)


@_fftn_op("hfft2", True)
def hfft2(x, s=None, dim=(-2, -1), norm=None):
    return _c2r("hfftn", x, s, dim, norm, conj=True)


@_fftn_op("hfftn", False)
def hfftn(x, s=None, dim=None, norm=None):
    return _c2r("hfftn", x, s, dim, norm, conj=True)


@_fftn_op("ihfft2", True)
def ihfft2(x, s=None, dim=(-2, -1), norm=None):
    return _r2c("ihfftn", x, s, dim, norm, conj=True)


@_fftn_op("ihfftn", False)
def ihfftn(x, s=None, dim=None, norm=None):
    return _r2c("ihfftn", x, s, dim, norm, conj=True)


# ------------------------------------------------------------------------------ shifts, freqs

def _shift_dims(x, dim):
    if dim is None:
        return None
    dims = [dim] if isinstance(dim, int) else list(dim)
    return tuple(d % max(x.ndim, 1) for d in dims)


@op("fft.fftshift(Tensor input, int[1]? dim=None) -> Tensor", dtype="none", namespace="fft",
    method=False)
def fftshift(x, dim=None):
    return jnp.fft.fftshift(x, _shift_dims(x, dim))


@op("fft.ifftshift(Tensor input, int[1]? dim=None) -> Tensor", dtype="none", namespace="fft",
    method=False)
def ifftshift(x, dim=None):
    return jnp.fft.ifftshift(x, _shift_dims(x, dim))


@op("fft.fftfreq_(int n, float d=1.0, bool real=False, ScalarType? dtype=None) -> Tensor",
    dtype="none", function=False, method=False)
def _freq(n, d=1.0, real=False, dtype=None):
    dt = (dtype or D.get_default_dtype()).np
    f = jnp.fft.rfftfreq if real else jnp.fft.fftfreq
    return f(n, d).astype(dt)


_freq_fn = dispatch.make_function(_freq, "fftfreq")


def _make_freq(n, d, real, dtype, requires_grad, out):
    res = _freq_fn(n, float(d), real, dtype)
    if out is not None:
        return dispatch._write_out(_freq, res, out)
    return res.requires_grad_() if requires_grad else res


@function("fftfreq", namespace="fft")
def fftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    return _make_freq(n, d, False, dtype, requires_grad, out)


@function("rfftfreq", namespace="fft")
def rfftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    return _make_freq(n, d, True, dtype, requires_grad, out)
