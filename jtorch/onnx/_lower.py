"""JAX primitives -> ONNX nodes.

One rule per primitive, each a few nodes of the standard ONNX domain. Sizes that depend
on a dynamic axis are `Sym`s (see _graph.py) and are computed in the graph from the
`Shape` of the input that carries the axis, so a model exported at batch 2 runs at any
batch size. Primitives without a rule raise NotImplementedError naming them.
"""
from __future__ import annotations

import math

import numpy as np

from ._graph import Lit, Sym, Unfit, all_static, not_affine

_I64 = np.dtype(np.int64)


class Builder:
    def __init__(self, onnx, g, shapes, sym_sources, opset, fixed_names):
        self.onnx, self.h = onnx, onnx.helper
        self.g, self.shapes, self.opset = g, shapes, opset
        self.sym_sources = sym_sources  # symbol k -> (graph input name, axis)
        self.names = dict(fixed_names)  # value id -> onnx name
        self.nodes, self.inits = [], []
        self._n = 0
        self._consts = {}
        self._dimcache = {}
        self.dynamic_consts = {}  # value id -> (fill scalar, dims): sized by a dynamic axis

    # ---------------------------------------------------------------- names and constants
    def fresh(self, hint="v"):
        self._n += 1
        return f"/{hint}_{self._n}"

    def aval(self, ref):
        return ref.aval if isinstance(ref, Lit) else self.g.avals[ref]

    def dims(self, ref):
        return [] if isinstance(ref, Lit) else self.shapes[ref]

    def name(self, ref):
        if isinstance(ref, Lit):
            if getattr(ref, "sym", None) is not None:
                return self.scalar_size(ref.sym, ref.aval.dtype)
            return self.const(np.asarray(ref.val, dtype=ref.aval.dtype))
        n = self.names.get(ref)
        if n is None:
            if ref in self.dynamic_consts:
                kind, val, dims = self.dynamic_consts[ref]
                if kind == "size":
                    n = self.scalar_size(val, self.g.avals[ref].dtype)
                else:
                    n = self.node("Expand", [self.const(val), self.shape_tensor(dims)])
            elif ref in self.g.consts:
                n = self.const(np.asarray(self.g.consts[ref]), cache=False)
            else:
                raise AssertionError(f"value {ref} used before it is defined")
            self.names[ref] = n
        return n

    def inp(self, e, i):
        return self.name(e.ins[i])

    def const(self, arr, cache=True, hint="const"):
        arr = np.asarray(arr)
        key = (arr.dtype.str, arr.shape, arr.tobytes()) if cache and arr.size <= 64 else None
        if key is not None and key in self._consts:
            return self._consts[key]
        name = self.fresh(hint)
        self.inits.append(self.onnx.numpy_helper.from_array(arr, name))
        if key is not None:
            self._consts[key] = name
        return name

    def i64(self, values):
        return self.const(np.asarray(values, dtype=np.int64))

    def node(self, op, inputs, n_out=1, **attrs):
        outs = [self.fresh(op) for _ in range(n_out)]
        self.nodes.append(self.h.make_node(op, inputs, outs, name=outs[0] + "_node", **attrs))
        return outs[0] if n_out == 1 else outs

    def elem(self, dtype):
        return self.h.np_dtype_to_tensor_dtype(np.dtype(dtype))

    def cast(self, name, src, dst):
        if np.dtype(src) == np.dtype(dst):
            return name
        return self.node("Cast", [name], to=self.elem(dst))

    # ---------------------------------------------------------------- dynamic sizes
    def dim_tensor(self, d):
        """A size as an int64 tensor of shape [1]."""
        if isinstance(d, Unfit):
            raise not_affine("a size the exported graph needs")
        if not isinstance(d, Sym):
            return self.i64([int(d)])
        if d in self._dimcache:
            return self._dimcache[d]
        acc = None
        for k, a in d.coeffs:
            src, axis = self.sym_sources[k]
            if self.opset >= 15:
                s = self.node("Shape", [src], start=axis, end=axis + 1)
            else:
                s = self.node("Gather", [self.node("Shape", [src]), self.i64([axis])], axis=0)
            if a != 1:
                s = self.node("Mul", [s, self.i64([a])])
            acc = s if acc is None else self.node("Add", [acc, s])
        if d.const:
            acc = self.node("Add", [acc, self.i64([d.const])])
        self._dimcache[d] = acc
        return acc

    def scalar_size(self, sym, dtype):
        """A dynamic size as a 0-d tensor of `dtype` (index arithmetic in the model)."""
        v = self.node("Reshape", [self.dim_tensor(sym), self.i64([])])
        return self.cast(v, np.int64, dtype)

    def shape_tensor(self, dims, allow_infer=False):
        """A 1-D int64 shape; with allow_infer (Reshape), a single dynamic size becomes -1."""
        if all_static(dims):
            return self.i64([int(d) for d in dims])
        n_sym = sum(isinstance(d, (Sym, Unfit)) for d in dims)
        if allow_infer and n_sym == 1:
            return self.i64([-1 if isinstance(d, (Sym, Unfit)) else int(d) for d in dims])
        return self.node("Concat", [self.dim_tensor(d) for d in dims], axis=0)

    # ---------------------------------------------------------------- axes helpers
    def reduce(self, op, x, axes, keepdims=0):
        if op == "ReduceSum" or self.opset >= 18:
            return self.node(op, [x, self.i64(list(axes))], keepdims=keepdims)
        return self.node(op, [x], axes=list(axes), keepdims=keepdims)

    def unsqueeze(self, x, axes):
        return self.node("Unsqueeze", [x, self.i64(list(axes))])

    def squeeze(self, x, axes):
        return self.node("Squeeze", [x, self.i64(list(axes))])


