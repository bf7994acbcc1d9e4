"""torch.linalg (namespace "linalg") plus the legacy top-level spellings (torch.det, torch.svd).

Forwards run on the input's own dtype (float32 stays float32). Errors that depend on
values (a singular matrix, a non positive-definite one) need a host sync: the public
functions read the `info` output eagerly and raise LinAlgError, but skip the check
while tracing under jax.jit, as torch does under CUDA graphs.

Derivatives come from JAX except where JAX's differ from torch's: norms (torch's
subgradient 0 at 0) and pinv/lstsq (torch's closed form, finite at rank deficiency)
use jax.custom_vjp helpers written in JAX's cotangent convention.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtype as D
from . import dispatch
from .._namedtuple import return_type as _return_type
from .registry import FUNCTIONS, METHODS, NAMESPACES, OpDef, function, op

HI = jax.lax.Precision.HIGHEST
NS = NAMESPACES.setdefault("linalg", {})


class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError: a value-dependent failure (singular, not positive-definite)."""


LinAlgError.__module__ = "torch.linalg"
NS["LinAlgError"] = LinAlgError


# ------------------------------------------------------------------------------ helpers

def _tn(a):
    return D.type_name(D.from_np(a.dtype))


def _mT(x):
    return jnp.swapaxes(x, -1, -2)


def _mH(x):
    return jnp.conj(jnp.swapaxes(x, -1, -2))


def _mm(a, b):
    return jnp.matmul(a, b, precision=HI)


def _real_dtype(dt):
    return jnp.finfo(dt).dtype


def _check_float(name, a, what="input"):
    if not jnp.issubdtype(a.dtype, jnp.inexact):
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as {what}. "
                           f"Got {_tn(a)}")


def _check_matrix(name, a, square=True, arg="A"):
    if a.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor {arg} must have at least 2 dimensions.")
    if square and a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{name}: {arg} must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")


def _check_fm(name, a, square=True):
    _check_matrix(name, a, square)
    _check_float(name, a)


def _same_dtype(name, a, b, an="A", bn="B"):
    if a.dtype != b.dtype:
        raise RuntimeError(f"{name}: Expected {an} and {bn} to have the same dtype, but found "
                           f"{an} of type {_tn(a)} and {bn} of type {_tn(b)} instead")


def _bcast_batch(a, b):
    """Broadcast the batch dims (all but the last two) of two stacks of matrices."""
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    return (jnp.broadcast_to(a, batch + a.shape[-2:]), jnp.broadcast_to(b, batch + b.shape[-2:]))


def _eye_like(a):
    return jnp.broadcast_to(jnp.eye(a.shape[-1], dtype=a.dtype), a.shape)


def _fn(d, name=None, out=False):
    return dispatch.make_function(d, name or d.name.split(".")[-1], with_out=out)


def _export(target, name, *, function=True, method=True, out=False):
    """Add torch.<name> / Tensor.<name> spellings for a linalg op or wrapper."""
    if isinstance(target, OpDef):
        if function:
            FUNCTIONS[name] = dispatch.make_function(target, name, with_out=out)
        if method:
            METHODS[name] = dispatch.make_function(target, name, is_method=True)
    else:
        if function:
            FUNCTIONS[name] = target
        if method:
            METHODS[name] = target


def _write(d, res, out):
    return res if out is None else dispatch._write_out(d, res, out)


def _tracing(t):
    return isinstance(t._value, jax.core.Tracer)


def _raise_info(info, prefix, body, exc=LinAlgError):
    """Raise LinAlgError (eagerly only) if any `info` entry is nonzero."""
    if _tracing(info):
        return
    arr = np.asarray(info._value)
    if not arr.any():
        return
    flat = arr.reshape(-1)
    i = int(np.flatnonzero(flat)[0])
    batch = f"(Batch element {i}): " if arr.ndim else ""
    raise exc(f"{prefix}: {batch}{body(int(flat[i]))}")


def _lu_info(lu):
    """LAPACK getrf's info: 1-based index of the first exactly-zero pivot, else 0."""
    k = min(lu.shape[-2:])
    if k == 0:
        return jnp.zeros(lu.shape[:-2], jnp.int32)
    diag = jnp.diagonal(lu, axis1=-2, axis2=-1)[..., :k]
    zero = diag == 0
    return jnp.where(zero.any(-1), jnp.argmax(zero, -1) + 1, 0).astype(jnp.int32)


# ------------------------------------------------------------------------------ norms

def _sgn(x):
    if jnp.iscomplexobj(x):
        ax = jnp.abs(x)
        return jnp.where(ax == 0, 0, x / jnp.where(ax == 0, 1, ax))
    return jnp.sign(x)


def _vnorm_fwd(x, ord, axis, keepdims):
    ax = jnp.abs(x)
    if ord == 0:
        return (ax != 0).sum(axis, keepdims=keepdims).astype(ax.dtype)
    if ord == math.inf:
        return ax.max(axis, keepdims=keepdims)
    if ord == -math.inf:
        return ax.min(axis, keepdims=keepdims)
    if ord == 1:
        return ax.sum(axis, keepdims=keepdims)
    if ord == 2:
        return jnp.sqrt((ax * ax).sum(axis, keepdims=keepdims))
    return (ax ** ord).sum(axis, keepdims=keepdims) ** (1.0 / ord)


def _vnorm_grad(x, norm, ord, axis, keepdims, g):
    """torch's norm backward: subgradient 0 at 0, ties of inf-norms share evenly."""
    if not keepdims:
        axes = tuple(range(x.ndim)) if axis is None else axis
        g, norm = jnp.expand_dims(g, axes), jnp.expand_dims(norm, axes)
    if ord == 0:
        return jnp.zeros_like(x)
    if ord == 1:
        return _sgn(x) * g
    if ord == 2:
        return x * jnp.where(norm == 0, 0, g / jnp.where(norm == 0, 1, norm))
    if math.isinf(ord):
        ax = jnp.abs(x)
        mask = (ax == norm) | jnp.isnan(ax)
        cnt = mask.sum(axis, keepdims=True)
        return _sgn(x) * mask * (g / cnt)
    ax = jnp.abs(x)
    if ord < 2:
        scaled = _sgn(x) * jnp.where(ax == 0, 0, jnp.where(ax == 0, 1, ax) ** (ord - 1))
    else:
        scaled = x * ax ** (ord - 2)
    scale = jnp.where(norm == 0, 0, g / jnp.where(norm == 0, 1, norm) ** (ord - 1))
    return scaled * scale


_VN_CACHE: dict = {}


