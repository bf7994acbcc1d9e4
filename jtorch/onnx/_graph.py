"""A traced module as a flat list of JAX primitives, with symbolic sizes for dynamic axes.

jtorch ops are nested `jit` calls, so the jaxpr is inlined into one flat list of
equations over numbered values. Dynamic axes are found by tracing the module again with
those axes at other sizes: every equation must line up, and each size (or size-valued
parameter) that changes is fitted as `const + sum(coeff * axis)` and checked on a
third trace. Python code that reads concrete sizes therefore exports correctly as long
as what it computes is affine in the dynamic sizes.
"""
from __future__ import annotations

import numpy as np
from jax.extend import core as jcore

_INLINE_KEYS = ("jaxpr", "call_jaxpr", "fun_jaxpr")
# call-like primitives whose body is inlined (scan is unrolled separately)
_CALLS = {"pjit", "jit", "closed_call", "core_call", "custom_jvp_call", "custom_vjp_call",
          "custom_vjp_call_jaxpr", "remat", "remat2", "checkpoint", "custom_lin"}


class Lit:
    """A literal scalar operand of an equation (`sym`: set when it is a dynamic size)."""
    __slots__ = ("val", "aval", "sym")

    def __init__(self, val, aval):
        self.val, self.aval, self.sym = val, aval, None


class Eqn:
    __slots__ = ("prim", "params", "ins", "outs")

    def __init__(self, prim, params, ins, outs):
        self.prim, self.params, self.ins, self.outs = prim, params, ins, outs


class Flat:
    """Values are ints; `avals[i]` is value i's abstract array; consts map value -> array."""

    def __init__(self):
        self.avals, self.consts, self.eqns = [], {}, []
        self.inputs, self.outputs = [], []

    def new(self, aval):
        self.avals.append(aval)
        return len(self.avals) - 1


def flatten(closed):
    g = Flat()
    g.inputs = [g.new(v.aval) for v in closed.jaxpr.invars]
    g.outputs = _walk(g, closed.jaxpr, closed.consts, g.inputs)
    return g


def _sub_jaxpr(eqn):
    if eqn.primitive.name not in _CALLS:
        return None
    for k in _INLINE_KEYS:
        sub = eqn.params.get(k)
        if isinstance(sub, jcore.ClosedJaxpr):
            return sub.jaxpr, sub.consts
        if isinstance(sub, jcore.Jaxpr):
            return sub, ()
    return None


def _walk(g, jaxpr, consts, in_refs):
    env = {}
    for v, c in zip(jaxpr.constvars, consts):
        i = env[v] = g.new(v.aval)
        g.consts[i] = c
    for v, r in zip(jaxpr.invars, in_refs):
        env[v] = r

    def read(v):
        return Lit(v.val, v.aval) if isinstance(v, jcore.Literal) else env[v]

    for e in jaxpr.eqns:
        ins = [read(v) for v in e.invars]
        if e.primitive.name == "scan":
            for v, r in zip(e.outvars, _unroll_scan(g, e, ins)):
                env[v] = r
            continue
        sub = _sub_jaxpr(e)
        if sub is not None:
            outs = _walk(g, sub[0], sub[1], ins)
            for v, r in zip(e.outvars, outs):
                env[v] = r
            continue
        outs = [g.new(v.aval) for v in e.outvars]
        for v, o in zip(e.outvars, outs):
            env[v] = o
        g.eqns.append(Eqn(e.primitive.name, dict(e.params), ins, outs))
    return [read(v) for v in jaxpr.outvars]


def _unroll_scan(g, e, ins):
    """lax.scan (jtorch's RNNs) as `length` inlined copies of its body: ONNX gets plain
    ops, and the sequence length is fixed at export."""
    p = e.params
    body, n_const, n_carry, length = p["jaxpr"], p["num_consts"], p["num_carry"], p["length"]
    consts, carry, xs = ins[:n_const], ins[n_const:n_const + n_carry], ins[n_const + n_carry:]
    ys_steps = [None] * length
    for t in (reversed(range(length)) if p["reverse"] else range(length)):
        x_t = []
        for r in xs:
            aval = g.avals[r] if isinstance(r, int) else r.aval
            shape = tuple(aval.shape)
            row = g.new(aval.update(shape=(1,) + shape[1:]))
            g.eqns.append(Eqn("slice", {"start_indices": (t,) + (0,) * (len(shape) - 1),
                                        "limit_indices": (t + 1,) + shape[1:],
                                        "strides": None}, [r], [row]))
            item = g.new(aval.update(shape=shape[1:]))
            g.eqns.append(Eqn("squeeze", {"dimensions": (0,)}, [row], [item]))
            x_t.append(item)
        outs = _walk(g, body.jaxpr, body.consts, list(consts) + list(carry) + x_t)
        carry, ys_steps[t] = outs[:n_carry], outs[n_carry:]
    ys = []
    for j, v in enumerate(e.outvars[n_carry:]):
        out = g.new(v.aval)
        g.eqns.append(Eqn("stack", {"axis": 0}, [step[j] for step in ys_steps], [out]))
        ys.append(out)
    return list(carry) + ys


