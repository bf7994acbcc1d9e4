"""The matmul family: matmul, mm, bmm, mv, dot, addmm & co, einsum, tensordot, kron, cdist.

torch does not promote mixed dtypes in the BLAS-backed products (mm, bmm, mv, dot,
matmul, einsum, tensordot): these ops are declared dtype="none" and raise torch's
own "same dtype" messages. outer/addr/kron/cross are elementwise underneath and
promote. Products use Precision.HIGHEST so float32 on accelerators is true
float32 (torch's default; no TF32).
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtype as D
from . import dispatch
from .dispatch import reduce_to
from .registry import FUNCTIONS, NAMESPACES, function, op

HI = jax.lax.Precision.HIGHEST

# the C++ type names torch prints in "expected m1 and m2 to have the same dtype"
_CTYPE = {"float32": "float", "float64": "double", "float16": "c10::Half",
          "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int", "int16": "short int",
          "int8": "signed char", "uint8": "unsigned char", "bool": "bool",
          "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}


def _dt(a):
    return D.from_np(a.dtype)


def _tn(a):
    """ScalarType name of an array's dtype ('Float')."""
    return D.type_name(_dt(a))


def _cn(a):
    return _CTYPE[_dt(a).name]


def _shape_str(s):
    return "x".join(str(d) for d in s)


def _mT(x):
    return jnp.swapaxes(x, -1, -2)


def _mH(x):
    return jnp.conj(jnp.swapaxes(x, -1, -2))


def _mm(a, b):
    return jnp.matmul(a, b, precision=HI)


@functools.cache
def _on_cpu():
    return jax.default_backend() == "cpu"


def t_matmul(at, b):
    """`at @ b` where `at` is the transpose of a forward input: a weight's gradient, x.T @ g.

    XLA's fast CPU dot (YNNPACK) takes only a contraction over the left operand's last
    dim; contracting over its first (what `x.T @ g` lowers to) falls back to a generic dot,
    1.2-1.3x slower on an MLP's weight gradients. So on CPU the transposed float32 matrix
    is written to a fresh buffer first; the barrier stops XLA folding the transpose back
    into the dot. x is ready long before the backward reaches this product, so the copy is
    off the critical path: raw-op MLP forward+backward ~15% faster, eager and compiled.
    Where the transposed operand would be the incoming gradient (nn.linear's g.T @ x), the
    copy sits on the critical path and costs more than it saves: there the generic dot
    stays. Elsewhere (and for other dtypes) the product is left as it is."""
    if at.ndim == 2 and b.ndim == 2 and at.dtype == np.float32 and b.dtype == np.float32 \
            and _on_cpu():
        at = jax.lax.optimization_barrier(at)
    return _mm(at, b)


_reduce_to = reduce_to  # the dispatcher's un-broadcasting, shared


def _no_bool(name, *arrays):
    for a in arrays:
        if a.dtype == jnp.bool_:
            raise NotImplementedError(f'"{name}" not implemented for \'Bool\'')


def _same_mm_dtype(a, b):
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_cn(a)} != {_cn(b)}")


# ------------------------------------------------------------------------------ matmul

def _matmul_checks(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    if a.ndim == 1 and b.ndim == 1:
        _dot_checks("dot", a, b)
        return
    if a.ndim == 2 and b.ndim == 1:
        _mv_checks(a, b)
        return
    _same_mm_dtype(a, b)
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if a.ndim <= 2 and b.ndim == 2 or (a.ndim >= 3 and b.ndim <= 2):
        if b.ndim == 1:      # folded (..., k) @ (k,)
            m = math.prod(a.shape[:-1])
            if ka != kb:
                raise RuntimeError(f"size mismatch, got input ({m}), mat ({m}x{ka}), "
                                   f"vec ({kb})")
            return
        m = math.prod(a.shape[:-1]) if a.ndim > 1 else 1
        if ka != kb:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({m}x{ka} and "
                               f"{_shape_str(b.shape)})")
        return
    ba, bb = a.shape[:-2], b.shape[:-2]
    _check_batch_broadcast(ba, bb)
    if ka != kb:
        batch = math.prod(np.broadcast_shapes(ba, bb))
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{batch}, {ka}] but got: [{batch}, {kb}].")