def lower(b, eqns):
    for e in eqns:
        rule = RULES.get(e.prim)
        if rule is None:
            raise NotImplementedError(
                f"torch.onnx.export: the JAX primitive '{e.prim}' (from a jtorch op in this "
                "model) has no ONNX lowering in jtorch.onnx yet")
        outs = rule(b, e)
        if isinstance(outs, str):
            outs = [outs]
        for o, n in zip(e.outs, outs):
            b.names[o] = n


RULES = {}


def rule(*names):
    def deco(f):
        for n in names:
            RULES[n] = f
        return f
    return deco


def _simple(op):
    return lambda b, e: b.node(op, [b.inp(e, i) for i in range(len(e.ins))])


for _p, _op in {
        "neg": "Neg", "exp": "Exp", "log": "Log", "tanh": "Tanh", "logistic": "Sigmoid",
        "sqrt": "Sqrt", "abs": "Abs", "sign": "Sign", "floor": "Floor", "ceil": "Ceil",
        "sin": "Sin", "cos": "Cos", "tan": "Tan", "asin": "Asin", "acos": "Acos",
        "atan": "Atan", "sinh": "Sinh", "cosh": "Cosh", "asinh": "Asinh", "acosh": "Acosh",
        "atanh": "Atanh", "erf": "Erf", "stop_gradient": "Identity", "copy": "Identity",
        "copy_p": "Identity", "reduce_precision": "Identity",
        "add": "Add", "add_any": "Add", "sub": "Sub", "mul": "Mul", "div": "Div",
        "max": "Max", "min": "Min", "pow": "Pow", "eq": "Equal", "lt": "Less",
        "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual"}.items():
    RULES[_p] = _simple(_op)


@rule("optimization_barrier")
def _barrier(b, e):
    return [b.node("Identity", [b.inp(e, i)]) for i in range(len(e.ins))]


@rule("ne")
def _ne(b, e):
    return b.node("Not", [b.node("Equal", [b.inp(e, 0), b.inp(e, 1)])])