def _vn_static(ord, axis, keepdims):
    key = (ord, axis, keepdims)
    f = _VN_CACHE.get(key)
    if f is None:
        @jax.custom_vjp
        def f(x):
            return _vnorm_fwd(x, ord, axis, keepdims)

        def fwd(x):
            out = _vnorm_fwd(x, ord, axis, keepdims)
            return out, (x, out)

        def bwd(res, ct):
            x, out = res
            return (jnp.conj(_vnorm_grad(x, out, ord, axis, keepdims, ct)),)
        f.defvjp(fwd, bwd)
        _VN_CACHE[key] = f
    return f


def _norm_dims(dim, ndim):
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    n = max(ndim, 1)
    out = []
    for d in dims:
        if not -n <= d < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, "
                             f"{n - 1}], but got {d})")
        out.append(d % n)
    return tuple(out) if dims else None


def _norm_input(name, x, dtype):
    if dtype is not None:
        dt = dtype.np if hasattr(dtype, "np") else np.dtype(dtype)
        if not jnp.issubdtype(dt, jnp.inexact):
            raise RuntimeError(f"{name}: dtype should be floating point or complex, but got "
                               f"{D.type_name(D.from_np(dt))}")
        if jnp.iscomplexobj(x) and not jnp.issubdtype(dt, jnp.complexfloating):
            raise RuntimeError(f"{name}: dtype should be complex for complex inputs, but got "
                               f"{D.type_name(D.from_np(dt))}")
        _check_float(name, x)
        x = x.astype(dt)
    _check_float(name, x)
    return x


def _vector_norm(x, ord, dim, keepdim, dtype, name="linalg.vector_norm"):
    x = _norm_input(name, x, dtype)
    axis = _norm_dims(dim, x.ndim) if x.ndim else None   # a 0-d tensor's dim 0 is itself
    if (ord < 0 or math.isinf(ord)) and x.size == 0:
        red = range(x.ndim) if axis is None else axis
        if any(x.shape[a] == 0 for a in red) or x.ndim == 0:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty "
                               "tensor because the operation does not have an identity")
    return x, axis


def _vector_norm_grad(g, out, x, ord, dim, keepdim, dtype):
    xc, axis = _vector_norm(x, ord, dim, keepdim, dtype)
    return (_vnorm_grad(xc, out, ord, axis, keepdim, g),)


@op("linalg.vector_norm(Tensor input, Scalar ord=2, int[1]? dim=None, bool keepdim=False, *, "
    "ScalarType? dtype=None) -> Tensor", dtype="none", namespace="linalg", method=False,
    out=True, grad=_vector_norm_grad)
def vector_norm(x, ord=2, dim=None, keepdim=False, dtype=None):
    x, axis = _vector_norm(x, ord, dim, keepdim, dtype)
    return _vnorm_fwd(x, ord, axis, keepdim)


def _move_last2(x, d0, d1):
    return jnp.moveaxis(x, (d0, d1), (-2, -1))


def _svdvals(x):
    return jnp.linalg.svd(x, compute_uv=False)


def _matrix_norm(x, ord, dim, keepdim, dtype, name="linalg.matrix_norm"):
    if x.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    x = _norm_input(name, x, dtype)
    dims = _norm_dims(dim, x.ndim)
    if dims is None or len(dims) != 2:
        raise RuntimeError(f"{name}: dim must be a 2-tuple. Got {list(dim)}")
    if dims[0] == dims[1]:
        raise RuntimeError(f"{name}: dims must be different. Got ({dims[0]}, {dims[1]})")
    d0, d1 = dims
    if ord == "fro":
        return _vn_static(2, dims, keepdim)(x)
    if ord == "nuc" or ord in (2, -2):
        s = _svdvals(_move_last2(x, d0, d1))
        r = s.sum(-1) if ord == "nuc" else (s.max(-1) if ord == 2 else s.min(-1))
        if keepdim:
            r = jnp.expand_dims(r, tuple(sorted(dims)))
        return r
    if ord in (1, -1, math.inf, -math.inf):
        red, pick = (d0, d1) if ord in (1, -1) else (d1, d0)
        s = jnp.abs(x).sum(red, keepdims=True)
        r = s.max(pick, keepdims=True) if ord > 0 else s.min(pick, keepdims=True)
        return r if keepdim else jnp.squeeze(r, dims)
    raise RuntimeError(f"{name}: Order {ord} not supported.")


@op("linalg.matrix_norm(Tensor input, Scalar ord='fro', int[] dim=[-2,-1], bool keepdim=False, "
    "*, ScalarType? dtype=None) -> Tensor", dtype="none", namespace="linalg", method=False,
    out=True)
def matrix_norm(x, ord="fro", dim=(-2, -1), keepdim=False, dtype=None):
    return _matrix_norm(x, ord, dim, keepdim, dtype)


@op("linalg.norm(Tensor input, Scalar? ord=None, int[1]? dim=None, bool keepdim=False, *, "
    "ScalarType? dtype=None) -> Tensor", dtype="none", namespace="linalg", method=False,
    out=True)
def norm(x, ord=None, dim=None, keepdim=False, dtype=None):
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                               f"Got {list(dims)}")
    else:
        dims = None
        if ord is not None and x.ndim not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must "
                               f"be 1D or 2D. Got {x.ndim}D.")
    if dims is not None and len(dims) == 2 or (dims is None and ord is not None and x.ndim == 2):
        return _matrix_norm(x, "fro" if ord is None else ord, dims or (-2, -1), keepdim, dtype,
                            "linalg.matrix_norm")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got '{ord}'")
    if dims is None and ord is None:
        xr, axis = _vector_norm(x, 2, None, keepdim, dtype)
        return _vn_static(2, axis, keepdim)(xr)
    o = 2 if ord is None else ord
    xr, axis = _vector_norm(x, o, dims, keepdim, dtype)
    return _vn_static(o, axis, keepdim)(xr)


@op("linalg.vecdot(Tensor x, Tensor y, *, int dim=-1) -> Tensor", dtype="none",
    namespace="linalg", method=False, out=True)
def vecdot(x, y, dim=-1):
    _check_float("linalg.vecdot", x)
    _same_dtype("linalg.vecdot", x, y, "x", "y")
    return (jnp.conj(x) * y).sum(dim)


@op("linalg.diagonal(Tensor A, *, int offset=0, int dim1=-2, int dim2=-1) -> Tensor",
    dtype="none", namespace="linalg", method=False, view=True)
def linalg_diagonal(a, offset=0, dim1=-2, dim2=-1):
    return jnp.diagonal(a, offset, dim1, dim2)