def _check_batch_broadcast(sa, sb):
    n = max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + tuple(sa), (1,) * (n - len(sb)) + tuple(sb)
    for i, (x, y) in enumerate(zip(sa, sb)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b "
                               f"({y}) at non-singleton dimension {i}")


def _matmul_grad(g, out, a, b):
    """d(a@b): 1-D operands are lifted to matrices, batch dims summed back."""
    a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
    b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    g2 = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
    ga = _reduce_to(_mm(g2, _mH(b2)), a2.shape).reshape(a.shape)
    gb = _reduce_to(t_matmul(_mH(a2), g2), b2.shape).reshape(b.shape)
    return ga, gb


@op("matmul(Tensor input, Tensor other) -> Tensor", dtype="none", out=True,
    grad=_matmul_grad, saves={"input": ("other",), "other": ("input",)})
def matmul(a, b):
    _matmul_checks(a, b)
    _no_bool("addmm_impl_cpu_", a, b)
    return _mm(a, b)


def _mm_grad(g, out, a, b):
    return _mm(g, _mH(b)), t_matmul(_mH(a), g)


@op("mm(Tensor input, Tensor mat2) -> Tensor", dtype="none", out=True, grad=_mm_grad,
    saves={"input": ("mat2",), "mat2": ("input",)})
def mm(a, b):
    if a.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if b.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    _same_mm_dtype(a, b)
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({_shape_str(a.shape)} and {_shape_str(b.shape)})")
    _no_bool("addmm_impl_cpu_", a, b)
    return _mm(a, b)


def _bmm_checks(a, b):
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, "
                           f"{b.shape[1]}].")


@op("bmm(Tensor input, Tensor mat2) -> Tensor", dtype="none", out=True, grad=_mm_grad,
    saves={"input": ("mat2",), "mat2": ("input",)})
def bmm(a, b):
    _bmm_checks(a, b)
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected scalar type {_tn(a)} but found {_tn(b)}")
    _no_bool("bmm", a, b)
    return _mm(a, b)


def _mv_checks(m, v, inp_ndim=1):
    if m.ndim != 2 or v.ndim != 1 or inp_ndim > 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {inp_ndim}, {m.ndim}, "
                           f"{v.ndim}")
    if m.shape[1] != v.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({m.shape[0]}), mat "
                           f"({_shape_str(m.shape)}), vec ({v.shape[0]})")
    if m.dtype != v.dtype:
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got "
                           f"{_tn(v)}, {_tn(m)}, and {_tn(v)}")


@op("mv(Tensor input, Tensor vec) -> Tensor", dtype="none", out=True,
    grad=lambda g, out, m, v: (g[:, None] * jnp.conj(v)[None, :], _mm(_mH(m), g)))
def mv(m, v):
    _mv_checks(m, v)
    _no_bool("addmv_impl_cpu", m, v)
    return _mm(m, v)


def _dot_checks(name, a, b):
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.dtype != b.dtype:
        raise RuntimeError(f"{name} : expected both vectors to have same dtype, but found "
                           f"{_tn(a)} and {_tn(b)}")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                           f"[{b.shape[0]}] to have the same number of elements, but got "
                           f"{a.shape[0]} and {b.shape[0]} elements respectively")


@op("dot(Tensor input, Tensor tensor) -> Tensor", dtype="none", out=True,
    grad=lambda g, out, a, b: (g * jnp.conj(b), g * jnp.conj(a)))
def dot(a, b):
    _dot_checks("dot", a, b)
    _no_bool("dot", a, b)
    return jnp.dot(a, b, precision=HI)


@op("vdot(Tensor input, Tensor other) -> Tensor", dtype="none", out=True,
    grad=lambda g, out, a, b: (jnp.conj(g) * b, g * a))
def vdot(a, b):
    _dot_checks("dot", a, b)
    _no_bool("vdot", a, b)
    return jnp.vdot(a, b, precision=HI)


@op("inner(Tensor input, Tensor other) -> Tensor", dtype="none", out=True)
def inner(a, b):
    if a.ndim == 0 or b.ndim == 0:
        return (a * b) if a.dtype == b.dtype else (a * b).astype(
            jnp.promote_types(a.dtype, b.dtype))
    if a.dtype != b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(a.shape)} and {list(b.shape)}")
    return jnp.inner(a, b, precision=HI)


