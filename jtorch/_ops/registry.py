"""The op registry: each op is declared once and everything else is generated.

A declaration is a torch-style schema, a jnp forward, a dtype category and
(optionally) an explicit derivative rule:

    @op("mul(Tensor input, Tensor other) -> Tensor", dtype="promote",
        grad=lambda g, out, x, y: (g * y, g * x))
    def mul(x, y):
        return x * y

From it come `jtorch.mul`, `Tensor.mul`, `Tensor.mul_`, `out=`, the autograd node
(`MulBackward0`) and the compat-test entry. Ops without a rule get a cached,
jitted forward-returning-its-vjp plus a jitted backward, never an eager jax.vjp.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable

OPS: dict[str, "OpDef"] = {}          # every declared op, by name
FUNCTIONS: dict[str, Callable] = {}   # public torch.X functions, by name
METHODS: dict[str, Callable] = {}     # Tensor methods, by name
NAMESPACES: dict[str, dict[str, Callable]] = {}  # 'linalg' -> {name: fn}, 'special', 'fft', ...

REQUIRED = object()

# schema type -> parameter kind
T, T_OPT, T_LIST, STATIC = "T", "T?", "T[]", "S"


@dataclasses.dataclass
class Param:
    name: str
    type: str
    kind: str
    default: Any = REQUIRED
    kwonly: bool = False
    varargs: bool = False


@dataclasses.dataclass(eq=False)
class OpDef:
    name: str
    params: list
    returns: tuple           # names of outputs (namedtuple fields) or ("",)
    fwd: Callable
    dtype: Any = "promote"   # promote | float | compare | none | callable(dtypes)->dtype
    promote: tuple = None    # which Tensor params take part in promotion (default: all)
    grad: Callable | None = None
    saves: tuple | None = None   # param names (and/or "result") the rule reads
    differentiable: tuple | None = None  # params that get gradients (default: float Tensors)
    view: bool = False
    node_name: str = ""
    nondiff_outputs: tuple = ()  # output indices that never carry gradient
    broadcast: bool = False
    # filled by registration
    tensor_params: list = dataclasses.field(default_factory=list)
    static_params: list = dataclasses.field(default_factory=list)
    fwd_cache: dict = dataclasses.field(default_factory=dict)
    vjp_cache: dict = dataclasses.field(default_factory=dict)
    bwd_cache: dict = dataclasses.field(default_factory=dict)
    out_type: Any = None
    has_list: bool = False

    def __repr__(self):
        return f"<op {self.name}>"


_TYPE_KIND = {"Tensor": T, "Tensor?": T_OPT, "Tensor[]": T_LIST, "Tensor?[]": T_LIST}
_PARAM_RE = re.compile(r"^(\*)?([\w\[\]\?\d]+)\s+(\w+)(?:\s*=\s*(.+))?$")


def _parse_default(text):
    text = text.strip()
    table = {"None": None, "True": True, "False": False, "[]": (), "inf": float("inf"),
             "-inf": float("-inf"), "'none'": "none", "'mean'": "mean", "'sum'": "sum"}
    if text in table:
        return table[text]
    if text.startswith("[") and text.endswith("]"):
        return tuple(_parse_default(x) for x in text[1:-1].split(",") if x.strip())
    if text.startswith(("'", '"')):
        return text[1:-1]
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse_schema(schema: str):
    """'add(Tensor input, Tensor other, *, Scalar alpha=1) -> Tensor' -> name, params, returns."""
    schema = schema.strip()
    m = re.match(r"^([\w.]+)\(", schema)
    if not m:
        raise ValueError(f"bad schema {schema!r}")
    depth, end = 0, None
    for i in range(m.end() - 1, len(schema)):  # the parenthesis matching the opening one
        depth += {"(": 1, ")": -1}.get(schema[i], 0)
        if depth == 0:
            end = i
            break
    rest = schema[end + 1:].strip()
    name, args = m.group(1), schema[m.end():end]
    ret = rest[2:].strip() if rest.startswith("->") else "Tensor"
    params, kwonly = [], False
    for raw in _split_top(args):
        raw = raw.strip()
        if not raw:
            continue
        if raw == "*":
            kwonly = True
            continue
        pm = _PARAM_RE.match(raw)
        if not pm:
            raise ValueError(f"bad parameter {raw!r} in {schema!r}")
        star, typ, pname, default = pm.groups()
        params.append(Param(pname, typ, _TYPE_KIND.get(typ, STATIC),
                            REQUIRED if default is None else _parse_default(default),
                            kwonly, bool(star)))
    if ret.startswith("("):
        returns = tuple(r.strip().split(" ")[-1] if " " in r.strip() else ""
                        for r in _split_top(ret[1:-1]))
    else:
        returns = ("",)
    return name, params, returns


def _split_top(text):
    depth, cur, out = 0, "", []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def op(schema, *, dtype="promote", grad=None, saves=None, method=True, function=True,
       inplace=False, out=False, view=False, promote=None, differentiable=None,
       namespace=None, aliases=(), method_aliases=(), node_name=None, nondiff_outputs=(),
       broadcast=None):
    """Declare an op. The decorated function is the jnp forward on arrays."""
    def deco(fwd):
        name, params, returns = parse_schema(schema)
        d = OpDef(name=name, params=params, returns=returns, fwd=fwd, dtype=dtype,
                  promote=promote, grad=grad, saves=saves, differentiable=differentiable,
                  view=view, nondiff_outputs=tuple(nondiff_outputs),
                  node_name=node_name or _node_name(name),
                  broadcast=(dtype in ("promote", "float", "compare")) if broadcast is None
                  else broadcast)
        register(d, method=method, function=function, inplace=inplace, out=out,
                 namespace=namespace, aliases=aliases, method_aliases=method_aliases)
        return d
    return deco


def _node_name(name):
    base = name.split(".")[-1].strip("_")
    return "".join(p[:1].upper() + p[1:] for p in base.split("_")) + "Backward0"


def register(d: OpDef, *, method, function, inplace, out, namespace, aliases, method_aliases):
    from . import dispatch
    if d.name in OPS:
        raise ValueError(f"op {d.name} declared twice")
    OPS[d.name] = d
    d.tensor_params = [p for p in d.params if p.kind != STATIC]
    d.static_params = [p for p in d.params if p.kind == STATIC]
    d.has_list = any(p.kind == T_LIST for p in d.tensor_params)
    if len(d.returns) > 1 and any(d.returns):
        from .._namedtuple import return_type
        d.out_type = return_type(d.name.split(".")[-1], d.returns)
    short = d.name.split(".")[-1]
    if function:
        fn = dispatch.make_function(d, short, with_out=out)
        target = NAMESPACES.setdefault(namespace, {}) if namespace else FUNCTIONS
        for n in (short, *aliases):
            target[n] = fn
    if method:
        m = dispatch.make_function(d, short, is_method=True)
        for n in (short, *method_aliases, *([] if namespace else aliases)):
            METHODS[n] = m
    if inplace:
        ip = dispatch.make_function(d, short + "_", is_method=True, inplace=True)
        for n in (short, *method_aliases, *([] if namespace else aliases)):
            METHODS[n + "_"] = ip
        if function and not namespace:
            FUNCTIONS.setdefault(short + "_", ip)


def function(name=None, *, method=False, namespace=None, aliases=()):
    """Register a hand-written public function (overloaded ops such as max/min)."""
    def deco(fn):
        n = name or fn.__name__
        target = NAMESPACES.setdefault(namespace, {}) if namespace else FUNCTIONS
        for a in (n, *aliases):
            target[a] = fn
        if method:
            for a in (n, *aliases):
                METHODS[a] = fn
        return fn
    return deco


def method(name=None, *, aliases=()):
    """Register a hand-written Tensor method."""
    def deco(fn):
        for a in (name or fn.__name__, *aliases):
            METHODS[a] = fn
        return fn
    return deco