def _logical(bool_op, bit_op):
    def f(b, e):
        if b.aval(e.ins[0]).dtype == np.bool_:
            return b.node(bool_op, [b.inp(e, i) for i in range(len(e.ins))])
        if b.opset < 18:
            raise NotImplementedError(f"torch.onnx.export: integer {bit_op} needs "
                                      "opset_version >= 18")
        return b.node(bit_op, [b.inp(e, i) for i in range(len(e.ins))])
    return f


RULES["and"] = _logical("And", "BitwiseAnd")
RULES["or"] = _logical("Or", "BitwiseOr")
RULES["xor"] = _logical("Xor", "BitwiseXor")
RULES["not"] = _logical("Not", "BitwiseNot")


@rule("rem")
def _rem(b, e):
    return b.node("Mod", [b.inp(e, 0), b.inp(e, 1)], fmod=1)  # C remainder, like lax.rem


@rule("rsqrt")
def _rsqrt(b, e):
    return b.node("Reciprocal", [b.node("Sqrt", [b.inp(e, 0)])])


def _one(b, e):
    return b.const(np.ones((), b.aval(e.ins[0]).dtype))


@rule("log1p")
def _log1p(b, e):
    return b.node("Log", [b.node("Add", [b.inp(e, 0), _one(b, e)])])


@rule("expm1")
def _expm1(b, e):
    return b.node("Sub", [b.node("Exp", [b.inp(e, 0)]), _one(b, e)])


@rule("square")
def _square(b, e):
    x = b.inp(e, 0)
    return b.node("Mul", [x, x])


@rule("exp2")
def _exp2(b, e):
    return b.node("Pow", [b.const(np.asarray(2, b.aval(e.ins[0]).dtype)), b.inp(e, 0)])


@rule("integer_pow")
def _integer_pow(b, e):
    x, y = b.inp(e, 0), e.params["y"]
    if y == 1:
        return b.node("Identity", [x])
    if y == 2:
        return b.node("Mul", [x, x])
    return b.node("Pow", [x, b.const(np.asarray(y, b.aval(e.ins[0]).dtype))])


@rule("is_finite")
def _is_finite(b, e):
    x = b.inp(e, 0)
    return b.node("Not", [b.node("Or", [b.node("IsNaN", [x]), b.node("IsInf", [x])])])


@rule("round")
def _round(b, e):
    x = b.inp(e, 0)
    if int(e.params.get("rounding_method", 0)) == 1:  # to nearest even: ONNX Round
        return b.node("Round", [x])
    half = b.const(np.asarray(0.5, b.aval(e.ins[0]).dtype))
    mag = b.node("Floor", [b.node("Add", [b.node("Abs", [x]), half])])
    return b.node("Mul", [b.node("Sign", [x]), mag])


@rule("convert_element_type")
def _convert(b, e):
    return b.node("Cast", [b.inp(e, 0)], to=b.elem(e.params["new_dtype"]))


@rule("select_n")
def _select_n(b, e):
    if len(e.ins) != 3:
        raise NotImplementedError("torch.onnx.export: select_n with more than two cases")
    pred = b.cast(b.inp(e, 0), b.aval(e.ins[0]).dtype, np.bool_)
    return b.node("Where", [pred, b.inp(e, 2), b.inp(e, 1)])


@rule("clamp")
def _clamp(b, e):
    return b.node("Min", [b.node("Max", [b.inp(e, 1), b.inp(e, 0)]), b.inp(e, 2)])