@op("outer(Tensor input, Tensor vec2) -> Tensor", out=True, aliases=("ger",), broadcast=False,
    grad=lambda g, out, a, b: (_mm(g, jnp.conj(b)), _mm(jnp.conj(a), g)))
def outer(a, b):
    if a.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {a.ndim}-D")
    if b.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument vec2, but got {b.ndim}-D")
    return a[:, None] * b[None, :]


# ------------------------------------------------------------------------------ add*mm

def _expand_input(inp, shape):
    """torch expands `input` to the product's shape (its expand error if it cannot)."""
    shape = tuple(shape)
    n = len(shape)
    if inp.ndim <= n:
        s = (1,) * (n - inp.ndim) + tuple(inp.shape)
        if all(x == y or x == 1 for x, y in zip(s, shape)):
            return
    for i in range(1, min(inp.ndim, n) + 1):
        if inp.shape[-i] != shape[-i] and inp.shape[-i] != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({shape[-i]}) must match the existing size "
                f"({inp.shape[-i]}) at non-singleton dimension {n - i}.  Target sizes: "
                f"{list(shape)}.  Tensor sizes: {list(inp.shape)}")
    raise RuntimeError(f"The expanded size of the tensor ({shape[0]}) must match the existing "
                       f"size ({inp.shape[0]}) at non-singleton dimension 0.  Target sizes: "
                       f"{list(shape)}.  Tensor sizes: {list(inp.shape)}")


def _scal(x, s):
    """alpha/beta times x (skipped when 1, as torch does)."""
    return x if s == 1 else x * jnp.asarray(s, dtype=x.dtype)


def _combine(inp, prod, beta, alpha):
    prod = _scal(prod, alpha)
    if beta == 0:  # torch ignores input (even nan/inf) when beta == 0
        return jnp.broadcast_to(prod, prod.shape).astype(prod.dtype)
    return (_scal(inp, beta) + prod).astype(prod.dtype)


def _check_alpha_beta(x, beta, alpha):
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        for n, v in (("beta", beta), ("alpha", alpha)):
            if isinstance(v, float) and not isinstance(v, bool):
                raise RuntimeError(f"For integral input tensors, argument {n} must not be a "
                                   "floating point number.")


def _cj(s):
    return np.conj(s) if isinstance(s, complex) else s


def _addmm_grad(g, out, inp, m1, m2, beta, alpha):
    return (_scal(g, _cj(beta)) if beta != 0 else jnp.zeros_like(g),
            _scal(_mm(g, _mH(m2)), _cj(alpha)), _scal(t_matmul(_mH(m1), g), _cj(alpha)))


@op("addmm(Tensor input, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor",
    dtype="none", out=True, inplace=True, grad=_addmm_grad)
def addmm(inp, m1, m2, beta=1, alpha=1):
    if m1.ndim != 2:
        raise RuntimeError(f"mat1 must be a matrix, got {m1.ndim}-D tensor")
    if m2.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix, got {m2.ndim}-D tensor")
    if m1.dtype != m2.dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_tn(m1)} and "
                           f"{_tn(m2)}")
    if inp.dtype != m1.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {_tn(inp)} and "
                           f"{_tn(m2)}")
    if m1.shape[1] != m2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({_shape_str(m1.shape)} and {_shape_str(m2.shape)})")
    _check_alpha_beta(m1, beta, alpha)
    _expand_input(inp, (m1.shape[0], m2.shape[1]))
    return _combine(inp, _mm(m1, m2), beta, alpha)


@op("addmv(Tensor input, Tensor mat, Tensor vec, *, Scalar beta=1, Scalar alpha=1) -> Tensor",
    dtype="none", out=True, inplace=True)
def addmv(inp, m, v, beta=1, alpha=1):
    _mv_checks(m, v, inp.ndim)
    if inp.dtype != m.dtype:
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got "
                           f"{_tn(inp)}, {_tn(m)}, and {_tn(v)}")
    if inp.ndim == 1 and inp.shape[0] not in (1, m.shape[0]):
        raise RuntimeError(f"size mismatch, got input ({inp.shape[0]}), mat "
                           f"({_shape_str(m.shape)}), vec ({v.shape[0]})")
    _check_alpha_beta(m, beta, alpha)
    _no_bool("addmv_impl_cpu", m)
    return _combine(inp, _mm(m, v), beta, alpha)