# ------------------------------------------------------------------------------ inverse / solve

@op("linalg.inv_ex(Tensor A, *, bool check_errors=False) -> (Tensor inverse, Tensor info)",
    dtype="none", function=False, method=False, nondiff_outputs=(1,))
def _inv_ex(a, check_errors=False):
    _check_fm("linalg.inv", a)
    lu = jax.lax.linalg.lu(a)[0]
    return jnp.linalg.inv(a), _lu_info(lu)


_inv_ex_fn = _fn(_inv_ex)


def _inv_body(i):
    return (f"The diagonal element {i} is zero, the inversion could not be completed because "
            "the input matrix is singular.")


@function("inv_ex", namespace="linalg")
def inv_ex(A, *, check_errors=False, out=None):
    res = _inv_ex_fn(A)
    if check_errors:
        _raise_info(res.info, "linalg.inv_ex", _inv_body)
    return _write(_inv_ex, res, out)


@function("inv", namespace="linalg")
def inv(A, *, out=None):
    res = _inv_ex_fn(A)
    _raise_info(res.info, "linalg.inv", _inv_body)
    return _write(_inv_ex, res.inverse, out)


def _inverse(input, *, out=None):
    return inv(input, out=out)


_export(_inverse, "inverse")


def _solve_prep(a, b, left, name="linalg.solve"):
    _check_fm(name, a)
    _same_dtype(name, a, b)
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    bm = b[..., None] if vector else b
    if bm.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor B must have at least 2 dimensions.")
    n = a.shape[-1]
    if (bm.shape[-2] if left else bm.shape[-1]) != n:
        eq = "AX = B" if left else "XA = B"
        bs = f"{bm.shape[-2]}x{bm.shape[-1]}" if left or not vector else f"1x{bm.shape[-2]}"
        raise RuntimeError(f"{name}: Incompatible shapes of A and B for the equation {eq} "
                           f"({a.shape[-2]}x{a.shape[-1]} and {bs})")
    return vector, bm


def _solve(a, b, left):
    vector, bm = _solve_prep(a, b, left)
    if not left:
        a, bm = _mT(a), _mT(bm) if not vector else bm
    a2, b2 = _bcast_batch(a, bm)
    x = jnp.linalg.solve(a2, b2)
    if not left and not vector:
        x = _mT(x)
    return x[..., 0] if vector else x


@op("linalg.solve_ex(Tensor A, Tensor B, *, bool left=True, bool check_errors=False) -> "
    "(Tensor result, Tensor info)", dtype="none", function=False, method=False,
    nondiff_outputs=(1,))
def _solve_ex(a, b, left=True, check_errors=False):
    x = _solve(a, b, left)
    info = _lu_info(jax.lax.linalg.lu(a)[0])
    return x, info


_solve_ex_fn = _fn(_solve_ex)


def _solve_body(i):
    return "The solver failed because the input matrix is singular."


@function("solve_ex", namespace="linalg")
def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    res = _solve_ex_fn(A, B, left=left)
    if check_errors:
        _raise_info(res.info, "torch.linalg.solve", _solve_body)
    return _write(_solve_ex, res, out)


@function("solve", namespace="linalg")
def solve(A, B, *, left=True, out=None):
    res = _solve_ex_fn(A, B, left=left)
    _raise_info(res.info, "torch.linalg.solve", _solve_body)
    return _write(_solve_ex, res.result, out)


# ------------------------------------------------------------------------------ determinants

@op("linalg.det(Tensor A) -> Tensor", dtype="none", namespace="linalg", method=False, out=True)
def det(a):
    _check_fm("linalg.det", a)
    if a.shape[-1] == 0:
        return jnp.ones(a.shape[:-2], a.dtype)
    return jnp.linalg.det(a)


_export(det, "det")


@op("linalg.slogdet(Tensor A) -> (Tensor sign, Tensor logabsdet)", dtype="none",
    namespace="linalg", method=False, out=True)
def slogdet(a):
    _check_fm("linalg.slogdet", a)
    sign, logabs = jnp.linalg.slogdet(a)
    return sign, logabs


_export(slogdet, "slogdet")


@op("logdet(Tensor input) -> Tensor", dtype="none")
def logdet(a):
    _check_fm("linalg.logdet", a)   # torch names it after slogdet's checks
    sign, logabs = jnp.linalg.slogdet(a)
    if jnp.iscomplexobj(a):
        return jnp.log(sign) + logabs
    return jnp.where(sign < 0, jnp.nan, logabs)


# ------------------------------------------------------------------------------ cholesky

def _chol_info_one(m):
    """First failing leading minor (1-based) of one matrix: unblocked Cholesky on its lower part."""
    n = m.shape[-1]
    idx = jnp.arange(n)

    def body(j, carry):
        L, info = carry
        row = L[j]
        mask = idx < j
        d = jnp.real(m[j, j]) - jnp.sum(jnp.where(mask, jnp.abs(row) ** 2, 0))
        bad = ~(d > 0)
        info = jnp.where((info == 0) & bad, j + 1, info)
        ljj = jnp.sqrt(jnp.where(bad, 1, d)).astype(m.dtype)
        col = (m[:, j] - (L * jnp.where(mask, jnp.conj(row), 0)[None, :]).sum(1)) / ljj
        col = jnp.where(idx > j, col, 0).at[j].set(ljj)
        return L.at[:, j].set(col), info
    return jax.lax.fori_loop(0, n, body, (jnp.zeros_like(m), jnp.int32(0)))[1]


def _herm_input(a, lower):
    """Values from one triangle (as torch reads them); derivative as for a Hermitian input.

    torch's cholesky/eigh gradients are Hermitian (both triangles get half of the
    off-diagonal gradient); differentiating through (A + A^H)/2 gives exactly that.
    """
    tri = jnp.tril(a) if lower else jnp.triu(a)
    off = jnp.tril(a, -1) if lower else jnp.triu(a, 1)
    herm = tri + _mH(off)
    if jnp.iscomplexobj(a):   # the diagonal of a Hermitian matrix is real
        herm = herm - 1j * jnp.imag(jnp.diagonal(herm, 0, -2, -1))[..., None] * \
            jnp.eye(a.shape[-1], dtype=a.dtype)
    sym = (a + _mH(a)) / 2
    sg = jax.lax.stop_gradient
    return sg(herm) + (sym - sg(sym))


