"""add_graph: a module's forward traced to a jaxpr, written as a TensorBoard GraphDef.

Why a jaxpr: jtorch ops are jitted JAX functions, so tracing the forward through
`jtorch.func.functional_call` under `jax.make_jaxpr` records every op call (one `jit`
equation per jtorch op) with the parameters as explicit inputs. Forward hooks open a
`jax.named_scope` per submodule, so each node is named under its module path the way
PyTorch's traced graph names them (`Sequential/Linear[0]/linear_0`), and TensorBoard's
graph tab folds each module into a box. A node is one jtorch op call (op
`jtorch::linear`, named from the Python call that reached dispatch, as torch's nodes
are aten ops); calls that are not jtorch ops are drawn as their JAX primitives.
"""
from __future__ import annotations

import itertools
import os

import jax
from jax.extend.core import Literal as _Literal
from tensorboard.compat.proto.attr_value_pb2 import AttrValue
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.versions_pb2 import VersionDef

from ..._ops.dispatch import op_calls_nested

# equations whose body is another jaxpr: their bodies are drawn inline
_CALLS = ("jit", "pjit", "closed_call", "core_call", "custom_jvp_call", "custom_vjp_call",
          "custom_vjp_call_jaxpr", "remat", "checkpoint")


def _shape_attr(avals):
    shapes = [TensorShapeProto(dim=[TensorShapeProto.Dim(size=int(d)) for d in
                                    getattr(a, "shape", ())]) for a in avals]
    return AttrValue(list=AttrValue.ListValue(shape=shapes))


def _node(name, op, inputs=(), avals=(), attr_text=None):
    attr = {"_output_shapes": _shape_attr(avals)}
    if attr_text:
        attr["attr"] = AttrValue(s=attr_text.encode("utf-8"))
    return NodeDef(name=name, op=op, input=list(inputs), attr=attr)


def _scopes(model):
    """module path -> scope name: `Sequential/Linear[0]` (class name, [attribute])."""
    out = {"": type(model).__name__}
    for path, sub in model.named_modules():
        if path:
            parent, _, attr = path.rpartition(".")
            out[path] = f"{out[parent]}/{type(sub).__name__}[{attr}]"
    return out


def _attr_text(eqn):
    return ", ".join(f"{k}={v}" for k, v in sorted(eqn.params.items())
                     if not hasattr(v, "eqns") and not hasattr(v, "jaxpr"))


def graph(model, args, verbose=False):
    """(GraphDef, None) for model(*args); parameters and buffers become named inputs."""
    from ... import nn
    from ..._tensor import Tensor, wrap
    from ...autograd import grad_mode
    from ...func import functional_call

    if args is None:
        args = ()
    elif not isinstance(args, (tuple, list)):
        args = (args,)
    args = tuple(args)
    is_module = isinstance(model, nn.Module)
    if is_module:
        state = dict(model.named_parameters())
        state.update(dict(model.named_buffers()))
        scopes = _scopes(model)
    else:
        state, scopes = {}, {"": getattr(model, "__name__", type(model).__name__)}
    names = list(state)
    tpos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]

    stack, handles = [], []
    if is_module:
        paths = {id(m): p for p, m in model.named_modules()}

        def enter(mod, inp):
            cm = jax.named_scope(scopes[paths[id(mod)]].rpartition("/")[2])
            cm.__enter__()
            stack.append(cm)

        def leave(mod, inp, out):
            stack.pop().__exit__(None, None, None)

        for _, sub in model.named_modules():
            handles.append(sub.register_forward_pre_hook(enter))
            handles.append(sub.register_forward_hook(leave))

    def fn(state_arrays, arg_arrays):
        call_args = list(args)
        for i, a in zip(tpos, arg_arrays):
            call_args[i] = wrap(a)
        with grad_mode.no_grad():
            if is_module:
                params = {n: wrap(a) for n, a in zip(names, state_arrays)}
                out = functional_call(model, params, tuple(call_args))
            else:
                out = model(*call_args)
        leaves = jax.tree_util.tree_leaves(out, is_leaf=lambda x: isinstance(x, Tensor))
        return [o._value if isinstance(o, Tensor) else o for o in leaves]

    try:
        with op_calls_nested():
            closed = jax.make_jaxpr(fn)([state[n]._value for n in names],
                                        [args[i]._value for i in tpos])
    finally:
        for h in handles:
            h.remove()
        while stack:
            stack.pop().__exit__(None, None, None)
    if verbose:
        print(closed)
    return _graph_def(closed.jaxpr, names, scopes, len(tpos)), None