@op("addr(Tensor input, Tensor vec1, Tensor vec2, *, Scalar beta=1, Scalar alpha=1) -> Tensor",
    out=True, inplace=True, broadcast=False)
def addr(inp, v1, v2, beta=1, alpha=1):
    if v1.ndim != 1 or v2.ndim != 1:
        raise RuntimeError(f"addr: Expected 1-D argument vec{1 if v1.ndim != 1 else 2}, but got "
                           f"{(v1 if v1.ndim != 1 else v2).ndim}-D")
    _expand_input(inp, (v1.shape[0], v2.shape[0]))
    if v1.dtype == jnp.bool_:
        if beta not in (0, 1, True, False) or alpha not in (0, 1, True, False):
            raise RuntimeError("Boolean beta only supported for Boolean results.")
        prod = jnp.logical_and(v1[:, None], v2[None, :]) & bool(alpha)
        return prod if not beta else (inp | prod)
    _check_alpha_beta(v1, beta, alpha)
    return _combine(inp, v1[:, None] * v2[None, :], beta, alpha)


def _bmm_dtype_check(inp, b1, b2):
    if not (inp.dtype == b1.dtype == b2.dtype):
        raise RuntimeError(f"Input dtypes must be the same, got: input {_cn(inp)}, batch1: "
                           f"{_cn(b1)}, batch2: {_cn(b2)}")


def _baddbmm_grad(g, out, inp, b1, b2, beta, alpha):
    return (_scal(g, _cj(beta)) if beta != 0 else jnp.zeros_like(g),
            _scal(_mm(g, _mH(b2)), _cj(alpha)), _scal(_mm(_mH(b1), g), _cj(alpha)))


@op("baddbmm(Tensor input, Tensor batch1, Tensor batch2, *, Scalar beta=1, Scalar alpha=1) "
    "-> Tensor", dtype="none", out=True, inplace=True, grad=_baddbmm_grad)
def baddbmm(inp, b1, b2, beta=1, alpha=1):
    _bmm_checks(b1, b2)
    _bmm_dtype_check(inp, b1, b2)
    _expand_input(inp, (b1.shape[0], b1.shape[1], b2.shape[2]))
    _check_alpha_beta(b1, beta, alpha)
    return _combine(inp, _mm(b1, b2), beta, alpha)


@op("addbmm(Tensor input, Tensor batch1, Tensor batch2, *, Scalar beta=1, Scalar alpha=1) "
    "-> Tensor", dtype="none", out=True, inplace=True)
def addbmm(inp, b1, b2, beta=1, alpha=1):
    if b1.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if b1.shape[0] != b2.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got "
                           f"{b1.shape[0]} and {b2.shape[0]}")
    if b1.shape[2] != b2.shape[1]:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({b1.shape[1]}x{b1.shape[2]} "
                           f"and {b2.shape[1]}x{b2.shape[2]})")
    if inp.dtype != b1.dtype or b1.dtype != b2.dtype:
        raise RuntimeError(f"expected scalar type {_tn(inp)} but found "
                           f"{_tn(b1 if b1.dtype != inp.dtype else b2)}")
    _expand_input(inp, (b1.shape[1], b2.shape[2]))
    _check_alpha_beta(b1, beta, alpha)
    prod = jnp.einsum("bij,bjk->ik", b1, b2, precision=HI)
    return _combine(inp, prod, beta, alpha)


# ------------------------------------------------------------------------------ einsum

def _parse_einsum(eq, shapes):
    """Validate an einsum equation as torch does; return (inputs, output) label strings."""
    eq = eq.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation")
    if len(terms) < len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                           "equation")
    sizes = {}
    for k, (t, s) in enumerate(zip(terms, shapes)):
        for c in t.replace("...", ""):
            if not c.isalpha():
                raise RuntimeError(f"einsum(): invalid subscript given at index "
                                   f"{eq.index(c)} in the equation string, subscripts must be "
                                   "in [a-zA-Z]")
        labels = t.replace("...", "")
        if "..." in t:
            if len(labels) > len(s):
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({len(labels)}) is more than the number of dimensions "
                                   f"({len(s)}) for operand {k}")
        elif len(labels) != len(s):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                               f"({len(labels)}) does not match the number of dimensions "
                               f"({len(s)}) for operand {k} and no ellipsis was given")
        pre = t.split("...")[0] if "..." in t else t
        post = t.split("...")[1] if "..." in t else ""
        dims = list(zip(pre, s[:len(pre)])) + list(zip(post, s[len(s) - len(post):]))
        for c, n in dims:
            if c in sizes and sizes[c] != n and sizes[c] != 1 and n != 1:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {k} which "
                                   f"does not broadcast with previously seen size {sizes[c]}")
            sizes[c] = max(sizes.get(c, 1), n) if n != 1 or c not in sizes else sizes[c]
    if arrow:
        for c in rhs.replace("...", ""):
            if c not in sizes:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   "equation for any input operand")
            if rhs.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   "the output")
    return terms, sizes