def _cholesky(a, upper):
    if a.shape[-1] == 0:
        return a, jnp.zeros(a.shape[:-2], jnp.int32)
    x = _herm_input(a, not upper)    # torch reads the triangle it is asked for
    L = jax.lax.linalg.cholesky(x, symmetrize_input=False)
    L = jnp.tril(L)
    batch = a.shape[:-2]

    def slow():
        flat = x.reshape((-1,) + x.shape[-2:])
        return jax.vmap(_chol_info_one)(flat).reshape(batch)
    info = jax.lax.cond(jnp.isnan(L).any() & ~jnp.isnan(x).any(), slow,
                        lambda: jnp.zeros(batch, jnp.int32))
    return (_mH(L) if upper else L), info


@op("linalg.cholesky_ex(Tensor input, *, bool upper=False, bool check_errors=False) -> "
    "(Tensor L, Tensor info)", dtype="none", function=False, method=False, nondiff_outputs=(1,))
def _cholesky_ex(a, upper=False, check_errors=False):
    _check_fm("linalg.cholesky", a)
    return _cholesky(a, upper)


_cholesky_ex_fn = _fn(_cholesky_ex)


def _chol_body(i):
    return (f"The factorization could not be completed because the input is not "
            f"positive-definite (the leading minor of order {i} is not positive-definite).")


@function("cholesky_ex", namespace="linalg")
def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    res = _cholesky_ex_fn(A, upper=upper)
    if check_errors:
        _raise_info(res.info, "linalg.cholesky", _chol_body)
    return _write(_cholesky_ex, res, out)


@function("cholesky", namespace="linalg")
def cholesky(A, *, upper=False, out=None):
    res = _cholesky_ex_fn(A, upper=upper)
    _raise_info(res.info, "linalg.cholesky", _chol_body)
    return _write(_cholesky_ex, res.L, out)


def _torch_cholesky(input, upper=False, *, out=None):
    """Deprecated torch.cholesky(input, upper=False)."""
    return cholesky(input, upper=upper, out=out)


_export(_torch_cholesky, "cholesky")


def _tri_solve(a, b, *, left=True, lower=True, transpose=False, conj=False, unit=False):
    a, b = _bcast_batch(a, b)
    return jax.lax.linalg.triangular_solve(a, b, left_side=left, lower=lower,
                                           transpose_a=transpose, conjugate_a=conj,
                                           unit_diagonal=unit)


def _chol_product(L, upper):
    """A = L L^H (or U^H U) from the whole factor: torch's gradients treat it as full."""
    return _mm(_mH(L), L) if upper else _mm(L, _mH(L))


def _value_of(value, diff):
    """`value`'s numbers with `diff`'s derivative."""
    sg = jax.lax.stop_gradient
    return sg(value) + (diff - sg(diff))


@op("cholesky_solve(Tensor input, Tensor input2, bool upper=False) -> Tensor", dtype="none",
    out=True)
def cholesky_solve(b, L, upper=False):
    if b.ndim < 2 or L.ndim < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {b.ndim} dimensions "
                           f"instead" if b.ndim < 2 else
                           f"u should have at least 2 dimensions, but has {L.ndim} dimensions "
                           "instead")
    if b.dtype != L.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{_tn(b)} and A of type {_tn(L)} instead.")
    if upper:     # A = U^H U
        y = _tri_solve(L, b, lower=False, transpose=True, conj=True)
        x = _tri_solve(L, y, lower=False)
    else:
        y = _tri_solve(L, b, lower=True)
        x = _tri_solve(L, y, lower=True, transpose=True, conj=True)
    a_full, b_full = _bcast_batch(_chol_product(L, upper), b)
    return _value_of(x, jnp.linalg.solve(a_full, b_full))


@op("cholesky_inverse(Tensor input, bool upper=False) -> Tensor", dtype="none", out=True)
def cholesky_inverse(L, upper=False):
    _check_fm("cholesky_inverse", L)
    full = _chol_product(L, upper)
    L = jnp.triu(L) if upper else jnp.tril(L)
    eye = _eye_like(L)
    if upper:
        y = _tri_solve(L, eye, lower=False, transpose=True, conj=True)
        x = _tri_solve(L, y, lower=False)
    else:
        y = _tri_solve(L, eye, lower=True)
        x = _tri_solve(L, y, lower=True, transpose=True, conj=True)
    return _value_of(x, jnp.linalg.inv(full))


# ------------------------------------------------------------------------------ QR, SVD, eig

@op("linalg.qr(Tensor A, str mode='reduced') -> (Tensor Q, Tensor R)", dtype="none",
    namespace="linalg", method=False, out=True)
def qr(a, mode="reduced"):
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    _check_fm("linalg.qr", a, square=False)
    if mode == "r":
        r = jnp.linalg.qr(a, mode="r")
        return jnp.zeros((0,), a.dtype), r
    q, r = jnp.linalg.qr(a, mode=mode)
    return q, r


@op("qr(Tensor input, bool some=True) -> (Tensor Q, Tensor R)", dtype="none", out=True)
def torch_qr(a, some=True):
    _check_fm("linalg.qr", a, square=False)
    return jnp.linalg.qr(a, mode="reduced" if some else "complete")


def _svd(a, full_matrices):
    """SVD whose derivative also exists for full_matrices=True on non-square inputs.

    JAX has no JVP for the extra columns; torch ignores their gradient. The values come
    from the full SVD; the derivative flows through the reduced one.
    """
    m, n = a.shape[-2:]
    if not full_matrices or m == n:
        return tuple(jnp.linalg.svd(a, full_matrices=full_matrices))
    if min(m, n) == 0:
        b = a.shape[:-2]
        return (jnp.broadcast_to(jnp.eye(m, dtype=a.dtype), b + (m, m)),
                jnp.zeros(b + (0,), _real_dtype(a.dtype)),
                jnp.broadcast_to(jnp.eye(n, dtype=a.dtype), b + (n, n)))
    sg = jax.lax.stop_gradient
    uf, s, vhf = jnp.linalg.svd(sg(a), full_matrices=True)
    ur, sr, vhr = jnp.linalg.svd(a, full_matrices=False)
    k = min(m, n)
    u = jnp.concatenate([ur + sg(uf[..., :k] - ur), sg(uf[..., k:])], -1)
    vh = jnp.concatenate([vhr + sg(vhf[..., :k, :] - vhr), sg(vhf[..., k:, :])], -2)
    return u, sr + sg(s - sr), vh


def _svd_driver(driver):
    if driver is not None:
        raise RuntimeError("torch.linalg.svd: keyword argument `driver=` is only supported on "
                           "CUDA inputs with cuSOLVER backend.")