_PKG = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_JAX = os.path.dirname(os.path.abspath(jax.__file__))
_LAZY = os.path.join(_PKG, "_lazy.py")  # runs (or defers) op kernels: plumbing, not an op


def _jtorch_op(eqn):
    """The jtorch op whose jitted kernel this equation calls: the first public function
    of jtorch on the stack that bound it (`linear`, `tanh`, `div`), or None."""
    tb = eqn.source_info.traceback
    frames = getattr(tb, "frames", None) or ()
    for f in frames:  # innermost first: JAX's frames, then jtorch's, then the caller's
        path = f.file_name
        if path.startswith(_JAX) or path == _LAZY:
            continue
        if not (path.startswith(_PKG) or path == "<string>"):
            return None
        name = f.function_name.rpartition(".")[2]
        if not name.startswith(("_", "<")) and name != "f":  # helpers, generated wrappers
            return name
    return None


def _inner(eqn):
    """The body of a call-like equation (jit, custom_jvp/vjp, ...), else None."""
    if eqn.primitive.name not in _CALLS:
        return None
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        body = eqn.params.get(key)
        if body is not None:
            return getattr(body, "jaxpr", body)
    return None


def _graph_def(jaxpr, names, scopes, n_inputs):
    """Nodes for the parameters, inputs, every primitive (call bodies inlined), outputs."""
    nodes = []
    producer = {}   # jaxpr Var -> "node" or "node:k"
    counter = itertools.count()
    root = scopes[""]
    invars = jaxpr.invars
    for name, v in zip(names, invars[:len(names)]):
        mod, _, leaf = name.rpartition(".")
        node = f"{scopes.get(mod, root)}/{leaf}"
        producer[v] = node
        nodes.append(_node(node, "Parameter", (), [v.aval]))
    for i, v in enumerate(invars[len(names):len(names) + n_inputs]):
        node = f"input/input.{i}"
        producer[v] = node
        nodes.append(_node(node, "IO Node", (), [v.aval]))

    def src(env, v):
        return None if isinstance(v, _Literal) else env.get(v)

    def walk(jx, env, outer):
        for eqn in jx.eqns:
            stack = str(eqn.source_info.name_stack)
            scope = "/".join(p for p in (outer, stack) if p)
            body = _inner(eqn)
            op = _jtorch_op(eqn) if body is not None else None
            if op is not None:  # one jtorch op call: one node, like torch's aten nodes
                full = scope if scope.startswith(root) else \
                    "/".join(p for p in (root, scope) if p)
                node = f"{full}/{op}_{next(counter)}"
                inputs = [n for n in (src(env, v) for v in eqn.invars) if n is not None]
                for k, o in enumerate(eqn.outvars):
                    env[o] = node if k == 0 else f"{node}:{k}"
                prims = ", ".join(e.primitive.name for e in body.eqns)
                nodes.append(_node(node, f"jtorch::{op}", inputs,
                                   [o.aval for o in eqn.outvars], f"{{jax: {prims}}}"))
                continue
            if body is not None:
                inner_env = {iv: src(env, v) for iv, v in zip(body.invars, eqn.invars)}
                walk(body, inner_env, scope)
                for o, io in zip(eqn.outvars, body.outvars):
                    env[o] = src(inner_env, io)
                continue
            full = scope if scope.startswith(root) else "/".join(p for p in (root, scope) if p)
            op = eqn.primitive.name
            node = f"{full}/{op}_{next(counter)}"
            inputs = [n for n in (src(env, v) for v in eqn.invars) if n is not None]
            for k, o in enumerate(eqn.outvars):
                env[o] = node if k == 0 else f"{node}:{k}"
            nodes.append(_node(node, op, inputs, [o.aval for o in eqn.outvars],
                               _attr_text(eqn)))

    walk(jaxpr, producer, "")
    for i, v in enumerate(jaxpr.outvars):
        s = src(producer, v)
        nodes.append(_node(f"output/output.{i}", "IO Node", [s] if s else [], [v.aval]))
    return GraphDef(node=nodes, versions=VersionDef(producer=22))