def _broadcast_labels(x, term, sizes):
    """torch lets a size-1 subscript broadcast against the same label elsewhere."""
    if "..." in term:
        pre, post = term.split("...")
        labels = list(pre) + [None] * (x.ndim - len(pre) - len(post)) + list(post)
    else:
        labels = list(term)
    target = tuple(sizes[c] if c is not None and n == 1 else n
                   for c, n in zip(labels, x.shape))
    return x if target == x.shape else jnp.broadcast_to(x, target)


@op("einsum(str equation, Tensor[] tensors, *, int[]? path=None) -> Tensor", dtype="none",
    function=False, method=False)
def _einsum(ops, equation, path=None):
    for o in ops[1:]:
        if o.dtype != ops[0].dtype:
            raise RuntimeError(f"expected scalar type {_tn(ops[0])} but found {_tn(o)}")
    terms, sizes = _parse_einsum(equation, [o.shape for o in ops])
    ops = [_broadcast_labels(o, t, sizes) for o, t in zip(ops, terms)]
    if ops and ops[0].dtype == jnp.bool_:
        eq = equation.replace(" ", "")
        return jnp.einsum(eq, *[o.astype(jnp.int32) for o in ops]).astype(jnp.bool_)
    return jnp.einsum(equation.replace(" ", ""), *ops, precision=HI,
                      preferred_element_type=ops[0].dtype if ops else None)


_einsum_fn = dispatch.make_function(_einsum, "einsum")


def _sublist_eq(args):
    """einsum(op1, [0, 1], op2, [1, 2], [0, 2]) -> ('ab,bc->ac', ops)."""
    def lab(i):
        if i is Ellipsis:
            return "..."
        if not 0 <= i < 52:
            raise ValueError(f"einsum(): subscript in subscript list is not within the valid "
                             f"range [0, 52), got {i}")
        return chr(ord("a") + i) if i < 26 else chr(ord("A") + i - 26)
    ops, terms = [], []
    args = list(args)
    while len(args) >= 2:
        ops.append(args.pop(0))
        terms.append("".join(lab(i) for i in args.pop(0)))
    eq = ",".join(terms)
    if args:
        eq += "->" + "".join(lab(i) for i in args[0])
    return eq, ops


@function("einsum")
def einsum(*args, out=None):
    """torch.einsum(equation, *operands) / (equation, [operands]) / sublist format."""
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand, "
                        "or at least one operand and its subscripts list")
    if isinstance(args[0], str):
        eq, ops = args[0], list(args[1:])
        if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
            ops = list(ops[0])
    else:
        eq, ops = _sublist_eq(args)
    return _einsum_fn(eq, ops) if out is None else _write(_einsum, _einsum_fn(eq, ops), out)


def _write(d, result, out):
    return dispatch._write_out(d, result, out)


# ------------------------------------------------------------------------------ tensordot etc.

@op("tensordot(Tensor input, Tensor other, int[] dims_self, int[] dims_other) -> Tensor",
    dtype="none", function=False, method=False)
def _tensordot(a, b, dims_self, dims_other):
    if a.dtype != b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    if len(dims_self) != len(dims_other):
        raise RuntimeError("both dimension lists should have same length")
    da = [d % max(a.ndim, 1) for d in dims_self]
    db = [d % max(b.ndim, 1) for d in dims_other]
    sa, sb = list(a.shape), list(b.shape)
    for x, y, ox, oy in zip(da, db, dims_self, dims_other):
        if sa[x] == 1 or sb[y] == 1:   # torch broadcasts size-1 contracted dims
            sa[x] = sb[y] = max(sa[x], sb[y])
        elif a.shape[x] != b.shape[y]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[x]} in dim {ox} and second has size {b.shape[y]} in "
                               f"dim {oy}")
    a, b = jnp.broadcast_to(a, tuple(sa)), jnp.broadcast_to(b, tuple(sb))
    return jnp.tensordot(a, b, (da, db), precision=HI)