@op("linalg.svd(Tensor A, bool full_matrices=True, *, str? driver=None) -> "
    "(Tensor U, Tensor S, Tensor Vh)", dtype="none", namespace="linalg", method=False, out=True)
def svd(a, full_matrices=True, driver=None):
    _check_fm("linalg.svd", a, square=False)
    _svd_driver(driver)
    return _svd(a, full_matrices)


@op("svd(Tensor input, bool some=True, bool compute_uv=True) -> (Tensor U, Tensor S, Tensor V)",
    dtype="none", out=True)
def torch_svd(a, some=True, compute_uv=True):
    _check_fm("linalg.svd", a, square=False)
    if not compute_uv:
        s = _svdvals(a)
        m, n = a.shape[-2:]
        return (jnp.zeros(a.shape[:-2] + (m, m), a.dtype), s,
                jnp.zeros(a.shape[:-2] + (n, n), a.dtype))
    u, s, vh = _svd(a, not some)
    return u, s, _mH(vh)


@op("linalg.svdvals(Tensor A, *, str? driver=None) -> Tensor", dtype="none", namespace="linalg",
    method=False, out=True)
def svdvals(a, driver=None):
    _check_fm("linalg.svdvals", a, square=False)
    _svd_driver(driver)
    return _svdvals(a)


def _eig_input(name, a):
    _check_fm(name, a)


def _torch_vjp(fwd):
    """torch's convention for complex outputs: conj(vjp(conj(g))) (JAX's is conjugated)."""
    def rule(g, out, a, **statics):
        _, vjp = jax.vjp(lambda x: fwd(x, **statics), a)
        gs = jax.tree_util.tree_map(jnp.conj, g)
        return (jnp.conj(vjp(gs)[0]),)
    return rule


def _eig_fwd(a):
    return eig.fwd(a)


def _eigvals_fwd(a):
    return eigvals.fwd(a)


@op("linalg.eig(Tensor input) -> (Tensor eigenvalues, Tensor eigenvectors)", dtype="none",
    namespace="linalg", method=False, out=True, saves=("input",), grad=_torch_vjp(_eig_fwd))
def eig(a):
    _eig_input("linalg.eig", a)
    if a.shape[-1] == 0:
        c = jnp.result_type(a.dtype, jnp.complex64)
        return jnp.zeros(a.shape[:-1], c), a.astype(c)
    w, v = jax.lax.linalg.eig(a, compute_left_eigenvectors=False, enable_eigvec_derivs=True)
    return w, v


@op("linalg.eigvals(Tensor input) -> Tensor", dtype="none", namespace="linalg", method=False,
    out=True, saves=("input",), grad=_torch_vjp(_eigvals_fwd))
def eigvals(a):
    _eig_input("linalg.eigvals", a)
    if a.shape[-1] == 0:
        return jnp.zeros(a.shape[:-1], jnp.result_type(a.dtype, jnp.complex64))
    return jax.lax.linalg.eig(a, compute_left_eigenvectors=False,
                              compute_right_eigenvectors=False)[0]


def _uplo(u):
    if u not in ("L", "U", "l", "u"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {u}")
    return u.upper()


def _eigh(a, UPLO):
    lower = _uplo(UPLO) == "L"
    if a.shape[-1] == 0:
        return jnp.zeros(a.shape[:-1], _real_dtype(a.dtype)), a
    v, w = jax.lax.linalg.eigh(_herm_input(a, lower), lower=lower, symmetrize_input=False,
                               sort_eigenvalues=True)
    return w, v


@op("linalg.eigh(Tensor input, str UPLO='L') -> (Tensor eigenvalues, Tensor eigenvectors)",
    dtype="none", namespace="linalg", method=False, out=True)
def eigh(a, UPLO="L"):
    _check_fm("linalg.eigh", a)
    return _eigh(a, UPLO)


@op("linalg.eigvalsh(Tensor input, str UPLO='L') -> Tensor", dtype="none", namespace="linalg",
    method=False, out=True)
def eigvalsh(a, UPLO="L"):
    _check_fm("linalg.eigvalsh", a)
    return _eigh(a, UPLO)[0]


# ------------------------------------------------------------------------------ pinv / lstsq / rank

def _default_rtol(a, atol, rtol):
    """torch: both None -> eps*max(m,n); atol given (>0) and rtol None -> 0."""
    eps = jnp.finfo(a.dtype).eps * max(a.shape[-2:])
    rdt = _real_dtype(a.dtype)
    if rtol is None:
        rtol = jnp.asarray(eps, rdt) if atol is None else jnp.where(atol > 0, 0, eps).astype(rdt)
    if atol is None:
        atol = jnp.zeros((), rdt)
    return atol.astype(rdt), rtol.astype(rdt)


def _pinv_fwd_core(a, atol, rtol, hermitian):
    if hermitian:
        w, v = _eigh(a, "L")
        s = jnp.abs(w)
        smax = s.max(-1, keepdims=True) if s.shape[-1] else s
        tol = jnp.maximum(atol[..., None], rtol[..., None] * smax)
        winv = jnp.where(s > tol, 1 / jnp.where(s > tol, w, 1), 0).astype(a.dtype)
        return _mm(v * winv[..., None, :], _mH(v))
    u, s, vh = jnp.linalg.svd(a, full_matrices=False)
    smax = s.max(-1, keepdims=True) if s.shape[-1] else s
    tol = jnp.maximum(atol[..., None], rtol[..., None] * smax)
    sinv = jnp.where(s > tol, 1 / jnp.where(s > tol, s, 1), 0).astype(a.dtype)
    return _mm(_mH(vh) * sinv[..., None, :], _mH(u))


def _pinv_grad_torch(a, p, g):
    """d pinv (closed form): -P^H G P^H + (I - A P) G^H P P^H + P^H P G^H (I - P A)."""
    ph, gh = _mH(p), _mH(g)
    ga = -_mm(_mm(ph, g), ph)
    ga = ga + _mm(gh - _mm(a, _mm(p, gh)), _mm(p, ph))
    ga = ga + _mm(_mm(ph, p), gh - _mm(_mm(gh, p), a))
    return ga


_PINV_CACHE: dict = {}


def _pinv_core(a, atol, rtol, hermitian):
    f = _PINV_CACHE.get(hermitian)
    if f is None:
        @jax.custom_vjp
        def f(a, atol, rtol):
            return _pinv_fwd_core(a, atol, rtol, hermitian)

        def fwd(a, atol, rtol):
            p = _pinv_fwd_core(a, atol, rtol, hermitian)
            return p, (a, p, atol, rtol)

        def bwd(res, ct):
            a, p, atol, rtol = res
            ga = jnp.conj(_pinv_grad_torch(a, p, jnp.conj(ct)))
            return ga, jnp.zeros_like(atol), jnp.zeros_like(rtol)
        f.defvjp(fwd, bwd)
        _PINV_CACHE[hermitian] = f
    return f(a, atol, rtol)


@op("linalg.pinv(Tensor input, *, Tensor? atol=None, Tensor? rtol=None, bool hermitian=False) "
    "-> Tensor", dtype="none", function=False, method=False, differentiable=("input",))
def _pinv(a, atol=None, rtol=None, hermitian=False):
    _check_fm("linalg.pinv", a, square=hermitian)
    atol, rtol = _default_rtol(a, atol, rtol)
    return _pinv_core(a, atol, rtol, hermitian)


_pinv_fn = _fn(_pinv)


@function("pinv", namespace="linalg")
def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None, out=None):
    if rcond is not None:
        if atol is not None or rtol is not None:
            raise RuntimeError("linalg.pinv: rcond cannot be used together with atol/rtol")
        rtol = rcond
    return _write(_pinv, _pinv_fn(A, atol=atol, rtol=rtol, hermitian=hermitian), out)