# ------------------------------------------------------------------------------ linear algebra

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@rule("dot_general")
def _dot_general(b, e):
    (lc, rc), (lb, rb) = e.params["dimension_numbers"]
    la, ra = b.aval(e.ins[0]), b.aval(e.ins[1])
    out_dt = e.params.get("preferred_element_type") or b.g.avals[e.outs[0]].dtype
    x = b.cast(b.inp(e, 0), la.dtype, out_dt)
    y = b.cast(b.inp(e, 1), ra.dtype, out_dt)
    ln, rn = len(la.shape), len(ra.shape)
    if not lb and len(lc) == 1 and rn == 2 and lc[0] == ln - 1:
        if rc[0] == 0:                      # x @ W
            return b.node("MatMul", [x, y])
        return b.node("MatMul", [x, b.node("Transpose", [y], perm=[1, 0])])  # x @ W.T
    letters = iter(_LETTERS)
    lhs = [next(letters) for _ in range(ln)]
    rhs = [None] * rn
    for i, j in zip(lc, rc):
        rhs[j] = lhs[i]
    for i, j in zip(lb, rb):
        rhs[j] = lhs[i]
    rhs = [c if c is not None else next(letters) for c in rhs]
    out = [lhs[i] for i in lb] + [lhs[i] for i in range(ln) if i not in lc and i not in lb]
    out += [rhs[j] for j in range(rn) if j not in rc and j not in rb]
    eq = f"{''.join(lhs)},{''.join(rhs)}->{''.join(out)}"
    return b.node("Einsum", [x, y], equation=eq)


# ------------------------------------------------------------------------------ reductions

def _reduction(op):
    def f(b, e):
        axes = e.params["axes"]
        dt = b.aval(e.ins[0]).dtype
        x = b.inp(e, 0)
        if dt == np.bool_:  # and/or over bools: min/max over ints
            return b.cast(b.reduce(op, b.cast(x, dt, np.int32), axes), np.int32, np.bool_)
        return b.reduce(op, x, axes)
    return f


RULES["reduce_sum"] = _reduction("ReduceSum")
RULES["reduce_max"] = _reduction("ReduceMax")
RULES["reduce_min"] = _reduction("ReduceMin")
RULES["reduce_prod"] = _reduction("ReduceProd")
RULES["reduce_and"] = _reduction("ReduceMin")
RULES["reduce_or"] = _reduction("ReduceMax")


def _arg(op):
    def f(b, e):
        (axis,) = e.params["axes"]
        r = b.node(op, [b.inp(e, 0)], axis=int(axis), keepdims=0)
        return b.cast(r, np.int64, e.params["index_dtype"])
    return f


RULES["argmax"] = _arg("ArgMax")
RULES["argmin"] = _arg("ArgMin")


@rule("cumsum")
def _cumsum(b, e):
    return b.node("CumSum", [b.inp(e, 0), b.i64(int(e.params["axis"]))],
                  reverse=int(bool(e.params.get("reverse", False))))


# ------------------------------------------------------------------------------ shapes

@rule("broadcast_in_dim")
def _broadcast_in_dim(b, e):
    x = b.inp(e, 0)
    in_dims = b.dims(e.ins[0])
    out_dims = b.shapes[e.outs[0]]
    bd = tuple(e.params["broadcast_dimensions"])
    if list(bd) != sorted(bd):
        raise NotImplementedError("torch.onnx.export: broadcast_in_dim with permuted dims")
    new = [i for i in range(len(out_dims)) if i not in bd]
    if new:
        x = b.unsqueeze(x, new)
    full = [1] * len(out_dims)
    for i, d in zip(bd, in_dims):
        full[i] = d
    if full == list(out_dims):
        return x if new else b.node("Identity", [x])
    # Expand broadcasts both ways: a 1 keeps the input's size, so dims that do not change
    # need no size in the graph
    target = [1 if f == o else o for f, o in zip(full, out_dims)]
    return b.node("Expand", [x, b.shape_tensor(target)])


@rule("reshape")
def _reshape(b, e):
    if e.params.get("dimensions") is not None:
        raise NotImplementedError("torch.onnx.export: reshape with dimensions")
    return b.node("Reshape", [b.inp(e, 0), b.shape_tensor(b.shapes[e.outs[0]],
                                                          allow_infer=True)])


@rule("squeeze")
def _squeeze(b, e):
    return b.squeeze(b.inp(e, 0), e.params["dimensions"])


@rule("expand_dims")
def _expand_dims(b, e):
    return b.unsqueeze(b.inp(e, 0), e.params["dimensions"])