_tensordot_fn = dispatch.make_function(_tensordot, "tensordot")


@function("tensordot")
def tensordot(a, b, dims=2, out=None):
    """dims: int (last n of a with first n of b), a pair of lists, or a tensor of either."""
    if hasattr(dims, "tolist"):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        ds, do = list(range(-dims, 0)), list(range(dims))
    else:
        if len(dims) != 2:
            raise RuntimeError("tensordot expects dims to be a pair of lists")
        ds, do = dims
        ds = [ds] if isinstance(ds, int) else list(ds)
        do = [do] if isinstance(do, int) else list(do)
    res = _tensordot_fn(a, b, ds, do)
    return res if out is None else _write(_tensordot, res, out)


@op("kron(Tensor input, Tensor other) -> Tensor", out=True, broadcast=False)
def kron(a, b):
    n = max(a.ndim, b.ndim)
    a = a.reshape((1,) * (n - a.ndim) + a.shape)
    b = b.reshape((1,) * (n - b.ndim) + b.shape)
    # interleave: out[i0*B0+j0, ...] = a[i0..] * b[j0..]
    ea = a.reshape(sum(((s, 1) for s in a.shape), ()))
    eb = b.reshape(sum(((1, s) for s in b.shape), ()))
    return (ea * eb).reshape(tuple(x * y for x, y in zip(a.shape, b.shape)))


@op("linalg.multi_dot(Tensor[] tensors) -> Tensor", dtype="none", out=True, method=False,
    namespace="linalg")
def multi_dot(ts):
    n = len(ts)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    if ts[0].ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got "
                           f"{ts[0].ndim}D")
    if ts[-1].ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got "
                           f"{ts[-1].ndim}D")
    for i, t in enumerate(ts[1:-1], 1):
        if t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    for i, t in enumerate(ts[1:], 1):
        if t.dtype != ts[0].dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but "
                               f"tensor 0 is {_CTYPE[_dt(ts[0]).name].split()[-1]} and tensor "
                               f"{i} {_CTYPE[_dt(t).name].split()[-1]}")
    mats = [ts[0][None] if ts[0].ndim == 1 else ts[0]] + list(ts[1:-1]) + \
        [ts[-1][:, None] if ts[-1].ndim == 1 else ts[-1]]
    for i in range(n - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                               f"{list(ts[i].shape)} and {list(ts[i + 1].shape)} cannot be "
                               "multiplied")
    out = jnp.linalg.multi_dot(mats, precision=HI)
    if ts[0].ndim == 1:
        out = out[0]
    if ts[-1].ndim == 1:
        out = out[..., 0]
    return out