def _pinverse(input, rcond=1e-15):
    return _pinv_fn(input, atol=None, rtol=rcond)


_export(_pinverse, "pinverse")


@op("linalg.matrix_rank(Tensor input, *, Tensor? atol=None, Tensor? rtol=None, "
    "bool hermitian=False) -> Tensor", dtype="none", function=False, method=False)
def _matrix_rank(a, atol=None, rtol=None, hermitian=False):
    _check_fm("linalg.matrix_rank", a, square=hermitian)
    atol, rtol = _default_rtol(a, atol, rtol)
    s = jnp.abs(_eigh(a, "L")[0]) if hermitian else _svdvals(a)
    smax = s.max(-1, keepdims=True) if s.shape[-1] else s
    tol = jnp.maximum(atol[..., None], rtol[..., None] * smax)
    return (s > tol).sum(-1).astype(jnp.int64)


_matrix_rank_fn = _fn(_matrix_rank)


@function("matrix_rank", namespace="linalg")
def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None, out=None):
    if tol is not None:
        atol, rtol = tol, 0.0
    return _write(_matrix_rank, _matrix_rank_fn(A, atol=atol, rtol=rtol, hermitian=hermitian),
                  out)


@op("linalg.lstsq(Tensor input, Tensor b, float? rcond=None, *, str? driver=None) -> "
    "(Tensor solution, Tensor residuals, Tensor rank, Tensor singular_values)", dtype="none",
    namespace="linalg", method=False, nondiff_outputs=(2,))
def lstsq(a, b, rcond=None, driver=None):
    _check_fm("linalg.lstsq", a, square=False)
    _same_dtype("linalg.lstsq", a, b)
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of "
                           f"(gels, gelsy, gelsd, gelss)")
    driver = driver or "gelsy"
    vector = b.ndim == a.ndim - 1
    bm = b[..., None] if vector else b
    m, n = a.shape[-2:]
    if bm.shape[-2] != m:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    a2, b2 = _bcast_batch(a, bm)
    eps = jnp.finfo(a.dtype).eps * max(m, n)
    rt = jnp.asarray(eps if rcond is None or rcond < 0 else rcond, _real_dtype(a.dtype))
    atol = jnp.zeros(a2.shape[:-2], rt.dtype)
    rtol = jnp.broadcast_to(rt, a2.shape[:-2])
    x = _mm(_pinv_core(a2, atol, rtol, False), b2)
    rdt = _real_dtype(a.dtype)
    s = _svdvals(a2)
    smax = s.max(-1, keepdims=True) if s.shape[-1] else s
    rank = (s > rt * smax).sum(-1).astype(jnp.int64)
    empty = jnp.zeros((0,), rdt)
    if driver != "gelsy" and m > n:
        r = _mm(a2, x) - b2
        res = (jnp.abs(r) ** 2).sum(-2)
        res = res[..., 0] if vector else res
    else:
        res = empty
    sv = s if driver in ("gelsd", "gelss") else empty
    rank = rank if driver != "gels" else jnp.zeros((0,), jnp.int64)
    return (x[..., 0] if vector else x), res, rank, sv


# ------------------------------------------------------------------------------ exp, power, cond

@op("linalg.matrix_exp(Tensor input) -> Tensor", dtype="none", namespace="linalg",
    method=False)
def matrix_exp(a):
    _check_fm("linalg.matrix_exp", a)
    if a.shape[-1] == 1:
        return jnp.exp(a)
    return jax.scipy.linalg.expm(a)


_export(matrix_exp, "matrix_exp")


@op("linalg.cond(Tensor input, Scalar? p=None) -> Tensor", dtype="none", namespace="linalg",
    method=False, out=True)