@rule("transpose")
def _transpose(b, e):
    return b.node("Transpose", [b.inp(e, 0)], perm=list(e.params["permutation"]))


@rule("concatenate")
def _concatenate(b, e):
    return b.node("Concat", [b.inp(e, i) for i in range(len(e.ins))],
                  axis=int(e.params["dimension"]))


@rule("stack")
def _stack(b, e):
    axis = int(e.params["axis"])
    return b.node("Concat", [b.unsqueeze(b.inp(e, i), [axis]) for i in range(len(e.ins))],
                  axis=axis)


@rule("rev")
def _rev(b, e):
    axes = list(e.params["dimensions"])
    big = np.iinfo(np.int64).max
    return b.node("Slice", [b.inp(e, 0), b.i64([-1] * len(axes)), b.i64([-big] * len(axes)),
                            b.i64(axes), b.i64([-1] * len(axes))])


@rule("split")
def _split(b, e):
    sizes = e.params["sizes"]
    return b.node("Split", [b.inp(e, 0), b.i64(list(sizes))], n_out=len(sizes),
                  axis=int(e.params["axis"]))


@rule("slice")
def _slice(b, e):
    fit = e.params["_fit"]  # per-axis (start, limit) as int or Sym; see export
    strides = e.params.get("strides") or (1,) * len(fit)
    in_dims = b.dims(e.ins[0])
    axes, starts, ends, steps = [], [], [], []
    for ax, ((s, l), st, d) in enumerate(zip(fit, strides, in_dims)):
        if s == 0 and l == d and st == 1:
            continue
        axes.append(ax)
        starts.append(s)
        ends.append(l)
        steps.append(int(st))
    if not axes:
        return b.node("Identity", [b.inp(e, 0)])
    return b.node("Slice", [b.inp(e, 0), b.shape_tensor(starts), b.shape_tensor(ends),
                            b.i64(axes), b.i64(steps)])


@rule("dynamic_slice")
def _dynamic_slice(b, e):
    x = b.inp(e, 0)
    in_dims = b.dims(e.ins[0])
    sizes = b.shapes[e.outs[0]]
    starts, ends = [], []
    for ax, (d, n) in enumerate(zip(in_dims, sizes)):
        ref = e.ins[1 + ax]
        s = b.cast(b.name(ref), b.aval(ref).dtype, np.int64)
        s = b.node("Reshape", [s, b.i64([1])])
        hi = b.dim_tensor(d) if isinstance(d, Sym) or isinstance(n, Sym) else None
        if hi is None:
            hi = b.i64([int(d) - int(n)])
        else:
            hi = b.node("Sub", [b.dim_tensor(d), b.dim_tensor(n)])
        s = b.node("Max", [b.node("Min", [s, hi]), b.i64([0])])  # lax clamps the start
        starts.append(s)
        ends.append(b.node("Add", [s, b.dim_tensor(n)]))
    return b.node("Slice", [x, b.node("Concat", starts, axis=0),
                            b.node("Concat", ends, axis=0), b.i64(list(range(len(sizes))))])


@rule("pad")
def _pad(b, e):
    cfg = e.params["padding_config"]
    if any(i != 0 or lo < 0 or hi < 0 for lo, hi, i in cfg):
        raise NotImplementedError("torch.onnx.export: pad with interior or negative padding")
    pads = [lo for lo, _, _ in cfg] + [hi for _, hi, _ in cfg]
    return b.node("Pad", [b.inp(e, 0), b.i64(pads), b.inp(e, 1)], mode="constant")


@rule("iota")
def _iota(b, e):
    aval = b.g.avals[e.outs[0]]
    dims = b.shapes[e.outs[0]]
    if not all_static(dims):
        raise NotImplementedError("torch.onnx.export: arange over a dynamic axis")
    d = e.params["dimension"]
    shape = [int(s) for s in aval.shape]
    r = np.arange(shape[d], dtype=aval.dtype).reshape([-1 if i == d else 1
                                                       for i in range(len(shape))])
    return b.node("Identity", [b.const(np.broadcast_to(r, shape).copy(), cache=False)])