def live_eqns(g):
    """The equations the outputs depend on, in order."""
    need = {r for r in g.outputs if isinstance(r, int)}
    keep = []
    for e in reversed(g.eqns):
        if any(o in need for o in e.outs):
            keep.append(e)
            need.update(r for r in e.ins if isinstance(r, int))
    keep.reverse()
    return keep


# ------------------------------------------------------------------------------ symbolic sizes

class Sym:
    """An affine size: const + sum(coeff * symbol_k)."""
    __slots__ = ("const", "coeffs")

    def __init__(self, const, coeffs):
        self.const, self.coeffs = const, tuple(coeffs)

    def __eq__(self, other):
        return isinstance(other, Sym) and (self.const, self.coeffs) == (other.const, other.coeffs)

    def __hash__(self):
        return hash((self.const, self.coeffs))

    def __repr__(self):
        terms = [f"{a}*s{k}" for k, a in self.coeffs] + ([str(self.const)] if self.const else [])
        return " + ".join(terms)


class Unfit:
    """A size that is not affine in the dynamic sizes (e.g. batch * seq). Rules that can
    avoid spelling it out (Reshape's -1, Expand's 1 for an unchanged dim) still work;
    equal observations across the traces mean the same size."""
    __slots__ = ("obs",)

    def __init__(self, obs):
        self.obs = tuple(obs)

    def __eq__(self, other):
        return isinstance(other, Unfit) and self.obs == other.obs

    def __hash__(self):
        return hash(self.obs)

    def __repr__(self):
        return f"Unfit{self.obs}"


class SizeFit:
    """Fits integers observed across the traces: base, one per symbol moved, all moved."""

    def __init__(self, base_vals, moved_vals, check_vals):
        self.base, self.moved, self.check = base_vals, moved_vals, check_vals

    def fit(self, observed, what, strict=True):
        """observed: one int per trace, in trace order -> int, Sym or (strict=False) Unfit."""
        v0 = observed[0]
        if all(v == v0 for v in observed):
            return v0
        coeffs, const = [], v0
        for k, (b, m) in enumerate(zip(self.base, self.moved)):
            d = observed[1 + k] - v0
            if d % (m - b):
                break
            a = d // (m - b)
            if a:
                coeffs.append((k, a))
                const -= a * b
        else:
            pred = const + sum(a * self.check[k] for k, a in coeffs)
            if pred == observed[-1]:
                return Sym(const, coeffs) if coeffs else const
        if strict:
            raise not_affine(what)
        return Unfit(observed)


def not_affine(what):
    return NotImplementedError(
        f"torch.onnx.export: dynamic_axes: {what} is not an affine function of the dynamic "
        "sizes (the model's code uses them in a way an ONNX shape expression here cannot "
        "follow); export without dynamic_axes for this model")


def align(flats):
    """Check that the traces have the same structure; return per-value symbolic shapes
    and per-equation traces of the params (for size-valued params)."""
    g0 = flats[0]
    for g in flats[1:]:
        ok = len(g.eqns) == len(g0.eqns) and len(g.avals) == len(g0.avals)
        if ok:
            for a, b in zip(g.eqns, g0.eqns):
                if a.prim != b.prim or len(a.ins) != len(b.ins) or a.outs != b.outs or any(
                        (x if isinstance(x, int) else -1) != (y if isinstance(y, int) else -1)
                        for x, y in zip(a.ins, b.ins)):
                    ok = False
                    break
        if not ok:
            raise NotImplementedError(
                "torch.onnx.export: dynamic_axes: the model runs different operations for "
                "different sizes of a dynamic axis (Python control flow on a size); export "
                "without dynamic_axes for this model")


def symbolic_shapes(flats, sizes):
    g0 = flats[0]
    shapes = []
    for i, aval in enumerate(g0.avals):
        dims = []
        for ax in range(len(aval.shape)):
            dims.append(sizes.fit([int(g.avals[i].shape[ax]) for g in flats], "", False))
        shapes.append(dims)
    return shapes


def all_static(dims):
    return all(isinstance(d, (int, np.integer)) for d in dims)