def cond(a, p=None):
    _check_fm("linalg.cond", a, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = _svdvals(a)
        return s[..., 0] / s[..., -1] if p != -2 else s[..., -1] / s[..., 0]
    if p not in ("fro", "nuc", 1, -1, math.inf, -math.inf):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    na = _matrix_norm(a, p, (-2, -1), False, None, "linalg.cond")
    ni = _matrix_norm(jnp.linalg.inv(a), p, (-2, -1), False, None, "linalg.cond")
    r = na * ni
    return jnp.where(jnp.isnan(r), jnp.inf, r)


# ------------------------------------------------------------------------------ LU

def _pivots_to_perm(piv, m):
    """1-based LAPACK row swaps -> permutation p with A[p] = L U."""
    p0 = (piv - 1).astype(jnp.int32)
    return jax.lax.linalg.lu_pivots_to_permutation(p0, m)


def _perm_matrix(perm, dtype):
    m = perm.shape[-1]
    # P with A = P L U: P[perm[i], i] = 1
    return (perm[..., None, :] == jnp.arange(m)[:, None]).astype(dtype)


def _lu_parts(lu):
    m, n = lu.shape[-2:]
    k = min(m, n)
    L = jnp.tril(lu[..., :, :k], -1) + jnp.eye(m, k, dtype=lu.dtype)
    U = jnp.triu(lu[..., :k, :])
    return L, U


def _no_pivot(pivot):
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")


@op("linalg.lu(Tensor A, *, bool pivot=True) -> (Tensor P, Tensor L, Tensor U)", dtype="none",
    namespace="linalg", method=False, out=True)
def lu(a, pivot=True):
    _check_fm("linalg.lu", a, square=False)
    _no_pivot(pivot)
    lu_, _, perm = jax.lax.linalg.lu(a)
    L, U = _lu_parts(lu_)
    return _perm_matrix(perm, a.dtype), L, U


@op("linalg.lu_factor_ex(Tensor A, *, bool pivot=True, bool check_errors=False) -> "
    "(Tensor LU, Tensor pivots, Tensor info)", dtype="none", function=False, method=False,
    nondiff_outputs=(1, 2))
def _lu_factor_ex(a, pivot=True, check_errors=False):
    _check_fm("linalg.lu_factor", a, square=False)
    _no_pivot(pivot)
    lu_, piv, _ = jax.lax.linalg.lu(a)
    return lu_, (piv + 1).astype(jnp.int32), _lu_info(lu_)


_lu_factor_ex_fn = _fn(_lu_factor_ex)


@function("lu_factor_ex", namespace="linalg")
def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    res = _lu_factor_ex_fn(A, pivot=pivot)
    if check_errors:
        _raise_info(res.info, "torch.linalg.lu_factor_ex",
                    lambda i: f"U[{i},{i}] is zero and using it on lu_solve would result in a "
                              "division by zero.")
    return _write(_lu_factor_ex, res, out)


@function("lu_factor", namespace="linalg")
def lu_factor(A, *, pivot=True, out=None):
    res = _lu_factor_ex_fn(A, pivot=pivot)
    _raise_info(res.info, "torch.linalg.lu_factor", _lu_body, RuntimeError)
    pair = _lu_factor_type(res.LU, res.pivots)
    return pair if out is None else dispatch._write_out(_lu_factor_ex, pair, out)


def _lu_body(i):
    return (f"U[{i},{i}] is zero and using it on lu_solve would result in a division by zero. "
            "If you still want to perform the factorization, consider calling "
            "linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


_lu_factor_type = _return_type("linalg_lu_factor", ("LU", "pivots"))
_lu_with_info = _return_type("_lu_with_info", ("LU", "pivots", "info"))


def _torch_lu(A, pivot=True, get_infos=False, out=None):
    """Deprecated torch.lu: (LU, pivots) or (LU, pivots, infos)."""
    res = _lu_factor_ex_fn(A, pivot=pivot)
    if get_infos:
        res = _lu_with_info(*res)
    else:
        _raise_info(res.info, "torch.linalg.lu_factor", _lu_body, RuntimeError)
        res = (res.LU, res.pivots)
    if out is not None:
        return dispatch._write_out(_lu_factor_ex, res, out)
    return res


_export(_torch_lu, "lu")


@op("lu_unpack(Tensor LU_data, Tensor LU_pivots, bool unpack_data=True, "
    "bool unpack_pivots=True) -> (Tensor P, Tensor L, Tensor U)", dtype="none", out=True,
    method=False, differentiable=("LU_data",))
def lu_unpack(lu_, piv, unpack_data=True, unpack_pivots=True):
    m = lu_.shape[-2]
    if unpack_data:
        L, U = _lu_parts(lu_)
    else:
        L = U = jnp.zeros((0,), lu_.dtype)
    P = _perm_matrix(_pivots_to_perm(piv, m), lu_.dtype) if unpack_pivots \
        else jnp.zeros((0,), lu_.dtype)
    return P, L, U


def _lu_solve(lu_, piv, b, left=True, adjoint=False):
    _check_fm("linalg.lu_solve", lu_)
    if b.ndim < 2:
        raise RuntimeError("linalg.lu_solve: The input tensor B must have at least 2 "
                           "dimensions.")
    if not left:   # X A = B  <=>  A^H X^H = B^H
        return _mH(_lu_solve(lu_, piv, _mH(b), True, not adjoint))
    m = lu_.shape[-1]
    if b.shape[-2] != m:
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({m}x{m} and {b.shape[-2]}x{b.shape[-1]})")
    perm = _pivots_to_perm(piv, m)
    batch = tuple(np.broadcast_shapes(lu_.shape[:-2], b.shape[:-2], piv.shape[:-1]))
    lu_ = jnp.broadcast_to(lu_, batch + lu_.shape[-2:])
    b = jnp.broadcast_to(b, batch + b.shape[-2:])
    perm = jnp.broadcast_to(perm, batch + perm.shape[-1:])
    if not adjoint:   # A = P L U: X = U^-1 L^-1 P^T B, and (P^T B) = B[perm]
        pb = jnp.take_along_axis(b, perm[..., :, None], axis=-2)
        y = _tri_solve(lu_, pb, lower=True, unit=True)
        return _tri_solve(lu_, y, lower=False)
    y = _tri_solve(lu_, b, lower=False, transpose=True, conj=True)
    z = _tri_solve(lu_, y, lower=True, transpose=True, conj=True, unit=True)
    inv = jnp.argsort(perm, axis=-1)
    return jnp.take_along_axis(z, inv[..., :, None], axis=-2)


@op("linalg.lu_solve(Tensor LU, Tensor pivots, Tensor B, *, bool left=True, "
    "bool adjoint=False) -> Tensor", dtype="none", namespace="linalg", method=False, out=True,
    differentiable=("LU", "B"))
def linalg_lu_solve(lu_, piv, b, left=True, adjoint=False):
    return _lu_solve(lu_, piv, b, left, adjoint)


@op("lu_solve(Tensor input, Tensor LU_data, Tensor LU_pivots) -> Tensor", dtype="none",
    out=True, differentiable=("input", "LU_data"))
def torch_lu_solve(b, lu_, piv):
    return _lu_solve(lu_, piv, b)


# ------------------------------------------------------------------------------ triangular

@op("linalg.solve_triangular(Tensor input, Tensor B, *, bool upper, bool left=True, "
    "bool unitriangular=False) -> Tensor", dtype="none", namespace="linalg", method=False,
    out=True)
def solve_triangular(a, b, upper, left=True, unitriangular=False):
    _check_fm("linalg.solve_triangular", a)
    if b.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 "
                           "dimensions.")
    _same_dtype("linalg.solve_triangular", a, b)
    n = a.shape[-1]
    if (b.shape[-2] if left else b.shape[-1]) != n:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the "
                           f"equation {'AX = B' if left else 'XA = B'} ({n}x{n} and "
                           f"{b.shape[-2]}x{b.shape[-1]})")
    return _tri_solve(a, b, left=left, lower=not upper, unit=unitriangular)


@op("triangular_solve(Tensor input, Tensor A, bool upper=True, bool transpose=False, "
    "bool unitriangular=False) -> (Tensor solution, Tensor cloned_coefficient)", dtype="none",
    out=True)