@rule("gather")
def _gather(b, e):
    dn = e.params["dimension_numbers"]
    op_aval, idx_aval = b.aval(e.ins[0]), b.aval(e.ins[1])
    out_rank = len(b.g.avals[e.outs[0]].shape)
    simple = (len(dn.start_index_map) == 1 and tuple(dn.collapsed_slice_dims) ==
              tuple(dn.start_index_map) and not dn.operand_batching_dims and idx_aval.shape
              and idx_aval.shape[-1] == 1)
    if simple:
        axis = dn.start_index_map[0]
        sizes = e.params["slice_sizes"]
        nb = len(idx_aval.shape) - 1
        simple = all(s == (1 if i == axis else op_aval.shape[i]) for i, s in enumerate(sizes))
        expect = tuple(range(axis)) + tuple(range(axis + nb, out_rank))
        simple = simple and tuple(dn.offset_dims) == expect
    if not simple and _take_along(dn, e.params["slice_sizes"], op_aval, idx_aval):
        axis = dn.start_index_map[0]
        idx = b.squeeze(b.inp(e, 1), [len(idx_aval.shape) - 1])
        return b.node("GatherElements", [b.inp(e, 0), idx], axis=int(axis))
    if not simple:
        raise NotImplementedError("torch.onnx.export: this gather pattern (advanced indexing) "
                                  "has no ONNX lowering yet; embedding/index_select does")
    idx = b.squeeze(b.inp(e, 1), [len(idx_aval.shape) - 1])
    return b.node("Gather", [b.inp(e, 0), idx], axis=int(axis))


def _take_along(dn, sizes, op_aval, idx_aval):
    """take_along_axis (max/min/sort indices, torch.gather): ONNX GatherElements."""
    n = len(op_aval.shape)
    if len(dn.start_index_map) != 1 or len(idx_aval.shape) != n + 1 or idx_aval.shape[-1] != 1:
        return False
    axis = dn.start_index_map[0]
    rest = tuple(i for i in range(n) if i != axis)
    return (tuple(dn.collapsed_slice_dims) == (axis,) and not dn.offset_dims and
            tuple(dn.operand_batching_dims) == rest and
            tuple(dn.start_indices_batching_dims) == rest and all(s == 1 for s in sizes))


@rule("top_k")
def _top_k(b, e):
    k = int(e.params["k"])
    v, i = b.node("TopK", [b.inp(e, 0), b.i64([k])], n_out=2, axis=-1, largest=1, sorted=1)
    return [v, b.cast(i, np.int64, b.g.avals[e.outs[1]].dtype)]


# ------------------------------------------------------------------------------ conv and pooling

@rule("conv_general_dilated")
def _conv(b, e):
    p = e.params
    dn = p["dimension_numbers"]
    n = len(b.aval(e.ins[0]).shape)
    ident = tuple(range(n))
    if dn is not None and (tuple(dn.lhs_spec) != ident or tuple(dn.rhs_spec) != ident or
                           tuple(dn.out_spec) != ident):
        raise NotImplementedError("torch.onnx.export: convolution in a non-NCHW layout")
    if p["batch_group_count"] != 1:
        raise NotImplementedError("torch.onnx.export: convolution with batch_group_count")
    x = b.cast(b.inp(e, 0), b.aval(e.ins[0]).dtype, b.g.avals[e.outs[0]].dtype)
    dims = list(b.dims(e.ins[0]))
    for k, s in enumerate(p["lhs_dilation"]):   # transposed conv: zeros between inputs
        if s != 1:
            x, dims = _dilate(b, x, dims, 2 + k, int(s), b.g.avals[e.outs[0]].dtype)
    pad = list(p["padding"])
    crop = [(max(-lo, 0), max(-hi, 0)) for lo, hi in pad]
    if any(c != (0, 0) for c in crop):          # negative padding crops the input
        ax = [2 + k for k, c in enumerate(crop) if c != (0, 0)]
        if not all_static([dims[a] for a in ax]):
            raise NotImplementedError("torch.onnx.export: negative conv padding on a "
                                      "dynamic axis")
        x = b.node("Slice", [x, b.i64([crop[a - 2][0] for a in ax]),
                             b.i64([int(dims[a]) - crop[a - 2][1] for a in ax]), b.i64(ax)])
        pad = [(max(lo, 0), max(hi, 0)) for lo, hi in pad]
    return b.node("Conv", [x, b.inp(e, 1)], group=int(p["feature_group_count"]),
                  strides=list(p["window_strides"]), dilations=list(p["rhs_dilation"]),
                  pads=[lo for lo, _ in pad] + [hi for _, hi in pad])