@function("chain_matmul")
def chain_matmul(*matrices, out=None):
    """Deprecated torch.chain_matmul: all 2-D, a single matrix is returned as a copy."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = matrices[0]
    for m in matrices:
        if m.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m.ndim}, expected 2 instead.")
    if len(matrices) == 1:
        res = FUNCTIONS["clone"](matrices[0]) if "clone" in FUNCTIONS else matrices[0] * 1
    else:
        from .registry import NAMESPACES
        res = NAMESPACES["linalg"]["multi_dot"](list(matrices))
    return res if out is None else _write(multi_dot, res, out)


# ------------------------------------------------------------------------------ cross, trace

def _cross(a, b, dim, name):
    if a.ndim != b.ndim:
        raise RuntimeError(f"{name}: inputs must have the same number of dimensions.")
    d = dim % a.ndim
    if a.shape[d] != 3 or b.shape[d] != 3:
        raise RuntimeError(f"{name}: inputs dimension {dim} must have length 3. Got "
                           f"{a.shape[d]} and {b.shape[d]}")
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = jnp.broadcast_to(a, shape), jnp.broadcast_to(b, shape)
    return jnp.cross(a, b, axisa=d, axisb=d, axisc=d)


@op("linalg.cross(Tensor input, Tensor other, *, int dim=-1) -> Tensor", out=True,
    method=False, namespace="linalg", broadcast=False)
def linalg_cross(a, b, dim=-1):
    return _cross(a, b, dim, "linalg.cross")


@op("cross(Tensor input, Tensor other, int? dim=None) -> Tensor", out=True, broadcast=False)
def cross(a, b, dim=None):
    if dim is None:
        shape = np.broadcast_shapes(a.shape, b.shape) if a.ndim == b.ndim else a.shape
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return _cross(a, b, dim, "linalg.cross")


@op("trace(Tensor input) -> Tensor", dtype="none", out=False, saves=(),
    grad=lambda g, out, x: (jnp.eye(x.shape[0], x.shape[1], dtype=g.dtype) * g,))
def trace(x):
    if x.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.ndim}")
    _no_bool("trace", x)
    dt = jnp.int64 if jnp.issubdtype(x.dtype, jnp.integer) else x.dtype
    return jnp.trace(x, dtype=dt)


# ------------------------------------------------------------------------------ cdist

def _cdist_grad(g, out, x1, x2, p, compute_mode):
    diff = x1[..., :, None, :] - x2[..., None, :, :]
    d = out[..., None]
    gg = g[..., None]
    if p == 0:
        c = jnp.zeros_like(diff)
    elif p == 1:
        c = jnp.sign(diff)
    elif p == 2:
        c = jnp.where(d == 0, 0, diff / jnp.where(d == 0, 1, d))
    elif math.isinf(p):
        c = jnp.sign(diff) * (jnp.abs(diff) == d)
    else:
        ad = jnp.abs(diff)
        c = jnp.sign(diff) * jnp.where(ad == 0, 0, jnp.where(ad == 0, 1, ad) ** (p - 1))
        c = jnp.where(d == 0, 0, c / jnp.where(d == 0, 1, d) ** (p - 1))
    c = c * gg
    return c.sum(-2), -c.sum(-3)


@op("cdist(Tensor x1, Tensor x2, float p=2.0, int? compute_mode=None) -> Tensor",
    dtype="none", method=False, grad=_cdist_grad)
def cdist(x1, x2, p=2.0, compute_mode=None):
    if x1.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D")
    if x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X2 got: {x2.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    for n, x in (("X1", x1), ("X2", x2)):
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise RuntimeError(f"cdist only supports floating-point dtypes, {n} got: {_tn(x)}")
    if x1.dtype != x2.dtype:
        raise RuntimeError(f"expected scalar type {_tn(x1)} but found {_tn(x2)}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    batch = np.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    x1 = jnp.broadcast_to(x1, batch + x1.shape[-2:])
    x2 = jnp.broadcast_to(x2, batch + x2.shape[-2:])
    diff = jnp.abs(x1[..., :, None, :] - x2[..., None, :, :])
    if p == 0:
        return (diff != 0).sum(-1).astype(x1.dtype)
    if math.isinf(p):
        return diff.max(-1) if diff.shape[-1] else diff.sum(-1)
    if p == 1:
        return diff.sum(-1)
    if p == 2:
        return jnp.sqrt((diff * diff).sum(-1))
    return (diff ** p).sum(-1) ** (1.0 / p)


# ------------------------------------------------------------------------------ matrix_power

@op("matrix_power(Tensor input, int n) -> Tensor", dtype="none", out=True)
def matrix_power(a, n):
    if a.ndim < 2:
        raise RuntimeError(f"linalg.matrix_power: The input tensor A must have at least 2 "
                           f"dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but "
                           f"they are {a.shape[-2]} by {a.shape[-1]} matrices")
    if n < 0:
        if not jnp.issubdtype(a.dtype, jnp.inexact):
            raise RuntimeError(f"linalg.inv: Expected a floating point or complex tensor as "
                               f"input. Got {_tn(a)}")
        a, n = jnp.linalg.inv(a), -n
    if n == 0:
        return jnp.broadcast_to(jnp.eye(a.shape[-1], dtype=a.dtype), a.shape)
    result = None
    z = a
    while n:   # binary powering, as torch does
        if n & 1:
            result = z if result is None else _mm(result, z)
        n >>= 1
        if n:
            z = _mm(z, z)
    return result


NAMESPACES.setdefault("linalg", {})["matrix_power"] = FUNCTIONS["matrix_power"]