def triangular_solve(b, a, upper=True, transpose=False, unitriangular=False):
    if b.ndim < 2 or a.ndim < 2:
        raise RuntimeError(f"torch.triangular_solve: Expected b to have at least 2 dimensions, "
                           f"but it has {b.ndim} dimensions instead" if b.ndim < 2 else
                           f"torch.triangular_solve: Expected A to have at least 2 dimensions, "
                           f"but it has {a.ndim} dimensions instead")
    x = _tri_solve(a, b, lower=not upper, transpose=transpose, unit=unitriangular)
    batch = x.shape[:-2]
    return x, jnp.broadcast_to(a, batch + a.shape[-2:])


# ------------------------------------------------------------------------------ tensor inv/solve

@op("linalg.tensorinv(Tensor input, int ind=2) -> Tensor", dtype="none", namespace="linalg",
    method=False, out=True)
def tensorinv(a, ind=2):
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    out_shape, in_shape = a.shape[ind:], a.shape[:ind]
    p, q = math.prod(in_shape), math.prod(out_shape)
    if p != q:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {q} != {p}")
    _check_float("linalg.inv", a)
    return jnp.linalg.inv(a.reshape(p, q)).reshape(out_shape + in_shape)


@op("linalg.tensorsolve(Tensor input, Tensor other, int[]? dims=None) -> Tensor", dtype="none",
    namespace="linalg", method=False, out=True)
def tensorsolve(a, b, dims=None):
    if dims is not None:
        dims = [d % a.ndim for d in dims]
        rest = [i for i in range(a.ndim) if i not in dims]
        a = jnp.transpose(a, rest + dims)
    res_shape = a.shape[b.ndim:]
    p, q = math.prod(a.shape[:b.ndim]), math.prod(res_shape)
    if p != q or p != b.size:
        raise RuntimeError(f"Expected self to satisfy the requirement "
                           f"prod(self.shape[other.ndim:]) == prod(self.shape[:other.ndim]), "
                           f"but got {q} != {p}")
    _same_dtype("linalg.solve", a, b)
    return jnp.linalg.solve(a.reshape(p, q), b.reshape(p, 1))[:, 0].reshape(res_shape)


# ------------------------------------------------------------------------------ householder

def _householder_q(a, tau, m_cols):
    """Q = H_0 ... H_{k-1} (first m_cols columns), H_i = I - tau_i v_i v_i^H; differentiable."""
    m = a.shape[-2]
    k = tau.shape[-1]
    q = jnp.broadcast_to(jnp.eye(m, m_cols, dtype=a.dtype), a.shape[:-2] + (m, m_cols))
    rows = jnp.arange(m)
    for i in reversed(range(k)):   # apply H_{k-1} first to the identity block
        v = jnp.where(rows > i, a[..., :, i], 0) + (rows == i)
        w = jnp.einsum("...m,...mn->...n", jnp.conj(v), q, precision=HI)
        q = q - tau[..., i, None, None] * v[..., :, None] * w[..., None, :]
    return q


@op("linalg.householder_product(Tensor input, Tensor tau) -> Tensor", dtype="none",
    namespace="linalg", method=False, out=True)
def householder_product(a, tau):
    name = "torch.linalg.householder_product"
    if a.ndim < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    if a.shape[-2] < a.shape[-1]:
        raise RuntimeError(f"{name}: input.shape[-2] must be greater than or equal to "
                           "input.shape[-1]")
    if tau.shape[-1] > a.shape[-1]:
        raise RuntimeError(f"{name}: input.shape[-1] must be greater than or equal to "
                           "tau.shape[-1]")
    if a.dtype != tau.dtype:
        raise RuntimeError(f"{name}: tau dtype {_tn(tau)} does not match input dtype "
                           f"{_tn(a)}")
    return _householder_q(a, tau, a.shape[-1])


_export(householder_product, "orgqr")


def _geqrf_impl(a):
    from jax._src.lax import linalg as _L
    return _L.geqrf(a)


@op("geqrf(Tensor input) -> (Tensor a, Tensor tau)", dtype="none", out=True,
    nondiff_outputs=(0, 1))
def geqrf(a):
    _check_fm("geqrf", a, square=False)
    r, tau = _geqrf_impl(a)
    return r, tau


@op("ormqr(Tensor input, Tensor input2, Tensor input3, bool left=True, bool transpose=False) "
    "-> Tensor", dtype="none", out=True)
def ormqr(a, tau, c, left=True, transpose=False):
    m = a.shape[-2]
    q = _householder_q(a, tau, m)      # the full m x m Q
    if transpose:
        q = _mH(q)
    return _mm(q, c) if left else _mm(c, q)


# ------------------------------------------------------------------------------ vander, lowrank

@op("linalg.vander(Tensor x, *, int? N=None) -> Tensor", dtype="none", namespace="linalg",
    method=False)
def vander(x, N=None):
    if x.dtype == jnp.bool_:
        raise RuntimeError("linalg.vander supports floating point, complex, and integer "
                           f"tensors, but got Bool")
    if x.ndim == 0:
        x = x[None]
    n = x.shape[-1] if N is None else N
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    dt = jnp.int64 if jnp.issubdtype(x.dtype, jnp.integer) else x.dtype
    xs = jnp.broadcast_to(x[..., None], x.shape + (n - 1,)).astype(dt)
    return jnp.concatenate([jnp.ones(x.shape + (1,), dt), jnp.cumprod(xs, -1)], -1)


@op("svd_lowrank(Tensor A, int? q=6, int? niter=2, Tensor? M=None) -> (Tensor, Tensor, Tensor)",
    dtype="none", method=False)
def svd_lowrank(a, M=None, q=6, niter=2):
    """Randomized in torch; here the exact truncated SVD (the best rank-q answer)."""
    x = a - M if M is not None else a
    q = 6 if q is None else q
    u, s, vh = jnp.linalg.svd(x, full_matrices=False)
    return u[..., :q], s[..., :q], _mH(vh)[..., :q]


@op("pca_lowrank(Tensor A, int? q=None, bool center=True, int niter=2) -> "
    "(Tensor, Tensor, Tensor)", dtype="none", method=False)
def pca_lowrank(a, q=None, center=True, niter=2):
    m, n = a.shape[-2:]
    q = min(6, m, n) if q is None else q
    x = a - a.mean(-2, keepdims=True) if center else a
    u, s, vh = jnp.linalg.svd(x, full_matrices=False)
    return u[..., :q], s[..., :q], _mH(vh)[..., :q]