def _dilate(b, x, dims, ax, s, dtype):
    """Insert s-1 zeros between the elements of axis `ax` (ONNX has no lhs dilation)."""
    n = len(dims)
    if not all_static(dims[ax:]):
        raise NotImplementedError("torch.onnx.export: transposed convolution over a dynamic "
                                  "spatial axis")
    length = int(dims[ax])
    y = b.unsqueeze(x, [ax + 1])
    pads = [0] * (2 * (n + 1))
    pads[(n + 1) + ax + 1] = s - 1
    y = b.node("Pad", [y, b.i64(pads), b.const(np.zeros((), dtype))], mode="constant")
    target = [0] * ax + [length * s] + [int(d) for d in dims[ax + 1:]]
    y = b.node("Reshape", [y, b.i64(target)])
    new_len = (length - 1) * s + 1
    y = b.node("Slice", [y, b.i64([0]), b.i64([new_len]), b.i64([ax])])
    return y, dims[:ax] + [new_len] + dims[ax + 1:]


def _pool(kind):
    def f(b, e):
        p = e.params
        win, strides, pad = p["window_dimensions"], p["window_strides"], p["padding"]
        wdil = p.get("window_dilation") or (1,) * len(win)
        if any(d != 1 for d in (p.get("base_dilation") or ())):
            raise NotImplementedError("torch.onnx.export: reduce_window with base dilation")
        n = len(win)
        lead = 0
        while lead < n and win[lead] == 1 and strides[lead] == 1 and pad[lead] == (0, 0) \
                and wdil[lead] == 1:
            lead += 1
        if lead == n:
            return b.node("Identity", [b.inp(e, 0)])
        if lead > 2:
            raise NotImplementedError("torch.onnx.export: pooling with more than 2 batch dims")
        x = b.inp(e, 0)
        extra = list(range(2 - lead))
        if extra:
            x = b.unsqueeze(x, extra)
        attrs = dict(kernel_shape=list(win[lead:]), strides=list(strides[lead:]),
                     pads=[lo for lo, _ in pad[lead:]] + [hi for _, hi in pad[lead:]])
        if any(d != 1 for d in wdil[lead:]):
            if kind != "max" and b.opset < 19:
                raise NotImplementedError("torch.onnx.export: dilated sum pooling needs "
                                          "opset_version >= 19")
            attrs["dilations"] = list(wdil[lead:])
        dt = b.aval(e.ins[0]).dtype
        if kind == "max":
            y = b.node("MaxPool", [x], **attrs)
        elif kind == "min":
            y = b.node("Neg", [b.node("MaxPool", [b.node("Neg", [x])], **attrs)])
        else:
            y = b.node("AveragePool", [x], count_include_pad=1, **attrs)
            y = b.node("Mul", [y, b.const(np.asarray(math.prod(win), dt))])
        return b.squeeze(y, extra) if extra else y
    return f


RULES["reduce_window_max"] = _pool("max")
RULES["reduce_window_min"] = _pool("min")
RULES["reduce_window_sum"] = _pool("sum")
